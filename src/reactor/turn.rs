//! The turn's steps that call the handler: routing each readiness event to the room that
//! serves it, serving the read list and the flush list, firing due timers, calling the
//! handler (every callback goes through [`Core::call`], which lends it a [`Context`] and
//! catches its panics) and reporting closed connections in one place, [`Core::reap`], the
//! last step of every turn.
//!
//! Routing: stale tokens (a source closed earlier in the same batch, its slot perhaps
//! reused) find no entry and are dropped here. Timers: a connection's deadline is checked
//! lazily (the connection decides what, if anything, has expired), a user timer reaches
//! `on_timer`, the end of an accept back-off resumes accepting, the end of a shutdown's
//! grace ends it.
//!
//! This room sits below the I/O rooms (`stream`, `accept`, `dgram`), which call the handler
//! through it, and above the rooms a `Context` acts through (`open`, `close`),
//! which never call the handler. That order is what keeps the imports free of circles.

use std::io;
use std::sync::mpsc;
use std::time::Duration;

use log::error;

use super::context::Context;
use super::core::Core;
use super::handle::Msg;
use super::handler::{Handler, TimeoutAction};
use super::ids::ConnId;
use super::registry::{Key, Source, WAKER};
use super::timers::Due;
use crate::conn::TimerStep;
use crate::error::CloseReason;
use crate::time::TimerHandle;

impl Core {
    /// One turn (see the module docs of `reactor`): poll, serve each event, serve the read
    /// list, fire due timers, flush, reap, admit. Messages from handles (`rx`) are served where
    /// the waker's event falls in the batch. Returns the number of events.
    pub(crate) fn turn<H: Handler>(
        &mut self,
        h: &mut H,
        rx: &mpsc::Receiver<Msg<H>>,
        max_wait: Option<Duration>,
    ) -> io::Result<usize> {
        let (batch, events) = self.poll(max_wait)?;
        // The read list as it stood: what this turn adds to it waits for the next turn.
        let leftover = self.take_read_list();
        if batch.is_simulated() {
            // The waker's descriptor is never polled in a simulation.
            self.serve_messages(h, rx);
        }
        batch.for_each(|event| {
            if event.token == WAKER {
                return self.serve_messages(h, rx);
            }
            let key = Key::from_token(event.token);
            if event.readable || event.hup {
                self.readable(h, key, event.hup);
            }
            if event.writable {
                self.writable(h, key);
            }
        });
        self.give_back(batch);
        self.serve_read_list(h, leftover);
        self.expire(h);
        self.flush_all(h);
        self.reap(h);
        self.admit_waiting();
        Ok(events)
    }

    /// Serve the messages handles sent: stop, shut down, or run a closure.
    fn serve_messages<H: Handler>(&mut self, h: &mut H, rx: &mpsc::Receiver<Msg<H>>) {
        while let Ok(msg) = rx.try_recv() {
            match msg {
                Msg::Stop => self.stop(),
                Msg::Shutdown(grace) => self.shutdown(grace),
                Msg::Run(job) => {
                    self.call(h, None, job);
                }
            }
        }
    }

    /// Serve a readable source. `hup`: the event also reported the peer's end of file, an
    /// error or urgent data (or we cannot know), so a short read does not prove the socket
    /// drained.
    pub(crate) fn readable<H: Handler>(&mut self, h: &mut H, key: Key, hup: bool) {
        match self.sources.get(key) {
            Some(Source::Conn { .. }) => self.read_conn(h, key, hup),
            Some(Source::Listener { .. }) => self.accept(h, key),
            Some(Source::Dgram { .. }) => self.read_dgram(h, key),
            Some(Source::Signals(_)) => self.read_signals(h, key),
            // Closed earlier in this turn: the event is stale.
            Some(Source::Closed) | None => {}
        }
    }

    /// Serve a writable source.
    pub(crate) fn writable<H: Handler>(&mut self, h: &mut H, key: Key) {
        match self.sources.get(key) {
            Some(Source::Conn { .. }) => self.conn_writable(h, key),
            Some(Source::Dgram { .. }) => self.flush_dgram(key),
            _ => {}
        }
    }

    /// Serve the read list as it stood before this turn's events: sources that used up their
    /// budget, listeners resuming after a back-off, connections whose reading resumed or that
    /// linger in a close. Each is served once; what this serving adds waits for next turn.
    pub(crate) fn serve_read_list<H: Handler>(&mut self, h: &mut H, leftover: Vec<Key>) {
        for &key in &leftover {
            if self.unqueue_read(key) {
                // No event says whether the peer hung up: read until the kernel says
                // WouldBlock.
                self.readable(h, key, true);
            }
        }
        self.work.give_back_reads(leftover);
    }

    /// Write every connection given output this turn.
    pub(crate) fn flush_all<H: Handler>(&mut self, h: &mut H) {
        // Flushing can queue more output (on_drained); that waits for the next turn.
        let mut list = self.work.take_flushes();
        for &key in &list {
            self.flush(h, key);
        }
        self.work.give_back_flushes(std::mem::take(&mut list));
    }

    /// Fire every precise timer and wheel entry due by this turn's `now`.
    pub(crate) fn expire<H: Handler>(&mut self, h: &mut H) {
        while let Some(due) = self.timers.poll_precise(self.now) {
            self.fire(h, due);
        }
        while let Some(due) = self.timers.poll_wheel(self.now) {
            self.fire(h, due);
        }
    }

    /// Carry out what a due timer is for.
    fn fire<H: Handler>(&mut self, h: &mut H, due: Due) {
        match due {
            Due::User(id, token) => {
                self.call(h, None, |h, cx| h.on_timer(cx, id, token));
            }
            Due::Conn(handle, key) => self.check_deadlines(h, key, handle),
            Due::ShutdownDeadline => self.finish_shutdown(),
            Due::ResumeAccept(key) => self.resume_accept(key),
        }
    }

    /// `key`'s wheel entry fired: ask the connection what has expired.
    fn check_deadlines<H: Handler>(&mut self, h: &mut H, key: Key, handle: TimerHandle) {
        let now = self.now;
        let Some((_, conn)) = self.sources.conn_mut(key) else {
            return;
        };
        match conn.on_timer(now, handle) {
            TimerStep::Stale => return,
            TimerStep::Rearm => {}
            TimerStep::Close(reason) => return self.close_now(key, reason),
            TimerStep::TimedOut(kind) => {
                self.stats.timeouts += 1;
                let asked = self.call(h, Some(key), |h, cx| h.on_timeout(cx, ConnId(key), kind));
                match asked {
                    // The handler panicked, and its connection is closed already.
                    None => return,
                    Some(TimeoutAction::Close) => {
                        return self.close_now(key, CloseReason::TimedOut(kind))
                    }
                    Some(TimeoutAction::KeepOpen) => {
                        if let Some((_, conn)) = self.sources.conn_mut(key) {
                            conn.keep_open(kind, now);
                        }
                    }
                }
            }
        }
        self.rearm(key);
    }

    /// Call the handler through `f`. Unless `Config::catch_panics` is off, a panic in it is
    /// caught: it is logged and counted, and `conn` (the connection the call was about, if
    /// any) is closed with [`CloseReason::Panicked`], so that one faulty request cannot take
    /// the whole reactor down. Returns `None` if the handler panicked.
    pub(crate) fn call<H: Handler, R>(
        &mut self,
        h: &mut H,
        conn: Option<Key>,
        f: impl FnOnce(&mut H, &mut Context<'_>) -> R,
    ) -> Option<R> {
        if !self.config.catch_panics {
            return Some(f(h, &mut Context { core: self }));
        }
        // AssertUnwindSafe: after a panic the handler's state may be half-updated; the handler
        // learns of it through on_close(CloseReason::Panicked) and can repair its state there.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            f(h, &mut Context { core: self })
        }));
        match result {
            Ok(r) => Some(r),
            Err(payload) => {
                let msg = panic_message(payload.as_ref());
                self.stats.handler_panics += 1;
                match conn {
                    Some(key) => {
                        error!(
                            "handler panicked on conn#{}.{}: {msg}; closing it",
                            key.index, key.gen
                        );
                        self.close_now(key, CloseReason::Panicked(msg));
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
    pub(crate) fn reap<H: Handler>(&mut self, h: &mut H) {
        while let Some((id, reason)) = self.work.pop_closed() {
            self.call(h, None, |h, cx| h.on_close(cx, id, &reason));
            // Only now: a socket opened inside on_close must not take this id's slot.
            self.sources.free(id.0);
        }
        self.check_shutdown_done();
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
