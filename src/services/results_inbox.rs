//! The results inbox: a worker that takes the result files the exam execution system drops
//! under `completed/` in the result store, applies each through the result intake, and moves it
//! to the folder of its outcome; and the list of what became of every file.
//!
//! Exactly once across replicas: a worker claims a file in the database (a row keyed by its
//! path and fingerprint, leased) before touching it. Crash-safe: applying a result is
//! idempotent and is committed together with the file's outcome; the move comes after, and is
//! redone from the recorded outcome by whoever claims the row once the lease has run out.

use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::ServiceError;
use super::access::{Permit, ReadResultsInbox};
use super::audit::AuditLog;
use super::exams::{ExamService, ResultRefusal};
use crate::domain::audit::{AuditAction, ResourceType};
use crate::domain::observation::stored_precision;
use crate::domain::page::{Page, PageRequest};
use crate::domain::results_inbox::{
    Decision, INBOX_FOLDER, InboxEntry, InboxOutcome, MAX_FILE_BYTES, bounded_reason, destination,
    inbox_name,
};
use crate::persistence::Database;
use crate::persistence::result_store::{ResultStore, StoredFile};
use crate::persistence::results_inbox::{InboxFilter, InboxRepository};

/// The most half-way rows one pass takes over.
const BATCH: u64 = 32;
/// How long a file whose handling failed on our side waits before it is tried again.
const RETRY_AFTER: Duration = Duration::from_secs(30);

/// A result file: the exam token printed on the result paper, the exam execution system's
/// result token and, optionally, the report as base64 (any format: PDF, text, ...). Other
/// fields are ignored, so the producer may add its own metadata.
#[derive(Debug, Deserialize)]
struct ResultDocument {
    exam_token: String,
    result_token: String,
    #[serde(default)]
    report: Option<String>,
}

/// Which folder a refused result goes to, and why; `Err` for failures on our side, which are
/// not the file's fault and are tried again later.
pub fn classify(refusal: ResultRefusal) -> Result<(InboxOutcome, String), ServiceError> {
    Ok(match refusal {
        ResultRefusal::Unverifiable(errors) => (
            InboxOutcome::Stuck,
            format!("the result does not verify: {errors}"),
        ),
        ResultRefusal::Disagrees(reason) | ResultRefusal::NotApplicable(reason) => {
            (InboxOutcome::Denied, reason)
        }
        ResultRefusal::PatientNotAdmitted => (
            InboxOutcome::Denied,
            "the patient is no longer admitted".to_owned(),
        ),
        ResultRefusal::Revoked => (InboxOutcome::Deleted, "the exam was revoked".to_owned()),
        ResultRefusal::Failed(ServiceError::NotFound(_)) => (
            InboxOutcome::Denied,
            "the exam token names an exam the registry does not have".to_owned(),
        ),
        ResultRefusal::Failed(e) => return Err(e),
    })
}

/// The document in a file's bytes, with its report decoded; the reason it goes to `stuck/`
/// otherwise.
fn read_document(bytes: &[u8]) -> Result<(ResultDocument, Option<Vec<u8>>), String> {
    let document: ResultDocument = serde_json::from_slice(bytes).map_err(|e| {
        format!("not a JSON document with exam_token, result_token and an optional report: {e}")
    })?;
    let report = match document.report.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(b64) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| format!("the report is not base64: {e}"))?,
        ),
    };
    Ok((document, report))
}

fn lease_end(now: DateTime<Utc>, lease: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX)
}

#[derive(Clone)]
pub struct ResultsInbox {
    db: Database,
    audit: AuditLog,
    store: ResultStore,
    exams: ExamService,
    lease: Duration,
}

impl ResultsInbox {
    /// `lease`: how long a worker owns a file it claimed; longer than handling one may take.
    pub fn new(
        db: Database,
        audit: AuditLog,
        store: ResultStore,
        exams: ExamService,
        lease: Duration,
    ) -> Self {
        Self {
            db,
            audit,
            store,
            exams,
            lease,
        }
    }

    pub async fn list(
        &self,
        permit: &Permit<ReadResultsInbox>,
        filter: &InboxFilter,
        page: PageRequest,
    ) -> Result<Page<InboxEntry>, ServiceError> {
        let page = InboxRepository::list(self.db.reader(), filter, page).await?;
        self.audit
            .record_access(permit.actor(), AuditAction::List, ResourceType::Exam, None)
            .await?;
        Ok(page)
    }

    /// One pass: claims every file in `completed/` no other worker holds, then the rows other
    /// workers left half-way, and handles each; returns how many it handled. A bad file never
    /// ends the pass: its outcome is recorded and the pass goes on.
    pub async fn run_once(&self) -> Result<usize, ServiceError> {
        let mut handled = 0;
        let claim = Uuid::new_v4();
        for file in self.store.list(INBOX_FOLDER).await? {
            if inbox_name(&file.path).is_none() {
                continue;
            }
            if let Some(entry) = self.claim(&file, claim).await? {
                self.handle(entry, claim).await;
                handled += 1;
            }
        }
        let sweep = Uuid::new_v4();
        let now = stored_precision(Utc::now());
        let abandoned = InboxRepository::claim_abandoned(
            self.db.writer(),
            sweep,
            now,
            lease_end(now, self.lease),
            BATCH,
        )
        .await?;
        for entry in abandoned {
            self.handle(entry, sweep).await;
            handled += 1;
        }
        Ok(handled)
    }

    /// Claims `file` for `claim`; none when another worker holds it or it is done.
    pub async fn claim(
        &self,
        file: &StoredFile,
        claim: Uuid,
    ) -> Result<Option<InboxEntry>, ServiceError> {
        let now = stored_precision(Utc::now());
        Ok(InboxRepository::claim_file(
            self.db.writer(),
            file,
            claim,
            now,
            lease_end(now, self.lease),
        )
        .await?)
    }

    /// Handles a claimed file to the end, or records why it could not be (to be tried again
    /// after `RETRY_AFTER`); never fails, so one file cannot stop the worker.
    async fn handle(&self, entry: InboxEntry, claim: Uuid) {
        let Err(error) = self.settle(&entry, claim).await else {
            return;
        };
        tracing::warn!(file = %entry.path, %error, "results inbox: file left for a later pass");
        let now = stored_precision(Utc::now());
        let recorded = InboxRepository::record_failure(
            self.db.writer(),
            entry.id,
            claim,
            &bounded_reason(&error.to_string()),
            lease_end(now, RETRY_AFTER),
            now,
        )
        .await;
        if let Err(e) = recorded {
            // The lease runs out on its own and the file is tried again then.
            tracing::error!(file = %entry.path, error = %e, "results inbox: could not record a failure");
        }
    }

    /// Decides the outcome of a claimed file if it is not decided yet, then moves the file to
    /// its destination and marks the row done. Either step may already have happened before a
    /// crash: a decided outcome is not decided again, and a file already gone is not moved.
    pub async fn settle(&self, entry: &InboxEntry, claim: Uuid) -> Result<(), ServiceError> {
        let source = self
            .store
            .head(&entry.path)
            .await?
            .filter(|f| f.fingerprint == entry.fingerprint);
        let destination = match (&entry.destination, entry.outcome, &source) {
            (Some(d), Some(_), _) => Some(d.clone()),
            (_, Some(_), _) => None,
            (_, None, Some(_)) => match self.decide(entry, claim).await? {
                Some(d) => Some(d),
                // The lease was lost: the worker that took the file over finishes it.
                None => return Ok(()),
            },
            (_, None, None) => {
                let decision = Decision::new(
                    InboxOutcome::Stuck,
                    "the file left completed/ before it was handled",
                );
                let now = stored_precision(Utc::now());
                if !InboxRepository::decide(self.db.writer(), entry.id, claim, &decision, None, now)
                    .await?
                {
                    return Ok(());
                }
                None
            }
        };
        if let (Some(_), Some(to)) = (&source, &destination) {
            self.store.rename(&entry.path, to).await?;
        }
        let now = stored_precision(Utc::now());
        if !InboxRepository::mark_moved(self.db.writer(), entry.id, claim, now).await? {
            tracing::warn!(file = %entry.path, "results inbox: lease lost before the move was recorded");
        }
        Ok(())
    }

    /// Reads the file and decides its outcome, applying the result when it is good: the exam's
    /// finish and the file's outcome are committed together. Returns the destination, or none
    /// when the lease was lost meanwhile (nothing is then written).
    pub async fn decide(
        &self,
        entry: &InboxEntry,
        claim: Uuid,
    ) -> Result<Option<String>, ServiceError> {
        let size = u64::try_from(entry.size).unwrap_or(u64::MAX);
        let read = if size > MAX_FILE_BYTES {
            Err(format!(
                "the file is larger than {} MiB",
                MAX_FILE_BYTES / (1024 * 1024)
            ))
        } else {
            read_document(&self.store.read(&entry.path).await?)
        };
        let (document, report) = match read {
            Ok(read) => read,
            Err(reason) => {
                let decision = Decision::new(InboxOutcome::Stuck, reason);
                return self.record(entry, claim, &decision).await;
            }
        };
        let verified =
            match self
                .exams
                .verify_result(&document.exam_token, &document.result_token, None)
            {
                Ok(v) => v,
                Err(refusal) => {
                    let (outcome, reason) = classify(refusal)?;
                    return self
                        .record(entry, claim, &Decision::new(outcome, reason))
                        .await;
                }
            };
        let (exam_id, patient_id) = (verified.exam.exam_id, verified.exam.patient_id);
        let txn = self.db.begin().await?;
        let mut decision = match self.exams.finish_in(&txn, None, verified, report).await {
            Ok(finished) => {
                let mut decision = Decision::new(
                    InboxOutcome::Processed,
                    if finished.replayed {
                        "the result had already been applied"
                    } else {
                        "the result was applied; the exam is finished"
                    },
                );
                decision.report_key = finished.exam.report_key;
                decision
            }
            Err(refusal) => {
                drop(txn);
                let (outcome, reason) = classify(refusal)?;
                let mut decision = Decision::new(outcome, reason);
                decision.exam_id = Some(exam_id);
                decision.patient_id = Some(patient_id);
                return self.record(entry, claim, &decision).await;
            }
        };
        decision.exam_id = Some(exam_id);
        decision.patient_id = Some(patient_id);
        let now = stored_precision(Utc::now());
        let to = self.free_destination(entry, decision.outcome, now).await?;
        if !InboxRepository::decide(&txn, entry.id, claim, &decision, Some(&to), now).await? {
            return Ok(None);
        }
        txn.commit().await?;
        Ok(Some(to))
    }

    /// Records a decision that changes nothing else in the registry.
    async fn record(
        &self,
        entry: &InboxEntry,
        claim: Uuid,
        decision: &Decision,
    ) -> Result<Option<String>, ServiceError> {
        let now = stored_precision(Utc::now());
        let to = self.free_destination(entry, decision.outcome, now).await?;
        let recorded =
            InboxRepository::decide(self.db.writer(), entry.id, claim, decision, Some(&to), now)
                .await?;
        Ok(recorded.then_some(to))
    }

    /// The file's destination for `outcome`, under another name when an earlier file of the
    /// same name is already there.
    async fn free_destination(
        &self,
        entry: &InboxEntry,
        outcome: InboxOutcome,
        now: DateTime<Utc>,
    ) -> Result<String, ServiceError> {
        let name = inbox_name(&entry.path).unwrap_or(&entry.path);
        let plain = destination(outcome, now, name, entry.id, false);
        let taken = self.store.head(&plain).await?.is_some();
        Ok(if taken {
            destination(outcome, now, name, entry.id, true)
        } else {
            plain
        })
    }

    /// Runs the inbox worker on the current runtime: a pass, then another every `poll` (at
    /// once while files keep coming).
    pub fn spawn_worker(&self, poll: Duration) {
        let inbox = self.clone();
        tokio::spawn(async move {
            loop {
                match inbox.run_once().await {
                    Ok(n) if n > 0 => continue,
                    Ok(_) => {}
                    Err(error) => tracing::error!(%error, "results inbox pass failed"),
                }
                tokio::time::sleep(poll).await;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::FieldErrors;

    fn outcome(r: ResultRefusal) -> InboxOutcome {
        classify(r).unwrap().0
    }

    #[test]
    fn refusals_are_sorted_into_their_folders() {
        let mut errors = FieldErrors::default();
        errors.push("exam_token", "has expired");
        assert_eq!(
            outcome(ResultRefusal::Unverifiable(errors)),
            InboxOutcome::Stuck
        );
        assert_eq!(
            outcome(ResultRefusal::Disagrees("other exam".into())),
            InboxOutcome::Denied
        );
        assert_eq!(
            outcome(ResultRefusal::PatientNotAdmitted),
            InboxOutcome::Denied
        );
        assert_eq!(
            outcome(ResultRefusal::NotApplicable("not started".into())),
            InboxOutcome::Denied
        );
        assert_eq!(
            outcome(ResultRefusal::Failed(ServiceError::NotFound("exam"))),
            InboxOutcome::Denied
        );
        assert_eq!(outcome(ResultRefusal::Revoked), InboxOutcome::Deleted);
        assert!(classify(ResultRefusal::Failed(ServiceError::internal("db down"))).is_err());
    }

    #[test]
    fn a_file_must_be_a_json_result_document_with_a_base64_report_if_any() {
        assert!(read_document(b"not json").is_err());
        assert!(read_document(br#"{"exam_token": "a"}"#).is_err());
        let (doc, report) =
            read_document(br#"{"exam_token": "a", "result_token": "b", "lab": "x"}"#).unwrap();
        assert_eq!((doc.exam_token.as_str(), report), ("a", None));
        let (_, report) =
            read_document(br#"{"exam_token": "a", "result_token": "b", "report": "aGk="}"#)
                .unwrap();
        assert_eq!(report.as_deref(), Some(&b"hi"[..]));
        let bad = read_document(br#"{"exam_token": "a", "result_token": "b", "report": "%%"}"#);
        assert!(bad.unwrap_err().contains("base64"));
    }
}
