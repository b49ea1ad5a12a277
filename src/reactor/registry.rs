//! The slab of registered sources: every socket the reactor serves, found by its token.
//!
//! Slab keys are reused as soon as an entry is removed, and epoll may still hold an event for
//! the old socket in the batch being dispatched. So every registration gets a fresh
//! generation, the token carries key and generation (see `token`), and [`Sources::get`] only
//! hands out an entry whose generation matches. Removing an entry deregisters its socket
//! before dropping it (mio asks for that order).

use std::io;
use std::os::fd::{AsFd, AsRawFd};

use log::debug;
use mio::unix::SourceFd;
use mio::{Interest, Registry};
use slab::Slab;

use super::socket::{Dgram, Listener, Stream};
use super::token::{Key, MAX_INDEX};
use crate::conn::Conn;
use crate::sys::Signals;

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
    Dgram {
        sock: Dgram,
        /// Datagrams the kernel had no room for yet, in order.
        queue: std::collections::VecDeque<(crate::addr::PeerAddr, Vec<u8>)>,
        queued_bytes: usize,
    },
    Signals(Signals),
    /// A connection closed during this turn: its socket is gone, and its slot stays taken
    /// until the turn's last step reports the close (`Core::reap`), so that no id or token
    /// seen in a turn can come to mean another connection within that turn.
    Closed,
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

/// The slab of sources and the poll registry they are registered with.
pub(crate) struct Sources {
    slab: Slab<Entry>,
    next_gen: u32,
    registry: Registry,
}

impl Sources {
    pub(crate) fn new(registry: Registry, capacity: usize) -> Sources {
        Sources {
            slab: Slab::with_capacity(capacity),
            next_gen: 0,
            registry,
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
        let r = &self.registry;
        let shared = match &source {
            Source::Listener { sock, .. } if exclusive => sock.sock_ref().ok(),
            Source::Dgram { sock, .. } if exclusive => sock.sock_ref().ok(),
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
                Source::Dgram { sock, .. } => r.register(sock, token, interest)?,
                Source::Signals(s) => r.register(&mut SourceFd(&s.as_raw_fd()), token, interest)?,
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
                Source::Dgram { sock, .. } => sock.sock_ref().ok(),
                _ => None,
            };
            if let Some(fd) = fd {
                if let Err(e) = crate::sys::epoll_del(self.registry.as_fd(), fd.as_fd()) {
                    debug!("deregister failed: {e}");
                }
            }
        } else {
            deregister(&self.registry, &mut source);
        }
        Some(source)
    }

    /// Deregister the source at `key` and leave a [`Source::Closed`] in its slot, returning
    /// the source (`None` if `key` is stale).
    pub(crate) fn retire(&mut self, key: Key) -> Option<Source> {
        let entry = self.entry_mut(key)?;
        let mut source = std::mem::replace(&mut entry.source, Source::Closed);
        deregister(&self.registry, &mut source);
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
fn deregister(r: &Registry, source: &mut Source) {
    let result = match source {
        Source::Listener { sock, .. } => r.deregister(sock),
        Source::Conn { sock, .. } => r.deregister(sock),
        Source::Dgram { sock, .. } => r.deregister(sock),
        Source::Signals(s) => r.deregister(&mut SourceFd(&s.as_raw_fd())),
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
}
