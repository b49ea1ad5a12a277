//! L1: the latency tail at a fixed offered rate, where a mean hides everything.
//!
//! The framed echo, 64 connections, open loop: requests go out on a schedule, and each
//! latency counts from its request's scheduled time (a server that stalls is charged for the
//! requests it held up, not just the one it was serving). First the saturated rate is
//! measured in the same run (netloop, closed loop, one frame in flight and one per write on
//! each connection: what this load reaches on this machine before the generator saturates);
//! then each server runs at 25, 50 and 75% of it, in
//! rounds (each round runs every server once, interleaved, a fresh server each time). The
//! table gives the medians over the rounds of p50, p99, p99.9 and the maximum, with the
//! spread of p99 (its lowest and highest round), and netloop's p99 ratio to each server. Runs
//! of one server vary severalfold on this machine, so only the median of several rounds means
//! anything.

use std::fmt::Write as _;
use std::time::Duration;

use netloop_cli::load::{self, LoadConfig, Proto};

use crate::peers::Peer;
use crate::Server;

/// The servers L1 compares.
pub const PEERS: [Peer; 5] = Peer::ALL;
/// The offered rates, as fractions of the saturated rate.
pub const FRACTIONS: [f64; 3] = [0.25, 0.50, 0.75];
const CONNS: usize = 64;

/// One server at one rate: the median over the rounds, and p99's spread.
#[derive(Clone, Copy, Debug)]
pub struct Row {
    pub fraction: f64,
    pub rate: f64,
    pub peer: Peer,
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub p99_low: f64,
    pub p99_high: f64,
    pub rounds: usize,
}

fn load_at(server: &Server, rate: Option<f64>, secs: f64) -> std::io::Result<load::LoadReport> {
    let mut cfg = LoadConfig::new(server.tcp, Proto::Framed);
    cfg.conns = CONNS;
    cfg.pipeline = 1;
    cfg.size = 64;
    cfg.rate = rate;
    cfg.warmup = Duration::from_millis(500);
    cfg.duration = Duration::from_secs_f64(secs);
    cfg.server_pid = Some(server.pid());
    load::run(&cfg, None)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Measure the saturated rate, then every server at each fraction of it, `rounds` times.
pub fn run(secs: f64, rounds: usize) -> std::io::Result<(f64, Vec<Row>)> {
    let saturated = {
        let server = Server::start(Peer::Netloop)?;
        std::thread::sleep(Duration::from_millis(100));
        load_at(&server, None, secs)?.rate()
    };
    let mut rows = Vec::new();
    for fraction in FRACTIONS {
        let rate = (saturated * fraction).round();
        let mut runs: Vec<Vec<[f64; 4]>> = vec![Vec::new(); PEERS.len()];
        for _ in 0..rounds {
            for (i, &peer) in PEERS.iter().enumerate() {
                let server = Server::start(peer)?;
                std::thread::sleep(Duration::from_millis(100));
                match load_at(&server, Some(rate), secs) {
                    Ok(r) => runs[i].push([
                        r.latency_us[0],
                        r.latency_us[2],
                        r.latency_us[3],
                        r.latency_us[4],
                    ]),
                    Err(e) => eprintln!("L1 {} at {rate:.0}/s: {e}", peer.name()),
                }
            }
        }
        for (&peer, runs) in PEERS.iter().zip(&runs) {
            if runs.is_empty() {
                continue;
            }
            let col = |k: usize| runs.iter().map(|r| r[k]).collect::<Vec<f64>>();
            let p99s = col(1);
            rows.push(Row {
                fraction,
                rate,
                peer,
                p50: median(&mut col(0)),
                p99: median(&mut col(1)),
                p999: median(&mut col(2)),
                max: median(&mut col(3)),
                p99_low: p99s.iter().copied().fold(f64::INFINITY, f64::min),
                p99_high: p99s.iter().copied().fold(0.0, f64::max),
                rounds: runs.len(),
            });
        }
    }
    Ok((saturated, rows))
}

/// The table: per rate, each server's medians, p99's spread, and netloop's p99 ratio to it.
pub fn print(saturated: f64, rows: &[Row]) {
    println!(
        "\nL1: framed echo, {CONNS} connections, open loop (latency from each request's scheduled time); saturated rate {saturated:.0} requests/s; medians over the rounds (µs)"
    );
    for fraction in FRACTIONS {
        let at: Vec<&Row> = rows.iter().filter(|r| r.fraction == fraction).collect();
        let Some(first) = at.first() else { continue };
        let base = at.iter().find(|r| r.peer == Peer::Netloop).map(|r| r.p99);
        println!(
            "  at {:.0}% ({:.0} requests/s), {} rounds:",
            fraction * 100.0,
            first.rate,
            first.rounds
        );
        println!(
            "    {:<12} {:>8} {:>8} {:>8} {:>9} {:>17} {:>14}",
            "server", "p50", "p99", "p99.9", "max", "p99 low..high", "netloop p99 /"
        );
        for r in &at {
            let ratio = base.map_or(String::from("-"), |b| format!("{:.2}", b / r.p99));
            println!(
                "    {:<12} {:>8.0} {:>8.0} {:>8.0} {:>9.0} {:>8.0}..{:<8.0} {:>14}",
                r.peer.name(),
                r.p50,
                r.p99,
                r.p999,
                r.max,
                r.p99_low,
                r.p99_high,
                ratio
            );
        }
    }
}

/// A chart of p99 against the offered rate, one line per server, with each point's spread.
pub fn write_svg(rows: &[Row], path: &str) -> std::io::Result<()> {
    let (w, h, pad) = (640.0, 360.0, 50.0);
    let top = rows.iter().map(|r| r.p99_high).fold(1.0, f64::max) * 1.1;
    let x = |f: f64| pad + (f - 0.2) / 0.6 * (w - 2.0 * pad);
    let y = |v: f64| h - pad - v / top * (h - 2.0 * pad);
    let colours = ["#d62728", "#1f77b4", "#9467bd", "#8c564b", "#2ca02c"];
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        s,
        r#"<text x="{pad}" y="20">L1: p99 latency (µs) against the offered rate (% of saturated)</text>"#
    );
    let _ = writeln!(
        s,
        r#"<line x1="{pad}" y1="{}" x2="{}" y2="{}" stroke="black"/>"#,
        h - pad,
        w - pad,
        h - pad
    );
    let _ = writeln!(
        s,
        r#"<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{}" stroke="black"/>"#,
        h - pad
    );
    for f in FRACTIONS {
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{:.0}%</text>"#,
            x(f),
            h - pad + 16.0,
            f * 100.0
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="end">{top:.0}</text>"#,
        pad - 4.0,
        pad + 4.0
    );
    for (i, peer) in PEERS.iter().enumerate() {
        let colour = colours[i % colours.len()];
        let pts: Vec<&Row> = rows.iter().filter(|r| r.peer == *peer).collect();
        let line: Vec<String> = pts
            .iter()
            .map(|r| format!("{:.1},{:.1}", x(r.fraction), y(r.p99)))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#,
            line.join(" ")
        );
        for r in &pts {
            let _ = writeln!(
                s,
                r#"<line x1="{0:.1}" y1="{1:.1}" x2="{0:.1}" y2="{2:.1}" stroke="{colour}"/>"#,
                x(r.fraction) + i as f64 * 3.0 - 6.0,
                y(r.p99_low),
                y(r.p99_high)
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" fill="{colour}">{}</text>"#,
            w - pad - 90.0,
            pad + 16.0 * i as f64,
            peer.name()
        );
    }
    s.push_str("</svg>\n");
    std::fs::write(path, s)
}
