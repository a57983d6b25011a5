//! Holter trends: upload a trend export for a patient, read its points back (optionally
//! smoothed).

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::extract::{Authorized, Json, Path, Query, media_type};
use crate::app::AppState;
use crate::domain::holter::Smoothing;
use crate::error::{ApiError, Problem};
use crate::persistence::ecg_trends::TrendFilter;
use crate::services::access::{ReadEcgs, RecordEcg};
use crate::services::ecg_trends::TrendReading;

/// The largest trend file taken: a 48-hour export of every trend is under 2 MiB.
pub const TREND_FILE_MAX_BYTES: usize = 16 * 1024 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload_trends, read_trends))
        .route_layer(DefaultBodyLimit::max(TREND_FILE_MAX_BYTES))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// IANA zone the recorder's clock was set to (the file's times carry none); defaults to
    /// `WARD_TIMEZONE`.
    #[param(example = "Europe/Rome", max_length = 64)]
    timezone: Option<String>,
}

/// One trend of an upload.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrendCountDto {
    pub trend_type: String,
    pub units: String,
    pub count: usize,
}

/// A trend point as read back. With smoothing, the three values are the smoothed ones.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrendPointDto {
    pub trend_type: String,
    pub units: String,
    /// The device-local time as the file wrote it (`yyyymmddHHMMSS`).
    pub date_time_hl7: String,
    /// Null when absent: marked invalid by the trend, or a recording gap.
    pub min_value: Option<f64>,
    pub avg_value: Option<f64>,
    pub max_value: Option<f64>,
    pub valid: bool,
    /// The instant in UTC (RFC 3339).
    pub date_time_iso: DateTime<Utc>,
}

impl From<TrendReading> for TrendPointDto {
    fn from(r: TrendReading) -> Self {
        Self {
            trend_type: r.point.trend_type,
            units: r.point.units,
            date_time_hl7: r.point.date_time_hl7,
            min_value: r.min,
            avg_value: r.avg,
            max_value: r.max,
            valid: r.point.valid,
            date_time_iso: r.point.at,
        }
    }
}

/// What an upload stored.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"inserted_rows": 5472,
    "trends": [{"trend_type": "TREND_HR", "units": "BPM", "count": 288}],
    "sample": [{"trend_type": "TREND_ST_I", "units": "UV", "date_time_hl7": "20250301080000",
        "min_value": -20.0, "avg_value": 5.0, "max_value": 30.0, "valid": true,
        "date_time_iso": "2025-03-01T07:00:00Z"}]}))]
pub struct TrendUploadResponse {
    /// Points stored by this upload (0 when the same file was uploaded before).
    pub inserted_rows: u64,
    pub trends: Vec<TrendCountDto>,
    /// The first few points of the file, as stored.
    pub sample: Vec<TrendPointDto>,
}

/// Uploads a Holter trend export (`HOLTER_STATISTICS`/`TRENDS`/`TREND`/`TREND_VALUE`) for an
/// admitted patient (nurses, physicians, technicians), as the raw body (`application/xml`) or as
/// the `file` field of a `multipart/form-data` form.
///
/// The file is parsed as a stream and stored all or nothing: malformed XML, a missing attribute,
/// an unparseable timestamp or a duplicate point refuses it with 422 naming the line. Device-local
/// times are converted to UTC with `timezone` (default `WARD_TIMEZONE`); MIN/MAX that the trend
/// marks invalid are stored as absent; 0/0/0 heart rate or RR values are recording gaps, stored as
/// absent. The patient is the one in the path, never the file's own identity. Uploading the same
/// file again stores nothing new (`inserted_rows` 0).
#[utoipa::path(post, path = "/patients/{id}/ecg-trends", tag = "ecgs", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Patient id"), UploadQuery),
    request_body(content = String, content_type = "application/xml",
        example = "<HOLTER_STATISTICS><TRENDS><TREND TREND_TYPE=\"TREND_HR\" UNITS=\"BPM\"><TREND_VALUE DATE_TIME_HL7=\"20250301080000\" MIN_VALUE=\"60\" AVG_VALUE=\"72\" MAX_VALUE=\"90\" VALID=\"TRUE\"/></TREND></TRENDS></HOLTER_STATISTICS>"),
    responses(
        (status = 201, description = "Stored", body = TrendUploadResponse),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not upload ECG data", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such patient", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The patient is not admitted", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "File over 16 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Neither application/xml nor multipart/form-data", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Malformed file (line and reason) or unknown time zone", body = Problem, content_type = "application/problem+json"),
    ))]
async fn upload_trends(
    State(state): State<AppState>,
    Authorized(permit): Authorized<RecordEcg>,
    Path(patient_id): Path<Uuid>,
    Query(q): Query<UploadQuery>,
    request: axum::extract::Request,
) -> Result<(StatusCode, Json<TrendUploadResponse>), ApiError> {
    let body = trend_file(request, &state).await?;
    let service = &state.services.ecg_trends;
    let zone = match q.timezone.as_deref() {
        None => service.ward_timezone(),
        Some(name) => name.parse::<chrono_tz::Tz>().map_err(|_| {
            ApiError::invalid_field("timezone", format!("'{name}' is not an IANA time zone"))
        })?,
    };
    let upload = service.upload(&permit, patient_id, body, zone).await?;
    let import = upload.import;
    let sample = import
        .points
        .iter()
        .take(5)
        .map(|p| {
            let trend = &import.trends[p.trend];
            TrendPointDto {
                trend_type: trend.trend_type.clone(),
                units: trend.units.clone(),
                date_time_hl7: p.date_time_hl7.clone(),
                min_value: p.min_value.map(f64::from),
                avg_value: p.avg_value.map(f64::from),
                max_value: p.max_value.map(f64::from),
                valid: p.valid,
                date_time_iso: p.at,
            }
        })
        .collect();
    Ok((
        StatusCode::CREATED,
        Json(TrendUploadResponse {
            inserted_rows: upload.inserted_rows,
            trends: import
                .trends
                .iter()
                .map(|t| TrendCountDto {
                    trend_type: t.trend_type.clone(),
                    units: t.units.clone(),
                    count: t.count,
                })
                .collect(),
            sample,
        }),
    ))
}

/// The uploaded file: the raw `application/xml` body, or the `file` field of a
/// `multipart/form-data` form (what a browser's file input sends).
async fn trend_file(request: axum::extract::Request, state: &AppState) -> Result<Bytes, ApiError> {
    use axum::extract::{FromRequest, Multipart};
    match media_type(request.headers()).as_deref() {
        Some("application/xml" | "text/xml") => Bytes::from_request(request, state)
            .await
            .map_err(|e| ApiError::from_status(e.status())),
        Some("multipart/form-data") => {
            let mut form = Multipart::from_request(request, state)
                .await
                .map_err(|e| ApiError::bad_request(e.body_text()))?;
            while let Some(field) = form
                .next_field()
                .await
                .map_err(|e| ApiError::from_status(e.status()).with_detail(e.body_text()))?
            {
                if field.name() == Some("file") {
                    return field.bytes().await.map_err(|e| {
                        ApiError::from_status(e.status()).with_detail(e.body_text())
                    });
                }
            }
            Err(ApiError::invalid_field("file", "the form has no `file` field"))
        }
        _ => Err(ApiError::from_status(StatusCode::UNSUPPORTED_MEDIA_TYPE)
            .with_detail("send the trend file as application/xml or as the `file` field of multipart/form-data")),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TrendQuery {
    /// Only this trend, e.g. `TREND_HR`.
    #[param(max_length = 64)]
    trend_type: Option<String>,
    /// Points at or after this instant (RFC 3339).
    from: Option<DateTime<Utc>>,
    /// Points before this instant (RFC 3339).
    to: Option<DateTime<Utc>>,
    /// `none` (default), `moving_average:N` or `median:N` with N odd, 1-51: a centred window per
    /// trend that never reaches across a gap (a missing value, or values more than 10 minutes
    /// apart); missing values stay missing.
    #[param(
        pattern = "^(none|(moving_average|median):([13579]|[1-4][13579]|51))$",
        example = "median:5"
    )]
    smoothing: Option<String>,
}

/// A patient's trend points, by trend then time (nurses, physicians, technicians).
#[derive(Debug, Serialize, ToSchema)]
pub struct TrendPointsResponse {
    pub points: Vec<TrendPointDto>,
}

/// Reads a patient's Holter trend points, optionally smoothed.
#[utoipa::path(get, path = "/patients/{id}/ecg-trends", tag = "ecgs", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Patient id"), TrendQuery),
    responses(
        (status = 200, description = "Points", body = TrendPointsResponse),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not read ECG data", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such patient", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid query, or more than 50,000 points in range", body = Problem, content_type = "application/problem+json"),
    ))]
async fn read_trends(
    State(state): State<AppState>,
    Authorized(permit): Authorized<ReadEcgs>,
    Path(patient_id): Path<Uuid>,
    Query(q): Query<TrendQuery>,
) -> Result<Json<TrendPointsResponse>, ApiError> {
    let smoothing = match q.smoothing.as_deref() {
        None => Smoothing::None,
        Some(text) => {
            Smoothing::parse(text).map_err(|m| ApiError::invalid_field("smoothing", m))?
        }
    };
    if q.trend_type
        .as_ref()
        .is_some_and(|t| t.chars().count() > 64)
    {
        return Err(ApiError::invalid_field(
            "trend_type",
            "must be at most 64 characters",
        ));
    }
    let filter = TrendFilter {
        trend_types: q.trend_type.into_iter().collect(),
        from: q.from,
        to: q.to,
    };
    let readings = state
        .services
        .ecg_trends
        .read(&permit, patient_id, &filter, smoothing)
        .await?;
    Ok(Json(TrendPointsResponse {
        points: readings.into_iter().map(Into::into).collect(),
    }))
}
