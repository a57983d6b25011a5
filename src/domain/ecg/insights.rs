//! What the ward sees of a recording at a glance: per-lead figures and the rhythm, in one pass.

use super::{Ecg, LeadName, LeadStatistics, Rhythm, SignalQuality, zero_crossings};

/// Figures of one lead, see [`zero_crossings`], [`LeadStatistics`] and [`SignalQuality`].
#[derive(Debug, Clone, PartialEq)]
pub struct LeadInsights {
    pub name: LeadName,
    pub number_of_zero_crossings: usize,
    pub statistics: LeadStatistics,
    pub quality: SignalQuality,
}

/// Per-lead figures in lead order, and the rhythm of the best lead (`None` when every lead is
/// flat; see [`Rhythm::analyse`]).
#[derive(Debug, Clone, PartialEq)]
pub struct EcgInsights {
    pub leads: Vec<LeadInsights>,
    pub rhythm: Option<Rhythm>,
}

impl EcgInsights {
    pub fn compute(ecg: &Ecg) -> Self {
        let leads: Vec<LeadInsights> = ecg
            .leads()
            .iter()
            .map(|lead| LeadInsights {
                name: lead.name().clone(),
                number_of_zero_crossings: zero_crossings(lead.signal()),
                // A parsed lead is never empty, so the default is never used.
                statistics: LeadStatistics::of(lead.signal()).unwrap_or_default(),
                quality: SignalQuality::assess(lead.signal(), ecg.sampling_rate()),
            })
            .collect();
        let qualities: Vec<SignalQuality> = leads.iter().map(|lead| lead.quality).collect();
        Self {
            rhythm: Rhythm::analyse_assessed(ecg, &qualities),
            leads,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{RawLead, SamplingRate};
    use super::*;

    fn raw(name: &str, signal: Vec<i64>) -> RawLead {
        RawLead {
            name: name.to_owned(),
            number_of_samples: None,
            signal,
        }
    }

    /// Narrow triangular complexes of 1200 units every 0.8 s at 500 Hz, on a small ripple,
    /// ending midway between two complexes.
    fn spikes(count: usize) -> Vec<i64> {
        (0..count * 400)
            .map(|i| {
                let phase = i % 400;
                let spike = 1200 - 120 * (phase as i64 - 200).abs();
                spike.max(0) + (i % 7) as i64 - 3
            })
            .collect()
    }

    #[test]
    fn insights_cover_every_lead_in_order_and_the_rhythm() {
        let ecg = Ecg::parse(
            Some(500),
            vec![
                raw("I", vec![0; 4800]),
                raw("II", spikes(12)),
                raw("III", vec![2, -2, 0, 2, 0, -2]),
            ],
        )
        .unwrap();
        let insights = EcgInsights::compute(&ecg);
        let names: Vec<&str> = insights.leads.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["I", "II", "III"]);

        let flat = &insights.leads[0];
        assert_eq!(flat.number_of_zero_crossings, 0);
        assert_eq!((flat.statistics.min, flat.statistics.max), (0, 0));
        assert!(flat.quality.flat_line);

        let beating = &insights.leads[1];
        assert_eq!((beating.statistics.min, beating.statistics.max), (-3, 1203));
        assert!(beating.quality.is_clean());

        let short = &insights.leads[2];
        assert_eq!(short.number_of_zero_crossings, 3);
        assert!((short.statistics.mean - 0.0).abs() < 1e-12);

        let rhythm = insights.rhythm.expect("a rhythm from lead II");
        assert_eq!(rhythm.lead, 1);
        assert_eq!(rhythm.r_peaks.len(), 12, "{:?}", rhythm.r_peaks);
        assert!(rhythm.r_peaks.iter().all(|&at| at % 400 == 200));
        let hr = rhythm.heart_rate_bpm.unwrap();
        assert!((hr.mean - 75.0).abs() < 1e-9);
        assert_eq!(rhythm.hrv.unwrap().sdnn_ms, 0.0);
        assert_eq!(ecg.sampling_rate(), SamplingRate::default());
    }

    #[test]
    fn a_recording_of_flat_leads_has_no_rhythm() {
        let ecg = Ecg::parse(None, vec![raw("I", vec![5; 300]), raw("II", vec![-5; 300])]).unwrap();
        let insights = EcgInsights::compute(&ecg);
        assert_eq!(insights.leads.len(), 2);
        assert!(insights.leads.iter().all(|l| l.quality.flat_line));
        assert_eq!(insights.rhythm, None);
    }
}
