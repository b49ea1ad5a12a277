//! Broadcast and multicast on a datagram socket, IPv4 and IPv6 alike.
//!
//! A [`Group`] is a multicast group and the interface to use it on. [`Group::join`] and
//! [`Group::leave`] change the socket's membership, and [`Group::send_through`] picks the
//! interface its sends to groups leave by. [`set_broadcast`], [`set_multicast_hops`] and
//! [`set_multicast_loop`] set the rest. Every function takes any socket as a socket2
//! `SockRef`, or a reference to anything with a descriptor: a reactor's datagram socket
//! (`Reactor::dgram_socket`, `Context::dgram_socket`), the blocking facade's `&Socket`, a
//! `&std::net::UdpSocket`. It picks the IPv4 or IPv6 option from the group, or from the
//! socket's own family.
//!
//! One difference from the bare socket options: joining turns Linux's `IP_MULTICAST_ALL`
//! (`IPV6_MULTICAST_ALL`) off, so that a socket receives the groups it joined and no others.
//! With it on (the kernel's default), a socket bound to a group's port receives that group's
//! datagrams as long as any socket on the machine is a member, even after it left itself.

use socket2::SockRef;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// A multicast group and the interface to use it on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Group {
    /// An IPv4 group (224.0.0.0/4), on the interface that has the address `interface`
    /// (`0.0.0.0`: the one the routing table picks).
    V4 {
        /// The group's address.
        group: Ipv4Addr,
        /// The local address of the interface.
        interface: Ipv4Addr,
    },
    /// An IPv6 group (ff00::/8), on the interface numbered `interface` (0: the one the
    /// routing table picks; `if_nametoindex` gives a name's number).
    V6 {
        /// The group's address.
        group: Ipv6Addr,
        /// The interface's index.
        interface: u32,
    },
}

impl Group {
    /// The IPv4 group `group` on the interface whose address is `interface`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `group` is not a multicast address.
    pub fn v4(group: Ipv4Addr, interface: Ipv4Addr) -> io::Result<Group> {
        if !group.is_multicast() {
            return Err(not_multicast(group.into()));
        }
        Ok(Group::V4 { group, interface })
    }

    /// The IPv6 group `group` on the interface numbered `interface`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `group` is not a multicast address.
    pub fn v6(group: Ipv6Addr, interface: u32) -> io::Result<Group> {
        if !group.is_multicast() {
            return Err(not_multicast(group.into()));
        }
        Ok(Group::V6 { group, interface })
    }

    /// The group's address.
    pub fn addr(&self) -> IpAddr {
        match *self {
            Group::V4 { group, .. } => group.into(),
            Group::V6 { group, .. } => group.into(),
        }
    }

    /// The group's address with `port`: where to send to reach its members.
    pub fn socket_addr(&self, port: u16) -> SocketAddr {
        match *self {
            Group::V4 { group, .. } => SocketAddr::from((group, port)),
            Group::V6 {
                group, interface, ..
            } => std::net::SocketAddrV6::new(group, port, 0, interface).into(),
        }
    }

    /// Join the group on `sock` (`IP_ADD_MEMBERSHIP`, `IPV6_JOIN_GROUP`): datagrams sent to
    /// it, to the port `sock` is bound to, arrive. `sock` then receives only the groups it
    /// joined (see the module docs).
    ///
    /// # Errors
    ///
    /// Those of `setsockopt(2)`: `EADDRINUSE` if already a member, `ENODEV` for an unknown
    /// interface, an error for a socket of the other family.
    pub fn join<'s>(&self, sock: impl Into<SockRef<'s>>) -> io::Result<()> {
        let s = sock.into();
        match self {
            Group::V4 { group, interface } => {
                s.join_multicast_v4(group, interface)?;
                s.set_multicast_all_v4(false)
            }
            Group::V6 { group, interface } => {
                s.join_multicast_v6(group, *interface)?;
                s.set_multicast_all_v6(false)
            }
        }
    }

    /// Leave the group on `sock` (`IP_DROP_MEMBERSHIP`, `IPV6_LEAVE_GROUP`).
    ///
    /// # Errors
    ///
    /// Those of `setsockopt(2)`: `EADDRNOTAVAIL` if not a member.
    pub fn leave<'s>(&self, sock: impl Into<SockRef<'s>>) -> io::Result<()> {
        let s = sock.into();
        match self {
            Group::V4 { group, interface } => s.leave_multicast_v4(group, interface),
            Group::V6 { group, interface } => s.leave_multicast_v6(group, *interface),
        }
    }

    /// Send `sock`'s datagrams to groups through this group's interface (`IP_MULTICAST_IF`,
    /// `IPV6_MULTICAST_IF`).
    ///
    /// # Errors
    ///
    /// Those of `setsockopt(2)`.
    pub fn send_through<'s>(&self, sock: impl Into<SockRef<'s>>) -> io::Result<()> {
        let s = sock.into();
        match self {
            Group::V4 { interface, .. } => s.set_multicast_if_v4(interface),
            Group::V6 { interface, .. } => s.set_multicast_if_v6(*interface),
        }
    }
}

fn not_multicast(addr: IpAddr) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{addr} is not a multicast address"),
    )
}

/// Let `sock` send to broadcast addresses (`SO_BROADCAST`; without it such a send fails
/// with `EACCES`, "permission denied").
///
/// # Errors
///
/// Those of `setsockopt(2)`.
pub fn set_broadcast<'s>(sock: impl Into<SockRef<'s>>, on: bool) -> io::Result<()> {
    sock.into().set_broadcast(on)
}

/// How many routers `sock`'s datagrams to groups may cross (`IP_MULTICAST_TTL` on an IPv4
/// socket, `IPV6_MULTICAST_HOPS` on an IPv6 one; the default 1 keeps them on the local
/// network, 0 on this host).
///
/// # Errors
///
/// Those of `setsockopt(2)`, or of `getsockname(2)` for the socket's family.
pub fn set_multicast_hops<'s>(sock: impl Into<SockRef<'s>>, hops: u32) -> io::Result<()> {
    let s = sock.into();
    if is_v6(&s)? {
        s.set_multicast_hops_v6(hops)
    } else {
        s.set_multicast_ttl_v4(hops)
    }
}

/// Whether `sock`'s own datagrams to a group come back to the group's members on this host
/// (`IP_MULTICAST_LOOP`, `IPV6_MULTICAST_LOOP`; on by default).
///
/// # Errors
///
/// Those of `setsockopt(2)`, or of `getsockname(2)` for the socket's family.
pub fn set_multicast_loop<'s>(sock: impl Into<SockRef<'s>>, on: bool) -> io::Result<()> {
    let s = sock.into();
    if is_v6(&s)? {
        s.set_multicast_loop_v6(on)
    } else {
        s.set_multicast_loop_v4(on)
    }
}

fn is_v6(s: &SockRef<'_>) -> io::Result<bool> {
    Ok(s.local_addr()?.is_ipv6())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_multicast_addresses_make_groups() {
        let any = Ipv4Addr::UNSPECIFIED;
        assert!(Group::v4("239.1.2.3".parse().unwrap(), any).is_ok());
        let e = Group::v4(Ipv4Addr::LOCALHOST, any).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(
            e.to_string().contains("127.0.0.1 is not a multicast"),
            "{e}"
        );
        assert!(Group::v6("ff15::1".parse().unwrap(), 0).is_ok());
        assert!(Group::v6(Ipv6Addr::LOCALHOST, 0).is_err());
        let g = Group::v6("ff15::1".parse().unwrap(), 1).unwrap();
        assert_eq!(g.socket_addr(9).to_string(), "[ff15::1%1]:9");
    }

    #[test]
    fn options_follow_the_sockets_family() {
        let v4 = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        set_multicast_hops(&v4, 3).unwrap();
        set_multicast_loop(&v4, false).unwrap();
        set_broadcast(&v4, true).unwrap();
        let s = SockRef::from(&v4);
        assert_eq!(s.multicast_ttl_v4().unwrap(), 3);
        assert!(!s.multicast_loop_v4().unwrap());
        assert!(s.broadcast().unwrap());
        let Ok(v6) = std::net::UdpSocket::bind("[::1]:0") else {
            return; // no IPv6 on this machine's loopback
        };
        set_multicast_hops(&v6, 4).unwrap();
        set_multicast_loop(&v6, false).unwrap();
        let s = SockRef::from(&v6);
        assert_eq!(s.multicast_hops_v6().unwrap(), 4);
        assert!(!s.multicast_loop_v6().unwrap());
    }
}
