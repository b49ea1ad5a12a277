//! One session object per connection, with its own state, as socketserver's request handlers.

mod util;

use netloop::reactor::{ConnId, Context, Handler, Reactor};
use netloop::server::Sessions;
use netloop::CloseReason;
use util::{connect, Running};

fn ask(s: &mut std::net::TcpStream, line: &[u8], expect: &[u8]) {
    std::io::Write::write_all(s, line).unwrap();
    assert_eq!(util::read_n(s, expect.len()), expect);
}

/// Numbers each line it echoes, per connection.
struct Numbered {
    next: u32,
    peer: String,
}

impl Handler for Numbered {
    fn on_data(&mut self, cx: &mut Context<'_>, conn: ConnId, data: &[u8]) -> usize {
        let mut used = 0;
        while let Some(i) = data[used..].iter().position(|&b| b == b'\n') {
            let line = &data[used..used + i];
            self.next += 1;
            let reply = format!("{} {}\n", self.next, String::from_utf8_lossy(line));
            cx.write(conn, reply.as_bytes()).unwrap();
            used += i + 1;
        }
        used
    }
    fn on_close(&mut self, _: &mut Context<'_>, _: ConnId, reason: &CloseReason) {
        println!("{} closed: {reason}", self.peer);
    }
}

#[test]
fn each_connection_gets_its_own_session_state() {
    let factory = |_l, peer: Option<&netloop::reactor::PeerAddr>| Numbered {
        next: 0,
        peer: peer.map(|p| p.to_string()).unwrap_or_default(),
    };
    let mut reactor = Reactor::new(Sessions::new(factory)).unwrap();
    let l = reactor.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = reactor.listener_addr(l).unwrap();
    let server = Running::start(reactor);
    let mut a = connect(addr);
    let mut b = connect(addr);
    ask(&mut a, b"x\n", b"1 x\n");
    ask(&mut a, b"y\n", b"2 y\n");
    // b's session starts at 1: its own state.
    ask(&mut b, b"z\n", b"1 z\n");
    // A line in pieces is one line.
    std::io::Write::write_all(&mut a, b"hal").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    ask(&mut a, b"f\n", b"3 half\n");
    assert!(util::wait_until(|| server.query(|h, _| h.len()) == 2));
    drop(a);
    assert!(util::wait_until(|| server.query(|h, _| h.len()) == 1));
    drop(b);
    assert!(util::wait_until(|| server.query(|h, _| h.is_empty())));
}
