//! Idempotency records in `idempotency_key`: what a keyed create produced, for replays.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::entities::idempotency_key::{self, Entity};
use super::repository::Repository;
use super::{Executor, StoreResult};

pub struct IdempotencyRepository;

impl Repository for IdempotencyRepository {
    type Entity = Entity;
    type Model = idempotency_key::Model;
}

/// The first outcome of a keyed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub request_hash: String,
    pub resource_id: Option<Uuid>,
    pub status_code: u16,
    /// An opaque snapshot of the record first returned (see `PatientRepository::snapshot`).
    pub snapshot: Option<String>,
}

impl IdempotencyRepository {
    pub async fn find<C: Executor>(
        db: &C,
        user_id: Uuid,
        scope: &str,
        key: &str,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        let row = Self::find_row(db, (user_id, scope.to_owned(), key.to_owned())).await?;
        Ok(row.map(|r| IdempotencyRecord {
            request_hash: r.request_hash,
            resource_id: r.resource_id,
            status_code: u16::try_from(r.status_code).unwrap_or(500),
            snapshot: r.snapshot,
        }))
    }

    pub async fn insert<C: Executor>(
        db: &C,
        user_id: Uuid,
        scope: &str,
        key: &str,
        record: &IdempotencyRecord,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        Self::insert_row(
            db,
            idempotency_key::Model {
                user_id,
                scope: scope.to_owned(),
                key: key.to_owned(),
                request_hash: record.request_hash.clone(),
                resource_id: record.resource_id,
                status_code: i32::from(record.status_code),
                snapshot: record.snapshot.clone(),
                created_at: now,
            },
        )
        .await
        .map(drop)
    }
}
