//! Patient notifications: the ward's list (who was told, who must be called) and retrying
//! failed deliveries.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::extract::{Authorized, Json, Path, Query, page_request, parse_optional};
use super::links::{Links, api, filter_query, links, page_links};
use super::patients::ListResponse;
use crate::app::AppState;
use crate::domain::notification::{Channel, Notification, NotificationStatus};
use crate::domain::page::KeyShape;
use crate::error::{ApiError, Problem};
use crate::persistence::notifications::NotificationFilter;
use crate::services::access::{ReadNotifications, RetryNotification};

/// A notification to a patient.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0192f0c1-b000-7b7e-9a55-2f1f3f4a5b6c", "patient_id": "0192f0c1-8c3a-7b7e-9a55-2f1f3f4a5b6c",
    "exam_id": "0192f0c1-a000-7b7e-9a55-2f1f3f4a5b6c", "kind": "result_ready", "channel": "sms",
    "recipient": "+447700900123", "status": "sent", "attempts": 1,
    "next_attempt_at": "2026-11-24T09:10:00Z", "last_error": null,
    "created_at": "2026-11-24T09:10:00Z", "updated_at": "2026-11-24T09:10:01Z", "sent_at": "2026-11-24T09:10:01Z",
    "_links": {"patient": {"href": "/api/v1/patients/0192f0c1-8c3a-7b7e-9a55-2f1f3f4a5b6c"}}
}))]
pub struct NotificationResponse {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub exam_id: Option<Uuid>,
    /// `result_ready`.
    pub kind: String,
    /// `sms`, `email`, or `manual` when the patient has no contact.
    pub channel: String,
    pub recipient: Option<String>,
    /// `pending`, `sent`, `failed` or `manual_contact_required`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    #[serde(rename = "_links")]
    pub links: Links,
}

impl From<Notification> for NotificationResponse {
    fn from(n: Notification) -> Self {
        let mut l = links([
            ("patient", api(&format!("/patients/{}", n.patient_id))),
            ("retry", api(&format!("/notifications/{}/retry", n.id))),
        ]);
        if n.status != NotificationStatus::Failed {
            l.remove("retry");
        }
        if let Some(exam) = n.exam_id {
            l.insert(
                "exam",
                super::links::Link {
                    href: api(&format!("/exams/{exam}")),
                },
            );
        }
        Self {
            links: l,
            id: n.id,
            patient_id: n.patient_id,
            exam_id: n.exam_id,
            kind: n.kind.as_str().to_owned(),
            channel: n.channel.as_str().to_owned(),
            recipient: n.recipient,
            status: n.status.as_str().to_owned(),
            attempts: n.attempts,
            next_attempt_at: n.next_attempt_at,
            last_error: n.last_error,
            created_at: n.created_at,
            updated_at: n.updated_at,
            sent_at: n.sent_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NotificationListQuery {
    /// `pending`, `sent`, `failed` or `manual_contact_required`.
    #[param(pattern = "^(pending|sent|failed|manual_contact_required)$")]
    status: Option<String>,
    /// `sms`, `email` or `manual`.
    #[param(pattern = "^(sms|email|manual)$")]
    channel: Option<String>,
    patient_id: Option<Uuid>,
    exam_id: Option<Uuid>,
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u64>,
    #[param(minimum = 0, maximum = 1000000)]
    offset: Option<u64>,
    #[param(pattern = "^[0-9]{1,18}-[0-9a-f]{32}$")]
    cursor: Option<String>,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_notifications))
        .routes(routes!(retry_notification))
}

/// Notifications, newest first (physicians, nurses), filtered by status, channel, patient and
/// exam: `status=manual_contact_required` lists the patients the ward must call.
#[utoipa::path(get, path = "/notifications", tag = "notifications", security(("bearer" = [])),
    params(NotificationListQuery),
    responses(
        (status = 200, description = "A page of notifications", body = ListResponse<NotificationResponse>),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not read notifications", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid query", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_notifications(
    State(state): State<AppState>,
    Authorized(permit): Authorized<ReadNotifications>,
    Query(q): Query<NotificationListQuery>,
) -> Result<Json<ListResponse<NotificationResponse>>, ApiError> {
    let page = page_request(KeyShape::TimeUuid, q.limit, q.offset, q.cursor.as_deref())?;
    let status = parse_optional::<NotificationStatus>("status", q.status.as_deref())?;
    let channel = parse_optional::<Channel>("channel", q.channel.as_deref())?;
    let filter = NotificationFilter {
        status,
        channel,
        patient_id: q.patient_id,
        exam_id: q.exam_id,
    };
    let result = state
        .services
        .notifications
        .list(&permit, &filter, page)
        .await?;
    let query = filter_query(&[
        ("status", q.status.clone()),
        ("channel", q.channel.clone()),
        ("patient_id", q.patient_id.map(|p| p.to_string())),
        ("exam_id", q.exam_id.map(|p| p.to_string())),
    ]);
    let links = page_links("/notifications", &query, &result);
    Ok(Json(ListResponse::new(
        result.map(NotificationResponse::from),
        links,
    )))
}

/// Puts a failed notification back in the delivery queue for a fresh round of attempts
/// (physicians, nurses).
#[utoipa::path(post, path = "/notifications/{id}/retry", tag = "notifications", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Notification id")),
    responses(
        (status = 200, description = "Queued again", body = NotificationResponse),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not retry notifications", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such notification", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not failed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid id", body = Problem, content_type = "application/problem+json"),
    ))]
async fn retry_notification(
    State(state): State<AppState>,
    Authorized(permit): Authorized<RetryNotification>,
    Path(id): Path<Uuid>,
) -> Result<Json<NotificationResponse>, ApiError> {
    let n = state.services.notifications.retry(&permit, id).await?;
    Ok(Json(n.into()))
}
