//! [`ConnectionLimit`]: a bound on open connections, kept exactly across reactors.
//!
//! Each reactor checks and takes a place atomically when it accepts, and gives it back when
//! the connection closes, so N reactors sharing one limit of M serve exactly M connections at
//! once, whichever reactor the kernel hands each one to: the (M+1)th is accepted and closed at
//! once. A limit split into N per-reactor shares could refuse connections while fewer than M
//! are open, depending on how the kernel spreads them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Most connections open at once, shared by the reactors given it (see the module docs).
#[derive(Debug)]
pub struct ConnectionLimit {
    max: usize,
    open: AtomicUsize,
}

impl ConnectionLimit {
    /// A limit of `max` connections, to give to one or more reactors with
    /// [`Reactor::share_connection_limit`](super::Reactor::share_connection_limit).
    pub fn new(max: usize) -> Arc<ConnectionLimit> {
        Arc::new(ConnectionLimit {
            max,
            open: AtomicUsize::new(0),
        })
    }

    /// The limit.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Connections open now, in all the reactors that share the limit.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Take a place if one is free (an accepted connection).
    pub(crate) fn try_acquire(&self) -> bool {
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .is_ok()
    }

    /// Take a place whether or not one is free (an outgoing connection: it counts, but the
    /// limit refuses only what comes in).
    pub(crate) fn acquire(&self) {
        self.open.fetch_add(1, Ordering::AcqRel);
    }

    /// Give a place back (a connection closed).
    pub(crate) fn release(&self) {
        // Never below zero, even if places were given back that were never taken.
        let _ = self
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_max_places_across_threads() {
        let limit = ConnectionLimit::new(100);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let l = Arc::clone(&limit);
                std::thread::spawn(move || (0..100).filter(|_| l.try_acquire()).count())
            })
            .collect();
        let taken: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(taken, 100);
        assert_eq!(limit.open(), 100);
        limit.release();
        assert!(limit.try_acquire());
        assert!(!limit.try_acquire());
    }
}
