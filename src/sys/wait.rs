//! Waiting for sockets with `poll(2)`, for the blocking facade: one socket ([`wait_fd`], under
//! a socket's timeout) or the first of several connects to finish ([`wait_any_writable`],
//! for Happy Eyeballs). A deadline is rounded up to whole milliseconds, so a wait never ends
//! early.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

/// The time left until `deadline` (`None`: no limit), rounded up to whole milliseconds.
fn timeout_until(deadline: Option<Instant>) -> PollTimeout {
    match deadline {
        None => PollTimeout::NONE,
        Some(d) => {
            let ms = d
                .saturating_duration_since(Instant::now())
                .as_nanos()
                .div_ceil(1_000_000);
            PollTimeout::try_from(ms.min(i32::MAX as u128) as i32).unwrap_or(PollTimeout::MAX)
        }
    }
}

/// Wait until `fd` is readable (or writable, if `write`) or `timeout` passes (`None`: no
/// limit). An interrupted wait (`EINTR`) goes on with the time that is left. Returns false if
/// the time ran out.
///
/// # Errors
///
/// Any other error of `poll(2)`.
pub fn wait_fd(fd: &impl AsFd, write: bool, timeout: Option<Duration>) -> io::Result<bool> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let events = if write {
        PollFlags::POLLOUT
    } else {
        PollFlags::POLLIN
    };
    loop {
        let mut fds = [PollFd::new(fd.as_fd(), events)];
        match poll(&mut fds, timeout_until(deadline)) {
            // Readiness, an error or a hang-up: the next call on the socket says which.
            Ok(n) if n > 0 => return Ok(true),
            Ok(_) => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok(false);
                }
            }
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// Wait until one of `fds` is writable (a connect finished, or failed) or `until` passes:
/// the index of one that is, if any (`None` also after a signal: the caller looks again).
///
/// # Errors
///
/// Any other error of `poll(2)`.
pub fn wait_any_writable(
    fds: &[BorrowedFd<'_>],
    until: Option<Instant>,
) -> io::Result<Option<usize>> {
    let mut polled: Vec<PollFd<'_>> = fds
        .iter()
        .map(|fd| PollFd::new(*fd, PollFlags::POLLOUT))
        .collect();
    match poll(&mut polled, timeout_until(until)) {
        Ok(0) | Err(nix::errno::Errno::EINTR) => Ok(None),
        Ok(_) => Ok(polled
            .iter()
            .position(|f| f.revents().is_some_and(|r| !r.is_empty()))),
        Err(e) => Err(e.into()),
    }
}
