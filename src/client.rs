//! The course's clients: send a message to one of the servers and check what comes back.
//!
//! Each function makes a blocking std socket with timeouts, sends, reads the reply, writes
//! one report line per step to `out` (the local address used, what came back from where), and
//! fails with a message that names the problem: no server, no reply within the timeout, an
//! echo that differs from what was sent. `netloop udp-client`, `tcp-client`, `framed-client`
//! and `unix-client` are these functions.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use crate::framing::{Codec, Decoded};

/// Write one report line; a failed write to the report does not fail the exchange.
macro_rules! say {
    ($out:expr, $($arg:tt)*) => {{
        let _ = writeln!($out, $($arg)*);
    }};
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

/// The course's UDP client: send `message` in one datagram to `server` and report the reply.
///
/// # Errors
///
/// A message naming the problem: cannot bind or reach the server, no reply within `timeout`,
/// the datagram refused (no server there).
pub fn udp_client(
    out: &mut dyn Write,
    message: &[u8],
    server: SocketAddr,
    timeout: Duration,
) -> Result<(), String> {
    let sock = UdpSocket::bind(unspecified_for(server)).map_err(|e| format!("cannot bind: {e}"))?;
    // Connecting a UDP socket picks the local address the kernel will use, so the address we
    // print is the real one, and it filters out datagrams from anyone but the server.
    sock.connect(server)
        .map_err(|e| format!("cannot reach {server}: {e}"))?;
    sock.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let local = sock.local_addr().map_err(|e| e.to_string())?;
    say!(out, "using {local}");
    sock.send(message)
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
    say!(
        out,
        "received {} from {from}",
        String::from_utf8_lossy(&buf[..n])
    );
    Ok(())
}

/// The course's TCP client: send `message` to the echo server at `server`, read until it is
/// all back, and check it.
///
/// # Errors
///
/// A message naming the problem: cannot connect, the echo stopped short for `timeout`, or
/// differs from what was sent.
pub fn tcp_client(
    out: &mut dyn Write,
    message: &[u8],
    server: SocketAddr,
    timeout: Duration,
) -> Result<(), String> {
    let mut sock = connect_tcp(out, server, timeout)?;
    sock.write_all(message)
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
    say!(
        out,
        "received {} from {server}",
        String::from_utf8_lossy(&got)
    );
    if got != message {
        return Err(format!(
            "the echo differs from what was sent ({} bytes back, {} sent)",
            got.len(),
            message.len()
        ));
    }
    Ok(())
}

/// Send each of `messages` as one frame (4-byte big-endian length, then the bytes) to the
/// framed echo server at `server`, back to back, and check each echoed frame in order.
///
/// # Errors
///
/// A message naming the problem: a message too long for `max_frame`, cannot connect, a bad
/// frame back, the server closing early, or silence for `timeout`.
pub fn framed_client(
    out: &mut dyn Write,
    messages: &[String],
    server: SocketAddr,
    max_frame: usize,
    timeout: Duration,
) -> Result<(), String> {
    let (codec, wire) = encode_all(messages, max_frame)?;
    let sock = connect_tcp(out, server, timeout)?;
    exchange_frames(
        out,
        sock,
        &server.to_string(),
        messages,
        codec,
        wire,
        timeout,
    )
}

/// As [`framed_client`], over the Unix stream socket at `server` (a file or an abstract name).
///
/// # Errors
///
/// As for [`framed_client`].
pub fn unix_client(
    out: &mut dyn Write,
    messages: &[String],
    server: &crate::addr::UnixAddr,
    max_frame: usize,
    timeout: Duration,
) -> Result<(), String> {
    let (codec, wire) = encode_all(messages, max_frame)?;
    let name = server.to_string();
    let sock = crate::sys::unix_connect(server)
        .and_then(|s| {
            s.set_nonblocking(false)?;
            Ok(s)
        })
        .map_err(|e| format!("cannot connect to {name}: {e}"))?;
    sock.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    sock.set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    say!(out, "using a Unix socket");
    exchange_frames(out, sock, &name, messages, codec, wire, timeout)
}

/// Connect to `server` within `timeout`, with reads and writes bounded by it too, and report
/// the local address used.
fn connect_tcp(
    out: &mut dyn Write,
    server: SocketAddr,
    timeout: Duration,
) -> Result<TcpStream, String> {
    let sock = TcpStream::connect_timeout(&server, timeout)
        .map_err(|e| format!("cannot connect to {server}: {e}"))?;
    sock.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    sock.set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let local = sock.local_addr().map_err(|e| e.to_string())?;
    say!(out, "using {local}");
    Ok(sock)
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
    out: &mut dyn Write,
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
                say!(
                    out,
                    "received {} from {server}",
                    String::from_utf8_lossy(got)
                );
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
