//! Sockets of every family the reactor serves: TCP and UDP (IPv4, IPv6), and Unix stream,
//! datagram and seqpacket sockets.
//!
//! The reactor's read, write, accept and receive loops are the same for every family; these
//! enums put the IP and Unix sockets behind one face so that the loops are written once. Each
//! method here is one syscall (through mio, socket2 or `sys`), with no decision in it.

use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;
use std::path::PathBuf;

use crate::addr::unmap;
use crate::addr::{unix_addr, PeerAddr};
use crate::memnet::{MemListener, MemStream};

use std::os::fd::{AsFd, AsRawFd};

use mio::event::Source;
use mio::net::{TcpListener, TcpStream, UdpSocket, UnixDatagram, UnixListener, UnixStream};
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

/// A connected (or connecting) stream socket.
#[derive(Debug)]
pub(crate) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
    /// A Unix `SOCK_SEQPACKET` connection: reliable and ordered like a stream, but made of
    /// records, each read and written whole (mio has no type for it; the reactor registers
    /// its descriptor directly).
    Seqpacket(socket2::Socket),
    /// The server end of a connection in the simulation's in-memory network.
    Mem(MemStream),
}

impl Stream {
    pub(crate) fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.shutdown(how),
            Stream::Unix(s) => s.shutdown(how),
            Stream::Seqpacket(s) => s.shutdown(how),
            Stream::Mem(s) => s.shutdown_write(),
        }
    }

    pub(crate) fn take_error(&self) -> io::Result<Option<io::Error>> {
        match self {
            Stream::Tcp(s) => s.take_error(),
            Stream::Unix(s) => s.take_error(),
            Stream::Seqpacket(s) => s.take_error(),
            Stream::Mem(_) => Ok(None),
        }
    }

    pub(crate) fn peer_addr(&self) -> io::Result<PeerAddr> {
        match self {
            Stream::Tcp(s) => s.peer_addr().map(|a| PeerAddr::Inet(unmap(a))),
            Stream::Unix(s) => s.peer_addr().map(PeerAddr::Unix),
            Stream::Seqpacket(s) => unix_addr(s.peer_addr()?),
            Stream::Mem(s) => Ok(PeerAddr::Inet(s.peer_addr())),
        }
    }

    pub(crate) fn local_addr(&self) -> io::Result<PeerAddr> {
        match self {
            Stream::Tcp(s) => s.local_addr().map(|a| PeerAddr::Inet(unmap(a))),
            Stream::Unix(s) => s.local_addr().map(PeerAddr::Unix),
            Stream::Seqpacket(s) => unix_addr(s.local_addr()?),
            Stream::Mem(_) => Ok(PeerAddr::Inet(([127, 0, 0, 1], 0).into())),
        }
    }

    /// Turn Nagle's algorithm off (TCP only; a Unix socket has none).
    pub(crate) fn set_nodelay(&self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_nodelay(true),
            Stream::Unix(_) | Stream::Seqpacket(_) | Stream::Mem(_) => Ok(()),
        }
    }

    /// Can this connection carry descriptors (a Unix stream or seqpacket connection)?
    pub(crate) fn passes_fds(&self) -> bool {
        matches!(self, Stream::Unix(_) | Stream::Seqpacket(_))
    }

    /// Read like `read`, keeping descriptors that came with the bytes in `fds` (Unix
    /// connections; others read plainly). `cmsg` is scratch space for the control data,
    /// made on the first Unix read.
    pub(crate) fn read_fds(
        &mut self,
        buf: &mut [u8],
        cmsg: &mut Vec<u8>,
        fds: &mut Vec<std::os::fd::OwnedFd>,
    ) -> io::Result<usize> {
        // TCP first: the common case, one match.
        if let Stream::Tcp(s) = self {
            return crate::sys::direct::recv(s.as_fd(), buf);
        }
        if !self.passes_fds() {
            return self.read(buf);
        }
        if cmsg.is_empty() {
            *cmsg = crate::sys::fds_buffer();
            cmsg.resize(cmsg.capacity(), 0);
        }
        match self {
            Stream::Unix(s) => crate::sys::recv_with_fds(s, buf, cmsg, fds),
            Stream::Seqpacket(s) => crate::sys::recv_with_fds(s, buf, cmsg, fds),
            _ => self.read(buf),
        }
    }

    /// Write `bufs` with `fds` attached (see [`crate::sys::send_with_fds`]).
    pub(crate) fn send_with_fds(
        &mut self,
        bufs: &[IoSlice<'_>],
        fds: &[std::os::fd::RawFd],
    ) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => crate::sys::send_with_fds(s, bufs, fds),
            Stream::Seqpacket(s) => crate::sys::send_with_fds(s, bufs, fds),
            _ => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "only Unix connections pass descriptors",
            )),
        }
    }

    /// Is this a record (seqpacket) connection?
    pub(crate) fn is_records(&self) -> bool {
        matches!(self, Stream::Seqpacket(_))
    }

    /// Does a read that returns fewer bytes than asked for prove the socket drained? True of
    /// TCP: `tcp_recvmsg` copies all it has, up to the size asked, and any later byte raises
    /// a new edge (urgent data aside, which the event reports). Not of Unix streams, whose
    /// reads also stop short after a message carrying descriptors.
    pub(crate) fn short_read_drains(&self) -> bool {
        match self {
            Stream::Tcp(_) => true,
            Stream::Unix(_) | Stream::Seqpacket(_) => false,
            // TCP-like, unless the simulation injects short reads.
            Stream::Mem(s) => s.short_read_drains(),
        }
    }

    /// The length of the next record (a peek), for a record connection; `None` otherwise.
    pub(crate) fn next_record_len(&self) -> Option<io::Result<usize>> {
        match self {
            Stream::Seqpacket(s) => Some(crate::sys::next_record_len(s)),
            _ => None,
        }
    }

    /// After a record connection's read of 0 bytes: was that an empty record (the connection
    /// goes on) or the end of the stream? At the end, every later peek returns 0 at once;
    /// after an empty record with nothing behind it, a peek finds nothing (`WouldBlock`), and
    /// with more behind it, a non-empty record. (Two empty records in a row read as the end:
    /// a read cannot tell.)
    pub(crate) fn read_empty_record(&self) -> bool {
        match self.next_record_len() {
            Some(Ok(0)) | None => false,
            Some(Ok(_)) => true,
            Some(Err(e)) => e.kind() == io::ErrorKind::WouldBlock,
        }
    }
}

/// The simulation's in-memory sockets have no descriptor.
fn in_memory() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "a simulated socket has no descriptor",
    )
}

impl Stream {
    /// The socket, for options (keepalive, buffer sizes, ...).
    pub(crate) fn sock_ref(&self) -> io::Result<socket2::SockRef<'_>> {
        match self {
            Stream::Tcp(s) => Ok(s.into()),
            Stream::Unix(s) => Ok(s.into()),
            Stream::Seqpacket(s) => Ok(s.into()),
            Stream::Mem(_) => Err(in_memory()),
        }
    }
}

impl Listener {
    /// The socket, for options.
    pub(crate) fn sock_ref(&self) -> io::Result<socket2::SockRef<'_>> {
        match self {
            Listener::Tcp(l) => Ok(l.into()),
            Listener::Unix { sock, .. } => Ok(sock.into()),
            Listener::Seqpacket { sock, .. } => Ok(sock.into()),
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
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => crate::sys::direct::recv(s.as_fd(), buf),
            Stream::Unix(s) => s.read(buf),
            Stream::Seqpacket(s) => (&*s).read(buf),
            Stream::Mem(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => crate::sys::direct::send(s.as_fd(), buf),
            Stream::Unix(s) => s.write(buf),
            Stream::Seqpacket(s) => (&*s).write(buf),
            Stream::Mem(s) => s.write_vectored(&[IoSlice::new(buf)]),
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write_vectored(bufs),
            Stream::Unix(s) => s.write_vectored(bufs),
            Stream::Seqpacket(s) => (&*s).write_vectored(bufs),
            Stream::Mem(s) => s.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Source for Stream {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.register(r, t, i),
            Stream::Unix(s) => s.register(r, t, i),
            Stream::Seqpacket(s) => SourceFd(&s.as_raw_fd()).register(r, t, i),
            Stream::Mem(s) => {
                s.register(t);
                Ok(())
            }
        }
    }

    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.reregister(r, t, i),
            Stream::Unix(s) => s.reregister(r, t, i),
            Stream::Seqpacket(s) => SourceFd(&s.as_raw_fd()).reregister(r, t, i),
            Stream::Mem(s) => {
                s.register(t);
                Ok(())
            }
        }
    }

    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.deregister(r),
            Stream::Unix(s) => s.deregister(r),
            Stream::Seqpacket(s) => SourceFd(&s.as_raw_fd()).deregister(r),
            Stream::Mem(s) => {
                s.deregister();
                Ok(())
            }
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
    pub(crate) fn new(addr: &crate::addr::UnixAddr) -> Option<UnixFile> {
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
            Listener::Mem(l) => l.accept().map(|(s, a)| (Stream::Mem(s), PeerAddr::Inet(a))),
        }
    }

    pub(crate) fn local_addr(&self) -> io::Result<PeerAddr> {
        match self {
            Listener::Tcp(l) => l.local_addr().map(PeerAddr::Inet),
            Listener::Unix { sock: l, .. } => l.local_addr().map(PeerAddr::Unix),
            Listener::Seqpacket { sock, .. } => unix_addr(sock.local_addr()?),
            Listener::Mem(l) => Ok(PeerAddr::Inet(l.local_addr())),
        }
    }
}

impl Source for Listener {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => l.register(r, t, i),
            Listener::Unix { sock: l, .. } => l.register(r, t, i),
            Listener::Seqpacket { sock, .. } => SourceFd(&sock.as_raw_fd()).register(r, t, i),
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
}

fn unreachable_peer(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

impl Dgram {
    /// The size of the next datagram (a peek), where it can exceed the receive buffer (Unix
    /// datagrams, up to the sender's `SO_SNDBUF`); `None` for UDP, whose 64 KiB always fit.
    pub(crate) fn next_len(&self) -> Option<io::Result<usize>> {
        match self {
            Dgram::Unix { sock, .. } => Some(crate::sys::next_record_len(sock)),
            Dgram::Inet(_) => None,
        }
    }

    /// Does `WouldBlock` from `send_to` mean the *receiver's* queue is full (Unix datagrams),
    /// with no writable event to say when it drains?
    pub(crate) fn blocks_on_receiver(&self) -> bool {
        matches!(self, Dgram::Unix { .. })
    }

    pub(crate) fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, PeerAddr)> {
        match self {
            Dgram::Inet(s) => crate::sys::direct::recv_from(s.as_fd(), buf)
                .map(|(n, a)| (n, PeerAddr::Inet(unmap(a)))),
            Dgram::Unix { sock, .. } => sock.recv_from(buf).map(|(n, a)| (n, PeerAddr::Unix(a))),
        }
    }

    pub(crate) fn send_to(&self, buf: &[u8], peer: &PeerAddr) -> io::Result<usize> {
        match (self, peer) {
            (Dgram::Inet(s), PeerAddr::Inet(a)) => crate::sys::direct::send_to(s.as_fd(), buf, a),
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
            (Dgram::Inet(_), PeerAddr::Unix(_)) => Err(unreachable_peer(
                "an IP socket cannot send to a Unix address",
            )),
            (Dgram::Unix { .. }, PeerAddr::Inet(_)) => Err(unreachable_peer(
                "a Unix datagram socket cannot send to an IP address",
            )),
        }
    }

    pub(crate) fn local_addr(&self) -> io::Result<PeerAddr> {
        match self {
            Dgram::Inet(s) => s.local_addr().map(|a| PeerAddr::Inet(unmap(a))),
            Dgram::Unix { sock, .. } => sock.local_addr().map(PeerAddr::Unix),
        }
    }
}

impl Source for Dgram {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Dgram::Inet(s) => s.register(r, t, i),
            Dgram::Unix { sock, .. } => sock.register(r, t, i),
        }
    }

    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Dgram::Inet(s) => s.reregister(r, t, i),
            Dgram::Unix { sock, .. } => sock.reregister(r, t, i),
        }
    }

    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        match self {
            Dgram::Inet(s) => s.deregister(r),
            Dgram::Unix { sock, .. } => sock.deregister(r),
        }
    }
}
