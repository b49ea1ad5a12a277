//! [`Sources`]: the poll set. It owns the `mio::Poll`, the slab of every socket registered
//! with it, and the events of the last poll, so that one owner answers both "what is ready?"
//! and "which socket is that?".
//!
//! Waiting is `epoll_wait` through mio or, in the simulation, the in-memory network's edges.
//! Both come out as the same [`Ready`] events in a [`Batch`], lent to the turn while it
//! dispatches them, and both give the turn its `now` (the real clock, or the virtual one).
//!
//! Slab keys are reused as soon as an entry is removed, and epoll may still hold an event for
//! the old socket in the batch being dispatched. So every registration gets a fresh
//! generation, the token carries key and generation ([`Key::token`]), and [`Sources::get`]
//! only hands out an entry whose generation matches. Removing an entry deregisters its socket
//! before dropping it (mio asks for that order).

use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

use log::debug;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token};
use slab::Slab;

use super::dgram::DgramSock;
use super::socket::Listener;
use super::stream::Stream;
use crate::addr::PeerAddr;
use crate::conn::Conn;
use crate::error::stale;
use crate::memnet::{Net, Ready};
use crate::sys::Signals;
use std::net::SocketAddr;

/// A slab key with the generation of the entry it was issued for.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub(crate) struct Key {
    pub(crate) index: u32,
    pub(crate) gen: u32,
}

// The token packs 32 bits of index and 32 bits of generation.
const _: () = assert!(
    usize::BITS >= 64,
    "netloop needs a 64-bit usize for its tokens"
);

/// The token reserved for the reactor's waker. No slab key reaches it: the slab refuses to
/// grow past `MAX_INDEX`.
pub(crate) const WAKER: Token = Token(usize::MAX);

/// The token reserved for the precise timer's `timerfd` (index `u32::MAX`, which no slab
/// key reaches, and generation 0, which `WAKER` does not use).
pub(crate) const PRECISE_TIMER: Token = Token(u32::MAX as usize);

/// The largest slab index handed out.
pub(crate) const MAX_INDEX: usize = u32::MAX as usize - 1;

impl Key {
    pub(crate) fn token(self) -> Token {
        Token(((self.gen as usize) << 32) | self.index as usize)
    }

    pub(crate) fn from_token(token: Token) -> Key {
        Key {
            index: (token.0 & 0xffff_ffff) as u32,
            gen: (token.0 >> 32) as u32,
        }
    }
}

/// What a registered socket is, with the state the reactor keeps beside it.
///
/// Connections are by far the most numerous entries, so they are stored inline (not boxed):
/// boxing would cost an allocation per accept and a pointer chase per event, to save memory
/// only on the few listeners.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub(crate) enum Source {
    Listener {
        sock: Listener,
        /// Accepting is paused after running out of descriptors (see `accept`), until this
        /// wheel entry fires.
        paused: Option<crate::time::TimerHandle>,
    },
    Conn {
        sock: Stream,
        conn: Conn,
    },
    Dgram(DgramSock),
    Signals(Signals),
    /// A descriptor of the program's own, watched for readiness (see `Context::watch`): the
    /// reactor owns it until it is handed back.
    Watch(std::os::fd::OwnedFd),
    /// A connection closed during this turn: its socket is gone, and its slot stays taken
    /// until the turn's last step reports the close (`Turn::reap`), so that no id or token
    /// seen in a turn can come to mean another connection within that turn.
    Closed,
}

/// What kind of source a key names (see [`Sources::kind`]), for routing an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Listener,
    Conn,
    Dgram,
    Signals,
    Watch,
}

/// One slab entry: a source, its generation, and which work lists it is on.
#[derive(Debug)]
pub(crate) struct Entry {
    gen: u32,
    /// On the read list already (so it is served once per turn, however often it is queued).
    on_read_list: bool,
    /// On the flush list already.
    on_flush_list: bool,
    /// Registered with `EPOLLEXCLUSIVE` by a raw `epoll_ctl`, so removed the same way.
    shared: bool,
    source: Source,
}

/// The poll, the slab of sources registered with it, and the last poll's events (see the
/// module docs).
pub(crate) struct Sources {
    slab: Slab<Entry>,
    next_gen: u32,
    poll: Poll,
    /// The last poll's events, kept between polls so that their memory is reused; `None`
    /// while lent out as a [`Batch`].
    events: Option<Events>,
    /// The simulation's network, when this reactor runs on one.
    net: Option<Net>,
    /// The last poll's events in a simulation, likewise kept for reuse.
    ready: Option<Vec<Ready>>,
}

/// The events of one poll, lent to the turn while it dispatches them (see
/// [`Sources::poll`]); given back with [`Sources::give_back`].
pub(crate) enum Batch {
    Real(Events),
    Simulated(Vec<Ready>),
}

impl Batch {
    /// Visit the events, in order. The precise timer's wake-up is the timers' business, not
    /// an event of a socket: it is skipped.
    #[inline]
    pub(crate) fn for_each(&self, mut f: impl FnMut(Ready)) {
        match self {
            Batch::Simulated(ready) => ready.iter().copied().for_each(f),
            Batch::Real(events) => {
                for e in events.iter() {
                    if e.token() == PRECISE_TIMER {
                        continue;
                    }
                    f(Ready {
                        token: e.token(),
                        readable: e.is_readable(),
                        writable: e.is_writable() || e.is_write_closed() || e.is_error(),
                        // Errors and hang-ups are surfaced by the read or write they make
                        // fail.
                        hup: e.is_read_closed() || e.is_error() || e.is_priority(),
                    });
                }
            }
        }
    }

    /// Is this a simulation's batch (in which the waker's descriptor is never polled)?
    pub(crate) fn is_simulated(&self) -> bool {
        matches!(self, Batch::Simulated(_))
    }
}

impl Sources {
    /// An empty poll set with room for `capacity` events per poll, on the simulation's
    /// network `net` if there is one.
    pub(crate) fn new(capacity: usize, net: Option<Net>) -> io::Result<Sources> {
        Ok(Sources {
            slab: Slab::with_capacity(capacity),
            next_gen: 0,
            poll: Poll::new()?,
            events: Some(Events::with_capacity(capacity)),
            net,
            ready: Some(Vec::new()),
        })
    }

    /// The registry sockets (and the waker, and the precise timer's `timerfd`) register
    /// with.
    pub(crate) fn registry(&self) -> &Registry {
        self.poll.registry()
    }

    /// The epoll descriptor, borrowed for as long as the poll set.
    pub(crate) fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        // The registry shares the poll's descriptor and lends it out.
        self.poll.registry().as_fd()
    }

    /// The simulation's network, if this reactor is simulated (its sockets in memory, its
    /// clock virtual).
    pub(crate) fn net(&self) -> Option<&Net> {
        self.net.as_ref()
    }

    /// The current time: the only place a reactor reads a clock.
    #[inline]
    pub(crate) fn now(&self) -> Instant {
        match &self.net {
            Some(net) => net.now(),
            None => Instant::now(),
        }
    }

    /// Wait up to `timeout` for events and lend them out. `EINTR` is a poll with no events.
    /// Returns the batch, how many socket events it holds, and whether the precise timer's
    /// `timerfd` woke the poll.
    pub(crate) fn poll(&mut self, timeout: Option<Duration>) -> io::Result<(Batch, usize, bool)> {
        if let Some(net) = &self.net {
            let mut ready = self.ready.take().unwrap_or_default();
            net.poll(&mut ready, timeout);
            let n = ready.len();
            return Ok((Batch::Simulated(ready), n, false));
        }
        let mut events = match self.events.take() {
            Some(events) => events,
            None => Events::with_capacity(1024),
        };
        let (mut n, mut woke) = (0, false);
        match self.poll.poll(&mut events, timeout) {
            Ok(()) => {
                for e in events.iter() {
                    if e.token() == PRECISE_TIMER {
                        woke = true;
                    } else {
                        n += 1;
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => events.clear(),
            Err(e) => {
                self.events = Some(events);
                return Err(e);
            }
        }
        Ok((Batch::Real(events), n, woke))
    }

    /// Take back the events lent by [`poll`](Sources::poll), for the next poll to reuse.
    pub(crate) fn give_back(&mut self, batch: Batch) {
        match batch {
            Batch::Real(events) => self.events = Some(events),
            Batch::Simulated(ready) => self.ready = Some(ready),
        }
    }

    /// Register `source` for `interest` and store it under a fresh generation.
    pub(crate) fn insert(&mut self, source: Source, interest: Interest) -> io::Result<Key> {
        self.insert_with(source, interest, false)
    }

    /// Register a listener or datagram socket that other reactors also serve (each through a
    /// clone of the same socket) with `EPOLLEXCLUSIVE`, so that an event wakes one reactor,
    /// not all of them. A simulated source has no descriptor and registers as usual.
    pub(crate) fn insert_shared(&mut self, source: Source, interest: Interest) -> io::Result<Key> {
        self.insert_with(source, interest, true)
    }

    fn insert_with(
        &mut self,
        mut source: Source,
        interest: Interest,
        exclusive: bool,
    ) -> io::Result<Key> {
        let entry = self.slab.vacant_entry();
        if entry.key() > MAX_INDEX {
            return Err(io::Error::other("too many sockets in one reactor"));
        }
        self.next_gen = self.next_gen.wrapping_add(1);
        let key = Key {
            index: entry.key() as u32,
            gen: self.next_gen,
        };
        let token = key.token();
        let r = self.poll.registry();
        let shared = match &source {
            Source::Listener { sock, .. } if exclusive => sock.sock_ref().ok(),
            Source::Dgram(d) if exclusive => d.sock().sock_ref().ok(),
            _ => None,
        };
        let exclusive = shared.is_some();
        if let Some(fd) = shared {
            let writable = interest.is_writable();
            crate::sys::epoll_add_exclusive(r.as_fd(), fd.as_fd(), token.0 as u64, writable)?;
        } else {
            match &mut source {
                Source::Listener { sock, .. } => r.register(sock, token, interest)?,
                Source::Conn { sock, .. } => r.register(sock, token, interest)?,
                Source::Dgram(d) => r.register(d.sock_mut(), token, interest)?,
                Source::Signals(s) => r.register(&mut SourceFd(&s.as_raw_fd()), token, interest)?,
                Source::Watch(fd) => r.register(&mut SourceFd(&fd.as_raw_fd()), token, interest)?,
                Source::Closed => {}
            }
        }
        entry.insert(Entry {
            gen: key.gen,
            on_read_list: false,
            on_flush_list: false,
            shared: exclusive,
            source,
        });
        Ok(key)
    }

    /// Mark `key` as on the read list; `true` if it was not (push it then), `false` if it
    /// was already or `key` is stale.
    #[inline]
    pub(crate) fn mark_read(&mut self, key: Key) -> bool {
        self.mark(key, |e| &mut e.on_read_list)
    }

    /// `key` is being served from the read list: unmark it; `false` if `key` is stale.
    #[inline]
    pub(crate) fn unmark_read(&mut self, key: Key) -> bool {
        match self.entry_mut(key) {
            Some(e) => {
                e.on_read_list = false;
                true
            }
            None => false,
        }
    }

    /// Is `key` on the read list (input may be waiting in the kernel)?
    pub(crate) fn is_read_listed(&self, key: Key) -> bool {
        matches!(self.slab.get(key.index as usize), Some(e) if e.gen == key.gen && e.on_read_list)
    }

    /// Mark `key` as on the flush list; `true` if it was not (push it then).
    #[inline]
    pub(crate) fn mark_flush(&mut self, key: Key) -> bool {
        self.mark(key, |e| &mut e.on_flush_list)
    }

    /// Set the flag `flag` picks in `key`'s entry; `true` if it was not set.
    #[inline]
    fn mark(&mut self, key: Key, flag: impl FnOnce(&mut Entry) -> &mut bool) -> bool {
        match self.entry_mut(key) {
            Some(e) => !std::mem::replace(flag(e), true),
            None => false,
        }
    }

    /// The entry at `key`, if it is still the one `key` was issued for.
    #[inline]
    fn entry_mut(&mut self, key: Key) -> Option<&mut Entry> {
        match self.slab.get_mut(key.index as usize) {
            Some(e) if e.gen == key.gen => Some(e),
            _ => None,
        }
    }

    /// The kind of the live source `key` names; `None` if it is stale or closed.
    #[inline]
    pub(crate) fn kind(&self, key: Key) -> Option<Kind> {
        match self.get(key)? {
            Source::Listener { .. } => Some(Kind::Listener),
            Source::Conn { .. } => Some(Kind::Conn),
            Source::Dgram(_) => Some(Kind::Dgram),
            Source::Signals(_) => Some(Kind::Signals),
            Source::Watch(_) => Some(Kind::Watch),
            Source::Closed => None,
        }
    }

    /// The datagram socket `key` names, if it is one.
    pub(crate) fn dgram_mut(&mut self, key: Key) -> Option<&mut DgramSock> {
        match self.get_mut(key) {
            Some(Source::Dgram(d)) => Some(d),
            _ => None,
        }
    }

    /// The signal source `key` names, if it is one.
    pub(crate) fn signals_mut(&mut self, key: Key) -> Option<&mut Signals> {
        match self.get_mut(key) {
            Some(Source::Signals(s)) => Some(s),
            _ => None,
        }
    }

    /// The source at `key`, if `key` is current.
    pub(crate) fn get(&self, key: Key) -> Option<&Source> {
        match self.slab.get(key.index as usize) {
            Some(e) if e.gen == key.gen => Some(&e.source),
            _ => None,
        }
    }

    /// The source at `key`, mutably, if `key` is current.
    pub(crate) fn get_mut(&mut self, key: Key) -> Option<&mut Source> {
        self.entry_mut(key).map(|e| &mut e.source)
    }

    /// The connection at `key`, if `key` is current and names one.
    #[inline]
    pub(crate) fn conn(&self, key: Key) -> Option<(&Stream, &Conn)> {
        match self.get(key) {
            Some(Source::Conn { sock, conn }) => Some((sock, conn)),
            _ => None,
        }
    }

    /// The connection at `key`, mutably.
    #[inline]
    pub(crate) fn conn_mut(&mut self, key: Key) -> Option<(&mut Stream, &mut Conn)> {
        match self.get_mut(key) {
            Some(Source::Conn { sock, conn }) => Some((sock, conn)),
            _ => None,
        }
    }

    /// The connection at `key`, taken off the flush list (it is being flushed now).
    pub(crate) fn conn_to_flush(&mut self, key: Key) -> Option<(&mut Stream, &mut Conn)> {
        let e = self.entry_mut(key)?;
        e.on_flush_list = false;
        match &mut e.source {
            Source::Conn { sock, conn } => Some((sock, conn)),
            _ => None,
        }
    }

    /// Deregister and remove the entry at `key`, returning its source (`None` if stale).
    pub(crate) fn remove(&mut self, key: Key) -> Option<Source> {
        self.get(key)?;
        let entry = self.slab.remove(key.index as usize);
        let mut source = entry.source;
        if entry.shared {
            let fd = match &source {
                Source::Listener { sock, .. } => sock.sock_ref().ok(),
                Source::Dgram(d) => d.sock().sock_ref().ok(),
                _ => None,
            };
            if let Some(fd) = fd {
                if let Err(e) = crate::sys::epoll_del(self.poll.registry().as_fd(), fd.as_fd()) {
                    debug!("deregister failed: {e}");
                }
            }
        } else {
            deregister(self.poll.registry(), &mut source);
        }
        Some(source)
    }

    /// Deregister the source at `key` and leave a [`Source::Closed`] in its slot, returning
    /// the source (`None` if `key` is stale).
    pub(crate) fn retire(&mut self, key: Key) -> Option<Source> {
        let entry = self.entry_mut(key)?;
        let mut source = std::mem::replace(&mut entry.source, Source::Closed);
        deregister(self.poll.registry(), &mut source);
        Some(source)
    }

    /// Free the slot of a retired source.
    pub(crate) fn free(&mut self, key: Key) {
        if matches!(self.get(key), Some(Source::Closed)) {
            self.slab.remove(key.index as usize);
        }
    }

    /// Every current key with its source, in slab order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Key, &Source)> + '_ {
        self.slab.iter().map(|(index, e)| {
            let key = Key {
                index: index as u32,
                gen: e.gen,
            };
            (key, &e.source)
        })
    }

    /// Entries in the slab.
    pub(crate) fn len(&self) -> usize {
        self.slab.len()
    }
}

/// Stop polling `source` (mio asks for this before the socket is dropped).
/// Looking sockets up: addresses, options, the open connections.
impl Sources {
    /// The descriptor `key` watches, if it is a watch.
    pub(crate) fn watched(&self, key: Key) -> Option<std::os::fd::BorrowedFd<'_>> {
        match self.get(key) {
            Some(Source::Watch(fd)) => Some(fd.as_fd()),
            _ => None,
        }
    }

    /// The keys of all open connections.
    pub(crate) fn conn_keys(&self) -> impl Iterator<Item = Key> + '_ {
        self.iter().filter_map(|(key, s)| match s {
            Source::Conn { .. } => Some(key),
            _ => None,
        })
    }

    /// The local address of any socket.
    pub(crate) fn local_peer_addr(&self, key: Key) -> io::Result<PeerAddr> {
        match self.get(key) {
            Some(Source::Listener { sock, .. }) => sock.local_addr(),
            Some(Source::Conn { sock, .. }) => sock.local_addr(),
            Some(Source::Dgram(d)) => d.sock().local_addr(),
            _ => Err(stale()),
        }
    }

    /// The peer address of the connection `key`.
    pub(crate) fn peer_addr(&self, key: Key) -> io::Result<PeerAddr> {
        match self.conn(key) {
            Some((sock, _)) => sock.peer_addr(),
            None => Err(stale()),
        }
    }

    /// The local IP address of any socket.
    pub(crate) fn local_addr(&self, key: Key) -> io::Result<SocketAddr> {
        self.local_peer_addr(key)?.inet().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "a Unix socket has no IP address",
            )
        })
    }

    /// Any socket, for options.
    pub(crate) fn sock_ref(&self, key: Key) -> io::Result<socket2::SockRef<'_>> {
        match self.get(key) {
            Some(Source::Listener { sock, .. }) => sock.sock_ref(),
            Some(Source::Conn { sock, .. }) => sock.sock_ref(),
            Some(Source::Dgram(d)) => d.sock().sock_ref(),
            _ => Err(stale()),
        }
    }
}

fn deregister(r: &Registry, source: &mut Source) {
    let result = match source {
        Source::Listener { sock, .. } => r.deregister(sock),
        Source::Conn { sock, .. } => r.deregister(sock),
        Source::Dgram(d) => r.deregister(d.sock_mut()),
        Source::Signals(s) => r.deregister(&mut SourceFd(&s.as_raw_fd())),
        Source::Watch(fd) => r.deregister(&mut SourceFd(&fd.as_raw_fd())),
        Source::Closed => Ok(()),
    };
    if let Err(e) = result {
        debug!("deregister failed: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DESIGN.md quotes these sizes as the per-connection cost; keep them honest.
    #[test]
    fn per_connection_memory() {
        let entry = std::mem::size_of::<Entry>();
        let conn = std::mem::size_of::<Conn>();
        println!("slab entry: {entry} bytes, of which connection state: {conn} bytes");
        assert!(
            entry <= 320,
            "slab entry grew to {entry} bytes; update DESIGN.md"
        );
    }

    #[test]
    fn token_round_trip_and_waker_is_unreachable() {
        for key in [
            Key { index: 0, gen: 0 },
            Key {
                index: 7,
                gen: u32::MAX,
            },
            Key {
                index: MAX_INDEX as u32,
                gen: u32::MAX,
            },
        ] {
            assert_eq!(Key::from_token(key.token()), key);
            assert_ne!(key.token(), WAKER);
            assert_ne!(key.token(), PRECISE_TIMER);
        }
    }
}
