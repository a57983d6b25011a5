//! Live streams: the changes a stream can show (its topics), and the parsed request for a stream
//! of Holter trend points.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::FieldErrors;
use super::holter::Smoothing;

/// What kind of change a stream event announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamTopic {
    /// Holter trend points were stored for a patient.
    EcgTrends,
    /// A set of vital signs was charted (or corrected) for a patient.
    VitalSigns,
    /// An alert was raised, acknowledged or resolved.
    Alerts,
}

impl StreamTopic {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EcgTrends => "ecg_trends",
            Self::VitalSigns => "vital_signs",
            Self::Alerts => "alerts",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "ecg_trends" => Some(Self::EcgTrends),
            "vital_signs" => Some(Self::VitalSigns),
            "alerts" => Some(Self::Alerts),
            _ => None,
        }
    }
}

/// One change, as written with it (in its transaction) for streams to follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEvent {
    pub topic: StreamTopic,
    pub patient_id: Uuid,
    /// The changed record (a set of vital signs, an alert); none for a trend upload.
    pub resource_id: Option<Uuid>,
    pub occurred_at: DateTime<Utc>,
}

impl StreamEvent {
    pub fn new(
        topic: StreamTopic,
        patient_id: Uuid,
        resource_id: Option<Uuid>,
        occurred_at: DateTime<Utc>,
    ) -> Self {
        Self {
            topic,
            patient_id,
            resource_id,
            occurred_at,
        }
    }
}

/// The longest window one trend stream replays: a week of a full export is about 38,000 points.
pub const MAX_STREAM_SECONDS: i64 = 7 * 24 * 3600;

/// The most trend types one stream asks for (a full export has 19).
pub const MAX_STREAM_TREND_TYPES: usize = 32;

/// A request for a patient's Holter trend points in a time window, as a client sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrendStreamRequest {
    pub patient_id: Uuid,
    /// Points at or after this instant ...
    pub start: DateTime<Utc>,
    /// ... and before this one.
    pub end: DateTime<Utc>,
    /// Only these trends; empty means every trend.
    pub trend_types: Vec<String>,
    pub smoothing: Smoothing,
    /// Keep streaming points uploaded after the replay.
    pub follow: bool,
}

/// The fields of a trend stream request before parsing.
#[derive(Debug, Clone, Default)]
pub struct TrendStreamFields<'a> {
    pub patient_id: Option<Uuid>,
    pub start_time: Option<DateTime<Utc>>,
    pub duration_seconds: Option<i64>,
    pub trend_types: Option<&'a [String]>,
    pub smoothing: Option<&'a str>,
    pub follow: Option<bool>,
}

impl TrendStreamRequest {
    /// Parses a request, naming every field that is wrong.
    pub fn parse(fields: TrendStreamFields<'_>) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        if fields.patient_id.is_none() {
            errors.push("patient_id", "is required");
        }
        if fields.start_time.is_none() {
            errors.push("start_time", "is required");
        }
        let duration = match fields.duration_seconds {
            None => {
                errors.push("duration_seconds", "is required");
                None
            }
            Some(d) if !(1..=MAX_STREAM_SECONDS).contains(&d) => {
                errors.push(
                    "duration_seconds",
                    format!("must be between 1 and {MAX_STREAM_SECONDS} (7 days)"),
                );
                None
            }
            Some(d) => Some(Duration::seconds(d)),
        };
        let mut trend_types: Vec<String> = Vec::new();
        if let Some(types) = fields.trend_types {
            if types.len() > MAX_STREAM_TREND_TYPES {
                errors.push(
                    "trend_types",
                    format!("at most {MAX_STREAM_TREND_TYPES} trend types"),
                );
            }
            for (i, t) in types.iter().enumerate() {
                match super::bounded_text(t, 1, 64) {
                    Ok(t) if !trend_types.contains(&t) => trend_types.push(t),
                    Ok(_) => {}
                    Err(m) => errors.push(format!("trend_types[{i}]"), m),
                }
            }
        }
        let smoothing = match fields.smoothing {
            None => Some(Smoothing::None),
            Some(text) => errors.check("smoothing", Smoothing::parse(text)),
        };
        let end = match (fields.start_time, duration) {
            (Some(start), Some(d)) => match start.checked_add_signed(d) {
                Some(end) => Some(end),
                None => {
                    errors.push("start_time", "is too far in the future");
                    None
                }
            },
            _ => None,
        };
        match (fields.patient_id, fields.start_time, end, smoothing) {
            (Some(patient_id), Some(start), Some(end), Some(smoothing)) if errors.is_empty() => {
                Ok(Self {
                    patient_id,
                    start,
                    end,
                    trend_types,
                    smoothing,
                    follow: fields.follow.unwrap_or(false),
                })
            }
            _ => Err(errors),
        }
    }

    /// Whether the stream shows this trend.
    pub fn wants(&self, trend_type: &str) -> bool {
        self.trend_types.is_empty() || self.trend_types.iter().any(|t| t == trend_type)
    }

    /// Whether an instant lies in the window.
    pub fn covers(&self, at: DateTime<Utc>) -> bool {
        self.start <= at && at < self.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start() -> DateTime<Utc> {
        "2025-03-01T07:00:00Z".parse().unwrap()
    }

    fn fields(types: &[String]) -> TrendStreamFields<'_> {
        TrendStreamFields {
            patient_id: Some(Uuid::nil()),
            start_time: Some(start()),
            duration_seconds: Some(3600),
            trend_types: Some(types),
            smoothing: Some("median:5"),
            follow: Some(true),
        }
    }

    #[test]
    fn a_complete_request_parses_into_a_window() {
        let types = vec!["TREND_HR".to_owned(), "TREND_HR".to_owned()];
        let r = TrendStreamRequest::parse(fields(&types)).unwrap();
        assert_eq!(r.end - r.start, Duration::hours(1));
        assert_eq!(r.trend_types, vec!["TREND_HR"], "duplicates are dropped");
        assert_eq!(r.smoothing, Smoothing::Median { window: 5 });
        assert!(r.follow);
        assert!(r.wants("TREND_HR") && !r.wants("TREND_RR"));
        assert!(r.covers(start()) && !r.covers(r.end));
    }

    #[test]
    fn no_trend_types_means_every_trend_and_follow_defaults_to_off() {
        let r = TrendStreamRequest::parse(TrendStreamFields {
            trend_types: None,
            follow: None,
            smoothing: None,
            ..fields(&[])
        })
        .unwrap();
        assert!(r.wants("ANYTHING"));
        assert!(!r.follow);
        assert_eq!(r.smoothing, Smoothing::None);
    }

    #[test]
    fn every_wrong_field_is_named() {
        let types = vec![String::new()];
        let errors = TrendStreamRequest::parse(TrendStreamFields {
            patient_id: None,
            start_time: None,
            duration_seconds: Some(0),
            trend_types: Some(&types),
            smoothing: Some("median:4"),
            follow: None,
        })
        .unwrap_err();
        let named: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            named,
            [
                "patient_id",
                "start_time",
                "duration_seconds",
                "trend_types[0]",
                "smoothing"
            ]
        );
    }

    #[test]
    fn the_window_is_bounded_to_a_week() {
        let ok = TrendStreamRequest::parse(TrendStreamFields {
            duration_seconds: Some(MAX_STREAM_SECONDS),
            ..fields(&[])
        });
        assert!(ok.is_ok());
        let too_long = TrendStreamRequest::parse(TrendStreamFields {
            duration_seconds: Some(MAX_STREAM_SECONDS + 1),
            ..fields(&[])
        });
        assert_eq!(too_long.unwrap_err().0[0].field, "duration_seconds");
    }

    #[test]
    fn too_many_trend_types_are_refused() {
        let types: Vec<String> = (0..=MAX_STREAM_TREND_TYPES)
            .map(|i| format!("T{i}"))
            .collect();
        let errors = TrendStreamRequest::parse(fields(&types)).unwrap_err();
        assert_eq!(errors.0[0].field, "trend_types");
    }

    #[test]
    fn topics_round_trip() {
        for t in [
            StreamTopic::EcgTrends,
            StreamTopic::VitalSigns,
            StreamTopic::Alerts,
        ] {
            assert_eq!(StreamTopic::parse(t.as_str()), Some(t));
        }
        assert_eq!(StreamTopic::parse("other"), None);
    }
}
