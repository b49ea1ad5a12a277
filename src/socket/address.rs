//! [`Address`]: where a blocking socket binds, connects or sends, written as Python writes it.

use std::fmt;
use std::net::SocketAddr;

use crate::addr::UnixAddr;

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
