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
use netloop::services::CourseServer;
use netloop::sys::Signals;

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
    /// Run the servers on one reactor until Ctrl-C or SIGTERM.
    ///
    /// With no address flags: UDP upper-casing on 127.0.0.1:11111, TCP stream echo on
    /// 127.0.0.1:9999 and TCP framed echo on 127.0.0.1:9998. Giving any --udp, --tcp or
    /// --framed replaces that service's default address.
    ///
    /// Framed echo: each frame is a 4-byte big-endian length N, then N payload bytes; every
    /// frame is sent back unchanged and in order. A frame over --max-frame closes that
    /// connection (logged with the reason); other connections carry on.
    #[command(
        after_help = "Examples:\n  netloop serve\n  netloop serve --tcp 127.0.0.1:9999 --tcp [::1]:9999 --timeout 30\n  netloop serve --framed 127.0.0.1:7000 --max-frame 65536\n  RUST_LOG=debug netloop serve --udp 0.0.0.0:11111"
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
        /// Largest frame accepted, counted on the wire (4-byte header included).
        #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_FRAME, value_parser = parse_max_frame)]
        max_frame: usize,
        /// Close a connection when no byte has moved either way for SECS seconds.
        #[arg(long, value_name = "SECS", value_parser = parse_secs)]
        timeout: Option<Duration>,
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
}

fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    s.parse().map_err(|_| {
        format!(
            "'{s}' is not an IP address with a port (write 127.0.0.1:9999, or [::1]:9999 for IPv6)"
        )
    })
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
            max_frame,
            timeout,
        } => serve(udp, tcp, framed, max_frame, timeout),
        Command::FramedClient {
            messages,
            server,
            max_frame,
            timeout,
        } => framed_client(&messages, server, max_frame, timeout),
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

fn serve(
    udp: Vec<SocketAddr>,
    tcp: Vec<SocketAddr>,
    framed: Vec<SocketAddr>,
    max_frame: usize,
    timeout: Option<Duration>,
) -> Result<(), String> {
    // First, before any thread exists: block SIGINT/SIGTERM so they arrive through the poll.
    let signals = Signals::termination().map_err(|e| format!("cannot set up signals: {e}"))?;
    let codec = Codec::length_prefixed(max_frame);
    let handler = CourseServer::with_codec(codec).map_err(|e| e.to_string())?;
    let defaults = Config::default();
    let config = Config {
        timeouts: Timeouts {
            idle: timeout,
            ..Timeouts::NONE
        },
        // A whole frame must fit in a connection's read buffer.
        max_read_buffer: defaults.max_read_buffer.max(codec.max_frame()),
        ..defaults
    };
    let mut reactor = Reactor::with_config(handler, config)
        .map_err(|e| format!("cannot create the reactor: {e}"))?;
    reactor
        .add_signals(signals)
        .map_err(|e| format!("cannot watch signals: {e}"))?;
    for addr in or_default(udp, 11111) {
        let id = reactor
            .bind_udp(addr)
            .map_err(|e| bind_error("bind UDP", addr, &e))?;
        let local = reactor.udp_addr(id).map_err(|e| e.to_string())?;
        log::info!("UDP upper-case service on {local}");
    }
    for addr in or_default(tcp, 9999) {
        let id = reactor
            .listen(addr)
            .map_err(|e| bind_error("listen", addr, &e))?;
        let local = reactor.listener_addr(id).map_err(|e| e.to_string())?;
        log::info!("TCP echo service on {local}");
    }
    for addr in or_default(framed, 9998) {
        let id = reactor
            .listen(addr)
            .map_err(|e| bind_error("listen", addr, &e))?;
        reactor.handler_mut().serve_framed(id);
        let local = reactor.listener_addr(id).map_err(|e| e.to_string())?;
        log::info!("TCP framed echo service on {local} (max frame {max_frame} bytes)");
    }
    if let Some(t) = timeout {
        log::info!("idle timeout: {t:?}");
    }
    reactor.run().map_err(|e| format!("reactor failed: {e}"))?;
    let s = reactor.stats();
    log::info!(
        "stopped: {} accepted, {} still open, {} bytes in, {} bytes out, {} datagrams in, {} timeouts",
        s.accepted,
        s.active,
        s.bytes_in,
        s.bytes_out,
        s.datagrams_in,
        s.timeouts
    );
    Ok(())
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
        match sock.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(format!(
                    "{server} sent {} of {} bytes back, then nothing for {timeout:?}",
                    got.len(),
                    message.len()
                ))
            }
            Err(e) => return Err(format!("receive failed: {e}")),
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
    let codec = Codec::length_prefixed(max_frame);
    let mut wire = Vec::new();
    for m in messages {
        codec
            .encode_to_vec(m.as_bytes(), &mut wire)
            .map_err(|e| format!("cannot send '{m}': {e}"))?;
    }
    let mut sock = TcpStream::connect_timeout(&server, timeout)
        .map_err(|e| format!("cannot connect to {server}: {e}"))?;
    sock.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    sock.set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let local = sock.local_addr().map_err(|e| e.to_string())?;
    println!("using {local}");
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
        match sock.read(&mut chunk) {
            Ok(0) => {
                return Err(format!(
                    "{server} closed the connection after {received} of {} frames",
                    messages.len()
                ))
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(format!(
                    "{server} echoed {received} of {} frames, then nothing for {timeout:?}",
                    messages.len()
                ))
            }
            Err(e) => return Err(format!("receive failed: {e}")),
        }
    }
    let _ = sock.shutdown(Shutdown::Both);
    Ok(())
}
