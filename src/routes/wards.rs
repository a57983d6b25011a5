//! The ward overview: the main screen of the ward frontend.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::alerts::AlertResponse;
use super::extract::{Authorized, Json, Path};
use super::links::{Links, api, links};
use crate::app::AppState;
use crate::domain::patient::Ward;
use crate::error::{ApiError, Problem};
use crate::services::access::ReadVitalSigns;

/// The latest NEWS2 of a patient on the overview.
#[derive(Debug, Serialize, ToSchema)]
pub struct LatestObservationDto {
    pub vital_signs_id: Uuid,
    pub recorded_at: DateTime<Utc>,
    pub news2_score: u8,
    pub risk: String,
    pub complete: bool,
    pub any_single_red: bool,
}

/// One patient of the ward.
#[derive(Debug, Serialize, ToSchema)]
pub struct WardPatientDto {
    pub patient_id: Uuid,
    pub mrn: String,
    pub first_name: String,
    pub last_name: String,
    pub bed: Option<String>,
    /// Null when nothing is charted yet.
    pub latest: Option<LatestObservationDto>,
    /// When the next set is due; null when nothing is charted (due now).
    pub next_due_at: Option<DateTime<Utc>>,
    pub overdue: bool,
    /// Open and acknowledged alerts, most severe first.
    pub open_alerts: Vec<AlertResponse>,
    #[serde(rename = "_links")]
    pub links: Links,
}

/// Every admitted patient of the ward, sickest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"ward": "ONC-1", "generated_at": "2026-11-24T08:00:00Z", "patients": [{
    "patient_id": "0192f0c1-8c3a-7b7e-9a55-2f1f3f4a5b6c", "mrn": "MRN-004211",
    "first_name": "Ada", "last_name": "Lovelace", "bed": "12",
    "latest": {"vital_signs_id": "0192f0c1-9000-7b7e-9a55-2f1f3f4a5b6c",
        "recorded_at": "2026-11-24T07:40:00Z", "news2_score": 7, "risk": "high",
        "complete": true, "any_single_red": true},
    "next_due_at": "2026-11-24T07:55:00Z", "overdue": true, "open_alerts": [],
    "_links": {"patient": {"href": "/api/v1/patients/0192f0c1-8c3a-7b7e-9a55-2f1f3f4a5b6c"}}}]}))]
pub struct WardOverviewResponse {
    pub ward: String,
    pub generated_at: DateTime<Utc>,
    pub patients: Vec<WardPatientDto>,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(ward_overview))
}

/// The ward overview (nurses, physicians): every admitted patient with the latest NEWS2, risk,
/// open alerts and whether observations are overdue, sickest first (risk band, score, most
/// severe alert, overdue).
///
/// Served from a read model kept in step with every charted set, so its cost does not grow
/// with the ward's history.
#[utoipa::path(get, path = "/wards/{ward}/overview", tag = "wards", security(("bearer" = [])),
    params(("ward" = String, Path, description = "Ward, e.g. ONC-1", min_length = 1, max_length = 32,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$")),
    responses(
        (status = 200, description = "The overview", body = WardOverviewResponse),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not read vital signs", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid ward", body = Problem, content_type = "application/problem+json"),
    ))]
async fn ward_overview(
    State(state): State<AppState>,
    Authorized(permit): Authorized<ReadVitalSigns>,
    Path(ward): Path<String>,
) -> Result<Json<WardOverviewResponse>, ApiError> {
    let ward = Ward::parse(&ward).map_err(|m| ApiError::invalid_field("ward", m))?;
    let now = Utc::now();
    let lines = state.services.wards.overview(&permit, &ward).await?;
    Ok(Json(WardOverviewResponse {
        ward: ward.as_str().to_owned(),
        generated_at: now,
        patients: lines
            .into_iter()
            .map(|p| {
                let overdue = p.overdue(now);
                WardPatientDto {
                    links: links([
                        ("patient", api(&format!("/patients/{}", p.patient_id))),
                        (
                            "insights",
                            api(&format!("/patients/{}/vital-signs/insights", p.patient_id)),
                        ),
                    ]),
                    patient_id: p.patient_id,
                    mrn: p.mrn,
                    first_name: p.first_name,
                    last_name: p.last_name,
                    bed: p.bed,
                    next_due_at: p.latest.as_ref().map(|s| s.next_due_at),
                    latest: p.latest.map(|s| LatestObservationDto {
                        vital_signs_id: s.vital_signs_id,
                        recorded_at: s.recorded_at,
                        news2_score: s.news2_score,
                        risk: s.risk.as_str().to_owned(),
                        complete: s.complete,
                        any_single_red: s.any_single_red,
                    }),
                    overdue,
                    open_alerts: p.open_alerts.into_iter().map(Into::into).collect(),
                }
            })
            .collect(),
    }))
}
