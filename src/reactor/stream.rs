//! Stream connections (TCP, Unix stream, Unix seqpacket): the [`Stream`] socket, and the
//! steps that carry out its connection's decisions.
//!
//! A step asks the connection (`crate::conn::Conn`) what to do, makes the syscall, and tells
//! the connection what happened: [`Stream::read_once`] (room, `recv`, commit),
//! [`Stream::flush`] (the queued slices, `writev`, what comes next), [`Stream::write_direct`]
//! (a write made at once when nothing is queued ahead of it). The core (`core/`) lends each
//! step the buffers and budgets it needs and does what the step returns; the turn (`turn.rs`)
//! calls the handler.

use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::Instant;

use log::{log_enabled, Level};
use mio::event::Source;
use mio::net::{TcpStream, UnixStream};
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

use super::fds::{FdsOut, SendFds};
use crate::addr::{unix_addr, unmap, PeerAddr, UnixAddr};
use crate::buf::{BufPool, MAX_IOVECS};
use crate::conn::{Budget, Conn, Flushed, Input, InputStep, NoRoom, ReadMode};
use crate::error::CloseReason;
use crate::memnet::MemStream;
use crate::sys;

/// What [`Stream::read_once`] lends the read besides the connection.
pub(crate) struct ReadSpace<'a> {
    pub(crate) pool: &'a mut BufPool,
    pub(crate) budget: &'a mut Budget,
    /// `Config::max_read_buffer`.
    pub(crate) limit: usize,
    /// Scratch space for control data (descriptors), and the descriptors received.
    pub(crate) cmsg: &'a mut Vec<u8>,
    pub(crate) fds_in: &'a mut Vec<OwnedFd>,
}

/// What one read did (see [`Stream::read_once`]).
pub(crate) enum ReadOnce {
    /// No read was made and none should be: the connection takes no input now.
    Stop,
    /// Over the input budget: the bytes wait in the kernel until the budget admits this
    /// connection again.
    WaitForBudget,
    /// A read was made (or failed); the connection judged it.
    Read {
        step: InputStep,
        /// Bytes read.
        got: usize,
        /// What the read costs the turn's read budget.
        cost: usize,
        /// The read proved the socket drained: no need to read again until the next event.
        drained: bool,
    },
}

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

impl Stream {
    /// A TCP connection to `addr`, under way.
    pub(crate) fn connect(addr: SocketAddr) -> io::Result<Stream> {
        Ok(Stream::Tcp(TcpStream::connect(addr)?))
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

    /// Log the close of the connection `conn` (its id, as the handler knows it) on this
    /// socket: at debug level for the ordinary ends, at info level for the others.
    pub(crate) fn log_close(&self, conn: impl std::fmt::Display, reason: &CloseReason) {
        let level = match reason {
            CloseReason::PeerClosed | CloseReason::Local | CloseReason::Reset => Level::Debug,
            _ => Level::Info,
        };
        if log_enabled!(level) {
            let peer = match self.peer_addr() {
                Ok(p) => p.to_string(),
                Err(_) => "an unknown peer".to_owned(),
            };
            log::log!(level, "{conn} with {peer} closed: {reason}");
        }
    }

    /// One read for `conn`: ask it for room, read, tell it what came. `hup`: the event also
    /// reported the peer's end of file, an error or urgent data (or we cannot know), so a
    /// short read does not prove the socket drained.
    ///
    /// Edge-triggered epoll reports readiness once per arrival, so a reader must drain the
    /// socket. On TCP, a read that returns fewer bytes than asked for has drained it, and any
    /// byte arriving later raises a new event: so the usual extra `read` that only returns
    /// `WouldBlock` is skipped, one syscall per message saved. Exceptions: an event that also
    /// reported the peer's end of file, an error, or urgent data (`hup`): the end of file
    /// raises no event of its own, and a read stops short at the urgent mark, so those are
    /// read to the end. Unix streams always read to `WouldBlock`.
    #[inline(always)]
    pub(crate) fn read_once(
        &mut self,
        conn: &mut Conn,
        now: Instant,
        hup: bool,
        space: ReadSpace<'_>,
    ) -> ReadOnce {
        let mode = conn.read_mode();
        if mode == ReadMode::Ignore {
            return ReadOnce::Stop;
        }
        // A record connection reads one whole record at a time: learn its size first.
        let peek = if mode == ReadMode::Deliver {
            self.next_record_len()
        } else {
            None
        };
        let record = match peek {
            None => None,
            Some(Ok(len)) => Some(len),
            Some(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                conn.on_input(now, Input::WouldBlock, space.pool, space.budget);
                return ReadOnce::Stop;
            }
            Some(Err(e)) => return ReadOnce::closed(CloseReason::from_io(e)),
        };
        let room = match conn.input_room(space.pool, space.limit, record, space.budget) {
            Ok(room) => room,
            Err(NoRoom::Close(reason)) => return ReadOnce::closed(reason),
            Err(NoRoom::Wait) => return ReadOnce::WaitForBudget,
        };
        let asked = room.len();
        let input = loop {
            break match self.read_fds(&mut *room, space.cmsg, space.fds_in) {
                Ok(0) if self.read_empty_record() => Input::EmptyRecord,
                Ok(0) => Input::Eof,
                Ok(n) => Input::Bytes(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Input::WouldBlock,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Input::Failed(e),
            };
        };
        let got = if let Input::Bytes(n) = input { n } else { 0 };
        let cost = conn.read_cost(got);
        let drained = got < asked && !hup && self.short_read_drains();
        let step = conn.on_input(now, input, space.pool, space.budget);
        ReadOnce::Read {
            step,
            got,
            cost,
            drained,
        }
    }

    /// Write as much of `conn`'s queued output as the kernel takes (with the descriptors of
    /// `fds` where they go), then ask the connection what comes next. Returns the bytes
    /// written and the connection's answer, or why the connection must close.
    #[inline]
    pub(crate) fn flush(
        &mut self,
        conn: &mut Conn,
        now: Instant,
        pool: &mut BufPool,
        mut fds: Option<&mut FdsOut>,
        (low_watermark, linger): (usize, std::time::Duration),
    ) -> (usize, Result<Flushed, CloseReason>) {
        let mut written = 0;
        loop {
            let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
            let n = conn.output(&mut slices);
            if n == 0 {
                break;
            }
            // Descriptors to send are rare: one check for everyone else.
            let result = match fds.as_deref_mut().filter(|out| !out.is_done()) {
                None => self.write_vectored(&slices[..n]),
                Some(out) => out.write(self, &slices[..n]),
            };
            match result {
                Ok(0) => {
                    let err = io::Error::from(io::ErrorKind::WriteZero);
                    return (written, Err(CloseReason::Io(err)));
                }
                Ok(n) => {
                    conn.on_written(now, n, pool);
                    written += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (written, Err(CloseReason::from_io(e))),
            }
        }
        let done = conn.after_flush(now, written > 0, low_watermark, linger);
        (written, Ok(done))
    }

    /// Write `data` at once if nothing is queued ahead of it on `conn`. Returns how much the
    /// kernel took; any failure other than a full buffer is left to the flush, which closes
    /// the connection with it (the bytes are queued as if this write had not been tried).
    #[inline]
    pub(crate) fn write_direct(&mut self, conn: &mut Conn, now: Instant, data: &[u8]) -> usize {
        if !conn.can_write_directly() || data.is_empty() {
            return 0;
        }
        match self.write(data) {
            Ok(n) => {
                conn.on_direct_write(now, n);
                n
            }
            Err(_) => 0,
        }
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

/// The simulation's in-memory sockets have no descriptor.
pub(crate) fn in_memory() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "a simulated socket has no descriptor",
    )
}

impl ReadOnce {
    fn closed(reason: CloseReason) -> ReadOnce {
        ReadOnce::Read {
            step: InputStep::Close(reason),
            got: 0,
            cost: 0,
            drained: false,
        }
    }
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
            _ => Err(io::Error::new(
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
