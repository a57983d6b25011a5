//! The ward overview: read from the observation summary read model and the open alerts, three
//! indexed queries whatever the ward's history, sorted sickest first.

use std::collections::HashMap;

use chrono::Utc;

use super::ServiceError;
use super::access::{Permit, ReadVitalSigns};
use super::audit::AuditLog;
use crate::domain::audit::{AuditAction, AuditOutcome, ResourceType};
use crate::domain::patient::Ward;
use crate::domain::ward::{WardPatient, sickest_first};
use crate::persistence::Database;
use crate::persistence::alerts::AlertRepository;
use crate::persistence::patients::PatientRepository;
use crate::persistence::vital_signs::VitalSignsRepository;

#[derive(Clone)]
pub struct WardService {
    db: Database,
    audit: AuditLog,
}

impl WardService {
    pub fn new(db: Database, audit: AuditLog) -> Self {
        Self { db, audit }
    }

    pub async fn overview(
        &self,
        permit: &Permit<ReadVitalSigns>,
        ward: &Ward,
    ) -> Result<Vec<WardPatient>, ServiceError> {
        let db = self.db.reader();
        let patients = PatientRepository::admitted_on_ward(db, ward.as_str()).await?;
        let ids: Vec<_> = patients.iter().map(|p| p.id).collect();
        let mut summaries: HashMap<_, _> = VitalSignsRepository::summaries(db, &ids)
            .await?
            .into_iter()
            .map(|s| (s.patient_id, s))
            .collect();
        let mut alerts: HashMap<_, Vec<_>> = HashMap::new();
        for alert in AlertRepository::unresolved_of(db, &ids).await? {
            alerts.entry(alert.patient_id).or_default().push(alert);
        }
        let mut lines: Vec<WardPatient> = patients
            .into_iter()
            .map(|p| WardPatient {
                patient_id: p.id,
                mrn: p.mrn.as_str().to_owned(),
                first_name: p.first_name.as_str().to_owned(),
                last_name: p.last_name.as_str().to_owned(),
                bed: p.bed.as_ref().map(|b| b.as_str().to_owned()),
                latest: summaries.remove(&p.id),
                open_alerts: alerts.remove(&p.id).unwrap_or_default(),
            })
            .collect();
        sickest_first(&mut lines, Utc::now());
        // One event for the screen, not one per bed: the overview shows scores and alerts,
        // not charts, and a ward screen refreshes every few seconds.
        self.audit
            .record(permit.actor().event(
                AuditAction::Read,
                ResourceType::Ward,
                Some(ward.as_str().to_owned()),
                AuditOutcome::Success,
            ))
            .await?;
        Ok(lines)
    }
}
