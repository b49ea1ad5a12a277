//! Stream connections (TCP, Unix stream, Unix seqpacket): the [`Stream`] socket, and
//! [`StreamIo`], the socket as its connection makes its syscalls.
//!
//! The connection (`crate::conn::Conn`) decides every step and makes its syscalls through a
//! [`StreamIo`], this file's `conn::Transport`: a read (`recv`, or `recvmsg` with descriptors),
//! a vectored write (`writev`, or `sendmsg` where descriptors go), a direct write, FIN, and
//! the check that a connect finished. The core (`core/`) lends each step the socket, the
//! buffers and the budgets, and does what the step returns; the turn (`turn.rs`) calls the
//! handler.

use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use mio::event::Source;
use mio::net::{TcpStream, UnixStream};
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

use super::fds::{FdsOut, SendFds};
use super::tls::TlsSock;
use crate::addr::{unix_addr, unmap, PeerAddr, UnixAddr};
use crate::conn::Transport;
use crate::memnet::{MemStream, Net};
use crate::sys;

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
    /// A TCP connection carrying a TLS session (feature `tls`; `tls.rs`).
    Tls(Box<TlsSock>),
}

impl Stream {
    pub(crate) fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.shutdown(how),
            Stream::Unix(s) => s.shutdown(how),
            Stream::Seqpacket(s) => s.shutdown(how),
            Stream::Mem(s) => s.shutdown_write(),
            Stream::Tls(s) => s.tcp().shutdown(how),
        }
    }

    pub(crate) fn take_error(&self) -> io::Result<Option<io::Error>> {
        match self {
            Stream::Tcp(s) => s.take_error(),
            Stream::Unix(s) => s.take_error(),
            Stream::Seqpacket(s) => s.take_error(),
            Stream::Mem(s) => Ok(s.take_error()),
            Stream::Tls(s) => s.tcp().take_error(),
        }
    }

    pub(crate) fn peer_addr(&self) -> io::Result<PeerAddr> {
        match self {
            Stream::Tcp(s) => s.peer_addr().map(|a| PeerAddr::Inet(unmap(a))),
            Stream::Unix(s) => s.peer_addr().map(PeerAddr::Unix),
            Stream::Seqpacket(s) => unix_addr(s.peer_addr()?),
            Stream::Mem(s) => s.peer_addr(),
            Stream::Tls(s) => s.tcp().peer_addr().map(|a| PeerAddr::Inet(unmap(a))),
        }
    }

    pub(crate) fn local_addr(&self) -> io::Result<PeerAddr> {
        match self {
            Stream::Tcp(s) => s.local_addr().map(|a| PeerAddr::Inet(unmap(a))),
            Stream::Unix(s) => s.local_addr().map(PeerAddr::Unix),
            Stream::Seqpacket(s) => unix_addr(s.local_addr()?),
            Stream::Mem(s) => s.local_addr(),
            Stream::Tls(s) => s.tcp().local_addr().map(|a| PeerAddr::Inet(unmap(a))),
        }
    }

    /// Turn Nagle's algorithm off (TCP only; a Unix socket has none).
    pub(crate) fn set_nodelay(&self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_nodelay(true),
            Stream::Tls(s) => s.tcp().set_nodelay(true),
            Stream::Unix(_) | Stream::Seqpacket(_) | Stream::Mem(_) => Ok(()),
        }
    }

    /// Can this connection carry descriptors (a Unix stream or seqpacket connection)?
    pub(crate) fn passes_fds(&self) -> bool {
        match self {
            Stream::Unix(_) | Stream::Seqpacket(_) => true,
            Stream::Tcp(_) | Stream::Tls(_) => false,
            Stream::Mem(s) => s.kind().is_unix(),
        }
    }

    /// Read like `read`, keeping descriptors that came with the bytes in `fds` (Unix
    /// connections; others read plainly). `cmsg` is scratch space for the control data,
    /// made on the first Unix read.
    #[inline]
    pub(crate) fn read_fds(
        &mut self,
        buf: &mut [u8],
        cmsg: &mut Vec<u8>,
        fds: &mut Vec<std::os::fd::OwnedFd>,
    ) -> io::Result<usize> {
        // TCP first: the common case, one match, inlined; the rest is outlined.
        if let Stream::Tcp(s) = self {
            return crate::sys::direct::recv(s.as_fd(), buf);
        }
        self.read_other(buf, cmsg, fds)
    }

    /// [`read_fds`](Stream::read_fds) of every kind but TCP.
    #[inline(never)]
    fn read_other(
        &mut self,
        buf: &mut [u8],
        cmsg: &mut Vec<u8>,
        fds: &mut Vec<std::os::fd::OwnedFd>,
    ) -> io::Result<usize> {
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
            // The simulation's network plays the kernel's `recvmsg`, laying the descriptors
            // out as Linux does; the same parse takes them.
            Stream::Mem(s) => {
                let (n, len, truncated) = s.recvmsg(buf, cmsg)?;
                crate::sys::take_rights(&mut cmsg[..len], truncated, fds)?;
                Ok(n)
            }
            Stream::Tcp(_) | Stream::Tls(_) => self.read(buf),
        }
    }

    /// Is this a record (seqpacket) connection?
    pub(crate) fn is_records(&self) -> bool {
        match self {
            Stream::Seqpacket(_) => true,
            Stream::Mem(s) => s.kind() == crate::memnet::Kind::Seqpacket,
            _ => false,
        }
    }

    /// Does a read that returns fewer bytes than asked for prove the socket drained? True of
    /// TCP: `tcp_recvmsg` copies all it has, up to the size asked, and any later byte raises
    /// a new edge (urgent data aside, which the event reports). Not of Unix streams, whose
    /// reads also stop short after a message carrying descriptors.
    #[inline]
    pub(crate) fn short_read_drains(&self) -> bool {
        match self {
            Stream::Tcp(_) => true,
            // A TLS read returns a record's plaintext: more records may wait behind it.
            Stream::Unix(_) | Stream::Seqpacket(_) | Stream::Tls(_) => false,
            // TCP-like, unless the simulation injects short reads.
            Stream::Mem(s) => s.short_read_drains(),
        }
    }

    /// The length of the next record (a peek), for a record connection; `None` otherwise.
    #[inline]
    pub(crate) fn next_record_len(&self) -> Option<io::Result<usize>> {
        match self {
            Stream::Tcp(_) => None,
            Stream::Seqpacket(s) => Some(crate::sys::next_record_len(s)),
            Stream::Mem(s) if s.kind() == crate::memnet::Kind::Seqpacket => Some(s.record_len()),
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

impl Stream {
    /// Close the socket, `clean` (an orderly end) or not: a TLS session says `close_notify`
    /// on an orderly end only (see `TlsSock::finish`); the others just close.
    pub(crate) fn finish(self, clean: bool) {
        if let Stream::Tls(s) = self {
            s.finish(clean);
        }
    }

    /// A TCP connection to `addr`, under way.
    pub(crate) fn connect(addr: SocketAddr) -> io::Result<Stream> {
        Ok(Stream::Tcp(TcpStream::connect(addr)?))
    }

    /// This stream, adopted by a reactor whose simulated network handle is `net`: an
    /// in-memory stream then registers in that reactor's poll set (a real one needs nothing).
    pub(crate) fn adopted(self, net: Option<&Net>) -> Stream {
        match (self, net) {
            (Stream::Mem(s), Some(net)) => Stream::Mem(s.moved_to(net)),
            (other, _) => other,
        }
    }

    /// A TCP socket whose non-blocking connect has finished (a dial's winner).
    pub(crate) fn connected(fd: OwnedFd) -> Stream {
        Stream::Tcp(TcpStream::from_std(std::net::TcpStream::from(fd)))
    }

    /// A TCP connection to `addr` from the local address `local`, under way.
    pub(crate) fn connect_from(local: SocketAddr, addr: SocketAddr) -> io::Result<Stream> {
        Ok(Stream::Tcp(TcpStream::from_std(sys::tcp_connect_from(
            local, addr,
        )?)))
    }

    /// A Unix stream connection to `addr`.
    pub(crate) fn connect_unix(addr: &UnixAddr) -> io::Result<Stream> {
        let sock = sys::unix_connect(&addr.to_sockaddr()?)?;
        Ok(Stream::Unix(UnixStream::from_std(sock)))
    }

    /// A Unix seqpacket connection to `addr` (connected already: a Unix connect does not go
    /// on in the background; `on_connect` still comes first, with the writable event).
    pub(crate) fn connect_seqpacket(addr: &UnixAddr) -> io::Result<Stream> {
        Ok(Stream::Seqpacket(sys::unix_seqpacket_connect(
            &addr.to_sockaddr()?,
        )?))
    }

    /// A connected Unix stream made elsewhere (made non-blocking here).
    pub(crate) fn from_std_unix(sock: std::os::unix::net::UnixStream) -> io::Result<Stream> {
        sock.set_nonblocking(true)?;
        Ok(Stream::Unix(UnixStream::from_std(sock)))
    }

    /// A connected Unix seqpacket socket made elsewhere (made non-blocking here).
    pub(crate) fn from_seqpacket(sock: socket2::Socket) -> io::Result<Stream> {
        sock.set_nonblocking(true)?;
        Ok(Stream::Seqpacket(sock))
    }

    /// Our own duplicates (close-on-exec) of `fds`, to be sent with the first byte of
    /// `data` on this connection. Made before anything is queued: if this fails (`EMFILE`)
    /// or the queue refuses the bytes, the caller's descriptors are untouched.
    pub(crate) fn dup_fds_for(
        &self,
        data: &[u8],
        fds: &[BorrowedFd<'_>],
    ) -> io::Result<Vec<OwnedFd>> {
        let invalid = |msg: String| io::Error::new(io::ErrorKind::InvalidInput, msg);
        if data.is_empty() {
            return Err(invalid(
                "descriptors must travel with at least one byte".into(),
            ));
        }
        if fds.len() > sys::MAX_FDS {
            return Err(invalid(format!(
                "{} descriptors in one write: at most {}",
                fds.len(),
                sys::MAX_FDS
            )));
        }
        if !self.passes_fds() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "only Unix stream and seqpacket connections pass descriptors",
            ));
        }
        fds.iter().map(|fd| fd.try_clone_to_owned()).collect()
    }

    /// Has an outgoing connect finished? `Ok` if it has, `NotConnected` if it is still under
    /// way, any other error if it failed.
    pub(crate) fn connect_result(&self) -> io::Result<()> {
        match self.take_error() {
            Ok(Some(e)) | Err(e) => Err(e),
            // Writable with no error can still be a connect that has not finished on some
            // systems; `peer_addr` tells (mio's documented check).
            Ok(None) => self.peer_addr().map(|_| ()),
        }
    }
}

/// A connection's socket as its `Conn` sees it for one step (`conn::Transport`): the socket,
/// the scratch space for descriptors that come with a read (Unix connections), and the
/// descriptors waiting to go with the queued output.
pub(crate) struct StreamIo<'a> {
    sock: &'a mut Stream,
    fds_in: Option<(&'a mut Vec<u8>, &'a mut Vec<OwnedFd>)>,
    fds_out: Option<&'a mut FdsOut>,
}

impl<'a> StreamIo<'a> {
    /// `sock`, with no descriptors in either direction.
    #[inline]
    pub(crate) fn new(sock: &'a mut Stream) -> StreamIo<'a> {
        StreamIo {
            sock,
            fds_in: None,
            fds_out: None,
        }
    }

    /// Keep descriptors received with the bytes in `fds` (`cmsg`: space for the control
    /// data, made on the first Unix read).
    #[inline]
    pub(crate) fn receiving(mut self, cmsg: &'a mut Vec<u8>, fds: &'a mut Vec<OwnedFd>) -> Self {
        self.fds_in = Some((cmsg, fds));
        self
    }

    /// Send `out`'s descriptors with the output where they go.
    #[inline]
    pub(crate) fn sending(mut self, out: Option<&'a mut FdsOut>) -> Self {
        self.fds_out = out;
        self
    }
}

impl Transport for StreamIo<'_> {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.fds_in {
            Some((cmsg, fds)) => self.sock.read_fds(buf, cmsg, fds),
            None => self.sock.read(buf),
        }
    }

    #[inline]
    fn record_len(&mut self) -> Option<io::Result<usize>> {
        self.sock.next_record_len()
    }

    fn empty_record(&mut self) -> bool {
        self.sock.read_empty_record()
    }

    #[inline]
    fn short_read_drains(&self) -> bool {
        self.sock.short_read_drains()
    }

    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sock.write(buf)
    }

    #[inline]
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        // Descriptors to send are rare: one check for everyone else.
        match self.fds_out.as_deref_mut().filter(|out| !out.is_done()) {
            None => self.sock.write_vectored(bufs),
            Some(out) => out.write(self.sock, bufs),
        }
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        match &mut *self.sock {
            // close_notify first, FIN when its record is out.
            Stream::Tls(s) => s.shutdown_write(),
            _ => self.sock.shutdown(Shutdown::Write),
        }
    }

    fn connect_result(&mut self) -> io::Result<()> {
        self.sock.connect_result()
    }

    #[inline]
    fn pending(&self) -> bool {
        matches!(&*self.sock, Stream::Tls(s) if s.pending())
    }

    #[inline]
    fn handshaking(&self) -> bool {
        matches!(&*self.sock, Stream::Tls(s) if s.handshaking())
    }

    #[inline]
    fn flush_pending(&mut self) -> io::Result<()> {
        match &mut *self.sock {
            Stream::Tls(s) => s.flush_pending(),
            _ => Ok(()),
        }
    }
}

/// The simulation's in-memory sockets have no descriptor.
pub(crate) fn in_memory() -> io::Error {
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
            Stream::Tls(s) => Ok(s.tcp().into()),
            Stream::Mem(_) => Err(in_memory()),
        }
    }
}

/// See [`crate::sys::send_with_fds`].
impl SendFds for Stream {
    fn send_with_fds(
        &mut self,
        bufs: &[IoSlice<'_>],
        fds: &[std::os::fd::RawFd],
    ) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => crate::sys::send_with_fds(s, bufs, fds),
            Stream::Seqpacket(s) => crate::sys::send_with_fds(s, bufs, fds),
            Stream::Mem(s) => s.send_with_fds(bufs, fds),
            Stream::Tcp(_) | Stream::Tls(_) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "only Unix connections pass descriptors",
            )),
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
            Stream::Tls(s) => s.read(buf),
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
            Stream::Tls(s) => s.write_vectored(&[IoSlice::new(buf)]),
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write_vectored(bufs),
            Stream::Unix(s) => s.write_vectored(bufs),
            Stream::Seqpacket(s) => (&*s).write_vectored(bufs),
            Stream::Mem(s) => s.write_vectored(bufs),
            Stream::Tls(s) => s.write_vectored(bufs),
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
            Stream::Tls(s) => s.tcp_mut().register(r, t, i),
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
            Stream::Tls(s) => s.tcp_mut().reregister(r, t, i),
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
            Stream::Tls(s) => s.tcp_mut().deregister(r),
        }
    }
}
