//! The ward overview: each admitted patient's latest NEWS2, open alerts and whether observations
//! are due, ordered so the sickest patient is at the top of the screen.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::alert::{Alert, Severity};
use super::news2::ClinicalRisk;

/// The latest observation set of a patient, as kept in the overview's read model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservationSummary {
    pub patient_id: Uuid,
    pub vital_signs_id: Uuid,
    pub recorded_at: DateTime<Utc>,
    pub news2_score: u8,
    pub risk: ClinicalRisk,
    pub complete: bool,
    pub any_single_red: bool,
    /// When the next set is due, from the NEWS2 monitoring frequency.
    pub next_due_at: DateTime<Utc>,
}

/// One line of the overview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WardPatient {
    pub patient_id: Uuid,
    pub mrn: String,
    pub first_name: String,
    pub last_name: String,
    pub bed: Option<String>,
    pub latest: Option<ObservationSummary>,
    /// Open and acknowledged alerts, most severe first.
    pub open_alerts: Vec<Alert>,
}

impl WardPatient {
    /// Observations are overdue once the due time has passed, and always for a patient who
    /// has none on record: an admitted patient must be observed.
    pub fn overdue(&self, now: DateTime<Utc>) -> bool {
        self.latest.as_ref().is_none_or(|s| now > s.next_due_at)
    }

    fn risk_rank(&self) -> u8 {
        match self.latest.as_ref().map(|s| s.risk) {
            Some(ClinicalRisk::High) => 4,
            Some(ClinicalRisk::Medium) => 3,
            Some(ClinicalRisk::LowMedium) => 2,
            Some(ClinicalRisk::Low) => 1,
            None => 0,
        }
    }

    fn worst_alert(&self) -> Option<Severity> {
        self.open_alerts.iter().map(|a| a.severity).max()
    }
}

/// Sickest first: clinical risk band, then NEWS2 score, then the most severe open alert, then
/// overdue observations, then the number of open alerts; ties by name so the order is stable.
pub fn sickest_first(patients: &mut [WardPatient], now: DateTime<Utc>) {
    for p in patients.iter_mut() {
        p.open_alerts.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(b.raised_at.cmp(&a.raised_at))
        });
    }
    patients.sort_by(|a, b| {
        let score = |p: &WardPatient| p.latest.as_ref().map(|s| s.news2_score);
        b.risk_rank()
            .cmp(&a.risk_rank())
            .then_with(|| score(b).cmp(&score(a)))
            .then_with(|| b.worst_alert().cmp(&a.worst_alert()))
            .then_with(|| b.overdue(now).cmp(&a.overdue(now)))
            .then_with(|| b.open_alerts.len().cmp(&a.open_alerts.len()))
            .then_with(|| {
                (a.last_name.as_str(), a.first_name.as_str())
                    .cmp(&(b.last_name.as_str(), b.first_name.as_str()))
            })
            .then(Ordering::Equal)
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::alert::{AlertKind, AlertStatus};
    use chrono::Duration;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-24T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn patient(name: &str, latest: Option<(u8, ClinicalRisk, i64)>) -> WardPatient {
        WardPatient {
            patient_id: Uuid::new_v4(),
            mrn: name.to_owned(),
            first_name: "A".into(),
            last_name: name.to_owned(),
            bed: None,
            latest: latest.map(|(score, risk, due_in_minutes)| ObservationSummary {
                patient_id: Uuid::nil(),
                vital_signs_id: Uuid::nil(),
                recorded_at: now() - Duration::hours(1),
                news2_score: score,
                risk,
                complete: true,
                any_single_red: risk == ClinicalRisk::LowMedium,
                next_due_at: now() + Duration::minutes(due_in_minutes),
            }),
            open_alerts: vec![],
        }
    }

    fn alert(kind: AlertKind) -> Alert {
        Alert {
            id: Uuid::new_v4(),
            patient_id: Uuid::nil(),
            kind,
            severity: kind.severity(),
            status: AlertStatus::Open,
            detail: String::new(),
            vital_signs_id: None,
            raised_at: now(),
            acknowledged: None,
            resolved: None,
            version: 1,
        }
    }

    #[test]
    fn the_sickest_patient_comes_first() {
        let mut ward = vec![
            patient("Low", Some((1, ClinicalRisk::Low, 60))),
            patient("None", None),
            patient("High", Some((8, ClinicalRisk::High, 10))),
            patient("Red", Some((3, ClinicalRisk::LowMedium, 30))),
            patient("Medium", Some((5, ClinicalRisk::Medium, 30))),
            patient("Higher", Some((9, ClinicalRisk::High, 10))),
        ];
        sickest_first(&mut ward, now());
        let order: Vec<&str> = ward.iter().map(|p| p.last_name.as_str()).collect();
        assert_eq!(order, ["Higher", "High", "Medium", "Red", "Low", "None"]);
    }

    #[test]
    fn among_equal_scores_alerts_and_overdue_decide() {
        let mut overdue = patient("Overdue", Some((1, ClinicalRisk::Low, -5)));
        overdue.open_alerts = vec![];
        let mut alerted = patient("Alerted", Some((1, ClinicalRisk::Low, 60)));
        alerted.open_alerts = vec![
            alert(AlertKind::News2Rise),
            alert(AlertKind::FebrileNeutropenia),
        ];
        let calm = patient("Calm", Some((1, ClinicalRisk::Low, 60)));
        let mut ward = vec![calm, overdue, alerted];
        sickest_first(&mut ward, now());
        let order: Vec<&str> = ward.iter().map(|p| p.last_name.as_str()).collect();
        assert_eq!(order, ["Alerted", "Overdue", "Calm"]);
        assert_eq!(ward[0].open_alerts[0].kind, AlertKind::FebrileNeutropenia);
        assert!(ward[1].overdue(now()));
        assert!(!ward[2].overdue(now()));
    }

    #[test]
    fn a_patient_without_observations_is_overdue() {
        assert!(patient("None", None).overdue(now()));
    }
}
