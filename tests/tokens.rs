//! A token never delivers an event to a socket other than the one it was registered for, and an
//! id never reaches another connection: a closed connection's slot stays taken (marked closed)
//! until the end of the turn that closed it, so a stale event later in the same batch finds
//! the closed mark, and a later reuse of the slot carries a new generation.

mod util;

use std::io::Write;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use netloop::reactor::{ConnId, Context, DgramId, Handler, ListenerId, Reactor};
use netloop::CloseReason;
use util::connect;

#[derive(Default)]
struct Reuse {
    addr: Option<SocketAddr>,
    accepted: Vec<ConnId>,
    /// Armed by the test for the turn in which both connections are readable.
    armed: bool,
    /// (conn, bytes) for every on_data call.
    data: Vec<(ConnId, Vec<u8>)>,
    /// A UDP socket with a datagram already waiting in its receive queue, registered by the
    /// handler in the slot it just freed.
    spare: Option<UdpSocket>,
    /// (aborted connection, the UDP socket that took its slot)
    swap: Option<(ConnId, DgramId)>,
    dgrams: Vec<(DgramId, Vec<u8>)>,
    closed: Vec<(ConnId, String)>,
}

impl Handler for Reuse {
    fn on_accept(
        &mut self,
        _: &mut Context<'_>,
        _: ListenerId,
        conn: ConnId,
        _: &netloop::reactor::PeerAddr,
    ) {
        self.accepted.push(conn);
    }

    fn on_data(&mut self, cx: &mut Context<'_>, conn: ConnId, data: &[u8]) -> usize {
        self.data.push((conn, data.to_vec()));
        if std::mem::take(&mut self.armed) {
            // The other accepted connection also has an event waiting in this very batch.
            let other = *self
                .accepted
                .iter()
                .find(|&&c| c != conn)
                .expect("two connections");
            cx.abort(other);
            // Its slot stays taken until the end of this turn, so the next registration goes
            // elsewhere. The new socket is readable already: were the stale event for `other`
            // handed to it, its datagram would be read in this very turn.
            let fresh = cx.add_udp(self.spare.take().unwrap()).expect("add_udp");
            self.swap = Some((other, fresh));
        }
        data.len()
    }

    fn on_datagram(
        &mut self,
        _: &mut Context<'_>,
        s: DgramId,
        data: &[u8],
        _: &netloop::reactor::PeerAddr,
    ) {
        self.dgrams.push((s, data.to_vec()));
    }

    fn on_close(&mut self, _: &mut Context<'_>, conn: ConnId, reason: &CloseReason) {
        self.closed.push((conn, reason.to_string()));
    }
}

#[test]
fn stale_event_for_a_reused_slot_is_not_delivered_to_the_new_socket() {
    let mut reactor = Reactor::new(Reuse::default()).unwrap();
    let l = reactor.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = reactor.listener_addr(l).unwrap();
    reactor.handler_mut().addr = Some(addr);
    let spare = UdpSocket::bind("127.0.0.1:0").unwrap();
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .send_to(b"waiting", spare.local_addr().unwrap())
        .unwrap();
    reactor.handler_mut().spare = Some(spare);

    let mut c1 = connect(addr);
    let mut c2 = connect(addr);
    for _ in 0..200 {
        if reactor.handler().accepted.len() == 2 {
            break;
        }
        reactor.turn(Some(Duration::from_millis(10))).unwrap();
    }
    assert_eq!(reactor.handler().accepted.len(), 2);

    // Make both connections readable before the next poll, so that their events arrive in
    // one batch.
    c1.write_all(b"one").unwrap();
    c2.write_all(b"two").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    reactor.handler_mut().armed = true;
    let events = reactor.turn(Some(Duration::from_secs(5))).unwrap();
    assert!(
        events >= 2,
        "both readable events in one batch (got {events})"
    );

    let h = reactor.handler();
    let (aborted, fresh) = h.swap.expect("the first on_data ran");
    assert_ne!(
        fresh.index(),
        aborted.index(),
        "a slot closed in this turn is not reused in this turn"
    );
    // Exactly one on_data in that turn: the aborted connection's event was dropped as stale
    // instead of reaching the new socket in its slot.
    assert_eq!(h.data.len(), 1, "{:?}", h.data);
    assert_ne!(h.data[0].0, aborted);
    assert!(
        h.dgrams.is_empty(),
        "stale event reached the new socket: {:?}",
        h.dgrams
    );
    assert_eq!(h.closed.len(), 1);
    assert_eq!(h.closed[0].0, aborted);
    assert_eq!(h.closed[0].1, CloseReason::Local.to_string());

    // The new socket gets its own event in the next turn, and the old id stays dead.
    for _ in 0..100 {
        if !reactor.handler().dgrams.is_empty() {
            break;
        }
        reactor.turn(Some(Duration::from_millis(10))).unwrap();
    }
    assert_eq!(reactor.handler().dgrams, vec![(fresh, b"waiting".to_vec())]);
    // Now the slot is free: a new socket takes it, with a new generation, and the old id
    // still reaches nothing.
    let reused = reactor
        .with_context(|_, cx| cx.bind_udp("127.0.0.1:0".parse().unwrap()))
        .unwrap();
    assert_eq!(reused.index(), aborted.index(), "the freed slot is reused");
    assert_ne!(reused.to_string(), aborted.to_string());
    reactor.with_context(|_, cx| {
        assert!(!cx.is_open(aborted));
        assert_eq!(
            cx.write(aborted, b"x").unwrap_err().kind(),
            std::io::ErrorKind::NotConnected
        );
        assert!(cx.udp_addr(reused).is_ok());
    });
}
