//! Alerts raised by a new set of observations: which kinds fire (NEWS2 band, NEWS2 rise, qSOFA,
//! febrile neutropenia), how severe each is, which are new for the patient, and how an alert
//! moves from open to resolved.
//!
//! Sources:
//! - NEWS2: Royal College of Physicians, *National Early Warning Score (NEWS) 2*, 2017 (Chart 2).
//! - qSOFA: Singer M et al., *The Third International Consensus Definitions for Sepsis and
//!   Septic Shock (Sepsis-3)*, JAMA 2016;315(8):801-810; Seymour CW et al., JAMA
//!   2016;315(8):762-774.
//! - IDSA fever: Freifeld AG et al., *Clinical Practice Guideline for the Use of Antimicrobial
//!   Agents in Neutropenic Patients with Cancer: 2010 Update by the Infectious Diseases Society
//!   of America*, Clin Infect Dis 2011;52(4):e56-e93.
//! - ESMO fever: Klastersky J et al., *Management of febrile neutropaenia: ESMO Clinical Practice
//!   Guidelines*, Ann Oncol 2016;27(suppl 5):v111-v118.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::news2::{ClinicalRisk, News2Assessment};
use super::vitals::{Consciousness, Parameter, VitalSigns, ward_terms};

ward_terms!(
    /// What an alert is about.
    pub enum AlertKind {
        /// NEWS2 aggregate 5-6 (urgent response threshold).
        News2Medium => "news2_medium",
        /// NEWS2 aggregate 7 or more (emergency response threshold).
        News2High => "news2_high",
        /// A single NEWS2 parameter scored 3 while the aggregate is below 5.
        SingleRedScore => "single_red_score",
        /// NEWS2 rose by `NEWS2_RISE_AT_LEAST` or more since the previous set.
        News2Rise => "news2_rise",
        /// qSOFA 2 or more: screen for sepsis.
        Qsofa => "qsofa",
        /// Fever in a patient who is, or may be, neutropenic.
        FebrileNeutropenia => "febrile_neutropenia",
    }
);

ward_terms!(
    /// How fast someone must act. Ordered: `Warning < Urgent < Critical`.
    #[derive(PartialOrd, Ord)]
    pub enum Severity {
        Warning => "warning",
        Urgent => "urgent",
        Critical => "critical",
    }
);

impl AlertKind {
    /// Severity follows the response each source asks for: NEWS2 high is an emergency response
    /// and febrile neutropenia needs antibiotics within the hour, so both are critical; NEWS2
    /// medium, a single red score and positive qSOFA each ask for a prompt medical review, so
    /// urgent; a rise is a change to watch, so a warning.
    pub fn severity(self) -> Severity {
        match self {
            AlertKind::News2High | AlertKind::FebrileNeutropenia => Severity::Critical,
            AlertKind::News2Medium | AlertKind::SingleRedScore | AlertKind::Qsofa => {
                Severity::Urgent
            }
            AlertKind::News2Rise => Severity::Warning,
        }
    }
}

ward_terms!(
    /// Where an alert is in its life: raised, seen by a clinician, dealt with.
    pub enum AlertStatus {
        Open => "open",
        Acknowledged => "acknowledged",
        Resolved => "resolved",
    }
);

/// A refused change of an alert's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AlertTransitionError {
    #[error("the alert is already open")]
    AlreadyOpen,
    #[error("the alert is already acknowledged")]
    AlreadyAcknowledged,
    #[error("the alert is already resolved")]
    AlreadyResolved,
    #[error(
        "an acknowledged alert cannot be reopened; a new set of observations raises a new alert"
    )]
    CannotReopen,
}

impl AlertStatus {
    /// Open and acknowledged alerts still stand: a new alert of their kind would be a duplicate.
    pub fn is_open(self) -> bool {
        matches!(self, AlertStatus::Open | AlertStatus::Acknowledged)
    }

    /// Allowed: open -> acknowledged, open or acknowledged -> resolved. Resolved is final,
    /// so that the audit trail of an alert never loops.
    pub fn transition(self, to: AlertStatus) -> Result<AlertStatus, AlertTransitionError> {
        match (self, to) {
            (AlertStatus::Resolved, _) => Err(AlertTransitionError::AlreadyResolved),
            (AlertStatus::Open, AlertStatus::Acknowledged)
            | (AlertStatus::Open | AlertStatus::Acknowledged, AlertStatus::Resolved) => Ok(to),
            (AlertStatus::Acknowledged, AlertStatus::Acknowledged) => {
                Err(AlertTransitionError::AlreadyAcknowledged)
            }
            (AlertStatus::Open, AlertStatus::Open) => Err(AlertTransitionError::AlreadyOpen),
            (AlertStatus::Acknowledged, AlertStatus::Open) => {
                Err(AlertTransitionError::CannotReopen)
            }
        }
    }

    pub fn acknowledge(self) -> Result<AlertStatus, AlertTransitionError> {
        self.transition(AlertStatus::Acknowledged)
    }

    pub fn resolve(self) -> Result<AlertStatus, AlertTransitionError> {
        self.transition(AlertStatus::Resolved)
    }
}

// ---------------------------------------------------------------------------------------------
// qSOFA (Sepsis-3)
// ---------------------------------------------------------------------------------------------

/// Respiratory rate of 22/min or more scores a qSOFA point.
pub const QSOFA_RESPIRATORY_RATE_FROM: f64 = 22.0;
/// Systolic pressure of 100 mmHg or less scores a qSOFA point.
pub const QSOFA_SYSTOLIC_BP_UP_TO: f64 = 100.0;
/// qSOFA of 2 or more is positive.
pub const QSOFA_POSITIVE_FROM: u8 = 2;

/// Quick SOFA: one point each for respiratory rate >= 22/min, altered mentation and systolic
/// pressure <= 100 mmHg. Altered mentation is Sepsis-3's GCS below 15; on the ward's ACVPU scale
/// that is any level other than alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qsofa {
    /// Points of the criteria present. Missing criteria add nothing, so the score is a floor.
    pub score: u8,
    /// Criteria not recorded in the set.
    pub missing: Vec<Parameter>,
}

impl Qsofa {
    /// Scores what the set holds; `None` when it holds none of the three criteria. A partial
    /// score of 2 is already positive (a missing criterion cannot lower it), so acting on a
    /// partial set is safe; a partial score below 2 means "not shown positive", not negative.
    pub fn assess(vitals: &VitalSigns) -> Option<Qsofa> {
        let criteria = [
            (
                Parameter::RespiratoryRate,
                vitals
                    .respiratory_rate()
                    .map(|rr| rr >= QSOFA_RESPIRATORY_RATE_FROM),
            ),
            (
                Parameter::Consciousness,
                vitals.consciousness().map(|c| c != Consciousness::Alert),
            ),
            (
                Parameter::SystolicBp,
                vitals
                    .systolic_bp()
                    .map(|sbp| sbp <= QSOFA_SYSTOLIC_BP_UP_TO),
            ),
        ];
        let missing: Vec<Parameter> = criteria
            .iter()
            .filter(|(_, met)| met.is_none())
            .map(|(parameter, _)| *parameter)
            .collect();
        if missing.len() == criteria.len() {
            return None;
        }
        let score = criteria
            .iter()
            .filter(|(_, met)| *met == Some(true))
            .count() as u8;
        Some(Qsofa { score, missing })
    }

    pub fn positive(&self) -> bool {
        self.score >= QSOFA_POSITIVE_FROM
    }
}

/// The qSOFA score of the criteria present; `None` when none is recorded.
pub fn qsofa(vitals: &VitalSigns) -> Option<u8> {
    Qsofa::assess(vitals).map(|q| q.score)
}

// ---------------------------------------------------------------------------------------------
// NEWS2 rise
// ---------------------------------------------------------------------------------------------

/// A rise of this many points since the previous set raises `News2Rise`.
pub const NEWS2_RISE_AT_LEAST: u8 = 2;

/// Whether the score rose by `NEWS2_RISE_AT_LEAST` or more. No previous set, no rise.
pub fn news2_rose(previous_score: Option<u8>, score: u8) -> bool {
    previous_score.is_some_and(|previous| score.saturating_sub(previous) >= NEWS2_RISE_AT_LEAST)
}

// ---------------------------------------------------------------------------------------------
// Febrile neutropenia
// ---------------------------------------------------------------------------------------------

/// Absolute neutrophil count below this (×10^9/L) is neutropenia (IDSA 2010 and ESMO 2016).
pub const NEUTROPENIA_ANC_BELOW: f64 = 0.5;

ward_terms!(
    /// Whether the patient is neutropenic, as far as the record tells.
    pub enum NeutrophilStatus {
        /// The most recent ANC is below 0.5 ×10^9/L.
        Neutropenic => "neutropenic",
        /// No count rules it out and systemic anticancer therapy was given within the window.
        PossiblyNeutropenic => "possibly_neutropenic",
        /// A count of 0.5 ×10^9/L or more that still describes the patient.
        NotNeutropenic => "not_neutropenic",
        /// No usable count and no recent therapy.
        Unknown => "unknown",
    }
);

impl NeutrophilStatus {
    /// Neutropenic or possibly so: a fever then raises the febrile neutropenia alert, because
    /// both guidelines also count an ANC "expected to fall below 0.5" and neutropenic sepsis
    /// must not wait for a count.
    pub fn at_risk(self) -> bool {
        matches!(
            self,
            NeutrophilStatus::Neutropenic | NeutrophilStatus::PossiblyNeutropenic
        )
    }
}

/// Neutrophil status from the record.
#[derive(Debug, Clone, Copy)]
pub struct Neutropenia;

impl Neutropenia {
    /// - most recent ANC below 0.5 ×10^9/L: `Neutropenic`;
    /// - otherwise, systemic anticancer therapy within `therapy_window_days` (0 to N days before
    ///   `today`, inclusive) and either no count, or a normal count drawn on or before the day of
    ///   that therapy: `PossiblyNeutropenic` — a count from before the current cycle says nothing
    ///   about its nadir (pre-treatment bloods are drawn on or before the treatment day);
    /// - a count of 0.5 or more drawn after the last therapy (or with no therapy in the window):
    ///   `NotNeutropenic`;
    /// - no count and no therapy in the window: `Unknown`.
    ///
    /// A count that is negative or not a finite number is treated as no count. A therapy date
    /// after `today` has not been given yet and does not count.
    pub fn assess(
        latest_anc: Option<(DateTime<Utc>, f64)>,
        last_systemic_therapy_on: Option<NaiveDate>,
        today: NaiveDate,
        therapy_window_days: u32,
    ) -> NeutrophilStatus {
        let anc = latest_anc.filter(|(_, count)| count.is_finite() && *count >= 0.0);
        let recent_therapy = last_systemic_therapy_on.filter(|given| {
            let days = (today - *given).num_days();
            (0..=i64::from(therapy_window_days)).contains(&days)
        });
        match (anc, recent_therapy) {
            (Some((_, count)), _) if count < NEUTROPENIA_ANC_BELOW => NeutrophilStatus::Neutropenic,
            (Some((drawn_at, _)), Some(given)) if drawn_at.date_naive() <= given => {
                NeutrophilStatus::PossiblyNeutropenic
            }
            (Some(_), _) => NeutrophilStatus::NotNeutropenic,
            (None, Some(_)) => NeutrophilStatus::PossiblyNeutropenic,
            (None, None) => NeutrophilStatus::Unknown,
        }
    }
}

ward_terms!(
    /// Which guideline defines fever for febrile neutropenia.
    pub enum FeverDefinition {
        /// IDSA 2010 (Freifeld et al.): a single oral temperature >= 38.3 °C, or >= 38.0 °C
        /// sustained over a one-hour period.
        Idsa => "idsa",
        /// ESMO 2016 (Klastersky et al.): an oral temperature > 38.3 °C, or two consecutive
        /// readings of > 38.0 °C for 2 hours.
        Esmo => "esmo",
    }
);

/// IDSA: one reading at or above this is fever.
pub const IDSA_SINGLE_FROM: f64 = 38.3;
/// IDSA: readings at or above this, sustained for `IDSA_SUSTAINED_FOR`, are fever.
pub const IDSA_SUSTAINED_FROM: f64 = 38.0;
pub const IDSA_SUSTAINED_FOR: Duration = Duration::minutes(60);
/// ESMO: one reading above this (strictly) is fever.
pub const ESMO_SINGLE_ABOVE: f64 = 38.3;
/// ESMO: consecutive readings above this (strictly), spanning `ESMO_SUSTAINED_FOR`, are fever.
pub const ESMO_SUSTAINED_ABOVE: f64 = 38.0;
pub const ESMO_SUSTAINED_FOR: Duration = Duration::minutes(120);

impl FeverDefinition {
    fn single(self, celsius: f64) -> bool {
        match self {
            FeverDefinition::Idsa => celsius >= IDSA_SINGLE_FROM,
            FeverDefinition::Esmo => celsius > ESMO_SINGLE_ABOVE,
        }
    }

    fn sustained_level(self, celsius: f64) -> bool {
        match self {
            FeverDefinition::Idsa => celsius >= IDSA_SUSTAINED_FROM,
            FeverDefinition::Esmo => celsius > ESMO_SUSTAINED_ABOVE,
        }
    }

    fn sustained_for(self) -> Duration {
        match self {
            FeverDefinition::Idsa => IDSA_SUSTAINED_FOR,
            FeverDefinition::Esmo => ESMO_SUSTAINED_FOR,
        }
    }
}

/// Whether `readings` (time, °C; in any order) show fever by `definition`: one reading at the
/// single-reading threshold, or an unbroken run of consecutive readings at the sustained level
/// whose first and last are at least the sustained duration apart. A reading below the level
/// breaks the run: the temperature was not sustained. The caller passes the patient's readings
/// within its lookback, including the new set's. Non-finite readings are ignored.
///
/// Both guidelines define fever on oral temperature; the record does not say the site.
pub fn fever(readings: &[(DateTime<Utc>, f64)], definition: FeverDefinition) -> bool {
    let mut ordered: Vec<(DateTime<Utc>, f64)> = readings
        .iter()
        .copied()
        .filter(|(_, c)| c.is_finite())
        .collect();
    ordered.sort_by_key(|(at, _)| *at);

    let mut run_started_at: Option<DateTime<Utc>> = None;
    for (at, celsius) in ordered {
        if definition.single(celsius) {
            return true;
        }
        if !definition.sustained_level(celsius) {
            run_started_at = None;
            continue;
        }
        let started = *run_started_at.get_or_insert(at);
        if at - started >= definition.sustained_for() {
            return true;
        }
    }
    false
}

// ---------------------------------------------------------------------------------------------
// The decision
// ---------------------------------------------------------------------------------------------

/// Everything `alerts_for` needs about a new set of observations.
#[derive(Debug, Clone, Copy)]
pub struct AlertContext<'a> {
    pub assessment: &'a News2Assessment,
    /// NEWS2 of the patient's previous set, if any.
    pub previous_score: Option<u8>,
    pub vitals: &'a VitalSigns,
    /// The patient's temperatures within the fever lookback, including the new set's.
    pub temperatures: &'a [(DateTime<Utc>, f64)],
    pub neutrophils: NeutrophilStatus,
    pub fever_definition: FeverDefinition,
}

/// The alerts a new set raises, in `AlertKind` order, before de-duplication.
///
/// Of the NEWS2 band alerts only the one for the patient's risk band fires: high, else medium,
/// else a single red score. The higher band's response already contains the lower one's, and
/// two alerts for one score would make the ward answer twice.
pub fn alerts_for(ctx: &AlertContext<'_>) -> Vec<AlertKind> {
    let mut kinds = Vec::new();
    match ctx.assessment.risk {
        ClinicalRisk::Medium => kinds.push(AlertKind::News2Medium),
        ClinicalRisk::High => kinds.push(AlertKind::News2High),
        ClinicalRisk::LowMedium => kinds.push(AlertKind::SingleRedScore),
        ClinicalRisk::Low => {}
    }
    if news2_rose(ctx.previous_score, ctx.assessment.score) {
        kinds.push(AlertKind::News2Rise);
    }
    if Qsofa::assess(ctx.vitals).is_some_and(|q| q.positive()) {
        kinds.push(AlertKind::Qsofa);
    }
    if ctx.neutrophils.at_risk() && fever(ctx.temperatures, ctx.fever_definition) {
        kinds.push(AlertKind::FebrileNeutropenia);
    }
    kinds
}

/// NEWS2 band alerts from the highest band down.
const NEWS2_BANDS: [AlertKind; 3] = [
    AlertKind::News2High,
    AlertKind::News2Medium,
    AlertKind::SingleRedScore,
];

fn news2_band(kind: AlertKind) -> Option<usize> {
    NEWS2_BANDS.iter().position(|band| *band == kind)
}

/// The candidates to open as new alerts, in the candidates' order: no second alert of a kind
/// while one stands for the patient (`already_open` holds the kinds of its open or acknowledged
/// alerts), no kind twice, and no NEWS2 band alert while a higher band's alert stands — its team
/// is already answering at the higher level.
pub fn to_open(candidates: &[AlertKind], already_open: &[AlertKind]) -> Vec<AlertKind> {
    let highest_open_band = already_open
        .iter()
        .filter_map(|kind| news2_band(*kind))
        .min();
    let mut opening: Vec<AlertKind> = Vec::new();
    for kind in candidates {
        let covered_by_higher_band = match (news2_band(*kind), highest_open_band) {
            (Some(band), Some(open_band)) => open_band < band,
            _ => false,
        };
        if !already_open.contains(kind) && !opening.contains(kind) && !covered_by_higher_band {
            opening.push(*kind);
        }
    }
    opening
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::news2::News2Score;
    use crate::domain::vitals::{RawVitalSigns, Spo2Scale};

    fn t0() -> DateTime<Utc> {
        NaiveDate::from_ymd_opt(2025, 6, 1)
            .unwrap()
            .and_hms_opt(8, 0, 0)
            .unwrap()
            .and_utc()
    }

    fn at(minutes: i64) -> DateTime<Utc> {
        t0() + Duration::minutes(minutes)
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 6, d).unwrap()
    }

    fn vitals(fill: impl FnOnce(&mut RawVitalSigns)) -> VitalSigns {
        let mut raw = RawVitalSigns::default();
        fill(&mut raw);
        VitalSigns::parse(raw).expect("valid set")
    }

    fn normal(fill: impl FnOnce(&mut RawVitalSigns)) -> VitalSigns {
        vitals(|r| {
            r.respiratory_rate = Some(16.0);
            r.spo2 = Some(97.0);
            r.on_oxygen = Some(false);
            r.systolic_bp = Some(120.0);
            r.heart_rate = Some(70.0);
            r.consciousness = Some("alert".into());
            r.temperature_c = Some(37.0);
            fill(r);
        })
    }

    #[test]
    fn kinds_are_spelled_snake_case_and_parse_back() {
        for kind in AlertKind::ALL {
            assert_eq!(kind.as_str().parse::<AlertKind>(), Ok(*kind));
        }
        assert_eq!(AlertKind::SingleRedScore.as_str(), "single_red_score");
        assert_eq!(
            AlertKind::FebrileNeutropenia.as_str(),
            "febrile_neutropenia"
        );
        assert!("news2".parse::<AlertKind>().is_err());
    }

    #[test]
    fn severity_per_kind() {
        assert_eq!(AlertKind::News2Medium.severity(), Severity::Urgent);
        assert_eq!(AlertKind::News2High.severity(), Severity::Critical);
        assert_eq!(AlertKind::SingleRedScore.severity(), Severity::Urgent);
        assert_eq!(AlertKind::News2Rise.severity(), Severity::Warning);
        assert_eq!(AlertKind::Qsofa.severity(), Severity::Urgent);
        assert_eq!(AlertKind::FebrileNeutropenia.severity(), Severity::Critical);
        assert!(Severity::Warning < Severity::Urgent && Severity::Urgent < Severity::Critical);
    }

    #[test]
    fn status_transitions() {
        use AlertStatus::{Acknowledged, Open, Resolved};
        use AlertTransitionError::*;
        assert_eq!(Open.transition(Acknowledged), Ok(Acknowledged));
        assert_eq!(Open.transition(Resolved), Ok(Resolved));
        assert_eq!(Acknowledged.transition(Resolved), Ok(Resolved));
        assert_eq!(Open.transition(Open), Err(AlreadyOpen));
        assert_eq!(
            Acknowledged.transition(Acknowledged),
            Err(AlreadyAcknowledged)
        );
        assert_eq!(Acknowledged.transition(Open), Err(CannotReopen));
        for to in [Open, Acknowledged, Resolved] {
            assert_eq!(Resolved.transition(to), Err(AlreadyResolved));
        }
        assert_eq!(Open.acknowledge(), Ok(Acknowledged));
        assert_eq!(Acknowledged.resolve(), Ok(Resolved));
        assert_eq!(Resolved.resolve(), Err(AlreadyResolved));
        assert!(Open.is_open() && Acknowledged.is_open() && !Resolved.is_open());
        assert_eq!(AlreadyResolved.to_string(), "the alert is already resolved");
    }

    #[test]
    fn qsofa_scores_each_criterion_at_its_edge() {
        assert_eq!(qsofa(&vitals(|r| r.respiratory_rate = Some(21.0))), Some(0));
        assert_eq!(qsofa(&vitals(|r| r.respiratory_rate = Some(21.5))), Some(0));
        assert_eq!(qsofa(&vitals(|r| r.respiratory_rate = Some(22.0))), Some(1));
        assert_eq!(qsofa(&vitals(|r| r.systolic_bp = Some(100.0))), Some(1));
        assert_eq!(qsofa(&vitals(|r| r.systolic_bp = Some(100.5))), Some(0));
        assert_eq!(qsofa(&vitals(|r| r.systolic_bp = Some(101.0))), Some(0));
        assert_eq!(
            qsofa(&vitals(|r| r.consciousness = Some("alert".into()))),
            Some(0)
        );
        for level in ["confusion", "voice", "pain", "unresponsive"] {
            assert_eq!(
                qsofa(&vitals(|r| r.consciousness = Some(level.into()))),
                Some(1),
                "{level}"
            );
        }
    }

    #[test]
    fn qsofa_scores_what_is_present() {
        assert_eq!(qsofa(&vitals(|r| r.heart_rate = Some(120.0))), None);
        let all = Qsofa::assess(&vitals(|r| {
            r.respiratory_rate = Some(30.0);
            r.systolic_bp = Some(85.0);
            r.consciousness = Some("confusion".into());
        }))
        .unwrap();
        assert_eq!(
            all,
            Qsofa {
                score: 3,
                missing: vec![]
            }
        );
        let partial = Qsofa::assess(&vitals(|r| {
            r.respiratory_rate = Some(22.0);
            r.systolic_bp = Some(100.0);
        }))
        .unwrap();
        assert_eq!(
            partial,
            Qsofa {
                score: 2,
                missing: vec![Parameter::Consciousness]
            }
        );
        assert!(partial.positive());
        let one = Qsofa::assess(&vitals(|r| r.respiratory_rate = Some(25.0))).unwrap();
        assert_eq!(one.score, 1);
        assert!(!one.positive());
        assert_eq!(
            one.missing,
            vec![Parameter::Consciousness, Parameter::SystolicBp]
        );
    }

    #[test]
    fn news2_rise_of_two_or_more() {
        assert!(!news2_rose(None, 9));
        assert!(!news2_rose(Some(3), 3));
        assert!(!news2_rose(Some(3), 4));
        assert!(news2_rose(Some(3), 5));
        assert!(news2_rose(Some(0), 2));
        assert!(news2_rose(Some(1), 8));
        assert!(!news2_rose(Some(5), 3));
        assert!(!news2_rose(Some(u8::MAX), u8::MAX));
    }

    #[test]
    fn neutropenia_from_a_known_count() {
        let low = Some((at(0), 0.49));
        let threshold = Some((at(0), 0.5));
        assert_eq!(
            Neutropenia::assess(low, None, day(1), 21),
            NeutrophilStatus::Neutropenic
        );
        assert_eq!(
            Neutropenia::assess(Some((at(0), 0.0)), None, day(1), 21),
            NeutrophilStatus::Neutropenic
        );
        assert_eq!(
            Neutropenia::assess(low, Some(day(1)), day(1), 21),
            NeutrophilStatus::Neutropenic
        );
        assert_eq!(
            Neutropenia::assess(threshold, None, day(1), 21),
            NeutrophilStatus::NotNeutropenic
        );
        assert_eq!(
            Neutropenia::assess(Some((at(0), 3.2)), None, day(1), 21),
            NeutrophilStatus::NotNeutropenic
        );
    }

    #[test]
    fn a_normal_count_from_before_the_last_therapy_does_not_rule_out() {
        let normal_on_day_5 = Some((day(5).and_hms_opt(7, 0, 0).unwrap().and_utc(), 2.0));
        // Drawn after therapy on day 3: still describes the patient.
        assert_eq!(
            Neutropenia::assess(normal_on_day_5, Some(day(3)), day(10), 21),
            NeutrophilStatus::NotNeutropenic
        );
        // Pre-treatment bloods on the therapy day itself, or before it: possibly neutropenic now.
        assert_eq!(
            Neutropenia::assess(normal_on_day_5, Some(day(5)), day(10), 21),
            NeutrophilStatus::PossiblyNeutropenic
        );
        assert_eq!(
            Neutropenia::assess(normal_on_day_5, Some(day(6)), day(10), 21),
            NeutrophilStatus::PossiblyNeutropenic
        );
        // Therapy out of the window: the old count stands.
        assert_eq!(
            Neutropenia::assess(normal_on_day_5, Some(day(6)), day(28), 21),
            NeutrophilStatus::NotNeutropenic
        );
    }

    #[test]
    fn neutropenia_unknown_count_and_the_therapy_window() {
        // 21-day window: therapy on day 1 is within it up to day 22 inclusive.
        assert_eq!(
            Neutropenia::assess(None, Some(day(1)), day(22), 21),
            NeutrophilStatus::PossiblyNeutropenic
        );
        assert_eq!(
            Neutropenia::assess(None, Some(day(1)), day(23), 21),
            NeutrophilStatus::Unknown
        );
        assert_eq!(
            Neutropenia::assess(None, Some(day(10)), day(10), 21),
            NeutrophilStatus::PossiblyNeutropenic
        );
        assert_eq!(
            Neutropenia::assess(None, Some(day(1)), day(1), 0),
            NeutrophilStatus::PossiblyNeutropenic
        );
        // Scheduled, not yet given.
        assert_eq!(
            Neutropenia::assess(None, Some(day(11)), day(10), 21),
            NeutrophilStatus::Unknown
        );
        assert_eq!(
            Neutropenia::assess(None, None, day(10), 21),
            NeutrophilStatus::Unknown
        );
        // An unusable count is no count.
        assert_eq!(
            Neutropenia::assess(Some((at(0), f64::NAN)), Some(day(1)), day(5), 21),
            NeutrophilStatus::PossiblyNeutropenic
        );
        assert_eq!(
            Neutropenia::assess(Some((at(0), -1.0)), None, day(5), 21),
            NeutrophilStatus::Unknown
        );
        assert!(NeutrophilStatus::Neutropenic.at_risk());
        assert!(NeutrophilStatus::PossiblyNeutropenic.at_risk());
        assert!(!NeutrophilStatus::NotNeutropenic.at_risk());
        assert!(!NeutrophilStatus::Unknown.at_risk());
    }

    #[test]
    fn idsa_fever() {
        let idsa = FeverDefinition::Idsa;
        assert!(!fever(&[], idsa));
        assert!(fever(&[(at(0), 38.3)], idsa));
        assert!(!fever(&[(at(0), 38.2)], idsa));
        assert!(!fever(&[(at(0), 38.0)], idsa));
        // Sustained: >= 38.0 from first to last over at least 60 minutes.
        assert!(fever(&[(at(0), 38.0), (at(60), 38.1)], idsa));
        assert!(fever(
            &[(at(0), 38.0), (at(30), 38.2), (at(60), 38.0)],
            idsa
        ));
        assert!(!fever(&[(at(0), 38.0), (at(59), 38.1)], idsa));
        // Interrupted by a normal reading: not sustained.
        assert!(!fever(
            &[(at(0), 38.1), (at(30), 37.9), (at(60), 38.1)],
            idsa
        ));
        assert!(fever(
            &[(at(0), 37.2), (at(30), 38.1), (at(90), 38.2)],
            idsa
        ));
        // Order of the slice does not matter.
        assert!(fever(&[(at(60), 38.1), (at(0), 38.0)], idsa));
        assert!(!fever(
            &[(at(60), 38.1), (at(30), 37.5), (at(0), 38.0)],
            idsa
        ));
        // A non-finite reading neither counts nor breaks a run.
        assert!(fever(
            &[(at(0), 38.0), (at(30), f64::NAN), (at(60), 38.0)],
            idsa
        ));
    }

    #[test]
    fn esmo_fever() {
        let esmo = FeverDefinition::Esmo;
        // Strictly above 38.3 once.
        assert!(!fever(&[(at(0), 38.3)], esmo));
        assert!(fever(&[(at(0), 38.4)], esmo));
        // Strictly above 38.0 on consecutive readings over 2 hours.
        assert!(fever(&[(at(0), 38.1), (at(120), 38.1)], esmo));
        assert!(!fever(&[(at(0), 38.1), (at(119), 38.1)], esmo));
        assert!(!fever(&[(at(0), 38.0), (at(120), 38.0)], esmo));
        assert!(!fever(
            &[(at(0), 38.1), (at(60), 38.0), (at(120), 38.1)],
            esmo
        ));
        // What IDSA calls sustained (60 minutes) is not yet ESMO fever.
        let one_hour = [(at(0), 38.1), (at(60), 38.2)];
        assert!(fever(&one_hour, FeverDefinition::Idsa));
        assert!(!fever(&one_hour, esmo));
        assert_eq!("esmo".parse::<FeverDefinition>(), Ok(esmo));
    }

    fn context<'a>(
        assessment: &'a News2Assessment,
        vitals: &'a VitalSigns,
        temperatures: &'a [(DateTime<Utc>, f64)],
    ) -> AlertContext<'a> {
        AlertContext {
            assessment,
            previous_score: None,
            vitals,
            temperatures,
            neutrophils: NeutrophilStatus::Unknown,
            fever_definition: FeverDefinition::Idsa,
        }
    }

    fn alerts(vitals: &VitalSigns, adjust: impl FnOnce(&mut AlertContext<'_>)) -> Vec<AlertKind> {
        let assessment = News2Score::assess(vitals, Spo2Scale::One);
        let temperatures: Vec<(DateTime<Utc>, f64)> = vitals
            .temperature_c()
            .map(|t| (at(0), t))
            .into_iter()
            .collect();
        let mut ctx = context(&assessment, vitals, &temperatures);
        adjust(&mut ctx);
        alerts_for(&ctx)
    }

    #[test]
    fn a_normal_set_raises_nothing() {
        assert_eq!(alerts(&normal(|_| {}), |_| {}), vec![]);
    }

    #[test]
    fn only_the_highest_news2_band_fires() {
        // Pulse 135 (3) + oxygen (2) + RR 21 (2) = 7: high, with a single red.
        let high = normal(|r| {
            r.heart_rate = Some(135.0);
            r.on_oxygen = Some(true);
            r.respiratory_rate = Some(21.0);
        });
        assert_eq!(alerts(&high, |_| {}), vec![AlertKind::News2High]);
        // Oxygen (2) + RR 21 (2) + pulse 95 (1) = 5: medium.
        let medium = normal(|r| {
            r.on_oxygen = Some(true);
            r.respiratory_rate = Some(21.0);
            r.heart_rate = Some(95.0);
        });
        assert_eq!(alerts(&medium, |_| {}), vec![AlertKind::News2Medium]);
        let single_red = normal(|r| r.heart_rate = Some(135.0));
        assert_eq!(alerts(&single_red, |_| {}), vec![AlertKind::SingleRedScore]);
    }

    #[test]
    fn a_rise_of_two_fires_alongside_the_band() {
        let four = normal(|r| {
            r.on_oxygen = Some(true);
            r.respiratory_rate = Some(21.0);
        });
        assert_eq!(
            alerts(&four, |c| c.previous_score = Some(2)),
            vec![AlertKind::News2Rise]
        );
        assert_eq!(alerts(&four, |c| c.previous_score = Some(3)), vec![]);
        assert_eq!(alerts(&four, |c| c.previous_score = None), vec![]);
        let single_red = normal(|r| r.heart_rate = Some(135.0));
        assert_eq!(
            alerts(&single_red, |c| c.previous_score = Some(0)),
            vec![AlertKind::SingleRedScore, AlertKind::News2Rise]
        );
    }

    #[test]
    fn qsofa_of_two_fires() {
        // RR 22 (NEWS2 2) and systolic 100 (NEWS2 2): NEWS2 4, low, but qSOFA 2.
        let septic = normal(|r| {
            r.respiratory_rate = Some(22.0);
            r.systolic_bp = Some(100.0);
        });
        assert_eq!(alerts(&septic, |_| {}), vec![AlertKind::Qsofa]);
        let one = normal(|r| r.respiratory_rate = Some(22.0));
        assert_eq!(alerts(&one, |_| {}), vec![]);
    }

    #[test]
    fn febrile_neutropenia_needs_fever_and_neutrophils_at_risk() {
        let febrile = normal(|r| r.temperature_c = Some(38.5));
        for (status, expected) in [
            (
                NeutrophilStatus::Neutropenic,
                vec![AlertKind::FebrileNeutropenia],
            ),
            (
                NeutrophilStatus::PossiblyNeutropenic,
                vec![AlertKind::FebrileNeutropenia],
            ),
            (NeutrophilStatus::NotNeutropenic, vec![]),
            (NeutrophilStatus::Unknown, vec![]),
        ] {
            assert_eq!(
                alerts(&febrile, |c| c.neutrophils = status),
                expected,
                "{status}"
            );
        }
        let afebrile = normal(|r| r.temperature_c = Some(37.9));
        assert_eq!(
            alerts(&afebrile, |c| c.neutrophils = NeutrophilStatus::Neutropenic),
            vec![]
        );

        // Sustained over the lookback, the new set being the last reading.
        let set = normal(|r| r.temperature_c = Some(38.1));
        let assessment = News2Score::assess(&set, Spo2Scale::One);
        let sustained = [(at(0), 38.0), (at(60), 38.1)];
        let mut ctx = context(&assessment, &set, &sustained);
        ctx.neutrophils = NeutrophilStatus::Neutropenic;
        assert_eq!(alerts_for(&ctx), vec![AlertKind::FebrileNeutropenia]);
        ctx.fever_definition = FeverDefinition::Esmo;
        assert_eq!(alerts_for(&ctx), vec![]);
    }

    #[test]
    fn de_duplication_against_open_alerts() {
        use AlertKind::*;
        assert_eq!(to_open(&[News2High, Qsofa], &[]), vec![News2High, Qsofa]);
        assert_eq!(to_open(&[News2High, Qsofa], &[Qsofa]), vec![News2High]);
        assert_eq!(to_open(&[Qsofa, Qsofa], &[]), vec![Qsofa]);
        assert_eq!(to_open(&[News2Rise], &[News2High]), vec![News2Rise]);
        assert_eq!(
            to_open(&[FebrileNeutropenia], &[FebrileNeutropenia]),
            vec![]
        );
        // A higher band standing covers the lower ones; a lower one standing does not.
        assert_eq!(to_open(&[News2Medium], &[News2High]), vec![]);
        assert_eq!(to_open(&[SingleRedScore], &[News2Medium]), vec![]);
        assert_eq!(to_open(&[SingleRedScore], &[News2High]), vec![]);
        assert_eq!(to_open(&[News2High], &[News2Medium]), vec![News2High]);
        assert_eq!(
            to_open(&[News2Medium], &[SingleRedScore]),
            vec![News2Medium]
        );
        assert_eq!(to_open(&[], &[News2High]), vec![]);
    }
}

/// An alert as stored: what fired, for whom, and where it is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub id: uuid::Uuid,
    pub patient_id: uuid::Uuid,
    pub kind: AlertKind,
    pub severity: Severity,
    pub status: AlertStatus,
    /// Why it fired, in the ward's words ("NEWS2 7 (high)").
    pub detail: String,
    /// The observation set that raised it.
    pub vital_signs_id: Option<uuid::Uuid>,
    pub raised_at: DateTime<Utc>,
    pub acknowledged: Option<(DateTime<Utc>, uuid::Uuid)>,
    pub resolved: Option<(DateTime<Utc>, uuid::Uuid)>,
    pub version: i32,
}

impl Alert {
    /// This alert moved to `to` by `by` at `at`, or why it cannot move.
    pub fn transitioned(
        mut self,
        to: AlertStatus,
        by: uuid::Uuid,
        at: DateTime<Utc>,
    ) -> Result<Self, AlertTransitionError> {
        self.status = self.status.transition(to)?;
        match to {
            AlertStatus::Acknowledged => self.acknowledged = Some((at, by)),
            AlertStatus::Resolved => self.resolved = Some((at, by)),
            AlertStatus::Open => {}
        }
        Ok(self)
    }
}

/// Why an alert of `kind` fired, for the alert's detail.
pub fn describe(kind: AlertKind, ctx: &AlertContext<'_>) -> String {
    let a = ctx.assessment;
    match kind {
        AlertKind::News2High | AlertKind::News2Medium => {
            format!("NEWS2 {} ({})", a.score, a.risk.as_str())
        }
        AlertKind::SingleRedScore => {
            let reds: Vec<&str> = a
                .parameters
                .iter()
                .filter(|p| p.points >= 3)
                .map(|p| p.parameter.as_str())
                .collect();
            format!("NEWS2 parameter scoring 3: {}", reds.join(", "))
        }
        AlertKind::News2Rise => format!(
            "NEWS2 rose from {} to {}",
            ctx.previous_score.unwrap_or_default(),
            a.score
        ),
        AlertKind::Qsofa => format!(
            "qSOFA {}: screen for sepsis",
            Qsofa::assess(ctx.vitals)
                .map(|q| q.score)
                .unwrap_or_default()
        ),
        AlertKind::FebrileNeutropenia => format!(
            "fever ({}) in a patient who is {}",
            ctx.fever_definition.as_str(),
            ctx.neutrophils.as_str().replace('_', " ")
        ),
    }
}
