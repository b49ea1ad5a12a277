//! [`Socket`]: the blocking socket itself. Every call goes through `timeout.rs`'s one rule;
//! `options.rs` adds `setsockopt`/`getsockopt` and `file.rs` adds `makefile`.

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};
use std::time::Duration;

use super::address::Address;
use super::timeout::{self, getdefaulttimeout, timed_out};
use crate::addr::{Family, PeerAddr, SockType};

/// A socket with Python's semantics (see the [module docs](crate::socket)).
#[derive(Debug)]
pub struct Socket {
    inner: socket2::Socket,
    family: Family,
    ty: SockType,
    timeout: Option<Duration>,
}

/// `sendall` ran out of time after sending part of the data: carried inside its `TimedOut`
/// error (reach it with `err.get_ref()` and `downcast_ref`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartialSend {
    /// Bytes sent before the timeout.
    pub sent: usize,
    /// Bytes asked for.
    pub total: usize,
}

impl std::fmt::Display for PartialSend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "timed out after sending {} of {} bytes",
            self.sent, self.total
        )
    }
}

impl std::error::Error for PartialSend {}

fn unsupported(family: Family, ty: SockType, why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!("{family} with {ty}: {why}"),
    )
}

impl Socket {
    /// The socket2 socket underneath, for the option calls (`options.rs`).
    pub(super) fn inner(&self) -> &socket2::Socket {
        &self.inner
    }

    /// `socket(family, type, proto)`: a new socket (close-on-exec) with the default timeout.
    ///
    /// # Errors
    ///
    /// `Unsupported`, naming the family and type, for combinations this system does not
    /// offer: `SOCK_RDM` (it needs TIPC), `SOCK_SEQPACKET` on IP without SCTP;
    /// `PermissionDenied` for `SOCK_RAW` on IP without `CAP_NET_RAW`; any other error of
    /// `socket(2)`. (Linux takes `SOCK_RAW` on `AF_UNIX` as `SOCK_DGRAM`, as Python shows.)
    pub fn new(family: Family, ty: SockType, proto: Option<i32>) -> io::Result<Socket> {
        if ty == SockType::Rdm {
            return Err(unsupported(
                family,
                ty,
                "reliably delivered messages need TIPC (AF_TIPC), which netloop does not support",
            ));
        }
        let inner =
            socket2::Socket::new(family.domain(), ty.ty(), proto.map(socket2::Protocol::from))
                .map_err(|e| match e.raw_os_error() {
                    Some(code) if crate::sys::is_unsupported_combination(code) => {
                        let why = match (family, ty) {
                            (Family::Unix, SockType::Raw) => {
                                "AF_UNIX has no raw sockets".to_string()
                            }
                            (Family::Inet | Family::Inet6, SockType::Seqpacket) => {
                                format!(
                                    "only SCTP offers it over IP, and this system does not ({e})"
                                )
                            }
                            _ => format!("not offered by this system ({e})"),
                        };
                        unsupported(family, ty, &why)
                    }
                    _ => e,
                })?;
        Socket::with_default_timeout(inner, family, ty)
    }

    /// A socket made elsewhere (std, socket2, mio...): its family and type are read from
    /// the descriptor, and it takes the default timeout.
    ///
    /// # Errors
    ///
    /// `Unsupported` for a family or type netloop does not know; a `getsockopt` error.
    pub fn from_socket2(inner: socket2::Socket) -> io::Result<Socket> {
        let family = inner
            .domain()
            .ok()
            .and_then(|d| Family::from_raw(d.into()))
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::Unsupported,
                    "not an AF_INET, AF_INET6 or AF_UNIX socket",
                )
            })?;
        let ty = SockType::from_raw(inner.r#type()?.into())
            .ok_or_else(|| io::Error::new(io::ErrorKind::Unsupported, "an unknown socket type"))?;
        Socket::with_default_timeout(inner, family, ty)
    }

    /// A new `Socket` around `inner`, with the process-wide default timeout (Python gives
    /// it to every socket it makes, accepted ones included).
    fn with_default_timeout(
        inner: socket2::Socket,
        family: Family,
        ty: SockType,
    ) -> io::Result<Socket> {
        let mut s = Socket {
            inner,
            family,
            ty,
            timeout: None,
        };
        s.settimeout(getdefaulttimeout())?;
        Ok(s)
    }

    /// The family.
    pub fn family(&self) -> Family {
        self.family
    }

    /// The type.
    pub fn sock_type(&self) -> SockType {
        self.ty
    }

    /// `settimeout(t)`: `None` blocks, zero never blocks, a duration bounds each operation.
    ///
    /// # Errors
    ///
    /// If the descriptor's blocking mode cannot be set.
    pub fn settimeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.inner.set_nonblocking(timeout.is_some())?;
        self.timeout = timeout;
        Ok(())
    }

    /// `gettimeout()`.
    pub fn gettimeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// `setblocking(flag)`: `true` is `settimeout(None)`, `false` is `settimeout(0)`.
    ///
    /// # Errors
    ///
    /// As for [`settimeout`](Socket::settimeout).
    pub fn setblocking(&mut self, blocking: bool) -> io::Result<()> {
        self.settimeout(if blocking { None } else { Some(Duration::ZERO) })
    }

    /// The addresses `addr` stands for, for this socket's family: a host name is looked up
    /// (`getaddrinfo` with this family and type), in the resolver's order.
    fn resolve(&self, addr: &Address) -> io::Result<Vec<socket2::SockAddr>> {
        match addr {
            Address::Inet(a) => Ok(vec![(*a).into()]),
            Address::Unix(u) => Ok(vec![u.to_sockaddr()?]),
            Address::Host(host, port) => {
                let found = crate::names::getaddrinfo(
                    Some(host),
                    Some(&port.to_string()),
                    Some(self.family),
                    Some(self.ty),
                    0,
                    crate::names::AiFlags::NONE,
                )?;
                let out: Vec<socket2::SockAddr> =
                    found.into_iter().map(|r| r.addr.into()).collect();
                if out.is_empty() {
                    return Err(io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("{host}: no {} address", self.family),
                    ));
                }
                Ok(out)
            }
        }
    }

    /// `bind(address)`.
    ///
    /// # Errors
    ///
    /// A look-up error for a host name; any error of `bind(2)` (`AddrInUse`, ...).
    pub fn bind(&self, addr: impl Into<Address>) -> io::Result<()> {
        let addrs = self.resolve(&addr.into())?;
        self.inner.bind(&addrs[0])
    }

    /// `listen(backlog)`.
    ///
    /// # Errors
    ///
    /// Any error of `listen(2)`.
    pub fn listen(&self, backlog: i32) -> io::Result<()> {
        self.inner.listen(backlog)
    }

    /// `accept()`: the new connection (with the *default* timeout, as in Python) and the
    /// peer's address.
    ///
    /// # Errors
    ///
    /// `TimedOut` or `WouldBlock` as the timeout says; any error of `accept(2)`.
    pub fn accept(&self) -> io::Result<(Socket, PeerAddr)> {
        let (s, a) = timeout::run(&self.inner, self.timeout, false, || self.inner.accept())?;
        Ok((
            Socket::with_default_timeout(s, self.family, self.ty)?,
            peer(a)?,
        ))
    }

    /// `connect(address)`. With a timeout, the connect goes on in the background and is
    /// waited for; a host name with several addresses is tried in order, within the one
    /// timeout.
    ///
    /// # Errors
    ///
    /// `ConnectionRefused` (nothing listens), `TimedOut`, a look-up error, or any error of
    /// `connect(2)` (the last address's, when several were tried).
    pub fn connect(&self, addr: impl Into<Address>) -> io::Result<()> {
        let addrs = self.resolve(&addr.into())?;
        let deadline = self.timeout.map(|t| std::time::Instant::now() + t);
        let mut last = None;
        for a in &addrs {
            match self.connect_one(a, deadline) {
                Ok(()) => return Ok(()),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::from(io::ErrorKind::NotFound)))
    }

    fn connect_one(
        &self,
        addr: &socket2::SockAddr,
        deadline: Option<std::time::Instant>,
    ) -> io::Result<()> {
        let err = match self.inner.connect(addr) {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        let in_progress = err.raw_os_error() == Some(crate::sys::EINPROGRESS)
            || err.kind() == io::ErrorKind::WouldBlock;
        if err.kind() == io::ErrorKind::Interrupted && self.timeout.is_none() {
            // A blocking connect interrupted by a signal goes on in the background.
            crate::sys::wait_fd(&self.inner, true, None)?;
        } else if !in_progress || self.timeout == Some(Duration::ZERO) {
            return Err(err);
        } else {
            let left = deadline.map(|d| d.saturating_duration_since(std::time::Instant::now()));
            if left.is_some_and(|l| l.is_zero()) || !crate::sys::wait_fd(&self.inner, true, left)? {
                return Err(timed_out());
            }
        }
        match self.inner.take_error()? {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// `connect_ex(address)`: 0 on success, else the error number (`errno`), as Python's.
    /// Errors without a number (a look-up failure) are returned as errors.
    ///
    /// # Errors
    ///
    /// Only those without an errno.
    pub fn connect_ex(&self, addr: impl Into<Address>) -> io::Result<i32> {
        match self.connect(addr) {
            Ok(()) => Ok(0),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => Ok(crate::sys::EAGAIN),
            Err(e) => e.raw_os_error().ok_or(e),
        }
    }

    /// `send(data)`: some of `data`; returns how much.
    ///
    /// # Errors
    ///
    /// `TimedOut` / `WouldBlock` as the timeout says; any error of `send(2)` (a closed peer
    /// is `BrokenPipe`, never a signal).
    pub fn send(&self, data: &[u8]) -> io::Result<usize> {
        timeout::run(&self.inner, self.timeout, true, || {
            self.inner.send_with_flags(data, crate::sys::MSG_NOSIGNAL)
        })
    }

    /// `sendall(data)`: all of `data`, within one timeout for the whole call.
    ///
    /// # Errors
    ///
    /// As for [`send`](Socket::send); a timeout is `TimedOut` carrying a [`PartialSend`]
    /// that says how much went.
    pub fn sendall(&self, data: &[u8]) -> io::Result<()> {
        let deadline = self.timeout.map(|t| std::time::Instant::now() + t);
        let mut sent = 0;
        while sent < data.len() {
            let left = deadline.map(|d| d.saturating_duration_since(std::time::Instant::now()));
            let step = match left {
                Some(l) if l.is_zero() && self.timeout != Some(Duration::ZERO) => Err(timed_out()),
                _ => timeout::run(&self.inner, left.or(self.timeout), true, || {
                    self.inner
                        .send_with_flags(&data[sent..], crate::sys::MSG_NOSIGNAL)
                }),
            };
            match step {
                Ok(n) => sent += n,
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        PartialSend {
                            sent,
                            total: data.len(),
                        },
                    ))
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// `sendto(data, address)`.
    ///
    /// # Errors
    ///
    /// As for [`send`](Socket::send), and a look-up error.
    pub fn sendto(&self, data: &[u8], addr: impl Into<Address>) -> io::Result<usize> {
        let addrs = self.resolve(&addr.into())?;
        timeout::run(&self.inner, self.timeout, true, || {
            self.inner
                .send_to_with_flags(data, &addrs[0], crate::sys::MSG_NOSIGNAL)
        })
    }

    /// `recv(bufsize)`: up to `bufsize` bytes; empty at the end of a stream.
    ///
    /// # Errors
    ///
    /// `TimedOut` / `WouldBlock` as the timeout says; any error of `recv(2)`.
    pub fn recv(&self, bufsize: usize) -> io::Result<Vec<u8>> {
        let mut buf = vec![0; bufsize];
        let n = self.recv_into(&mut buf)?;
        buf.truncate(n);
        Ok(buf)
    }

    /// `recv_into(buffer)`: bytes into `buf`; returns how many.
    ///
    /// # Errors
    ///
    /// As for [`recv`](Socket::recv).
    pub fn recv_into(&self, buf: &mut [u8]) -> io::Result<usize> {
        timeout::run(&self.inner, self.timeout, false, || {
            crate::sys::recv_init(&self.inner, buf)
        })
    }

    /// `recvfrom(bufsize)`: a datagram (up to `bufsize` bytes) and who sent it.
    ///
    /// # Errors
    ///
    /// As for [`recv`](Socket::recv).
    pub fn recvfrom(&self, bufsize: usize) -> io::Result<(Vec<u8>, PeerAddr)> {
        let mut buf = vec![0; bufsize];
        let (n, from) = self.recvfrom_into(&mut buf)?;
        buf.truncate(n);
        Ok((buf, from))
    }

    /// `recvfrom_into(buffer)`.
    ///
    /// # Errors
    ///
    /// As for [`recv`](Socket::recv).
    pub fn recvfrom_into(&self, buf: &mut [u8]) -> io::Result<(usize, PeerAddr)> {
        let (n, a) = timeout::run(&self.inner, self.timeout, false, || {
            crate::sys::recv_from_init(&self.inner, buf)
        })?;
        Ok((n, peer(a)?))
    }

    /// `shutdown(how)`.
    ///
    /// # Errors
    ///
    /// Any error of `shutdown(2)` (`NotConnected`, ...).
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.shutdown(how)
    }

    /// `close()`: closes the descriptor now (dropping does the same).
    pub fn close(self) {}

    /// `getsockname()`.
    ///
    /// # Errors
    ///
    /// Any error of `getsockname(2)`.
    pub fn getsockname(&self) -> io::Result<PeerAddr> {
        peer(self.inner.local_addr()?)
    }

    /// `getpeername()`.
    ///
    /// # Errors
    ///
    /// `NotConnected` when not connected.
    pub fn getpeername(&self) -> io::Result<PeerAddr> {
        peer(self.inner.peer_addr()?)
    }

    /// `dup()`: a second `Socket` for the same connection (with the same timeout), for
    /// example to write from one thread while another reads.
    ///
    /// # Errors
    ///
    /// Any error of `dup(2)` (`EMFILE`, ...).
    pub fn dup(&self) -> io::Result<Socket> {
        Ok(Socket {
            inner: self.inner.try_clone()?,
            family: self.family,
            ty: self.ty,
            timeout: self.timeout,
        })
    }

    /// `fileno()`.
    pub fn fileno(&self) -> RawFd {
        self.inner.as_raw_fd()
    }

    /// The socket2 socket underneath, for anything not offered here.
    pub fn as_socket2(&self) -> &socket2::Socket {
        &self.inner
    }

    /// Into the socket2 socket (its blocking mode is left as the timeout made it).
    pub fn into_socket2(self) -> socket2::Socket {
        self.inner
    }
}

/// A received address as the reactor shows addresses (IPv4-mapped ones as IPv4).
fn peer(a: socket2::SockAddr) -> io::Result<PeerAddr> {
    match a.as_socket() {
        Some(ip) => Ok(PeerAddr::Inet(crate::addr::unmap(ip))),
        None => crate::addr::unix_addr(a),
    }
}

impl AsRawFd for Socket {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl AsFd for Socket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl IntoRawFd for Socket {
    fn into_raw_fd(self) -> RawFd {
        self.inner.into_raw_fd()
    }
}

impl From<Socket> for OwnedFd {
    fn from(s: Socket) -> OwnedFd {
        s.inner.into()
    }
}

impl TryFrom<OwnedFd> for Socket {
    type Error = io::Error;
    fn try_from(fd: OwnedFd) -> io::Result<Socket> {
        Socket::from_socket2(fd.into())
    }
}

macro_rules! from_std {
    ($($t:ty),*) => {$(
        impl TryFrom<$t> for Socket {
            type Error = io::Error;
            fn try_from(s: $t) -> io::Result<Socket> {
                Socket::from_socket2(socket2::Socket::from(s))
            }
        }
    )*};
}

from_std!(
    std::net::TcpStream,
    std::net::TcpListener,
    std::net::UdpSocket,
    std::os::unix::net::UnixStream,
    std::os::unix::net::UnixListener,
    std::os::unix::net::UnixDatagram
);

impl From<Socket> for std::net::TcpStream {
    fn from(s: Socket) -> std::net::TcpStream {
        s.inner.into()
    }
}

impl From<Socket> for std::net::UdpSocket {
    fn from(s: Socket) -> std::net::UdpSocket {
        s.inner.into()
    }
}

impl From<Socket> for std::net::TcpListener {
    fn from(s: Socket) -> std::net::TcpListener {
        s.inner.into()
    }
}

/// The IP address and port of a received address, if it has one.
pub fn inet(a: &PeerAddr) -> Option<SocketAddr> {
    a.inet()
}
