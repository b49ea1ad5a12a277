//! AF_INET beside AF_INET6: one dual-stack socket on `[::]` serving both families (IPv4
//! peers shown as IPv4 addresses), versus two separate sockets; the same choice for UDP.
//!
//! The wildcard `[::]` is bound because dual stack only means something there; every byte
//! still travels over loopback (127.0.0.1 and ::1).

// The library's test helpers, shared rather than copied.
#[path = "../../tests/util/mod.rs"]
mod util;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use netloop::reactor::ListenOptions;
use netloop::reactor::{ConnId, Context, DgramId, Handler, ListenerId, PeerAddr, Reactor};
use util::{ipv6_available, log, wait_until, Log, Running, STEP};

/// Echoes TCP, upper-cases UDP, and records every peer it is shown.
struct Recorder {
    peers: Log<(String, Option<SocketAddr>)>,
}

impl Handler for Recorder {
    fn on_accept(&mut self, cx: &mut Context<'_>, _: ListenerId, conn: ConnId, peer: &PeerAddr) {
        let local = cx.local_addr(conn).ok().and_then(|a| a.inet());
        self.peers.lock().unwrap().push((peer.to_string(), local));
    }
    fn on_data(&mut self, cx: &mut Context<'_>, conn: ConnId, data: &[u8]) -> usize {
        let _ = cx.write(conn, data);
        data.len()
    }
    fn on_datagram(&mut self, cx: &mut Context<'_>, socket: DgramId, data: &[u8], peer: &PeerAddr) {
        self.peers.lock().unwrap().push((peer.to_string(), None));
        let _ = cx.send_to(socket, &data.to_ascii_uppercase(), peer);
    }
}

fn dual() -> ListenOptions {
    ListenOptions::default().only_v6(false)
}

fn tcp_echo(addr: SocketAddr) -> io::Result<()> {
    let mut s = TcpStream::connect_timeout(&addr, STEP)?;
    s.set_read_timeout(Some(STEP))?;
    s.write_all(b"ping")?;
    let mut back = [0; 4];
    s.read_exact(&mut back)?;
    assert_eq!(&back, b"ping");
    Ok(())
}

#[test]
fn a_dual_stack_listener_accepts_ipv4_as_ipv4() {
    if !ipv6_available() {
        eprintln!("skipped: no IPv6 here");
        return;
    }
    let peers = log();
    let mut reactor = Reactor::new(Recorder {
        peers: peers.clone(),
    })
    .unwrap();
    let id = reactor
        .with_context(|_, cx| cx.listen_with("[::]:0".parse().unwrap(), &dual()))
        .unwrap();
    let port = reactor.listener_addr(id).unwrap().port();
    assert!(!reactor.listener_socket(id).unwrap().only_v6().unwrap());
    let _running = Running::start(reactor);

    tcp_echo(SocketAddr::from(([127, 0, 0, 1], port))).expect("IPv4 client");
    tcp_echo(format!("[::1]:{port}").parse().unwrap()).expect("IPv6 client");
    assert!(wait_until(|| peers.lock().unwrap().len() == 2));
    let seen = peers.lock().unwrap().clone();
    // The IPv4 client, its address unmapped (not [::ffff:127.0.0.1]), and the local end too.
    assert!(seen[0].0.starts_with("127.0.0.1:"), "{seen:?}");
    assert_eq!(seen[0].1, Some(SocketAddr::from(([127, 0, 0, 1], port))));
    assert!(seen[1].0.starts_with("[::1]:"), "{seen:?}");
}

#[test]
fn ipv6_only_listeners_leave_ipv4_to_a_second_socket() {
    if !ipv6_available() {
        eprintln!("skipped: no IPv6 here");
        return;
    }
    let peers = log();
    let mut reactor = Reactor::new(Recorder {
        peers: peers.clone(),
    })
    .unwrap();
    // The default: an IPv6 listener is IPv6-only, so IPv4 on the same port is free...
    let v6 = reactor.listen("[::]:0".parse().unwrap()).unwrap();
    let port = reactor.listener_addr(v6).unwrap().port();
    assert!(reactor.listener_socket(v6).unwrap().only_v6().unwrap());
    let v4 = reactor.listen(SocketAddr::from(([127, 0, 0, 1], port)));
    assert!(v4.is_ok(), "{v4:?}");
    let _running = Running::start(reactor);
    tcp_echo(SocketAddr::from(([127, 0, 0, 1], port))).expect("IPv4 client");
    tcp_echo(format!("[::1]:{port}").parse().unwrap()).expect("IPv6 client");

    // ...while a dual-stack one claims both families' port.
    let mut other = Reactor::new(Recorder { peers: log() }).unwrap();
    let both = other
        .with_context(|_, cx| cx.listen_with("[::]:0".parse().unwrap(), &dual()))
        .unwrap();
    let port = other.listener_addr(both).unwrap().port();
    let err = other
        .listen(SocketAddr::from(([127, 0, 0, 1], port)))
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
}

#[test]
fn udp_chooses_too_and_answers_ipv4_senders_through_the_dual_socket() {
    if !ipv6_available() {
        eprintln!("skipped: no IPv6 here");
        return;
    }
    let peers = log();
    let mut reactor = Reactor::new(Recorder {
        peers: peers.clone(),
    })
    .unwrap();
    let only6 = reactor.bind_udp("[::]:0".parse().unwrap()).unwrap();
    assert!(reactor.dgram_socket(only6).unwrap().only_v6().unwrap());
    let id = reactor
        .with_context(|_, cx| cx.bind_udp_with("[::]:0".parse().unwrap(), &dual()))
        .unwrap();
    let port = reactor.udp_addr(id).unwrap().port();
    assert!(!reactor.dgram_socket(id).unwrap().only_v6().unwrap());
    let _running = Running::start(reactor);

    for (client, server) in [
        ("127.0.0.1:0", SocketAddr::from(([127, 0, 0, 1], port))),
        ("[::1]:0", format!("[::1]:{port}").parse().unwrap()),
    ] {
        let c = UdpSocket::bind(client).unwrap();
        c.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut buf = [0; 16];
        // Datagrams may be lost even on loopback: a bounded number of tries.
        let got = (0..25).find_map(|_| {
            c.send_to(b"hello", server).ok()?;
            c.recv_from(&mut buf).ok()
        });
        let (n, from) = got.expect("an answer");
        assert_eq!(&buf[..n], b"HELLO");
        assert_eq!(
            from, server,
            "the answer comes from the address we wrote to"
        );
    }
    let seen = peers.lock().unwrap().clone();
    assert!(
        seen.iter().any(|(p, _)| p.starts_with("127.0.0.1:")),
        "{seen:?}"
    );
    assert!(
        seen.iter().any(|(p, _)| p.starts_with("[::1]:")),
        "{seen:?}"
    );
    assert!(!seen.iter().any(|(p, _)| p.contains("ffff")), "{seen:?}");
}

/// `netloop serve --tcp [::]:PORT --udp [::]:PORT`: one socket per address, for both
/// families (and `dual_stack: false`, the `--v6-only` flag, keeps them apart).
#[test]
fn the_course_server_on_the_ipv6_wildcard_serves_ipv4_too() {
    if !ipv6_available() {
        eprintln!("skipped: no IPv6 here");
        return;
    }
    use netloop_cli::services::{course_reactors, CourseConfig};
    let any6: SocketAddr = "[::]:0".parse().unwrap();
    let mut cfg = CourseConfig::default();
    cfg.tcp = vec![any6];
    cfg.framed = vec![];
    cfg.udp = vec![any6];
    let (mut reactors, bound) = course_reactors(&cfg).unwrap();
    let tcp: SocketAddr = bound[1].addr.parse().unwrap();
    let _running = Running::start(reactors.remove(0));
    tcp_echo(SocketAddr::from(([127, 0, 0, 1], tcp.port()))).expect("IPv4 client");
    tcp_echo(format!("[::1]:{}", tcp.port()).parse().unwrap()).expect("IPv6 client");

    cfg.dual_stack = false;
    let (_reactors, bound) = course_reactors(&cfg).unwrap();
    let tcp: SocketAddr = bound[1].addr.parse().unwrap();
    let err = tcp_echo(SocketAddr::from(([127, 0, 0, 1], tcp.port()))).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
}
