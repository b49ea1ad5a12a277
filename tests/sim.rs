//! The deterministic simulation: the reactor's own logic on a virtual clock and in-memory
//! sockets. No real socket, no sleep: `cargo test sim` runs these.

use std::time::Duration;

use netloop::internals::sim::Faults;
use netloop::internals::sim::{random_run, Sim, SimEvent};
use netloop::reactor::Config;
use netloop::reactor::Timeouts;
use netloop::TimeoutKind;

const MS: Duration = Duration::from_millis(1);

fn sim_with(config: Config) -> Sim {
    Sim::new(7, Faults::NONE, config).expect("sim")
}

fn timeouts(t: Timeouts) -> Config {
    Config::default().timeouts(t)
}

fn timed_out(sim: &Sim) -> Vec<(TimeoutKind, Duration)> {
    sim.events()
        .iter()
        .filter_map(|e| match e {
            SimEvent::TimedOut { kind, at, .. } => Some((*kind, *at)),
            _ => None,
        })
        .collect()
}

#[test]
fn sim_echo_round_trip_under_every_fault() {
    let faults = Faults {
        short_read: 50,
        short_write: 50,
        would_block: 30,
        split_events: 50,
        interrupted: 20,
        spurious: 30,
        stale_events: 50,
        late_timers: 30,
        ..Faults::NONE
    };
    let mut sim = Sim::new(42, faults, Config::default()).unwrap();
    let c = sim.connect().unwrap();
    let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    let mut off = 0;
    for _ in 0..1000 {
        if off < data.len() {
            off += sim.send(c, &data[off..]).unwrap();
        }
        sim.turn(MS).unwrap();
        sim.recv(c);
        if sim.received(c).len() == data.len() {
            break;
        }
    }
    assert_eq!(sim.received(c), &data[..]);
}

#[test]
fn sim_same_seed_same_trace() {
    let run = |seed| {
        let faults = Faults {
            short_read: 30,
            short_write: 30,
            would_block: 20,
            accept_emfile: 20,
            accept_aborted: 10,
            split_events: 30,
            ..Faults::NONE
        };
        let mut sim = Sim::new(seed, faults, timeouts(Timeouts::idle(20 * MS))).unwrap();
        for i in 0..3u8 {
            let c = sim.connect().unwrap();
            sim.send(c, &[i; 100]).unwrap();
        }
        sim.run_for(100 * MS).unwrap();
        sim.take_trace()
    };
    let a = run(5);
    assert!(a.len() > 10, "a trace of some length: {a:?}");
    assert_eq!(a, run(5));
    assert_ne!(a, run(6), "another seed, other faults");
}

#[test]
fn sim_idle_timeout_never_early_at_most_one_tick_late() {
    let mut sim = sim_with(timeouts(Timeouts::idle(100 * MS)));
    let c = sim.connect().unwrap();
    sim.turn(Duration::ZERO).unwrap();
    let accepted = sim.elapsed();
    sim.run_for(300 * MS).unwrap();
    let fired = timed_out(&sim);
    assert_eq!(fired.len(), 1, "{fired:?}");
    let (kind, at) = fired[0];
    assert_eq!(kind, TimeoutKind::Idle);
    assert!(at >= accepted + 100 * MS, "early: {at:?}");
    assert!(at <= accepted + 101 * MS, "late: {at:?}");
    assert_eq!(
        sim.closed(c).map(|(r, _)| r),
        Some("timed out (idle timeout)")
    );
    sim.recv(c);
    assert!(sim.finished(c));
}

#[test]
fn sim_traffic_moves_the_read_deadline_without_rearming_per_message() {
    let read = Timeouts::NONE.with_read(50 * MS);
    let mut sim = sim_with(timeouts(read));
    let c = sim.connect().unwrap();
    sim.turn(Duration::ZERO).unwrap();
    // A byte every 5 ms for 600 ms: the 50 ms read timeout never fires.
    for _ in 0..120 {
        sim.send(c, b"x").unwrap();
        sim.run_for(5 * MS).unwrap();
        sim.recv(c);
    }
    assert!(timed_out(&sim).is_empty());
    let arms = sim.stats().timeout_arms;
    assert!(
        arms <= 14,
        "the entry is re-armed once per period, not per message: {arms}"
    );
    // Then silence: it fires 50 ms after the last byte.
    let last = sim.elapsed() - 5 * MS;
    sim.run_for(100 * MS).unwrap();
    let fired = timed_out(&sim);
    assert_eq!(fired.len(), 1);
    assert!(
        fired[0].1 >= last + 50 * MS && fired[0].1 <= last + 51 * MS,
        "{fired:?}"
    );
}

#[test]
fn sim_frame_timeout_closes_a_trickled_message_while_others_are_served() {
    let t = Timeouts::NONE
        .with_frame(Duration::from_secs(2))
        .with_idle(Duration::from_secs(3));
    let mut sim = sim_with(timeouts(t));
    sim.echo_lines(true);
    let slow = sim.connect().unwrap();
    let busy = sim.connect().unwrap();
    sim.run_for(MS).unwrap();
    let first_byte = sim.elapsed();
    // One byte of a line every 500 ms: each resets the idle clock, none ends the line.
    for i in 0..8 {
        if sim.send(slow, b"x").is_err() {
            break;
        }
        sim.send(busy, format!("line {i}\n").as_bytes()).unwrap();
        sim.run_for(500 * MS).unwrap();
        sim.recv(busy);
    }
    let (reason, at) = sim.closed(slow).expect("the trickler was closed");
    assert_eq!(reason, "timed out (frame timeout)");
    // The clock ran from the read of the first byte (at most a tick after it was sent).
    assert!(at >= first_byte + Duration::from_secs(2), "{at:?}");
    assert!(at <= first_byte + Duration::from_millis(2002), "{at:?}");
    assert!(
        sim.closed(busy).is_none(),
        "the other connection carries on"
    );
    assert_eq!(sim.received(busy).len(), sim.sent(busy).len());
}

#[test]
fn sim_a_message_larger_than_the_read_buffer_limit_closes_with_a_reason() {
    let mut sim = sim_with(
        Config::default()
            .read_buffer_size(512)
            .max_read_buffer(1024),
    );
    sim.echo_lines(true);
    let c = sim.connect().unwrap();
    let other = sim.connect().unwrap();
    sim.send(c, &[b'x'; 2000]).unwrap();
    sim.send(other, b"short line\n").unwrap();
    sim.run_for(MS).unwrap();
    assert_eq!(
        sim.closed(c).map(|(r, _)| r),
        Some("protocol error: unconsumed input reached the read buffer limit of 1024 bytes")
    );
    sim.recv(other);
    assert_eq!(
        sim.received(other),
        b"short line\n",
        "the other connection carries on"
    );
}

#[test]
fn sim_keep_open_restarts_the_clock() {
    let mut sim = sim_with(timeouts(Timeouts::idle(30 * MS)));
    sim.keep_open_on_timeout(true);
    let c = sim.connect().unwrap();
    sim.turn(Duration::ZERO).unwrap();
    sim.run_for(100 * MS).unwrap();
    let fired = timed_out(&sim);
    assert_eq!(fired.len(), 3, "every 30 ms: {fired:?}");
    for pair in fired.windows(2) {
        let gap = pair[1].1 - pair[0].1;
        assert!(gap >= 30 * MS && gap <= 31 * MS, "{fired:?}");
    }
    assert!(sim.closed(c).is_none());
}

#[test]
fn sim_lingering_close_sends_replies_then_waits_for_the_peer() {
    let mut sim = sim_with(Config::default().linger(50 * MS));
    let c = sim.connect().unwrap();
    sim.send(c, b"last request").unwrap();
    sim.run_for(MS).unwrap();
    // Shut down while the client has not finished: the connection is at a message boundary
    // (its request answered), so FIN goes out at the end of the next turn, then it lingers.
    sim.shutdown_reactor(Duration::from_secs(10));
    sim.turn(Duration::ZERO).unwrap();
    // Sent before the client saw the FIN: read and dropped while lingering.
    sim.send(c, b"more, dropped").unwrap();
    sim.turn(MS).unwrap();
    sim.recv(c);
    assert_eq!(sim.received(c), b"last request");
    assert!(sim.finished(c), "the reply is followed by FIN");
    let started = sim.elapsed();
    sim.run_for(100 * MS).unwrap();
    let (reason, at) = sim.closed(c).expect("closed after the linger");
    assert_eq!(reason, "closed locally");
    assert!(at >= started + 49 * MS && at <= started + 51 * MS, "{at:?}");
    assert!(sim.reactor_stopped());
}

#[test]
fn sim_linger_ends_early_at_the_peers_end_of_file() {
    let mut sim = sim_with(Config::default().linger(Duration::from_secs(5)));
    let c = sim.connect().unwrap();
    sim.turn(Duration::ZERO).unwrap();
    sim.shutdown_reactor(Duration::from_secs(10));
    sim.run_for(10 * MS).unwrap();
    sim.shutdown(c);
    sim.run_for(MS).unwrap();
    let (_, at) = sim.closed(c).expect("closed");
    assert!(at < Duration::from_millis(20), "{at:?}");
}

#[test]
fn sim_shutdown_grace_closes_what_is_left() {
    let mut sim = sim_with(Config::default());
    let c = sim.connect().unwrap();
    // Echo more than the client's queue holds; it never reads, so output stays queued.
    for _ in 0..20 {
        let _ = sim.send(c, &[2; 4096]);
        sim.turn(MS).unwrap();
    }
    let start = sim.elapsed();
    sim.shutdown_reactor(200 * MS);
    sim.run_for(300 * MS).unwrap();
    let (reason, at) = sim.closed(c).expect("closed at the end of the grace");
    assert_eq!(reason, "closed locally");
    assert!(at >= start + 200 * MS && at <= start + 201 * MS, "{at:?}");
    assert!(sim.reactor_stopped());
}

#[test]
fn sim_emfile_pauses_the_listener_for_the_backoff() {
    let mut sim = sim_with(Config::default().accept_backoff(100 * MS));
    sim.net().set_faults(Faults {
        accept_emfile: 100,
        ..Faults::NONE
    });
    let c = sim.connect().unwrap();
    sim.turn(Duration::ZERO).unwrap();
    assert_eq!(sim.stats().accept_errors, 1);
    let failed = sim.elapsed();
    sim.net().set_faults(Faults::NONE);
    sim.run_for(99 * MS).unwrap();
    assert_eq!(
        sim.stats().accepted,
        0,
        "paused: no retry before the back-off"
    );
    assert_eq!(sim.stats().accept_errors, 1, "and no spinning");
    sim.run_for(3 * MS).unwrap();
    assert_eq!(sim.stats().accepted, 1);
    let accepted = sim.events().iter().find_map(|e| match e {
        SimEvent::Accepted { at, .. } => Some(*at),
        _ => None,
    });
    let at = accepted.unwrap();
    assert!(at >= failed + 100 * MS && at <= failed + 101 * MS, "{at:?}");
    sim.send(c, b"hi").unwrap();
    sim.run_for(MS).unwrap();
    sim.recv(c);
    assert_eq!(sim.received(c), b"hi");
}

/// Found by the randomized run (seed 656): a listener closed by a shutdown during its accept
/// back-off left its resume entry in the timer wheel.
#[test]
fn sim_shutdown_during_the_accept_backoff_leaves_no_timer() {
    let mut sim = sim_with(Config::default().accept_backoff(100 * MS));
    sim.net().set_faults(Faults {
        accept_emfile: 100,
        ..Faults::NONE
    });
    let c = sim.connect().unwrap();
    sim.turn(Duration::ZERO).unwrap();
    assert_eq!(sim.stats().accept_errors, 1, "paused");
    sim.shutdown_reactor(Duration::from_secs(1));
    // `turn` checks the invariants, the wheel's entries among them.
    sim.turn(Duration::ZERO).unwrap();
    assert!(sim.reactor_stopped());
    sim.recv(c);
    assert!(
        sim.finished(c),
        "the waiting client is reset with the listener"
    );
}

#[test]
fn sim_aborted_connections_are_skipped() {
    let mut sim = sim_with(Config::default());
    sim.net().set_faults(Faults {
        accept_aborted: 100,
        ..Faults::NONE
    });
    let lost = sim.connect().unwrap();
    sim.turn(Duration::ZERO).unwrap();
    sim.net().set_faults(Faults::NONE);
    let c = sim.connect().unwrap();
    sim.send(c, b"ok").unwrap();
    sim.run_for(MS).unwrap();
    sim.recv(c);
    sim.recv(lost);
    assert_eq!(sim.received(c), b"ok");
    assert!(sim.finished(lost), "the aborted client saw the reset");
    assert_eq!(sim.stats().accepted, 1);
    assert_eq!(sim.stats().accept_errors, 0, "not a reason to pause");
}

#[test]
fn sim_reset_mid_stream_closes_with_a_reset() {
    let mut sim = sim_with(Config::default());
    let c = sim.connect().unwrap();
    sim.send(c, b"half a request").unwrap();
    sim.reset(c);
    sim.run_for(MS).unwrap();
    assert_eq!(
        sim.closed(c).map(|(r, _)| r),
        Some("connection reset by peer")
    );
    assert_eq!(sim.stats().active, 0);
}

/// A failing seed, shrunk (fewer steps, fewer kinds of fault), with the one command that
/// replays it.
fn shrunk_failure(seed: u64, steps: usize, e: &str) -> String {
    match netloop::internals::sim::shrink(seed, steps) {
        Some(s) => format!(
            "{e}\n\nshrunk: seed {}, {} steps, faults {:?}\n{}\nreplay: {}",
            s.seed,
            s.steps,
            s.faults(),
            s.failure,
            s.command()
        ),
        None => format!("{e}\n(it passed when run again: not shrunk)"),
    }
}

#[test]
fn sim_randomized_1000_seeds() {
    use netloop::internals::sim::{Fault, Seen};
    let mut total = netloop::internals::sim::RunSummary::default();
    let mut seen = Seen::default();
    let (mut pool_dry, mut wheel_timers, mut precise_timers, mut jobs) = (0, 0, 0, 0);
    let (mut dials, mut second, mut dgrams) = ((0, 0, 0), 0, (0, 0));
    let (mut fds, mut batched) = ((0, 0), 0);
    for seed in 0..1000 {
        match random_run(seed, 200) {
            Ok(s) => {
                total.clients += s.clients;
                total.bytes_sent += s.bytes_sent;
                total.timeouts += s.timeouts;
                total.unclean_closes += s.unclean_closes;
                total.stats = total.stats.add(&s.stats);
                seen.merge(&s.seen);
                pool_dry += s.pool_dry;
                wheel_timers += s.timers_fired.0;
                precise_timers += s.timers_fired.1;
                jobs += s.jobs_done;
                dials.0 += s.dials.0;
                dials.1 += s.dials.1;
                dials.2 += s.dials.2;
                second += s.second_reactor;
                if s.udp_batched {
                    batched += s.datagrams.0;
                } else {
                    dgrams.0 += s.datagrams.0;
                }
                dgrams.1 += s.datagrams.1;
                fds.0 += s.fds_taken.0;
                fds.1 += s.fds_taken.1;
            }
            Err(e) => panic!("{}", shrunk_failure(seed, 200, &e)),
        }
    }
    let st = total.stats;
    // What the reactor met, counted where it met it.
    let kinds = [
        ("accepted TCP stream", st.accepted),
        ("outgoing TCP, connected", dials.0),
        ("outgoing TCP, refused", dials.1),
        ("outgoing TCP, timed out", dials.2),
        ("UDP datagram (one per call)", dgrams.0),
        ("UDP datagram (recvmmsg)", batched),
        ("Unix datagram", dgrams.1),
        ("Unix stream, descriptors", fds.0),
        ("seqpacket, descriptors", fds.1),
        ("server of 2: on the second", second),
        ("handler panic", st.handler_panics),
        ("user timer (wheel)", wheel_timers),
        ("user timer (precise)", precise_timers),
        ("job on the pool (inline)", jobs),
    ];
    println!("1000 seeds: {total:?}");
    println!("socket kinds and sources, as observed:");
    for (name, n) in kinds {
        println!("  {name:<28} {n}");
    }
    println!("faults, as observed:");
    for f in Fault::ALL {
        println!("  {:<28} {}", f.name(), seen.get(f));
    }
    println!("  {:<28} {pool_dry}", "buffer pool dry");
    // The sessions did something: connections, bytes, timeouts and error closes.
    assert!(total.clients > 1000, "{total:?}");
    assert!(total.bytes_sent > 1_000_000, "{total:?}");
    assert!(total.timeouts > 0 && total.unclean_closes > 0, "{total:?}");
    // Every way a connection ends, and the accept back-off, came up.
    assert!(
        st.closed_peer > 0 && st.closed_reset > 0 && st.closed_timeout > 0,
        "{st:?}"
    );
    assert!(st.accept_errors > 0, "{st:?}");
    // Every fault kind reached the reactor, and so did every kind of source the simulation
    // drives.
    for f in Fault::ALL {
        assert!(seen.get(f) > 0, "no {} reached the reactor", f.name());
    }
    assert!(pool_dry > 0, "the pool never ran dry");
    for (name, n) in &kinds {
        assert!(*n > 0, "no {name} in 1000 seeds");
    }
    assert!(st.closed_panic > 0, "{st:?}");
}

/// A longer exploration, run by hand: `SIM_SEEDS=100000 cargo test --release sim_explore --
/// --ignored` (seeds from `SIM_FIRST`, default 1000, so that they differ from the 1,000 above).
#[test]
#[ignore]
fn sim_explore_many_seeds() {
    let var = |name, default| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let first: u64 = var("SIM_FIRST", 1000);
    let seeds: u64 = var("SIM_SEEDS", 20_000);
    let started = std::time::Instant::now();
    let mut simulated = Duration::ZERO;
    for seed in first..first + seeds {
        match random_run(seed, 400) {
            Ok(s) => simulated += s.elapsed,
            Err(e) => panic!("{}", shrunk_failure(seed, 400, &e)),
        }
    }
    // The simulation's throughput, for RELIABILITY.md (one thread: wall time is CPU time).
    let wall = started.elapsed().as_secs_f64();
    println!(
        "{seeds} seeds in {wall:.1} s: {:.0} seeds/s, {:.1} simulated hours per CPU minute",
        seeds as f64 / wall,
        simulated.as_secs_f64() / 3600.0 / (wall / 60.0)
    );
}

#[test]
fn sim_jobs_on_the_pool_run_inline_and_in_order() {
    let run = |seed| {
        let faults = Faults {
            short_read: 30,
            short_write: 30,
            would_block: 20,
            ..Faults::NONE
        };
        let mut sim = Sim::new(seed, faults, Config::default()).unwrap();
        sim.echo_via_workers(true);
        let clients: Vec<_> = (0..3).map(|_| sim.connect().unwrap()).collect();
        let mut sent = 0;
        for round in 0..50u32 {
            for &c in &clients {
                let msg = format!("{round}:{c:?};");
                if sim.send(c, msg.as_bytes()).is_ok() {
                    sent += 1;
                }
            }
            sim.turn(MS).unwrap();
            for &c in &clients {
                sim.recv(c);
            }
        }
        sim.run_for(50 * MS).unwrap();
        for &c in &clients {
            sim.recv(c);
            assert_eq!(
                sim.received(c),
                sim.sent(c),
                "every byte, in order, through the jobs"
            );
        }
        assert!(sent > 0);
        sim.check().unwrap();
        sim.take_trace()
    };
    let trace = run(3);
    assert!(
        trace.iter().any(|l| l.contains("done: echo")),
        "the jobs ran"
    );
    assert_eq!(trace, run(3), "the same seed, the same order of jobs");
}

#[test]
fn sim_100_seeds_each_run_twice_give_the_same_trace() {
    let mut hashes = std::collections::HashSet::new();
    for seed in 0..100 {
        let a = random_run(seed, 100).unwrap_or_else(|e| panic!("{e}"));
        let b = random_run(seed, 100).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            a.trace_hash, b.trace_hash,
            "seed {seed} replayed differently"
        );
        hashes.insert(a.trace_hash);
    }
    // The hash is of the trace, not a constant: different seeds, different traces.
    assert!(hashes.len() > 90, "{} distinct traces of 100", hashes.len());
}

#[test]
fn sim_every_connection_finishes_once_the_faults_stop() {
    // `random_run` stops the faults after its steps, and fails unless every connection has
    // its echo, or has ended, within LIVENESS_WITHIN of virtual time.
    for seed in 5000..5100 {
        let s = random_run(seed, 300).unwrap_or_else(|e| panic!("{e}"));
        assert!(s.clients > 0 || s.bytes_sent == 0, "seed {seed}: {s:?}");
    }
    println!(
        "liveness bound: {:?} of virtual time",
        netloop::internals::sim::LIVENESS_WITHIN
    );
}
