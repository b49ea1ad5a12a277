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
    AfterFlush, FlushStep, Flushed, Input, InputStep, NoRoom, Opened, Queued, Read, ReadCx,
    ReadMode, Status, Transport, Writable,
};
use super::timers::ConnTimers;
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
            phase: Phase::new(opened),
            clocks: Clocks::new(now, timeouts),
        }
    }

    /// A security handshake (TLS) runs under this connection: its clock (the handshake
    /// timeout) runs from the moment the connection is up until a read finds it over.
    pub fn expect_handshake(&mut self) {
        self.phase.set_handshake(true);
    }

    // ----- what the connection is doing --------------------------------------------------

    /// What a readable socket should lead to.
    #[inline]
    pub(super) fn read_mode(&self) -> ReadMode {
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

    /// Is reading paused (queued output passed the high watermark)?
    pub(super) fn is_read_paused(&self) -> bool {
        self.input.read_side() == ReadSide::Paused
    }

    /// The connection at a glance (the audit, the budget's line, `Context::queued`).
    #[inline]
    pub fn status(&self) -> Status {
        Status {
            closing: self.phase.is_closing(),
            unconsumed: self.input.len(),
            queued: self.wq.len(),
            charge: self.input.charge(),
            starved: self.input.is_starved(),
            armed: self.clocks.armed(),
            timeouts: self.clocks.timeouts(),
        }
    }

    // ----- input ---------------------------------------------------------------------------

    /// The socket is readable (or the connection is on the read list): make one read
    /// through `io` at `now`, into room the connection gives, and judge what came. The
    /// reactor calls it again while the step says so (`Deliver` with the socket not
    /// `drained`, `Discarded`). The rules are the connection's (module docs, "Reading"):
    /// whether to read, the room, the cost to the turn's `quota`, when a read proved the
    /// socket drained. Unless the step is `Deliver` (settled by the handler's call: see
    /// [`restore_input`](Conn::restore_input)), the budget claim is settled here.
    #[inline(always)]
    pub fn read(&mut self, now: Instant, io: &mut impl Transport, cx: ReadCx<'_>) -> Read {
        let mut mode = self.read_mode();
        if mode == ReadMode::Ignore && self.is_read_paused() && io.handshaking() {
            // A handshake (TLS) is read while output waits: its reply is what lets it go.
            mode = ReadMode::Deliver;
        }
        let (step, bytes, drained) = if mode == ReadMode::Ignore {
            (InputStep::Idle, 0, false)
        } else if *cx.quota == 0 {
            (InputStep::Yield, 0, false)
        } else {
            let deliver = mode == ReadMode::Deliver;
            let closing = self.phase.is_closing();
            match self
                .input
                .read_from(io, cx.pool, cx.limit, cx.budget, deliver, closing)
            {
                Ok((input, asked)) => {
                    let bytes = if let Input::Bytes(n) = input { n } else { 0 };
                    *cx.quota = cx.quota.saturating_sub(self.input.read_cost(bytes));
                    let drained = bytes < asked && !cx.hup && io.short_read_drains();
                    (
                        self.on_input(now, input, cx.pool, cx.budget),
                        bytes,
                        drained,
                    )
                }
                Err(NoRoom::Close(reason)) => (InputStep::Close(reason), 0, false),
                Err(NoRoom::Wait) => (InputStep::WaitForBudget, 0, false),
            }
        };
        Read {
            step,
            bytes,
            drained,
        }
    }

    /// After a [`read`](Conn::read) through a transform (TLS): a handshake the read ended
    /// stops its clock. Returns whether a flush must follow: the read left records to send
    /// (the handshake's answer), or output waits that the handshake held back.
    pub fn after_secure_read(&mut self, io: &impl Transport) -> bool {
        if self.phase.handshaking() && !io.handshaking() {
            self.phase.set_handshake(false);
        }
        io.pending() || !self.wq.is_empty()
    }

    /// A read into the room the connection gave finished at `now` with `input`. The budget
    /// claim is settled as for [`read`](Conn::read).
    #[inline(always)]
    pub(super) fn on_input(
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
        let discard = self.phase.is_closing();
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
                if !self.phase.is_closing() {
                    InputStep::ReadClosed
                } else if !self.wq.is_empty() && !matches!(self.phase, Phase::Lingering { .. }) {
                    // Still flushing: the close completes once the output is out.
                    InputStep::Wait
                } else {
                    InputStep::Close(self.phase.take_reason())
                }
            }
            Input::Failed(e) => match self.phase {
                // The output is already out, and a reset just ends the close asked for.
                Phase::Lingering { .. } => InputStep::Close(self.phase.take_reason()),
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

    /// Put the input buffer back at `now`, after the handler used `used` bytes from its front
    /// (of a record, what it left is dropped). `drained`: the socket has no more input now, so
    /// the read block goes back unless input is left in it. The budget claim is settled. What
    /// is left is a partial message, timed by the frame clock from the read that brought its
    /// first byte: this read if the handler used something or nothing was left before. Returns
    /// `true` when the frame clock (re)started: re-arm.
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
        let restart = self.input.restore_read(rbuf, used, drained, pool);
        self.input.settle(budget, pool.read_size());
        if restart {
            self.clocks.restart(TimeoutKind::Frame, now);
        }
        restart && self.clocks.has_limit(TimeoutKind::Frame)
    }

    // ----- output --------------------------------------------------------------------------

    /// Queue `len` bytes at `now` with `push`. Past `high` queued bytes, reading pauses
    /// (backpressure) until a flush brings the queue down to the low watermark. It never
    /// holds more than `cap`: a relay writing to a peer that does not read is refused.
    ///
    /// # Errors
    ///
    /// `BrokenPipe` if the write side is shut down or a close was asked for; `WouldBlock`
    /// with a [`QueueFull`] past `cap` (nothing is queued; try again after `on_drained`).
    pub fn queue(
        &mut self,
        now: Instant,
        high: usize,
        cap: usize,
        len: usize,
        pool: &mut BufPool,
        push: impl FnOnce(&mut WriteQueue, &mut BufPool),
    ) -> io::Result<Queued> {
        if !self.phase.accepts_output() {
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

    /// The socket is writable, or the turn's flush list reached the connection: write as
    /// much queued output through `io` as the kernel takes, one vectored write at a time,
    /// then decide what comes next, sending the FIN a close or half-close needs (`low` and
    /// `linger` as for [`after_flush`](Conn::after_flush)).
    #[inline]
    pub fn flush(
        &mut self,
        now: Instant,
        io: &mut impl Transport,
        pool: &mut BufPool,
        (low, linger): (usize, Duration),
    ) -> Flushed {
        // Nothing is written while connecting; what a transform (TLS) holds goes first.
        let held = io.pending();
        let (written, failed) = match self.phase.is_connecting() {
            true => (0, None),
            false => match io.flush_pending() {
                Ok(()) => self.wq.write_with(pool, |slices| io.write_vectored(slices)),
                Err(e) => (0, Some(e)),
            },
        };
        let still_held = io.pending();
        let wrote = written > 0 || (held && !still_held);
        if wrote {
            self.clocks.written(now);
        }
        if let Some(e) = failed {
            return Flushed {
                written,
                read_again: false,
                step: FlushStep::Close(CloseReason::from_io(e)),
            };
        }
        let (read_again, next) = self.after_flush(now, wrote, still_held, low, linger);
        let step = match next {
            AfterFlush::Wait => FlushStep::Wait,
            AfterFlush::Drained => FlushStep::Drained,
            AfterFlush::Close(reason) => FlushStep::Close(reason),
            AfterFlush::ShutdownWrite { drained } => match io.shutdown_write() {
                Ok(()) if drained => FlushStep::Drained,
                Ok(()) => FlushStep::Wait,
                Err(e) => FlushStep::Close(self.phase.shutdown_failed(e)),
            },
            // FIN goes out now, unless a half-close sent it already.
            AfterFlush::Linger { shutdown: true } => match io.shutdown_write() {
                Ok(()) => FlushStep::Wait,
                Err(e) => FlushStep::Close(self.phase.shutdown_failed(e)),
            },
            AfterFlush::Linger { shutdown: false } => FlushStep::Wait,
        };
        Flushed {
            written,
            read_again,
            step,
        }
    }

    /// Write `data` through `io` at `now`, at once, if nothing is queued ahead of it, the
    /// connection is up and open for output, and it is a byte stream. Returns how much the
    /// kernel took; the rest is for [`queue`](Conn::queue). A failure is left to the flush,
    /// which closes the connection with it, as if this write had not been tried.
    #[inline]
    pub fn write_direct(&mut self, now: Instant, io: &mut impl Transport, data: &[u8]) -> usize {
        if data.is_empty() || !self.can_write_directly() {
            return 0;
        }
        match io.write(data) {
            Ok(n) => {
                if n > 0 {
                    self.clocks.written(now);
                }
                n
            }
            Err(_) => 0,
        }
    }

    /// Writable at `now`: finish a connect (through `io`), or say if a flush has work.
    #[inline]
    pub fn on_writable(&mut self, now: Instant, io: &mut impl Transport) -> Writable {
        if !self.phase.is_connecting() {
            return if self.wants_flush(io) {
                Writable::Flush
            } else {
                Writable::Nothing
            };
        }
        match io.connect_result() {
            Ok(()) => {
                self.on_connected(now);
                Writable::Connected
            }
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Writable::Nothing,
            Err(e) => Writable::Close(CloseReason::Io(e)),
        }
    }

    /// `n` queued bytes were written at `now`.
    #[cfg(test)]
    pub(super) fn on_written(&mut self, now: Instant, n: usize, pool: &mut BufPool) {
        self.wq.advance(n, pool);
        self.clocks.written(now);
    }

    /// May output skip the queue and be written at once ([`write_direct`](Conn::write_direct))?
    #[inline]
    fn can_write_directly(&self) -> bool {
        // Up (not connecting), no close asked for, and the write side open.
        self.wq.is_empty()
            && !self.input.is_records()
            && matches!(
                self.phase,
                Phase::Open {
                    write: WriteSide::Open,
                    ..
                }
            )
    }

    /// Would a flush of a connection that is up have anything to do (`needs_flush`, or a
    /// transform holding bytes)? What a writable event asks.
    #[inline(always)]
    pub fn wants_flush(&self, io: &impl Transport) -> bool {
        self.needs_flush() || io.pending()
    }

    /// Would a flush have anything to do: output queued, a connect to finish, reading paused
    /// for output to drain, or a close or half-close waiting for the queue? When not, a
    /// writable event is news of nothing (epoll reports writable with every event), skipped.
    #[inline]
    pub(super) fn needs_flush(&self) -> bool {
        !self.wq.is_empty()
            || self.input.read_side() == ReadSide::Paused
            || self.phase.write_side() == WriteSide::ShutPending
            || matches!(
                self.phase,
                Phase::Connecting { .. } | Phase::ConnectingToClose { .. } | Phase::Flushing { .. }
            )
    }

    /// A flush ended (the queue empty, or `WouldBlock`) at `now`; `wrote`: it wrote something;
    /// `held`: a transform still holds bytes (as good as queued). `low`: the watermark at
    /// which paused reading resumes; `linger`: how long a close may wait for the peer's end
    /// of file. Returns whether reading must start again, and the step.
    pub(super) fn after_flush(
        &mut self,
        now: Instant,
        wrote: bool,
        held: bool,
        low: usize,
        linger: Duration,
    ) -> (bool, AfterFlush) {
        let mut read_again = false;
        if self.phase.is_connecting() {
            // Nothing was written: the connect has not completed.
            return (read_again, AfterFlush::Wait);
        }
        if self.input.read_side() == ReadSide::Paused && self.wq.len() <= low {
            self.input.set_read_side(ReadSide::Reading);
            self.clocks.resume(now, self.phase.handshaking());
            read_again = true;
        }
        let step = if !self.wq.is_empty() || held {
            AfterFlush::Wait
        } else if let Phase::Lingering { .. } = self.phase {
            AfterFlush::Wait
        } else if let Phase::Flushing { .. } = self.phase {
            let finished = self.input.read_side() == ReadSide::Finished;
            let step = self.phase.flushed(now, finished, linger);
            // Lingering reads (and drops) until the peer's end of file.
            read_again |= matches!(step, AfterFlush::Linger { .. });
            step
        } else if self.phase.write_side() == WriteSide::ShutPending {
            self.phase.set_write_side(WriteSide::Shut);
            AfterFlush::ShutdownWrite { drained: wrote }
        } else if wrote {
            AfterFlush::Drained
        } else {
            AfterFlush::Wait
        };
        (read_again, step)
    }

    // ----- closing -------------------------------------------------------------------------

    /// Close gracefully: stop delivering input, flush, then close (lingering if need be).
    /// The reason is [`CloseReason::PeerClosed`] if the peer had already finished sending,
    /// else [`CloseReason::Local`]. Returns `false` if a close was already under way.
    pub fn close(&mut self) -> bool {
        if self.phase.is_closing() {
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

    /// A graceful shutdown asks: close now, as [`close`](Conn::close) does, if at a message
    /// boundary: no input held or left unread (reading paused), no message announced,
    /// nothing queued, and not `busy` (the handler's view). `true` if it began closing.
    pub fn close_at_boundary(&mut self, busy: bool) -> bool {
        let paused = self.is_read_paused() || self.input.is_starved();
        if busy || paused || self.input.holds_message() || !self.wq.is_empty() {
            return false;
        }
        self.close()
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
        self.clocks.take_armed()
    }

    // ----- connecting ----------------------------------------------------------------------

    /// The outgoing connect completed at `now`: the read clock starts, the connect's stops.
    pub(super) fn on_connected(&mut self, now: Instant) {
        self.phase.connected();
        self.clocks.restart(TimeoutKind::Read, now);
        // A handshake's clock starts when the connection is up (no message is buffered yet).
        self.clocks.restart(TimeoutKind::Handshake, now);
    }

    // ----- timeouts ------------------------------------------------------------------------

    fn running(&self) -> Running {
        let reading = self.read_mode() == ReadMode::Deliver;
        Running {
            read: reading,
            write: !self.wq.is_empty() && !self.phase.is_connecting(),
            // A message waiting for the budget is still timed: the frame timeout is what ends
            // a wait that nothing else would (messages that never announced their size).
            frame: (reading || self.input.is_starved()) && self.input.has_partial(),
            connect: self.phase.is_connecting(),
            handshake: self.phase.handshaking(),
            linger_until: self.phase.linger_until(),
        }
    }

    /// The connection's timers (its one wheel entry, its deadlines, the handler's timeout
    /// settings), as of now: see [`ConnTimers`].
    #[inline]
    pub fn timers(&mut self) -> ConnTimers<'_> {
        let run = self.running();
        ConnTimers::new(&mut self.clocks, run, &mut self.phase)
    }

    /// The deadline of the `kind` timeout if its clock runs now; with `None`, the earliest
    /// instant the connection needs attention (a deadline, or a lingering close's end).
    pub fn deadline(&self, kind: Option<TimeoutKind>) -> Option<Instant> {
        match kind {
            Some(kind) => self.clocks.deadline(kind, self.running()),
            None => self.clocks.next_deadline(self.running()),
        }
    }

    // ----- the budget: room for reads, waiting for admission (the input side's rules) ------

    /// Room for the next read (see `InputSide::room`), for tests that read themselves.
    #[cfg(test)]
    pub(super) fn input_room(
        &mut self,
        pool: &mut BufPool,
        limit: usize,
        record: Option<usize>,
        budget: &mut Budget,
    ) -> Result<&mut [u8], NoRoom> {
        let closing = self.phase.is_closing();
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
