//! One scenario in the deterministic simulation, printed as a trace: a client connects, sends
//! a line, gets its echo, then goes quiet until the 100 ms read timeout fires and the server
//! closes the connection. Every line is a syscall of the reactor (in memory), a callback of
//! its handler, or a step of the client, stamped with virtual time.
//!
//! Run: `cargo run --example sim_trace`. The same run prints the same trace, every time.

#[path = "common/report.rs"]
mod report;

use std::time::Duration;

use netloop::internals::sim::Faults;
use netloop::internals::sim::Sim;
use netloop::reactor::Config;
use netloop::reactor::Timeouts;

fn main() -> std::process::ExitCode {
    report::exit(run())
}

fn run() -> std::io::Result<()> {
    let config = Config::default().timeouts(Timeouts::NONE.with_read(Duration::from_millis(100)));
    let mut sim = Sim::new(1, Faults::NONE, config)?;
    let client = sim.connect()?;
    sim.run_for(Duration::from_millis(1))?;
    sim.send(client, b"Hello, world\n")?;
    sim.run_for(Duration::from_millis(9))?;
    sim.recv(client);
    sim.run_for(Duration::from_millis(200))?;
    sim.recv(client);
    for line in sim.take_trace() {
        println!("{line}");
    }
    let echoed = String::from_utf8_lossy(sim.received(client)).into_owned();
    println!("client received {echoed:?}, then the end of the stream");
    sim.check().map_err(std::io::Error::other)
}
