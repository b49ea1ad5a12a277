//! [`PeerAddr`]: the address of a peer (or of a local socket) of either family, as handlers
//! see it.

use std::fmt;
use std::io;
use std::net::SocketAddr;

/// The address of a stream peer (or of a local socket): IP and port, or a Unix socket address.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum PeerAddr {
    /// An IPv4 or IPv6 address and port.
    Inet(SocketAddr),
    /// A Unix socket address (usually unnamed for a connecting client).
    Unix(std::os::unix::net::SocketAddr),
}

impl PeerAddr {
    /// The IP address and port, if this is one.
    pub fn inet(&self) -> Option<SocketAddr> {
        match self {
            PeerAddr::Inet(a) => Some(*a),
            PeerAddr::Unix(_) => None,
        }
    }
}

impl From<&PeerAddr> for PeerAddr {
    fn from(a: &PeerAddr) -> PeerAddr {
        a.clone()
    }
}

impl From<&SocketAddr> for PeerAddr {
    fn from(a: &SocketAddr) -> PeerAddr {
        PeerAddr::Inet(*a)
    }
}

impl From<SocketAddr> for PeerAddr {
    fn from(a: SocketAddr) -> PeerAddr {
        PeerAddr::Inet(a)
    }
}

impl fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerAddr::Inet(a) => write!(f, "{a}"),
            PeerAddr::Unix(a) => {
                use std::os::linux::net::SocketAddrExt;
                if let Some(p) = a.as_pathname() {
                    write!(f, "unix:{}", p.display())
                } else if let Some(name) = a.as_abstract_name() {
                    write!(f, "unix:@{}", name.escape_ascii())
                } else {
                    f.write_str("unix:(unnamed)")
                }
            }
        }
    }
}

/// A socket2 Unix address as the standard library's, never failing: a path name or an
/// abstract name converts when std accepts it; anything else (unnamed, or a 108-byte path without its
/// terminating NUL, which Linux allows but std refuses) becomes a copy of one unnamed address
/// made once (std has no constructor for it). An address is only reported, so a peer with an
/// odd one must not fail (let alone panic) an accept.
pub(crate) fn unix_addr(a: socket2::SockAddr) -> io::Result<PeerAddr> {
    use std::sync::OnceLock;
    static UNNAMED: OnceLock<std::os::unix::net::SocketAddr> = OnceLock::new();
    if let Some(path) = a.as_pathname() {
        if let Ok(named) = std::os::unix::net::SocketAddr::from_pathname(path) {
            return Ok(PeerAddr::Unix(named));
        }
    }
    if let Some(name) = a.as_abstract_namespace() {
        use std::os::linux::net::SocketAddrExt;
        if let Ok(named) = std::os::unix::net::SocketAddr::from_abstract_name(name) {
            return Ok(PeerAddr::Unix(named));
        }
    }
    if let Some(u) = UNNAMED.get() {
        return Ok(PeerAddr::Unix(u.clone()));
    }
    let u = std::os::unix::net::UnixDatagram::unbound()?.local_addr()?;
    Ok(PeerAddr::Unix(UNNAMED.get_or_init(|| u).clone()))
}
