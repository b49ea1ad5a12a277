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

mod checksum;
mod error;
mod icmp;
mod ipv4;

pub use checksum::checksum;
pub use error::WireError;
pub use icmp::{IcmpEcho, IcmpVersion};
pub use ipv4::Ipv4Packet;

#[cfg(test)]
mod tests;
