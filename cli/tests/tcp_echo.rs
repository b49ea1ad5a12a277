//! TCP echo on the reactor: many clients, half-close, backpressure, outgoing connects.

// The library's test helpers, shared rather than copied.
#[path = "../../tests/util/mod.rs"]
mod util;

use std::io::{ErrorKind, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::Duration;

use netloop::reactor::{Config, ConnId, Context, Handler, Reactor};
use netloop::CloseReason;
use netloop_cli::services::CourseServer;
use util::{connect, pattern, read_to_eof, Running, STEP};

fn start_with(config: Config) -> (Running<CourseServer>, SocketAddr) {
    let mut reactor = Reactor::with_config(CourseServer::new(), config).unwrap();
    let id = reactor.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = reactor.listener_addr(id).unwrap();
    (Running::start(reactor), addr)
}

fn start() -> (Running<CourseServer>, SocketAddr) {
    start_with(Config::default())
}

#[test]
fn hello_world_echoes() {
    let (_server, addr) = start();
    let mut c = connect(addr);
    assert_eq!(
        util::echo_round_trip(&mut c, b"Hello, world"),
        b"Hello, world"
    );
}

#[test]
fn many_concurrent_clients_each_get_exactly_their_bytes() {
    let (server, addr) = start();
    const CLIENTS: usize = 64;
    const BYTES: usize = 200_000;
    let threads: Vec<_> = (0..CLIENTS)
        .map(|i| {
            std::thread::spawn(move || {
                let mut c = connect(addr);
                let data = pattern(i as u64, BYTES);
                let mut reader = c.try_clone().unwrap();
                // Write and read at once: the echo may be larger than both socket buffers.
                let writer = std::thread::spawn(move || {
                    for chunk in data.chunks(7919) {
                        c.write_all(chunk).unwrap();
                    }
                    c.shutdown(Shutdown::Write).unwrap();
                    data
                });
                let got = read_to_eof(&mut reader).expect("read echo");
                let data = writer.join().unwrap();
                assert_eq!(got.len(), data.len(), "client {i}: length");
                assert!(got == data, "client {i}: bytes differ");
            })
        })
        .collect();
    for t in threads {
        t.join().expect("client thread");
    }
    let reactor = server.stop();
    let s = reactor.stats();
    assert_eq!(s.accepted, CLIENTS as u64);
    assert_eq!(s.bytes_in, (CLIENTS * BYTES) as u64);
    assert_eq!(s.bytes_out, (CLIENTS * BYTES) as u64);
    assert_eq!(s.closed_peer, CLIENTS as u64);
    assert_eq!(s.active, 0);
}

#[test]
fn half_close_still_delivers_every_echoed_byte_then_eof() {
    let (_server, addr) = start();
    let mut c = connect(addr);
    let data = pattern(7, 3 * 1024 * 1024);
    let mut reader = c.try_clone().unwrap();
    let sent = data.clone();
    let writer = std::thread::spawn(move || {
        c.write_all(&sent).unwrap();
        // Half-close: we are done sending, but still reading.
        c.shutdown(Shutdown::Write).unwrap();
    });
    let got = read_to_eof(&mut reader).expect("EOF after the echo");
    writer.join().unwrap();
    assert_eq!(got.len(), data.len());
    assert!(got == data);
}

#[test]
fn backpressure_stops_reading_from_a_peer_that_does_not_read() {
    let config = Config::default()
        .high_watermark(64 * 1024)
        .low_watermark(16 * 1024)
        .read_budget(16 * 1024);
    let (server, addr) = start_with(config);
    let mut c = connect(addr);
    c.set_nonblocking(true).unwrap();
    // Send without reading until the kernel will take no more: the server must have stopped
    // reading (else it would queue without bound and we could write forever).
    let chunk = pattern(3, 64 * 1024);
    let mut sent = 0usize;
    let mut stalls = 0;
    while stalls < 50 && sent < 256 * 1024 * 1024 {
        match c.write(&chunk) {
            Ok(n) => {
                sent += n;
                stalls = 0;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                stalls += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("write: {e}"),
        }
    }
    assert_eq!(
        stalls, 50,
        "the server kept reading {sent} bytes without backpressure"
    );
    let queued = server.query(|_, cx| {
        let conn = ConnId::clone(&first_conn(cx));
        cx.queued(conn)
    });
    assert!(
        queued <= 64 * 1024 + 16 * 1024 + 16 * 1024,
        "queued {queued} bytes, past the high watermark plus one read"
    );
    // Now read everything back: every byte sent must come back.
    c.set_nonblocking(false).unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let got = read_to_eof(&mut c).unwrap();
    assert_eq!(got.len(), sent);
    let reactor = server.stop();
    assert_eq!(reactor.stats().bytes_out, sent as u64);
}

/// The one open connection's id, found through the stats-free route of trying indexes.
fn first_conn(cx: &mut Context<'_>) -> ConnId {
    cx.connections().next().expect("one connection")
}

/// A handler that connects out and records what happened.
#[derive(Default)]
struct Dialer {
    connected: Vec<ConnId>,
    closed: Vec<(ConnId, String)>,
    data: Vec<u8>,
}

impl Handler for Dialer {
    fn on_connect(&mut self, cx: &mut Context<'_>, conn: ConnId) {
        self.connected.push(conn);
        cx.write(conn, b"ping").unwrap();
    }
    fn on_data(&mut self, cx: &mut Context<'_>, conn: ConnId, data: &[u8]) -> usize {
        self.data.extend_from_slice(data);
        if self.data.len() >= 4 {
            cx.close(conn);
            cx.stop();
        }
        data.len()
    }
    fn on_close(&mut self, cx: &mut Context<'_>, conn: ConnId, reason: &CloseReason) {
        self.closed.push((conn, reason.to_string()));
        if matches!(reason, CloseReason::Io(_)) {
            cx.stop();
        }
    }
}

#[test]
fn outgoing_connect_talks_to_an_echo_server() {
    let (_server, addr) = start();
    let mut reactor = Reactor::new(Dialer::default()).unwrap();
    let conn = reactor.with_context(|_, cx| cx.connect(addr)).unwrap();
    for _ in 0..1000 {
        if reactor.handler().data.len() >= 4 {
            break;
        }
        reactor.turn(Some(Duration::from_millis(10))).unwrap();
    }
    assert_eq!(reactor.handler().connected, vec![conn]);
    assert_eq!(reactor.handler().data, b"ping");
}

#[test]
fn refused_connect_is_reported_through_on_close() {
    // Bind then drop a listener: its port now refuses connections.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut reactor = Reactor::new(Dialer::default()).unwrap();
    let conn = reactor.with_context(|_, cx| cx.connect(addr)).unwrap();
    for _ in 0..500 {
        if !reactor.handler().closed.is_empty() {
            break;
        }
        reactor.turn(Some(Duration::from_millis(10))).unwrap();
    }
    let h = reactor.handler();
    assert!(h.connected.is_empty());
    assert_eq!(h.closed.len(), 1);
    assert_eq!(h.closed[0].0, conn);
    assert!(h.closed[0].1.contains("refused"), "{}", h.closed[0].1);
}

#[test]
fn stale_ids_are_refused_after_close() {
    let (server, addr) = start();
    let mut c = connect(addr);
    assert_eq!(util::echo_round_trip(&mut c, b"x"), b"x");
    let id = server.query(|_, cx| first_conn(cx));
    drop(c);
    assert!(util::wait_until(
        || server.query(move |_, cx| !cx.is_open(id))
    ));
    let err = server.query(move |_, cx| cx.write(id, b"late").unwrap_err().kind());
    assert_eq!(err, ErrorKind::NotConnected);
    let _ = STEP;
}

/// Says "bye", half-closes, and keeps reading what the peer still sends.
#[derive(Default)]
struct Bye {
    got: Vec<u8>,
    closed: Vec<String>,
}

impl Handler for Bye {
    fn on_accept(
        &mut self,
        cx: &mut Context<'_>,
        _: netloop::ListenerId,
        conn: ConnId,
        _: &netloop::reactor::PeerAddr,
    ) {
        cx.write(conn, b"bye").unwrap();
        cx.shutdown_write(conn).unwrap();
        assert_eq!(
            cx.write(conn, b"more").unwrap_err().kind(),
            ErrorKind::BrokenPipe,
            "no output after shutdown_write"
        );
    }
    fn on_data(&mut self, _: &mut Context<'_>, _: ConnId, data: &[u8]) -> usize {
        self.got.extend_from_slice(data);
        data.len()
    }
    fn on_close(&mut self, _: &mut Context<'_>, _: ConnId, reason: &CloseReason) {
        self.closed.push(reason.to_string());
    }
}

#[test]
fn server_half_close_sends_eof_and_keeps_reading() {
    let mut reactor = Reactor::new(Bye::default()).unwrap();
    let l = reactor.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = reactor.listener_addr(l).unwrap();
    let server = Running::start(reactor);
    let mut c = connect(addr);
    assert_eq!(read_to_eof(&mut c).unwrap(), b"bye");
    c.write_all(b"still talking").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    assert!(util::wait_until(
        || server.query(|h, _| !h.closed.is_empty())
    ));
    let reactor = server.stop();
    assert_eq!(reactor.handler().got, b"still talking");
    assert_eq!(
        reactor.handler().closed,
        vec![CloseReason::PeerClosed.to_string()]
    );
}

/// Takes no stream input: it keeps the default `on_data`.
#[derive(Default)]
struct NoInput {
    closed: Vec<String>,
}

impl Handler for NoInput {
    fn on_close(&mut self, _: &mut Context<'_>, _: ConnId, reason: &CloseReason) {
        self.closed.push(reason.to_string());
    }
}

#[test]
fn input_for_a_handler_that_takes_none_closes_with_a_reason() {
    let mut reactor = Reactor::new(NoInput::default()).unwrap();
    let l = reactor.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = reactor.listener_addr(l).unwrap();
    let server = Running::start(reactor);
    let mut c = connect(addr);
    c.write_all(b"anyone there?").unwrap();
    assert!(util::wait_until(
        || server.query(|h, _| !h.closed.is_empty())
    ));
    let reactor = server.stop();
    assert_eq!(
        reactor.handler().closed,
        vec![
            "protocol error: 13 bytes of input arrived for a handler that takes no stream input"
                .to_string()
        ]
    );
}

/// Sets SO_KEEPALIVE on every connection it accepts, through the connection's socket.
#[derive(Default)]
struct KeepAlive {
    keepalive: Vec<bool>,
}

impl Handler for KeepAlive {
    fn on_accept(
        &mut self,
        cx: &mut Context<'_>,
        _: netloop::ListenerId,
        conn: ConnId,
        _: &netloop::reactor::PeerAddr,
    ) {
        let sock = cx.socket(conn).unwrap();
        assert!(!sock.keepalive().unwrap());
        sock.set_keepalive(true).unwrap();
        self.keepalive
            .push(cx.socket(conn).unwrap().keepalive().unwrap());
    }
    fn on_data(&mut self, cx: &mut Context<'_>, conn: ConnId, data: &[u8]) -> usize {
        let _ = cx.write(conn, data);
        data.len()
    }
}

#[test]
fn options_are_set_through_a_connections_socket_and_the_reactor_has_a_descriptor() {
    use std::os::fd::{AsFd, AsRawFd};
    let mut reactor = Reactor::new(KeepAlive::default()).unwrap();
    let l = reactor.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = reactor.listener_addr(l).unwrap();
    assert!(reactor.listener_socket(l).unwrap().reuse_address().unwrap());
    // What an outer loop may wait: nothing is due, then a timer is.
    assert_eq!(reactor.next_timeout(), None);
    let timer = reactor.with_context(|_, cx| cx.set_timer(Duration::from_secs(60), 1));
    // At most the timer's 60 s: the wheel may need a turn before, to move far timers to
    // finer slots.
    let wait = reactor.next_timeout().expect("a timer is due");
    assert!(
        wait > Duration::ZERO && wait <= Duration::from_secs(60),
        "{wait:?}"
    );
    assert!(reactor.with_context(|_, cx| cx.cancel_timer(timer)));
    // The epoll descriptor: readable once a connection waits to be accepted.
    let fd = reactor.as_raw_fd();
    assert_eq!(reactor.as_fd().as_raw_fd(), fd);
    let mut c = connect(addr);
    // Nest the reactor in another poll: its descriptor turns readable with an event pending.
    let mut outer = mio::Poll::new().unwrap();
    outer
        .registry()
        .register(
            &mut mio::unix::SourceFd(&fd),
            mio::Token(1),
            mio::Interest::READABLE,
        )
        .unwrap();
    let mut events = mio::Events::with_capacity(4);
    outer.poll(&mut events, Some(util::STEP)).unwrap();
    assert!(events.iter().any(|e| e.token() == mio::Token(1)));
    let server = Running::start(reactor);
    assert_eq!(util::echo_round_trip(&mut c, b"ping"), b"ping");
    let reactor = server.stop();
    assert_eq!(reactor.handler().keepalive, vec![true]);
}

/// Records how its outgoing connections end.
#[derive(Default)]
struct Dial {
    closed: Vec<String>,
    connected: usize,
}

impl Handler for Dial {
    fn on_connect(&mut self, _: &mut Context<'_>, _: ConnId) {
        self.connected += 1;
    }
    fn on_close(&mut self, _: &mut Context<'_>, _: ConnId, reason: &CloseReason) {
        self.closed.push(reason.to_string());
    }
}

#[test]
fn a_connect_that_hangs_is_closed_by_the_connect_timeout() {
    // A loopback listener that never accepts, with its backlog full: the kernel drops the
    // next SYN, so a connect to it hangs (SYN retries) instead of completing.
    let listener =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    listener
        .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..2 {
        // Each completes in the kernel (backlog 0 admits one, plus one in flight); none is
        // accepted.
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        s.set_nonblocking(true).unwrap();
        let _ = s.connect(&addr.into());
        fillers.push(s);
    }
    std::thread::sleep(Duration::from_millis(50));
    let config = netloop::Config::default()
        .timeouts(netloop::reactor::Timeouts::NONE.with_connect(Duration::from_millis(300)));
    let mut reactor = Reactor::with_config(Dial::default(), config).unwrap();
    reactor.with_context(|_, cx| cx.connect(addr)).unwrap();
    let start = std::time::Instant::now();
    while reactor.handler().closed.is_empty() && start.elapsed() < util::STEP {
        reactor.turn(Some(Duration::from_millis(50))).unwrap();
    }
    let h = reactor.handler();
    assert_eq!(h.connected, 0, "the connect never completed");
    assert_eq!(h.closed, vec!["timed out (connect timeout)".to_string()]);
    assert!(start.elapsed() >= Duration::from_millis(300));
}

/// A relay to a peer that never reads: writes until the queue's hard cap refuses.
#[derive(Default)]
struct Relay {
    accepted_mib: usize,
    refused: Option<(std::io::ErrorKind, String, usize)>,
}

impl Handler for Relay {
    fn on_accept(
        &mut self,
        cx: &mut Context<'_>,
        _: netloop::ListenerId,
        conn: ConnId,
        _: &netloop::reactor::PeerAddr,
    ) {
        let mib = vec![0u8; 1 << 20];
        for _ in 0..100 {
            match cx.write(conn, &mib) {
                Ok(()) => self.accepted_mib += 1,
                Err(e) => {
                    self.refused = Some((e.kind(), e.to_string(), cx.queued(conn)));
                    return;
                }
            }
        }
    }
}

#[test]
fn writes_past_the_queue_cap_are_refused_not_buffered() {
    let config = Config::default().max_queued(4 << 20);
    let mut reactor = Reactor::with_config(Relay::default(), config).unwrap();
    let l = reactor.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = reactor.listener_addr(l).unwrap();
    let _peer = connect(addr); // never reads
    for _ in 0..100 {
        if reactor.handler().refused.is_some() {
            break;
        }
        reactor.turn(Some(Duration::from_millis(20))).unwrap();
    }
    let h = reactor.handler();
    let (kind, msg, queued) = h.refused.clone().expect("a write was refused");
    assert_eq!(kind, ErrorKind::WouldBlock);
    assert!(msg.contains("past the limit of 4194304"), "{msg}");
    assert_eq!(h.accepted_mib, 4, "exactly the cap was queued");
    assert_eq!(queued, 4 << 20);
}
