//! Exam use cases: order (idempotently), read and list, start (issuing the exam token), revoke,
//! and apply a result. Each transition is a conditional update in one transaction with its
//! audit event; finishing also stores the lab values the rules read and enqueues the patient's
//! notification in that same transaction (the outbox).

use chrono::Utc;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::ServiceError;
use super::access::{
    Actor, OrderExam, PerformExam, Permit, ReadExams, RevokeExam, SubmitExamResult, event_by,
};
use super::audit::AuditLog;
use super::exam_tokens::{ExamTokens, IssuedExamToken};
use super::idempotency::{self, IdempotencyRequest};
use super::lab_results::insert_lab_result;
use super::tokens::hex;
use super::vital_signs::append_events;
use crate::domain::FieldErrors;
use crate::domain::audit::{AuditAction, AuditOutcome, NewAuditEvent, ResourceType};
use crate::domain::exam::{
    Disagreement, Exam, ExamStatus, ExamTokenClaims, ExamTransitionError, ExamTypeCode,
    ResultTokenClaims, check_agreement, check_registry,
};
use crate::domain::notification::{Notification, NotificationKind};
use crate::domain::observation::stored_precision;
use crate::domain::page::{Page, PageRequest};
use crate::domain::patient::{Patient, PatientStatus};
use crate::persistence::exam_types::ExamTypeRepository;
use crate::persistence::exams::{ExamFilter, ExamRepository};
use crate::persistence::notifications::NotificationRepository;
use crate::persistence::patients::PatientRepository;
use crate::persistence::result_store::ResultStore;
use crate::persistence::{Database, StoreError};

const ORDER_SCOPE: &str = "POST /api/v1/patients/{id}/exams";

/// An order, and whether it is the replay of an earlier request.
#[derive(Debug, Clone)]
pub struct Ordered {
    pub exam: Exam,
    pub replayed: bool,
}

/// A started exam with the token the technician prints on the result paper.
#[derive(Debug, Clone)]
pub struct Started {
    pub exam: Exam,
    pub token: IssuedExamToken,
}

/// A finished exam, and whether this result had already been applied.
#[derive(Debug, Clone)]
pub struct Finished {
    pub exam: Exam,
    pub replayed: bool,
}

/// A result whose tokens verify and agree with each other, not yet checked against the
/// registry.
#[derive(Debug, Clone)]
pub struct VerifiedResult {
    pub exam: ExamTokenClaims,
    pub result: ResultTokenClaims,
    /// SHA-256 of the result token, to recognise a replay.
    pub digest: String,
}

/// Why a result was not applied. The results inbox sorts files by it; the API turns it into
/// a problem.
#[derive(Debug)]
pub enum ResultRefusal {
    /// A token does not verify, or the result it carries is not valid.
    Unverifiable(FieldErrors),
    /// The tokens verify but disagree with each other or with the registry.
    Disagrees(String),
    /// The patient is no longer admitted.
    PatientNotAdmitted,
    /// The exam was revoked.
    Revoked,
    /// The exam is not started, or finished with another result.
    NotApplicable(String),
    /// Something failed on our side; trying again later may work.
    Failed(ServiceError),
}

impl From<ServiceError> for ResultRefusal {
    fn from(e: ServiceError) -> Self {
        ResultRefusal::Failed(e)
    }
}

impl From<StoreError> for ResultRefusal {
    fn from(e: StoreError) -> Self {
        ResultRefusal::Failed(e.into())
    }
}

impl From<sea_orm::DbErr> for ResultRefusal {
    fn from(e: sea_orm::DbErr) -> Self {
        ResultRefusal::Failed(e.into())
    }
}

impl From<ResultRefusal> for ServiceError {
    fn from(r: ResultRefusal) -> Self {
        match r {
            ResultRefusal::Unverifiable(errors) => ServiceError::Invalid(errors),
            ResultRefusal::Disagrees(reason) => ServiceError::invalid("result_token", &reason),
            ResultRefusal::PatientNotAdmitted => {
                ServiceError::Conflict("the patient is no longer admitted".to_owned())
            }
            ResultRefusal::Revoked => ServiceError::Conflict("the exam was revoked".to_owned()),
            ResultRefusal::NotApplicable(reason) => ServiceError::Conflict(reason),
            ResultRefusal::Failed(e) => e,
        }
    }
}

fn transition_conflict(e: ExamTransitionError) -> ServiceError {
    ServiceError::Conflict(e.to_string())
}

fn changed_meanwhile() -> ServiceError {
    ServiceError::Conflict("the exam was changed by someone else; reload it".to_owned())
}

#[derive(Clone)]
pub struct ExamService {
    db: Database,
    audit: AuditLog,
    tokens: ExamTokens,
    /// Where report files are kept.
    store: ResultStore,
}

impl ExamService {
    pub fn new(db: Database, audit: AuditLog, tokens: ExamTokens, store: ResultStore) -> Self {
        Self {
            db,
            audit,
            tokens,
            store,
        }
    }

    /// Orders an exam for an admitted patient; the type must exist (else 422) and be active
    /// (else 409).
    pub async fn order(
        &self,
        permit: &Permit<OrderExam>,
        patient_id: Uuid,
        exam_type: ExamTypeCode,
        key: Option<IdempotencyRequest>,
    ) -> Result<Ordered, ServiceError> {
        let actor = permit.actor();
        match self
            .try_order(actor, patient_id, exam_type, key.as_ref())
            .await
        {
            // Two requests with the same key raced: the loser replays the winner's order.
            Err(ServiceError::Conflict(reason)) if key.is_some() => self
                .replay(actor, key.as_ref().expect("checked"))
                .await?
                .ok_or(ServiceError::Conflict(reason)),
            other => other,
        }
    }

    async fn try_order(
        &self,
        actor: &Actor,
        patient_id: Uuid,
        exam_type: ExamTypeCode,
        key: Option<&IdempotencyRequest>,
    ) -> Result<Ordered, ServiceError> {
        if let Some(key) = key
            && let Some(replayed) = self.replay(actor, key).await?
        {
            return Ok(replayed);
        }
        let txn = self.db.begin().await?;
        let patient = PatientRepository::lock(&txn, patient_id)
            .await?
            .ok_or(ServiceError::NotFound("patient"))?;
        if patient.status != PatientStatus::Admitted {
            return Err(ServiceError::Conflict(
                "exams are ordered only for admitted patients".to_owned(),
            ));
        }
        let catalog_entry = ExamTypeRepository::find(&txn, exam_type)
            .await?
            .ok_or_else(|| ServiceError::invalid("exam_type", "is not in the exam catalog"))?;
        if !catalog_entry.active {
            return Err(ServiceError::Conflict(format!(
                "exam type {exam_type} is no longer active"
            )));
        }
        let exam = Exam::order(
            patient_id,
            exam_type,
            actor.user_id,
            stored_precision(Utc::now()),
        );
        ExamRepository::insert(&txn, &exam).await?;
        if let Some(key) = key {
            let snapshot = ExamRepository::snapshot(&exam)?;
            idempotency::remember(&txn, actor, ORDER_SCOPE, key, exam.id, snapshot).await?;
        }
        append_events(
            &txn,
            &[actor.event(
                AuditAction::Create,
                ResourceType::Exam,
                Some(exam.id.to_string()),
                AuditOutcome::Success,
            )],
        )
        .await?;
        txn.commit().await?;
        Ok(Ordered {
            exam,
            replayed: false,
        })
    }

    async fn replay(
        &self,
        actor: &Actor,
        key: &IdempotencyRequest,
    ) -> Result<Option<Ordered>, ServiceError> {
        let Some(record) = idempotency::earlier_outcome(&self.db, actor, ORDER_SCOPE, key).await?
        else {
            return Ok(None);
        };
        let exam = match (&record.snapshot, record.resource_id) {
            (Some(snapshot), _) => ExamRepository::from_snapshot(snapshot)?,
            (None, Some(id)) => ExamRepository::find(self.db.reader(), id)
                .await?
                .ok_or(ServiceError::NotFound("exam"))?,
            (None, None) => return Err(ServiceError::NotFound("exam")),
        };
        self.audit_read(actor, AuditAction::Read, Some(exam.id))
            .await?;
        Ok(Some(Ordered {
            exam,
            replayed: true,
        }))
    }

    async fn audit_read(
        &self,
        actor: &Actor,
        action: AuditAction,
        id: Option<Uuid>,
    ) -> Result<(), ServiceError> {
        self.audit
            .record_access(actor, action, ResourceType::Exam, id.map(|i| i.to_string()))
            .await
    }

    /// An exam of a live patient.
    pub async fn get(&self, permit: &Permit<ReadExams>, id: Uuid) -> Result<Exam, ServiceError> {
        let exam = ExamRepository::find(self.db.reader(), id)
            .await?
            .ok_or(ServiceError::NotFound("exam"))?;
        PatientRepository::find(self.db.reader(), exam.patient_id)
            .await?
            .ok_or(ServiceError::NotFound("exam"))?;
        self.audit_read(permit.actor(), AuditAction::Read, Some(id))
            .await?;
        Ok(exam)
    }

    pub async fn list(
        &self,
        permit: &Permit<ReadExams>,
        filter: &ExamFilter,
        page: PageRequest,
    ) -> Result<Page<Exam>, ServiceError> {
        if let Some(patient_id) = filter.patient_id {
            PatientRepository::find(self.db.reader(), patient_id)
                .await?
                .ok_or(ServiceError::NotFound("patient"))?;
        }
        let page = ExamRepository::list(self.db.reader(), filter, page).await?;
        self.audit_read(permit.actor(), AuditAction::List, filter.patient_id)
            .await?;
        Ok(page)
    }

    /// Starts a registered exam of the type ordered, and issues its exam token. Of two
    /// technicians starting it at once, one wins and the other gets 409.
    pub async fn start(
        &self,
        permit: &Permit<PerformExam>,
        id: Uuid,
        exam_type: ExamTypeCode,
    ) -> Result<Started, ServiceError> {
        let actor = permit.actor();
        let txn = self.db.begin().await?;
        let exam = ExamRepository::find(&txn, id)
            .await?
            .ok_or(ServiceError::NotFound("exam"))?;
        let patient = PatientRepository::find(&txn, exam.patient_id)
            .await?
            .ok_or(ServiceError::NotFound("exam"))?;
        if exam.exam_type != exam_type {
            return Err(ServiceError::invalid(
                "exam_type",
                &format!("does not match the exam ordered (type {})", exam.exam_type),
            ));
        }
        let now = stored_precision(Utc::now());
        let token_id = Uuid::new_v4();
        let started = exam
            .started(actor.user_id, now, token_id)
            .map_err(transition_conflict)?;
        if patient.status != PatientStatus::Admitted {
            return Err(ServiceError::Conflict(
                "the patient is no longer admitted".to_owned(),
            ));
        }
        self.write_transition(&txn, &exam, &started, actor, "started")
            .await?;
        let token = self.tokens.issue(&started, token_id, now)?;
        txn.commit().await?;
        Ok(Started {
            exam: started,
            token,
        })
    }

    /// Revokes a registered or started exam; its token no longer finishes it.
    pub async fn revoke(
        &self,
        permit: &Permit<RevokeExam>,
        id: Uuid,
        reason: String,
    ) -> Result<Exam, ServiceError> {
        let actor = permit.actor();
        let txn = self.db.begin().await?;
        let exam = ExamRepository::find(&txn, id)
            .await?
            .ok_or(ServiceError::NotFound("exam"))?;
        PatientRepository::find(&txn, exam.patient_id)
            .await?
            .ok_or(ServiceError::NotFound("exam"))?;
        let revoked = exam
            .revoked(actor.user_id, stored_precision(Utc::now()), reason)
            .map_err(transition_conflict)?;
        self.write_transition(&txn, &exam, &revoked, actor, "revoked")
            .await?;
        txn.commit().await?;
        Ok(revoked)
    }

    async fn write_transition(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        from: &Exam,
        to: &Exam,
        actor: &Actor,
        what: &str,
    ) -> Result<(), ServiceError> {
        match ExamRepository::transition(txn, from, to).await {
            Err(StoreError::VersionMismatch) => return Err(changed_meanwhile()),
            other => other?,
        }
        let mut event = actor.event(
            AuditAction::Update,
            ResourceType::Exam,
            Some(to.id.to_string()),
            AuditOutcome::Success,
        );
        event.reason = Some(what.to_owned());
        append_events(txn, &[event]).await
    }

    /// Applies a result handed in by a technician or physician, through `addressed` (the exam
    /// in the path) or not, with its report file if any.
    pub async fn submit_result(
        &self,
        permit: &Permit<SubmitExamResult>,
        addressed: Option<Uuid>,
        exam_token: &str,
        result_token: &str,
        report: Option<Vec<u8>>,
    ) -> Result<Finished, ServiceError> {
        let verified = self.verify_result(exam_token, result_token, addressed)?;
        let txn = self.db.begin().await?;
        let finished = self
            .finish_in(&txn, Some(permit.actor()), verified, report)
            .await?;
        txn.commit().await?;
        Ok(finished)
    }

    /// Verifies both tokens and, if they agree with each other and the registry, finishes the
    /// exam: the result, its lab values and the patient's notification in one transaction. The
    /// same result again answers the finished exam unchanged. `actor` is none for results from
    /// the results inbox.
    pub async fn apply_result(
        &self,
        actor: Option<&Actor>,
        addressed: Option<Uuid>,
        exam_token: &str,
        result_token: &str,
    ) -> Result<Finished, ResultRefusal> {
        let verified = self.verify_result(exam_token, result_token, addressed)?;
        let txn = self.db.begin().await?;
        let finished = self.finish_in(&txn, actor, verified, None).await?;
        txn.commit().await?;
        Ok(finished)
    }

    /// Verifies both tokens and checks that they speak of the same exam (the one `addressed`,
    /// when the caller named one). Reads nothing from the database.
    pub fn verify_result(
        &self,
        exam_token: &str,
        result_token: &str,
        addressed: Option<Uuid>,
    ) -> Result<VerifiedResult, ResultRefusal> {
        let mut errors = FieldErrors::default();
        let exam_claims = errors.check("exam_token", self.tokens.verify_exam(exam_token));
        let result_claims = match self.tokens.verify_result(result_token) {
            Ok(claims) => Some(claims),
            Err(e) => {
                errors.extend(e);
                None
            }
        };
        let (Some(exam), Some(result)) = (exam_claims, result_claims) else {
            return Err(ResultRefusal::Unverifiable(errors));
        };
        check_agreement(&exam, &result, addressed)
            .map_err(|d| ResultRefusal::Disagrees(d.to_string()))?;
        let digest = hex(&Sha256::digest(result_token.as_bytes()));
        Ok(VerifiedResult {
            exam,
            result,
            digest,
        })
    }

    /// Finishes the exam of a verified result within `txn`, which the caller commits (the
    /// results inbox records the file's outcome in the same transaction): the result, its report
    /// file (stored in the result store as `reports/{exam_id}` and referenced from the exam),
    /// its lab values, the notification and the audit event. Nothing is written when it answers
    /// a refusal or a replay (a replay's report is not stored again).
    pub async fn finish_in(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        actor: Option<&Actor>,
        verified: VerifiedResult,
        report: Option<Vec<u8>>,
    ) -> Result<Finished, ResultRefusal> {
        let VerifiedResult {
            exam: exam_claims,
            result: result_claims,
            digest,
        } = verified;
        let exam = ExamRepository::find(txn, exam_claims.exam_id)
            .await?
            .ok_or(ResultRefusal::Failed(ServiceError::NotFound("exam")))?;
        let patient: Patient = PatientRepository::lock(txn, exam.patient_id)
            .await?
            .ok_or(ResultRefusal::Failed(ServiceError::NotFound("exam")))?;
        check_registry(&exam_claims, &exam)
            .map_err(|d: Disagreement| ResultRefusal::Disagrees(d.to_string()))?;
        match exam.status {
            ExamStatus::Revoked => return Err(ResultRefusal::Revoked),
            ExamStatus::Finished if exam.result_digest.as_deref() == Some(digest.as_str()) => {
                return Ok(Finished {
                    exam,
                    replayed: true,
                });
            }
            ExamStatus::Finished => {
                return Err(ResultRefusal::NotApplicable(
                    "the exam is already finished with another result".to_owned(),
                ));
            }
            ExamStatus::Registered => {
                return Err(ResultRefusal::NotApplicable(
                    "the exam has not been started".to_owned(),
                ));
            }
            ExamStatus::Started => {}
        }
        if patient.status != PatientStatus::Admitted {
            return Err(ResultRefusal::PatientNotAdmitted);
        }
        let now = stored_precision(Utc::now());
        let labs = result_claims
            .result
            .lab_results(result_claims.issued_at, now)
            .map_err(|e| ResultRefusal::Unverifiable(e.prefixed("result_token.")))?;
        let mut finished = exam
            .finished(actor.map(|a| a.user_id), now, result_claims.result, digest)
            .map_err(|e| ResultRefusal::NotApplicable(e.to_string()))?;
        if let Some(bytes) = report {
            // Stored before the commit that references it, once every check has passed (so a
            // refused result never overwrites a report): a failure here rolls the finish back.
            let key = format!("reports/{}", exam.id);
            self.store.put(&key, bytes).await?;
            finished.report_key = Some(key);
        }
        match ExamRepository::transition(txn, &exam, &finished).await {
            Err(StoreError::VersionMismatch) => {
                return Err(ResultRefusal::NotApplicable(
                    "the exam was changed by someone else; try again".to_owned(),
                ));
            }
            other => other?,
        }
        // Lab values are recorded as by whoever handed the result in, or for inbox results by
        // the technician who performed the exam.
        let recorded_by = actor
            .map(|a| a.user_id)
            .or(exam.started.map(|s| s.by))
            .unwrap_or(exam.ordered.by);
        for lab in labs {
            insert_lab_result(txn, patient.id, lab, recorded_by).await?;
        }
        let notification = Notification::new(
            &patient,
            Some(finished.id),
            NotificationKind::ResultReady,
            now,
        );
        NotificationRepository::insert(txn, &notification).await?;
        append_events(txn, &[finish_event(actor, finished.id)]).await?;
        Ok(Finished {
            exam: finished,
            replayed: false,
        })
    }
}

fn finish_event(actor: Option<&Actor>, id: Uuid) -> NewAuditEvent {
    let mut event = event_by(
        actor,
        AuditAction::Update,
        ResourceType::Exam,
        Some(id.to_string()),
    );
    if actor.is_none() {
        event.actor_username = Some("results-inbox".to_owned());
    }
    event.reason = Some("finished".to_owned());
    event
}
