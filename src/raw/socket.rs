//! [`IcmpSocket`]: opening an ICMP socket, raw if the process may, else the unprivileged
//! datagram kind, else an error that says what is missing and how to allow it.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use socket2::{Domain, Protocol, Socket, Type};

use crate::reactor::{Context, DgramId};
use crate::wire::IcmpVersion;

/// Which kind of ICMP socket to open (see [`IcmpSocket::open`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum IcmpMode {
    /// A raw socket if the process has `CAP_NET_RAW`, else the datagram socket.
    #[default]
    Auto,
    /// Only a raw socket (`SOCK_RAW`): fails without `CAP_NET_RAW`.
    Raw,
    /// Only the unprivileged datagram socket (`SOCK_DGRAM` + `IPPROTO_ICMP`/`IPPROTO_ICMPV6`):
    /// fails unless one of the process's groups is in `net.ipv4.ping_group_range`.
    Datagram,
}

/// The kind of ICMP socket that was opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IcmpKind {
    /// `SOCK_RAW`. It receives a copy of *every* ICMP message of its family that reaches the
    /// host (other programs' echo replies, our own requests on loopback, errors), and for
    /// IPv4 the IP header in front of each: the reader must sort them out. What it sends
    /// goes out as written, identifier included.
    Raw,
    /// `SOCK_DGRAM` with an ICMP protocol (Linux's "ping socket"). The kernel sets the echo
    /// identifier to the socket's own (its "port"), delivers only the replies that carry it,
    /// strips the IP header, and checks and fills the checksum.
    Datagram,
}

/// An ICMPv4 or ICMPv6 socket, non-blocking, ready to hand to a reactor with
/// [`add_to`](IcmpSocket::add_to).
#[derive(Debug)]
pub struct IcmpSocket {
    sock: Socket,
    kind: IcmpKind,
    version: IcmpVersion,
}

impl IcmpSocket {
    /// Open an ICMP socket of `version` (v4 or v6) as `mode` allows.
    ///
    /// # Errors
    ///
    /// `PermissionDenied` carrying an [`IcmpNotPermitted`] when no kind `mode` allows is
    /// permitted to this process; any other error of `socket(2)` or `bind(2)` as is (for
    /// example `EAFNOSUPPORT` on a host without IPv6).
    pub fn open(version: IcmpVersion, mode: IcmpMode) -> io::Result<IcmpSocket> {
        let mut raw_refused = false;
        if mode != IcmpMode::Datagram {
            match open_one(version, Type::RAW) {
                Ok(sock) => return Ok(IcmpSocket::new(sock, IcmpKind::Raw, version)),
                Err(e) if e.kind() == io::ErrorKind::PermissionDenied => raw_refused = true,
                Err(e) => return Err(e),
            }
            if mode == IcmpMode::Raw {
                return Err(IcmpNotPermitted::new(version, true, false).into());
            }
        }
        match open_one(version, Type::DGRAM) {
            Ok(sock) => {
                // Bind now, so that the kernel picks the identifier at once (it is the local
                // "port") rather than at the first send.
                let any: SocketAddr = match version {
                    IcmpVersion::V4 => (Ipv4Addr::UNSPECIFIED, 0).into(),
                    IcmpVersion::V6 => (Ipv6Addr::UNSPECIFIED, 0).into(),
                };
                sock.bind(&any.into())?;
                Ok(IcmpSocket::new(sock, IcmpKind::Datagram, version))
            }
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                Err(IcmpNotPermitted::new(version, raw_refused, true).into())
            }
            Err(e) => Err(e),
        }
    }

    fn new(sock: Socket, kind: IcmpKind, version: IcmpVersion) -> IcmpSocket {
        IcmpSocket {
            sock,
            kind,
            version,
        }
    }

    /// Raw or datagram.
    pub fn kind(&self) -> IcmpKind {
        self.kind
    }

    /// ICMPv4 or ICMPv6.
    pub fn version(&self) -> IcmpVersion {
        self.version
    }

    /// For a datagram socket, the echo identifier the kernel puts in every request (the
    /// socket's local "port"); `None` for a raw socket, where the sender chooses.
    ///
    /// # Errors
    ///
    /// Any error of `getsockname(2)`.
    pub fn kernel_ident(&self) -> io::Result<Option<u16>> {
        match self.kind {
            IcmpKind::Raw => Ok(None),
            IcmpKind::Datagram => {
                let local = self.sock.local_addr()?.as_socket().map(|a| a.port());
                Ok(local)
            }
        }
    }

    /// The socket2 socket, for options.
    pub fn socket(&self) -> &Socket {
        &self.sock
    }

    /// Hand the socket to a reactor, which serves it like a datagram socket. Each ICMP
    /// message received arrives through
    /// [`Handler::on_datagram`](crate::reactor::Handler::on_datagram) with the sender's
    /// address (port 0), including, for a raw IPv4 socket, the IPv4 header in front; send
    /// with [`Context::send_to`] to an address with port 0. See [`crate::raw`].
    ///
    /// # Errors
    ///
    /// If it cannot be registered.
    pub fn add_to(self, cx: &mut Context<'_>) -> io::Result<DgramId> {
        cx.add_udp(self.into_std())
    }

    fn into_std(self) -> std::net::UdpSocket {
        // Not a UDP socket, but std's type is the thin `recvfrom`/`sendto` wrapper every IP
        // datagram-style socket needs (see `Dgram::Inet`).
        std::net::UdpSocket::from(OwnedFd::from(self.sock))
    }
}

impl AsRawFd for IcmpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

impl AsFd for IcmpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

fn open_one(version: IcmpVersion, ty: Type) -> io::Result<Socket> {
    let (domain, proto) = match version {
        IcmpVersion::V4 => (Domain::IPV4, Protocol::ICMPV4),
        IcmpVersion::V6 => (Domain::IPV6, Protocol::ICMPV6),
    };
    let sock = Socket::new(domain, ty, Some(proto))?;
    sock.set_nonblocking(true)?;
    Ok(sock)
}

/// The process may open no ICMP socket of the kind asked for: what was refused and how to
/// allow it. Carried inside the `PermissionDenied` [`io::Error`] of [`IcmpSocket::open`]
/// (reach it with `err.get_ref()` and `downcast_ref`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcmpNotPermitted {
    /// The family asked for.
    pub version: IcmpVersion,
    /// A raw socket was tried and refused (`EPERM`: no `CAP_NET_RAW`).
    pub raw_refused: bool,
    /// The datagram socket was tried and refused (`EACCES`: no group of the process in
    /// `net.ipv4.ping_group_range`).
    pub datagram_refused: bool,
    /// `net.ipv4.ping_group_range` as read from `/proc` when the error was made, if readable.
    pub ping_group_range: Option<(u32, u32)>,
    /// The process's effective group and supplementary groups.
    pub groups: Vec<u32>,
}

impl IcmpNotPermitted {
    fn new(version: IcmpVersion, raw_refused: bool, datagram_refused: bool) -> IcmpNotPermitted {
        let ping_group_range = std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range")
            .ok()
            .and_then(|s| {
                let mut it = s.split_whitespace().map(|n| n.parse::<u32>().ok());
                Some((it.next()??, it.next()??))
            });
        IcmpNotPermitted {
            version,
            raw_refused,
            datagram_refused,
            ping_group_range,
            groups: crate::sys::process_groups(),
        }
    }
}

impl fmt::Display for IcmpNotPermitted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let family = match self.version {
            IcmpVersion::V4 => "ICMP (IPv4)",
            IcmpVersion::V6 => "ICMPv6",
        };
        write!(f, "not allowed to open an {family} socket: ")?;
        if self.raw_refused {
            f.write_str(
                "a raw socket (SOCK_RAW) needs CAP_NET_RAW (run as root, or grant it with \
                 `setcap cap_net_raw+ep` on the program)",
            )?;
        }
        if self.raw_refused && self.datagram_refused {
            f.write_str(", and ")?;
        }
        if self.datagram_refused {
            f.write_str("the unprivileged ICMP datagram socket is only for groups in net.ipv4.ping_group_range")?;
            if let Some((lo, hi)) = self.ping_group_range {
                write!(f, " (now {lo} {hi}")?;
                if lo > hi {
                    f.write_str(", an empty range")?;
                }
                f.write_str(")")?;
            }
            let groups: Vec<String> = self.groups.iter().map(|g| g.to_string()).collect();
            write!(
                f,
                "; this process's groups are {}; allow them with `sysctl -w net.ipv4.ping_group_range=\"0 2147483647\"`",
                if groups.is_empty() { "unknown".to_string() } else { groups.join(",") }
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for IcmpNotPermitted {}

impl From<IcmpNotPermitted> for io::Error {
    fn from(e: IcmpNotPermitted) -> io::Error {
        io::Error::new(io::ErrorKind::PermissionDenied, e)
    }
}
