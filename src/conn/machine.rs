//! [`Conn`]: one stream connection's state and every decision about it (see the
//! [module docs](super) for the states). The reactor hands it events and `now`; it answers
//! with steps.

use std::io;
use std::time::{Duration, Instant};

use super::budget::Budget;
use super::clocks::{Clocks, Running, Timeouts};
use super::input::InputSide;
use super::phase::{Phase, ReadSide, WriteSide};
use super::steps::{
    FlushStep, Flushed, Input, InputStep, NoRoom, Opened, Queued, ReadMode, TimerStep,
};
use crate::buf::{BufPool, ReadBuf, WriteQueue};
use crate::error::{CloseReason, QueueFull, TimeoutKind};
use crate::time::TimerHandle;

/// One stream connection's state, apart from its socket. See the [module docs](super).
#[derive(Debug)]
pub struct Conn {
    /// The read buffer and its claim on the input budget.
    input: InputSide,
    wq: WriteQueue,
    phase: Phase,
    clocks: Clocks,
}

impl Conn {
    /// A new connection at `now`, with `timeouts` (usually the reactor's defaults). A
    /// `records` connection (Unix seqpacket) reads and writes whole records.
    pub fn new(now: Instant, timeouts: Timeouts, opened: Opened, records: bool) -> Conn {
        let mut wq = WriteQueue::new();
        wq.set_records(records);
        Conn {
            input: InputSide::new(records),
            wq,
            phase: match opened {
                Opened::Connecting => Phase::Connecting {
                    write: WriteSide::Open,
                },
                Opened::Accepted => Phase::Open {
                    write: WriteSide::Open,
                },
            },
            clocks: Clocks::new(now, timeouts),
        }
    }

    // ----- what the connection is doing --------------------------------------------------

    /// What a readable socket should lead to.
    #[inline]
    pub fn read_mode(&self) -> ReadMode {
        match self.phase {
            Phase::Open { .. }
                if self.input.read_side() == ReadSide::Reading && !self.input.is_starved() =>
            {
                ReadMode::Deliver
            }
            Phase::Open { .. } | Phase::Connecting { .. } => ReadMode::Ignore,
            // Closing (a close waiting for the connect included): input is dropped.
            Phase::ConnectingToClose { .. } | Phase::Flushing { .. } | Phase::Lingering { .. } => {
                ReadMode::Discard
            }
        }
    }

    /// An outgoing connect still in progress (nothing is written until it completes)?
    #[inline]
    pub fn is_connecting(&self) -> bool {
        self.phase.is_connecting()
    }

    /// A close was asked for (the connection is flushing or lingering)?
    #[inline]
    pub fn is_closing(&self) -> bool {
        self.phase.is_closing()
    }

    /// Is reading paused because queued output passed the high watermark?
    #[cfg(test)]
    pub fn is_read_paused(&self) -> bool {
        self.input.read_side() == ReadSide::Paused
    }

    /// Bytes of input received and not yet consumed by the handler.
    pub fn unconsumed(&self) -> usize {
        self.input.len()
    }

    /// Bytes of output queued and not yet written.
    pub fn queued(&self) -> usize {
        self.wq.len()
    }

    /// May more output be queued?
    fn accepts_output(&self) -> bool {
        matches!(
            self.phase,
            Phase::Open {
                write: WriteSide::Open
            } | Phase::Connecting {
                write: WriteSide::Open
            }
        )
    }

    // ----- input ---------------------------------------------------------------------------

    /// A read into [`input_room`](Conn::input_room) finished at `now` with `input`. Unless
    /// the step is `Deliver` (the handler's call settles that: see
    /// [`restore_input`](Conn::restore_input)), the connection's budget claim is settled to
    /// what it now holds, in this call.
    #[inline]
    pub fn on_input(
        &mut self,
        now: Instant,
        input: Input,
        pool: &mut BufPool,
        budget: &mut Budget,
    ) -> InputStep {
        let step = self.take_input_event(now, input, pool);
        if !matches!(step, InputStep::Deliver) {
            // The buffer may have gone back to the pool.
            self.input.settle(budget, pool.read_size());
        }
        step
    }

    #[inline(always)]
    fn take_input_event(&mut self, now: Instant, input: Input, pool: &mut BufPool) -> InputStep {
        let discard = self.is_closing();
        match input {
            Input::Bytes(n) if discard => {
                self.input.discard(n, pool);
                InputStep::Discarded
            }
            Input::Bytes(n) => {
                self.input.commit(n);
                self.clocks.read(now);
                InputStep::Deliver
            }
            Input::EmptyRecord if discard => InputStep::Discarded,
            Input::EmptyRecord => {
                self.clocks.read(now);
                InputStep::Deliver
            }
            Input::WouldBlock => {
                self.input.release(pool);
                InputStep::Drained
            }
            Input::Eof => {
                self.input.set_read_side(ReadSide::Finished);
                self.input.release(pool);
                if !self.is_closing() {
                    InputStep::ReadClosed
                } else if !self.wq.is_empty() && !matches!(self.phase, Phase::Lingering { .. }) {
                    // Still flushing: the close completes once the output is out.
                    InputStep::Wait
                } else {
                    InputStep::Close(self.take_reason())
                }
            }
            Input::Failed(e) => match self.phase {
                // The output is already out, and a reset just ends the close asked for.
                Phase::Lingering { .. } => InputStep::Close(self.take_reason()),
                // Still flushing, the reset loses that output: say so.
                _ => InputStep::Close(CloseReason::from_io(e)),
            },
        }
    }

    /// Move the input buffer out (a pointer swap, no copy), so that the handler can borrow the
    /// bytes while the reactor lends it the connection's output queue.
    #[inline]
    pub fn take_input(&mut self) -> ReadBuf {
        self.input.take()
    }

    /// Put the input buffer back at `now`, after the handler used `used` bytes from its front.
    /// A record stands alone: what the handler left of it is dropped. `drained`: the socket
    /// has no more input for now, so the read block goes back to the pool unless input is
    /// left in it. The budget claim is settled to what is held.
    ///
    /// What is left is a partial message, and the frame clock times it: it starts with the
    /// read that brought the partial message's first byte. That is this read if the handler
    /// used something (a message ended here, so what follows it arrived now) or if nothing
    /// was left before; otherwise the clock of the partial message already left goes on.
    /// Returns `true` when the frame clock (re)started: its deadline may be the earliest, so
    /// the timer entry must be re-armed.
    #[must_use]
    #[inline(always)]
    pub fn restore_input(
        &mut self,
        now: Instant,
        rbuf: ReadBuf,
        used: usize,
        drained: bool,
        pool: &mut BufPool,
        budget: &mut Budget,
    ) -> bool {
        let restart = self.input.restore(rbuf, used, pool);
        if drained {
            // No read follows soon: the block goes back unless input is left in it.
            self.input.release(pool);
        }
        self.input.settle(budget, pool.read_size());
        if restart {
            self.clocks.restart(TimeoutKind::Frame, now);
        }
        restart && self.clocks.has_limit(TimeoutKind::Frame)
    }

    // ----- output --------------------------------------------------------------------------

    /// Queue `len` bytes at `now` with `push`. Past `high` queued bytes, reading pauses
    /// (backpressure: the peer is not reading as fast as it sends) until a flush brings the
    /// queue down to the low watermark. The queue never holds more than `cap` bytes: a
    /// handler writing to a peer that does not read (a relay) is refused, not given memory
    /// without limit.
    ///
    /// # Errors
    ///
    /// `BrokenPipe` if the write side is shut down or a close was asked for; `WouldBlock`
    /// carrying a [`QueueFull`] if the bytes would take the queue past `cap` (nothing is
    /// queued; try again after `on_drained`).
    pub fn queue(
        &mut self,
        now: Instant,
        high: usize,
        cap: usize,
        len: usize,
        pool: &mut BufPool,
        push: impl FnOnce(&mut WriteQueue, &mut BufPool),
    ) -> io::Result<Queued> {
        if !self.accepts_output() {
            return Err(io::Error::from(io::ErrorKind::BrokenPipe));
        }
        if len == 0 {
            return Ok(Queued::Nothing);
        }
        if self.wq.len().saturating_add(len) > cap {
            let full = QueueFull {
                queued: self.wq.len(),
                len,
                cap,
            };
            return Err(io::Error::new(io::ErrorKind::WouldBlock, full));
        }
        let was_empty = self.wq.is_empty();
        push(&mut self.wq, pool);
        if self.wq.len() >= high && self.input.read_side() == ReadSide::Reading {
            self.input.set_read_side(ReadSide::Paused);
        }
        if was_empty {
            self.clocks.restart(TimeoutKind::Write, now);
            return Ok(Queued::Started);
        }
        Ok(Queued::Added)
    }

    /// The queued output, as up to `out.len()` slices for one vectored write (one record at
    /// a time for a record connection). 0 while connecting: nothing may be written yet.
    pub fn output<'a>(&'a self, out: &mut [io::IoSlice<'a>]) -> usize {
        if self.is_connecting() {
            return 0;
        }
        self.wq.io_slices(out)
    }

    /// `n` queued bytes were written at `now`.
    pub fn on_written(&mut self, now: Instant, n: usize, pool: &mut BufPool) {
        self.wq.advance(n, pool);
        self.clocks.written(now);
    }

    /// May output skip the queue and be written at once ([`on_direct_write`](Conn::on_direct_write))?
    /// Only when nothing is queued ahead of it (order), the connection is up and open for
    /// output, and it is a byte stream (a record connection sends each write as one record,
    /// which the queue keeps).
    #[inline]
    pub fn can_write_directly(&self) -> bool {
        // Up (not connecting), no close asked for, and the write side open.
        self.wq.is_empty()
            && !self.input.is_records()
            && matches!(
                self.phase,
                Phase::Open {
                    write: WriteSide::Open
                }
            )
    }

    /// Would a flush have anything to do: output queued, a connect to finish, reading paused
    /// for output to drain, or a close or half-close waiting for the queue? When not, a
    /// writable event is news of nothing (epoll reports a writable socket with every event
    /// for it), and the reactor skips the flush.
    #[inline]
    pub fn needs_flush(&self) -> bool {
        !self.wq.is_empty()
            || self.input.read_side() == ReadSide::Paused
            || self.phase.write_side() == WriteSide::ShutPending
            || matches!(
                self.phase,
                Phase::Connecting { .. } | Phase::ConnectingToClose { .. } | Phase::Flushing { .. }
            )
    }

    /// `n` bytes were written at `now` straight from the handler's buffer, not from the queue.
    #[inline]
    pub fn on_direct_write(&mut self, now: Instant, n: usize) {
        if n > 0 {
            self.clocks.written(now);
        }
    }

    /// A flush ended (the queue is empty or the kernel said `WouldBlock`) at `now`; `wrote`
    /// says whether it wrote anything. `low` is the watermark at which paused reading resumes,
    /// `linger` how long a close may wait for the peer's end of file.
    pub fn after_flush(
        &mut self,
        now: Instant,
        wrote: bool,
        low: usize,
        linger: Duration,
    ) -> Flushed {
        let mut read_again = false;
        if self.is_connecting() {
            // Nothing was written: the connect has not completed.
            return Flushed {
                read_again,
                step: FlushStep::Wait,
            };
        }
        if self.input.read_side() == ReadSide::Paused && self.wq.len() <= low {
            self.input.set_read_side(ReadSide::Reading);
            // The wait for input starts now, and so does the rest of a partial message's.
            self.clocks.restart(TimeoutKind::Read, now);
            self.clocks.restart(TimeoutKind::Frame, now);
            read_again = true;
        }
        let step = if !self.wq.is_empty() {
            FlushStep::Wait
        } else if let Phase::Lingering { .. } = self.phase {
            FlushStep::Wait
        } else if let Phase::Flushing { .. } = self.phase {
            if self.input.read_side() == ReadSide::Finished || linger.is_zero() {
                FlushStep::Close(self.take_reason())
            } else {
                // FIN goes out now, unless a half-close sent it already.
                let shutdown = self.phase.write_side() != WriteSide::Shut;
                let reason = self.take_reason();
                let until = now.checked_add(linger).unwrap_or(now);
                self.phase = Phase::Lingering { reason, until };
                read_again = true;
                FlushStep::Linger { shutdown }
            }
        } else if self.phase.write_side() == WriteSide::ShutPending {
            self.phase.set_write_side(WriteSide::Shut);
            FlushStep::ShutdownWrite { drained: wrote }
        } else if wrote {
            FlushStep::Drained
        } else {
            FlushStep::Wait
        };
        Flushed { read_again, step }
    }

    /// Shutting the write side down failed with `err`: the reason to close with.
    pub fn on_shutdown_failed(&mut self, err: io::Error) -> CloseReason {
        if err.kind() == io::ErrorKind::NotConnected && self.is_closing() {
            // The peer is already gone: the close is still the one asked for.
            return self.take_reason();
        }
        CloseReason::from_io(err)
    }

    // ----- closing -------------------------------------------------------------------------

    /// Close gracefully: stop delivering input, flush, then close (lingering if need be).
    /// The reason is [`CloseReason::PeerClosed`] if the peer had already finished sending,
    /// else [`CloseReason::Local`]. Returns `false` if a close was already under way.
    pub fn close(&mut self) -> bool {
        if self.is_closing() {
            return false;
        }
        let reason = if self.input.read_side() == ReadSide::Finished {
            CloseReason::PeerClosed
        } else {
            CloseReason::Local
        };
        self.phase.close(reason);
        // Input is only dropped from now on: no message to reserve, nothing to wait for.
        self.input.give_up();
        true
    }

    /// Half-close: send end of file once queued output is flushed; accept no more output.
    pub fn shutdown_write(&mut self) {
        if self.phase.write_side() == WriteSide::Open {
            self.phase.set_write_side(WriteSide::ShutPending);
        }
    }

    /// The connection is closing for good: give the buffers and its budget back, and hand
    /// over its wheel entry (if any) for cancelling.
    pub fn release(&mut self, pool: &mut BufPool, budget: &mut Budget) -> Option<TimerHandle> {
        self.input.release_all(pool, budget);
        self.wq.clear(pool);
        let armed = self.clocks.armed();
        self.clocks.set_armed(None);
        armed
    }

    /// The reason of the close under way, taken out: the step that returns it ends the
    /// connection.
    fn take_reason(&mut self) -> CloseReason {
        self.phase.take_reason()
    }

    // ----- connecting ----------------------------------------------------------------------

    /// The outgoing connect completed at `now`: the read clock starts (the connect clock
    /// stops).
    pub fn on_connected(&mut self, now: Instant) {
        self.phase.connected();
        self.clocks.restart(TimeoutKind::Read, now);
    }

    // ----- timeouts ------------------------------------------------------------------------

    fn running(&self) -> Running {
        let reading = self.read_mode() == ReadMode::Deliver;
        Running {
            read: reading,
            write: !self.wq.is_empty() && !self.is_connecting(),
            // A message waiting for the budget is still timed: the frame timeout is what ends
            // a wait that nothing else would (messages that never announced their size).
            frame: (reading || self.input.is_starved()) && self.input.has_partial(),
            connect: self.is_connecting(),
            linger_until: match self.phase {
                Phase::Lingering { until, .. } => Some(until),
                _ => None,
            },
        }
    }

    /// The connection's timeouts, in whole milliseconds (rounded up; a timeout of about 49.7
    /// days or more counts as none).
    pub fn timeouts(&self) -> Timeouts {
        self.clocks.timeouts()
    }

    /// Set one timeout; its clock restarts at `now` (the wait "starts now", as a Python call
    /// made after `settimeout` would). Re-arm afterwards.
    pub fn set_timeout(&mut self, kind: TimeoutKind, value: Option<Duration>, now: Instant) {
        self.clocks.set_limit(kind, value);
        self.clocks.restart(kind, now);
    }

    /// The handler chose to keep the connection after `kind` fired: that clock restarts.
    pub fn keep_open(&mut self, kind: TimeoutKind, now: Instant) {
        self.clocks.restart(kind, now);
    }

    /// The deadline of one timeout, if its clock runs now.
    pub fn deadline(&self, kind: TimeoutKind) -> Option<Instant> {
        self.clocks.deadline(kind, self.running())
    }

    /// The earliest instant the connection needs attention: a timeout's deadline, or the end
    /// of a lingering close.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.clocks.next_deadline(self.running())
    }

    /// The instant the wheel entry must be (re)armed at, or `None` if the current entry (or
    /// the lack of one) is fine.
    pub fn arm_at(&self) -> Option<Instant> {
        self.clocks.arm_at(self.running())
    }

    /// The wheel entry currently armed for this connection.
    pub fn armed(&self) -> Option<TimerHandle> {
        self.clocks.armed()
    }

    /// Record the wheel entry armed at `at` for this connection.
    pub fn set_armed(&mut self, handle: TimerHandle, at: Instant) {
        self.clocks.set_armed(Some((handle, at)));
    }

    /// The wheel entry `handle` fired at `now`.
    pub fn on_timer(&mut self, now: Instant, handle: TimerHandle) -> TimerStep {
        if self.clocks.armed() != Some(handle) {
            return TimerStep::Stale;
        }
        self.clocks.set_armed(None);
        let run = self.running();
        if let Some(until) = run.linger_until {
            if until <= now {
                return TimerStep::Close(self.take_reason());
            }
            return TimerStep::Rearm;
        }
        match self.clocks.expired(now, run) {
            Some(kind) => TimerStep::TimedOut(kind),
            None => TimerStep::Rearm,
        }
    }
}

/// The connection's side of the budget: making room for reads, and waiting for admission
/// (the rules are the input side's, `input.rs`; the phase decides whether input is kept).
impl Conn {
    /// Room for the next read: a pooled block taken, compacted or grown up to `limit` bytes
    /// of unconsumed input. For a record connection, `record` is the next record's length
    /// (learned with a peek), and the room holds all of it. Memory beyond one read block is
    /// charged to `budget` (see `budget`).
    ///
    /// # Errors
    ///
    /// [`NoRoom::Close`] with a [`ReadBufferFull`](crate::error::ReadBufferFull) protocol
    /// error when the input would need more than `limit` bytes; [`NoRoom::Wait`] when the
    /// budget cannot admit the growth now: reading stops until [`admit`](Conn::admit)
    /// succeeds.
    #[inline]
    pub fn input_room(
        &mut self,
        pool: &mut BufPool,
        limit: usize,
        record: Option<usize>,
        budget: &mut Budget,
    ) -> Result<&mut [u8], NoRoom> {
        if record.is_none() && self.input.is_bare() {
            // The common case, before anything else is looked at: see `InputSide::is_bare`.
            return Ok(self.input.take_block(pool));
        }
        let closing = self.is_closing();
        self.input.room(pool, limit, record, budget, closing)
    }

    /// The handler announced that the message being received is `total` bytes in all (a
    /// frame whose header has arrived): reserve it whole, so that it can always complete.
    /// Returns `true` if the budget cannot admit it now and the connection begins to wait:
    /// the reactor puts it on the budget's waiting line (a connection already waiting is on
    /// it) and re-arms its timer (waiting keeps a partial message's frame clock running);
    /// reading waits for [`admit`](Conn::admit).
    #[must_use]
    pub fn expect_input(&mut self, total: usize, budget: &mut Budget, block: usize) -> bool {
        let waiting = self.input.is_starved();
        !self.input.expect(total, budget, block) && !waiting
    }

    /// What a read of `n` bytes costs the turn's read budget (`Config::read_budget`): its
    /// bytes, and for a record connection at least 256, so that a flood of tiny records
    /// cannot hold the read loop for long.
    #[inline]
    pub fn read_cost(&self, n: usize) -> usize {
        if self.input.is_records() {
            n.max(256)
        } else {
            n
        }
    }

    /// Is reading waiting for the budget?
    pub fn is_starved(&self) -> bool {
        self.input.is_starved()
    }

    /// Bytes of the input budget this connection holds.
    pub fn charge(&self) -> usize {
        self.input.charge()
    }

    /// Try again to admit what a starved connection waits for; `true` if it may read again
    /// (reading must then restart without waiting for an event: the bytes waited in the
    /// kernel). Admitted at `now`, the wait for input starts again then (the read clock did
    /// not run while the budget held the connection back): re-arm the timer entry.
    pub fn admit(&mut self, now: Instant, budget: &mut Budget, block: usize) -> bool {
        if !self.input.is_starved() {
            return true;
        }
        if self.input.admit(budget, block) {
            self.clocks.restart(TimeoutKind::Read, now);
            return true;
        }
        false
    }
}
