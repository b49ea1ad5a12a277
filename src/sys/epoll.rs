//! Registrations mio cannot make: `EPOLLEXCLUSIVE`, for one socket shared by several reactors,
//! and their removal. The crate's only `unsafe` calls are here.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Turn a libc return value of -1 into the `errno` error (mio's `syscall!` idea, as a
/// function).
fn cvt(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// Register `fd` with the epoll instance `epoll` under `token`, edge-triggered, for input
/// (and output if `writable`), with `EPOLLEXCLUSIVE`: when several epoll instances (several
/// reactors) wait on the same socket, an event wakes one of them, not all (Linux 4.5). It is
/// how reactors share one listening socket without a thundering herd. mio has no way to ask
/// for the flag, so this is a raw `epoll_ctl(EPOLL_CTL_ADD)`; mio's `deregister` removes the
/// registration as usual.
///
/// # Errors
///
/// Any error of `epoll_ctl(2)`, for example `EEXIST` if `fd` is registered already.
pub fn epoll_add_exclusive(
    epoll: BorrowedFd<'_>,
    fd: BorrowedFd<'_>,
    token: u64,
    writable: bool,
) -> io::Result<()> {
    // The kernel allows EPOLLEXCLUSIVE only beside EPOLLIN, EPOLLOUT, EPOLLET and EPOLLWAKEUP
    // (EINVAL otherwise): no EPOLLRDHUP, which a listener or a datagram socket never needs.
    let mut flags = libc::EPOLLIN | libc::EPOLLET | libc::EPOLLEXCLUSIVE;
    if writable {
        flags |= libc::EPOLLOUT;
    }
    let mut event = libc::epoll_event {
        events: flags as u32,
        u64: token,
    };
    // SAFETY: both descriptors are borrowed, so they stay open for the call; `event` is a
    // valid, initialised `epoll_event` that lives across the call and that the kernel only
    // reads.
    let rc = unsafe {
        libc::epoll_ctl(
            epoll.as_raw_fd(),
            libc::EPOLL_CTL_ADD,
            fd.as_raw_fd(),
            &mut event,
        )
    };
    cvt(rc).map(|_| ())
}

/// Remove `fd` from the epoll instance `epoll` (`EPOLL_CTL_DEL`): the counterpart of
/// [`epoll_add_exclusive`], for a registration mio did not make (mio's own `deregister` checks,
/// in debug builds, that it made the registration itself).
///
/// # Errors
///
/// Any error of `epoll_ctl(2)`, for example `ENOENT` if `fd` is not registered.
pub fn epoll_del(epoll: BorrowedFd<'_>, fd: BorrowedFd<'_>) -> io::Result<()> {
    let mut event = libc::epoll_event { events: 0, u64: 0 };
    // SAFETY: both descriptors are borrowed, so they stay open for the call; `event` is a
    // valid `epoll_event` (ignored by EPOLL_CTL_DEL, but kernels before 2.6.9 required one).
    let rc = unsafe {
        libc::epoll_ctl(
            epoll.as_raw_fd(),
            libc::EPOLL_CTL_DEL,
            fd.as_raw_fd(),
            &mut event,
        )
    };
    cvt(rc).map(|_| ())
}
