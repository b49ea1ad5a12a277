//! Listening and datagram sockets of every family the reactor serves: TCP and UDP (IPv4,
//! IPv6), Unix stream, datagram and seqpacket sockets (connections are `stream.rs`'s).
//!
//! The reactor's accept and receive loops are the same for every family; these enums put the
//! IP and Unix sockets behind one face so that the loops are written once. Each method here
//! is one syscall (through mio, socket2 or `sys`), with no decision in it.

use std::io;
use std::path::PathBuf;

use super::stream::{in_memory, Stream};
use super::tls::TlsListener;
use crate::addr::unmap;
use crate::addr::{unix_addr, PeerAddr, UnixAddr};
use crate::memnet::{MemDgram, MemListener};
use crate::sys::{self, ListenOptions, UnixListenOptions};

use std::os::fd::{AsFd, AsRawFd};

use mio::event::Source;
use mio::net::{TcpListener, UdpSocket, UnixDatagram, UnixListener};
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

impl Listener {
    /// The socket, for options.
    pub(crate) fn sock_ref(&self) -> io::Result<socket2::SockRef<'_>> {
        match self {
            Listener::Tcp(l) => Ok(l.into()),
            Listener::Unix { sock, .. } => Ok(sock.into()),
            Listener::Seqpacket { sock, .. } => Ok(sock.into()),
            Listener::Tls(l) => Ok(l.tcp().into()),
            Listener::Mem(_) => Err(in_memory()),
        }
    }
}

impl Dgram {
    /// The socket, for options.
    pub(crate) fn sock_ref(&self) -> io::Result<socket2::SockRef<'_>> {
        match self {
            Dgram::Inet(s) => Ok(s.into()),
            Dgram::Unix { sock, .. } => Ok(sock.into()),
            Dgram::Mem(_) => Err(in_memory()),
        }
    }
}

/// A listening stream socket. A Unix listener removes its socket file when dropped.
#[derive(Debug)]
pub(crate) enum Listener {
    Tcp(TcpListener),
    /// `_file` is held only for its `Drop`, which removes the socket file.
    Unix {
        sock: UnixListener,
        _file: Option<UnixFile>,
    },
    /// A Unix `SOCK_SEQPACKET` listener.
    Seqpacket {
        sock: socket2::Socket,
        _file: Option<UnixFile>,
    },
    /// A listener in the simulation's in-memory network.
    Mem(MemListener),
    /// A TCP listener whose connections speak TLS (feature `tls`; without it, an empty type).
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    Tls(TlsListener),
}

/// The file a Unix socket is bound to, removed when the socket goes away (the reactor closes
/// it, the server shuts down, or the reactor is dropped), but only if it is still the file
/// this socket made: its device and inode are recorded at bind, so a file that someone else
/// has since put at the path is left alone.
#[derive(Debug)]
pub(crate) struct UnixFile {
    path: PathBuf,
    identity: Option<(u64, u64)>,
}

impl UnixFile {
    /// Record the socket file just bound at `addr`; `None` for an abstract name, which is
    /// no file.
    pub(crate) fn new(addr: &UnixAddr) -> Option<UnixFile> {
        addr.as_path().map(UnixFile::at)
    }

    fn at(path: &std::path::Path) -> UnixFile {
        use std::os::unix::fs::MetadataExt;
        // An absolute path, so that a later chdir does not make us remove something else.
        let path = match std::env::current_dir() {
            Ok(dir) if path.is_relative() => dir.join(path),
            _ => path.to_path_buf(),
        };
        let identity = std::fs::symlink_metadata(&path)
            .ok()
            .map(|m| (m.dev(), m.ino()));
        UnixFile { path, identity }
    }
}

impl Drop for UnixFile {
    fn drop(&mut self) {
        use std::os::unix::fs::MetadataExt;
        let now = std::fs::symlink_metadata(&self.path)
            .ok()
            .map(|m| (m.dev(), m.ino()));
        if now.is_none() || now != self.identity {
            log::debug!(
                "{}: not our socket file any more; left alone",
                self.path.display()
            );
            return;
        }
        if let Err(e) = std::fs::remove_file(&self.path) {
            log::warn!("could not remove {}: {e}", self.path.display());
        }
    }
}

impl Listener {
    /// A TCP listener on `addr`, configured by `opts`.
    pub(crate) fn tcp(addr: std::net::SocketAddr, opts: &ListenOptions) -> io::Result<Listener> {
        Ok(Listener::Tcp(TcpListener::from_std(sys::tcp_listener(
            addr, opts,
        )?)))
    }

    /// A TCP listener on `addr` whose connections speak TLS with `config`'s certificate.
    #[cfg(feature = "tls")]
    pub(crate) fn tls(
        addr: std::net::SocketAddr,
        opts: &ListenOptions,
        config: std::sync::Arc<rustls::ServerConfig>,
    ) -> io::Result<Listener> {
        let tcp = TcpListener::from_std(sys::tcp_listener(addr, opts)?);
        Ok(Listener::Tls(TlsListener::new(tcp, config)))
    }

    /// A TLS listener over a TCP listener made elsewhere (made non-blocking here).
    #[cfg(feature = "tls")]
    pub(crate) fn tls_from_std(
        sock: std::net::TcpListener,
        config: std::sync::Arc<rustls::ServerConfig>,
    ) -> io::Result<Listener> {
        must_listen(&sock)?;
        sock.set_nonblocking(true)?;
        Ok(Listener::Tls(TlsListener::new(
            TcpListener::from_std(sock),
            config,
        )))
    }

    /// A TCP listener made elsewhere (made non-blocking here).
    pub(crate) fn from_std(sock: std::net::TcpListener) -> io::Result<Listener> {
        must_listen(&sock)?;
        sock.set_nonblocking(true)?;
        Ok(Listener::Tcp(TcpListener::from_std(sock)))
    }

    /// A Unix stream listener made elsewhere (made non-blocking here). Its file, if any, is
    /// not ours to remove.
    pub(crate) fn from_std_unix(sock: std::os::unix::net::UnixListener) -> io::Result<Listener> {
        must_listen(&sock)?;
        sock.set_nonblocking(true)?;
        Ok(Listener::Unix {
            sock: UnixListener::from_std(sock),
            _file: None,
        })
    }

    /// A Unix stream listener bound to `addr`; its socket file is removed when it goes, even
    /// on error from here on.
    pub(crate) fn unix(addr: &UnixAddr, opts: &UnixListenOptions) -> io::Result<Listener> {
        let sock = UnixListener::from_std(sys::unix_listener(&addr.to_sockaddr()?, opts)?);
        let _file = UnixFile::new(addr);
        Ok(Listener::Unix { sock, _file })
    }

    /// A Unix seqpacket listener bound to `addr`.
    pub(crate) fn seqpacket(addr: &UnixAddr, opts: &UnixListenOptions) -> io::Result<Listener> {
        let sock = sys::unix_seqpacket_listener(&addr.to_sockaddr()?, opts)?;
        let _file = UnixFile::new(addr);
        Ok(Listener::Seqpacket { sock, _file })
    }

    pub(crate) fn accept(&self) -> io::Result<(Stream, PeerAddr)> {
        match self {
            Listener::Tcp(l) => l
                .accept()
                .map(|(s, a)| (Stream::Tcp(s), PeerAddr::Inet(unmap(a)))),
            Listener::Unix { sock: l, .. } => {
                let (s, a) = l.accept()?;
                // mio's accept reports an abstract peer as unnamed; getpeername does not
                // (one more syscall, only when the peer is not a plain path).
                let a = match a.as_pathname() {
                    Some(_) => a,
                    None => s.peer_addr().unwrap_or(a),
                };
                Ok((Stream::Unix(s), PeerAddr::Unix(a)))
            }
            Listener::Seqpacket { sock, .. } => {
                let (s, a) = sock.accept()?;
                s.set_nonblocking(true)?;
                Ok((Stream::Seqpacket(s), unix_addr(a)?))
            }
            Listener::Mem(l) => l.accept().map(|(s, a)| (Stream::Mem(s), a)),
            Listener::Tls(l) => l
                .accept()
                .map(|(s, a)| (Stream::Tls(Box::new(s)), PeerAddr::Inet(unmap(a)))),
        }
    }

    pub(crate) fn local_addr(&self) -> io::Result<PeerAddr> {
        match self {
            Listener::Tcp(l) => l.local_addr().map(PeerAddr::Inet),
            Listener::Unix { sock: l, .. } => l.local_addr().map(PeerAddr::Unix),
            Listener::Seqpacket { sock, .. } => unix_addr(sock.local_addr()?),
            Listener::Mem(l) => l.local_addr(),
            Listener::Tls(l) => l.tcp().local_addr().map(PeerAddr::Inet),
        }
    }
}

impl Source for Listener {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => l.register(r, t, i),
            Listener::Unix { sock: l, .. } => l.register(r, t, i),
            Listener::Seqpacket { sock, .. } => SourceFd(&sock.as_raw_fd()).register(r, t, i),
            Listener::Tls(l) => l.tcp_mut().register(r, t, i),
            Listener::Mem(l) => {
                l.register(t);
                Ok(())
            }
        }
    }

    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => l.reregister(r, t, i),
            Listener::Unix { sock: l, .. } => l.reregister(r, t, i),
            Listener::Seqpacket { sock, .. } => SourceFd(&sock.as_raw_fd()).reregister(r, t, i),
            Listener::Tls(l) => l.tcp_mut().reregister(r, t, i),
            Listener::Mem(l) => {
                l.register(t);
                Ok(())
            }
        }
    }

    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => l.deregister(r),
            Listener::Unix { sock: l, .. } => l.deregister(r),
            Listener::Seqpacket { sock, .. } => SourceFd(&sock.as_raw_fd()).deregister(r),
            Listener::Tls(l) => l.tcp_mut().deregister(r),
            Listener::Mem(l) => {
                l.deregister();
                Ok(())
            }
        }
    }
}

/// A datagram socket: UDP, ICMP, or Unix datagram (which removes its socket file when dropped).
#[derive(Debug)]
pub(crate) enum Dgram {
    /// Any IPv4 or IPv6 socket read with `recvfrom` and written with `sendto`: UDP, and the
    /// ICMP datagram and raw sockets of [`raw`](crate::raw). mio's `UdpSocket` is a thin
    /// wrapper around the descriptor that makes exactly those calls, whatever the protocol.
    Inet(UdpSocket),
    /// `_file` is held only for its `Drop`, which removes the socket file.
    Unix {
        sock: UnixDatagram,
        _file: Option<UnixFile>,
    },
    /// The simulation's: a socket of its in-memory network (IP addresses, UDP's rules).
    Mem(MemDgram),
}

/// Where a batch of datagrams is received from and sent to (`recvmmsg`, `sendmmsg`): an IP
/// socket's descriptor, or a simulated one, whose network plays the kernel's side of both
/// calls (so that what the reactor does with a batch runs in the simulation too).
#[derive(Clone, Debug)]
pub(crate) enum BatchPort {
    /// A descriptor, and whether its sends use UDP segmentation offload (`sys::offload`).
    Fd(std::os::fd::RawFd, bool),
    Mem(crate::memnet::MemPort),
}

impl BatchPort {
    /// Receive up to the batch's size (`RecvBatch::recv`).
    pub(crate) fn recv(&self, batch: &mut sys::RecvBatch) -> io::Result<usize> {
        match self {
            BatchPort::Fd(fd, _) => batch.recv(*fd),
            BatchPort::Mem(p) => p.recv_batch(batch),
        }
    }

    /// Send `batch`'s datagrams from `from` (`SendBatch::send`): how many went, how many of
    /// those in segmented runs, and the error that stopped it.
    pub(crate) fn send(
        &self,
        batch: &sys::SendBatch,
        from: usize,
    ) -> (usize, usize, Option<io::Error>) {
        match self {
            BatchPort::Fd(fd, gso) => batch.send(*fd, from, *gso),
            BatchPort::Mem(p) => {
                let (sent, err) = p.send_batch(batch, from);
                (sent, 0, err)
            }
        }
    }
}

fn unreachable_peer(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

impl Dgram {
    /// Turn the kernel's UDP offload on where it offers it (`sys::offload::enable`): whether
    /// sends may use segmentation offload. Only for a UDP socket.
    pub(crate) fn enable_offload(&self) -> bool {
        match self {
            Dgram::Inet(s) => sys::offload::enable(s.as_raw_fd()).1,
            Dgram::Unix { .. } | Dgram::Mem(_) => false,
        }
    }

    /// A UDP socket bound to `addr`, configured by `opts`.
    pub(crate) fn udp(addr: std::net::SocketAddr, opts: &ListenOptions) -> io::Result<Dgram> {
        Dgram::from_std_udp(sys::udp_socket(addr, opts)?)
    }

    /// A UDP (or ICMP) socket made elsewhere (made non-blocking here).
    pub(crate) fn from_std_udp(sock: std::net::UdpSocket) -> io::Result<Dgram> {
        sock.set_nonblocking(true)?;
        Ok(Dgram::Inet(UdpSocket::from_std(sock)))
    }

    /// A Unix datagram socket bound to `addr`.
    pub(crate) fn unix(addr: &UnixAddr, opts: &UnixListenOptions) -> io::Result<Dgram> {
        let sock = UnixDatagram::from_std(sys::unix_datagram(&addr.to_sockaddr()?, opts)?);
        let _file = UnixFile::new(addr);
        Ok(Dgram::Unix { sock, _file })
    }

    /// A Unix datagram socket made elsewhere (made non-blocking here).
    pub(crate) fn from_std_unix(sock: std::os::unix::net::UnixDatagram) -> io::Result<Dgram> {
        sock.set_nonblocking(true)?;
        Ok(Dgram::Unix {
            sock: UnixDatagram::from_std(sock),
            _file: None,
        })
    }

    /// The port for batched calls of an IP socket (its sends with segmentation offload if
    /// `gso`); `None` for a Unix one.
    pub(crate) fn batch_port(&self, gso: bool) -> Option<BatchPort> {
        match self {
            Dgram::Inet(s) => Some(BatchPort::Fd(s.as_raw_fd(), gso)),
            Dgram::Mem(s) if !s.is_unix() => Some(BatchPort::Mem(s.port())),
            Dgram::Unix { .. } | Dgram::Mem(_) => None,
        }
    }

    /// The size of the next datagram (a peek), where it can exceed the receive buffer (Unix
    /// datagrams, up to the sender's `SO_SNDBUF`); `None` for UDP, whose 64 KiB always fit.
    pub(crate) fn next_len(&self) -> Option<io::Result<usize>> {
        match self {
            Dgram::Unix { sock, .. } => Some(crate::sys::next_record_len(sock)),
            Dgram::Inet(_) | Dgram::Mem(_) => None,
        }
    }

    /// Does `WouldBlock` from `send_to` mean the *receiver's* queue is full (Unix datagrams),
    /// with no writable event to say when it drains?
    pub(crate) fn blocks_on_receiver(&self) -> bool {
        match self {
            Dgram::Unix { .. } => true,
            Dgram::Mem(s) => s.is_unix(),
            Dgram::Inet(_) => false,
        }
    }

    /// Receive one datagram into `buf`, its sender into `peer` (written in place: a
    /// `PeerAddr` is large, and this is the hot path of every datagram service).
    #[inline]
    pub(crate) fn recv_from(&self, buf: &mut [u8], peer: &mut PeerAddr) -> io::Result<usize> {
        // IP first, and alone: the other kinds are kept out of this hot path.
        let Dgram::Inet(s) = self else {
            return self.recv_from_other(buf, peer);
        };
        crate::sys::direct::recv_from(s.as_fd(), buf).map(|(n, a)| {
            *peer = PeerAddr::Inet(unmap(a));
            n
        })
    }

    /// [`recv_from`](Dgram::recv_from) for a Unix or simulated socket.
    #[inline(never)]
    fn recv_from_other(&self, buf: &mut [u8], peer: &mut PeerAddr) -> io::Result<usize> {
        let (n, from) = match self {
            Dgram::Unix { sock, .. } => sock.recv_from(buf).map(|(n, a)| (n, PeerAddr::Unix(a)))?,
            Dgram::Mem(s) => s.recv_from(buf)?,
            Dgram::Inet(s) => crate::sys::direct::recv_from(s.as_fd(), buf)
                .map(|(n, a)| (n, PeerAddr::Inet(unmap(a))))?,
        };
        *peer = from;
        Ok(n)
    }

    #[inline]
    pub(crate) fn send_to(&self, buf: &[u8], peer: &PeerAddr) -> io::Result<usize> {
        // IP to IP first, and alone: the rest is kept out of this hot path.
        match (self, peer) {
            (Dgram::Inet(s), PeerAddr::Inet(a)) => crate::sys::direct::send_to(s.as_fd(), buf, a),
            _ => self.send_to_other(buf, peer),
        }
    }

    /// [`send_to`](Dgram::send_to) for a Unix or simulated socket, or a mismatched address.
    #[inline(never)]
    fn send_to_other(&self, buf: &[u8], peer: &PeerAddr) -> io::Result<usize> {
        match (self, peer) {
            (Dgram::Unix { sock, .. }, PeerAddr::Unix(a)) => {
                use std::os::linux::net::SocketAddrExt;
                if let Some(path) = a.as_pathname() {
                    sock.send_to(buf, path)
                } else if let Some(name) = a.as_abstract_name() {
                    let to = crate::addr::UnixAddr::abstract_name(name).to_sockaddr()?;
                    socket2::SockRef::from(sock).send_to(buf, &to)
                } else {
                    // An unnamed peer can only be reached through a connected socket (the
                    // two ends of a socketpair); otherwise this fails with ENOTCONN.
                    sock.send(buf).map_err(|e| match e.raw_os_error() {
                        Some(crate::sys::ENOTCONN) => unreachable_peer(
                            "the peer's Unix socket is unnamed (bound to no path or name): nowhere to send",
                        ),
                        _ => e,
                    })
                }
            }
            (Dgram::Mem(s), peer) => s.send_to(buf, peer),
            (Dgram::Inet(_), PeerAddr::Unix(_)) => Err(unreachable_peer(
                "an IP socket cannot send to a Unix address",
            )),
            (Dgram::Unix { .. }, PeerAddr::Inet(_)) => Err(unreachable_peer(
                "a Unix datagram socket cannot send to an IP address",
            )),
            (Dgram::Inet(s), PeerAddr::Inet(a)) => crate::sys::direct::send_to(s.as_fd(), buf, a),
        }
    }

    pub(crate) fn local_addr(&self) -> io::Result<PeerAddr> {
        match self {
            Dgram::Inet(s) => s.local_addr().map(|a| PeerAddr::Inet(unmap(a))),
            Dgram::Unix { sock, .. } => sock.local_addr().map(PeerAddr::Unix),
            Dgram::Mem(s) => s.local_addr(),
        }
    }
}

impl Source for Dgram {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Dgram::Inet(s) => s.register(r, t, i),
            Dgram::Unix { sock, .. } => sock.register(r, t, i),
            Dgram::Mem(s) => {
                s.register(t);
                Ok(())
            }
        }
    }

    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Dgram::Inet(s) => s.reregister(r, t, i),
            Dgram::Unix { sock, .. } => sock.reregister(r, t, i),
            Dgram::Mem(s) => {
                s.register(t);
                Ok(())
            }
        }
    }

    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        match self {
            Dgram::Inet(s) => s.deregister(r),
            Dgram::Unix { sock, .. } => sock.deregister(r),
            Dgram::Mem(s) => {
                s.deregister();
                Ok(())
            }
        }
    }
}

/// A socket handed over as a listener must be listening (`SO_ACCEPTCONN`): a connected one
/// (from a service manager's `Accept=yes`, say) would fail every `accept` with `EINVAL`.
fn must_listen(sock: &impl std::os::fd::AsFd) -> io::Result<()> {
    if socket2::SockRef::from(sock).is_listener()? {
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        "the socket handed over is not listening",
    ))
}
