//! Patients through the API: lifecycle, validation, roles, preconditions, idempotency, batches,
//! pagination.
