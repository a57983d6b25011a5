//! A recorded observation set on the chart: the vital signs, when and by whom, the NEWS2 result
//! and flags computed at recording, and whether it was later entered in error.
//!
//! Clinical observations are never edited or deleted: a correction is a new record, and the old
//! one is marked `entered_in_error` with a reason, so the chart shows what was charted and when.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::news2::{News2Assessment, News2Score};
use super::vitals::{Flag, Spo2Scale, VitalSigns, flags};
use super::{FieldErrors, bounded_text};

/// How far in the future a `recorded_at` may lie: the clocks of bedside devices and of the
/// server are never exactly in step.
pub const CLOCK_SKEW: Duration = Duration::minutes(5);

/// A free-text remark about the set ("patient agitated during measurement").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservationNote(String);

impl ObservationNote {
    pub fn parse(value: &str) -> Result<Self, String> {
        bounded_text(value, 1, 2000).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a record was entered in error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReason(String);

impl ErrorReason {
    pub fn parse(value: &str) -> Result<Self, String> {
        bounded_text(value, 3, 500).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A time as the registry keeps it: to the microsecond, the precision both databases store, so
/// a time read back equals the time written (cursors and comparisons depend on it).
pub fn stored_precision(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::SubsecRound;
    t.trunc_subsecs(6)
}

/// The time a set was taken: `now` when not given, never more than `CLOCK_SKEW` ahead of now,
/// to the microsecond.
pub fn recorded_at(
    given: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, String> {
    match given.map(stored_precision) {
        None => Ok(stored_precision(now)),
        Some(at) if at > now + CLOCK_SKEW => Err(format!(
            "must not be more than {} minutes in the future",
            CLOCK_SKEW.num_minutes()
        )),
        Some(at) => Ok(at),
    }
}

/// A set to record: parsed observations plus when it was taken and an optional note.
#[derive(Debug, Clone, PartialEq)]
pub struct NewObservation {
    pub recorded_at: DateTime<Utc>,
    pub vitals: VitalSigns,
    pub note: Option<ObservationNote>,
}

impl NewObservation {
    /// Collects the errors of the parts into one list.
    pub fn parse(
        recorded_at_given: Option<DateTime<Utc>>,
        vitals: Result<VitalSigns, FieldErrors>,
        note: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::default();
        let at = e.check("recorded_at", recorded_at(recorded_at_given, now));
        let note = note.and_then(|n| e.check("note", ObservationNote::parse(n)));
        let vitals = match vitals {
            Ok(v) => Some(v),
            Err(errors) => {
                e.extend(errors);
                None
            }
        };
        if !e.is_empty() {
            return Err(e);
        }
        Ok(Self {
            recorded_at: at.expect("checked"),
            vitals: vitals.expect("checked"),
            note,
        })
    }
}

/// Whether the record stands on the chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordStatus {
    Final,
    EnteredInError {
        reason: ErrorReason,
        by: Uuid,
        at: DateTime<Utc>,
    },
}

impl RecordStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            RecordStatus::Final => "final",
            RecordStatus::EnteredInError { .. } => "entered_in_error",
        }
    }
}

/// One observation set as it stands on the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct VitalSignsRecord {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: Uuid,
    pub vitals: VitalSigns,
    pub note: Option<ObservationNote>,
    /// The scale the patient was on when the set was scored.
    pub spo2_scale: Spo2Scale,
    pub news2: News2Assessment,
    pub flags: Vec<Flag>,
    pub status: RecordStatus,
    /// The record this one corrects.
    pub replaces: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl VitalSignsRecord {
    /// Scores and flags a new set for `patient_id`. The score is computed once, here, with the
    /// patient's scale at the time, and kept: a later change of scale does not rewrite history.
    pub fn score(
        id: Uuid,
        patient_id: Uuid,
        recorded_by: Uuid,
        new: NewObservation,
        spo2_scale: Spo2Scale,
        replaces: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Self {
        let news2 = News2Score::assess(&new.vitals, spo2_scale);
        let flags = flags(&new.vitals, spo2_scale);
        Self {
            id,
            patient_id,
            recorded_at: new.recorded_at,
            recorded_by,
            vitals: new.vitals,
            note: new.note,
            spo2_scale,
            news2,
            flags,
            status: RecordStatus::Final,
            replaces,
            created_at: now,
        }
    }

    pub fn is_flagged(&self) -> bool {
        !self.flags.is_empty()
    }

    pub fn is_final(&self) -> bool {
        self.status == RecordStatus::Final
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::news2::ClinicalRisk;
    use crate::domain::vitals::RawVitalSigns;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-24T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn recorded_at_defaults_to_now_and_allows_only_a_small_skew() {
        assert_eq!(recorded_at(None, now()).unwrap(), now());
        assert!(recorded_at(Some(now() + CLOCK_SKEW), now()).is_ok());
        assert!(recorded_at(Some(now() + CLOCK_SKEW + Duration::seconds(1)), now()).is_err());
        assert!(recorded_at(Some(now() - Duration::days(3)), now()).is_ok());
    }

    #[test]
    fn parse_collects_errors_of_every_part() {
        let vitals = VitalSigns::parse(RawVitalSigns {
            heart_rate: Some(400.0),
            ..Default::default()
        });
        let err =
            NewObservation::parse(Some(now() + Duration::hours(1)), vitals, Some("  "), now())
                .unwrap_err();
        let fields: Vec<&str> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["recorded_at", "note", "heart_rate"]);
    }

    #[test]
    fn a_scored_record_keeps_its_scale_and_flags() {
        let vitals = VitalSigns::parse(RawVitalSigns {
            respiratory_rate: Some(26.0),
            spo2: Some(90.0),
            on_oxygen: Some(true),
            systolic_bp: Some(88.0),
            heart_rate: Some(135.0),
            consciousness: Some("voice".into()),
            temperature_c: Some(39.5),
            ..Default::default()
        })
        .unwrap();
        let new = NewObservation::parse(None, Ok(vitals), None, now()).unwrap();
        let record = VitalSignsRecord::score(
            Uuid::nil(),
            Uuid::nil(),
            Uuid::nil(),
            new,
            Spo2Scale::One,
            None,
            now(),
        );
        // 3 + 3 + 2 + 3 + 3 + 3 + 2
        assert_eq!(record.news2.score, 19);
        assert_eq!(record.news2.risk, ClinicalRisk::High);
        assert!(record.is_flagged());
        assert!(record.is_final());
        assert_eq!(record.spo2_scale, Spo2Scale::One);
    }
}
