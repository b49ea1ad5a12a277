//! The server layer: several reactors sharing one socket per address, connection limits.

// The library's test helpers, shared rather than copied.
#[path = "../../tests/util/mod.rs"]
mod util;

use std::io::Read;
use std::time::Duration;

use netloop::reactor::ListenOptions;
use netloop::reactor::{Config, Reactor};
use netloop::server::{bind_tcp, bind_udp, Server};
use netloop_cli::services::CourseServer;
use util::connect;

fn reactors(n: usize, config: Config) -> Vec<Reactor<CourseServer>> {
    (0..n)
        .map(|_| Reactor::with_config(CourseServer::new(), config).unwrap())
        .collect()
}

#[test]
fn every_reactor_serves_the_one_shared_socket() {
    let mut rs = reactors(2, Config::default());
    let (ids, addr) =
        bind_tcp(&mut rs, "127.0.0.1:0".parse().unwrap(), Default::default()).unwrap();
    assert_eq!(ids.len(), 2);
    assert_ne!(addr.port(), 0, "port 0 resolved once, shared by both");
    let (_, uaddr) = bind_udp(
        &mut rs,
        "127.0.0.1:0".parse().unwrap(),
        ListenOptions::default(),
    )
    .unwrap();
    // Which reactor takes a connection is the kernel's choice (the first idle one), so run
    // one at a time: each must serve the shared sockets on its own.
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(util::STEP)).unwrap();
    let mut back = Vec::new();
    for (i, r) in rs.into_iter().enumerate() {
        let running = util::Running::start(r);
        let mut c = connect(addr);
        let msg = format!("reactor {i}");
        assert_eq!(
            util::echo_round_trip(&mut c, msg.as_bytes()),
            msg.as_bytes()
        );
        udp.send_to(msg.as_bytes(), uaddr).unwrap();
        let mut buf = [0; 16];
        let (n, _) = udp.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], msg.to_uppercase().as_bytes());
        drop(c);
        let r = running.stop();
        assert_eq!(r.stats().accepted, 1, "reactor {i} accepted the connection");
        assert_eq!(r.stats().datagrams_in, 1, "reactor {i} got the datagram");
        back.push(r);
    }
    // Then both at once: every connection is served by one or the other.
    let server = Server::start(back).unwrap();
    let mut clients: Vec<_> = (0..40).map(|_| connect(addr)).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        let msg = format!("client {i}");
        assert_eq!(util::echo_round_trip(c, msg.as_bytes()), msg.as_bytes());
    }
    assert!(util::wait_until(|| server.stats().accepted == 42));
    drop(clients);
    server.shutdown(Duration::from_secs(5));
    assert_eq!(server.join().unwrap().len(), 2);
}

#[test]
fn connections_past_the_limit_are_accepted_and_closed_at_once() {
    let config = Config::default().max_connections(Some(2));
    let mut rs = reactors(1, config);
    let (_, addr) = bind_tcp(&mut rs, "127.0.0.1:0".parse().unwrap(), Default::default()).unwrap();
    let server = Server::start(rs).unwrap();
    let mut a = connect(addr);
    let mut b = connect(addr);
    assert_eq!(util::echo_round_trip(&mut a, b"a"), b"a");
    assert_eq!(util::echo_round_trip(&mut b, b"b"), b"b");
    let mut c = connect(addr);
    let mut buf = [0; 1];
    assert_eq!(
        c.read(&mut buf).unwrap_or(0),
        0,
        "the third connection is closed at once"
    );
    assert!(util::wait_until(|| server.stats().rejected == 1));
    // The first two are unaffected; after one leaves, a new one is served.
    assert_eq!(util::echo_round_trip(&mut a, b"still"), b"still");
    drop(b);
    assert!(util::wait_until(|| server.stats().active == 1));
    let mut d = connect(addr);
    assert_eq!(util::echo_round_trip(&mut d, b"d"), b"d");
    server.stop();
    server.join().unwrap();
}

/// Echo per connection, for the builder functions.
struct EchoSession;

impl netloop::Handler for EchoSession {
    fn on_data(
        &mut self,
        cx: &mut netloop::Context<'_>,
        conn: netloop::ConnId,
        data: &[u8],
    ) -> usize {
        let _ = cx.write(conn, data);
        data.len()
    }
}

#[test]
fn every_server_kind_from_its_builder() {
    use netloop::reactor::UnixListenOptions;
    use netloop::server::{
        tcp_server, udp_server, unix_datagram_server, unix_seqpacket_server, unix_stream_server,
    };
    use std::io::Write;

    let dir = util::TempDir::new("builders");
    let opts = UnixListenOptions::default();

    let (r, l) = tcp_server("127.0.0.1:0".parse().unwrap(), Config::default(), |_, _| {
        EchoSession
    })
    .unwrap();
    let addr = r.listener_addr(l).unwrap();
    let s = util::Running::start(r);
    let mut c = connect(addr);
    assert_eq!(util::echo_round_trip(&mut c, b"tcp"), b"tcp");
    drop(s);

    let path = dir.path("stream.sock");
    let s = util::Running::start(
        unix_stream_server(&path, &opts, Config::default(), |_, _| EchoSession)
            .unwrap()
            .0,
    );
    let mut u = std::os::unix::net::UnixStream::connect(&path).unwrap();
    u.set_read_timeout(Some(util::STEP)).unwrap();
    u.write_all(b"unix").unwrap();
    let mut buf = [0; 4];
    u.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"unix");
    drop(s);

    let path = dir.path("seq.sock");
    let s = util::Running::start(
        unix_seqpacket_server(&path, &opts, Config::default(), |_, _| EchoSession)
            .unwrap()
            .0,
    );
    let q = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::SEQPACKET, None).unwrap();
    q.connect(&socket2::SockAddr::unix(&path).unwrap()).unwrap();
    q.set_read_timeout(Some(util::STEP)).unwrap();
    q.send(b"rec").unwrap();
    let mut buf = [0; 16];
    let n = (&q).read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"rec");
    drop(s);

    let (r, sock) = udp_server(
        "127.0.0.1:0".parse().unwrap(),
        Config::default(),
        CourseServer::new(),
    )
    .unwrap();
    let uaddr = r.udp_addr(sock).unwrap();
    let s = util::Running::start(r);
    let c = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    c.set_read_timeout(Some(util::STEP)).unwrap();
    c.send_to(b"udp", uaddr).unwrap();
    let n = c.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"UDP");
    drop(s);

    let path = dir.path("dgram.sock");
    let s = util::Running::start(
        unix_datagram_server(&path, &opts, Config::default(), CourseServer::new())
            .unwrap()
            .0,
    );
    let d = std::os::unix::net::UnixDatagram::bind(dir.path("client.sock")).unwrap();
    d.set_read_timeout(Some(util::STEP)).unwrap();
    d.send_to(b"dgram", &path).unwrap();
    let n = d.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"DGRAM");
    drop(s);
}

/// `Config::busy_poll`: the reactor spins instead of sleeping, serves as usual, and still
/// stops when asked.
#[test]
fn a_busy_polling_reactor_serves_and_stops() {
    let mut reactor =
        Reactor::with_config(CourseServer::new(), Config::default().busy_poll(true)).unwrap();
    let id = reactor.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = reactor.listener_addr(id).unwrap();
    let running = util::Running::start(reactor);
    let mut c = connect(addr);
    assert_eq!(util::echo_round_trip(&mut c, b"spin"), b"spin");
    let reactor = running.stop();
    assert_eq!(reactor.stats().accepted, 1);
}
