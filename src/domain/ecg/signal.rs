//! Per-lead signal insights: zero crossings, amplitude statistics and a flat-line/clipping check.
//!
//! Everything here works on the stored samples in ADC units: a recording carries no gain, so
//! amplitude thresholds are stated in ADC units and chosen to hold for common 12- to 16-bit
//! front ends.

use super::SamplingRate;

/// A lead whose peak-to-peak amplitude is at most this many ADC units is a flat line: nothing but
/// quantisation noise around a constant, as when an electrode is off.
pub const FLAT_LINE_MAX_PEAK_TO_PEAK: i64 = 2;

/// A lead that holds one identical value for at least this long (in milliseconds) is a flat line
/// even when it moves elsewhere: a real ECG never stays perfectly still for two seconds.
pub const FLAT_LINE_MIN_RUN_MS: f64 = 2000.0;

/// Only runs of at least this many identical samples at the lead's extreme value count as
/// clipping; a single sample at the maximum is just the tallest R wave.
pub const CLIPPING_MIN_RUN: usize = 3;

/// A lead clips when at least this fraction of its samples sit in such runs (0.5 %).
pub const CLIPPING_MIN_FRACTION: f64 = 0.005;

/// How often the signal changes sign, ignoring zero samples: `[1, 0, -1]` crosses once, while
/// `[1, 0, 1]` touches zero and returns to the same side, which is not a crossing.
///
/// Counted on the stored samples, so a lead with a DC offset (e.g. an ADC baseline of 1024)
/// may never cross. Empty, single-sample and all-zero signals have no crossings.
pub fn zero_crossings(signal: &[i32]) -> usize {
    // Neighbours of opposite signs are counted in one branch-free pass; only signals that touch
    // zero need a second look across their zero runs.
    let (mut adjacent, mut touches_zero) = (0, signal.first() == Some(&0));
    for pair in signal.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        adjacent += usize::from(((a ^ b) < 0) & (a != 0) & (b != 0));
        touches_zero |= b == 0;
    }
    if !touches_zero {
        return adjacent;
    }
    let mut across_zeros = 0;
    let mut before: Option<i32> = None;
    for stretch in signal
        .split(|&s| s == 0)
        .filter(|stretch| !stretch.is_empty())
    {
        if let (Some(last), Some(&first)) = (before, stretch.first()) {
            across_zeros += usize::from((last ^ first) < 0);
        }
        before = stretch.last().copied();
    }
    adjacent + across_zeros
}

/// Amplitude summary of a lead in ADC units.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LeadStatistics {
    pub min: i32,
    pub max: i32,
    /// Arithmetic mean of the samples.
    pub mean: f64,
}

impl LeadStatistics {
    /// `None` for an empty signal, which a parsed [`super::Lead`] never has.
    pub fn of(signal: &[i32]) -> Option<Self> {
        let first = *signal.first()?;
        let (mut min, mut max, mut sum) = (first, first, 0_i64);
        for &sample in signal {
            min = min.min(sample);
            max = max.max(sample);
            // i64 holds the sum of 2^32 extreme samples, far beyond any lead's length limit.
            sum += i64::from(sample);
        }
        Some(Self {
            min,
            max,
            mean: sum as f64 / signal.len() as f64,
        })
    }

    /// `max - min`, which cannot overflow in `i64`.
    pub fn peak_to_peak(&self) -> i64 {
        i64::from(self.max) - i64::from(self.min)
    }
}

/// Technical quality of a lead: whether it can carry a diagnosis at all.
///
/// * `flat_line`: the peak-to-peak amplitude is at most [`FLAT_LINE_MAX_PEAK_TO_PEAK`] ADC
///   units, or some run of identical consecutive samples lasts at least
///   [`FLAT_LINE_MIN_RUN_MS`] (2 s). Typical of a detached electrode or a dead channel.
/// * `clipping`: at least [`CLIPPING_MIN_FRACTION`] (0.5 %) of the samples equal the lead's own
///   minimum or maximum inside runs of at least [`CLIPPING_MIN_RUN`] (3) identical samples,
///   the signature of an amplifier or ADC saturating. Judged against the lead's extremes because
///   the converter's range is not part of the recording. A flat line is not also reported as
///   clipping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SignalQuality {
    pub flat_line: bool,
    pub clipping: bool,
}

impl SignalQuality {
    pub fn assess(signal: &[i32], sampling_rate: SamplingRate) -> Self {
        let Some(&first) = signal.first() else {
            return Self {
                flat_line: true,
                clipping: false,
            };
        };
        let (min, max) = signal
            .iter()
            .fold((first, first), |(min, max), &s| (min.min(s), max.max(s)));
        if i64::from(max) - i64::from(min) <= FLAT_LINE_MAX_PEAK_TO_PEAK {
            return Self {
                flat_line: true,
                clipping: false,
            };
        }
        let flat_line = has_run(signal, sampling_rate.samples_in(FLAT_LINE_MIN_RUN_MS));
        let enough = CLIPPING_MIN_FRACTION * signal.len() as f64;
        // Counting the extreme samples is cheap; only when they could amount to clipping are
        // their runs measured.
        let clipping = !flat_line
            && signal.iter().filter(|&&s| s == min || s == max).count() as f64 >= enough
            && samples_in_runs_at(signal, min, max) as f64 >= enough;
        Self {
            flat_line,
            clipping,
        }
    }

    /// Whether the lead is worth analysing for rhythm without reservation.
    pub fn is_clean(&self) -> bool {
        !self.flat_line && !self.clipping
    }
}

/// Whether some `length` consecutive samples are identical.
fn has_run(signal: &[i32], length: usize) -> bool {
    // Such a run covers a whole aligned block of half its length, and a block that is not
    // constant is usually told apart by its first two samples.
    let block = (length / 2).max(1);
    for (index, chunk) in signal.chunks_exact(block).enumerate() {
        let value = chunk[0];
        if chunk.iter().all(|&s| s == value) {
            let start = index * block;
            let before = signal[..start]
                .iter()
                .rev()
                .take_while(|&&s| s == value)
                .count();
            let after = signal[start..].iter().take_while(|&&s| s == value).count();
            if before + after >= length {
                return true;
            }
        }
    }
    false
}

/// Samples equal to `min` or `max` inside runs of at least [`CLIPPING_MIN_RUN`] identical samples.
fn samples_in_runs_at(signal: &[i32], min: i32, max: i32) -> usize {
    signal
        .chunk_by(|a, b| a == b)
        .filter(|run| run.len() >= CLIPPING_MIN_RUN && (run[0] == min || run[0] == max))
        .map(<[i32]>::len)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(hz: i64) -> SamplingRate {
        SamplingRate::parse(Some(hz)).unwrap()
    }

    #[test]
    fn zero_crossings_ignore_zero_samples() {
        assert_eq!(zero_crossings(&[1, 0, -1, 0, 1, 0, 0, 1]), 2);
        assert_eq!(zero_crossings(&[1, -2, 0, 3, -4, 0, 0, 5, 6, -7]), 5);
    }

    #[test]
    fn zero_crossings_of_degenerate_signals() {
        assert_eq!(zero_crossings(&[]), 0);
        assert_eq!(zero_crossings(&[5]), 0);
        assert_eq!(zero_crossings(&[-5]), 0);
        assert_eq!(zero_crossings(&[0, 0, 0, 0]), 0);
        assert_eq!(zero_crossings(&[0, 0, 3, 0, 0]), 0);
        assert_eq!(zero_crossings(&[1, 0, 1, 0, 1]), 0);
        assert_eq!(zero_crossings(&[0, -1, 0, 0, 1, 0]), 1);
        assert_eq!(zero_crossings(&[i32::MIN, i32::MAX, i32::MIN]), 2);
        assert_eq!(zero_crossings(&[1000, 1020, 990]), 0);
    }

    /// A tiny linear congruential generator for repeatable random signals.
    struct Lcg(u64);

    impl Lcg {
        fn below(&mut self, bound: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 33) % bound
        }
    }

    /// Small values with many zeros and long runs, where shortcuts would go wrong.
    fn random_signal(lcg: &mut Lcg) -> Vec<i32> {
        let len = lcg.below(60) as usize;
        let mut signal = Vec::with_capacity(len);
        while signal.len() < len {
            let value = lcg.below(5) as i32 - 2;
            let run = 1 + lcg.below(4) as usize;
            signal.extend(std::iter::repeat_n(value, run));
        }
        signal
    }

    #[test]
    fn zero_crossings_agree_with_a_plain_count() {
        let plain = |signal: &[i32]| {
            let signs: Vec<i32> = signal
                .iter()
                .map(|s| s.signum())
                .filter(|&s| s != 0)
                .collect();
            signs.windows(2).filter(|pair| pair[0] != pair[1]).count()
        };
        let mut lcg = Lcg(3);
        for _ in 0..2000 {
            let signal = random_signal(&mut lcg);
            assert_eq!(zero_crossings(&signal), plain(&signal), "{signal:?}");
        }
    }

    #[test]
    fn runs_agree_with_a_plain_search() {
        let longest = |signal: &[i32]| signal.chunk_by(|a, b| a == b).map(<[i32]>::len).max();
        let mut lcg = Lcg(5);
        for _ in 0..2000 {
            let signal = random_signal(&mut lcg);
            for length in 1..8 {
                let expected = longest(&signal).is_some_and(|run| run >= length);
                assert_eq!(has_run(&signal, length), expected, "{length} in {signal:?}");
            }
        }
    }

    #[test]
    fn statistics_of_a_signal() {
        let statistics = LeadStatistics::of(&[3, -1, 4, 1, -5, 9]).unwrap();
        assert_eq!(statistics.min, -5);
        assert_eq!(statistics.max, 9);
        assert!((statistics.mean - 11.0 / 6.0).abs() < 1e-12);
        assert_eq!(statistics.peak_to_peak(), 14);
    }

    #[test]
    fn statistics_are_total() {
        assert_eq!(LeadStatistics::of(&[]), None);
        let single = LeadStatistics::of(&[7]).unwrap();
        assert_eq!((single.min, single.max, single.mean), (7, 7, 7.0));
        let extremes = LeadStatistics::of(&[i32::MIN, i32::MAX]).unwrap();
        assert_eq!(extremes.mean, -0.5);
        assert_eq!(extremes.peak_to_peak(), u32::MAX as i64);
        let many = vec![i32::MAX; 1000];
        assert_eq!(LeadStatistics::of(&many).unwrap().mean, f64::from(i32::MAX));
    }

    /// A 1 Hz triangle wave of amplitude 400 ADC units: never flat, never clipped.
    fn triangle(len: usize) -> Vec<i32> {
        (0..len)
            .map(|i| {
                let phase = (i % 500) as i32;
                if phase < 250 {
                    phase * 4 - 500
                } else {
                    1500 - phase * 4
                }
            })
            .collect()
    }

    #[test]
    fn a_moving_signal_is_clean() {
        let quality = SignalQuality::assess(&triangle(5000), rate(500));
        assert_eq!(
            quality,
            SignalQuality {
                flat_line: false,
                clipping: false
            }
        );
        assert!(quality.is_clean());
    }

    #[test]
    fn a_constant_or_nearly_constant_signal_is_flat() {
        let flat = SignalQuality::assess(&[1024; 100], rate(500));
        assert!(flat.flat_line && !flat.clipping);
        let noise: Vec<i32> = (0..5000).map(|i| 1024 + (i % 3) - 1).collect();
        assert!(SignalQuality::assess(&noise, rate(500)).flat_line);
        assert!(SignalQuality::assess(&[], rate(500)).flat_line);
    }

    #[test]
    fn a_signal_stuck_for_two_seconds_is_flat() {
        let mut signal = triangle(5000);
        signal[1000..2000].fill(7);
        assert!(SignalQuality::assess(&signal, rate(500)).flat_line);
        let mut signal = triangle(5000);
        signal[1000..1999].fill(7);
        assert!(!SignalQuality::assess(&signal, rate(500)).flat_line);
    }

    #[test]
    fn saturated_peaks_are_clipping() {
        // Every peak of the triangle cut at 300: 50 samples of 500 sit at the maximum.
        let clipped: Vec<i32> = triangle(5000).into_iter().map(|s| s.min(300)).collect();
        let quality = SignalQuality::assess(&clipped, rate(500));
        assert!(quality.clipping && !quality.flat_line);
        assert!(!quality.is_clean());
    }

    #[test]
    fn a_few_samples_at_the_extremes_are_not_clipping() {
        let mut signal = triangle(5000);
        // One short plateau at the maximum, 0.1 % of the samples.
        signal[250..255].fill(500);
        assert!(!SignalQuality::assess(&signal, rate(500)).clipping);
        // Many isolated samples at the maximum are peaks, not a saturated amplifier.
        let spiky: Vec<i32> = (0..5000)
            .map(|i| if i % 10 == 0 { 900 } else { i % 7 })
            .collect();
        assert!(!SignalQuality::assess(&spiky, rate(500)).clipping);
    }
}
