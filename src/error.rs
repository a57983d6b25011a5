//! `ApiError`: the one place where errors become HTTP responses, as RFC 9457 problem details
//! (`application/problem+json`). Internal causes are logged here and never sent to the client.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::FieldErrors;
use crate::services::ServiceError;
use crate::services::error::BatchItemError;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// One offending input field.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"field": "mrn", "message": "may contain only letters, digits and '-'"}))]
pub struct FieldProblem {
    /// The field, as named in the request (`operations[2].mrn` inside a batch).
    pub field: String,
    pub message: String,
}

/// One refused operation of a batch.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BatchItemProblem {
    /// Position of the operation in the request, from 0.
    pub index: usize,
    /// The status the operation alone would have received.
    pub status: u16,
    pub reason: String,
    pub errors: Vec<FieldProblem>,
}

/// An RFC 9457 problem details document.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:oncology-registry:problem:validation-error",
    "title": "The request is not valid",
    "status": 422,
    "detail": "1 field(s) are not valid",
    "errors": [{"field": "birth_date", "message": "must not be in the future"}]
}))]
pub struct Problem {
    /// A URI identifying the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// For validation problems: every offending field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
    /// For refused batches: every failing operation.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<BatchItemProblem>,
}

/// An error on its way to becoming a problem+json response. Boxed so that `Result`s carrying
/// it stay small on the happy path.
#[derive(Debug)]
pub struct ApiError(Box<ProblemParts>);

#[derive(Debug)]
struct ProblemParts {
    status: StatusCode,
    slug: &'static str,
    title: &'static str,
    detail: String,
    errors: Vec<FieldProblem>,
    failures: Vec<BatchItemProblem>,
    retry_after: Option<u64>,
    /// Logged, never sent.
    cause: Option<String>,
}

fn field_problems(errors: FieldErrors) -> Vec<FieldProblem> {
    errors
        .0
        .into_iter()
        .map(|e| FieldProblem {
            field: e.field,
            message: e.message,
        })
        .collect()
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        slug: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self(Box::new(ProblemParts {
            status,
            slug,
            title,
            detail: detail.into(),
            errors: Vec::new(),
            failures: Vec::new(),
            retry_after: None,
            cause: None,
        }))
    }

    /// The same problem with a more precise detail.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.0.detail = detail.into();
        self
    }

    pub fn validation(errors: FieldErrors) -> Self {
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-error",
            "The request is not valid",
            format!("{} field(s) are not valid", errors.0.len()),
        );
        e.0.errors = field_problems(errors);
        e
    }

    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        let mut errors = FieldErrors::default();
        errors.push(field, message.into());
        Self::validation(errors)
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "The request is malformed",
            detail,
        )
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Authentication required",
            detail,
        )
    }

    pub fn precondition_required() -> Self {
        Self::new(
            StatusCode::PRECONDITION_REQUIRED,
            "precondition-required",
            "If-Match required",
            "send the ETag of the version you read in an If-Match header",
        )
    }

    pub fn internal(cause: impl Into<String>) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal-error",
            "Internal server error",
            "the server could not complete the request; it has been logged",
        );
        e.0.cause = Some(cause.into());
        e
    }

    /// A problem for a bare status produced outside the handlers (routing, limits, timeouts).
    pub fn from_status(status: StatusCode) -> Self {
        let (slug, title, detail) = match status {
            StatusCode::NOT_FOUND => ("not-found", "Not found", "no such resource"),
            StatusCode::METHOD_NOT_ALLOWED => (
                "method-not-allowed",
                "Method not allowed",
                "the resource does not support this method",
            ),
            StatusCode::PAYLOAD_TOO_LARGE => (
                "payload-too-large",
                "Payload too large",
                "the request body exceeds the size limit",
            ),
            StatusCode::REQUEST_TIMEOUT
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT => (
                "timeout",
                "Request timed out",
                "the request took too long and was abandoned",
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => (
                "unsupported-media-type",
                "Unsupported media type",
                "send the body as application/json",
            ),
            _ if status.is_server_error() => (
                "internal-error",
                "Internal server error",
                "the server could not complete the request; it has been logged",
            ),
            _ => ("http-error", "Request refused", "the request was refused"),
        };
        Self::new(status, slug, title, detail)
    }

    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    pub fn problem(&self) -> Problem {
        Problem {
            kind: format!("urn:oncology-registry:problem:{}", self.0.slug),
            title: self.0.title.to_owned(),
            status: self.0.status.as_u16(),
            detail: self.0.detail.clone(),
            errors: self.0.errors.clone(),
            failures: self.0.failures.clone(),
        }
    }
}

impl ApiError {
    /// Logs the internal cause, if any: it is never sent to the client.
    pub fn log_cause(&self) {
        if let Some(cause) = &self.0.cause {
            tracing::error!(status = self.0.status.as_u16(), %cause, "request failed");
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log_cause();
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut response = (self.0.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(seconds) = self.0.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.0.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::Invalid(errors) => ApiError::validation(errors),
            ServiceError::NotFound(what) => ApiError::not_found(format!("no such {what}")),
            ServiceError::Conflict(detail) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", "Conflict", detail)
            }
            ServiceError::PreconditionFailed => ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "precondition-failed",
                "The record has changed",
                "the record was changed since you read it; read it again and retry",
            ),
            ServiceError::Unauthenticated(detail) => ApiError::unauthenticated(detail),
            ServiceError::Forbidden(op) => ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Forbidden",
                format!("your role may not perform {op}"),
            ),
            ServiceError::TooManyAttempts { retry_after } => {
                let mut e = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too-many-attempts",
                    "Too many failed attempts",
                    format!("too many failed sign-ins; retry after {retry_after} s"),
                );
                e.0.retry_after = Some(retry_after);
                e
            }
            ServiceError::IdempotencyKeyReused => ApiError::new(
                StatusCode::CONFLICT,
                "idempotency-key-reused",
                "Idempotency-Key reused",
                "this Idempotency-Key was already used with a different request body",
            ),
            ServiceError::BatchRefused(failures) => {
                // One kind of failure throughout answers with its own status; a mix is 422.
                let shared = failures
                    .first()
                    .map(|f| f.status)
                    .filter(|s| failures.iter().all(|f| f.status == *s));
                let status = shared
                    .and_then(|s| StatusCode::from_u16(s).ok())
                    .unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
                let mut e = ApiError::new(
                    status,
                    "batch-refused",
                    "The batch was refused",
                    format!(
                        "{} operation(s) failed; nothing was changed",
                        failures.len()
                    ),
                );
                e.0.failures = failures.into_iter().map(batch_item).collect();
                e
            }
            ServiceError::Internal(cause) => ApiError::internal(cause),
        }
    }
}

fn batch_item(item: BatchItemError) -> BatchItemProblem {
    BatchItemProblem {
        index: item.index,
        status: item.status,
        reason: item.reason,
        errors: field_problems(item.errors),
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(e) => {
                // axum reports "<prefix>: <path>: <serde message>"; name the field when it can.
                let text = e.body_text();
                let detail = text
                    .split_once(": ")
                    .map_or(text.as_str(), |(_, rest)| rest)
                    .to_owned();
                match detail.split_once(": ") {
                    Some((path, message)) if !path.contains(' ') => {
                        ApiError::invalid_field(path, message)
                    }
                    _ => ApiError::invalid_field("body", detail),
                }
            }
            JsonRejection::JsonSyntaxError(_) => {
                ApiError::bad_request("the body is not valid JSON")
            }
            JsonRejection::MissingJsonContentType(_) => {
                ApiError::from_status(StatusCode::UNSUPPORTED_MEDIA_TYPE)
            }
            other => ApiError::from_status(other.status()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        let text = rejection.body_text();
        let detail = text
            .split_once(": ")
            .map_or(text.as_str(), |(_, rest)| rest);
        match detail.split_once(": ") {
            Some((field, message)) if !field.contains(' ') => {
                ApiError::invalid_field(field, message)
            }
            _ => ApiError::invalid_field("query", detail),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(_: PathRejection) -> Self {
        ApiError::invalid_field("id", "must be a UUID")
    }
}
