//! Readers for the PhysioNet WFDB files the tests and benchmarks use: signal formats 212 and 16,
//! and MIT-format beat annotations.
//!
//! Only what reference recordings need is supported; headers are simple enough that callers
//! pass the channel count themselves.

/// One annotation of an MIT annotation file: where it sits and its WFDB code (1 = `N`, 5 = `V`...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Annotation {
    pub sample: usize,
    pub code: u8,
}

/// Whether a WFDB annotation code marks a QRS complex (a beat), as opposed to rhythm changes,
/// noise or comments: `N L R a V F J A S E j / Q B e n f r`.
pub fn is_beat(code: u8) -> bool {
    matches!(code, 1..=13 | 25 | 34 | 35 | 38 | 41)
}

/// Decodes WFDB format 212: two 12-bit two's-complement samples in every three bytes, channels
/// interleaved frame by frame. A trailing incomplete frame is dropped so every channel has the
/// same length.
pub fn decode_format_212(bytes: &[u8], channels: usize) -> Vec<Vec<i32>> {
    if channels == 0 {
        return Vec::new();
    }
    let mut samples = Vec::with_capacity(bytes.len() / 3 * 2 + 1);
    let mut groups = bytes.chunks_exact(3);
    for group in &mut groups {
        let (b0, b1, b2) = (
            i32::from(group[0]),
            i32::from(group[1]),
            i32::from(group[2]),
        );
        samples.push(twelve_bit(b0 | (b1 & 0x0F) << 8));
        samples.push(twelve_bit(b2 | (b1 & 0xF0) << 4));
    }
    // An odd total sample count leaves the first sample of a group in two final bytes.
    if let [b0, b1, ..] = *groups.remainder() {
        samples.push(twelve_bit(i32::from(b0) | (i32::from(b1) & 0x0F) << 8));
    }
    deinterleave(&samples, channels)
}

/// Decodes WFDB format 16: 16-bit little-endian two's-complement samples, channels interleaved.
pub fn decode_format_16(bytes: &[u8], channels: usize) -> Vec<Vec<i32>> {
    if channels == 0 {
        return Vec::new();
    }
    let samples: Vec<i32> = bytes
        .chunks_exact(2)
        .map(|pair| i32::from(i16::from_le_bytes([pair[0], pair[1]])))
        .collect();
    deinterleave(&samples, channels)
}

/// The WFDB header checksum of a channel: the sum of its samples, kept to 16 bits.
pub fn signal_checksum(samples: &[i32]) -> i16 {
    samples
        .iter()
        .fold(0_i16, |sum, &s| sum.wrapping_add(s as i16))
}

fn twelve_bit(value: i32) -> i32 {
    if value > 2047 { value - 4096 } else { value }
}

fn deinterleave(samples: &[i32], channels: usize) -> Vec<Vec<i32>> {
    let frames = samples.len() / channels;
    let mut leads: Vec<Vec<i32>> = (0..channels).map(|_| Vec::with_capacity(frames)).collect();
    for frame in samples.chunks_exact(channels) {
        for (lead, &sample) in leads.iter_mut().zip(frame) {
            lead.push(sample);
        }
    }
    leads
}

const SKIP: u8 = 59;
const NUM: u8 = 60;
const SUB: u8 = 61;
const CHN: u8 = 62;
const AUX: u8 = 63;

/// Parses an MIT-format annotation file (`.atr`): 16-bit little-endian words whose top 6 bits are
/// the code and low 10 bits the samples elapsed since the previous annotation; SKIP carries a
/// 32-bit interval, NUM/SUB/CHN set fields without moving in time, AUX carries text, and a zero
/// word ends the file. Fails on input that ends inside a word or a pseudo-annotation's payload,
/// or that moves before sample 0.
pub fn parse_mit_annotations(bytes: &[u8]) -> Result<Vec<Annotation>, String> {
    let mut annotations = Vec::with_capacity(bytes.len() / 2);
    let mut time: i64 = 0;
    let mut offset = 0;
    let word_at = |offset: usize| -> Result<u16, String> {
        match bytes.get(offset..offset + 2) {
            Some(&[lo, hi]) => Ok(u16::from_le_bytes([lo, hi])),
            _ => Err(format!(
                "annotation file ends inside a word at byte {offset}"
            )),
        }
    };
    while offset < bytes.len() {
        let word = word_at(offset)?;
        offset += 2;
        if word == 0 {
            return Ok(annotations);
        }
        let code = (word >> 10) as u8;
        let value = usize::from(word & 0x3FF);
        match code {
            SKIP => {
                let high = word_at(offset)?;
                let low = word_at(offset + 2)?;
                offset += 4;
                let interval = (u32::from(high) << 16 | u32::from(low)) as i32;
                time += i64::from(interval);
            }
            NUM | SUB | CHN => {}
            AUX => {
                let padded = value + value % 2;
                if offset + padded > bytes.len() {
                    return Err(format!(
                        "annotation file ends inside {value} bytes of AUX text at byte {offset}"
                    ));
                }
                offset += padded;
            }
            _ => {
                time += value as i64;
                let sample = usize::try_from(time)
                    .map_err(|_| format!("annotation before sample 0 at byte {}", offset - 2))?;
                annotations.push(Annotation { sample, code });
            }
        }
        if time < 0 {
            return Err(format!("annotation time before sample 0 at byte {offset}"));
        }
    }
    // Some writers omit the end marker; everything read so far is still complete.
    Ok(annotations)
}

/// The PhysioNet reference recordings in `shared/data`, read in place by tests.
#[cfg(test)]
pub(super) mod reference {
    use super::super::{Ecg, RawLead};

    pub const MITDB_100: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/mitdb-100");
    pub const PTB_S0010: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/ptb-s0010");

    pub fn read(dir: &str, file: &str) -> Vec<u8> {
        let path = format!("{dir}/{file}");
        std::fs::read(&path).unwrap_or_else(|error| {
            panic!(
                "reference recording {path} is missing ({error}); this test reads the PhysioNet \
                 samples in shared/data beside the project root (see shared/data/README.md)"
            )
        })
    }

    pub fn ecg(sampling_rate_hz: i64, names: &[&str], signals: Vec<Vec<i32>>) -> Ecg {
        let leads = names
            .iter()
            .zip(signals)
            .map(|(name, signal)| RawLead {
                name: (*name).to_owned(),
                number_of_samples: None,
                signal: signal.into_iter().map(i64::from).collect(),
            })
            .collect();
        Ecg::parse(Some(sampling_rate_hz), leads).expect("reference recording parses")
    }
}

#[cfg(test)]
mod tests {
    use super::reference::{MITDB_100, PTB_S0010, read as read_reference};
    use super::*;

    #[test]
    fn format_212_matches_the_header_of_record_100() {
        let leads = decode_format_212(&read_reference(MITDB_100, "100.dat"), 2);
        assert_eq!(leads.len(), 2);
        assert_eq!(leads[0].len(), 650_000);
        assert_eq!(leads[1].len(), 650_000);
        assert_eq!((leads[0][0], leads[1][0]), (995, 1011));
        assert_eq!(signal_checksum(&leads[0]), -22131);
        assert_eq!(signal_checksum(&leads[1]), 20052);
    }

    #[test]
    fn format_212_decodes_negative_samples_and_odd_tails() {
        // -1 and 2047, then -2048 alone in a truncated group.
        let bytes = [0xFF, 0x7F, 0xFF, 0x00, 0x08];
        assert_eq!(decode_format_212(&bytes, 1), vec![vec![-1, 2047, -2048]]);
        assert_eq!(decode_format_212(&bytes, 2), vec![vec![-1], vec![2047]]);
        assert!(decode_format_212(&bytes, 0).is_empty());
    }

    #[test]
    fn format_16_matches_the_header_of_record_s0010() {
        let leads = decode_format_16(&read_reference(PTB_S0010, "s0010_re.dat"), 12);
        assert_eq!(leads.len(), 12);
        assert!(leads.iter().all(|lead| lead.len() == 38_400));
        // Initial values and checksums of i, ii and v6 from s0010_re.hea.
        assert_eq!((leads[0][0], leads[1][0], leads[11][0]), (-489, -458, 390));
        assert_eq!(signal_checksum(&leads[0]), -8337);
        assert_eq!(signal_checksum(&leads[1]), -16369);
        assert_eq!(signal_checksum(&leads[11]), -17545);
    }

    #[test]
    fn format_16_is_little_endian_twos_complement() {
        let bytes = [0x01, 0x00, 0xFF, 0xFF, 0x00, 0x80, 0x01];
        assert_eq!(decode_format_16(&bytes, 1), vec![vec![1, -1, -32768]]);
        assert_eq!(decode_format_16(&bytes, 2), vec![vec![1], vec![-1]]);
    }

    #[test]
    fn annotations_of_record_100() {
        let annotations = parse_mit_annotations(&read_reference(MITDB_100, "100.atr")).unwrap();
        let beats: Vec<&Annotation> = annotations.iter().filter(|a| is_beat(a.code)).collect();
        assert_eq!(beats.len(), 2273);
        assert_eq!(beats.iter().filter(|a| a.code == 1).count(), 2239);
        assert_eq!(beats.iter().filter(|a| a.code == 8).count(), 33);
        assert_eq!(beats.iter().filter(|a| a.code == 5).count(), 1);
        assert!(annotations.windows(2).all(|w| w[0].sample <= w[1].sample));
        assert!(beats.last().unwrap().sample < 650_000);
    }

    fn word(code: u16, value: u16) -> [u8; 2] {
        (code << 10 | value).to_le_bytes()
    }

    #[test]
    fn annotations_handle_skip_aux_and_field_words() {
        let mut bytes = Vec::new();
        bytes.extend(word(1, 100));
        bytes.extend(word(u16::from(SKIP), 0));
        bytes.extend(1_u16.to_le_bytes()); // high word: 65,536 samples
        bytes.extend(5_u16.to_le_bytes()); // low word
        bytes.extend(word(u16::from(NUM), 3));
        bytes.extend(word(u16::from(AUX), 3));
        bytes.extend(b"(N\0\0");
        bytes.extend(word(5, 10));
        bytes.extend(word(28, 0));
        bytes.extend([0, 0]);
        bytes.extend(word(1, 1)); // after the end marker: ignored
        let annotations = parse_mit_annotations(&bytes).unwrap();
        assert_eq!(
            annotations,
            [
                Annotation {
                    sample: 100,
                    code: 1
                },
                Annotation {
                    sample: 65_651,
                    code: 5
                },
                Annotation {
                    sample: 65_651,
                    code: 28
                },
            ]
        );
        assert!(is_beat(5) && !is_beat(28) && !is_beat(14) && !is_beat(0));
    }

    #[test]
    fn annotations_reject_truncated_input() {
        assert!(parse_mit_annotations(&[0x01]).is_err());
        let mut skip = word(u16::from(SKIP), 0).to_vec();
        skip.extend([0, 0]);
        assert!(parse_mit_annotations(&skip).is_err());
        let mut aux = word(u16::from(AUX), 5).to_vec();
        aux.extend(b"abcd");
        assert!(parse_mit_annotations(&aux).is_err());
        let mut backwards = word(u16::from(SKIP), 0).to_vec();
        backwards.extend([0xFF, 0xFF, 0xFF, 0xFF]);
        assert!(parse_mit_annotations(&backwards).is_err());
        assert_eq!(parse_mit_annotations(&[]).unwrap(), []);
    }
}
