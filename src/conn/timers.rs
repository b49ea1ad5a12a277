//! [`ConnTimers`]: one connection's timers as the reactor sees them, a view lent by
//! [`Conn::timers`](super::Conn::timers).
//!
//! It joins what the connection's clocks know (the timeouts, the instants bytes last moved,
//! the one wheel entry armed: `clocks.rs`) with what runs now (which clocks count, computed
//! from the phase, the input and the queue when the view is made) and the phase (a lingering
//! close ends when its time is up). The reactor asks it where the wheel entry must be
//! ([`arm`](ConnTimers::arm)), tells it an entry fired ([`on_timer`](ConnTimers::on_timer)),
//! and carries the handler's settings to it ([`set_timeout`](ConnTimers::set_timeout),
//! [`keep_open`](ConnTimers::keep_open)).

use std::time::{Duration, Instant};

use super::clocks::{Clocks, Running};
use super::phase::Phase;
use super::steps::TimerStep;
use crate::error::TimeoutKind;
use crate::time::TimerHandle;

/// A connection's timers, as of the moment the view was made (see the module docs).
#[derive(Debug)]
pub struct ConnTimers<'a> {
    clocks: &'a mut Clocks,
    run: Running,
    phase: &'a mut Phase,
}

impl<'a> ConnTimers<'a> {
    /// The view over `clocks`, with `run` saying which of them count now.
    pub(super) fn new(clocks: &'a mut Clocks, run: Running, phase: &'a mut Phase) -> Self {
        ConnTimers { clocks, run, phase }
    }

    /// Set one timeout; its clock restarts at `now` (the wait "starts now", as a Python call
    /// made after `settimeout` would), unless it shares its instant with another clock that
    /// runs now (the frame, connect and handshake clocks: see `Running::owns_start`), which
    /// keeps counting. Re-arm afterwards.
    pub fn set_timeout(&mut self, kind: TimeoutKind, value: Option<Duration>, now: Instant) {
        self.clocks.set_limit(kind, value);
        if self.run.owns_start(kind) {
            self.clocks.restart(kind, now);
        }
    }

    /// The handler chose to keep the connection after `kind` fired: that clock restarts.
    /// Re-arm afterwards.
    pub fn keep_open(&mut self, kind: TimeoutKind, now: Instant) {
        self.clocks.restart(kind, now);
    }

    /// The instant the wheel entry must be (re)armed at, or `None` if the current one (or the
    /// lack of one) is fine (for tests; the reactor calls [`arm`](ConnTimers::arm)).
    #[cfg(test)]
    pub(super) fn arm_at(&self) -> Option<Instant> {
        self.clocks.arm_at(self.run)
    }

    /// Record the wheel entry armed at `at` (for tests).
    #[cfg(test)]
    pub(super) fn set_armed(&mut self, handle: TimerHandle, at: Instant) {
        self.clocks.set_armed(Some((handle, at)));
    }

    /// Move the connection's one timer-wheel entry, if its earliest deadline says so: `arm`
    /// is given the entry armed now (to cancel, if any) and the instant to arm the new one
    /// at, and returns the new entry. Returns whether it was called. The reactor calls this
    /// after every step that can move a deadline earlier (deadlines are checked lazily: see
    /// `clocks.rs`).
    pub fn arm(&mut self, arm: impl FnOnce(Option<TimerHandle>, Instant) -> TimerHandle) -> bool {
        let Some(at) = self.clocks.arm_at(self.run) else {
            return false;
        };
        let handle = arm(self.clocks.armed(), at);
        self.clocks.set_armed(Some((handle, at)));
        true
    }

    /// The wheel entry `handle` fired at `now`.
    pub fn on_timer(&mut self, now: Instant, handle: TimerHandle) -> TimerStep {
        if self.clocks.armed() != Some(handle) {
            return TimerStep::Stale;
        }
        self.clocks.set_armed(None);
        if let Some(until) = self.run.linger_until {
            if until <= now {
                return TimerStep::Close(self.phase.take_reason());
            }
            return TimerStep::Rearm;
        }
        match self.clocks.expired(now, self.run) {
            Some(kind) => TimerStep::TimedOut(kind),
            None => TimerStep::Rearm,
        }
    }
}
