//! Staff account administration: open, list, read and change accounts; bootstrap the first admin.

use chrono::Utc;
use uuid::Uuid;

use super::access::{Actor, ManageUsers, Permit, event_by};
use super::passwords::PasswordHasher;
use super::{Precondition, ServiceError};
use crate::domain::audit::{AuditAction, NewAuditEvent, ResourceType};
use crate::domain::page::{Page, PageRequest};
use crate::domain::user::{NewUser, Role, User, UserChanges};
use crate::persistence::audit::AuditRepository;
use crate::persistence::sessions::SessionRepository;
use crate::persistence::users::{UserFilter, UserRepository};
use crate::persistence::{Database, StoreError};

#[derive(Clone)]
pub struct UserService {
    db: Database,
    passwords: PasswordHasher,
}

impl UserService {
    pub fn new(db: Database, passwords: PasswordHasher) -> Self {
        Self { db, passwords }
    }

    pub async fn create(
        &self,
        permit: &Permit<ManageUsers>,
        new: NewUser,
    ) -> Result<User, ServiceError> {
        self.insert(new, Some(permit.actor())).await
    }

    /// Opens an account on behalf of the operator (command line, start-up bootstrap).
    pub async fn create_as_operator(&self, new: NewUser) -> Result<User, ServiceError> {
        self.insert(new, None).await
    }

    /// Creates `ADMIN_USERNAME` when no active administrator exists; returns it when created.
    pub async fn bootstrap_admin(&self, new: NewUser) -> Result<Option<User>, ServiceError> {
        if UserRepository::count_active_admins(self.db.reader()).await? > 0 {
            return Ok(None);
        }
        self.insert(
            NewUser {
                role: Role::Admin,
                ..new
            },
            None,
        )
        .await
        .map(Some)
    }

    async fn insert(&self, new: NewUser, actor: Option<&Actor>) -> Result<User, ServiceError> {
        let hash = self.passwords.hash(&new.password).await?;
        let now = Utc::now();
        let user = User {
            id: Uuid::now_v7(),
            username: new.username,
            full_name: new.full_name,
            role: new.role,
            active: true,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        let txn = self.db.begin().await?;
        match UserRepository::insert(&txn, &user, hash).await {
            Err(StoreError::Duplicate(_)) => {
                return Err(ServiceError::Conflict(format!(
                    "the username '{}' is already taken",
                    user.username
                )));
            }
            other => other?,
        }
        AuditRepository::append(&txn, &event(actor, AuditAction::Create, user.id)).await?;
        txn.commit().await?;
        Ok(user)
    }

    pub async fn get(&self, _permit: &Permit<ManageUsers>, id: Uuid) -> Result<User, ServiceError> {
        UserRepository::find(self.db.reader(), id)
            .await?
            .ok_or(ServiceError::NotFound("user"))
    }

    pub async fn list(
        &self,
        _permit: &Permit<ManageUsers>,
        filter: &UserFilter,
        page: PageRequest,
    ) -> Result<Page<User>, ServiceError> {
        Ok(UserRepository::list(self.db.reader(), filter, page).await?)
    }

    /// Changes an account. Administrators cannot demote or deactivate themselves, and the last
    /// active administrator cannot be removed, so the registry never loses its administration.
    pub async fn update(
        &self,
        permit: &Permit<ManageUsers>,
        id: Uuid,
        changes: UserChanges,
        precondition: Precondition,
    ) -> Result<User, ServiceError> {
        let actor = permit.actor();
        if id == actor.user_id {
            if changes.role.is_some_and(|r| r != actor.role) {
                return Err(ServiceError::invalid(
                    "role",
                    "you cannot change your own role",
                ));
            }
            if changes.active == Some(false) {
                return Err(ServiceError::invalid(
                    "active",
                    "you cannot deactivate your own account",
                ));
            }
        }
        let hash = match &changes.password {
            Some(p) => Some(self.passwords.hash(p).await?),
            None => None,
        };
        let now = Utc::now();
        let txn = self.db.begin().await?;
        let current = UserRepository::find(&txn, id)
            .await?
            .ok_or(ServiceError::NotFound("user"))?;
        if let Precondition::Version(v) = precondition
            && v != current.version
        {
            return Err(ServiceError::PreconditionFailed);
        }
        let loses_admin = current.role == Role::Admin
            && current.active
            && (changes.role.is_some_and(|r| r != Role::Admin) || changes.active == Some(false));
        if loses_admin && UserRepository::lock_active_admins(&txn).await? <= 1 {
            return Err(ServiceError::Conflict(
                "this is the last active administrator".to_owned(),
            ));
        }
        let revoke_sessions = changes.password.is_some()
            || changes.active == Some(false)
            || changes.role.is_some_and(|r| r != current.role);
        let updated = User {
            full_name: changes.full_name.unwrap_or(current.full_name.clone()),
            role: changes.role.unwrap_or(current.role),
            active: changes.active.unwrap_or(current.active),
            version: current.version + 1,
            updated_at: now,
            ..current.clone()
        };
        UserRepository::update(&txn, &updated, current.version, hash, now).await?;
        if revoke_sessions {
            SessionRepository::revoke_user(&txn, id, now).await?;
        }
        AuditRepository::append(&txn, &event(Some(actor), AuditAction::Update, id)).await?;
        txn.commit().await?;
        Ok(updated)
    }
}

fn event(actor: Option<&Actor>, action: AuditAction, user_id: Uuid) -> NewAuditEvent {
    event_by(actor, action, ResourceType::User, Some(user_id.to_string()))
}
