//! [`InputSide`]: a connection's read buffer and its claim on the reactor's input budget.
//!
//! It owns the bytes received and not yet consumed, whether input is wanted (the read side), whether they are a partial message (the
//! frame clock times it), the size of the message being received when the handler announced
//! it, and the budget bytes the connection holds beyond its one free read block. Its rules:
//! what a read may grow to and what that costs (`room`), when a connection must wait for
//! the budget, and when it may go on (`admit`). `Conn` asks it and keeps the phase and the
//! clocks; see `budget.rs` for the budget's own promise (no deadlock, first come first served).

use std::io;

use super::budget::Budget;
use super::phase::ReadSide;
use super::steps::{Input, NoRoom, Transport};
use crate::buf::{BufPool, ReadBuf};
use crate::error::{CloseReason, ReadBufferFull};

/// A connection's input and its budget claim (see the module docs).
#[derive(Debug)]
pub(super) struct InputSide {
    rbuf: ReadBuf,
    /// A record (seqpacket) connection: each read is one whole record, which stands alone.
    records: bool,
    /// Whether input is wanted, paused by backpressure, or finished (the peer's end of file).
    read: ReadSide,
    /// The handler left a partial message in the buffer (the frame clock runs).
    partial: bool,
    /// Bytes of the input budget this connection holds.
    charge: usize,
    /// The size of the message being received, as the handler announced it, or the buffer
    /// size a growth the budget refused asked for (0: unknown).
    expected: usize,
    /// The handler announced `expected` during the call whose input is being restored.
    announced: bool,
    /// Reading waits for the budget to admit what `expected` calls for.
    starved: bool,
}

impl InputSide {
    /// No input yet; `records`: a record connection.
    pub(super) fn new(records: bool) -> InputSide {
        InputSide {
            rbuf: ReadBuf::new(),
            records,
            read: ReadSide::Reading,
            partial: false,
            charge: 0,
            expected: 0,
            announced: false,
            starved: false,
        }
    }

    /// Where the read side stands.
    #[inline]
    pub(super) fn read_side(&self) -> ReadSide {
        self.read
    }

    /// The read side moves to `to`.
    #[inline]
    pub(super) fn set_read_side(&mut self, to: ReadSide) {
        self.read = to;
    }

    /// Is this a record (seqpacket) connection?
    #[inline]
    pub(super) fn is_records(&self) -> bool {
        self.records
    }

    /// Bytes received and not yet consumed.
    #[inline]
    pub(super) fn len(&self) -> usize {
        self.rbuf.len()
    }

    /// Is a partial message held (the frame clock's business)?
    #[inline]
    pub(super) fn has_partial(&self) -> bool {
        self.partial
    }

    /// Is reading waiting for the budget?
    #[inline]
    pub(super) fn is_starved(&self) -> bool {
        self.starved
    }

    /// Bytes of the input budget held.
    #[inline]
    pub(super) fn charge(&self) -> usize {
        self.charge
    }

    /// `n` bytes were read into the room.
    #[inline]
    pub(super) fn commit(&mut self, n: usize) {
        self.rbuf.commit(n);
    }

    /// `n` bytes were read into the room while closing: dropped at once.
    #[inline]
    pub(super) fn discard(&mut self, n: usize, pool: &mut BufPool) {
        self.rbuf.commit(n);
        self.rbuf.clear(pool);
    }

    /// Give the read block back if no unconsumed input is in it.
    #[inline]
    pub(super) fn release(&mut self, pool: &mut BufPool) {
        self.rbuf.release(pool);
    }

    /// Move the buffer out (a pointer swap, no copy) for the handler to read.
    #[inline]
    pub(super) fn take(&mut self) -> ReadBuf {
        // What the handler announces from now on is about what this call leaves unconsumed.
        self.announced = false;
        std::mem::take(&mut self.rbuf)
    }

    /// Put the buffer back after the handler used `used` bytes from its front (a record
    /// connection drops the rest of a record). Returns `true` when what is left is a partial
    /// message whose frame clock (re)starts now: it starts with the read that brought the
    /// partial message's first byte, which is this read if the handler used something (a
    /// message ended here, so what follows it arrived now) or if nothing was left before.
    #[inline]
    pub(super) fn restore(&mut self, mut rbuf: ReadBuf, used: usize, pool: &mut BufPool) -> bool {
        let records = self.records;
        let had_partial = self.partial;
        // Returning more than it was given is a handler bug; the docs promise it counts as all.
        rbuf.consume(used.min(rbuf.len()));
        if records {
            rbuf.clear(pool);
        }
        self.partial = !rbuf.is_empty();
        if (used > 0 || records) && !self.announced {
            // A message ended: the size announced for it is spent (unless the handler has
            // just announced the next one).
            self.expected = 0;
        }
        self.announced = false;
        self.rbuf = rbuf;
        self.partial && (used > 0 || !had_partial)
    }

    /// Put the buffer back after the handler's call, as [`restore`](InputSide::restore)
    /// does, and if the socket is `drained` give the block back unless input is left in it
    /// (no read follows soon). The usual case, a byte stream's input all used and the socket
    /// drained, takes one step: the block goes straight back to the pool. Returns as
    /// `restore` does.
    #[inline(always)]
    pub(super) fn restore_read(
        &mut self,
        mut rbuf: ReadBuf,
        used: usize,
        drained: bool,
        pool: &mut BufPool,
    ) -> bool {
        if drained && !self.records && used > 0 && used >= rbuf.len() {
            rbuf.clear(pool);
            self.partial = false;
            if !self.announced {
                self.expected = 0; // The message ended; nothing announced for the next one.
            }
            self.announced = false;
            return false;
        }
        let restart = self.restore(rbuf, used, pool);
        if drained {
            self.release(pool);
        }
        restart
    }

    /// A close was asked for: input is only dropped from now on, so no message to reserve
    /// and nothing to wait for.
    /// Is a message under way: input held (a partial message), or one announced?
    pub(super) fn holds_message(&self) -> bool {
        !self.rbuf.is_empty() || self.expected > 0
    }

    pub(super) fn give_up(&mut self) {
        self.expected = 0;
        self.starved = false;
    }

    /// The connection is gone: the buffer and the budget go back.
    pub(super) fn release_all(&mut self, pool: &mut BufPool, budget: &mut Budget) {
        self.rbuf.clear(pool);
        budget.recharge(self.charge, 0);
        self.charge = 0;
        self.starved = false;
    }

    /// No input held, no message announced, nothing charged: the next read (of a byte
    /// stream) takes one pooled block ([`take_block`](InputSide::take_block)), which the
    /// budget does not count (`wanted_charge` is 0 for it). (A charge with no input held is a
    /// message announced before its first byte and then given up by a close: `room` returns
    /// it.)
    /// One read through `io` (see `Conn::read`): the room (after a peek at the record's size
    /// on a record connection whose input is `deliver`ed), then the read, retried when
    /// interrupted. Returns what the read brought and how much room it had.
    #[inline(always)]
    pub(super) fn read_from(
        &mut self,
        io: &mut impl Transport,
        pool: &mut BufPool,
        limit: usize,
        budget: &mut Budget,
        deliver: bool,
        closing: bool,
    ) -> Result<(Input, usize), NoRoom> {
        // A record connection reads one whole record at a time: learn its size first.
        let peek = if deliver { io.record_len() } else { None };
        let record = match peek {
            None => None,
            Some(Ok(len)) => Some(len),
            Some(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                return Ok((Input::WouldBlock, 0))
            }
            Some(Err(e)) => return Ok((Input::Failed(e), 0)),
        };
        let room = if record.is_none() && self.is_bare() {
            // The common case, before anything else is looked at: see `is_bare`.
            self.take_block(pool)
        } else {
            self.room(pool, limit, record, budget, closing)?
        };
        let asked = room.len();
        loop {
            let input = match io.read(&mut *room) {
                Ok(0) if io.empty_record() => Input::EmptyRecord,
                Ok(0) => Input::Eof,
                Ok(n) => Input::Bytes(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Input::WouldBlock,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Input::Failed(e),
            };
            return Ok((input, asked));
        }
    }

    /// What a read of `n` bytes costs the turn's read quota (`Config::read_budget`): its
    /// bytes, and for a record connection at least 256, so that a flood of tiny records
    /// cannot hold the read loop for long.
    #[inline]
    pub(super) fn read_cost(&self, n: usize) -> usize {
        if self.records {
            n.max(256)
        } else {
            n
        }
    }

    #[inline]
    pub(super) fn is_bare(&self) -> bool {
        self.rbuf.capacity() == 0 && self.expected == 0 && self.charge == 0
    }

    /// A pooled block for the next read, when [`is_bare`](InputSide::is_bare).
    #[inline]
    pub(super) fn take_block(&mut self, pool: &mut BufPool) -> &mut [u8] {
        debug_assert!(self.is_bare());
        self.rbuf.take_block(pool)
    }

    /// Room for the next read when the input is not bare, or a record is read (see
    /// `Conn::input_room`, which takes the bare case first); `closing`: what is read is
    /// dropped.
    #[inline]
    pub(super) fn room(
        &mut self,
        pool: &mut BufPool,
        limit: usize,
        record: Option<usize>,
        budget: &mut Budget,
        closing: bool,
    ) -> Result<&mut [u8], NoRoom> {
        if closing {
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
        if !ok && closing {
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

    /// The budget this input calls for: what it holds (or the message announced, if
    /// larger) beyond one free read block.
    #[inline]
    fn wanted_charge(&self, block: usize) -> usize {
        self.rbuf
            .capacity()
            .max(self.expected)
            .saturating_sub(block)
    }

    /// Bring the charge in line with what is held now. Only ever shrinks it.
    #[inline]
    pub(super) fn settle(&mut self, budget: &mut Budget, block: usize) {
        if self.charge == 0 {
            return; // Nothing to shrink (the usual case: one block, which is not charged).
        }
        let want = self.wanted_charge(block).min(self.charge);
        budget.recharge(self.charge, want);
        self.charge = want;
    }

    /// The message being received is `total` bytes in all: reserve it whole. `false` if the
    /// budget cannot admit it now (the input then waits).
    pub(super) fn expect(&mut self, total: usize, budget: &mut Budget, block: usize) -> bool {
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

    /// Try again to admit what a waiting input needs; `true` if it is admitted.
    pub(super) fn admit(&mut self, budget: &mut Budget, block: usize) -> bool {
        let want = self.wanted_charge(block);
        if want <= self.charge || budget.recharge(self.charge, want) {
            self.charge = self.charge.max(want);
            self.starved = false;
            return true;
        }
        false
    }
}
