//! A stored recording as the registry knows it: who recorded it for whom and when, the shape of
//! its leads, and the insights computed when it was stored. The samples travel separately.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Ecg, EcgInsights, LeadName, SamplingRate};

/// One lead of a stored recording, without its samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadShape {
    pub name: LeadName,
    pub number_of_samples: usize,
}

/// A recording to store: the checked upload and when it was taken.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEcg {
    pub recorded_at: DateTime<Utc>,
    pub ecg: Ecg,
}

/// A stored recording. It never exists without its insights: they are computed before it is
/// stored and kept with it.
#[derive(Debug, Clone, PartialEq)]
pub struct EcgRecord {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: Uuid,
    pub sampling_rate: SamplingRate,
    /// In lead order.
    pub leads: Vec<LeadShape>,
    pub insights: EcgInsights,
    pub created_at: DateTime<Utc>,
}

impl EcgRecord {
    /// The shapes of a recording's leads, in order.
    pub fn shapes_of(ecg: &Ecg) -> Vec<LeadShape> {
        ecg.leads()
            .iter()
            .map(|lead| LeadShape {
                name: lead.name().clone(),
                number_of_samples: lead.signal().len(),
            })
            .collect()
    }

    pub fn lead_count(&self) -> usize {
        self.leads.len()
    }

    /// The samples of every lead together.
    pub fn total_samples(&self) -> usize {
        self.leads.iter().map(|l| l.number_of_samples).sum()
    }

    /// The longest lead's length (leads of one recording normally share it).
    pub fn samples_per_lead(&self) -> usize {
        self.leads
            .iter()
            .map(|l| l.number_of_samples)
            .max()
            .unwrap_or(0)
    }

    /// The recording's length in seconds, from its longest lead.
    pub fn duration_s(&self) -> f64 {
        self.samples_per_lead() as f64 / f64::from(self.sampling_rate.hz())
    }
}
