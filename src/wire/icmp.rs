//! [`IcmpEcho`]: a checked view of an ICMPv4 or ICMPv6 echo request or reply (RFC 792,
//! RFC 4443): type, code, checksum, identifier, sequence number, data.

use super::checksum::checksum;
use super::error::WireError;

/// Byte offsets of an echo message's fields.
mod field {
    use std::ops::Range;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    pub const IDENT: Range<usize> = 4..6;
    pub const SEQ: Range<usize> = 6..8;
    /// The echo header's length; the data follows.
    pub const HEADER: usize = 8;
}

/// Which ICMP: the echo types differ (8/0 for ICMPv4, 128/129 for ICMPv6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IcmpVersion {
    /// ICMP for IPv4.
    V4,
    /// ICMPv6.
    V6,
}

impl IcmpVersion {
    /// The echo request's type.
    pub fn request(self) -> u8 {
        match self {
            IcmpVersion::V4 => 8,
            IcmpVersion::V6 => 128,
        }
    }

    /// The echo reply's type.
    pub fn reply(self) -> u8 {
        match self {
            IcmpVersion::V4 => 0,
            IcmpVersion::V6 => 129,
        }
    }
}

/// An ICMP echo request or reply in a buffer. See the [module docs](super) for the
/// checked-view promise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcmpEcho<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> IcmpEcho<T> {
    /// A view without checks (for a buffer the caller built).
    pub fn new_unchecked(buf: T) -> IcmpEcho<T> {
        IcmpEcho { buf }
    }

    /// A view of `buf` checked with [`check`](IcmpEcho::check) for `version`.
    ///
    /// # Errors
    ///
    /// As for `check`.
    pub fn new_checked(buf: T, version: IcmpVersion) -> Result<IcmpEcho<T>, WireError> {
        let p = IcmpEcho::new_unchecked(buf);
        p.check(version)?;
        Ok(p)
    }

    /// Check that the buffer holds an echo request or reply of `version`: at least the 8-byte
    /// header, and an echo type. After this succeeds, no accessor panics.
    ///
    /// # Errors
    ///
    /// [`WireError::Truncated`] or [`WireError::NotEcho`] (another ICMP message, such as a
    /// destination-unreachable, which a ping must skip).
    pub fn check(&self, version: IcmpVersion) -> Result<(), WireError> {
        let b = self.buf.as_ref();
        if b.len() < field::HEADER {
            return Err(WireError::Truncated {
                need: field::HEADER,
                have: b.len(),
            });
        }
        let kind = b[field::TYPE];
        if kind != version.request() && kind != version.reply() {
            return Err(WireError::NotEcho { kind });
        }
        Ok(())
    }

    /// The type field.
    pub fn kind(&self) -> u8 {
        self.buf.as_ref()[field::TYPE]
    }

    /// Is this a reply (as opposed to a request) of `version`?
    pub fn is_reply(&self, version: IcmpVersion) -> bool {
        self.kind() == version.reply()
    }

    /// The code field (0 for echo messages).
    pub fn code(&self) -> u8 {
        self.buf.as_ref()[field::CODE]
    }

    /// The checksum field.
    pub fn checksum_field(&self) -> u16 {
        let b = &self.buf.as_ref()[field::CHECKSUM];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Does the checksum verify? (ICMPv4 only: an ICMPv6 checksum covers a pseudo-header,
    /// and the kernel checks it for a raw ICMPv6 socket.)
    pub fn verify_checksum(&self) -> bool {
        checksum(self.buf.as_ref()) == 0
    }

    /// The identifier (a ping uses it to tell its replies from other processes').
    pub fn ident(&self) -> u16 {
        let b = &self.buf.as_ref()[field::IDENT];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// The sequence number.
    pub fn seq(&self) -> u16 {
        let b = &self.buf.as_ref()[field::SEQ];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// The data after the header.
    pub fn data(&self) -> &[u8] {
        &self.buf.as_ref()[field::HEADER..]
    }
}

impl IcmpEcho<Vec<u8>> {
    /// Build an echo request of `version` with `ident`, `seq` and `data`. For ICMPv4 the
    /// checksum is computed; for ICMPv6 it is left 0, for the kernel to fill (see the
    /// [module docs](super)).
    pub fn request(version: IcmpVersion, ident: u16, seq: u16, data: &[u8]) -> IcmpEcho<Vec<u8>> {
        let mut buf = Vec::with_capacity(field::HEADER + data.len());
        buf.extend_from_slice(&[version.request(), 0, 0, 0]);
        buf.extend_from_slice(&ident.to_be_bytes());
        buf.extend_from_slice(&seq.to_be_bytes());
        buf.extend_from_slice(data);
        if version == IcmpVersion::V4 {
            let sum = checksum(&buf);
            buf[field::CHECKSUM].copy_from_slice(&sum.to_be_bytes());
        }
        IcmpEcho { buf }
    }

    /// The message's bytes.
    pub fn into_inner(self) -> Vec<u8> {
        self.buf
    }
}
