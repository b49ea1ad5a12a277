//! A connection's clocks: the `settimeout` deadlines (read, write, idle), the frame, connect and
//! handshake deadlines, and the linger deadline, all checked lazily.
//!
//! Each deadline is "last event + timeout". Moving bytes only updates the `last_*` instants;
//! it never touches the timer wheel. The connection keeps at most one wheel entry, armed at or
//! before its earliest deadline ([`Clocks::arm_at`]). When that entry fires, the connection
//! asks [`Clocks::expired`]; if nothing has really expired (bytes moved since), it is re-armed
//! at the new earliest deadline. So a busy connection costs one wheel insert per timeout
//! period, not one per message.

use std::time::{Duration, Instant};

use crate::error::TimeoutKind;
use crate::time::TimerHandle;

/// A connection's timeouts. `None` waits forever, like `settimeout(None)` in Python.
///
/// A connection keeps each in whole milliseconds, rounded up (the timer wheel's tick, and a
/// timeout never fires early); one of about 49.7 days (`u32::MAX` ms) or more counts as none.
///
/// Built from [`Timeouts::NONE`] with the `with_*` methods (the struct may grow, so it cannot
/// be written as a literal outside netloop); its fields can be read and set directly.
///
/// # Examples
///
/// ```
/// use netloop::reactor::{Config, Timeouts};
/// use std::time::Duration;
///
/// let timeouts = Timeouts::NONE
///     .with_read(Duration::from_secs(30))
///     .with_idle(Duration::from_secs(300));
/// assert_eq!(timeouts.read, Some(Duration::from_secs(30)));
/// assert_eq!(timeouts.write, None);
/// let config = Config::default().timeouts(timeouts);
/// # let _ = config;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    /// Longest wait for the next input byte while input is wanted.
    pub read: Option<Duration>,
    /// Longest time queued output may make no progress.
    pub write: Option<Duration>,
    /// Longest time with no byte moving in either direction.
    pub idle: Option<Duration>,
    /// Longest time from a message's first byte to its last: the clock runs while the handler
    /// leaves input unconsumed (a partial frame or line), from the read that brought the
    /// first byte of that partial message.
    pub frame: Option<Duration>,
    /// Longest time an outgoing connect may take.
    pub connect: Option<Duration>,
    /// Longest time a security handshake (TLS) may take, from the moment the connection is
    /// up (accepted, or its connect completed) until the handshake is over. Plain
    /// connections have none to time.
    pub handshake: Option<Duration>,
}

impl Timeouts {
    /// No timeouts at all (the default, like Python's `setdefaulttimeout(None)`).
    pub const NONE: Timeouts = Timeouts {
        read: None,
        write: None,
        idle: None,
        frame: None,
        connect: None,
        handshake: None,
    };

    /// Only an idle timeout.
    pub const fn idle(d: Duration) -> Timeouts {
        Timeouts {
            idle: Some(d),
            ..Timeouts::NONE
        }
    }

    /// With a read timeout of `d`: the longest wait for the next input byte.
    #[must_use]
    pub const fn with_read(self, d: Duration) -> Timeouts {
        Timeouts {
            read: Some(d),
            ..self
        }
    }

    /// With a write timeout of `d`: the longest time queued output may make no progress.
    #[must_use]
    pub const fn with_write(self, d: Duration) -> Timeouts {
        Timeouts {
            write: Some(d),
            ..self
        }
    }

    /// With an idle timeout of `d`: the longest time with no byte moving either way.
    #[must_use]
    pub const fn with_idle(self, d: Duration) -> Timeouts {
        Timeouts {
            idle: Some(d),
            ..self
        }
    }

    /// With a frame timeout of `d`: the longest time from a message's first byte to its last.
    #[must_use]
    pub const fn with_frame(self, d: Duration) -> Timeouts {
        Timeouts {
            frame: Some(d),
            ..self
        }
    }

    /// With a connect timeout of `d`: the longest time an outgoing connect may take.
    #[must_use]
    pub const fn with_connect(self, d: Duration) -> Timeouts {
        Timeouts {
            connect: Some(d),
            ..self
        }
    }

    /// With a handshake timeout of `d`: the longest time a TLS handshake may take.
    #[must_use]
    pub const fn with_handshake(self, d: Duration) -> Timeouts {
        Timeouts {
            handshake: Some(d),
            ..self
        }
    }

    /// The timeout of one kind.
    pub fn get(&self, kind: TimeoutKind) -> Option<Duration> {
        match kind {
            TimeoutKind::Read => self.read,
            TimeoutKind::Write => self.write,
            TimeoutKind::Idle => self.idle,
            TimeoutKind::Frame => self.frame,
            TimeoutKind::Connect => self.connect,
            TimeoutKind::Handshake => self.handshake,
        }
    }

    /// Set the timeout of one kind.
    pub fn set(&mut self, kind: TimeoutKind, value: Option<Duration>) {
        match kind {
            TimeoutKind::Read => self.read = value,
            TimeoutKind::Write => self.write = value,
            TimeoutKind::Idle => self.idle = value,
            TimeoutKind::Frame => self.frame = value,
            TimeoutKind::Connect => self.connect = value,
            TimeoutKind::Handshake => self.handshake = value,
        }
    }
}

/// Which clocks run right now: the connection's state decides, the clocks only compute.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Running {
    /// Input is wanted (the read clock runs).
    pub(crate) read: bool,
    /// Output is queued and can be written (the write clock runs).
    pub(crate) write: bool,
    /// A partial message is buffered while input is wanted (the frame clock runs).
    pub(crate) frame: bool,
    /// An outgoing connect is under way (the connect clock runs).
    pub(crate) connect: bool,
    /// A security handshake is under way on a connection that is up (its clock runs).
    pub(crate) handshake: bool,
    /// Lingering in a close until this instant: the other timeouts are off.
    pub(crate) linger_until: Option<Instant>,
}

impl Running {
    /// May the clock of `kind` restart the instant the frame, connect and handshake clocks
    /// share (`Clocks::restart`): is none of the other two running? (At most one of them
    /// runs at a time: no message is buffered while connecting or in a handshake.)
    pub(crate) fn owns_start(&self, kind: TimeoutKind) -> bool {
        match kind {
            TimeoutKind::Frame => !self.connect && !self.handshake,
            TimeoutKind::Connect => !self.frame && !self.handshake,
            TimeoutKind::Handshake => !self.frame && !self.connect,
            TimeoutKind::Read | TimeoutKind::Write | TimeoutKind::Idle => true,
        }
    }
}

/// A timeout as one connection keeps it: whole milliseconds, rounded up (the wheel counts in
/// milliseconds, and rounding up keeps "never early"), `NO_LIMIT` for none. Four bytes instead
/// of an `Option<Duration>`'s sixteen, times six, in every connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Millis(u32);

impl Millis {
    const NO_LIMIT: Millis = Millis(u32::MAX);

    /// `None`, and timeouts of `u32::MAX` ms (about 49.7 days) or more, wait for ever.
    fn new(t: Option<Duration>) -> Millis {
        match t {
            Some(t) => {
                let ms = t.as_nanos().div_ceil(1_000_000);
                u32::try_from(ms).map_or(Millis::NO_LIMIT, Millis)
            }
            None => Millis::NO_LIMIT,
        }
    }

    fn get(self) -> Option<Duration> {
        (self != Millis::NO_LIMIT).then(|| Duration::from_millis(u64::from(self.0)))
    }
}

/// One connection's timeouts, compact, in the order of [`index`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits([Millis; 6]);

fn index(kind: TimeoutKind) -> usize {
    match kind {
        TimeoutKind::Read => 0,
        TimeoutKind::Write => 1,
        TimeoutKind::Idle => 2,
        TimeoutKind::Frame => 3,
        TimeoutKind::Connect => 4,
        TimeoutKind::Handshake => 5,
    }
}

impl Limits {
    fn new(t: Timeouts) -> Limits {
        Limits([
            Millis::new(t.read),
            Millis::new(t.write),
            Millis::new(t.idle),
            Millis::new(t.frame),
            Millis::new(t.connect),
            Millis::new(t.handshake),
        ])
    }

    pub(crate) fn get(&self, kind: TimeoutKind) -> Option<Duration> {
        self.0[index(kind)].get()
    }

    fn set(&mut self, kind: TimeoutKind, value: Option<Duration>) {
        self.0[index(kind)] = Millis::new(value);
    }

    /// As the public type (rounded up to whole milliseconds).
    pub(crate) fn timeouts(&self) -> Timeouts {
        Timeouts {
            read: self.get(TimeoutKind::Read),
            write: self.get(TimeoutKind::Write),
            idle: self.get(TimeoutKind::Idle),
            frame: self.get(TimeoutKind::Frame),
            connect: self.get(TimeoutKind::Connect),
            handshake: self.get(TimeoutKind::Handshake),
        }
    }
}

/// The instants the deadlines count from, and the wheel entry armed for them.
#[derive(Debug)]
pub(crate) struct Clocks {
    limits: Limits,
    last_read: Instant,
    last_write: Instant,
    last_active: Instant,
    /// When the first byte of the partial message now buffered arrived.
    frame_start: Instant,
    armed: Option<(TimerHandle, Instant)>,
}

impl Clocks {
    pub(crate) fn new(now: Instant, timeouts: Timeouts) -> Clocks {
        Clocks {
            limits: Limits::new(timeouts),
            last_read: now,
            last_write: now,
            last_active: now,
            frame_start: now,
            armed: None,
        }
    }

    /// The timeouts, as kept (whole milliseconds).
    pub(crate) fn timeouts(&self) -> Timeouts {
        self.limits.timeouts()
    }

    /// Is a timeout of `kind` set?
    #[inline]
    pub(crate) fn has_limit(&self, kind: TimeoutKind) -> bool {
        self.limits.get(kind).is_some()
    }

    /// Set one timeout.
    pub(crate) fn set_limit(&mut self, kind: TimeoutKind, value: Option<Duration>) {
        self.limits.set(kind, value);
    }

    /// Restart the clock of one timeout at `now`.
    pub(crate) fn restart(&mut self, kind: TimeoutKind, now: Instant) {
        match kind {
            TimeoutKind::Read => self.last_read = now,
            TimeoutKind::Write => self.last_write = now,
            TimeoutKind::Idle => self.last_active = now,
            TimeoutKind::Frame => self.frame_start = now,
            // No message is buffered while connecting or in a handshake (no plaintext yet):
            // the frame clock's instant times both.
            TimeoutKind::Connect | TimeoutKind::Handshake => self.frame_start = now,
        }
    }

    /// Reading resumes at `now` (after backpressure): the wait for input starts now, and so
    /// does the rest of a partial message's, unless a handshake's clock holds the shared
    /// instant (`handshaking`: no message can be partial then).
    pub(crate) fn resume(&mut self, now: Instant, handshaking: bool) {
        self.last_read = now;
        if !handshaking {
            self.frame_start = now;
        }
    }

    /// Bytes arrived at `now`.
    #[inline]
    pub(crate) fn read(&mut self, now: Instant) {
        self.last_read = now;
        self.last_active = now;
    }

    /// Queued bytes were written at `now`.
    pub(crate) fn written(&mut self, now: Instant) {
        self.last_write = now;
        self.last_active = now;
    }

    /// The deadline of one kind, if that clock runs.
    pub(crate) fn deadline(&self, kind: TimeoutKind, run: Running) -> Option<Instant> {
        let (last, runs) = match kind {
            TimeoutKind::Read => (self.last_read, run.read),
            TimeoutKind::Write => (self.last_write, run.write),
            TimeoutKind::Idle => (self.last_active, true),
            TimeoutKind::Frame => (self.frame_start, run.frame),
            TimeoutKind::Connect => (self.frame_start, run.connect),
            TimeoutKind::Handshake => (self.frame_start, run.handshake),
        };
        if !runs || run.linger_until.is_some() {
            return None;
        }
        // An unrepresentable deadline (a huge timeout) is the same as none.
        self.limits.get(kind).and_then(|t| last.checked_add(t))
    }

    fn deadlines(&self, run: Running) -> impl Iterator<Item = (Instant, TimeoutKind)> + '_ {
        const KINDS: [TimeoutKind; 6] = [
            TimeoutKind::Connect,
            TimeoutKind::Handshake,
            TimeoutKind::Write,
            TimeoutKind::Frame,
            TimeoutKind::Read,
            TimeoutKind::Idle,
        ];
        KINDS
            .into_iter()
            .filter_map(move |kind| self.deadline(kind, run).map(|d| (d, kind)))
    }

    /// The earliest active deadline, if any.
    pub(crate) fn next_deadline(&self, run: Running) -> Option<Instant> {
        if run.linger_until.is_some() {
            return run.linger_until;
        }
        self.deadlines(run).map(|(d, _)| d).min()
    }

    /// The timeout that has expired by `now`, if any (the earliest one if several have).
    pub(crate) fn expired(&self, now: Instant, run: Running) -> Option<TimeoutKind> {
        self.deadlines(run)
            .filter(|&(d, _)| d <= now)
            .min_by_key(|&(d, _)| d)
            .map(|(_, kind)| kind)
    }

    /// The instant the wheel entry must be (re)armed at, or `None` if the current entry (or
    /// the lack of one) is fine. An entry that fires earlier than needed is left alone: it is
    /// checked lazily when it fires.
    pub(crate) fn arm_at(&self, run: Running) -> Option<Instant> {
        let next = self.next_deadline(run)?;
        match self.armed {
            Some((_, at)) if at <= next => None,
            _ => Some(next),
        }
    }

    pub(crate) fn armed(&self) -> Option<TimerHandle> {
        self.armed.map(|(h, _)| h)
    }

    pub(crate) fn set_armed(&mut self, armed: Option<(TimerHandle, Instant)>) {
        self.armed = armed;
    }

    /// The wheel entry armed, handed over (for cancelling): none is armed after.
    pub(crate) fn take_armed(&mut self) -> Option<TimerHandle> {
        self.armed.take().map(|(h, _)| h)
    }
}
