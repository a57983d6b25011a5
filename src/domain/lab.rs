//! Laboratory results the rules read: the absolute neutrophil count (ANC), in 10^9/L.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::FieldErrors;
use super::observation::CLOCK_SKEW;

/// Which laboratory value. Only those a registry rule uses are accepted, so a value is never
/// stored that nothing reads or checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LabCode {
    /// Absolute neutrophil count, 10^9/L.
    Anc,
}

impl LabCode {
    pub fn as_str(self) -> &'static str {
        match self {
            LabCode::Anc => "anc",
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            LabCode::Anc => "10^9/L",
        }
    }

    /// The values that can be real: an ANC above 100 × 10^9/L is a unit mistake (cells/µL).
    fn plausible(self) -> (f64, f64) {
        match self {
            LabCode::Anc => (0.0, 100.0),
        }
    }
}

impl fmt::Display for LabCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LabCode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "anc" => Ok(LabCode::Anc),
            _ => Err("must be one of: anc".to_owned()),
        }
    }
}

/// A laboratory result to record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NewLabResult {
    pub code: LabCode,
    pub value: f64,
    pub measured_at: DateTime<Utc>,
}

impl NewLabResult {
    pub fn parse(
        code: &str,
        value: Option<f64>,
        measured_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::default();
        let code = e.check("code", code.parse::<LabCode>());
        let value = match (code, value) {
            (_, None) => {
                e.push("value", "is required");
                None
            }
            (_, Some(v)) if !v.is_finite() => {
                e.push("value", "must be a number");
                None
            }
            (Some(code), Some(v)) => {
                let (low, high) = code.plausible();
                if v < low || v > high {
                    e.push(
                        "value",
                        format!(
                            "must be between {low} and {high} {} (is it in cells/µL?)",
                            code.unit()
                        ),
                    );
                    None
                } else {
                    Some(v)
                }
            }
            (None, Some(_)) => None,
        };
        let measured_at = match measured_at {
            None => {
                e.push("measured_at", "is required");
                None
            }
            Some(at) if at > now + CLOCK_SKEW => {
                e.push("measured_at", "must not be in the future");
                None
            }
            Some(at) => Some(at),
        };
        if !e.is_empty() {
            return Err(e);
        }
        Ok(Self {
            code: code.expect("checked"),
            value: value.expect("checked"),
            measured_at: measured_at.expect("checked"),
        })
    }
}

/// A laboratory result as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct LabResult {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub code: LabCode,
    pub value: f64,
    pub measured_at: DateTime<Utc>,
    pub recorded_by: Uuid,
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-24T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn an_anc_in_range_is_accepted() {
        let r = NewLabResult::parse("anc", Some(0.4), Some(now()), now()).unwrap();
        assert_eq!(r.code, LabCode::Anc);
        assert_eq!(r.value, 0.4);
        assert!(NewLabResult::parse("anc", Some(0.0), Some(now()), now()).is_ok());
        assert!(NewLabResult::parse("anc", Some(100.0), Some(now()), now()).is_ok());
    }

    #[test]
    fn bad_results_name_every_field() {
        let err = NewLabResult::parse("crp", None, None, now()).unwrap_err();
        let fields: Vec<&str> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["code", "value", "measured_at"]);
        let err = NewLabResult::parse("anc", Some(1500.0), Some(now()), now()).unwrap_err();
        assert!(err.0[0].message.contains("cells/µL"));
        assert!(NewLabResult::parse("anc", Some(-0.1), Some(now()), now()).is_err());
        assert!(NewLabResult::parse("anc", Some(f64::NAN), Some(now()), now()).is_err());
        let err = NewLabResult::parse("anc", Some(1.0), Some(now() + Duration::hours(1)), now())
            .unwrap_err();
        assert_eq!(err.0[0].field, "measured_at");
    }
}
