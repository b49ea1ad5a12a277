//! How the reactor reads one readiness event that says both readable and writable: the read
//! half, once it has delivered input and drained the socket, decides the writable half too
//! (one look-up instead of two). These tests make such an event on purpose, on loopback, and
//! check that output waiting for room is not forgotten.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use netloop::reactor::{ConnId, Context, Handler, ListenerId, PeerAddr, Reactor};

const REPLY: usize = 8 << 20;

/// Writes `REPLY` bytes on accept (more than the socket buffers hold), then reads and
/// writes nothing more.
#[derive(Default)]
struct Sink {
    conn: Option<ConnId>,
    got: usize,
}

impl Handler for Sink {
    fn on_accept(&mut self, cx: &mut Context<'_>, _: ListenerId, conn: ConnId, _: &PeerAddr) {
        let reply: Vec<u8> = (0..REPLY).map(|i| (i % 251) as u8).collect();
        cx.write_owned(conn, reply).unwrap();
        self.conn = Some(conn);
    }

    fn on_data(&mut self, _: &mut Context<'_>, _: ConnId, data: &[u8]) -> usize {
        self.got += data.len();
        data.len()
    }
}

#[test]
fn output_waiting_for_room_goes_when_room_and_input_come_in_one_event() {
    // Reading goes on while the reply waits (below the high watermark): the input must be
    // delivered for the read half to decide the writable half.
    let config = netloop::reactor::Config::default()
        .max_queued(64 << 20)
        .high_watermark(32 << 20);
    let mut server = Reactor::with_config(Sink::default(), config).unwrap();
    let l = server
        .with_context(|_, cx| cx.listen("127.0.0.1:0".parse().unwrap()))
        .unwrap();
    let addr = server.listener_addr(l).unwrap();
    let mut client = TcpStream::connect(addr).unwrap();
    client.set_nonblocking(true).unwrap();
    let turn = |r: &mut Reactor<Sink>| r.turn(Some(Duration::from_millis(5))).unwrap();
    // Accept, write what the buffers take; the rest waits for room.
    let end = Instant::now() + Duration::from_secs(10);
    while server.handler().conn.is_none() && Instant::now() < end {
        turn(&mut server);
    }
    turn(&mut server);
    let mut received = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    let check = |data: &[u8], at: usize| {
        for (i, &b) in data.iter().enumerate() {
            assert_eq!(b, ((at + i) % 251) as u8, "byte {}", at + i);
        }
    };
    // The server is not turning: the client takes what the kernel already sent, which
    // frees the server's send buffer (a writable edge, not yet seen).
    let quiet = Instant::now() + Duration::from_millis(300);
    while Instant::now() < quiet {
        match client.read(&mut buf) {
            Ok(n) => {
                check(&buf[..n], received);
                received += n;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(received > 0 && received < REPLY, "{received}");
    // Input arrives too: the next poll reports one event, readable and writable.
    client.write_all(b"x").unwrap();
    std::thread::sleep(Duration::from_millis(20));
    // From here the client reads as the server writes; the rest must all come.
    let end = Instant::now() + Duration::from_secs(20);
    while received < REPLY && Instant::now() < end {
        turn(&mut server);
        loop {
            match client.read(&mut buf) {
                Ok(0) => panic!("closed after {received} bytes"),
                Ok(n) => {
                    check(&buf[..n], received);
                    received += n;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
    }
    assert_eq!(server.handler().got, 1);
    assert_eq!(received, REPLY, "the queued output stalled");
}
