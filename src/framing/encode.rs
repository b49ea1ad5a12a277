//! Encoding: the bytes that go around a payload.
//!
//! Encoding never touches the payload: [`Codec::envelope`] computes the header (and, for
//! lines, the terminator) on the stack, and the caller queues header, payload and trailer as
//! separate pieces, so that the reactor sends them with one vectored write and a large payload
//! is never copied.

use super::decode::MAX_VARINT_LEN;
use super::{Codec, EncodeError, Endian, Format, LineEnding};

/// Most header bytes an [`Envelope`] holds (offset plus length field).
pub const MAX_HEADER: usize = 32;

/// The bytes before and after one payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Envelope {
    prefix: [u8; MAX_HEADER],
    prefix_len: u8,
    suffix: [u8; 2],
    suffix_len: u8,
}

impl Envelope {
    /// The header: goes before the payload.
    pub fn prefix(&self) -> &[u8] {
        &self.prefix[..self.prefix_len as usize]
    }

    /// The trailer (a line terminator; empty for length-prefixed formats): goes after it.
    pub fn suffix(&self) -> &[u8] {
        &self.suffix[..self.suffix_len as usize]
    }

    fn new() -> Envelope {
        Envelope {
            prefix: [0; MAX_HEADER],
            prefix_len: 0,
            suffix: [0; 2],
            suffix_len: 0,
        }
    }
}

/// The envelope for netloop's own format (a 4-byte big-endian body length at the start, no
/// adjustment): the same answers as the general path, in fewer steps (no 128-bit arithmetic,
/// no byte-by-byte field). The codec is valid, so `4 <= max_frame` and `strip <= max_frame`.
#[inline]
pub(super) fn be32_envelope(
    max_frame: usize,
    strip: usize,
    len: usize,
) -> Result<Envelope, EncodeError> {
    let total = 4u64.saturating_add(len as u64);
    if total > max_frame as u64 {
        return Err(EncodeError::TooLong {
            len: total,
            max: max_frame,
        });
    }
    // total <= max_frame, a usize.
    let total = total as usize;
    let Ok(field) = u32::try_from(len) else {
        return Err(EncodeError::FieldOverflow {
            value: len as u64,
            width: 4,
        });
    };
    if total < strip {
        return Err(EncodeError::ShorterThanStrip { strip, len: total });
    }
    let mut env = Envelope::new();
    env.prefix[..4].copy_from_slice(&field.to_be_bytes());
    env.prefix_len = 4;
    Ok(env)
}

impl Codec {
    /// The header and trailer for a payload.
    ///
    /// For a length field, bytes before the field (`offset`) are written as zeros, and the
    /// field holds `payload.len() - adjustment`, so that decoding gives back the frame minus
    /// its first `strip` bytes: with the default format, exactly the payload. A line must not
    /// contain its terminator.
    ///
    /// # Errors
    ///
    /// An [`EncodeError`] if the codec is invalid, the frame would exceed the maximum or be
    /// shorter than what the decoder strips, the length does not fit the field, the
    /// adjustment would make the field negative, the header is over [`MAX_HEADER`] bytes, or
    /// a line contains its terminator.
    pub fn envelope(&self, payload: &[u8]) -> Result<Envelope, EncodeError> {
        // The fields are public: a hand-made codec is checked here, not trusted.
        self.validate().map_err(EncodeError::Config)?;
        if let Format::Length(f) = &self.format {
            if f.is_plain_be32() {
                return be32_envelope(f.max_frame, f.strip, payload.len());
            }
        }
        self.envelope_general(payload)
    }

    /// [`envelope`](Codec::envelope) for any valid codec, without the fast path.
    fn envelope_general(&self, payload: &[u8]) -> Result<Envelope, EncodeError> {
        let mut env = Envelope::new();
        match self.format {
            Format::Length(f) => {
                let header = f.header_len();
                if header > MAX_HEADER {
                    return Err(EncodeError::HeaderTooLarge { len: header });
                }
                let total = header as u128 + payload.len() as u128;
                if total > f.max_frame as u128 {
                    return Err(EncodeError::TooLong {
                        len: total as u64,
                        max: f.max_frame,
                    });
                }
                let value = payload.len() as i128 - i128::from(f.adjustment);
                if value < 0 {
                    return Err(EncodeError::NegativeLength {
                        len: payload.len(),
                        adjustment: f.adjustment,
                    });
                }
                let fits = f.width >= 8 || value < 1i128 << (8 * f.width);
                if !fits || value > i128::from(u64::MAX) {
                    return Err(EncodeError::FieldOverflow {
                        value: u64::try_from(value).unwrap_or(u64::MAX),
                        width: f.width,
                    });
                }
                if header + payload.len() < f.strip {
                    return Err(EncodeError::ShorterThanStrip {
                        strip: f.strip,
                        len: header + payload.len(),
                    });
                }
                let value = value as u64;
                let field = &mut env.prefix[f.offset..header];
                let be = value.to_be_bytes();
                field.copy_from_slice(&be[8 - f.width..]);
                if f.endian == Endian::Little {
                    field.reverse();
                }
                env.prefix_len = header as u8;
            }
            Format::Varint { max_frame } => {
                let mut v = payload.len() as u64;
                let mut n = 0;
                loop {
                    let byte = (v & 0x7f) as u8;
                    v >>= 7;
                    if v == 0 {
                        env.prefix[n] = byte;
                        n += 1;
                        break;
                    }
                    env.prefix[n] = byte | 0x80;
                    n += 1;
                }
                debug_assert!(n <= MAX_VARINT_LEN);
                let total = n as u128 + payload.len() as u128;
                if total > max_frame as u128 {
                    return Err(EncodeError::TooLong {
                        len: total as u64,
                        max: max_frame,
                    });
                }
                env.prefix_len = n as u8;
            }
            Format::Lines { ending, max_line } => {
                if payload.len() > max_line {
                    return Err(EncodeError::TooLong {
                        len: payload.len() as u64,
                        max: max_line,
                    });
                }
                let bad = match ending {
                    LineEnding::Lf | LineEnding::Any => payload.contains(&b'\n'),
                    LineEnding::CrLf => payload.windows(2).any(|w| w == b"\r\n"),
                };
                if bad {
                    return Err(EncodeError::LineContainsTerminator);
                }
                let term: &[u8] = match ending {
                    LineEnding::Lf => b"\n",
                    // "\r\n" also keeps a payload that ends in '\r' intact for `Any`.
                    LineEnding::CrLf | LineEnding::Any => b"\r\n",
                };
                env.suffix[..term.len()].copy_from_slice(term);
                env.suffix_len = term.len() as u8;
            }
        }
        Ok(env)
    }

    /// The general path alone, so that tests can hold the fast path to it.
    #[cfg(test)]
    pub(crate) fn envelope_slow(&self, payload: &[u8]) -> Result<Envelope, EncodeError> {
        self.validate().map_err(EncodeError::Config)?;
        self.envelope_general(payload)
    }

    /// Append one whole encoded frame (header, payload, trailer) to `out`: for clients and
    /// tests; a reactor handler queues the pieces instead.
    ///
    /// # Errors
    ///
    /// As for [`envelope`](Codec::envelope); `out` is unchanged on error.
    pub fn encode_to_vec(&self, payload: &[u8], out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let env = self.envelope(payload)?;
        out.extend_from_slice(env.prefix());
        out.extend_from_slice(payload);
        out.extend_from_slice(env.suffix());
        Ok(())
    }
}
