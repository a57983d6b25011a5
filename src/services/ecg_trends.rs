//! Holter trend use cases: import a trend export for a patient (parsed as a stream, stored all or
//! nothing, a repeated upload adding nothing) and read trends back, optionally smoothed.

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::Utc;
use chrono_tz::Tz;
use uuid::Uuid;

use super::ServiceError;
use super::access::{Permit, ReadEcgs, RecordEcg};
use super::audit::AuditLog;
use super::vital_signs::append_events;
use crate::domain::FieldErrors;
use crate::domain::audit::{AuditAction, AuditOutcome, ResourceType};
use crate::domain::holter::{
    DEFAULT_MAX_POINTS, Smoothing, StoredTrendPoint, TrendComponent, TrendImport, parse_trend_file,
    series, smooth,
};
use crate::domain::observation::stored_precision;
use crate::domain::patient::PatientStatus;
use crate::domain::stream::{StreamEvent, StreamTopic};
use crate::persistence::Database;
use crate::persistence::ecg_trends::{EcgTrendRepository, TrendFilter};
use crate::persistence::patients::PatientRepository;
use crate::persistence::stream_events::StreamEventRepository;

/// The most points one read returns: a day of the 19 trends of a full export is 5,472.
pub const MAX_POINTS_PER_READ: u64 = 50_000;

/// Consecutive values further apart than this are a gap smoothing never bridges: twice the
/// five-minute averaging period of the exports the ward receives.
pub const SMOOTHING_MAX_GAP_SECONDS: i64 = 600;

/// What an upload stored.
#[derive(Debug, Clone)]
pub struct TrendUpload {
    pub inserted_rows: u64,
    pub import: TrendImport,
}

/// A point as read back: the stored values, and the smoothed ones when smoothing was asked for.
#[derive(Debug, Clone)]
pub struct TrendReading {
    pub point: StoredTrendPoint,
    pub min: Option<f64>,
    pub avg: Option<f64>,
    pub max: Option<f64>,
}

#[derive(Clone)]
pub struct EcgTrendService {
    db: Database,
    audit: AuditLog,
    ward_timezone: Tz,
}

impl EcgTrendService {
    pub fn new(db: Database, audit: AuditLog, ward_timezone: Tz) -> Self {
        Self {
            db,
            audit,
            ward_timezone,
        }
    }

    /// The zone device-local times are read in when an upload names none.
    pub fn ward_timezone(&self) -> Tz {
        self.ward_timezone
    }

    /// Parses and stores a trend export for the patient in the path (never the file's own
    /// patient identity). A malformed file is refused whole with its line and reason.
    pub async fn upload(
        &self,
        permit: &Permit<RecordEcg>,
        patient_id: Uuid,
        file: Bytes,
        zone: Tz,
    ) -> Result<TrendUpload, ServiceError> {
        let actor = permit.actor();
        // Parsing a large file is CPU work: keep it off the threads that serve requests.
        let import = tokio::task::spawn_blocking(move || {
            parse_trend_file(std::io::Cursor::new(file), zone, DEFAULT_MAX_POINTS)
        })
        .await
        .map_err(ServiceError::internal)?
        .map_err(|e| {
            let mut errors = FieldErrors::default();
            errors.push("file", e.to_string());
            ServiceError::Invalid(errors)
        })?;
        let now = stored_precision(Utc::now());
        let txn = self.db.begin().await?;
        let patient = PatientRepository::lock(&txn, patient_id)
            .await?
            .ok_or(ServiceError::NotFound("patient"))?;
        if patient.status != PatientStatus::Admitted {
            return Err(ServiceError::Conflict(
                "trends are uploaded for admitted patients only".to_owned(),
            ));
        }
        let inserted_rows =
            EcgTrendRepository::insert(&txn, patient_id, &import, actor.user_id, now).await?;
        let mut event = actor.event(
            AuditAction::Create,
            ResourceType::Ecg,
            Some(patient_id.to_string()),
            AuditOutcome::Success,
        );
        event.reason = Some(format!("holter trends: {inserted_rows} points"));
        append_events(&txn, &[event]).await?;
        if inserted_rows > 0 {
            // Followers of this patient's trend stream pick the new points up from the feed.
            let feed = StreamEvent::new(StreamTopic::EcgTrends, patient_id, None, now);
            StreamEventRepository::append(&txn, &[feed]).await?;
        }
        txn.commit().await?;
        Ok(TrendUpload {
            inserted_rows,
            import,
        })
    }

    /// The patient's trend points in time order per trend, smoothed per trend when asked.
    pub async fn read(
        &self,
        permit: &Permit<ReadEcgs>,
        patient_id: Uuid,
        filter: &TrendFilter,
        smoothing: Smoothing,
    ) -> Result<Vec<TrendReading>, ServiceError> {
        let points = window_points(&self.db, patient_id, filter).await?;
        self.audit
            .record(permit.actor().event(
                AuditAction::Read,
                ResourceType::Ecg,
                Some(patient_id.to_string()),
                AuditOutcome::Success,
            ))
            .await?;
        Ok(readings(points, smoothing))
    }
}

/// The patient's points that `filter` selects, by trend then time; refused when the patient
/// does not exist or the range holds more than `MAX_POINTS_PER_READ` points.
pub(crate) async fn window_points(
    db: &Database,
    patient_id: Uuid,
    filter: &TrendFilter,
) -> Result<Vec<StoredTrendPoint>, ServiceError> {
    PatientRepository::find(db.reader(), patient_id)
        .await?
        .ok_or(ServiceError::NotFound("patient"))?;
    let points =
        EcgTrendRepository::points(db.reader(), patient_id, filter, MAX_POINTS_PER_READ + 1)
            .await?;
    if points.len() as u64 > MAX_POINTS_PER_READ {
        return Err(ServiceError::invalid(
            "to",
            &format!(
                "the range holds more than {MAX_POINTS_PER_READ} points; narrow it with from/to or trend_type"
            ),
        ));
    }
    Ok(points)
}

/// Points (grouped by trend, in time order within each) with their smoothed values: each trend
/// is smoothed on its own.
pub(crate) fn readings(points: Vec<StoredTrendPoint>, smoothing: Smoothing) -> Vec<TrendReading> {
    let mut by_trend: BTreeMap<String, Vec<StoredTrendPoint>> = BTreeMap::new();
    for p in points {
        by_trend.entry(p.trend_type.clone()).or_default().push(p);
    }
    let mut readings = Vec::new();
    for (_, points) in by_trend {
        let smoothed = |c| smooth(&series(&points, c), smoothing, SMOOTHING_MAX_GAP_SECONDS);
        let (min, avg, max) = (
            smoothed(TrendComponent::Min),
            smoothed(TrendComponent::Avg),
            smoothed(TrendComponent::Max),
        );
        for (i, point) in points.into_iter().enumerate() {
            readings.push(TrendReading {
                point,
                min: min[i],
                avg: avg[i],
                max: max[i],
            });
        }
    }
    readings
}
