//! Refresh-token chains in `refresh_token`: issue, rotate once, revoke.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::entities::refresh_token::{self, Column, Entity};
use super::repository::Repository;
use super::{Executor, StoreResult};

pub struct SessionRepository;

impl Repository for SessionRepository {
    type Entity = Entity;
    type Model = refresh_token::Model;
}

/// One stored refresh token (its hash, never the token itself).
pub type StoredRefreshToken = refresh_token::Model;

impl SessionRepository {
    pub async fn insert<C: Executor>(db: &C, token: StoredRefreshToken) -> StoreResult<()> {
        Self::insert_row(db, token).await.map(drop)
    }

    pub async fn find_by_hash<C: Executor>(
        db: &C,
        token_hash: &str,
    ) -> StoreResult<Option<StoredRefreshToken>> {
        Self::find_unique_where(db, Column::TokenHash.eq(token_hash)).await
    }

    /// Marks a token used if nobody used or revoked it first; false when it lost that race.
    pub async fn mark_used<C: Executor>(db: &C, id: Uuid, now: DateTime<Utc>) -> StoreResult<bool> {
        let result = Entity::update_many()
            .col_expr(Column::UsedAt, now.into())
            .filter(Column::Id.eq(id))
            .filter(Column::UsedAt.is_null())
            .filter(Column::RevokedAt.is_null())
            .exec(db)
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// Revokes every token of a chain (after reuse, or at logout).
    pub async fn revoke_family<C: Executor>(
        db: &C,
        family_id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let result = Entity::update_many()
            .col_expr(Column::RevokedAt, now.into())
            .filter(Column::FamilyId.eq(family_id))
            .filter(Column::RevokedAt.is_null())
            .exec(db)
            .await?;
        Ok(result.rows_affected)
    }

    /// Revokes every token of a user (deactivation, password reset).
    pub async fn revoke_user<C: Executor>(
        db: &C,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let result = Entity::update_many()
            .col_expr(Column::RevokedAt, now.into())
            .filter(Column::UserId.eq(user_id))
            .filter(Column::RevokedAt.is_null())
            .exec(db)
            .await?;
        Ok(result.rows_affected)
    }
}
