//! A connection's clocks: the three `settimeout` deadlines and the linger deadline, checked
//! lazily.
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

/// Which clocks run right now: the connection's state decides, the clocks only compute.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Running {
    /// Input is wanted (the read clock runs).
    pub(crate) read: bool,
    /// Output is queued and can be written (the write clock runs).
    pub(crate) write: bool,
    /// Lingering in a close until this instant: the three timeouts are off.
    pub(crate) linger_until: Option<Instant>,
}

/// The instants the deadlines count from, and the wheel entry armed for them.
#[derive(Debug)]
pub(crate) struct Clocks {
    pub(crate) timeouts: Timeouts,
    last_read: Instant,
    last_write: Instant,
    last_active: Instant,
    armed: Option<(TimerHandle, Instant)>,
}

impl Clocks {
    pub(crate) fn new(now: Instant, timeouts: Timeouts) -> Clocks {
        Clocks {
            timeouts,
            last_read: now,
            last_write: now,
            last_active: now,
            armed: None,
        }
    }

    /// Restart the clock of one timeout at `now`.
    pub(crate) fn restart(&mut self, kind: TimeoutKind, now: Instant) {
        match kind {
            TimeoutKind::Read => self.last_read = now,
            TimeoutKind::Write => self.last_write = now,
            TimeoutKind::Idle => self.last_active = now,
        }
    }

    /// Bytes arrived at `now`.
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
        };
        if !runs || run.linger_until.is_some() {
            return None;
        }
        // An unrepresentable deadline (a huge timeout) is the same as none.
        self.timeouts.get(kind).and_then(|t| last.checked_add(t))
    }

    fn deadlines(&self, run: Running) -> impl Iterator<Item = (Instant, TimeoutKind)> + '_ {
        [TimeoutKind::Write, TimeoutKind::Read, TimeoutKind::Idle]
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
}
