//! The crate's error and reason types.
//!
//! I/O errors stay `std::io::Error` at the syscall edge. Above it, each thing that can end a
//! connection is one variant of [`CloseReason`], handed to [`Handler::on_close`] so that no
//! connection ever disappears without saying why.
//!
//! [`Handler::on_close`]: crate::reactor::Handler::on_close

use std::error::Error as StdError;
use std::fmt;
use std::io;

/// Which of a connection's timeouts fired (see [`Timeouts`](crate::conn::Timeouts)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeoutKind {
    /// Input was wanted and no byte arrived for the read timeout.
    Read,
    /// Output was queued and none of it could be written for the write timeout.
    Write,
    /// No byte moved in either direction for the idle timeout.
    Idle,
    /// A message (a frame, a line: whatever the handler leaves unconsumed until the rest
    /// arrives) took longer than the frame timeout from its first byte to its last: a peer
    /// trickling bytes to hold the connection and its buffer.
    Frame,
    /// An outgoing connect did not complete within the connect timeout.
    Connect,
    /// A security handshake (TLS) did not finish within the handshake timeout.
    Handshake,
}

impl fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutKind::Read => "read timeout",
            TimeoutKind::Write => "write timeout",
            TimeoutKind::Idle => "idle timeout",
            TimeoutKind::Frame => "frame timeout",
            TimeoutKind::Connect => "connect timeout",
            TimeoutKind::Handshake => "handshake timeout",
        })
    }
}

/// Why a connection was closed. Every closed connection reports exactly one.
#[derive(Debug)]
#[non_exhaustive]
pub enum CloseReason {
    /// The peer closed its side (end of file) and the connection was then closed, after
    /// flushing any queued output.
    PeerClosed,
    /// The peer reset the connection (`ECONNRESET`, `EPIPE`): queued output was discarded.
    Reset,
    /// A timeout fired and the handler let the default action close the connection. Queued
    /// output is discarded.
    TimedOut(TimeoutKind),
    /// The bytes received broke the protocol (a malformed or oversize frame, a full read
    /// buffer). Queued output is discarded.
    Protocol(Box<dyn StdError + Send + Sync>),
    /// The local side closed it ([`Context::close`] or [`Context::abort`]).
    ///
    /// [`Context::close`]: crate::reactor::Context::close
    /// [`Context::abort`]: crate::reactor::Context::abort
    Local,
    /// Any other I/O error on the socket (for example a refused outgoing connect).
    Io(io::Error),
    /// The handler panicked while handling this connection (the panic's message). Queued
    /// output is discarded; the reactor carries on with the other connections.
    Panicked(String),
}

impl CloseReason {
    /// Classify an I/O error from a read or write on a connection.
    pub fn from_io(err: io::Error) -> CloseReason {
        match err.kind() {
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted => CloseReason::Reset,
            _ => CloseReason::Io(err),
        }
    }

    /// A protocol violation described by `err`.
    pub fn protocol(err: impl StdError + Send + Sync + 'static) -> CloseReason {
        CloseReason::Protocol(Box::new(err))
    }

    /// Is this an orderly end (peer or local close), as opposed to an error or a timeout?
    pub fn is_clean(&self) -> bool {
        matches!(self, CloseReason::PeerClosed | CloseReason::Local)
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::PeerClosed => f.write_str("closed by peer"),
            CloseReason::Reset => f.write_str("connection reset by peer"),
            CloseReason::TimedOut(kind) => write!(f, "timed out ({kind})"),
            CloseReason::Protocol(err) => write!(f, "protocol error: {err}"),
            CloseReason::Local => f.write_str("closed locally"),
            CloseReason::Io(err) => write!(f, "I/O error: {err}"),
            CloseReason::Panicked(msg) => write!(f, "handler panicked: {msg}"),
        }
    }
}

/// The handler left more unconsumed input than the connection's read buffer may hold.
///
/// A handler that consumes nothing until a whole message has arrived (a framing decoder, say)
/// sees this when a message is larger than [`Config::max_read_buffer`]; the connection is closed
/// with [`CloseReason::Protocol`] carrying this error.
///
/// [`Config::max_read_buffer`]: crate::reactor::Config::max_read_buffer
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadBufferFull {
    /// The limit, in bytes.
    pub limit: usize,
}

impl fmt::Display for ReadBufferFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unconsumed input reached the read buffer limit of {} bytes",
            self.limit
        )
    }
}

impl StdError for ReadBufferFull {}

/// Queueing more output would take a connection's queue past
/// [`Config::max_queued`](crate::reactor::Config::max_queued): the write is refused (with
/// `io::ErrorKind::WouldBlock`), and nothing of it is queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueFull {
    /// Bytes queued already.
    pub queued: usize,
    /// Bytes the refused write would have added.
    pub len: usize,
    /// The limit.
    pub cap: usize,
}

impl fmt::Display for QueueFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} more bytes would take the {} queued past the limit of {} (the peer is not reading)",
            self.len, self.queued, self.cap
        )
    }
}

impl StdError for QueueFull {}

/// Stream input arrived for a handler that takes none (it kept the default
/// [`Handler::on_data`](crate::reactor::Handler::on_data)); the connection is closed with
/// this as its [`CloseReason::Protocol`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnexpectedInput {
    /// Bytes that arrived.
    pub len: usize,
}

impl fmt::Display for UnexpectedInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} bytes of input arrived for a handler that takes no stream input",
            self.len
        )
    }
}

impl StdError for UnexpectedInput {}

/// The id passed to a [`Context`](crate::reactor::Context) method names a connection, listener,
/// socket or timer that is already closed (or never existed).
pub(crate) fn stale() -> io::Error {
    io::Error::from(io::ErrorKind::NotConnected)
}
