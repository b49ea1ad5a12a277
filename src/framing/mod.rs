//! Framing: where one message ends and the next begins, in a TCP byte stream.
//!
//! TCP delivers bytes, not messages: "Hi!" and "Hope you're well" may arrive as one read or as
//! five. An application marks message boundaries itself, most often by putting each message's
//! length in a header. This module is that layer, and nothing else: **bytes in, frames out**,
//! no I/O, no clock, no allocation while decoding.
//!
//! # Formats
//!
//! * [`Format::Length`]: a length field ([`LengthField`]) of 1, 2, 3, 4 or 8 bytes, big or
//!   little endian, at any offset into the header, with a signed adjustment and a number of
//!   header bytes to strip, as tokio-util's `LengthDelimitedCodec` and Netty's
//!   `LengthFieldBasedFrameDecoder` allow. The default is netloop's wire format: a 4-byte
//!   big-endian length of the payload alone, then the payload, at most 8 MiB in all.
//! * [`Format::Varint`]: an unsigned LEB128 length (as protobuf's delimited streams use), then
//!   the payload.
//! * [`Format::Lines`]: text lines ended by `\n`, `\r\n`, or `\n` with an optional `\r`.
//!
//! # How data flows
//!
//! The reactor reads into a connection's buffer; the handler passes the unconsumed bytes to
//! [`Decoder::decode`], which looks at them without copying and answers with one
//! [`Decoded`] step: a frame as a **range into the input** (plus how many bytes the frame took,
//! header included), "incomplete" (keep the bytes, call again when more arrive), or, under the
//! discard policy, "skipped" (an oversize frame starts here: report it) and "discarded" (the
//! end of that frame went by). The caller consumes what the step says and calls again with the
//! rest. Partial frames stay where they are in the read
//! buffer; nothing is copied until the caller decides to.
//!
//! # The maximum frame length, precisely
//!
//! [`LengthField::max_frame`] and the varint `max_frame` bound the **whole frame as it sits on
//! the wire**: header (including any bytes before the length field) plus the adjusted length.
//! With the default format a frame of `max_frame` bytes carries `max_frame - 4` payload bytes.
//! (tokio-util compares the raw length field with its maximum instead, which counts the header
//! or not depending on the adjustment: a known source of confusion.) The check happens as soon
//! as the header is complete, before any payload byte is buffered, so a peer announcing a
//! 4 GiB frame is refused after 4 bytes. For lines, [`Format::Lines`]'s `max_line` bounds the
//! line without its terminator, and a line is known to be too long once `max_line` bytes plus
//! the terminator's length have arrived without a terminator among them.
//!
//! # Too long: fail or discard
//!
//! [`OnTooLong::Fail`] (the default) makes the error final: the decoder returns it now and
//! from then on, and the connection should be closed. [`OnTooLong::Discard`] reports the
//! error once ([`Decoded::Skipped`]), then skips exactly that frame's bytes as they arrive
//! (or, for lines, everything up to the next terminator) without buffering them, and carries
//! on with the next frame, as Netty's discard mode does. Errors that leave the frame's extent
//! unknown (a negative adjusted length, a malformed varint) are always final.
//!
//! # The key property
//!
//! Decoding the same bytes delivered in any chunking gives the same frames and the same error
//! at the same point: every decision depends only on bytes of the stream, never on how much
//! has arrived. The tests check this with proptest and the `decode_chunks` fuzz target checks
//! it with libFuzzer (see [`check`](crate::check)).
//!
//! # Example
//!
//! ```
//! use netloop::framing::{Codec, Decoded};
//!
//! let codec = Codec::default(); // 4-byte big-endian length, then the payload
//! let mut wire = Vec::new();
//! codec.encode_to_vec(b"Hi!", &mut wire).unwrap();
//! codec.encode_to_vec(b"Hope you're well", &mut wire).unwrap();
//!
//! let mut decoder = codec.decoder().unwrap();
//! let mut input = &wire[..];
//! let mut frames = Vec::new();
//! while let Decoded::Frame { frame, consumed } = decoder.decode(input).unwrap() {
//!     frames.push(&input[frame]);
//!     input = &input[consumed..];
//! }
//! assert_eq!(frames, [&b"Hi!"[..], b"Hope you're well"]);
//! ```

mod decode;
mod encode;

use std::fmt;

pub use decode::{Decoded, Decoder};
pub use encode::{Envelope, MAX_HEADER};

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
    fn max_len(self) -> usize {
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

    /// A decoder for one stream.
    ///
    /// # Errors
    ///
    /// As for [`validate`](Codec::validate).
    pub fn decoder(&self) -> Result<Decoder, ConfigError> {
        self.validate()?;
        Ok(Decoder::new_unchecked(*self))
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

/// A frame could not be decoded. Each variant says what was wrong, with the numbers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FrameError {
    /// The frame's header announces more bytes than the maximum (counted on the wire: header
    /// plus adjusted length).
    TooLong {
        /// The frame's length on the wire (saturated at `u64::MAX`).
        len: u64,
        /// The maximum.
        max: usize,
    },
    /// The length field plus the adjustment is below zero.
    NegativeLength {
        /// The length field's value.
        field: u64,
        /// The configured adjustment.
        adjustment: i64,
    },
    /// More bytes are to be stripped than the frame has.
    StripExceedsFrame {
        /// Bytes to strip.
        strip: usize,
        /// The frame's length on the wire.
        len: u64,
    },
    /// A varint length with a continuation bit on its 10th byte: longer than any `u64` needs.
    VarintTooLong,
    /// A 10-byte varint whose value does not fit in 64 bits.
    VarintOverflow,
    /// A line longer than the maximum (without its terminator).
    LineTooLong {
        /// The maximum.
        max: usize,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLong { len, max } => {
                write!(f, "frame of {len} bytes exceeds the maximum of {max} bytes")
            }
            FrameError::NegativeLength { field, adjustment } => write!(
                f,
                "length field {field} with adjustment {adjustment} gives a negative length"
            ),
            FrameError::StripExceedsFrame { strip, len } => {
                write!(f, "cannot strip {strip} bytes from a frame of {len} bytes")
            }
            FrameError::VarintTooLong => f.write_str("varint length longer than 10 bytes"),
            FrameError::VarintOverflow => f.write_str("varint length overflows 64 bits"),
            FrameError::LineTooLong { max } => {
                write!(f, "line longer than the maximum of {max} bytes")
            }
        }
    }
}

impl std::error::Error for FrameError {}

/// A frame could not be encoded.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EncodeError {
    /// The frame would exceed the codec's maximum (on the wire).
    TooLong {
        /// The frame's length on the wire.
        len: u64,
        /// The maximum.
        max: usize,
    },
    /// The length does not fit in the length field.
    FieldOverflow {
        /// The value the field would need to hold.
        value: u64,
        /// The field's width in bytes.
        width: usize,
    },
    /// The payload is shorter than the adjustment requires (the field would be negative).
    NegativeLength {
        /// The payload's length.
        len: usize,
        /// The configured adjustment.
        adjustment: i64,
    },
    /// The header (offset plus length field) is longer than [`Envelope`] holds.
    HeaderTooLarge {
        /// The header's length.
        len: usize,
    },
    /// A line to send contains its own terminator.
    LineContainsTerminator,
    /// The frame would be shorter than the bytes the decoder strips, so it could not be
    /// decoded.
    ShorterThanStrip {
        /// Bytes stripped.
        strip: usize,
        /// The frame's length on the wire.
        len: usize,
    },
    /// The codec's configuration is invalid.
    Config(ConfigError),
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::TooLong { len, max } => {
                write!(f, "frame of {len} bytes exceeds the maximum of {max} bytes")
            }
            EncodeError::FieldOverflow { value, width } => {
                write!(f, "length {value} does not fit in a {width}-byte field")
            }
            EncodeError::NegativeLength { len, adjustment } => write!(
                f,
                "a {len}-byte payload with adjustment {adjustment} needs a negative length field"
            ),
            EncodeError::HeaderTooLarge { len } => {
                write!(f, "a {len}-byte header is too large to encode")
            }
            EncodeError::LineContainsTerminator => f.write_str("line contains its terminator"),
            EncodeError::ShorterThanStrip { strip, len } => write!(
                f,
                "a {len}-byte frame is shorter than the {strip} bytes the decoder strips"
            ),
            EncodeError::Config(e) => write!(f, "invalid codec: {e}"),
        }
    }
}

impl std::error::Error for EncodeError {}

/// A codec configuration that cannot work.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigError {
    /// Length field width other than 1, 2, 3, 4 or 8.
    Width(usize),
    /// The header alone is longer than the maximum frame.
    HeaderExceedsMax {
        /// Offset plus width.
        header: usize,
        /// The maximum frame.
        max: usize,
    },
    /// A maximum frame of 0 bytes.
    ZeroMax,
    /// More bytes to strip than any frame may have.
    StripExceedsMax {
        /// Bytes to strip.
        strip: usize,
        /// The maximum frame.
        max: usize,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Width(w) => {
                write!(f, "length field width {w} is not 1, 2, 3, 4 or 8 bytes")
            }
            ConfigError::HeaderExceedsMax { header, max } => write!(
                f,
                "a {header}-byte header cannot fit in a maximum frame of {max} bytes"
            ),
            ConfigError::ZeroMax => f.write_str("the maximum frame length must be > 0"),
            ConfigError::StripExceedsMax { strip, max } => write!(
                f,
                "cannot strip {strip} bytes from frames of at most {max} bytes"
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod fast_tests;
#[cfg(test)]
mod tests;
