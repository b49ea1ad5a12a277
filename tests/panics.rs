//! A handler that panics closes only the connection it was handling; the reactor keeps
//! serving the others.

mod util;

use std::io::{Read, Write};
use std::net::UdpSocket;

use netloop::reactor::{ConnId, Context, DgramId, Handler, Reactor};
use netloop::CloseReason;
use util::{connect, Running, STEP};

#[derive(Default)]
struct Fragile {
    closes: Vec<String>,
}

impl Handler for Fragile {
    fn on_data(&mut self, cx: &mut Context<'_>, conn: ConnId, data: &[u8]) -> usize {
        if data.starts_with(b"boom") {
            panic!("asked to explode");
        }
        cx.write(conn, data).unwrap();
        data.len()
    }
    fn on_datagram(
        &mut self,
        cx: &mut Context<'_>,
        s: DgramId,
        data: &[u8],
        peer: &netloop::reactor::PeerAddr,
    ) {
        if data == b"boom" {
            panic!("datagram bomb");
        }
        cx.send_to(s, data, peer).unwrap();
    }
    fn on_close(&mut self, _: &mut Context<'_>, _: ConnId, reason: &CloseReason) {
        self.closes.push(reason.to_string());
    }
}

#[test]
fn a_panicking_handler_closes_its_connection_and_the_rest_carry_on() {
    let mut reactor = Reactor::new(Fragile::default()).unwrap();
    let l = reactor.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = reactor.listener_addr(l).unwrap();
    let u = reactor.bind_udp("127.0.0.1:0".parse().unwrap()).unwrap();
    let uaddr = reactor.udp_addr(u).unwrap();
    let server = Running::start(reactor);

    let mut good = connect(addr);
    assert_eq!(util::echo_round_trip(&mut good, b"hello"), b"hello");
    let mut bad = connect(addr);
    bad.write_all(b"boom").unwrap();
    let mut b = [0; 1];
    assert_eq!(
        bad.read(&mut b).unwrap_or(0),
        0,
        "the panicking connection is closed"
    );

    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(STEP)).unwrap();
    udp.send_to(b"boom", uaddr).unwrap();
    udp.send_to(b"still here?", uaddr).unwrap();
    let mut buf = [0; 64];
    let (n, _) = udp.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"still here?");

    assert_eq!(util::echo_round_trip(&mut good, b"after"), b"after");
    let reactor = server.stop();
    assert_eq!(reactor.stats().handler_panics, 2);
    assert_eq!(reactor.stats().closed_panic, 1);
    assert_eq!(
        reactor.handler().closes,
        vec!["handler panicked: asked to explode".to_string()]
    );
}
