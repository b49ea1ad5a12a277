//! No descriptor, slab, timer or memory leaks over 10,000 connect/close cycles, whichever side
//! closes and however: orderly, with data in flight, abortively (a reset), and in the middle of
//! a frame.

// The library's test helpers, shared rather than copied.
#[path = "../../tests/util/mod.rs"]
mod util;

use std::io::Write;
use std::time::Duration;

use netloop::reactor::Reactor;
use netloop_cli::services::CourseServer;
use util::{connect, Running};

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// This process's resident memory, in bytes.
fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

const CYCLES: u32 = 10_000;

#[test]
fn ten_thousand_connect_close_cycles_leave_nothing_behind() {
    let mut reactor = Reactor::new(CourseServer::new()).unwrap();
    let l = reactor.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = reactor.listener_addr(l).unwrap();
    let f = reactor.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let framed = reactor.listener_addr(f).unwrap();
    reactor.handler_mut().serve_framed(f);
    let server = Running::start(reactor);
    let baseline = server.query(|_, cx| (cx.socket_count(), cx.timer_count()));
    let before = open_fds();
    let mut warm_rss = 0;
    for i in 0..CYCLES {
        if i == CYCLES / 10 {
            warm_rss = rss();
        }
        match i % 4 {
            // Orderly: talk, then close.
            0 => {
                let mut c = connect(addr);
                let msg = i.to_be_bytes();
                assert_eq!(util::echo_round_trip(&mut c, &msg), msg);
            }
            // Close with data in flight.
            1 => connect(addr).write_all(b"bye").unwrap(),
            // Abortive: SO_LINGER 0 makes the close a reset.
            2 => {
                let c = connect(addr);
                c.write_all_ref(b"x");
                socket2::SockRef::from(&c)
                    .set_linger(Some(Duration::ZERO))
                    .unwrap();
            }
            // In the middle of a frame: a header for 100 bytes, then 10 of them.
            _ => {
                let mut c = connect(framed);
                c.write_all(&[0, 0, 0, 100]).unwrap();
                c.write_all(&[1; 10]).unwrap();
            }
        }
    }
    // Every connection accepted (the last ones may still wait in the backlog) and closed.
    assert!(util::wait_until(|| {
        let s = server.handle.stats();
        s.accepted == u64::from(CYCLES) && s.active == 0
    }));
    let stats = server.handle.stats();
    assert_eq!(stats.accepted, u64::from(CYCLES));
    assert_eq!(stats.closed(), u64::from(CYCLES));
    assert!(
        stats.closed_reset > 0 && stats.closed_protocol > 0,
        "{stats:?}"
    );
    // The slab and the timer wheel are back where they started.
    let after = server.query(|_, cx| (cx.socket_count(), cx.timer_count()));
    assert_eq!(after, baseline, "(sockets, timers) before and after");
    let end_rss = rss();
    let reactor = server.stop();
    // The reactor thread's descriptors are this process's too: none left over.
    assert!(
        open_fds() <= before,
        "{} descriptors before, {} after",
        before,
        open_fds()
    );
    // Flat: no growth with the number of connections served (pooled blocks aside, which
    // stop at a handful for one connection at a time). Not under AddressSanitizer, whose
    // quarantine keeps freed memory resident on purpose.
    let sanitized = std::env::var_os("ASAN_OPTIONS").is_some();
    assert!(
        sanitized || end_rss < warm_rss + 4 * 1024 * 1024,
        "RSS grew from {warm_rss} to {end_rss} bytes over {} cycles",
        CYCLES * 9 / 10
    );
    drop(reactor);
}

/// `write_all` through a shared reference (a `TcpStream` writes through `&self` too).
trait WriteRef {
    fn write_all_ref(&self, data: &[u8]);
}

impl WriteRef for std::net::TcpStream {
    fn write_all_ref(&self, data: &[u8]) {
        let mut s = self;
        s.write_all(data).unwrap();
    }
}
