//! The course's clients, on the blocking [`Socket`] facade, grown into tools one would use
//! instead of `nc`: host names and service names (`localhost:9999`, `[::1]:echo`), `-4`/`-6`,
//! the message from the command line or, when none is given, from standard input or a file
//! (binary data, any size), a timeout, and round-trip times.
//!
//! Each function reads like the course's Python program: make a socket, set its timeout,
//! connect, `sendall`, `recv` until the reply is complete. Report lines ("using ADDR",
//! "received ... from ADDR in T ms") go to `report`. A message given on the command line is
//! echoed in those lines as text; input from a stream ([`Input::Bytes`]) is written back raw to
//! `data` (so `netloop tcp-client < file > copy` copies the file through the echo server),
//! and the lines then count bytes. Every failure is a message that names the problem: no
//! server, no reply within the timeout, an echo that differs from what was sent.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use netloop::addr::UnixAddr;
use netloop::framing::{Codec, Decoded};
use netloop::socket::{Address, Family, SockType, Socket};

/// Write one report line; a failed write to the report does not fail the exchange.
macro_rules! say {
    ($out:expr, $($arg:tt)*) => {{
        let _ = writeln!($out, $($arg)*);
    }};
}

/// How a client finds and waits for its server.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Only this family (`-4`, `-6`); `None`: whatever the name resolves to, in order.
    pub family: Option<Family>,
    /// How long any one step may wait (connect, each read, the whole send).
    pub timeout: Duration,
    /// Speak TLS (`--tls`), trusting the authorities in this PEM file (`--ca`), or with
    /// `Some(None)` the system's; stream clients only.
    pub tls: Option<Option<PathBuf>>,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            family: None,
            timeout: Duration::from_secs(5),
            tls: None,
        }
    }
}

/// What to send.
#[derive(Clone, Debug)]
pub enum Input {
    /// Messages given as text on the command line: echoed as text in the report.
    Text(Vec<String>),
    /// Bytes read from standard input or a file: written back raw to the data output.
    Bytes(Vec<u8>),
}

/// Where the output goes: report lines, and (for [`Input::Bytes`]) the raw reply.
pub struct Output<'a> {
    /// Report lines.
    pub report: &'a mut dyn Write,
    /// The reply's bytes, for byte input.
    pub data: &'a mut dyn Write,
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// Check that `s` is written as every `netloop` command takes an address: `HOST:PORT` with a
/// host name or an IPv4 address, `[IPv6]:PORT` (with `%SCOPE` for a link-local address), and
/// a port number or a service name. Nothing is looked up here except a scope's interface: a
/// mistake in how the address is written is a usage error, found before anything runs.
///
/// # Errors
///
/// A message naming the mistake: no port (with the form to write, `[::1]:PORT` for a bare
/// IPv6 address), an IPv6 address outside brackets (`::1:9999` is refused with a hint to write
/// `[::1]:9999`), an empty host, an unknown service or interface.
pub fn check_addr(s: &str) -> Result<(), String> {
    let bare = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    if bare
        .split('%')
        .next()
        .is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok())
    {
        return Err(format!("'{s}' has no port (write [{bare}]:PORT)"));
    }
    let Some((host, port)) = s.rsplit_once(':') else {
        return Err(format!(
            "'{s}' has no port (write HOST:PORT: localhost:9999, 127.0.0.1:9999 or [::1]:9999)"
        ));
    };
    if host.contains(':') && !host.starts_with('[') {
        return Err(format!(
            "'{s}' is ambiguous: write an IPv6 address in brackets, as [{host}]:{port}"
        ));
    }
    if host.is_empty() || host == "[]" {
        return Err(format!("'{s}' has no host"));
    }
    if host.starts_with('[') || host.parse::<std::net::IpAddr>().is_ok() {
        // A numeric address: its own parser names what is wrong (brackets, scope, service).
        return netloop::addr::parse_socket_addr(s)
            .map(|_| ())
            .map_err(|e| e.to_string());
    }
    if port.parse::<u16>().is_err()
        && netloop::names::getservbyname(port, Some("tcp")).is_err()
        && netloop::names::getservbyname(port, Some("udp")).is_err()
    {
        return Err(format!(
            "'{port}' is not a port number or a known service name"
        ));
    }
    Ok(())
}

/// The addresses `server` stands for (written as [`check_addr`] says): a numeric address as
/// it is, else every address `getaddrinfo` gives `HOST:PORT` for `ty` (and `family`, if
/// given). Clients try them in order; `serve` binds them all.
///
/// # Errors
///
/// A message naming the problem: the address written wrong, an unknown host, no address of
/// the family asked for.
pub fn resolve(
    server: &str,
    family: Option<Family>,
    ty: SockType,
) -> Result<Vec<SocketAddr>, String> {
    check_addr(server)?;
    let wanted = |a: &SocketAddr| match family {
        Some(Family::Inet) => a.is_ipv4(),
        Some(Family::Inet6) => a.is_ipv6(),
        _ => true,
    };
    let addrs = match netloop::addr::parse_socket_addr(server) {
        Ok(a) => vec![a],
        Err(_) => {
            let (host, port) = server.rsplit_once(':').unwrap_or((server, ""));
            let proto = if ty == SockType::Dgram { "udp" } else { "tcp" };
            let port = match port.parse::<u16>() {
                Ok(p) => p,
                Err(_) => netloop::names::getservbyname(port, Some(proto))
                    .map_err(|_| format!("'{port}' is not a {proto} service name"))?,
            };
            netloop::names::getaddrinfo(
                Some(host),
                Some(&port.to_string()),
                family,
                Some(ty),
                0,
                netloop::names::AiFlags::NONE,
            )
            .map_err(|e| format!("cannot resolve {host}: {e}"))?
            .into_iter()
            .map(|r| r.addr)
            .collect()
        }
    };
    let mut addrs: Vec<SocketAddr> = addrs.into_iter().filter(wanted).collect();
    // One of each: getaddrinfo may list an address once per protocol.
    let mut seen = std::collections::HashSet::new();
    addrs.retain(|a| seen.insert(*a));
    if addrs.is_empty() {
        return Err(format!("{server} has no address of the family asked for"));
    }
    Ok(addrs)
}

fn family_of(a: &SocketAddr) -> Family {
    if a.is_ipv4() {
        Family::Inet
    } else {
        Family::Inet6
    }
}

/// Connect a socket of `ty` to the first of `server`'s addresses that answers: a stream
/// races them with Happy Eyeballs (`socket::connect_first`), a datagram socket takes the
/// first it can.
fn connect(
    report: &mut dyn Write,
    server: &str,
    ty: SockType,
    opts: &ClientOptions,
) -> Result<(Socket, SocketAddr), String> {
    let addrs = resolve(server, opts.family, ty)?;
    if ty == SockType::Stream {
        let (sock, addr) = netloop::socket::connect_first(&addrs, Some(opts.timeout))
            .map_err(|e| format!("cannot connect to {server}: {e}"))?;
        if let Ok(local) = sock.getsockname() {
            say!(report, "using {local}");
        }
        return Ok((sock, addr));
    }
    let mut last = String::new();
    for addr in addrs {
        let mut sock = Socket::new(family_of(&addr), ty, None).map_err(|e| e.to_string())?;
        sock.settimeout(Some(opts.timeout))
            .map_err(|e| e.to_string())?;
        match sock.connect(addr) {
            Ok(()) => {
                if let Ok(local) = sock.getsockname() {
                    say!(report, "using {local}");
                }
                return Ok((sock, addr));
            }
            Err(e) => last = format!("cannot connect to {addr}: {e}"),
        }
    }
    Err(last)
}

/// With `--tls`, the TLS session over `sock` (see [`crate::tls`]): the plain socket to use
/// instead, and the relay to wait for at the end; else `sock` as it is.
fn secure(
    sock: Socket,
    server: &str,
    opts: &ClientOptions,
) -> Result<(Socket, Option<crate::tls::Relay>), String> {
    let Some(ca) = &opts.tls else {
        return Ok((sock, None));
    };
    // The name the certificate must carry: the host as written, without brackets or scope.
    let host = server.rsplit_once(':').map_or(server, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host = host.split('%').next().unwrap_or(host);
    let (plain, relay) = crate::tls::wrap(sock, host, ca.as_deref(), opts.timeout)?;
    Ok((plain, Some(relay)))
}

/// The exchange's result, or the TLS session's failure if there was one (it explains the
/// exchange's: a cut or an alert). The client's socket must be closed before this waits.
fn with_relay(result: Result<(), String>, relay: Option<crate::tls::Relay>) -> Result<(), String> {
    match (result, relay.map(crate::tls::Relay::finish)) {
        (Err(e), Some(Err(tls))) => Err(format!("{e} ({tls})")),
        (Ok(()), Some(Err(tls))) => Err(tls),
        (result, _) => result,
    }
}

fn recv_error(e: io::Error, server: SocketAddr, timeout: Duration) -> String {
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
            format!("no reply from {server} within {timeout:?}")
        }
        io::ErrorKind::ConnectionRefused => {
            format!("{server} refused the datagram (no server there?)")
        }
        _ => format!("receive failed: {e}"),
    }
}

/// The course's UDP client: send the message in one datagram and report the reply.
///
/// # Errors
///
/// A message naming the problem: cannot resolve or reach the server, no reply within the
/// timeout, the datagram refused (no server there), a message too big for one datagram.
pub fn udp_client(
    out: Output<'_>,
    message: &Input,
    server: &str,
    opts: &ClientOptions,
) -> Result<(), String> {
    let bytes = match message {
        Input::Text(m) => m.join(" ").into_bytes(),
        Input::Bytes(b) => b.clone(),
    };
    // Connecting a UDP socket picks the local address the kernel will use, so the address
    // printed is the real one, and only the server's datagrams come through.
    let (sock, addr) = connect(out.report, server, SockType::Dgram, opts)?;
    let start = Instant::now();
    sock.send(&bytes)
        .map_err(|e| format!("cannot send {} bytes to {addr}: {e}", bytes.len()))?;
    let (reply, from) = sock
        .recvfrom(65536)
        .map_err(|e| recv_error(e, addr, opts.timeout))?;
    let rtt = ms(start.elapsed());
    match message {
        Input::Text(_) => say!(
            out.report,
            "received {} from {from} in {rtt}",
            String::from_utf8_lossy(&reply)
        ),
        Input::Bytes(_) => {
            out.data.write_all(&reply).map_err(|e| e.to_string())?;
            say!(
                out.report,
                "received {} bytes from {from} in {rtt}",
                reply.len()
            );
        }
    }
    Ok(())
}

/// The course's TCP client: send the message to the echo server, read until it is all back,
/// and check it. Sending runs on a second thread while this one reads, so an echo of any
/// size flows through without either side's buffers filling up.
///
/// # Errors
///
/// A message naming the problem: cannot connect, the echo stopped short for the timeout,
/// or differs from what was sent.
pub fn tcp_client(
    out: Output<'_>,
    message: &Input,
    server: &str,
    opts: &ClientOptions,
) -> Result<(), String> {
    let bytes = match message {
        Input::Text(m) => m.join(" ").into_bytes(),
        Input::Bytes(b) => b.clone(),
    };
    let (sock, addr) = connect(out.report, server, SockType::Stream, opts)?;
    let (sock, relay) = secure(sock, server, opts)?;
    let result = tcp_exchange(out, message, bytes, sock, addr, opts);
    with_relay(result, relay)
}

/// `tcp_client`'s exchange over `sock` (closed when it returns).
fn tcp_exchange(
    out: Output<'_>,
    message: &Input,
    bytes: Vec<u8>,
    sock: Socket,
    addr: SocketAddr,
    opts: &ClientOptions,
) -> Result<(), String> {
    let start = Instant::now();
    let writer = sock.dup().map_err(|e| e.to_string())?;
    let to_send = bytes.clone();
    let sender = std::thread::spawn(move || -> Result<(), String> {
        writer
            .sendall(&to_send)
            .map_err(|e| format!("cannot send to {addr}: {e}"))?;
        // Like the course's client, done sending: the server reads end of file.
        let _ = writer.shutdown(std::net::Shutdown::Write);
        Ok(())
    });
    let mut got = Vec::with_capacity(bytes.len());
    let mut buf = vec![0; 64 * 1024];
    let read_result = loop {
        if got.len() >= bytes.len() {
            break Ok(());
        }
        match sock.recv_into(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => {
                if let Input::Bytes(_) = message {
                    if let Err(e) = out.data.write_all(&buf[..n]) {
                        break Err(e.to_string());
                    }
                }
                got.extend_from_slice(&buf[..n]);
            }
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                break Err(format!(
                    "{addr} sent {} of {} bytes back, then nothing for {:?}",
                    got.len(),
                    bytes.len(),
                    opts.timeout
                ))
            }
            Err(e) => break Err(format!("receive failed: {e}")),
        }
    };
    let rtt = ms(start.elapsed());
    // A failed read makes the sender's error moot; close first so it cannot hang.
    if read_result.is_err() {
        let _ = sock.shutdown(std::net::Shutdown::Both);
    }
    let sent = sender
        .join()
        .map_err(|_| "the sending thread panicked".to_string())?;
    read_result?;
    sent?;
    match message {
        Input::Text(_) => say!(
            out.report,
            "received {} from {addr} in {rtt}",
            String::from_utf8_lossy(&got)
        ),
        Input::Bytes(_) => say!(
            out.report,
            "received {} bytes from {addr} in {rtt}",
            got.len()
        ),
    }
    if got != bytes {
        return Err(format!(
            "the echo differs from what was sent ({} bytes back, {} sent)",
            got.len(),
            bytes.len()
        ));
    }
    Ok(())
}

/// How `framed-client` cuts byte input into frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameSplit {
    /// One frame per line (the newline is not sent; it is written back after each echo).
    Lines,
    /// The whole input as one frame.
    Whole,
}

/// Send each message as one frame (4-byte big-endian length, then the bytes) to the framed
/// echo server, back to back, and check each echoed frame in order.
///
/// # Errors
///
/// A message naming the problem: a message too long for `max_frame`, cannot connect, a bad
/// frame back, the server closing early, or silence for the timeout.
pub fn framed_client(
    out: Output<'_>,
    message: &Input,
    split: FrameSplit,
    server: &str,
    max_frame: usize,
    opts: &ClientOptions,
) -> Result<(), String> {
    let (sock, addr) = connect(out.report, server, SockType::Stream, opts)?;
    let (sock, relay) = secure(sock, server, opts)?;
    let result = exchange_frames(
        out,
        sock,
        &addr.to_string(),
        message,
        split,
        max_frame,
        opts.timeout,
    );
    with_relay(result, relay)
}

/// As [`framed_client`], over the Unix stream socket at `server` (a file or an abstract name).
///
/// # Errors
///
/// As for [`framed_client`].
pub fn unix_client(
    out: Output<'_>,
    message: &Input,
    split: FrameSplit,
    server: &UnixAddr,
    max_frame: usize,
    timeout: Duration,
) -> Result<(), String> {
    let name = server.to_string();
    let mut sock = Socket::new(Family::Unix, SockType::Stream, None).map_err(|e| e.to_string())?;
    sock.settimeout(Some(timeout)).map_err(|e| e.to_string())?;
    sock.connect(Address::Unix(server.clone()))
        .map_err(|e| format!("cannot connect to {name}: {e}"))?;
    say!(out.report, "using a Unix socket");
    exchange_frames(out, sock, &name, message, split, max_frame, timeout)
}

/// The frames' payloads for `message`.
fn payloads(message: &Input, split: FrameSplit) -> Vec<Vec<u8>> {
    match (message, split) {
        (Input::Text(m), _) => m.iter().map(|s| s.as_bytes().to_vec()).collect(),
        (Input::Bytes(b), FrameSplit::Whole) => vec![b.clone()],
        (Input::Bytes(b), FrameSplit::Lines) => {
            let mut lines: Vec<Vec<u8>> = b.split(|&c| c == b'\n').map(<[u8]>::to_vec).collect();
            if b.ends_with(b"\n") || b.is_empty() {
                lines.pop(); // the newline ends the last line; it does not start another
            }
            lines
        }
    }
}

/// Send every frame (pipelined), then read and report one echoed frame per message.
fn exchange_frames(
    out: Output<'_>,
    sock: Socket,
    server: &str,
    message: &Input,
    split: FrameSplit,
    max_frame: usize,
    timeout: Duration,
) -> Result<(), String> {
    let frames = payloads(message, split);
    let codec = Codec::length_prefixed(max_frame);
    let mut wire = Vec::new();
    for f in &frames {
        codec
            .encode_to_vec(f, &mut wire)
            .map_err(|e| format!("cannot send a {}-byte message: {e}", f.len()))?;
    }
    let start = Instant::now();
    let writer = sock.dup().map_err(|e| e.to_string())?;
    let name = server.to_string();
    let sender = std::thread::spawn(move || {
        writer
            .sendall(&wire)
            .map_err(|e| format!("cannot send to {name}: {e}"))
    });
    let mut decoder = codec.decoder().map_err(|e| e.to_string())?;
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0; 64 * 1024];
    let mut received = 0;
    let result = loop {
        if received == frames.len() {
            break Ok(());
        }
        match decoder.decode(&buf) {
            Err(e) => break Err(format!("bad frame from {server}: {e}")),
            Ok(Decoded::Frame { frame, consumed }) => {
                let got = &buf[frame];
                let rtt = ms(start.elapsed());
                match message {
                    Input::Text(_) => say!(
                        out.report,
                        "received {} from {server} in {rtt}",
                        String::from_utf8_lossy(got)
                    ),
                    Input::Bytes(b) => {
                        let _ = out.data.write_all(got);
                        // The newline that ended the line, unless the input ended without one:
                        // what comes back is exactly what was given.
                        let last = received + 1 == frames.len();
                        if split == FrameSplit::Lines && (!last || b.ends_with(b"\n")) {
                            let _ = out.data.write_all(b"\n");
                        }
                        say!(
                            out.report,
                            "received {} bytes from {server} in {rtt}",
                            got.len()
                        );
                    }
                }
                if got != frames[received].as_slice() {
                    break Err(format!("frame {} came back different", received + 1));
                }
                received += 1;
                buf.drain(..consumed);
                continue;
            }
            Ok(Decoded::Discarded { consumed }) => {
                buf.drain(..consumed);
                continue;
            }
            Ok(Decoded::Skipped { .. }) => continue,
            Ok(Decoded::Incomplete { consumed }) => {
                buf.drain(..consumed);
            }
        }
        match sock.recv_into(&mut chunk) {
            Ok(0) => {
                break Err(format!(
                    "{server} closed the connection after {received} of {} frames",
                    frames.len()
                ))
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                break Err(format!(
                    "{server} echoed {received} of {} frames, then nothing for {timeout:?}",
                    frames.len()
                ))
            }
            Err(e) => break Err(format!("receive failed: {e}")),
        }
    };
    // A failed read makes the sender's error moot; close first so it cannot hang.
    if result.is_err() {
        let _ = sock.shutdown(std::net::Shutdown::Both);
    }
    let sent = sender
        .join()
        .map_err(|_| "the sending thread panicked".to_string())?;
    result?;
    sent
}
