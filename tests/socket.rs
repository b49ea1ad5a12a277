//! The blocking facade: Python's timeout semantics, measured on loopback (generous upper
//! bounds: the machine is shared), and the rest of `socket.socket`.

mod util;

use std::io::{self, BufRead, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};

use netloop::socket::{Address, Family, OptName, PartialSend, SockOpt, SockType, Socket};
use util::TempDir;

fn tcp() -> Socket {
    Socket::new(Family::Inet, SockType::Stream, None).unwrap()
}

/// A listener on a free loopback port, and that port.
fn listener() -> (Socket, u16) {
    let l = tcp();
    l.bind(("127.0.0.1", 0)).unwrap();
    l.listen(16).unwrap();
    let port = l.getsockname().unwrap().inet().unwrap().port();
    (l, port)
}

/// A loopback port nobody listens on (bound, read, released).
fn closed_port() -> u16 {
    let (_l, port) = listener();
    port
}

#[test]
fn recv_on_a_silent_peer_times_out_after_t_not_before() {
    let (l, port) = listener();
    let mut c = tcp();
    c.connect(("127.0.0.1", port)).unwrap();
    let (_server_side, _) = l.accept().unwrap();
    let t = Duration::from_millis(300);
    c.settimeout(Some(t)).unwrap();
    assert_eq!(c.gettimeout(), Some(t));
    let start = Instant::now();
    let err = c.recv(16).unwrap_err();
    let took = start.elapsed();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    assert_eq!(err.to_string(), "timed out");
    assert!(took >= t, "returned after {took:?}, before the timeout");
    assert!(took < t + Duration::from_secs(5), "took {took:?}");
}

#[test]
fn timeout_zero_is_would_block_at_once() {
    let (l, port) = listener();
    let mut c = tcp();
    c.connect(("127.0.0.1", port)).unwrap();
    let _keep = l.accept().unwrap();
    c.setblocking(false).unwrap();
    assert_eq!(c.gettimeout(), Some(Duration::ZERO));
    let start = Instant::now();
    let err = c.recv(16).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    assert!(start.elapsed() < Duration::from_secs(2));
    // And back to blocking: a byte from the peer is read.
    c.setblocking(true).unwrap();
    assert_eq!(c.gettimeout(), None);
}

#[test]
fn connect_to_a_closed_loopback_port_is_refused_fast() {
    let port = closed_port();
    for timeout in [None, Some(Duration::from_secs(5))] {
        let mut c = tcp();
        c.settimeout(timeout).unwrap();
        let start = Instant::now();
        let err = c.connect(("127.0.0.1", port)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{timeout:?}");
        assert!(
            start.elapsed() < Duration::from_secs(4),
            "{timeout:?}: {:?}",
            start.elapsed()
        );
        let c = tcp();
        assert_eq!(c.connect_ex(("127.0.0.1", port)).unwrap(), 111); // ECONNREFUSED
    }
}

#[test]
fn accept_times_out() {
    let (mut l, _) = listener();
    l.settimeout(Some(Duration::from_millis(200))).unwrap();
    let start = Instant::now();
    let err = l.accept().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    assert!(start.elapsed() >= Duration::from_millis(200));
}

#[test]
fn sendall_times_out_as_a_whole_and_says_how_much_went() {
    let (l, port) = listener();
    let mut c = tcp();
    c.connect(("127.0.0.1", port)).unwrap();
    let (_silent, _) = l.accept().unwrap(); // never reads
    c.setsockopt(SockOpt::SendBuffer(4096)).unwrap();
    let t = Duration::from_millis(300);
    c.settimeout(Some(t)).unwrap();
    let data = vec![7u8; 64 << 20];
    let start = Instant::now();
    let err = c.sendall(&data).unwrap_err();
    let took = start.elapsed();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    let partial = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<PartialSend>())
        .copied()
        .expect("PartialSend");
    assert!(partial.sent > 0 && partial.sent < data.len(), "{partial:?}");
    assert_eq!(partial.total, data.len());
    assert!(took >= t && took < t + Duration::from_secs(5), "{took:?}");
}

#[test]
fn host_names_send_recv_and_shutdown() {
    let (l, port) = listener();
    let c = tcp();
    c.connect(Address::Host("localhost".into(), port)).unwrap();
    let (s, peer) = l.accept().unwrap();
    assert_eq!(
        peer.inet().unwrap().ip(),
        std::net::IpAddr::from([127, 0, 0, 1])
    );
    assert_eq!(
        s.getpeername().unwrap().to_string(),
        c.getsockname().unwrap().to_string()
    );
    c.sendall(b"hello").unwrap();
    let mut buf = [0; 5];
    let mut got = 0;
    while got < 5 {
        got += s.recv_into(&mut buf[got..]).unwrap();
    }
    assert_eq!(&buf, b"hello");
    c.shutdown(Shutdown::Write).unwrap();
    assert_eq!(s.recv(16).unwrap(), b"");
}

#[test]
fn makefile_reads_lines_under_the_timeout() {
    let (l, port) = listener();
    let mut c = tcp();
    c.connect(("127.0.0.1", port)).unwrap();
    let (s, _) = l.accept().unwrap();
    {
        let mut w = s.makefile_writer();
        w.write_all(b"first line\nsecond").unwrap();
        w.write_all(b" line\n").unwrap();
        w.flush().unwrap();
    }
    c.settimeout(Some(Duration::from_millis(300))).unwrap();
    let mut r = c.makefile_reader();
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert_eq!(line, "first line\n");
    line.clear();
    r.read_line(&mut line).unwrap();
    assert_eq!(line, "second line\n");
    // Nothing more: the reader's read times out like the socket's.
    line.clear();
    assert_eq!(
        r.read_line(&mut line).unwrap_err().kind(),
        io::ErrorKind::TimedOut
    );
}

#[test]
fn datagrams_and_unix_families() {
    let a = Socket::new(Family::Inet, SockType::Dgram, None).unwrap();
    a.bind(("127.0.0.1", 0)).unwrap();
    let to = a.getsockname().unwrap().inet().unwrap();
    let b = Socket::new(Family::Inet, SockType::Dgram, None).unwrap();
    b.sendto(b"ping", to).unwrap();
    let (data, from) = a.recvfrom(64).unwrap();
    assert_eq!(data, b"ping");
    assert_eq!(
        from.inet().unwrap().ip(),
        std::net::IpAddr::from([127, 0, 0, 1])
    );
    assert_eq!(
        from.inet().unwrap().port(),
        b.getsockname().unwrap().inet().unwrap().port()
    );

    let dir = TempDir::new("facade");
    let path = dir.path("s.sock");
    for ty in [SockType::Stream, SockType::Seqpacket] {
        let _ = std::fs::remove_file(&path);
        let l = Socket::new(Family::Unix, ty, None).unwrap();
        l.bind(path.as_path()).unwrap();
        l.listen(4).unwrap();
        let c = Socket::new(Family::Unix, ty, None).unwrap();
        c.connect(path.as_path()).unwrap();
        let (s, peer) = l.accept().unwrap();
        assert_eq!(peer.to_string(), "unix:(unnamed)");
        c.sendall(b"ab").unwrap();
        c.sendall(b"cd").unwrap();
        if ty == SockType::Seqpacket {
            assert_eq!(s.recv(16).unwrap(), b"ab", "a record at a time");
        }
    }
    let v6 = Socket::new(Family::Inet6, SockType::Stream, None).unwrap();
    assert_eq!(v6.family(), Family::Inet6);
}

#[test]
fn unsupported_combinations_say_what_is_missing() {
    let e = Socket::new(Family::Inet, SockType::Rdm, None).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::Unsupported);
    assert!(
        e.to_string().contains("SOCK_RDM") && e.to_string().contains("TIPC"),
        "{e}"
    );
    let e = Socket::new(Family::Unix, SockType::Rdm, None).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::Unsupported);
    // Where the SCTP module is loaded this one exists; elsewhere the error names SCTP.
    match Socket::new(Family::Inet, SockType::Seqpacket, None) {
        Ok(_) => eprintln!("SCTP is available here: SOCK_SEQPACKET over AF_INET works"),
        Err(e) => {
            assert_eq!(e.kind(), io::ErrorKind::Unsupported);
            let msg = e.to_string();
            assert!(
                msg.contains("AF_INET with SOCK_SEQPACKET") && msg.contains("SCTP"),
                "{msg}"
            );
        }
    }
}

#[test]
fn typed_options_and_conversions() {
    let s = tcp();
    s.setsockopt(SockOpt::ReuseAddr(true)).unwrap();
    assert_eq!(
        s.getsockopt(OptName::ReuseAddr).unwrap(),
        SockOpt::ReuseAddr(true)
    );
    s.setsockopt(SockOpt::NoDelay(true)).unwrap();
    assert_eq!(
        s.getsockopt(OptName::NoDelay).unwrap(),
        SockOpt::NoDelay(true)
    );
    s.setsockopt(SockOpt::Linger(Some(Duration::from_secs(1))))
        .unwrap();
    assert_eq!(
        s.getsockopt(OptName::Linger).unwrap(),
        SockOpt::Linger(Some(Duration::from_secs(1)))
    );
    assert_eq!(s.getsockopt(OptName::Error).unwrap(), SockOpt::Error(0));
    assert!(s.setsockopt(SockOpt::Error(0)).is_err());
    assert!(s.fileno() >= 0);
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let adopted = Socket::try_from(std_listener).unwrap();
    assert_eq!(
        (adopted.family(), adopted.sock_type()),
        (Family::Inet, SockType::Stream)
    );
}

extern "C" fn ignore(_: libc::c_int) {}

#[test]
fn a_signal_during_a_wait_does_not_cut_the_timeout_short() {
    // A handler installed without SA_RESTART, so that poll(2) and recv(2) return EINTR.
    // SAFETY: sigaction with a zeroed struct, an empty mask and a handler that does nothing.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = ignore as extern "C" fn(libc::c_int) as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut());
    }
    let (l, port) = listener();
    let mut c = tcp();
    c.connect(("127.0.0.1", port)).unwrap();
    let _server_side = l.accept().unwrap();
    let t = Duration::from_millis(600);
    c.settimeout(Some(t)).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        // SAFETY: pthread_self has no preconditions.
        tx.send(unsafe { libc::pthread_self() }).unwrap();
        let start = Instant::now();
        let err = c.recv(16).unwrap_err();
        (err.kind(), start.elapsed())
    });
    let thread = rx.recv().unwrap();
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(50));
        // SAFETY: the reader thread is alive until it returns, at least 600 ms from now.
        unsafe { libc::pthread_kill(thread, libc::SIGUSR1) };
    }
    let (kind, took) = reader.join().unwrap();
    assert_eq!(kind, io::ErrorKind::TimedOut);
    assert!(
        took >= t,
        "interrupted waits must go on with the time left: {took:?}"
    );
}

/// A TCP socket bound to `addr` and not listening: a connect to it is refused.
fn refusing(addr: std::net::SocketAddr) -> Option<socket2::Socket> {
    let s = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )
    .unwrap();
    if addr.is_ipv6() {
        s.set_only_v6(true).unwrap();
    }
    s.bind(&addr.into()).ok().map(|()| s)
}

#[test]
fn create_connection_races_the_addresses_and_a_refusal_gives_way_to_the_next() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let ok = listener.local_addr().unwrap();
    let bad: std::net::SocketAddr = if util::ipv6_available() {
        format!("[::1]:{}", ok.port()).parse().unwrap()
    } else {
        format!("127.0.0.2:{}", ok.port()).parse().unwrap()
    };
    let _keep = refusing(bad).expect("a free port on the other loopback");
    let (sock, reached) =
        netloop::socket::connect_first(&[bad, ok], Some(Duration::from_secs(10))).unwrap();
    assert_eq!(reached, ok);
    assert_eq!(sock.gettimeout(), Some(Duration::from_secs(10)));
    let (mut peer, _) = listener.accept().unwrap();
    sock.sendall(b"hi").unwrap();
    let mut got = [0; 2];
    std::io::Read::read_exact(&mut peer, &mut got).unwrap();
    assert_eq!(&got, b"hi");
}

#[test]
fn create_connection_names_every_address_when_all_refuse() {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let v4 = probe.local_addr().unwrap();
    drop(probe);
    let _a = refusing(v4).expect("the port just freed");
    let other: std::net::SocketAddr = format!("127.0.0.3:{}", v4.port()).parse().unwrap();
    let _b = refusing(other).expect("a free port on 127.0.0.3");
    let e = netloop::socket::connect_first(&[v4, other], None).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}");
    let text = e.to_string();
    assert!(
        text.contains(&v4.to_string()) && text.contains(&other.to_string()),
        "{text}"
    );
}

#[test]
fn create_connection_by_name_like_python() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let sock = netloop::socket::create_connection(&format!("localhost:{port}"), None).unwrap();
    assert_eq!(
        sock.getpeername().unwrap().to_string(),
        format!("127.0.0.1:{port}")
    );
    let e = netloop::socket::create_connection("localhost", None).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
}
