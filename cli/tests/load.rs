//! `netloop load` against netloop's own services, and against a server that corrupts one
//! byte: every echoed byte is checked, so that one must fail the run.

// The library's test helpers, shared rather than copied.
#[path = "../../tests/util/mod.rs"]
mod util;

use std::net::SocketAddr;
use std::process::{Command, Output};

use netloop::framing::Codec;
use netloop::reactor::framed::{send_frame, FrameHandler, Framed};
use netloop::reactor::{ConnId, Context, Handler, Reactor};
use netloop_cli::services::{course_reactors, CourseConfig};
use util::Running;

const BIN: &str = env!("CARGO_BIN_EXE_netloop");

fn load(args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("load")
        .args(args)
        .output()
        .expect("run netloop load")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn load_runs_every_protocol_against_the_course_services() {
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut cfg = CourseConfig::default();
    cfg.udp = vec![any];
    cfg.tcp = vec![any];
    cfg.framed = vec![any];
    let (mut reactors, bound) = course_reactors(&cfg).unwrap();
    let addrs: Vec<String> = bound.iter().map(|b| b.addr.clone()).collect();
    let _server = Running::start(reactors.remove(0));
    let short = [
        "--duration",
        "0.3",
        "--warmup",
        "0.1",
        "--conns",
        "4",
        "--pipeline",
        "4",
    ];
    for (proto, addr) in [
        ("udp", &addrs[0]),
        ("stream", &addrs[1]),
        ("framed", &addrs[2]),
    ] {
        let out = load(&[&["--proto", proto, "--addr", addr.as_str()][..], &short[..]].concat());
        let report = text(&out.stdout);
        assert!(
            out.status.success(),
            "{proto}: {}{report}",
            text(&out.stderr)
        );
        let requests: u64 = report
            .lines()
            .find_map(|l| l.trim().strip_prefix("requests"))
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no request count in {report}"));
        assert!(requests > 0, "{proto}: {report}");
    }
    // JSON, the open loop, several source addresses, and the server's CPU (ourselves here).
    let pid = std::process::id().to_string();
    let out = load(&[
        "--addr",
        &addrs[2],
        "--json",
        "--rate",
        "2000",
        "--sources",
        "3",
        "--server-pid",
        &pid,
        "--duration",
        "0.3",
        "--warmup",
        "0",
        "--conns",
        "6",
    ]);
    let json = text(&out.stdout);
    assert!(out.status.success(), "{}{json}", text(&out.stderr));
    for key in [
        "\"requests\":",
        "\"latency_us\":",
        "\"p99\":",
        "\"server_cpu_s\":",
        "\"waited_ms\":",
    ] {
        assert!(json.contains(key), "{key} missing: {json}");
    }
    // Each connection's mean latency: the lowest no higher than the highest, both above 0
    // and within the run's own minimum and maximum.
    let number = |key: &str| -> f64 {
        let at = json
            .find(key)
            .unwrap_or_else(|| panic!("{key} missing: {json}"))
            + key.len();
        let end = json[at..].find([',', '}']).unwrap() + at;
        json[at..end].parse().unwrap()
    };
    let (lowest, highest) = (number("\"lowest\":"), number("\"highest\":"));
    assert!(0.0 < lowest && lowest <= highest, "{json}");
    assert!(highest <= number("\"max\":"), "{json}");
    assert_eq!(
        number("\"unanswered\":"),
        0.0,
        "every connection was answered: {json}"
    );
}

/// A framed echo server that flips one bit of one byte of the 50th frame it echoes.
struct Corrupting {
    codec: Codec,
    frames: u64,
}

impl Handler for Corrupting {}

impl FrameHandler for Corrupting {
    fn on_frame(&mut self, cx: &mut Context<'_>, conn: ConnId, frame: &[u8]) {
        self.frames += 1;
        let mut reply = frame.to_vec();
        if self.frames == 50 {
            let last = reply.len() - 1;
            reply[last] ^= 0x10;
        }
        let _ = send_frame(cx, conn, &self.codec, &reply);
    }
}

#[test]
fn one_corrupted_byte_fails_the_run() {
    let codec = Codec::default();
    let handler = Framed::new(codec, Corrupting { codec, frames: 0 }).unwrap();
    let mut reactor = Reactor::new(handler).unwrap();
    let id = reactor.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = reactor.listener_addr(id).unwrap().to_string();
    let _server = Running::start(reactor);
    let out = load(&[
        "--addr",
        &addr,
        "--duration",
        "5",
        "--warmup",
        "0",
        "--conns",
        "2",
        "--pipeline",
        "2",
    ]);
    assert!(!out.status.success(), "a corrupted echo must fail the run");
    let err = text(&out.stderr);
    assert!(
        err.contains("mismatch") && err.contains("payload byte"),
        "{err}"
    );
}
