//! The address and name helpers of Python's `socket` module, with the same results on the
//! same machine: byte order (`htonl`, ...), address text (`inet_aton`, `inet_pton`, ...), and
//! name look-ups (`gethostbyname_ex`, `getaddrinfo`, `getfqdn`, services, protocols).
//!
//! Data flows one way: a name or an address goes in, owned Rust values come out. The text
//! conversions (`inet.rs`) are pure Rust written to match the C library's rules; the look-ups
//! call the C library's resolver through netloop's own bindings (`sys/resolve.rs`), as Python does, so that
//! `/etc/hosts`, DNS, `nsswitch.conf` and `/etc/services` give the same answers. A failed
//! look-up is a [`ResolveError`] whose kind says what happened (host not found, try again,
//! no data) and whose message is the resolver's.
//!
//! Look-ups block (the C library's resolver has no non-blocking form); a reactor's handler
//! should not call them on the reactor's thread.

mod inet;
#[cfg(test)]
mod tests;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::sys::resolve as c;
use crate::sys::resolve::consts::*;
pub use crate::sys::resolve::{HostEntry, ResolveError, ResolveErrorKind};
pub use inet::{htonl, htons, inet_aton, inet_ntoa, inet_ntop, inet_pton, ntohl, ntohs};

use crate::addr::{Family, SockType};

/// Flags for [`getaddrinfo`] (`AI_*`), combined with `|`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AiFlags(i32);

impl AiFlags {
    /// No flags.
    pub const NONE: AiFlags = AiFlags(0);
    /// Addresses for `bind` (the wildcard when the host is `None`).
    pub const PASSIVE: AiFlags = AiFlags(AI_PASSIVE);
    /// Ask for the canonical name (in the first result).
    pub const CANONNAME: AiFlags = AiFlags(AI_CANONNAME);
    /// The host must be a numeric address: no look-up.
    pub const NUMERICHOST: AiFlags = AiFlags(AI_NUMERICHOST);
    /// The service must be a port number: no look-up.
    pub const NUMERICSERV: AiFlags = AiFlags(AI_NUMERICSERV);
    /// Only families the host has an address of (besides loopback).
    pub const ADDRCONFIG: AiFlags = AiFlags(AI_ADDRCONFIG);
    /// With `Inet6` and no IPv6 address, IPv4-mapped ones.
    pub const V4MAPPED: AiFlags = AiFlags(AI_V4MAPPED);
    /// With `V4MAPPED`: IPv6 and IPv4-mapped addresses both.
    pub const ALL: AiFlags = AiFlags(AI_ALL);
}

impl std::ops::BitOr for AiFlags {
    type Output = AiFlags;
    fn bitor(self, o: AiFlags) -> AiFlags {
        AiFlags(self.0 | o.0)
    }
}

/// Flags for [`getnameinfo`] (`NI_*`), combined with `|`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct NiFlags(i32);

impl NiFlags {
    /// No flags.
    pub const NONE: NiFlags = NiFlags(0);
    /// The host as a numeric address.
    pub const NUMERICHOST: NiFlags = NiFlags(NI_NUMERICHOST);
    /// The service as a port number.
    pub const NUMERICSERV: NiFlags = NiFlags(NI_NUMERICSERV);
    /// Fail if the host has no name (instead of giving the number).
    pub const NAMEREQD: NiFlags = NiFlags(NI_NAMEREQD);
    /// Only the host part of a local name.
    pub const NOFQDN: NiFlags = NiFlags(NI_NOFQDN);
    /// The service is a datagram one (UDP's names, where they differ).
    pub const DGRAM: NiFlags = NiFlags(NI_DGRAM);
}

impl std::ops::BitOr for NiFlags {
    type Output = NiFlags;
    fn bitor(self, o: NiFlags) -> NiFlags {
        NiFlags(self.0 | o.0)
    }
}

/// One result of [`getaddrinfo`]: what to make a socket of, and the address to use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddrInfo {
    /// `Inet` or `Inet6`.
    pub family: Family,
    /// The socket type, if one of netloop's (`None` for others).
    pub socktype: Option<SockType>,
    /// The protocol number (6 for TCP, 17 for UDP).
    pub protocol: i32,
    /// The canonical name: in the first result, with [`AiFlags::CANONNAME`]; else empty.
    pub canonname: String,
    /// The address and port.
    pub addr: SocketAddr,
}

/// `getaddrinfo(host, port, family, type, proto, flags)`: the addresses to connect (or,
/// with `PASSIVE`, bind) to. `service` is a port number or a name (`"http"`); `family` and
/// `socktype` `None` mean any.
///
/// # Errors
///
/// The resolver's [`ResolveError`] (Python's `gaierror`), e.g. `HostNotFound`, "Name or
/// service not known".
pub fn getaddrinfo(
    host: Option<&str>,
    service: Option<&str>,
    family: Option<Family>,
    socktype: Option<SockType>,
    protocol: i32,
    flags: AiFlags,
) -> Result<Vec<AddrInfo>, ResolveError> {
    let results = c::getaddrinfo(
        host,
        service,
        family.map_or(0, Family::raw),
        socktype.map_or(0, SockType::raw),
        protocol,
        flags.0,
    )?;
    Ok(results
        .into_iter()
        .filter_map(|r| {
            Some(AddrInfo {
                family: Family::from_raw(r.family)?,
                socktype: SockType::from_raw(r.socktype),
                protocol: r.protocol,
                canonname: r.canonname,
                addr: r.addr,
            })
        })
        .collect())
}

/// The addresses to connect a stream to `host`:`port`, every family, in the resolver's
/// order with duplicates dropped (`getaddrinfo` lists one address once per protocol it
/// knows): what `connect_host` and `create_connection` race.
///
/// # Errors
///
/// The resolver's [`ResolveError`].
pub(crate) fn stream_addrs(host: &str, port: u16) -> Result<Vec<SocketAddr>, ResolveError> {
    let found = getaddrinfo(
        Some(host),
        Some(&port.to_string()),
        None,
        Some(SockType::Stream),
        0,
        AiFlags::NONE,
    )?;
    let mut addrs: Vec<SocketAddr> = Vec::new();
    for a in found {
        if !addrs.contains(&a.addr) {
            addrs.push(a.addr);
        }
    }
    Ok(addrs)
}

/// `getnameinfo(sockaddr, flags)`: the host and service names of an address.
///
/// # Errors
///
/// The resolver's [`ResolveError`] (with `NAMEREQD` and no name: `HostNotFound`).
pub fn getnameinfo(addr: &SocketAddr, flags: NiFlags) -> Result<(String, String), ResolveError> {
    c::getnameinfo(addr, flags.0)
}

/// The IPv4 address of `name` as Python's `setipaddr` finds it: `""` is 0.0.0.0,
/// `"<broadcast>"` 255.255.255.255, a numeric address itself, anything else the first IPv4
/// result of `getaddrinfo`.
fn ipv4_of(name: &str) -> Result<Ipv4Addr, ResolveError> {
    match name {
        "" => return Ok(Ipv4Addr::UNSPECIFIED),
        "<broadcast>" => return Ok(Ipv4Addr::BROADCAST),
        _ => {}
    }
    if let Ok(a) = name.parse() {
        return Ok(a);
    }
    let found = c::getaddrinfo(Some(name), None, AF_INET, 0, 0, 0)?;
    found
        .iter()
        .find_map(|r| match r.addr.ip() {
            IpAddr::V4(a) => Some(a),
            IpAddr::V6(_) => None,
        })
        .ok_or_else(|| ResolveError {
            kind: ResolveErrorKind::NoData,
            code: 0,
            message: "no IPv4 address".into(),
        })
}

/// `gethostbyname(name)`: the IPv4 address of a host name.
///
/// # Errors
///
/// As for [`getaddrinfo`].
pub fn gethostbyname(name: &str) -> Result<Ipv4Addr, ResolveError> {
    ipv4_of(name)
}

/// `gethostbyname_ex(name)`: the canonical name, the aliases and the IPv4 addresses.
///
/// # Errors
///
/// As for [`getaddrinfo`] (the name is checked first, as Python does), then the host
/// database's error (`HostNotFound`, ...).
pub fn gethostbyname_ex(name: &str) -> Result<HostEntry, ResolveError> {
    ipv4_of(name)?;
    c::gethostbyname(name, AF_INET)
}

/// `gethostbyaddr(ip_or_name)`: the name, the aliases and the addresses of a host, found
/// from an address (a name is first resolved to one, as Python does).
///
/// # Errors
///
/// As for [`getaddrinfo`], then `HostNotFound` ("Unknown host") if the address has no name.
pub fn gethostbyaddr(ip_or_name: &str) -> Result<HostEntry, ResolveError> {
    let ip = match ip_or_name.parse::<IpAddr>() {
        Ok(ip) => ip,
        Err(_) => {
            let found = c::getaddrinfo(Some(ip_or_name), None, 0, SOCK_STREAM, 0, 0)?;
            match found.first() {
                Some(r) => r.addr.ip(),
                None => {
                    return Err(ResolveError {
                        kind: ResolveErrorKind::NoData,
                        code: 0,
                        message: "no address".into(),
                    })
                }
            }
        }
    };
    c::gethostbyaddr(ip)
}

/// `gethostname()`: this machine's host name.
///
/// # Errors
///
/// Any error of `gethostname(2)`.
pub fn gethostname() -> std::io::Result<String> {
    c::gethostname()
}

/// `getfqdn(name="")`, as Python defines it: for an empty name (or `0.0.0.0` / `::`) this
/// host's name; then the first of the host's name and aliases (from [`gethostbyaddr`]) that
/// contains a dot, else the host's name; the name itself if the look-up fails.
pub fn getfqdn(name: &str) -> String {
    let mut name = name.trim().to_string();
    if name.is_empty() || name == "0.0.0.0" || name == "::" {
        name = gethostname().unwrap_or_default();
    }
    match gethostbyaddr(&name) {
        Ok(entry) => std::iter::once(&entry.name)
            .chain(entry.aliases.iter())
            .find(|n| n.contains('.'))
            .unwrap_or(&entry.name)
            .clone(),
        Err(_) => name,
    }
}

/// `getservbyname(name, proto)`: the port of a service (`"ftp"` is 21, `"http"` 80).
///
/// # Errors
///
/// `NotInDatabase`, "service/proto not found".
pub fn getservbyname(name: &str, proto: Option<&str>) -> Result<u16, ResolveError> {
    c::getservbyname(name, proto)
}

/// The port of `service`: a number (not 0), or a name from the services database for TCP
/// (`http`: 80), as `host:service` targets write it.
///
/// # Errors
///
/// `InvalidInput` for port 0; `NotFound` for a name the database does not know.
pub(crate) fn service_port(service: &str) -> std::io::Result<u16> {
    use std::io::{Error, ErrorKind};
    match service.parse::<u16>() {
        Ok(0) => Err(Error::new(
            ErrorKind::InvalidInput,
            "port 0 cannot be connected to",
        )),
        Ok(port) => Ok(port),
        Err(_) => getservbyname(service, Some("tcp"))
            .map_err(|e| Error::new(ErrorKind::NotFound, format!("{service}: {e}"))),
    }
}

/// `getservbyport(port, proto)`: the name of the service on a port.
///
/// # Errors
///
/// `NotInDatabase`, "port/proto not found".
pub fn getservbyport(port: u16, proto: Option<&str>) -> Result<String, ResolveError> {
    c::getservbyport(port, proto)
}

/// `getprotobyname(name)`: a protocol's number (`"icmp"` is 1).
///
/// # Errors
///
/// `NotInDatabase`, "protocol not found".
pub fn getprotobyname(name: &str) -> Result<i32, ResolveError> {
    c::getprotobyname(name)
}
