//! One targeted simulation test per fault the in-memory network injects beyond the first
//! six (see `tests/sim.rs` for short reads and writes, `WouldBlock`, `EMFILE`,
//! `ECONNABORTED` and split events), and for the handler's own hazards: panics, user
//! timers, a dry buffer pool. Each sets the fault at a high rate, checks what the reactor
//! did with it, and checks that the fault really reached the reactor (`Sim::seen`).

use std::time::Duration;

use netloop::internals::sim::{ClientId, Fault, Faults, Kind, Sim};
use netloop::reactor::{Config, Timeouts};
use netloop::TimeoutKind;

const MS: Duration = Duration::from_millis(1);

fn sim(faults: Faults, config: Config) -> Sim {
    Sim::new(3, faults, config).expect("sim")
}

/// Send `data` from `c` and turn until it has all come back (at most 2,000 turns).
fn echo(sim: &mut Sim, c: ClientId, data: &[u8]) {
    let start = sim.received(c).len();
    let mut off = 0;
    for _ in 0..2000 {
        if off < data.len() {
            off += sim.send(c, &data[off..]).unwrap_or(0);
        }
        sim.turn(MS).unwrap();
        sim.recv(c);
        if sim.received(c).len() >= start + data.len() {
            break;
        }
    }
    assert_eq!(
        &sim.received(c)[start..],
        data,
        "the echo, whole and in order"
    );
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

#[test]
fn sim_eintr_everywhere_is_tried_again_and_loses_nothing() {
    let faults = Faults {
        interrupted: 40,
        ..Faults::NONE
    };
    let mut sim = sim(faults, Config::default());
    let a = sim.connect().unwrap();
    let b = sim.connect().unwrap();
    echo(&mut sim, a, &pattern(20_000));
    echo(&mut sim, b, b"hello");
    assert!(sim.seen().get(Fault::Interrupted) > 0, "{:?}", sim.seen());
    assert_eq!(sim.stats().active, 2, "no connection closed over an EINTR");
    sim.check().unwrap();
}

#[test]
fn sim_reset_in_the_middle_of_a_write_closes_that_connection_only() {
    let mut sim = sim(Faults::NONE, Config::default());
    let a = sim.connect().unwrap();
    let b = sim.connect().unwrap();
    echo(&mut sim, b, b"before");
    sim.net().set_faults(Faults {
        reset_mid_write: 100,
        ..Faults::NONE
    });
    sim.send(a, &pattern(1000)).unwrap();
    sim.run_for(5 * MS).unwrap();
    sim.recv(a);
    let got = sim.received(a).len();
    assert!(
        got > 0 && got < 1000,
        "part of the echo, then the reset: {got}"
    );
    assert!(sim.was_reset(a));
    assert_eq!(
        sim.closed(a).map(|(r, _)| r),
        Some("connection reset by peer")
    );
    assert_eq!(sim.seen().get(Fault::ResetMidWrite), 1, "met once");
    sim.net().set_faults(Faults::NONE);
    echo(&mut sim, b, b"after");
    sim.check().unwrap();
}

#[test]
fn sim_readiness_with_nothing_behind_it_changes_nothing() {
    // Half the polls (not all: a poll that always reports something never lets virtual
    // time move).
    let faults = Faults {
        spurious: 50,
        ..Faults::NONE
    };
    let config = Config::default().timeouts(Timeouts::NONE.with_idle(500 * MS));
    let mut sim = sim(faults, config);
    let a = sim.connect().unwrap();
    let b = sim.connect().unwrap();
    for _ in 0..100 {
        sim.turn(MS).unwrap();
    }
    assert!(sim.seen().get(Fault::Spurious) > 10, "{:?}", sim.seen());
    assert_eq!(sim.stats().active, 2, "nothing closed");
    assert!(sim.received(a).is_empty() && sim.received(b).is_empty());
    echo(&mut sim, a, b"still fine");
    // Spurious wake-ups are not activity: the idle clock kept running from the last byte.
    let sent_at = sim.elapsed();
    sim.run_for(600 * MS).unwrap();
    let (reason, at) = sim.closed(b).expect("b idled out");
    assert_eq!(reason, "timed out (idle timeout)");
    assert!(at <= 501 * MS, "b's idle clock ran from its accept: {at:?}");
    let (_, at) = sim.closed(a).expect("a idled out");
    assert!(
        at >= sent_at + 500 * MS && at <= sent_at + 501 * MS,
        "{at:?}"
    );
    sim.check().unwrap();
}

#[test]
fn sim_enfile_and_enobufs_from_accept_pause_the_listener_for_the_backoff() {
    for fault in [Fault::AcceptEnfile, Fault::AcceptEnobufs] {
        let mut sim = sim(Faults::NONE, Config::default().accept_backoff(50 * MS));
        let faults = Faults {
            accept_enfile: if fault == Fault::AcceptEnfile { 100 } else { 0 },
            accept_enobufs: if fault == Fault::AcceptEnobufs {
                100
            } else {
                0
            },
            ..Faults::NONE
        };
        sim.net().set_faults(faults);
        let c = sim.connect().unwrap();
        sim.turn(Duration::ZERO).unwrap();
        assert_eq!(sim.stats().accept_errors, 1, "{}", fault.name());
        // Met by the accept, and by the shedding an ENFILE sets off.
        assert!(sim.seen().get(fault) >= 1);
        sim.net().set_faults(Faults::NONE);
        sim.run_for(49 * MS).unwrap();
        assert_eq!(sim.stats().accepted, 0, "{}: paused", fault.name());
        assert_eq!(
            sim.stats().accept_errors,
            1,
            "{}: no spinning",
            fault.name()
        );
        sim.run_for(3 * MS).unwrap();
        assert_eq!(sim.stats().accepted, 1, "{}: resumed", fault.name());
        echo(&mut sim, c, b"in the end");
        sim.check().unwrap();
    }
}

#[test]
fn sim_events_for_freed_and_reused_slots_are_dropped() {
    let faults = Faults {
        stale_events: 100,
        ..Faults::NONE
    };
    let mut sim = sim(faults, Config::default());
    // Connections come and go, so slots are freed and given to the next one; every batch
    // carries an event for a token retired since the last poll.
    for round in 0..30u8 {
        let c = sim.connect().unwrap();
        echo(&mut sim, c, &[round; 100]);
        sim.reset(c);
        sim.turn(MS).unwrap();
    }
    let keeper = sim.connect().unwrap();
    echo(&mut sim, keeper, b"the last one");
    assert!(sim.seen().get(Fault::StaleEvent) >= 10, "{:?}", sim.seen());
    assert_eq!(sim.stats().accepted, 31);
    assert_eq!(sim.stats().active, 1);
    sim.check().unwrap();
}

#[test]
fn sim_a_peer_with_a_zero_window_meets_the_write_timeout_and_the_others_go_on() {
    let config = Config::default()
        .timeouts(Timeouts::NONE.with_write(40 * MS))
        .high_watermark(4096)
        .low_watermark(1024);
    let mut sim = sim(Faults::NONE, config);
    let open = sim.connect().unwrap();
    sim.net().set_faults(Faults {
        zero_window: 100,
        ..Faults::NONE
    });
    let shut = sim.connect().unwrap();
    // 64 KiB: more than the peer's queue (16 KiB) and the watermark hold.
    let big = pattern(64 * 1024);
    let mut off = 0;
    for _ in 0..200 {
        off += sim.send(shut, &big[off..]).unwrap_or(0);
        sim.turn(MS).unwrap();
        sim.recv(shut);
        if sim.closed(shut).is_some() {
            break;
        }
    }
    assert!(sim.received(shut).is_empty(), "a zero window reads nothing");
    assert_eq!(
        sim.closed(shut).map(|(r, _)| r),
        Some("timed out (write timeout)"),
        "the queue made no progress for the write timeout"
    );
    assert!(sim.seen().get(Fault::ZeroWindow) > 0);
    echo(&mut sim, open, b"unaffected");
    sim.check().unwrap();
}

#[test]
fn sim_late_polls_make_timeouts_late_never_early() {
    let faults = Faults {
        late_timers: 100,
        ..Faults::NONE
    };
    let config = Config::default().timeouts(Timeouts::NONE.with_idle(20 * MS));
    let mut sim = sim(faults, config);
    let c = sim.connect().unwrap();
    sim.run_for(100 * MS).unwrap();
    let (reason, at) = sim.closed(c).expect("idled out");
    assert_eq!(reason, format!("timed out ({})", TimeoutKind::Idle));
    // The poll that waited for the deadline came back 1 to 5 ms late: so did the timeout.
    assert!(at > 20 * MS && at <= 26 * MS, "{at:?}");
    assert!(sim.seen().get(Fault::LateTimer) > 0);
    sim.check().unwrap();
}

#[test]
fn sim_a_dry_buffer_pool_allocates_and_loses_nothing() {
    let config = Config::default().max_pooled_buffers(0);
    let mut sim = sim(Faults::NONE, config);
    let c = sim.connect().unwrap();
    for i in 0..5u8 {
        echo(&mut sim, c, &[i; 3000]);
    }
    // Every block was allocated: none was ever kept for reuse.
    assert!(sim.pool_dry_takes() >= 10, "{}", sim.pool_dry_takes());
    sim.check().unwrap();
}

#[test]
fn sim_a_panicking_handler_closes_that_connection_only() {
    let mut sim = sim(Faults::NONE, Config::default());
    let a = sim.connect().unwrap();
    let b = sim.connect().unwrap();
    echo(&mut sim, b, b"before");
    sim.panic_in_on_data(100);
    sim.send(a, b"boom").unwrap();
    sim.run_for(2 * MS).unwrap();
    let (reason, _) = sim.closed(a).expect("a closed");
    assert!(reason.starts_with("handler panicked"), "{reason}");
    assert_eq!(sim.stats().handler_panics, 1);
    sim.panic_in_on_data(0);
    echo(&mut sim, b, b"after");
    sim.check().unwrap();
}

#[test]
fn sim_user_timers_fire_once_never_early_and_precise_ones_on_time() {
    let mut sim = sim(Faults::NONE, Config::default());
    sim.set_timers(100);
    let c = sim.connect().unwrap();
    for i in 0..40u8 {
        sim.send(c, &[i]).unwrap();
        sim.turn(MS).unwrap();
        sim.recv(c);
    }
    // Each on_data set a timer of 1 to 50 ms; every one fires, and the simulation's checks
    // (after every turn, and in on_timer) held: never early, the poll never asked to sleep
    // past one, none left unfired a tick after its deadline.
    sim.run_for(60 * MS).unwrap();
    let (wheel, precise) = sim.timers_fired();
    // One per on_data (a read may bring two of the bytes at once).
    assert!(wheel + precise >= 30, "{wheel} + {precise}");
    assert!(wheel > 0 && precise > 0, "{wheel} {precise}");
    assert_eq!(sim.timers_pending(), 0);
    sim.check().unwrap();
}

#[test]
fn sim_outgoing_connects_connect_are_refused_or_time_out() {
    use netloop::internals::sim::Remote;
    let config = Config::default().timeouts(Timeouts::NONE.with_connect(50 * MS));
    let mut sim = sim(Faults::NONE, config);
    sim.remote(9000, Remote::Answers);
    sim.remote(9002, Remote::Silent);
    let answered = sim.dial(9000).unwrap();
    let refused = sim.dial(9001).unwrap();
    let silent = sim.dial(9002).unwrap();
    sim.run_for(MS).unwrap();
    assert_eq!(
        sim.dials(),
        (1, 1, 0),
        "connected and refused at the first poll"
    );
    assert_eq!(
        sim.closed(refused).map(|(r, _)| r),
        Some("I/O error: connection refused")
    );
    // The remote peer talks to the echo service over the outgoing connection.
    echo(&mut sim, answered, b"over the outgoing connection");
    sim.run_for(60 * MS).unwrap();
    let (reason, at) = sim.closed(silent).expect("the silent one timed out");
    assert_eq!(reason, "timed out (connect timeout)");
    assert!(at >= 50 * MS && at <= 51 * MS, "{at:?}");
    assert_eq!(sim.dials(), (1, 1, 1));
    assert_eq!(sim.stats().connected, 3);
    assert!(sim.closed(answered).is_none(), "the connected one stays");
    sim.check().unwrap();
}

#[test]
fn sim_datagrams_come_back_upper_cased_in_order_and_a_full_peer_loses_only_its_own() {
    let faults = Faults {
        interrupted: 20,
        would_block: 30,
        ..Faults::NONE
    };
    let mut sim = sim(faults, Config::default());
    let p = sim.dgram_peer();
    let q = sim.dgram_peer();
    // 100 datagrams of 1,000 bytes, never read meanwhile: p's queue (64 KiB) fills and the
    // replies past it are dropped, as UDP drops them; sends the socket's own full buffer
    // refuses (WouldBlock) wait in the service's queue and go in order.
    for i in 0..100u32 {
        let data: Vec<u8> = (0..1000).map(|j| b'a' + ((i + j) % 26) as u8).collect();
        assert!(sim.send_datagram(p, &data));
        sim.turn(MS).unwrap();
    }
    assert!(sim.send_datagram(q, b"hello"));
    sim.run_for(5 * MS).unwrap();
    sim.recv_datagrams(q);
    assert_eq!(sim.datagrams(q), (1, 1, 0), "q is not held up behind p");
    sim.recv_datagrams(p);
    let (sent, got, lost) = sim.datagrams(p);
    assert_eq!(sent, 100);
    assert!(lost > 0 && got + lost == 100, "{got} received, {lost} lost");
    // Sim::check compared every reply with its datagram upper-cased, in order.
    sim.check().unwrap();
    assert_eq!(sim.stats().datagrams_in, 101);
    assert_eq!(sim.stats().datagrams_out, 101);
    assert!(sim.seen().get(Fault::Interrupted) > 0);
    assert!(sim.seen().get(Fault::WouldBlock) > 0);
}

#[test]
fn sim_a_server_of_two_reactors_spreads_serial_connections_and_shares_its_limit() {
    let config = Config::default().max_connections(Some(6));
    let mut sim = Sim::server(5, Faults::NONE, config, 2).unwrap();
    // Connections arriving one at a time: whichever reactor wakes, the balance places each
    // on the less loaded, so they split evenly.
    let mut clients = Vec::new();
    for i in 0..6u8 {
        let c = sim.connect().unwrap();
        sim.run_for(MS).unwrap();
        echo(&mut sim, c, &[i; 50]);
        clients.push(c);
    }
    let (a, b) = (sim.stats_of(0).active, sim.stats_of(1).active);
    assert_eq!((a, b), (3, 3), "serial connections split evenly");
    // The limit is one for the server: the seventh is accepted and closed at once.
    let extra = sim.connect().unwrap();
    sim.run_for(2 * MS).unwrap();
    sim.recv(extra);
    assert!(sim.finished(extra), "past the shared limit");
    assert_eq!(sim.stats().rejected, 1);
    // Every connection still echoes, on whichever reactor serves it.
    for (i, &c) in clients.iter().enumerate() {
        echo(&mut sim, c, format!("again {i}").as_bytes());
    }
    sim.check().unwrap();
}

#[test]
fn sim_two_reactors_under_every_fault_replay_the_same_trace() {
    let faults = Faults {
        short_read: 20,
        short_write: 20,
        would_block: 10,
        interrupted: 10,
        spurious: 20,
        stale_events: 30,
        split_events: 20,
        ..Faults::NONE
    };
    let run = || {
        let mut sim = Sim::server(9, faults, Config::default(), 2).unwrap();
        let clients: Vec<_> = (0..8).map(|_| sim.connect().unwrap()).collect();
        for &c in &clients {
            echo(&mut sim, c, &pattern(3000));
        }
        assert!(sim.stats_of(0).active > 0 && sim.stats_of(1).active > 0);
        sim.check().unwrap();
        sim.take_trace()
    };
    assert_eq!(run(), run(), "the interleaving is deterministic");
}

#[test]
fn sim_unix_datagrams_to_a_full_peer_are_refused_and_the_others_go_on() {
    let mut sim = sim(Faults::NONE, Config::default());
    let p = sim.unix_dgram_peer();
    let q = sim.unix_dgram_peer();
    // 100 datagrams of 1,000 bytes, never read meanwhile: once p's queue (64 KiB) is full,
    // the service's sends to it are refused (WouldBlock, as Linux does for a Unix receiver),
    // not queued behind: no event would say when p drains.
    for i in 0..100u32 {
        let data: Vec<u8> = (0..1000).map(|j| b'a' + ((i + j) % 26) as u8).collect();
        assert!(sim.send_datagram(p, &data));
        sim.turn(MS).unwrap();
    }
    assert!(sim.send_datagram(q, b"hello"));
    sim.run_for(2 * MS).unwrap();
    sim.recv_datagrams(q);
    assert_eq!(sim.datagrams(q), (1, 1, 0), "q is answered at once");
    sim.recv_datagrams(p);
    let (sent, got, refused) = sim.datagrams(p);
    assert_eq!(sent, 100);
    assert!(
        refused > 0 && got + refused == 100,
        "{got} received, {refused} refused"
    );
    assert_eq!(sim.datagrams_by_kind(), (0, 101));
    // Sim::check compared every reply with its datagram upper-cased, in order.
    sim.check().unwrap();
}

/// Send `data` from `c` with `fds` descriptors, then turn until the echo has come back.
fn echo_fds(sim: &mut Sim, c: ClientId, data: &[u8], fds: usize) {
    let start = sim.received(c).len();
    assert_eq!(sim.send_fds(c, data, fds).unwrap(), data.len());
    for _ in 0..2000 {
        sim.turn(MS).unwrap();
        sim.recv(c);
        if sim.received(c).len() >= start + data.len() {
            break;
        }
    }
    assert_eq!(&sim.received(c)[start..], data);
}

#[test]
fn sim_descriptors_pass_on_unix_streams_and_seqpacket_and_all_close_at_the_end() {
    let mut sim = sim(Faults::NONE, Config::default());
    let s = sim.connect_kind(Kind::UnixStream).unwrap();
    let q = sim.connect_kind(Kind::Seqpacket).unwrap();
    echo_fds(&mut sim, s, b"with two", 2);
    echo(&mut sim, s, b" and without");
    echo_fds(&mut sim, q, b"one record", 3);
    // Each descriptor went through the control-data parse of a real socket and back.
    let (passed, (stream, seqpacket), back) = sim.descriptors();
    assert_eq!((passed, stream, seqpacket, back), (5, 2, 3, 5));
    assert_eq!(sim.stats().fds_in, 5);
    for c in [s, q] {
        sim.shutdown(c);
    }
    sim.run_for(10 * MS).unwrap();
    sim.check().unwrap();
    sim.check_descriptors().unwrap();
}

#[test]
fn sim_truncated_control_data_closes_that_connection_with_a_reason_and_leaks_nothing() {
    let mut sim = sim(Faults::NONE, Config::default());
    let a = sim.connect_kind(Kind::UnixStream).unwrap();
    let b = sim.connect_kind(Kind::Seqpacket).unwrap();
    echo(&mut sim, b, b"before");
    sim.net().set_faults(Faults {
        ctrunc: 100,
        ..Faults::NONE
    });
    sim.send_fds(a, b"three", 3).unwrap();
    sim.run_for(5 * MS).unwrap();
    sim.recv(a);
    assert!(
        sim.seen().get(Fault::ControlTruncated) > 0,
        "{:?}",
        sim.seen()
    );
    let (reason, _) = sim.closed(a).expect("closed");
    assert!(reason.contains("MSG_CTRUNC"), "{reason}");
    // The other connection carries on.
    sim.net().set_faults(Faults::NONE);
    echo(&mut sim, b, b"after");
    sim.shutdown(b);
    sim.run_for(10 * MS).unwrap();
    sim.check().unwrap();
    // The descriptors the kernel installed before the truncation were closed too.
    sim.check_descriptors().unwrap();
}

#[test]
fn sim_udp_batches_answer_every_datagram_in_order_under_faults() {
    // recvmmsg and sendmmsg, whose kernel side the network plays: the reactor's batch loop
    // and its queue for replies the socket would not take yet run as on a real socket. A
    // batch cut short by an error (EINTR here; on Linux an ICMP error for an earlier send)
    // leaves datagrams queued with no new edge: the loop must go on to `WouldBlock` (it
    // stopped at a short batch before, and this test found the stall).
    let faults = Faults {
        would_block: 30,
        interrupted: 20,
        ..Faults::NONE
    };
    let mut sim = sim(faults, Config::default().udp_batching(true));
    let p = sim.dgram_peer();
    for i in 0..60u8 {
        let data = vec![b'a' + i % 26; 1 + usize::from(i) * 7];
        assert!(sim.send_datagram(p, &data));
        if i % 20 == 19 {
            sim.run_for(3 * MS).unwrap();
            sim.recv_datagrams(p);
        }
    }
    for _ in 0..200 {
        sim.turn(MS).unwrap();
        sim.recv_datagrams(p);
        if sim.datagrams_settled(p) {
            break;
        }
    }
    // Every reply, upper-cased and in order (checked by `Sim::check`), none lost.
    assert_eq!(sim.datagrams(p), (60, 60, 0));
    assert!(sim.seen().get(Fault::WouldBlock) > 0, "{:?}", sim.seen());
    assert_eq!(sim.stats().datagrams_in, 60);
    sim.check().unwrap();
}
