//! `Core`'s other half: what adds and removes sockets (accepting among them), closes
//! connections, and shuts the reactor down, and the [`audit`](Core::audit) of the
//! invariants between the owners.
//!
//! A connection closed here is gone at once for the handler (its id is stale from then on)
//! and for the kernel (deregistered, socket closed), but its slab slot stays taken, marked
//! closed, and its `on_close` report goes on the closed list. The turn's last step reports
//! every close and frees the slots ([`pop_closed`](Core::pop_closed), [`free`](Core::free)):
//! closes are reaped in one place, and no id or token can come to mean another connection
//! within the turn that closed it.

use std::io;
use std::os::fd::BorrowedFd;
use std::time::Duration;

use log::{debug, warn};
use mio::net::UdpSocket;
use mio::Interest;

use super::Core;
use crate::addr::PeerAddr;
use crate::conn::{Conn, Opened};
use crate::error::{stale, CloseReason, TimeoutKind};
use crate::reactor::audit::Audit;
use crate::reactor::dgram::{DgramSock, RecvOne};
use crate::reactor::ids::{ConnId, DgramId, ListenerId};
use crate::reactor::registry::{Key, Kind, Source, Sources};
use crate::reactor::scratch::Scratch;
use crate::reactor::socket::BatchPort;
use crate::reactor::socket::{Dgram, Listener};
use crate::reactor::stream::Stream;
use crate::reactor::timers::TimerTarget;
use crate::sys::{self, SendBatch, Signals};

/// What one accept did (see [`Core::accept_one`]).
pub(crate) enum Accepted {
    /// A connection, registered: tell the handler.
    Conn(ConnId, PeerAddr),
    /// Nothing for the handler (refused at the limit, failed before it was accepted,
    /// interrupted): accept again.
    Again,
    /// Stop accepting on this listener for now (drained, paused, or stale).
    Stop,
}

impl Core {
    // ----- for the reactor ---------------------------------------------------------------------------

    /// How long an embedding program may wait before the next turn (see
    /// `Reactor::next_timeout`).
    pub(crate) fn next_timeout(&self, max_wait: Option<Duration>) -> Option<Duration> {
        self.poll_timeout(self.sources.now(), max_wait)
    }

    /// Read the clock: callbacks from now on see this instant (for calls outside a turn).
    pub(crate) fn read_clock(&mut self) {
        self.now = self.sources.now();
    }

    /// The epoll descriptor.
    pub(crate) fn poll_fd(&self) -> BorrowedFd<'_> {
        self.sources.as_fd()
    }

    /// Sources in the slab.
    pub(crate) fn socket_count(&self) -> usize {
        self.sources.len()
    }

    /// Timers of every kind.
    pub(crate) fn timer_count(&self) -> usize {
        self.timers.len()
    }

    /// Check the invariants that must hold between the owners between turns (see
    /// `Audit`): for the simulation, after every step.
    pub(crate) fn audit(&self) -> Result<(), String> {
        Audit::new(
            &self.sources,
            &self.timers,
            &self.admission,
            &self.stats,
            &self.life,
            self.now,
        )
        .check()
    }

    // ----- adding -------------------------------------------------------------------------------

    /// An outgoing TCP connection to `addr`, under way (in memory when simulated).
    pub(crate) fn connect(&mut self, addr: std::net::SocketAddr) -> io::Result<ConnId> {
        let sock = match self.sources.net() {
            Some(net) => Stream::Mem(net.dial(addr.port())),
            None => Stream::connect(addr)?,
        };
        self.add_conn(sock, Opened::Connecting)
    }

    /// Serve the listening socket `sock`.
    pub(crate) fn add_listener(&mut self, sock: Listener) -> io::Result<ListenerId> {
        let source = Source::Listener { sock, paused: None };
        self.sources
            .insert(source, Interest::READABLE)
            .map(ListenerId)
    }

    /// Serve a TCP listener that other reactors serve too: registered with
    /// `EPOLLEXCLUSIVE`, so that a connection wakes one of them (and is placed by `Spread`).
    pub(crate) fn add_shared_listener(&mut self, sock: Listener) -> io::Result<ListenerId> {
        let addr = sock
            .local_addr()?
            .inet()
            .unwrap_or(([0, 0, 0, 0], 0).into());
        let source = Source::Listener { sock, paused: None };
        let key = self.sources.insert_shared(source, Interest::READABLE)?;
        self.spread.add_listener(key, addr);
        Ok(ListenerId(key))
    }

    /// Serve the datagram socket `sock`.
    pub(crate) fn add_dgram(&mut self, sock: Dgram) -> io::Result<DgramId> {
        self.scratch.ensure_dgram_buf();
        let offload = self.config.udp_batching && self.config.udp_offload;
        let source = Source::Dgram(DgramSock::new(sock, offload));
        self.sources
            .insert(source, Interest::READABLE | Interest::WRITABLE)
            .map(DgramId)
    }

    /// Serve a UDP socket that other reactors serve too.
    pub(crate) fn add_shared_udp(&mut self, sock: std::net::UdpSocket) -> io::Result<DgramId> {
        sock.set_nonblocking(true)?;
        // Not exclusive: a writable event must reach every reactor, since each has its own
        // queue of datagrams waiting for room (with EPOLLEXCLUSIVE it would wake one).
        self.add_dgram(Dgram::Inet(UdpSocket::from_std(sock)))
    }

    /// Watch `signals`.
    pub(crate) fn add_signals(&mut self, signals: Signals) -> io::Result<()> {
        self.sources
            .insert(Source::Signals(signals), Interest::READABLE)
            .map(|_| ())
    }

    /// Serve the connection `sock`, accepted or connecting (`opened`).
    pub(crate) fn add_conn(&mut self, sock: Stream, opened: Opened) -> io::Result<ConnId> {
        if self.config.nodelay {
            if let Err(e) = sock.set_nodelay() {
                // Not fatal: the connection works, only with Nagle's algorithm on.
                debug!("TCP_NODELAY failed: {e}");
            }
        }
        let mut conn = Conn::new(self.now, self.config.timeouts, opened, sock.is_records());
        if matches!(sock, Stream::Tls(_)) {
            conn.expect_handshake();
        }
        // Edge-triggered, both directions, once: no re-registration syscalls later. TCP also
        // asks for urgent-data events: a read stops short at the urgent mark (see `stream`).
        let interest = match sock {
            Stream::Tcp(_) => Interest::READABLE | Interest::WRITABLE | Interest::PRIORITY,
            _ => Interest::READABLE | Interest::WRITABLE,
        };
        let key = self.sources.insert(Source::Conn { sock, conn }, interest)?;
        self.stats.active += 1;
        if opened == Opened::Connecting {
            self.stats.connected += 1;
            // Outgoing connections count against the limit; only incoming ones are refused.
            self.door.take_place();
        }
        self.rearm(key);
        Ok(ConnId(key))
    }

    // ----- accepting ------------------------------------------------------------------------------

    /// Accept one connection from the listener `key`, through the door.
    pub(crate) fn accept_one(&mut self, key: Key) -> Accepted {
        let Some(Source::Listener { sock, paused, .. }) = self.sources.get_mut(key) else {
            return Accepted::Stop;
        };
        if paused.is_some() {
            return Accepted::Stop;
        }
        match sock.accept() {
            Ok((stream, peer)) => {
                match self.spread.place(key, stream, peer) {
                    Some((stream, peer)) => self.admit(stream, peer),
                    // Handed to a less loaded reactor of the server.
                    None => Accepted::Again,
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Accepted::Stop,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Accepted::Again,
            Err(e) if sys::is_connection_error(&e) => {
                debug!("accept: a connection failed before it was accepted: {e}");
                Accepted::Again
            }
            Err(e) => {
                // Out of descriptors (EMFILE, ENFILE) or memory, or something unexpected:
                // retrying now would fail again and, edge-triggered or not, spin the loop.
                // Tell the clients waiting now, then pause this listener for a back-off.
                if sys::is_out_of_descriptors(&e) {
                    self.stats.shed += self.door.shed(sock);
                }
                self.stats.accept_errors += 1;
                let backoff = self.config.accept_backoff;
                let why = if sys::is_resource_exhausted(&e) {
                    "out of descriptors or memory"
                } else {
                    "unexpected error"
                };
                warn!("accept failed ({why}): {e}; pausing this listener for {backoff:?}");
                let resume =
                    self.timers
                        .arm_after(self.now, backoff, TimerTarget::ResumeAccept(key));
                if let Some(Source::Listener { paused, .. }) = self.sources.get_mut(key) {
                    *paused = Some(resume);
                }
                Accepted::Stop
            }
        }
    }

    /// Serve a connection accepted here or handed over, through the door.
    fn admit(&mut self, stream: Stream, peer: PeerAddr) -> Accepted {
        if !self.door.admit_incoming() {
            // Accepted and closed at once: the client learns now instead of waiting in the
            // backlog, and the listener stops waking us for it.
            self.stats.rejected += 1;
            debug!("rejected a connection from {peer}: at the connection limit");
            return Accepted::Again;
        }
        match self.add_conn(stream, Opened::Accepted) {
            Ok(conn) => {
                self.stats.accepted += 1;
                Accepted::Conn(conn, peer)
            }
            Err(e) => {
                self.door.give_back();
                warn!("could not register a connection from {peer}: {e}");
                Accepted::Again
            }
        }
    }

    /// The next connection another reactor of the server handed here, served now: the
    /// listener it came through and the connection (for `on_accept`).
    pub(crate) fn next_handed(&mut self) -> Option<(ListenerId, ConnId, PeerAddr)> {
        loop {
            let (key, stream, peer) = self.spread.next_handed()?;
            let stream = stream.adopted(self.sources.net());
            if let Accepted::Conn(conn, peer) = self.admit(stream, peer) {
                return Some((ListenerId(key), conn, peer));
            }
        }
    }

    /// A listener's back-off is over: accept again, next turn.
    pub(crate) fn resume_accept(&mut self, key: Key) {
        if let Some(Source::Listener { paused, .. }) = self.sources.get_mut(key) {
            *paused = None;
            self.queue_read(key);
        }
    }

    // ----- removing and closing ---------------------------------------------------------------------

    /// Stop serving the listener `key` and close it.
    pub(crate) fn remove_listener(&mut self, key: Key) -> io::Result<()> {
        let Some(Source::Listener { paused, .. }) = self.sources.get(key) else {
            return Err(stale());
        };
        if let Some(resume) = *paused {
            self.timers.cancel(resume);
        }
        self.sources.remove(key);
        self.spread.remove_listener(key);
        Ok(())
    }

    /// Stop serving the datagram socket `key` and close it, after one last try at its
    /// queue. Closed while its receive batch is handled (from `on_datagram`), the replies
    /// gathered so far go first, and the batch ends: the rest of its datagrams are dropped
    /// with the socket, as the kernel drops those still queued.
    pub(crate) fn close_dgram(&mut self, key: Key) -> io::Result<()> {
        match self.sources.kind(key) {
            Some(crate::reactor::registry::Kind::Dgram) => {}
            _ => return Err(stale()),
        }
        if self.scratch.is_batching(key) {
            self.end_batch(key);
        }
        if let Some(Source::Dgram(dgram)) = self.sources.remove(key) {
            dgram.close(&mut self.stats);
        }
        Ok(())
    }

    /// Close `key` now: deregister and close the socket, give the buffers back, cancel its
    /// timer, and put the report on the closed list (its slot is freed when the report is
    /// made, at the end of the turn). Does nothing if `key` is stale.
    pub(crate) fn close_now(&mut self, key: Key, reason: CloseReason) {
        self.close_counted(key, reason, false);
    }

    /// [`close_now`](Core::close_now), counted during a shutdown as finished or `cut_off`.
    fn close_counted(&mut self, key: Key, reason: CloseReason, cut_off: bool) {
        if self.sources.conn(key).is_none() {
            return;
        }
        let Some(Source::Conn { sock, mut conn }) = self.sources.retire(key) else {
            return;
        };
        // Orderly, nothing discarded: TLS says close_notify (`Stream::finish`).
        let clean = reason.is_clean() && conn.status().queued == 0;
        if let Some(armed) = conn.release(&mut self.pool, self.admission.budget()) {
            self.timers.cancel(armed);
        }
        self.stats.count_close(&reason);
        if cut_off {
            self.stats.shutdown_cut_off += 1;
        } else if self.life.is_shutting_down() {
            self.stats.shutdown_finished += 1;
        }
        self.door.give_back();
        self.close_log.log(&sock, ConnId(key), &reason);
        sock.finish(clean);
        self.stats.work_cancelled += self.workers.cancel(key) as u64;
        // Descriptors never sent are closed with the connection.
        if !self.fds_out.is_empty() {
            if let Some(out) = self.fds_out.remove(&key) {
                self.stats.fds_out += out.fds_sent();
            }
        }
        self.work.push_closed(ConnId(key), reason);
    }

    /// Close `key` gracefully (see `Context::close`): flush, send FIN, linger.
    pub(crate) fn close_graceful(&mut self, key: Key) -> io::Result<()> {
        let Some((_, conn)) = self.sources.conn_mut(key) else {
            return Err(stale());
        };
        conn.close();
        self.schedule_flush(key);
        Ok(())
    }

    /// Half-close `key` once its queued output is flushed.
    pub(crate) fn shutdown_write(&mut self, key: Key) -> io::Result<()> {
        let Some((_, conn)) = self.sources.conn_mut(key) else {
            return Err(stale());
        };
        conn.shutdown_write();
        self.schedule_flush(key);
        Ok(())
    }

    /// Set one of `key`'s timeouts; its clock starts now.
    pub(crate) fn set_timeout(
        &mut self,
        key: Key,
        kind: TimeoutKind,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        let Some((_, conn)) = self.sources.conn_mut(key) else {
            return Err(stale());
        };
        conn.timers().set_timeout(kind, timeout, self.now);
        self.rearm(key);
        Ok(())
    }

    /// The next closed connection to report, in the order they closed.
    pub(crate) fn pop_closed(&mut self) -> Option<(ConnId, CloseReason)> {
        let next = self.work.pop_closed();
        if next.is_none() {
            self.close_log.end_turn();
        }
        next
    }

    /// Free the slot of a closed connection whose close was reported.
    pub(crate) fn free(&mut self, key: Key) {
        self.sources.free(key);
    }

    /// Count a handler panic.
    pub(crate) fn count_panic(&mut self) {
        self.stats.handler_panics += 1;
    }

    // ----- datagram sockets and signals -----------------------------------------------------------

    /// Send `data` to `peer` from `key`: gathered into the batch being answered, sent now,
    /// or queued (see `DgramSock::send_to`).
    #[inline]
    pub(crate) fn send_to(&mut self, key: Key, data: &[u8], peer: &PeerAddr) -> io::Result<()> {
        let max_queue = self.config.max_dgram_queue;
        let Some(dgram) = self.sources.dgram_mut(key) else {
            return Err(stale());
        };
        if self.scratch.is_batching(key) && !dgram.has_queued() {
            return self.scratch.gather(data, peer);
        }
        dgram.send_to(data, peer, max_queue, &mut self.stats)
    }

    /// Receive one datagram on `key` into `buf`, its sender into `peer` (see
    /// `DgramSock::recv_one`).
    #[inline]
    pub(crate) fn recv_dgram(
        &mut self,
        key: Key,
        buf: &mut Vec<u8>,
        peer: &mut PeerAddr,
    ) -> RecvOne {
        let limit = self.config.max_read_buffer;
        match self.sources.dgram_mut(key) {
            Some(dgram) => dgram.recv_one(buf, peer, limit, &mut self.stats),
            None => RecvOne::Drained,
        }
    }

    /// The batch port of `key`, if it is an IP datagram socket read in batches
    /// (`Config::udp_batching`).
    pub(crate) fn batch_port(&mut self, key: Key) -> Option<BatchPort> {
        if !self.config.udp_batching {
            return None;
        }
        self.sources.dgram_mut(key).and_then(|d| d.batch_port())
    }

    /// The scratch space, for the turn to borrow the datagram buffer and the receive batch
    /// from and give them back (`Scratch`).
    pub(crate) fn scratch(&mut self) -> &mut Scratch {
        &mut self.scratch
    }

    /// From now until [`end_batch`](Core::end_batch), replies sent on `key` are gathered.
    pub(crate) fn begin_batch(&mut self, key: Key) {
        self.scratch.set_batching(Some(key));
    }

    /// Send the replies gathered since [`begin_batch`](Core::begin_batch), together.
    pub(crate) fn end_batch(&mut self, key: Key) {
        self.scratch.set_batching(None);
        if !self.scratch.has_replies() {
            return;
        }
        let batch: SendBatch = self.scratch.lend_send_batch();
        let max_queue = self.config.max_dgram_queue;
        if let Some(dgram) = self.sources.dgram_mut(key) {
            dgram.send_batch(&batch, max_queue, &mut self.stats);
        }
        self.scratch.return_send_batch(batch);
    }

    /// The next signal waiting on the signal source `key`, if any.
    pub(crate) fn read_signal(&mut self, key: Key) -> Option<i32> {
        match self.sources.signals_mut(key)?.read() {
            Ok(signo) => signo,
            Err(e) => {
                log::warn!("reading signals: {e}");
                None
            }
        }
    }

    // ----- shutting down ---------------------------------------------------------------------------

    /// Begin a graceful shutdown (see `Context::shutdown`): stop listening, close the
    /// datagram sockets, and let every connection finish the message under way. The turn
    /// asks at the end of this turn, and after each delivery and flush from then on, whether
    /// a connection is at a message boundary ([`close_at_boundary`](Core::close_at_boundary));
    /// once it is, it closes cleanly (FIN, then a lingering close). `grace` bounds it all.
    pub(crate) fn shutdown(&mut self, grace: Duration) {
        if !self.life.begin_shutdown() {
            return;
        }
        let keys: Vec<(Key, Kind)> = self
            .sources
            .iter()
            .filter_map(|(key, _)| Some((key, self.sources.kind(key)?)))
            .collect();
        log::info!(
            "shutdown: {} connection(s) open; no new ones; each closes at its next message boundary",
            self.stats.active
        );
        for (key, kind) in keys {
            match kind {
                Kind::Conn => self.schedule_flush(key),
                Kind::Dgram => {
                    let _ = self.close_dgram(key);
                }
                Kind::Listener => {
                    let _ = self.remove_listener(key);
                }
                // The program's own descriptors stay watched: they are its to end.
                Kind::Signals | Kind::Watch => {}
            }
        }
        // A grace too long to represent is no limit at all.
        if self.now.checked_add(grace).is_some() {
            let id = self
                .timers
                .arm_after(self.now, grace, TimerTarget::ShutdownDeadline);
            self.life.set_grace_end(id);
        }
        self.check_shutdown_done();
    }

    /// During a graceful shutdown: close `key` cleanly if it is at a message boundary and the
    /// handler is not `busy` with one. Returns `true` if it began closing: flush it now. A
    /// connection not at a boundary (on the read list counts: input may wait in the kernel)
    /// is asked again at the end of every turn until it is.
    pub(crate) fn close_at_boundary(&mut self, key: Key, busy: bool) -> bool {
        let busy = busy || self.sources.is_read_listed(key);
        let Some((_, conn)) = self.sources.conn_mut(key) else {
            return false;
        };
        let closing = conn.close_at_boundary(busy);
        if !closing {
            self.life.ask_again(key);
        }
        closing
    }

    /// The connections to ask again, at the end of this turn, whether they are at a message
    /// boundary (see [`close_at_boundary`](Core::close_at_boundary)).
    pub(crate) fn take_unfinished(&mut self) -> Vec<Key> {
        self.life.take_unfinished()
    }

    /// End a graceful shutdown if no connection is left.
    pub(crate) fn check_shutdown_done(&mut self) {
        if self.life.is_shutting_down() && self.stats.active == 0 {
            if let Some(t) = self.life.finish_shutdown() {
                self.timers.cancel(t);
            }
        }
    }

    /// A graceful shutdown's grace is over: cut off what is left.
    pub(crate) fn finish_shutdown(&mut self) {
        if !self.life.grace_over() {
            return;
        }
        self.cut_off("the grace period is over");
        // The grace's entry has fired: nothing to cancel.
        let _ = self.life.finish_shutdown();
    }

    /// Stop after this turn. During a graceful shutdown (a second signal), the connections
    /// left are cut off now, and counted so.
    pub(crate) fn stop(&mut self) {
        if self.life.is_shutting_down() {
            self.cut_off("stopped");
            if let Some(t) = self.life.finish_shutdown() {
                self.timers.cancel(t);
            }
        }
        self.life.stop();
    }

    /// Close every connection left at once, counting it as cut off (one already closing,
    /// its output flushed and FIN sent, as finished), and say how many and in what state.
    fn cut_off(&mut self, why: &str) {
        let left: Vec<(Key, bool)> = self
            .sources
            .conn_keys()
            .filter_map(|key| Some((key, self.sources.conn(key)?.1.status().closing)))
            .collect();
        let (mut partial, mut queued, mut cut) = (0, 0, 0);
        for (_, conn) in left.iter().filter_map(|&(key, _)| self.sources.conn(key)) {
            let status = conn.status();
            partial += usize::from(status.unconsumed > 0);
            queued += usize::from(status.queued > 0);
            cut += usize::from(!status.closing);
        }
        if cut > 0 {
            warn!(
                "shutdown: {why}: cutting off {cut} connection(s) ({partial} holding part of a message, {queued} with output queued) after {} finished",
                self.stats.shutdown_finished
            );
        }
        for (key, closing) in left {
            self.close_counted(key, CloseReason::Local, !closing);
        }
    }

    /// The sockets, to look up (addresses, options, the open connections): read only.
    pub(crate) fn sources(&self) -> &Sources {
        &self.sources
    }
}
