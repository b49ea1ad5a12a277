//! [`Work`]: what a turn has left to do that no event will announce.
//!
//! It owns three lists. The *read list*: sources with input (or connections to accept) left
//! over after their read budget ran out, or whose reading resumed; the next turn serves them
//! without waiting for an event. The *flush list*: connections given output this turn,
//! written at its end. The *closed list*: connections closed and not yet reported to the
//! handler, reaped at the turn's end. A source is on each list at most once: the slab entry
//! carries the flags (`registry.rs`), and the core checks them before it pushes.

use std::collections::VecDeque;

use super::ids::ConnId;
use super::registry::Key;
use crate::error::CloseReason;

/// Two vectors used in turn: the one being served and the one being filled. Swapping them
/// each turn means no allocation once both have grown.
#[derive(Debug, Default)]
struct WorkList {
    next: Vec<Key>,
    spare: Vec<Key>,
}

impl WorkList {
    fn with_capacity(n: usize) -> WorkList {
        WorkList {
            next: Vec::with_capacity(n),
            spare: Vec::with_capacity(n),
        }
    }

    /// Take the keys queued so far; what is queued from now on goes to the other vector.
    fn take(&mut self) -> Vec<Key> {
        let spare = std::mem::take(&mut self.spare);
        std::mem::replace(&mut self.next, spare)
    }

    /// Give back a vector that [`take`](WorkList::take) handed out, emptied.
    fn give_back(&mut self, mut v: Vec<Key>) {
        v.clear();
        self.spare = v;
    }

    fn is_empty(&self) -> bool {
        self.next.is_empty()
    }
}

/// The turn's work lists (see the module docs).
#[derive(Debug)]
pub(crate) struct Work {
    read: WorkList,
    flush: WorkList,
    closed: VecDeque<(ConnId, CloseReason)>,
}

impl Work {
    /// Empty lists, with room for a busy turn.
    pub(crate) fn new() -> Work {
        Work {
            read: WorkList::with_capacity(64),
            flush: WorkList::with_capacity(64),
            closed: VecDeque::with_capacity(16),
        }
    }

    /// Is a read or a flush waiting for the next turn?
    #[inline]
    pub(crate) fn has_work(&self) -> bool {
        !self.read.is_empty() || !self.flush.is_empty()
    }

    /// Read `key` again next turn.
    #[inline]
    pub(crate) fn push_read(&mut self, key: Key) {
        self.read.next.push(key);
    }

    /// Flush `key` at the end of this turn.
    #[inline]
    pub(crate) fn push_flush(&mut self, key: Key) {
        self.flush.next.push(key);
    }

    /// The read list as it stands; what is pushed from now on waits for the next take.
    #[inline]
    pub(crate) fn take_reads(&mut self) -> Vec<Key> {
        self.read.take()
    }

    /// Give back a vector that [`take_reads`](Work::take_reads) handed out.
    #[inline]
    pub(crate) fn give_back_reads(&mut self, v: Vec<Key>) {
        self.read.give_back(v);
    }

    /// The flush list as it stands; what is pushed from now on waits for the next take.
    #[inline]
    pub(crate) fn take_flushes(&mut self) -> Vec<Key> {
        self.flush.take()
    }

    /// Give back a vector that [`take_flushes`](Work::take_flushes) handed out.
    #[inline]
    pub(crate) fn give_back_flushes(&mut self, v: Vec<Key>) {
        self.flush.give_back(v);
    }

    /// `conn` closed with `reason`: report it at the reap.
    pub(crate) fn push_closed(&mut self, conn: ConnId, reason: CloseReason) {
        self.closed.push_back((conn, reason));
    }

    /// The first closed connection not yet reported, in the order they closed.
    pub(crate) fn pop_closed(&mut self) -> Option<(ConnId, CloseReason)> {
        self.closed.pop_front()
    }
}
