//! A server's reactors share one listening socket, and connections spread evenly over them
//! whatever their arrival pattern: one at a time (short or long-lived), in bursts, or long
//! and short mixed. The socket stays this process's alone: a second bind of the address
//! fails with "address in use".

mod util;

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use netloop::reactor::{Config, ConnId, Context, Handler, Reactor, Stats};
use netloop::server::{bind_tcp, Server};
use util::{connect, echo_round_trip, STEP};

struct Echo;

impl Handler for Echo {
    fn on_data(&mut self, cx: &mut Context<'_>, conn: ConnId, data: &[u8]) -> usize {
        let _ = cx.write(conn, data);
        data.len()
    }
}

/// Two reactors serving one shared listener, and its address.
fn server() -> (Server<Echo>, SocketAddr) {
    let mut reactors = vec![
        Reactor::with_config(Echo, Config::default()).unwrap(),
        Reactor::with_config(Echo, Config::default()).unwrap(),
    ];
    let addr = "127.0.0.1:0".parse().unwrap();
    let (_, bound) = bind_tcp(&mut reactors, addr, Default::default()).unwrap();
    (Server::start(reactors).unwrap(), bound)
}

/// Each reactor's counters once `done` holds for them (at most STEP).
fn settled(server: &Server<Echo>, done: impl Fn(&[Stats]) -> bool) -> Vec<Stats> {
    let start = std::time::Instant::now();
    loop {
        let stats = server.stats_per_reactor();
        if done(&stats) {
            return stats;
        }
        assert!(start.elapsed() < STEP, "never settled: {stats:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn accepted(stats: &[Stats]) -> Vec<u64> {
    stats.iter().map(|s| s.accepted).collect()
}

fn active(stats: &[Stats]) -> Vec<u64> {
    stats.iter().map(|s| s.active).collect()
}

fn within(counts: &[u64], each: u64, slack: u64) -> bool {
    counts.iter().all(|&c| c.abs_diff(each) <= slack)
}

#[test]
fn serial_short_connections_split_evenly() {
    let (server, addr) = server();
    for i in 0..20u8 {
        let mut c = connect(addr);
        assert_eq!(echo_round_trip(&mut c, &[i; 10]), [i; 10]);
    }
    let stats = settled(&server, |s| s.iter().map(|s| s.accepted).sum::<u64>() == 20);
    assert!(within(&accepted(&stats), 10, 1), "{:?}", accepted(&stats));
    server.stop();
    server.join().unwrap();
}

#[test]
fn serial_long_lived_connections_split_evenly() {
    let (server, addr) = server();
    let mut open: Vec<TcpStream> = Vec::new();
    for i in 0..20u8 {
        let mut c = connect(addr);
        assert_eq!(echo_round_trip(&mut c, &[i; 10]), [i; 10]);
        open.push(c);
    }
    let stats = settled(&server, |s| s.iter().map(|s| s.active).sum::<u64>() == 20);
    assert!(within(&active(&stats), 10, 1), "{:?}", active(&stats));
    // Long and short mixed: each short one closes before the next comes, and the long ones
    // still spread.
    for i in 0..20u8 {
        let mut c = connect(addr);
        assert_eq!(echo_round_trip(&mut c, &[i; 10]), [i; 10]);
        if i % 2 == 0 {
            open.push(c);
        }
    }
    let stats = settled(&server, |s| {
        s.iter().map(|s| s.accepted).sum::<u64>() == 40
            && s.iter().map(|s| s.active).sum::<u64>() == 30
    });
    assert!(within(&active(&stats), 15, 1), "{:?}", active(&stats));
    drop(open);
    server.stop();
    server.join().unwrap();
}

#[test]
fn bursts_split_within_ten_percent() {
    let (server, addr) = server();
    let mut seen = vec![0, 0];
    for round in 0..3u8 {
        // 64 connects at once, then one echo on each.
        let mut burst: Vec<TcpStream> = (0..64).map(|_| connect(addr)).collect();
        for c in &mut burst {
            assert_eq!(echo_round_trip(c, &[round; 8]), [round; 8]);
        }
        let total = 64 * (u64::from(round) + 1);
        let stats = settled(&server, |s| {
            s.iter().map(|s| s.accepted).sum::<u64>() == total
        });
        let now = accepted(&stats);
        let this: Vec<u64> = now.iter().zip(&seen).map(|(n, s)| n - s).collect();
        // ±10% of an even split: 32 ± 3.
        assert!(within(&this, 32, 3), "round {round}: {this:?}");
        seen = now;
        // Closed, and the close seen, before the next burst.
        drop(burst);
        settled(&server, |s| s.iter().all(|s| s.active == 0));
    }
    server.stop();
    server.join().unwrap();
}

#[test]
fn the_address_stays_this_process_s_alone() {
    let (server, addr) = server();
    let e = std::net::TcpListener::bind(addr).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
    // SO_REUSEPORT does not get in either.
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.set_reuse_port(true).unwrap();
    let e = s.bind(&addr.into()).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
    server.stop();
    server.join().unwrap();
}
