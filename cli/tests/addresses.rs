//! One address grammar and one set of usage errors for every `netloop` command: host names in
//! `serve` flags, `::1:PORT` refused the same way everywhere, a service served alone, usage
//! errors exiting 2, and `framed-client` giving back exactly its input.

#[path = "../../tests/util/mod.rs"]
mod util;

mod serving;

use std::io::Write;
use std::process::{Child, Command, Stdio};

use serving::{log_lines, serve, start_up_log, BIN};

fn run(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(BIN).args(args).output().expect("run netloop");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `netloop serve ARGS`, exactly as given, and its log up to the line that follows the
/// services (or its exit).
struct Started {
    child: Child,
    log: Vec<String>,
}

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(args: &[&str]) -> Started {
    let mut child = Command::new(BIN)
        .arg("serve")
        .args(args)
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn");
    let log = start_up_log(&log_lines(&mut child));
    Started { child, log }
}

fn services(log: &[String]) -> Vec<String> {
    log.iter()
        .filter_map(|l| l.split("] ").nth(1))
        .filter(|l| l.contains(" service on "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn serve_takes_host_names_and_binds_what_they_resolve_to() {
    let s = start(&["--tcp", "localhost:0"]);
    let tcp = services(&s.log);
    assert!(!tcp.is_empty(), "{:?}", s.log);
    assert!(
        tcp.iter().all(|l| l.starts_with("TCP echo service on ")),
        "{tcp:?}"
    );
    let v4 = tcp
        .iter()
        .find_map(|l| l.strip_prefix("TCP echo service on 127.0.0.1:"))
        .expect("localhost's IPv4 address is served");
    let port: u16 = v4.split(' ').next().unwrap().parse().unwrap();
    let mut c = util::connect(([127, 0, 0, 1], port).into());
    assert_eq!(util::echo_round_trip(&mut c, b"by name"), b"by name");
}

#[test]
fn an_ipv6_address_without_brackets_is_refused_the_same_way_everywhere() {
    let hint = "'::1:39999' is ambiguous: write an IPv6 address in brackets, as [::1]:39999";
    for args in [
        &["serve", "--tcp", "::1:39999"][..],
        &["serve", "--udp", "::1:39999"],
        &["tcp-client", "hi", "--server", "::1:39999"],
        &["udp-client", "hi", "--server", "::1:39999"],
        &["framed-client", "hi", "--server", "::1:39999"],
        &["load", "--addr", "::1:39999"],
    ] {
        let (code, err) = run(args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains(hint), "{args:?}: {err}");
    }
    // A bare address, and a bare name, are told the port is missing, the same way.
    let (code, err) = run(&["tcp-client", "hi", "--server", "::1"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("'::1' has no port (write [::1]:PORT)"),
        "{err}"
    );
    let (code, err) = run(&["serve", "--tcp", "localhost"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("'localhost' has no port"), "{err}");
}

#[test]
fn naming_one_service_serves_only_that_one() {
    // A server with every service, as a default `serve` would have them (on free ports).
    let all = serve(&[]);
    assert!(!all.udp.is_empty() && !all.tcp.is_empty() && !all.framed.is_empty());
    // Beside it, one service alone: the others are not bound (so their addresses, taken by
    // the first server, cannot make it fail).
    let dir = util::TempDir::new("alone");
    let path = dir.0.join("alone.sock");
    let path = path.to_str().unwrap();
    let alone = start(&["--unix", path]);
    let named = services(&alone.log);
    assert_eq!(named.len(), 1, "{:?}", alone.log);
    assert!(
        named[0].starts_with("Unix framed echo service on"),
        "{named:?}"
    );
    let (code, err) = run(&["unix-client", "hi", "--server", path]);
    assert_eq!(code, Some(0), "{err}");
    // A second server on the same path is told about the path, not a port.
    let (code, err) = run(&["serve", "--unix", path]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("serving on that path"), "{err}");
}

#[test]
fn usage_errors_exit_2_and_say_what_is_wrong() {
    for (args, says) in [
        (&["serve", "--unix", ""][..], "a Unix socket needs a path"),
        (
            &["ping", "127.0.0.1", "-i", "0"],
            "the interval must be at least",
        ),
        (&["serve", "--threads", "0"], "is not a number of threads"),
        (
            &["tcp-client", "hi", "--server", "localhost:nosuchservice"],
            "not a port number",
        ),
    ] {
        let (code, err) = run(args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn framed_client_gives_back_exactly_its_input() {
    let server = serve(&[]);
    let addr = server.framed[0].to_string();
    let big: Vec<u8> = util::pattern(3, 1_000_000)
        .into_iter()
        .map(|b| if b == b'\n' { b'.' } else { b })
        .collect();
    for input in [
        big,
        b"one\ntwo\nthree".to_vec(),
        b"one\ntwo\n".to_vec(),
        b"\n\nafter two empty lines\n".to_vec(),
    ] {
        let mut child = Command::new(BIN)
            .args(["framed-client", "--server", &addr])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let sent = input.clone();
        let writer = std::thread::spawn(move || stdin.write_all(&sent));
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stdout == input,
            "{} bytes in, {} back",
            input.len(),
            out.stdout.len()
        );
    }
}
