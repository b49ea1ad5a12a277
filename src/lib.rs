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
//! passed in, so it can be tested with made-up instants and fuzzed:
//!
//! * [`time`]: the hierarchical timer wheel (six levels of 64 one-millisecond slots);
//! * [`buf`]: read buffers, write queues and the pool they come from;
//! * [`framing`]: length-field, varint and line codecs: bytes in, frame ranges out;
//! * [`wire`]: checked views of IPv4 headers and ICMP echo messages, and the checksum;
//! * [`conn`]: one connection's life as a state machine: events in (bytes read, output
//!   written, a timer fired, a close asked for), steps out (deliver, flush, linger, close),
//!   with its buffers and its deadlines (read, write, idle, frame, connect);
//! * `check` (hidden): the fuzz targets' bodies, each comparing the code with a simpler model.
//!
//! The **I/O shell** drives the core:
//!
//! * [`reactor`]: one `mio::Poll`, a slab of sockets whose tokens carry a generation, the
//!   [`Handler`] trait you implement and the [`Context`] it acts through; [`reactor::framed`]
//!   puts the codecs on it. It carries out what `conn` decides, and nothing else;
//! * [`sys`]: making sockets of every family with socket2, and every call through the syscall
//!   crates: record peeks, signals through `signalfd`, descriptor limits, the services
//!   database.
//!
//! The **simulation** runs the same reactor with no kernel: [`memnet`] is an in-memory network
//! with a virtual clock and seeded faults, and [`sim`] drives the reactor's own turn over it,
//! checking invariants after every step (`cargo test sim`, `cargo run --example sim_trace`).
//!
//! Above them, the layers people use directly:
//!
//! * [`server`]: `socketserver`'s ideas: a handler object per connection, server builders,
//!   one reactor per core sharing addresses with `SO_REUSEPORT`, serving until a signal,
//!   graceful shutdown;
//! * [`services`]: the course's servers (UDP upper-casing, TCP echo, framed echo), which
//!   `netloop serve` runs;
//! * [`client`]: the course's clients, which `netloop udp-client`, `tcp-client`,
//!   `framed-client` and `unix-client` run.
//!
//! [`error`] holds the reason every connection closes with.
//!
//! ## One event's path
//!
//! A datagram arrives → the kernel marks the socket readable → `epoll_wait` inside
//! [`Reactor::turn`] returns an event whose token is
//! `(generation << 32) | slab key` → the reactor checks the generation, reads the datagram into
//! its buffer and calls [`Handler::on_datagram`] → the handler
//! calls [`Context::send_to`](reactor::Context::send_to) → `sendto(2)`. For a TCP connection
//! the read goes into the connection's pooled [`ReadBuf`](buf::ReadBuf), the handler's reply
//! into its [`WriteQueue`](buf::WriteQueue), and the queue is flushed with one `writev(2)` at
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
#![deny(missing_docs)]
#![warn(rust_2018_idioms)]

pub mod addr;
pub mod buf;
#[doc(hidden)]
pub mod check;
pub mod client;
pub mod conn;
pub mod error;
pub mod framing;
#[cfg(feature = "load")]
pub mod load;
pub mod memnet;
pub mod names;
pub mod python;
pub mod raw;
pub mod reactor;
pub mod server;
pub mod services;
pub mod sim;
pub mod socket;
#[allow(unsafe_code)]
pub mod sys;
pub mod time;
pub mod wire;

pub use error::{CloseReason, TimeoutKind};

/// The README's example, compiled and run as a doctest so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
pub use reactor::{Config, ConnId, Context, DgramId, Handler, ListenerId, Reactor};
