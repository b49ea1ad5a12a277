//! The input memory budget a reactor's connections share.
//!
//! Every connection may hold one standard read block (the usual size of one read) without
//! asking: that is what reading a header or a small message needs. Input memory beyond it (a
//! buffer grown for a large message) is *charged* to the budget, and must be admitted first.
//! A connection whose next growth does not fit stops reading, so that its bytes wait in the
//! kernel and TCP pushes back on the sender; nothing is dropped and nothing is closed for it.
//!
//! No deadlock: a handler that knows how large the message being received is (a frame whose
//! header has arrived) says so ([`Conn::expect_input`](super::Conn::expect_input)), and the
//! connection reserves the whole message at once, before growing at all. A reserved message
//! can always complete; a connection waiting for its reservation holds no more than its free
//! block. Waiting connections are admitted in the order they started waiting, as the budget
//! frees up, so a large message is not starved by a stream of small ones.

use super::steps::NoRoom;
use super::Conn;
use crate::buf::BufPool;
use crate::error::{CloseReason, ReadBufferFull, TimeoutKind};
use std::time::Instant;

/// Bytes of input memory a reactor's connections may hold beyond one read block each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    limit: usize,
    used: usize,
}

impl Budget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Budget {
        Budget { limit, used: 0 }
    }

    /// The limit.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes charged now.
    pub fn used(&self) -> usize {
        self.used
    }

    /// Move a connection's charge from `old` to `new` bytes: always when it shrinks; when it
    /// grows, only if the growth fits (`false`, and nothing changed, if not).
    #[inline]
    pub(crate) fn recharge(&mut self, old: usize, new: usize) -> bool {
        if new <= old {
            self.used = self.used.saturating_sub(old - new);
            return true;
        }
        let more = new - old;
        if self.used + more > self.limit {
            return false;
        }
        self.used += more;
        true
    }
}

/// The connection's side of the budget: making room for reads, and waiting for admission.
impl Conn {
    /// Room for the next read: a pooled block taken, compacted or grown up to `limit` bytes
    /// of unconsumed input. For a record connection, `record` is the next record's length
    /// (learned with a peek), and the room holds all of it. Memory beyond one read block is
    /// charged to `budget` (see `budget`).
    ///
    /// # Errors
    ///
    /// [`NoRoom::Close`] with a [`ReadBufferFull`] protocol error when the input would need
    /// more than `limit` bytes; [`NoRoom::Wait`] when the budget cannot admit the growth now:
    /// reading stops until [`admit`](Conn::admit) succeeds.
    #[inline]
    pub fn input_room(
        &mut self,
        pool: &mut BufPool,
        limit: usize,
        record: Option<usize>,
        budget: &mut Budget,
    ) -> Result<&mut [u8], NoRoom> {
        if self.rbuf.capacity() == 0 && record.is_none() && self.expected == 0 {
            // The common case: no input held, no message announced. One pooled block, which
            // the budget does not count (`wanted_charge` is 0 for it), so nothing to charge.
            debug_assert_eq!(self.charge, 0);
            return Ok(self.rbuf.take_block(pool));
        }
        if self.is_closing() {
            // Closing: what is read is dropped at once, so it needs one block and no budget.
            self.rbuf.clear(pool);
            self.expected = 0;
        }
        let before = self.rbuf.capacity();
        let len = self.rbuf.len();
        let mut ok = match record {
            Some(n) => self.rbuf.reserve_at_least(n.max(1), pool, limit),
            // A message of known size grows to that size, within what it reserved.
            None if self.expected > len => {
                self.rbuf.reserve_for_message(self.expected, pool, limit)
            }
            None => self.rbuf.reserve(pool, limit),
        };
        if !ok && self.is_closing() {
            // Unreachable in practice: input read while closing is dropped at once. If it
            // were not, dropping it is what closing means.
            self.rbuf.clear(pool);
            ok = self.rbuf.reserve(pool, limit);
        }
        if !ok {
            return Err(NoRoom::Close(CloseReason::protocol(ReadBufferFull {
                limit,
            })));
        }
        let want = self.wanted_charge(pool.read_size());
        if !budget.recharge(self.charge, want) {
            // Remember the size it needs (as if announced), and wait for it.
            self.expected = self.expected.max(self.rbuf.capacity());
            self.rbuf.shrink_back(before, pool);
            self.starved = true;
            return Err(NoRoom::Wait);
        }
        self.charge = want;
        Ok(self.rbuf.spare_mut())
    }

    /// The budget this connection's input memory calls for: what it holds (or the message it
    /// announced, if larger) beyond one free read block.
    #[inline]
    fn wanted_charge(&self, block: usize) -> usize {
        self.rbuf
            .capacity()
            .max(self.expected)
            .saturating_sub(block)
    }

    /// Bring the connection's charge in line with what it holds now (after a read, after the
    /// handler consumed input, after a release). Only ever shrinks it.
    #[inline]
    pub fn settle(&mut self, budget: &mut Budget, block: usize) {
        let want = self.wanted_charge(block).min(self.charge);
        budget.recharge(self.charge, want);
        self.charge = want;
    }

    /// The handler announced that the message being received is `total` bytes in all (a
    /// frame whose header has arrived): reserve it whole, so that it can always complete.
    /// Returns `false` if the budget cannot admit it now: reading waits for
    /// [`admit`](Conn::admit).
    pub fn expect_input(&mut self, total: usize, budget: &mut Budget, block: usize) -> bool {
        self.expected = total;
        self.announced = true;
        let want = self.wanted_charge(block);
        if want <= self.charge || budget.recharge(self.charge, want) {
            self.charge = self.charge.max(want);
            return true;
        }
        self.starved = true;
        false
    }

    /// Is reading waiting for the budget?
    pub fn is_starved(&self) -> bool {
        self.starved
    }

    /// Bytes of the input budget this connection holds.
    pub fn charge(&self) -> usize {
        self.charge
    }

    /// Try again to admit what a starved connection waits for; `true` if it may read again
    /// (reading must then restart without waiting for an event: the bytes waited in the
    /// kernel).
    /// Admitted at `now`, the wait for input starts again then (the read clock did not run
    /// while the budget held the connection back): re-arm the timer entry.
    pub fn admit(&mut self, now: Instant, budget: &mut Budget, block: usize) -> bool {
        if !self.starved {
            return true;
        }
        let want = self.wanted_charge(block);
        if want <= self.charge || budget.recharge(self.charge, want) {
            self.charge = self.charge.max(want);
            self.starved = false;
            self.clocks.restart(TimeoutKind::Read, now);
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_is_admitted_only_within_the_limit() {
        let mut b = Budget::new(100);
        assert!(b.recharge(0, 60));
        assert!(!b.recharge(0, 50), "60 + 50 > 100");
        assert_eq!(b.used(), 60);
        assert!(b.recharge(0, 40));
        assert!(b.recharge(60, 10), "shrinking always works");
        assert_eq!(b.used(), 50);
        assert!(b.recharge(0, 50));
        assert!(!b.recharge(0, 1));
    }
}
