//! Ending things: closing a connection at once or gracefully, removing other sources, and the
//! graceful shutdown of the whole reactor.
//!
//! A connection closed here is gone at once for the handler (its id is stale from then on)
//! and for the kernel (deregistered, socket closed), but its slab slot stays taken, marked
//! closed, and its `on_close` report goes on the closed list. The turn's last step,
//! `Core::reap`, reports every close and frees the slots: closes are reaped in one place, and
//! no id or token can come to mean another connection within the turn that closed it.

use std::io;
use std::time::Duration;

use log::{log_enabled, warn, Level};

use super::core::Core;
use super::ids::ConnId;
use super::registry::Key;
use super::registry::Source;
use super::socket::Stream;
use super::timers::TimerTarget;
use crate::error::{stale, CloseReason};

impl Core {
    /// Close `key` now: deregister and close the socket, give the buffers back, cancel its
    /// timer, and put the report on the closed list (its slot is freed when the report is
    /// made, at the end of the turn). Does nothing if `key` is stale.
    pub(crate) fn close_now(&mut self, key: Key, reason: CloseReason) {
        if self.sources.conn(key).is_none() {
            return;
        }
        let Some(Source::Conn { sock, mut conn }) = self.sources.retire(key) else {
            return;
        };
        if let Some(armed) = conn.release(&mut self.pool, self.admission.budget()) {
            self.timers.cancel(armed);
        }
        self.stats.count_close(&reason);
        self.door.give_back();
        log_close(key, &sock, &reason);
        drop(sock);
        // Descriptors never sent are closed with the connection.
        if !self.fds_out.is_empty() {
            if let Some(out) = self.fds_out.remove(&key) {
                self.stats.fds_out += out.fds_sent();
            }
        }
        self.work.push_closed(ConnId(key), reason);
    }

    /// Close `key` once its queued output is flushed (see `Conn::close`).
    pub(crate) fn close_graceful(&mut self, key: Key) -> io::Result<()> {
        let Some((_, conn)) = self.sources.conn_mut(key) else {
            return Err(stale());
        };
        conn.close();
        self.schedule_flush(key);
        Ok(())
    }

    /// Deregister and drop a listener, and cancel its accept back-off if it is paused;
    /// `NotConnected` if `key` is not a current listener.
    pub(crate) fn remove_listener(&mut self, key: Key) -> io::Result<()> {
        let Some(Source::Listener { paused, .. }) = self.sources.get(key) else {
            return Err(stale());
        };
        if let Some(resume) = *paused {
            self.timers.cancel(resume);
        }
        self.sources.remove(key);
        Ok(())
    }

    /// Close a datagram socket (see `remove_dgram`); `NotConnected` if `key` is not a current
    /// datagram socket.
    pub(crate) fn close_dgram(&mut self, key: Key) -> io::Result<()> {
        if !matches!(self.sources.get(key), Some(Source::Dgram { .. })) {
            return Err(stale());
        }
        self.remove_dgram(key);
        Ok(())
    }

    /// Deregister and drop a datagram socket, counting (and logging) what it still had
    /// queued: nothing disappears silently.
    fn remove_dgram(&mut self, key: Key) {
        // One last try at queued replies.
        self.flush_dgram(key);
        if let Some(Source::Dgram { queue, .. }) = self.sources.remove(key) {
            if !queue.is_empty() {
                self.stats.dgram_send_errors += queue.len() as u64;
                warn!("dropping {} queued datagram(s) at close", queue.len());
            }
        }
    }

    /// Start a graceful shutdown: stop accepting and receiving datagrams, ask every
    /// connection to close once its queued output is flushed, and give them `grace` to do
    /// so. The reactor stops when the last connection is gone or the time is up, whichever
    /// comes first; connections still open then are closed at once.
    pub(crate) fn shutdown(&mut self, grace: Duration) {
        if !self.life.begin_shutdown() {
            return;
        }
        let keys: Vec<(Key, bool, bool)> = self
            .sources
            .iter()
            .filter(|(_, s)| !matches!(s, Source::Closed))
            .map(|(key, s)| {
                let conn = matches!(s, Source::Conn { .. });
                let dgram = matches!(s, Source::Dgram { .. });
                (key, conn, dgram)
            })
            .collect();
        for (key, conn, dgram) in keys {
            if conn {
                let _ = self.close_graceful(key);
            } else if dgram {
                self.remove_dgram(key);
            } else if matches!(self.sources.get(key), Some(Source::Listener { .. })) {
                let _ = self.remove_listener(key);
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

    /// Stop once a graceful shutdown has no connection left, and leave shutdown mode, so
    /// that a later `run` starts afresh.
    pub(crate) fn check_shutdown_done(&mut self) {
        if self.life.is_shutting_down() && self.stats.active == 0 {
            if let Some(t) = self.life.finish_shutdown() {
                self.timers.cancel(t);
            }
        }
    }

    /// The grace period is over: close what is left, and stop.
    pub(crate) fn finish_shutdown(&mut self) {
        if !self.life.grace_over() {
            return;
        }
        let left: Vec<ConnId> = self.conn_ids().collect();
        if !left.is_empty() {
            warn!(
                "shutdown: grace period over, closing {} connection(s) with output still queued",
                left.len()
            );
        }
        for id in left {
            self.close_now(id.0, CloseReason::Local);
        }
        // The grace's entry has fired: nothing to cancel.
        let _ = self.life.finish_shutdown();
    }
}

/// One log line per closed connection, naming the peer: expected ends (the peer's or ours, a
/// reset) at debug, so that 10,000 resets do not write 10,000 lines at the default level;
/// timeouts, protocol and I/O errors and panics at info. The peer's address is looked up
/// (`getpeername`) only when the line is written; after a reset the kernel may have
/// forgotten it.
fn log_close(key: Key, sock: &Stream, reason: &CloseReason) {
    let level = match reason {
        CloseReason::PeerClosed | CloseReason::Local | CloseReason::Reset => Level::Debug,
        _ => Level::Info,
    };
    if log_enabled!(level) {
        let peer = match sock.peer_addr() {
            Ok(p) => p.to_string(),
            Err(_) => "an unknown peer".to_owned(),
        };
        log::log!(
            level,
            "conn#{}.{} with {peer} closed: {reason}",
            key.index,
            key.gen
        );
    }
}
