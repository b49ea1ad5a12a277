//! The reactor's clock: where `now` comes from, and how instants map to timer-wheel ticks.
//!
//! The timer wheel counts in one-millisecond ticks from the reactor's start. Deadlines round
//! up and `now` rounds down, so a timer whose tick has been reached has really expired: the
//! wheel may be up to one tick late, never early.

use std::time::{Duration, Instant};

/// Converts between `Instant`s and wheel ticks of one millisecond.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    origin: Instant,
}

const NANOS_PER_TICK: u128 = 1_000_000;

impl Clock {
    pub(crate) fn new(origin: Instant) -> Clock {
        Clock { origin }
    }

    /// The tick at which a deadline `at` has passed (rounded up).
    pub(crate) fn deadline_tick(&self, at: Instant) -> u64 {
        let nanos = at.saturating_duration_since(self.origin).as_nanos();
        u64::try_from(nanos.div_ceil(NANOS_PER_TICK)).unwrap_or(u64::MAX)
    }

    /// The tick `now` is in (rounded down).
    pub(crate) fn now_tick(&self, now: Instant) -> u64 {
        let nanos = now.saturating_duration_since(self.origin).as_nanos();
        u64::try_from(nanos / NANOS_PER_TICK).unwrap_or(u64::MAX)
    }

    /// The instant a tick starts, if `Instant` can represent it.
    pub(crate) fn instant(&self, tick: u64) -> Option<Instant> {
        self.origin.checked_add(Duration::from_millis(tick))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_rounds_deadlines_up_and_now_down() {
        let t0 = Instant::now();
        let c = Clock::new(t0);
        let us = Duration::from_micros;
        assert_eq!(c.deadline_tick(t0), 0);
        assert_eq!(c.deadline_tick(t0 + us(1)), 1);
        assert_eq!(c.deadline_tick(t0 + us(1000)), 1);
        assert_eq!(c.deadline_tick(t0 + us(1001)), 2);
        assert_eq!(c.now_tick(t0 + us(1999)), 1);
        assert_eq!(c.now_tick(t0 + us(2000)), 2);
        // Before the origin counts as the origin.
        assert_eq!(c.now_tick(t0), 0);
    }
}
