//! TLS for the course's stream clients (`tcp-client --tls`, `framed-client --tls`).
//!
//! [`wrap`] makes the TLS session over a connected socket (the handshake done, the server's
//! certificate checked against `--ca` or the system's authorities) and hands back a plain
//! socket: one end of a Unix socket pair, whose other end a [`Relay`] thread joins to the
//! session. The clients then run unchanged over the plain end: a second thread may send
//! while the first reads, and shutting the plain end's write side sends the server
//! `close_notify`, as the course's client shuts down its write side.

use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::path::Path;
use std::thread::JoinHandle;
use std::time::Duration;

use netloop::socket::tls::{client_config, TlsStream};
use netloop::socket::{unix_pair, Socket, UnixKind};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

/// The thread that carries bytes between the plain socket and the TLS session.
#[derive(Debug)]
pub struct Relay(JoinHandle<Result<(), String>>);

impl Relay {
    /// Wait for the session to end: its error, if it failed (a TLS alert, the server
    /// closing without `close_notify`, no progress within the timeout).
    ///
    /// # Errors
    ///
    /// What ended the session early.
    pub fn finish(self) -> Result<(), String> {
        self.0
            .join()
            .map_err(|_| "the TLS thread panicked".to_string())?
    }
}

/// TLS over `sock`, connected to `server_name` (a host name or an address, which its
/// certificate must name), trusting the authorities in `ca` (a PEM file) or the system's.
///
/// # Errors
///
/// A message naming the problem: the CA file, the server name, or the handshake (a
/// certificate signed by no trusted authority, expired, or for another name).
pub fn wrap(
    sock: Socket,
    server_name: &str,
    ca: Option<&Path>,
    timeout: Duration,
) -> Result<(Socket, Relay), String> {
    let config = client_config(ca).map_err(|e| format!("TLS: {e}"))?;
    let tls = TlsStream::connect(sock, server_name, config).map_err(|e| e.to_string())?;
    let (mine, theirs) = unix_pair(UnixKind::Stream).map_err(|e| e.to_string())?;
    let mut plain = Socket::from_socket2(mine).map_err(|e| e.to_string())?;
    let mut client = Socket::from_socket2(theirs).map_err(|e| e.to_string())?;
    client
        .settimeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    plain
        .settimeout(Some(Duration::ZERO))
        .map_err(|e| e.to_string())?;
    let handle = std::thread::spawn(move || relay(tls, plain, timeout));
    Ok((client, Relay(handle)))
}

fn would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

/// Carry bytes both ways until both directions have ended, or `timeout` passes with
/// nothing moving.
fn relay(mut tls: TlsStream, plain: Socket, timeout: Duration) -> Result<(), String> {
    tls.socket_mut()
        .settimeout(Some(Duration::ZERO))
        .map_err(|e| e.to_string())?;
    let mut buf = vec![0; 64 * 1024];
    let (mut up, mut down) = (Vec::new(), Vec::new());
    let (mut client_done, mut server_done, mut notified) = (false, false, false);
    loop {
        let mut moved = false;
        // From the client, into the session.
        if !client_done && up.len() < buf.len() {
            match (&plain).read(&mut buf) {
                Ok(0) => client_done = true,
                Ok(n) => (up.extend_from_slice(&buf[..n]), moved = true).1,
                Err(e) if would_block(&e) => {}
                Err(e) => return Err(format!("relay: {e}")),
            }
        }
        if !up.is_empty() {
            match tls.write(&up) {
                Ok(n) => (up.drain(..n), moved |= n > 0).1,
                Err(e) if would_block(&e) => {}
                Err(e) => return Err(format!("TLS send failed: {e}")),
            }
        }
        match tls.flush() {
            Ok(()) if client_done && up.is_empty() && !notified => {
                tls.send_close_notify();
                notified = true;
                moved = true;
            }
            Ok(()) => {}
            Err(e) if would_block(&e) => {}
            Err(e) => return Err(format!("TLS send failed: {e}")),
        }
        // From the session, to the client.
        if !server_done {
            match tls.read(&mut buf) {
                Ok(0) => (server_done = true, moved = true).1,
                Ok(n) => (down.extend_from_slice(&buf[..n]), moved = true).1,
                Err(e) if would_block(&e) => {}
                Err(e) => return Err(format!("TLS receive failed: {e}")),
            }
        }
        if !down.is_empty() {
            match (&plain).write(&down) {
                Ok(n) => (down.drain(..n), moved |= n > 0).1,
                Err(e) if would_block(&e) => {}
                // The client is gone (it stopped reading early): nothing more to do.
                Err(_) => return Ok(()),
            }
        }
        if server_done && down.is_empty() {
            let _ = plain.shutdown(std::net::Shutdown::Write);
            if client_done || notified {
                return Ok(());
            }
        }
        if moved {
            continue;
        }
        let mut plain_wants = PollFlags::empty();
        if !client_done {
            plain_wants |= PollFlags::POLLIN;
        }
        if !down.is_empty() {
            plain_wants |= PollFlags::POLLOUT;
        }
        // The TCP socket is nearly always writable: wait for that only while the session has
        // records to send.
        let mut tls_wants = PollFlags::POLLIN;
        if tls.wants_write() {
            tls_wants |= PollFlags::POLLOUT;
        }
        let mut fds = [
            PollFd::new(plain.as_fd(), plain_wants),
            PollFd::new(tls.socket().as_fd(), tls_wants),
        ];
        let wait = PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX);
        match poll(&mut fds, wait) {
            Ok(0) => return Err(format!("TLS: nothing moved for {timeout:?}")),
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(format!("poll: {e}")),
        }
        // The client closed its socket altogether (after its end of file): it wants nothing
        // more from the server.
        let hung_up = fds[0]
            .revents()
            .is_some_and(|r| r.contains(PollFlags::POLLHUP));
        if client_done && hung_up {
            return Ok(());
        }
    }
}
