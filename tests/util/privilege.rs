//! Running a test body in a child process with other privileges or its own network: a private
//! network namespace (with its own loopback and its own `ping_group_range`), and an
//! unprivileged uid. The host's settings are never touched.
#![allow(dead_code)]

use std::process::Command;

/// The environment variable that tells a test it is the child.
pub const CHILD: &str = "NETLOOP_TEST_CHILD";

/// Run the `#[ignore]`d test `name` of this test binary in a child process (with `CHILD`
/// set) and return whether it passed, printing its output.
pub fn run_child(name: &str) -> bool {
    let exe = std::env::current_exe().expect("current_exe");
    let out = Command::new(exe)
        .args([
            name,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .expect("spawn the test binary");
    println!(
        "--- child {name} ---\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.status.success() && String::from_utf8_lossy(&out.stdout).contains("1 passed")
}

/// Is this the child process?
pub fn is_child() -> bool {
    std::env::var_os(CHILD).is_some()
}

/// Are we root (the tests that need privileges skip, saying so, otherwise)?
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Move this thread into a new network namespace, bring its loopback up and set its
/// `net.ipv4.ping_group_range` to `lo hi`. Err if the namespace cannot be made (no
/// `CAP_SYS_ADMIN`, or a container that forbids it).
pub fn private_network(ping_groups: (u32, u32)) -> Result<(), String> {
    // SAFETY: unshare takes a flag word and touches no memory of ours.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return Err(format!(
            "unshare(CLONE_NEWNET): {}",
            std::io::Error::last_os_error()
        ));
    }
    loopback_up()?;
    // /proc/sys/net shows the network namespace of the thread that opens it.
    std::fs::write(
        "/proc/sys/net/ipv4/ping_group_range",
        format!("{} {}", ping_groups.0, ping_groups.1),
    )
    .map_err(|e| format!("writing ping_group_range: {e}"))
}

/// Turn multicast on for this network namespace's loopback (`IFF_MULTICAST`, off on a
/// loopback by default), so that groups can be joined and used on it.
pub fn loopback_multicast() -> Result<(), String> {
    set_lo_flags(libc::IFF_UP | libc::IFF_MULTICAST)
}

fn loopback_up() -> Result<(), String> {
    set_lo_flags(libc::IFF_UP)
}

/// Add `flags` to the loopback's (`SIOCGIFFLAGS`, then `SIOCSIFFLAGS`).
fn set_lo_flags(flags: libc::c_int) -> Result<(), String> {
    // SAFETY: a plain socket(2) call; the descriptor is closed below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(format!("socket: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: ifreq is plain old data, valid when zeroed.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS and SIOCSIFFLAGS read and write an ifreq, which `req` is, and
    // `fd` is a socket we own; ifru_flags is the union member these two requests use.
    let result = unsafe {
        if libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req) < 0 {
            -1
        } else {
            req.ifr_ifru.ifru_flags |= flags as libc::c_short;
            libc::ioctl(fd, libc::SIOCSIFFLAGS, &req)
        }
    };
    let err = std::io::Error::last_os_error();
    // SAFETY: fd is ours and closed once.
    unsafe { libc::close(fd) };
    if result < 0 {
        return Err(format!("setting lo's flags: {err}"));
    }
    Ok(())
}

/// Become uid and gid 65534 (nobody), with no supplementary groups: every capability goes.
pub fn become_nobody() -> Result<(), String> {
    // SAFETY: setgroups with a null list and length 0 clears the supplementary groups;
    // setgid and setuid take plain ids. glibc applies them to every thread.
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0
            || libc::setgid(65534) != 0
            || libc::setuid(65534) != 0
        {
            return Err(format!(
                "dropping to nobody: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}
