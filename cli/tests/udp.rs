//! The course's UDP upper-casing server on the reactor, over real loopback sockets.

// The library's test helpers, shared rather than copied.
#[path = "../../tests/util/mod.rs"]
mod util;

use std::net::{SocketAddr, UdpSocket};

use netloop::reactor::Reactor;
use netloop_cli::services::CourseServer;
use util::{Running, STEP};

fn start(addr: &str) -> (Running<CourseServer>, SocketAddr) {
    let mut reactor = Reactor::new(CourseServer::new()).unwrap();
    let id = reactor.bind_udp(addr.parse().unwrap()).unwrap();
    let addr = reactor.udp_addr(id).unwrap();
    (Running::start(reactor), addr)
}

fn client(server: SocketAddr) -> UdpSocket {
    let bind = if server.is_ipv6() {
        "[::1]:0"
    } else {
        "127.0.0.1:0"
    };
    let s = UdpSocket::bind(bind).unwrap();
    s.set_read_timeout(Some(STEP)).unwrap();
    s
}

fn ask(s: &UdpSocket, server: SocketAddr, msg: &[u8]) -> (Vec<u8>, SocketAddr) {
    s.send_to(msg, server).unwrap();
    let mut buf = vec![0; 65536];
    let (n, from) = s.recv_from(&mut buf).expect("reply");
    buf.truncate(n);
    (buf, from)
}

#[test]
fn mixed_case_string_comes_back_upper_cased_from_the_server() {
    let (_server, addr) = start("127.0.0.1:0");
    let c = client(addr);
    let (reply, from) = ask(&c, addr, b"MixedCaseString");
    assert_eq!(reply, b"MIXEDCASESTRING");
    assert_eq!(from, addr);
}

#[test]
fn zero_byte_datagram_gets_a_zero_byte_reply() {
    let (_server, addr) = start("127.0.0.1:0");
    let c = client(addr);
    let (reply, from) = ask(&c, addr, b"");
    assert!(reply.is_empty());
    assert_eq!(from, addr);
    // The socket still works after it.
    assert_eq!(ask(&c, addr, b"ok").0, b"OK");
}

#[test]
fn largest_ipv4_datagram_65507_bytes_round_trips() {
    let (_server, addr) = start("127.0.0.1:0");
    let c = client(addr);
    let msg: Vec<u8> = (0..65507u32).map(|i| b"abcXYZ09"[i as usize % 8]).collect();
    let (reply, _) = ask(&c, addr, &msg);
    assert_eq!(reply.len(), 65507);
    let expected: Vec<u8> = msg.iter().map(u8::to_ascii_uppercase).collect();
    assert_eq!(reply, expected);
}

#[test]
fn many_clients_each_get_their_own_reply() {
    let (server, addr) = start("127.0.0.1:0");
    let clients: Vec<UdpSocket> = (0..20).map(|_| client(addr)).collect();
    for (i, c) in clients.iter().enumerate() {
        c.send_to(format!("client-{i}").as_bytes(), addr).unwrap();
    }
    for (i, c) in clients.iter().enumerate() {
        let mut buf = [0; 64];
        let (n, _) = c.recv_from(&mut buf).expect("reply");
        assert_eq!(&buf[..n], format!("CLIENT-{i}").as_bytes());
    }
    let reactor = server.stop();
    assert_eq!(reactor.stats().datagrams_in, 20);
    assert_eq!(reactor.stats().datagrams_out, 20);
}

#[test]
fn ipv6_loopback() {
    if !util::ipv6_available() {
        eprintln!("skipped: no IPv6 loopback on this machine");
        return;
    }
    let (_server, addr) = start("[::1]:0");
    let c = client(addr);
    assert_eq!(ask(&c, addr, b"v6 works").0, b"V6 WORKS");
}

/// `Config::udp_batching`: bursts of datagrams are taken many per call and the replies go
/// out together; every one is answered, in order per sender.
#[test]
fn batched_datagrams_are_all_answered_in_order() {
    use netloop_cli::services::CourseServer;
    let mut reactor = netloop::Reactor::with_config(
        CourseServer::new(),
        netloop::Config::default().udp_batching(true),
    )
    .unwrap();
    let id = reactor.bind_udp("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = reactor.udp_addr(id).unwrap();
    let _running = util::Running::start(reactor);
    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    // A burst larger than one batch, sent before any reply is read.
    let n = 40;
    for i in 0..n {
        client
            .send_to(format!("msg {i:03}").as_bytes(), addr)
            .unwrap();
    }
    let mut buf = [0u8; 64];
    for i in 0..n {
        let (len, from) = client.recv_from(&mut buf).unwrap();
        assert_eq!(from, addr);
        assert_eq!(&buf[..len], format!("MSG {i:03}").as_bytes());
    }
}
