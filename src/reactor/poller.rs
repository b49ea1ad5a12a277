//! Waiting for readiness: `epoll_wait` through mio, or, in the simulation, the in-memory
//! network's edges. Both come out as the same [`Ready`] events, and both give the turn its
//! `now` (the real clock, or the virtual one).
//!
//! mio waits in whole milliseconds, rounding up. When the turn's wait ends at a precise
//! timer's deadline, the poller also arms a `timerfd` in the poll set for exactly that
//! deadline (made on first use), so that the kernel wakes the poll on time; the simulation's
//! virtual clock needs no such help.

use std::io;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry};

use super::token::PRECISE_TIMER;
use crate::memnet::{Net, Ready};
use crate::sys::PreciseTimer;

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

pub(crate) struct Poller {
    poll: Poll,
    events: Events,
    /// The simulation's network, when this reactor runs on one.
    net: Option<Net>,
    /// The events of the last poll, in a simulation (mio keeps the real ones).
    ready: Vec<Ready>,
    timer: TimerFd,
}

impl Poller {
    pub(crate) fn new(capacity: usize, net: Option<Net>) -> io::Result<Poller> {
        Ok(Poller {
            poll: Poll::new()?,
            events: Events::with_capacity(capacity),
            net,
            ready: Vec::new(),
            timer: TimerFd::NotYet,
        })
    }

    pub(crate) fn registry(&self) -> &Registry {
        self.poll.registry()
    }

    /// The epoll descriptor.
    pub(crate) fn as_raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self.poll)
    }

    /// The epoll descriptor, borrowed for as long as the poller.
    pub(crate) fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        // The registry shares the poll's descriptor and lends it out.
        std::os::fd::AsFd::as_fd(self.poll.registry())
    }

    /// Is this reactor simulated (its sockets in memory, its clock virtual)?
    pub(crate) fn is_simulated(&self) -> bool {
        self.net.is_some()
    }

    /// The current time: the only place a reactor reads a clock.
    pub(crate) fn now(&self) -> Instant {
        match &self.net {
            Some(net) => net.now(),
            None => Instant::now(),
        }
    }

    /// Wait up to `timeout` for events. `precise` is the earliest precise timer's deadline:
    /// if it is what ends the wait, the wait ends on time even between milliseconds. `EINTR`
    /// is a poll with no events. Returns how many events there are;
    /// [`for_each`](Poller::for_each) visits them.
    pub(crate) fn poll(
        &mut self,
        timeout: Option<Duration>,
        precise: Option<Instant>,
    ) -> io::Result<usize> {
        if let Some(net) = &self.net {
            net.poll(&mut self.ready, timeout);
            return Ok(self.ready.len());
        }
        if let (Some(at), Some(wait)) = (precise, timeout) {
            if !wait.is_zero() {
                self.arm_timer(at, wait);
            }
        }
        let result = match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => Ok(self.events.iter().count()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                self.events.clear();
                Ok(0)
            }
            Err(e) => Err(e),
        };
        if let TimerFd::Ready {
            timer,
            armed: armed @ Some(_),
        } = &mut self.timer
        {
            if self.events.iter().any(|e| e.token() == PRECISE_TIMER) {
                timer.clear();
                *armed = None;
                // The reactor's own wake-up, not an event of its sockets.
                return result.map(|n| n - 1);
            }
        }
        result
    }

    /// Arm the `timerfd` for `at` if that is when a wait of `wait` from now ends (or sooner),
    /// and it is not armed for `at` already. A failure leaves the millisecond wait alone.
    fn arm_timer(&mut self, at: Instant, wait: Duration) {
        let until = at.saturating_duration_since(Instant::now());
        if until > wait {
            return;
        }
        if let TimerFd::NotYet = self.timer {
            self.timer = match self.make_timer() {
                Ok(timer) => TimerFd::Ready { timer, armed: None },
                Err(e) => {
                    log::warn!("no timerfd for precise timers ({e}): they fire to the millisecond");
                    TimerFd::Failed
                }
            };
        }
        if let TimerFd::Ready { timer, armed } = &mut self.timer {
            if *armed == Some(at) {
                return;
            }
            match timer.arm(until) {
                Ok(()) => *armed = Some(at),
                Err(e) => log::warn!("arming the precise timer failed: {e}"),
            }
        }
    }

    fn make_timer(&self) -> io::Result<PreciseTimer> {
        let timer = PreciseTimer::new()?;
        let fd = std::os::fd::AsRawFd::as_raw_fd(&timer);
        self.poll
            .registry()
            .register(&mut SourceFd(&fd), PRECISE_TIMER, Interest::READABLE)?;
        Ok(timer)
    }

    /// Visit the events of the last poll, in order.
    pub(crate) fn for_each(&self, mut f: impl FnMut(Ready)) {
        if self.net.is_some() {
            self.ready.iter().copied().for_each(f);
            return;
        }
        for e in self.events.iter() {
            if e.token() == PRECISE_TIMER {
                continue;
            }
            f(Ready {
                token: e.token(),
                readable: e.is_readable(),
                writable: e.is_writable() || e.is_write_closed() || e.is_error(),
                // Errors and hang-ups are surfaced by the read or write they make fail.
                hup: e.is_read_closed() || e.is_error() || e.is_priority(),
            });
        }
    }
}
