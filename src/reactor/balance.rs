//! [`Balance`] and [`Spread`]: connections spread evenly over the reactors of one server, while
//! each listening socket stays one socket that this process alone owns.
//!
//! The reactors of a [`Server`](crate::server::Server) serve each shared listener through
//! clones of one socket, registered with `EPOLLEXCLUSIVE`: a new connection wakes one
//! reactor, but which one the kernel picks says nothing about load (serial arrivals tend to
//! wake the same reactor every time). So the reactor that accepts a connection places it
//! ([`Spread::place`]): on the reactor with the fewest connections, ties going round in
//! turn. If that is another reactor, the accepted socket is handed to it, before it is
//! registered anywhere: into that reactor's inbox, and its waker ends its wait. That reactor
//! adopts it ([`Spread::next_handed`]) as if it had accepted it itself: through its own door
//! (the connection limit), then `Handler::on_accept` with its own id for the listener.
//!
//! Why a hand-off, not a `SO_REUSEPORT` group: a second process of the same user can join a
//! `SO_REUSEPORT` group and silently take a share of the connections, while one socket keeps
//! the address to this process (a second server fails with "address in use"). A steering
//! program would need eBPF; the hand-off costs one lock and one wake-up per connection moved,
//! and nothing for a single reactor or a connection placed where it was accepted.
//!
//! Loads are counts of open connections. A placement adds one to its reactor's at once, so
//! that a burst accepted by two reactors at the same time spreads as it is accepted; each
//! reactor sets its own to what it holds at the end of every turn, which accounts for the
//! connections that closed.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use mio::Waker;

use super::registry::Key;
use super::stream::Stream;
use crate::addr::PeerAddr;

/// A connection on its way from the reactor that accepted it to the one that serves it (not
/// yet registered anywhere).
struct Handed {
    stream: Stream,
    peer: PeerAddr,
    /// The shared listener it came through, by its address.
    group: SocketAddr,
}

/// One reactor of the group: its load, its inbox, its waker.
struct Member {
    load: AtomicUsize,
    inbox: Mutex<Vec<Handed>>,
    waker: Arc<Waker>,
}

/// The reactors of one server, as placing connections sees them (see the module docs).
pub(crate) struct Balance {
    members: Vec<Member>,
    /// Where the next search for the least loaded starts: ties go round in turn.
    next: AtomicUsize,
}

impl Balance {
    /// A group of reactors, each woken through its waker (in order).
    pub(crate) fn new(wakers: Vec<Arc<Waker>>) -> Arc<Balance> {
        let members = wakers
            .into_iter()
            .map(|waker| Member {
                load: AtomicUsize::new(0),
                inbox: Mutex::new(Vec::new()),
                waker,
            })
            .collect();
        Arc::new(Balance {
            members,
            next: AtomicUsize::new(0),
        })
    }

    /// The reactor a connection accepted by `me` should go to; counted in its load at once,
    /// so that the next placement, by any reactor, sees it.
    fn place(&self, me: usize) -> usize {
        let n = self.members.len();
        let start = self.next.fetch_add(1, Relaxed) % n;
        let (mut best, mut best_load) = (me, usize::MAX);
        for k in 0..n {
            let i = (start + k) % n;
            let load = self.members[i].load.load(Relaxed);
            if load < best_load {
                (best, best_load) = (i, load);
            }
        }
        self.members[best].load.fetch_add(1, Relaxed);
        best
    }

    /// Hand `handed` to reactor `to`, and wake it.
    fn hand(&self, to: usize, handed: Handed) {
        let member = &self.members[to];
        lock(&member.inbox).push(handed);
        if let Err(e) = member.waker.wake() {
            log::warn!("could not wake reactor {to} for a connection handed to it: {e}");
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The inbox holds whole entries even if a holder panicked.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One reactor's side of placing connections: its shared listeners, and its group, if it
/// is in one (see the module docs).
#[derive(Default)]
pub(crate) struct Spread {
    /// The shared listeners this reactor serves, with their addresses.
    listeners: Vec<(Key, SocketAddr)>,
    group: Option<(Arc<Balance>, usize)>,
    /// Connections taken from the inbox, not yet adopted.
    taken: Vec<Handed>,
}

impl Spread {
    /// Join `balance` as its reactor number `me`.
    pub(crate) fn join(&mut self, balance: Arc<Balance>, me: usize) {
        self.group = Some((balance, me));
    }

    /// The shared listener `key`, bound to `addr`, is served here.
    pub(crate) fn add_listener(&mut self, key: Key, addr: SocketAddr) {
        self.listeners.push((key, addr));
    }

    /// The listener `key` is closed.
    pub(crate) fn remove_listener(&mut self, key: Key) {
        self.listeners.retain(|(k, _)| *k != key);
    }

    /// Place a connection just accepted on listener `key` by this reactor: give it back to
    /// be served here, or hand it to another reactor (`None`).
    pub(crate) fn place(
        &mut self,
        key: Key,
        stream: Stream,
        peer: PeerAddr,
    ) -> Option<(Stream, PeerAddr)> {
        let Some((balance, me)) = &self.group else {
            return Some((stream, peer));
        };
        let Some(&(_, group)) = self.listeners.iter().find(|(k, _)| *k == key) else {
            return Some((stream, peer));
        };
        let to = balance.place(*me);
        if to == *me {
            return Some((stream, peer));
        }
        match stream {
            // TCP (TLS's too), and the simulation's in-memory streams, which stand in for it.
            Stream::Tcp(_) | Stream::Tls(_) | Stream::Mem(_) => {
                balance.hand(
                    to,
                    Handed {
                        stream,
                        peer,
                        group,
                    },
                );
                None
            }
            other => Some((other, peer)),
        }
    }

    /// The next connection handed to this reactor: the listener it came through (here) and
    /// the connection. One whose listener this reactor no longer serves is closed.
    pub(crate) fn next_handed(&mut self) -> Option<(Key, Stream, PeerAddr)> {
        if self.taken.is_empty() {
            let (balance, me) = self.group.as_ref()?;
            std::mem::swap(&mut self.taken, &mut lock(&balance.members[*me].inbox));
            // Oldest first.
            self.taken.reverse();
        }
        while let Some(h) = self.taken.pop() {
            match self.listeners.iter().find(|(_, a)| *a == h.group) {
                Some(&(key, _)) => return Some((key, h.stream, h.peer)),
                None => log::debug!(
                    "a connection from {} handed over after its listener closed",
                    h.peer
                ),
            }
        }
        None
    }

    /// Is a connection waiting to be adopted here?
    pub(crate) fn has_handed(&self) -> bool {
        !self.taken.is_empty()
            || self
                .group
                .as_ref()
                .is_some_and(|(b, me)| !lock(&b.members[*me].inbox).is_empty())
    }

    /// Publish this reactor's load, `active` connections (at the end of a turn).
    pub(crate) fn publish(&self, active: usize) {
        if let Some((balance, me)) = &self.group {
            let member = &balance.members[*me];
            let waiting = lock(&member.inbox).len();
            member
                .load
                .store(active + waiting + self.taken.len(), Relaxed);
        }
    }
}
