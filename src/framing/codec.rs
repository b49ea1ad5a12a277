//! A [`Codec`]: what a frame looks like on the wire (a length field, a varint or a line
//! terminator, and the largest frame), checked once with [`Codec::validate`]; and encoding,
//! the bytes that go around a payload.
//!
//! Encoding never touches the payload: [`Codec::envelope`] computes the header (and, for
//! lines, the terminator) on the stack, and the caller queues header, payload and trailer as
//! separate pieces, so that the reactor sends them with one vectored write and a large payload
//! is never copied.

use super::error::{ConfigError, EncodeError};

/// Most bytes a varint length takes (a `u64` in 7-bit groups).
pub(super) const MAX_VARINT_LEN: usize = 10;

/// Byte order of a length field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endian {
    /// Most significant byte first (network byte order, `htonl`).
    Big,
    /// Least significant byte first.
    Little,
}

/// A length field in a frame header, and what the length means.
///
/// A frame on the wire is `offset` header bytes, the `width`-byte length field, then the
/// body. The field's value plus `adjustment` is the body's length, so the whole frame is
/// `offset + width + value + adjustment` bytes. The decoder delivers the frame minus its first
/// `strip` bytes.
///
/// | protocol | width | offset | adjustment | strip |
/// |---|---|---|---|---|
/// | netloop default: `u32` BE payload length, payload | 4 | 0 | 0 | 4 |
/// | same, but deliver the header too | 4 | 0 | 0 | 0 |
/// | length counts the header itself | 4 | 0 | -4 | 4 |
/// | 2-byte type, then `u16` length of the payload | 2 | 2 | 0 | 0 |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LengthField {
    /// Bytes in the length field: 1, 2, 3, 4 or 8.
    pub width: usize,
    /// Byte order of the field.
    pub endian: Endian,
    /// Header bytes before the length field.
    pub offset: usize,
    /// Added to the field's value to get the body's length (negative when the field counts
    /// header bytes too).
    pub adjustment: i64,
    /// Bytes removed from the front of each delivered frame.
    pub strip: usize,
    /// Longest frame accepted, counted on the wire: header plus adjusted length.
    pub max_frame: usize,
}

impl Default for LengthField {
    fn default() -> LengthField {
        LengthField {
            width: 4,
            endian: Endian::Big,
            offset: 0,
            adjustment: 0,
            strip: 4,
            max_frame: DEFAULT_MAX_FRAME,
        }
    }
}

impl LengthField {
    /// Bytes up to the end of the length field.
    pub fn header_len(&self) -> usize {
        self.offset + self.width
    }

    /// netloop's own shape: a 4-byte big-endian length at the start, counting the body, no
    /// adjustment (the decoder's and encoder's fast paths).
    pub(crate) fn is_plain_be32(&self) -> bool {
        self.width == 4 && self.offset == 0 && self.adjustment == 0 && self.endian == Endian::Big
    }
}

/// The default maximum frame: 8 MiB on the wire.
pub const DEFAULT_MAX_FRAME: usize = 8 * 1024 * 1024;

/// What ends a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LineEnding {
    /// `\n` only; a `\r` before it is part of the line.
    Lf,
    /// `\r\n` only; a lone `\n` is part of the line.
    CrLf,
    /// `\n`, with a `\r` just before it removed from the line (what most text protocols and
    /// tokio-util's `LinesCodec` accept). Encoding writes `\r\n`.
    Any,
}

impl LineEnding {
    /// The longest terminator this ending accepts.
    pub(super) fn max_len(self) -> usize {
        match self {
            LineEnding::Lf => 1,
            LineEnding::CrLf | LineEnding::Any => 2,
        }
    }
}

/// How frames are delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// A length field in a header.
    Length(LengthField),
    /// An unsigned LEB128 varint length of the payload, then the payload.
    Varint {
        /// Longest frame accepted: varint bytes plus payload.
        max_frame: usize,
    },
    /// Lines of text.
    Lines {
        /// What ends a line.
        ending: LineEnding,
        /// Longest line accepted, without its terminator.
        max_line: usize,
    },
}

/// What to do with a frame longer than the maximum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum OnTooLong {
    /// Fail: the error is final (close the connection). The default.
    #[default]
    Fail,
    /// Report the error once, skip the frame's bytes as they arrive, and carry on.
    Discard,
}

/// A framing: a [`Format`] and a policy for frames that are too long.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Codec {
    /// How frames are delimited.
    pub format: Format,
    /// What to do with a frame longer than the maximum.
    pub on_too_long: OnTooLong,
}

impl Default for Format {
    fn default() -> Format {
        Format::Length(LengthField::default())
    }
}

impl Codec {
    /// netloop's wire format (4-byte big-endian payload length, then the payload) with a
    /// maximum of `max_frame` bytes on the wire.
    pub fn length_prefixed(max_frame: usize) -> Codec {
        Codec {
            format: Format::Length(LengthField {
                max_frame,
                ..LengthField::default()
            }),
            on_too_long: OnTooLong::Fail,
        }
    }

    /// LEB128 varint length, then payload, at most `max_frame` bytes on the wire.
    pub fn varint(max_frame: usize) -> Codec {
        Codec {
            format: Format::Varint { max_frame },
            on_too_long: OnTooLong::Fail,
        }
    }

    /// Lines ended by `ending`, at most `max_line` bytes each without the terminator.
    pub fn lines(ending: LineEnding, max_line: usize) -> Codec {
        Codec {
            format: Format::Lines { ending, max_line },
            on_too_long: OnTooLong::Fail,
        }
    }

    /// The same codec with another too-long policy.
    pub fn with_policy(self, on_too_long: OnTooLong) -> Codec {
        Codec {
            on_too_long,
            ..self
        }
    }

    /// Check the configuration.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the bad setting: a width other than 1, 2, 3, 4 or 8, a header
    /// (offset plus width) that alone exceeds the maximum frame, or a maximum of 0.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self.format {
            Format::Length(f) => {
                if !matches!(f.width, 1 | 2 | 3 | 4 | 8) {
                    return Err(ConfigError::Width(f.width));
                }
                if f.strip > f.max_frame {
                    return Err(ConfigError::StripExceedsMax {
                        strip: f.strip,
                        max: f.max_frame,
                    });
                }
                match f.offset.checked_add(f.width) {
                    Some(h) if h <= f.max_frame => Ok(()),
                    _ => Err(ConfigError::HeaderExceedsMax {
                        header: f.offset.saturating_add(f.width),
                        max: f.max_frame,
                    }),
                }
            }
            Format::Varint { max_frame: 0 } => Err(ConfigError::ZeroMax),
            Format::Varint { .. } | Format::Lines { .. } => Ok(()),
        }
    }

    /// The longest frame this codec accepts, on the wire (for lines: the line plus its longest
    /// terminator). A connection's read buffer must be able to hold this much.
    pub fn max_frame(&self) -> usize {
        match self.format {
            Format::Length(f) => f.max_frame,
            Format::Varint { max_frame } => max_frame,
            Format::Lines { ending, max_line } => max_line.saturating_add(ending.max_len()),
        }
    }
}

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
