//! `Idempotency-Key` handling shared by the create use cases: a keyed create stores what it
//! produced in the same transaction, and a retry with the same key and body is answered with
//! that instead of creating again.

use chrono::Utc;
use uuid::Uuid;

use super::ServiceError;
use super::access::Actor;
use crate::persistence::idempotency::{IdempotencyRecord, IdempotencyRepository};
use crate::persistence::{Database, Executor};

/// A client's `Idempotency-Key` with a fingerprint of the request body it came with.
#[derive(Debug, Clone)]
pub struct IdempotencyRequest {
    pub key: String,
    pub request_hash: String,
}

/// The stored outcome of this key for `scope`, if any; refuses a key reused for another body.
pub async fn earlier_outcome(
    db: &Database,
    actor: &Actor,
    scope: &str,
    key: &IdempotencyRequest,
) -> Result<Option<IdempotencyRecord>, ServiceError> {
    let Some(record) =
        IdempotencyRepository::find(db.reader(), actor.user_id, scope, &key.key).await?
    else {
        return Ok(None);
    };
    if record.request_hash != key.request_hash {
        return Err(ServiceError::IdempotencyKeyReused);
    }
    Ok(Some(record))
}

/// Stores the outcome of a keyed create (with a snapshot of what it answered) in `txn`.
pub async fn remember<C: Executor>(
    txn: &C,
    actor: &Actor,
    scope: &str,
    key: &IdempotencyRequest,
    resource_id: Uuid,
    snapshot: String,
) -> Result<(), ServiceError> {
    let record = IdempotencyRecord {
        request_hash: key.request_hash.clone(),
        resource_id: Some(resource_id),
        status_code: 201,
        snapshot: Some(snapshot),
    };
    IdempotencyRepository::insert(txn, actor.user_id, scope, &key.key, &record, Utc::now()).await?;
    Ok(())
}
