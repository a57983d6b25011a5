//! ECG recordings as parsed values: sampling rate, named leads and signals, checked on entry.
//!
//! A recording is built only through [`Ecg::parse`], which collects every problem of an upload
//! at once, so an `Ecg` that exists already satisfies the limits the analyses below rely on
//! (non-empty leads, bounded sizes, 32-bit samples).

mod codec;
mod insights;
mod record;
mod rhythm;
mod signal;
mod wfdb;

use std::fmt;

pub use codec::{CODEC_VERSION, CodecError, decode_signal, encode_signal};
pub use insights::{EcgInsights, LeadInsights};
pub use record::{EcgRecord, LeadShape, NewEcg};
pub use rhythm::{
    BRADYCARDIA_BELOW_BPM, HeartRate, Hrv, PAUSE_FROM_MS, Pause, Rhythm, TACHYCARDIA_ABOVE_BPM,
    best_lead, detect_r_peaks,
};
pub use signal::{
    CLIPPING_MIN_FRACTION, CLIPPING_MIN_RUN, FLAT_LINE_MAX_PEAK_TO_PEAK, FLAT_LINE_MIN_RUN_MS,
    LeadStatistics, SignalQuality, zero_crossings,
};
pub use wfdb::{
    Annotation, decode_format_16, decode_format_212, is_beat, parse_mit_annotations,
    signal_checksum,
};

use super::FieldErrors;

/// How many samples per second each lead holds, in Hz.
///
/// Uploads may omit it, in which case the ward's usual 500 Hz applies; anything outside
/// 50..=2000 Hz is refused because the QRS detector's filters are only meaningful in that range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SamplingRate(u32);

impl SamplingRate {
    pub const DEFAULT_HZ: u32 = 500;
    pub const MIN_HZ: u32 = 50;
    pub const MAX_HZ: u32 = 2000;

    pub fn parse(hz: Option<i64>) -> Result<Self, String> {
        let Some(hz) = hz else {
            return Ok(Self::default());
        };
        match u32::try_from(hz) {
            Ok(hz) if (Self::MIN_HZ..=Self::MAX_HZ).contains(&hz) => Ok(Self(hz)),
            _ => Err(format!(
                "must be between {} and {} Hz",
                Self::MIN_HZ,
                Self::MAX_HZ
            )),
        }
    }

    pub fn hz(self) -> u32 {
        self.0
    }

    /// The whole number of samples closest to `ms` milliseconds, at least one.
    pub fn samples_in(self, ms: f64) -> usize {
        // Every window the analyses use must hold a sample, even at 50 Hz.
        ((ms * f64::from(self.0) / 1000.0).round() as usize).max(1)
    }

    /// The duration of `samples` samples in milliseconds.
    pub fn ms(self, samples: usize) -> f64 {
        samples as f64 * 1000.0 / f64::from(self.0)
    }
}

impl Default for SamplingRate {
    fn default() -> Self {
        Self(Self::DEFAULT_HZ)
    }
}

impl fmt::Display for SamplingRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} Hz", self.0)
    }
}

/// A lead's label as the device wrote it (`II`, `V5`, `MLII`): 1-16 characters, trimmed, no
/// control characters. Labels are compared case-insensitively within a recording.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LeadName(String);

impl LeadName {
    pub const MAX_CHARS: usize = 16;

    pub fn parse(value: &str) -> Result<Self, String> {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return Err("must not be empty".to_owned());
        }
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(format!("must be at most {} characters", Self::MAX_CHARS));
        }
        if trimmed.chars().any(char::is_control) {
            return Err("must not contain control characters".to_owned());
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LeadName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One lead of a recording: its label and its samples in ADC units, never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lead {
    name: LeadName,
    signal: Vec<i32>,
}

impl Lead {
    pub fn name(&self) -> &LeadName {
        &self.name
    }

    pub fn signal(&self) -> &[i32] {
        &self.signal
    }
}

/// A lead as uploaded, before any check: samples arrive as JSON integers, hence `i64`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawLead {
    pub name: String,
    /// The sample count the sender claims, checked against the signal to catch truncated uploads.
    pub number_of_samples: Option<i64>,
    pub signal: Vec<i64>,
}

/// A checked ECG recording: one sampling rate shared by 1-16 uniquely named leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ecg {
    sampling_rate: SamplingRate,
    leads: Vec<Lead>,
}

impl Ecg {
    pub const MAX_LEADS: usize = 16;
    pub const MAX_SAMPLES_PER_LEAD: usize = 1_000_000;
    /// A 10-minute 12-lead recording at 1 kHz: the largest upload the ward stores.
    pub const MAX_TOTAL_SAMPLES: usize = 7_200_000;

    /// Checks an upload and builds the recording, reporting every problem at once under field
    /// names such as `sampling_rate_hz`, `leads`, `leads[2].name` or `leads[0].signal`.
    pub fn parse(sampling_rate_hz: Option<i64>, leads: Vec<RawLead>) -> Result<Ecg, FieldErrors> {
        let mut errors = FieldErrors::default();
        let sampling_rate = errors.check("sampling_rate_hz", SamplingRate::parse(sampling_rate_hz));

        if leads.is_empty() || leads.len() > Self::MAX_LEADS {
            errors.push(
                "leads",
                format!(
                    "must hold 1 to {} leads, got {}",
                    Self::MAX_LEADS,
                    leads.len()
                ),
            );
        }
        let total: usize = leads.iter().map(|lead| lead.signal.len()).sum();
        if total > Self::MAX_TOTAL_SAMPLES {
            errors.push(
                "leads",
                format!(
                    "must hold at most {} samples in total, got {total}",
                    Self::MAX_TOTAL_SAMPLES
                ),
            );
        }

        let mut seen_names: Vec<(String, usize)> = Vec::with_capacity(leads.len());
        let mut parsed = Vec::with_capacity(leads.len());
        for (index, raw) in leads.into_iter().enumerate() {
            let mut lead_errors = FieldErrors::default();
            let name = lead_errors.check("name", LeadName::parse(&raw.name));
            if let Some(name) = &name {
                let key = name.as_str().to_lowercase();
                match seen_names.iter().find(|(seen, _)| *seen == key) {
                    Some((_, first)) => lead_errors.push(
                        "name",
                        format!("must be unique (ignoring case), but repeats leads[{first}].name"),
                    ),
                    None => seen_names.push((key, index)),
                }
            }
            let len = raw.signal.len();
            if let Some(declared) = raw.number_of_samples
                && i64::try_from(len) != Ok(declared)
            {
                lead_errors.push(
                    "number_of_samples",
                    format!("must equal the signal length ({len}), got {declared}"),
                );
            }
            let signal = lead_errors.check("signal", parse_signal(&raw.signal));
            errors.extend(lead_errors.prefixed(&format!("leads[{index}].")));
            if let (Some(name), Some(signal)) = (name, signal) {
                parsed.push(Lead { name, signal });
            }
        }

        match sampling_rate {
            Some(sampling_rate) if errors.is_empty() => Ok(Ecg {
                sampling_rate,
                leads: parsed,
            }),
            _ => Err(errors),
        }
    }

    pub fn sampling_rate(&self) -> SamplingRate {
        self.sampling_rate
    }

    pub fn leads(&self) -> &[Lead] {
        &self.leads
    }
}

fn parse_signal(raw: &[i64]) -> Result<Vec<i32>, String> {
    if raw.is_empty() || raw.len() > Ecg::MAX_SAMPLES_PER_LEAD {
        return Err(format!(
            "must hold 1 to {} samples, got {}",
            Ecg::MAX_SAMPLES_PER_LEAD,
            raw.len()
        ));
    }
    let mut signal = Vec::with_capacity(raw.len());
    for (index, &sample) in raw.iter().enumerate() {
        match i32::try_from(sample) {
            Ok(sample) => signal.push(sample),
            Err(_) => {
                return Err(format!(
                    "sample at index {index} ({sample}) is outside the 32-bit range {}..={}",
                    i32::MIN,
                    i32::MAX
                ));
            }
        }
    }
    Ok(signal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(name: &str, signal: Vec<i64>) -> RawLead {
        RawLead {
            name: name.to_owned(),
            number_of_samples: None,
            signal,
        }
    }

    fn fields(errors: &FieldErrors) -> Vec<&str> {
        errors.0.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn sampling_rate_defaults_to_500_and_is_bounded() {
        assert_eq!(SamplingRate::parse(None).unwrap().hz(), 500);
        assert_eq!(SamplingRate::parse(Some(50)).unwrap().hz(), 50);
        assert_eq!(SamplingRate::parse(Some(2000)).unwrap().hz(), 2000);
        assert!(SamplingRate::parse(Some(49)).is_err());
        assert!(SamplingRate::parse(Some(2001)).is_err());
        assert!(SamplingRate::parse(Some(-500)).is_err());
        assert!(SamplingRate::parse(Some(i64::MAX)).is_err());
    }

    #[test]
    fn sampling_rate_converts_between_samples_and_milliseconds() {
        let rate = SamplingRate::parse(Some(360)).unwrap();
        assert_eq!(rate.samples_in(150.0), 54);
        assert_eq!(rate.ms(360), 1000.0);
        assert_eq!(SamplingRate::parse(Some(50)).unwrap().samples_in(1.0), 1);
    }

    #[test]
    fn lead_name_is_trimmed_and_bounded() {
        assert_eq!(LeadName::parse("  V5 ").unwrap().as_str(), "V5");
        assert_eq!(
            LeadName::parse("é".repeat(16).as_str())
                .unwrap()
                .as_str()
                .chars()
                .count(),
            16
        );
        assert!(LeadName::parse("x".repeat(17).as_str()).is_err());
        assert!(LeadName::parse("   ").is_err());
        assert!(LeadName::parse("V\u{0}5").is_err());
    }

    #[test]
    fn parse_builds_a_valid_recording() {
        let ecg = Ecg::parse(
            Some(360),
            vec![
                RawLead {
                    name: " MLII ".to_owned(),
                    number_of_samples: Some(3),
                    signal: vec![1, -2, 3],
                },
                raw("V5", vec![i64::from(i32::MIN), i64::from(i32::MAX)]),
            ],
        )
        .unwrap();
        assert_eq!(ecg.sampling_rate().hz(), 360);
        assert_eq!(ecg.leads().len(), 2);
        assert_eq!(ecg.leads()[0].name().as_str(), "MLII");
        assert_eq!(ecg.leads()[0].signal(), &[1, -2, 3]);
        assert_eq!(ecg.leads()[1].signal(), &[i32::MIN, i32::MAX]);
    }

    #[test]
    fn parse_rejects_a_bad_sampling_rate() {
        let errors = Ecg::parse(Some(10), vec![raw("I", vec![0])]).unwrap_err();
        assert_eq!(fields(&errors), ["sampling_rate_hz"]);
    }

    #[test]
    fn parse_rejects_no_leads_and_too_many_leads() {
        let errors = Ecg::parse(None, vec![]).unwrap_err();
        assert_eq!(fields(&errors), ["leads"]);
        let many = (0..17).map(|i| raw(&format!("L{i}"), vec![0])).collect();
        let errors = Ecg::parse(None, many).unwrap_err();
        assert_eq!(fields(&errors), ["leads"]);
        assert!(errors.0[0].message.contains("got 17"));
    }

    #[test]
    fn parse_rejects_names_equal_ignoring_case() {
        let errors = Ecg::parse(
            None,
            vec![raw("aVR", vec![0]), raw("II", vec![0]), raw("AVR", vec![0])],
        )
        .unwrap_err();
        assert_eq!(fields(&errors), ["leads[2].name"]);
        assert!(errors.0[0].message.contains("leads[0].name"));
    }

    #[test]
    fn parse_rejects_an_invalid_name() {
        let errors = Ecg::parse(None, vec![raw("I", vec![0]), raw(" ", vec![0])]).unwrap_err();
        assert_eq!(fields(&errors), ["leads[1].name"]);
    }

    #[test]
    fn parse_rejects_a_sample_count_that_disagrees_with_the_signal() {
        let lead = RawLead {
            name: "I".to_owned(),
            number_of_samples: Some(4),
            signal: vec![1, 2, 3],
        };
        let errors = Ecg::parse(None, vec![lead]).unwrap_err();
        assert_eq!(fields(&errors), ["leads[0].number_of_samples"]);
        assert!(errors.0[0].message.contains("(3)"));
    }

    #[test]
    fn parse_reports_the_first_sample_outside_32_bits() {
        let signal = vec![0, 1, i64::from(i32::MAX) + 1, i64::from(i32::MIN) - 1];
        let errors = Ecg::parse(None, vec![raw("I", vec![0]), raw("II", signal)]).unwrap_err();
        assert_eq!(fields(&errors), ["leads[1].signal"]);
        assert!(
            errors.0[0].message.contains("index 2"),
            "{}",
            errors.0[0].message
        );
    }

    #[test]
    fn parse_rejects_empty_and_oversized_leads() {
        let errors = Ecg::parse(None, vec![raw("I", vec![])]).unwrap_err();
        assert_eq!(fields(&errors), ["leads[0].signal"]);
        let long = vec![0; Ecg::MAX_SAMPLES_PER_LEAD + 1];
        let errors = Ecg::parse(None, vec![raw("I", long)]).unwrap_err();
        assert_eq!(fields(&errors), ["leads[0].signal"]);
    }

    #[test]
    fn parse_limits_the_total_number_of_samples() {
        let leads = (0..8)
            .map(|i| raw(&format!("L{i}"), vec![0; Ecg::MAX_SAMPLES_PER_LEAD]))
            .collect();
        let errors = Ecg::parse(None, leads).unwrap_err();
        assert_eq!(fields(&errors), ["leads"]);
        let leads = (0..7)
            .map(|i| raw(&format!("L{i}"), vec![0; Ecg::MAX_SAMPLES_PER_LEAD]))
            .chain(std::iter::once(raw("L7", vec![0; 200_000])))
            .collect();
        assert!(Ecg::parse(None, leads).is_ok());
    }

    #[test]
    fn parse_collects_every_error() {
        let errors = Ecg::parse(
            Some(0),
            vec![
                RawLead {
                    name: String::new(),
                    number_of_samples: Some(-1),
                    signal: vec![i64::MAX],
                },
                raw("II", vec![]),
            ],
        )
        .unwrap_err();
        assert_eq!(
            fields(&errors),
            [
                "sampling_rate_hz",
                "leads[0].name",
                "leads[0].number_of_samples",
                "leads[0].signal",
                "leads[1].signal",
            ]
        );
    }
}
