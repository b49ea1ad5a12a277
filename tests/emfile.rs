//! Running out of descriptors during accept: the connections waiting are accepted and closed
//! at once with the reserve descriptor (libuv's trick), and the listener pauses instead of
//! spinning the loop.
//!
//! This test lowers the process's RLIMIT_NOFILE, so it lives in a test binary of its own.

mod util;

use std::time::Duration;

use netloop::reactor::{Config, ConnId, Context, Handler, ListenerId, Reactor};
use nix::sys::resource::{getrlimit, setrlimit, Resource};

#[derive(Default)]
struct Count {
    accepted: usize,
}

impl Handler for Count {
    fn on_accept(
        &mut self,
        _: &mut Context<'_>,
        _: ListenerId,
        _: ConnId,
        _: &netloop::reactor::PeerAddr,
    ) {
        self.accepted += 1;
    }
    fn on_data(&mut self, _: &mut Context<'_>, _: ConnId, data: &[u8]) -> usize {
        data.len()
    }
}

fn highest_open_fd() -> i32 {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .max()
        .unwrap()
}

#[test]
fn emfile_tells_waiting_clients_at_once_and_pauses_accepting_until_the_backoff() {
    let config = Config::default().accept_backoff(Duration::from_millis(200));
    let mut reactor = Reactor::with_config(Count::default(), config).unwrap();
    let l = reactor.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = reactor.listener_addr(l).unwrap();
    let clients: Vec<_> = (0..5).map(|_| util::connect(addr)).collect();
    std::thread::sleep(Duration::from_millis(50));

    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    // Lower the limit, use up every descriptor below it, then free exactly one.
    setrlimit(
        Resource::RLIMIT_NOFILE,
        (highest_open_fd() + 16) as u64,
        hard,
    )
    .unwrap();
    let mut fillers = Vec::new();
    while let Ok(f) = std::fs::File::open("/dev/null") {
        fillers.push(f);
    }
    assert!(!fillers.is_empty(), "the limit was reached");
    fillers.pop();
    reactor.turn(Some(Duration::from_secs(5))).unwrap();
    let (accepted, errors) = (reactor.handler().accepted, reactor.stats().accept_errors);
    // Spin a few zero-wait turns: a listener that retried at once would fail again each time.
    for _ in 0..50 {
        reactor.turn(Some(Duration::ZERO)).unwrap();
    }
    let errors_after_spin = reactor.stats().accept_errors;
    setrlimit(Resource::RLIMIT_NOFILE, soft, hard).unwrap();
    drop(fillers);

    assert_eq!(accepted, 1, "one descriptor was free");
    assert_eq!(
        errors, 1,
        "the second accept hit EMFILE and paused the listener"
    );
    assert_eq!(
        errors_after_spin, 1,
        "no accept retried before the back-off"
    );
    // The reserve descriptor answered the others at once: accepted and closed, not left to
    // hang in the backlog.
    assert_eq!(reactor.stats().shed, clients.len() as u64 - 1);
    for (i, mut c) in clients.into_iter().enumerate().skip(1) {
        let mut b = [0; 1];
        let start = std::time::Instant::now();
        match std::io::Read::read(&mut c, &mut b) {
            Ok(0) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            other => panic!("client {i}: {other:?}"),
        }
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "client {i} was told at once"
        );
    }

    // After the back-off the listener resumes: a new client is served.
    let _late = util::connect(addr);
    for _ in 0..100 {
        if reactor.handler().accepted == 2 {
            break;
        }
        reactor.turn(Some(Duration::from_millis(50))).unwrap();
    }
    assert_eq!(reactor.handler().accepted, 2, "serving resumed");
}
