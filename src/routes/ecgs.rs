//! ECG recordings: upload a recording for a patient, read it back (optionally with its samples,
//! bit-exact), read the insights computed when it was stored, list a patient's recordings, and
//! withdraw one. Uploads get a body limit of their own, sized for the largest recording stored.

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::extract::{Authorized, Json, Path, Query, page_request};
use super::links::{Links, api, links, page_links};
use super::patients::ListResponse;
use crate::app::AppState;
use crate::domain::FieldErrors;
use crate::domain::ecg::{Ecg, EcgInsights, EcgRecord, NewEcg, RawLead};
use crate::domain::observation::recorded_at;
use crate::domain::page::KeyShape;
use crate::error::{ApiError, Problem};
use crate::services::access::{DeleteEcg, ReadEcgs, RecordEcg};

/// The body limit of an upload: a 10-minute 12-lead recording at 1 kHz (7.2 million samples,
/// the most `Ecg::parse` accepts) written as JSON integers of up to 11 characters and a comma
/// is at most about 86 MB. Every other route keeps the global `MAX_BODY_BYTES`.
pub const ECG_MAX_BODY_BYTES: usize = 96 * 1024 * 1024;

/// One lead of an upload.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "I", "number_of_samples": 8, "signal": [1, 0, -1, 0, 1, 0, 0, 1]}))]
pub struct EcgLeadRequest {
    /// The lead's label as the device writes it (`I`, `II`, `aVR`, `V1`, `MLII`): 1-16
    /// characters, unique within the recording ignoring case.
    #[schema(min_length = 1, max_length = 16)]
    pub name: String,
    /// The number of samples the sender means to send; when given it must equal the length of
    /// `signal` (catches truncated uploads).
    #[serde(default)]
    pub number_of_samples: Option<i64>,
    /// The samples in ADC units, integers within the 32-bit range; 1 to 1,000,000 per lead.
    // Kept as raw JSON here and parsed in one pass by `RecordEcgRequest::parse`: the body
    // extractor tracks the path of every value it reads, which for tens of thousands of
    // samples cost more than analysing the recording.
    #[schema(value_type = Vec<i64>, min_items = 1, max_items = 1000000)]
    pub signal: Box<serde_json::value::RawValue>,
}

/// An ECG recording: 1-16 leads sharing one sampling rate, at most 7,200,000 samples in all
/// (a 10-minute 12-lead recording at 1 kHz).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "recorded_at": "2026-11-24T08:00:00Z", "sampling_rate_hz": 500,
    "leads": [
        {"name": "I", "number_of_samples": 8, "signal": [1, 0, -1, 0, 1, 0, 0, 1]},
        {"name": "II", "signal": [1, -2, 0, 3, -4, 0, 0, 5, 6, -7]}
    ]
}))]
pub struct RecordEcgRequest {
    /// When the recording was taken (RFC 3339); defaults to now; at most 5 minutes ahead.
    #[serde(default)]
    pub recorded_at: Option<DateTime<Utc>>,
    /// Samples per second of every lead, 50-2000 Hz; default 500.
    #[serde(default)]
    #[schema(minimum = 50, maximum = 2000)]
    pub sampling_rate_hz: Option<i64>,
    /// 1 to 16 leads.
    #[schema(min_items = 1, max_items = 16)]
    pub leads: Vec<EcgLeadRequest>,
}

impl RecordEcgRequest {
    fn parse(self, now: DateTime<Utc>) -> Result<NewEcg, FieldErrors> {
        let mut errors = FieldErrors::default();
        let at = errors.check("recorded_at", recorded_at(self.recorded_at, now));
        let mut leads = Vec::with_capacity(self.leads.len());
        for (index, lead) in self.leads.into_iter().enumerate() {
            match serde_json::from_str::<Vec<i64>>(lead.signal.get()) {
                Ok(signal) => leads.push(RawLead {
                    name: lead.name,
                    number_of_samples: lead.number_of_samples,
                    signal,
                }),
                Err(e) => errors.push(
                    format!("leads[{index}].signal"),
                    format!("must be an array of integers ({e})"),
                ),
            }
        }
        // The recording's own checks need every lead; a lead that is not even a list of
        // integers is reported alone.
        let ecg = match errors.0.iter().any(|e| e.field.starts_with("leads[")) {
            true => None,
            false => match Ecg::parse(self.sampling_rate_hz, leads) {
                Ok(ecg) => Some(ecg),
                Err(e) => {
                    errors.extend(e);
                    None
                }
            },
        };
        match (at, ecg) {
            (Some(recorded_at), Some(ecg)) if errors.is_empty() => Ok(NewEcg { recorded_at, ecg }),
            _ => Err(errors),
        }
    }
}

/// One lead of a stored recording.
#[derive(Debug, Serialize, ToSchema)]
pub struct EcgLeadResponse {
    pub name: String,
    pub number_of_samples: usize,
    /// The samples exactly as uploaded; only with `include=signals`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<Vec<i32>>,
}

/// A stored ECG recording.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0192f0c1-a000-7b7e-9a55-2f1f3f4a5b6c", "patient_id": "0192f0c1-8c3a-7b7e-9a55-2f1f3f4a5b6c",
    "recorded_at": "2026-11-24T08:00:00Z", "recorded_by": "0192f0c0-0000-7000-8000-000000000001",
    "sampling_rate_hz": 500, "lead_count": 2, "samples_per_lead": 10, "total_samples": 18,
    "duration_s": 0.02,
    "leads": [{"name": "I", "number_of_samples": 8}, {"name": "II", "number_of_samples": 10}],
    "created_at": "2026-11-24T08:00:01Z",
    "_links": {"self": {"href": "/api/v1/ecgs/0192f0c1-a000-7b7e-9a55-2f1f3f4a5b6c"},
        "insights": {"href": "/api/v1/ecgs/0192f0c1-a000-7b7e-9a55-2f1f3f4a5b6c/insights"},
        "signals": {"href": "/api/v1/ecgs/0192f0c1-a000-7b7e-9a55-2f1f3f4a5b6c?include=signals"},
        "patient": {"href": "/api/v1/patients/0192f0c1-8c3a-7b7e-9a55-2f1f3f4a5b6c"},
        "collection": {"href": "/api/v1/patients/0192f0c1-8c3a-7b7e-9a55-2f1f3f4a5b6c/ecgs"}}
}))]
pub struct EcgResponse {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: Uuid,
    pub sampling_rate_hz: u32,
    pub lead_count: usize,
    /// The longest lead's number of samples.
    pub samples_per_lead: usize,
    pub total_samples: usize,
    /// `samples_per_lead / sampling_rate_hz`, in seconds.
    pub duration_s: f64,
    /// In the order uploaded.
    pub leads: Vec<EcgLeadResponse>,
    /// The insights computed when the recording was stored; only in the answer to the upload
    /// (afterwards at `_links.insights`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insights: Option<EcgInsightsResponse>,
    pub created_at: DateTime<Utc>,
    #[serde(rename = "_links")]
    pub links: Links,
}

impl EcgResponse {
    fn new(r: EcgRecord, signals: Option<Vec<Vec<i32>>>, with_insights: bool) -> Self {
        let mut signals = signals.map(Vec::into_iter);
        let leads = r
            .leads
            .iter()
            .map(|l| EcgLeadResponse {
                name: l.name.as_str().to_owned(),
                number_of_samples: l.number_of_samples,
                signal: signals.as_mut().and_then(Iterator::next),
            })
            .collect();
        let insights = with_insights.then(|| EcgInsightsResponse::new(r.id, &r.insights));
        Self {
            links: links([
                ("self", api(&format!("/ecgs/{}", r.id))),
                ("insights", api(&format!("/ecgs/{}/insights", r.id))),
                ("signals", api(&format!("/ecgs/{}?include=signals", r.id))),
                ("patient", api(&format!("/patients/{}", r.patient_id))),
                (
                    "collection",
                    api(&format!("/patients/{}/ecgs", r.patient_id)),
                ),
            ]),
            id: r.id,
            patient_id: r.patient_id,
            recorded_at: r.recorded_at,
            recorded_by: r.recorded_by,
            sampling_rate_hz: r.sampling_rate.hz(),
            lead_count: r.lead_count(),
            samples_per_lead: r.samples_per_lead(),
            total_samples: r.total_samples(),
            duration_s: r.duration_s(),
            leads,
            insights,
            created_at: r.created_at,
        }
    }
}

/// Technical quality of a lead.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignalQualityDto {
    /// Peak-to-peak amplitude of at most 2 ADC units, or one value held for 2 s or more
    /// (a detached electrode or a dead channel).
    pub flat_line: bool,
    /// At least 0.5 % of the samples sit at the lead's own minimum or maximum in runs of 3 or
    /// more identical samples (the amplifier or converter saturating). Never set with
    /// `flat_line`.
    pub clipping: bool,
}

/// Figures of one lead, in ADC units.
#[derive(Debug, Serialize, ToSchema)]
pub struct LeadInsightsDto {
    pub name: String,
    /// How often the signal changes sign, ignoring zero samples: a run of zeros between a
    /// positive and a negative sample is one crossing, and touching zero then returning to the
    /// same side is none. `[1, 0, -1, 0, 1, 0, 0, 1]` has 2; `[1, -2, 0, 3, -4, 0, 0, 5, 6, -7]`
    /// has 5. Counted on the stored samples, so a lead with a DC offset may never cross.
    pub number_of_zero_crossings: usize,
    pub min: i32,
    pub max: i32,
    /// Arithmetic mean of the samples.
    pub mean: f64,
    pub quality: SignalQualityDto,
}

/// Heart rate in beats per minute.
#[derive(Debug, Serialize, ToSchema)]
pub struct HeartRateDto {
    /// 60,000 / the mean RR interval (not the mean of instantaneous rates).
    pub mean: f64,
    /// From the longest RR interval.
    pub min: f64,
    /// From the shortest RR interval.
    pub max: f64,
}

/// Time-domain heart rate variability over every detected RR interval (intervals around
/// ectopic beats are not removed, so these are RR-, not NN-based).
#[derive(Debug, Serialize, ToSchema)]
pub struct HrvDto {
    /// Sample standard deviation (divisor n - 1) of the RR intervals, ms.
    pub sdnn_ms: f64,
    /// Root mean square of the successive RR differences, ms.
    pub rmssd_ms: f64,
    /// Percentage (0-100) of successive RR differences larger than 50 ms.
    pub pnn50: f64,
}

/// An RR interval of 2 seconds or more.
#[derive(Debug, Serialize, ToSchema)]
pub struct PauseDto {
    /// The R peak that starts the pause, as a sample index of the analysed lead.
    pub at_sample: usize,
    pub duration_ms: f64,
}

/// The rhythm read from the lead whose QRS complexes stand out most clearly (clean leads
/// before clipping ones; flat leads never).
#[derive(Debug, Serialize, ToSchema)]
pub struct RhythmDto {
    /// The analysed lead's name.
    pub lead: String,
    /// Its 0-based position in `leads`.
    pub lead_index: usize,
    /// Sample indices of the detected R peaks (Pan-Tompkins family detector), ascending.
    pub r_peaks: Vec<usize>,
    /// Null with fewer than two beats.
    pub heart_rate_bpm: Option<HeartRateDto>,
    pub rr_intervals_ms: Vec<f64>,
    /// Null with fewer than three beats.
    pub hrv: Option<HrvDto>,
    /// Mean heart rate below 50 bpm.
    pub bradycardia: bool,
    /// Mean heart rate above 100 bpm.
    pub tachycardia: bool,
    pub pauses: Vec<PauseDto>,
}

/// The insights of a recording, computed once when it was stored and served from there.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "ecg_id": "0192f0c1-a000-7b7e-9a55-2f1f3f4a5b6c",
    "leads": [
        {"name": "I", "number_of_zero_crossings": 2, "min": -1, "max": 1, "mean": 0.25,
         "quality": {"flat_line": false, "clipping": false}},
        {"name": "II", "number_of_zero_crossings": 5, "min": -7, "max": 6, "mean": 0.6,
         "quality": {"flat_line": false, "clipping": false}}
    ],
    "rhythm": {"lead": "II", "lead_index": 1, "r_peaks": [372, 771, 1170],
        "heart_rate_bpm": {"mean": 75.2, "min": 75.2, "max": 75.2},
        "rr_intervals_ms": [798.0, 798.0],
        "hrv": {"sdnn_ms": 0.0, "rmssd_ms": 0.0, "pnn50": 0.0},
        "bradycardia": false, "tachycardia": false, "pauses": []}
}))]
pub struct EcgInsightsResponse {
    pub ecg_id: Uuid,
    /// In lead order.
    pub leads: Vec<LeadInsightsDto>,
    /// Null when every lead is a flat line.
    pub rhythm: Option<RhythmDto>,
}

impl EcgInsightsResponse {
    fn new(ecg_id: Uuid, insights: &EcgInsights) -> Self {
        Self {
            ecg_id,
            leads: insights
                .leads
                .iter()
                .map(|l| LeadInsightsDto {
                    name: l.name.as_str().to_owned(),
                    number_of_zero_crossings: l.number_of_zero_crossings,
                    min: l.statistics.min,
                    max: l.statistics.max,
                    mean: l.statistics.mean,
                    quality: SignalQualityDto {
                        flat_line: l.quality.flat_line,
                        clipping: l.quality.clipping,
                    },
                })
                .collect(),
            rhythm: insights.rhythm.as_ref().map(|r| RhythmDto {
                lead: insights
                    .leads
                    .get(r.lead)
                    .map(|l| l.name.as_str().to_owned())
                    .unwrap_or_default(),
                lead_index: r.lead,
                r_peaks: r.r_peaks.clone(),
                heart_rate_bpm: r.heart_rate_bpm.map(|h| HeartRateDto {
                    mean: h.mean,
                    min: h.min,
                    max: h.max,
                }),
                rr_intervals_ms: r.rr_intervals_ms.clone(),
                hrv: r.hrv.map(|h| HrvDto {
                    sdnn_ms: h.sdnn_ms,
                    rmssd_ms: h.rmssd_ms,
                    pnn50: h.pnn50,
                }),
                bradycardia: r.bradycardia,
                tachycardia: r.tachycardia,
                pauses: r
                    .pauses
                    .iter()
                    .map(|p| PauseDto {
                        at_sample: p.at_sample,
                        duration_ms: p.duration_ms,
                    })
                    .collect(),
            }),
        }
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    // The upload alone gets the large body limit: the innermost limit is the one that applies.
    let upload = OpenApiRouter::new()
        .routes(routes!(record_ecg))
        .route_layer(DefaultBodyLimit::max(ECG_MAX_BODY_BYTES));
    OpenApiRouter::new()
        .merge(upload)
        .routes(routes!(list_ecgs))
        .routes(routes!(get_ecg, delete_ecg))
        .routes(routes!(ecg_insights))
}

/// Stores an ECG recording for an admitted patient (nurses, physicians, technicians).
///
/// Every lead is checked and every problem reported at once with 422, naming the lead and the
/// reason (`leads[2].name`, `leads[0].signal`, `leads[1].number_of_samples`, `leads`,
/// `sampling_rate_hz`); nothing is stored then. The insights (per-lead zero crossings,
/// amplitude and quality; the rhythm with heart rate, HRV and pauses) are computed before the
/// recording is stored and stored with it, so a recording never exists without them. Samples
/// are stored per lead in a compact binary form and given back bit-exact. This route accepts
/// bodies up to 96 MiB (a 10-minute 12-lead recording at 1 kHz); others keep the global limit.
#[utoipa::path(post, path = "/patients/{id}/ecgs", tag = "ecgs",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Patient id")),
    request_body = RecordEcgRequest,
    responses(
        (status = 201, description = "Stored, with its insights", body = EcgResponse, headers(("Location" = String))),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not record ECGs", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such patient", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The patient is not admitted", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid recording (each problem names its field); nothing stored", body = Problem, content_type = "application/problem+json"),
    ))]
async fn record_ecg(
    State(state): State<AppState>,
    Authorized(permit): Authorized<RecordEcg>,
    Path(patient_id): Path<Uuid>,
    Json(body): Json<RecordEcgRequest>,
) -> Result<Response, ApiError> {
    let new = body.parse(Utc::now()).map_err(ApiError::validation)?;
    let record = state.services.ecgs.record(&permit, patient_id, new).await?;
    let location = api(&format!("/ecgs/{}", record.id));
    let mut response = (
        StatusCode::CREATED,
        Json(EcgResponse::new(record, None, true)),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EcgListQuery {
    /// Page size, 1-200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u64>,
    /// Skip this many recordings (offset pages also report `total`).
    #[param(minimum = 0, maximum = 1000000)]
    offset: Option<u64>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^[0-9]{1,18}-[0-9a-f]{32}$")]
    cursor: Option<String>,
}

/// A patient's ECG recordings, newest first, without samples (nurses, physicians,
/// technicians).
#[utoipa::path(get, path = "/patients/{id}/ecgs", tag = "ecgs",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Patient id"), EcgListQuery),
    responses(
        (status = 200, description = "A page of recordings", body = ListResponse<EcgResponse>),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not read ECGs", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such patient", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid query", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_ecgs(
    State(state): State<AppState>,
    Authorized(permit): Authorized<ReadEcgs>,
    Path(patient_id): Path<Uuid>,
    Query(q): Query<EcgListQuery>,
) -> Result<Json<ListResponse<EcgResponse>>, ApiError> {
    let page = page_request(KeyShape::TimeUuid, q.limit, q.offset, q.cursor.as_deref())?;
    let result = state.services.ecgs.list(&permit, patient_id, page).await?;
    let links = page_links(&format!("/patients/{patient_id}/ecgs"), "", &result);
    let page = result.map(|r| EcgResponse::new(r, None, false));
    Ok(Json(ListResponse::new(page, links)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EcgQuery {
    /// `signals` to also return every lead's samples, exactly as uploaded.
    #[param(pattern = "^signals$", example = "signals")]
    include: Option<String>,
}

/// One ECG recording's metadata, and with `include=signals` its samples (nurses, physicians,
/// technicians).
#[utoipa::path(get, path = "/ecgs/{id}", tag = "ecgs", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "ECG id"), EcgQuery),
    responses(
        (status = 200, description = "The recording", body = EcgResponse),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not read ECGs", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such recording (or it, or its patient, was deleted)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid id or query", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_ecg(
    State(state): State<AppState>,
    Authorized(permit): Authorized<ReadEcgs>,
    Path(id): Path<Uuid>,
    Query(q): Query<EcgQuery>,
) -> Result<Json<EcgResponse>, ApiError> {
    let with_signals = match q.include.as_deref() {
        None => false,
        Some("signals") => true,
        Some(_) => return Err(ApiError::invalid_field("include", "must be `signals`")),
    };
    let (record, signals) = state.services.ecgs.get(&permit, id, with_signals).await?;
    Ok(Json(EcgResponse::new(record, signals, false)))
}

/// The insights of an ECG recording (nurses, physicians, technicians), as computed when it was
/// stored: never recomputed.
///
/// Per lead, in lead order: the number of zero crossings (sign changes ignoring zero samples:
/// `[1, 0, -1, 0, 1, 0, 0, 1]` has 2, `[1, -2, 0, 3, -4, 0, 0, 5, 6, -7]` has 5), minimum,
/// maximum and mean in ADC units, and whether the lead is a flat line or clipping. The rhythm
/// comes from the lead with the clearest QRS complexes: R peaks (sample indices), RR intervals,
/// heart rate (mean = 60,000 / mean RR; min from the longest RR, max from the shortest), HRV
/// over every RR interval (SDNN with divisor n - 1, RMSSD, pNN50 as a percentage of successive
/// differences over 50 ms), bradycardia (mean < 50 bpm), tachycardia (mean > 100 bpm) and
/// pauses (RR >= 2 s). `rhythm` is null when every lead is flat; heart rate needs two beats and
/// HRV three.
#[utoipa::path(get, path = "/ecgs/{id}/insights", tag = "ecgs", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "ECG id")),
    responses(
        (status = 200, description = "The stored insights", body = EcgInsightsResponse),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not read ECGs", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such recording (or it, or its patient, was deleted)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid id", body = Problem, content_type = "application/problem+json"),
    ))]
async fn ecg_insights(
    State(state): State<AppState>,
    Authorized(permit): Authorized<ReadEcgs>,
    Path(id): Path<Uuid>,
) -> Result<Json<EcgInsightsResponse>, ApiError> {
    let record = state.services.ecgs.insights(&permit, id).await?;
    Ok(Json(EcgInsightsResponse::new(record.id, &record.insights)))
}

/// Withdraws an ECG recording (physicians): it leaves every read and list but is kept.
#[utoipa::path(delete, path = "/ecgs/{id}", tag = "ecgs", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "ECG id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only physicians delete ECGs", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such recording (or already deleted)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid id", body = Problem, content_type = "application/problem+json"),
    ))]
async fn delete_ecg(
    State(state): State<AppState>,
    Authorized(permit): Authorized<DeleteEcg>,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    state.services.ecgs.delete(&permit, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
