//! [`WireError`]: why a buffer is not a valid packet, saying what failed.

use std::fmt;

/// Why a buffer is not a valid packet of the kind asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireError {
    /// The buffer is shorter than the packet needs.
    Truncated {
        /// Bytes needed.
        need: usize,
        /// Bytes there.
        have: usize,
    },
    /// An IPv4 header whose version field is not 4.
    NotIpv4 {
        /// The version field.
        version: u8,
    },
    /// An IPv4 header length below the minimum of 20 bytes.
    BadHeaderLength {
        /// The header length it gives, in bytes.
        len: usize,
    },
    /// An IPv4 total length shorter than its own header.
    BadTotalLength {
        /// The total length it gives.
        total: usize,
        /// Its header length.
        header: usize,
    },
    /// Not an echo request or reply of the expected ICMP version.
    NotEcho {
        /// The type field.
        kind: u8,
    },
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Truncated { need, have } => {
                write!(f, "packet truncated: {have} bytes, {need} needed")
            }
            WireError::NotIpv4 { version } => write!(f, "IP version {version}, not 4"),
            WireError::BadHeaderLength { len } => {
                write!(f, "IPv4 header length {len} is below 20 bytes")
            }
            WireError::BadTotalLength { total, header } => {
                write!(
                    f,
                    "IPv4 total length {total} is shorter than its {header}-byte header"
                )
            }
            WireError::NotEcho { kind } => write!(f, "ICMP type {kind} is not an echo message"),
        }
    }
}

impl std::error::Error for WireError {}
