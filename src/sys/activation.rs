//! Socket activation: the listening sockets a service manager handed this process
//! (systemd's `LISTEN_FDS` protocol, `sd_listen_fds(3)`).
//!
//! The manager opens the sockets, starts the process with them as descriptors 3, 4, ...
//! (`SD_LISTEN_FDS_START`), and says so in the environment: `LISTEN_PID` (this process),
//! `LISTEN_FDS` (how many) and, optionally, `LISTEN_FDNAMES` (their names, colon-separated).
//! [`listen_fds`] takes them once: it checks the variables, makes each descriptor ours (with
//! close-on-exec, which the manager leaves off), and removes the variables, so that neither a
//! second call nor a child process takes them again.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// The first descriptor a service manager passes (`SD_LISTEN_FDS_START`).
const FIRST: RawFd = 3;

/// The sockets this process was handed, each with its name if the manager gave names (in
/// order); empty when `LISTEN_FDS` is not set or is meant for another process.
///
/// Call it early in `main`, before the program starts threads: it removes the variables
/// from the environment, which must not race with another thread reading it (a
/// `getaddrinfo` on a worker thread, for one).
///
/// # Errors
///
/// `InvalidData` for malformed variables (a count that is not a number, or beyond what a
/// process can hold); the error of making a descriptor close-on-exec (a descriptor that is
/// not open: the manager's promise broken).
pub fn listen_fds() -> io::Result<Vec<(Option<String>, OwnedFd)>> {
    let (Ok(pid), Ok(count)) = (std::env::var("LISTEN_PID"), std::env::var("LISTEN_FDS")) else {
        return Ok(Vec::new());
    };
    let bad = |what: String| io::Error::new(io::ErrorKind::InvalidData, what);
    let pid: u32 = pid
        .parse()
        .map_err(|_| bad(format!("LISTEN_PID={pid} is not a process id")))?;
    if pid != std::process::id() {
        // Meant for a process that handed the environment down: not ours.
        return Ok(Vec::new());
    }
    let count: RawFd = count
        .parse()
        .ok()
        .filter(|n| (0..=65_536).contains(n))
        .ok_or_else(|| bad(format!("LISTEN_FDS={count} is not a number of descriptors")))?;
    let names: Vec<String> = std::env::var("LISTEN_FDNAMES")
        .map(|n| n.split(':').map(str::to_owned).collect())
        .unwrap_or_default();
    for var in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        std::env::remove_var(var);
    }
    // Close-on-exec on every one first, so that a failure on one leaves none of the others
    // to leak into a child.
    let mut failed = None;
    for fd in FIRST..FIRST + count {
        let set = nix::fcntl::fcntl(
            // SAFETY: `fd` is only borrowed for this one call; a descriptor that is not open
            // makes it fail with EBADF, which is returned.
            unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) },
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        );
        if let Err(e) = set {
            failed.get_or_insert(io::Error::from_raw_os_error(e as i32));
        }
    }
    if let Some(e) = failed {
        return Err(e);
    }
    let mut fds = Vec::with_capacity(count as usize);
    for i in 0..count {
        // SAFETY: the service manager opened descriptors 3..3+LISTEN_FDS for this process
        // (LISTEN_PID is ours; each was found open above), and nothing else in the process
        // owns them: the variables are removed above, so this is the one place that takes
        // each of them, once.
        let owned = unsafe { OwnedFd::from_raw_fd(FIRST + i) };
        let name = names.get(i as usize).filter(|n| !n.is_empty()).cloned();
        fds.push((name, owned));
    }
    Ok(fds)
}
