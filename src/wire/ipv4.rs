//! [`Ipv4Packet`]: a checked view of an IPv4 header and its payload.

use std::net::Ipv4Addr;

use super::checksum::checksum;
use super::error::WireError;

/// Byte offsets of the IPv4 header's fields (RFC 791).
mod field {
    use std::ops::Range;
    pub const VER_IHL: usize = 0;
    pub const TOTAL_LEN: Range<usize> = 2..4;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Range<usize> = 10..12;
    pub const SRC: Range<usize> = 12..16;
    pub const DST: Range<usize> = 16..20;
    /// The smallest header.
    pub const MIN_HEADER: usize = 20;
}

/// An IPv4 packet in a buffer. See the [module docs](super) for the checked-view promise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Packet<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// A view without checks: for a buffer the caller built. Accessors may panic if it is
    /// not a valid packet; use [`new_checked`](Ipv4Packet::new_checked) for received bytes.
    pub fn new_unchecked(buf: T) -> Ipv4Packet<T> {
        Ipv4Packet { buf }
    }

    /// A view of `buf`, checked with [`check_len`](Ipv4Packet::check_len).
    ///
    /// # Errors
    ///
    /// As for `check_len`.
    pub fn new_checked(buf: T) -> Result<Ipv4Packet<T>, WireError> {
        let p = Ipv4Packet::new_unchecked(buf);
        p.check_len()?;
        Ok(p)
    }

    /// Check that the buffer holds a whole IPv4 packet: version 4, a header of at least 20
    /// bytes, and as many bytes as the total length says (more are allowed and ignored).
    /// After this succeeds, no accessor panics.
    ///
    /// # Errors
    ///
    /// [`WireError::Truncated`], [`WireError::NotIpv4`], [`WireError::BadHeaderLength`] or
    /// [`WireError::BadTotalLength`].
    pub fn check_len(&self) -> Result<(), WireError> {
        let b = self.buf.as_ref();
        if b.len() < field::MIN_HEADER {
            return Err(WireError::Truncated {
                need: field::MIN_HEADER,
                have: b.len(),
            });
        }
        let version = b[field::VER_IHL] >> 4;
        if version != 4 {
            return Err(WireError::NotIpv4 { version });
        }
        let header = usize::from(b[field::VER_IHL] & 0x0f) * 4;
        if header < field::MIN_HEADER {
            return Err(WireError::BadHeaderLength { len: header });
        }
        let total = usize::from(u16::from_be_bytes([b[2], b[3]]));
        if total < header {
            return Err(WireError::BadTotalLength { total, header });
        }
        if b.len() < total {
            return Err(WireError::Truncated {
                need: total,
                have: b.len(),
            });
        }
        Ok(())
    }

    /// The header's length in bytes (20 to 60).
    pub fn header_len(&self) -> usize {
        usize::from(self.buf.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    /// The total length: header and payload.
    pub fn total_len(&self) -> usize {
        let b = &self.buf.as_ref()[field::TOTAL_LEN];
        usize::from(u16::from_be_bytes([b[0], b[1]]))
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.buf.as_ref()[field::TTL]
    }

    /// The protocol of the payload (1: ICMP).
    pub fn protocol(&self) -> u8 {
        self.buf.as_ref()[field::PROTOCOL]
    }

    /// The header checksum field.
    pub fn checksum_field(&self) -> u16 {
        let b = &self.buf.as_ref()[field::CHECKSUM];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Does the header checksum verify?
    pub fn verify_checksum(&self) -> bool {
        checksum(&self.buf.as_ref()[..self.header_len()]) == 0
    }

    /// The source address.
    pub fn src(&self) -> Ipv4Addr {
        let b = &self.buf.as_ref()[field::SRC];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }

    /// The destination address.
    pub fn dst(&self) -> Ipv4Addr {
        let b = &self.buf.as_ref()[field::DST];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }

    /// The payload (what the total length covers after the header).
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[self.header_len()..self.total_len()]
    }
}
