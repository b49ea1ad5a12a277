//! One stream connection's life, as a state machine that makes no syscalls and reads no clock.
//!
//! A [`Conn`] is everything the reactor knows about one stream connection except the socket
//! itself: its input buffer, its output queue, its state and its clocks. Every decision about
//! the connection is made here. The reactor (the I/O shell) tells it what happened, with
//! `now`, and gets back what to do; it then performs that (a syscall, a handler call) and
//! nothing else. That is the shape of quinn-proto's `Connection` and smoltcp's `tcp::Socket`,
//! and it is what lets the deterministic simulation (`crate::sim`) and plain unit tests drive a
//! connection with made-up instants.
//!
//! # States
//!
//! ```text
//!   accept ──────────────┐         connect
//!                        ▼            │
//!                ┌──►  Open  ◄── connected ── Connecting
//!                │   (read side: reading / paused by backpressure / at end of file;
//!                │    write side: open / shut pending / shut: a half-close)
//!                │       │ close()
//!                │       ▼
//!                │   Flushing(reason) ── input is read and dropped; queued output goes out
//!                │       │ output empty
//!                │       ├── peer at end of file, or no linger ────────────► Closed(reason)
//!                │       ▼
//!                │   Lingering{reason, until} ── FIN sent; input read and dropped
//!                │       │ peer's end of file, an error, or `until` passed
//!                │       ▼
//!                │   Closed(reason)
//!                │
//!   from any state: an I/O error, a reset, a timeout, a protocol error, a panic or
//!   `abort` ──────────────────────────────────────────────────────────────► Closed(reason)
//! ```
//!
//! `Closed` is not a state a `Conn` is ever in: a method that decides a connection must close
//! returns the [`CloseReason`], and the reactor frees the socket and the `Conn` at once.
//!
//! The phase is one enum (`Phase`, in `phase.rs`: `Connecting`, `ConnectingToClose`, `Open`,
//! `Flushing`, `Lingering`), whose variants carry the write side (open, shut pending, shut);
//! the read side (reading, paused, finished) is the input side's (`input.rs`). A close asked
//! for while connecting waits in `ConnectingToClose` for the connect to complete, then
//! flushes.
//!
//! # Events in, steps out
//!
//! | event (method) | what the reactor does with the answer |
//! |---|---|
//! | socket readable: [`read_mode`](Conn::read_mode), [`input_room`](Conn::input_room), then [`on_input`](Conn::on_input) | [`InputStep`]: hand the bytes to the handler, read on, stop, report end of file, or close |
//! | handler queues output: [`queue`](Conn::queue) | [`Queued`]: schedule a flush (and re-arm the timer if the write clock started) |
//! | socket written: [`on_written`](Conn::on_written), then [`after_flush`](Conn::after_flush) | [`Flushed`](steps::Flushed): wait, tell the handler it drained, send FIN, linger, or close |
//! | connect finished: [`on_connected`](Conn::on_connected) | call `on_connect`, then read |
//! | timer fired: [`on_timer`](Conn::on_timer) | [`TimerStep`]: ask the handler, close, or re-arm |
//! | handler asks: [`close`](Conn::close), [`shutdown_write`](Conn::shutdown_write), [`set_timeout`](Conn::set_timeout) | schedule a flush or re-arm |
//!
//! After any event the reactor asks [`arm_at`](Conn::arm_at) whether the connection's one
//! timer-wheel entry must move earlier (deadlines are checked lazily: see `clocks.rs`).
//!
//! So, to answer "what happens to a connection that is closing while the peer keeps
//! sending?": [`read_mode`](Conn::read_mode) says [`ReadMode::Discard`], so its input is read
//! and dropped (a peer that writes everything before it reads cannot stall our flush by
//! filling our receive buffer); its output is flushed; then it sends FIN and lingers until
//! the peer's end of file or the linger time, because closing a socket with unread input makes
//! Linux send a reset that can destroy the replies still in flight.

mod budget;
mod clocks;
mod input;
mod machine;
#[cfg(test)]
mod model_tests;
mod phase;
mod steps;
#[cfg(test)]
mod tests;

pub use budget::Budget;
pub use clocks::Timeouts;
pub use machine::Conn;
pub use steps::{
    FlushStep, Flushed, Input, InputStep, NoRoom, Opened, Queued, ReadMode, TimerStep,
};
