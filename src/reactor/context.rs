//! [`Context`]: what a handler can do to the reactor while it is being called.

use std::io;
use std::time::{Duration, Instant};

use super::core::Core;
use super::ids::{ConnId, DgramId, TimerId, WorkId};
use super::stats::Stats;
use super::workers::Resolver;
use crate::addr::PeerAddr;
use crate::conn::Timeouts;
use crate::error::{CloseReason, TimeoutKind};

/// The handler's view of the reactor during a callback (and of [`Reactor::with_context`]).
///
/// Writes are queued, not performed: the reactor flushes every connection with new output at
/// the end of the current turn, in one vectored write each, so a handler that writes several
/// pieces pays for one syscall. Closing is likewise deferred to a safe point, but takes effect
/// for the handler at once: after [`abort`](Context::abort) the id is stale.
///
/// Every method that takes an id fails with `ErrorKind::NotConnected` if the id is stale (its
/// connection or socket was closed), and never acts on whatever reuses the slot.
///
/// [`Reactor::with_context`]: super::Reactor::with_context
pub struct Context<'a> {
    /// Reached by this file and by `sockets.rs`, the rest of `Context`'s methods.
    pub(super) core: &'a mut Core,
}

impl<'a> Context<'a> {
    /// The handler's view of `core`.
    #[inline]
    pub(crate) fn new(core: &'a mut Core) -> Context<'a> {
        Context { core }
    }
}

impl Context<'_> {
    /// The time this turn started dispatching (read once per turn, after the poll).
    pub fn now(&self) -> Instant {
        self.core.now()
    }

    /// The reactor's counters.
    pub fn stats(&self) -> &Stats {
        self.core.stats()
    }

    /// The counters, for layers above the reactor that count their own events (frames).
    #[inline]
    pub(crate) fn stats_mut(&mut self) -> &mut Stats {
        self.core.stats_mut()
    }

    /// Ask the reactor to stop: [`Reactor::run`](super::Reactor::run) returns after this turn.
    /// During a graceful [`shutdown`](Context::shutdown), the connections left are cut off
    /// (closed at once) first.
    pub fn stop(&mut self) {
        self.core.stop();
    }

    /// Shut down gracefully, as nginx, HAProxy or Netty's `shutdownGracefully` do: close
    /// every listener and datagram socket at once (no new connections), and let each
    /// connection finish the message under way. A connection closes cleanly (its queued
    /// output flushed, then FIN and a lingering close) as soon as it is at a message
    /// boundary: at once if it is idle, else once the message in progress has been received
    /// whole and its reply written. [`Handler::in_message`](super::Handler::in_message) says
    /// what a boundary is for a handler that keeps partial messages itself. The reactor stops
    /// (and [`Reactor::run`] returns) when the last connection is closed, or when `grace` is
    /// over, cutting off whatever is left then; [`stop`](Context::stop) during the grace cuts
    /// them off at once. [`Stats::shutdown_finished`](super::Stats::shutdown_finished) and
    /// [`Stats::shutdown_cut_off`](super::Stats::shutdown_cut_off) count both.
    ///
    /// [`Reactor::run`]: super::Reactor::run
    pub fn shutdown(&mut self, grace: Duration) {
        self.core.shutdown(grace);
    }

    /// Is a graceful shutdown under way?
    pub fn is_shutting_down(&self) -> bool {
        self.core.is_shutting_down()
    }

    // ----- output ---------------------------------------------------------------------------

    /// Queue a copy of `data` on `conn`. Copies into pooled blocks, so steady traffic does not
    /// allocate.
    ///
    /// Past [`Config::high_watermark`](super::Config::high_watermark) the reactor stops
    /// *reading* from `conn`, which bounds what a peer can make its own replies queue. A
    /// handler that writes to *other* connections (a relay, a chat) meets the hard cap
    /// instead, [`Config::max_queued`](super::Config::max_queued), or bounds itself earlier
    /// with [`queued`](Context::queued).
    ///
    /// # Errors
    ///
    /// `NotConnected` if `conn` is stale; `BrokenPipe` if its write side is shut down or a close
    /// was requested; `WouldBlock` ([`QueueFull`](crate::error::QueueFull)) if `data` would
    /// take the queue past `Config::max_queued` (nothing is queued).
    pub fn write(&mut self, conn: ConnId, data: &[u8]) -> io::Result<()> {
        self.core
            .queue_output(conn.0, data.len(), |wq, pool| wq.push_copy(data, pool))
    }

    /// Queue `data` on `conn` without copying it: the vector becomes a segment of the write
    /// queue and is written with the segments around it in one vectored write. Best for large
    /// payloads.
    ///
    /// # Errors
    ///
    /// As for [`write`](Context::write).
    pub fn write_owned(&mut self, conn: ConnId, data: Vec<u8>) -> io::Result<()> {
        self.core
            .queue_output(conn.0, data.len(), |wq, _| wq.push_owned(data))
    }

    /// Queue copies of several pieces on `conn`, in order, as one unit: either all are queued
    /// or (on error) none. For a header, a payload and a trailer, say.
    ///
    /// # Errors
    ///
    /// As for [`write`](Context::write).
    pub fn write_parts(&mut self, conn: ConnId, parts: &[&[u8]]) -> io::Result<()> {
        let len = parts.iter().map(|p| p.len()).sum();
        self.core
            .queue_output(conn.0, len, |wq, pool| wq.push_parts(parts, pool))
    }

    /// Queue a copied header, an owned payload (not copied) and a copied trailer on `conn`,
    /// as one unit.
    ///
    /// # Errors
    ///
    /// As for [`write`](Context::write).
    pub fn write_around(
        &mut self,
        conn: ConnId,
        header: &[u8],
        payload: Vec<u8>,
        trailer: &[u8],
    ) -> io::Result<()> {
        let len = header.len() + payload.len() + trailer.len();
        self.core.queue_output(conn.0, len, |wq, pool| {
            wq.push_around(header, payload, trailer, pool)
        })
    }

    /// Write `data` on `conn` now, if nothing is queued ahead of it: one `write(2)` at once,
    /// and only what the kernel does not take is queued (copied), to go out with the
    /// turn's flush as [`write`](Context::write) would. For a reply that is already in a
    /// buffer (an echo answered from the input itself), this saves the copy into the queue;
    /// `write` instead gathers several writes of one turn into one vectored syscall. On a
    /// record (seqpacket) connection, or behind queued output, it is `write`.
    ///
    /// # Errors
    ///
    /// As for [`write`](Context::write).
    #[inline]
    pub fn write_now(&mut self, conn: ConnId, data: &[u8]) -> io::Result<()> {
        self.core.write_now(conn.0, data)
    }

    /// Queue `data` on the Unix connection `conn` with the descriptors `fds` attached to its
    /// first byte (`SCM_RIGHTS`): after everything queued before it, and before anything
    /// queued later. The reactor sends duplicates it makes now (close-on-exec) and closes
    /// them once sent, or when the connection closes first; the caller keeps its own. The
    /// peer receives its own duplicates with the bytes of the read that takes the first
    /// byte (a stream read may join earlier bytes to them). On a seqpacket connection `data`
    /// is one record.
    ///
    /// # Errors
    ///
    /// `NotConnected` if `conn` is stale; `Unsupported` unless it is a Unix stream or
    /// seqpacket connection; `InvalidInput` for empty `data` (descriptors need a byte to
    /// travel with) or more than [`sys::MAX_FDS`](crate::sys::MAX_FDS) descriptors; a `dup`
    /// error (`EMFILE`); as for [`write`](Context::write) otherwise (`QueueFull`: try again
    /// after [`on_drained`](super::Handler::on_drained)). On error nothing is queued.
    pub fn write_with_fds(
        &mut self,
        conn: ConnId,
        data: &[u8],
        fds: &[std::os::fd::BorrowedFd<'_>],
    ) -> io::Result<()> {
        self.core.write_with_fds(conn.0, data, fds)
    }

    /// Bytes of input received on `conn` and not yet consumed by the handler (0 for a stale
    /// id). At end of file, non-zero means the peer stopped in the middle of a message.
    /// Inside `on_data` for `conn` itself this is 0: the input is the `data` argument then.
    pub fn unconsumed(&self, conn: ConnId) -> usize {
        self.core.conn(conn.0).map_or(0, |c| c.status().unconsumed)
    }

    /// Announce that the message `conn` is receiving is `total` bytes in all (a frame whose
    /// header has arrived), so that the input budget admits it whole and it can always
    /// complete ([`Config::max_buffered`](super::Config::max_buffered)). If the budget
    /// cannot admit it now, reading from `conn` waits until it can. The announcement holds
    /// until the handler next consumes input. Framed connections do this by themselves.
    pub fn expect_input(&mut self, conn: ConnId, total: usize) {
        self.core.expect_input(conn.0, total);
    }

    /// Bytes queued on `conn` and not yet handed to the kernel (0 for a stale id).
    pub fn queued(&self, conn: ConnId) -> usize {
        self.core.conn(conn.0).map_or(0, |c| c.status().queued)
    }

    /// Send one datagram to `peer` from `socket`. On a UDP socket whose kernel buffer is full,
    /// the datagram is queued (up to [`Config::max_dgram_queue`](super::Config::max_dgram_queue)
    /// bytes) and sent when the socket becomes writable. A Unix datagram socket never queues:
    /// its `WouldBlock` means the *receiver's* queue is full, with no event to say when it
    /// drains, and queueing would hold every later reply behind that one slow peer; the
    /// caller gets `WouldBlock` and decides.
    ///
    /// With [`Config::udp_batching`](super::Config::udp_batching), a reply sent from
    /// `on_datagram` on the socket the datagram came in on is gathered with the batch's
    /// other replies and sent with them (one `sendmmsg`) when the batch's handler calls are
    /// done; an error of that later send is logged and counted in
    /// [`Stats::dgram_send_errors`](super::Stats::dgram_send_errors), not returned here.
    ///
    /// # Errors
    ///
    /// `NotConnected` for a stale id; `WouldBlock` when the queue is full (the datagram was
    /// not sent and not queued); `InvalidInput` for a peer of the other family or an unnamed
    /// Unix peer (it has no address to send to); any error of `sendto(2)`, for example a
    /// datagram too large.
    pub fn send_to(
        &mut self,
        socket: DgramId,
        data: &[u8],
        peer: impl Into<PeerAddr>,
    ) -> io::Result<()> {
        self.core.send_to(socket.0, data, &peer.into())
    }

    // ----- closing --------------------------------------------------------------------------

    /// Close `conn` gracefully: stop delivering input, flush queued output, send end of file,
    /// and close once the peer has sent its own end of file or after
    /// [`Config::linger`](super::Config::linger), reading and dropping any input meanwhile (so
    /// that the kernel does not reset the connection and destroy replies in flight). The
    /// handler's [`on_close`](super::Handler::on_close) follows with [`CloseReason::Local`], or
    /// [`CloseReason::PeerClosed`] if the peer had already finished sending. A write timeout,
    /// if set, bounds the flush. Closing a stale or closing connection does nothing.
    pub fn close(&mut self, conn: ConnId) {
        // A stale id has nothing to close.
        let _ = self.core.close_graceful(conn.0);
    }

    /// Close `conn` at once, discarding queued output, with [`CloseReason::Local`].
    pub fn abort(&mut self, conn: ConnId) {
        self.core.close_now(conn.0, CloseReason::Local);
    }

    /// Close `conn` at once with `reason` (for example [`CloseReason::protocol`] when the peer
    /// sent something malformed), discarding queued output.
    pub fn abort_with(&mut self, conn: ConnId, reason: CloseReason) {
        self.core.close_now(conn.0, reason);
    }

    /// Half-close: send end of file to the peer once queued output is flushed, and accept no
    /// more output. Reading goes on: the peer can keep sending.
    ///
    /// # Errors
    ///
    /// `NotConnected` if `conn` is stale.
    pub fn shutdown_write(&mut self, conn: ConnId) -> io::Result<()> {
        self.core.shutdown_write(conn.0)
    }

    // ----- timeouts -------------------------------------------------------------------------

    /// Set one of `conn`'s timeouts (`None`: wait forever), like Python's `settimeout`. Its
    /// clock starts now.
    ///
    /// # Errors
    ///
    /// `NotConnected` if `conn` is stale.
    pub fn set_timeout(
        &mut self,
        conn: ConnId,
        kind: TimeoutKind,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        self.core.set_timeout(conn.0, kind, timeout)
    }

    /// The deadline of one of `conn`'s timeouts, if its clock runs (for the simulation's
    /// "never early" check).
    pub(crate) fn deadline(&self, conn: ConnId, kind: TimeoutKind) -> Option<Instant> {
        self.core.conn(conn.0)?.deadline(Some(kind))
    }

    /// `conn`'s timeouts, or `None` if it is stale.
    pub fn timeouts(&self, conn: ConnId) -> Option<Timeouts> {
        self.core.conn(conn.0).map(|c| c.status().timeouts)
    }

    /// Run `work` off the loop, on one of the reactor's worker threads
    /// ([`Config::workers`](super::Config::workers), made on the first submit): for a
    /// blocking call that must not stall every connection. What it returns comes back to
    /// [`Handler::on_work_done`](super::Handler::on_work_done) with the id returned here, on
    /// the reactor thread. For a connection (`conn`), the job is cancelled if the connection
    /// closes first: dropped before it starts, or its result dropped.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when [`Config::work_queue`](super::Config::work_queue) jobs wait already
    /// (nothing is queued: try again later); `NotConnected` for a stale `conn`; an error making
    /// a thread.
    pub fn submit<T: Send + 'static>(
        &mut self,
        conn: Option<ConnId>,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> io::Result<WorkId> {
        let work = Box::new(move || Box::new(work()) as Box<dyn std::any::Any + Send>);
        self.core.outside().submit(conn.map(|c| c.0), work)
    }

    /// Look `host` up without blocking the loop: the resolver (`getaddrinfo`, unless
    /// [`set_resolver`](Context::set_resolver) gave another) runs on a worker thread, as
    /// libuv's `uv_getaddrinfo` and asyncio's `getaddrinfo` do, and its answer comes to
    /// [`Handler::on_work_done`](super::Handler::on_work_done) as an
    /// `io::Result<Vec<SocketAddr>>`: every address, in the resolver's order, `port` in each.
    ///
    /// # Errors
    ///
    /// As [`submit`](Context::submit).
    pub fn resolve(&mut self, host: &str, port: u16) -> io::Result<WorkId> {
        self.core.outside().resolve(host, port)
    }

    /// Look host names up with `resolver` from now on (a test's, or a program's own DNS
    /// client), instead of `getaddrinfo`.
    pub fn set_resolver(&mut self, resolver: Resolver) {
        self.core.outside().set_resolver(resolver);
    }

    /// Set the timeouts that connections accepted or connected from now on start with, like
    /// Python's `setdefaulttimeout`. Existing connections keep theirs.
    pub fn set_default_timeouts(&mut self, timeouts: Timeouts) {
        self.core.set_default_timeouts(timeouts);
    }

    /// Fire [`Handler::on_timer`](super::Handler::on_timer) with `token` once `after` has
    /// passed (never earlier; up to a millisecond plus the loop's latency later).
    pub fn set_timer(&mut self, after: Duration, token: u64) -> TimerId {
        self.core.set_timer(after, token)
    }

    /// Like [`set_timer`](Context::set_timer), for a deadline that must be kept to a fraction
    /// of a millisecond (pacing, retransmission, a latency budget): fire
    /// [`Handler::on_timer`](super::Handler::on_timer) with `token` once exactly `after` has
    /// passed since the turn's [`now`](Context::now), never earlier.
    ///
    /// The wheel behind `set_timer` counts whole milliseconds, and a poll waits in whole
    /// milliseconds. Precise timers are kept apart, in a heap by exact deadline; when the
    /// earliest of them ends the reactor's wait, the reactor arms a `timerfd(2)` in its poll
    /// set for that instant (made the first time it is needed; one `timerfd_settime` per
    /// new earliest deadline and one `read` per expiry). How late they fire is then the
    /// kernel's timer precision plus the loop's own latency: `cargo bench --bench echo`
    /// reports it (workload T1). They cost O(log n) each, so use them for the few deadlines
    /// that need the precision and `set_timer` for the many that do not. If the kernel
    /// refuses a `timerfd`, precise timers fall back to the millisecond wait (with a warning
    /// in the log). A reactor nested in another loop gets its exact wait from
    /// [`Reactor::next_timeout`](super::Reactor::next_timeout) and must keep to it itself.
    pub fn set_precise_timer(&mut self, after: Duration, token: u64) -> TimerId {
        self.core.set_precise_timer(after, token)
    }

    /// Cancel a timer; returns `false` if it already fired or was cancelled.
    pub fn cancel_timer(&mut self, timer: TimerId) -> bool {
        self.core.cancel_timer(timer)
    }

    /// The ids of all open connections (including ones closing gracefully).
    pub fn connections(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.core.sources().conn_keys().map(ConnId)
    }

    /// Entries in the reactor's slab: listeners, datagram sockets, signal descriptors and
    /// connections (for monitoring, and for leak checks).
    pub fn socket_count(&self) -> usize {
        self.core.socket_count()
    }

    /// Entries in the timer wheel (one per connection with a deadline running, plus user
    /// timers, accept back-offs and a shutdown's grace) and precise timers (for monitoring,
    /// and for leak checks).
    pub fn timer_count(&self) -> usize {
        self.core.timer_count()
    }

    /// Is `conn` a live connection (not closed, not stale)?
    #[inline]
    pub fn is_open(&self, conn: ConnId) -> bool {
        matches!(self.core.conn(conn.0), Some(c) if !c.status().closing)
    }
}
