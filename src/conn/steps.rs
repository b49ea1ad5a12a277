//! The connection's vocabulary with the reactor: the events it is told about, and the steps
//! it answers with. Each step names what the reactor must do next; none of them does it.
//! The enums will grow with the connection's rules (budgets, a frame deadline), so they are
//! `#[non_exhaustive]`.

use std::io;

use super::budget::Budget;
use super::clocks::Timeouts;
use crate::buf::BufPool;
use crate::error::{CloseReason, TimeoutKind};
use crate::time::TimerHandle;

/// The socket side of a connection, as [`Conn`](super::Conn) needs it to carry out a step:
/// the reactor implements it over the real socket (`reactor/stream.rs`), a test over a fake.
/// Each method is one system call and decides nothing; the decisions around them are the
/// connection's.
pub trait Transport {
    /// Read into `buf` (`recv`).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// The length of the next record (a peek) on a record connection; `None` on a stream.
    fn record_len(&mut self) -> Option<io::Result<usize>> {
        None
    }
    /// After a read of 0 bytes on a record connection: was that an empty record (the
    /// connection goes on), not the end of the stream?
    fn empty_record(&mut self) -> bool {
        false
    }
    /// Does a read that returns fewer bytes than asked for prove the socket drained (TCP:
    /// any later byte raises a new edge)?
    fn short_read_drains(&self) -> bool;
    /// Write `buf` (`send`).
    fn write(&mut self, buf: &[u8]) -> io::Result<usize>;
    /// Write `bufs` in one call (`writev`).
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize>;
    /// Shut the write side down (send FIN).
    fn shutdown_write(&mut self) -> io::Result<()>;
    /// Has an outgoing connect finished? `Ok` if it has, `NotConnected` while it is under
    /// way, any other error if it failed.
    fn connect_result(&mut self) -> io::Result<()>;
    /// Does a transform under the socket (TLS) hold bytes the kernel refused, which must go
    /// before the connection counts as drained (and before its FIN)?
    fn pending(&self) -> bool {
        false
    }
    /// Write what the transform holds, as far as the kernel takes it.
    fn flush_pending(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// Is a transform's handshake (TLS) under way? Reading then goes on while output waits.
    fn handshaking(&self) -> bool {
        false
    }
}

/// What the reactor lends one read (see [`Conn::read`](super::Conn::read)).
#[derive(Debug)]
pub struct ReadCx<'a> {
    /// The read blocks.
    pub pool: &'a mut BufPool,
    /// The input budget all connections share.
    pub budget: &'a mut Budget,
    /// The most unconsumed input a connection may hold (`Config::max_read_buffer`).
    pub limit: usize,
    /// What this connection may still read in this turn (`Config::read_budget`); each read
    /// takes its cost off.
    pub quota: &'a mut usize,
    /// The event also reported the peer's end of file, an error or urgent data (or nobody
    /// knows): a short read does not prove the socket drained.
    pub hup: bool,
}

/// What one [`read`](super::Conn::read) did.
#[derive(Debug)]
pub struct Read {
    /// What the reactor does next.
    pub step: InputStep,
    /// Bytes read (for the counters).
    pub bytes: usize,
    /// The read proved the socket drained: no read until the next event.
    pub drained: bool,
}

/// What a writable event means (see [`Conn::on_writable`](super::Conn::on_writable)).
#[derive(Debug)]
#[non_exhaustive]
pub enum Writable {
    /// Nothing to do: nothing queued, nothing waiting for the queue. The usual case: every
    /// event for a socket with room in its send buffer says writable.
    Nothing,
    /// Output (or a close or half-close) waits: flush.
    Flush,
    /// The outgoing connect completed: re-arm, call `on_connect`, read, flush.
    Connected,
    /// The connect failed: close now.
    Close(CloseReason),
}

/// The connection at a glance (see [`Conn::status`](super::Conn::status)).
#[derive(Clone, Copy, Debug)]
pub struct Status {
    /// A close was asked for (flushing or lingering).
    pub closing: bool,
    /// Bytes received and not yet consumed by the handler.
    pub unconsumed: usize,
    /// Bytes queued and not yet written.
    pub queued: usize,
    /// Bytes of the input budget it holds.
    pub charge: usize,
    /// Reading waits for the input budget.
    pub starved: bool,
    /// Its timer-wheel entry, if one is armed.
    pub armed: Option<TimerHandle>,
    /// Its timeouts, in whole milliseconds.
    pub timeouts: Timeouts,
}

/// How a connection came to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opened {
    /// Accepted by a listener: established.
    Accepted,
    /// An outgoing connect, still in progress.
    Connecting,
}

/// What the reactor should do when the socket is readable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReadMode {
    /// Read and hand the bytes to the handler.
    Deliver,
    /// Read and drop the bytes: the connection is closing.
    Discard,
    /// Do not read: still connecting, paused by backpressure, or at end of file.
    Ignore,
}

/// The result of one read, as the reactor saw it (`EINTR` is retried before this).
#[derive(Debug)]
#[non_exhaustive]
pub enum Input {
    /// `n > 0` bytes were read into the room the connection gave.
    Bytes(usize),
    /// A record connection read a record of no bytes (not the end of the stream).
    EmptyRecord,
    /// The read returned 0: the peer's end of file.
    Eof,
    /// Nothing more to read now.
    WouldBlock,
    /// The read failed.
    Failed(io::Error),
}

/// What to do after a read.
#[derive(Debug)]
#[non_exhaustive]
pub enum InputStep {
    /// No read was made: the connection takes no input now (connecting, paused by
    /// backpressure, at end of file, or waiting for the budget).
    Idle,
    /// No read was made: the turn's read quota for this connection is spent, and it would
    /// read on. Read it again next turn, after the others.
    Yield,
    /// No read was made: the input budget cannot admit the memory the next read needs.
    /// Put the connection on the budget's waiting line; reading waits for
    /// [`admit`](super::Conn::admit).
    WaitForBudget,
    /// New input (or an empty record): offer the unconsumed input to the handler.
    Deliver,
    /// The bytes were dropped (the connection is closing): read on.
    Discarded,
    /// Nothing more to read until the next readiness event.
    Drained,
    /// The peer finished sending: call the handler's `on_read_closed`.
    ReadClosed,
    /// The peer finished sending while our close still flushes output: stop reading; the
    /// close completes when the output is out.
    Wait,
    /// Close the connection now.
    Close(CloseReason),
}

/// Why a read has no room (see `Conn::input_room`).
#[derive(Debug)]
#[non_exhaustive]
pub enum NoRoom {
    /// The message would pass the read buffer's limit: close the connection.
    Close(CloseReason),
    /// The input budget cannot admit more memory now: stop reading until it can.
    Wait,
}

/// What [`Conn::queue`](super::Conn::queue) did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Queued {
    /// Nothing (an empty write).
    Nothing,
    /// Bytes were added behind others: schedule a flush.
    Added,
    /// Bytes were added to an empty queue: the write clock started, so re-arm the timer
    /// too, then schedule a flush.
    Started,
}

/// What a [`flush`](super::Conn::flush) did, and what to do next.
#[derive(Debug)]
pub struct Flushed {
    /// Bytes written (for the counters).
    pub written: usize,
    /// Reading must start again without waiting for an event (backpressure lifted, or a
    /// lingering close started): input that arrived meanwhile raised no event. Re-arm too.
    pub read_again: bool,
    /// The next step.
    pub step: FlushStep,
}

/// The step after a flush.
#[derive(Debug)]
#[non_exhaustive]
pub enum FlushStep {
    /// Output is left, or there is nothing to say: wait for the next writable event.
    Wait,
    /// Everything queued was written (and a half-close asked for, sent): call the handler's
    /// `on_drained`.
    Drained,
    /// Close the socket now: the close is complete, or the write (or FIN) failed.
    Close(CloseReason),
}

/// What the connection decided after a flush, before the FIN it may need (internal to
/// `Conn::flush`).
#[derive(Debug)]
pub(super) enum AfterFlush {
    /// Wait for the next writable event.
    Wait,
    /// Everything queued was written: tell the handler.
    Drained,
    /// A half-close is due: send FIN, then tell the handler if `drained`.
    ShutdownWrite { drained: bool },
    /// The close is complete.
    Close(CloseReason),
    /// Linger: send FIN if `shutdown` (it may be out already), then read and drop input
    /// until the peer's end of file or the linger deadline.
    Linger { shutdown: bool },
}

/// What to do when the connection's timer-wheel entry fires.
#[derive(Debug)]
#[non_exhaustive]
pub enum TimerStep {
    /// Not the entry currently armed (it was replaced): ignore it.
    Stale,
    /// Nothing has expired yet (bytes moved since it was armed): re-arm.
    Rearm,
    /// A timeout expired: ask the handler (`on_timeout`), then [`ConnTimers::keep_open`](super::timers::ConnTimers::keep_open) or close.
    TimedOut(TimeoutKind),
    /// The linger time is over: close now.
    Close(CloseReason),
}
