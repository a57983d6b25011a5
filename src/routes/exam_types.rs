//! The exam catalog: everyone reads it; administrators add, rename and deactivate exam types.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Authorized, Json, Path, Query};
use super::links::{Links, api, links};
use crate::app::AppState;
use crate::domain::exam::{ExamType, ExamTypeChanges, ExamTypeCode, NewExamType};
use crate::error::{ApiError, Problem};
use crate::services::access::{ManageExamTypes, ReadExamTypes};

/// An entry of the exam catalog.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "code": 1001, "name": "Complete blood count with differential (ANC)", "modality": "laboratory",
    "active": true, "version": 1, "created_at": "2026-11-24T00:00:00Z", "updated_at": "2026-11-24T00:00:00Z",
    "_links": {"self": {"href": "/api/v1/exam-types/1001"}, "collection": {"href": "/api/v1/exam-types"}}
}))]
pub struct ExamTypeResponse {
    pub code: i32,
    pub name: String,
    /// `laboratory`, `radiography`, `ct`, `mri`, `pet_ct`, `ultrasound`, `pathology`,
    /// `endoscopy` or `other`.
    pub modality: String,
    /// Only active types can be ordered.
    pub active: bool,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(rename = "_links")]
    pub links: Links,
}

impl From<ExamType> for ExamTypeResponse {
    fn from(t: ExamType) -> Self {
        Self {
            links: links([
                ("self", api(&format!("/exam-types/{}", t.code))),
                ("collection", api("/exam-types")),
            ]),
            code: t.code.value(),
            name: t.name,
            modality: t.modality.as_str().to_owned(),
            active: t.active,
            version: t.version,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// The catalog, in code order.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExamTypeList {
    pub items: Vec<ExamTypeResponse>,
}

/// A new exam type.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": 2004, "name": "MRI pelvis with contrast", "modality": "mri"}))]
pub struct CreateExamTypeRequest {
    /// The code the exam execution system uses, 1-999999.
    #[schema(minimum = 1, maximum = 999_999)]
    pub code: i64,
    #[schema(min_length = 1, max_length = 120)]
    pub name: String,
    #[schema(
        pattern = "^(laboratory|radiography|ct|mri|pet_ct|ultrasound|pathology|endoscopy|other)$"
    )]
    pub modality: String,
}

/// A rename and/or (de)activation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"active": false}))]
pub struct ChangeExamTypeRequest {
    #[schema(min_length = 1, max_length = 120)]
    pub name: Option<String>,
    pub active: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExamTypeQuery {
    /// Only the types that can be ordered now.
    active: Option<bool>,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_exam_types, create_exam_type))
        .routes(routes!(get_exam_type, change_exam_type))
}

fn code_of(code: i64) -> Result<ExamTypeCode, ApiError> {
    ExamTypeCode::parse(code).map_err(|m| ApiError::invalid_field("code", m))
}

/// The exam catalog (every role).
#[utoipa::path(get, path = "/exam-types", tag = "exams", security(("bearer" = [])),
    params(ExamTypeQuery),
    responses(
        (status = 200, description = "The catalog", body = ExamTypeList),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid query", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_exam_types(
    State(state): State<AppState>,
    Authorized(permit): Authorized<ReadExamTypes>,
    Query(q): Query<ExamTypeQuery>,
) -> Result<Json<ExamTypeList>, ApiError> {
    let types = state
        .services
        .exam_types
        .list(&permit, q.active.unwrap_or(false))
        .await?;
    Ok(Json(ExamTypeList {
        items: types.into_iter().map(Into::into).collect(),
    }))
}

/// One exam type (every role).
#[utoipa::path(get, path = "/exam-types/{code}", tag = "exams", security(("bearer" = [])),
    params(("code" = i64, Path, description = "Exam type code", minimum = 1, maximum = 999999)),
    responses(
        (status = 200, description = "The exam type", body = ExamTypeResponse),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such exam type", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid code", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_exam_type(
    State(state): State<AppState>,
    Authorized(permit): Authorized<ReadExamTypes>,
    Path(code): Path<i64>,
) -> Result<Json<ExamTypeResponse>, ApiError> {
    let t = state
        .services
        .exam_types
        .get(&permit, code_of(code)?)
        .await?;
    Ok(Json(t.into()))
}

/// Adds an exam type to the catalog (administrators).
#[utoipa::path(post, path = "/exam-types", tag = "exams", security(("bearer" = [])),
    request_body = CreateExamTypeRequest,
    responses(
        (status = 201, description = "Added", body = ExamTypeResponse, headers(("Location" = String))),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only administrators keep the catalog", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The code is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_exam_type(
    State(state): State<AppState>,
    Authorized(permit): Authorized<ManageExamTypes>,
    Json(body): Json<CreateExamTypeRequest>,
) -> Result<Response, ApiError> {
    let new =
        NewExamType::parse(body.code, &body.name, &body.modality).map_err(ApiError::validation)?;
    let t = state.services.exam_types.create(&permit, new).await?;
    let location = api(&format!("/exam-types/{}", t.code));
    let mut response = (StatusCode::CREATED, Json(ExamTypeResponse::from(t))).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

/// Renames or (de)activates an exam type (administrators). Existing orders keep their type.
#[utoipa::path(patch, path = "/exam-types/{code}", tag = "exams", security(("bearer" = [])),
    params(("code" = i64, Path, description = "Exam type code", minimum = 1, maximum = 999999)),
    request_body = ChangeExamTypeRequest,
    responses(
        (status = 200, description = "Changed", body = ExamTypeResponse),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only administrators keep the catalog", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such exam type", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
async fn change_exam_type(
    State(state): State<AppState>,
    Authorized(permit): Authorized<ManageExamTypes>,
    Path(code): Path<i64>,
    Json(body): Json<ChangeExamTypeRequest>,
) -> Result<Json<ExamTypeResponse>, ApiError> {
    let code = code_of(code)?;
    let changes =
        ExamTypeChanges::parse(body.name.as_deref(), body.active).map_err(ApiError::validation)?;
    let t = state
        .services
        .exam_types
        .change(&permit, code, changes)
        .await?;
    Ok(Json(t.into()))
}
