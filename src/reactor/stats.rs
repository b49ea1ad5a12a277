//! [`Stats`]: the counters a reactor keeps, plain numbers published at the end of every turn.

use crate::error::{CloseReason, TimeoutKind};

/// Counters kept by a reactor. Plain numbers: read them with [`Reactor::stats`](super::Reactor::stats) or
/// [`Context::stats`](super::Context::stats).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Connections accepted.
    pub accepted: u64,
    /// Outgoing connections started.
    pub connected: u64,
    /// Connections open now.
    pub active: u64,
    /// Closed after the peer's end of file.
    pub closed_peer: u64,
    /// Closed by a reset.
    pub closed_reset: u64,
    /// Closed by a timeout.
    pub closed_timeout: u64,
    /// Closed for a protocol error.
    pub closed_protocol: u64,
    /// Closed locally.
    pub closed_local: u64,
    /// Closed by another I/O error.
    pub closed_io: u64,
    /// Accepted past [`Config::max_connections`](super::Config::max_connections) and closed at once.
    pub rejected: u64,
    /// Timeouts that fired (whether or not they closed the connection), all kinds.
    pub timeouts: u64,
    /// Of those, read timeouts.
    pub timeouts_read: u64,
    /// Of those, write timeouts.
    pub timeouts_write: u64,
    /// Of those, idle timeouts.
    pub timeouts_idle: u64,
    /// Of those, frame timeouts (a message too slow to arrive whole).
    pub timeouts_frame: u64,
    /// Of those, connect timeouts.
    pub timeouts_connect: u64,
    /// Of those, handshake timeouts (TLS).
    pub timeouts_handshake: u64,
    /// Bytes received (streams and datagrams).
    pub bytes_in: u64,
    /// Bytes sent (streams and datagrams).
    pub bytes_out: u64,
    /// Whole frames received (counted by [`framed`](super::framed)).
    pub frames_in: u64,
    /// Frames queued for sending (counted by [`framed::send_frame`](super::framed::send_frame)).
    pub frames_out: u64,
    /// Datagrams received.
    pub datagrams_in: u64,
    /// Datagrams sent.
    pub datagrams_out: u64,
    /// Queued datagrams dropped because sending them failed.
    pub dgram_send_errors: u64,
    /// Received datagrams dropped because they were larger than
    /// [`Config::max_read_buffer`](super::Config::max_read_buffer) (Unix datagram sockets only: UDP's 64 KiB always fit).
    pub dgram_recv_dropped: u64,
    /// `accept` failures that paused a listener (out of descriptors or memory).
    pub accept_errors: u64,
    /// Times a connection stopped reading to wait for the input budget
    /// ([`Config::max_buffered`](super::Config::max_buffered)).
    pub budget_waits: u64,
    /// Descriptors received over Unix connections (`SCM_RIGHTS`) and handed to the handler.
    pub fds_in: u64,
    /// Descriptors sent over Unix connections.
    pub fds_out: u64,
    /// Connections accepted and closed at once because the process was out of descriptors
    /// (with the reserve descriptor, so that their clients learn at once).
    pub shed: u64,
    /// Panics caught in handler callbacks.
    pub handler_panics: u64,
    /// Connections closed because their handler panicked.
    pub closed_panic: u64,
    /// Times a connection's timeout entry was (re)inserted into the timer wheel. Traffic does
    /// not re-arm (deadlines are checked lazily), so this grows with connections and timeout
    /// periods, not with messages.
    pub timeout_arms: u64,
    /// Submitted jobs cancelled because their connection closed: dropped before they started,
    /// or their results dropped.
    pub work_cancelled: u64,
    /// A gauge, not a counter: bytes of input held by connections beyond one read block each
    /// (what [`Config::max_buffered`](super::Config::max_buffered) bounds), at the end of the
    /// last turn.
    pub input_buffered: u64,
    /// Connections open when a graceful shutdown began that closed before its grace ended
    /// (finished, or closed for any other reason meanwhile).
    pub shutdown_finished: u64,
    /// Connections still open when a graceful shutdown's grace ended, or when a stop cut it
    /// short (a second signal), and closed then.
    pub shutdown_cut_off: u64,
}

impl Stats {
    /// The sum of two sets of counters (for several reactors).
    pub fn add(&self, o: &Stats) -> Stats {
        Stats {
            accepted: self.accepted + o.accepted,
            connected: self.connected + o.connected,
            active: self.active + o.active,
            closed_peer: self.closed_peer + o.closed_peer,
            closed_reset: self.closed_reset + o.closed_reset,
            closed_timeout: self.closed_timeout + o.closed_timeout,
            closed_protocol: self.closed_protocol + o.closed_protocol,
            closed_local: self.closed_local + o.closed_local,
            closed_io: self.closed_io + o.closed_io,
            closed_panic: self.closed_panic + o.closed_panic,
            rejected: self.rejected + o.rejected,
            timeouts: self.timeouts + o.timeouts,
            timeouts_read: self.timeouts_read + o.timeouts_read,
            timeouts_write: self.timeouts_write + o.timeouts_write,
            timeouts_idle: self.timeouts_idle + o.timeouts_idle,
            timeouts_frame: self.timeouts_frame + o.timeouts_frame,
            timeouts_connect: self.timeouts_connect + o.timeouts_connect,
            timeouts_handshake: self.timeouts_handshake + o.timeouts_handshake,
            bytes_in: self.bytes_in + o.bytes_in,
            bytes_out: self.bytes_out + o.bytes_out,
            frames_in: self.frames_in + o.frames_in,
            frames_out: self.frames_out + o.frames_out,
            datagrams_in: self.datagrams_in + o.datagrams_in,
            datagrams_out: self.datagrams_out + o.datagrams_out,
            dgram_send_errors: self.dgram_send_errors + o.dgram_send_errors,
            dgram_recv_dropped: self.dgram_recv_dropped + o.dgram_recv_dropped,
            accept_errors: self.accept_errors + o.accept_errors,
            shed: self.shed + o.shed,
            budget_waits: self.budget_waits + o.budget_waits,
            fds_in: self.fds_in + o.fds_in,
            fds_out: self.fds_out + o.fds_out,
            handler_panics: self.handler_panics + o.handler_panics,
            timeout_arms: self.timeout_arms + o.timeout_arms,
            work_cancelled: self.work_cancelled + o.work_cancelled,
            input_buffered: self.input_buffered + o.input_buffered,
            shutdown_finished: self.shutdown_finished + o.shutdown_finished,
            shutdown_cut_off: self.shutdown_cut_off + o.shutdown_cut_off,
        }
    }

    /// Connections closed, for any reason.
    pub fn closed(&self) -> u64 {
        self.closed_peer
            + self.closed_reset
            + self.closed_timeout
            + self.closed_protocol
            + self.closed_local
            + self.closed_io
            + self.closed_panic
    }

    /// A timeout of `kind` fired.
    pub(crate) fn count_timeout(&mut self, kind: TimeoutKind) {
        self.timeouts += 1;
        *match kind {
            TimeoutKind::Read => &mut self.timeouts_read,
            TimeoutKind::Write => &mut self.timeouts_write,
            TimeoutKind::Idle => &mut self.timeouts_idle,
            TimeoutKind::Frame => &mut self.timeouts_frame,
            TimeoutKind::Connect => &mut self.timeouts_connect,
            TimeoutKind::Handshake => &mut self.timeouts_handshake,
        } += 1;
    }

    pub(crate) fn count_datagram_out(&mut self, len: usize) {
        self.datagrams_out += 1;
        self.bytes_out += len as u64;
    }

    pub(crate) fn count_close(&mut self, reason: &CloseReason) {
        self.active = self.active.saturating_sub(1);
        let counter = match reason {
            CloseReason::PeerClosed => &mut self.closed_peer,
            CloseReason::Reset => &mut self.closed_reset,
            CloseReason::TimedOut(_) => &mut self.closed_timeout,
            CloseReason::Protocol(_) => &mut self.closed_protocol,
            CloseReason::Local => &mut self.closed_local,
            CloseReason::Io(_) => &mut self.closed_io,
            CloseReason::Panicked(_) => &mut self.closed_panic,
        };
        *counter += 1;
    }
}
