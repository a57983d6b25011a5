//! Compact, bit-exact binary storage of one lead's samples.
//!
//! Layout: a version byte ([`CODEC_VERSION`]), the sample count as an unsigned LEB128 varint,
//! then one varint per sample holding the zigzag-encoded difference from the previous sample
//! (the first from 0). ECG signals move little between samples, so most differences fit one or
//! two bytes. Differences wrap around in 32 bits, which keeps every `i32` sequence exact,
//! including jumps between `i32::MIN` and `i32::MAX`. Varints must be canonical (no redundant
//! trailing zero groups), so each signal has exactly one encoding.

use thiserror::Error;

/// The layout version written first, so a later layout can be told apart from this one.
pub const CODEC_VERSION: u8 = 1;

/// Why stored bytes are not a signal of this codec.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CodecError {
    #[error("no data: the version byte is missing")]
    Empty,
    #[error("unsupported codec version {0}")]
    UnsupportedVersion(u8),
    #[error("data ends inside a value at byte {offset}")]
    Truncated { offset: usize },
    #[error("malformed varint at byte {offset}")]
    MalformedVarint { offset: usize },
    #[error("{declared} samples declared but only {available} bytes follow")]
    ImplausibleLength { declared: u64, available: usize },
    #[error("{count} unexpected bytes after the last sample")]
    TrailingBytes { count: usize },
}

/// Encodes a lead's samples; [`decode_signal`] gives them back unchanged.
pub fn encode_signal(signal: &[i32]) -> Vec<u8> {
    // One byte per sample covers a smooth ECG; the vector grows for noisier ones.
    let mut bytes = Vec::with_capacity(signal.len() + 11);
    bytes.push(CODEC_VERSION);
    write_varint(&mut bytes, signal.len() as u64);
    let mut previous = 0_i32;
    for &sample in signal {
        write_varint(&mut bytes, u64::from(zigzag(sample.wrapping_sub(previous))));
        previous = sample;
    }
    bytes
}

/// Decodes what [`encode_signal`] wrote, refusing truncated, padded or corrupted input.
pub fn decode_signal(bytes: &[u8]) -> Result<Vec<i32>, CodecError> {
    let (&version, _) = bytes.split_first().ok_or(CodecError::Empty)?;
    if version != CODEC_VERSION {
        return Err(CodecError::UnsupportedVersion(version));
    }
    let mut reader = Reader { bytes, offset: 1 };
    let declared = reader.varint(64)?;
    let available = bytes.len() - reader.offset;
    // Each sample takes at least one byte, so a larger count is corrupt; checking first also
    // keeps a forged count from reserving gigabytes.
    let count = usize::try_from(declared)
        .ok()
        .filter(|&count| count <= available)
        .ok_or(CodecError::ImplausibleLength {
            declared,
            available,
        })?;
    let mut signal = Vec::with_capacity(count);
    let mut previous = 0_i32;
    for _ in 0..count {
        let delta = unzigzag(reader.delta()?);
        previous = previous.wrapping_add(delta);
        signal.push(previous);
    }
    match bytes.len() - reader.offset {
        0 => Ok(signal),
        count => Err(CodecError::TrailingBytes { count }),
    }
}

fn zigzag(value: i32) -> u32 {
    ((value << 1) ^ (value >> 31)) as u32
}

fn unzigzag(value: u32) -> i32 {
    ((value >> 1) as i32) ^ -((value & 1) as i32)
}

fn write_varint(bytes: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        bytes.push((value as u8) | 0x80);
        value >>= 7;
    }
    bytes.push(value as u8);
}

struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl Reader<'_> {
    /// Reads one zigzagged difference; most fit one byte, which skips the general loop.
    #[inline]
    fn delta(&mut self) -> Result<u32, CodecError> {
        match self.bytes.get(self.offset) {
            Some(&byte) if byte < 0x80 => {
                self.offset += 1;
                Ok(u32::from(byte))
            }
            _ => self.varint(32).map(|value| value as u32),
        }
    }

    /// Reads an unsigned LEB128 varint of at most `bits` significant bits.
    fn varint(&mut self, bits: u32) -> Result<u64, CodecError> {
        let start = self.offset;
        let mut value = 0_u64;
        let mut shift = 0;
        loop {
            let byte = *self
                .bytes
                .get(self.offset)
                .ok_or(CodecError::Truncated { offset: start })?;
            self.offset += 1;
            let payload = u64::from(byte & 0x7F);
            // Bits beyond `bits`, and a zero final group after the first, are never written.
            let fits = shift < bits && (bits - shift >= 7 || payload >> (bits - shift) == 0);
            let canonical = byte & 0x80 != 0 || payload != 0 || shift == 0;
            if !fits || !canonical {
                return Err(CodecError::MalformedVarint { offset: start });
            }
            value |= payload << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
            shift += 7;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny linear congruential generator (Knuth's MMIX constants) for repeatable random tests.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            self.0 >> 16
        }

        fn below(&mut self, bound: u64) -> u64 {
            self.next() % bound
        }
    }

    fn round_trip(signal: &[i32]) -> Vec<u8> {
        let bytes = encode_signal(signal);
        assert_eq!(decode_signal(&bytes).as_deref(), Ok(signal));
        bytes
    }

    #[test]
    fn zigzag_maps_small_magnitudes_to_small_codes() {
        assert_eq!(zigzag(0), 0);
        assert_eq!(zigzag(-1), 1);
        assert_eq!(zigzag(1), 2);
        assert_eq!(zigzag(i32::MAX), u32::MAX - 1);
        assert_eq!(zigzag(i32::MIN), u32::MAX);
        for value in [0, 1, -1, 63, -64, i32::MAX, i32::MIN] {
            assert_eq!(unzigzag(zigzag(value)), value);
        }
    }

    #[test]
    fn empty_and_tiny_signals_round_trip() {
        assert_eq!(round_trip(&[]), [CODEC_VERSION, 0]);
        assert_eq!(round_trip(&[0]), [CODEC_VERSION, 1, 0]);
        assert_eq!(round_trip(&[-1, 1]), [CODEC_VERSION, 2, 1, 4]);
    }

    #[test]
    fn extremes_and_wrapping_deltas_round_trip() {
        round_trip(&[i32::MIN, i32::MAX, i32::MIN, 0, i32::MAX, -1, i32::MIN]);
        round_trip(&[i32::MAX; 10]);
        round_trip(&[i32::MIN; 10]);
        let bytes = round_trip(&[i32::MIN, i32::MAX]);
        // MIN - 0 and MAX - MIN = -1 (wrapped): a five-byte and a one-byte varint.
        assert_eq!(bytes.len(), 2 + 5 + 1);
    }

    #[test]
    fn random_signals_round_trip() {
        let mut lcg = Lcg(0x5EED);
        for _ in 0..300 {
            let len = lcg.below(400) as usize;
            let signal: Vec<i32> = match lcg.below(3) {
                0 => (0..len).map(|_| lcg.next() as u32 as i32).collect(),
                1 => (0..len).map(|_| lcg.below(64) as i32 - 32).collect(),
                _ => {
                    let mut value = lcg.next() as u32 as i32;
                    (0..len)
                        .map(|_| {
                            value = value.wrapping_add(lcg.below(2001) as i32 - 1000);
                            value
                        })
                        .collect()
                }
            };
            round_trip(&signal);
        }
    }

    #[test]
    fn a_smooth_ecg_takes_under_two_bytes_per_sample() {
        let signal: Vec<i32> = (0..10_000)
            .map(|i| (400.0 * (f64::from(i) * 0.05).sin()) as i32 + 1024)
            .collect();
        let bytes = round_trip(&signal);
        assert!(bytes.len() < signal.len() * 2, "{} bytes", bytes.len());
    }

    #[test]
    fn malformed_input_is_an_error() {
        assert_eq!(decode_signal(&[]), Err(CodecError::Empty));
        assert_eq!(
            decode_signal(&[2, 0]),
            Err(CodecError::UnsupportedVersion(2))
        );
        assert_eq!(
            decode_signal(&[CODEC_VERSION]),
            Err(CodecError::Truncated { offset: 1 })
        );
        assert_eq!(
            decode_signal(&[CODEC_VERSION, 2, 1]),
            Err(CodecError::ImplausibleLength {
                declared: 2,
                available: 1
            })
        );
        assert_eq!(
            decode_signal(&[CODEC_VERSION, 1, 0x80, 0x80]),
            Err(CodecError::Truncated { offset: 2 })
        );
        assert_eq!(
            decode_signal(&[CODEC_VERSION, 1, 0, 0]),
            Err(CodecError::TrailingBytes { count: 1 })
        );
        // A sixth group, and a fifth group with bits above 32, cannot come from an i32 delta.
        assert_eq!(
            decode_signal(&[CODEC_VERSION, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0x10]),
            Err(CodecError::MalformedVarint { offset: 2 })
        );
        assert_eq!(
            decode_signal(&[CODEC_VERSION, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]),
            Err(CodecError::MalformedVarint { offset: 2 })
        );
        // A redundant zero group would give a second encoding of the same signal.
        assert_eq!(
            decode_signal(&[CODEC_VERSION, 1, 0x81, 0x00]),
            Err(CodecError::MalformedVarint { offset: 2 })
        );
        assert_eq!(
            decode_signal(&[
                CODEC_VERSION,
                0xFF,
                0xFF,
                0xFF,
                0xFF,
                0xFF,
                0xFF,
                0xFF,
                0xFF,
                0xFF,
                0x01
            ]),
            Err(CodecError::ImplausibleLength {
                declared: u64::MAX,
                available: 0
            })
        );
    }

    #[test]
    fn random_and_mutated_bytes_never_panic() {
        let mut lcg = Lcg(42);
        let valid = encode_signal(&[1024, 1030, -5000, i32::MAX, i32::MIN, 7]);
        for _ in 0..20_000 {
            let mut bytes = if lcg.below(2) == 0 {
                valid.clone()
            } else {
                (0..lcg.below(24)).map(|_| lcg.next() as u8).collect()
            };
            if !bytes.is_empty() {
                let at = lcg.below(bytes.len() as u64) as usize;
                bytes[at] ^= 1 << lcg.below(8);
                bytes.truncate(lcg.below(bytes.len() as u64 + 1) as usize);
            }
            if let Ok(signal) = decode_signal(&bytes) {
                // Whatever decodes must be the one encoding of what it decodes to.
                assert_eq!(encode_signal(&signal), bytes);
            }
        }
    }
}
