//! The results inbox: what became of each file the exam execution system dropped in the result
//! store (processed, stuck, denied, deleted, or still being handled) and why.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::extract::{Authorized, Json, Query, page_request, parse_optional};
use super::links::{Links, api, filter_query, links, page_links};
use super::patients::ListResponse;
use crate::app::AppState;
use crate::domain::page::KeyShape;
use crate::domain::results_inbox::{InboxEntry, OutcomeFilter};
use crate::error::{ApiError, Problem};
use crate::persistence::results_inbox::InboxFilter;
use crate::services::access::ReadResultsInbox;

/// A file seen in the results inbox and what became of it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0192f0c1-c000-7b7e-9a55-2f1f3f4a5b6c", "file": "completed/cbc-0042.json",
    "size": 1432, "outcome": "denied",
    "reason": "the exam token names another patient than the registry's exam",
    "exam_id": "0192f0c1-a000-7b7e-9a55-2f1f3f4a5b6c",
    "patient_id": "0192f0c1-8c3a-7b7e-9a55-2f1f3f4a5b6c",
    "report_key": null, "destination": "denied/cbc-0042.json", "claims": 1, "last_error": null,
    "received_at": "2026-11-24T09:10:00Z", "decided_at": "2026-11-24T09:10:00Z",
    "moved_at": "2026-11-24T09:10:00Z",
    "_links": {"exam": {"href": "/api/v1/exams/0192f0c1-a000-7b7e-9a55-2f1f3f4a5b6c"}}
}))]
pub struct InboxEntryResponse {
    pub id: Uuid,
    /// Where the file arrived in the result store.
    pub file: String,
    pub size: i64,
    /// `processed`, `stuck`, `denied`, `deleted`, or `pending` while it is being handled.
    pub outcome: String,
    /// Why it got its outcome, e.g. which token did not verify.
    pub reason: Option<String>,
    /// The exam its exam token names, once the tokens verified.
    pub exam_id: Option<Uuid>,
    pub patient_id: Option<Uuid>,
    /// Where its report file was stored in the result store.
    pub report_key: Option<String>,
    /// Where the file was (or is being) moved.
    pub destination: Option<String>,
    /// How many times a worker claimed it: more than one after a crash or a failure on our
    /// side.
    pub claims: i32,
    /// The last failure on our side (store or database unavailable); the file is retried.
    pub last_error: Option<String>,
    pub received_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    /// When the file left `completed/`.
    pub moved_at: Option<DateTime<Utc>>,
    #[serde(rename = "_links")]
    pub links: Links,
}

impl From<InboxEntry> for InboxEntryResponse {
    fn from(e: InboxEntry) -> Self {
        let mut l = links([]);
        if let Some(exam) = e.exam_id {
            l.extend(links([("exam", api(&format!("/exams/{exam}")))]));
        }
        if let Some(patient) = e.patient_id {
            l.extend(links([("patient", api(&format!("/patients/{patient}")))]));
        }
        Self {
            links: l,
            id: e.id,
            file: e.path,
            size: e.size,
            outcome: e.outcome.map_or("pending", |o| o.as_str()).to_owned(),
            reason: e.reason,
            exam_id: e.exam_id,
            patient_id: e.patient_id,
            report_key: e.report_key,
            destination: e.destination,
            claims: e.claims,
            last_error: e.last_error,
            received_at: e.received_at,
            decided_at: e.decided_at,
            moved_at: e.moved_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InboxListQuery {
    /// `pending`, `processed`, `stuck`, `denied` or `deleted`.
    #[param(
        pattern = "^(pending|processed|stuck|denied|deleted)$",
        example = "stuck"
    )]
    outcome: Option<String>,
    /// Received at or after (RFC 3339).
    #[param(example = "2026-11-24T00:00:00Z")]
    from: Option<DateTime<Utc>>,
    /// Received before (RFC 3339).
    to: Option<DateTime<Utc>>,
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u64>,
    #[param(minimum = 0, maximum = 1000000)]
    offset: Option<u64>,
    #[param(pattern = "^[0-9]{1,18}-[0-9a-f]{32}$")]
    cursor: Option<String>,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_inbox))
}

/// Files of the results inbox, newest first (physicians, technicians), filtered by outcome and
/// arrival time: `outcome=stuck` and `outcome=denied` list the results that did not reach
/// their exam, with the reason.
#[utoipa::path(get, path = "/exam-results/inbox", tag = "exams", security(("bearer" = [])),
    params(InboxListQuery),
    responses(
        (status = 200, description = "A page of inbox entries", body = ListResponse<InboxEntryResponse>),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not read the results inbox", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid query", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_inbox(
    State(state): State<AppState>,
    Authorized(permit): Authorized<ReadResultsInbox>,
    Query(q): Query<InboxListQuery>,
) -> Result<Json<ListResponse<InboxEntryResponse>>, ApiError> {
    let page = page_request(KeyShape::TimeUuid, q.limit, q.offset, q.cursor.as_deref())?;
    let outcome = parse_optional::<OutcomeFilter>("outcome", q.outcome.as_deref())?;
    let filter = InboxFilter {
        outcome,
        from: q.from,
        to: q.to,
    };
    let result = state
        .services
        .results_inbox
        .list(&permit, &filter, page)
        .await?;
    let query = filter_query(&[
        ("outcome", q.outcome.clone()),
        ("from", q.from.map(|t| t.to_rfc3339())),
        ("to", q.to.map(|t| t.to_rfc3339())),
    ]);
    let links = page_links("/exam-results/inbox", &query, &result);
    Ok(Json(ListResponse::new(
        result.map(InboxEntryResponse::from),
        links,
    )))
}
