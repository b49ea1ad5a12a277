//! The servers compared, each serving the framed echo (4-byte big-endian length, then the
//! payload, echoed) on TCP and upper-casing UDP datagrams, as `netloop serve` does.
//! Each runs in a process of its own (the bench re-executes itself), pinned to CPU 0.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};

/// Which server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    Netloop,
    TokioCurrent,
    TokioMulti,
    StdThreads,
    MioLoop,
    /// netloop with `Config::busy_poll` (W1s only).
    NetloopSpin,
    /// netloop with `Config::udp_batching`: `recvmmsg`/`sendmmsg`, no offload (U1, U2).
    NetloopBatch,
    /// netloop with `udp_batching` and `udp_offload`: GSO and GRO besides (U2).
    NetloopOffload,
}

impl Peer {
    pub const ALL: [Peer; 5] = [
        Peer::Netloop,
        Peer::TokioCurrent,
        Peer::TokioMulti,
        Peer::StdThreads,
        Peer::MioLoop,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Peer::Netloop => "netloop",
            Peer::TokioCurrent => "tokio-ct",
            Peer::TokioMulti => "tokio-mt",
            Peer::StdThreads => "std-threads",
            Peer::MioLoop => "mio-loop",
            Peer::NetloopSpin => "netloop-spin",
            Peer::NetloopBatch => "netloop-batch",
            Peer::NetloopOffload => "netloop-offload",
        }
    }

    pub fn from_name(s: &str) -> Option<Peer> {
        Peer::ALL
            .into_iter()
            .chain([Peer::NetloopSpin, Peer::NetloopBatch, Peer::NetloopOffload])
            .find(|p| p.name() == s)
    }
}

/// Bind both services on free loopback ports, print `READY <tcp> <udp>`, and serve forever.
pub fn serve(peer: Peer) -> io::Result<()> {
    let _ = netloop::server::raise_fd_limit();
    // A deep backlog for all alike: W4h opens 10,000 connections at once, and std's 128
    // would overflow (and reset them) before any server could accept.
    let tcp = {
        use socket2::{Domain, Socket, Type};
        let sock = Socket::new(Domain::IPV4, Type::STREAM, None)?;
        sock.set_reuse_address(true)?;
        sock.bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())?;
        sock.listen(8192)?;
        std::net::TcpListener::from(sock)
    };
    tcp.set_nonblocking(false)?;
    let udp = UdpSocket::bind("127.0.0.1:0")?;
    println!("READY {} {}", tcp.local_addr()?, udp.local_addr()?);
    io::stdout().flush()?;
    match peer {
        Peer::Netloop => netloop_server(tcp, udp, false, (false, false)),
        Peer::NetloopSpin => netloop_server(tcp, udp, true, (false, false)),
        Peer::NetloopBatch => netloop_server(tcp, udp, false, (true, false)),
        Peer::NetloopOffload => netloop_server(tcp, udp, false, (true, true)),
        Peer::TokioCurrent => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(tokio_server(tcp, udp))
        }
        Peer::TokioMulti => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            rt.block_on(tokio_server(tcp, udp))
        }
        Peer::StdThreads => std_server(tcp, udp),
        Peer::MioLoop => mio_loop::serve(tcp, udp),
    }
}

/// netloop's server; `(batch, offload)`: `Config::udp_batching` and `udp_offload`.
fn netloop_server(
    tcp: TcpListener,
    udp: UdpSocket,
    spin: bool,
    (batch, offload): (bool, bool),
) -> io::Result<()> {
    use netloop::framing::Codec;
    use netloop_cli::services::CourseServer;
    let mut config = netloop::Config::default();
    config.max_read_buffer = config.max_read_buffer.max(8 << 20);
    config.busy_poll = spin;
    config.udp_batching = batch;
    config.udp_offload = offload;
    let server = CourseServer::with_codec(Codec::length_prefixed(8 << 20))
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    let mut reactor = netloop::Reactor::with_config(server, config)?;
    let id = reactor.with_context(|_, cx| cx.add_listener(tcp))?;
    reactor.handler_mut().serve_framed(id);
    reactor.with_context(|_, cx| cx.add_udp(udp))?;
    reactor.run()
}

async fn tokio_server(tcp: TcpListener, udp: UdpSocket) -> io::Result<()> {
    use futures::StreamExt;
    use tokio_util::codec::{Framed, LengthDelimitedCodec};
    tcp.set_nonblocking(true)?;
    udp.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(tcp)?;
    let udp = tokio::net::UdpSocket::from_std(udp)?;
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        while let Ok((n, from)) = udp.recv_from(&mut buf).await {
            buf[..n].make_ascii_uppercase();
            let _ = udp.send_to(&buf[..n], from).await;
        }
    });
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let codec = LengthDelimitedCodec::builder()
                .max_frame_length(8 << 20)
                .new_codec();
            let (sink, stream) = Framed::new(stream, codec).split();
            // The idiomatic echo: frames forwarded back, flushed when no more are ready.
            let _ = stream
                .map(|frame| frame.map(bytes::BytesMut::freeze))
                .forward(sink)
                .await;
        });
    }
}

fn std_server(tcp: TcpListener, udp: UdpSocket) -> io::Result<()> {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        while let Ok((n, from)) = udp.recv_from(&mut buf) {
            buf[..n].make_ascii_uppercase();
            let _ = udp.send_to(&buf[..n], from);
        }
    });
    for stream in tcp.incoming() {
        let stream = stream?;
        let _ = stream.set_nodelay(true);
        std::thread::spawn(move || std_conn(stream));
    }
    Ok(())
}

/// One connection, one thread: read a frame, write it back.
fn std_conn(stream: TcpStream) -> io::Result<()> {
    let mut reader = io::BufReader::with_capacity(64 * 1024, stream.try_clone()?);
    let mut writer = stream;
    let mut frame = Vec::new();
    loop {
        let mut header = [0u8; 4];
        if reader.read_exact(&mut header).is_err() {
            return Ok(());
        }
        let len = u32::from_be_bytes(header) as usize;
        frame.clear();
        frame.extend_from_slice(&header);
        frame.resize(4 + len, 0);
        reader.read_exact(&mut frame[4..])?;
        writer.write_all(&frame)?;
    }
}

/// The hand-written mio loop: the obvious design, done carefully. One poll, edge-triggered;
/// each connection reads into its buffer, and writes every complete frame straight back out
/// of it with one write; only what the kernel does not take is kept for later.
mod mio_loop {
    use super::*;
    use mio::net::{TcpListener as MioListener, TcpStream as MioStream, UdpSocket as MioUdp};
    use mio::{Events, Interest, Poll, Token};

    const LISTENER: Token = Token(usize::MAX);
    const UDP: Token = Token(usize::MAX - 1);

    struct Conn {
        sock: MioStream,
        buf: Vec<u8>,
        len: usize,
        /// Bytes from the front of `buf` already written back (a write stopped short).
        out: Vec<u8>,
    }

    pub fn serve(tcp: TcpListener, udp: UdpSocket) -> io::Result<()> {
        tcp.set_nonblocking(true)?;
        udp.set_nonblocking(true)?;
        let mut listener = MioListener::from_std(tcp);
        let mut udp = MioUdp::from_std(udp);
        let mut poll = Poll::new()?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        poll.registry()
            .register(&mut udp, UDP, Interest::READABLE)?;
        let mut conns: Vec<Option<Conn>> = Vec::new();
        let mut events = Events::with_capacity(1024);
        let mut dgram = vec![0u8; 65536];
        loop {
            poll.poll(&mut events, None)?;
            for ev in events.iter() {
                match ev.token() {
                    LISTENER => loop {
                        match listener.accept() {
                            Ok((mut sock, _)) => {
                                let _ = sock.set_nodelay(true);
                                let slot =
                                    conns.iter().position(Option::is_none).unwrap_or_else(|| {
                                        conns.push(None);
                                        conns.len() - 1
                                    });
                                poll.registry().register(
                                    &mut sock,
                                    Token(slot),
                                    Interest::READABLE | Interest::WRITABLE,
                                )?;
                                conns[slot] = Some(Conn {
                                    sock,
                                    buf: vec![0; 64 * 1024],
                                    len: 0,
                                    out: Vec::new(),
                                });
                            }
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                            Err(_) => break,
                        }
                    },
                    UDP => {
                        while let Ok((n, from)) = udp.recv_from(&mut dgram) {
                            dgram[..n].make_ascii_uppercase();
                            let _ = udp.send_to(&dgram[..n], from);
                        }
                    }
                    Token(slot) => {
                        let done = match conns.get_mut(slot).and_then(Option::as_mut) {
                            Some(c) => !serve_conn(c),
                            None => false,
                        };
                        if done {
                            if let Some(mut c) = conns[slot].take() {
                                let _ = poll.registry().deregister(&mut c.sock);
                            }
                        }
                    }
                }
            }
        }
    }

    /// Flush what is owed, read until WouldBlock, echo complete frames. False: close.
    fn serve_conn(c: &mut Conn) -> bool {
        if !flush(c) {
            return false;
        }
        loop {
            if c.len == c.buf.len() {
                let need = frame_len(&c.buf[..c.len])
                    .unwrap_or(c.buf.len() * 2)
                    .max(c.buf.len() * 2);
                c.buf.resize(need, 0);
            }
            match c.sock.read(&mut c.buf[c.len..]) {
                Ok(0) => return false,
                Ok(n) => c.len += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return false,
            }
            // Every complete frame at the front goes back in one write, from the buffer.
            let mut end = 0;
            while let Some(len) = frame_len(&c.buf[end..c.len]) {
                if end + len > c.len {
                    break;
                }
                end += len;
            }
            if end > 0 {
                if c.out.is_empty() {
                    match c.sock.write(&c.buf[..end]) {
                        Ok(n) if n < end => c.out.extend_from_slice(&c.buf[n..end]),
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            c.out.extend_from_slice(&c.buf[..end])
                        }
                        Err(_) => return false,
                    }
                } else {
                    c.out.extend_from_slice(&c.buf[..end]);
                }
                c.buf.copy_within(end..c.len, 0);
                c.len -= end;
            }
        }
    }

    fn flush(c: &mut Conn) -> bool {
        while !c.out.is_empty() {
            match c.sock.write(&c.out) {
                Ok(n) => {
                    c.out.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(_) => return false,
            }
        }
        true
    }

    /// The whole frame's length (header included), once the header is there.
    fn frame_len(b: &[u8]) -> Option<usize> {
        let h: [u8; 4] = b.get(..4)?.try_into().ok()?;
        Some(4 + u32::from_be_bytes(h) as usize)
    }
}

/// The floor for W1s: two threads ping-ponging `size` bytes over loopback TCP, both
/// spinning on non-blocking sockets (no poll at all). Returns the p50 round trip in µs.
pub fn spinning_floor(size: usize, rounds: usize) -> io::Result<f64> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server = std::thread::spawn(move || -> io::Result<()> {
        let _ = netloop_cli::process::pin_to_cpu(0);
        let (mut s, _) = listener.accept()?;
        s.set_nodelay(true)?;
        s.set_nonblocking(true)?;
        let mut buf = vec![0u8; size];
        loop {
            let mut got = 0;
            while got < size {
                match s.read(&mut buf[got..]) {
                    Ok(0) => return Ok(()),
                    Ok(n) => got += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
            }
            s.write_all(&buf)?;
        }
    });
    let mut c = TcpStream::connect(addr)?;
    c.set_nodelay(true)?;
    c.set_nonblocking(true)?;
    let msg = vec![7u8; size];
    let mut buf = vec![0u8; size];
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = std::time::Instant::now();
        let mut sent = 0;
        while sent < size {
            match c.write(&msg[sent..]) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        let mut got = 0;
        while got < size {
            match c.read(&mut buf[got..]) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        times.push(start.elapsed());
    }
    drop(c);
    let _ = server.join();
    times.sort();
    Ok(times[times.len() / 2].as_secs_f64() * 1e6)
}
