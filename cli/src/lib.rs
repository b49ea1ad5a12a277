//! # netloop-cli
//!
//! The apps built on the [`netloop`] library, as a library of their own so that the `netloop`
//! binary, the tests and the echo bench share them:
//!
//! * [`services`]: the course's servers (UDP upper-casing, TCP echo, framed echo) as one
//!   handler, which `netloop serve` runs;
//! * [`client`]: the course's clients, which `netloop udp-client`, `tcp-client`,
//!   `framed-client` and `unix-client` run;
//! * [`load`]: `netloop load`, a load generator for echo servers, with HDR histograms;
//! * [`metrics`]: `netloop serve --metrics`, the counters for a monitoring system;
//! * [`tls`]: TLS for the stream clients (`--tls`, `--ca`);
//! * [`process`]: a process as `/proc` shows it, and pinning a thread to a CPU, for the load
//!   generator and the benches.
//!
//! Nothing here is needed to use the reactor: link `netloop` alone for that.
#![deny(missing_docs)]
// Nothing newer than the declared `rust-version` (see `.ci/msrv.py`).
#![warn(clippy::incompatible_msrv)]
#![warn(rust_2018_idioms)]

pub mod client;
pub mod load;
pub mod metrics;
pub mod process;
pub mod services;
pub mod tls;
