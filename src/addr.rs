//! IP socket addresses as people write them, and as a dual-stack socket reports them.
//!
//! * [`parse_socket_addr`] reads `127.0.0.1:9999`, `[::1]:9999`, a link-local address with
//!   its scope (`[fe80::1%eth0]:9999` or `[fe80::1%2]:9999`: the interface by name or by
//!   index) and a service name in place of the port (`127.0.0.1:echo`). Display is the
//!   standard library's, which writes the scope as its index (`[fe80::1%2]:9999`).
//! * [`unmap`] turns the IPv4-mapped form a dual-stack IPv6 socket gives an IPv4 peer
//!   (`[::ffff:127.0.0.1]:5000`) back into the IPv4 address it stands for; the reactor applies
//!   it to every peer and local address it reports.

use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};

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
    fn mapped_addresses_unmap() {
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:5000".parse().unwrap();
        assert_eq!(unmap(mapped), SocketAddr::from(([127, 0, 0, 1], 5000)));
        let v6: SocketAddr = "[::1]:5000".parse().unwrap();
        assert_eq!(unmap(v6), v6);
    }
}
