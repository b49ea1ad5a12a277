//! A deterministic simulation of the reactor: its own dispatch and connection logic, driven by
//! a virtual clock and in-memory sockets, with no real socket and no sleep.
//!
//! A [`Sim`] runs a real [`Reactor`](crate::reactor::Reactor) (the same `turn`, the same
//! `Conn`, the same timer wheel), or a server of several ([`Sim::server`]: one listener, the
//! accept balance, a shared connection limit), whose sockets live in a
//! [`memnet::Net`](crate::memnet::Net) and whose clock is the network's virtual time. The
//! handler (`recorder.rs`) is a TCP echo service and the course's upper-casing UDP service,
//! which also connects out, sets user timers, runs jobs on the pool and panics when told to,
//! and writes every callback to the trace. The test plays the peers: clients that connect,
//! send, read, half-close and reset; the remote ends of the service's outgoing connects; and
//! datagram peers (`peers.rs`). After every step [`Sim::check`] verifies, against a model
//! where it can:
//!
//! * every client has received a prefix of what it sent; every datagram peer its datagrams
//!   upper-cased, in order, less those dropped at its full queue;
//! * an idle or connect timeout fires at the configured timeout after the last activity the
//!   network saw (checked inside `on_timeout`); no poll sleeps past a user timer, and none
//!   is left a tick past its deadline; no close for an I/O error the network never gives;
//! * no slab or timer-wheel entry leaked, the budget's count is true, and the open sockets
//!   of each reactor's poll set equal its slab.
//!
//! The network's faults (see `memnet::Faults`) and all choices come from one seed, so a seed
//! replays exactly: the same seed gives the same trace. [`random_run`] plays a whole
//! randomized session, [`fuzzed_run`] one whose choices are a fuzzer's bytes, and [`shrink`]
//! makes a failing one smaller.
//!
//! # Examples
//!
//! ```
//! use netloop::internals::sim::Sim;
//! use netloop::internals::sim::Faults;
//! use netloop::reactor::Config;
//! use std::time::Duration;
//!
//! let mut sim = Sim::new(1, Faults::NONE, Config::default())?;
//! let c = sim.connect()?;
//! sim.send(c, b"hello")?;
//! sim.run_for(Duration::from_millis(1))?;
//! sim.recv(c);
//! assert_eq!(sim.received(c), b"hello");
//! # Ok::<(), std::io::Error>(())
//! ```

mod clients;
mod event;
mod harness;
mod peers;
mod random;
mod recorder;
mod tracks;

pub use event::SimEvent;
pub use harness::Sim;
pub use random::{
    fuzz, fuzzed_run, random_run, random_run_with, shrink, RunSummary, Shrunk, ALL_FAULTS,
    LIVENESS_WITHIN,
};
