//! Socket addresses as people write them: IP addresses with ports and scopes, as a
//! dual-stack socket reports them, and Unix addresses (files or abstract names).
//!
//! * [`parse_socket_addr`] reads `127.0.0.1:9999`, `[::1]:9999`, a link-local address with
//!   its scope (`[fe80::1%eth0]:9999` or `[fe80::1%2]:9999`: the interface by name or by
//!   index) and a service name in place of the port (`127.0.0.1:echo`). Display is the
//!   standard library's, which writes the scope as its index (`[fe80::1%2]:9999`).
//! * [`unmap`] turns the IPv4-mapped form a dual-stack IPv6 socket gives an IPv4 peer
//!   (`[::ffff:127.0.0.1]:5000`) back into the IPv4 address it stands for; the reactor applies
//!   it to every peer and local address it reports.
//! * [`UnixAddr`] is where a Unix socket binds or connects: a file, or a Linux abstract name
//!   (written `@name`), which is no file at all.
//! * [`Group`] is a multicast group and the interface to use it on, with joining, leaving
//!   and the sending interface; [`set_broadcast`], [`set_multicast_hops`] and
//!   [`set_multicast_loop`] set the other broadcast and multicast options
//!   (`addr/group.rs`), on any socket.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::path::{Path, PathBuf};

mod group;
mod kind;
mod peer;

pub use group::{set_broadcast, set_multicast_hops, set_multicast_loop, Group};
pub use kind::{Family, SockType};
pub(crate) use peer::unix_addr;
pub use peer::PeerAddr;

/// Where a Unix socket binds or connects: a path in the file system, or (Linux) a name in
/// the *abstract* namespace. An abstract name is not a file: nothing to remove afterwards,
/// no permissions (any process in the same network namespace may connect), and it goes
/// away with the last socket bound to it.
///
/// Paths convert with `From` (`&str`, `String`, `&Path`, `PathBuf`); abstract names are
/// made with [`UnixAddr::abstract_name`], or read with [`UnixAddr::parse`] from `@name`,
/// the notation of `ss` and systemd.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum UnixAddr {
    /// A socket file.
    Path(PathBuf),
    /// An abstract name (the bytes after the leading NUL of `sun_path`).
    Abstract(Vec<u8>),
}

impl UnixAddr {
    /// The abstract name `name` (any bytes, up to 107).
    pub fn abstract_name(name: impl Into<Vec<u8>>) -> UnixAddr {
        UnixAddr::Abstract(name.into())
    }

    /// `@name` as an abstract name, anything else as a path.
    pub fn parse(s: &str) -> UnixAddr {
        match s.strip_prefix('@') {
            Some(name) => UnixAddr::Abstract(name.as_bytes().to_vec()),
            None => UnixAddr::Path(PathBuf::from(s)),
        }
    }

    /// The path, for a socket file.
    pub fn as_path(&self) -> Option<&Path> {
        match self {
            UnixAddr::Path(p) => Some(p),
            UnixAddr::Abstract(_) => None,
        }
    }

    /// As socket2's address, for `bind` and `connect`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for an empty path or name, or one too long for `sun_path` (108 bytes).
    pub fn to_sockaddr(&self) -> io::Result<socket2::SockAddr> {
        // An empty path would autobind to a random abstract name; an empty name is legal
        // but nobody means it.
        let empty = match self {
            UnixAddr::Path(p) => p.as_os_str().is_empty(),
            UnixAddr::Abstract(n) => n.is_empty(),
        };
        if empty {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "an empty Unix socket address (give a path, or @name)",
            ));
        }
        match self {
            UnixAddr::Path(p) => socket2::SockAddr::unix(p),
            UnixAddr::Abstract(name) => {
                use std::os::unix::ffi::OsStrExt;
                // socket2 takes a path whose first byte is NUL as an abstract name.
                let mut raw = Vec::with_capacity(name.len() + 1);
                raw.push(0);
                raw.extend_from_slice(name);
                socket2::SockAddr::unix(std::ffi::OsStr::from_bytes(&raw))
            }
        }
    }
}

impl From<&str> for UnixAddr {
    fn from(p: &str) -> UnixAddr {
        UnixAddr::Path(p.into())
    }
}
impl From<String> for UnixAddr {
    fn from(p: String) -> UnixAddr {
        UnixAddr::Path(p.into())
    }
}
impl From<&Path> for UnixAddr {
    fn from(p: &Path) -> UnixAddr {
        UnixAddr::Path(p.into())
    }
}
impl From<PathBuf> for UnixAddr {
    fn from(p: PathBuf) -> UnixAddr {
        UnixAddr::Path(p)
    }
}
impl From<&PathBuf> for UnixAddr {
    fn from(p: &PathBuf) -> UnixAddr {
        UnixAddr::Path(p.clone())
    }
}
impl From<&UnixAddr> for UnixAddr {
    fn from(a: &UnixAddr) -> UnixAddr {
        a.clone()
    }
}

impl fmt::Display for UnixAddr {
    /// A path as it is; an abstract name as `@name`, with bytes that are not printable ASCII
    /// escaped (`\x00`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnixAddr::Path(p) => write!(f, "{}", p.display()),
            UnixAddr::Abstract(name) => write!(f, "@{}", name.escape_ascii()),
        }
    }
}

/// An IPv4-mapped IPv6 address (`[::ffff:a.b.c.d]:port`, how a dual-stack socket sees an
/// IPv4 peer) as the IPv4 address it stands for; any other address as it is. Sending to the
/// IPv4 form through the same dual-stack socket works (Linux maps it back), so a handler can
/// answer what it was shown.
pub fn unmap(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(v4.into(), v6.port()),
            None => addr,
        },
        SocketAddr::V4(_) => addr,
    }
}

/// Parse an IP address and port: `IPv4:PORT`, `[IPv6]:PORT`, `[IPv6%SCOPE]:PORT` where the
/// scope is an interface name or index (needed for link-local `fe80::/10` addresses), and a
/// service name from the services database instead of the port (`[::1]:http`).
///
/// # Errors
///
/// `InvalidInput` naming what is wrong: no port, an address that is not an IP address (host
/// names are not resolved here), an unknown service or interface.
pub fn parse_socket_addr(s: &str) -> io::Result<SocketAddr> {
    let invalid = |msg: String| io::Error::new(io::ErrorKind::InvalidInput, msg);
    let (host, port) = s.rsplit_once(':').ok_or_else(|| {
        invalid(format!(
            "'{s}' has no port (write 127.0.0.1:9999, [::1]:9999, [fe80::1%eth0]:9999 or 127.0.0.1:echo)"
        ))
    })?;
    let port: u16 = match port.parse() {
        Ok(p) => p,
        Err(_) => crate::sys::service_port(port, "tcp")
            .or_else(|| crate::sys::service_port(port, "udp"))
            .ok_or_else(|| {
                invalid(format!(
                    "'{port}' is not a port number or a known service name"
                ))
            })?,
    };
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        let (ip, scope) = match inner.split_once('%') {
            Some((ip, scope)) => (ip, Some(scope)),
            None => (inner, None),
        };
        let ip: Ipv6Addr = ip
            .parse()
            .map_err(|_| invalid(format!("'{ip}' is not an IPv6 address")))?;
        let scope_id = match scope {
            None => 0,
            Some(scope) => match scope.parse::<u32>() {
                Ok(index) => index,
                Err(_) => crate::sys::interface_index(scope).map_err(|e| {
                    invalid(format!("'{scope}' is not a network interface here: {e}"))
                })?,
            },
        };
        return Ok(SocketAddrV6::new(ip, port, 0, scope_id).into());
    }
    if host.contains(':') {
        return Err(invalid(format!(
            "'{s}' is ambiguous: write an IPv6 address in brackets, as [{host}]:{port}"
        )));
    }
    let ip: IpAddr = host.parse().map_err(|_| {
        invalid(format!(
            "'{host}' is not an IP address (host names are not resolved here)"
        ))
    })?;
    Ok(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_people_write() {
        let p = |s: &str| parse_socket_addr(s).unwrap();
        assert_eq!(
            p("127.0.0.1:9999"),
            SocketAddr::from(([127, 0, 0, 1], 9999))
        );
        assert_eq!(p("[::1]:9999"), "[::1]:9999".parse().unwrap());
        let scoped = p("[fe80::1%lo]:80");
        let SocketAddr::V6(v6) = scoped else { panic!() };
        assert_eq!(v6.scope_id(), crate::sys::interface_index("lo").unwrap());
        assert!(v6.scope_id() > 0);
        assert_eq!(
            scoped.to_string(),
            format!("[fe80::1%{}]:80", v6.scope_id())
        );
        let SocketAddr::V6(v6) = p("[fe80::1%7]:80") else {
            panic!()
        };
        assert_eq!(v6.scope_id(), 7);
        // Display and parse round-trip, scope included.
        assert_eq!(p(&scoped.to_string()), scoped);
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let e = |s: &str| parse_socket_addr(s).unwrap_err().to_string();
        assert!(e("127.0.0.1").contains("has no port"));
        assert!(e("localhost:80").contains("not an IP address"));
        assert!(e("::1:80").contains("brackets"));
        assert!(e("[fe80::1%no-such-if0]:80").contains("not a network interface"));
        assert!(e("127.0.0.1:no-such-service").contains("not a port number"));
        assert!(e("[1.2.3.4]:80").contains("not an IPv6 address"));
        assert!(e("127.0.0.1:70000").contains("not a port number"));
    }

    #[test]
    fn unix_addresses() {
        assert_eq!(
            UnixAddr::parse("@netloop"),
            UnixAddr::abstract_name("netloop")
        );
        assert_eq!(
            UnixAddr::parse("/tmp/x.sock"),
            UnixAddr::from("/tmp/x.sock")
        );
        assert_eq!(
            UnixAddr::abstract_name(&b"a\0b"[..]).to_string(),
            "@a\\x00b"
        );
        let sa = UnixAddr::abstract_name("netloop-test")
            .to_sockaddr()
            .unwrap();
        assert_eq!(sa.as_abstract_namespace(), Some(&b"netloop-test"[..]));
        assert!(UnixAddr::parse("@").to_sockaddr().is_err());
        assert!(UnixAddr::parse("").to_sockaddr().is_err());
        let long = UnixAddr::abstract_name(vec![b'x'; 200]);
        assert_eq!(
            long.to_sockaddr().unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }

    #[test]
    fn mapped_addresses_unmap() {
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:5000".parse().unwrap();
        assert_eq!(unmap(mapped), SocketAddr::from(([127, 0, 0, 1], 5000)));
        let v6: SocketAddr = "[::1]:5000".parse().unwrap();
        assert_eq!(unmap(v6), v6);
    }
}
