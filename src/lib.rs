//! # netloop
//!
//! An event-loop reactor built on raw readiness APIs (epoll through [mio]), written to be
//! linked into latency-sensitive programs, fuzzed, and read by people learning how a reactor
//! works. It grew out of the classic course "Network Programming in Python": the UDP
//! upper-casing server, the TCP echo server, `settimeout`, `socketserver`, done properly.
//!
//! **Linux only**: it relies on epoll (through mio), `signalfd`, Unix `SOCK_SEQPACKET`, and
//! Linux's behaviour of `recv(MSG_PEEK | MSG_TRUNC)` and of closing a socket with unread input.
//!
//! ## A tour of the layers
//!
//! Read top-down. The **pure core** makes no syscalls and never reads the clock; `now` is
//! passed in, so it can be tested with made-up instants and fuzzed. Three of its parts are public
//! because they stand alone:
//!
//! * [`time`]: the hierarchical timer wheel (six levels of 64 one-millisecond slots);
//! * [`framing`]: length-field, varint and line codecs: bytes in, frame ranges out;
//! * [`wire`]: checked views of IPv4 headers and ICMP echo messages, and the checksum.
//!
//! The rest of the core is private, because only the reactor drives it: `buf` (read buffers,
//! write queues and the pool they come from) and `conn` (one connection's life as a state
//! machine: events in, steps out, with its buffers and its deadlines). Their settings are public
//! where a user sets them: [`reactor::Timeouts`], [`reactor::Config`].
//!
//! The **I/O shell** drives the core:
//!
//! * [`reactor`]: one `mio::Poll`, a slab of sockets whose tokens carry a generation, the
//!   [`Handler`] trait you implement and the [`Context`] it acts through; [`reactor::framed`]
//!   puts the codecs on it. It carries out what `conn` decides, and nothing else;
//! * `sys` (private): every call through the syscall crates, and the only `unsafe` code.
//!
//! The **simulation** runs the same reactor with no kernel: an in-memory network with a virtual
//! clock and seeded faults drives the reactor's own turn, checking invariants after every step
//! (`cargo test sim`, `cargo run --example sim_trace`).
//!
//! Above them, the layers people use directly:
//!
//! * [`server`]: `socketserver`'s ideas: a handler object per connection, server builders,
//!   one reactor per core serving the same sockets (one socket per address, registered with
//!   `EPOLLEXCLUSIVE` in every reactor), serving until a signal, graceful shutdown;
//! * [`socket`]: the blocking socket facade with Python's timeout semantics;
//! * [`names`] and [`addr`]: Python's address and name helpers, and the address types;
//! * [`raw`]: `SOCK_RAW` and ICMP ping, on the reactor.
//!
//! [`error`] holds the reason every connection closes with; [`python`] maps Python's `socket`
//! and `socketserver` calls to netloop's.
//!
//! The course's own programs (the servers `netloop serve` runs, the clients, the load
//! generator) are not in this crate: they are the `netloop-cli` crate in `cli/`, built on
//! this one's public API.
//!
//! The simulation tests, the fuzz targets and the buffer benches reach the private parts through
//! one hidden door, `netloop::internals`, which is not part of the API.
//!
//! ## One event's path
//!
//! A datagram arrives → the kernel marks the socket readable → `epoll_wait` inside
//! [`Reactor::turn`] returns an event whose token is
//! `(generation << 32) | slab key` → the reactor checks the generation, reads the datagram into
//! its buffer and calls [`Handler::on_datagram`] → the handler
//! calls [`Context::send_to`](reactor::Context::send_to) → `sendto(2)`. For a TCP connection
//! the read goes into the connection's pooled read buffer, the handler's reply
//! into its write queue, and the queue is flushed with one `writev(2)` at
//! the end of the turn. `DESIGN.md` tells the whole story.
//!
//! ## Example
//!
//! ```no_run
//! use netloop::reactor::{ConnId, Context, Handler, Reactor};
//!
//! struct Echo;
//! impl Handler for Echo {
//!     fn on_data(&mut self, cx: &mut Context<'_>, conn: ConnId, data: &[u8]) -> usize {
//!         let _ = cx.write(conn, data);
//!         data.len()
//!     }
//! }
//!
//! fn main() -> std::io::Result<()> {
//!     let mut reactor = Reactor::new(Echo)?;
//!     reactor.listen("127.0.0.1:9999".parse().unwrap())?;
//!     reactor.run()
//! }
//! ```
#![deny(unsafe_code)]
#![warn(clippy::undocumented_unsafe_blocks)]
// Nothing newer than the declared `rust-version` (checked against the dependencies by
// `.ci/msrv.py`).
#![warn(clippy::incompatible_msrv)]
#![deny(missing_docs)]
#![warn(rust_2018_idioms)]

pub mod addr;
mod buf;
mod check;
mod conn;
pub mod error;
pub mod framing;
mod memnet;
pub mod names;
pub mod python;
pub mod raw;
pub mod reactor;
pub mod server;
mod sim;
pub mod socket;
#[allow(unsafe_code)]
mod sys;
pub mod time;
pub mod wire;

/// The one door to the crate's insides, for netloop's own simulation tests, fuzz targets and
/// buffer benches (which live outside `src/` and so can only reach public items). Not part of
/// the API: what is here may change in any release, and nothing else is hidden.
#[doc(hidden)]
pub mod internals {
    /// The fuzz targets' bodies, each comparing the code with a simpler model (`src/check.rs`).
    pub mod fuzz {
        pub use crate::check::{decode_chunks, round_trip, timer_wheel, wire};
        /// The deterministic simulation, every choice made by the fuzzer's bytes.
        pub use crate::sim::fuzz as sim;
    }
    /// The deterministic simulation: the reactor's own turn on an in-memory network.
    pub mod sim {
        pub use crate::memnet::{ClientId, Fault, Faults, Kind, Remote, Seen};
        pub use crate::sim::*;
    }
    /// The pooled read buffers and write queues, for the buffer benches.
    pub mod buf {
        pub use crate::buf::{BufPool, ReadBuf, WriteQueue};
    }
}

pub use error::{CloseReason, TimeoutKind};

/// The README's example, compiled and run as a doctest so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
pub use reactor::{Config, ConnId, Context, DgramId, Handler, ListenerId, Reactor};
