//! Notification use cases: the ward's list, retrying failed deliveries, and the delivery worker
//! that drains the outbox. Workers lease due rows in the database, so any number of replicas
//! can run one: each notification is attempted by one worker at a time, and a worker that dies
//! mid-send leaves its rows to be claimed again when the lease ends (at-least-once delivery;
//! the gateway gets the notification id to drop duplicates).

use std::time::Duration;

use chrono::Utc;
use serde::Serialize;
use uuid::Uuid;

use super::ServiceError;
use super::access::{Permit, ReadNotifications, RetryNotification};
use super::audit::AuditLog;
use super::vital_signs::append_events;
use crate::domain::audit::{AuditAction, AuditOutcome, ResourceType};
use crate::domain::notification::{AfterFailure, Notification, NotificationStatus, RetryPolicy};
use crate::domain::observation::stored_precision;
use crate::domain::page::{Page, PageRequest};
use crate::persistence::Database;
use crate::persistence::notifications::{NotificationFilter, NotificationRepository};
use crate::persistence::patients::PatientRepository;

/// How long a worker owns the notifications it claimed: longer than any send may take.
const LEASE: Duration = Duration::from_secs(60);
/// The most notifications one worker claims at once.
const BATCH: u64 = 32;
/// How long a webhook call may take before it counts as failed.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Where notifications go.
#[derive(Clone, Debug)]
pub enum NotificationSender {
    /// Written to the log (development, and wards without a gateway).
    Log,
    /// POSTed as JSON to the hospital's SMS/e-mail gateway.
    Webhook {
        url: String,
        client: reqwest::Client,
    },
}

/// What the gateway receives: the address and the message, never clinical detail.
#[derive(Debug, Serialize)]
struct WebhookMessage<'a> {
    notification_id: Uuid,
    channel: &'a str,
    recipient: &'a str,
    kind: &'a str,
    message: &'a str,
}

impl NotificationSender {
    pub fn webhook(url: String) -> Result<Self, ServiceError> {
        let client = reqwest::Client::builder()
            .timeout(SEND_TIMEOUT)
            .build()
            .map_err(ServiceError::internal)?;
        Ok(Self::Webhook { url, client })
    }

    async fn send(&self, n: &Notification) -> Result<(), String> {
        let recipient = n.recipient.as_deref().unwrap_or_default();
        match self {
            NotificationSender::Log => {
                tracing::info!(
                    notification = %n.id,
                    channel = n.channel.as_str(),
                    kind = n.kind.as_str(),
                    "notification sent (log sender)"
                );
                Ok(())
            }
            NotificationSender::Webhook { url, client } => {
                let body = WebhookMessage {
                    notification_id: n.id,
                    channel: n.channel.as_str(),
                    recipient,
                    kind: n.kind.as_str(),
                    message: n.kind.message(),
                };
                let response = client
                    .post(url)
                    .json(&body)
                    .send()
                    .await
                    .map_err(|e| format!("webhook unreachable: {e}"))?;
                let status = response.status();
                if status.is_success() {
                    Ok(())
                } else {
                    Err(format!("webhook answered {status}"))
                }
            }
        }
    }
}

#[derive(Clone)]
pub struct NotificationService {
    db: Database,
    audit: AuditLog,
    sender: NotificationSender,
    retry: RetryPolicy,
}

impl NotificationService {
    pub fn new(
        db: Database,
        audit: AuditLog,
        sender: NotificationSender,
        retry: RetryPolicy,
    ) -> Self {
        Self {
            db,
            audit,
            sender,
            retry,
        }
    }

    pub async fn list(
        &self,
        permit: &Permit<ReadNotifications>,
        filter: &NotificationFilter,
        page: PageRequest,
    ) -> Result<Page<Notification>, ServiceError> {
        let page = NotificationRepository::list(self.db.reader(), filter, page).await?;
        self.audit
            .record_access(
                permit.actor(),
                AuditAction::List,
                ResourceType::Notification,
                filter.patient_id.map(|p| p.to_string()),
            )
            .await?;
        Ok(page)
    }

    /// Puts a failed notification back in the queue for a fresh round of attempts.
    pub async fn retry(
        &self,
        permit: &Permit<RetryNotification>,
        id: Uuid,
    ) -> Result<Notification, ServiceError> {
        let txn = self.db.begin().await?;
        let current = NotificationRepository::find(&txn, id)
            .await?
            .ok_or(ServiceError::NotFound("notification"))?;
        PatientRepository::find(&txn, current.patient_id)
            .await?
            .ok_or(ServiceError::NotFound("notification"))?;
        let now = stored_precision(Utc::now());
        if !NotificationRepository::requeue_failed(&txn, id, now).await? {
            return Err(ServiceError::Conflict(format!(
                "only failed notifications are retried; this one is {}",
                current.status
            )));
        }
        let mut event = permit.actor().event(
            AuditAction::Update,
            ResourceType::Notification,
            Some(id.to_string()),
            AuditOutcome::Success,
        );
        event.reason = Some("retry".to_owned());
        append_events(&txn, &[event]).await?;
        let requeued = NotificationRepository::find(&txn, id)
            .await?
            .ok_or(ServiceError::NotFound("notification"))?;
        txn.commit().await?;
        Ok(requeued)
    }

    /// Claims the due notifications and attempts each once; returns how many were attempted.
    pub async fn deliver_due(&self) -> Result<usize, ServiceError> {
        let claim = Uuid::new_v4();
        let now = Utc::now();
        let until = now + chrono::Duration::from_std(LEASE).unwrap_or(chrono::Duration::MAX);
        let batch =
            NotificationRepository::claim_due(self.db.writer(), claim, now, until, BATCH).await?;
        for mut n in batch.iter().cloned() {
            let outcome = self.sender.send(&n).await;
            let at = stored_precision(Utc::now());
            n.attempts += 1;
            n.updated_at = at;
            match outcome {
                Ok(()) => {
                    n.status = NotificationStatus::Sent;
                    n.sent_at = Some(at);
                    n.last_error = None;
                }
                Err(error) => {
                    tracing::warn!(notification = %n.id, attempt = n.attempts, %error, "notification delivery failed");
                    n.last_error = Some(error.chars().take(500).collect());
                    let failed = u32::try_from(n.attempts).unwrap_or(u32::MAX);
                    match self.retry.after_failure(failed, at) {
                        AfterFailure::RetryAt(next) => n.next_attempt_at = next,
                        AfterFailure::GiveUp => n.status = NotificationStatus::Failed,
                    }
                }
            }
            if !NotificationRepository::record_attempt(self.db.writer(), claim, &n).await? {
                tracing::warn!(notification = %n.id, "lease lost before the attempt was recorded");
            }
        }
        Ok(batch.len())
    }

    /// Runs the delivery worker on the current runtime: drains what is due, then looks again
    /// every `poll`.
    pub fn spawn_worker(&self, poll: Duration) {
        let service = self.clone();
        tokio::spawn(async move {
            loop {
                match service.deliver_due().await {
                    Ok(n) if n > 0 => continue,
                    Ok(_) => {}
                    Err(error) => tracing::error!(%error, "notification worker pass failed"),
                }
                tokio::time::sleep(poll).await;
            }
        });
    }
}
