//! UDP offload on the reactor (`Config::udp_offload` with `udp_batching`): two reactors on
//! loopback, each sending the next datagram from `on_datagram`, so that the replies of one
//! receive batch go as one run the kernel cuts (`UDP_SEGMENT`) and arrive glued at the other
//! (`UDP_GRO`), to be cut apart again. Every datagram must arrive whole, once, in order, to a
//! handler that sees one `on_datagram` per datagram, as without offload.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use netloop::reactor::{Config, ConnId, Context, DgramId, Handler, ListenerId, PeerAddr, Reactor};

/// Datagram `seq`: 1,200 bytes (every seventh 700, which ends a run), each byte from `seq`.
fn datagram(seq: u64) -> Vec<u8> {
    let len = if seq % 7 == 6 { 700 } else { 1200 };
    let mut d = vec![(seq % 251) as u8; len];
    d[..8].copy_from_slice(&seq.to_be_bytes());
    d
}

/// Sends `datagram(seq)` in order, keeping `window` unanswered, and checks each echo.
struct Client {
    server: SocketAddr,
    socket: Option<DgramId>,
    next: u64,
    answered: u64,
    window: u64,
    want: u64,
    wrong: Vec<String>,
}

impl Client {
    fn send_more(&mut self, cx: &mut Context<'_>) {
        let Some(id) = self.socket else { return };
        while self.next < self.want && self.next - self.answered < self.window {
            cx.send_to(id, &datagram(self.next), PeerAddr::Inet(self.server))
                .unwrap();
            self.next += 1;
        }
    }
}

impl Handler for Client {
    fn on_accept(&mut self, _: &mut Context<'_>, _: ListenerId, _: ConnId, _: &PeerAddr) {}

    fn on_datagram(&mut self, cx: &mut Context<'_>, _: DgramId, data: &[u8], _: &PeerAddr) {
        if data != datagram(self.answered) {
            self.wrong.push(format!(
                "reply {} is {} bytes starting {:?}",
                self.answered,
                data.len(),
                &data[..data.len().min(8)]
            ));
        }
        self.answered += 1;
        self.send_more(cx);
    }
}

/// Echoes every datagram to its sender.
struct Echo;

impl Handler for Echo {
    fn on_accept(&mut self, _: &mut Context<'_>, _: ListenerId, _: ConnId, _: &PeerAddr) {}

    fn on_datagram(&mut self, cx: &mut Context<'_>, id: DgramId, data: &[u8], from: &PeerAddr) {
        cx.send_to(id, data, from.clone()).unwrap();
    }
}

/// Run `want` datagrams through a client and an echo server, both with `config`; returns
/// both reactors' stats after.
fn exchange(config: Config, want: u64) -> (netloop::reactor::Stats, netloop::reactor::Stats) {
    let mut server = Reactor::with_config(Echo, config).unwrap();
    let sid = server.bind_udp("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.udp_addr(sid).unwrap();
    let mut client = Reactor::with_config(
        Client {
            server: addr,
            socket: None,
            next: 0,
            answered: 0,
            window: 40,
            want,
            wrong: Vec::new(),
        },
        config,
    )
    .unwrap();
    let cid = client.bind_udp("127.0.0.1:0".parse().unwrap()).unwrap();
    client.with_context(|c, cx| {
        c.socket = Some(cid);
        c.send_more(cx);
    });
    let end = Instant::now() + Duration::from_secs(30);
    while client.handler().answered < want && Instant::now() < end {
        server.turn(Some(Duration::from_millis(1))).unwrap();
        client.turn(Some(Duration::from_millis(1))).unwrap();
    }
    let c = client.handler();
    assert!(c.wrong.is_empty(), "{:?}", &c.wrong[..c.wrong.len().min(5)]);
    assert_eq!(c.answered, want, "every datagram answered, none twice");
    (*server.stats(), *client.stats())
}

#[test]
fn offloaded_runs_arrive_whole_in_order_one_callback_each() {
    let want = 3000;
    let config = Config::default().udp_batching(true).udp_offload(true);
    let (server, client) = exchange(config, want);
    assert_eq!(server.datagrams_in, want);
    assert_eq!(server.datagrams_out, want);
    // Both mechanisms were at work, both ways (the first datagrams went one by one, from
    // outside any receive batch).
    eprintln!(
        "server: {} segmented out, {} glued in; client: {} and {}",
        server.datagrams_segmented_out,
        server.datagrams_glued_in,
        client.datagrams_segmented_out,
        client.datagrams_glued_in
    );
    assert!(server.datagrams_segmented_out > 0, "{server:?}");
    assert!(client.datagrams_segmented_out > 0, "{client:?}");
    assert!(server.datagrams_glued_in > 0, "{server:?}");
    assert!(client.datagrams_glued_in > 0, "{client:?}");
}

#[test]
fn without_offload_nothing_is_glued_or_segmented() {
    let want = 500;
    let config = Config::default().udp_batching(true).udp_offload(false);
    let (server, client) = exchange(config, want);
    assert_eq!(server.datagrams_in, want);
    for s in [server, client] {
        assert_eq!(s.datagrams_segmented_out, 0);
        assert_eq!(s.datagrams_glued_in, 0);
    }
}

/// Closes its socket at the first datagram, and counts every call it gets.
#[derive(Default)]
struct Closer {
    calls: Vec<DgramId>,
    closed: bool,
}

impl Handler for Closer {
    fn on_accept(&mut self, _: &mut Context<'_>, _: ListenerId, _: ConnId, _: &PeerAddr) {}

    fn on_datagram(&mut self, cx: &mut Context<'_>, id: DgramId, _: &[u8], from: &PeerAddr) {
        self.calls.push(id);
        if !self.closed {
            // A reply gathered before the close still goes.
            cx.send_to(id, b"bye", from.clone()).unwrap();
            cx.close_dgram(id).unwrap();
            self.closed = true;
        }
    }
}

/// On a trigger, sends `n` datagrams of 1,200 bytes to `to` from one receive batch (so that
/// they go as one segmented run, with offload).
struct Burst {
    to: SocketAddr,
    n: usize,
}

impl Handler for Burst {
    fn on_accept(&mut self, _: &mut Context<'_>, _: ListenerId, _: ConnId, _: &PeerAddr) {}

    fn on_datagram(&mut self, cx: &mut Context<'_>, id: DgramId, _: &[u8], _: &PeerAddr) {
        for _ in 0..self.n {
            cx.send_to(id, &[7; 1200], PeerAddr::Inet(self.to)).unwrap();
        }
    }
}

#[test]
fn a_handler_that_closes_its_socket_hears_no_more_of_the_batch() {
    let config = Config::default().udp_batching(true).udp_offload(true);
    // Plain datagrams, several to a receive batch; then a glued run, several to a slot.
    for glued in [false, true] {
        let mut closer = Reactor::with_config(Closer::default(), config).unwrap();
        let id = closer.bind_udp("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = closer.udp_addr(id).unwrap();
        let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        if glued {
            let mut burst = Reactor::with_config(Burst { to: addr, n: 10 }, config).unwrap();
            let bid = burst.bind_udp("127.0.0.1:0".parse().unwrap()).unwrap();
            peer.send_to(b"go", burst.udp_addr(bid).unwrap()).unwrap();
            let end = Instant::now() + Duration::from_secs(10);
            while burst.stats().datagrams_out < 10 && Instant::now() < end {
                burst.turn(Some(Duration::from_millis(10))).unwrap();
            }
            assert_eq!(
                burst.stats().datagrams_segmented_out,
                10,
                "{:?}",
                burst.stats()
            );
        } else {
            // On loopback each datagram is queued at the receiver before `send_to` returns
            // (unless the kernel defers its delivery under load: then the first batch may
            // hold fewer, and this half checks less, but it cannot fail falsely).
            for _ in 0..8 {
                peer.send_to(&[1; 100], addr).unwrap();
            }
        }
        let end = Instant::now() + Duration::from_secs(10);
        while closer.handler().calls.is_empty() && Instant::now() < end {
            closer.turn(Some(Duration::from_millis(10))).unwrap();
        }
        for _ in 0..5 {
            closer.turn(Some(Duration::from_millis(10))).unwrap();
        }
        let stats = closer.stats();
        if glued {
            assert_eq!(
                stats.datagrams_glued_in, 10,
                "the run arrived glued: {stats:?}"
            );
        } else {
            assert_eq!(stats.datagrams_glued_in, 0);
        }
        assert_eq!(
            closer.handler().calls,
            vec![id],
            "one call, then the socket was closed"
        );
        if !glued {
            // The reply gathered before the close went out.
            let mut buf = [0; 16];
            peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let (n, _) = peer.recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..n], b"bye");
        }
    }
}
