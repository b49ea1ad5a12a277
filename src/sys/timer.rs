//! [`PreciseTimer`]: a `timerfd(2)` for waits finer than `epoll_wait`'s milliseconds.
//!
//! mio rounds a poll's timeout up to a whole millisecond, because that is what `epoll_wait`
//! takes. A reactor with a timer due sooner, or at a fraction of a millisecond, arms this
//! descriptor for exactly that long and keeps it in its poll set: the kernel wakes the poll
//! when the timer expires, with the precision of its high-resolution timers.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};

/// A one-shot, non-blocking `CLOCK_MONOTONIC` timer descriptor (the clock `Instant` reads).
#[derive(Debug)]
pub struct PreciseTimer {
    fd: TimerFd,
}

impl PreciseTimer {
    /// A disarmed timer.
    ///
    /// # Errors
    ///
    /// If the kernel refuses a timer descriptor (e.g. out of descriptors).
    pub fn new() -> io::Result<PreciseTimer> {
        let fd = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )?;
        Ok(PreciseTimer { fd })
    }

    /// Expire once, `after` from now (at the earliest; a zero wait expires at once). Replaces
    /// any earlier arming and clears an expiry not yet read.
    ///
    /// # Errors
    ///
    /// As `timerfd_settime(2)`; not expected for a valid descriptor.
    pub fn arm(&self, after: Duration) -> io::Result<()> {
        // A zero expiry would disarm the timer instead: one nanosecond is "now".
        let after = after.max(Duration::from_nanos(1));
        self.fd.set(
            Expiration::OneShot(TimeSpec::from_duration(after)),
            TimerSetTimeFlags::empty(),
        )?;
        Ok(())
    }

    /// Read and discard the expiry count, so that the descriptor is no longer readable.
    /// Nothing to read (the timer was re-armed since, or never expired) is not an error.
    pub fn clear(&self) {
        let mut count = [0u8; 8];
        // EAGAIN (nothing expired) and any other failure leave nothing to do: the next
        // `arm` resets the count anyway.
        let _ = nix::unistd::read(&self.fd, &mut count);
    }
}

impl AsFd for PreciseTimer {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for PreciseTimer {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_fd().as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn expires_after_the_wait_and_clears() {
        let t = PreciseTimer::new().expect("timerfd");
        let start = Instant::now();
        t.arm(Duration::from_micros(300)).expect("arm");
        let mut fds = [nix::poll::PollFd::new(
            t.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let n = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(5000u16)).expect("poll");
        assert_eq!(n, 1, "the timer expired within 5 s");
        assert!(start.elapsed() >= Duration::from_micros(300));
        t.clear();
        let n = nix::poll::poll(&mut fds, nix::poll::PollTimeout::ZERO).expect("poll");
        assert_eq!(n, 0, "cleared");
    }
}
