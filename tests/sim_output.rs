//! The deterministic simulation of a connection's output: a peer that stops reading, the
//! backpressure that pauses reading while the output waits, and output waiting for room
//! that goes when room comes (alone, or in one event with input).

use std::time::Duration;

use netloop::internals::sim::Faults;
use netloop::internals::sim::Sim;
use netloop::reactor::Config;
use netloop::reactor::Timeouts;

const MS: Duration = Duration::from_millis(1);

fn sim_with(config: Config) -> Sim {
    Sim::new(7, Faults::NONE, config).expect("sim")
}

#[test]
fn sim_write_timeout_closes_a_peer_that_stops_reading() {
    let write = Timeouts::NONE.with_write(40 * MS);
    let mut sim = sim_with(Config::default().timeouts(write));
    let c = sim.connect().unwrap();
    // The client sends far more than its own receive queue holds, and never reads.
    for _ in 0..200 {
        let _ = sim.send(c, &[1; 4096]);
        sim.turn(MS).unwrap();
    }
    sim.run_for(200 * MS).unwrap();
    let (reason, _) = sim.closed(c).expect("closed");
    assert_eq!(reason, "timed out (write timeout)");
}

#[test]
fn sim_backpressure_pauses_reading_and_resumes_when_drained() {
    let mut sim = sim_with(
        Config::default()
            .high_watermark(8 * 1024)
            .low_watermark(1024),
    );
    let c = sim.connect().unwrap();
    let mut sent = 0;
    // The client sends without reading until it cannot send any more.
    for _ in 0..100 {
        sent += sim.send(c, &[3; 4096]).unwrap();
        sim.turn(MS).unwrap();
    }
    let stuck = sent;
    assert!(
        stuck < 100 * 4096,
        "reading paused, so the server's queue filled and the client was held back"
    );
    // Now it reads: the server resumes and everything comes back, and more can be sent.
    for round in 0..2 {
        for _ in 0..1000 {
            sim.recv(c);
            if sim.received(c).len() == sent {
                break;
            }
            sim.turn(MS).unwrap();
        }
        assert_eq!(sim.received(c).len(), sent, "round {round}");
        sent += sim.send(c, &[3; 1024]).unwrap();
    }
    assert_eq!(sent, stuck + 2048, "reading resumed");
}

#[test]
fn sim_output_waiting_for_room_goes_when_room_and_input_come_in_one_event() {
    // The line echo writes nothing for a read with no line end. The client sends lines
    // without reading, so the echo fills its receive side and waits in the server's queue
    // (under the high watermark: reading never pauses). Then, in one step, the client reads
    // (room: a writable edge) and sends a byte with no line end (a readable edge): one
    // event says both. Its read half delivers that byte and writes nothing, so it alone
    // must see that the queue can now go; no later edge would come.
    let mut sim = sim_with(Config::default());
    sim.echo_lines(true);
    let c = sim.connect().unwrap();
    let mut line = vec![b'a'; 4095];
    line.push(b'\n');
    let mut sent = 0;
    for _ in 0..64 {
        sent += sim.send(c, &line).unwrap();
        sim.turn(MS).unwrap();
    }
    assert!(
        sim.stats().bytes_out < sent as u64,
        "some of the echo waits in the server's queue"
    );
    sim.recv(c);
    sim.send(c, b"x").unwrap();
    for _ in 0..1000 {
        sim.turn(MS).unwrap();
        sim.recv(c);
        if sim.received(c).len() >= sent {
            break;
        }
    }
    assert_eq!(sim.received(c).len(), sent, "the whole echo came back");
}
