//! Rhythm from one lead: QRS detection (Pan-Tompkins family), RR intervals, heart rate, heart
//! rate variability and pauses, and the choice of the lead to read them from.

use super::{Ecg, SamplingRate, SignalQuality};

/// A mean heart rate below this (in beats per minute) is bradycardia.
pub const BRADYCARDIA_BELOW_BPM: f64 = 50.0;
/// A mean heart rate above this (in beats per minute) is tachycardia.
pub const TACHYCARDIA_ABOVE_BPM: f64 = 100.0;
/// An RR interval of at least this many milliseconds is a pause.
pub const PAUSE_FROM_MS: f64 = 2000.0;

// The QRS band, about 5-15 Hz, above P and T waves and baseline wander and below muscle noise:
// two moving sums of this length low-pass at fs / (pi * length) = 15 Hz...
const LOW_PASS_SUM_MS: f64 = 21.0;
// ...and subtracting a moving average this long high-passes at about 5 Hz.
const HIGH_PASS_AVERAGE_MS: f64 = 160.0;
// About the widest normal QRS, so one complex gives one hump of integrated energy.
const INTEGRATION_MS: f64 = 150.0;
// The ventricles cannot depolarise again sooner.
const REFRACTORY_MS: f64 = 200.0;
// A peak this soon after a QRS may be its T wave, so it must be steep enough to count.
const T_WAVE_WINDOW_MS: f64 = 360.0;
const LEARNING_MS: f64 = 2000.0;
// No QRS for this many average RR intervals means one was missed: search back for it.
const MISSED_BEAT_RR_FACTOR: f64 = 1.66;
// The R wave lies this close to the band-pass peak once the filter's delay is removed.
const R_SEARCH_MS: f64 = 40.0;
// Lead choice looks at a few short windows spread over the recording instead of all of it.
const SCORE_WINDOW_MS: f64 = 2000.0;
const SCORE_WARM_UP_MS: f64 = 1000.0;
const SCORE_MAX_WINDOWS: usize = 24;

/// Heart rate in beats per minute over the analysed lead.
///
/// `mean` is 60,000 / mean RR interval (not the mean of instantaneous rates); `min` comes from
/// the longest RR interval and `max` from the shortest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeartRate {
    pub mean: f64,
    pub min: f64,
    pub max: f64,
}

impl HeartRate {
    /// `None` without RR intervals, that is with fewer than two beats, or when an interval is
    /// not a positive number of milliseconds.
    pub fn from_rr_intervals(rr_ms: &[f64]) -> Option<Self> {
        if rr_ms.is_empty() || !rr_ms.iter().all(|&rr| rr > 0.0 && rr.is_finite()) {
            return None;
        }
        let mean = rr_ms.iter().sum::<f64>() / rr_ms.len() as f64;
        let (shortest, longest) = rr_ms
            .iter()
            .fold((f64::INFINITY, 0.0_f64), |(lo, hi), &rr| {
                (lo.min(rr), hi.max(rr))
            });
        Some(Self {
            mean: 60_000.0 / mean,
            min: 60_000.0 / longest,
            max: 60_000.0 / shortest,
        })
    }
}

/// Time-domain heart rate variability over every detected RR interval.
///
/// Intervals around premature or ectopic beats are not removed, so on arrhythmic recordings
/// these exceed the NN-based values of annotated databases.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hrv {
    /// Sample standard deviation (divisor n - 1) of the RR intervals, in ms.
    pub sdnn_ms: f64,
    /// Root mean square of the differences between successive RR intervals, in ms.
    pub rmssd_ms: f64,
    /// Percentage (0-100) of successive differences larger than 50 ms.
    pub pnn50: f64,
}

impl Hrv {
    /// `None` with fewer than two RR intervals, that is fewer than three beats.
    pub fn from_rr_intervals(rr_ms: &[f64]) -> Option<Self> {
        if rr_ms.len() < 2 {
            return None;
        }
        let count = rr_ms.len() as f64;
        let mean = rr_ms.iter().sum::<f64>() / count;
        let variance = rr_ms.iter().map(|rr| (rr - mean).powi(2)).sum::<f64>() / (count - 1.0);
        let (mut squares, mut over_50) = (0.0, 0_usize);
        for pair in rr_ms.windows(2) {
            let difference = pair[1] - pair[0];
            squares += difference * difference;
            over_50 += usize::from(difference.abs() > 50.0);
        }
        let differences = (rr_ms.len() - 1) as f64;
        Some(Self {
            sdnn_ms: variance.sqrt(),
            rmssd_ms: (squares / differences).sqrt(),
            pnn50: 100.0 * over_50 as f64 / differences,
        })
    }
}

/// An RR interval of at least [`PAUSE_FROM_MS`]: no beat for two seconds or more.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pause {
    /// The R peak that starts the pause, as a sample index of the lead.
    pub at_sample: usize,
    pub duration_ms: f64,
}

/// The rhythm read from one lead of a recording.
///
/// `bradycardia` means a mean heart rate below [`BRADYCARDIA_BELOW_BPM`] (50 bpm),
/// `tachycardia` above [`TACHYCARDIA_ABOVE_BPM`] (100 bpm); both are false without a heart rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Rhythm {
    /// Index of the analysed lead in [`Ecg::leads`].
    pub lead: usize,
    /// Sample indices of the detected R peaks, ascending.
    pub r_peaks: Vec<usize>,
    pub rr_intervals_ms: Vec<f64>,
    /// `None` with fewer than two beats.
    pub heart_rate_bpm: Option<HeartRate>,
    /// `None` with fewer than three beats.
    pub hrv: Option<Hrv>,
    pub bradycardia: bool,
    pub tachycardia: bool,
    pub pauses: Vec<Pause>,
}

impl Rhythm {
    /// Detects the R peaks of the [`best_lead`] and derives the rhythm from them; `None` when
    /// every lead is a flat line.
    pub fn analyse(ecg: &Ecg) -> Option<Rhythm> {
        let qualities: Vec<SignalQuality> = ecg
            .leads()
            .iter()
            .map(|lead| SignalQuality::assess(lead.signal(), ecg.sampling_rate()))
            .collect();
        Self::analyse_assessed(ecg, &qualities)
    }

    /// [`Rhythm::analyse`] for a caller that already assessed every lead, in lead order.
    pub(super) fn analyse_assessed(ecg: &Ecg, qualities: &[SignalQuality]) -> Option<Rhythm> {
        let lead = choose_lead(ecg, qualities)?;
        let rate = ecg.sampling_rate();
        let r_peaks = detect_r_peaks(ecg.leads()[lead].signal(), rate);
        Some(Self::from_r_peaks(lead, r_peaks, rate))
    }

    /// Derives RR intervals, heart rate, HRV and pauses from R peaks (ascending sample indices).
    pub fn from_r_peaks(lead: usize, r_peaks: Vec<usize>, sampling_rate: SamplingRate) -> Rhythm {
        let rr_intervals_ms: Vec<f64> = r_peaks
            .windows(2)
            .map(|pair| sampling_rate.ms(pair[1].saturating_sub(pair[0])))
            .collect();
        let heart_rate_bpm = HeartRate::from_rr_intervals(&rr_intervals_ms);
        let pauses = r_peaks
            .iter()
            .zip(&rr_intervals_ms)
            .filter(|&(_, &rr)| rr >= PAUSE_FROM_MS)
            .map(|(&at_sample, &duration_ms)| Pause {
                at_sample,
                duration_ms,
            })
            .collect();
        Rhythm {
            lead,
            hrv: Hrv::from_rr_intervals(&rr_intervals_ms),
            bradycardia: heart_rate_bpm.is_some_and(|hr| hr.mean < BRADYCARDIA_BELOW_BPM),
            tachycardia: heart_rate_bpm.is_some_and(|hr| hr.mean > TACHYCARDIA_ABOVE_BPM),
            heart_rate_bpm,
            r_peaks,
            rr_intervals_ms,
            pauses,
        }
    }
}

/// The lead whose QRS complexes stand out most clearly, or `None` when every lead is flat.
///
/// Leads that are neither flat nor clipping (see [`SignalQuality`]) are preferred; when there
/// are none, clipping leads are used, since saturated R waves still mark the beats. Among the
/// candidates, each is scored by the prominence of the detector's own integrated QRS-band
/// energy: in up to 24 two-second windows spread evenly across the lead, the ratio of the
/// window's peak energy to its background (its lower quartile); the score is the median ratio.
/// Clean, sharp QRS complexes score high; noise, baseline wander, tall T waves and dropouts
/// score low, and the ratio does not depend on the lead's gain. Ties go to the lower index.
/// Scoring a few windows costs a fraction of one detection pass, whatever the length.
pub fn best_lead(ecg: &Ecg) -> Option<usize> {
    let qualities: Vec<SignalQuality> = ecg
        .leads()
        .iter()
        .map(|lead| SignalQuality::assess(lead.signal(), ecg.sampling_rate()))
        .collect();
    choose_lead(ecg, &qualities)
}

fn choose_lead(ecg: &Ecg, qualities: &[SignalQuality]) -> Option<usize> {
    let clean: Vec<usize> = (0..qualities.len())
        .filter(|&i| qualities[i].is_clean())
        .collect();
    let candidates = if clean.is_empty() {
        (0..qualities.len())
            .filter(|&i| !qualities[i].flat_line)
            .collect()
    } else {
        clean
    };
    if candidates.len() <= 1 {
        return candidates.first().copied();
    }
    let rate = ecg.sampling_rate();
    let mut best = None;
    for index in candidates {
        let score = qrs_prominence(ecg.leads()[index].signal(), rate);
        if best.is_none_or(|(_, best_score)| score > best_score) {
            best = Some((index, score));
        }
    }
    best.map(|(index, _)| index)
}

fn qrs_prominence(signal: &[i32], rate: SamplingRate) -> f64 {
    let window = rate.samples_in(SCORE_WINDOW_MS);
    let warm_up = rate.samples_in(SCORE_WARM_UP_MS);
    let mut filter = QrsFilter::new(rate);
    if signal.len() < warm_up + window {
        // Too short to spare a warm-up: score the whole lead past the integration window.
        let skip = filter.integration.min(signal.len() / 2);
        let mut frames = filter.run(signal, 0);
        return prominence(frames.get_mut(skip..).unwrap_or_default());
    }
    let span = signal.len() - warm_up - window;
    let count = (span / window + 1).min(SCORE_MAX_WINDOWS);
    let mut ratios = Vec::with_capacity(count);
    for k in 0..count {
        let start = warm_up + if count > 1 { k * span / (count - 1) } else { 0 };
        let mut frames = filter.run(&signal[start - warm_up..start + window], 0);
        ratios.push(prominence(&mut frames[warm_up..]));
    }
    ratios.sort_by(f64::total_cmp);
    ratios[ratios.len() / 2]
}

/// Peak over background integrated energy, reordering `frames`.
///
/// The background is the lower quartile: QRS complexes fill well under three quarters of any
/// stretch below about 180 bpm, so it measures what lies between them.
fn prominence(frames: &mut [Frame]) -> f64 {
    if frames.is_empty() {
        return 0.0;
    }
    let peak = frames
        .iter()
        .map(|frame| frame.energy)
        .fold(0.0_f32, f32::max);
    let quartile = frames.len() / 4;
    let (_, background, _) =
        frames.select_nth_unstable_by(quartile, |a, b| a.energy.total_cmp(&b.energy));
    let background = f64::from(background.energy);
    // A perfectly still background must not make the score infinite.
    f64::from(peak) / (background + 1e-6 * f64::from(peak) + f64::MIN_POSITIVE)
}

/// Sample indices of the R peaks in one lead, ascending.
///
/// A Pan-Tompkins detector scaled to the sampling rate. Its band-pass is Pan and Tompkins' own
/// linear-phase pair of moving sums: a low-pass of two cascaded 21 ms moving sums (about
/// 15 Hz) and a high-pass that subtracts a 160 ms moving average (about 5 Hz). Then come the
/// five-point derivative, squaring and a 150 ms moving-window integration. Peaks of the
/// integrated signal are classified against adaptive signal and noise levels (threshold =
/// noise + 1/4 of their gap, learnt over the first 2 s) with a 200 ms refractory period; a
/// peak 200-360 ms after a QRS counts only if its steepest slope is at least half that of the
/// QRS (otherwise it is taken for a T wave); after 166 % of the mean of the last eight RR
/// intervals without a QRS, the largest peak above half the threshold is taken (search-back).
/// Two safeguards keep one artefact from silencing the detector: a peak raises the signal level
/// as if it were at most four times that level, and every expected beat that passes with
/// nothing to take back halves the signal level.
/// Each detection is finally moved to its R wave: the band-passed extreme under the
/// integration window, shifted back by the filter's exact delay, then the original signal's
/// extreme of the same polarity within 40 ms.
pub fn detect_r_peaks(signal: &[i32], sampling_rate: SamplingRate) -> Vec<usize> {
    let mut filter = QrsFilter::new(sampling_rate);
    let frames = filter.run(signal, filter.lag());
    let beats = QrsSearch::new(sampling_rate, &frames, filter.integration).run();
    locate_r_waves(&beats, signal, &frames, sampling_rate, &filter)
}

// Every delay line of the front end fits this ring: at the highest sampling rate (2 kHz) the
// longest, the 160 ms high-pass, spans 321 samples.
const RING: usize = 512;
const RING_MASK: usize = RING - 1;

/// One output sample of the front end.
#[derive(Debug, Clone, Copy, Default)]
struct Frame {
    /// The band-passed signal.
    band: f32,
    /// The integrated QRS energy ending here, not divided by the window: only its ratios count.
    energy: f32,
}

/// The front end's delay lines, one ring per stage, kept together so that one base address
/// serves them all.
struct Rings {
    input: [i64; RING],
    first_sum: [i64; RING],
    low_pass: [i64; RING],
    squared_slope: [f64; RING],
}

/// The detector's front end: band-pass, derivative, squaring and moving-window integration.
///
/// The band-pass runs on exact integers (moving sums cannot drift), its output stays within
/// 2^53 for any `i32` input at up to 2 kHz, and its delay is a whole number of samples.
struct QrsFilter {
    /// Length of each low-pass moving sum.
    smoothing: usize,
    /// Length of the high-pass moving average, odd so that its centre is a sample.
    high_pass: usize,
    /// Length of the moving-window integration.
    integration: usize,
    rings: Box<Rings>,
}

impl QrsFilter {
    fn new(rate: SamplingRate) -> Self {
        Self {
            smoothing: rate.samples_in(LOW_PASS_SUM_MS).clamp(2, RING - 1),
            // At least 3 so that its centre lies in the past, even at 50 Hz.
            high_pass: (rate.samples_in(HIGH_PASS_AVERAGE_MS) | 1).clamp(3, RING - 1),
            integration: rate.samples_in(INTEGRATION_MS).min(RING - 1),
            rings: Box::new(Rings {
                input: [0; RING],
                first_sum: [0; RING],
                low_pass: [0; RING],
                squared_slope: [0.0; RING],
            }),
        }
    }

    /// Samples from the band-pass's input to the extreme of its output.
    fn delay(&self) -> usize {
        (self.smoothing - 1) + self.high_pass / 2
    }

    /// Samples the output lags behind the input at most: the band-pass, the derivative and the
    /// integration window.
    fn lag(&self) -> usize {
        self.delay() + 2 + self.integration
    }

    /// Filters `signal`, then `padding` repetitions of its last sample so that a complex at the
    /// very end still comes out.
    fn run(&mut self, signal: &[i32], padding: usize) -> Vec<Frame> {
        let (Some(&origin), Some(&last)) = (signal.first(), signal.last()) else {
            return Vec::new();
        };
        let rings = &mut *self.rings;
        rings.input.fill(0);
        rings.first_sum.fill(0);
        rings.low_pass.fill(0);
        rings.squared_slope.fill(0.0);
        let mut state = FilterState {
            smoothing: self.smoothing,
            high_pass: self.high_pass,
            integration: self.integration,
            origin: i64::from(origin),
            first_sum: 0,
            low_pass: 0,
            high_pass_sum: 0,
            recent: [0; 4],
            energy: 0.0,
            at: 0,
        };
        let mut frames = vec![Frame::default(); signal.len() + padding];
        let (head, tail) = frames.split_at_mut(signal.len());
        // The state moves through plain loops by value, with nothing called inside them, so
        // the running sums stay in registers.
        for (frames, samples) in head.chunks_mut(RING).zip(signal.chunks(RING)) {
            for (frame, &sample) in frames.iter_mut().zip(samples) {
                (state, *frame) = state.step(rings, sample);
            }
            state.resum(rings);
        }
        for frame in tail {
            (state, *frame) = state.step(rings, last);
        }
        frames
    }
}

/// The running sums of one pass of [`QrsFilter`].
#[derive(Debug, Clone, Copy)]
struct FilterState {
    smoothing: usize,
    high_pass: usize,
    integration: usize,
    origin: i64,
    first_sum: i64,
    low_pass: i64,
    high_pass_sum: i64,
    /// The last four band-passed samples, newest first, for the five-point derivative.
    recent: [i64; 4],
    energy: f64,
    at: usize,
}

impl FilterState {
    /// Adds up the integration window afresh, so that rounding cannot pile up in the running
    /// sum: after a huge artefact it could otherwise outweigh the complexes that follow.
    fn resum(&mut self, rings: &Rings) {
        let end = self.at & RING_MASK;
        let squared = &rings.squared_slope;
        self.energy = if end >= self.integration {
            squared[end - self.integration..end].iter().sum()
        } else {
            let wrapped = self.integration - end;
            squared[..end].iter().sum::<f64>() + squared[RING - wrapped..].iter().sum::<f64>()
        };
    }

    #[inline(always)]
    fn step(mut self, rings: &mut Rings, sample: i32) -> (Self, Frame) {
        let at = self.at;
        let slot = at & RING_MASK;
        let back = |samples: usize| at.wrapping_sub(samples) & RING_MASK;
        // Measured from the first sample, the recording's DC offset does not ring through the
        // filter as a step.
        let input = i64::from(sample) - self.origin;
        let smoothed = back(self.smoothing);
        self.first_sum += input - rings.input[smoothed];
        self.low_pass += self.first_sum - rings.first_sum[smoothed];
        self.high_pass_sum += self.low_pass - rings.low_pass[back(self.high_pass)];
        let centre = rings.low_pass[back(self.high_pass / 2)];
        let band = self.high_pass as i64 * centre - self.high_pass_sum;
        rings.input[slot] = input;
        rings.first_sum[slot] = self.first_sum;
        rings.low_pass[slot] = self.low_pass;

        let [r1, r2, r3, r4] = self.recent;
        let slope = (2 * band + r1 - r3 - 2 * r4) as f64;
        self.recent = [band, r1, r2, r3];
        let squared_slope = slope * slope;
        self.energy += squared_slope - rings.squared_slope[back(self.integration)];
        rings.squared_slope[slot] = squared_slope;
        self.at = at.wrapping_add(1);
        let frame = Frame {
            band: band as f32,
            // Rounding in the running sum can leave a hair below zero after a large complex.
            energy: self.energy.max(0.0) as f32,
        };
        (self, frame)
    }
}

/// A QRS found on the integrated signal, before it is moved to its R wave.
#[derive(Debug, Clone, Copy)]
struct Beat {
    at: usize,
    height: f32,
    /// The steepest band-passed slope under the integration window, computed when first needed.
    slope: Option<f32>,
}

/// The adaptive-threshold peak classification of Pan and Tompkins on the integrated signal.
struct QrsSearch<'a> {
    frames: &'a [Frame],
    integration: usize,
    refractory: usize,
    t_wave_window: usize,
    signal_level: f32,
    noise_level: f32,
    beats: Vec<Beat>,
    /// Past this sample without a QRS, a beat was missed; `usize::MAX` before the first QRS.
    missed_after: usize,
    /// Mean of the last eight RR intervals in samples, one second before there are any.
    mean_rr: f64,
    /// Peaks below the threshold since the last QRS (outside its T-wave window), for
    /// search-back, and which of them is the highest.
    noise_peaks: Vec<(usize, f32)>,
    loudest: Option<usize>,
}

impl<'a> QrsSearch<'a> {
    fn new(rate: SamplingRate, frames: &'a [Frame], integration: usize) -> Self {
        let learning = &frames[..rate.samples_in(LEARNING_MS).min(frames.len())];
        let peak = learning.iter().map(|f| f.energy).fold(0.0_f32, f32::max);
        let mean = learning.iter().map(|f| f.energy).sum::<f32>() / learning.len().max(1) as f32;
        Self {
            frames,
            integration,
            refractory: rate.samples_in(REFRACTORY_MS),
            t_wave_window: rate.samples_in(T_WAVE_WINDOW_MS),
            signal_level: peak / 3.0,
            noise_level: mean / 2.0,
            // About three beats a second at most; more is rare and merely grows the vector.
            beats: Vec::with_capacity(frames.len() / rate.samples_in(333.0) + 1),
            missed_after: usize::MAX,
            mean_rr: rate.samples_in(1000.0) as f64,
            noise_peaks: Vec::with_capacity(64),
            loudest: None,
        }
    }

    fn threshold(&self) -> f32 {
        self.noise_level + 0.25 * (self.signal_level - self.noise_level)
    }

    fn run(mut self) -> Vec<Beat> {
        let frames = self.frames;
        // Local maxima are gathered 64 frames at a time into a bit mask: the scan then never
        // branches on the ripple of the integrated signal, only on the rare maxima.
        let mut start = 1;
        while start + 1 < frames.len() {
            let end = (start + 64).min(frames.len() - 1);
            let mut maxima = 0_u64;
            for (bit, triple) in frames[start - 1..=end].windows(3).enumerate() {
                let here = triple[1].energy;
                let is_peak = (here > triple[0].energy) & (here >= triple[2].energy);
                maxima |= u64::from(is_peak) << bit;
            }
            while maxima != 0 {
                let at = start + maxima.trailing_zeros() as usize;
                maxima &= maxima - 1;
                self.peak(at, frames[at].energy);
            }
            start = end;
        }
        // A complex cut by the end of the recording never gets its local maximum.
        if let [.., before, end] = frames
            && end.energy > before.energy
        {
            self.peak(frames.len() - 1, end.energy);
        }
        self.search_back(frames.len());
        self.beats
    }

    fn peak(&mut self, at: usize, height: f32) {
        if at > self.missed_after {
            self.search_back(at);
        }
        let threshold = self.threshold();
        if let Some(last) = self.beats.last_mut() {
            let since = at - last.at;
            if since < self.refractory {
                // Still the same complex: keep its highest point.
                if height > last.height {
                    *last = Beat {
                        at,
                        height,
                        slope: None,
                    };
                    self.expect_next_beat();
                }
                return;
            }
            if since < self.t_wave_window && height > threshold && self.is_t_wave(at) {
                self.noise_level = 0.125 * height + 0.875 * self.noise_level;
                return;
            }
        }
        if height > threshold {
            // An artefact may count, but not as more than four ordinary complexes: one electrode
            // pop must not lift the thresholds above every beat that follows.
            let counted = if self.signal_level > 0.0 {
                height.min(4.0 * self.signal_level)
            } else {
                height
            };
            self.signal_level = 0.125 * counted + 0.875 * self.signal_level;
            self.accept(at, height);
            self.noise_peaks.clear();
            self.loudest = None;
        } else {
            self.noise_level = 0.125 * height + 0.875 * self.noise_level;
            let after_t_wave = self
                .beats
                .last()
                .is_none_or(|last| at - last.at >= self.t_wave_window);
            if after_t_wave {
                if self.loudest.is_none_or(|i| height > self.noise_peaks[i].1) {
                    self.loudest = Some(self.noise_peaks.len());
                }
                self.noise_peaks.push((at, height));
            }
        }
    }

    /// Whether the peak at `at` is less than half as steep as the last QRS: its T wave.
    fn is_t_wave(&mut self, at: usize) -> bool {
        let Some(last) = self.beats.last().copied() else {
            return false;
        };
        let last_slope = last.slope.unwrap_or_else(|| self.slope(last.at));
        if let Some(beat) = self.beats.last_mut() {
            beat.slope = Some(last_slope);
        }
        self.slope(at) < 0.5 * last_slope
    }

    fn accept(&mut self, at: usize, height: f32) {
        self.beats.push(Beat {
            at,
            height,
            slope: None,
        });
        self.expect_next_beat();
    }

    /// Sets the deadline for the next QRS from the mean of the last eight RR intervals.
    fn expect_next_beat(&mut self) {
        let Some(last) = self.beats.last() else {
            return;
        };
        let intervals = (self.beats.len() - 1).min(8);
        let mean_rr = if intervals == 0 {
            self.mean_rr
        } else {
            (last.at - self.beats[self.beats.len() - 1 - intervals].at) as f64 / intervals as f64
        };
        self.mean_rr = mean_rr;
        self.missed_after = last.at + (MISSED_BEAT_RR_FACTOR * mean_rr) as usize;
    }

    /// Takes missed beats, the highest noise peak above half the threshold each time, while no
    /// QRS came for too long before `now`. A taken peak just before a real QRS is replaced by
    /// it through the refractory rule.
    fn search_back(&mut self, now: usize) {
        while now > self.missed_after {
            let candidate = self
                .loudest
                .map(|index| (index, self.noise_peaks[index]))
                .filter(|&(_, (_, height))| height > 0.5 * self.threshold());
            let Some((index, (at, height))) = candidate else {
                // Nothing to take: the levels may still be an artefact's. Halving the signal
                // level once per expected beat brings the thresholds back to the complexes.
                self.signal_level *= 0.5;
                self.missed_after += self.mean_rr.max(1.0) as usize;
                continue;
            };
            self.signal_level = 0.25 * height + 0.75 * self.signal_level;
            self.accept(at, height);
            self.noise_peaks.drain(..=index);
            self.loudest = (0..self.noise_peaks.len())
                .max_by(|&a, &b| self.noise_peaks[a].1.total_cmp(&self.noise_peaks[b].1));
        }
    }

    /// The steepest band-passed slope inside the integration window ending at `at`.
    fn slope(&self, at: usize) -> f32 {
        let window = &self.frames[at.saturating_sub(self.integration)..=at];
        let mut steepest = 0.0_f32;
        for pair in window.windows(2) {
            steepest = steepest.max((pair[1].band - pair[0].band).abs());
        }
        steepest
    }
}

/// Moves each detection from the integrated signal to its R wave in the original signal.
fn locate_r_waves(
    beats: &[Beat],
    signal: &[i32],
    frames: &[Frame],
    rate: SamplingRate,
    filter: &QrsFilter,
) -> Vec<usize> {
    let radius = rate.samples_in(R_SEARCH_MS);
    let refractory = rate.samples_in(REFRACTORY_MS);
    let delay = filter.delay();
    let mut peaks: Vec<(usize, f32)> = Vec::with_capacity(beats.len());
    for beat in beats {
        // The integrated energy trails the complex by up to a window plus the derivative's delay.
        let start = beat.at.saturating_sub(filter.integration + 2);
        // Magnitudes compare as their bit patterns, a cheaper dependency than float selects.
        let (mut band_peak, mut magnitude) = (start, 0_u32);
        for (k, frame) in frames[start..=beat.at].iter().enumerate() {
            let bits = frame.band.abs().to_bits();
            if bits > magnitude {
                (band_peak, magnitude) = (start + k, bits);
            }
        }
        let band_value = frames[band_peak].band;
        let centre = band_peak.saturating_sub(delay).min(signal.len() - 1);
        let from = centre.saturating_sub(radius);
        let to = (centre + radius).min(signal.len() - 1);
        let polarity = if band_value < 0.0 { -1 } else { 1 };
        let (mut r_wave, mut height) = (from, i64::MIN);
        for (k, &sample) in signal[from..=to].iter().enumerate() {
            let value = i64::from(sample) * polarity;
            if value > height {
                (r_wave, height) = (from + k, value);
            }
        }
        match peaks.last_mut() {
            Some((previous, height)) if r_wave < *previous + refractory => {
                if beat.height > *height {
                    *previous = r_wave;
                    *height = beat.height;
                }
            }
            _ => peaks.push((r_wave, beat.height)),
        }
    }
    peaks.into_iter().map(|(at, _)| at).collect()
}

#[cfg(test)]
mod tests {
    use super::super::wfdb::reference::{self, MITDB_100, PTB_S0010};
    use super::super::{decode_format_16, decode_format_212, is_beat, parse_mit_annotations};
    use super::*;

    fn rate(hz: i64) -> SamplingRate {
        SamplingRate::parse(Some(hz)).unwrap()
    }

    #[test]
    fn hrv_matches_hand_computed_values() {
        let rr = [800.0, 860.0, 780.0, 900.0, 820.0];
        let hrv = Hrv::from_rr_intervals(&rr).unwrap();
        // mean 832; squared deviations 1024 + 784 + 2704 + 4624 + 144 = 9280; / 4 = 2320.
        assert!((hrv.sdnn_ms - 2320.0_f64.sqrt()).abs() < 1e-9);
        // differences 60, -80, 120, -80: squares 3600 + 6400 + 14400 + 6400 = 30800; / 4 = 7700.
        assert!((hrv.rmssd_ms - 7700.0_f64.sqrt()).abs() < 1e-9);
        assert!((hrv.pnn50 - 100.0).abs() < 1e-9);
        // differences 30, -30, 50, -60: only the last is strictly above 50 ms.
        let steady = Hrv::from_rr_intervals(&[1000.0, 1030.0, 1000.0, 1050.0, 990.0]).unwrap();
        assert!((steady.pnn50 - 25.0).abs() < 1e-9);
        let two = Hrv::from_rr_intervals(&[1000.0, 1010.0]).unwrap();
        assert!((two.sdnn_ms - 50.0_f64.sqrt()).abs() < 1e-9);
        assert!((two.rmssd_ms - 10.0).abs() < 1e-9);
    }

    #[test]
    fn hrv_needs_three_beats_and_heart_rate_two() {
        assert_eq!(Hrv::from_rr_intervals(&[]), None);
        assert_eq!(Hrv::from_rr_intervals(&[800.0]), None);
        assert_eq!(HeartRate::from_rr_intervals(&[]), None);
        let hr = HeartRate::from_rr_intervals(&[1000.0]).unwrap();
        assert_eq!((hr.mean, hr.min, hr.max), (60.0, 60.0, 60.0));
        assert_eq!(HeartRate::from_rr_intervals(&[800.0, 0.0]), None);
        assert_eq!(HeartRate::from_rr_intervals(&[f64::NAN]), None);
        let none = Rhythm::from_r_peaks(0, vec![], rate(500));
        assert!(none.rr_intervals_ms.is_empty() && none.heart_rate_bpm.is_none());
        let one = Rhythm::from_r_peaks(0, vec![100], rate(500));
        assert_eq!((one.heart_rate_bpm, one.hrv), (None, None));
        assert!(!one.bradycardia && !one.tachycardia);
        let two = Rhythm::from_r_peaks(0, vec![100, 600], rate(500));
        assert!(two.heart_rate_bpm.is_some() && two.hrv.is_none());
        let three = Rhythm::from_r_peaks(0, vec![100, 600, 1100], rate(500));
        assert!(three.hrv.is_some());
    }

    #[test]
    fn heart_rate_from_rr_intervals() {
        let hr = HeartRate::from_rr_intervals(&[750.0, 1000.0, 1250.0]).unwrap();
        assert!((hr.mean - 60.0).abs() < 1e-9);
        assert!((hr.min - 48.0).abs() < 1e-9);
        assert!((hr.max - 80.0).abs() < 1e-9);
    }

    #[test]
    fn rhythm_flags_rates_and_pauses() {
        // RR 1200, 1200, 2000 (a pause), 1200 ms: mean 1400 ms, under 43 bpm.
        let slow = Rhythm::from_r_peaks(1, vec![10, 310, 610, 1110, 1410], rate(250));
        assert_eq!(slow.lead, 1);
        assert_eq!(slow.rr_intervals_ms, [1200.0, 1200.0, 2000.0, 1200.0]);
        assert!(slow.bradycardia && !slow.tachycardia);
        assert_eq!(
            slow.pauses,
            [Pause {
                at_sample: 610,
                duration_ms: 2000.0
            }]
        );
        // RR 500 ms: 120 bpm.
        let fast = Rhythm::from_r_peaks(0, (0..10).map(|i| i * 125).collect(), rate(250));
        assert!(fast.tachycardia && !fast.bradycardia && fast.pauses.is_empty());
        assert!((fast.heart_rate_bpm.unwrap().mean - 120.0).abs() < 1e-9);
        // Exactly 50 and 100 bpm are neither.
        let fifty = Rhythm::from_r_peaks(0, vec![0, 300, 600], rate(250));
        assert!(!fifty.bradycardia);
        let hundred = Rhythm::from_r_peaks(0, vec![0, 150, 300], rate(250));
        assert!(!hundred.tachycardia);
    }

    /// A tiny linear congruential generator for repeatable noise.
    struct Lcg(u64);

    impl Lcg {
        /// Uniform in [-1, 1).
        fn noise(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 11) as f64 / (1_u64 << 52) as f64 - 1.0
        }
    }

    fn bump(t: f64, centre: f64, width: f64) -> f64 {
        (-((t - centre) / width).powi(2)).exp()
    }

    /// A synthetic lead in ADC units (about 1000 per mV): P, QRS and T waves for each beat at
    /// `beats_s` (R apex times, seconds), with its own amplitude, plus baseline wander, mains
    /// hum and noise.
    fn synthetic(hz: u32, seconds: f64, beats_s: &[(f64, f64)], t_wave: f64) -> Vec<i32> {
        let mut lcg = Lcg(7);
        let count = (seconds * f64::from(hz)) as usize;
        (0..count)
            .map(|i| {
                let t = i as f64 / f64::from(hz);
                let mut mv = 0.3 * (2.0 * PI_F * 0.25 * t).sin()
                    + 0.02 * (2.0 * PI_F * 50.0 * t).sin()
                    + 0.02 * lcg.noise();
                for &(at, amplitude) in beats_s {
                    if (t - at).abs() < 0.6 {
                        mv += amplitude
                            * (0.15 * bump(t, at - 0.16, 0.025)
                                - 0.15 * bump(t, at - 0.025, 0.008)
                                + bump(t, at, 0.012)
                                - 0.25 * bump(t, at + 0.025, 0.008)
                                + t_wave * bump(t, at + 0.28, 0.05));
                    }
                }
                (1000.0 * mv).round() as i32 + 1024
            })
            .collect()
    }

    const PI_F: f64 = std::f64::consts::PI;

    fn regular(start: f64, rr: f64, count: usize) -> Vec<(f64, f64)> {
        (0..count).map(|i| (start + rr * i as f64, 1.0)).collect()
    }

    /// Asserts that every beat was found within `tolerance_ms` of its apex, and nothing else.
    fn assert_detects(signal: &[i32], hz: u32, beats_s: &[(f64, f64)], tolerance_ms: f64) {
        let rate = rate(i64::from(hz));
        let peaks = detect_r_peaks(signal, rate);
        let expected: Vec<f64> = beats_s.iter().map(|&(at, _)| at * f64::from(hz)).collect();
        assert_eq!(
            peaks.len(),
            expected.len(),
            "at {hz} Hz: {peaks:?} vs {expected:?}"
        );
        for (&peak, &apex) in peaks.iter().zip(&expected) {
            let off_ms = rate.ms(1) * (peak as f64 - apex).abs();
            assert!(
                off_ms <= tolerance_ms,
                "at {hz} Hz: R at {peak}, apex at {apex:.1}"
            );
        }
    }

    #[test]
    fn detects_every_beat_at_every_sampling_rate() {
        let beats = regular(0.5, 0.8, 24);
        for hz in [50, 128, 250, 360, 500, 1000, 2000] {
            let signal = synthetic(hz, 20.0, &beats, 0.3);
            // Within a sample, or a few milliseconds at high rates.
            let tolerance = (1000.0 / f64::from(hz)).max(6.0);
            assert_detects(&signal, hz, &beats, tolerance);
        }
    }

    #[test]
    fn tall_t_waves_are_not_beats() {
        let beats = regular(0.4, 0.9, 20);
        let signal = synthetic(500, 18.5, &beats, 0.8);
        assert_detects(&signal, 500, &beats, 4.0);
    }

    #[test]
    fn a_small_beat_is_found_by_search_back() {
        let mut beats = regular(0.5, 0.8, 20);
        // Its QRS is too small for the detection threshold, but not for half of it.
        beats[10].1 = 0.3;
        let signal = synthetic(360, 16.5, &beats, 0.2);
        assert_detects(&signal, 360, &beats, 6.0);
    }

    #[test]
    fn beats_after_a_huge_artefact_are_still_found() {
        let beats = regular(0.5, 0.8, 25);
        let mut signal = synthetic(500, 20.0, &beats, 0.3);
        // An electrode pop of 300 mV between two beats.
        for (i, sample) in signal[2840..2860].iter_mut().enumerate() {
            *sample += 300_000 * (10 - (i as i32 - 10).abs());
        }
        let peaks = detect_r_peaks(&signal, rate(500));
        let found = |apex: f64| {
            peaks
                .iter()
                .any(|&p| (p as f64 - apex * 500.0).abs() <= 2.0)
        };
        let missed: Vec<f64> = beats.iter().map(|b| b.0).filter(|&at| !found(at)).collect();
        assert!(missed.is_empty(), "missed beats at {missed:?} s");
        assert!(peaks.len() <= beats.len() + 1, "{} detections", peaks.len());
    }

    #[test]
    fn slow_fast_and_paused_rhythms() {
        let slow = regular(0.5, 1.4, 12);
        let signal = synthetic(250, 16.8, &slow, 0.3);
        assert_detects(&signal, 250, &slow, 4.0);
        let rhythm = Rhythm::from_r_peaks(0, detect_r_peaks(&signal, rate(250)), rate(250));
        assert!(rhythm.bradycardia && !rhythm.tachycardia);

        let fast = regular(0.3, 0.4, 40);
        let signal = synthetic(500, 16.2, &fast, 0.3);
        assert_detects(&signal, 500, &fast, 4.0);
        let rhythm = Rhythm::from_r_peaks(0, detect_r_peaks(&signal, rate(500)), rate(500));
        assert!(rhythm.tachycardia && !rhythm.bradycardia);

        let mut paused = regular(0.5, 0.8, 8);
        paused.extend(regular(0.5 + 7.0 * 0.8 + 2.6, 0.8, 8));
        let signal = synthetic(500, 15.0, &paused, 0.3);
        assert_detects(&signal, 500, &paused, 4.0);
        let rhythm = Rhythm::from_r_peaks(0, detect_r_peaks(&signal, rate(500)), rate(500));
        assert_eq!(rhythm.pauses.len(), 1);
        assert_eq!(rhythm.pauses[0].at_sample, rhythm.r_peaks[7]);
        assert!((rhythm.pauses[0].duration_ms - 2600.0).abs() <= 4.0);
    }

    #[test]
    fn degenerate_signals_have_no_beats() {
        assert!(detect_r_peaks(&[], rate(500)).is_empty());
        assert!(detect_r_peaks(&[7], rate(500)).is_empty());
        assert!(detect_r_peaks(&[0; 5000], rate(500)).is_empty());
        let extremes: Vec<i32> = (0..3000)
            .map(|i| if i % 400 < 3 { i32::MAX } else { i32::MIN })
            .collect();
        // Full-scale square pulses must not overflow the filter.
        assert!(detect_r_peaks(&extremes, rate(2000)).len() <= 8);
    }

    fn ecg(hz: i64, leads: Vec<(&str, Vec<i32>)>) -> Ecg {
        let (names, signals): (Vec<&str>, Vec<Vec<i32>>) = leads.into_iter().unzip();
        reference::ecg(hz, &names, signals)
    }

    #[test]
    fn best_lead_skips_flat_and_noisy_leads() {
        let beats = regular(0.5, 0.8, 12);
        let clean = synthetic(500, 10.0, &beats, 0.3);
        let mut lcg = Lcg(99);
        let noisy: Vec<i32> = clean
            .iter()
            .map(|&s| 1024 + (s - 1024) / 4 + (300.0 * lcg.noise()) as i32)
            .collect();
        let recording = ecg(
            500,
            vec![("I", vec![1024; 5000]), ("II", noisy), ("III", clean)],
        );
        assert_eq!(best_lead(&recording), Some(2));
        let rhythm = Rhythm::analyse(&recording).unwrap();
        assert_eq!(rhythm.lead, 2);
        assert_eq!(rhythm.r_peaks.len(), 12);

        let flat = ecg(500, vec![("I", vec![0; 100]), ("II", vec![5; 100])]);
        assert_eq!(best_lead(&flat), None);
        assert_eq!(Rhythm::analyse(&flat), None);
    }

    #[test]
    fn best_lead_falls_back_to_a_clipped_lead() {
        let beats = regular(0.5, 0.8, 12);
        let clipped: Vec<i32> = synthetic(500, 10.0, &beats, 0.3)
            .into_iter()
            .map(|s| s.min(1500))
            .collect();
        let recording = ecg(500, vec![("I", vec![9; 5000]), ("II", clipped)]);
        let rhythm = Rhythm::analyse(&recording).unwrap();
        assert_eq!(rhythm.lead, 1);
        assert_eq!(rhythm.r_peaks.len(), 12);
    }

    /// Matches detections to reference beats within `window` samples, in order.
    fn score(reference: &[usize], detected: &[usize], window: usize) -> (usize, usize, usize) {
        let (mut r, mut d) = (0, 0);
        let (mut true_positives, mut false_positives, mut false_negatives) = (0, 0, 0);
        while r < reference.len() && d < detected.len() {
            if detected[d] + window < reference[r] {
                false_positives += 1;
                d += 1;
            } else if reference[r] + window < detected[d] {
                false_negatives += 1;
                r += 1;
            } else {
                true_positives += 1;
                r += 1;
                d += 1;
            }
        }
        false_negatives += reference.len() - r;
        false_positives += detected.len() - d;
        (true_positives, false_positives, false_negatives)
    }

    /// NN intervals (ms) between consecutive detections that both match normal (`N`) beats.
    fn nn_intervals(beats: &[(usize, u8)], detected: &[usize], window: usize) -> Vec<f64> {
        let normal = |peak: usize| {
            let first = beats.partition_point(|&(at, _)| at + window < peak);
            beats
                .get(first)
                .is_some_and(|&(at, code)| at <= peak + window && code == 1)
        };
        detected
            .windows(2)
            .filter(|pair| normal(pair[0]) && normal(pair[1]))
            .map(|pair| (pair[1] - pair[0]) as f64 * 1000.0 / 360.0)
            .collect()
    }

    #[test]
    fn record_100_detection_and_hrv_match_the_reference() {
        let signals = decode_format_212(&reference::read(MITDB_100, "100.dat"), 2);
        let annotations = parse_mit_annotations(&reference::read(MITDB_100, "100.atr")).unwrap();
        let beats: Vec<(usize, u8)> = annotations
            .iter()
            .filter(|a| is_beat(a.code))
            .map(|a| (a.sample, a.code))
            .collect();
        let reference_peaks: Vec<usize> = beats.iter().map(|&(at, _)| at).collect();
        assert_eq!(reference_peaks.len(), 2273);

        let recording = ecg(
            360,
            vec![("MLII", signals[0].clone()), ("V5", signals[1].clone())],
        );
        for lead in recording.leads() {
            let quality = SignalQuality::assess(lead.signal(), recording.sampling_rate());
            assert!(quality.is_clean(), "{}: {quality:?}", lead.name());
        }
        let rhythm = Rhythm::analyse(&recording).unwrap();
        // V5 loses the signal for about a second near sample 107,000; MLII is the lead to read.
        assert_eq!(rhythm.lead, 0);

        // WFDB's bxb matches within 150 ms; every detection here is within a few samples.
        let window = recording.sampling_rate().samples_in(150.0);
        let (tp, fp, fn_) = score(&reference_peaks, &rhythm.r_peaks, window);
        let sensitivity = tp as f64 / (tp + fn_) as f64;
        let predictivity = tp as f64 / (tp + fp) as f64;
        assert!(
            sensitivity >= 0.995,
            "Se {sensitivity:.4} (TP {tp}, FN {fn_})"
        );
        assert!(
            predictivity >= 0.995,
            "+P {predictivity:.4} (TP {tp}, FP {fp})"
        );
        let close = score(&reference_peaks, &rhythm.r_peaks, 4).0;
        assert!(
            close as f64 >= 0.99 * tp as f64,
            "{close} of {tp} within 11 ms"
        );

        // Over every RR interval, premature beats included, the mean still matches.
        let hr = rhythm.heart_rate_bpm.unwrap();
        let mean_rr = 60_000.0 / hr.mean;
        assert!(
            (mean_rr - 795.0).abs() <= 0.01 * 795.0,
            "mean RR {mean_rr:.1}"
        );
        assert!(!rhythm.bradycardia && !rhythm.tachycardia && rhythm.pauses.is_empty());

        // Restricted to N-N intervals like the reference (mean NN 795.0 ms, SDNN 35.96 ms,
        // RMSSD 27.79 ms, pNN50 5.99 %), the detected peaks give the same variability. The
        // reference pNN50 also counts the nine differences of exactly 50 ms (18 samples).
        let nn = nn_intervals(&beats, &rhythm.r_peaks, window);
        let mean_nn = nn.iter().sum::<f64>() / nn.len() as f64;
        let hrv = Hrv::from_rr_intervals(&nn).unwrap();
        assert!(
            (mean_nn - 795.0).abs() <= 0.005 * 795.0,
            "mean NN {mean_nn:.2}"
        );
        assert!(
            (hrv.sdnn_ms - 35.96).abs() <= 0.03 * 35.96,
            "SDNN {:.2}",
            hrv.sdnn_ms
        );
        assert!(
            (hrv.rmssd_ms - 27.79).abs() <= 0.05 * 27.79,
            "RMSSD {:.2}",
            hrv.rmssd_ms
        );
        assert!((hrv.pnn50 - 5.99).abs() <= 1.0, "pNN50 {:.2}", hrv.pnn50);
    }

    #[test]
    fn ptb_12_lead_has_a_plausible_heart_rate() {
        let signals = decode_format_16(&reference::read(PTB_S0010, "s0010_re.dat"), 12);
        let names = [
            "i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6",
        ];
        let recording = ecg(1000, names.into_iter().zip(signals).collect());
        for lead in recording.leads() {
            let quality = SignalQuality::assess(lead.signal(), recording.sampling_rate());
            assert!(quality.is_clean(), "{}: {quality:?}", lead.name());
        }
        let rhythm = Rhythm::analyse(&recording).unwrap();
        let hr = rhythm.heart_rate_bpm.unwrap();
        assert!(
            (40.0..=120.0).contains(&hr.mean),
            "{hr:?} on {}",
            names[rhythm.lead]
        );
        // 38.4 s at that rate, give or take a beat.
        let expected = 38.4 * hr.mean / 60.0;
        assert!((rhythm.r_peaks.len() as f64 - expected).abs() <= 1.5);
        assert!(rhythm.hrv.is_some() && rhythm.pauses.is_empty());
    }
}
