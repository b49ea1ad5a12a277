//! An in-memory network and a virtual clock: the deterministic simulation's stand-in for the
//! kernel.
//!
//! A [`Net`] is made of owners (see DESIGN.md, "The deterministic simulation"): listeners
//! with backlogs and the remote services outgoing connects meet (`listeners.rs`), connections
//! of two ends with bounded receive queues, end-of-file and reset flags (`ends.rs`), datagram
//! sockets and datagram peers (`dgram.rs`), and the faults (`faults.rs`); `world.rs` composes
//! them with the edges, the clock and the trace. Each reactor has its own poll set in the
//! network ([`Net::another_poll_set`]): a socket registers in the set of the handle it was
//! made through, and its edges go there.
//!
//! Readiness works as edge-triggered epoll does: an *edge* is raised when something changes
//! (bytes arrive, room frees up for a writer that found none, as Linux's `SOCK_NOSPACE`, the
//! peer finishes or resets, a connection waits to be accepted, a connect is answered or
//! refused, a datagram arrives, or a socket is registered while already ready), and
//! [`Net::poll`] hands out the edges of its set raised since the last poll as one batch. Time
//! stands still unless a poll finds nothing to report anywhere (then it jumps ahead by the
//! poll's timeout) or the simulation moves it with [`Net::advance`].
//!
//! Faults ([`Faults`]) are drawn from a seeded generator, so a seed replays exactly; each is
//! something a real kernel does, and each is counted where the reactor meets it ([`Seen`]).
//! Every syscall is written to the trace.
//!
//! Data flows: the simulation's clients write into a server end's queue with
//! [`Net::client_send`] and read theirs with [`Net::client_recv`]; the reactor reads and
//! writes the server ends through [`MemStream`] (a variant of the reactor's stream enum),
//! accepts them through [`MemListener`], and sends and receives datagrams through
//! [`MemDgram`], whose peers the simulation plays with [`Net::peer_send`] and
//! [`Net::peer_recv`].

mod dgram;
mod ends;
mod faults;
mod listeners;
mod world;

pub use ends::Received;
pub use faults::{Fault, Faults, Rng, Seen};
pub use listeners::Remote;

use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::os::unix::net::SocketAddr as UnixSocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use mio::Token;

use crate::addr::PeerAddr;
use world::World;

/// One readiness event, as the reactor's dispatch sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ready {
    /// The token the source was registered with.
    pub token: Token,
    /// Readable (or a listener with connections waiting).
    pub readable: bool,
    /// Writable.
    pub writable: bool,
    /// The peer finished or reset: read to the end, whatever the read returns.
    pub hup: bool,
}

/// A handle to one in-memory network (cloned handles share it).
#[derive(Clone, Debug)]
pub struct Net {
    world: Arc<Mutex<World>>,
    /// The poll set this handle's sockets register in (one per reactor).
    set: usize,
}

/// A client of the simulation: one end of a connection, driven by the test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientId(pub usize);

impl Net {
    /// A network whose faults are drawn from `seed`. Virtual time starts at `origin`.
    pub fn new(seed: u64, faults: Faults, origin: Instant) -> Net {
        Net {
            world: Arc::new(Mutex::new(World::new(seed, faults, origin))),
            set: 0,
        }
    }

    fn world(&self) -> MutexGuard<'_, World> {
        // A panic while holding the lock leaves plain data; keep using it.
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A handle to the same network for another reactor: its sockets register in a poll
    /// set of their own (as each reactor has its own epoll set).
    pub fn another_poll_set(&self) -> Net {
        let mut w = self.world();
        w.poll_sets += 1;
        Net {
            world: Arc::clone(&self.world),
            set: w.poll_sets,
        }
    }

    /// The virtual time.
    pub fn now(&self) -> Instant {
        self.world().now()
    }

    /// Time since the network was made.
    pub fn elapsed(&self) -> Duration {
        self.world().elapsed
    }

    /// Move virtual time forward by `d` (the process was busy, or descheduled).
    pub fn advance(&self, d: Duration) {
        let mut w = self.world();
        w.elapsed += d;
        w.log(format_args!("time jumps {d:?}"));
    }

    /// Hand out the edges raised since the last poll. With none, time jumps ahead by
    /// `timeout` (a poll that would block forever returns at once: the simulation decides).
    pub fn poll(&self, out: &mut Vec<Ready>, timeout: Option<Duration>) {
        self.world().poll(self.set, out, timeout);
    }

    /// Change the faults injected from now on.
    pub fn set_faults(&self, faults: Faults) {
        self.world().faults = faults;
    }

    /// Append a line to the trace.
    pub fn log(&self, line: std::fmt::Arguments<'_>) {
        self.world().log(line);
    }

    /// Take the trace written so far.
    pub fn take_trace(&self) -> Vec<String> {
        std::mem::take(&mut self.world().trace)
    }

    /// A random number from the network's seeded generator, below `n` (0 if `n` is 0).
    pub fn random(&self, n: u64) -> u64 {
        self.world().rng.below(n)
    }

    /// A listener on `port` of 127.0.0.1 (in memory: nothing is bound).
    pub fn listen(&self, port: u16) -> MemListener {
        let id = self.world().listeners.listen(port, self.set);
        MemListener {
            net: self.clone(),
            id,
        }
    }

    /// Put a remote service on `port` for the reactor's outgoing connects to meet.
    pub fn set_remote(&self, port: u16, remote: Remote) {
        self.world().listeners.set_remote(port, remote);
    }

    /// The reactor connects out to `port` of 127.0.0.1: its end, under way (see [`Remote`]).
    pub(crate) fn dial(&self, port: u16) -> MemStream {
        let end = self.world().dial(port);
        MemStream {
            net: self.clone(),
            end,
        }
    }

    /// The peer of the last outgoing connect the reactor made.
    pub fn last_dialed(&self) -> Option<ClientId> {
        self.world().last_dialed.map(ClientId)
    }

    /// A client connects to the listener on `port`; the connection waits in its backlog.
    ///
    /// # Errors
    ///
    /// `ConnectionRefused` if nothing listens there.
    pub fn connect(&self, port: u16) -> io::Result<ClientId> {
        self.world().connect(port).map(ClientId)
    }

    /// The client sends up to `data.len()` bytes; returns how many fit in the server's
    /// receive queue.
    ///
    /// # Errors
    ///
    /// `ConnectionReset` if the server end is closed or reset; `BrokenPipe` after the client
    /// shut its own write side.
    pub fn client_send(&self, c: ClientId, data: &[u8]) -> io::Result<usize> {
        self.world().client_send(c.0, data)
    }

    /// The client reads up to `max` bytes.
    pub fn client_recv(&self, c: ClientId, max: usize) -> Received {
        self.world().client_recv(c.0, max)
    }

    /// The client shuts its write side down (sends FIN).
    pub fn client_shutdown(&self, c: ClientId) {
        self.world().client_shutdown(c.0);
    }

    /// The client resets the connection (an abortive close).
    pub fn client_reset(&self, c: ClientId) {
        self.world().client_reset(c.0);
    }

    /// The server end of client `c` is still open (not closed by the reactor)?
    pub fn server_open(&self, c: ClientId) -> bool {
        !self.world().ends[ends::server(c.0)].closed
    }

    /// The last poll: when it began (since the start) and the longest wait it was asked for.
    pub fn last_poll(&self) -> (Duration, Option<Duration>) {
        let w = self.world();
        w.last_poll.get(self.set).copied().unwrap_or_default()
    }

    /// The faults the reactor has met so far, by kind.
    pub fn seen(&self) -> Seen {
        self.world().seen
    }

    /// When client `c`'s server end was accepted or last read or wrote a byte (virtual time
    /// since the start): the model's "last activity" for the idle timeout.
    pub fn moved_at(&self, c: ClientId) -> Duration {
        self.world().ends[ends::server(c.0)].moved_at
    }

    /// When client `c`'s server end last read a byte, and last wrote one (or was accepted):
    /// lower bounds of the read and write clocks.
    pub fn read_written_at(&self, c: ClientId) -> (Duration, Duration) {
        let w = self.world();
        let end = &w.ends[ends::server(c.0)];
        (end.read_at, end.written_at)
    }

    /// A datagram socket bound to `port` of 127.0.0.1 (in memory), as the reactor holds it;
    /// with `unix`, a Unix datagram socket instead, bound to `/sim/dgram-PORT` (its peers are
    /// `/sim/peer-N`).
    pub(crate) fn bind_dgram(&self, port: u16, unix: bool) -> MemDgram {
        let id = self.world().dgrams.bind(port, unix);
        MemDgram {
            net: self.clone(),
            id,
        }
    }

    /// A new datagram peer (127.0.0.1, port 40000 and up).
    pub fn dgram_peer(&self) -> usize {
        self.world().dgrams.new_peer()
    }

    /// Datagram peer `p` sends `data` to `port`: `false` if it was lost (nothing open there,
    /// or no room in that socket's queue).
    pub fn peer_send(&self, p: usize, port: u16, data: &[u8]) -> bool {
        self.world().peer_send(p, port, data)
    }

    /// Datagram peer `p` takes every datagram waiting for it, in order.
    pub fn peer_recv(&self, p: usize) -> Vec<Vec<u8>> {
        let mut w = self.world();
        let got = w.dgrams.peer_recv(p);
        if !got.is_empty() {
            w.log(format_args!("peer {p} receives {} datagrams", got.len()));
        }
        got
    }

    /// Replies to peer `p` dropped because its queue was full.
    pub fn peer_lost(&self, p: usize) -> u64 {
        self.world().dgrams.lost(p)
    }

    /// Sockets the reactor holds open (listeners and server ends): for leak checks.
    pub fn open_sockets(&self) -> usize {
        self.world().open_sockets(self.set)
    }
}

/// A listener in a [`Net`], as the reactor holds it. Dropping it closes it.
#[derive(Debug)]
pub struct MemListener {
    net: Net,
    id: usize,
}

impl MemListener {
    /// Accept the next waiting connection.
    ///
    /// # Errors
    ///
    /// `WouldBlock` if none waits; injected `EMFILE` or `ECONNABORTED`.
    pub fn accept(&self) -> io::Result<(MemStream, SocketAddr)> {
        let (end, peer) = self.net.world().accept(self.id)?;
        Ok((
            MemStream {
                net: self.net.clone(),
                end,
            },
            peer,
        ))
    }

    /// A handle to the same listener for the reactor whose network handle is `net` (another
    /// poll set of this network), as a server's reactors each hold a descriptor of one
    /// shared socket. The listener closes when the last handle goes.
    pub fn share(&self, net: &Net) -> MemListener {
        self.net.world().listeners.share(self.id, net.set);
        MemListener {
            net: net.clone(),
            id: self.id,
        }
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.net.world().listeners.addr(self.id)
    }

    /// Register for readiness with `token` (a listener only reports readable).
    pub fn register(&self, token: Token) {
        self.net
            .world()
            .register_listener(self.id, self.net.set, Some(token));
    }

    /// Stop reporting readiness.
    pub fn deregister(&self) {
        self.net
            .world()
            .register_listener(self.id, self.net.set, None);
    }
}

impl Drop for MemListener {
    fn drop(&mut self) {
        self.net.world().close_listener(self.id, self.net.set);
    }
}

/// The server end of a connection in a [`Net`], as the reactor holds it. Dropping it closes
/// it: with unread input, as a reset (as Linux does); else with FIN.
#[derive(Debug)]
pub struct MemStream {
    net: Net,
    end: usize,
}

impl MemStream {
    /// Read into `buf`.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when nothing is waiting (or injected), `ConnectionReset` after a reset.
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.net.world().read(self.end, buf)
    }

    /// Write from `bufs`, as much as fits in the peer's receive queue.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when the queue is full (or injected), `BrokenPipe` after our FIN or the
    /// peer's reset.
    pub fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.net.world().write(self.end, bufs)
    }

    /// Does a read that returns less than asked for prove the stream drained, as on TCP?
    /// (Not when the network injects short reads: its streams then behave as Unix streams.)
    pub fn short_read_drains(&self) -> bool {
        // Reads stop short only when drained (TCP), or anywhere (a Unix stream)?
        self.net.world().faults.short_read == 0
    }

    /// The same stream, for the reactor whose network handle is `net` (another poll set of
    /// this network): a connection handed from one reactor of a server to another.
    pub fn moved_to(mut self, net: &Net) -> MemStream {
        // Not closed when this handle drops: the end lives on in the new one.
        let end = std::mem::replace(&mut self.end, MOVED);
        MemStream {
            net: net.clone(),
            end,
        }
    }

    /// Send FIN.
    pub fn shutdown_write(&self) -> io::Result<()> {
        self.net.world().shutdown(self.end)
    }

    /// The peer's address (127.0.0.1 and a port made from the connection number).
    ///
    /// # Errors
    ///
    /// `NotConnected` while an outgoing connect is under way, or after it was refused.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        let w = self.net.world();
        if !w.ends.is_connected(self.end) {
            return Err(io::Error::from(io::ErrorKind::NotConnected));
        }
        Ok(w.peer_addr(self.end))
    }

    /// The error an outgoing connect ended with, taken (as `SO_ERROR` is): `ConnectionRefused`
    /// once, after a refused connect.
    pub fn take_error(&self) -> Option<io::Error> {
        self.net.world().ends.take_error(self.end)
    }

    /// Register for readiness with `token`.
    pub fn register(&self, token: Token) {
        self.net
            .world()
            .register_end(self.end, self.net.set, Some(token));
    }

    /// Stop reporting readiness.
    pub fn deregister(&self) {
        self.net.world().register_end(self.end, self.net.set, None);
    }
}

/// The end of a [`MemStream`] whose end moved to another handle.
const MOVED: usize = usize::MAX;

impl Drop for MemStream {
    fn drop(&mut self) {
        if self.end != MOVED {
            self.net.world().close_end(self.end);
        }
    }
}

/// A datagram socket in a [`Net`], as the reactor holds it. Dropping it closes it.
#[derive(Debug)]
pub struct MemDgram {
    net: Net,
    id: usize,
}

impl MemDgram {
    /// Receive one datagram into `buf`, with its sender.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when nothing waits; an injected `EINTR`.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, PeerAddr)> {
        let mut w = self.net.world();
        let (n, from) = w.dgram_recv(self.id, buf)?;
        if !w.dgrams.is_unix(self.id) {
            return Ok((n, PeerAddr::Inet(from)));
        }
        let path = format!("/sim/peer-{}", from.port() - dgram::PEER_PORTS);
        Ok((n, PeerAddr::Unix(UnixSocketAddr::from_pathname(path)?)))
    }

    /// Send `buf` to `to`.
    ///
    /// # Errors
    ///
    /// An injected `WouldBlock` (the socket's buffer full: a writable edge follows at the
    /// next poll) or `EINTR`; `WouldBlock` from a Unix socket whose receiver is full (no edge
    /// says when it drains); `InvalidInput` for an address of the other family. A UDP
    /// datagram the peer has no room for is dropped, as UDP's is.
    pub fn send_to(&self, buf: &[u8], to: &PeerAddr) -> io::Result<usize> {
        let mut w = self.net.world();
        let unix = w.dgrams.is_unix(self.id);
        let to = match to {
            PeerAddr::Inet(a) if !unix => *a,
            PeerAddr::Unix(a) if unix => {
                let n: Option<u16> = a
                    .as_pathname()
                    .and_then(|p| p.to_str())
                    .and_then(|p| p.strip_prefix("/sim/peer-"))
                    .and_then(|n| n.parse().ok());
                // A path that names no peer: nothing is bound there.
                let Some(n) = n else {
                    return Err(io::Error::from(io::ErrorKind::NotFound));
                };
                SocketAddr::from(([127, 0, 0, 1], dgram::PEER_PORTS + n))
            }
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "an address of the other family",
                ))
            }
        };
        w.dgram_send(self.id, buf, to)
    }

    /// Is it a Unix datagram socket (a full receiver refuses with `WouldBlock`)?
    pub fn is_unix(&self) -> bool {
        self.net.world().dgrams.is_unix(self.id)
    }

    /// The address it is bound to.
    pub fn local_addr(&self) -> io::Result<PeerAddr> {
        let w = self.net.world();
        let addr = w.dgrams.addr(self.id);
        if !w.dgrams.is_unix(self.id) {
            return Ok(PeerAddr::Inet(addr));
        }
        let path = format!("/sim/dgram-{}", addr.port());
        UnixSocketAddr::from_pathname(path).map(PeerAddr::Unix)
    }

    /// Register for readiness with `token`.
    pub fn register(&self, token: Token) {
        self.net
            .world()
            .register_dgram(self.id, self.net.set, Some(token));
    }

    /// Stop reporting readiness.
    pub fn deregister(&self) {
        self.net.world().register_dgram(self.id, self.net.set, None);
    }
}

impl Drop for MemDgram {
    fn drop(&mut self) {
        self.net.world().close_dgram(self.id);
    }
}
