//! Arming the timer wheel: each connection's one entry, user timers, and the poll timeout.
//!
//! A connection keeps at most one wheel entry, at or before its earliest deadline; `Conn`
//! says when it must move ([`Conn::arm_at`](crate::conn::Conn::arm_at)), and [`Core::rearm`]
//! moves it. What happens when an entry fires is in `expire`.

use std::time::{Duration, Instant};

use super::core::{Core, TimerTarget};
use super::token::{Key, TimerId};

impl Core {
    /// Make sure `key`'s wheel entry fires no later than its earliest deadline.
    pub(crate) fn rearm(&mut self, key: Key) {
        let Some((_, conn)) = self.sources.conn_mut(key) else {
            return;
        };
        let Some(at) = conn.arm_at() else {
            return;
        };
        if let Some(old) = conn.armed() {
            self.wheel.cancel(old);
        }
        let handle = self
            .wheel
            .insert(self.clock.deadline_tick(at), TimerTarget::Conn(key));
        conn.set_armed(handle, at);
        self.stats.timeout_arms += 1;
    }

    /// A wheel entry for `target`, `after` from now (never earlier).
    pub(crate) fn arm_after(&mut self, after: Duration, target: TimerTarget) -> TimerId {
        let tick = match self.now.checked_add(after) {
            Some(at) => self.clock.deadline_tick(at),
            // Beyond what Instant can represent: as good as never.
            None => u64::MAX,
        };
        TimerId(self.wheel.insert(tick, target))
    }

    /// Cancel a user timer; `false` if it already fired or was cancelled.
    pub(crate) fn cancel_timer(&mut self, timer: TimerId) -> bool {
        match self.wheel.get(timer.0) {
            Some(TimerTarget::User(_)) => {
                self.wheel.cancel(timer.0);
                self.user_timers -= 1;
                true
            }
            _ => false,
        }
    }

    /// A user timer with `token`, `after` from now.
    pub(crate) fn set_timer(&mut self, after: Duration, token: u64) -> TimerId {
        self.user_timers += 1;
        self.arm_after(after, TimerTarget::User(token))
    }

    /// How long the next poll may wait: zero if work is left over, else until the wheel's
    /// next deadline (measured from `now`), capped by `max_wait`.
    pub(crate) fn poll_timeout(
        &self,
        now: Instant,
        max_wait: Option<Duration>,
    ) -> Option<Duration> {
        if self.has_work() {
            return Some(Duration::ZERO);
        }
        let timers = self
            .wheel
            .next_deadline()
            .map(|tick| match self.clock.instant(tick) {
                Some(at) => at.saturating_duration_since(now),
                // Beyond what Instant can represent: as good as never.
                None => Duration::MAX,
            });
        match (timers, max_wait) {
            (Some(t), Some(m)) => Some(t.min(m)),
            (t, m) => t.or(m),
        }
    }
}
