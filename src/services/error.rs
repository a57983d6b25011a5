//! The service layer's error: what went wrong in terms of the use case, converted to HTTP once in
//! `crate::error`.

use crate::domain::FieldErrors;
use crate::domain::permission::Operation;
use crate::persistence::StoreError;

/// One refused item of a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchItemError {
    pub index: usize,
    pub status: u16,
    pub reason: String,
    pub errors: FieldErrors,
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("invalid input: {0}")]
    Invalid(FieldErrors),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("conflict: {0}")]
    Conflict(String),
    /// The client's `If-Match` names a version that is no longer current.
    #[error("the record has changed since it was read")]
    PreconditionFailed,
    #[error("not authenticated: {0}")]
    Unauthenticated(&'static str),
    #[error("operation {0} is not permitted for this role")]
    Forbidden(Operation),
    #[error("too many failed attempts; retry after {retry_after} s")]
    TooManyAttempts { retry_after: u64 },
    #[error("this Idempotency-Key was already used with a different request")]
    IdempotencyKeyReused,
    #[error("batch refused: {} item(s) failed", .0.len())]
    BatchRefused(Vec<BatchItemError>),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ServiceError::Internal(cause.to_string())
    }

    pub fn invalid(field: &str, message: &str) -> Self {
        let mut errors = FieldErrors::default();
        errors.push(field, message);
        ServiceError::Invalid(errors)
    }
}

impl From<StoreError> for ServiceError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => ServiceError::NotFound("record"),
            // The database's wording names tables and constraints: log it, never send it.
            // Use cases that expect a duplicate (MRN, username) say what is taken themselves.
            StoreError::Duplicate(detail) => {
                tracing::warn!(%detail, "unexpected unique constraint violation");
                ServiceError::Conflict("the change conflicts with an existing record".to_owned())
            }
            StoreError::VersionMismatch => ServiceError::PreconditionFailed,
            other => ServiceError::Internal(other.to_string()),
        }
    }
}

impl From<sea_orm::DbErr> for ServiceError {
    fn from(err: sea_orm::DbErr) -> Self {
        StoreError::from(err).into()
    }
}
