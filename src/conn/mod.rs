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
//! returns the [`CloseReason`](crate::error::CloseReason), and the reactor frees the socket and the `Conn` at once.
//!
//! The phase is one enum (`Phase`, in `phase.rs`: `Connecting`, `ConnectingToClose`, `Open`,
//! `Flushing`, `Lingering`), whose variants carry the write side (open, shut pending, shut);
//! the read side (reading, paused, finished) is the input side's (`input.rs`). A close asked
//! for while connecting waits in `ConnectingToClose` for the connect to complete, then
//! flushes.
//!
//! # Reading
//!
//! [`Conn::read`] holds a read's rules. It reads only when the phase wants input (`Open`,
//! not paused by backpressure, not at end of file, not waiting for the budget; while closing
//! it reads and drops). The room is one pooled block for a connection holding no input, the
//! whole next record on a record connection (its size learnt with a peek), or room to grow
//! toward an announced message, within `Config::max_read_buffer` and the shared budget. A
//! read costs the turn's quota its bytes (at least 256 for a record, so that a flood of
//! tiny records cannot hold the loop). Edge-triggered epoll reports readiness once per
//! arrival, so a reader must drain the socket; on TCP a read that returns fewer bytes than
//! asked for has drained it, and any later byte raises a new event, so the extra `read`
//! that would only say `WouldBlock` is skipped. Not when the event also reported the peer's
//! end of file, an error or urgent data: the end of file raises no event of its own, and a
//! read stops short at the urgent mark. Unix streams always read to `WouldBlock`.
//!
//! # Events in, steps out
//!
//! One call per event, each returning the whole step. Where an event needs a syscall, the
//! call makes it through the reactor's [`Transport`] (the socket; a fake in tests), so the
//! reactor never has to call two methods in an order of its own: it calls, then does what
//! the step says.
//!
//! | event (method) | what the reactor does with the answer |
//! |---|---|
//! | socket readable: [`read`](Conn::read) | [`InputStep`] (in a [`Read`](steps::Read)): hand the bytes to the handler, read on, stop, yield to others, wait for the budget, report end of file, or close |
//! | the handler is shown the input: [`take_input`](Conn::take_input), and after it returns [`restore_input`](Conn::restore_input) | a loan, not an order of steps: the bytes leave the connection so that the handler can borrow them while it borrows the reactor; re-arm if told |
//! | handler queues output: [`queue`](Conn::queue) | [`Queued`]: schedule a flush (and re-arm if the write clock started) |
//! | handler writes at once: [`write_direct`](Conn::write_direct) | queue what the kernel did not take |
//! | socket writable: [`on_writable`](Conn::on_writable) | [`Writable`]: nothing, flush, the connect completed (re-arm, `on_connect`, read, flush), or close |
//! | flush: [`flush`](Conn::flush) | [`Flushed`](steps::Flushed): wait, tell the handler it drained, or close; read again if told (FIN and lingering are the connection's own) |
//! | timer fired: [`timers`](Conn::timers)`.on_timer` | [`TimerStep`]: ask the handler (then `keep_open` or close), close, or re-arm |
//! | handler asks: [`close`](Conn::close), [`shutdown_write`](Conn::shutdown_write), `timers().set_timeout`, [`expect_input`](Conn::expect_input) | schedule a flush, re-arm, or wait for the budget |
//! | budget frees up: [`admit`](Conn::admit) | read again and re-arm if admitted |
//! | a read through TLS: [`after_secure_read`](Conn::after_secure_read) | schedule a flush if told (the handshake's clock stops when it is over) |
//! | connection gone: [`release`](Conn::release) | cancel the wheel entry it hands back |
//!
//! After a step that can move a deadline earlier the reactor calls
//! [`timers`](Conn::timers)`.arm`, which moves the connection's one timer-wheel entry if the
//! earliest deadline says so (deadlines are checked lazily: see `clocks.rs`). The rest is
//! looking: [`status`](Conn::status) and [`deadline`](Conn::deadline).
//!
//! So, to answer "what happens to a connection that is closing while the peer keeps
//! sending?": [`read`](Conn::read) reads and drops its input (a peer that writes everything
//! before it reads cannot stall our flush by filling our receive buffer), and says
//! `Discarded`; its output is flushed; then [`flush`](Conn::flush) sends FIN and it lingers
//! until the peer's end of file or the linger time, because closing a socket with unread
//! input makes Linux send a reset that can destroy the replies still in flight.
//!
//! # Before a connection: connecting by name
//!
//! [`race::Race`] decides how a connection by name is made, in the same shape: Happy Eyeballs
//! (RFC 8305), which address to try next and when, and when to give up, `now` in and one
//! [`race::Step`] out. The reactor's dials (`Context::connect_host`) carry its steps out on
//! the slab and the wheel, the blocking facade's `create_connection` with `poll(2)`; its
//! timing is tested on made-up instants (`race_tests.rs`).

mod budget;
mod clocks;
#[cfg(test)]
mod handshake_tests;
mod input;
mod machine;
#[cfg(test)]
mod model_tests;
mod phase;
pub mod race;
#[cfg(test)]
mod race_tests;
mod steps;
#[cfg(test)]
mod tests;
mod timers;

pub use budget::Budget;
pub use clocks::Timeouts;
pub use machine::Conn;
pub use steps::{
    FlushStep, InputStep, Opened, Queued, Read, ReadCx, TimerStep, Transport, Writable,
};
