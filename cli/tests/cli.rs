//! The `netloop` command end to end: `serve`, its clients, the course's Python clients,
//! signals and error messages.

// The library's test helpers, shared rather than copied.
#[path = "../../tests/util/mod.rs"]
mod util;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use util::STEP;

// The `netloop serve` process helper, shared with the other end-to-end tests.
mod serving;
use serving::{serve, BIN};

fn netloop(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run netloop")
}

fn python(script: &str, port: u16) -> Option<Output> {
    let path = format!("{}/../tests/python/{script}", env!("CARGO_MANIFEST_DIR"));
    match Command::new("python3")
        .arg(path)
        .arg(port.to_string())
        .output()
    {
        Ok(out) => Some(out),
        Err(e) => {
            eprintln!("skipped: python3 not runnable: {e}");
            None
        }
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn course_python_clients_get_their_answers() {
    let server = serve(&[]);
    if let Some(out) = python("udp_client.py", server.udp[0].port()) {
        assert!(out.status.success(), "{}", text(&out.stderr));
        let stdout = text(&out.stdout);
        assert!(
            stdout.contains("received b'MIXEDCASESTRING' from ('127.0.0.1',"),
            "{stdout}"
        );
    }
    if let Some(out) = python("tcp_client.py", server.tcp[0].port()) {
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout).trim(), "Received b'Hello, world'");
    }
}

#[test]
fn netloop_clients_talk_to_netloop_serve() {
    let server = serve(&[]);
    let udp = server.udp[0].to_string();
    let out = netloop(&["udp-client", "MixedCaseString", "--server", &udp]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("using 127.0.0.1:"), "{stdout}");
    assert!(
        stdout.contains(&format!("received MIXEDCASESTRING from {udp}")),
        "{stdout}"
    );

    let tcp = server.tcp[0].to_string();
    let out = netloop(&["tcp-client", "Hello, world", "--server", &tcp]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(&format!("received Hello, world from {tcp}")),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn repeated_flags_serve_on_every_address_including_ipv6() {
    let v6 = util::ipv6_available();
    let mut args = vec!["--tcp", "127.0.0.1:0", "--udp", "127.0.0.1:0"];
    if v6 {
        args.extend(["--tcp", "[::1]:0", "--udp", "[::1]:0"]);
    }
    let server = serve(&args);
    for addr in &server.tcp {
        let out = netloop(&["tcp-client", "both stacks", "--server", &addr.to_string()]);
        assert!(out.status.success(), "{addr}: {}", text(&out.stderr));
    }
    for addr in &server.udp {
        let out = netloop(&["udp-client", "both stacks", "--server", &addr.to_string()]);
        assert!(text(&out.stdout).contains("BOTH STACKS"), "{addr}");
    }
}

#[test]
fn sigint_and_sigterm_stop_the_server_cleanly() {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    for sig in [Signal::SIGINT, Signal::SIGTERM] {
        let mut server = serve(&[]);
        kill(Pid::from_raw(server.child.id() as i32), sig).unwrap();
        let mut stopped = false;
        while let Ok(line) = server.stderr.recv_timeout(STEP) {
            if line.contains("stopped:") {
                stopped = true;
                break;
            }
        }
        assert!(stopped, "{sig}: no shutdown report");
        let status = server.child.wait().unwrap();
        assert!(status.success(), "{sig}: exit status {status}");
    }
}

#[test]
fn timeout_flag_closes_silent_connections() {
    let server = serve(&["--timeout", "0.2"]);
    let mut c = util::connect(server.tcp[0]);
    let mut buf = [0; 1];
    assert_eq!(
        c.read(&mut buf).unwrap(),
        0,
        "server closed the idle connection"
    );
}

#[test]
fn errors_name_the_problem_and_exit_non_zero() {
    let out = netloop(&["serve", "--tcp", "localhost"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("'localhost' has no port"),
        "{}",
        text(&out.stderr)
    );

    let out = netloop(&["serve", "--timeout", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("more than 0 seconds"),
        "{}",
        text(&out.stderr)
    );

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = netloop(&[
        "serve",
        "--udp",
        "127.0.0.1:0",
        "--framed",
        "127.0.0.1:0",
        "--tcp",
        &addr,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("cannot listen on {addr}")) && err.contains("another program"),
        "{err}"
    );

    // Service names resolve through the services database (echo is port 7 there).
    if netloop::names::getservbyname("echo", Some("tcp")).ok() == Some(7) {
        let out = netloop(&[
            "tcp-client",
            "x",
            "--server",
            "127.0.0.1:echo",
            "--timeout",
            "1",
        ]);
        // Refused (nothing on port 7) or answered (an echo server there): either way the
        // name was resolved to port 7.
        let all = text(&out.stdout) + &text(&out.stderr);
        assert!(all.contains("127.0.0.1:7"), "{all}");
    }
    // A port that is neither a number nor a known service is a usage error: exit 2.
    let out = netloop(&["tcp-client", "x", "--server", "127.0.0.1:no-such-service"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("not a port number or a known service name"));

    // Nobody listens on a port we just freed.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let out = netloop(&["tcp-client", "x", "--server", &free]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cannot connect"),
        "{}",
        text(&out.stderr)
    );
    let out = netloop(&["udp-client", "x", "--server", &free, "--timeout", "0.5"]);
    assert_eq!(out.status.code(), Some(1));
    let _ = Duration::ZERO;
}

#[test]
fn framed_client_sends_each_message_as_a_frame() {
    let server = serve(&["--max-frame", "64"]);
    let addr = server.framed[0].to_string();
    let out = netloop(&[
        "framed-client",
        "Hi!",
        "Hope you're well",
        "",
        "--server",
        &addr,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    // Each line ends with the round trip (" in 0.123 ms").
    let lines: Vec<&str> = stdout
        .lines()
        .map(|l| {
            l.rsplit_once(" in ").map_or(l, |(head, rtt)| {
                assert!(rtt.ends_with(" ms"), "{l}");
                head
            })
        })
        .collect();
    assert!(lines[0].starts_with("using 127.0.0.1:"), "{stdout}");
    assert_eq!(
        &lines[1..],
        [
            format!("received Hi! from {addr}"),
            format!("received Hope you're well from {addr}"),
            format!("received  from {addr}"),
        ]
    );
    // A frame over the server's maximum: the server closes, the client says so and fails.
    let long = "x".repeat(100);
    let out = netloop(&["framed-client", &long, "--server", &addr]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("closed the connection"),
        "{}",
        text(&out.stderr)
    );
    // The server logged the reason once.
    let mut reason = None;
    while let Ok(line) = server.stderr.recv_timeout(STEP) {
        if line.contains("protocol error") {
            reason = Some(line);
            break;
        }
    }
    let reason = reason.expect("the close reason was logged");
    assert!(
        reason.contains("frame of 104 bytes exceeds the maximum of 64 bytes"),
        "{reason}"
    );
    assert!(
        reason.contains(" with 127.0.0.1:"),
        "the peer is named: {reason}"
    );
}

/// Start a course server ported to Python, serving `count` requests, and return its port.
fn python_server(script: &str, count: u32) -> Option<(Child, u16)> {
    let path = format!("{}/../tests/python/{script}", env!("CARGO_MANIFEST_DIR"));
    let mut child = match Command::new("python3")
        .arg(path)
        .arg("0")
        .arg(count.to_string())
        .stdout(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("skipped: python3 not runnable: {e}");
            return None;
        }
    };
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let port = line.trim().rsplit(' ').next().unwrap().parse().unwrap();
    // Keep reading its output, so that its later prints do not hit a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    Some((child, port))
}

#[test]
fn netloop_clients_talk_to_the_course_python_servers() {
    if let Some((mut server, port)) = python_server("udp_server.py", 1) {
        let addr = format!("127.0.0.1:{port}");
        let out = netloop(&["udp-client", "MixedCaseString", "--server", &addr]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains(&format!("received MIXEDCASESTRING from {addr}")));
        assert!(server.wait().unwrap().success());
    }
    if let Some((mut server, port)) = python_server("tcp_server.py", 1) {
        let addr = format!("127.0.0.1:{port}");
        let out = netloop(&["tcp-client", "Hello, world", "--server", &addr]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains(&format!("received Hello, world from {addr}")));
        assert!(server.wait().unwrap().success());
    }
}

#[test]
fn threads_and_stats_flags() {
    let server = serve(&[
        "--threads",
        "2",
        "--pin",
        "--stats",
        "0.1",
        "--max-conns",
        "100",
    ]);
    // 40 connections, one after another: whichever reactor the kernel wakes for each, the
    // one with the fewer connections serves it (see DESIGN.md, "The server layer").
    let clients: Vec<_> = (0..40).map(|_| util::connect(server.tcp[0])).collect();
    let mut saw_threads = false;
    let mut pinned = 0;
    let mut spread = None;
    while let Ok(line) = server.stderr.recv_timeout(STEP) {
        saw_threads |= line.contains("2 reactor thread(s)");
        pinned += usize::from(line.contains("pinned to CPU"));
        if let Some(list) = line.split("accepted per reactor: ").nth(1) {
            let counts: Vec<u64> = list
                .split(", ")
                .map(|n| n.trim().parse().unwrap())
                .collect();
            if counts.iter().sum::<u64>() == 40 {
                spread = Some(counts);
                break;
            }
        }
    }
    assert!(saw_threads);
    assert_eq!(pinned, 2, "each reactor says where it is pinned");
    let spread = spread.expect("stats line with all 40 connections");
    assert_eq!(spread.len(), 2, "one count per reactor: {spread:?}");
    assert!(
        spread.iter().all(|&n| n.abs_diff(20) <= 1),
        "20 each (±1): {spread:?}"
    );
    drop(clients);
    let out = netloop(&["serve", "--threads", "0"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn unix_socket_service_and_client_and_cleanup_at_exit() {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let dir = util::TempDir::new("cli-unix");
    let path = dir.path("serve.sock");
    let p = path.to_str().unwrap();
    let mut server = serve(&["--unix", p]);
    // Wait for the Unix service's line (it follows the addresses).
    let mut ready = false;
    while let Ok(line) = server.stderr.recv_timeout(STEP) {
        if line.contains("Unix framed echo service on") {
            ready = true;
            break;
        }
    }
    assert!(ready);
    let out = netloop(&["unix-client", "over", "unix", "--server", p]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&format!("received unix from {p}")));
    kill(Pid::from_raw(server.child.id() as i32), Signal::SIGTERM).unwrap();
    assert!(server.child.wait().unwrap().success());
    assert!(!path.exists(), "socket file removed at shutdown");
    let out = netloop(&["unix-client", "x", "--server", p]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot connect"));
}

#[test]
fn frame_timeout_closes_a_trickled_frame_while_another_connection_is_served() {
    use std::io::Write;
    use std::time::Instant;
    let server = serve(&["--frame-timeout", "2", "--timeout", "3"]);
    let addr = server.framed[0];
    let mut slow = util::connect(addr);
    let mut busy = util::connect(addr);
    slow.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    // A 10-byte frame: its header now, then one byte every 0.5 s.
    let first_byte = Instant::now();
    slow.write_all(&[0, 0, 0, 10]).unwrap();
    let mut closed_after = None;
    for i in 0..10u8 {
        // The other connection is served meanwhile.
        let frame = [0, 0, 0, 1, i];
        busy.write_all(&frame).unwrap();
        assert_eq!(util::read_n(&mut busy, 5), frame);
        let mut b = [0; 1];
        match slow.read(&mut b) {
            Ok(0) => {
                closed_after = Some(first_byte.elapsed());
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                closed_after = Some(first_byte.elapsed());
                break;
            }
            Ok(n) => panic!("{n} bytes echoed from an incomplete frame"),
            Err(_) => {} // the read timed out: still open
        }
        let _ = slow.write_all(&[i]);
    }
    let after = closed_after.expect("the trickled frame's connection was closed");
    assert!(
        after >= Duration::from_secs(2) && after < Duration::from_secs(3),
        "closed {after:?} after the first byte"
    );
}

#[test]
fn a_second_server_on_the_same_addresses_fails_with_address_in_use() {
    for (first, second) in [("1", "1"), ("2", "2"), ("1", "2"), ("2", "1")] {
        let server = serve(&["--threads", first]);
        for (flag, addr) in [
            ("--tcp", server.tcp[0]),
            ("--framed", server.framed[0]),
            ("--udp", server.udp[0]),
        ] {
            let addr = addr.to_string();
            // Only the address in question is shared; the others go on free ports.
            let mut args = vec!["serve", "--threads", second, flag, &addr];
            for other in ["--tcp", "--framed", "--udp"] {
                if other != flag {
                    args.extend([other, "127.0.0.1:0"]);
                }
            }
            // Bounded: a second server that does start is killed, and the test fails.
            let mut child = Command::new(BIN)
                .args(&args)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn netloop serve");
            let start = std::time::Instant::now();
            let status = loop {
                if let Some(status) = child.try_wait().unwrap() {
                    break Some(status);
                }
                if start.elapsed() > Duration::from_secs(3) {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            let mut err = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut err);
            let status = status.unwrap_or_else(|| {
                panic!("--threads {second} {flag} {addr} started beside --threads {first}")
            });
            assert!(!status.success(), "{err}");
            assert!(err.contains("in use"), "{err}");
        }
    }
}

#[test]
fn max_conns_is_one_exact_limit_across_threads() {
    use std::io::Write;
    let server = serve(&["--threads", "2", "--max-conns", "10"]);
    let addr = server.tcp[0];
    for round in 0..3 {
        let mut served: Vec<_> = (0..10).map(|_| util::connect(addr)).collect();
        for (i, c) in served.iter_mut().enumerate() {
            let msg = [round, i as u8];
            assert_eq!(util::echo_round_trip(c, &msg), msg, "connection {i} of 10");
        }
        // The eleventh is accepted and closed at once.
        let mut extra = util::connect(addr);
        let _ = extra.write_all(b"x");
        let mut b = [0; 1];
        match extra.read(&mut b) {
            Ok(0) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            other => panic!("round {round}: the eleventh connection was served: {other:?}"),
        }
        drop(served);
        drop(extra);
        // Give the server a moment to see the ten closes before the next round.
        let mut again = None;
        for _ in 0..200 {
            let mut c = util::connect(addr);
            let _ = c.write_all(b"?");
            let mut b = [0; 1];
            if matches!(c.read(&mut b), Ok(1)) {
                again = Some(c);
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            again.is_some(),
            "round {round}: places came back after the closes"
        );
        // Close it and wait until the server has seen every close.
        drop(again);
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_second_signal_during_the_grace_period_ends_it_at_once() {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    use std::io::Write;
    use std::time::Instant;
    let mut server = serve(&["--grace", "60"]);
    // A client that sends a lot and reads nothing: its echo cannot be flushed, so the
    // graceful shutdown would wait the whole minute for it.
    let mut c = util::connect(server.tcp[0]);
    c.set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let chunk = vec![7u8; 64 * 1024];
    for _ in 0..200 {
        if c.write_all(&chunk).is_err() {
            break; // both directions' buffers are full
        }
    }
    let pid = Pid::from_raw(server.child.id() as i32);
    kill(pid, Signal::SIGINT).unwrap();
    let mut draining = false;
    while let Ok(line) = server.stderr.recv_timeout(STEP) {
        if line.contains("shutting down") {
            draining = true;
            break;
        }
    }
    assert!(draining, "the first signal started a graceful shutdown");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "still waiting for the connection within the grace"
    );
    let second = Instant::now();
    kill(pid, Signal::SIGINT).unwrap();
    let mut status = None;
    while second.elapsed() < STEP {
        if let Some(s) = server.child.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = status.expect("the server exited after the second signal");
    assert!(
        second.elapsed() < Duration::from_secs(2),
        "{:?}",
        second.elapsed()
    );
    assert!(status.success(), "{status}");
    // The last lines tell the truth: the connection was cut off, and none is left open.
    let rest: Vec<String> = server.stderr.try_iter().collect();
    let counts = rest.iter().find(|l| l.contains("finished,"));
    assert!(
        counts.is_some_and(|l| l.contains("0 connection(s) finished, 1 cut off")),
        "{rest:?}"
    );
    let stopped = rest.iter().find(|l| l.contains("] stopped: "));
    assert!(
        stopped.is_some_and(|l| l.contains("1 accepted, 0 open, 1 closed")),
        "{rest:?}"
    );
    drop(c);
}

/// The resident memory of process `pid`, in bytes.
fn rss_of(pid: u32) -> usize {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[test]
fn forty_frames_paused_at_six_of_eight_mib_stay_within_the_input_budget() {
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    const MIB: usize = 1 << 20;
    const CONNS: usize = 40;
    let server = serve(&[]);
    let addr = server.framed[0];
    // One 8 MiB frame (the default maximum, header included), shared by every client.
    let len = 8 * MIB - 4;
    let payload: Arc<Vec<u8>> = Arc::new((0..len).map(|i| (i % 253) as u8).collect());
    let go = Arc::new(AtomicBool::new(false));
    let paused = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..CONNS)
        .map(|_| {
            let (payload, go, paused) = (payload.clone(), go.clone(), paused.clone());
            std::thread::spawn(move || -> Result<(), String> {
                let mut c = std::net::TcpStream::connect(addr).map_err(|e| e.to_string())?;
                c.set_read_timeout(Some(STEP * 3)).unwrap();
                c.set_write_timeout(Some(STEP * 3)).unwrap();
                c.write_all(&(len as u32).to_be_bytes())
                    .map_err(|e| e.to_string())?;
                // 6 MiB, then pause (a connection the budget holds back blocks here instead).
                c.write_all(&payload[..6 * MIB])
                    .map_err(|e| format!("first part: {e}"))?;
                paused.fetch_add(1, Ordering::SeqCst);
                while !go.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(10));
                }
                c.write_all(&payload[6 * MIB..])
                    .map_err(|e| format!("rest: {e}"))?;
                // The echo: the same header, then the same bytes.
                let mut header = [0; 4];
                c.read_exact(&mut header)
                    .map_err(|e| format!("echo header: {e}"))?;
                if u32::from_be_bytes(header) as usize != len {
                    return Err("echo header differs".into());
                }
                let mut got = vec![0; 64 * 1024];
                let mut at = 0;
                while at < len {
                    let n = c.read(&mut got).map_err(|e| format!("echo: {e}"))?;
                    if n == 0 {
                        return Err(format!("closed after {at} of {len} echoed bytes"));
                    }
                    if got[..n] != payload[at..at + n] {
                        return Err(format!("echo differs at byte {at}"));
                    }
                    at += n;
                }
                Ok(())
            })
        })
        .collect();
    // Let every sender get as far as it can: those the budget admitted to 6 MiB, the others
    // until the kernel's buffers are full.
    let start = std::time::Instant::now();
    while paused.load(Ordering::SeqCst) < 8 && start.elapsed() < STEP {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(2));
    let rss = rss_of(server.child.id());
    let budget = 64 * MIB;
    go.store(true, Ordering::SeqCst);
    let results: Vec<_> = clients.into_iter().map(|t| t.join().unwrap()).collect();
    // Not under AddressSanitizer, whose shadow memory and quarantine inflate every RSS.
    let sanitized = std::env::var_os("ASAN_OPTIONS").is_some();
    assert!(
        sanitized || rss < budget + 32 * MIB,
        "server RSS {} MiB with {CONNS} frames paused (budget {} MiB)",
        rss / MIB,
        budget / MIB
    );
    for (i, r) in results.iter().enumerate() {
        assert!(r.is_ok(), "client {i}: {r:?}");
    }
    println!(
        "server RSS with {CONNS} paused 8 MiB frames: {} MiB; all echoed intact",
        rss / MIB
    );
}

#[test]
fn netloop_ping_prints_replies_and_the_summary() {
    if !util::privilege::is_root() {
        eprintln!("skipped: SOCK_RAW needs CAP_NET_RAW (run as root)");
        return;
    }
    let out = std::process::Command::new(BIN)
        .args([
            "ping",
            "127.0.0.1",
            "-c",
            "3",
            "-i",
            "0.05",
            "--mode",
            "raw",
        ])
        .output()
        .expect("run netloop ping");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "PING 127.0.0.1 (127.0.0.1) 56 data bytes");
    for (i, line) in lines[1..4].iter().enumerate() {
        let prefix = format!("64 bytes from 127.0.0.1: icmp_seq={} ttl=", i + 1);
        assert!(line.starts_with(&prefix) && line.ends_with(" ms"), "{line}");
    }
    assert_eq!(lines[5], "--- 127.0.0.1 ping statistics ---");
    assert!(
        lines[6].starts_with("3 packets transmitted, 3 received, 0% packet loss, time "),
        "{}",
        lines[6]
    );
    assert!(
        lines[7].starts_with("rtt min/avg/max/mdev = "),
        "{}",
        lines[7]
    );
    // Four numbers, min <= avg <= max.
    let nums: Vec<f64> = lines[7]
        .trim_start_matches("rtt min/avg/max/mdev = ")
        .trim_end_matches(" ms")
        .split('/')
        .map(|n| n.parse().unwrap())
        .collect();
    assert!(
        nums.len() == 4 && nums[0] <= nums[1] && nums[1] <= nums[2],
        "{nums:?}"
    );
}
