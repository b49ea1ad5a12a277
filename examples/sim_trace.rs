//! One scenario in the deterministic simulation, printed as a trace: a client connects, sends
//! a line, gets its echo, then goes quiet until the 100 ms read timeout fires and the server
//! closes the connection. Every line is a syscall of the reactor (in memory), a callback of
//! its handler, or a step of the client, stamped with virtual time.
//!
//! Run: `cargo run --example sim_trace`. The same run prints the same trace, every time.
//!
//! `cargo run --example sim_trace -- replay SEED STEPS MASK` replays one randomized session
//! instead (as a failing seed's shrunk schedule prints it): `MASK` says which fault kinds are
//! injected (bit `i` for `Fault::ALL[i]`, hexadecimal with `0x`). It prints the failure with
//! the end of its trace, or the session's summary.

#[path = "common/report.rs"]
mod report;

use std::time::Duration;

use netloop::internals::sim::Faults;
use netloop::internals::sim::Sim;
use netloop::reactor::Config;
use netloop::reactor::Timeouts;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("replay") => report::exit(replay(&args[1..])),
        _ => report::exit(run()),
    }
}

fn replay(args: &[String]) -> std::io::Result<()> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, what.to_owned());
    let [seed, steps, mask] = args else {
        return Err(bad("usage: sim_trace replay SEED STEPS MASK"));
    };
    let seed: u64 = seed.parse().map_err(|_| bad("SEED: a number"))?;
    let steps: usize = steps.parse().map_err(|_| bad("STEPS: a number"))?;
    let mask = u32::from_str_radix(mask.trim_start_matches("0x"), 16)
        .map_err(|_| bad("MASK: hexadecimal"))?;
    let summary = netloop::internals::sim::random_run_with(seed, steps, mask)
        .map_err(std::io::Error::other)?;
    println!("{summary:#?}");
    Ok(())
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
