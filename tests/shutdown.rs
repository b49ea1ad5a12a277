//! Graceful shutdown: no new connections, every queued byte delivered, then the reactor stops.

mod util;

use std::io::Read;
use std::time::Duration;

use netloop::reactor::{ConnId, Context, Handler, Reactor};
use util::{connect, Running};

/// On the first byte from a client, queues `size` bytes for it.
struct Big {
    size: usize,
}

impl Handler for Big {
    fn on_data(&mut self, cx: &mut Context<'_>, conn: ConnId, data: &[u8]) -> usize {
        cx.write_owned(conn, util::pattern(1, self.size)).unwrap();
        data.len()
    }
}

#[test]
fn graceful_shutdown_delivers_all_queued_output_then_stops() {
    const SIZE: usize = 16 * 1024 * 1024;
    let mut reactor = Reactor::new(Big { size: SIZE }).unwrap();
    let l = reactor.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = reactor.listener_addr(l).unwrap();
    let server = Running::start(reactor);

    let mut c = connect(addr);
    std::io::Write::write_all(&mut c, b"go").unwrap();
    // Wait until the reply is queued (far more than the socket buffers hold).
    assert!(util::wait_until(|| server.handle.stats().bytes_out > 0));
    // An unbounded grace: wait as long as it takes (must not overflow into no grace at all).
    server.handle.shutdown(Duration::MAX).unwrap();

    // New connections are refused once the listener is closed.
    assert!(util::wait_until(
        || std::net::TcpStream::connect(addr).is_err()
    ));
    // The slow client still gets every byte, then end of file.
    let got = util::read_to_eof(&mut c).unwrap();
    assert_eq!(got.len(), SIZE);
    assert!(got == util::pattern(1, SIZE));
    let reactor = server.join();
    assert_eq!(reactor.stats().active, 0);
    assert_eq!(reactor.stats().closed_local, 1);
}

#[test]
fn grace_period_bounds_the_wait_for_a_peer_that_never_reads() {
    // One reply of 64 MiB, past the default cap on queued output: raised for this handler.
    let config = netloop::Config::default().max_queued(128 << 20);
    let mut reactor = Reactor::with_config(
        Big {
            size: 64 * 1024 * 1024,
        },
        config,
    )
    .unwrap();
    let l = reactor.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = reactor.listener_addr(l).unwrap();
    let server = Running::start(reactor);
    let mut c = connect(addr);
    std::io::Write::write_all(&mut c, b"go").unwrap();
    assert!(util::wait_until(|| server.handle.stats().bytes_out > 0));
    server.handle.shutdown(Duration::from_millis(200)).unwrap();
    // The reactor stops by itself after the grace period, with the connection closed.
    let reactor = server.join();
    assert_eq!(reactor.stats().active, 0);
    let mut sink = Vec::new();
    let _ = c.read_to_end(&mut sink);
    assert!(
        sink.len() < 64 * 1024 * 1024,
        "the queued output was cut off"
    );
}

#[test]
fn handle_reads_stats_while_the_reactor_runs() {
    let reactor = Reactor::new(Big { size: 10 }).unwrap();
    let server = Running::start(reactor);
    // Stats are published at the end of every turn; a stop message makes a turn.
    assert_eq!(server.handle.stats().accepted, 0);
    let reactor = server.stop();
    assert_eq!(reactor.stats().accepted, 0);
}

#[test]
fn a_finished_shutdown_leaves_the_reactor_ready_to_run_again() {
    let mut reactor = Reactor::new(Big { size: 10 }).unwrap();
    reactor.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    // Nothing open: the shutdown completes at once and run() returns at once.
    reactor.shutdown(Duration::from_secs(3600));
    reactor.run().unwrap();
    assert!(!reactor.with_context(|_, cx| cx.is_shutting_down()));
    // New listener, new connection, served normally; no stale deadline closes it.
    let l = reactor.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = reactor.listener_addr(l).unwrap();
    let server = Running::start(reactor);
    let mut c = connect(addr);
    std::io::Write::write_all(&mut c, b"x").unwrap();
    assert_eq!(util::read_n(&mut c, 10), util::pattern(1, 10));
    server.stop();
}

/// Replies with a large answer and closes, while the client is still sending.
struct AnswerAndClose;

impl Handler for AnswerAndClose {
    fn on_data(&mut self, cx: &mut Context<'_>, conn: ConnId, data: &[u8]) -> usize {
        if cx.queued(conn) == 0 && cx.is_open(conn) {
            cx.write_owned(conn, util::pattern(9, 4 * 1024 * 1024))
                .unwrap();
            cx.close(conn);
        }
        data.len()
    }
}

#[test]
fn close_while_the_peer_still_sends_does_not_reset_away_the_reply() {
    let mut reactor = Reactor::new(AnswerAndClose).unwrap();
    let l = reactor.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = reactor.listener_addr(l).unwrap();
    let server = Running::start(reactor);
    let mut c = connect(addr);
    let mut w = c.try_clone().unwrap();
    // The client keeps sending (bounded: 8 MiB) while the server answers and closes; unread
    // input at close time would make the kernel reset the connection.
    let writer = std::thread::spawn(move || {
        let chunk = [7u8; 64 * 1024];
        for _ in 0..128 {
            if std::io::Write::write_all(&mut w, &chunk).is_err() {
                break;
            }
        }
        let _ = w.shutdown(std::net::Shutdown::Write);
    });
    let got = util::read_to_eof(&mut c).expect("the whole reply, then end of file");
    assert_eq!(got.len(), 4 * 1024 * 1024);
    assert!(got == util::pattern(9, 4 * 1024 * 1024));
    writer.join().unwrap();
    let reactor = server.stop();
    assert_eq!(
        reactor.stats().closed_local + reactor.stats().closed_peer,
        1
    );
}
