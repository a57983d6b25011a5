//! Who is asking, and the permits that prove the permission table allowed them.
//!
//! A `Permit<P>` can only be made by `AccessControl::authorize`, which consults the domain's one
//! permission table and audits refusals; every service method that touches data takes one, so a
//! code path that skips the check does not compile.

use std::marker::PhantomData;

use chrono::Utc;
use uuid::Uuid;

use super::ServiceError;
use super::audit::AuditLog;
use crate::domain::audit::{AuditAction, AuditOutcome, NewAuditEvent, ResourceType};
use crate::domain::permission::{Operation, is_allowed};
use crate::domain::user::Role;
use crate::persistence::Database;
use crate::persistence::users::UserRepository;

/// Where a request came from, for the audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
}

/// A signed-in member of staff, as proven by a verified access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: Uuid,
    pub username: String,
    pub role: Role,
    pub context: RequestContext,
    /// When the access token that proved this expires: a long-lived stream ends there.
    pub token_expires_at: chrono::DateTime<Utc>,
}

impl Actor {
    /// An audit event by this actor.
    pub fn event(
        &self,
        action: AuditAction,
        resource_type: ResourceType,
        resource_id: Option<String>,
        outcome: AuditOutcome,
    ) -> NewAuditEvent {
        NewAuditEvent {
            occurred_at: Utc::now(),
            actor_id: Some(self.user_id),
            actor_username: Some(self.username.clone()),
            actor_role: Some(self.role),
            action,
            resource_type,
            resource_id,
            request_id: self.context.request_id.clone(),
            client_addr: self.context.client_addr.clone(),
            outcome,
            reason: None,
        }
    }
}

/// An audit event by `actor`, or by the operator (command line, start-up) when there is none.
pub fn event_by(
    actor: Option<&Actor>,
    action: AuditAction,
    resource_type: ResourceType,
    resource_id: Option<String>,
) -> NewAuditEvent {
    match actor {
        Some(actor) => actor.event(action, resource_type, resource_id, AuditOutcome::Success),
        None => NewAuditEvent {
            occurred_at: Utc::now(),
            actor_id: None,
            actor_username: Some("operator".to_owned()),
            actor_role: None,
            action,
            resource_type,
            resource_id,
            request_id: None,
            client_addr: None,
            outcome: AuditOutcome::Success,
            reason: None,
        },
    }
}

/// A type-level name for one operation of the permission table.
pub trait Permission: Send + Sync + 'static {
    const OPERATION: Operation;
}

macro_rules! permissions {
    ($($name:ident),+ $(,)?) => {
        $(
            #[doc = concat!("Permission marker for `Operation::", stringify!($name), "`.")]
            #[derive(Debug)]
            pub struct $name;
            impl Permission for $name {
                const OPERATION: Operation = Operation::$name;
            }
        )+
    };
}

permissions!(
    ReadOwnProfile,
    ManageUsers,
    ReadAuditLog,
    CreatePatient,
    ReadPatient,
    UpdatePatient,
    DeletePatient,
    ChangeClinicalSettings,
    RecordVitalSigns,
    ReadVitalSigns,
    RecordLabResult,
    ReadLabResults,
    ReadAlerts,
    HandleAlerts,
    RecordEcg,
    ReadEcgs,
    DeleteEcg,
    ReadExamTypes,
    ManageExamTypes,
    OrderExam,
    ReadExams,
    PerformExam,
    RevokeExam,
    SubmitExamResult,
    ReadNotifications,
    RetryNotification,
    ReadResultsInbox,
);

/// Proof that `actor` may perform `P`.
#[derive(Debug)]
pub struct Permit<P> {
    actor: Actor,
    _operation: PhantomData<P>,
}

impl<P: Permission> Permit<P> {
    pub fn actor(&self) -> &Actor {
        &self.actor
    }
}

/// Decides permits from the permission table.
#[derive(Clone)]
pub struct AccessControl {
    db: Database,
    audit: AuditLog,
}

/// Operations that administer the registry itself. For these a token's word is not enough: the
/// account must still be active with the same role, so a demoted or deactivated administrator
/// cannot use the minutes their access token has left to open themselves a new account.
const ACCOUNT_CHECKED: [Operation; 2] = [Operation::ManageUsers, Operation::ReadAuditLog];

impl AccessControl {
    pub fn new(db: Database, audit: AuditLog) -> Self {
        Self { db, audit }
    }

    /// A permit for `P`, or `Forbidden` after auditing the refusal.
    pub async fn authorize<P: Permission>(&self, actor: Actor) -> Result<Permit<P>, ServiceError> {
        let mut allowed = is_allowed(actor.role, P::OPERATION);
        if allowed && ACCOUNT_CHECKED.contains(&P::OPERATION) {
            let current = UserRepository::find(self.db.reader(), actor.user_id).await?;
            allowed = current.is_some_and(|u| u.active && u.role == actor.role);
        }
        if allowed {
            return Ok(Permit {
                actor,
                _operation: PhantomData,
            });
        }
        let mut event = actor.event(
            AuditAction::Authorize,
            ResourceType::Session,
            None,
            AuditOutcome::Denied,
        );
        event.reason = Some(format!("{} not permitted for {}", P::OPERATION, actor.role));
        self.audit.record(event).await?;
        Err(ServiceError::Forbidden(P::OPERATION))
    }
}
