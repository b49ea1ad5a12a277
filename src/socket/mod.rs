//! [`Socket`]: Python's `socket.socket`, blocking, with exactly Python's timeout semantics;
//! `makefile`; typed options.
//!
//! A `Socket` is a socket2 socket plus a timeout. Every operation goes through one rule
//! (`timeout.rs`), as in CPython's `sock_call`:
//!
//! * `settimeout(None)`: the descriptor is in blocking mode and calls simply block
//!   (interrupted ones are retried);
//! * `settimeout(Some(ZERO))` (`setblocking(false)`): non-blocking, and an operation that
//!   would block fails at once with `WouldBlock`;
//! * `settimeout(Some(t))`: the descriptor is non-blocking; an operation that would block
//!   waits with `poll(2)` until it can go on, for at most `t` from its start, then fails with
//!   `TimedOut` ("timed out"). `connect`, `accept` and `sendall` honour it like the others
//!   (`SO_RCVTIMEO` would not cover them); `sendall`'s `t` is for the whole call, and its
//!   error says how much was sent.
//!
//! New sockets take the process-wide [`getdefaulttimeout`] (set with
//! [`setdefaulttimeout`]), as in Python. The same low-level pieces serve the reactor
//! (`sys` makes the sockets; `addr` parses addresses), so what is learned here holds there.
//!
//! | Python | netloop |
//! |---|---|
//! | `socket(AF_INET, SOCK_STREAM)` | `Socket::new(Family::Inet, SockType::Stream, None)` |
//! | `s.settimeout(2.0)` / `s.gettimeout()` | `s.settimeout(Some(Duration::from_secs(2)))` / `s.gettimeout()` |
//! | `s.connect(("localhost", 9999))` | `s.connect(("localhost", 9999))` |
//! | `socket.create_connection(("localhost", 9999), 2.0)` | `create_connection("localhost:9999", Some(Duration::from_secs(2)))` (with Happy Eyeballs) |
//! | `data = s.recv(1024)` | `let data = s.recv(1024)?` |
//! | `f = s.makefile("rw")` | `let (r, w) = (s.makefile_reader(), s.makefile_writer())` |
//! | `ssl.create_default_context(cafile=ca).wrap_socket(s, server_hostname=h)` | `tls::TlsStream::connect(s, h, tls::client_config(Some(ca))?)` (feature `tls`) |
//!
//! The full table of Python calls, `socketserver` included, is in the crate docs
//! ([`crate::python`]).

mod address;
mod blocking;
mod connect;
mod file;
mod options;
#[cfg(test)]
mod tests;
mod timeout;
#[cfg(feature = "tls")]
pub mod tls;

use std::io;

pub use crate::addr::{Family, SockType};
pub use address::Address;
pub use blocking::{inet, PartialSend, Socket};
pub use connect::{connect_first, create_connection, ATTEMPT_DELAY};
pub use file::{SocketReader, SocketWriter};
pub use options::{OptName, SockOpt};
pub use timeout::{getdefaulttimeout, setdefaulttimeout, timed_out};

pub use crate::sys::{
    fds_buffer, recv_with_fds, send_with_fds, unix_pair, PeerCredentials, UnixKind, MAX_FDS,
};

/// A non-blocking Unix stream socket connected to `addr` (a file or an abstract name), for
/// a reactor ([`Context::add_unix_stream`](crate::reactor::Context::add_unix_stream)) or a
/// thread of its own.
///
/// # Errors
///
/// `InvalidInput` for an empty address; any error of `socket` or `connect`:
/// `ConnectionRefused` when nothing listens there, `WouldBlock` when the listener's backlog
/// is full (the socket is then *not* connected; try again later).
pub fn unix_connect(addr: &UnixAddr) -> io::Result<std::os::unix::net::UnixStream> {
    crate::sys::unix_connect(&addr.to_sockaddr()?)
}

use crate::addr::UnixAddr;
