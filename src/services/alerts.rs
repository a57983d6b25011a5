//! Alert use cases: list the ward's alerts, acknowledge and resolve them (who and when, audited).

use chrono::Utc;
use uuid::Uuid;

use super::ServiceError;
use super::access::{HandleAlerts, Permit, ReadAlerts};
use super::audit::AuditLog;
use super::vital_signs::append_events;
use crate::domain::alert::{Alert, AlertStatus, AlertTransitionError};
use crate::domain::audit::{AuditAction, AuditOutcome, ResourceType};
use crate::domain::page::{Page, PageRequest};
use crate::domain::stream::{StreamEvent, StreamTopic};
use crate::persistence::alerts::{AlertFilter, AlertRepository};
use crate::persistence::patients::PatientRepository;
use crate::persistence::stream_events::StreamEventRepository;
use crate::persistence::{Database, StoreError};

#[derive(Clone)]
pub struct AlertService {
    db: Database,
    audit: AuditLog,
}

impl AlertService {
    pub fn new(db: Database, audit: AuditLog) -> Self {
        Self { db, audit }
    }

    pub async fn list(
        &self,
        permit: &Permit<ReadAlerts>,
        filter: &AlertFilter,
        page: PageRequest,
    ) -> Result<Page<Alert>, ServiceError> {
        let result = AlertRepository::list(self.db.reader(), filter, page).await?;
        self.audit
            .record(permit.actor().event(
                AuditAction::List,
                ResourceType::Alert,
                filter.patient_id.map(|p| p.to_string()),
                AuditOutcome::Success,
            ))
            .await?;
        Ok(result)
    }

    /// Moves the alert to `to`. Two clinicians answering at once: one wins, the other is told
    /// the alert already moved (409), never silently overwritten.
    pub async fn transition(
        &self,
        permit: &Permit<HandleAlerts>,
        id: Uuid,
        to: AlertStatus,
    ) -> Result<Alert, ServiceError> {
        let actor = permit.actor();
        let txn = self.db.begin().await?;
        let alert = AlertRepository::find(&txn, id)
            .await?
            .ok_or(ServiceError::NotFound("alert"))?;
        PatientRepository::find(&txn, alert.patient_id)
            .await?
            .ok_or(ServiceError::NotFound("alert"))?;
        let version = alert.version;
        let mut moved = alert
            .transitioned(
                to,
                actor.user_id,
                crate::domain::observation::stored_precision(Utc::now()),
            )
            .map_err(|e: AlertTransitionError| ServiceError::Conflict(e.to_string()))?;
        match AlertRepository::update(&txn, &moved, version).await {
            Err(StoreError::VersionMismatch) => {
                return Err(ServiceError::Conflict(
                    "the alert was changed by someone else; reload it".to_owned(),
                ));
            }
            other => other?,
        }
        moved.version = version + 1;
        let mut event = actor.event(
            AuditAction::Update,
            ResourceType::Alert,
            Some(id.to_string()),
            AuditOutcome::Success,
        );
        event.reason = Some(to.as_str().to_owned());
        append_events(&txn, &[event]).await?;
        let feed = StreamEvent::new(
            StreamTopic::Alerts,
            moved.patient_id,
            Some(moved.id),
            Utc::now(),
        );
        StreamEventRepository::append(&txn, &[feed]).await?;
        txn.commit().await?;
        Ok(moved)
    }
}
