//! Connecting by name (`Context::connect_host`): the look-up runs off the loop, the addresses
//! are raced with Happy Eyeballs, a refusing address gives way to the next, the connect
//! timeout bounds it all, and the handler hears once, through `on_dialed`. On loopback, with
//! injected resolvers (this machine's `localhost` is 127.0.0.1 only), and once with the
//! system's.

mod util;

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use netloop::reactor::{
    Config, ConnId, Context, DialId, Handler, ListenerId, PeerAddr, Reactor, Resolver,
};
use util::{connect, echo_round_trip, ipv6_available, Running, STEP};

/// A dial's report: the connection, or the error's kind and text.
type Dialed = (DialId, Result<ConnId, (ErrorKind, String)>);

/// Serves an echo listener, and dials: says "hello" on every connection it made, and keeps
/// what comes back.
#[derive(Default)]
struct Dialer {
    dialed: Vec<Dialed>,
    connected: Vec<ConnId>,
    replies: Vec<(ConnId, Vec<u8>)>,
    accepted: Vec<ConnId>,
    /// Jobs reported to the handler: a dial's look-up must never be one.
    jobs: usize,
}

impl Handler for Dialer {
    fn on_accept(&mut self, _: &mut Context<'_>, _: ListenerId, conn: ConnId, _: &PeerAddr) {
        self.accepted.push(conn);
    }

    fn on_data(&mut self, cx: &mut Context<'_>, conn: ConnId, data: &[u8]) -> usize {
        if self.connected.contains(&conn) {
            self.replies.push((conn, data.to_vec()));
        } else {
            let _ = cx.write(conn, data);
        }
        data.len()
    }

    fn on_dialed(&mut self, _: &mut Context<'_>, dial: DialId, result: std::io::Result<ConnId>) {
        let result = result.map_err(|e| (e.kind(), e.to_string()));
        self.dialed.push((dial, result));
    }

    fn on_work_done(
        &mut self,
        _: &mut Context<'_>,
        _: netloop::reactor::WorkId,
        _: std::thread::Result<Box<dyn std::any::Any + Send>>,
    ) {
        self.jobs += 1;
    }

    fn on_connect(&mut self, cx: &mut Context<'_>, conn: ConnId) {
        self.connected.push(conn);
        cx.write(conn, b"hello").unwrap();
    }
}

/// A reactor with an echo listener on 127.0.0.1, and the listener's address.
fn start(config: Config) -> (Running<Dialer>, SocketAddr) {
    let mut reactor = Reactor::with_config(Dialer::default(), config).unwrap();
    let l = reactor.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = reactor.listener_addr(l).unwrap();
    (Running::start(reactor), addr)
}

/// A resolver answering `addrs` for any name.
fn answering(addrs: Vec<SocketAddr>) -> Resolver {
    Arc::new(move |_, _| Ok(addrs.clone()))
}

/// A TCP socket bound to `addr` and not listening: a connect to it is refused. `None` if the
/// address is taken.
fn refusing(addr: SocketAddr) -> Option<socket2::Socket> {
    let domain = socket2::Domain::for_address(addr);
    let s = socket2::Socket::new(domain, socket2::Type::STREAM, None).unwrap();
    if addr.is_ipv6() {
        s.set_only_v6(true).unwrap();
    }
    s.bind(&addr.into()).ok().map(|()| s)
}

/// An address on the other loopback (`::1`, or 127.0.0.2 without IPv6) with `port`, that
/// refuses connections while the socket returned lives.
fn refusing_beside(port: u16) -> (SocketAddr, socket2::Socket) {
    let ip: std::net::IpAddr = if ipv6_available() {
        std::net::Ipv6Addr::LOCALHOST.into()
    } else {
        [127, 0, 0, 2].into()
    };
    let addr = SocketAddr::new(ip, port);
    let sock = refusing(addr).expect("a free port on the other loopback");
    (addr, sock)
}

/// Wait (at most STEP) until the handler has heard of `n` dials.
fn dialed(server: &Running<Dialer>, n: usize) -> Vec<Dialed> {
    let start = std::time::Instant::now();
    loop {
        let got = server.query(|h, _| h.dialed.clone());
        if got.len() >= n {
            return got;
        }
        assert!(
            start.elapsed() < STEP,
            "{} of {n} dials reported",
            got.len()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Wait (at most STEP) for `conn`'s "hello" to come back.
fn hello_back(server: &Running<Dialer>, conn: ConnId) {
    assert!(util::wait_until(|| server.query(move |h, _| {
        let got: Vec<u8> = h
            .replies
            .iter()
            .filter(|(c, _)| *c == conn)
            .flat_map(|(_, d)| d.clone())
            .collect();
        got == b"hello"
    })));
}

#[test]
fn when_the_first_address_refuses_it_connects_through_the_second() {
    // The attempt delay is far beyond the test's patience: only the refusal can start the
    // second attempt.
    let config = Config::default().connect_attempt_delay(Duration::from_secs(60));
    let (server, ok) = start(config);
    let (bad, _keep) = refusing_beside(ok.port());
    let resolver = answering(vec![bad, ok]);
    let dial = server.query(move |_, cx| {
        cx.set_resolver(resolver);
        cx.connect_host("two.test:9999").unwrap()
    });
    let got = dialed(&server, 1);
    let conn = match &got[..] {
        [(d, Ok(conn))] if *d == dial => *conn,
        other => panic!("{other:?}"),
    };
    hello_back(&server, conn);
    let (peer, connected) =
        server.query(move |h, cx| (cx.peer_addr(conn).unwrap(), h.connected.clone()));
    assert_eq!(peer.inet(), Some(ok));
    assert_eq!(
        connected,
        [conn],
        "on_connect came for the dial's connection"
    );
}

#[test]
fn the_reactor_serves_others_while_a_slow_look_up_is_pending() {
    let (server, ok) = start(Config::default());
    let (release, wait) = mpsc::channel::<()>();
    let wait = Mutex::new(wait);
    let resolver: Resolver = Arc::new(move |_, port| {
        wait.lock().unwrap().recv_timeout(STEP * 3).ok();
        Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))])
    });
    let target = format!("slow.test:{}", ok.port());
    let dial = server.query(move |_, cx| {
        cx.set_resolver(resolver);
        cx.connect_host(&target).unwrap()
    });
    // The look-up hangs; another connection is served meanwhile, and the dial waits.
    let mut c = connect(ok);
    for i in 0..20u8 {
        assert_eq!(echo_round_trip(&mut c, &[i; 100]), [i; 100]);
    }
    assert!(server.query(|h, _| h.dialed.is_empty()));
    release.send(()).unwrap();
    let got = dialed(&server, 1);
    let [(d, Ok(conn))] = &got[..] else {
        panic!("{got:?}")
    };
    assert_eq!(*d, dial);
    hello_back(&server, *conn);
}

#[test]
fn when_every_address_refuses_the_error_names_each() {
    let (server, ok) = start(Config::default());
    // Both addresses bound and not listening, on a port of our own.
    let port = ok.port();
    let (v6ish, _a) = refusing_beside(port);
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let v4 = probe.local_addr().unwrap();
    drop(probe);
    let _b = refusing(v4).expect("the port just freed");
    let resolver = answering(vec![v4, v6ish]);
    let before = server.query(|_, cx| cx.socket_count());
    server.query(move |_, cx| {
        cx.set_resolver(resolver);
        cx.connect_host("none.test:1").unwrap()
    });
    let got = dialed(&server, 1);
    let [(_, Err((kind, what)))] = &got[..] else {
        panic!("{got:?}")
    };
    assert_eq!(*kind, ErrorKind::ConnectionRefused, "{what}");
    assert!(what.contains("none.test:1"), "{what}");
    assert!(
        what.contains(&v4.to_string()) && what.contains(&v6ish.to_string()),
        "{what}"
    );
    // No attempt is left in the slab, and the handler saw no connection.
    assert_eq!(server.query(|_, cx| cx.socket_count()), before);
    assert!(server.query(|h, _| h.connected.is_empty() && h.accepted.is_empty()));
}

#[test]
fn the_connect_timeout_bounds_a_look_up_that_never_answers() {
    let timeouts = Config::default().timeouts;
    // One worker: jobs finish in the order submitted, so a marker job shows when the late
    // answer has been delivered.
    let config = Config::default()
        .timeouts(timeouts.with_connect(Duration::from_millis(200)))
        .workers(1);
    let (server, _) = start(config);
    let (release, wait) = mpsc::channel::<()>();
    let wait = Mutex::new(wait);
    let resolver: Resolver = Arc::new(move |_, _| {
        wait.lock().unwrap().recv_timeout(STEP * 3).ok();
        Ok(Vec::new())
    });
    server.query(move |_, cx| {
        cx.set_resolver(resolver);
        cx.connect_host("never.test:80").unwrap()
    });
    let got = dialed(&server, 1);
    let [(_, Err((kind, what)))] = &got[..] else {
        panic!("{got:?}")
    };
    assert_eq!(*kind, ErrorKind::TimedOut, "{what}");
    assert!(what.contains("not looked up within 200ms"), "{what}");
    release.send(()).unwrap();
    // The late answer is ignored: still one report, and no job handed to the handler but
    // the marker that follows it.
    server.query(|_, cx| cx.submit(None, || ()).unwrap());
    assert!(util::wait_until(|| server.query(|h, _| h.jobs == 1)));
    assert_eq!(server.query(|h, _| (h.dialed.len(), h.jobs)), (1, 1));
}

#[test]
fn a_cancelled_dial_is_not_reported_and_leaves_nothing_behind() {
    let (server, ok) = start(Config::default().workers(1));
    let (release, wait) = mpsc::channel::<()>();
    let wait = Mutex::new(wait);
    let resolver: Resolver = Arc::new(move |_, port| {
        wait.lock().unwrap().recv_timeout(STEP * 3).ok();
        Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))])
    });
    let target = format!("cancel.test:{}", ok.port());
    let before = server.query(|_, cx| cx.socket_count());
    let cancelled = server.query(move |_, cx| {
        cx.set_resolver(resolver);
        let dial = cx.connect_host(&target).unwrap();
        (cx.cancel_dial(dial), cx.cancel_dial(dial))
    });
    assert_eq!(cancelled, (true, false));
    release.send(()).unwrap();
    drop(release);
    // A dial started after it is reported; the cancelled one never is.
    let target = format!("127.0.0.1:{}", ok.port());
    let second = server.query(move |_, cx| cx.connect_host(&target).unwrap());
    let got = dialed(&server, 1);
    assert!(matches!(&got[..], [(d, Ok(_))] if *d == second), "{got:?}");
    // The cancelled dial's answer reached no callback either: a marker job, after both
    // look-ups on the one worker, is the only job the handler hears of.
    server.query(|_, cx| cx.submit(None, || ()).unwrap());
    assert!(util::wait_until(|| server.query(|h, _| h.jobs == 1)));
    assert_eq!(server.query(|h, _| (h.dialed.len(), h.jobs)), (1, 1));
    // One connection each way for the second dial; nothing else.
    assert_eq!(server.query(|_, cx| cx.socket_count()), before + 2);
}

#[test]
fn a_handle_dials_by_name_from_another_thread_with_the_system_resolver() {
    let (server, ok) = start(Config::default());
    let e = server.handle.connect_host("localhost").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    server
        .handle
        .connect_host(&format!("localhost:{}", ok.port()))
        .unwrap();
    let got = dialed(&server, 1);
    let [(_, Ok(conn))] = &got[..] else {
        panic!("{got:?}")
    };
    hello_back(&server, *conn);
}

#[test]
fn a_target_that_is_not_host_and_service_is_refused_at_once() {
    let (server, _) = start(Config::default());
    for bad in ["localhost", "::1:80", "[::1]", "host:"] {
        let kind = server.query(move |_, cx| cx.connect_host(bad).unwrap_err().kind());
        assert_eq!(kind, ErrorKind::InvalidInput, "{bad}");
    }
    // A service by name is looked up off the loop too.
    let got = {
        server.query(|_, cx| {
            cx.set_resolver(Arc::new(|_, port| {
                Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))])
            }));
            cx.connect_host("x.test:no-such-service-here").unwrap()
        });
        dialed(&server, 1)
    };
    let [(_, Err((kind, what)))] = &got[..] else {
        panic!("{got:?}")
    };
    assert_eq!(*kind, ErrorKind::NotFound, "{what}");
}
