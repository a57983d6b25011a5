//! Laboratory results of a patient: record and list neutrophil counts.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::extract::{Authorized, Json, Path, Query};
use super::links::{Links, api, links};
use crate::app::AppState;
use crate::domain::lab::{LabCode, LabResult, NewLabResult};
use crate::error::{ApiError, Problem};
use crate::services::access::{ReadLabResults, RecordLabResult};

/// A laboratory value to record.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "anc", "value": 0.4, "measured_at": "2026-11-24T06:30:00Z"}))]
pub struct LabResultRequest {
    /// `anc`: absolute neutrophil count.
    #[schema(pattern = "^anc$")]
    pub code: String,
    /// In the code's unit: 10^9/L for `anc` (0-100).
    pub value: Option<f64>,
    /// When the sample was taken (RFC 3339), not in the future.
    pub measured_at: Option<DateTime<Utc>>,
}

/// A recorded laboratory value.
#[derive(Debug, Serialize, ToSchema)]
pub struct LabResultResponse {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub code: String,
    pub value: f64,
    /// `10^9/L` for `anc`.
    pub unit: String,
    pub measured_at: DateTime<Utc>,
    pub recorded_by: Uuid,
    pub created_at: DateTime<Utc>,
    #[serde(rename = "_links")]
    pub links: Links,
}

impl From<LabResult> for LabResultResponse {
    fn from(r: LabResult) -> Self {
        Self {
            links: links([
                ("patient", api(&format!("/patients/{}", r.patient_id))),
                (
                    "collection",
                    api(&format!("/patients/{}/lab-results", r.patient_id)),
                ),
            ]),
            id: r.id,
            patient_id: r.patient_id,
            code: r.code.as_str().to_owned(),
            value: r.value,
            unit: r.code.unit().to_owned(),
            measured_at: r.measured_at,
            recorded_by: r.recorded_by,
            created_at: r.created_at,
        }
    }
}

/// A patient's results, newest measurement first.
#[derive(Debug, Serialize, ToSchema)]
pub struct LabResultList {
    pub items: Vec<LabResultResponse>,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(record_lab_result, list_lab_results))
}

/// Records a laboratory value (nurses, physicians). The latest neutrophil count decides whether
/// a fever raises the febrile neutropenia alert (below 0.5 × 10^9/L).
#[utoipa::path(post, path = "/patients/{id}/lab-results", tag = "lab-results",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Patient id")),
    request_body = LabResultRequest,
    responses(
        (status = 201, description = "Recorded", body = LabResultResponse),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not record lab results", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such patient", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid result", body = Problem, content_type = "application/problem+json"),
    ))]
async fn record_lab_result(
    State(state): State<AppState>,
    Authorized(permit): Authorized<RecordLabResult>,
    Path(patient_id): Path<Uuid>,
    Json(body): Json<LabResultRequest>,
) -> Result<(StatusCode, Json<LabResultResponse>), ApiError> {
    let new = NewLabResult::parse(&body.code, body.value, body.measured_at, Utc::now())
        .map_err(ApiError::validation)?;
    let result = state
        .services
        .lab_results
        .record(&permit, patient_id, new)
        .await?;
    Ok((StatusCode::CREATED, Json(result.into())))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LabResultQuery {
    /// Only this code.
    #[param(pattern = "^anc$")]
    code: Option<String>,
    /// At most this many (1-500, default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u64>,
}

/// A patient's laboratory results, newest first (nurses, physicians).
#[utoipa::path(get, path = "/patients/{id}/lab-results", tag = "lab-results",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Patient id"), LabResultQuery),
    responses(
        (status = 200, description = "Results", body = LabResultList),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not read lab results", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such patient", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid query", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_lab_results(
    State(state): State<AppState>,
    Authorized(permit): Authorized<ReadLabResults>,
    Path(patient_id): Path<Uuid>,
    Query(q): Query<LabResultQuery>,
) -> Result<Json<LabResultList>, ApiError> {
    let code = q
        .code
        .as_deref()
        .map(str::parse::<LabCode>)
        .transpose()
        .map_err(|m| ApiError::invalid_field("code", m))?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            "must be between 1 and 500",
        ));
    }
    let results = state
        .services
        .lab_results
        .list(&permit, patient_id, code, limit)
        .await?;
    Ok(Json(LabResultList {
        items: results.into_iter().map(Into::into).collect(),
    }))
}
