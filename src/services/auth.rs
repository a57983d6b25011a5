//! Sign-in, token refresh with rotation and reuse detection, and sign-out.

use chrono::Utc;
use uuid::Uuid;

use super::ServiceError;
use super::access::{Permit, ReadOwnProfile, RequestContext};
use super::passwords::PasswordHasher;
use super::tokens::{self, TokenIssuer};
use crate::domain::audit::{AuditAction, AuditOutcome, NewAuditEvent, ResourceType};
use crate::domain::throttle::{ThrottlePolicy, ThrottleScope, ThrottleState};
use crate::domain::user::User;
use crate::persistence::audit::AuditRepository;
use crate::persistence::sessions::{SessionRepository, StoredRefreshToken};
use crate::persistence::throttle::ThrottleRepository;
use crate::persistence::users::UserRepository;
use crate::persistence::{Database, Executor};

/// What a successful sign-in or refresh hands the client.
#[derive(Debug, Clone)]
pub struct TokenPair {
    pub access_token: String,
    pub expires_in: i64,
    pub refresh_token: String,
}

#[derive(Clone)]
pub struct AuthService {
    db: Database,
    passwords: PasswordHasher,
    tokens: TokenIssuer,
}

const BAD_CREDENTIALS: &str = "invalid username or password";
const BAD_REFRESH: &str = "the refresh token is invalid, expired or revoked";

fn system_event(
    context: &RequestContext,
    action: AuditAction,
    outcome: AuditOutcome,
    username: Option<String>,
    actor: Option<&User>,
    reason: Option<&str>,
) -> NewAuditEvent {
    NewAuditEvent {
        occurred_at: Utc::now(),
        actor_id: actor.map(|u| u.id),
        actor_username: username,
        actor_role: actor.map(|u| u.role),
        action,
        resource_type: ResourceType::Session,
        resource_id: None,
        request_id: context.request_id.clone(),
        client_addr: context.client_addr.clone(),
        outcome,
        reason: reason.map(str::to_owned),
    }
}

fn throttle_keys(username: &str, context: &RequestContext) -> Vec<(ThrottleScope, String)> {
    let mut keys = vec![(
        ThrottleScope::Account,
        format!(
            "account:{}",
            username
                .trim()
                .to_lowercase()
                .chars()
                .take(64)
                .collect::<String>()
        ),
    )];
    if let Some(addr) = &context.client_addr {
        keys.push((ThrottleScope::ClientAddress, format!("addr:{addr}")));
    }
    keys
}

impl AuthService {
    pub fn new(db: Database, passwords: PasswordHasher, tokens: TokenIssuer) -> Self {
        Self {
            db,
            passwords,
            tokens,
        }
    }

    pub async fn login(
        &self,
        username: &str,
        password: &str,
        context: &RequestContext,
    ) -> Result<TokenPair, ServiceError> {
        let now = Utc::now();
        let keys = throttle_keys(username, context);
        let audit_name = Some(username.chars().take(64).collect::<String>());

        // Count the attempt as a failure before verifying, in one transaction that also checks
        // the lock: parallel guesses are each counted, so none slips past the lock while
        // another is being verified. A success takes its count back below.
        let txn = self.db.begin().await?;
        let mut retry_after = None;
        let mut counted = Vec::with_capacity(keys.len());
        for (scope, key) in &keys {
            let previous = ThrottleRepository::get_for_update(&txn, key, now).await?;
            if let Some(wait) = previous.and_then(|s| s.retry_after(now)) {
                retry_after = retry_after.max(Some(wait));
            }
            counted.push((*scope, key, previous));
        }
        if let Some(retry_after) = retry_after {
            let event = system_event(
                context,
                AuditAction::Login,
                AuditOutcome::Denied,
                audit_name,
                None,
                Some("throttled"),
            );
            AuditRepository::append(&txn, &event).await?;
            txn.commit().await?;
            return Err(ServiceError::TooManyAttempts { retry_after });
        }
        for (scope, key, previous) in &counted {
            let next =
                ThrottleState::after_failure(*previous, &ThrottlePolicy::for_scope(*scope), now);
            ThrottleRepository::put(&txn, key, next).await?;
        }
        txn.commit().await?;

        let credentials =
            UserRepository::find_credentials(self.db.reader(), username.trim()).await?;
        let (user, hash) = match credentials {
            Some(c) => (Some(c.user), Some(c.password_hash)),
            None => (None, None),
        };
        // Verify even for unknown or inactive users, so every refusal costs the same time.
        let matches = self.passwords.verify(password, hash).await?;
        let user = user.filter(|u| matches && u.active);

        let txn = self.db.begin().await?;
        let Some(user) = user else {
            let event = system_event(
                context,
                AuditAction::Login,
                AuditOutcome::Failure,
                audit_name,
                None,
                Some(BAD_CREDENTIALS),
            );
            AuditRepository::append(&txn, &event).await?;
            txn.commit().await?;
            return Err(ServiceError::Unauthenticated(BAD_CREDENTIALS));
        };
        for (scope, key, _) in &counted {
            match scope {
                ThrottleScope::Account => ThrottleRepository::clear(&txn, key).await?,
                ThrottleScope::ClientAddress => {
                    ThrottleRepository::forgive_one(&txn, key, &ThrottlePolicy::for_scope(*scope))
                        .await?;
                }
            }
        }
        let refresh_token = self
            .store_refresh_token(&txn, &user, Uuid::now_v7())
            .await?;
        let event = system_event(
            context,
            AuditAction::Login,
            AuditOutcome::Success,
            Some(user.username.as_str().to_owned()),
            Some(&user),
            None,
        );
        AuditRepository::append(&txn, &event).await?;
        txn.commit().await?;
        let access = self.tokens.issue_access(&user, now)?;
        Ok(TokenPair {
            access_token: access.token,
            expires_in: access.expires_in,
            refresh_token,
        })
    }

    /// Trades a refresh token for a new pair. Each refresh token works once: presenting a used
    /// or revoked one again means it was copied, so the whole chain is revoked.
    pub async fn refresh(
        &self,
        refresh_token: &str,
        context: &RequestContext,
    ) -> Result<TokenPair, ServiceError> {
        let now = Utc::now();
        let txn = self.db.begin().await?;
        let stored =
            SessionRepository::find_by_hash(&txn, &tokens::token_hash(refresh_token)).await?;
        let Some(stored) = stored else {
            let event = system_event(
                context,
                AuditAction::Refresh,
                AuditOutcome::Failure,
                None,
                None,
                Some("unknown refresh token"),
            );
            AuditRepository::append(&txn, &event).await?;
            txn.commit().await?;
            return Err(ServiceError::Unauthenticated(BAD_REFRESH));
        };
        let user = UserRepository::find(&txn, stored.user_id).await?;
        // Used already: someone holds a copy of a rotated token. Revoked: the session ended.
        let reused = stored.used_at.is_some();
        let revoked = stored.revoked_at.is_some();
        let expired = stored.expires_at <= now;
        let usable = !reused && !revoked && !expired;
        let marked = usable && SessionRepository::mark_used(&txn, stored.id, now).await?;
        // Usable, yet not markable: a concurrent request used it first.
        let raced = usable && !marked;
        let user = match user {
            Some(user) if marked && user.active => user,
            user => {
                let (action, reason) = if reused || raced {
                    SessionRepository::revoke_family(&txn, stored.family_id, now).await?;
                    (
                        AuditAction::RefreshTokenReuse,
                        "refresh token reused; session chain revoked",
                    )
                } else if revoked {
                    (AuditAction::Refresh, "refresh token revoked")
                } else if expired {
                    (AuditAction::Refresh, "refresh token expired")
                } else {
                    SessionRepository::revoke_family(&txn, stored.family_id, now).await?;
                    (AuditAction::Refresh, "account inactive")
                };
                let event = system_event(
                    context,
                    action,
                    AuditOutcome::Denied,
                    user.as_ref().map(|u| u.username.as_str().to_owned()),
                    user.as_ref(),
                    Some(reason),
                );
                AuditRepository::append(&txn, &event).await?;
                txn.commit().await?;
                return Err(ServiceError::Unauthenticated(BAD_REFRESH));
            }
        };
        let refresh_token = self
            .store_refresh_token(&txn, &user, stored.family_id)
            .await?;
        let event = system_event(
            context,
            AuditAction::Refresh,
            AuditOutcome::Success,
            Some(user.username.as_str().to_owned()),
            Some(&user),
            None,
        );
        AuditRepository::append(&txn, &event).await?;
        txn.commit().await?;
        let access = self.tokens.issue_access(&user, now)?;
        Ok(TokenPair {
            access_token: access.token,
            expires_in: access.expires_in,
            refresh_token,
        })
    }

    /// Revokes the refresh-token chain the given token belongs to, if it is the caller's.
    /// Access tokens already issued stay valid until they expire (minutes).
    pub async fn logout(
        &self,
        permit: &Permit<ReadOwnProfile>,
        refresh_token: &str,
    ) -> Result<(), ServiceError> {
        let actor = permit.actor();
        let now = Utc::now();
        let txn = self.db.begin().await?;
        let stored =
            SessionRepository::find_by_hash(&txn, &tokens::token_hash(refresh_token)).await?;
        let mut event = actor.event(
            AuditAction::Logout,
            ResourceType::Session,
            None,
            AuditOutcome::Success,
        );
        match stored {
            Some(t) if t.user_id == actor.user_id => {
                SessionRepository::revoke_family(&txn, t.family_id, now).await?;
            }
            _ => {
                event.outcome = AuditOutcome::Failure;
                event.reason = Some("refresh token unknown or not the caller's".to_owned());
            }
        }
        AuditRepository::append(&txn, &event).await?;
        txn.commit().await?;
        Ok(())
    }

    /// The caller's own account.
    pub async fn me(&self, permit: &Permit<ReadOwnProfile>) -> Result<User, ServiceError> {
        UserRepository::find(self.db.reader(), permit.actor().user_id)
            .await?
            .filter(|u| u.active)
            .ok_or(ServiceError::Unauthenticated(
                "the account no longer exists or is deactivated",
            ))
    }

    async fn store_refresh_token<C: Executor>(
        &self,
        db: &C,
        user: &User,
        family_id: Uuid,
    ) -> Result<String, ServiceError> {
        let now = Utc::now();
        let token = tokens::new_refresh_token()?;
        SessionRepository::insert(
            db,
            StoredRefreshToken {
                id: Uuid::now_v7(),
                user_id: user.id,
                family_id,
                token_hash: tokens::token_hash(&token),
                issued_at: now,
                expires_at: now + self.tokens.refresh_ttl(),
                used_at: None,
                revoked_at: None,
            },
        )
        .await?;
        Ok(token)
    }
}
