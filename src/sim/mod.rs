//! A deterministic simulation of the reactor: its own dispatch and connection logic, driven by
//! a virtual clock and in-memory sockets, with no real socket and no sleep.
//!
//! A [`Sim`] runs a real [`Reactor`](crate::reactor::Reactor) (the same `turn`, the same `Conn`, the same timer wheel)
//! whose sockets live in a [`memnet::Net`](crate::memnet::Net) and whose clock is the
//! network's virtual time. The handler is a TCP echo service that writes every callback to the
//! trace. The test plays the clients: it connects, sends, reads, half-closes, resets, moves
//! time, and turns the reactor. After every step [`Sim::check`] verifies:
//!
//! * every client has received a prefix of what it sent (echoed in order, nothing corrupted);
//! * no slab or timer-wheel entry leaked, and the open-connection count is true;
//! * no deadline fired early (checked inside `on_timeout`) or was left unserved a tick or
//!   more past its time (the reactor's own `audit`).
//!
//! The network's faults (short reads and writes, `WouldBlock`, `EMFILE` and `ECONNABORTED`
//! from accept, split events) and all choices come from one seed, so a seed replays exactly:
//! the same seed gives the same trace. [`random_run`] plays a whole randomized session.
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

mod harness;
mod random;
mod recorder;

pub use harness::Sim;
pub use random::{
    fuzz, fuzzed_run, random_run, random_run_with, shrink, RunSummary, Shrunk, ALL_FAULTS,
    LIVENESS_WITHIN,
};
pub use recorder::SimEvent;
