//! The course's socket families (`AF_*`) and types (`SOCK_*`), as Python's `socket` names them.

use std::fmt;

use socket2::{Domain, Type};

/// An address family (`AF_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Family {
    /// `AF_INET`: IPv4.
    Inet,
    /// `AF_INET6`: IPv6.
    Inet6,
    /// `AF_UNIX`: sockets on this machine, named by a file or an abstract name.
    Unix,
}

impl Family {
    pub(crate) fn domain(self) -> Domain {
        match self {
            Family::Inet => Domain::IPV4,
            Family::Inet6 => Domain::IPV6,
            Family::Unix => Domain::UNIX,
        }
    }

    /// The C value (`AF_INET` is 2 on Linux).
    pub fn raw(self) -> i32 {
        self.domain().into()
    }

    /// The family of a C value, if it is one of these.
    pub fn from_raw(raw: i32) -> Option<Family> {
        [Family::Inet, Family::Inet6, Family::Unix]
            .into_iter()
            .find(|f| f.raw() == raw)
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::Inet => "AF_INET",
            Family::Inet6 => "AF_INET6",
            Family::Unix => "AF_UNIX",
        })
    }
}

/// A socket type (`SOCK_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SockType {
    /// `SOCK_STREAM`: a reliable byte stream (TCP, or a Unix stream).
    Stream,
    /// `SOCK_DGRAM`: datagrams (UDP, Unix datagrams, ICMP "ping" sockets).
    Dgram,
    /// `SOCK_RAW`: packets of one IP protocol, headers and all (needs `CAP_NET_RAW`).
    Raw,
    /// `SOCK_SEQPACKET`: a reliable connection of records (Unix; SCTP where loaded).
    Seqpacket,
    /// `SOCK_RDM`: reliably delivered messages. Only TIPC offers it, and netloop does not
    /// support TIPC: making one fails with `Unsupported`.
    Rdm,
}

impl SockType {
    pub(crate) fn ty(self) -> Type {
        match self {
            SockType::Stream => Type::STREAM,
            SockType::Dgram => Type::DGRAM,
            SockType::Raw => Type::RAW,
            SockType::Seqpacket => Type::SEQPACKET,
            SockType::Rdm => Type::from(crate::sys::SOCK_RDM),
        }
    }

    /// The C value (`SOCK_STREAM` is 1).
    pub fn raw(self) -> i32 {
        self.ty().into()
    }

    /// The type of a C value, if it is one of these.
    pub fn from_raw(raw: i32) -> Option<SockType> {
        use SockType::*;
        [Stream, Dgram, Raw, Seqpacket, Rdm]
            .into_iter()
            .find(|t| t.raw() == raw)
    }
}

impl fmt::Display for SockType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SockType::Stream => "SOCK_STREAM",
            SockType::Dgram => "SOCK_DGRAM",
            SockType::Raw => "SOCK_RAW",
            SockType::Seqpacket => "SOCK_SEQPACKET",
            SockType::Rdm => "SOCK_RDM",
        })
    }
}
