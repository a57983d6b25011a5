//! ECG use cases: store a recording with the insights computed from it (one transaction with its
//! audit event), read it (with or without its samples), its insights, a patient's list, and
//! withdraw it (soft delete). Deleted recordings and recordings of deleted patients are gone
//! from every read.

use chrono::Utc;
use uuid::Uuid;

use super::ServiceError;
use super::access::{Actor, DeleteEcg, Permit, ReadEcgs, RecordEcg};
use super::audit::AuditLog;
use super::vital_signs::append_events;
use crate::domain::audit::{AuditAction, AuditOutcome, NewAuditEvent, ResourceType};
use crate::domain::ecg::{EcgInsights, EcgRecord, NewEcg, encode_signal};
use crate::domain::observation::stored_precision;
use crate::domain::page::{Page, PageRequest};
use crate::domain::patient::PatientStatus;
use crate::persistence::Database;
use crate::persistence::StoreError;
use crate::persistence::ecgs::EcgRepository;
use crate::persistence::patients::PatientRepository;

/// Recordings with more samples than this are analysed and encoded on the blocking pool, so a
/// 10-minute recording (tens of milliseconds of work) does not hold up a runtime worker; a
/// routine 12 x 5000-sample ECG (well under a millisecond) is done in place.
const BLOCKING_FROM_SAMPLES: usize = 1_000_000;

#[derive(Clone)]
pub struct EcgService {
    db: Database,
    audit: AuditLog,
}

fn ecg_event(actor: &Actor, action: AuditAction, id: Uuid) -> NewAuditEvent {
    actor.event(
        action,
        ResourceType::Ecg,
        Some(id.to_string()),
        AuditOutcome::Success,
    )
}

/// The insights of a recording and its leads' encoded samples.
fn analyse(new: &NewEcg) -> (EcgInsights, Vec<Vec<u8>>) {
    let insights = EcgInsights::compute(&new.ecg);
    let signals = new
        .ecg
        .leads()
        .iter()
        .map(|lead| encode_signal(lead.signal()))
        .collect();
    (insights, signals)
}

impl EcgService {
    pub fn new(db: Database, audit: AuditLog) -> Self {
        Self { db, audit }
    }

    /// Stores a recording for an admitted patient, with its insights.
    pub async fn record(
        &self,
        permit: &Permit<RecordEcg>,
        patient_id: Uuid,
        new: NewEcg,
    ) -> Result<EcgRecord, ServiceError> {
        let actor = permit.actor();
        let total: usize = new.ecg.leads().iter().map(|l| l.signal().len()).sum();
        // Computed before the transaction: the write lock is held only for the inserts.
        let (new, insights, signals) = if total > BLOCKING_FROM_SAMPLES {
            tokio::task::spawn_blocking(move || {
                let (insights, signals) = analyse(&new);
                (new, insights, signals)
            })
            .await
            .map_err(|e| ServiceError::internal(format!("ECG analysis: {e}")))?
        } else {
            let (insights, signals) = analyse(&new);
            (new, insights, signals)
        };
        let record = EcgRecord {
            id: Uuid::now_v7(),
            patient_id,
            recorded_at: new.recorded_at,
            recorded_by: actor.user_id,
            sampling_rate: new.ecg.sampling_rate(),
            leads: EcgRecord::shapes_of(&new.ecg),
            insights,
            created_at: stored_precision(Utc::now()),
        };
        drop(new);

        let txn = self.db.begin().await?;
        let patient = PatientRepository::lock(&txn, patient_id)
            .await?
            .ok_or(ServiceError::NotFound("patient"))?;
        // As for vital signs: recordings are taken on the ward, of admitted patients.
        if patient.status != PatientStatus::Admitted {
            return Err(ServiceError::Conflict(
                "the patient is not admitted".to_owned(),
            ));
        }
        EcgRepository::insert(&txn, &record, signals).await?;
        append_events(&txn, &[ecg_event(actor, AuditAction::Create, record.id)]).await?;
        txn.commit().await?;
        Ok(record)
    }

    /// A live recording of a live patient, or `NotFound`.
    async fn live_record(&self, id: Uuid) -> Result<EcgRecord, ServiceError> {
        let record = EcgRepository::find(self.db.reader(), id)
            .await?
            .ok_or(ServiceError::NotFound("ECG"))?;
        PatientRepository::find(self.db.reader(), record.patient_id)
            .await?
            .ok_or(ServiceError::NotFound("ECG"))?;
        Ok(record)
    }

    /// A recording, and with `with_signals` every lead's samples in lead order.
    pub async fn get(
        &self,
        permit: &Permit<ReadEcgs>,
        id: Uuid,
        with_signals: bool,
    ) -> Result<(EcgRecord, Option<Vec<Vec<i32>>>), ServiceError> {
        let record = self.live_record(id).await?;
        let signals = match with_signals {
            true => Some(EcgRepository::signals(self.db.reader(), id).await?),
            false => None,
        };
        self.audit
            .record(ecg_event(permit.actor(), AuditAction::Read, id))
            .await?;
        Ok((record, signals))
    }

    /// A recording with the insights stored with it (never recomputed).
    pub async fn insights(
        &self,
        permit: &Permit<ReadEcgs>,
        id: Uuid,
    ) -> Result<EcgRecord, ServiceError> {
        let record = self.live_record(id).await?;
        self.audit
            .record(ecg_event(permit.actor(), AuditAction::Read, id))
            .await?;
        Ok(record)
    }

    /// A patient's recordings, newest first.
    pub async fn list(
        &self,
        permit: &Permit<ReadEcgs>,
        patient_id: Uuid,
        page: PageRequest,
    ) -> Result<Page<EcgRecord>, ServiceError> {
        PatientRepository::find(self.db.reader(), patient_id)
            .await?
            .ok_or(ServiceError::NotFound("patient"))?;
        let page = EcgRepository::list(self.db.reader(), patient_id, page).await?;
        self.audit
            .record(permit.actor().event(
                AuditAction::List,
                ResourceType::Ecg,
                Some(patient_id.to_string()),
                AuditOutcome::Success,
            ))
            .await?;
        Ok(page)
    }

    /// Withdraws a recording: it leaves every read but is kept.
    pub async fn delete(&self, permit: &Permit<DeleteEcg>, id: Uuid) -> Result<(), ServiceError> {
        let now = stored_precision(Utc::now());
        let txn = self.db.begin().await?;
        let record = EcgRepository::find(&txn, id)
            .await?
            .ok_or(ServiceError::NotFound("ECG"))?;
        PatientRepository::find(&txn, record.patient_id)
            .await?
            .ok_or(ServiceError::NotFound("ECG"))?;
        match EcgRepository::soft_delete(&txn, id, now).await {
            Err(StoreError::NotFound) => return Err(ServiceError::NotFound("ECG")),
            other => other?,
        }
        append_events(&txn, &[ecg_event(permit.actor(), AuditAction::Delete, id)]).await?;
        txn.commit().await?;
        Ok(())
    }
}
