//! A graceful shutdown, rule by rule, in the deterministic simulation (`cargo test sim`): a
//! connection idle at a message boundary closes at once, one in the middle of a message
//! finishes it first, the grace cuts off what is left, a second signal cuts it off at once,
//! and a request racing the close is refused cleanly (FIN, never a reset), not lost silently.
//!
//! The echo service echoes whole lines here (`echo_lines`), so that a partial line is a
//! message under way: it stays unconsumed in the connection until its end arrives.

use std::time::Duration;

use netloop::internals::sim::{Faults, Sim};
use netloop::reactor::Config;

const MS: Duration = Duration::from_millis(1);

fn sim() -> Sim {
    let mut sim = Sim::new(11, Faults::NONE, Config::default().linger(500 * MS)).expect("sim");
    sim.echo_lines(true);
    sim
}

#[test]
fn sim_shutdown_closes_an_idle_connection_at_once() {
    let mut sim = sim();
    let c = sim.connect().unwrap();
    sim.send(c, b"one\n").unwrap();
    sim.run_for(MS).unwrap();
    sim.recv(c);
    assert_eq!(sim.received(c), b"one\n");
    sim.shutdown_reactor(Duration::from_secs(10));
    sim.turn(Duration::ZERO).unwrap();
    sim.recv(c);
    assert!(sim.finished(c), "an idle connection gets FIN at once");
    assert!(!sim.was_reset(c));
    // The lingering close ends at the client's own FIN, and with it the shutdown.
    sim.shutdown(c);
    sim.run_for(MS).unwrap();
    assert_eq!(sim.closed(c).map(|(r, _)| r), Some("closed locally"));
    assert!(sim.reactor_stopped());
    let stats = sim.stats();
    assert_eq!((stats.shutdown_finished, stats.shutdown_cut_off), (1, 0));
}

#[test]
fn sim_shutdown_lets_a_message_in_progress_finish() {
    let mut sim = sim();
    let c = sim.connect().unwrap();
    sim.send(c, b"half a ").unwrap();
    sim.run_for(MS).unwrap();
    sim.shutdown_reactor(Duration::from_secs(10));
    sim.run_for(50 * MS).unwrap();
    sim.recv(c);
    assert!(!sim.finished(c), "closed in the middle of a message");
    assert!(sim.received(c).is_empty());
    sim.send(c, b"line\n").unwrap();
    sim.run_for(MS).unwrap();
    sim.recv(c);
    assert_eq!(
        sim.received(c),
        b"half a line\n",
        "the message finished, whole"
    );
    assert!(sim.finished(c), "then FIN");
    assert!(!sim.was_reset(c));
    sim.shutdown(c);
    sim.run_for(MS).unwrap();
    assert!(sim.reactor_stopped(), "stopped with the last connection");
    let stats = sim.stats();
    assert_eq!((stats.shutdown_finished, stats.shutdown_cut_off), (1, 0));
}

#[test]
fn sim_shutdown_grace_cuts_off_a_message_that_never_ends() {
    let mut sim = sim();
    let idle = sim.connect().unwrap();
    let stuck = sim.connect().unwrap();
    sim.send(stuck, b"never ends").unwrap();
    sim.run_for(MS).unwrap();
    let start = sim.elapsed();
    sim.shutdown_reactor(200 * MS);
    sim.run_for(MS).unwrap();
    sim.shutdown(idle);
    sim.run_for(300 * MS).unwrap();
    let (reason, at) = sim.closed(stuck).expect("cut off at the end of the grace");
    assert_eq!(reason, "closed locally");
    assert!(at >= start + 200 * MS && at <= start + 201 * MS, "{at:?}");
    assert!(sim.reactor_stopped());
    let stats = sim.stats();
    assert_eq!((stats.shutdown_finished, stats.shutdown_cut_off), (1, 1));
}

#[test]
fn sim_second_signal_cuts_off_at_once() {
    let mut sim = sim();
    let c = sim.connect().unwrap();
    sim.send(c, b"unfinished").unwrap();
    sim.run_for(MS).unwrap();
    sim.shutdown_reactor(Duration::from_secs(30));
    sim.run_for(10 * MS).unwrap();
    assert!(!sim.reactor_stopped());
    let stopped_at = sim.elapsed();
    sim.stop_reactor();
    sim.turn(Duration::ZERO).unwrap();
    assert!(sim.reactor_stopped());
    let (reason, at) = sim.closed(c).expect("cut off by the second signal");
    assert_eq!(reason, "closed locally");
    assert!(at <= stopped_at + MS, "{at:?}");
    let stats = sim.stats();
    assert_eq!((stats.shutdown_finished, stats.shutdown_cut_off), (0, 1));
    assert_eq!(stats.active, 0, "no connection is left counted open");
}

#[test]
fn sim_a_request_racing_the_close_is_refused_cleanly() {
    let mut sim = sim();
    let c = sim.connect().unwrap();
    sim.send(c, b"answered\n").unwrap();
    sim.run_for(MS).unwrap();
    sim.recv(c);
    // The shutdown's FIN and the next request cross: the FIN is sent at the end of the next
    // turn, and the request leaves before the client has read it.
    sim.shutdown_reactor(Duration::from_secs(10));
    sim.turn(Duration::ZERO).unwrap();
    sim.send(c, b"racing\n").unwrap();
    sim.run_for(10 * MS).unwrap();
    sim.recv(c);
    assert_eq!(
        sim.received(c),
        b"answered\n",
        "the racing request is not answered"
    );
    assert!(sim.finished(c), "the client learns: end of file");
    assert!(
        !sim.was_reset(c),
        "and not by a reset, which could destroy replies in flight"
    );
    sim.shutdown(c);
    sim.run_for(MS).unwrap();
    assert_eq!(sim.closed(c).map(|(r, _)| r), Some("closed locally"));
    assert!(sim.reactor_stopped());
}

#[test]
fn sim_shutdown_answers_requests_still_waiting_unread() {
    // A read budget far smaller than what the client pipelines: the first turn reads part
    // of it, and the rest waits in the kernel (the connection is on the read list).
    let config = Config::default()
        .linger(500 * MS)
        .read_buffer_size(128)
        .read_budget(128);
    let mut sim = Sim::new(12, Faults::NONE, config).expect("sim");
    sim.echo_lines(true);
    let c = sim.connect().unwrap();
    sim.run_for(MS).unwrap();
    let requests: Vec<u8> = (0..40)
        .flat_map(|i| format!("request {i:07}\n").into_bytes())
        .collect();
    assert_eq!(sim.send(c, &requests).unwrap(), requests.len());
    sim.shutdown_reactor(Duration::from_secs(10));
    sim.turn(Duration::ZERO).unwrap();
    sim.recv(c);
    assert!(
        !sim.finished(c),
        "closed with requests still unread after the first turn"
    );
    sim.run_for(50 * MS).unwrap();
    sim.recv(c);
    assert_eq!(sim.received(c), &requests[..], "every request answered");
    assert!(sim.finished(c), "then FIN");
    assert!(!sim.was_reset(c));
    sim.shutdown(c);
    sim.run_for(MS).unwrap();
    assert!(sim.reactor_stopped());
    let stats = sim.stats();
    assert_eq!((stats.shutdown_finished, stats.shutdown_cut_off), (1, 0));
}
