//! [`Turn`]: one turn of the reactor, the only code that calls the handler.
//!
//! A `Turn` holds the core and the handler for the length of a turn. Its steps route each
//! readiness event to the work of its source's kind, serve the read list and the flush list,
//! fire due timers, and report closed connections in one place, [`Turn::reap`], the last
//! step of every turn. Each step asks the core (`core/`) to move the data, and calls the
//! handler with what comes out: every callback goes through [`Turn::call`], which lends the
//! handler a [`Context`] and catches its panics.
//!
//! Routing: stale tokens (a source closed earlier in the same batch, its slot perhaps
//! reused) find no entry and are dropped here. Timers: a connection's deadline is checked
//! lazily (the connection decides what, if anything, has expired), a user timer reaches
//! `on_timer`, the end of an accept back-off resumes accepting, the end of a shutdown's
//! grace ends it.
//!
//! The imports point one way: the turn uses the context, the context uses the core, and the
//! core never calls the handler.

use std::io;
use std::sync::mpsc;
use std::time::Duration;

use log::error;

use super::context::Context;
use super::core::{Accepted, Core};
use super::dgram::RecvOne;
use super::handle::Msg;
use super::handler::{Handler, TimeoutAction};
use super::ids::{ConnId, DgramId, ListenerId, Readiness, WatchId};
use super::registry::{Key, Kind, WAKER};
use super::timers::Due;
use crate::addr::{unmap, PeerAddr};
use crate::buf::ReadBuf;
use crate::conn::{InputStep, Writable};
use crate::error::CloseReason;

/// The core and the handler, for one turn (see the module docs).
pub(crate) struct Turn<'a, H> {
    core: &'a mut Core,
    h: &'a mut H,
}

impl<'a, H: Handler> Turn<'a, H> {
    /// A turn of `core`, calling `h`.
    pub(crate) fn new(core: &'a mut Core, h: &'a mut H) -> Turn<'a, H> {
        Turn { core, h }
    }

    /// One turn (see the module docs of `reactor`): poll, serve each event, serve the read
    /// list, fire due timers, flush, reap, admit. Messages from handles (`rx`) are served
    /// where the waker's event falls in the batch. Returns the number of events.
    pub(crate) fn run(
        mut self,
        rx: &mpsc::Receiver<Msg<H>>,
        max_wait: Option<Duration>,
    ) -> io::Result<usize> {
        let (batch, events) = self.core.poll(max_wait)?;
        // The read list as it stood: what this turn adds to it waits for the next turn.
        let leftover = self.core.work().take_reads();
        if batch.is_simulated() {
            // The waker's descriptor is never polled in a simulation.
            self.serve_messages(rx);
        }
        batch.for_each(|event| {
            if event.token == WAKER {
                return self.serve_messages(rx);
            }
            let key = Key::from_token(event.token);
            let mut writable = event.writable;
            if event.readable || event.hup {
                // A connection's read may see to the writable half itself.
                writable &= !self.readable(key, event.hup, writable);
            }
            if writable {
                self.writable(key);
            }
        });
        self.core.give_back(batch);
        self.deliver_work();
        self.serve_read_list(leftover);
        self.expire();
        self.deliver_dials();
        self.flush_all();
        if self.core.is_shutting_down() {
            self.ask_unfinished();
        }
        self.reap();
        self.core.admit_waiting();
        // The turn's length, from the poll's return to here (the one clock read it adds).
        let started = self.core.now();
        self.core.read_clock();
        let took = self.core.now().saturating_duration_since(started);
        self.core.stats_mut().turns.record(took);
        Ok(events)
    }

    /// Hand the results of finished jobs to the handler (running waiting jobs first, when
    /// they run inline).
    #[inline(never)]
    fn deliver_work(&mut self) {
        self.core.outside().run_inline();
        while let Some((id, output)) = self.core.outside().next_finished() {
            self.call(None, |h, cx| h.on_work_done(cx, id, output));
        }
    }

    /// Serve what other threads sent: connections handed over, and the messages handles sent
    /// (stop, shut down, or run a closure).
    #[inline(never)]
    fn serve_messages(&mut self, rx: &mpsc::Receiver<Msg<H>>) {
        // Connections other reactors of the server handed here (`balance.rs`).
        while let Some((listener, conn, peer)) = self.core.next_handed() {
            self.call(Some(conn.0), |h, cx| h.on_accept(cx, listener, conn, &peer));
        }
        while let Ok(msg) = rx.try_recv() {
            match msg {
                Msg::Stop => self.core.stop(),
                Msg::Shutdown(grace) => self.core.shutdown(grace),
                Msg::Run(job) => {
                    self.call(None, job);
                }
            }
        }
    }

    /// Serve a readable source. `hup`: the event also reported the peer's end of file, an
    /// error or urgent data (or we cannot know), so a short read does not prove the socket
    /// drained.
    /// `writable`: the event also said writable; returns whether that half was seen to here
    /// (see [`read_conn`](Turn::read_conn)).
    #[inline]
    fn readable(&mut self, key: Key, hup: bool, writable: bool) -> bool {
        match self.core.kind(key) {
            Some(Kind::Conn) => return self.read_conn(key, hup, writable),
            Some(Kind::Listener) => self.accept(key),
            Some(Kind::Dgram) => self.read_dgram(key),
            Some(Kind::Signals) => self.read_signals(key),
            Some(Kind::Watch) => self.watch_ready(key, Readiness::READABLE),
            // Closed earlier in this turn: the event is stale.
            None => {}
        }
        false
    }

    /// Serve a writable source.
    #[inline]
    fn writable(&mut self, key: Key) {
        match self.core.writable(key) {
            None => self.watch_ready(key, Readiness::WRITABLE),
            Some(Writable::Flush) => self.flush(key),
            Some(Writable::Connected) => {
                self.call(Some(key), |h, cx| h.on_connect(cx, ConnId(key)));
                // Input may already be waiting, and its event may have come before we
                // stopped connecting.
                self.read_conn(key, true, false);
                self.flush(key);
            }
            _ => {}
        }
    }

    /// Serve the read list as it stood before this turn's events: sources that used up
    /// their budget, listeners resuming after a back-off, connections whose reading resumed
    /// or that linger in a close. Each is served once; what this serving adds waits for next
    /// turn.
    fn serve_read_list(&mut self, leftover: Vec<Key>) {
        for &key in &leftover {
            if self.core.unqueue_read(key) {
                // No event says whether the peer hung up: read until the kernel says
                // WouldBlock.
                self.readable(key, true, false);
            }
        }
        self.core.work().give_back_reads(leftover);
    }

    /// Write every connection given output this turn.
    fn flush_all(&mut self) {
        // Flushing can queue more output (on_drained); that waits for the next turn.
        let list = self.core.work().take_flushes();
        for &key in &list {
            self.flush(key);
        }
        self.core.work().give_back_flushes(list);
    }

    /// During a shutdown, ask again each connection found in the middle of a message
    /// (by the handler, or with input waiting) whether it has reached a boundary: whatever
    /// ended its message (a job's result written at once, a timer) may have queued nothing.
    #[inline(never)]
    fn ask_unfinished(&mut self) {
        for key in self.core.take_unfinished() {
            self.flush(key);
        }
    }

    // ----- stream connections ----------------------------------------------------------------

    /// Read `key` until drained (`WouldBlock`, or a short TCP read) or its read budget is
    /// spent, handing the bytes to the handler. `writable`: the event said writable too;
    /// returns whether that half was seen to here (the last read delivered input and the
    /// socket was drained: the connection, in hand then, said whether it has a flush to
    /// make), which spares the event a second look-up.
    #[inline]
    fn read_conn(&mut self, key: Key, hup: bool, writable: bool) -> bool {
        let mut budget = self.core.config().read_budget;
        loop {
            let Some((read, lent)) = self.core.read_once(key, hup, &mut budget) else {
                return false;
            };
            if let Some(fds) = self.core.take_fds_in() {
                self.hand_over_fds(key, fds, matches!(read.step, InputStep::Deliver));
            }
            match read.step {
                InputStep::Deliver => {
                    self.deliver(key, lent, (read.drained, writable));
                    if read.drained {
                        return writable;
                    }
                }
                InputStep::Discarded => {}
                InputStep::ReadClosed => {
                    self.call(Some(key), |h, cx| h.on_read_closed(cx, ConnId(key)));
                    return false;
                }
                // More input may be waiting, but others get their turn first.
                InputStep::Yield => {
                    self.core.queue_read(key);
                    return false;
                }
                // The bytes wait in the kernel, and TCP pushes back on the sender, until the
                // budget admits this connection again.
                InputStep::WaitForBudget => {
                    self.core.wait_for_budget(key);
                    return false;
                }
                InputStep::Close(reason) => {
                    self.core.close_now(key, reason);
                    return false;
                }
                _ => return false,
            }
        }
    }

    /// Offer `key`'s unconsumed input (`lent` by the read, or taken now) to the handler; if
    /// the socket is `drained`, the read block goes back to the pool afterwards unless input
    /// is left in it (see `Core::restore_input` for `writable`).
    #[inline]
    fn deliver(&mut self, key: Key, lent: Option<ReadBuf>, (drained, writable): (bool, bool)) {
        let Some(rbuf) = lent.or_else(|| self.core.take_input(key)) else {
            return;
        };
        let used = self
            .call(Some(key), |h, cx| h.on_data(cx, ConnId(key), rbuf.data()))
            .unwrap_or(rbuf.len());
        self.core
            .restore_input(key, rbuf, used, (drained, writable));
    }

    /// Write `key`'s queued output, and tell the handler if it drained. During a graceful
    /// shutdown, close the connection cleanly once it is at a message boundary.
    fn flush(&mut self, key: Key) {
        if self.core.flush(key) {
            self.call(Some(key), |h, cx| h.on_drained(cx, ConnId(key)));
        }
        if self.core.is_shutting_down() && self.core.conn(key).is_some_and(|c| !c.status().closing)
        {
            let busy = self
                .call(Some(key), |h, cx| h.in_message(cx, ConnId(key)))
                .unwrap_or(false);
            if self.core.close_at_boundary(key, busy) {
                // Nothing is queued: this sends FIN and starts the lingering close.
                self.core.flush(key);
            }
        }
    }

    /// Give the descriptors of the read just made to the handler, before their bytes, if
    /// those bytes are going to it (`deliver`); otherwise (input being discarded, the
    /// connection closing) close them.
    fn hand_over_fds(&mut self, key: Key, fds: Vec<std::os::fd::OwnedFd>, deliver: bool) {
        if deliver {
            self.core.stats_mut().fds_in += fds.len() as u64;
            self.call(Some(key), |h, cx| h.on_descriptors(cx, ConnId(key), fds));
        } else {
            log::debug!(
                "{} descriptors closed unread: the connection is not taking input",
                fds.len()
            );
        }
    }

    // ----- listeners, datagram sockets, signals ----------------------------------------------------

    /// Accept up to `Config::accept_batch` connections from the listener `key`.
    fn accept(&mut self, key: Key) {
        for _ in 0..self.core.config().accept_batch {
            match self.core.accept_one(key) {
                Accepted::Conn(conn, peer) => {
                    self.call(Some(conn.0), |h, cx| {
                        h.on_accept(cx, ListenerId(key), conn, &peer)
                    });
                }
                Accepted::Again => {}
                Accepted::Stop => return,
            }
        }
        // Batch used up: more connections may be waiting; continue next turn.
        self.core.queue_read(key);
    }

    /// Receive up to `Config::dgram_budget` datagrams on `key`, one handler call each.
    fn read_dgram(&mut self, key: Key) {
        if self.read_dgram_batches(key) {
            return;
        }
        let mut buf = self.core.scratch().lend_dgram_buf();
        let mut peer = PeerAddr::Inet(([0, 0, 0, 0], 0).into());
        for _ in 0..self.core.config().dgram_budget {
            match self.core.recv_dgram(key, &mut buf, &mut peer) {
                RecvOne::Got(n) => {
                    self.call(None, |h, cx| {
                        h.on_datagram(cx, DgramId(key), &buf[..n], &peer)
                    });
                }
                RecvOne::Again => {}
                RecvOne::Drained => {
                    self.core.scratch().return_dgram_buf(buf);
                    return;
                }
            }
        }
        self.core.scratch().return_dgram_buf(buf);
        self.core.queue_read(key);
    }

    /// Receive on an IP datagram socket many datagrams per call (`recvmmsg`), with
    /// `Config::udp_batching`; the replies the handler sends meanwhile on the same socket are
    /// gathered and sent together (`sendmmsg`) after each batch. `false` if `key` is not
    /// read that way.
    fn read_dgram_batches(&mut self, key: Key) -> bool {
        let Some(mut port) = self.core.batch_port(key) else {
            return false;
        };
        let mut batch = self.core.scratch().lend_recv_batch();
        let mut budget = self.core.config().dgram_budget;
        loop {
            if budget == 0 {
                // More may be waiting; others get their turn first.
                self.core.queue_read(key);
                break;
            }
            let n = match port.recv(&mut batch) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // An ICMP error for an earlier send (ECONNREFUSED and the like) is reported
                // once on the next call; it concerns no datagram in the queue.
                Err(e) => {
                    log::debug!("recvmmsg: {e}");
                    budget -= 1;
                    continue;
                }
            };
            self.core.begin_batch(key);
            let mut delivered = 0;
            for i in 0..n {
                let (data, truncated, from) = batch.get(i);
                let Some(from) = from else { continue };
                let peer = PeerAddr::Inet(unmap(from));
                let stats = self.core.stats_mut();
                if truncated {
                    stats.dgram_recv_dropped += 1;
                    log::warn!(
                        "dropped a datagram from {peer}: larger than {} bytes",
                        data.len()
                    );
                    continue;
                }
                // Receive coalescing glues a run of datagrams from one sender: each but the
                // last is `segment` bytes long. Control data cut short may have lost the size.
                let segment = batch.segment(i);
                if segment.is_none() && batch.control_cut(i) {
                    stats.dgram_recv_dropped += 1;
                    log::warn!(
                        "dropped {} bytes from {peer}: their control data did not fit, so \
                         whether they are one datagram or several glued cannot be told",
                        data.len()
                    );
                    continue;
                }
                let segment = segment.filter(|&s| s > 0 && s < data.len());
                if let Some(s) = segment {
                    self.core.stats_mut().datagrams_glued_in += data.len().div_ceil(s) as u64;
                }
                let mut rest = data;
                // Closing the socket ends its batch (`Core::close_dgram`): no call for a
                // closed id.
                let closed = loop {
                    let (one, tail) =
                        rest.split_at(segment.map_or(rest.len(), |s| s.min(rest.len())));
                    let stats = self.core.stats_mut();
                    stats.datagrams_in += 1;
                    stats.bytes_in += one.len() as u64;
                    self.call(None, |h, cx| h.on_datagram(cx, DgramId(key), one, &peer));
                    delivered += 1;
                    rest = tail;
                    let closed = !self.core.scratch().is_batching(key);
                    if closed || rest.is_empty() {
                        break closed;
                    }
                };
                if closed {
                    log::debug!(
                        "the handler closed its datagram socket: {} bytes and {} receive \
                         slots after them dropped with it",
                        rest.len(),
                        n - i - 1
                    );
                    break;
                }
            }
            self.core.end_batch(key);
            // The budget counts datagrams, however many a slot held glued.
            budget = budget.saturating_sub(delivered.max(n).max(1));
            // The handler may have closed the socket.
            match self.core.batch_port(key) {
                Some(p) => port = p,
                None => break,
            }
            // A short batch does not prove the queue empty: Linux also ends a batch early
            // when an error (an ICMP error for an earlier send) comes after some datagrams,
            // reports the error on the next call, and raises no new edge for the datagrams
            // still queued. So the loop goes on until `WouldBlock`, like the single path.
        }
        self.core.scratch().return_recv_batch(batch);
        true
    }

    /// Tell the handler that the watched descriptor `key` is `ready`, unless it is an
    /// attempt of a connection by name (`dial.rs`), which the core serves itself.
    #[inline(never)]
    fn watch_ready(&mut self, key: Key, ready: Readiness) {
        if !self.core.outside().dial_ready(key) {
            self.call(None, |h, cx| h.on_ready(cx, WatchId(key), ready));
        }
    }

    /// Tell the handler how each connection by name that ended this turn went (a connection
    /// made is then served, and its writable event brings `on_connect`).
    #[inline(never)]
    fn deliver_dials(&mut self) {
        while let Some((dial, result)) = self.core.next_dialed() {
            let conn = result.as_ref().ok().map(|c| c.0);
            self.call(conn, |h, cx| h.on_dialed(cx, dial, result));
        }
    }

    /// Report each signal that arrived on `key` to the handler.
    fn read_signals(&mut self, key: Key) {
        while let Some(signo) = self.core.read_signal(key) {
            self.call(None, |h, cx| h.on_signal(cx, signo));
        }
    }

    // ----- timers ----------------------------------------------------------------------------

    /// Fire every precise timer and wheel entry due by this turn's `now`.
    fn expire(&mut self) {
        while let Some(due) = self.core.next_precise_due() {
            self.fire(due);
        }
        while let Some(due) = self.core.next_wheel_due() {
            self.fire(due);
        }
    }

    /// Carry out what a due timer is for.
    fn fire(&mut self, due: Due) {
        match due {
            Due::User(id, token) => {
                self.call(None, |h, cx| h.on_timer(cx, id, token));
            }
            Due::Conn(handle, key) => {
                if let Some(kind) = self.core.conn_timer(key, handle) {
                    let asked = self.call(Some(key), |h, cx| h.on_timeout(cx, ConnId(key), kind));
                    match asked {
                        // The handler panicked, and its connection is closed already.
                        None => {}
                        Some(TimeoutAction::Close) => {
                            self.core.close_now(key, CloseReason::TimedOut(kind))
                        }
                        Some(TimeoutAction::KeepOpen) => self.core.keep_open(key, kind),
                    }
                }
            }
            Due::ShutdownDeadline => self.core.finish_shutdown(),
            Due::ResumeAccept(key) => self.core.resume_accept(key),
            Due::Dial(id) => self.core.outside().dial_timer(id),
        }
    }

    // ----- the handler ------------------------------------------------------------------------

    /// Call the handler through `f`. Unless `Config::catch_panics` is off, a panic in it is
    /// caught: it is logged and counted, and `conn` (the connection the call was about, if
    /// any) is closed with [`CloseReason::Panicked`], so that one faulty request cannot take
    /// the whole reactor down. Returns `None` if the handler panicked.
    #[inline]
    pub(crate) fn call<R>(
        &mut self,
        conn: Option<Key>,
        f: impl FnOnce(&mut H, &mut Context<'_>) -> R,
    ) -> Option<R> {
        if !self.core.config().catch_panics {
            return Some(f(self.h, &mut Context::new(self.core)));
        }
        // AssertUnwindSafe: after a panic the handler's state may be half-updated; the handler
        // learns of it through on_close(CloseReason::Panicked) and can repair its state there.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            f(self.h, &mut Context::new(self.core))
        }));
        match result {
            Ok(r) => Some(r),
            Err(payload) => {
                let msg = panic_message(payload.as_ref());
                self.core.count_panic();
                match conn {
                    Some(key) => {
                        error!(
                            "handler panicked on conn#{}.{}: {msg}; closing it",
                            key.index, key.gen
                        );
                        self.core.close_now(key, CloseReason::Panicked(msg));
                    }
                    None => error!("handler panicked: {msg}"),
                }
                None
            }
        }
    }

    /// The turn's last step: tell the handler about every connection closed since the last
    /// reap (its `on_close`, in the order they closed), free their slots, and finish a
    /// graceful shutdown that has no connection left. A close made inside `on_close` is
    /// reported in the same reap.
    pub(crate) fn reap(&mut self) {
        while let Some((id, reason)) = self.core.pop_closed() {
            self.call(None, |h, cx| h.on_close(cx, id, &reason));
            // Only now: a socket opened inside on_close must not take this id's slot.
            self.core.free(id.0);
        }
        self.core.check_shutdown_done();
    }
}

/// The text of a panic's payload (what `panic!` was given), or a placeholder.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic with a non-text payload)".to_owned()
    }
}
