//! Vital signs: chart a set (one, a batch, or a CSV import), read a patient's chart and its
//! insights, and correct a set by entering it in error. Every created set answers with its
//! NEWS2 result, flags and the alerts it raised.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::alerts::AlertResponse;
use super::extract::{Authorized, Json, Path, Query, media_type, page_request};
use super::links::{Links, api, filter_query, links, page_links};
use super::patients::ListResponse;
use crate::app::AppState;
use crate::domain::FieldErrors;
use crate::domain::news2::{News2Assessment, ScoredValue};
use crate::domain::observation::{ErrorReason, NewObservation, RecordStatus, VitalSignsRecord};
use crate::domain::page::KeyShape;
use crate::domain::vitals::{Flag, ParameterSummary, RawVitalSigns, VitalSigns};
use crate::error::{ApiError, Problem};
use crate::persistence::vital_signs::VitalSignsFilter;
use crate::services::access::{ReadVitalSigns, RecordVitalSigns};
use crate::services::vital_signs::{ChartInsights, Charted, Charting, MAX_BATCH_RECORDS};

/// Declares a request struct holding the observation fields (plus any leading fields), so the
/// single, batch and correction bodies accept exactly the same observation and refuse unknown
/// fields (serde cannot refuse unknown fields through `flatten`).
macro_rules! observation_request {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident: $ty:ty),* $(,)? }) => {
        #[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
        #[serde(deny_unknown_fields)]
        $(#[$meta])*
        pub struct $name {
            $($(#[$fmeta])* pub $field: $ty,)*
            /// When the set was taken (RFC 3339); defaults to now; at most 5 minutes ahead.
            #[serde(default)]
            pub recorded_at: Option<DateTime<Utc>>,
            /// Pulse, beats/min (1-300).
            #[serde(default)]
            pub heart_rate: Option<f64>,
            /// mmHg (40-300).
            #[serde(default)]
            pub systolic_bp: Option<f64>,
            /// mmHg (10-200), below systolic.
            #[serde(default)]
            pub diastolic_bp: Option<f64>,
            /// Breaths/min (1-80).
            #[serde(default)]
            pub respiratory_rate: Option<f64>,
            /// °C (25-45); values that look like °F are refused.
            #[serde(default)]
            pub temperature_c: Option<f64>,
            /// Oxygen saturation, % (30-100).
            #[serde(default)]
            pub spo2: Option<f64>,
            /// Supplemental oxygen at the time of the SpO2 reading.
            #[serde(default)]
            pub on_oxygen: Option<bool>,
            /// ACVPU; `confusion` means new confusion.
            #[serde(default)]
            #[schema(value_type = Option<String>, pattern = "^(alert|confusion|voice|pain|unresponsive)$")]
            pub consciousness: Option<String>,
            /// 0-10, whole numbers.
            #[serde(default)]
            #[schema(minimum = 0, maximum = 10)]
            pub pain_score: Option<f64>,
            /// kg (0.3-500).
            #[serde(default)]
            pub weight_kg: Option<f64>,
            /// Free text, at most 2000 characters.
            #[serde(default)]
            #[schema(max_length = 2000)]
            pub note: Option<String>,
        }

        impl $name {
            fn observation(&self, now: DateTime<Utc>) -> Result<NewObservation, FieldErrors> {
                NewObservation::parse(
                    self.recorded_at,
                    VitalSigns::parse(RawVitalSigns {
                        heart_rate: self.heart_rate,
                        systolic_bp: self.systolic_bp,
                        diastolic_bp: self.diastolic_bp,
                        respiratory_rate: self.respiratory_rate,
                        temperature_c: self.temperature_c,
                        spo2: self.spo2,
                        pain_score: self.pain_score,
                        weight_kg: self.weight_kg,
                        on_oxygen: self.on_oxygen,
                        consciousness: self.consciousness.clone(),
                    }),
                    self.note.as_deref(),
                    now,
                )
            }
        }
    };
}

observation_request!(
    /// One set of observations. At least one measurement.
    #[schema(example = json!({
        "recorded_at": "2026-11-24T08:00:00Z", "heart_rate": 112, "systolic_bp": 98,
        "diastolic_bp": 60, "respiratory_rate": 22, "temperature_c": 38.4, "spo2": 94,
        "on_oxygen": false, "consciousness": "alert", "pain_score": 3, "note": "shivering"
    }))]
    RecordVitalSignsRequest {}
);

observation_request!(
    /// One set of a batch: the patient and the observations.
    #[schema(example = json!({"patient_id": "0192f0c1-8c3a-7b7e-9a55-2f1f3f4a5b6c",
        "heart_rate": 88, "respiratory_rate": 16, "spo2": 97, "on_oxygen": false,
        "systolic_bp": 124, "temperature_c": 36.8, "consciousness": "alert"}))]
    BatchVitalSignsItem {
        patient_id: Uuid,
    }
);

/// Many sets, possibly for many patients, charted all together or not at all.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"records": [
    {"patient_id": "0192f0c1-8c3a-7b7e-9a55-2f1f3f4a5b6c", "heart_rate": 88, "respiratory_rate": 16,
     "spo2": 97, "on_oxygen": false, "systolic_bp": 124, "temperature_c": 36.8,
     "consciousness": "alert"}
]}))]
pub struct BatchVitalSignsRequest {
    /// 1 to 1000 sets.
    pub records: Vec<BatchVitalSignsItem>,
}

/// Enters a set in error, optionally charting the corrected set in its place.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "charted on the wrong patient",
    "replacement": {"recorded_at": "2026-11-24T08:00:00Z", "heart_rate": 84, "spo2": 97,
                    "on_oxygen": false}}))]
pub struct CorrectionRequest {
    /// Why the set is wrong: 3-500 characters.
    #[schema(min_length = 3, max_length = 500)]
    pub reason: String,
    /// The set as it should have been charted.
    #[serde(default)]
    pub replacement: Option<RecordVitalSignsRequest>,
}

/// The measurements of a set as charted.
#[derive(Debug, Serialize, ToSchema)]
pub struct ObservationsDto {
    pub heart_rate: Option<f64>,
    pub systolic_bp: Option<f64>,
    pub diastolic_bp: Option<f64>,
    pub respiratory_rate: Option<f64>,
    pub temperature_c: Option<f64>,
    pub spo2: Option<f64>,
    pub on_oxygen: Option<bool>,
    pub consciousness: Option<String>,
    pub pain_score: Option<u8>,
    pub weight_kg: Option<f64>,
}

/// What a NEWS2 parameter scored: a measurement, or a word (`alert`..`unresponsive`,
/// `air`/`oxygen`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ScoredValueDto {
    Measured(f64),
    Observed(String),
}

/// One NEWS2 parameter: what was observed and the points it scored.
#[derive(Debug, Serialize, ToSchema)]
pub struct News2ParameterDto {
    pub parameter: String,
    pub value: ScoredValueDto,
    pub points: u8,
}

/// The RCP Chart 4 monitoring and response for the score.
#[derive(Debug, Serialize, ToSchema)]
pub struct MonitoringDto {
    /// `twelve_hourly`, `four_to_six_hourly`, `hourly` or `continuous`.
    pub frequency: String,
    /// The clinical response the chart asks for.
    pub response: String,
    /// The longest allowed time until the next set (continuous monitoring: 15 minutes).
    pub interval_minutes: i64,
}

/// NEWS2 (Royal College of Physicians, 2017) of a set.
#[derive(Debug, Serialize, ToSchema)]
pub struct News2Dto {
    /// Total of the parameters present.
    pub score: u8,
    /// `low`, `low_medium` (a single parameter scored 3), `medium` (5-6) or `high` (7+).
    pub risk: String,
    /// Whether all seven parameters were observed; when not, `missing` lists the others and
    /// the score is a lower bound.
    pub complete: bool,
    pub missing: Vec<String>,
    pub any_single_red: bool,
    /// The SpO2 scale the set was scored on.
    pub spo2_scale: u8,
    pub parameters: Vec<News2ParameterDto>,
    pub monitoring: MonitoringDto,
}

impl From<&News2Assessment> for News2Dto {
    fn from(a: &News2Assessment) -> Self {
        Self {
            score: a.score,
            risk: a.risk.as_str().to_owned(),
            complete: a.complete,
            missing: a.missing.iter().map(|p| p.as_str().to_owned()).collect(),
            any_single_red: a.any_single_red,
            spo2_scale: a.spo2_scale.as_u8(),
            parameters: a
                .parameters
                .iter()
                .map(|p| News2ParameterDto {
                    parameter: p.parameter.as_str().to_owned(),
                    value: match p.value {
                        ScoredValue::Measured(v) => ScoredValueDto::Measured(v),
                        other => ScoredValueDto::Observed(other.to_string()),
                    },
                    points: p.points,
                })
                .collect(),
            monitoring: MonitoringDto {
                frequency: a.monitoring.frequency.as_str().to_owned(),
                response: a.monitoring.response.to_owned(),
                interval_minutes: a.monitoring.interval.num_minutes(),
            },
        }
    }
}

/// The normal range a value was judged against.
#[derive(Debug, Serialize, ToSchema)]
pub struct RangeDto {
    pub low: f64,
    pub high: f64,
}

/// A measurement outside its normal range.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlagDto {
    pub parameter: String,
    /// `low`, `high`, `critical_low`, `critical_high`, or `remeasure` (extreme but possible:
    /// measure again before acting).
    pub level: String,
    pub value: f64,
    pub range: RangeDto,
}

impl From<&Flag> for FlagDto {
    fn from(f: &Flag) -> Self {
        Self {
            parameter: f.parameter.as_str().to_owned(),
            level: f.level.as_str().to_owned(),
            value: f.value,
            range: RangeDto {
                low: f.range.low,
                high: f.range.high,
            },
        }
    }
}

/// A charted set of observations.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0192f0c1-9000-7b7e-9a55-2f1f3f4a5b6c", "patient_id": "0192f0c1-8c3a-7b7e-9a55-2f1f3f4a5b6c",
    "recorded_at": "2026-11-24T08:00:00Z", "recorded_by": "0192f0c0-0000-7000-8000-000000000001",
    "status": "final",
    "observations": {"heart_rate": 112.0, "systolic_bp": 98.0, "diastolic_bp": 60.0,
        "respiratory_rate": 22.0, "temperature_c": 38.4, "spo2": 94.0, "on_oxygen": false,
        "consciousness": "alert", "pain_score": 3, "weight_kg": null},
    "note": "shivering",
    "news2": {"score": 8, "risk": "high", "complete": true, "missing": [], "any_single_red": false,
        "spo2_scale": 1,
        "parameters": [{"parameter": "respiratory_rate", "value": 22.0, "points": 2}],
        "monitoring": {"frequency": "continuous", "response": "Emergency assessment by a clinical team", "interval_minutes": 15}},
    "flags": [{"parameter": "heart_rate", "level": "high", "value": 112.0, "range": {"low": 60.0, "high": 100.0}}],
    "alerts": [],
    "_links": {"self": {"href": "/api/v1/vital-signs/0192f0c1-9000-7b7e-9a55-2f1f3f4a5b6c"}}
}))]
pub struct VitalSignsResponse {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: Uuid,
    /// `final`, or `entered_in_error` (kept on the chart, excluded from scores and insights).
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_reason: Option<String>,
    /// The set this one corrects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaces: Option<Uuid>,
    pub observations: ObservationsDto,
    pub note: Option<String>,
    pub news2: News2Dto,
    pub flags: Vec<FlagDto>,
    /// Alerts this set raised (only in the answer to the request that charted it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alerts: Option<Vec<AlertResponse>>,
    #[serde(rename = "_links")]
    pub links: Links,
}

impl VitalSignsResponse {
    pub(crate) fn new(r: VitalSignsRecord, alerts: Option<Vec<AlertResponse>>) -> Self {
        let v = &r.vitals;
        Self {
            links: links([
                ("self", api(&format!("/vital-signs/{}", r.id))),
                ("patient", api(&format!("/patients/{}", r.patient_id))),
                (
                    "chart",
                    api(&format!("/patients/{}/vital-signs", r.patient_id)),
                ),
            ]),
            id: r.id,
            patient_id: r.patient_id,
            recorded_at: r.recorded_at,
            recorded_by: r.recorded_by,
            status: r.status.as_str().to_owned(),
            error_reason: match &r.status {
                RecordStatus::EnteredInError { reason, .. } => Some(reason.as_str().to_owned()),
                RecordStatus::Final => None,
            },
            replaces: r.replaces,
            observations: ObservationsDto {
                heart_rate: v.heart_rate(),
                systolic_bp: v.systolic_bp(),
                diastolic_bp: v.diastolic_bp(),
                respiratory_rate: v.respiratory_rate(),
                temperature_c: v.temperature_c(),
                spo2: v.spo2(),
                on_oxygen: v.on_oxygen(),
                consciousness: v.consciousness().map(|c| c.as_str().to_owned()),
                pain_score: v.pain_score(),
                weight_kg: v.weight_kg(),
            },
            note: r.note.as_ref().map(|n| n.as_str().to_owned()),
            news2: News2Dto::from(&r.news2),
            flags: r.flags.iter().map(FlagDto::from).collect(),
            alerts,
        }
    }

    fn charted(c: Charted) -> Self {
        let alerts = c.alerts.into_iter().map(AlertResponse::from).collect();
        Self::new(c.record, Some(alerts))
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(record_vital_signs, list_vital_signs))
        .routes(routes!(vital_signs_insights))
        .routes(routes!(get_vital_signs))
        .routes(routes!(correct_vital_signs))
        .routes(routes!(batch_vital_signs))
        .routes(routes!(import_vital_signs))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Check every line and report, but store nothing.
    #[serde(default)]
    dry_run: Option<bool>,
}

/// One refused line of an import.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefusedLineDto {
    /// 1-based line in the file (the header is line 1).
    pub line: u64,
    pub mrn: Option<String>,
    pub reason: String,
    pub errors: Vec<crate::error::FieldProblem>,
}

/// What an import did, or for a dry run would do.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"dry_run": false, "rows": 3, "accepted": 2, "alerts_raised": 1,
    "refused": [{"line": 3, "mrn": "MRN-9", "reason": "no patient has this MRN",
                 "errors": [{"field": "mrn", "message": "no patient has this MRN"}]}]}))]
pub struct ImportReportResponse {
    pub dry_run: bool,
    /// Data lines read (the header excluded).
    pub rows: u64,
    /// Sets charted (or that would be, for a dry run).
    pub accepted: u64,
    /// Every line not charted, with its reason.
    pub refused: Vec<RefusedLineDto>,
    pub alerts_raised: u64,
}

/// Imports sets of observations from a CSV file (nurses, physicians).
///
/// The body is the file itself (`text/csv`), with a header row naming any of the columns
/// `mrn` (required), `recorded_at` (RFC 3339), `heart_rate`, `systolic_bp`, `diastolic_bp`,
/// `respiratory_rate`, `temperature_c`, `spo2`, `on_oxygen` (true/false), `consciousness`,
/// `pain_score`, `weight_kg`, `note`. Each line is checked like a single set; lines that
/// cannot be charted (more or fewer fields than the header, not UTF-8, invalid values, unknown
/// MRN, patient not admitted) are reported with their line number and reason, and every other
/// line is charted, scored and alerted on, all in one transaction. With `dry_run=true` nothing is stored. The file is spooled to disk and
/// read in chunks, so its size, not the server's memory, is the limit (`IMPORT_MAX_BYTES`).
#[utoipa::path(post, path = "/vital-signs/import", tag = "vital-signs", security(("bearer" = [])),
    params(ImportQuery),
    request_body(content = String, content_type = "text/csv",
        example = "mrn,recorded_at,heart_rate,respiratory_rate,spo2,on_oxygen,systolic_bp,temperature_c,consciousness\nMRN-004211,2026-11-24T08:00:00Z,88,16,97,false,124,36.8,alert\n"),
    responses(
        (status = 200, description = "Dry run, or nothing charted: the report", body = ImportReportResponse),
        (status = 201, description = "Sets charted: the report", body = ImportReportResponse),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not chart vital signs", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "File larger than IMPORT_MAX_BYTES", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not text/csv", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a CSV file, or a header without known columns; nothing charted", body = Problem, content_type = "application/problem+json"),
    ))]
async fn import_vital_signs(
    State(state): State<AppState>,
    Authorized(permit): Authorized<RecordVitalSigns>,
    Query(q): Query<ImportQuery>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let csv_type = media_type(request.headers()).is_some_and(|v| v == "text/csv");
    if !csv_type {
        return Err(ApiError::from_status(StatusCode::UNSUPPORTED_MEDIA_TYPE)
            .with_detail("send the file as text/csv"));
    }
    let file = spool(request.into_body(), state.import_max_bytes).await?;
    let dry_run = q.dry_run.unwrap_or(false);
    let report = state
        .services
        .vital_signs
        .import_csv(&permit, std::io::BufReader::new(file), dry_run)
        .await?;
    let status = if !dry_run && report.accepted > 0 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(ImportReportResponse {
            dry_run: report.dry_run,
            rows: report.rows,
            accepted: report.accepted,
            alerts_raised: report.alerts_raised,
            refused: report
                .refused
                .into_iter()
                .map(|r| RefusedLineDto {
                    line: r.line,
                    mrn: r.mrn,
                    reason: r.reason,
                    errors: r
                        .errors
                        .into_iter()
                        .map(|e| crate::error::FieldProblem {
                            field: e.field,
                            message: e.message,
                        })
                        .collect(),
                })
                .collect(),
        }),
    )
        .into_response())
}

/// Writes the body to an anonymous temporary file (removed when closed), refusing it with 413
/// once it passes `limit`, and returns the file rewound to its start.
async fn spool(body: axum::body::Body, limit: usize) -> Result<std::fs::File, ApiError> {
    use futures::StreamExt as _;
    use tokio::io::{AsyncSeekExt as _, AsyncWriteExt as _};
    let internal = |e: std::io::Error| ApiError::internal(format!("spooling an import: {e}"));
    let file = tempfile::tempfile().map_err(internal)?;
    let mut out = tokio::fs::File::from_std(file);
    let mut stream = body.into_data_stream();
    let mut written = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("reading the body: {e}")))?;
        written += chunk.len();
        if written > limit {
            return Err(
                ApiError::from_status(StatusCode::PAYLOAD_TOO_LARGE).with_detail(format!(
                    "the file exceeds the import limit of {limit} bytes"
                )),
            );
        }
        out.write_all(&chunk).await.map_err(internal)?;
    }
    out.flush().await.map_err(internal)?;
    out.rewind().await.map_err(internal)?;
    Ok(out.into_std().await)
}

/// Charts a set of observations (nurses, physicians) for an admitted patient.
///
/// The set is scored (NEWS2 on the patient's SpO2 scale), every measurement outside its normal
/// range is flagged, and the alerts the set calls for are raised (NEWS2 medium/high, a single
/// red score, a rise of 2 or more, qSOFA >= 2, febrile neutropenia) unless one of the same kind
/// is still open. Physiologically impossible values and unit mistakes are refused with 422
/// naming each field, and nothing is stored.
#[utoipa::path(post, path = "/patients/{id}/vital-signs", tag = "vital-signs",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Patient id")),
    request_body = RecordVitalSignsRequest,
    responses(
        (status = 201, description = "Charted, scored and flagged, with the alerts raised", body = VitalSignsResponse, headers(("Location" = String))),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not chart vital signs", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such patient", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The patient is not admitted", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Impossible values or invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
async fn record_vital_signs(
    State(state): State<AppState>,
    Authorized(permit): Authorized<RecordVitalSigns>,
    Path(patient_id): Path<Uuid>,
    Json(body): Json<RecordVitalSignsRequest>,
) -> Result<Response, ApiError> {
    let observation = body.observation(Utc::now()).map_err(ApiError::validation)?;
    let charted = state
        .services
        .vital_signs
        .record(
            &permit,
            Charting {
                patient_id,
                observation,
            },
        )
        .await?;
    let location = api(&format!("/vital-signs/{}", charted.record.id));
    let mut response = (
        StatusCode::CREATED,
        Json(VitalSignsResponse::charted(charted)),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

/// One charted set of a batch, in brief: its NEWS2 result, flags and alerts. The full set is
/// at `/vital-signs/{id}`; a batch of a thousand sets answers in kilobytes, not megabytes.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchItemResponse {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub recorded_at: DateTime<Utc>,
    pub news2_score: u8,
    pub risk: String,
    pub complete: bool,
    pub flags: Vec<FlagDto>,
    pub alerts: Vec<AlertResponse>,
}

impl From<Charted> for BatchItemResponse {
    fn from(c: Charted) -> Self {
        Self {
            id: c.record.id,
            patient_id: c.record.patient_id,
            recorded_at: c.record.recorded_at,
            news2_score: c.record.news2.score,
            risk: c.record.news2.risk.as_str().to_owned(),
            complete: c.record.news2.complete,
            flags: c.record.flags.iter().map(FlagDto::from).collect(),
            alerts: c.alerts.into_iter().map(AlertResponse::from).collect(),
        }
    }
}

/// The answer to a batch: every charted set, in the order given.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchVitalSignsResponse {
    pub records: Vec<BatchItemResponse>,
}

/// Charts many sets at once, all or none (nurses, physicians).
///
/// When any set is refused nothing is charted, and the problem lists every refused set by its
/// index with the reason (`failures`).
#[utoipa::path(post, path = "/vital-signs/batch", tag = "vital-signs", security(("bearer" = [])),
    request_body = BatchVitalSignsRequest,
    responses(
        (status = 201, description = "Every set charted", body = BatchVitalSignsResponse),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not chart vital signs", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Every refused set names a patient that does not exist", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Every refused set is for a patient who is not admitted", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid sets (listed in `failures`); nothing charted", body = Problem, content_type = "application/problem+json"),
    ))]
async fn batch_vital_signs(
    State(state): State<AppState>,
    Authorized(permit): Authorized<RecordVitalSigns>,
    Json(body): Json<BatchVitalSignsRequest>,
) -> Result<Response, ApiError> {
    if body.records.is_empty() || body.records.len() > MAX_BATCH_RECORDS {
        return Err(ApiError::invalid_field(
            "records",
            format!("must hold 1 to {MAX_BATCH_RECORDS} records"),
        ));
    }
    let now = Utc::now();
    let mut failures = Vec::new();
    let mut chartings = Vec::with_capacity(body.records.len());
    for (index, item) in body.records.iter().enumerate() {
        match item.observation(now) {
            Ok(observation) => chartings.push(Charting {
                patient_id: item.patient_id,
                observation,
            }),
            Err(errors) => failures.push(crate::services::error::BatchItemError {
                index,
                status: 422,
                reason: "invalid observations".to_owned(),
                errors: errors.prefixed(&format!("records[{index}].")),
            }),
        }
    }
    if !failures.is_empty() {
        return Err(crate::services::ServiceError::BatchRefused(failures).into());
    }
    let charted = state
        .services
        .vital_signs
        .record_batch(&permit, chartings)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(BatchVitalSignsResponse {
            records: charted.into_iter().map(BatchItemResponse::from).collect(),
        }),
    )
        .into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VitalSignsListQuery {
    /// Sets taken at or after this time (RFC 3339).
    from: Option<DateTime<Utc>>,
    /// Sets taken before this time (RFC 3339). A range that ends before it starts matches
    /// nothing, like the audit log's.
    to: Option<DateTime<Utc>>,
    /// Only sets with at least one flag.
    #[serde(default)]
    flagged: Option<bool>,
    /// Also list sets entered in error.
    #[serde(default)]
    include_entered_in_error: Option<bool>,
    /// Page size, 1-200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u64>,
    /// Skip this many sets (offset pages also report `total`).
    #[param(minimum = 0, maximum = 1000000)]
    offset: Option<u64>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^[0-9]{1,18}-[0-9a-f]{32}$")]
    cursor: Option<String>,
}

/// A patient's chart, newest first (nurses, physicians).
#[utoipa::path(get, path = "/patients/{id}/vital-signs", tag = "vital-signs",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Patient id"), VitalSignsListQuery),
    responses(
        (status = 200, description = "A page of the chart", body = ListResponse<VitalSignsResponse>),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not read vital signs", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such patient", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid query", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_vital_signs(
    State(state): State<AppState>,
    Authorized(permit): Authorized<ReadVitalSigns>,
    Path(patient_id): Path<Uuid>,
    Query(q): Query<VitalSignsListQuery>,
) -> Result<Json<ListResponse<VitalSignsResponse>>, ApiError> {
    let page = page_request(KeyShape::TimeUuid, q.limit, q.offset, q.cursor.as_deref())?;
    let filter = VitalSignsFilter {
        from: q.from,
        to: q.to,
        flagged_only: q.flagged.unwrap_or(false),
        include_entered_in_error: q.include_entered_in_error.unwrap_or(false),
    };
    let result = state
        .services
        .vital_signs
        .list(&permit, patient_id, &filter, page)
        .await?;
    let query = filter_query(&[
        ("from", q.from.map(|t| t.to_rfc3339())),
        ("to", q.to.map(|t| t.to_rfc3339())),
        ("flagged", q.flagged.map(|b| b.to_string())),
        (
            "include_entered_in_error",
            q.include_entered_in_error.map(|b| b.to_string()),
        ),
    ]);
    let links = page_links(
        &format!("/patients/{patient_id}/vital-signs"),
        &query,
        &result,
    );
    let page = result.map(|r| VitalSignsResponse::new(r, None));
    Ok(Json(ListResponse::new(page, links)))
}

/// One charted set (nurses, physicians).
#[utoipa::path(get, path = "/vital-signs/{id}", tag = "vital-signs", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Vital signs id")),
    responses(
        (status = 200, description = "The set", body = VitalSignsResponse),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not read vital signs", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such set", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid id", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_vital_signs(
    State(state): State<AppState>,
    Authorized(permit): Authorized<ReadVitalSigns>,
    Path(id): Path<Uuid>,
) -> Result<Json<VitalSignsResponse>, ApiError> {
    let record = state.services.vital_signs.get(&permit, id).await?;
    Ok(Json(VitalSignsResponse::new(record, None)))
}

/// The answer to a correction: the set entered in error and its replacement, if any.
#[derive(Debug, Serialize, ToSchema)]
pub struct CorrectionResponse {
    pub entered_in_error: VitalSignsResponse,
    pub replacement: Option<VitalSignsResponse>,
}

/// Enters a set in error, with a reason, and optionally charts the corrected set
/// (nurses, physicians). Observations are never edited or deleted: the wrong set stays on the
/// chart, marked, and no longer counts in scores, insights or the overview.
#[utoipa::path(post, path = "/vital-signs/{id}/correction", tag = "vital-signs",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Vital signs id")),
    request_body = CorrectionRequest,
    responses(
        (status = 201, description = "Entered in error (and replaced)", body = CorrectionResponse),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not chart vital signs", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such set", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already entered in error", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid reason or replacement", body = Problem, content_type = "application/problem+json"),
    ))]
async fn correct_vital_signs(
    State(state): State<AppState>,
    Authorized(permit): Authorized<RecordVitalSigns>,
    Path(id): Path<Uuid>,
    Json(body): Json<CorrectionRequest>,
) -> Result<Response, ApiError> {
    let mut errors = FieldErrors::default();
    let reason = errors.check("reason", ErrorReason::parse(&body.reason));
    let replacement = match &body.replacement {
        None => None,
        Some(r) => match r.observation(Utc::now()) {
            Ok(o) => Some(o),
            Err(e) => {
                errors.extend(e.prefixed("replacement."));
                None
            }
        },
    };
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let (old, replacement) = state
        .services
        .vital_signs
        .correct(&permit, id, reason.expect("checked"), replacement)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CorrectionResponse {
            entered_in_error: VitalSignsResponse::new(old, None),
            replacement: replacement.map(VitalSignsResponse::charted),
        }),
    )
        .into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InsightsQuery {
    /// How far back to look: a number with `h` (hours) or `d` (days), 1h to 30d; default 24h.
    #[param(
        pattern = "^(([1-9]|[1-9][0-9]|[1-6][0-9]{2}|7[01][0-9]|720)h|([1-9]|[12][0-9]|30)d)$",
        example = "24h"
    )]
    window: Option<String>,
}

fn parse_window(value: Option<&str>) -> Result<Duration, ApiError> {
    let Some(value) = value else {
        return Ok(Duration::hours(24));
    };
    let bad = || ApiError::invalid_field("window", "must be like 24h or 7d, from 1h to 30d");
    let window = if let Some(hours) = value.strip_suffix('h') {
        hours.parse::<i64>().ok().and_then(Duration::try_hours)
    } else if let Some(days) = value.strip_suffix('d') {
        days.parse::<i64>().ok().and_then(Duration::try_days)
    } else {
        None
    }
    .ok_or_else(bad)?;
    if window < Duration::hours(1) || window > Duration::days(30) {
        return Err(bad());
    }
    Ok(window)
}

/// One parameter over the window.
#[derive(Debug, Serialize, ToSchema)]
pub struct ParameterInsightDto {
    pub parameter: String,
    pub latest: f64,
    pub latest_at: DateTime<Utc>,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub count: usize,
    /// Least-squares slope per hour, when there are at least two readings at distinct times.
    pub slope_per_hour: Option<f64>,
    /// `rising`, `falling` or `stable` (the slope against a per-parameter tolerance).
    pub trend: String,
}

impl From<ParameterSummary> for ParameterInsightDto {
    fn from(s: ParameterSummary) -> Self {
        Self {
            parameter: s.parameter.as_str().to_owned(),
            latest: s.latest,
            latest_at: s.latest_at,
            min: s.min,
            max: s.max,
            mean: s.mean,
            count: s.count,
            slope_per_hour: s.slope_per_hour,
            trend: s.trend.as_str().to_owned(),
        }
    }
}

/// One point of the NEWS2 series.
#[derive(Debug, Serialize, ToSchema)]
pub struct News2PointDto {
    pub recorded_at: DateTime<Utc>,
    pub vital_signs_id: Uuid,
    pub score: u8,
    pub risk: String,
}

/// The latest NEWS2 of the patient.
#[derive(Debug, Serialize, ToSchema)]
pub struct LatestNews2Dto {
    pub recorded_at: DateTime<Utc>,
    #[serde(flatten)]
    pub news2: News2Dto,
}

/// Insights of a patient's chart over a window.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "patient_id": "0192f0c1-8c3a-7b7e-9a55-2f1f3f4a5b6c", "window": "24h",
    "from": "2026-11-23T08:00:00Z", "to": "2026-11-24T08:00:00Z",
    "parameters": [{"parameter": "heart_rate", "latest": 112.0, "latest_at": "2026-11-24T07:00:00Z",
        "min": 84.0, "max": 112.0, "mean": 96.5, "count": 4, "slope_per_hour": 1.4, "trend": "rising"}],
    "latest_news2": null, "news2_series": [], "records": 4, "flagged_records": 2,
    "next_due_at": "2026-11-24T08:00:00Z", "overdue": false
}))]
pub struct InsightsResponse {
    pub patient_id: Uuid,
    pub window: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Each observed parameter over the window (standing sets only).
    pub parameters: Vec<ParameterInsightDto>,
    /// The NEWS2 of the latest standing set, even when it is older than the window.
    pub latest_news2: Option<LatestNews2Dto>,
    /// NEWS2 of every standing set in the window, oldest first.
    pub news2_series: Vec<News2PointDto>,
    pub records: usize,
    pub flagged_records: usize,
    /// When the next set is due under the latest NEWS2's monitoring frequency.
    pub next_due_at: Option<DateTime<Utc>>,
    /// Past due (always true for a patient with no observations).
    pub overdue: bool,
}

impl InsightsResponse {
    fn new(window: String, i: ChartInsights) -> Self {
        Self {
            patient_id: i.patient_id,
            window,
            from: i.from,
            to: i.to,
            parameters: i
                .parameters
                .into_iter()
                .map(ParameterInsightDto::from)
                .collect(),
            latest_news2: i.latest_news2.map(|(at, n)| LatestNews2Dto {
                recorded_at: at,
                news2: News2Dto::from(&n),
            }),
            news2_series: i
                .news2_series
                .into_iter()
                .map(|(at, id, score, risk)| News2PointDto {
                    recorded_at: at,
                    vital_signs_id: id,
                    score,
                    risk: risk.as_str().to_owned(),
                })
                .collect(),
            records: i.records,
            flagged_records: i.flagged_records,
            next_due_at: i.next_due_at,
            overdue: i.overdue,
        }
    }
}

/// Insights of a patient's chart (nurses, physicians): per parameter the latest value, min,
/// max, mean and trend; the NEWS2 series; flagged sets; and when the next set is due.
#[utoipa::path(get, path = "/patients/{id}/vital-signs/insights", tag = "vital-signs",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Patient id"), InsightsQuery),
    responses(
        (status = 200, description = "Insights", body = InsightsResponse),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not read vital signs", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such patient", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid window", body = Problem, content_type = "application/problem+json"),
    ))]
async fn vital_signs_insights(
    State(state): State<AppState>,
    Authorized(permit): Authorized<ReadVitalSigns>,
    Path(patient_id): Path<Uuid>,
    Query(q): Query<InsightsQuery>,
) -> Result<Json<InsightsResponse>, ApiError> {
    let window = parse_window(q.window.as_deref())?;
    let insights = state
        .services
        .vital_signs
        .insights(&permit, patient_id, window)
        .await?;
    Ok(Json(InsightsResponse::new(
        q.window.unwrap_or_else(|| "24h".to_owned()),
        insights,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows() {
        assert_eq!(parse_window(None).unwrap(), Duration::hours(24));
        assert_eq!(parse_window(Some("7d")).unwrap(), Duration::days(7));
        assert_eq!(parse_window(Some("1h")).unwrap(), Duration::hours(1));
        for bad in [
            "0h",
            "31d",
            "24",
            "h",
            "",
            "24m",
            "-1h",
            "1000d",
            "9999999999999999h",
            "9999999999999999d",
            "¹û",
            "²h",
        ] {
            assert!(parse_window(Some(bad)).is_err(), "{bad}");
        }
    }
}
