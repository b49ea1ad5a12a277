//! The course's socket families and types, and what an address is for each.

use std::fmt;
use std::net::SocketAddr;

use socket2::{Domain, Type};

use crate::addr::UnixAddr;

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

/// Where a socket binds, connects or sends: an IP address and port, a host name and port
/// (looked up with `getaddrinfo` for the socket's family, as Python does with
/// `("localhost", 9999)`), or a Unix address.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Address {
    /// An IP address and port.
    Inet(SocketAddr),
    /// A host name (or numeric address) and port.
    Host(String, u16),
    /// A Unix socket file or abstract name.
    Unix(UnixAddr),
}

impl From<SocketAddr> for Address {
    fn from(a: SocketAddr) -> Address {
        Address::Inet(a)
    }
}

impl From<(&str, u16)> for Address {
    fn from((host, port): (&str, u16)) -> Address {
        Address::Host(host.to_string(), port)
    }
}

impl From<UnixAddr> for Address {
    fn from(a: UnixAddr) -> Address {
        Address::Unix(a)
    }
}

impl From<&std::path::Path> for Address {
    fn from(p: &std::path::Path) -> Address {
        Address::Unix(p.into())
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Inet(a) => write!(f, "{a}"),
            Address::Host(h, p) => write!(f, "{h}:{p}"),
            Address::Unix(u) => write!(f, "{u}"),
        }
    }
}
