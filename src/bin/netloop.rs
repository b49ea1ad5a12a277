//! The `netloop` command: the course's servers on one reactor, and their clients.
//!
//! ```text
//! netloop serve [--udp ADDR]... [--tcp ADDR]... [--framed ADDR]... [--max-frame BYTES] [--timeout SECS]
//! netloop udp-client MESSAGE [--server ADDR] [--timeout SECS]
//! netloop tcp-client MESSAGE [--server ADDR] [--timeout SECS]
//! netloop framed-client MESSAGE... [--server ADDR] [--max-frame BYTES] [--timeout SECS]
//! ```
//!
//! Errors are printed as one line naming the problem, with exit status 1 (2 for bad usage).

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use netloop::conn::Timeouts;
use netloop::framing::{Codec, Decoded, DEFAULT_MAX_FRAME};
use netloop::reactor::{Config, Reactor};
use netloop::server::{self, Server};
use netloop::services::CourseServer;
use netloop::sys::{Signals, UnixListenOptions};

#[derive(Parser, Debug)]
#[command(
    name = "netloop",
    version,
    about = "An event-loop reactor on raw readiness APIs, and the socket course's servers and clients"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the servers until Ctrl-C or SIGTERM (one reactor, or one per --threads).
    ///
    /// With no address flags: UDP upper-casing on 127.0.0.1:11111, TCP stream echo on
    /// 127.0.0.1:9999 and TCP framed echo on 127.0.0.1:9998. Giving any --udp, --tcp or
    /// --framed replaces that service's default address.
    ///
    /// Framed echo: each frame is a 4-byte big-endian length N, then N payload bytes; every
    /// frame is sent back unchanged and in order. A frame over --max-frame closes that
    /// connection (logged with the reason); other connections carry on.
    #[command(
        after_help = "Examples:\n  netloop serve\n  netloop serve --tcp 127.0.0.1:9999 --tcp [::1]:9999 --timeout 30\n  netloop serve --framed 127.0.0.1:7000 --max-frame 65536\n  netloop serve --threads 2 --stats 10 --max-conns 10000\n  netloop serve --unix /tmp/netloop.sock\n  RUST_LOG=debug netloop serve --udp 0.0.0.0:11111"
    )]
    Serve {
        /// UDP upper-casing service address (repeatable).
        #[arg(long = "udp", value_name = "ADDR", value_parser = parse_addr)]
        udp: Vec<SocketAddr>,
        /// TCP stream echo service address (repeatable).
        #[arg(long = "tcp", value_name = "ADDR", value_parser = parse_addr)]
        tcp: Vec<SocketAddr>,
        /// TCP framed echo service address (repeatable).
        #[arg(long = "framed", value_name = "ADDR", value_parser = parse_addr)]
        framed: Vec<SocketAddr>,
        /// Framed echo on a Unix socket file too (repeatable; served by the first reactor; a
        /// stale file left by a dead server is replaced, and the file is removed at exit).
        #[arg(long = "unix", value_name = "PATH")]
        unix: Vec<std::path::PathBuf>,
        /// Largest frame accepted, counted on the wire (4-byte header included).
        #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_FRAME, value_parser = parse_max_frame)]
        max_frame: usize,
        /// Close a connection when no byte has moved either way for SECS seconds.
        #[arg(long, value_name = "SECS", value_parser = parse_secs)]
        timeout: Option<Duration>,
        /// Reactor threads, each with its own listeners on the same addresses (SO_REUSEPORT).
        #[arg(long, value_name = "N", default_value_t = 1, value_parser = parse_threads)]
        threads: usize,
        /// Most connections open at once; more are accepted and closed at once.
        #[arg(long = "max-conns", value_name = "N")]
        max_conns: Option<usize>,
        /// Log the counters every SECS seconds (they are always logged at shutdown).
        #[arg(long, value_name = "SECS", value_parser = parse_secs)]
        stats: Option<Duration>,
    },
    /// Send MESSAGE in one datagram and print the reply (the course's UDP client).
    #[command(
        after_help = "Example:\n  netloop udp-client MixedCaseString --server 127.0.0.1:11111"
    )]
    UdpClient {
        /// The message to send.
        message: String,
        /// The server's address.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:11111", value_parser = parse_addr)]
        server: SocketAddr,
        /// Give up after SECS seconds without a reply.
        #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_secs)]
        timeout: Duration,
    },
    /// Send MESSAGE over TCP and print what comes back (the course's TCP client).
    #[command(
        after_help = "Example:\n  netloop tcp-client 'Hello, world' --server 127.0.0.1:9999"
    )]
    TcpClient {
        /// The message to send.
        message: String,
        /// The server's address.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9999", value_parser = parse_addr)]
        server: SocketAddr,
        /// Give up after SECS seconds without progress.
        #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_secs)]
        timeout: Duration,
    },
    /// Send each MESSAGE as one frame and print each echoed frame.
    #[command(
        after_help = "Example:\n  netloop framed-client Hi! \"Hope you're well\" --server 127.0.0.1:9998"
    )]
    FramedClient {
        /// The messages: one frame each, sent back to back.
        #[arg(required = true)]
        messages: Vec<String>,
        /// The server's address.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9998", value_parser = parse_addr)]
        server: SocketAddr,
        /// Largest frame accepted back, counted on the wire.
        #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_FRAME, value_parser = parse_max_frame)]
        max_frame: usize,
        /// Give up after SECS seconds without progress.
        #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_secs)]
        timeout: Duration,
    },
    /// Like framed-client, over a Unix stream socket (netloop serve --unix PATH).
    #[command(after_help = "Example:\n  netloop unix-client hello --server /tmp/netloop.sock")]
    UnixClient {
        /// The messages: one frame each, sent back to back.
        #[arg(required = true)]
        messages: Vec<String>,
        /// The server's socket file.
        #[arg(long, value_name = "PATH")]
        server: std::path::PathBuf,
        /// Largest frame accepted back, counted on the wire.
        #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_FRAME, value_parser = parse_max_frame)]
        max_frame: usize,
        /// Give up after SECS seconds without progress.
        #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_secs)]
        timeout: Duration,
    },
}

fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = s.parse() {
        return Ok(a);
    }
    // IP:SERVICE, with the service's port from the services database (echo, http, ...).
    let bad = || {
        format!(
            "'{s}' is not an IP address with a port (write 127.0.0.1:9999, [::1]:9999, or a service name such as 127.0.0.1:echo)"
        )
    };
    let (host, service) = s.rsplit_once(':').ok_or_else(bad)?;
    let ip: std::net::IpAddr = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .map_err(|_| bad())?;
    let port = netloop::sys::service_port(service, "tcp")
        .or_else(|| netloop::sys::service_port(service, "udp"))
        .ok_or_else(|| format!("'{service}' is not a port number or a known service name"))?;
    Ok(SocketAddr::new(ip, port))
}

fn parse_threads(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=1024).contains(&n) => Ok(n),
        _ => Err(format!("'{s}' is not a number of threads from 1 to 1024")),
    }
}

fn parse_max_frame(s: &str) -> Result<usize, String> {
    let n: usize = s
        .parse()
        .map_err(|_| format!("'{s}' is not a number of bytes"))?;
    if n < 4 {
        return Err(format!(
            "the maximum frame must be at least 4 bytes (its header), not {n}"
        ));
    }
    Ok(n)
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("'{s}' is not a number of seconds"))?;
    if secs <= 0.0 {
        return Err(format!("the timeout must be more than 0 seconds, not {s}"));
    }
    Duration::try_from_secs_f64(secs).map_err(|_| format!("'{s}' seconds is out of range"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_target(false)
        .init();
    let result = match cli.command {
        Command::Serve {
            udp,
            tcp,
            framed,
            unix,
            max_frame,
            timeout,
            threads,
            max_conns,
            stats,
        } => serve(ServeOpts {
            udp,
            tcp,
            framed,
            unix,
            max_frame,
            timeout,
            threads,
            max_conns,
            stats,
        }),
        Command::FramedClient {
            messages,
            server,
            max_frame,
            timeout,
        } => framed_client(&messages, server, max_frame, timeout),
        Command::UnixClient {
            messages,
            server,
            max_frame,
            timeout,
        } => unix_client(&messages, &server, max_frame, timeout),
        Command::UdpClient {
            message,
            server,
            timeout,
        } => udp_client(&message, server, timeout),
        Command::TcpClient {
            message,
            server,
            timeout,
        } => tcp_client(&message, server, timeout),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("netloop: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// Say what a bind error means for a person.
fn bind_error(what: &str, addr: SocketAddr, e: &io::Error) -> String {
    let hint = match e.kind() {
        io::ErrorKind::AddrInUse => " (another program is using that port)",
        io::ErrorKind::PermissionDenied if addr.port() < 1024 => {
            " (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
        }
        io::ErrorKind::AddrNotAvailable => " (no local interface has that address)",
        _ => "",
    };
    format!("cannot {what} on {addr}: {e}{hint}")
}

fn or_default(addrs: Vec<SocketAddr>, port: u16) -> Vec<SocketAddr> {
    if addrs.is_empty() {
        vec![SocketAddr::from(([127, 0, 0, 1], port))]
    } else {
        addrs
    }
}

/// What `serve` was asked to do.
struct ServeOpts {
    udp: Vec<SocketAddr>,
    tcp: Vec<SocketAddr>,
    framed: Vec<SocketAddr>,
    unix: Vec<std::path::PathBuf>,
    max_frame: usize,
    timeout: Option<Duration>,
    threads: usize,
    max_conns: Option<usize>,
    stats: Option<Duration>,
}

/// How long connections get to finish after Ctrl-C or SIGTERM.
const GRACE: Duration = Duration::from_secs(5);

/// Raise the soft descriptor limit to the hard one, as Go's runtime and many servers do: each
/// connection is a descriptor, and the usual soft limit of 1024 is far below what a reactor
/// can serve.
fn raise_fd_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => log::info!("descriptor limit raised from {soft} to {hard}"),
            Err(e) => {
                log::warn!("descriptor limit stays at {soft} (raising it to {hard} failed: {e})")
            }
        },
        Ok((soft, _)) => log::info!("descriptor limit {soft}"),
        Err(e) => log::warn!("cannot read the descriptor limit: {e}"),
    }
}

fn log_stats(prefix: &str, s: &netloop::reactor::Stats) {
    log::info!(
        "{prefix}: {} accepted, {} open, {} closed (peer {}, reset {}, timeout {}, protocol {}, local {}, io {}, panic {}), {} rejected, {} bytes in, {} bytes out, {} frames in, {} frames out, {} datagrams in, {} datagrams out, {} timeouts",
        s.accepted,
        s.active,
        s.closed(),
        s.closed_peer,
        s.closed_reset,
        s.closed_timeout,
        s.closed_protocol,
        s.closed_local,
        s.closed_io,
        s.closed_panic,
        s.rejected,
        s.bytes_in,
        s.bytes_out,
        s.frames_in,
        s.frames_out,
        s.datagrams_in,
        s.datagrams_out,
        s.timeouts
    );
}

/// Block until SIGINT or SIGTERM arrives, calling `tick` every `every` meanwhile.
fn wait_for_signal(
    signals: &mut Signals,
    every: Option<Duration>,
    mut tick: impl FnMut(),
) -> io::Result<i32> {
    use std::os::fd::AsRawFd;
    let mut poll = mio::Poll::new()?;
    let fd = signals.as_raw_fd();
    poll.registry().register(
        &mut mio::unix::SourceFd(&fd),
        mio::Token(0),
        mio::Interest::READABLE,
    )?;
    let mut events = mio::Events::with_capacity(4);
    loop {
        match poll.poll(&mut events, every) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        if events.is_empty() {
            tick();
        }
        if let Some(signo) = signals.read()? {
            return Ok(signo);
        }
    }
}

fn serve(o: ServeOpts) -> Result<(), String> {
    // First, before any thread exists: block SIGINT/SIGTERM in this thread, so that every
    // thread started later inherits the mask and the signals arrive through the descriptor.
    let mut signals = Signals::termination().map_err(|e| format!("cannot set up signals: {e}"))?;
    raise_fd_limit();
    let codec = Codec::length_prefixed(o.max_frame);
    let defaults = Config::default();
    let config = Config {
        timeouts: Timeouts {
            idle: o.timeout,
            ..Timeouts::NONE
        },
        // A whole frame must fit in a connection's read buffer.
        max_read_buffer: defaults.max_read_buffer.max(codec.max_frame()),
        // The kernel spreads connections evenly across reactors, so the limit is split too.
        max_connections: o.max_conns.map(|m| m.div_ceil(o.threads)),
        ..defaults
    };
    let mut reactors = Vec::with_capacity(o.threads);
    for _ in 0..o.threads {
        let handler = CourseServer::with_codec(codec).map_err(|e| e.to_string())?;
        let reactor = Reactor::with_config(handler, config)
            .map_err(|e| format!("cannot create a reactor: {e}"))?;
        reactors.push(reactor);
    }
    for addr in or_default(o.udp, 11111) {
        let (_, local) =
            server::bind_udp(&mut reactors, addr).map_err(|e| bind_error("bind UDP", addr, &e))?;
        log::info!("UDP upper-case service on {local}");
    }
    for addr in or_default(o.tcp, 9999) {
        let (_, local) = server::bind_tcp(&mut reactors, addr, config.listen)
            .map_err(|e| bind_error("listen", addr, &e))?;
        log::info!("TCP echo service on {local}");
    }
    for addr in or_default(o.framed, 9998) {
        let (ids, local) = server::bind_tcp(&mut reactors, addr, config.listen)
            .map_err(|e| bind_error("listen", addr, &e))?;
        for (reactor, id) in reactors.iter_mut().zip(ids) {
            reactor.handler_mut().serve_framed(id);
        }
        log::info!(
            "TCP framed echo service on {local} (max frame {} bytes)",
            o.max_frame
        );
    }
    for path in &o.unix {
        // Unix sockets have no SO_REUSEPORT: one reactor serves each.
        let id = reactors[0]
            .with_context(|_, cx| cx.listen_unix(path, &UnixListenOptions::default()))
            .map_err(|e| format!("cannot listen on {}: {e}", path.display()))?;
        reactors[0].handler_mut().serve_framed(id);
        log::info!(
            "Unix framed echo service on {} (max frame {} bytes)",
            path.display(),
            o.max_frame
        );
    }
    if let Some(t) = o.timeout {
        log::info!("idle timeout: {t:?}");
    }
    if let Some(m) = o.max_conns {
        log::info!("at most {m} connections");
    }
    log::info!("{} reactor thread(s); Ctrl-C or SIGTERM stops", o.threads);
    let server = Server::start(reactors).map_err(|e| format!("cannot start: {e}"))?;
    let signo = wait_for_signal(&mut signals, o.stats, || {
        log_stats("stats", &server.stats());
        log_spread(server.stats_per_reactor().iter());
    })
    .map_err(|e| format!("waiting for signals failed: {e}"));
    match &signo {
        Ok(n) => log::info!(
            "signal {n}: shutting down, {}s for open connections to finish",
            GRACE.as_secs()
        ),
        Err(e) => log::error!("{e}"),
    }
    server.shutdown(GRACE);
    let reactors = server.join().map_err(|e| format!("reactor failed: {e}"))?;
    let total = reactors
        .iter()
        .fold(netloop::reactor::Stats::default(), |sum, r| {
            sum.add(r.stats())
        });
    log_stats("stopped", &total);
    log_spread(reactors.iter().map(|r| r.stats()));
    signo.map(|_| ())
}

/// With several reactors, how the connections spread over them.
fn log_spread<'a>(per: impl Iterator<Item = &'a netloop::reactor::Stats>) {
    let counts: Vec<String> = per.map(|s| s.accepted.to_string()).collect();
    if counts.len() > 1 {
        log::info!("accepted per reactor: {}", counts.join(", "));
    }
}

/// One read, retried after a signal; `Ok(None)` when the socket's read timeout passed.
fn read_timed<R: Read>(r: &mut R, buf: &mut [u8]) -> Result<Option<usize>, String> {
    loop {
        match r.read(buf) {
            Ok(n) => return Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(None)
            }
            Err(e) => return Err(format!("receive failed: {e}")),
        }
    }
}

fn unspecified_for(server: SocketAddr) -> SocketAddr {
    match server {
        SocketAddr::V4(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
        SocketAddr::V6(_) => SocketAddr::from(([0u16; 8], 0)),
    }
}

fn udp_client(message: &str, server: SocketAddr, timeout: Duration) -> Result<(), String> {
    let sock = UdpSocket::bind(unspecified_for(server)).map_err(|e| format!("cannot bind: {e}"))?;
    // Connecting a UDP socket picks the local address the kernel will use, so the address we
    // print is the real one, and it filters out datagrams from anyone but the server.
    sock.connect(server)
        .map_err(|e| format!("cannot reach {server}: {e}"))?;
    sock.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let local = sock.local_addr().map_err(|e| e.to_string())?;
    println!("using {local}");
    sock.send(message.as_bytes())
        .map_err(|e| format!("cannot send to {server}: {e}"))?;
    let mut buf = vec![0; 65536];
    let (n, from) = sock.recv_from(&mut buf).map_err(|e| match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            format!("no reply from {server} within {timeout:?}")
        }
        io::ErrorKind::ConnectionRefused => {
            format!("{server} refused the datagram (no server there?)")
        }
        _ => format!("receive failed: {e}"),
    })?;
    println!(
        "received {} from {from}",
        String::from_utf8_lossy(&buf[..n])
    );
    Ok(())
}

fn tcp_client(message: &str, server: SocketAddr, timeout: Duration) -> Result<(), String> {
    let mut sock = TcpStream::connect_timeout(&server, timeout)
        .map_err(|e| format!("cannot connect to {server}: {e}"))?;
    sock.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    sock.set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let local = sock.local_addr().map_err(|e| e.to_string())?;
    println!("using {local}");
    sock.write_all(message.as_bytes())
        .map_err(|e| format!("cannot send to {server}: {e}"))?;
    // Read until the whole echo is back or the server closes.
    let mut got = Vec::with_capacity(message.len());
    let mut buf = [0; 4096];
    while got.len() < message.len() {
        match read_timed(&mut sock, &mut buf)? {
            Some(0) => break,
            Some(n) => got.extend_from_slice(&buf[..n]),
            None => {
                return Err(format!(
                    "{server} sent {} of {} bytes back, then nothing for {timeout:?}",
                    got.len(),
                    message.len()
                ))
            }
        }
    }
    // Like the course's client: close when done (the server then reads end of file).
    let _ = sock.shutdown(Shutdown::Both);
    println!("received {} from {server}", String::from_utf8_lossy(&got));
    if got != message.as_bytes() {
        return Err(format!(
            "the echo differs from what was sent ({} bytes back, {} sent)",
            got.len(),
            message.len()
        ));
    }
    Ok(())
}

fn framed_client(
    messages: &[String],
    server: SocketAddr,
    max_frame: usize,
    timeout: Duration,
) -> Result<(), String> {
    let (codec, wire) = encode_all(messages, max_frame)?;
    let sock = TcpStream::connect_timeout(&server, timeout)
        .map_err(|e| format!("cannot connect to {server}: {e}"))?;
    sock.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    sock.set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let local = sock.local_addr().map_err(|e| e.to_string())?;
    println!("using {local}");
    exchange_frames(sock, &server.to_string(), messages, codec, wire, timeout)
}

fn unix_client(
    messages: &[String],
    server: &std::path::Path,
    max_frame: usize,
    timeout: Duration,
) -> Result<(), String> {
    let (codec, wire) = encode_all(messages, max_frame)?;
    let name = server.display().to_string();
    let sock = std::os::unix::net::UnixStream::connect(server)
        .map_err(|e| format!("cannot connect to {name}: {e}"))?;
    sock.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    sock.set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    println!("using a Unix socket");
    exchange_frames(sock, &name, messages, codec, wire, timeout)
}

/// The messages as frames, back to back, and the codec that made them.
fn encode_all(messages: &[String], max_frame: usize) -> Result<(Codec, Vec<u8>), String> {
    let codec = Codec::length_prefixed(max_frame);
    let mut wire = Vec::new();
    for m in messages {
        codec
            .encode_to_vec(m.as_bytes(), &mut wire)
            .map_err(|e| format!("cannot send '{m}': {e}"))?;
    }
    Ok((codec, wire))
}

/// Send `wire` (the messages, framed), then read and print one echoed frame per message.
fn exchange_frames<S: Read + Write>(
    mut sock: S,
    server: &str,
    messages: &[String],
    codec: Codec,
    wire: Vec<u8>,
    timeout: Duration,
) -> Result<(), String> {
    // All frames back to back (pipelined), then read the echoes.
    sock.write_all(&wire)
        .map_err(|e| format!("cannot send to {server}: {e}"))?;
    let mut decoder = codec.decoder().map_err(|e| e.to_string())?;
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0; 64 * 1024];
    let mut received = 0;
    while received < messages.len() {
        match decoder
            .decode(&buf)
            .map_err(|e| format!("bad frame from {server}: {e}"))?
        {
            Decoded::Frame { frame, consumed } => {
                let got = &buf[frame];
                println!("received {} from {server}", String::from_utf8_lossy(got));
                if got != messages[received].as_bytes() {
                    return Err(format!("frame {} came back different", received + 1));
                }
                received += 1;
                buf.drain(..consumed);
                continue;
            }
            Decoded::Discarded { consumed } => {
                buf.drain(..consumed);
                continue;
            }
            Decoded::Skipped { .. } => continue,
            Decoded::Incomplete { consumed } => {
                buf.drain(..consumed);
            }
        }
        match read_timed(&mut sock, &mut chunk)? {
            Some(0) => {
                return Err(format!(
                    "{server} closed the connection after {received} of {} frames",
                    messages.len()
                ))
            }
            Some(n) => buf.extend_from_slice(&chunk[..n]),
            None => {
                return Err(format!(
                    "{server} echoed {received} of {} frames, then nothing for {timeout:?}",
                    messages.len()
                ))
            }
        }
    }
    Ok(())
}
