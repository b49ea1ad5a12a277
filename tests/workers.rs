//! Blocking work off the loop (`Context::submit`): results come back on the reactor thread
//! while it keeps serving, the queue is bounded, work for a connection that closes is
//! cancelled, a panicking job is reported, and with no worker threads jobs run inline, in
//! order.

mod util;

use std::any::Any;
use std::io::Write;
use std::sync::mpsc;
use std::time::Duration;

use netloop::reactor::{Config, ConnId, Context, Handler, ListenerId, PeerAddr, Reactor, WorkId};
use util::{connect, echo_round_trip, Running, STEP};

/// Echoes, and records every job result it is told about (numbers, and look-ups).
#[derive(Default)]
struct Jobs {
    done: Vec<(WorkId, Result<u64, String>)>,
    resolved: Vec<(WorkId, std::io::Result<Vec<std::net::SocketAddr>>)>,
    conns: Vec<ConnId>,
}

impl Handler for Jobs {
    fn on_accept(&mut self, _: &mut Context<'_>, _: ListenerId, conn: ConnId, _: &PeerAddr) {
        self.conns.push(conn);
    }

    fn on_data(&mut self, cx: &mut Context<'_>, conn: ConnId, data: &[u8]) -> usize {
        let _ = cx.write(conn, data);
        data.len()
    }

    fn on_work_done(
        &mut self,
        _: &mut Context<'_>,
        work: WorkId,
        output: std::thread::Result<Box<dyn Any + Send>>,
    ) {
        let output =
            match output.map(|v| v.downcast::<std::io::Result<Vec<std::net::SocketAddr>>>()) {
                Ok(Ok(addrs)) => return self.resolved.push((work, *addrs)),
                Ok(Err(other)) => Ok(other),
                Err(panic) => Err(panic),
            };
        let result = match output {
            Ok(value) => Ok(*value.downcast::<u64>().expect("a u64")),
            Err(panic) => Err(panic
                .downcast_ref::<&str>()
                .map_or("?".into(), |s| s.to_string())),
        };
        self.done.push((work, result));
    }
}

fn start(config: Config) -> (Running<Jobs>, std::net::SocketAddr) {
    let mut reactor = Reactor::with_config(Jobs::default(), config).unwrap();
    let l = reactor.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = reactor.listener_addr(l).unwrap();
    (Running::start(reactor), addr)
}

/// Wait (at most STEP) until the handler has `n` results.
fn results(server: &Running<Jobs>, n: usize) -> Vec<(WorkId, Result<u64, String>)> {
    let start = std::time::Instant::now();
    loop {
        let done = server.query(|h, _| h.done.clone());
        if done.len() >= n {
            return done;
        }
        assert!(start.elapsed() < STEP, "{} of {n} results", done.len());
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_blocking_job_runs_off_the_loop_and_its_result_comes_back() {
    let (server, addr) = start(Config::default());
    let (release, wait) = mpsc::channel::<()>();
    let id = server.query(move |_, cx| {
        cx.submit(None, move || {
            wait.recv().unwrap(); // blocks a worker until the test says so
            42u64
        })
        .unwrap()
    });
    // The job blocks, and the reactor still serves.
    let mut c = connect(addr);
    assert_eq!(echo_round_trip(&mut c, b"still served"), b"still served");
    release.send(()).unwrap();
    assert_eq!(results(&server, 1), [(id, Ok(42))]);
    drop(server.stop());
}

#[test]
fn the_queue_is_bounded_and_a_full_one_refuses() {
    let (server, _) = start(Config::default().workers(1).work_queue(2));
    let (release, wait) = mpsc::channel::<()>();
    let (started_tx, started) = mpsc::channel::<()>();
    server.query(move |_, cx| {
        cx.submit(None, move || {
            started_tx.send(()).unwrap();
            wait.recv().unwrap();
            1u64
        })
        .unwrap();
    });
    started
        .recv_timeout(STEP)
        .expect("the one thread took the first job");
    let refused = server.query(|_, cx| {
        let a = cx.submit(None, || 2u64).is_ok();
        let b = cx.submit(None, || 3u64).is_ok();
        let third = cx.submit(None, || 4u64).unwrap_err().kind();
        (a, b, third)
    });
    assert_eq!(refused, (true, true, std::io::ErrorKind::WouldBlock));
    release.send(()).unwrap();
    let done: Vec<u64> = results(&server, 3)
        .into_iter()
        .map(|(_, r)| r.unwrap())
        .collect();
    assert_eq!(done, [1, 2, 3], "in the order they finished, on one thread");
    drop(server.stop());
}

#[test]
fn work_for_a_connection_that_closes_is_cancelled() {
    let (server, addr) = start(Config::default().workers(1));
    let c = connect(addr);
    let conn = {
        let start = std::time::Instant::now();
        loop {
            if let Some(&conn) = server.query(|h, _| h.conns.first().copied()).as_ref() {
                break conn;
            }
            assert!(start.elapsed() < STEP);
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    let (release, wait) = mpsc::channel::<()>();
    let (started_tx, started) = mpsc::channel::<()>();
    server.query(move |_, cx| {
        // Running when the connection closes: its result is dropped.
        cx.submit(Some(conn), move || {
            started_tx.send(()).unwrap();
            wait.recv().unwrap();
            1u64
        })
        .unwrap();
        // Waiting when it closes: dropped before it starts.
        cx.submit(Some(conn), || 2u64).unwrap();
    });
    started.recv_timeout(STEP).unwrap();
    server.query(move |_, cx| cx.abort(conn));
    drop(c);
    release.send(()).unwrap();
    // A job for no connection, after them, shows when they would have been reported.
    server.query(|_, cx| cx.submit(None, || 3u64).unwrap());
    let done = results(&server, 1);
    assert_eq!(
        done.iter()
            .map(|(_, r)| r.clone().unwrap())
            .collect::<Vec<_>>(),
        [3]
    );
    let mut reactor = server.stop();
    assert_eq!(reactor.stats().work_cancelled, 2);
    assert!(
        reactor
            .with_context(|_, cx| cx.submit(Some(conn), || 0u64))
            .is_err(),
        "stale"
    );
}

#[test]
fn a_panicking_job_is_reported_as_such() {
    let (server, _) = start(Config::default().catch_panics(true));
    server.query(|_, cx| {
        cx.submit(None, || -> u64 { panic!("the job broke") })
            .unwrap()
    });
    let done = results(&server, 1);
    assert_eq!(done[0].1, Err("the job broke".to_string()));
    drop(server.stop());
}

#[test]
fn with_no_worker_threads_jobs_run_inline_in_order() {
    let mut reactor = Reactor::with_config(Jobs::default(), Config::default().workers(0)).unwrap();
    let ids: Vec<WorkId> = reactor.with_context(|_, cx| {
        (1..=3u64)
            .map(|i| cx.submit(None, move || i * 10).unwrap())
            .collect()
    });
    reactor.turn(Some(Duration::ZERO)).unwrap();
    let done = reactor.handler().done.clone();
    assert_eq!(
        done,
        ids.iter()
            .zip([10, 20, 30])
            .map(|(&id, v)| (id, Ok(v)))
            .collect::<Vec<_>>()
    );
}

/// A look-up's answer, comparable: the addresses, or the error's text.
fn shown(
    r: &std::io::Result<Vec<std::net::SocketAddr>>,
) -> Result<Vec<std::net::SocketAddr>, String> {
    match r {
        Ok(addrs) => Ok(addrs.clone()),
        Err(e) => Err(e.to_string()),
    }
}

#[test]
fn a_slow_look_up_runs_off_the_loop_with_the_resolver_given() {
    let (server, addr) = start(Config::default());
    let (release, wait) = mpsc::channel::<()>();
    let wait = std::sync::Mutex::new(wait);
    let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = std::sync::Arc::clone(&asked);
    // A resolver that answers ::1 and 127.0.0.1 for any name, once the test lets it.
    let resolver: netloop::reactor::Resolver = std::sync::Arc::new(move |host, port| {
        seen.lock().unwrap().push(host.to_owned());
        wait.lock().unwrap().recv().unwrap();
        Ok(vec![
            std::net::SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port)),
            std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        ])
    });
    let id = server.query(move |_, cx| {
        cx.set_resolver(resolver);
        cx.resolve("both.test", 9999).unwrap()
    });
    // The look-up hangs, and the reactor still serves.
    let mut c = connect(addr);
    assert_eq!(
        echo_round_trip(&mut c, b"while resolving"),
        b"while resolving"
    );
    release.send(()).unwrap();
    let start = std::time::Instant::now();
    let resolved = loop {
        let got = server.query(|h, _| {
            h.resolved
                .iter()
                .map(|(w, r)| (*w, shown(r)))
                .collect::<Vec<_>>()
        });
        if !got.is_empty() {
            break got;
        }
        assert!(start.elapsed() < STEP);
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(
        resolved,
        [(
            id,
            Ok(vec![
                "[::1]:9999".parse().unwrap(),
                "127.0.0.1:9999".parse().unwrap()
            ])
        )]
    );
    assert_eq!(*asked.lock().unwrap(), ["both.test"]);
    drop(server.stop());
}

#[test]
fn the_system_resolver_answers_localhost() {
    let (server, _) = start(Config::default());
    let id = server.query(|_, cx| cx.resolve("localhost", 7).unwrap());
    let start = std::time::Instant::now();
    loop {
        let got = server.query(move |h, _| {
            h.resolved
                .iter()
                .find(|(w, _)| *w == id)
                .map(|(_, r)| shown(r))
        });
        if let Some(result) = got {
            let addrs = result.expect("localhost resolves");
            assert!(
                addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 7),
                "{addrs:?}"
            );
            assert!(!addrs.is_empty());
            break;
        }
        assert!(start.elapsed() < STEP);
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(server.stop());
}

/// Answers each request from a job, written at once when the job is done (nothing queued),
/// and says it is in the middle of a message while the job runs.
#[derive(Default)]
struct SlowReplies {
    pending: Vec<(WorkId, ConnId)>,
}

impl Handler for SlowReplies {
    fn on_data(&mut self, cx: &mut Context<'_>, conn: ConnId, data: &[u8]) -> usize {
        let copy = data.to_vec();
        let job = cx
            .submit(Some(conn), move || {
                std::thread::sleep(Duration::from_millis(200));
                copy
            })
            .unwrap();
        self.pending.push((job, conn));
        data.len()
    }

    fn on_work_done(
        &mut self,
        cx: &mut Context<'_>,
        work: WorkId,
        output: std::thread::Result<Box<dyn Any + Send>>,
    ) {
        let i = self.pending.iter().position(|(w, _)| *w == work).unwrap();
        let (_, conn) = self.pending.remove(i);
        let reply = output.unwrap().downcast::<Vec<u8>>().unwrap();
        cx.write_now(conn, &reply).unwrap();
    }

    fn in_message(&mut self, _: &mut Context<'_>, conn: ConnId) -> bool {
        self.pending.iter().any(|(_, c)| *c == conn)
    }
}

#[test]
fn a_shutdown_closes_a_connection_once_its_job_has_answered() {
    let mut reactor = Reactor::new(SlowReplies::default()).unwrap();
    let l = reactor.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = reactor.listener_addr(l).unwrap();
    let server = Running::start(reactor);
    let mut c = connect(addr);
    c.write_all(b"request").unwrap();
    assert!(util::wait_until(
        || server.query(|h, _| h.pending.len() == 1)
    ));
    // The job is running: the handler is in the middle of a message.
    server.handle.shutdown(Duration::from_secs(60)).unwrap();
    // Its answer goes out with nothing queued behind it; the connection is then at a
    // boundary and closes (FIN), long before the grace is over.
    assert_eq!(util::read_to_eof(&mut c).unwrap(), b"request");
    drop(c);
    let reactor = server.join();
    let stats = reactor.stats();
    assert_eq!((stats.shutdown_finished, stats.shutdown_cut_off), (1, 0));
}

/// Submits a new job from each result, inline, counting the results.
#[derive(Default)]
struct Chain {
    results: usize,
}

impl Handler for Chain {
    fn on_work_done(
        &mut self,
        cx: &mut Context<'_>,
        _: WorkId,
        _: std::thread::Result<Box<dyn Any + Send>>,
    ) {
        self.results += 1;
        cx.submit(None, || ()).unwrap();
    }
}

#[test]
fn a_job_submitted_from_a_result_runs_inline_in_the_next_turn_not_this_one() {
    let mut reactor = Reactor::with_config(Chain::default(), Config::default().workers(0)).unwrap();
    reactor.with_context(|_, cx| cx.submit(None, || ()).unwrap());
    for turn in 1..=5 {
        reactor.turn(Some(Duration::ZERO)).unwrap();
        // One result per turn: the chain never keeps a turn from ending.
        assert_eq!(reactor.handler().results, turn);
    }
}
