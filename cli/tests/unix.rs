//! Unix stream sockets on the reactor: framed echo, socket file lifecycle, outgoing connects.

// The library's test helpers, shared rather than copied.
#[path = "../../tests/util/mod.rs"]
mod util;

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};

use netloop::framing::Codec;
use netloop::reactor::UnixListenOptions;
use netloop::reactor::{PeerAddr, Reactor};
use netloop_cli::services::CourseServer;
use util::{Running, TempDir, STEP};

fn start(
    path: &std::path::Path,
    opts: &UnixListenOptions,
) -> std::io::Result<Running<CourseServer>> {
    let mut reactor = Reactor::new(CourseServer::new()).unwrap();
    let l = reactor.with_context(|_, cx| cx.listen_unix(path, opts))?;
    reactor.handler_mut().serve_framed(l);
    Ok(Running::start(reactor))
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    Codec::default().encode_to_vec(payload, &mut out).unwrap();
    out
}

#[test]
fn framed_echo_over_a_unix_socket_and_the_file_is_removed_at_the_end() {
    let dir = TempDir::new("unix");
    let path = dir.path("echo.sock");
    let server = start(&path, &UnixListenOptions::default().mode(Some(0o600))).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let mut c = UnixStream::connect(&path).unwrap();
    c.set_read_timeout(Some(STEP)).unwrap();
    let mut wire = frame(b"over unix");
    wire.extend(frame(b""));
    c.write_all(&wire).unwrap();
    let mut back = vec![0; wire.len()];
    c.read_exact(&mut back).unwrap();
    assert_eq!(back, wire);
    let peer = server.query(|_, cx| {
        let id = cx.connections().next().unwrap();
        cx.peer_addr(id).unwrap()
    });
    assert!(matches!(peer, PeerAddr::Unix(_)), "{peer}");
    drop(c);
    let reactor = server.stop();
    assert!(
        path.exists(),
        "the listener is still there while the reactor lives"
    );
    drop(reactor);
    assert!(!path.exists(), "socket file removed with the listener");
}

#[test]
fn a_stale_socket_file_is_replaced_but_a_live_one_is_not() {
    let dir = TempDir::new("stale");
    let path = dir.path("s.sock");
    // A server that died without cleaning up: the file stays, nobody listens.
    drop(UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let server = start(&path, &UnixListenOptions::default()).expect("stale file replaced");
    // A second server on the same live path is refused, and the file is left alone.
    let err = start(&path, &UnixListenOptions::default())
        .err()
        .expect("refused");
    assert_eq!(err.kind(), ErrorKind::AddrInUse);
    assert!(
        UnixStream::connect(&path).is_ok(),
        "the first server still listens"
    );
    drop(server);

    // Not a socket at all: refused, and not deleted.
    let file = dir.path("plain");
    std::fs::write(&file, b"data").unwrap();
    let err = start(&file, &UnixListenOptions::default())
        .err()
        .expect("refused");
    assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    assert_eq!(std::fs::read(&file).unwrap(), b"data");

    // Asked not to remove stale files: the bind fails instead.
    let stale = dir.path("keep.sock");
    drop(UnixListener::bind(&stale).unwrap());
    let keep = UnixListenOptions::default().remove_stale(false);
    assert!(start(&stale, &keep).is_err());
    assert!(stale.exists());
}

#[test]
fn the_reactor_connects_out_over_unix_too() {
    let dir = TempDir::new("connect");
    let path = dir.path("c.sock");
    let _server = start(&path, &UnixListenOptions::default()).unwrap();

    struct Client(Vec<u8>);
    impl netloop::Handler for Client {
        fn on_connect(&mut self, cx: &mut netloop::Context<'_>, conn: netloop::ConnId) {
            let mut wire = Vec::new();
            Codec::default().encode_to_vec(b"ping", &mut wire).unwrap();
            cx.write(conn, &wire).unwrap();
        }
        fn on_data(
            &mut self,
            cx: &mut netloop::Context<'_>,
            _: netloop::ConnId,
            data: &[u8],
        ) -> usize {
            self.0.extend_from_slice(data);
            if self.0.len() >= 8 {
                cx.stop();
            }
            data.len()
        }
    }
    let mut reactor = Reactor::new(Client(Vec::new())).unwrap();
    reactor
        .with_context(|_, cx| cx.connect_unix(&path))
        .unwrap();
    for _ in 0..500 {
        if reactor.handler().0.len() >= 8 {
            break;
        }
        reactor
            .turn(Some(std::time::Duration::from_millis(10)))
            .unwrap();
    }
    assert_eq!(reactor.handler().0, frame(b"ping"));
}

#[test]
fn unix_datagram_upper_casing_and_cleanup() {
    use std::os::unix::net::UnixDatagram;
    let dir = TempDir::new("udgram");
    let path = dir.path("upper.sock");
    let mut reactor = Reactor::new(CourseServer::new()).unwrap();
    let s = reactor
        .with_context(|_, cx| cx.bind_unix_dgram(&path, &UnixListenOptions::default()))
        .unwrap();
    let local = reactor.with_context(|_, cx| cx.udp_addr(s).is_err());
    assert!(local, "a Unix datagram socket has no IP address");
    let server = Running::start(reactor);

    // A client bound to a path of its own can be answered.
    let client = UnixDatagram::bind(dir.path("client.sock")).unwrap();
    client.set_read_timeout(Some(STEP)).unwrap();
    client.send_to(b"MixedCaseString", &path).unwrap();
    let mut buf = [0; 64];
    let (n, from) = client.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"MIXEDCASESTRING");
    assert_eq!(from.as_pathname(), Some(path.as_path()));

    // An unnamed client cannot be answered: counted as received, no reply sent.
    let unnamed = UnixDatagram::unbound().unwrap();
    unnamed.send_to(b"x", &path).unwrap();
    assert!(util::wait_until(|| server.handle.stats().datagrams_in == 2));
    assert_eq!(server.handle.stats().datagrams_out, 1);

    drop(server.stop());
    assert!(!path.exists(), "socket file removed");
}

#[test]
fn seqpacket_connections_keep_record_boundaries() {
    let dir = TempDir::new("seqpacket");
    let path = dir.path("records.sock");
    let (server, c) = seqpacket_pair(&path);
    // Sent back to back, including one far larger than a read block: each comes back alone
    // and whole.
    let records: Vec<Vec<u8>> = vec![
        b"one".to_vec(),
        util::pattern(5, 100_000),
        b"three".to_vec(),
    ];
    for r in &records {
        assert_eq!(c.send(r).unwrap(), r.len());
    }
    for r in &records {
        let mut buf = vec![0u8; 200_000];
        let n = std::io::Read::read(&mut &c, &mut buf).unwrap();
        assert_eq!(&buf[..n], &r[..], "record of {} bytes", r.len());
    }
    drop(c);
    let reactor = server.stop();
    assert_eq!(reactor.stats().bytes_in, 100_008);
    drop(reactor);
    assert!(!path.exists());
}

#[test]
fn unix_datagrams_larger_than_udp_ones_arrive_whole() {
    use std::os::unix::net::UnixDatagram;
    let dir = TempDir::new("bigdgram");
    let path = dir.path("big.sock");
    let mut reactor = Reactor::new(CourseServer::new()).unwrap();
    reactor
        .with_context(|_, cx| cx.bind_unix_dgram(&path, &UnixListenOptions::default()))
        .unwrap();
    let server = Running::start(reactor);
    let client = UnixDatagram::bind(dir.path("c.sock")).unwrap();
    client.set_read_timeout(Some(STEP)).unwrap();
    let msg: Vec<u8> = (0..100_000u32)
        .map(|i| b"abcdefgh"[i as usize % 8])
        .collect();
    client.send_to(&msg, &path).unwrap();
    let mut buf = vec![0u8; 200_000];
    let n = client.recv(&mut buf).unwrap();
    assert_eq!(n, 100_000, "the whole datagram, not its first 64 KiB");
    assert!(buf[..n]
        .iter()
        .zip(&msg)
        .all(|(a, b)| *a == b.to_ascii_uppercase()));
    assert_eq!(server.handle.stats().dgram_recv_dropped, 0);
}

#[test]
fn a_socket_file_replaced_by_someone_else_is_not_removed() {
    let dir = TempDir::new("replaced");
    let path = dir.path("mine.sock");
    let server = start(&path, &UnixListenOptions::default()).unwrap();
    // Someone removes our file and puts their own at the path.
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, b"theirs").unwrap();
    drop(server.stop());
    assert_eq!(std::fs::read(&path).unwrap(), b"theirs");
}

#[test]
fn an_empty_seqpacket_record_is_not_the_end_of_the_stream() {
    let dir = TempDir::new("emptyrec");
    let path = dir.path("e.sock");
    let (server, c) = seqpacket_pair(&path);
    c.send(b"").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    c.send(b"after").unwrap();
    let mut buf = [0u8; 16];
    let n = std::io::Read::read(&mut &c, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"after", "still open after the empty record");
    drop(server);
}

/// A CourseServer with a seqpacket listener at `path`, and a client connected to it.
fn seqpacket_pair(path: &std::path::Path) -> (Running<CourseServer>, socket2::Socket) {
    use socket2::{Domain, SockAddr, Socket, Type};
    let mut reactor = Reactor::new(CourseServer::new()).unwrap();
    reactor
        .with_context(|_, cx| cx.listen_seqpacket(path, &UnixListenOptions::default()))
        .unwrap();
    let server = Running::start(reactor);
    let c = Socket::new(Domain::UNIX, Type::SEQPACKET, None).unwrap();
    c.connect(&SockAddr::unix(path).unwrap()).unwrap();
    c.set_read_timeout(Some(STEP)).unwrap();
    (server, c)
}
