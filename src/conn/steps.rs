//! The connection's vocabulary with the reactor: the events it is told about, and the steps
//! it answers with. Each step names what the reactor must do next; none of them does it.
//! The enums will grow with the connection's rules (budgets, a frame deadline), so they are
//! `#[non_exhaustive]`.

use std::io;

use crate::error::{CloseReason, TimeoutKind};

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
    /// `n > 0` bytes were read into [`input_room`](super::Conn::input_room).
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

/// Why [`Conn::input_room`](super::Conn::input_room) has no room.
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

/// What to do after writing queued output.
#[derive(Debug)]
pub struct Flushed {
    /// Reading must start again without waiting for an event (backpressure lifted, or a
    /// lingering close started): input that arrived meanwhile raised no event.
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
    /// Everything queued was written: call the handler's `on_drained`.
    Drained,
    /// A half-close is due: shut the write side down (send FIN), then call `on_drained` if
    /// `drained`.
    ShutdownWrite {
        /// Bytes were written in this flush.
        drained: bool,
    },
    /// The close is complete: close the socket now.
    Close(CloseReason),
    /// Linger: shut the write side down if `shutdown` (it may be already), then keep
    /// reading and dropping input until the peer's end of file or the linger deadline.
    Linger {
        /// FIN still has to be sent.
        shutdown: bool,
    },
}

/// What to do when the connection's timer-wheel entry fires.
#[derive(Debug)]
#[non_exhaustive]
pub enum TimerStep {
    /// Not the entry currently armed (it was replaced): ignore it.
    Stale,
    /// Nothing has expired yet (bytes moved since it was armed): re-arm.
    Rearm,
    /// A timeout expired: ask the handler (`on_timeout`), then [`Conn::keep_open`](super::Conn::keep_open) or close.
    TimedOut(TimeoutKind),
    /// The linger time is over: close now.
    Close(CloseReason),
}
