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
mod edges;
mod ends;
mod faults;
mod inbox;
mod listeners;
mod sockets;
mod world;

pub use ends::Received;
pub use faults::{Fault, Faults, Rng, Seen};
pub use inbox::Kind;
pub use listeners::Remote;
pub use sockets::{MemListener, MemStream};

use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::os::unix::net::SocketAddr as UnixSocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use mio::Token;

use crate::addr::PeerAddr;
use crate::sys::{RecvBatch, SendBatch};
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
        self.listen_kind(port, Kind::Tcp)
    }

    /// A listener whose connections are of `kind`: TCP on `port` of 127.0.0.1, or Unix
    /// streams or seqpacket connections on `/sim/listener-PORT`.
    pub fn listen_kind(&self, port: u16, kind: Kind) -> MemListener {
        let id = self.world().listeners.listen(port, kind, self.set);
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
        self.world().client_send(c.0, data, Vec::new())
    }

    /// [`Net::client_send`] with descriptors attached to the first byte (a Unix
    /// connection's `SCM_RIGHTS`): the network holds them until the server end reads them,
    /// and closes them if it never does. Nothing sent (0): they are dropped.
    ///
    /// # Errors
    ///
    /// As [`Net::client_send`].
    pub fn client_send_fds(
        &self,
        c: ClientId,
        data: &[u8],
        fds: Vec<OwnedFd>,
    ) -> io::Result<usize> {
        self.world().client_send(c.0, data, fds)
    }

    /// A read of client `c`'s server end met truncated control data (`MSG_CTRUNC`).
    pub fn ctrunc_met(&self, c: ClientId) -> bool {
        self.world().ends[ends::server(c.0)].ctrunc
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

    /// The client closes its socket: what waits for it is dropped, descriptors too.
    pub fn client_close(&self, c: ClientId) {
        self.world().close_end(2 * c.0);
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
        let (len, from) = w.dgram_recv(self.id, buf)?;
        let n = len.min(buf.len());
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

    /// A handle for batched calls on this socket (`recvmmsg`, `sendmmsg`), which does not
    /// close it when dropped.
    pub fn port(&self) -> MemPort {
        MemPort {
            net: self.net.clone(),
            id: self.id,
        }
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

/// A [`MemDgram`] for batched calls (see [`MemDgram::port`]).
#[derive(Clone, Debug)]
pub struct MemPort {
    net: Net,
    id: usize,
}

impl MemPort {
    /// `recvmmsg(2)`: fill `batch` with the datagrams waiting, laid out as the kernel lays
    /// them out (`RecvBatch::fill`).
    ///
    /// # Errors
    ///
    /// `WouldBlock` when none waits; an injected `EINTR`.
    pub fn recv_batch(&self, batch: &mut RecvBatch) -> io::Result<usize> {
        let mut w = self.net.world();
        batch.fill(|slot| match w.dgram_recv(self.id, slot) {
            Ok(one) => Ok(Some(one)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        })
    }

    /// `sendmmsg(2)`: send `batch`'s datagrams from `from` in order, until one is refused
    /// (`SendBatch::send_each`).
    pub fn send_batch(&self, batch: &SendBatch, from: usize) -> (usize, Option<io::Error>) {
        let mut w = self.net.world();
        batch.send_each(from, |to, data| w.dgram_send(self.id, data, to).map(|_| ()))
    }
}
