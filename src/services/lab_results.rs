//! Laboratory result use cases: record a neutrophil count, list a patient's results.

use chrono::Utc;
use uuid::Uuid;

use super::ServiceError;
use super::access::{Permit, ReadLabResults, RecordLabResult};
use super::audit::AuditLog;
use super::vital_signs::append_events;
use crate::domain::audit::{AuditAction, AuditOutcome, ResourceType};
use crate::domain::lab::{LabCode, LabResult, NewLabResult};
use crate::persistence::lab_results::LabResultRepository;
use crate::persistence::patients::PatientRepository;
use crate::persistence::{Database, Executor};

/// The most results one list returns: a patient has a handful per day.
pub const MAX_LAB_RESULTS: u64 = 500;

#[derive(Clone)]
pub struct LabResultService {
    db: Database,
    audit: AuditLog,
}

impl LabResultService {
    pub fn new(db: Database, audit: AuditLog) -> Self {
        Self { db, audit }
    }

    pub async fn record(
        &self,
        permit: &Permit<RecordLabResult>,
        patient_id: Uuid,
        new: NewLabResult,
    ) -> Result<LabResult, ServiceError> {
        let actor = permit.actor();
        let txn = self.db.begin().await?;
        PatientRepository::find(&txn, patient_id)
            .await?
            .ok_or(ServiceError::NotFound("patient"))?;
        let result = insert_lab_result(&txn, patient_id, new, actor.user_id).await?;
        append_events(
            &txn,
            &[actor.event(
                AuditAction::Create,
                ResourceType::LabResult,
                Some(result.id.to_string()),
                AuditOutcome::Success,
            )],
        )
        .await?;
        txn.commit().await?;
        Ok(result)
    }

    pub async fn list(
        &self,
        permit: &Permit<ReadLabResults>,
        patient_id: Uuid,
        code: Option<LabCode>,
        limit: u64,
    ) -> Result<Vec<LabResult>, ServiceError> {
        PatientRepository::find(self.db.reader(), patient_id)
            .await?
            .ok_or(ServiceError::NotFound("patient"))?;
        let results = LabResultRepository::list(
            self.db.reader(),
            patient_id,
            code,
            limit.min(MAX_LAB_RESULTS),
        )
        .await?;
        self.audit
            .record(permit.actor().event(
                AuditAction::List,
                ResourceType::LabResult,
                Some(patient_id.to_string()),
                AuditOutcome::Success,
            ))
            .await?;
        Ok(results)
    }
}

/// Stores a laboratory result in `txn`: entered by hand, or fed from a finished exam's result,
/// so the rules that read neutrophil counts see both alike.
pub(crate) async fn insert_lab_result<C: Executor>(
    txn: &C,
    patient_id: Uuid,
    new: NewLabResult,
    recorded_by: Uuid,
) -> Result<LabResult, ServiceError> {
    let result = LabResult {
        id: Uuid::now_v7(),
        patient_id,
        code: new.code,
        value: new.value,
        measured_at: new.measured_at,
        recorded_by,
        created_at: crate::domain::observation::stored_precision(Utc::now()),
    };
    LabResultRepository::insert(txn, &result).await?;
    Ok(result)
}
