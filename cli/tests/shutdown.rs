//! `netloop serve`'s graceful shutdown, and the exit-status table of every command, end to
//! end on loopback: frames caught part-way by SIGTERM finish and come back whole, the process
//! exits as soon as the last connection is done, a peer that never finishes is cut off at the
//! grace, the counts are logged, and each row of the exit-status table holds.

#[path = "../../tests/util/mod.rs"]
mod util;

mod serving;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serving::{serve, Server, BIN};
use util::STEP;

/// A frame of `n` payload bytes: its 4-byte big-endian length, then the payload.
fn frame(n: usize, seed: u64) -> Vec<u8> {
    let mut f = (n as u32).to_be_bytes().to_vec();
    f.extend(util::pattern(seed, n));
    f
}

fn sigterm(server: &Server) {
    kill(Pid::from_raw(server.child.id() as i32), Signal::SIGTERM).expect("kill");
}

/// Wait (at most STEP) for a log line containing `needle`; the lines before it are dropped.
fn log_line(server: &Server, needle: &str) -> Option<String> {
    let start = Instant::now();
    while start.elapsed() < STEP {
        match server.stderr.recv_timeout(STEP - start.elapsed()) {
            Ok(line) if line.contains(needle) => return Some(line),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
    None
}

/// Wait (at most `within`) for the server to exit.
fn exited(server: &mut Server, within: Duration) -> Option<(ExitStatus, Instant)> {
    let start = Instant::now();
    while start.elapsed() < within {
        if let Some(status) = server.child.try_wait().expect("try_wait") {
            return Some((status, Instant::now()));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

/// Read until end of file; `true` if it came (not a reset, not a timeout).
fn reads_eof(c: &mut TcpStream) -> bool {
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).is_ok() && rest.is_empty()
}

#[test]
fn frames_caught_part_way_by_sigterm_finish_whole_and_the_server_exits_at_once() {
    let mut server = serve(&["--grace", "30"]);
    let sizes = [5usize, 3_000, 100 * 1024, 600 * 1024];
    let mut clients = Vec::new();
    for (i, &n) in sizes.iter().enumerate() {
        let f = frame(n, i as u64 + 1);
        let mut c = util::connect(server.framed[0]);
        let half = 4 + n / 2;
        c.write_all(&f[..half]).expect("first half");
        clients.push((c, f, half));
    }
    // The server has read the first halves (edge-triggered, it drains at once) well before
    // the signal: each connection is in the middle of a frame.
    std::thread::sleep(Duration::from_millis(300));
    sigterm(&server);
    assert!(log_line(&server, "shutting down").is_some());
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "exited with frames in flight"
    );
    for (c, f, half) in &mut clients {
        c.write_all(&f[*half..])
            .expect("the rest, after the signal");
        let echo = util::read_n(c, f.len());
        assert!(echo == *f, "a {}-byte frame came back changed", f.len() - 4);
        assert!(reads_eof(c), "then the server closed cleanly");
    }
    let last_echo = Instant::now();
    drop(clients);
    let (status, at) = exited(&mut server, STEP).expect("the server exited");
    assert!(status.success(), "{status}");
    let after = at - last_echo;
    assert!(
        after < Duration::from_secs(1),
        "exited {after:?} after the last echo"
    );
    let counts = log_line(&server, "finished,").expect("the counts are logged");
    assert!(
        counts.contains("4 connection(s) finished, 0 cut off"),
        "{counts}"
    );
}

#[test]
fn a_peer_that_never_finishes_is_cut_off_when_the_grace_ends() {
    let mut server = serve(&["--grace", "2"]);
    let mut idle = util::connect(server.framed[0]);
    let mut stuck = util::connect(server.framed[0]);
    let f = frame(10_000, 9);
    stuck.write_all(&f[..5_000]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let signalled = Instant::now();
    sigterm(&server);
    // The idle connection is closed at once, cleanly.
    assert!(reads_eof(&mut idle), "an idle connection gets end of file");
    drop(idle);
    let (status, at) = exited(&mut server, STEP).expect("the server exited");
    assert!(status.success(), "{status}");
    let took = at - signalled;
    assert!(
        took >= Duration::from_millis(1_900) && took < Duration::from_secs(3),
        "exited {took:?} after the signal, with a grace of 2 s"
    );
    let cut = log_line(&server, "cutting off").expect("the cut-off is logged");
    assert!(
        cut.contains("cutting off 1 connection(s) (1 holding part of a message"),
        "{cut}"
    );
    let counts = log_line(&server, "finished,").expect("the final counts");
    assert!(
        counts.contains("1 connection(s) finished, 1 cut off"),
        "{counts}"
    );
    drop(stuck);
}

fn run(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(BIN).args(args).output().expect("run netloop");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A loopback port with nothing listening on it (TCP and UDP).
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    port
}

#[test]
fn the_exit_status_table_holds_row_by_row() {
    // The table, the same in `--help` and the README.
    let help = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README");
    for (status, meaning) in [
        (
            "0",
            "success; for serve, also a shutdown asked for by a signal",
        ),
        ("1", "the command failed at run time"),
        ("2", "usage error"),
    ] {
        assert!(
            help.contains(&format!("  {status}  {meaning}")),
            "--help row {status}"
        );
        let row = format!("| {status} | {}", meaning.replace("serve", "`serve`"));
        assert!(readme.contains(&row), "README row {status}");
    }

    // 0: a shutdown asked for by a signal (the tests above show it with connections finished
    // and cut off).
    let mut server = serve(&[]);
    sigterm(&server);
    let (status, _) = exited(&mut server, STEP).expect("exited");
    assert_eq!(status.code(), Some(0));

    // 1: failures at run time.
    let port = closed_port();
    let to = format!("127.0.0.1:{port}");
    let (code, err) = run(&["tcp-client", "hi", "--server", &to]);
    assert_eq!(code, Some(1), "no server: {err}");
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = busy.local_addr().unwrap().to_string();
    let (code, err) = run(&[
        "serve",
        "--tcp",
        &busy,
        "--udp",
        "127.0.0.1:0",
        "--framed",
        "127.0.0.1:0",
    ]);
    assert_eq!(code, Some(1), "address in use: {err}");
    let (code, err) = run(&["load", "--addr", &to, "--duration", "1", "--warmup", "0"]);
    assert_eq!(code, Some(1), "load with no server: {err}");
    let quiet = UdpSocket::bind("127.0.0.1:0").unwrap();
    let quiet = quiet.local_addr().unwrap().to_string();
    let (code, err) = run(&[
        "load",
        "--proto",
        "udp",
        "--addr",
        &quiet,
        "--duration",
        "1",
        "--warmup",
        "0",
    ]);
    assert_eq!(code, Some(1), "a UDP load that measured nothing: {err}");
    assert!(
        err.contains("nothing was measured") || err.contains("no request"),
        "{err}"
    );

    // 2: usage errors.
    let (code, _) = run(&["serve", "--no-such-flag"]);
    assert_eq!(code, Some(2));
    let (code, _) = run(&["tcp-client", "hi", "--timeout", "soon"]);
    assert_eq!(code, Some(2));
}

#[test]
fn a_burst_of_refused_connections_is_logged_as_one_line_and_a_count() {
    let to = format!("127.0.0.1:{}", closed_port());
    let out = Command::new(BIN)
        .args([
            "load",
            "--addr",
            &to,
            "--conns",
            "64",
            "--duration",
            "1",
            "--warmup",
            "0",
        ])
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let refused = err.lines().filter(|l| l.contains("closed: ")).count();
    assert!(
        refused <= 1,
        "{refused} lines for the refused connections:\n{err}"
    );
    assert!(
        err.lines().any(|l| l.contains("more connection(s) closed")) || refused == 0,
        "the rest are counted:\n{err}"
    );
}

#[test]
fn the_stats_line_counts_timeouts_by_kind_and_the_other_counters() {
    let mut server = serve(&["--timeout", "0.3"]);
    let mut c = util::connect(server.tcp[0]);
    assert!(reads_eof(&mut c), "closed by the idle timeout");
    sigterm(&server);
    let stopped = log_line(&server, "] stopped: ").expect("the counters are logged at exit");
    for part in [
        "1 accepted, 0 open, 1 closed",
        "0 shed, 0 accept errors, 0 budget waits",
        "1 timeouts (read 0, write 0, idle 1, frame 0, connect 0, handshake 0)",
    ] {
        assert!(stopped.contains(part), "no `{part}` in: {stopped}");
    }
    let (status, _) = exited(&mut server, STEP).expect("exited");
    assert!(status.success());
}
