//! The audit log, for administrators.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;
use validator::Validate;

use super::extract::{Authorized, Json, ValidQuery, page_request};
use super::links::{filter_query, page_links};
use super::patients::ListResponse;
use super::users::RoleDto;
use crate::app::AppState;
use crate::domain::audit::{AuditEvent, AuditFilter};
use crate::domain::page::KeyShape;
use crate::error::{ApiError, Problem};
use crate::services::access::ReadAuditLog;

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": 1042, "occurred_at": "2026-11-24T08:00:00Z",
    "actor_id": "0192f0c1-8c3a-7b7e-9a55-2f1f3f4a5b6c", "actor_username": "n.nightingale",
    "actor_role": "nurse", "action": "read", "resource_type": "patient",
    "resource_id": "0192f0c1-8c3a-7b7e-9a55-2f1f3f4a5b6d",
    "request_id": "6c1f0e6e-4a7d-4a57-9b1e-0c8f8f7f3b2a", "client_addr": "10.0.0.7",
    "outcome": "success", "reason": null
}))]
pub struct AuditEventResponse {
    pub id: i64,
    pub occurred_at: DateTime<Utc>,
    pub actor_id: Option<Uuid>,
    pub actor_username: Option<String>,
    pub actor_role: Option<RoleDto>,
    /// create, read, list, update, delete, login, refresh, logout, refresh_token_reuse, authorize
    pub action: String,
    /// patient, user, session, audit_log
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
    /// success, denied, failure
    pub outcome: String,
    pub reason: Option<String>,
}

impl From<AuditEvent> for AuditEventResponse {
    fn from(e: AuditEvent) -> Self {
        let ev = e.event;
        Self {
            id: e.id,
            occurred_at: ev.occurred_at,
            actor_id: ev.actor_id,
            actor_username: ev.actor_username,
            actor_role: ev.actor_role.map(Into::into),
            action: ev.action.as_str().to_owned(),
            resource_type: ev.resource_type.as_str().to_owned(),
            resource_id: ev.resource_id,
            request_id: ev.request_id,
            client_addr: ev.client_addr,
            outcome: ev.outcome.as_str().to_owned(),
            reason: ev.reason,
        }
    }
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    pub actor_id: Option<Uuid>,
    /// create, read, list, update, delete, login, refresh, logout, refresh_token_reuse, authorize
    #[validate(
        length(max = 32),
        custom(function = "crate::routes::extract::plain_text")
    )]
    #[param(max_length = 32, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    pub action: Option<String>,
    /// patient, user, session, audit_log
    #[validate(
        length(max = 32),
        custom(function = "crate::routes::extract::plain_text")
    )]
    #[param(max_length = 32, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    pub resource_type: Option<String>,
    #[validate(
        length(max = 64),
        custom(function = "crate::routes::extract::plain_text")
    )]
    #[param(max_length = 64, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    pub resource_id: Option<String>,
    /// success, denied, failure
    #[validate(
        length(max = 16),
        custom(function = "crate::routes::extract::plain_text")
    )]
    #[param(max_length = 16, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    pub outcome: Option<String>,
    /// Events at or after this instant (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Events before this instant (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    #[validate(range(min = 1, max = 200))]
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    #[validate(range(max = 1000000))]
    #[param(minimum = 0, maximum = 1000000)]
    pub offset: Option<u64>,
    #[param(pattern = "^[0-9]{1,18}$")]
    pub cursor: Option<String>,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit_events))
}

/// Reads the audit log, newest first (administrators).
#[utoipa::path(get, path = "/audit-events", tag = "audit", security(("bearer" = [])), params(AuditQuery),
    responses(
        (status = 200, description = "A page of events", body = ListResponse<AuditEventResponse>),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid query", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_audit_events(
    State(state): State<AppState>,
    Authorized(permit): Authorized<ReadAuditLog>,
    ValidQuery(q): ValidQuery<AuditQuery>,
) -> Result<Json<ListResponse<AuditEventResponse>>, ApiError> {
    let page = page_request(KeyShape::Integer, q.limit, q.offset, q.cursor.as_deref())?;
    let mut errors = crate::domain::FieldErrors::default();
    let filter = AuditFilter {
        actor_id: q.actor_id,
        action: q
            .action
            .as_deref()
            .and_then(|v| errors.check("action", v.parse())),
        resource_type: q
            .resource_type
            .as_deref()
            .and_then(|v| errors.check("resource_type", v.parse())),
        resource_id: q.resource_id.clone(),
        outcome: q
            .outcome
            .as_deref()
            .and_then(|v| errors.check("outcome", v.parse())),
        from: q.from,
        to: q.to,
    };
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let page = state.services.audit.list(&permit, &filter, page).await?;
    let query = filter_query(&[
        ("actor_id", q.actor_id.map(|v| v.to_string())),
        ("action", q.action),
        ("resource_type", q.resource_type),
        ("resource_id", q.resource_id),
        ("outcome", q.outcome),
        ("from", q.from.map(|v| v.to_rfc3339())),
        ("to", q.to.map(|v| v.to_rfc3339())),
    ]);
    let links = page_links("/audit-events", &query, &page);
    Ok(Json(ListResponse::new(
        page.map(AuditEventResponse::from),
        links,
    )))
}
