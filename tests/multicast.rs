//! Broadcast and multicast on the reactor's datagram sockets, with a blocking facade socket
//! as the sender: broadcast on the loopback's own broadcast address (127.255.255.255, which
//! never leaves the host), multicast in a private network namespace whose loopback has
//! multicast turned on (this machine's has not).

mod util;

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use netloop::addr::{set_broadcast, set_multicast_hops, Family, Group, SockType};
use netloop::reactor::{Context, DgramId, Handler, ListenOptions, PeerAddr, Reactor};
use netloop::socket::Socket;
use util::privilege::{is_child, is_root, loopback_multicast, private_network, run_child};

/// Every datagram each socket received, by socket.
#[derive(Default)]
struct Inbox(Vec<(DgramId, Vec<u8>)>);

impl Handler for Inbox {
    fn on_datagram(&mut self, _: &mut Context<'_>, socket: DgramId, data: &[u8], _: &PeerAddr) {
        self.0.push((socket, data.to_vec()));
    }
}

impl Inbox {
    fn got(&self, socket: DgramId) -> Vec<Vec<u8>> {
        let mine = self.0.iter().filter(|(s, _)| *s == socket);
        mine.map(|(_, d)| d.clone()).collect()
    }
}

/// Turn for `wait` (bounded), or until `done` says so.
fn turn_until(r: &mut Reactor<Inbox>, wait: Duration, done: impl Fn(&Inbox) -> bool) {
    let end = Instant::now() + wait;
    while Instant::now() < end && !done(r.handler()) {
        r.turn(Some(Duration::from_millis(10))).unwrap();
    }
}

/// Bind a UDP socket to `addr` that other sockets may share (`SO_REUSEPORT`), as every
/// member of a group, or every receiver of a broadcast, on one port must.
fn bind_shared(r: &mut Reactor<Inbox>, addr: SocketAddr) -> DgramId {
    let opts = ListenOptions::default().reuse_port(true);
    r.with_context(|_, cx| cx.bind_udp_with(addr, &opts))
        .unwrap()
}

fn udp_sender() -> Socket {
    Socket::new(Family::Inet, SockType::Dgram, None).unwrap()
}

#[test]
fn a_broadcast_reaches_every_socket_bound_to_the_broadcast_address() {
    let mut r = Reactor::new(Inbox::default()).unwrap();
    let first = bind_shared(&mut r, "127.255.255.255:0".parse().unwrap());
    let port = r.udp_addr(first).unwrap().port();
    let to = SocketAddr::from(([127, 255, 255, 255], port));
    let second = bind_shared(&mut r, to);
    let sender = udp_sender();
    // Without SO_BROADCAST the kernel refuses, as it does Python's sendto.
    let e = sender.sendto(b"no", to).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
    set_broadcast(&sender, true).unwrap();
    sender.sendto(b"hello, everyone", to).unwrap();
    turn_until(&mut r, Duration::from_secs(5), |h| h.0.len() == 2);
    for s in [first, second] {
        assert_eq!(r.handler().got(s), vec![b"hello, everyone".to_vec()]);
    }
}

#[test]
fn multicast_in_a_private_network() {
    if !is_root() {
        eprintln!("skipped: a private network namespace needs root");
        return;
    }
    assert!(run_child("child_multicast"));
}

#[test]
#[ignore = "runs only as the child of multicast_in_a_private_network"]
fn child_multicast() {
    if !is_child() {
        return;
    }
    private_network((1, 0)).expect("private network");
    loopback_multicast().expect("multicast on lo");
    let lo = Ipv4Addr::LOCALHOST;
    let group = Group::v4("239.1.2.3".parse().unwrap(), lo).unwrap();
    let mut r = Reactor::new(Inbox::default()).unwrap();
    // Three members bound to the group's address and one port.
    let a = bind_shared(&mut r, "239.1.2.3:0".parse().unwrap());
    let port = r.udp_addr(a).unwrap().port();
    let b = bind_shared(&mut r, group.socket_addr(port));
    let c = bind_shared(&mut r, group.socket_addr(port));
    for s in [a, b, c] {
        group.join(r.dgram_socket(s).unwrap()).unwrap();
    }
    // Joining twice is the kernel's EADDRINUSE, passed on.
    assert!(group.join(r.dgram_socket(a).unwrap()).is_err());
    group.leave(r.dgram_socket(c).unwrap()).unwrap();
    let sender = udp_sender();
    group.send_through(&sender).unwrap();
    set_multicast_hops(&sender, 1).unwrap();
    sender
        .sendto(b"to the group", group.socket_addr(port))
        .unwrap();
    turn_until(&mut r, Duration::from_secs(5), |h| h.0.len() >= 2);
    // Then long enough for a stray copy to the one that left to have arrived.
    turn_until(&mut r, Duration::from_millis(200), |_| false);
    assert_eq!(r.handler().got(a), vec![b"to the group".to_vec()]);
    assert_eq!(r.handler().got(b), vec![b"to the group".to_vec()]);
    assert!(r.handler().got(c).is_empty(), "it left the group");
    // IPv6: joining and leaving change the loopback's memberships (IPv6 multicast is not
    // delivered over a loopback, so only the membership is checked).
    let g6 = Group::v6("ff15::1:2".parse::<Ipv6Addr>().unwrap(), 1).unwrap();
    let v6 = r.bind_udp("[::1]:0".parse().unwrap()).unwrap();
    let member = || {
        let table = std::fs::read_to_string("/proc/thread-self/net/igmp6").unwrap();
        table
            .lines()
            .any(|l| l.contains("ff150000000000000000000000010002"))
    };
    assert!(!member());
    g6.join(r.dgram_socket(v6).unwrap()).unwrap();
    assert!(member(), "joined");
    g6.leave(r.dgram_socket(v6).unwrap()).unwrap();
    assert!(!member(), "left");
}
