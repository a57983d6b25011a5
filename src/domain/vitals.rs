//! One set of bedside observations: parsed with plausibility checks, flagged against adult
//! reference ranges, and summarised over time (latest, extremes, trend, next set due).
//!
//! Units are fixed so that a number can never be read in the wrong one: beats or breaths per
//! minute, mmHg, degrees Celsius, SpO2 in percent, kilograms, pain on the 0-10 numeric scale.
//!
//! Heart rate, respiratory rate, blood pressure and SpO2 may carry decimals: some monitors
//! report averaged values, and NEWS2 compares them continuously (see `news2`), so rounding here
//! would move a reading across a band edge without anyone seeing it. The pain score is a whole
//! number because the 0-10 scale has no fractions.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use super::FieldErrors;
use super::news2::Monitoring;

/// A closed set of ward terms with their wire spelling, `as_str`, `Display` and `FromStr`.
///
/// Shared with `news2` and `alert` so that every term is spelled in exactly one place.
macro_rules! ward_terms {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident => $text:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $($(#[$variant_meta])* $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!("must be one of {}", [$($text),+].join(", "))),
                }
            }
        }
    };
}

pub(crate) use ward_terms;

ward_terms!(
    /// Level of consciousness on the ACVPU scale used by NEWS2.
    ///
    /// `Confusion` means *new* confusion (new-onset or worsening disorientation), as NEWS2
    /// defines the C: a patient at their known chronic baseline is recorded as `Alert`.
    pub enum Consciousness {
        Alert => "alert",
        Confusion => "confusion",
        Voice => "voice",
        Pain => "pain",
        Unresponsive => "unresponsive",
    }
);

ward_terms!(
    /// One observed quantity. The spelling is the field name of `RawVitalSigns`, so an error or
    /// a flag points at the field the clinician typed. Declared in NEWS2 chart order, then the
    /// observations NEWS2 does not score.
    pub enum Parameter {
        RespiratoryRate => "respiratory_rate",
        Spo2 => "spo2",
        /// NEWS2's "air or oxygen?" row.
        OnOxygen => "on_oxygen",
        SystolicBp => "systolic_bp",
        DiastolicBp => "diastolic_bp",
        HeartRate => "heart_rate",
        Consciousness => "consciousness",
        TemperatureC => "temperature_c",
        PainScore => "pain_score",
        WeightKg => "weight_kg",
    }
);

/// Which NEWS2 oxygen saturation scale applies to the patient.
///
/// Scale 2 is only for patients with confirmed hypercapnic respiratory failure whose prescribed
/// target saturation is 88-92%, on a clinician's decision; everyone else is scored on Scale 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Spo2Scale {
    #[default]
    One,
    Two,
}

impl Spo2Scale {
    pub fn as_u8(self) -> u8 {
        match self {
            Spo2Scale::One => 1,
            Spo2Scale::Two => 2,
        }
    }
}

impl TryFrom<u8> for Spo2Scale {
    type Error = String;

    fn try_from(value: u8) -> Result<Self, Self::Error> {
        match value {
            1 => Ok(Spo2Scale::One),
            2 => Ok(Spo2Scale::Two),
            _ => Err("must be 1 or 2".to_owned()),
        }
    }
}

impl FromStr for Spo2Scale {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "1" => Ok(Spo2Scale::One),
            "2" => Ok(Spo2Scale::Two),
            _ => Err("must be 1 or 2".to_owned()),
        }
    }
}

impl fmt::Display for Spo2Scale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_u8())
    }
}

/// The inclusive range of values a living patient can show, beyond which a number is a typing
/// or unit mistake rather than an observation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlausibleRange {
    pub min: f64,
    pub max: f64,
    pub unit: &'static str,
}

impl PlausibleRange {
    fn check(self, value: f64) -> Result<f64, String> {
        if !value.is_finite() {
            return Err("must be a finite number".to_owned());
        }
        if value < self.min || value > self.max {
            return Err(self.message());
        }
        Ok(value)
    }

    fn message(self) -> String {
        format!(
            "must be between {} and {} {}",
            self.min, self.max, self.unit
        )
    }
}

// The limits below refuse what cannot be a living patient's reading. Extreme values that can be
// real (a heart rate of 25, a temperature of 31 °C) pass here and are flagged `Remeasure` by
// `flags`, so a true emergency is never rejected at the door.

/// 0 is asystole, not an observation to chart; above 300/min no rhythm is conducted.
pub const HEART_RATE_PLAUSIBLE: PlausibleRange = PlausibleRange {
    min: 1.0,
    max: 300.0,
    unit: "beats per minute",
};
/// Below 40 mmHg a cuff cannot measure; above 300 mmHg is beyond any recorded crisis.
pub const SYSTOLIC_BP_PLAUSIBLE: PlausibleRange = PlausibleRange {
    min: 40.0,
    max: 300.0,
    unit: "mmHg",
};
pub const DIASTOLIC_BP_PLAUSIBLE: PlausibleRange = PlausibleRange {
    min: 10.0,
    max: 200.0,
    unit: "mmHg",
};
/// Above 80/min is beyond any adult (and most neonatal) breathing.
pub const RESPIRATORY_RATE_PLAUSIBLE: PlausibleRange = PlausibleRange {
    min: 1.0,
    max: 80.0,
    unit: "breaths per minute",
};
/// Core temperatures outside 25-45 °C are not survivable readings on a ward.
pub const TEMPERATURE_C_PLAUSIBLE: PlausibleRange = PlausibleRange {
    min: 25.0,
    max: 45.0,
    unit: "°C",
};
/// 77-113 is exactly 25-45 °C expressed in °F: a number here is almost surely Fahrenheit.
pub const FAHRENHEIT_LOOKALIKE: PlausibleRange = PlausibleRange {
    min: 77.0,
    max: 113.0,
    unit: "°F",
};
/// Oximeters are not even specified below 70% (accuracy is defined for 70-100%); a number below
/// 30% cannot be a reading at all.
pub const SPO2_PLAUSIBLE: PlausibleRange = PlausibleRange {
    min: 30.0,
    max: 100.0,
    unit: "%",
};
pub const PAIN_SCORE_PLAUSIBLE: PlausibleRange = PlausibleRange {
    min: 0.0,
    max: 10.0,
    unit: "on the 0-10 scale",
};
/// From an extremely premature newborn to the heaviest patients a ward bed takes.
pub const WEIGHT_KG_PLAUSIBLE: PlausibleRange = PlausibleRange {
    min: 0.3,
    max: 500.0,
    unit: "kg",
};

/// One set of observations as received, before any check.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawVitalSigns {
    pub heart_rate: Option<f64>,
    pub systolic_bp: Option<f64>,
    pub diastolic_bp: Option<f64>,
    pub respiratory_rate: Option<f64>,
    pub temperature_c: Option<f64>,
    pub spo2: Option<f64>,
    pub pain_score: Option<f64>,
    pub weight_kg: Option<f64>,
    pub on_oxygen: Option<bool>,
    pub consciousness: Option<String>,
}

/// One set of observations, every present value plausible. Any observation may be absent: a
/// ward rarely takes every measurement every time, and absences are reported by NEWS2 rather
/// than guessed.
#[derive(Debug, Clone, PartialEq)]
pub struct VitalSigns {
    heart_rate: Option<f64>,
    systolic_bp: Option<f64>,
    diastolic_bp: Option<f64>,
    respiratory_rate: Option<f64>,
    temperature_c: Option<f64>,
    spo2: Option<f64>,
    pain_score: Option<u8>,
    weight_kg: Option<f64>,
    on_oxygen: Option<bool>,
    consciousness: Option<Consciousness>,
}

impl VitalSigns {
    /// Checks every field and reports every problem at once, each under its field name. A set
    /// with no observation at all is refused under `body`, the field the rest of the API uses
    /// for whole-request errors.
    pub fn parse(raw: RawVitalSigns) -> Result<VitalSigns, FieldErrors> {
        let mut errors = FieldErrors::default();
        let empty = raw.heart_rate.is_none()
            && raw.systolic_bp.is_none()
            && raw.diastolic_bp.is_none()
            && raw.respiratory_rate.is_none()
            && raw.temperature_c.is_none()
            && raw.spo2.is_none()
            && raw.pain_score.is_none()
            && raw.weight_kg.is_none()
            && raw.on_oxygen.is_none()
            && raw.consciousness.is_none();
        if empty {
            errors.push("body", "must contain at least one observation");
        }

        let mut field =
            |parameter: Parameter, value: Option<f64>, parse: fn(f64) -> Result<f64, String>| {
                value.and_then(|v| errors.check(parameter.as_str(), parse(v)))
            };
        let heart_rate = field(Parameter::HeartRate, raw.heart_rate, |v| {
            HEART_RATE_PLAUSIBLE.check(v)
        });
        let systolic_bp = field(Parameter::SystolicBp, raw.systolic_bp, |v| {
            SYSTOLIC_BP_PLAUSIBLE.check(v)
        });
        let diastolic_bp = field(Parameter::DiastolicBp, raw.diastolic_bp, |v| {
            DIASTOLIC_BP_PLAUSIBLE.check(v)
        });
        let respiratory_rate = field(Parameter::RespiratoryRate, raw.respiratory_rate, |v| {
            RESPIRATORY_RATE_PLAUSIBLE.check(v)
        });
        let temperature_c = field(
            Parameter::TemperatureC,
            raw.temperature_c,
            parse_temperature_c,
        );
        let spo2 = field(Parameter::Spo2, raw.spo2, parse_spo2);
        let weight_kg = field(Parameter::WeightKg, raw.weight_kg, parse_weight_kg);
        let pain_score = raw
            .pain_score
            .and_then(|v| errors.check(Parameter::PainScore.as_str(), parse_pain_score(v)));
        let consciousness = raw.consciousness.as_deref().and_then(|text| {
            errors.check(
                Parameter::Consciousness.as_str(),
                text.parse::<Consciousness>(),
            )
        });

        // Only compared when both parsed: an implausible systolic already has its own error.
        if let (Some(systolic), Some(diastolic)) = (systolic_bp, diastolic_bp)
            && diastolic >= systolic
        {
            errors.push(
                Parameter::DiastolicBp.as_str(),
                format!("must be below the systolic pressure ({systolic} mmHg)"),
            );
        }

        errors.into_result(|| VitalSigns {
            heart_rate,
            systolic_bp,
            diastolic_bp,
            respiratory_rate,
            temperature_c,
            spo2,
            pain_score,
            weight_kg,
            on_oxygen: raw.on_oxygen,
            consciousness,
        })
    }

    pub fn heart_rate(&self) -> Option<f64> {
        self.heart_rate
    }

    pub fn systolic_bp(&self) -> Option<f64> {
        self.systolic_bp
    }

    pub fn diastolic_bp(&self) -> Option<f64> {
        self.diastolic_bp
    }

    pub fn respiratory_rate(&self) -> Option<f64> {
        self.respiratory_rate
    }

    pub fn temperature_c(&self) -> Option<f64> {
        self.temperature_c
    }

    pub fn spo2(&self) -> Option<f64> {
        self.spo2
    }

    pub fn pain_score(&self) -> Option<u8> {
        self.pain_score
    }

    pub fn weight_kg(&self) -> Option<f64> {
        self.weight_kg
    }

    /// `Some(true)` on supplemental oxygen, `Some(false)` on room air, `None` not recorded.
    pub fn on_oxygen(&self) -> Option<bool> {
        self.on_oxygen
    }

    pub fn consciousness(&self) -> Option<Consciousness> {
        self.consciousness
    }

    /// The numeric value of a parameter; `None` when absent or when the parameter is not a number
    /// (consciousness, air or oxygen).
    pub fn value(&self, parameter: Parameter) -> Option<f64> {
        match parameter {
            Parameter::RespiratoryRate => self.respiratory_rate,
            Parameter::Spo2 => self.spo2,
            Parameter::SystolicBp => self.systolic_bp,
            Parameter::DiastolicBp => self.diastolic_bp,
            Parameter::HeartRate => self.heart_rate,
            Parameter::TemperatureC => self.temperature_c,
            Parameter::PainScore => self.pain_score.map(f64::from),
            Parameter::WeightKg => self.weight_kg,
            Parameter::OnOxygen | Parameter::Consciousness => None,
        }
    }
}

fn parse_temperature_c(value: f64) -> Result<f64, String> {
    if (FAHRENHEIT_LOOKALIKE.min..=FAHRENHEIT_LOOKALIKE.max).contains(&value) {
        return Err(format!(
            "looks like degrees Fahrenheit; record the temperature in degrees Celsius \
             ({} to {} °C)",
            TEMPERATURE_C_PLAUSIBLE.min, TEMPERATURE_C_PLAUSIBLE.max
        ));
    }
    TEMPERATURE_C_PLAUSIBLE.check(value)
}

fn parse_spo2(value: f64) -> Result<f64, String> {
    // 0.95 for 95% is the usual mistake of a device or spreadsheet that stores a fraction.
    if value > 0.0 && value <= 1.0 {
        return Err(format!(
            "looks like a fraction; record SpO2 as a percentage ({} to {} %)",
            SPO2_PLAUSIBLE.min, SPO2_PLAUSIBLE.max
        ));
    }
    SPO2_PLAUSIBLE.check(value)
}

fn parse_weight_kg(value: f64) -> Result<f64, String> {
    // 1000 or more can only be grams; between 500 and 1000 it could be either, so no guess.
    if value >= 1000.0 && value.is_finite() {
        return Err(format!(
            "{} (was it entered in grams?)",
            WEIGHT_KG_PLAUSIBLE.message()
        ));
    }
    WEIGHT_KG_PLAUSIBLE.check(value)
}

fn parse_pain_score(value: f64) -> Result<u8, String> {
    let message = || "must be a whole number from 0 to 10".to_owned();
    if !value.is_finite() {
        return Err("must be a finite number".to_owned());
    }
    if value.fract() != 0.0
        || !(PAIN_SCORE_PLAUSIBLE.min..=PAIN_SCORE_PLAUSIBLE.max).contains(&value)
    {
        return Err(message());
    }
    u8::try_from(value as i64).map_err(|_| message())
}

// ---------------------------------------------------------------------------------------------
// Flags: one observation against the adult reference range.
// ---------------------------------------------------------------------------------------------

ward_terms!(
    /// How far an observation is from the adult reference range.
    ///
    /// `Remeasure` outranks the critical levels: the value is so extreme that an artefact (a
    /// slipped probe, a cuff of the wrong size, a typo) is more likely than physiology, so the
    /// first action is to repeat the measurement at once. If the repeat confirms it, it is
    /// critical.
    pub enum FlagLevel {
        Low => "low",
        High => "high",
        CriticalLow => "critical_low",
        CriticalHigh => "critical_high",
        Remeasure => "remeasure",
    }
);

/// Inclusive adult reference range: a value is low below `low` and high above `high`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NormalRange {
    pub low: f64,
    pub high: f64,
}

/// One observation outside its reference range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Flag {
    pub parameter: Parameter,
    pub level: FlagLevel,
    pub range: NormalRange,
    pub value: f64,
}

/// The thresholds that flag one parameter.
///
/// Critical edges use NEWS2's continuous convention so that a critical flag and a NEWS2 red
/// score (3 points) always agree: `critical_at_or_below` is the top of the lowest band and
/// `critical_above` the top of the band below the highest one (e.g. pulse ">= 131" is "> 130",
/// so that 130.5 is critical exactly as NEWS2 scores it 3). Remeasure edges are strict.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlagLimits {
    pub parameter: Parameter,
    pub normal: NormalRange,
    pub critical_at_or_below: Option<f64>,
    pub critical_above: Option<f64>,
    pub remeasure_below: Option<f64>,
    pub remeasure_above: Option<f64>,
}

impl FlagLimits {
    /// The level of `value`, or `None` inside the reference range.
    pub fn level(&self, value: f64) -> Option<FlagLevel> {
        if self.remeasure_below.is_some_and(|edge| value < edge)
            || self.remeasure_above.is_some_and(|edge| value > edge)
        {
            return Some(FlagLevel::Remeasure);
        }
        if self.critical_at_or_below.is_some_and(|edge| value <= edge) {
            return Some(FlagLevel::CriticalLow);
        }
        if self.critical_above.is_some_and(|edge| value > edge) {
            return Some(FlagLevel::CriticalHigh);
        }
        if value < self.normal.low {
            return Some(FlagLevel::Low);
        }
        if value > self.normal.high {
            return Some(FlagLevel::High);
        }
        None
    }
}

/// Respiratory rate: reference 12-20/min (the NEWS2 0-point band); critical at NEWS2's red bands
/// (<= 8, >= 25); remeasure below 5 or above 60/min (count again over a full minute).
pub const RESPIRATORY_RATE_FLAGS: FlagLimits = FlagLimits {
    parameter: Parameter::RespiratoryRate,
    normal: NormalRange {
        low: 12.0,
        high: 20.0,
    },
    critical_at_or_below: Some(8.0),
    critical_above: Some(24.0),
    remeasure_below: Some(5.0),
    remeasure_above: Some(60.0),
};

/// SpO2 on Scale 1: reference 96-100% (the NEWS2 Scale 1 0-point band); critical at <= 91%
/// (NEWS2 Scale 1 red band); remeasure below 70%, where oximeters are not specified to be
/// accurate (ISO 80601-2-61 specifies accuracy over 70-100%).
pub const SPO2_FLAGS: FlagLimits = FlagLimits {
    parameter: Parameter::Spo2,
    normal: NormalRange {
        low: 96.0,
        high: 100.0,
    },
    critical_at_or_below: Some(91.0),
    critical_above: None,
    remeasure_below: Some(70.0),
    remeasure_above: None,
};

/// SpO2 on Scale 2 (a prescribed target of 88-92%, in hypercapnic respiratory failure), on
/// oxygen: reference 88-92%, since above it NEWS2 scores over-oxygenation; critical at <= 83%
/// and above 96% (both Scale 2 red bands); remeasure below 70%.
pub const SPO2_SCALE_2_ON_OXYGEN_FLAGS: FlagLimits = FlagLimits {
    parameter: Parameter::Spo2,
    normal: NormalRange {
        low: 88.0,
        high: 92.0,
    },
    critical_at_or_below: Some(83.0),
    critical_above: Some(96.0),
    remeasure_below: Some(70.0),
    remeasure_above: None,
};

/// SpO2 on Scale 2 on air (or with oxygen not charted, which NEWS2 scores as air above 92%):
/// reference 88-100%, since on air a saturation above the target is no harm; critical at <= 83%;
/// remeasure below 70%.
pub const SPO2_SCALE_2_ON_AIR_FLAGS: FlagLimits = FlagLimits {
    parameter: Parameter::Spo2,
    normal: NormalRange {
        low: 88.0,
        high: 100.0,
    },
    critical_at_or_below: Some(83.0),
    critical_above: None,
    remeasure_below: Some(70.0),
    remeasure_above: None,
};

/// Systolic: reference 101-139 mmHg (at 100 or below NEWS2 scores 2 or more and qSOFA counts
/// hypotension; 140 is the NICE NG136 threshold for hypertension); critical at NEWS2's red
/// bands (<= 90, >= 220); remeasure below 60 or above 250 mmHg (check the cuff size and arm).
pub const SYSTOLIC_BP_FLAGS: FlagLimits = FlagLimits {
    parameter: Parameter::SystolicBp,
    normal: NormalRange {
        low: 101.0,
        high: 139.0,
    },
    critical_at_or_below: Some(90.0),
    critical_above: Some(219.0),
    remeasure_below: Some(60.0),
    remeasure_above: Some(250.0),
};

/// Diastolic (not scored by NEWS2): reference 60-89 mmHg (NICE NG136's 90 for hypertension);
/// critical above 120 mmHg (the AHA hypertensive crisis line); remeasure below 30 or above 150.
pub const DIASTOLIC_BP_FLAGS: FlagLimits = FlagLimits {
    parameter: Parameter::DiastolicBp,
    normal: NormalRange {
        low: 60.0,
        high: 89.0,
    },
    critical_at_or_below: None,
    critical_above: Some(120.0),
    remeasure_below: Some(30.0),
    remeasure_above: Some(150.0),
};

/// Pulse: reference 60-100/min (the AHA adult resting range); critical at NEWS2's red bands
/// (<= 40, >= 131); remeasure below 30 or above 220/min (count manually or take an ECG).
pub const HEART_RATE_FLAGS: FlagLimits = FlagLimits {
    parameter: Parameter::HeartRate,
    normal: NormalRange {
        low: 60.0,
        high: 100.0,
    },
    critical_at_or_below: Some(40.0),
    critical_above: Some(130.0),
    remeasure_below: Some(30.0),
    remeasure_above: Some(220.0),
};

/// Temperature: reference 36.1-38.0 °C (the NEWS2 0-point band); critical at <= 35.0 °C (NEWS2
/// red band) and >= 39.1 °C (NEWS2's highest band, 2 points: temperature has no red band above);
/// remeasure below 32 or above 42 °C (check the probe and site). The reference edges are the
/// printed ones, so 36.05 °C reads low here although NEWS2 scores it 0.
pub const TEMPERATURE_C_FLAGS: FlagLimits = FlagLimits {
    parameter: Parameter::TemperatureC,
    normal: NormalRange {
        low: 36.1,
        high: 38.0,
    },
    critical_at_or_below: Some(35.0),
    critical_above: Some(39.0),
    remeasure_below: Some(32.0),
    remeasure_above: Some(42.0),
};

/// Every flagged parameter, in `Parameter` order. Consciousness is not flagged here: any level
/// other than alert scores 3 in NEWS2 and raises its alert there. Pain and weight have no
/// reference range to flag against.
pub const FLAG_LIMITS: [FlagLimits; 6] = [
    RESPIRATORY_RATE_FLAGS,
    SPO2_FLAGS,
    SYSTOLIC_BP_FLAGS,
    DIASTOLIC_BP_FLAGS,
    HEART_RATE_FLAGS,
    TEMPERATURE_C_FLAGS,
];

/// Every observation of the set outside its adult reference range, in `Parameter` order. SpO2
/// is judged against the patient's scale: on Scale 2, against the prescribed 88-92% target.
pub fn flags(vitals: &VitalSigns, scale: Spo2Scale) -> Vec<Flag> {
    FLAG_LIMITS
        .iter()
        .map(|limits| match (limits.parameter, scale) {
            (Parameter::Spo2, Spo2Scale::Two) if vitals.on_oxygen() == Some(true) => {
                &SPO2_SCALE_2_ON_OXYGEN_FLAGS
            }
            (Parameter::Spo2, Spo2Scale::Two) => &SPO2_SCALE_2_ON_AIR_FLAGS,
            _ => limits,
        })
        .filter_map(|limits| {
            let value = vitals.value(limits.parameter)?;
            limits.level(value).map(|level| Flag {
                parameter: limits.parameter,
                level,
                range: limits.normal,
                value,
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Insights: a parameter over time, and when the next set is due.
// ---------------------------------------------------------------------------------------------

ward_terms!(
    /// Direction of a parameter over the summarised period.
    pub enum Trend {
        Rising => "rising",
        Falling => "falling",
        Stable => "stable",
    }
);

impl Parameter {
    /// The least-squares slope, in the parameter's unit per hour, up to which a series counts as
    /// stable. These are the ward's own choices, not published values: a drift a clinician
    /// would notice over a day is a trend (24 beats/min, 24 mmHg, 6 breaths/min, 6 % SpO2,
    /// 1.2 °C, 2.4 pain points, 0.5 kg), anything slower is noise. `None` for parameters that
    /// are not numbers.
    pub fn trend_tolerance_per_hour(self) -> Option<f64> {
        match self {
            Parameter::RespiratoryRate => Some(0.25),
            Parameter::Spo2 => Some(0.25),
            Parameter::SystolicBp => Some(1.0),
            Parameter::DiastolicBp => Some(1.0),
            Parameter::HeartRate => Some(1.0),
            Parameter::TemperatureC => Some(0.05),
            Parameter::PainScore => Some(0.1),
            Parameter::WeightKg => Some(0.02),
            Parameter::OnOxygen | Parameter::Consciousness => None,
        }
    }
}

/// One parameter summarised over a period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParameterSummary {
    pub parameter: Parameter,
    pub latest: f64,
    pub latest_at: DateTime<Utc>,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub count: usize,
    /// Least-squares slope in unit per hour; `None` when the readings span no time.
    pub slope_per_hour: Option<f64>,
    pub trend: Trend,
}

impl ParameterSummary {
    /// Summarises `series` (in any order). Non-finite values are left out. `None` when no value
    /// remains or the parameter is not numeric. Of readings sharing the latest time, the last
    /// one given is `latest`. A series without a time span is `Stable`: one reading shows no
    /// direction.
    pub fn over(parameter: Parameter, series: &[(DateTime<Utc>, f64)]) -> Option<ParameterSummary> {
        let tolerance = parameter.trend_tolerance_per_hour()?;
        let readings: Vec<(DateTime<Utc>, f64)> = series
            .iter()
            .copied()
            .filter(|(_, v)| v.is_finite())
            .collect();
        let (latest_at, latest) = *readings.iter().max_by_key(|(at, _)| *at)?;
        let first_at = readings.iter().map(|(at, _)| *at).min()?;

        let count = readings.len();
        let n = count as f64;
        let min = readings
            .iter()
            .map(|(_, v)| *v)
            .fold(f64::INFINITY, f64::min);
        let max = readings
            .iter()
            .map(|(_, v)| *v)
            .fold(f64::NEG_INFINITY, f64::max);
        let mean = readings.iter().map(|(_, v)| *v).sum::<f64>() / n;

        let hours = |at: DateTime<Utc>| (at - first_at).num_milliseconds() as f64 / 3_600_000.0;
        let mean_hours = readings.iter().map(|(at, _)| hours(*at)).sum::<f64>() / n;
        let (covariance, variance) = readings.iter().fold((0.0, 0.0), |(cov, var), (at, v)| {
            let dx = hours(*at) - mean_hours;
            (cov + dx * (v - mean), var + dx * dx)
        });
        let slope_per_hour = (variance > 0.0).then(|| covariance / variance);
        let trend = match slope_per_hour {
            Some(slope) if slope > tolerance => Trend::Rising,
            Some(slope) if slope < -tolerance => Trend::Falling,
            _ => Trend::Stable,
        };

        Some(ParameterSummary {
            parameter,
            latest,
            latest_at,
            min,
            max,
            mean,
            count,
            slope_per_hour,
            trend,
        })
    }
}

/// When the next set of observations is due at the latest, given the monitoring the last set's
/// NEWS2 called for.
pub fn next_due(last_recorded_at: DateTime<Utc>, monitoring: &Monitoring) -> DateTime<Utc> {
    last_recorded_at
        .checked_add_signed(monitoring.interval)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Whether the next set is overdue at `now`: strictly after the due time, so a set taken exactly
/// on time is not late.
pub fn overdue(
    last_recorded_at: DateTime<Utc>,
    monitoring: &Monitoring,
    now: DateTime<Utc>,
) -> bool {
    now > next_due(last_recorded_at, monitoring)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::FieldError;
    use chrono::{Duration, NaiveDate};

    fn parse(fill: impl FnOnce(&mut RawVitalSigns)) -> Result<VitalSigns, FieldErrors> {
        let mut raw = RawVitalSigns::default();
        fill(&mut raw);
        VitalSigns::parse(raw)
    }

    fn errors_of(fill: impl FnOnce(&mut RawVitalSigns)) -> Vec<FieldError> {
        parse(fill).expect_err("should be refused").0
    }

    fn t0() -> DateTime<Utc> {
        NaiveDate::from_ymd_opt(2025, 6, 1)
            .unwrap()
            .and_hms_opt(8, 0, 0)
            .unwrap()
            .and_utc()
    }

    fn at_minutes(minutes: i64) -> DateTime<Utc> {
        t0() + Duration::minutes(minutes)
    }

    type Setter = fn(&mut RawVitalSigns, f64);

    /// (field, setter, lowest accepted, just below, highest accepted, just above)
    fn numeric_limits() -> Vec<(&'static str, Setter, f64, f64, f64, f64)> {
        vec![
            (
                "heart_rate",
                |r, v| r.heart_rate = Some(v),
                1.0,
                0.9,
                300.0,
                300.1,
            ),
            (
                "systolic_bp",
                |r, v| r.systolic_bp = Some(v),
                40.0,
                39.9,
                300.0,
                300.1,
            ),
            (
                "diastolic_bp",
                |r, v| r.diastolic_bp = Some(v),
                10.0,
                9.9,
                200.0,
                200.1,
            ),
            (
                "respiratory_rate",
                |r, v| r.respiratory_rate = Some(v),
                1.0,
                0.9,
                80.0,
                80.1,
            ),
            (
                "temperature_c",
                |r, v| r.temperature_c = Some(v),
                25.0,
                24.9,
                45.0,
                45.1,
            ),
            ("spo2", |r, v| r.spo2 = Some(v), 30.0, 29.9, 100.0, 100.1),
            (
                "pain_score",
                |r, v| r.pain_score = Some(v),
                0.0,
                -1.0,
                10.0,
                11.0,
            ),
            (
                "weight_kg",
                |r, v| r.weight_kg = Some(v),
                0.3,
                0.29,
                500.0,
                500.1,
            ),
        ]
    }

    #[test]
    fn every_plausibility_limit_is_inclusive_and_refused_just_outside() {
        for (field, set, min, below, max, above) in numeric_limits() {
            assert!(parse(|r| set(r, min)).is_ok(), "{field} {min} should pass");
            assert!(parse(|r| set(r, max)).is_ok(), "{field} {max} should pass");
            for bad in [below, above] {
                let errors = errors_of(|r| set(r, bad));
                assert_eq!(errors.len(), 1, "{field} {bad}");
                assert_eq!(errors[0].field, field, "{field} {bad}");
            }
        }
    }

    #[test]
    fn non_finite_numbers_are_refused_for_every_field() {
        for (field, set, ..) in numeric_limits() {
            for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                let errors = errors_of(|r| set(r, bad));
                assert_eq!(
                    errors,
                    vec![FieldError::new(field, "must be a finite number")],
                    "{field} {bad}"
                );
            }
        }
    }

    #[test]
    fn limit_messages_name_the_range_and_unit() {
        assert_eq!(
            errors_of(|r| r.heart_rate = Some(0.0)),
            vec![FieldError::new(
                "heart_rate",
                "must be between 1 and 300 beats per minute"
            )]
        );
        assert_eq!(
            errors_of(|r| r.heart_rate = Some(-60.0)),
            vec![FieldError::new(
                "heart_rate",
                "must be between 1 and 300 beats per minute"
            )]
        );
        assert_eq!(
            errors_of(|r| r.temperature_c = Some(46.0)),
            vec![FieldError::new(
                "temperature_c",
                "must be between 25 and 45 °C"
            )]
        );
        assert_eq!(
            errors_of(|r| r.weight_kg = Some(0.2)),
            vec![FieldError::new(
                "weight_kg",
                "must be between 0.3 and 500 kg"
            )]
        );
    }

    #[test]
    fn temperature_in_fahrenheit_range_says_so() {
        let fahrenheit = "looks like degrees Fahrenheit; record the temperature in degrees \
                          Celsius (25 to 45 °C)";
        for value in [77.0, 98.6, 100.4, 113.0] {
            assert_eq!(
                errors_of(|r| r.temperature_c = Some(value)),
                vec![FieldError::new("temperature_c", fahrenheit)],
                "{value}"
            );
        }
        for value in [76.9, 113.1, 300.0] {
            assert_eq!(
                errors_of(|r| r.temperature_c = Some(value)),
                vec![FieldError::new(
                    "temperature_c",
                    "must be between 25 and 45 °C"
                )],
                "{value}"
            );
        }
    }

    #[test]
    fn spo2_as_a_fraction_says_so() {
        let fraction = "looks like a fraction; record SpO2 as a percentage (30 to 100 %)";
        for value in [0.95, 1.0, 0.01] {
            assert_eq!(
                errors_of(|r| r.spo2 = Some(value)),
                vec![FieldError::new("spo2", fraction)],
                "{value}"
            );
        }
        assert_eq!(
            errors_of(|r| r.spo2 = Some(0.0)),
            vec![FieldError::new("spo2", "must be between 30 and 100 %")]
        );
    }

    #[test]
    fn weight_in_grams_gets_a_hint() {
        assert_eq!(
            errors_of(|r| r.weight_kg = Some(70_000.0)),
            vec![FieldError::new(
                "weight_kg",
                "must be between 0.3 and 500 kg (was it entered in grams?)"
            )]
        );
        assert_eq!(
            errors_of(|r| r.weight_kg = Some(999.0)),
            vec![FieldError::new(
                "weight_kg",
                "must be between 0.3 and 500 kg"
            )]
        );
        assert_eq!(
            errors_of(|r| r.weight_kg = Some(1000.0))[0].message,
            "must be between 0.3 and 500 kg (was it entered in grams?)"
        );
    }

    #[test]
    fn pain_score_must_be_a_whole_number() {
        for value in [0.0, 3.0, 10.0] {
            assert_eq!(
                parse(|r| r.pain_score = Some(value)).unwrap().pain_score(),
                Some(value as u8)
            );
        }
        for value in [3.5, 0.1, 9.99, -1.0, 11.0] {
            assert_eq!(
                errors_of(|r| r.pain_score = Some(value)),
                vec![FieldError::new(
                    "pain_score",
                    "must be a whole number from 0 to 10"
                )],
                "{value}"
            );
        }
    }

    #[test]
    fn decimals_are_kept_where_clinically_continuous() {
        let vitals = parse(|r| {
            r.heart_rate = Some(72.5);
            r.respiratory_rate = Some(16.5);
            r.systolic_bp = Some(120.5);
            r.diastolic_bp = Some(80.5);
            r.spo2 = Some(96.5);
            r.temperature_c = Some(36.85);
        })
        .unwrap();
        assert_eq!(vitals.heart_rate(), Some(72.5));
        assert_eq!(vitals.respiratory_rate(), Some(16.5));
        assert_eq!(vitals.systolic_bp(), Some(120.5));
        assert_eq!(vitals.diastolic_bp(), Some(80.5));
        assert_eq!(vitals.spo2(), Some(96.5));
        assert_eq!(vitals.temperature_c(), Some(36.85));
    }

    #[test]
    fn diastolic_must_be_below_systolic() {
        assert!(
            parse(|r| {
                r.systolic_bp = Some(120.0);
                r.diastolic_bp = Some(119.0);
            })
            .is_ok()
        );
        for diastolic in [120.0, 130.0] {
            assert_eq!(
                errors_of(|r| {
                    r.systolic_bp = Some(120.0);
                    r.diastolic_bp = Some(diastolic);
                }),
                vec![FieldError::new(
                    "diastolic_bp",
                    "must be below the systolic pressure (120 mmHg)"
                )]
            );
        }
        // An implausible systolic has its own error; no second error is invented from it.
        assert_eq!(
            errors_of(|r| {
                r.systolic_bp = Some(30.0);
                r.diastolic_bp = Some(80.0);
            }),
            vec![FieldError::new(
                "systolic_bp",
                "must be between 40 and 300 mmHg"
            )]
        );
        // Either pressure alone is fine.
        assert!(parse(|r| r.diastolic_bp = Some(150.0)).is_ok());
    }

    #[test]
    fn an_empty_set_is_refused_under_body() {
        assert_eq!(
            errors_of(|_| {}),
            vec![FieldError::new(
                "body",
                "must contain at least one observation"
            )]
        );
    }

    #[test]
    fn any_single_observation_is_a_set() {
        assert!(parse(|r| r.on_oxygen = Some(false)).is_ok());
        assert!(parse(|r| r.consciousness = Some("alert".into())).is_ok());
        assert!(parse(|r| r.weight_kg = Some(70.0)).is_ok());
    }

    #[test]
    fn every_error_is_reported_at_once() {
        let errors = errors_of(|r| {
            r.heart_rate = Some(0.0);
            r.temperature_c = Some(98.6);
            r.spo2 = Some(101.0);
            r.consciousness = Some("drowsy".into());
            r.pain_score = Some(2.5);
        });
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "heart_rate",
                "temperature_c",
                "spo2",
                "pain_score",
                "consciousness"
            ]
        );
    }

    #[test]
    fn consciousness_is_one_of_acvpu() {
        for (text, level) in [
            ("alert", Consciousness::Alert),
            ("confusion", Consciousness::Confusion),
            ("voice", Consciousness::Voice),
            ("pain", Consciousness::Pain),
            ("unresponsive", Consciousness::Unresponsive),
        ] {
            let vitals = parse(|r| r.consciousness = Some(text.into())).unwrap();
            assert_eq!(vitals.consciousness(), Some(level));
            assert_eq!(level.as_str(), text);
        }
        for text in ["Alert", "drowsy", "", "v"] {
            assert_eq!(
                errors_of(|r| r.consciousness = Some(text.into())),
                vec![FieldError::new(
                    "consciousness",
                    "must be one of alert, confusion, voice, pain, unresponsive"
                )]
            );
        }
    }

    #[test]
    fn spo2_scale_is_one_or_two() {
        assert_eq!(Spo2Scale::try_from(1), Ok(Spo2Scale::One));
        assert_eq!(Spo2Scale::try_from(2), Ok(Spo2Scale::Two));
        assert!(Spo2Scale::try_from(0).is_err());
        assert!(Spo2Scale::try_from(3).is_err());
        assert_eq!("2".parse::<Spo2Scale>(), Ok(Spo2Scale::Two));
        assert!("two".parse::<Spo2Scale>().is_err());
        assert_eq!(Spo2Scale::Two.as_u8(), 2);
        assert_eq!(Spo2Scale::default(), Spo2Scale::One);
    }

    #[test]
    fn parameter_names_are_the_raw_field_names() {
        for parameter in Parameter::ALL {
            assert_eq!(parameter.as_str().parse::<Parameter>(), Ok(*parameter));
        }
        assert_eq!(Parameter::OnOxygen.as_str(), "on_oxygen");
        assert_eq!(Parameter::TemperatureC.as_str(), "temperature_c");
    }

    fn assert_levels(limits: &FlagLimits, cases: &[(f64, Option<FlagLevel>)]) {
        for (value, expected) in cases {
            assert_eq!(
                limits.level(*value),
                *expected,
                "{} {value}",
                limits.parameter
            );
        }
    }

    use FlagLevel::{CriticalHigh as CH, CriticalLow as CL, High as H, Low as L, Remeasure as R};

    #[test]
    fn heart_rate_flag_boundaries() {
        assert_levels(
            &HEART_RATE_FLAGS,
            &[
                (29.9, Some(R)),
                (30.0, Some(CL)),
                (40.0, Some(CL)),
                (40.5, Some(L)),
                (59.9, Some(L)),
                (60.0, None),
                (100.0, None),
                (100.5, Some(H)),
                (130.0, Some(H)),
                (130.5, Some(CH)),
                (131.0, Some(CH)),
                (220.0, Some(CH)),
                (220.5, Some(R)),
            ],
        );
    }

    #[test]
    fn respiratory_rate_flag_boundaries() {
        assert_levels(
            &RESPIRATORY_RATE_FLAGS,
            &[
                (4.9, Some(R)),
                (5.0, Some(CL)),
                (8.0, Some(CL)),
                (8.5, Some(L)),
                (11.9, Some(L)),
                (12.0, None),
                (20.0, None),
                (20.5, Some(H)),
                (24.0, Some(H)),
                (24.5, Some(CH)),
                (25.0, Some(CH)),
                (60.0, Some(CH)),
                (60.5, Some(R)),
            ],
        );
    }

    #[test]
    fn spo2_flag_boundaries() {
        assert_levels(
            &SPO2_FLAGS,
            &[
                (69.9, Some(R)),
                (70.0, Some(CL)),
                (91.0, Some(CL)),
                (91.5, Some(L)),
                (95.9, Some(L)),
                (96.0, None),
                (100.0, None),
            ],
        );
    }

    #[test]
    fn spo2_scale_2_flag_boundaries() {
        assert_levels(
            &SPO2_SCALE_2_ON_OXYGEN_FLAGS,
            &[
                (69.9, Some(R)),
                (70.0, Some(CL)),
                (83.0, Some(CL)),
                (83.5, Some(L)),
                (87.9, Some(L)),
                (88.0, None),
                (92.0, None),
                (92.5, Some(H)),
                (96.0, Some(H)),
                (96.5, Some(CH)),
                (100.0, Some(CH)),
            ],
        );
        assert_levels(
            &SPO2_SCALE_2_ON_AIR_FLAGS,
            &[
                (69.9, Some(R)),
                (83.0, Some(CL)),
                (87.9, Some(L)),
                (88.0, None),
                (100.0, None),
            ],
        );
    }

    #[test]
    fn spo2_is_flagged_against_the_patients_scale() {
        let at = |spo2: f64, on_oxygen: Option<bool>| {
            parse(|r| {
                r.spo2 = Some(spo2);
                r.on_oxygen = on_oxygen;
            })
            .unwrap()
        };
        // 88% is a Scale 2 patient's target, and critical on Scale 1.
        assert_eq!(flags(&at(88.0, Some(true)), Spo2Scale::Two), vec![]);
        assert_eq!(
            flags(&at(88.0, Some(true)), Spo2Scale::One)[0].level,
            FlagLevel::CriticalLow
        );
        // 98% on oxygen is over-oxygenation on Scale 2, judged against 88-92%.
        let high = flags(&at(98.0, Some(true)), Spo2Scale::Two);
        assert_eq!(high[0].level, FlagLevel::CriticalHigh);
        assert_eq!(
            high[0].range,
            NormalRange {
                low: 88.0,
                high: 92.0
            }
        );
        // On air, or with oxygen not charted, a saturation above the target is no harm.
        assert_eq!(flags(&at(98.0, Some(false)), Spo2Scale::Two), vec![]);
        assert_eq!(flags(&at(98.0, None), Spo2Scale::Two), vec![]);
        assert_eq!(flags(&at(98.0, None), Spo2Scale::One), vec![]);
    }

    #[test]
    fn systolic_flag_boundaries() {
        assert_levels(
            &SYSTOLIC_BP_FLAGS,
            &[
                (59.9, Some(R)),
                (60.0, Some(CL)),
                (90.0, Some(CL)),
                (90.5, Some(L)),
                (100.0, Some(L)),
                (100.5, Some(L)),
                (101.0, None),
                (139.0, None),
                (139.5, Some(H)),
                (219.0, Some(H)),
                (219.5, Some(CH)),
                (220.0, Some(CH)),
                (250.0, Some(CH)),
                (250.5, Some(R)),
            ],
        );
    }

    #[test]
    fn diastolic_flag_boundaries() {
        assert_levels(
            &DIASTOLIC_BP_FLAGS,
            &[
                (29.9, Some(R)),
                (30.0, Some(L)),
                (59.9, Some(L)),
                (60.0, None),
                (89.0, None),
                (89.5, Some(H)),
                (120.0, Some(H)),
                (120.5, Some(CH)),
                (150.0, Some(CH)),
                (150.5, Some(R)),
            ],
        );
    }

    #[test]
    fn temperature_flag_boundaries() {
        assert_levels(
            &TEMPERATURE_C_FLAGS,
            &[
                (31.9, Some(R)),
                (32.0, Some(CL)),
                (35.0, Some(CL)),
                (35.05, Some(L)),
                (36.05, Some(L)),
                (36.1, None),
                (38.0, None),
                (38.05, Some(H)),
                (39.0, Some(H)),
                (39.05, Some(CH)),
                (39.1, Some(CH)),
                (42.0, Some(CH)),
                (42.1, Some(R)),
            ],
        );
    }

    #[test]
    fn flags_of_a_set_in_parameter_order() {
        let normal = parse(|r| {
            r.respiratory_rate = Some(16.0);
            r.spo2 = Some(98.0);
            r.systolic_bp = Some(120.0);
            r.diastolic_bp = Some(80.0);
            r.heart_rate = Some(72.0);
            r.temperature_c = Some(36.8);
            r.consciousness = Some("voice".into());
            r.pain_score = Some(9.0);
            r.weight_kg = Some(300.0);
        })
        .unwrap();
        assert_eq!(flags(&normal, Spo2Scale::One), vec![]);

        let abnormal = parse(|r| {
            r.temperature_c = Some(39.5);
            r.heart_rate = Some(45.0);
            r.spo2 = Some(65.0);
        })
        .unwrap();
        assert_eq!(
            flags(&abnormal, Spo2Scale::One),
            vec![
                Flag {
                    parameter: Parameter::Spo2,
                    level: FlagLevel::Remeasure,
                    range: NormalRange {
                        low: 96.0,
                        high: 100.0
                    },
                    value: 65.0,
                },
                Flag {
                    parameter: Parameter::HeartRate,
                    level: FlagLevel::Low,
                    range: NormalRange {
                        low: 60.0,
                        high: 100.0
                    },
                    value: 45.0,
                },
                Flag {
                    parameter: Parameter::TemperatureC,
                    level: FlagLevel::CriticalHigh,
                    range: NormalRange {
                        low: 36.1,
                        high: 38.0
                    },
                    value: 39.5,
                },
            ]
        );
    }

    #[test]
    fn flag_levels_are_spelled_snake_case() {
        assert_eq!(FlagLevel::CriticalLow.as_str(), "critical_low");
        assert_eq!("remeasure".parse::<FlagLevel>(), Ok(FlagLevel::Remeasure));
    }

    #[test]
    fn summary_of_nothing_or_of_a_category_is_none() {
        assert_eq!(ParameterSummary::over(Parameter::HeartRate, &[]), None);
        assert_eq!(
            ParameterSummary::over(Parameter::HeartRate, &[(t0(), f64::NAN)]),
            None
        );
        assert_eq!(
            ParameterSummary::over(Parameter::Consciousness, &[(t0(), 1.0)]),
            None
        );
    }

    #[test]
    fn summary_of_one_reading_is_stable() {
        let summary = ParameterSummary::over(Parameter::HeartRate, &[(t0(), 88.0)]).unwrap();
        assert_eq!(summary.latest, 88.0);
        assert_eq!(summary.latest_at, t0());
        assert_eq!((summary.min, summary.max, summary.mean), (88.0, 88.0, 88.0));
        assert_eq!(summary.count, 1);
        assert_eq!(summary.slope_per_hour, None);
        assert_eq!(summary.trend, Trend::Stable);
    }

    #[test]
    fn summary_of_a_rising_series_given_out_of_order() {
        let series = [
            (at_minutes(240), 100.0),
            (at_minutes(0), 80.0),
            (at_minutes(120), 90.0),
            (at_minutes(60), f64::NAN),
        ];
        let summary = ParameterSummary::over(Parameter::HeartRate, &series).unwrap();
        assert_eq!(summary.latest, 100.0);
        assert_eq!(summary.latest_at, at_minutes(240));
        assert_eq!(
            (summary.min, summary.max, summary.mean),
            (80.0, 100.0, 90.0)
        );
        assert_eq!(summary.count, 3);
        assert_eq!(summary.slope_per_hour, Some(5.0));
        assert_eq!(summary.trend, Trend::Rising);
    }

    #[test]
    fn summary_trend_against_the_tolerance() {
        let trend = |parameter, a: f64, b: f64| {
            ParameterSummary::over(parameter, &[(at_minutes(0), a), (at_minutes(60), b)])
                .unwrap()
                .trend
        };
        // Heart rate tolerance is 1/min per hour: exactly 1 is still stable.
        assert_eq!(trend(Parameter::HeartRate, 80.0, 81.0), Trend::Stable);
        assert_eq!(trend(Parameter::HeartRate, 80.0, 82.0), Trend::Rising);
        assert_eq!(trend(Parameter::HeartRate, 80.0, 79.0), Trend::Stable);
        assert_eq!(trend(Parameter::HeartRate, 80.0, 78.0), Trend::Falling);
        assert_eq!(trend(Parameter::TemperatureC, 38.5, 38.4), Trend::Falling);
        assert_eq!(trend(Parameter::TemperatureC, 37.0, 37.0), Trend::Stable);
    }

    #[test]
    fn summary_of_a_falling_temperature() {
        let series = [
            (at_minutes(0), 38.5),
            (at_minutes(120), 38.0),
            (at_minutes(240), 37.5),
        ];
        let summary = ParameterSummary::over(Parameter::TemperatureC, &series).unwrap();
        assert_eq!(summary.slope_per_hour, Some(-0.25));
        assert_eq!(summary.trend, Trend::Falling);
    }

    #[test]
    fn summary_readings_at_one_time_span_nothing() {
        let series = [(t0(), 80.0), (t0(), 120.0)];
        let summary = ParameterSummary::over(Parameter::HeartRate, &series).unwrap();
        assert_eq!(summary.latest, 120.0);
        assert_eq!(summary.slope_per_hour, None);
        assert_eq!(summary.trend, Trend::Stable);
    }

    #[test]
    fn next_set_due_and_overdue_per_monitoring() {
        for (score, red, interval) in [
            (0, false, Duration::hours(12)),
            (3, false, Duration::hours(4)),
            (3, true, Duration::hours(1)),
            (5, false, Duration::hours(1)),
            (7, true, Duration::minutes(15)),
        ] {
            let monitoring = Monitoring::for_score(score, red);
            let due = next_due(t0(), &monitoring);
            assert_eq!(due, t0() + interval);
            assert!(!overdue(t0(), &monitoring, due));
            assert!(overdue(t0(), &monitoring, due + Duration::seconds(1)));
        }
        let far = DateTime::<Utc>::MAX_UTC - Duration::minutes(1);
        assert_eq!(
            next_due(far, &Monitoring::for_score(0, false)),
            DateTime::<Utc>::MAX_UTC
        );
    }
}
