//! Patient use cases: register (idempotently), read, list, change, discharge, soft-delete, and
//! batches of those that succeed or fail as a whole.

use chrono::Utc;
use sea_orm::{DatabaseTransaction, TransactionTrait as _};
use uuid::Uuid;

use super::Precondition;
use super::ServiceError;
use super::access::{
    AccessControl, Actor, ChangeClinicalSettings, CreatePatient, DeletePatient, Permit,
    ReadPatient, UpdatePatient, event_by,
};
use super::audit::AuditLog;
use super::error::BatchItemError;
use super::idempotency;
use crate::domain::FieldErrors;
use crate::domain::audit::{AuditAction, AuditOutcome, ResourceType};
use crate::domain::page::{Page, PageRequest};
use crate::domain::patient::{ClinicalSettingsChange, NewPatient, Patient, PatientChanges};
use crate::persistence::audit::AuditRepository;
use crate::persistence::patients::{PatientFilter, PatientRepository};
use crate::persistence::{Database, StoreError};

const CREATE_SCOPE: &str = "POST /api/v1/patients";
pub const MAX_BATCH_OPERATIONS: usize = 100;

pub use super::idempotency::IdempotencyRequest;

/// The result of a create: the patient, and whether it is the replay of an earlier request.
#[derive(Debug, Clone)]
pub struct Registered {
    pub patient: Patient,
    pub replayed: bool,
}

/// One operation of a batch.
#[derive(Debug, Clone)]
pub enum BatchOperation {
    Create(NewPatient),
    Update {
        id: Uuid,
        precondition: Precondition,
        changes: PatientChanges,
    },
    Delete {
        id: Uuid,
        precondition: Precondition,
    },
}

/// What one operation of an applied batch did.
#[derive(Debug, Clone)]
pub enum BatchOutcome {
    Created(Patient),
    Updated(Patient),
    Deleted(Uuid),
}

#[derive(Clone)]
pub struct PatientService {
    db: Database,
    audit: AuditLog,
    access: AccessControl,
}

fn mrn_taken(new_mrn: &str) -> ServiceError {
    ServiceError::Conflict(format!(
        "a patient with MRN '{new_mrn}' is already registered"
    ))
}

impl PatientService {
    pub fn new(db: Database, audit: AuditLog, access: AccessControl) -> Self {
        Self { db, audit, access }
    }

    pub async fn create(
        &self,
        permit: &Permit<CreatePatient>,
        new: NewPatient,
        idempotency: Option<IdempotencyRequest>,
    ) -> Result<Registered, ServiceError> {
        let actor = permit.actor();
        match self.try_create(actor, &new, idempotency.as_ref()).await {
            // Two requests with the same key raced: the loser replays the winner's result.
            Err(ServiceError::Conflict(_)) if idempotency.is_some() => {
                let key = idempotency.as_ref().expect("checked");
                self.replay(actor, key)
                    .await?
                    .ok_or_else(|| mrn_taken(new.mrn.as_str()))
            }
            other => other,
        }
    }

    async fn try_create(
        &self,
        actor: &Actor,
        new: &NewPatient,
        idempotency: Option<&IdempotencyRequest>,
    ) -> Result<Registered, ServiceError> {
        if let Some(key) = idempotency
            && let Some(replayed) = self.replay(actor, key).await?
        {
            return Ok(replayed);
        }
        let txn = self.db.begin().await?;
        let patient = insert_patient(&txn, Some(actor), new.clone()).await?;
        if let Some(key) = idempotency {
            let snapshot = PatientRepository::snapshot(&patient)?;
            idempotency::remember(&txn, actor, CREATE_SCOPE, key, patient.id, snapshot).await?;
        }
        txn.commit().await?;
        Ok(Registered {
            patient,
            replayed: false,
        })
    }

    /// The earlier outcome of this key, if any; refuses a key reused for another body.
    async fn replay(
        &self,
        actor: &Actor,
        key: &IdempotencyRequest,
    ) -> Result<Option<Registered>, ServiceError> {
        let Some(record) = idempotency::earlier_outcome(&self.db, actor, CREATE_SCOPE, key).await?
        else {
            return Ok(None);
        };
        let id = record
            .resource_id
            .ok_or(ServiceError::NotFound("patient"))?;
        // The first answer is given again as it was, even if the patient changed since.
        let patient = match &record.snapshot {
            Some(snapshot) => PatientRepository::from_snapshot(snapshot)?,
            None => PatientRepository::find(self.db.reader(), id)
                .await?
                .ok_or(ServiceError::NotFound("patient"))?,
        };
        self.audit_read(actor, AuditAction::Read, Some(id)).await?;
        Ok(Some(Registered {
            patient,
            replayed: true,
        }))
    }

    /// Registers a patient on behalf of the operator (the `seed` command).
    pub async fn register_as_operator(&self, new: NewPatient) -> Result<Patient, ServiceError> {
        let txn = self.db.begin().await?;
        let patient = insert_patient(&txn, None, new).await?;
        txn.commit().await?;
        Ok(patient)
    }

    pub async fn get(
        &self,
        permit: &Permit<ReadPatient>,
        id: Uuid,
    ) -> Result<Patient, ServiceError> {
        let patient = PatientRepository::find(self.db.reader(), id)
            .await?
            .ok_or(ServiceError::NotFound("patient"))?;
        self.audit_read(permit.actor(), AuditAction::Read, Some(id))
            .await?;
        Ok(patient)
    }

    pub async fn list(
        &self,
        permit: &Permit<ReadPatient>,
        filter: &PatientFilter,
        page: PageRequest,
    ) -> Result<Page<Patient>, ServiceError> {
        let page = PatientRepository::list(self.db.reader(), filter, page).await?;
        // A list discloses every record on it: each is audited as read, like a single read.
        let actor = permit.actor();
        let events = page
            .items
            .iter()
            .map(|p| {
                actor.event(
                    AuditAction::Read,
                    ResourceType::Patient,
                    Some(p.id.to_string()),
                    AuditOutcome::Success,
                )
            })
            .collect();
        self.audit.record_all(events).await?;
        Ok(page)
    }

    pub async fn update(
        &self,
        permit: &Permit<UpdatePatient>,
        id: Uuid,
        changes: PatientChanges,
        precondition: Precondition,
    ) -> Result<Patient, ServiceError> {
        let txn = self.db.begin().await?;
        let patient = update_patient(&txn, permit.actor(), id, changes, precondition).await?;
        txn.commit().await?;
        Ok(patient)
    }

    /// Changes the settings the clinical rules read (physicians only). Scores already charted
    /// keep the scale they were computed on; the change applies to sets charted from now on.
    pub async fn change_clinical_settings(
        &self,
        permit: &Permit<ChangeClinicalSettings>,
        id: Uuid,
        change: ClinicalSettingsChange,
        precondition: Precondition,
    ) -> Result<Patient, ServiceError> {
        let actor = permit.actor();
        let txn = self.db.begin().await?;
        let current = PatientRepository::lock(&txn, id)
            .await?
            .ok_or(ServiceError::NotFound("patient"))?;
        if let Precondition::Version(v) = precondition
            && v != current.version
        {
            return Err(ServiceError::PreconditionFailed);
        }
        let expected = current.version;
        let mut updated = current;
        updated.clinical = change.apply(updated.clinical);
        updated.version = expected + 1;
        updated.updated_at = Utc::now();
        PatientRepository::update(&txn, &updated, expected).await?;
        let mut event = actor.event(
            AuditAction::Update,
            ResourceType::Patient,
            Some(id.to_string()),
            AuditOutcome::Success,
        );
        // The log says what changed, not to what: audit events carry no clinical values.
        let mut fields = Vec::new();
        if change.spo2_scale.is_some() {
            fields.push("spo2_scale");
        }
        if change.last_systemic_therapy_on.is_some() {
            fields.push("last_systemic_therapy_on");
        }
        event.reason = Some(format!("clinical settings changed: {}", fields.join(", ")));
        AuditRepository::append(&txn, &event).await?;
        txn.commit().await?;
        Ok(updated)
    }

    pub async fn delete(
        &self,
        permit: &Permit<DeletePatient>,
        id: Uuid,
        precondition: Precondition,
    ) -> Result<(), ServiceError> {
        let txn = self.db.begin().await?;
        delete_patient(&txn, permit.actor(), id, precondition).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Applies every operation or none. Each runs in its own savepoint so that all failures
    /// are found and reported, then the whole transaction is rolled back if any failed.
    pub async fn batch(
        &self,
        permit: &Permit<UpdatePatient>,
        operations: Vec<BatchOperation>,
    ) -> Result<Vec<BatchOutcome>, ServiceError> {
        let actor = permit.actor();
        if operations.is_empty() || operations.len() > MAX_BATCH_OPERATIONS {
            return Err(ServiceError::invalid(
                "operations",
                &format!("must hold 1 to {MAX_BATCH_OPERATIONS} operations"),
            ));
        }
        // Each kind of operation in the batch needs its own permission; all are checked before
        // anything is touched.
        if operations
            .iter()
            .any(|op| matches!(op, BatchOperation::Create(_)))
        {
            self.access
                .authorize::<CreatePatient>(actor.clone())
                .await?;
        }
        if operations
            .iter()
            .any(|op| matches!(op, BatchOperation::Delete { .. }))
        {
            self.access
                .authorize::<DeletePatient>(actor.clone())
                .await?;
        }
        let txn = self.db.begin().await?;
        let mut outcomes = Vec::with_capacity(operations.len());
        let mut failures = Vec::new();
        for (index, operation) in operations.into_iter().enumerate() {
            let savepoint = txn.begin().await?;
            let result = match operation {
                BatchOperation::Create(new) => insert_patient(&savepoint, Some(actor), new)
                    .await
                    .map(BatchOutcome::Created),
                BatchOperation::Update {
                    id,
                    precondition,
                    changes,
                } => update_patient(&savepoint, actor, id, changes, precondition)
                    .await
                    .map(BatchOutcome::Updated),
                BatchOperation::Delete { id, precondition } => {
                    delete_patient(&savepoint, actor, id, precondition)
                        .await
                        .map(|()| BatchOutcome::Deleted(id))
                }
            };
            match result {
                Ok(outcome) => {
                    savepoint.commit().await?;
                    outcomes.push(outcome);
                }
                Err(ServiceError::Internal(cause)) => return Err(ServiceError::Internal(cause)),
                Err(error) => {
                    savepoint.rollback().await?;
                    failures.push(batch_failure(index, error));
                }
            }
        }
        if !failures.is_empty() {
            txn.rollback().await?;
            return Err(ServiceError::BatchRefused(failures));
        }
        txn.commit().await?;
        Ok(outcomes)
    }

    async fn audit_read(
        &self,
        actor: &Actor,
        action: AuditAction,
        id: Option<Uuid>,
    ) -> Result<(), ServiceError> {
        self.audit
            .record_access(
                actor,
                action,
                ResourceType::Patient,
                id.map(|i| i.to_string()),
            )
            .await
    }
}

fn batch_failure(index: usize, error: ServiceError) -> BatchItemError {
    let (status, errors) = match &error {
        ServiceError::Invalid(errors) => (422, errors.clone()),
        ServiceError::NotFound(_) => (404, FieldErrors::default()),
        ServiceError::Conflict(_) => (409, FieldErrors::default()),
        ServiceError::PreconditionFailed => (412, FieldErrors::default()),
        _ => (422, FieldErrors::default()),
    };
    BatchItemError {
        index,
        status,
        reason: error.to_string(),
        errors,
    }
}

async fn insert_patient(
    txn: &DatabaseTransaction,
    actor: Option<&Actor>,
    new: NewPatient,
) -> Result<Patient, ServiceError> {
    let now = Utc::now();
    let patient = Patient {
        id: Uuid::now_v7(),
        mrn: new.mrn,
        first_name: new.first_name,
        last_name: new.last_name,
        birth_date: new.birth_date,
        sex: new.sex,
        diagnosis: new.diagnosis,
        icd10_code: new.icd10_code,
        ward: new.ward,
        bed: new.bed,
        status: new.status,
        phone: new.phone,
        email: new.email,
        preferred_contact: new.preferred_contact,
        clinical: Default::default(),
        version: 1,
        created_at: now,
        updated_at: now,
    };
    match PatientRepository::insert(txn, &patient).await {
        Err(StoreError::Duplicate(_)) => return Err(mrn_taken(patient.mrn.as_str())),
        other => other?,
    }
    AuditRepository::append(
        txn,
        &event_by(
            actor,
            AuditAction::Create,
            ResourceType::Patient,
            Some(patient.id.to_string()),
        ),
    )
    .await?;
    Ok(patient)
}

async fn update_patient(
    txn: &DatabaseTransaction,
    actor: &Actor,
    id: Uuid,
    changes: PatientChanges,
    precondition: Precondition,
) -> Result<Patient, ServiceError> {
    let current = PatientRepository::find(txn, id)
        .await?
        .ok_or(ServiceError::NotFound("patient"))?;
    if let Precondition::Version(v) = precondition
        && v != current.version
    {
        return Err(ServiceError::PreconditionFailed);
    }
    let new_mrn = changes.mrn.clone();
    let expected = current.version;
    let mut updated = current.with_changes(changes);
    updated.version = expected + 1;
    updated.updated_at = Utc::now();
    match PatientRepository::update(txn, &updated, expected).await {
        Err(StoreError::Duplicate(_)) => {
            return Err(mrn_taken(new_mrn.as_ref().map_or("", |m| m.as_str())));
        }
        other => other?,
    }
    AuditRepository::append(
        txn,
        &actor.event(
            AuditAction::Update,
            ResourceType::Patient,
            Some(id.to_string()),
            AuditOutcome::Success,
        ),
    )
    .await?;
    Ok(updated)
}

async fn delete_patient(
    txn: &DatabaseTransaction,
    actor: &Actor,
    id: Uuid,
    precondition: Precondition,
) -> Result<(), ServiceError> {
    let current = PatientRepository::find(txn, id)
        .await?
        .ok_or(ServiceError::NotFound("patient"))?;
    if let Precondition::Version(v) = precondition
        && v != current.version
    {
        return Err(ServiceError::PreconditionFailed);
    }
    PatientRepository::soft_delete(txn, id, current.version, Utc::now()).await?;
    AuditRepository::append(
        txn,
        &actor.event(
            AuditAction::Delete,
            ResourceType::Patient,
            Some(id.to_string()),
            AuditOutcome::Success,
        ),
    )
    .await?;
    Ok(())
}
