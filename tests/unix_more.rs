//! AF_UNIX beyond files: abstract names, socket pairs of every type, descriptors passed both
//! ways on the reactor (`SCM_RIGHTS`), and the peer's credentials (`SO_PEERCRED`).

mod util;

use std::fs::File;
use std::io::{IoSlice, Read, Seek, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr as UnixSocketAddr, UnixDatagram, UnixStream};
use std::time::Duration;

use netloop::addr::UnixAddr;
use netloop::reactor::UnixListenOptions;
use netloop::reactor::{ConnId, Context, DgramId, Handler, ListenerId, PeerAddr, Reactor};
use netloop::socket::{self as sys, PeerCredentials, UnixKind};
use util::{log, wait_until, Log, Running, TempDir, STEP};

/// An abstract name no other test (or process) uses.
fn unique(tag: &str) -> String {
    format!(
        "netloop-test-{tag}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    )
}

/// Echoes bytes and datagrams, records peers and credentials, writes a greeting into every
/// descriptor it is given (then closes it), and answers "file?" with an open file attached.
#[derive(Default)]
struct Unixy {
    peers: Log<String>,
    creds: Log<PeerCredentials>,
    fds: Log<usize>,
    keep_fds: bool,
    file: Option<std::path::PathBuf>,
}

impl Handler for Unixy {
    fn on_accept(&mut self, cx: &mut Context<'_>, _: ListenerId, conn: ConnId, peer: &PeerAddr) {
        self.peers.lock().unwrap().push(peer.to_string());
        if let Ok(c) = cx.peer_credentials(conn) {
            self.creds.lock().unwrap().push(c);
        }
    }
    fn on_connect(&mut self, cx: &mut Context<'_>, conn: ConnId) {
        if let Ok(peer) = cx.peer_addr(conn) {
            self.peers
                .lock()
                .unwrap()
                .push(format!("connected to {peer}"));
        }
    }
    fn on_descriptors(&mut self, _: &mut Context<'_>, _: ConnId, fds: Vec<OwnedFd>) {
        self.fds.lock().unwrap().push(fds.len());
        if self.keep_fds {
            for fd in fds {
                let _ = File::from(fd).write_all(b"written by the reactor");
            }
        }
    }
    fn on_data(&mut self, cx: &mut Context<'_>, conn: ConnId, data: &[u8]) -> usize {
        if data == b"big?" {
            // A megabyte queued ahead, the descriptor with "B", then more bytes behind it.
            let _ = cx.write_owned(conn, vec![b'a'; 1 << 20]);
            let f = File::open("/proc/self/stat").expect("open");
            cx.write_with_fds(conn, b"B", &[f.as_fd()])
                .expect("write_with_fds");
            let _ = cx.write(conn, b"cccccccccc");
        } else if data == b"file?" {
            if let Some(path) = &self.file {
                let f = File::open(path).expect("open");
                // The reactor sends its own duplicate: ours closes at the end of this block.
                cx.write_with_fds(conn, b"here", &[f.as_fd()])
                    .expect("write_with_fds");
            }
        } else {
            let _ = cx.write(conn, data);
        }
        data.len()
    }
    fn on_datagram(&mut self, cx: &mut Context<'_>, s: DgramId, data: &[u8], peer: &PeerAddr) {
        self.peers.lock().unwrap().push(peer.to_string());
        let _ = cx.send_to(s, &data.to_ascii_uppercase(), peer);
    }
}

fn timeouts(s: &UnixStream) {
    s.set_read_timeout(Some(STEP)).unwrap();
    s.set_write_timeout(Some(STEP)).unwrap();
}

#[test]
fn abstract_names_bind_connect_and_show_as_at_names() {
    let peers = log();
    let name = unique("abstract");
    let mut reactor = Reactor::new(Unixy {
        peers: peers.clone(),
        ..Default::default()
    })
    .unwrap();
    let id = reactor
        .with_context(|_, cx| {
            cx.listen_unix(
                UnixAddr::abstract_name(name.as_str()),
                &UnixListenOptions::default(),
            )
        })
        .unwrap();
    let shown = reactor
        .with_context(|_, cx| cx.listener_local_addr(id))
        .unwrap()
        .to_string();
    assert_eq!(shown, format!("unix:@{name}"));
    // A second bind of the same name is refused, as for a file with a live server.
    let again = reactor.with_context(|_, cx| {
        cx.listen_unix(
            UnixAddr::abstract_name(name.as_str()),
            &UnixListenOptions::default(),
        )
    });
    assert_eq!(again.unwrap_err().kind(), std::io::ErrorKind::AddrInUse);
    // The reactor connects out to it too.
    let out = reactor
        .with_context(|_, cx| cx.connect_unix(UnixAddr::parse(&format!("@{name}"))))
        .unwrap();
    let _ = out;
    let _running = Running::start(reactor);

    // A std client, bound to an abstract name of its own so that the server sees one.
    let client_name = unique("client");
    let addr = UnixSocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let sock = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None).unwrap();
    sock.bind(
        &UnixAddr::abstract_name(client_name.as_str())
            .to_sockaddr()
            .unwrap(),
    )
    .unwrap();
    sock.connect(
        &UnixAddr::abstract_name(name.as_str())
            .to_sockaddr()
            .unwrap(),
    )
    .unwrap();
    let mut c: UnixStream = sock.into();
    timeouts(&c);
    c.write_all(b"abstract").unwrap();
    let mut back = [0; 8];
    c.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"abstract");
    let _ = UnixStream::connect_addr(&addr).unwrap();

    assert!(wait_until(|| peers.lock().unwrap().len() >= 4));
    let seen = peers.lock().unwrap().clone();
    assert!(seen.contains(&format!("unix:@{client_name}")), "{seen:?}");
    assert!(
        seen.contains(&format!("connected to unix:@{name}")),
        "{seen:?}"
    );
    assert!(seen.contains(&"unix:(unnamed)".to_string()), "{seen:?}");
}

#[test]
fn abstract_datagrams_are_answered_at_their_abstract_address() {
    let name = unique("dgram");
    let mut reactor = Reactor::new(Unixy::default()).unwrap();
    reactor
        .with_context(|_, cx| {
            cx.bind_unix_dgram(
                UnixAddr::abstract_name(name.as_str()),
                &UnixListenOptions::default(),
            )
        })
        .unwrap();
    let _running = Running::start(reactor);
    let client = UnixDatagram::bind_addr(
        &UnixSocketAddr::from_abstract_name(unique("dclient").as_bytes()).unwrap(),
    )
    .unwrap();
    client.set_read_timeout(Some(STEP)).unwrap();
    client
        .send_to_addr(
            b"quiet",
            &UnixSocketAddr::from_abstract_name(name.as_bytes()).unwrap(),
        )
        .unwrap();
    let mut buf = [0; 16];
    let n = client.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"QUIET");
}

#[test]
fn socket_pairs_of_every_type_on_the_reactor() {
    let (ours, theirs) = sys::unix_pair(UnixKind::Stream).unwrap();
    let (rec_ours, rec_theirs) = sys::unix_pair(UnixKind::Seqpacket).unwrap();
    let (dg_ours, dg_theirs) = sys::unix_pair(UnixKind::Datagram).unwrap();
    let mut reactor = Reactor::new(Unixy::default()).unwrap();
    reactor
        .with_context(|_, cx| -> std::io::Result<()> {
            cx.add_unix_stream(ours.into())?;
            cx.add_seqpacket(rec_ours)?;
            cx.add_unix_dgram(dg_ours.into())?;
            Ok(())
        })
        .unwrap();
    let _running = Running::start(reactor);

    // Stream: bytes echo.
    let mut s: UnixStream = theirs.into();
    timeouts(&s);
    s.write_all(b"pair").unwrap();
    let mut back = [0; 4];
    s.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"pair");

    // Seqpacket: each record comes back whole and separate.
    rec_theirs.set_read_timeout(Some(STEP)).unwrap();
    rec_theirs.send(b"one").unwrap();
    rec_theirs.send(b"two!").unwrap();
    let mut buf = [std::mem::MaybeUninit::new(0u8); 16];
    let n = rec_theirs.recv(&mut buf).unwrap();
    assert_eq!(n, 3);
    let n = rec_theirs.recv(&mut buf).unwrap();
    assert_eq!(n, 4);

    // Datagram: the reactor answers the unnamed peer through the connected pair.
    let d: UnixDatagram = dg_theirs.into();
    d.set_read_timeout(Some(STEP)).unwrap();
    d.send(b"dgram").unwrap();
    let mut buf = [0; 16];
    let n = d.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"DGRAM");
}

#[test]
fn descriptors_pass_both_ways_and_work() {
    let dir = TempDir::new("scm");
    let path = dir.path("shared.txt");
    std::fs::write(&path, b"contents of a file the reactor opened").unwrap();
    let fds = log();
    let handler = Unixy {
        fds: fds.clone(),
        keep_fds: true,
        file: Some(path),
        ..Default::default()
    };
    let (ours, theirs) = sys::unix_pair(UnixKind::Stream).unwrap();
    let mut reactor = Reactor::new(handler).unwrap();
    reactor
        .with_context(|_, cx| cx.add_unix_stream(ours.into()))
        .unwrap();
    let running = Running::start(reactor);
    let s: UnixStream = theirs.into();
    timeouts(&s);

    // To the reactor: the write end of a pipe; the handler writes into it.
    let (mut read_end, write_end) = UnixStream::pair().unwrap(); // a pipe, as a socket pair
    let write_end: OwnedFd = write_end.into();
    let n = sys::send_with_fds(&s, &[IoSlice::new(b"x")], &[write_end.as_raw_fd()]).unwrap();
    assert_eq!(n, 1);
    drop(write_end); // only the reactor's duplicate is left
    let mut got = String::new();
    read_end.read_to_string(&mut got).unwrap(); // ends when the reactor closes its copy
    assert_eq!(got, "written by the reactor");
    let mut echo = [0; 1];
    (&s).read_exact(&mut echo).unwrap();
    assert_eq!(&echo, b"x");

    // From the reactor: a file it opened, with the bytes "here".
    (&s).write_all(b"file?").unwrap();
    let mut cmsg = sys::fds_buffer();
    let mut received = Vec::new();
    let mut buf = [0; 16];
    let n = sys::recv_with_fds(&s, &mut buf, &mut cmsg, &mut received).unwrap();
    assert_eq!(&buf[..n], b"here");
    assert_eq!(received.len(), 1);
    let mut f = File::from(received.pop().unwrap());
    f.rewind().unwrap();
    let mut text = String::new();
    f.read_to_string(&mut text).unwrap();
    assert_eq!(text, "contents of a file the reactor opened");
    assert_eq!(*fds.lock().unwrap(), vec![1]);
    let reactor = running.stop();
    assert_eq!((reactor.stats().fds_in, reactor.stats().fds_out), (1, 1));
}

#[test]
fn descriptors_keep_their_place_in_the_queue() {
    let (ours, theirs) = sys::unix_pair(UnixKind::Stream).unwrap();
    let mut reactor = Reactor::new(Unixy::default()).unwrap();
    reactor
        .with_context(|_, cx| cx.add_unix_stream(ours.into()))
        .unwrap();
    let _running = Running::start(reactor);
    let s: UnixStream = theirs.into();
    timeouts(&s);
    (&s).write_all(b"big?").unwrap();
    let total = (1 << 20) + 11;
    let (mut cmsg, mut fds, mut all) = (sys::fds_buffer(), Vec::new(), Vec::new());
    let mut buf = vec![0; 64 * 1024];
    let mut fd_read_ends_at = None;
    for _ in 0..100_000 {
        if all.len() == total {
            break;
        }
        let n = sys::recv_with_fds(&s, &mut buf, &mut cmsg, &mut fds).unwrap();
        assert!(n > 0, "end of stream after {} bytes", all.len());
        all.extend_from_slice(&buf[..n]);
        if !fds.is_empty() && fd_read_ends_at.is_none() {
            fd_read_ends_at = Some((all.len() - n, all.len()));
        }
    }
    assert_eq!(all.len(), total);
    let b = 1 << 20;
    assert!(all[..b].iter().all(|&x| x == b'a'));
    assert_eq!(&all[b..], b"Bcccccccccc");
    assert_eq!(fds.len(), 1, "exactly one descriptor");
    // It came with the read that holds the "B".
    let (start, end) = fd_read_ends_at.unwrap();
    assert!(
        start <= b && b < end,
        "descriptor read {start}..{end}, B at {b}"
    );
}

#[test]
fn descriptors_nobody_takes_are_closed_and_received_ones_are_cloexec() {
    let (ours, theirs) = sys::unix_pair(UnixKind::Stream).unwrap();
    let fds = log();
    let mut reactor = Reactor::new(Unixy {
        fds: fds.clone(),
        ..Default::default()
    })
    .unwrap();
    reactor
        .with_context(|_, cx| cx.add_unix_stream(ours.into()))
        .unwrap();
    let _running = Running::start(reactor);
    let s: UnixStream = theirs.into();
    timeouts(&s);
    // Many messages, each with several duplicates of one pipe end: if the reactor kept any,
    // the pipe's read end would never see end of file.
    let (mut read_end, write_end) = UnixStream::pair().unwrap(); // a pipe, as a socket pair
    let write_end: OwnedFd = write_end.into();
    let raw = [write_end.as_raw_fd(); 8];
    for _ in 0..50 {
        sys::send_with_fds(&s, &[IoSlice::new(b"y")], &raw).unwrap();
    }
    drop(write_end);
    let mut echoed = [0; 50];
    (&s).read_exact(&mut echoed).unwrap();
    assert!(wait_until(
        || fds.lock().unwrap().iter().sum::<usize>() == 400
    ));
    let mut rest = Vec::new();
    read_end.read_to_end(&mut rest).unwrap(); // EOF: every duplicate was closed
    assert!(rest.is_empty());

    // Received with MSG_CMSG_CLOEXEC: a reply with a descriptor, checked for FD_CLOEXEC.
    let (a, b) = sys::unix_pair(UnixKind::Stream).unwrap();
    let f = File::open("/proc/self/stat").unwrap();
    sys::send_with_fds(&a, &[IoSlice::new(b"z")], &[f.as_raw_fd()]).unwrap();
    let (mut cmsg, mut got, mut buf) = (sys::fds_buffer(), Vec::new(), [0; 4]);
    sys::recv_with_fds(&b, &mut buf, &mut cmsg, &mut got).unwrap();
    assert_eq!(got.len(), 1);
    // SAFETY: fcntl(F_GETFD) on a descriptor we own.
    let flags = unsafe { libc::fcntl(got[0].as_raw_fd(), libc::F_GETFD) };
    assert!(flags & libc::FD_CLOEXEC != 0);
}

#[test]
fn descriptors_that_do_not_fit_are_reported_and_those_that_did_are_kept() {
    let (a, b) = sys::unix_pair(UnixKind::Stream).unwrap();
    let f = File::open("/proc/self/stat").unwrap();
    sys::send_with_fds(&a, &[IoSlice::new(b"z")], &[f.as_raw_fd(); 4]).unwrap();
    // Room for one descriptor (two, with the header's padding), not four.
    let mut small = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let (mut got, mut buf) = (Vec::new(), [0; 4]);
    let e = sys::recv_with_fds(&b, &mut buf, &mut small, &mut got).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");
    assert!(
        (1..4).contains(&got.len()),
        "the {} that fitted are ours to close",
        got.len()
    );
}

#[test]
fn passing_descriptors_needs_a_unix_connection_and_a_byte() {
    let (ours, _theirs) = sys::unix_pair(UnixKind::Stream).unwrap();
    let mut reactor = Reactor::new(Unixy::default()).unwrap();
    let conn = reactor
        .with_context(|_, cx| cx.add_unix_stream(ours.into()))
        .unwrap();
    let tcp = reactor.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = reactor.listener_addr(tcp).unwrap().port();
    let tcp_conn = reactor
        .with_context(|_, cx| cx.connect(([127, 0, 0, 1], port).into()))
        .unwrap();
    reactor.with_context(|_, cx| {
        let f = File::open("/proc/self/stat").unwrap();
        let e = cx.write_with_fds(conn, b"", &[f.as_fd()]).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
        let e = cx.write_with_fds(tcp_conn, b"x", &[f.as_fd()]).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::Unsupported);
        assert_eq!(cx.queued(conn), 0);
        // The caller's descriptor is untouched by the failures.
        assert!(f.metadata().is_ok());
    });
}

#[test]
fn peer_credentials_are_this_process() {
    let dir = TempDir::new("cred");
    let path = dir.path("cred.sock");
    let creds = log();
    let mut reactor = Reactor::new(Unixy {
        creds: creds.clone(),
        ..Default::default()
    })
    .unwrap();
    reactor
        .with_context(|_, cx| cx.listen_unix(&path, &UnixListenOptions::default()))
        .unwrap();
    let _running = Running::start(reactor);
    let _c = UnixStream::connect(&path).unwrap();
    assert!(wait_until(|| !creds.lock().unwrap().is_empty()));
    let c = creds.lock().unwrap()[0];
    assert_eq!(c.pid, std::process::id() as i32);
    // SAFETY: getuid and getgid cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    assert_eq!((c.uid, c.gid), (uid, gid));
    let _ = Duration::ZERO;
}
