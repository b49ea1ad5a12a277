//! [`Timers`]: the reactor's timers, and the clock that maps instants to wheel ticks.
//!
//! It owns the timer wheel (each connection's one entry, user timers, accept back-offs and
//! the end of a shutdown's grace, all in one-millisecond ticks), the precise timers (user
//! timers due to the nanosecond) and the count of user timers on the wheel. It is asked to
//! arm, to cancel, what is due at `now` ([`poll_precise`](Timers::poll_precise),
//! [`poll_wheel`](Timers::poll_wheel)), and how long the poll may
//! wait ([`next_wait`](Timers::next_wait)).
//!
//! A connection keeps at most one wheel entry, at or before its earliest deadline: `Conn`
//! says when it must move (`ConnTimers::arm`) and the core moves it
//! (`Core::rearm`). What happens when an entry fires the turn carries out (`Turn::fire`, `turn.rs`) through the core.
//!
//! User timers go to the wheel ([`set_user`](Timers::set_user), up to a millisecond late,
//! cheap in any number) or to the precise heap ([`set_precise`](Timers::set_precise), on time
//! to the poll's precision, for the few that need it). The poll's wait ends at the earlier of
//! the two. mio waits in whole milliseconds, rounding up; so when a wait would end at a precise
//! timer's deadline, [`wake_on_time`](Timers::wake_on_time) also arms a `timerfd` in the poll
//! set for exactly that deadline (made on first use). The simulation's virtual clock needs no
//! such help.

use std::io;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Interest, Registry};

use super::clock::Clock;
use super::ids::{DialId, TimerId, TimerKey};
use super::registry::{Key, PRECISE_TIMER};
use crate::sys::PreciseTimer;
use crate::time::{PreciseTimers, TimerHandle, TimerWheel};

/// What a timer-wheel entry is for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TimerTarget {
    /// Check a connection's deadlines.
    Conn(Key),
    /// A user timer with the user's token.
    User(u64),
    /// Resume accepting on a listener paused after running out of descriptors.
    ResumeAccept(Key),
    /// The grace period of a graceful shutdown is over.
    ShutdownDeadline,
    /// A connection by name may start its next attempt, or has run out of time.
    Dial(DialId),
}

/// A timer that is due (see [`Timers::poll_wheel`]): what the turn must carry out.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Due {
    /// A user timer (precise or on the wheel) with its id and token.
    User(TimerId, u64),
    /// A connection's wheel entry (the connection says which deadline, if any, passed).
    Conn(TimerHandle, Key),
    /// A listener's accept back-off is over.
    ResumeAccept(Key),
    /// A graceful shutdown's grace period is over.
    ShutdownDeadline,
    /// A connection by name may start its next attempt, or has run out of time.
    Dial(DialId),
}

/// The `timerfd` behind precise timers, once one was needed.
#[derive(Debug, Default)]
enum TimerFd {
    #[default]
    NotYet,
    Ready {
        timer: PreciseTimer,
        /// The deadline it is armed for, until its expiry is seen.
        armed: Option<Instant>,
    },
    /// It could not be made: precise timers fire up to a millisecond late.
    Failed,
}

/// The wheel, the precise timers and the clock (see the module docs).
#[derive(Debug)]
pub(crate) struct Timers {
    wheel: TimerWheel<TimerTarget>,
    precise: PreciseTimers<Instant, u64>,
    clock: Clock,
    /// User timers on the wheel (for the audit's count of its entries).
    user_timers: usize,
    /// The kernel timer that ends a poll on time for a precise timer.
    timerfd: TimerFd,
}

impl Timers {
    /// Empty timers whose tick 0 starts at `origin`, with room for `capacity` entries.
    pub(crate) fn new(capacity: usize, origin: Instant) -> Timers {
        Timers {
            wheel: TimerWheel::with_capacity(capacity),
            precise: PreciseTimers::new(),
            clock: Clock::new(origin),
            user_timers: 0,
            timerfd: TimerFd::NotYet,
        }
    }

    /// Before a poll that waits `wait`: if the earliest precise timer is what ends that wait,
    /// arm the `timerfd` (registered with `registry` on first use) for exactly its deadline,
    /// unless it is armed for it already. A failure leaves the millisecond wait alone.
    pub(crate) fn wake_on_time(&mut self, registry: &Registry, wait: Duration) {
        let Some(at) = self.precise.next_deadline() else {
            return;
        };
        if wait.is_zero() {
            return;
        }
        let until = at.saturating_duration_since(Instant::now());
        if until > wait {
            return;
        }
        if let TimerFd::NotYet = self.timerfd {
            self.timerfd = match make_timerfd(registry) {
                Ok(timer) => TimerFd::Ready { timer, armed: None },
                Err(e) => {
                    log::warn!("no timerfd for precise timers ({e}): they fire to the millisecond");
                    TimerFd::Failed
                }
            };
        }
        if let TimerFd::Ready { timer, armed } = &mut self.timerfd {
            if *armed == Some(at) {
                return;
            }
            match timer.arm(until) {
                Ok(()) => *armed = Some(at),
                Err(e) => log::warn!("arming the precise timer failed: {e}"),
            }
        }
    }

    /// The `timerfd` woke the poll: read its expiry, so that it is ready to be armed again.
    pub(crate) fn woke(&mut self) {
        if let TimerFd::Ready { timer, armed } = &mut self.timerfd {
            timer.clear();
            *armed = None;
        }
    }

    /// A wheel entry for `target` that fires no earlier than `at`.
    #[inline]
    pub(crate) fn arm_at(&mut self, at: Instant, target: TimerTarget) -> TimerHandle {
        self.wheel.insert(self.clock.deadline_tick(at), target)
    }

    /// A wheel entry for `target`, `after` from `now` (never earlier).
    pub(crate) fn arm_after(
        &mut self,
        now: Instant,
        after: Duration,
        target: TimerTarget,
    ) -> TimerHandle {
        let tick = match now.checked_add(after) {
            Some(at) => self.clock.deadline_tick(at),
            // Beyond what Instant can represent: as good as never.
            None => u64::MAX,
        };
        self.wheel.insert(tick, target)
    }

    /// Remove a wheel entry (nothing if it already fired).
    #[inline]
    pub(crate) fn cancel(&mut self, handle: TimerHandle) {
        self.wheel.cancel(handle);
    }

    /// A user timer with `token`, `after` from `now`, on the wheel.
    pub(crate) fn set_user(&mut self, now: Instant, after: Duration, token: u64) -> TimerId {
        self.user_timers += 1;
        TimerId(TimerKey::Wheel(self.arm_after(
            now,
            after,
            TimerTarget::User(token),
        )))
    }

    /// A user timer with `token`, due exactly `after` from `now`.
    pub(crate) fn set_precise(&mut self, now: Instant, after: Duration, token: u64) -> TimerId {
        // Beyond what Instant can represent: as good as never, and the wheel keeps "never".
        match now.checked_add(after) {
            Some(at) => TimerId(TimerKey::Precise(self.precise.insert(at, token))),
            None => self.set_user(now, after, token),
        }
    }

    /// Cancel a user timer; `false` if it already fired or was cancelled.
    pub(crate) fn cancel_user(&mut self, timer: TimerId) -> bool {
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

    /// The next precise timer due by `now`, if any. The turn takes these first, then the
    /// wheel's ([`poll_wheel`](Timers::poll_wheel)).
    #[inline]
    pub(crate) fn poll_precise(&mut self, now: Instant) -> Option<Due> {
        let (handle, token) = self.precise.poll(now)?;
        Some(Due::User(TimerId(TimerKey::Precise(handle)), token))
    }

    /// The next wheel entry due by `now`'s tick, if any, in tick order. A user timer leaves
    /// the count as it is handed out.
    #[inline]
    pub(crate) fn poll_wheel(&mut self, now: Instant) -> Option<Due> {
        let (handle, target) = self.wheel.poll(self.clock.now_tick(now))?;
        Some(match target {
            TimerTarget::User(token) => {
                self.user_timers -= 1;
                Due::User(TimerId(TimerKey::Wheel(handle)), token)
            }
            TimerTarget::Conn(key) => Due::Conn(handle, key),
            TimerTarget::ResumeAccept(key) => Due::ResumeAccept(key),
            TimerTarget::ShutdownDeadline => Due::ShutdownDeadline,
            TimerTarget::Dial(id) => Due::Dial(id),
        })
    }

    /// How long a poll at `now` may wait before a timer needs a turn (the wheel's next tick
    /// with work, or a precise deadline), capped by `max_wait`; `None`: no timer and no cap.
    pub(crate) fn next_wait(&self, now: Instant, max_wait: Option<Duration>) -> Option<Duration> {
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

    /// Timers of every kind (wheel entries and precise timers).
    pub(crate) fn len(&self) -> usize {
        self.wheel.len() + self.precise.len()
    }

    /// Wheel entries.
    pub(crate) fn wheel_len(&self) -> usize {
        self.wheel.len()
    }

    /// What a wheel entry is for, if it is still armed.
    pub(crate) fn target(&self, handle: TimerHandle) -> Option<&TimerTarget> {
        self.wheel.get(handle)
    }

    /// User timers on the wheel.
    pub(crate) fn user_timers(&self) -> usize {
        self.user_timers
    }
}

/// A `timerfd` registered with `registry` under [`PRECISE_TIMER`].
fn make_timerfd(registry: &Registry) -> io::Result<PreciseTimer> {
    let timer = PreciseTimer::new()?;
    let fd = std::os::fd::AsRawFd::as_raw_fd(&timer);
    registry.register(&mut SourceFd(&fd), PRECISE_TIMER, Interest::READABLE)?;
    Ok(timer)
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
