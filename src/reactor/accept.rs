//! Accepting connections: a batch per event, the connection limit, and the back-off after
//! running out of descriptors.

use std::io;

use log::{debug, warn};

use super::core::Core;
use super::handler::Handler;
use super::ids::ListenerId;
use super::registry::Key;
use super::registry::Source;
use super::timers::TimerTarget;
use crate::conn::Opened;
use crate::sys;

impl Core {
    /// Accept up to `Config::accept_batch` connections from the listener `key`.
    pub(crate) fn accept<H: Handler>(&mut self, h: &mut H, key: Key) {
        for _ in 0..self.config.accept_batch {
            let Some(Source::Listener { sock, paused, .. }) = self.sources.get_mut(key) else {
                return;
            };
            if paused.is_some() {
                return;
            }
            match sock.accept() {
                Ok((stream, peer)) if !self.door.admit_incoming() => {
                    // Accepted and closed at once: the client learns now instead of waiting
                    // in the backlog, and the listener stops waking us for it.
                    self.stats.rejected += 1;
                    debug!("rejected a connection from {peer}: at the connection limit");
                    drop(stream);
                }
                Ok((stream, peer)) => match self.add_conn(stream, Opened::Accepted) {
                    Ok(conn) => {
                        self.stats.accepted += 1;
                        self.call(h, Some(conn.0), |h, cx| {
                            h.on_accept(cx, ListenerId(key), conn, &peer)
                        });
                    }
                    Err(e) => {
                        self.door.give_back();
                        warn!("could not register a connection from {peer}: {e}");
                    }
                },
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if sys::is_connection_error(&e) => {
                    debug!("accept: a connection failed before it was accepted: {e}");
                }
                Err(e) => {
                    // Out of descriptors (EMFILE, ENFILE) or memory, or something unexpected:
                    // retrying now would fail again and, edge-triggered or not, spin the loop.
                    // Tell the clients waiting now, then pause this listener for a back-off.
                    if sys::is_out_of_descriptors(&e) {
                        self.shed_waiting(key);
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
                    return;
                }
            }
        }
        // Batch used up: more connections may be waiting; continue next turn.
        self.queue_read(key);
    }

    /// Out of descriptors with connections waiting: free the reserve descriptor, accept each
    /// waiting connection and close it at once (its client sees the connection end now,
    /// instead of hanging in the backlog), then take the reserve back (libuv's trick).
    fn shed_waiting(&mut self, key: Key) {
        let Some(reserve) = self.door.reserve() else {
            return;
        };
        if !reserve.release() {
            reserve.refill();
            return;
        }
        let mut shed = 0;
        if let Some(Source::Listener { sock, .. }) = self.sources.get(key) {
            loop {
                match sock.accept() {
                    Ok((stream, peer)) => {
                        debug!("closed a connection from {peer} at once: out of descriptors");
                        drop(stream);
                        shed += 1;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
        }
        self.stats.shed += shed;
        if let Some(reserve) = self.door.reserve() {
            if !reserve.refill() {
                warn!(
                    "the reserve descriptor could not be taken back; retrying at the next EMFILE"
                );
            }
        }
        if shed > 0 {
            warn!("out of descriptors: closed {shed} waiting connection(s) at once");
        }
    }

    /// The back-off after an accept failure is over: accept again (next turn, from the read
    /// list, since no new event may come for connections already waiting).
    pub(crate) fn resume_accept(&mut self, key: Key) {
        if let Some(Source::Listener { paused, .. }) = self.sources.get_mut(key) {
            *paused = None;
            self.queue_read(key);
        }
    }
}
