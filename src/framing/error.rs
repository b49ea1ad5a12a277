//! What can go wrong with frames: decoding ([`FrameError`]), encoding ([`EncodeError`]) and
//! a codec's settings ([`ConfigError`]). Each variant says what was wrong, with the numbers.

use std::fmt;

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
    /// The header (offset plus length field) is longer than [`Envelope`](super::Envelope) holds.
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
