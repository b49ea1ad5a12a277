//! [`create_connection`] and [`connect_first`]: Python's `socket.create_connection`, with
//! Happy Eyeballs (RFC 8305) instead of one address after another.
//!
//! The decisions are `conn::race::Race`'s, the same the reactor's `Context::connect_host`
//! follows: the families interleaved, IPv6 first, the next address started beside the ones
//! under way after [`ATTEMPT_DELAY`] or at once when one fails, the first to connect wins,
//! and the timeout bounds the whole of it. Here they are carried out with non-blocking
//! sockets and `poll(2)` on all the attempts at once, on the calling thread.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Type};

use super::blocking::Socket;
use crate::conn::race::{split_target, Race, Step};

/// How long an attempt goes unanswered before the next address starts beside it (RFC 8305's
/// recommended "connection attempt delay").
pub const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// `socket.create_connection(address, timeout)`: a TCP connection to `target`, a host and a
/// service (`"example.com:80"`, `"localhost:http"`, `"[::1]:9999"`), through the first of
/// its addresses to answer (Happy Eyeballs, see the module docs). The socket comes back
/// blocking with `timeout` as its timeout (`None`: the default timeout's), as Python's does.
///
/// The look-up itself (`getaddrinfo`) blocks as long as it takes, as in Python; `timeout`
/// bounds the attempts. (The reactor's `Context::connect_host` bounds both, off its loop.)
///
/// # Errors
///
/// `InvalidInput` for a target that is not `host:service`; a look-up error; `TimedOut`; or,
/// when every address fails, the last one's error kind, with a message naming each address
/// and what it said.
pub fn create_connection(target: &str, timeout: Option<Duration>) -> io::Result<Socket> {
    let (host, service) = split_target(target)?;
    let port = crate::names::service_port(service)?;
    let addrs = crate::names::stream_addrs(host, port)
        .map_err(|e| io::Error::other(format!("cannot connect to {target}: {e}")))?;
    connect_first(&addrs, timeout)
        .map(|(sock, _)| sock)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot connect to {target}: {e}")))
}

/// A TCP connection to the first of `addrs` to answer, raced with Happy Eyeballs (see the
/// module docs), and the address it reached. The socket comes back as
/// [`create_connection`]'s does.
///
/// # Errors
///
/// `TimedOut`; `NotFound` for no address at all; or, when every address fails, the last
/// one's error kind, with a message naming each address and what it said.
pub fn connect_first(
    addrs: &[SocketAddr],
    timeout: Option<Duration>,
) -> io::Result<(Socket, SocketAddr)> {
    let mut race = Race::new(Instant::now(), timeout, ATTEMPT_DELAY);
    race.resolved(Ok(addrs.to_vec()));
    let mut attempts: Vec<(socket2::Socket, SocketAddr)> = Vec::new();
    loop {
        let now = Instant::now();
        match race.next(now) {
            Step::Start(addr) => match open(addr) {
                Ok(sock) => attempts.push((sock, addr)),
                Err(e) => race.failed(addr, &e, now),
            },
            Step::Fail(kind, what) => return Err(io::Error::new(kind, what)),
            Step::Wait(until) => {
                if let Some(i) = wait(&attempts, until)? {
                    let (sock, addr) = attempts.swap_remove(i);
                    match connect_result(&sock) {
                        Ok(()) => return finish(sock, timeout).map(|s| (s, addr)),
                        // Woken with the connect still under way: wait again.
                        Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                            attempts.push((sock, addr));
                        }
                        Err(e) => race.failed(addr, &e, Instant::now()),
                    }
                }
            }
        }
    }
}

/// A non-blocking TCP socket connecting to `addr`.
fn open(addr: SocketAddr) -> io::Result<socket2::Socket> {
    let ty = Type::STREAM.nonblocking().cloexec();
    let sock = socket2::Socket::new(Domain::for_address(addr), ty, Some(Protocol::TCP))?;
    match sock.connect(&addr.into()) {
        Ok(()) => Ok(sock),
        Err(e) if e.raw_os_error() == Some(crate::sys::EINPROGRESS) => Ok(sock),
        Err(e) => Err(e),
    }
}

/// Wait until one of `attempts` is writable (connected, or failed) or `until` passes:
/// the index of one that is, if any.
fn wait(
    attempts: &[(socket2::Socket, SocketAddr)],
    until: Option<Instant>,
) -> io::Result<Option<usize>> {
    let fds: Vec<_> = attempts.iter().map(|(s, _)| s.as_fd()).collect();
    crate::sys::wait_any_writable(&fds, until)
}

/// Has the connect on `sock` finished? `Ok` if it has, `NotConnected` if it is still under
/// way, its error if it failed.
fn connect_result(sock: &socket2::Socket) -> io::Result<()> {
    match sock.take_error() {
        Ok(Some(e)) | Err(e) => Err(e),
        Ok(None) => sock.peer_addr().map(|_| ()),
    }
}

/// The winner as a [`Socket`], with `timeout` (or the default timeout) as its timeout.
fn finish(sock: socket2::Socket, timeout: Option<Duration>) -> io::Result<Socket> {
    let mut s = Socket::from_socket2(sock)?;
    if timeout.is_some() {
        s.settimeout(timeout)?;
    }
    Ok(s)
}
