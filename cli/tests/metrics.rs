//! `netloop serve --metrics`: every line of `/metrics` is the Prometheus text exposition
//! format, and a counter moves after traffic; a public address needs `--metrics-public`; and
//! `--stats-format json` writes one JSON object per interval.

#[path = "../../tests/util/mod.rs"]
mod util;

mod serving;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::Instant;

use serving::{serve, Server, BIN};
use util::STEP;

/// The address the metrics endpoint logged.
fn metrics_addr(server: &Server) -> SocketAddr {
    let start = Instant::now();
    while start.elapsed() < STEP {
        let line = server.stderr.recv_timeout(STEP).expect("serve's log");
        if let Some(rest) = line.split("metrics on http://").nth(1) {
            return rest
                .trim_end_matches("/metrics")
                .parse()
                .expect("an address");
        }
    }
    panic!("no metrics address logged");
}

/// GET `path` from `addr`: the status line and the body.
fn get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut c = TcpStream::connect_timeout(&addr, STEP).unwrap();
    c.set_read_timeout(Some(STEP)).unwrap();
    write!(c, "GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").unwrap();
    let mut all = String::new();
    c.read_to_string(&mut all).unwrap();
    let (head, body) = all.split_once("\r\n\r\n").expect("headers, then a body");
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}

/// Parse the text exposition format strictly: every line is `# HELP name text`,
/// `# TYPE name counter|gauge`, or a sample `name value` of a metric whose TYPE came first.
/// Returns the samples.
fn parse_exposition(body: &str) -> Vec<(String, f64)> {
    let valid_name = |n: &str| {
        let mut chars = n.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    let mut typed = std::collections::HashSet::new();
    let mut samples = Vec::new();
    assert!(body.ends_with('\n'), "the body ends with a newline");
    for line in body.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("HELP name text");
            assert!(valid_name(name) && !help.is_empty(), "{line}");
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(valid_name(name), "{line}");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            assert!(typed.insert(name.to_owned()), "TYPE twice: {line}");
        } else {
            let (name, value) = line.split_once(' ').expect("a sample: name value");
            // A histogram's samples: `_bucket{le="..."}`, `_sum` and `_count` of its name.
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| {
                    let base = name.split('{').next()?.strip_suffix(suffix)?;
                    typed.contains(base).then_some(base)
                })
                .unwrap_or(name);
            if let Some(label) = name
                .strip_prefix(family)
                .and_then(|r| r.strip_prefix("_bucket"))
            {
                let le = label
                    .strip_prefix("{le=\"")
                    .and_then(|l| l.strip_suffix("\"}"))
                    .unwrap_or_else(|| panic!("a bucket's label: {line}"));
                assert!(le == "+Inf" || le.parse::<f64>().is_ok(), "{line}");
            }
            assert!(valid_name(family) && typed.contains(family), "{line}");
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
            samples.push((name.to_owned(), value));
        }
    }
    samples
}

fn sample(samples: &[(String, f64)], name: &str) -> f64 {
    samples
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no {name}"))
        .1
}

#[test]
fn the_metrics_endpoint_speaks_the_exposition_format_and_its_counters_move() {
    let server = serve(&["--metrics", "127.0.0.1:0"]);
    let addr = metrics_addr(&server);
    let (status, body) = get(addr, "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK");
    let before = parse_exposition(&body);
    assert!(before.len() >= 30, "{body}");
    let mut c = util::connect(server.tcp[0]);
    assert_eq!(util::echo_round_trip(&mut c, b"counted"), b"counted");
    // Each reactor publishes its counters at the end of a turn, and the echo reaches the
    // client before that turn ends: scrape until the turn's counters are there.
    let start = Instant::now();
    let after = loop {
        let (_, body) = get(addr, "/metrics");
        let after = parse_exposition(&body);
        if sample(&after, "netloop_bytes_in_total") > sample(&before, "netloop_bytes_in_total")
            || start.elapsed() > STEP
        {
            break after;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    let moved = |name: &str| sample(&after, name) - sample(&before, name);
    assert_eq!(moved("netloop_accepted_total"), 1.0);
    assert_eq!(moved("netloop_bytes_in_total"), 7.0);
    assert_eq!(sample(&after, "netloop_connections_open"), 1.0);
    // The turns' histogram: cumulative buckets, the last (+Inf) holding every turn.
    let buckets: Vec<f64> = after
        .iter()
        .filter(|(n, _)| n.starts_with("netloop_turn_seconds_bucket"))
        .map(|(_, v)| *v)
        .collect();
    assert_eq!(buckets.len(), 22);
    assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
    let count = sample(&after, "netloop_turn_seconds_count");
    assert!(count > 0.0);
    assert_eq!(buckets.last(), Some(&count));
    assert!(after
        .iter()
        .any(|(n, _)| n == "netloop_turn_seconds_bucket{le=\"+Inf\"}"));
    drop(c);
    let (status, _) = get(addr, "/other");
    assert_eq!(status, "HTTP/1.1 404 Not Found");
}

#[test]
fn a_public_metrics_address_needs_to_be_allowed() {
    let out = Command::new(BIN)
        .args(["serve", "--tcp", "127.0.0.1:0", "--metrics", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--metrics-public"), "{err}");
}

#[test]
fn stats_format_json_writes_one_object_per_interval() {
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--tcp",
            "127.0.0.1:0",
            "--stats",
            "0.1",
            "--stats-format",
            "json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for _ in 0..2 {
        let line = lines.next().expect("an interval's object").unwrap();
        assert!(
            line.starts_with("{\"unix_time\":") && line.ends_with('}'),
            "{line}"
        );
        for field in [
            "\"accepted_total\":0",
            "\"connections_open\":0",
            "\"timeouts_idle_total\":0",
        ] {
            assert!(line.contains(field), "no {field} in {line}");
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}
