//! The command-line clients as one would use them instead of `nc`: host names, binary data
//! of any size on standard input, frames per line or whole, and the families.

// The library's test helpers, shared rather than copied.
#[path = "../../tests/util/mod.rs"]
mod util;

use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Output, Stdio};

use netloop_cli::services::{course_reactors, CourseConfig};
use util::{ipv6_available, pattern, Running};

const BIN: &str = env!("CARGO_BIN_EXE_netloop");

/// The course's three services on free loopback ports: (udp, tcp, framed).
fn serve(
    ip: &str,
) -> (
    Running<netloop_cli::services::CourseServer>,
    [SocketAddr; 3],
) {
    let any: SocketAddr = format!("{ip}:0").parse().unwrap();
    let mut cfg = CourseConfig::default();
    cfg.udp = vec![any];
    cfg.tcp = vec![any];
    cfg.framed = vec![any];
    let (mut reactors, bound) = course_reactors(&cfg).unwrap();
    let addrs = [0, 1, 2].map(|i| bound[i].addr.parse().unwrap());
    (Running::start(reactors.remove(0)), addrs)
}

fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

#[test]
fn tcp_client_echoes_a_binary_megabyte_from_stdin_byte_for_byte() {
    let (_server, [_, tcp, _]) = serve("127.0.0.1");
    let data = pattern(7, 1 << 20);
    assert!(
        data.contains(&0) && data.contains(&b'\n'),
        "binary, with NULs and newlines"
    );
    let server = format!("localhost:{}", tcp.port());
    let out = run(&["tcp-client", "--server", &server], &data);
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{report}");
    assert!(
        out.stdout == data,
        "{} bytes back, {} sent",
        out.stdout.len(),
        data.len()
    );
    assert!(
        report.contains(&format!("received {} bytes from {tcp} in ", data.len())),
        "{report}"
    );
}

#[test]
fn framed_client_frames_lines_or_the_whole_input() {
    let (_server, [_, _, framed]) = serve("127.0.0.1");
    let server = framed.to_string();
    let out = run(
        &["framed-client", "--server", &server],
        b"first\nsecond\n\nlast",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Exactly the input: no newline is added after a last line that had none.
    assert_eq!(out.stdout, b"first\nsecond\n\nlast");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr)
            .matches("received ")
            .count(),
        4
    );

    let blob = pattern(3, 300_000);
    let out = run(&["framed-client", "--whole", "--server", &server], &blob);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout == blob);
}

#[test]
fn udp_client_sends_stdin_as_one_datagram_and_names_resolve() {
    let (_server, [udp, _, _]) = serve("127.0.0.1");
    let out = run(
        &[
            "udp-client",
            "--server",
            &format!("localhost:{}", udp.port()),
            "-4",
        ],
        b"binary\0data",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"BINARY\0DATA");
    // A file instead of standard input.
    let dir = util::TempDir::new("clients");
    let path = dir.path("msg");
    std::fs::write(&path, b"from a file").unwrap();
    let out = run(
        &[
            "udp-client",
            "--server",
            &udp.to_string(),
            "--file",
            path.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(out.stdout, b"FROM A FILE");
    // Too big for one datagram: a clear error, not a truncation.
    let out = run(
        &["udp-client", "--server", &udp.to_string()],
        &vec![b'x'; 70_000],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot send 70000 bytes"));
}

#[test]
fn clients_speak_ipv6_and_refuse_the_wrong_family() {
    if !ipv6_available() {
        eprintln!("skipped: no IPv6 here");
        return;
    }
    let (_server, [_, tcp, _]) = serve("[::1]");
    let out = run(
        &[
            "tcp-client",
            "six",
            "--server",
            &format!("[::1]:{}", tcp.port()),
            "-6",
        ],
        b"",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("received six from {tcp} in ")));
    let out = run(
        &[
            "tcp-client",
            "x",
            "--server",
            &format!("[::1]:{}", tcp.port()),
            "-4",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no address of the family asked for"));
}

#[test]
fn resolve_and_services_commands() {
    let out = run(&["resolve", "localhost"], b"");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("gethostbyname_ex localhost") && text.contains("127.0.0.1"),
        "{text}"
    );
    assert!(
        text.contains("getaddrinfo localhost") && text.contains("SOCK_STREAM"),
        "{text}"
    );
    let out = run(&["resolve", "--reverse", "127.0.0.1"], b"");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("gethostbyaddr 127.0.0.1"));
    let out = run(&["resolve", "--reverse", "not-an-address"], b"");
    assert_eq!(out.status.code(), Some(1));
    for (what, want) in [("80", "80/tcp"), ("ftp", "21/tcp"), ("telnet", "23/tcp")] {
        let out = run(&["services", what], b"");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains(want),
            "{what}: {text}"
        );
    }
    let out = run(&["services", "no-such-service"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("service/proto not found"));
}
