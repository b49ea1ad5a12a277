//! [`Stats`]: the counters a reactor keeps, plain numbers published at the end of every turn.

use std::time::Duration;

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
    /// Datagrams that arrived glued to others in one receive (UDP receive coalescing,
    /// [`Config::udp_offload`](super::Config::udp_offload)), and were cut apart.
    pub datagrams_glued_in: u64,
    /// Datagrams sent in a run the kernel cut into datagrams (UDP segmentation offload).
    pub datagrams_segmented_out: u64,
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
    /// How long the turns took, from the poll's return to the end of the turn's work: the
    /// loop's lag, as a histogram (libuv's idle time and Node's event-loop delay answer the
    /// same question). A turn that takes long delays every connection waiting behind it.
    pub turns: TurnTimes,
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
            datagrams_glued_in: self.datagrams_glued_in + o.datagrams_glued_in,
            datagrams_segmented_out: self.datagrams_segmented_out + o.datagrams_segmented_out,
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
            turns: self.turns.add(&o.turns),
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

/// A histogram of turn lengths in fixed buckets (no allocation: [`Stats`] is copied at the end
/// of every turn). Bucket 0 counts turns under 1 µs; bucket `i` (1 to 20) those from
/// 2<sup>i-1</sup> µs up to 2<sup>i</sup> µs; the last, turns of 2<sup>20</sup> µs (about 1 s)
/// or more. Beside them, the total and the longest.
///
/// # Examples
///
/// ```
/// # use netloop::reactor::{Reactor, Handler, Context, ConnId, ListenerId, PeerAddr};
/// # struct H;
/// # impl Handler for H {
/// #     fn on_accept(&mut self, _: &mut Context<'_>, _: ListenerId, _: ConnId, _: &PeerAddr) {}
/// # }
/// let mut reactor = Reactor::new(H)?;
/// reactor.turn(Some(std::time::Duration::ZERO))?;
/// let turns = reactor.stats().turns;
/// assert_eq!(turns.count(), 1);
/// if let Some(p99) = turns.quantile(0.99) {
///     println!("99% of turns took less than {p99:?}");
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TurnTimes {
    buckets: [u64; TurnTimes::BUCKETS],
    total_ns: u64,
    max_ns: u64,
}

impl TurnTimes {
    /// The number of buckets.
    pub const BUCKETS: usize = 22;

    /// Count one turn of length `took`.
    #[inline]
    pub(crate) fn record(&mut self, took: Duration) {
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let us = ns / 1000;
        let i = (64 - us.leading_zeros() as usize).min(Self::BUCKETS - 1);
        self.buckets[i] += 1;
        self.total_ns = self.total_ns.saturating_add(ns);
        self.max_ns = self.max_ns.max(ns);
    }

    /// Turns counted.
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// Turns counted in bucket `i` (0 if there is no such bucket).
    pub fn bucket(&self, i: usize) -> u64 {
        self.buckets.get(i).copied().unwrap_or(0)
    }

    /// The upper bound of bucket `i`, exclusive: 2<sup>i</sup> µs; `None` for the last bucket
    /// (no bound) and past it.
    pub fn bucket_limit(i: usize) -> Option<Duration> {
        (i < Self::BUCKETS - 1).then(|| Duration::from_micros(1 << i))
    }

    /// The time all the turns took together.
    pub fn total(&self) -> Duration {
        Duration::from_nanos(self.total_ns)
    }

    /// The longest turn.
    pub fn max(&self) -> Duration {
        Duration::from_nanos(self.max_ns)
    }

    /// A bound on the `q` quantile (0.0 to 1.0) of the turn lengths: the upper limit of the
    /// bucket it falls in, or the longest turn if that is shorter. `None` before any turn.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let count = self.count();
        if count == 0 {
            return None;
        }
        // The rank of the quantile, 1-based: at least the first turn, at most the last.
        let rank = ((q.clamp(0.0, 1.0) * count as f64).ceil() as u64).clamp(1, count);
        let mut seen = 0;
        for (i, &n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                // No turn in it is longer than the longest turn of all.
                return Some(Self::bucket_limit(i).map_or(self.max(), |l| l.min(self.max())));
            }
        }
        Some(self.max())
    }

    /// The sum of two histograms (for several reactors).
    pub fn add(&self, o: &TurnTimes) -> TurnTimes {
        let mut sum = *self;
        for (a, b) in sum.buckets.iter_mut().zip(o.buckets) {
            *a += b;
        }
        sum.total_ns = self.total_ns.saturating_add(o.total_ns);
        sum.max_ns = self.max_ns.max(o.max_ns);
        sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const US: Duration = Duration::from_micros(1);

    #[test]
    fn turns_fall_in_power_of_two_buckets_and_quantiles_bound_them() {
        let mut t = TurnTimes::default();
        assert_eq!(t.quantile(0.5), None);
        t.record(Duration::from_nanos(999)); // under 1 µs: bucket 0
        t.record(US); // [1, 2) µs: bucket 1
        t.record(3 * US); // [2, 4): bucket 2
        t.record(4 * US); // [4, 8): bucket 3
        t.record(Duration::from_secs(5)); // past 2^20 µs: the last bucket
        let at: Vec<u64> = (0..TurnTimes::BUCKETS).map(|i| t.bucket(i)).collect();
        assert_eq!(&at[..4], &[1, 1, 1, 1]);
        assert_eq!(at[TurnTimes::BUCKETS - 1], 1);
        assert_eq!(t.count(), 5);
        assert_eq!(t.max(), Duration::from_secs(5));
        assert_eq!(
            t.total(),
            Duration::from_nanos(999) + 8 * US + Duration::from_secs(5)
        );
        assert_eq!(TurnTimes::bucket_limit(0), Some(US));
        assert_eq!(TurnTimes::bucket_limit(3), Some(8 * US));
        assert_eq!(TurnTimes::bucket_limit(TurnTimes::BUCKETS - 1), None);
        // The median is the third of five: bucket 2, bounded by 4 µs.
        assert_eq!(t.quantile(0.5), Some(4 * US));
        assert_eq!(t.quantile(0.0), Some(US));
        assert_eq!(t.quantile(1.0), Some(Duration::from_secs(5)));
        // A bucket's bound is no looser than the longest turn.
        let mut one = TurnTimes::default();
        one.record(5 * US);
        assert_eq!(one.quantile(0.99), Some(5 * US));
        let sum = t.add(&one);
        assert_eq!(sum.count(), 6);
        assert_eq!(sum.bucket(3), 2);
        assert_eq!(sum.max(), Duration::from_secs(5));
    }
}
