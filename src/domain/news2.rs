//! NEWS2, the National Early Warning Score 2 (Royal College of Physicians, 2017): Chart 1 scores
//! a set of observations, Chart 2 bands the clinical risk, Chart 4 sets the monitoring frequency
//! and clinical response.
//!
//! Source: Royal College of Physicians. *National Early Warning Score (NEWS) 2: Standardising the
//! assessment of acute-illness severity in the NHS.* Updated report of a working party. London:
//! RCP, 2017 — Chart 1 (the NEWS scoring system), Chart 2 (thresholds and triggers), Chart 4
//! (clinical response to the NEWS trigger thresholds).
//!
//! Chart 1 prints its bands as whole numbers (one decimal for temperature). A value between two
//! printed bands belongs to the band whose printed upper edge it does not exceed: temperature
//! 36.05 is above 36.0, so it falls in 36.1-38.0; SpO2 91.5 is above 91, so it falls in 92-93.
//! Every band is therefore "greater than the previous band's upper edge, at most this band's".

use chrono::Duration;

use super::vitals::{Consciousness, Parameter, Spo2Scale, VitalSigns, ward_terms};

/// The seven Chart 1 parameters, in chart order.
pub const NEWS2_PARAMETERS: [Parameter; 7] = [
    Parameter::RespiratoryRate,
    Parameter::Spo2,
    Parameter::OnOxygen,
    Parameter::SystolicBp,
    Parameter::HeartRate,
    Parameter::Consciousness,
    Parameter::TemperatureC,
];

/// Points of a single parameter that make it a "red score" on its own (Chart 2).
pub const SINGLE_RED_POINTS: u8 = 3;
/// Aggregate score from which the risk is medium: the urgent response threshold (Chart 2).
pub const MEDIUM_RISK_FROM: u8 = 5;
/// Aggregate score from which the risk is high: the emergency response threshold (Chart 2).
pub const HIGH_RISK_FROM: u8 = 7;

/// One row of Chart 1: `(upper edge inclusive, points)` in ascending order, then the points of
/// every value above the last edge.
struct Chart1Row {
    bands: &'static [(f64, u8)],
    above: u8,
}

impl Chart1Row {
    fn points(&self, value: f64) -> u8 {
        self.bands
            .iter()
            .find(|(upper, _)| value <= *upper)
            .map_or(self.above, |(_, points)| *points)
    }
}

/// <= 8: 3, 9-11: 1, 12-20: 0, 21-24: 2, >= 25: 3.
const RESPIRATION_RATE: Chart1Row = Chart1Row {
    bands: &[(8.0, 3), (11.0, 1), (20.0, 0), (24.0, 2)],
    above: 3,
};
/// <= 91: 3, 92-93: 2, 94-95: 1, >= 96: 0.
const SPO2_SCALE_1: Chart1Row = Chart1Row {
    bands: &[(91.0, 3), (93.0, 2), (95.0, 1)],
    above: 0,
};
/// <= 83: 3, 84-85: 2, 86-87: 1, 88-92: 0. Above 92 the points depend on oxygen.
const SPO2_SCALE_2_UP_TO_92: Chart1Row = Chart1Row {
    bands: &[(83.0, 3), (85.0, 2), (87.0, 1), (92.0, 0)],
    above: 0,
};
/// On oxygen, above 92: 93-94: 1, 95-96: 2, >= 97: 3. (On air, >= 93 scores 0.)
const SPO2_SCALE_2_ON_OXYGEN_ABOVE_92: Chart1Row = Chart1Row {
    bands: &[(94.0, 1), (96.0, 2)],
    above: 3,
};
const SPO2_SCALE_2_TARGET_TOP: f64 = 92.0;
/// <= 90: 3, 91-100: 2, 101-110: 1, 111-219: 0, >= 220: 3.
const SYSTOLIC_BP: Chart1Row = Chart1Row {
    bands: &[(90.0, 3), (100.0, 2), (110.0, 1), (219.0, 0)],
    above: 3,
};
/// <= 40: 3, 41-50: 1, 51-90: 0, 91-110: 1, 111-130: 2, >= 131: 3.
const PULSE: Chart1Row = Chart1Row {
    bands: &[(40.0, 3), (50.0, 1), (90.0, 0), (110.0, 1), (130.0, 2)],
    above: 3,
};
/// <= 35.0: 3, 35.1-36.0: 1, 36.1-38.0: 0, 38.1-39.0: 1, >= 39.1: 2.
const TEMPERATURE: Chart1Row = Chart1Row {
    bands: &[(35.0, 3), (36.0, 1), (38.0, 0), (39.0, 1)],
    above: 2,
};

ward_terms!(
    /// Clinical risk band of Chart 2.
    pub enum ClinicalRisk {
        /// Aggregate 0-4 with no single red score.
        Low => "low",
        /// A single parameter scoring 3, aggregate below 5.
        LowMedium => "low_medium",
        /// Aggregate 5-6: urgent response threshold.
        Medium => "medium",
        /// Aggregate 7 or more: emergency response threshold.
        High => "high",
    }
);

impl ClinicalRisk {
    /// Chart 2: the aggregate decides first; a single red score only lifts a total below 5.
    pub fn classify(score: u8, any_single_red: bool) -> ClinicalRisk {
        if score >= HIGH_RISK_FROM {
            ClinicalRisk::High
        } else if score >= MEDIUM_RISK_FROM {
            ClinicalRisk::Medium
        } else if any_single_red {
            ClinicalRisk::LowMedium
        } else {
            ClinicalRisk::Low
        }
    }
}

ward_terms!(
    /// Minimum frequency of monitoring of Chart 4.
    pub enum MonitoringFrequency {
        /// Score 0: minimum 12-hourly.
        TwelveHourly => "twelve_hourly",
        /// Score 1-4: minimum 4-6-hourly.
        FourToSixHourly => "four_to_six_hourly",
        /// A single red score, or score 5-6: minimum hourly.
        Hourly => "hourly",
        /// Score 7 or more: continuous monitoring of vital signs.
        Continuous => "continuous",
    }
);

/// What Chart 4 asks for after a set of observations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Monitoring {
    pub frequency: MonitoringFrequency,
    /// Chart 4's clinical response, condensed; the chart itself remains the reference.
    pub response: &'static str,
    /// The longest the ward may wait before the next set is due. Where the chart gives a range
    /// ("4-6 hourly") this is its stricter end. For continuous monitoring, where a monitor
    /// watches the patient all the time, it is the ward's own choice of 15 minutes between
    /// charted sets: the registry only sees charted sets, and a longer silence means the
    /// monitoring is not being recorded.
    pub interval: Duration,
}

// Chart 4's clinical responses, condensed to one sentence each for display beside the score.

/// Score 0.
pub const RESPONSE_SCORE_ZERO: &str = "Continue routine NEWS monitoring.";
/// Score 1-4.
pub const RESPONSE_LOW: &str = "Inform the registered nurse, who must assess the patient and \
     decide whether increased frequency of clinical monitoring or escalation of care is required.";
/// A single parameter scoring 3, total below 5.
pub const RESPONSE_SINGLE_RED: &str = "Registered nurse to inform the medical team caring for the \
     patient, who will review and decide whether escalation of care is necessary.";
/// Score 5-6: urgent response threshold.
pub const RESPONSE_URGENT: &str = "Registered nurse to immediately inform the medical team caring \
     for the patient and request urgent assessment by a clinician or team with core competencies \
     in the care of acutely ill patients; provide clinical care in an environment with \
     monitoring facilities.";
/// Score 7 or more: emergency response threshold.
pub const RESPONSE_EMERGENCY: &str = "Registered nurse to immediately inform the medical team \
     caring for the patient, at least at specialist registrar level; emergency assessment by a \
     team with critical care competencies, including advanced airway management skills; \
     consider transfer to a level 2 or 3 care facility (HDU or ICU); clinical care in an \
     environment with monitoring facilities.";

impl Monitoring {
    /// Chart 4 for an aggregate score and whether any single parameter scored 3.
    pub fn for_score(score: u8, any_single_red: bool) -> Monitoring {
        let (frequency, response, interval) = if score >= HIGH_RISK_FROM {
            (
                MonitoringFrequency::Continuous,
                RESPONSE_EMERGENCY,
                Duration::minutes(15),
            )
        } else if score >= MEDIUM_RISK_FROM {
            (
                MonitoringFrequency::Hourly,
                RESPONSE_URGENT,
                Duration::hours(1),
            )
        } else if any_single_red {
            (
                MonitoringFrequency::Hourly,
                RESPONSE_SINGLE_RED,
                Duration::hours(1),
            )
        } else if score >= 1 {
            (
                MonitoringFrequency::FourToSixHourly,
                RESPONSE_LOW,
                Duration::hours(4),
            )
        } else {
            (
                MonitoringFrequency::TwelveHourly,
                RESPONSE_SCORE_ZERO,
                Duration::hours(12),
            )
        };
        Monitoring {
            frequency,
            response,
            interval,
        }
    }
}

/// The observation behind a parameter's points: a number, a level of consciousness, or air or
/// oxygen. Displays as the chart reads it (`97`, `alert`, `oxygen`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ScoredValue {
    Measured(f64),
    Consciousness(Consciousness),
    OnOxygen(bool),
}

impl std::fmt::Display for ScoredValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScoredValue::Measured(value) => write!(f, "{value}"),
            ScoredValue::Consciousness(level) => f.write_str(level.as_str()),
            ScoredValue::OnOxygen(true) => f.write_str("oxygen"),
            ScoredValue::OnOxygen(false) => f.write_str("air"),
        }
    }
}

/// One Chart 1 row applied to the patient.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParameterScore {
    pub parameter: Parameter,
    pub value: ScoredValue,
    pub points: u8,
}

/// A set of observations scored by NEWS2.
#[derive(Debug, Clone, PartialEq)]
pub struct News2Assessment {
    /// Sum of the points of the parameters present. When `complete` is false this is a floor:
    /// a missing parameter can only add points.
    pub score: u8,
    pub risk: ClinicalRisk,
    /// All seven Chart 1 parameters were recorded.
    pub complete: bool,
    /// Chart 1 parameters not recorded, in chart order; they are not counted as 0.
    pub missing: Vec<Parameter>,
    /// Points of every parameter present, in chart order.
    pub parameters: Vec<ParameterScore>,
    /// A single parameter scored 3 (a "red score").
    pub any_single_red: bool,
    pub monitoring: Monitoring,
    pub spo2_scale: Spo2Scale,
}

impl News2Assessment {
    /// At least one Chart 1 parameter was recorded. A set without any (a weight, a pain score)
    /// says nothing about NEWS2: its total of 0 is no observation of the patient's state, so
    /// it never stands as the patient's latest NEWS2, sets the next observation's due time, or
    /// is the score a later set is compared with.
    pub fn has_parameters(&self) -> bool {
        !self.parameters.is_empty()
    }
}

/// The NEWS2 chart: each Chart 1 row as a function, and the assessment of a whole set.
#[derive(Debug, Clone, Copy)]
pub struct News2Score;

impl News2Score {
    pub fn respiration_rate(per_minute: f64) -> u8 {
        RESPIRATION_RATE.points(per_minute)
    }

    pub fn spo2_scale_1(percent: f64) -> u8 {
        SPO2_SCALE_1.points(percent)
    }

    /// Scale 2. Above 92% the points depend on oxygen: on air they are 0, on oxygen 1-3 (a
    /// hypercapnic patient above target on oxygen is over-oxygenated). When whether the
    /// patient is on oxygen is not recorded (`None`), the value is scored as on air, the only
    /// score the record supports; the assessment then lists `on_oxygen` as missing and is
    /// incomplete, so the reader knows the total is a floor.
    pub fn spo2_scale_2(percent: f64, on_oxygen: Option<bool>) -> u8 {
        if percent <= SPO2_SCALE_2_TARGET_TOP {
            SPO2_SCALE_2_UP_TO_92.points(percent)
        } else if on_oxygen == Some(true) {
            SPO2_SCALE_2_ON_OXYGEN_ABOVE_92.points(percent)
        } else {
            0
        }
    }

    /// Oxygen: 2, air: 0.
    pub fn air_or_oxygen(on_oxygen: bool) -> u8 {
        if on_oxygen { 2 } else { 0 }
    }

    pub fn systolic_bp(mmhg: f64) -> u8 {
        SYSTOLIC_BP.points(mmhg)
    }

    pub fn pulse(per_minute: f64) -> u8 {
        PULSE.points(per_minute)
    }

    /// Alert: 0; new confusion, voice, pain or unresponsive: 3.
    pub fn consciousness(level: Consciousness) -> u8 {
        match level {
            Consciousness::Alert => 0,
            Consciousness::Confusion
            | Consciousness::Voice
            | Consciousness::Pain
            | Consciousness::Unresponsive => 3,
        }
    }

    pub fn temperature(celsius: f64) -> u8 {
        TEMPERATURE.points(celsius)
    }

    /// Scores every Chart 1 parameter present. A missing one is listed in `missing`, never
    /// scored as 0; the risk and monitoring follow the total of what is present, since missing
    /// points can only make them worse and the ward must still act on what it knows.
    ///
    /// A missing `on_oxygen` is a missing "air or oxygen?" row, not air: a patient whose oxygen
    /// was not charted may well be on it.
    pub fn assess(vitals: &VitalSigns, scale: Spo2Scale) -> News2Assessment {
        let mut parameters = Vec::with_capacity(NEWS2_PARAMETERS.len());
        let mut missing = Vec::new();
        for parameter in NEWS2_PARAMETERS {
            match Self::score_parameter(vitals, scale, parameter) {
                Some(score) => parameters.push(score),
                None => missing.push(parameter),
            }
        }

        let score: u8 = parameters.iter().map(|p| p.points).sum();
        let any_single_red = parameters.iter().any(|p| p.points >= SINGLE_RED_POINTS);
        News2Assessment {
            score,
            risk: ClinicalRisk::classify(score, any_single_red),
            complete: missing.is_empty(),
            missing,
            parameters,
            any_single_red,
            monitoring: Monitoring::for_score(score, any_single_red),
            spo2_scale: scale,
        }
    }

    fn score_parameter(
        vitals: &VitalSigns,
        scale: Spo2Scale,
        parameter: Parameter,
    ) -> Option<ParameterScore> {
        let measured = |value: f64, points: u8| (ScoredValue::Measured(value), points);
        let (value, points) = match parameter {
            Parameter::RespiratoryRate => vitals
                .respiratory_rate()
                .map(|v| measured(v, Self::respiration_rate(v)))?,
            Parameter::Spo2 => vitals.spo2().map(|v| {
                let points = match scale {
                    Spo2Scale::One => Self::spo2_scale_1(v),
                    Spo2Scale::Two => Self::spo2_scale_2(v, vitals.on_oxygen()),
                };
                measured(v, points)
            })?,
            Parameter::OnOxygen => vitals
                .on_oxygen()
                .map(|on| (ScoredValue::OnOxygen(on), Self::air_or_oxygen(on)))?,
            Parameter::SystolicBp => vitals
                .systolic_bp()
                .map(|v| measured(v, Self::systolic_bp(v)))?,
            Parameter::HeartRate => vitals.heart_rate().map(|v| measured(v, Self::pulse(v)))?,
            Parameter::Consciousness => vitals
                .consciousness()
                .map(|c| (ScoredValue::Consciousness(c), Self::consciousness(c)))?,
            Parameter::TemperatureC => vitals
                .temperature_c()
                .map(|v| measured(v, Self::temperature(v)))?,
            Parameter::DiastolicBp | Parameter::PainScore | Parameter::WeightKg => return None,
        };
        Some(ParameterScore {
            parameter,
            value,
            points,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::vitals::RawVitalSigns;

    fn points(score: fn(f64) -> u8, cases: &[(f64, u8)]) {
        for (value, expected) in cases {
            assert_eq!(score(*value), *expected, "value {value}");
        }
    }

    #[test]
    fn respiration_rate_bands() {
        points(
            News2Score::respiration_rate,
            &[
                (1.0, 3),
                (8.0, 3),
                (8.5, 1),
                (9.0, 1),
                (11.0, 1),
                (11.5, 0),
                (12.0, 0),
                (20.0, 0),
                (20.5, 2),
                (21.0, 2),
                (24.0, 2),
                (24.5, 3),
                (25.0, 3),
                (80.0, 3),
            ],
        );
    }

    #[test]
    fn spo2_scale_1_bands() {
        points(
            News2Score::spo2_scale_1,
            &[
                (30.0, 3),
                (91.0, 3),
                (91.5, 2),
                (92.0, 2),
                (93.0, 2),
                (93.5, 1),
                (94.0, 1),
                (95.0, 1),
                (95.5, 0),
                (96.0, 0),
                (100.0, 0),
            ],
        );
    }

    #[test]
    fn spo2_scale_2_bands_up_to_92_ignore_oxygen() {
        for oxygen in [Some(true), Some(false), None] {
            for (value, expected) in [
                (30.0, 3),
                (83.0, 3),
                (83.5, 2),
                (84.0, 2),
                (85.0, 2),
                (85.5, 1),
                (86.0, 1),
                (87.0, 1),
                (87.5, 0),
                (88.0, 0),
                (92.0, 0),
            ] {
                assert_eq!(
                    News2Score::spo2_scale_2(value, oxygen),
                    expected,
                    "{value} {oxygen:?}"
                );
            }
        }
    }

    #[test]
    fn spo2_scale_2_above_92_on_oxygen() {
        for (value, expected) in [
            (92.5, 1),
            (93.0, 1),
            (94.0, 1),
            (94.5, 2),
            (95.0, 2),
            (96.0, 2),
            (96.5, 3),
            (97.0, 3),
            (100.0, 3),
        ] {
            assert_eq!(
                News2Score::spo2_scale_2(value, Some(true)),
                expected,
                "{value}"
            );
        }
    }

    #[test]
    fn spo2_scale_2_above_92_on_air_or_unknown_scores_0() {
        for value in [92.5, 93.0, 94.5, 96.5, 97.0, 100.0] {
            assert_eq!(
                News2Score::spo2_scale_2(value, Some(false)),
                0,
                "{value} air"
            );
            assert_eq!(News2Score::spo2_scale_2(value, None), 0, "{value} unknown");
        }
    }

    #[test]
    fn air_or_oxygen() {
        assert_eq!(News2Score::air_or_oxygen(true), 2);
        assert_eq!(News2Score::air_or_oxygen(false), 0);
    }

    #[test]
    fn systolic_bands() {
        points(
            News2Score::systolic_bp,
            &[
                (40.0, 3),
                (90.0, 3),
                (90.5, 2),
                (91.0, 2),
                (100.0, 2),
                (100.5, 1),
                (101.0, 1),
                (110.0, 1),
                (110.5, 0),
                (111.0, 0),
                (219.0, 0),
                (219.5, 3),
                (220.0, 3),
                (300.0, 3),
            ],
        );
    }

    #[test]
    fn pulse_bands() {
        points(
            News2Score::pulse,
            &[
                (1.0, 3),
                (40.0, 3),
                (40.5, 1),
                (41.0, 1),
                (50.0, 1),
                (50.5, 0),
                (51.0, 0),
                (90.0, 0),
                (90.5, 1),
                (91.0, 1),
                (110.0, 1),
                (110.5, 2),
                (111.0, 2),
                (130.0, 2),
                (130.5, 3),
                (131.0, 3),
                (300.0, 3),
            ],
        );
    }

    #[test]
    fn consciousness_points() {
        assert_eq!(News2Score::consciousness(Consciousness::Alert), 0);
        for level in [
            Consciousness::Confusion,
            Consciousness::Voice,
            Consciousness::Pain,
            Consciousness::Unresponsive,
        ] {
            assert_eq!(News2Score::consciousness(level), 3, "{level}");
        }
    }

    #[test]
    fn temperature_bands() {
        points(
            News2Score::temperature,
            &[
                (25.0, 3),
                (35.0, 3),
                (35.05, 1),
                (35.1, 1),
                (36.0, 1),
                (36.05, 0),
                (36.1, 0),
                (38.0, 0),
                (38.05, 1),
                (38.1, 1),
                (39.0, 1),
                (39.05, 2),
                (39.1, 2),
                (45.0, 2),
            ],
        );
    }

    fn set(fill: impl FnOnce(&mut RawVitalSigns)) -> VitalSigns {
        let mut raw = RawVitalSigns {
            respiratory_rate: Some(16.0),
            spo2: Some(97.0),
            on_oxygen: Some(false),
            systolic_bp: Some(120.0),
            diastolic_bp: Some(80.0),
            heart_rate: Some(70.0),
            consciousness: Some("alert".into()),
            temperature_c: Some(37.0),
            ..RawVitalSigns::default()
        };
        fill(&mut raw);
        VitalSigns::parse(raw).expect("valid set")
    }

    fn assess(fill: impl FnOnce(&mut RawVitalSigns)) -> News2Assessment {
        News2Score::assess(&set(fill), Spo2Scale::One)
    }

    #[test]
    fn a_normal_complete_set_scores_zero() {
        let a = assess(|_| {});
        assert_eq!(a.score, 0);
        assert_eq!(a.risk, ClinicalRisk::Low);
        assert!(a.complete);
        assert_eq!(a.missing, vec![]);
        assert!(!a.any_single_red);
        assert_eq!(a.monitoring.frequency, MonitoringFrequency::TwelveHourly);
        assert_eq!(a.monitoring.interval, Duration::hours(12));
        assert_eq!(a.monitoring.response, RESPONSE_SCORE_ZERO);
        let order: Vec<Parameter> = a.parameters.iter().map(|p| p.parameter).collect();
        assert_eq!(order, NEWS2_PARAMETERS);
        assert_eq!(
            a.parameters[2],
            ParameterScore {
                parameter: Parameter::OnOxygen,
                value: ScoredValue::OnOxygen(false),
                points: 0,
            }
        );
    }

    #[test]
    fn each_parameter_contributes_its_points() {
        // RR 22: 2, SpO2 95: 1, oxygen: 2, SBP 105: 1, pulse 95: 1, alert: 0, 38.5 °C: 1.
        let a = assess(|r| {
            r.respiratory_rate = Some(22.0);
            r.spo2 = Some(95.0);
            r.on_oxygen = Some(true);
            r.systolic_bp = Some(105.0);
            r.heart_rate = Some(95.0);
            r.temperature_c = Some(38.5);
        });
        let points: Vec<u8> = a.parameters.iter().map(|p| p.points).collect();
        assert_eq!(points, [2, 1, 2, 1, 1, 0, 1]);
        assert_eq!(a.score, 8);
        assert_eq!(a.risk, ClinicalRisk::High);
        assert!(!a.any_single_red);
        assert_eq!(a.monitoring.frequency, MonitoringFrequency::Continuous);
        assert_eq!(a.monitoring.interval, Duration::minutes(15));
        assert_eq!(a.monitoring.response, RESPONSE_EMERGENCY);
    }

    #[test]
    fn the_worst_set_scores_twenty() {
        let a = assess(|r| {
            r.respiratory_rate = Some(30.0);
            r.spo2 = Some(85.0);
            r.on_oxygen = Some(true);
            r.systolic_bp = Some(85.0);
            r.diastolic_bp = Some(50.0);
            r.heart_rate = Some(140.0);
            r.consciousness = Some("unresponsive".into());
            r.temperature_c = Some(34.0);
        });
        assert_eq!(a.score, 20);
    }

    type RiskCase = (
        u8,
        fn(&mut RawVitalSigns),
        ClinicalRisk,
        MonitoringFrequency,
    );

    #[test]
    fn risk_bands_and_monitoring_by_total() {
        // Oxygen (2) and pulse 95 (1) and RR 21 (2) combine without any single 3.
        let cases: [RiskCase; 6] = [
            (
                1,
                |r| r.heart_rate = Some(95.0),
                ClinicalRisk::Low,
                MonitoringFrequency::FourToSixHourly,
            ),
            (
                4,
                |r| {
                    r.on_oxygen = Some(true);
                    r.respiratory_rate = Some(21.0);
                },
                ClinicalRisk::Low,
                MonitoringFrequency::FourToSixHourly,
            ),
            (
                5,
                |r| {
                    r.on_oxygen = Some(true);
                    r.respiratory_rate = Some(21.0);
                    r.heart_rate = Some(95.0);
                },
                ClinicalRisk::Medium,
                MonitoringFrequency::Hourly,
            ),
            (
                6,
                |r| {
                    r.on_oxygen = Some(true);
                    r.respiratory_rate = Some(21.0);
                    r.heart_rate = Some(115.0);
                },
                ClinicalRisk::Medium,
                MonitoringFrequency::Hourly,
            ),
            (
                7,
                |r| {
                    r.on_oxygen = Some(true);
                    r.respiratory_rate = Some(21.0);
                    r.heart_rate = Some(115.0);
                    r.temperature_c = Some(38.5);
                },
                ClinicalRisk::High,
                MonitoringFrequency::Continuous,
            ),
            (
                0,
                |_| {},
                ClinicalRisk::Low,
                MonitoringFrequency::TwelveHourly,
            ),
        ];
        for (score, fill, risk, frequency) in cases {
            let a = assess(fill);
            assert_eq!(a.score, score);
            assert!(!a.any_single_red, "{score}");
            assert_eq!(a.risk, risk, "{score}");
            assert_eq!(a.monitoring.frequency, frequency, "{score}");
        }
        assert_eq!(
            assess(|r| r.heart_rate = Some(95.0)).monitoring.interval,
            Duration::hours(4)
        );
        assert_eq!(
            assess(|r| r.heart_rate = Some(95.0)).monitoring.response,
            RESPONSE_LOW
        );
    }

    #[test]
    fn a_single_red_score_makes_low_medium_below_five() {
        let a = assess(|r| r.consciousness = Some("voice".into()));
        assert_eq!(a.score, 3);
        assert!(a.any_single_red);
        assert_eq!(a.risk, ClinicalRisk::LowMedium);
        assert_eq!(a.monitoring.frequency, MonitoringFrequency::Hourly);
        assert_eq!(a.monitoring.interval, Duration::hours(1));
        assert_eq!(a.monitoring.response, RESPONSE_SINGLE_RED);

        // 3 + 1 = 4: still low-medium.
        let a = assess(|r| {
            r.respiratory_rate = Some(7.0);
            r.heart_rate = Some(95.0);
        });
        assert_eq!((a.score, a.risk), (4, ClinicalRisk::LowMedium));

        // 3 + 2 = 5: the aggregate decides, medium.
        let a = assess(|r| {
            r.respiratory_rate = Some(7.0);
            r.on_oxygen = Some(true);
        });
        assert_eq!((a.score, a.risk), (5, ClinicalRisk::Medium));
        assert!(a.any_single_red);
        assert_eq!(a.monitoring.response, RESPONSE_URGENT);
    }

    #[test]
    fn classify_every_band_edge() {
        for (score, red, risk) in [
            (0, false, ClinicalRisk::Low),
            (4, false, ClinicalRisk::Low),
            (3, true, ClinicalRisk::LowMedium),
            (4, true, ClinicalRisk::LowMedium),
            (5, false, ClinicalRisk::Medium),
            (5, true, ClinicalRisk::Medium),
            (6, false, ClinicalRisk::Medium),
            (7, false, ClinicalRisk::High),
            (7, true, ClinicalRisk::High),
            (20, true, ClinicalRisk::High),
        ] {
            assert_eq!(ClinicalRisk::classify(score, red), risk, "{score} {red}");
        }
        assert_eq!(ClinicalRisk::LowMedium.as_str(), "low_medium");
        assert_eq!("high".parse::<ClinicalRisk>(), Ok(ClinicalRisk::High));
        assert_eq!(
            MonitoringFrequency::FourToSixHourly.as_str(),
            "four_to_six_hourly"
        );
    }

    #[test]
    fn an_incomplete_set_lists_what_is_missing() {
        let vitals = VitalSigns::parse(RawVitalSigns {
            heart_rate: Some(135.0),
            ..RawVitalSigns::default()
        })
        .unwrap();
        let a = News2Score::assess(&vitals, Spo2Scale::One);
        assert_eq!(a.score, 3);
        assert!(!a.complete);
        assert_eq!(
            a.missing,
            vec![
                Parameter::RespiratoryRate,
                Parameter::Spo2,
                Parameter::OnOxygen,
                Parameter::SystolicBp,
                Parameter::Consciousness,
                Parameter::TemperatureC,
            ]
        );
        assert_eq!(
            a.parameters,
            vec![ParameterScore {
                parameter: Parameter::HeartRate,
                value: ScoredValue::Measured(135.0),
                points: 3,
            }]
        );
        assert!(a.any_single_red);
        assert_eq!(a.risk, ClinicalRisk::LowMedium);
    }

    #[test]
    fn only_a_set_with_a_chart_1_parameter_has_parameters() {
        let weight_and_pain = VitalSigns::parse(RawVitalSigns {
            weight_kg: Some(61.5),
            pain_score: Some(4.0),
            diastolic_bp: None,
            ..RawVitalSigns::default()
        })
        .unwrap();
        let a = News2Score::assess(&weight_and_pain, Spo2Scale::One);
        assert!(!a.has_parameters());
        assert_eq!(a.missing, NEWS2_PARAMETERS);
        // Any one Chart 1 row is enough, air included.
        let air = VitalSigns::parse(RawVitalSigns {
            on_oxygen: Some(false),
            ..RawVitalSigns::default()
        })
        .unwrap();
        assert!(News2Score::assess(&air, Spo2Scale::One).has_parameters());
        assert!(assess(|_| {}).has_parameters());
    }

    #[test]
    fn unknown_oxygen_is_missing_not_air() {
        let a = assess(|r| r.on_oxygen = None);
        assert!(!a.complete);
        assert_eq!(a.missing, vec![Parameter::OnOxygen]);
        assert!(
            a.parameters
                .iter()
                .all(|p| p.parameter != Parameter::OnOxygen)
        );
        assert_eq!(a.score, 0);
    }

    #[test]
    fn scale_2_on_a_whole_set() {
        let on_oxygen = News2Score::assess(&set(|r| r.on_oxygen = Some(true)), Spo2Scale::Two);
        // SpO2 97 on oxygen: 3, oxygen: 2.
        assert_eq!(on_oxygen.parameters[1].points, 3);
        assert_eq!(on_oxygen.score, 5);
        assert!(on_oxygen.any_single_red);
        assert_eq!(on_oxygen.spo2_scale, Spo2Scale::Two);

        let on_air = News2Score::assess(&set(|_| {}), Spo2Scale::Two);
        assert_eq!(on_air.score, 0);

        // Oxygen not recorded: SpO2 scored as on air (0), and the set is incomplete.
        let unknown = News2Score::assess(&set(|r| r.on_oxygen = None), Spo2Scale::Two);
        assert_eq!(unknown.parameters[1].points, 0);
        assert_eq!(unknown.missing, vec![Parameter::OnOxygen]);
        assert!(!unknown.complete);

        // Scale 1 ignores oxygen for the SpO2 row; the oxygen row still adds 2.
        let scale_1 = News2Score::assess(&set(|r| r.on_oxygen = Some(true)), Spo2Scale::One);
        assert_eq!(scale_1.parameters[1].points, 0);
        assert_eq!(scale_1.score, 2);
    }

    #[test]
    fn scored_values_display_as_the_chart_reads() {
        assert_eq!(ScoredValue::Measured(97.0).to_string(), "97");
        assert_eq!(ScoredValue::Measured(36.5).to_string(), "36.5");
        assert_eq!(
            ScoredValue::Consciousness(Consciousness::Voice).to_string(),
            "voice"
        );
        assert_eq!(ScoredValue::OnOxygen(true).to_string(), "oxygen");
        assert_eq!(ScoredValue::OnOxygen(false).to_string(), "air");
    }
}
