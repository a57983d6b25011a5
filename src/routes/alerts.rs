//! Alerts: the ward's list (open first by default filters), acknowledge and resolve.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::extract::{Authorized, Json, Path, Query, page_request};
use super::links::{Links, api, filter_query, links, page_links};
use super::patients::ListResponse;
use crate::app::AppState;
use crate::domain::alert::{Alert, AlertStatus, Severity};
use crate::domain::page::KeyShape;
use crate::error::{ApiError, Problem};
use crate::persistence::alerts::AlertFilter;
use crate::services::access::{HandleAlerts, ReadAlerts};

/// Who did something to an alert, and when.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertActionDto {
    pub at: DateTime<Utc>,
    pub by: Uuid,
}

/// A clinical alert.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0192f0c1-9100-7b7e-9a55-2f1f3f4a5b6c", "patient_id": "0192f0c1-8c3a-7b7e-9a55-2f1f3f4a5b6c",
    "kind": "febrile_neutropenia", "severity": "critical", "status": "open",
    "detail": "fever (idsa) in a patient who is neutropenic",
    "vital_signs_id": "0192f0c1-9000-7b7e-9a55-2f1f3f4a5b6c", "raised_at": "2026-11-24T08:00:00Z",
    "acknowledged": null, "resolved": null, "version": 1,
    "_links": {"self": {"href": "/api/v1/alerts/0192f0c1-9100-7b7e-9a55-2f1f3f4a5b6c"}}
}))]
pub struct AlertResponse {
    pub id: Uuid,
    pub patient_id: Uuid,
    /// `news2_medium`, `news2_high`, `single_red_score`, `news2_rise`, `qsofa` or
    /// `febrile_neutropenia`.
    pub kind: String,
    /// `warning`, `urgent` or `critical`.
    pub severity: String,
    /// `open`, `acknowledged` or `resolved`.
    pub status: String,
    pub detail: String,
    pub vital_signs_id: Option<Uuid>,
    pub raised_at: DateTime<Utc>,
    pub acknowledged: Option<AlertActionDto>,
    pub resolved: Option<AlertActionDto>,
    pub version: i32,
    #[serde(rename = "_links")]
    pub links: Links,
}

impl From<Alert> for AlertResponse {
    fn from(a: Alert) -> Self {
        Self {
            links: links([
                ("self", api(&format!("/alerts/{}", a.id))),
                ("patient", api(&format!("/patients/{}", a.patient_id))),
                ("acknowledge", api(&format!("/alerts/{}/acknowledge", a.id))),
                ("resolve", api(&format!("/alerts/{}/resolve", a.id))),
            ]),
            id: a.id,
            patient_id: a.patient_id,
            kind: a.kind.as_str().to_owned(),
            severity: a.severity.as_str().to_owned(),
            status: a.status.as_str().to_owned(),
            detail: a.detail,
            vital_signs_id: a.vital_signs_id,
            raised_at: a.raised_at,
            acknowledged: a.acknowledged.map(|(at, by)| AlertActionDto { at, by }),
            resolved: a.resolved.map(|(at, by)| AlertActionDto { at, by }),
            version: a.version,
        }
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_alerts))
        .routes(routes!(acknowledge_alert))
        .routes(routes!(resolve_alert))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AlertListQuery {
    /// `open`, `acknowledged` or `resolved`.
    #[param(pattern = "^(open|acknowledged|resolved)$")]
    status: Option<String>,
    /// The patients' current ward.
    #[param(
        min_length = 1,
        max_length = 32,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    ward: Option<String>,
    patient_id: Option<Uuid>,
    /// `warning`, `urgent` or `critical`.
    #[param(pattern = "^(warning|urgent|critical)$")]
    severity: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u64>,
    #[param(minimum = 0, maximum = 1000000)]
    offset: Option<u64>,
    #[param(pattern = "^[0-9]{1,18}-[0-9a-f]{32}$")]
    cursor: Option<String>,
}

/// Alerts, newest first (nurses, physicians), filtered by status, ward, patient and severity.
#[utoipa::path(get, path = "/alerts", tag = "alerts", security(("bearer" = [])),
    params(AlertListQuery),
    responses(
        (status = 200, description = "A page of alerts", body = ListResponse<AlertResponse>),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not read alerts", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid query", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_alerts(
    State(state): State<AppState>,
    Authorized(permit): Authorized<ReadAlerts>,
    Query(q): Query<AlertListQuery>,
) -> Result<Json<ListResponse<AlertResponse>>, ApiError> {
    let page = page_request(KeyShape::TimeUuid, q.limit, q.offset, q.cursor.as_deref())?;
    let status = q
        .status
        .as_deref()
        .map(str::parse::<AlertStatus>)
        .transpose()
        .map_err(|m| ApiError::invalid_field("status", m))?;
    let severity = q
        .severity
        .as_deref()
        .map(str::parse::<Severity>)
        .transpose()
        .map_err(|m| ApiError::invalid_field("severity", m))?;
    if let Some(ward) = &q.ward {
        crate::domain::patient::Ward::parse(ward)
            .map_err(|m| ApiError::invalid_field("ward", m))?;
    }
    let filter = AlertFilter {
        status,
        ward: q.ward.clone(),
        patient_id: q.patient_id,
        severity,
    };
    let result = state.services.alerts.list(&permit, &filter, page).await?;
    let query = filter_query(&[
        ("status", q.status.clone()),
        ("ward", q.ward.clone()),
        ("patient_id", q.patient_id.map(|p| p.to_string())),
        ("severity", q.severity.clone()),
    ]);
    let links = page_links("/alerts", &query, &result);
    Ok(Json(ListResponse::new(
        result.map(AlertResponse::from),
        links,
    )))
}

/// Acknowledges an open alert (nurses, physicians): someone has seen it and is acting.
#[utoipa::path(post, path = "/alerts/{id}/acknowledge", tag = "alerts", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Alert id")),
    responses(
        (status = 200, description = "Acknowledged", body = AlertResponse),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not handle alerts", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such alert", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already acknowledged or resolved", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid id", body = Problem, content_type = "application/problem+json"),
    ))]
async fn acknowledge_alert(
    State(state): State<AppState>,
    Authorized(permit): Authorized<HandleAlerts>,
    Path(id): Path<Uuid>,
) -> Result<Json<AlertResponse>, ApiError> {
    let alert = state
        .services
        .alerts
        .transition(&permit, id, AlertStatus::Acknowledged)
        .await?;
    Ok(Json(alert.into()))
}

/// Resolves an open or acknowledged alert (nurses, physicians). A new alert of the same kind
/// can then be raised for the patient.
#[utoipa::path(post, path = "/alerts/{id}/resolve", tag = "alerts", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Alert id")),
    responses(
        (status = 200, description = "Resolved", body = AlertResponse),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not handle alerts", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such alert", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already resolved", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid id", body = Problem, content_type = "application/problem+json"),
    ))]
async fn resolve_alert(
    State(state): State<AppState>,
    Authorized(permit): Authorized<HandleAlerts>,
    Path(id): Path<Uuid>,
) -> Result<Json<AlertResponse>, ApiError> {
    let alert = state
        .services
        .alerts
        .transition(&permit, id, AlertStatus::Resolved)
        .await?;
    Ok(Json(alert.into()))
}
