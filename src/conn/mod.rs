//! Per-connection state: buffers, flags and the three `settimeout` deadlines.
//!
//! A [`Conn`] is everything the reactor knows about one stream connection except the socket
//! itself. It makes no syscalls and never reads the clock: the reactor passes `now` into every
//! method that needs it, which is what lets the timeout rules be tested with made-up instants.
//!
//! # Timeouts, the lazy way
//!
//! Python's `settimeout` bounds each blocking call. A reactor has no blocking calls, so netloop
//! turns that into three deadlines per connection ([`Timeouts`]):
//!
//! * **read**: input is wanted (not paused, not at end of file) and no byte arrived for `read`;
//! * **write**: output is queued and no byte of it could be written for `write`;
//! * **idle**: no byte moved in either direction for `idle`.
//!
//! Each deadline is "last event + timeout". Moving bytes only updates the `last_*` instants;
//! it never touches the timer wheel. The connection keeps at most one wheel entry, armed at or
//! before its earliest deadline ([`Conn::arm_at`]). When that entry fires, the reactor asks
//! [`Conn::expired`]; if nothing has really expired (bytes moved since), it re-arms at the new
//! earliest deadline. So a busy connection costs one wheel insert per timeout period, not one
//! per message.

use std::time::{Duration, Instant};

use crate::buf::{ReadBuf, WriteQueue};
use crate::error::{CloseReason, TimeoutKind};
use crate::time::TimerHandle;

/// A connection's timeouts. `None` waits forever, like `settimeout(None)` in Python.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timeouts {
    /// Longest wait for the next input byte while input is wanted.
    pub read: Option<Duration>,
    /// Longest time queued output may make no progress.
    pub write: Option<Duration>,
    /// Longest time with no byte moving in either direction.
    pub idle: Option<Duration>,
}

impl Timeouts {
    /// No timeouts at all (the default, like Python's `setdefaulttimeout(None)`).
    pub const NONE: Timeouts = Timeouts {
        read: None,
        write: None,
        idle: None,
    };

    /// Only an idle timeout.
    pub const fn idle(d: Duration) -> Timeouts {
        Timeouts {
            read: None,
            write: None,
            idle: Some(d),
        }
    }

    /// The timeout of one kind.
    pub fn get(&self, kind: TimeoutKind) -> Option<Duration> {
        match kind {
            TimeoutKind::Read => self.read,
            TimeoutKind::Write => self.write,
            TimeoutKind::Idle => self.idle,
        }
    }

    /// Set the timeout of one kind.
    pub fn set(&mut self, kind: TimeoutKind, value: Option<Duration>) {
        match kind {
            TimeoutKind::Read => self.read = value,
            TimeoutKind::Write => self.write = value,
            TimeoutKind::Idle => self.idle = value,
        }
    }
}

/// Where the write side of a connection stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteSide {
    /// Open.
    Open,
    /// Shut down once queued output is flushed ([`Context::shutdown_write`]).
    ///
    /// [`Context::shutdown_write`]: crate::reactor::Context::shutdown_write
    ShutPending,
    /// Shut down: FIN sent, no more output accepted.
    Shut,
}

/// One stream connection's state, apart from its socket.
#[derive(Debug)]
pub struct Conn {
    /// Unconsumed input.
    pub rbuf: ReadBuf,
    /// Queued output.
    pub wq: WriteQueue,
    /// Outgoing connect still in progress.
    pub connecting: bool,
    /// A record (seqpacket) connection: each read is one whole record, delivered alone, and
    /// each write is sent as one record.
    pub records: bool,
    /// The peer sent end of file.
    pub read_eof: bool,
    /// Reading stopped because queued output passed the high watermark.
    pub read_paused: bool,
    /// A close was requested: the connection closes with this reason once output is flushed.
    pub closing: Option<CloseReason>,
    /// State of the write half.
    pub write_side: WriteSide,
    /// Already in the reactor's list of connections to flush this turn.
    pub in_flush_list: bool,
    /// Closing by lingering: output is flushed and the write side shut down; input is read
    /// and discarded until the peer's end of file or `linger_until`, then the socket closes.
    pub lingering: bool,
    linger_until: Option<Instant>,
    timeouts: Timeouts,
    last_read: Instant,
    last_write: Instant,
    last_active: Instant,
    armed: Option<(TimerHandle, Instant)>,
}

impl Conn {
    /// A new connection at `now`, with `timeouts` (usually the reactor's defaults).
    pub fn new(now: Instant, timeouts: Timeouts, connecting: bool) -> Conn {
        Conn {
            rbuf: ReadBuf::new(),
            wq: WriteQueue::new(),
            connecting,
            records: false,
            read_eof: false,
            read_paused: false,
            closing: None,
            write_side: WriteSide::Open,
            in_flush_list: false,
            lingering: false,
            linger_until: None,
            timeouts,
            last_read: now,
            last_write: now,
            last_active: now,
            armed: None,
        }
    }

    /// Is input wanted, i.e. should the reactor read (and the read timeout run)?
    pub fn wants_read(&self) -> bool {
        !self.connecting && !self.read_eof && !self.read_paused && self.closing.is_none()
    }

    /// May more output be queued?
    pub fn accepts_output(&self) -> bool {
        self.write_side == WriteSide::Open && self.closing.is_none()
    }

    /// The connection's timeouts.
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// Set one timeout; its clock restarts at `now` (the wait "starts now", as a Python call
    /// made after `settimeout` would).
    pub fn set_timeout(&mut self, kind: TimeoutKind, value: Option<Duration>, now: Instant) {
        self.timeouts.set(kind, value);
        self.restart(kind, now);
    }

    /// Restart the clock of one timeout at `now` (after a handler chose to keep a connection
    /// whose timeout fired).
    pub fn restart(&mut self, kind: TimeoutKind, now: Instant) {
        match kind {
            TimeoutKind::Read => self.last_read = now,
            TimeoutKind::Write => self.last_write = now,
            TimeoutKind::Idle => self.last_active = now,
        }
    }

    /// Bytes arrived at `now`.
    pub fn note_read(&mut self, now: Instant) {
        self.last_read = now;
        self.last_active = now;
    }

    /// Queued bytes were written at `now`.
    pub fn note_written(&mut self, now: Instant) {
        self.last_write = now;
        self.last_active = now;
    }

    /// Output was queued at `now` into an empty queue: the write clock starts.
    pub fn note_output_started(&mut self, now: Instant) {
        self.last_write = now;
    }

    /// Input became wanted again at `now` (reading resumed after a pause): the read clock
    /// restarts, since the wait for input starts now.
    pub fn note_read_resumed(&mut self, now: Instant) {
        self.last_read = now;
    }

    fn deadlines(&self) -> [Option<(Instant, TimeoutKind)>; 3] {
        let at = |last: Instant, t: Option<Duration>, kind| {
            // An unrepresentable deadline (a huge timeout) is the same as none.
            t.and_then(|t| last.checked_add(t)).map(|d| (d, kind))
        };
        [
            if self.wq.is_empty() || self.connecting {
                None
            } else {
                at(self.last_write, self.timeouts.write, TimeoutKind::Write)
            },
            if self.wants_read() {
                at(self.last_read, self.timeouts.read, TimeoutKind::Read)
            } else {
                None
            },
            at(self.last_active, self.timeouts.idle, TimeoutKind::Idle),
        ]
    }

    /// Start lingering (see [`lingering`](Conn::lingering)) until `until`. While lingering,
    /// the three timeouts are off: only the linger deadline counts.
    pub fn start_linger(&mut self, until: Instant) {
        self.lingering = true;
        self.linger_until = Some(until);
    }

    /// Has the linger deadline passed?
    pub fn linger_expired(&self, now: Instant) -> bool {
        self.lingering && self.linger_until.is_some_and(|d| d <= now)
    }

    /// The earliest active deadline, if any.
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.lingering {
            return self.linger_until;
        }
        self.deadlines().into_iter().flatten().map(|(d, _)| d).min()
    }

    /// The timeout that has expired by `now`, if any (the earliest one if several have).
    /// Never one while lingering.
    pub fn expired(&self, now: Instant) -> Option<TimeoutKind> {
        if self.lingering {
            return None;
        }
        self.deadlines()
            .into_iter()
            .flatten()
            .filter(|&(d, _)| d <= now)
            .min_by_key(|&(d, _)| d)
            .map(|(_, kind)| kind)
    }

    /// The instant the wheel entry must be (re)armed at, or `None` if the current entry (or the
    /// lack of one) is fine. A current entry that fires earlier than needed is left alone: it is
    /// checked lazily when it fires.
    pub fn arm_at(&self) -> Option<Instant> {
        let next = self.next_deadline()?;
        match self.armed {
            Some((_, at)) if at <= next => None,
            _ => Some(next),
        }
    }

    /// The wheel entry currently armed for this connection.
    pub fn armed(&self) -> Option<TimerHandle> {
        self.armed.map(|(h, _)| h)
    }

    /// Record the wheel entry armed for this connection (or that it fired: `None`).
    pub fn set_armed(&mut self, armed: Option<(TimerHandle, Instant)>) {
        self.armed = armed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buf::BufPool;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn idle_deadline_moves_with_traffic_without_rearming() {
        let t0 = Instant::now();
        let mut c = Conn::new(t0, Timeouts::idle(100 * MS), false);
        assert_eq!(c.arm_at(), Some(t0 + 100 * MS));
        c.set_armed(Some((dummy_handle(), t0 + 100 * MS)));
        c.note_read(t0 + 50 * MS);
        // Later deadline: the armed entry is early, which is fine (lazy).
        assert_eq!(c.arm_at(), None);
        assert_eq!(c.expired(t0 + 100 * MS), None);
        assert_eq!(c.expired(t0 + 149 * MS), None);
        assert_eq!(c.expired(t0 + 150 * MS), Some(TimeoutKind::Idle));
    }

    #[test]
    fn read_timeout_only_while_input_wanted() {
        let t0 = Instant::now();
        let mut c = Conn::new(
            t0,
            Timeouts {
                read: Some(10 * MS),
                ..Timeouts::NONE
            },
            false,
        );
        assert_eq!(c.next_deadline(), Some(t0 + 10 * MS));
        c.read_paused = true;
        assert_eq!(c.next_deadline(), None);
        c.read_paused = false;
        c.read_eof = true;
        assert_eq!(c.expired(t0 + 20 * MS), None);
    }

    #[test]
    fn write_timeout_only_while_output_queued() {
        let t0 = Instant::now();
        let mut pool = BufPool::new(16, 16, 4);
        let mut c = Conn::new(
            t0,
            Timeouts {
                write: Some(10 * MS),
                ..Timeouts::NONE
            },
            false,
        );
        assert_eq!(c.next_deadline(), None);
        c.wq.push_copy(b"x", &mut pool);
        c.note_output_started(t0 + 5 * MS);
        assert_eq!(c.next_deadline(), Some(t0 + 15 * MS));
        assert_eq!(c.arm_at(), Some(t0 + 15 * MS));
        assert_eq!(c.expired(t0 + 15 * MS), Some(TimeoutKind::Write));
    }

    #[test]
    fn earlier_deadline_forces_rearm_and_earliest_kind_wins() {
        let t0 = Instant::now();
        let mut c = Conn::new(t0, Timeouts::idle(100 * MS), false);
        c.set_armed(Some((dummy_handle(), t0 + 100 * MS)));
        c.set_timeout(TimeoutKind::Read, Some(10 * MS), t0 + 1 * MS);
        assert_eq!(c.arm_at(), Some(t0 + 11 * MS));
        assert_eq!(c.expired(t0 + 200 * MS), Some(TimeoutKind::Read));
    }

    #[test]
    fn huge_timeout_is_no_deadline() {
        let t0 = Instant::now();
        let c = Conn::new(t0, Timeouts::idle(Duration::MAX), false);
        assert_eq!(c.next_deadline(), None);
    }

    fn dummy_handle() -> TimerHandle {
        let mut w = crate::time::TimerWheel::new();
        w.insert(1, ())
    }
}
