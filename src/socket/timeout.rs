//! Python's timeout rules: the process-wide default (`setdefaulttimeout`) given to sockets
//! made afterwards, and one deadline per operation, waited for with `poll(2)`.

use std::io;
use std::sync::Mutex;
use std::time::{Duration, Instant};

static DEFAULT: Mutex<Option<Duration>> = Mutex::new(None);

/// `socket.setdefaulttimeout(t)`: the timeout of every [`Socket`](super::Socket) made from
/// now on (`None`: blocking; zero: non-blocking). Sockets that exist keep theirs.
pub fn setdefaulttimeout(timeout: Option<Duration>) {
    *DEFAULT.lock().unwrap_or_else(|e| e.into_inner()) = timeout;
}

/// `socket.getdefaulttimeout()`.
pub fn getdefaulttimeout() -> Option<Duration> {
    *DEFAULT.lock().unwrap_or_else(|e| e.into_inner())
}

/// The error of an operation that ran out of time: `TimedOut`, "timed out" (Python's
/// `TimeoutError('timed out')`).
pub fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "timed out")
}

/// Run `op` under a socket's timeout: `None`, a blocking socket, calls it once (retrying
/// `EINTR`); zero, a non-blocking one, calls it once and lets `WouldBlock` through; a
/// duration `t` calls it, and while it would block waits (with `poll`) for readiness
/// (`write` picks the direction) until `t` has passed since the start, then fails with
/// [`timed_out`].
pub(crate) fn run<T>(
    fd: &impl std::os::fd::AsFd,
    timeout: Option<Duration>,
    write: bool,
    mut op: impl FnMut() -> io::Result<T>,
) -> io::Result<T> {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        match op() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let Some(deadline) = deadline else {
                    return Err(e); // a blocking socket does not say WouldBlock; pass it on
                };
                if timeout == Some(Duration::ZERO) {
                    return Err(e);
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() || !crate::sys::wait_fd(fd, write, Some(left))? {
                    return Err(timed_out());
                }
            }
            other => return other,
        }
    }
}
