//! [`Door`]: who may come in. It owns the bound on open connections (`ConnectionLimit`,
//! this reactor's own or one shared by several reactors) and the one descriptor held back
//! for the moment the process runs out (libuv's trick: freed to accept and close the
//! connections waiting in the backlog, then taken back).
//!
//! An incoming connection takes a place or is refused; an outgoing one takes a place
//! without being refused (only incoming connections are turned away); a closed one gives its
//! place back.

use std::io;
use std::sync::Arc;

use log::{debug, warn};

use super::limit::ConnectionLimit;
use super::socket::Listener;
use crate::sys::Reserve;

/// The connection limit and the reserve descriptor (see the module docs).
#[derive(Debug)]
pub(crate) struct Door {
    limit: Option<Arc<ConnectionLimit>>,
    /// `None` if it could not be opened.
    reserve: Option<Reserve>,
}

impl Door {
    /// A door with at most `max` connections (`None`: no limit) and a reserve descriptor.
    pub(crate) fn new(max: Option<usize>) -> Door {
        Door {
            limit: max.map(ConnectionLimit::new),
            reserve: Reserve::new().ok(),
        }
    }

    /// May an incoming connection come in? If so it has taken its place.
    #[inline]
    pub(crate) fn admit_incoming(&self) -> bool {
        self.limit.as_ref().map_or(true, |l| l.try_acquire())
    }

    /// An outgoing connection takes its place (it is never refused).
    pub(crate) fn take_place(&self) {
        if let Some(limit) = &self.limit {
            limit.acquire();
        }
    }

    /// A connection is gone (or was never registered): its place goes back.
    #[inline]
    pub(crate) fn give_back(&self) {
        if let Some(limit) = &self.limit {
            limit.release();
        }
    }

    /// Use `limit` from now on, moving the `open` connections' places onto it.
    pub(crate) fn set_limit(&mut self, limit: Option<Arc<ConnectionLimit>>, open: u64) {
        for _ in 0..open {
            self.give_back();
            if let Some(new) = &limit {
                new.acquire();
            }
        }
        self.limit = limit;
    }

    /// The process ran out of descriptors while `listener` was accepting: free the reserve
    /// descriptor, accept and close at once every connection waiting in its backlog (so that
    /// those clients learn now instead of timing out), and take the reserve back. Returns how
    /// many were closed.
    pub(crate) fn shed(&mut self, listener: &Listener) -> u64 {
        let Some(reserve) = self.reserve.as_mut() else {
            return 0;
        };
        if !reserve.release() {
            reserve.refill();
            return 0;
        }
        let mut shed = 0;
        loop {
            match listener.accept() {
                Ok((stream, peer)) => {
                    debug!("closed a connection from {peer} at once: out of descriptors");
                    drop(stream);
                    shed += 1;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        if !reserve.refill() {
            warn!("the reserve descriptor could not be taken back; retrying at the next EMFILE");
        }
        if shed > 0 {
            warn!("out of descriptors: closed {shed} waiting connection(s) at once");
        }
        shed
    }
}
