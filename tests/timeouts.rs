//! settimeout semantics on the reactor: idle, read and write timeouts, user timers.

mod util;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use netloop::reactor::Timeouts;
use netloop::reactor::{Config, ConnId, Context, Handler, Reactor, TimeoutAction, TimerId};
use netloop::{CloseReason, TimeoutKind};
use util::{connect, Running};

/// Echo, and remember how each connection ended and when.
#[derive(Default)]
struct Recorder {
    opened: Vec<(ConnId, Instant)>,
    closed: Vec<(ConnId, Option<TimeoutKind>, Instant)>,
    keep_open_once: bool,
    timeouts_seen: Vec<TimeoutKind>,
}

impl Handler for Recorder {
    fn on_accept(
        &mut self,
        cx: &mut Context<'_>,
        _: netloop::ListenerId,
        conn: ConnId,
        _: &netloop::reactor::PeerAddr,
    ) {
        self.opened.push((conn, cx.now()));
    }
    fn on_data(&mut self, cx: &mut Context<'_>, conn: ConnId, data: &[u8]) -> usize {
        let _ = cx.write(conn, data);
        data.len()
    }
    fn on_timeout(&mut self, _: &mut Context<'_>, _: ConnId, kind: TimeoutKind) -> TimeoutAction {
        self.timeouts_seen.push(kind);
        if std::mem::take(&mut self.keep_open_once) {
            TimeoutAction::KeepOpen
        } else {
            TimeoutAction::Close
        }
    }
    fn on_close(&mut self, cx: &mut Context<'_>, conn: ConnId, reason: &CloseReason) {
        let kind = match reason {
            CloseReason::TimedOut(k) => Some(*k),
            _ => None,
        };
        self.closed.push((conn, kind, cx.now()));
    }
}

fn start(timeouts: Timeouts, keep_open_once: bool) -> (Running<Recorder>, SocketAddr) {
    let config = Config::default().timeouts(timeouts);
    let handler = Recorder {
        keep_open_once,
        ..Recorder::default()
    };
    let mut reactor = Reactor::with_config(handler, config).unwrap();
    let id = reactor.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = reactor.listener_addr(id).unwrap();
    (Running::start(reactor), addr)
}

const MS: Duration = Duration::from_millis(1);

#[test]
fn idle_timeout_closes_a_silent_connection_and_never_early() {
    let (server, addr) = start(Timeouts::idle(200 * MS), false);
    let mut c = connect(addr);
    let mut buf = [0; 1];
    // The server closes: we read end of file (the read is bounded by util::STEP).
    assert_eq!(c.read(&mut buf).expect("EOF, not a timeout"), 0);
    let reactor = server.stop();
    let h = reactor.handler();
    assert_eq!(h.closed.len(), 1);
    let (id, kind, at) = h.closed[0];
    assert_eq!(kind, Some(TimeoutKind::Idle));
    let (opened_id, opened_at) = h.opened[0];
    assert_eq!(id, opened_id);
    assert!(
        at - opened_at >= 200 * MS,
        "fired early: after {:?}",
        at - opened_at
    );
    assert_eq!(reactor.stats().closed_timeout, 1);
}

// "The read timeout does not fire while data keeps arriving" runs on the virtual clock
// (`tests/sim.rs`, `sim_traffic_moves_the_read_deadline_without_rearming_per_message`): on the
// wall clock it needed 1.5 s of sleeps and failed whenever a loaded machine stretched one
// 50 ms sleep past the 300 ms timeout.

#[test]
fn keep_open_restarts_the_clock_instead_of_closing() {
    let (server, addr) = start(Timeouts::idle(100 * MS), true);
    let mut c = connect(addr);
    let mut b = [0; 1];
    assert_eq!(c.read(&mut b).unwrap(), 0);
    let reactor = server.stop();
    let h = reactor.handler();
    assert_eq!(h.timeouts_seen, vec![TimeoutKind::Idle, TimeoutKind::Idle]);
    let (_, _, closed_at) = h.closed[0];
    assert!(
        closed_at - h.opened[0].1 >= 200 * MS,
        "two full idle periods"
    );
}

#[test]
fn write_timeout_closes_a_peer_that_stops_reading() {
    let config = Config::default().timeouts(Timeouts::NONE.with_write(300 * MS));
    // A server that, once told, floods the client with output it never reads.
    struct Flood(Option<ConnId>);
    impl Handler for Flood {
        fn on_data(&mut self, cx: &mut Context<'_>, conn: ConnId, data: &[u8]) -> usize {
            self.0 = Some(conn);
            cx.write_owned(conn, vec![b'x'; 32 * 1024 * 1024]).unwrap();
            data.len()
        }
        fn on_close(&mut self, cx: &mut Context<'_>, _: ConnId, reason: &CloseReason) {
            assert!(
                matches!(reason, CloseReason::TimedOut(TimeoutKind::Write)),
                "{reason}"
            );
            cx.stop();
        }
    }
    let mut reactor = Reactor::with_config(Flood(None), config).unwrap();
    let id = reactor.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = reactor.listener_addr(id).unwrap();
    let mut c = connect(addr);
    c.write_all(b"go").unwrap();
    let start = Instant::now();
    // run() returns when on_close stops the reactor; bounded by a guard timer.
    let handle = reactor.handle();
    let guard = std::thread::spawn(move || {
        std::thread::sleep(util::STEP);
        let _ = handle.stop();
    });
    reactor.run().unwrap();
    assert!(start.elapsed() < util::STEP, "write timeout never fired");
    assert_eq!(reactor.stats().closed_timeout, 1);
    drop(c);
    drop(guard);
}

#[test]
fn set_timeout_on_one_connection_overrides_the_default() {
    let (server, addr) = start(Timeouts::NONE, false);
    let mut c = connect(addr);
    assert_eq!(util::echo_round_trip(&mut c, b"a"), b"a");
    server.query(|h, cx| {
        let id = h.opened[0].0;
        cx.set_timeout(id, TimeoutKind::Idle, Some(100 * MS))
            .unwrap();
        assert_eq!(cx.timeouts(id).unwrap().idle, Some(100 * MS));
    });
    let mut b = [0; 1];
    assert_eq!(c.read(&mut b).unwrap(), 0);
    let reactor = server.stop();
    assert_eq!(reactor.handler().closed[0].1, Some(TimeoutKind::Idle));
}

/// Run `reactor` until its handler stops it, or until a watchdog does after `util::STEP`.
fn run_bounded<H: Handler + 'static>(reactor: &mut Reactor<H>) {
    let handle = reactor.handle();
    let _watchdog = std::thread::spawn(move || {
        std::thread::sleep(util::STEP);
        let _ = handle.stop();
    });
    reactor.run().unwrap();
}

/// User timers fire once each, never early, and cancelled ones never.
#[derive(Default)]
struct Timers {
    set_at: Option<Instant>,
    fired: Vec<(u64, Instant)>,
    cancel_me: Option<TimerId>,
}

impl Handler for Timers {
    fn on_data(&mut self, _: &mut Context<'_>, _: ConnId, data: &[u8]) -> usize {
        data.len()
    }
    fn on_timer(&mut self, cx: &mut Context<'_>, _: TimerId, token: u64) {
        self.fired.push((token, cx.now()));
        if token == 3 {
            cx.stop();
        }
    }
}

#[test]
fn user_timers_fire_in_order_never_early_and_cancel_works() {
    let mut reactor = Reactor::new(Timers::default()).unwrap();
    reactor.with_context(|h, cx| {
        h.set_at = Some(cx.now());
        cx.set_timer(30 * MS, 1);
        cx.set_timer(60 * MS, 2);
        h.cancel_me = Some(cx.set_timer(45 * MS, 99));
        cx.set_timer(90 * MS, 3);
        assert!(cx.cancel_timer(h.cancel_me.unwrap()));
        assert!(
            !cx.cancel_timer(h.cancel_me.unwrap()),
            "second cancel is stale"
        );
    });
    run_bounded(&mut reactor);
    let h = reactor.handler();
    let set_at = h.set_at.unwrap();
    let tokens: Vec<u64> = h.fired.iter().map(|f| f.0).collect();
    assert_eq!(tokens, vec![1, 2, 3]);
    for (token, at) in &h.fired {
        let due = [0, 30, 60, 90][*token as usize] * MS;
        assert!(
            *at - set_at >= due,
            "timer {token} early: {:?}",
            *at - set_at
        );
    }
}

#[test]
fn traffic_does_not_rearm_the_wheel_per_message() {
    let (server, addr) = start(
        Timeouts::NONE
            .with_read(Duration::from_secs(30))
            .with_write(Duration::from_secs(30))
            .with_idle(Duration::from_secs(30)),
        false,
    );
    let mut c = connect(addr);
    for i in 0..2000u32 {
        let msg = i.to_be_bytes();
        assert_eq!(util::echo_round_trip(&mut c, &msg), msg);
    }
    let arms = server.query(|_, cx| cx.stats().timeout_arms);
    // One arm at accept; equal timeouts mean the write deadline is never the earliest one.
    assert!(arms <= 2, "{arms} wheel inserts for 2000 messages");
}

/// Precise timers re-armed from `on_timer`: each fires once, never before its exact deadline,
/// a cancelled one never; the timerfd's own events never reach the handler as sockets.
#[derive(Default)]
struct Precise {
    due: Vec<Instant>,
    fired: Vec<(u64, Instant)>,
    late_cancel: Option<TimerId>,
}

impl Handler for Precise {
    fn on_timer(&mut self, cx: &mut Context<'_>, _: TimerId, token: u64) {
        self.fired.push((token, Instant::now()));
        if token == 19 {
            cx.stop();
            return;
        }
        let after = Duration::from_micros(150 + 20 * token);
        // Timers count from the turn's `now`, not from this instant.
        self.due.push(cx.now() + after);
        cx.set_precise_timer(after, token + 1);
        if token == 5 {
            // Due before the one just set: it must neither fire nor hold the others up.
            let id = cx.set_precise_timer(Duration::from_micros(50), 99);
            assert!(cx.cancel_timer(id));
        }
    }
}

#[test]
fn precise_timers_fire_in_order_never_early_and_cancel_works() {
    let mut reactor = Reactor::new(Precise::default()).unwrap();
    reactor.with_context(|h, cx| {
        h.due.push(cx.now() + Duration::from_micros(200));
        cx.set_precise_timer(Duration::from_micros(200), 0);
        h.late_cancel = Some(cx.set_precise_timer(Duration::from_secs(3600), 1000));
    });
    run_bounded(&mut reactor);
    let late = reactor.handler().late_cancel.unwrap();
    assert!(
        reactor.with_context(|_, cx| cx.cancel_timer(late)),
        "the hour-long timer is still pending"
    );
    let h = reactor.handler();
    let tokens: Vec<u64> = h.fired.iter().map(|f| f.0).collect();
    assert_eq!(tokens, (0..20).collect::<Vec<_>>());
    for ((token, at), due) in h.fired.iter().zip(&h.due) {
        assert!(at >= due, "timer {token} fired {:?} early", *due - *at);
    }
}

/// Blocks for `block` in a timer's callback: one slow turn.
struct Slow {
    block: Duration,
    fired: bool,
}

impl Handler for Slow {
    fn on_accept(
        &mut self,
        _: &mut Context<'_>,
        _: netloop::ListenerId,
        _: ConnId,
        _: &netloop::reactor::PeerAddr,
    ) {
    }
    fn on_timer(&mut self, _: &mut Context<'_>, _: TimerId, _: u64) {
        std::thread::sleep(self.block);
        self.fired = true;
    }
}

#[test]
fn a_slow_callback_shows_as_a_long_turn_in_the_stats() {
    let block = Duration::from_millis(40);
    let mut r = Reactor::new(Slow {
        block,
        fired: false,
    })
    .unwrap();
    r.with_context(|_, cx| cx.set_timer(Duration::from_millis(1), 7));
    let end = Instant::now() + Duration::from_secs(10);
    while !r.handler().fired && Instant::now() < end {
        r.turn(Some(Duration::from_millis(10))).unwrap();
    }
    assert!(r.handler().fired);
    let turns = r.stats().turns;
    assert!(turns.count() >= 1);
    // The slow turn lies at or past 2^15 µs (32.8 ms); nothing can make it shorter.
    assert!(turns.max() >= block, "{turns:?}");
    let slow: u64 = (16..netloop::reactor::TurnTimes::BUCKETS)
        .map(|i| turns.bucket(i))
        .sum();
    assert!(slow >= 1, "{turns:?}");
    assert!(turns.quantile(1.0).unwrap() >= block);
    assert!(turns.total() >= block);
}
