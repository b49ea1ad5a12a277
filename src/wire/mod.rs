//! Checked views of packet headers: IPv4, and ICMPv4 / ICMPv6 echo messages; the Internet
//! checksum.
//!
//! The second pure module beside `framing`: bytes in, fields out, no I/O. It follows
//! smoltcp's `wire`: a view wraps a buffer (`T: AsRef<[u8]>`, or `AsMut` to write) and is made
//! with [`new_checked`](Ipv4Packet::new_checked), which validates the buffer once; **after
//! `check_len` succeeds, no accessor panics and none reads out of bounds**, whatever the
//! bytes. `new_unchecked` skips the check for buffers the caller built itself. Byte offsets
//! live in a private `field` module of each view, as ranges.
//!
//! What the kernel adds or strips: a raw IPv4 socket (`SOCK_RAW`, `IPPROTO_ICMP`) receives
//! the IPv4 header in front of the ICMP message, so a reader parses an [`Ipv4Packet`] first
//! and the [`IcmpEcho`] in its payload; it sends the ICMP message alone (the kernel writes the
//! IPv4 header). A raw IPv6 socket (`IPPROTO_ICMPV6`) neither receives nor sends the IPv6
//! header, and the kernel computes the ICMPv6 checksum itself, because it covers a
//! pseudo-header (source and destination addresses, length, next header) that only the kernel
//! knows for sure (RFC 4443 section 2.3; Linux sets `IPV6_CHECKSUM` for raw ICMPv6 sockets).
//! So an ICMPv6 message is built with a zero checksum and sent as is.

mod icmp;
mod ipv4;

pub use icmp::{IcmpEcho, IcmpVersion};
pub use ipv4::Ipv4Packet;

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

/// The Internet checksum (RFC 1071) of `data`: the ones' complement of the ones' complement
/// sum of its 16-bit big-endian words, an odd last byte padded with a zero byte. A buffer
/// that carries its own correct checksum sums to 0.
///
/// # Examples
///
/// ```
/// // RFC 1071, section 3: the sum of 00 01 f2 03 f4 f5 f6 f7 is ddf2, so the checksum is 220d.
/// assert_eq!(netloop::wire::checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), 0x220d);
/// ```
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        sum += u32::from(*last) << 8;
    }
    // Fold the carries back in (RFC 1071's end-around carry); twice is always enough for a
    // u32 that started below 2^16 * (data.len() / 2 + 1), but loop to be plain about it.
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests;
