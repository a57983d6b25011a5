//! Exams: order for a patient, read and list, start (returning the exam token), revoke, and the
//! result intake (`/exams/communicate` and `/exams/{id}/result`).

use std::collections::BTreeMap;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::extract::{Authorized, Json, Path, Query, media_type, page_request, parse_optional};
use super::links::{Links, api, filter_query, links, page_links};
use super::patients::{ListResponse, idempotency};
use crate::app::AppState;
use crate::domain::exam::{Exam, ExamStatus, ExamTypeCode, parse_revoke_reason};
use crate::domain::page::KeyShape;
use crate::domain::patient::Mrn;
use crate::error::{ApiError, Problem};
use crate::persistence::exams::ExamFilter;
use crate::services::access::{OrderExam, PerformExam, ReadExams, RevokeExam, SubmitExamResult};

/// Who did something to an exam, and when.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExamStampDto {
    pub at: DateTime<Utc>,
    /// Null when the result came through the results inbox.
    pub by: Option<Uuid>,
}

/// Why, by whom and when an exam was revoked.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevocationDto {
    pub at: DateTime<Utc>,
    pub by: Uuid,
    pub reason: String,
}

/// The result of a finished exam.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExamResultDto {
    /// `normal`, `abnormal` or `critical`.
    pub status: String,
    pub summary: String,
    /// Named measurements, e.g. `anc` (10^9/L) for a blood count.
    pub values: BTreeMap<String, f64>,
}

/// An exam.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0192f0c1-a000-7b7e-9a55-2f1f3f4a5b6c", "patient_id": "0192f0c1-8c3a-7b7e-9a55-2f1f3f4a5b6c",
    "exam_type": 1001, "status": "finished",
    "ordered": {"at": "2026-11-24T08:00:00Z", "by": "0192f0c1-0001-7b7e-9a55-2f1f3f4a5b6c"},
    "started": {"at": "2026-11-24T08:30:00Z", "by": "0192f0c1-0002-7b7e-9a55-2f1f3f4a5b6c"},
    "finished": {"at": "2026-11-24T09:10:00Z", "by": "0192f0c1-0002-7b7e-9a55-2f1f3f4a5b6c"},
    "revoked": null,
    "result": {"status": "critical", "summary": "Severe neutropenia", "values": {"anc": 0.4}},
    "report_key": "reports/0192f0c1-a000-7b7e-9a55-2f1f3f4a5b6c",
    "version": 3,
    "_links": {"self": {"href": "/api/v1/exams/0192f0c1-a000-7b7e-9a55-2f1f3f4a5b6c"},
               "patient": {"href": "/api/v1/patients/0192f0c1-8c3a-7b7e-9a55-2f1f3f4a5b6c"}}
}))]
pub struct ExamResponse {
    pub id: Uuid,
    pub patient_id: Uuid,
    /// The exam type's code.
    pub exam_type: i32,
    /// `registered`, `started`, `finished` or `revoked`.
    pub status: String,
    pub ordered: ExamStampDto,
    pub started: Option<ExamStampDto>,
    pub finished: Option<ExamStampDto>,
    pub revoked: Option<RevocationDto>,
    pub result: Option<ExamResultDto>,
    /// Where the report file that came with the result lies in the result store.
    pub report_key: Option<String>,
    pub version: i32,
    #[serde(rename = "_links")]
    pub links: Links,
}

impl From<Exam> for ExamResponse {
    fn from(e: Exam) -> Self {
        Self {
            links: links([
                ("self", api(&format!("/exams/{}", e.id))),
                ("patient", api(&format!("/patients/{}", e.patient_id))),
                ("exam_type", api(&format!("/exam-types/{}", e.exam_type))),
            ]),
            id: e.id,
            patient_id: e.patient_id,
            exam_type: e.exam_type.value(),
            status: e.status.as_str().to_owned(),
            ordered: ExamStampDto {
                at: e.ordered.at,
                by: Some(e.ordered.by),
            },
            started: e.started.map(|s| ExamStampDto {
                at: s.at,
                by: Some(s.by),
            }),
            finished: e.finished_at.map(|at| ExamStampDto {
                at,
                by: e.finished_by,
            }),
            revoked: e.revoked.map(|r| RevocationDto {
                at: r.at,
                by: r.by,
                reason: r.reason,
            }),
            result: e.result.map(|r| ExamResultDto {
                status: r.status.as_str().to_owned(),
                summary: r.summary,
                values: r.values,
            }),
            report_key: e.report_key,
            version: e.version,
        }
    }
}

/// An exam to order, or the type a technician confirms when starting one.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"exam_type": 1001}))]
pub struct ExamTypeRequest {
    /// An exam type code of the catalog.
    #[schema(minimum = 1, maximum = 999_999)]
    pub exam_type: i64,
}

/// A started exam and the token to print on the result paper.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "exam": {"id": "0192f0c1-a000-7b7e-9a55-2f1f3f4a5b6c", "status": "started"},
    "exam_token": "eyJ0eXAiOiJleGFtK2p3dCIsImFsZyI6IkhTMjU2In0.eyJleGFtX2lkIjoi...",
    "exam_token_expires_at": "2026-12-24T08:30:00Z"
}))]
pub struct StartedExamResponse {
    pub exam: ExamResponse,
    /// A JWT (HS256, `typ` `exam+jwt`, audience `oncology-registry-exam-results`) carrying
    /// `exam_id`, `patient_id`, `exam_type`, `iat`, `exp` and `jti`. It is not an access token.
    pub exam_token: String,
    pub exam_token_expires_at: DateTime<Utc>,
}

/// Why an exam is revoked.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Ordered twice; see the other order"}))]
pub struct RevokeRequest {
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

/// A result: the exam token printed at start and the result token of the exam execution system.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "exam_token": "eyJ0eXAiOiJleGFtK2p3dCIsImFsZyI6IkhTMjU2In0...",
    "result_token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJleGFtLWV4ZWN1dGlvbi1zeXN0ZW0i..."
}))]
pub struct ResultRequest {
    #[schema(max_length = 8192)]
    pub exam_token: String,
    /// A JWT (HS256, RESULT_TOKEN_SECRET, `iss` RESULT_TOKEN_ISSUER) with `exam_id`, `iat`,
    /// `exp` and `result`: `{"status": "normal|abnormal|critical", "summary", "values"?}`.
    #[schema(max_length = 65536)]
    pub result_token: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExamListQuery {
    patient_id: Option<Uuid>,
    /// The patient's MRN.
    #[param(min_length = 1, max_length = 32, pattern = "^[A-Za-z0-9-]{1,32}$")]
    mrn: Option<String>,
    /// `registered`, `started`, `finished` or `revoked`.
    #[param(pattern = "^(registered|started|finished|revoked)$")]
    status: Option<String>,
    /// An exam type code.
    #[param(minimum = 1, maximum = 999_999)]
    exam_type: Option<i64>,
    /// Ordered at or after (RFC 3339).
    from: Option<DateTime<Utc>>,
    /// Ordered before (RFC 3339).
    to: Option<DateTime<Utc>>,
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u64>,
    #[param(minimum = 0, maximum = 1000000)]
    offset: Option<u64>,
    #[param(pattern = "^[0-9]{1,18}-[0-9a-f]{32}$")]
    cursor: Option<String>,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(order_exam, list_patient_exams))
        .routes(routes!(list_exams))
        .routes(routes!(get_exam))
        .routes(routes!(start_exam))
        .routes(routes!(revoke_exam))
        .routes(routes!(communicate_result))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(submit_exam_result))
                .route_layer(DefaultBodyLimit::max(REPORT_MAX_BYTES)),
        )
}

/// The largest request `POST /exams/{id}/result` takes with a report file.
pub const REPORT_MAX_BYTES: usize = 16 * 1024 * 1024;

/// A result with its report file, as a `multipart/form-data` form. Other fields are refused.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Documents the form; the handler reads it field by field.
pub struct ResultUpload {
    pub exam_token: String,
    pub result_token: String,
    /// The report file (PDF, text, ...), stored in the result store as `reports/{exam_id}`.
    #[schema(value_type = Option<String>, format = Binary)]
    pub report: Option<Vec<u8>>,
}

fn exam_type_of(field: &str, code: i64) -> Result<ExamTypeCode, ApiError> {
    ExamTypeCode::parse(code).map_err(|m| ApiError::invalid_field(field, m))
}

fn with_headers(status: StatusCode, body: impl Serialize, extra: &[(&str, String)]) -> Response {
    let mut response = (status, Json(body)).into_response();
    for (name, value) in extra {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::try_from(*name),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// Orders an exam for an admitted patient (physicians). With an `Idempotency-Key`, a retry with
/// the same key and body answers the first order (`Idempotent-Replayed: true`).
#[utoipa::path(post, path = "/patients/{id}/exams", tag = "exams", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Patient id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: 1-255 visible ASCII characters",
        min_length = 1, max_length = 255, pattern = "^[!-~]{1,255}$")),
    request_body = ExamTypeRequest,
    responses(
        (status = 201, description = "Ordered", body = ExamResponse, headers(("Location" = String))),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only physicians order exams", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such patient", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Patient not admitted, type inactive, or Idempotency-Key reused with another body", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown exam type", body = Problem, content_type = "application/problem+json"),
    ))]
async fn order_exam(
    State(state): State<AppState>,
    Authorized(permit): Authorized<OrderExam>,
    Path(patient_id): Path<Uuid>,
    headers: HeaderMap,
    Json(body): Json<ExamTypeRequest>,
) -> Result<Response, ApiError> {
    let key = idempotency(&headers, &(patient_id, &body))?;
    let exam_type = exam_type_of("exam_type", body.exam_type)?;
    let ordered = state
        .services
        .exams
        .order(&permit, patient_id, exam_type, key)
        .await?;
    let mut extra = vec![("location", api(&format!("/exams/{}", ordered.exam.id)))];
    if ordered.replayed {
        extra.push(("idempotent-replayed", "true".to_owned()));
    }
    Ok(with_headers(
        StatusCode::CREATED,
        ExamResponse::from(ordered.exam),
        &extra,
    ))
}

async fn list_with(
    state: &AppState,
    permit: &crate::services::Permit<ReadExams>,
    path: &str,
    q: ExamListQuery,
    patient_id: Option<Uuid>,
) -> Result<Json<ListResponse<ExamResponse>>, ApiError> {
    let page = page_request(KeyShape::TimeUuid, q.limit, q.offset, q.cursor.as_deref())?;
    let status = parse_optional::<ExamStatus>("status", q.status.as_deref())?;
    let exam_type = q
        .exam_type
        .map(|c| exam_type_of("exam_type", c))
        .transpose()?;
    if let Some(mrn) = &q.mrn {
        Mrn::parse(mrn).map_err(|m| ApiError::invalid_field("mrn", m))?;
    }
    let filter = ExamFilter {
        patient_id: patient_id.or(q.patient_id),
        mrn: q.mrn.clone(),
        status,
        exam_type,
        from: q.from,
        to: q.to,
    };
    let result = state.services.exams.list(permit, &filter, page).await?;
    let query = filter_query(&[
        ("patient_id", q.patient_id.map(|p| p.to_string())),
        ("mrn", q.mrn.clone()),
        ("status", q.status.clone()),
        ("exam_type", q.exam_type.map(|t| t.to_string())),
        ("from", q.from.map(|t| t.to_rfc3339())),
        ("to", q.to.map(|t| t.to_rfc3339())),
    ]);
    let links = page_links(path, &query, &result);
    Ok(Json(ListResponse::new(
        result.map(ExamResponse::from),
        links,
    )))
}

/// Exams, newest order first (physicians, nurses, technicians), filtered by patient, MRN,
/// status, type and order date.
#[utoipa::path(get, path = "/exams", tag = "exams", security(("bearer" = [])),
    params(ExamListQuery),
    responses(
        (status = 200, description = "A page of exams", body = ListResponse<ExamResponse>),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not read exams", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such patient", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid query", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_exams(
    State(state): State<AppState>,
    Authorized(permit): Authorized<ReadExams>,
    Query(q): Query<ExamListQuery>,
) -> Result<Json<ListResponse<ExamResponse>>, ApiError> {
    list_with(&state, &permit, "/exams", q, None).await
}

/// A patient's exams, newest order first (physicians, nurses, technicians).
#[utoipa::path(get, path = "/patients/{id}/exams", tag = "exams", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Patient id"), ExamListQuery),
    responses(
        (status = 200, description = "A page of exams", body = ListResponse<ExamResponse>),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not read exams", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such patient", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid query", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_patient_exams(
    State(state): State<AppState>,
    Authorized(permit): Authorized<ReadExams>,
    Path(patient_id): Path<Uuid>,
    Query(q): Query<ExamListQuery>,
) -> Result<Json<ListResponse<ExamResponse>>, ApiError> {
    let path = format!("/patients/{patient_id}/exams");
    list_with(&state, &permit, &path, q, Some(patient_id)).await
}

/// One exam (physicians, nurses, technicians).
#[utoipa::path(get, path = "/exams/{id}", tag = "exams", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Exam id")),
    responses(
        (status = 200, description = "The exam", body = ExamResponse),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not read exams", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such exam", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid id", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_exam(
    State(state): State<AppState>,
    Authorized(permit): Authorized<ReadExams>,
    Path(id): Path<Uuid>,
) -> Result<Json<ExamResponse>, ApiError> {
    let exam = state.services.exams.get(&permit, id).await?;
    Ok(Json(exam.into()))
}

/// Starts a registered exam (technicians), confirming its type, and returns the exam token to
/// print on the result paper. Of two concurrent starts one wins; the other gets 409.
#[utoipa::path(post, path = "/exams/{id}/start", tag = "exams", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Exam id")),
    request_body = ExamTypeRequest,
    responses(
        (status = 200, description = "Started", body = StartedExamResponse),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only technicians start exams", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such exam", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not registered (already started, finished or revoked), or patient not admitted", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The type does not match the order", body = Problem, content_type = "application/problem+json"),
    ))]
async fn start_exam(
    State(state): State<AppState>,
    Authorized(permit): Authorized<PerformExam>,
    Path(id): Path<Uuid>,
    Json(body): Json<ExamTypeRequest>,
) -> Result<Json<StartedExamResponse>, ApiError> {
    let exam_type = exam_type_of("exam_type", body.exam_type)?;
    let started = state.services.exams.start(&permit, id, exam_type).await?;
    Ok(Json(StartedExamResponse {
        exam: started.exam.into(),
        exam_token: started.token.token,
        exam_token_expires_at: started.token.claims.expires_at,
    }))
}

/// Revokes a registered or started exam (physicians); its exam token no longer finishes it.
#[utoipa::path(post, path = "/exams/{id}/revoke", tag = "exams", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Exam id")),
    request_body = RevokeRequest,
    responses(
        (status = 200, description = "Revoked", body = ExamResponse),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only physicians revoke exams", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such exam", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already finished or revoked", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid reason", body = Problem, content_type = "application/problem+json"),
    ))]
async fn revoke_exam(
    State(state): State<AppState>,
    Authorized(permit): Authorized<RevokeExam>,
    Path(id): Path<Uuid>,
    Json(body): Json<RevokeRequest>,
) -> Result<Json<ExamResponse>, ApiError> {
    let reason =
        parse_revoke_reason(&body.reason).map_err(|m| ApiError::invalid_field("reason", m))?;
    let exam = state.services.exams.revoke(&permit, id, reason).await?;
    Ok(Json(exam.into()))
}

async fn submit(
    state: &AppState,
    permit: &crate::services::Permit<SubmitExamResult>,
    addressed: Option<Uuid>,
    body: &ResultRequest,
    report: Option<Vec<u8>>,
) -> Result<Response, ApiError> {
    let finished = state
        .services
        .exams
        .submit_result(
            permit,
            addressed,
            &body.exam_token,
            &body.result_token,
            report,
        )
        .await?;
    let extra = if finished.replayed {
        vec![("idempotent-replayed", "true".to_owned())]
    } else {
        Vec::new()
    };
    Ok(with_headers(
        StatusCode::OK,
        ExamResponse::from(finished.exam),
        &extra,
    ))
}

/// Hands in a result (technicians, physicians): both tokens must verify and agree (same exam,
/// patient and type), and the exam must be started and not revoked. Finishing stores the
/// result, records its neutrophil count as a lab result and enqueues the patient's
/// notification, all at once. The same result again answers 200 with `Idempotent-Replayed`.
#[utoipa::path(post, path = "/exams/communicate", tag = "exams", security(("bearer" = [])),
    request_body = ResultRequest,
    responses(
        (status = 200, description = "Finished (or already finished with this result)", body = ExamResponse),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not submit results", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such exam", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Exam revoked, not started, finished with another result, or patient not admitted", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A token does not verify, the tokens disagree, or the result is invalid", body = Problem, content_type = "application/problem+json"),
    ))]
async fn communicate_result(
    State(state): State<AppState>,
    Authorized(permit): Authorized<SubmitExamResult>,
    Json(body): Json<ResultRequest>,
) -> Result<Response, ApiError> {
    submit(&state, &permit, None, &body, None).await
}

/// Hands in the result of this exam (technicians, physicians); as `/exams/communicate`, and
/// the tokens must also be for this exam. As `multipart/form-data`, the form's `exam_token` and
/// `result_token` fields come with an optional `report` file (up to 16 MiB), stored in the
/// result store and referenced from the exam (`report_key`) when the result is applied.
#[utoipa::path(post, path = "/exams/{id}/result", tag = "exams", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Exam id")),
    request_body(content(
        (ResultRequest = "application/json"),
        (ResultUpload = "multipart/form-data"),
    )),
    responses(
        (status = 200, description = "Finished (or already finished with this result)", body = ExamResponse),
        (status = 400, description = "A malformed body or form", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not submit results", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such exam", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Exam revoked, not started, finished with another result, or patient not admitted", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Over 16 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Neither application/json nor multipart/form-data", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A token does not verify, the tokens disagree or name another exam, the result is invalid, or a form field is missing", body = Problem, content_type = "application/problem+json"),
    ))]
async fn submit_exam_result(
    State(state): State<AppState>,
    Authorized(permit): Authorized<SubmitExamResult>,
    Path(id): Path<Uuid>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    use axum::extract::FromRequest;
    if media_type(request.headers()).as_deref() != Some("multipart/form-data") {
        let Json(body) = Json::<ResultRequest>::from_request(request, &state).await?;
        return submit(&state, &permit, Some(id), &body, None).await;
    }
    let (body, report) = result_form(request, &state).await?;
    submit(&state, &permit, Some(id), &body, report).await
}

/// The tokens and the optional report file of a `multipart/form-data` result.
async fn result_form(
    request: axum::extract::Request,
    state: &AppState,
) -> Result<(ResultRequest, Option<Vec<u8>>), ApiError> {
    use axum::extract::{FromRequest, Multipart};
    let mut form = Multipart::from_request(request, state)
        .await
        .map_err(|e| ApiError::bad_request(e.body_text()))?;
    let (mut exam_token, mut result_token, mut report) = (None, None, None);
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| ApiError::from_status(e.status()).with_detail(e.body_text()))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        let bytes = field
            .bytes()
            .await
            .map_err(|e| ApiError::from_status(e.status()).with_detail(e.body_text()))?;
        let text = || {
            String::from_utf8(bytes.to_vec())
                .map_err(|_| ApiError::invalid_field(&name, "must be UTF-8 text"))
        };
        match name.as_str() {
            "exam_token" => exam_token = Some(text()?),
            "result_token" => result_token = Some(text()?),
            "report" if !bytes.is_empty() => report = Some(bytes.to_vec()),
            "report" => {}
            other => {
                return Err(ApiError::invalid_field(
                    other,
                    "is not a field of this form",
                ));
            }
        }
    }
    match (exam_token, result_token) {
        (Some(exam_token), Some(result_token)) => Ok((
            ResultRequest {
                exam_token,
                result_token,
            },
            report,
        )),
        (None, _) => Err(ApiError::invalid_field("exam_token", "is required")),
        (_, None) => Err(ApiError::invalid_field("result_token", "is required")),
    }
}
