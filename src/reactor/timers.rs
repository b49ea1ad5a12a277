//! Arming the timer wheel: each connection's one entry, user timers, and the poll timeout.
//!
//! A connection keeps at most one wheel entry, at or before its earliest deadline; `Conn`
//! says when it must move ([`Conn::arm_at`](crate::conn::Conn::arm_at)), and [`Core::rearm`]
//! moves it. What happens when an entry fires is in `expire`.
//!
//! User timers go to the wheel ([`Core::set_timer`], up to a millisecond late, cheap in any
//! number) or to the precise heap ([`Core::set_precise_timer`], on time to the poll's
//! precision, for the few that need it). The poll's wait ends at the earlier of the two.

use std::time::{Duration, Instant};

use super::core::{Core, TimerTarget};
use super::token::{Key, TimerId, TimerKey};
use crate::time::TimerHandle;

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
    pub(crate) fn arm_after(&mut self, after: Duration, target: TimerTarget) -> TimerHandle {
        let tick = match self.now.checked_add(after) {
            Some(at) => self.clock.deadline_tick(at),
            // Beyond what Instant can represent: as good as never.
            None => u64::MAX,
        };
        self.wheel.insert(tick, target)
    }

    /// Cancel a user timer; `false` if it already fired or was cancelled.
    pub(crate) fn cancel_timer(&mut self, timer: TimerId) -> bool {
        match timer.0 {
            TimerKey::Wheel(handle) => match self.wheel.get(handle) {
                Some(TimerTarget::User(_)) => {
                    self.wheel.cancel(handle);
                    self.user_timers -= 1;
                    true
                }
                _ => false,
            },
            TimerKey::Precise(handle) => self.precise.cancel(handle).is_some(),
        }
    }

    /// A user timer with `token`, `after` from now, on the wheel.
    pub(crate) fn set_timer(&mut self, after: Duration, token: u64) -> TimerId {
        self.user_timers += 1;
        TimerId(TimerKey::Wheel(
            self.arm_after(after, TimerTarget::User(token)),
        ))
    }

    /// A user timer with `token`, due exactly `after` from now.
    pub(crate) fn set_precise_timer(&mut self, after: Duration, token: u64) -> TimerId {
        // Beyond what Instant can represent: as good as never, and the wheel keeps "never".
        match self.now.checked_add(after) {
            Some(at) => TimerId(TimerKey::Precise(self.precise.insert(at, token))),
            None => self.set_timer(after, token),
        }
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
        let wheel = self
            .wheel
            .next_deadline()
            .map(|tick| match self.clock.instant(tick) {
                Some(at) => at.saturating_duration_since(now),
                // Beyond what Instant can represent: as good as never.
                None => Duration::MAX,
            });
        let precise = self
            .precise
            .next_deadline()
            .map(|at| at.saturating_duration_since(now));
        [wheel, precise, max_wait].into_iter().flatten().min()
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use crate::memnet::{Faults, Net};
    use crate::reactor::{Config, Context, Handler, Reactor, TimerId};

    /// Records when (virtual time since the origin) each timer fired.
    struct Fired {
        origin: Instant,
        log: Vec<(u64, Duration)>,
    }

    impl Handler for Fired {
        fn on_timer(&mut self, cx: &mut Context<'_>, _: TimerId, token: u64) {
            self.log.push((token, cx.now() - self.origin));
        }
    }

    /// A deterministic run on the simulation's virtual clock: precise timers fire at their
    /// exact deadlines, wheel timers at the next whole millisecond, a cancelled precise timer
    /// never, and the reactor's waits end exactly at the precise deadlines.
    #[test]
    fn precise_timers_fire_at_their_exact_deadline_on_the_virtual_clock() {
        let origin = Instant::now();
        let net = Net::new(7, Faults::default(), origin);
        let handler = Fired {
            origin,
            log: Vec::new(),
        };
        let mut reactor =
            Reactor::simulated(handler, Config::default(), net.clone()).expect("reactor");
        let us = Duration::from_micros;
        reactor.with_context(|_, cx| {
            cx.set_precise_timer(us(250), 1);
            cx.set_timer(us(250), 2);
            cx.set_precise_timer(us(1500), 3);
            let gone = cx.set_precise_timer(us(100), 4);
            assert!(cx.cancel_timer(gone));
            assert!(!cx.cancel_timer(gone), "a cancelled timer cancels once");
            cx.set_precise_timer(us(1500), 5);
            assert_eq!(cx.timer_count(), 4);
        });
        assert_eq!(reactor.next_timeout(), Some(us(250)));
        for _ in 0..10 {
            if reactor.handler().log.len() == 4 {
                break;
            }
            reactor.turn(None).expect("turn");
        }
        assert_eq!(
            reactor.handler().log,
            [(1, us(250)), (2, us(1000)), (3, us(1500)), (5, us(1500))]
        );
        assert_eq!(reactor.next_timeout(), None);
        assert_eq!(reactor.with_context(|_, cx| cx.timer_count()), 0);
    }
}
