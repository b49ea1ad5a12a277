//! Socket activation: `netloop serve` started the way systemd starts a socket-activated
//! service (its sockets as descriptors 3, 4, ..., and `LISTEN_PID`, `LISTEN_FDS`,
//! `LISTEN_FDNAMES` saying so) serves exactly those sockets and binds nothing itself.

#[path = "../../tests/util/mod.rs"]
mod util;

mod serving;

use std::io::{Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use serving::{log_lines, start_up_log};
use util::STEP;

use serving::BIN;

/// A copy of `fd` at a high number, so that moving the copies to 3, 4, ... in the child
/// cannot overwrite one another.
fn high_copy(fd: RawFd) -> OwnedFd {
    // SAFETY: `fd` is an open descriptor of this process; F_DUPFD_CLOEXEC returns a new one
    // (at 100 or above) that nothing else owns, or -1.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 100) };
    assert!(new >= 100, "{}", std::io::Error::last_os_error());
    // SAFETY: `new` was just made and is owned by no one else.
    unsafe { OwnedFd::from_raw_fd(new) }
}

#[test]
fn serve_serves_the_sockets_it_is_handed_and_binds_nothing() {
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let framed = TcpListener::bind("127.0.0.1:0").unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let dir = util::TempDir::new("activation");
    let path = dir.0.join("handed.sock");
    let unix = UnixListener::bind(&path).unwrap();
    let (tcp_addr, framed_addr) = (tcp.local_addr().unwrap(), framed.local_addr().unwrap());
    let udp_addr = udp.local_addr().unwrap();
    let copies: Vec<OwnedFd> = [
        tcp.as_raw_fd(),
        framed.as_raw_fd(),
        udp.as_raw_fd(),
        unix.as_raw_fd(),
    ]
    .into_iter()
    .map(high_copy)
    .collect();
    let raw: Vec<RawFd> = copies.iter().map(|fd| fd.as_raw_fd()).collect();
    let mut cmd = Command::new("sh");
    // The shell sets LISTEN_PID to its own pid, which `exec` hands on to netloop.
    cmd.args([
        "-c",
        "LISTEN_PID=$$ exec \"$0\" serve --framed \"$1\"",
        BIN,
        &framed_addr.to_string(),
    ])
    .env("LISTEN_FDS", "4")
    // The framed socket is left unnamed: its address (given to --framed) tells.
    .env("LISTEN_FDNAMES", "tcp::udp:unix")
    .env("RUST_LOG", "info")
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    // SAFETY: between fork and exec the closure only calls dup2, which is async-signal-safe,
    // on descriptors that are open in the child (the copies, inherited across fork).
    unsafe {
        cmd.pre_exec(move || {
            for (i, &fd) in raw.iter().enumerate() {
                if libc::dup2(fd, 3 + i as RawFd) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn");
    drop(copies);
    let log = start_up_log(&log_lines(&mut child));
    let _guard = KillOnDrop(child);
    assert!(
        log.iter()
            .any(|l| l.contains("serving the 4 socket(s) the service manager handed over")),
        "{log:#?}"
    );
    let services: Vec<&String> = log.iter().filter(|l| l.contains(" service on ")).collect();
    assert_eq!(services.len(), 4, "{log:#?}");
    assert!(
        services
            .iter()
            .all(|l| l.contains("(handed by the service manager)")),
        "it bound something itself: {log:#?}"
    );
    for (service, addr) in [
        ("TCP echo", tcp_addr.to_string()),
        ("TCP framed echo", framed_addr.to_string()),
        ("UDP upper-case", udp_addr.to_string()),
    ] {
        assert!(
            services
                .iter()
                .any(|l| l.contains(&format!("{service} service on {addr} "))),
            "{service} on {addr}: {log:#?}"
        );
    }

    // Each one answers.
    let mut c = util::connect(tcp_addr);
    assert_eq!(util::echo_round_trip(&mut c, b"stream"), b"stream");
    let mut f = util::connect(framed_addr);
    let frame = [&5u32.to_be_bytes()[..], b"frame"].concat();
    assert_eq!(util::echo_round_trip(&mut f, &frame), frame);
    let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
    probe.set_read_timeout(Some(STEP)).unwrap();
    probe.send_to(b"quiet", udp_addr).unwrap();
    let mut buf = [0; 16];
    let (n, _) = probe.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"QUIET");
    let mut u = UnixStream::connect(&path).unwrap();
    u.set_read_timeout(Some(STEP)).unwrap();
    u.write_all(&frame).unwrap();
    let mut back = vec![0; frame.len()];
    u.read_exact(&mut back).unwrap();
    assert_eq!(back, frame);
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
