//! T2: work per core. `netloop serve`'s reactors, here in this process on a
//! [`Server`](netloop::server::Server) (one reactor per thread on one shared listener, each
//! connection placed on the least loaded reactor), with one and with two threads:
//!
//! * W2 (64 connections x 16 in flight x 64 B, the framed echo): frames per second, server CPU
//!   per frame, and each reactor's connections and CPU;
//! * serial arrivals: 20 connections one after another, each kept open after one echo;
//! * bursts: 64 connections at once, three times.
//!
//! The machine has as many CPUs as it has: on 2, the load generator (pinned to CPU 1) shares
//! a CPU with one of two reactors, so T2 shows how the work spreads, not a speed-up.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use netloop::framing::Codec;
use netloop::server::{bind_tcp, Server};
use netloop_cli::load::{self, LoadConfig, Proto};
use netloop_cli::services::CourseServer;

/// Each reactor thread's id, by its name (`netloop-0`, ...), once all `n` have started and
/// named themselves (at most a second).
fn reactor_threads(n: usize) -> Vec<u32> {
    for _ in 0..200 {
        let found = find_threads(n);
        if found.iter().all(|&t| t != 0) {
            return found;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    find_threads(n)
}

fn find_threads(n: usize) -> Vec<u32> {
    let mut out = vec![0; n];
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        for e in dir.flatten() {
            let tid: u32 = e.file_name().to_string_lossy().parse().unwrap_or(0);
            let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
            if let Some(i) = comm
                .trim()
                .strip_prefix("netloop-")
                .and_then(|i| i.parse::<usize>().ok())
            {
                if i < n {
                    out[i] = tid;
                }
            }
        }
    }
    out
}

/// Each reactor thread's CPU time (user + system).
fn reactor_cpu(tids: &[u32]) -> Vec<Duration> {
    tids.iter()
        .map(|&t| netloop_cli::process::process_cpu(t).map_or(Duration::ZERO, |(u, s)| u + s))
        .collect()
}

fn start(threads: usize) -> std::io::Result<(Server<CourseServer>, SocketAddr)> {
    let mut reactors = Vec::new();
    for _ in 0..threads {
        let server = CourseServer::with_codec(Codec::length_prefixed(8 << 20))
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        reactors.push(netloop::Reactor::with_config(
            server,
            netloop::Config::default(),
        )?);
    }
    let opts = netloop::reactor::ListenOptions::default();
    let (ids, addr) = bind_tcp(&mut reactors, "127.0.0.1:0".parse().expect("addr"), opts)?;
    for (r, id) in reactors.iter_mut().zip(ids) {
        r.handler_mut().serve_framed(id);
    }
    Ok((Server::start(reactors)?, addr))
}

/// One framed echo on `c`.
fn echo(c: &mut TcpStream) -> std::io::Result<()> {
    c.write_all(&[0, 0, 0, 4, b'p', b'i', b'n', b'g'])?;
    let mut back = [0; 8];
    c.read_exact(&mut back)
}

fn counts(server: &Server<CourseServer>, f: impl Fn(&netloop::reactor::Stats) -> u64) -> Vec<u64> {
    server.stats_per_reactor().iter().map(f).collect()
}

/// Wait (at most 10 s) until the reactors' published counters add up to `total`.
fn settle(server: &Server<CourseServer>, total: u64) -> Vec<u64> {
    for _ in 0..2000 {
        let c = counts(server, |s| s.accepted);
        if c.iter().sum::<u64>() >= total {
            return c;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    counts(server, |s| s.accepted)
}

/// One line of T2.
pub struct Row {
    pub what: String,
    pub threads: usize,
    pub detail: String,
}

/// Run T2 with `secs` seconds of W2 per thread count.
pub fn run(secs: f64) -> std::io::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for threads in [1, 2] {
        let (server, addr) = start(threads)?;
        let tids = reactor_threads(threads);
        let before = reactor_cpu(&tids);
        let mut cfg = LoadConfig::new(addr, Proto::Framed);
        cfg.conns = 64;
        cfg.pipeline = 16;
        cfg.size = 64;
        cfg.warmup = Duration::ZERO;
        cfg.duration = Duration::from_secs_f64(secs);
        let r = load::run(&cfg, None)?;
        let after = reactor_cpu(&tids);
        let cpu: Vec<f64> = after
            .iter()
            .zip(&before)
            .map(|(a, b)| a.saturating_sub(*b).as_secs_f64())
            .collect();
        let total: f64 = cpu.iter().sum();
        let per_frame_ns = total * 1e9 / r.requests.max(1) as f64;
        let conns = counts(&server, |s| s.accepted);
        rows.push(Row {
            what: "W2".into(),
            threads,
            detail: format!(
                "{:.0} frames/s, {per_frame_ns:.0} ns server CPU per frame, connections per reactor {conns:?}, CPU per reactor {:?} s",
                r.rate(),
                cpu.iter().map(|c| (c * 100.0).round() / 100.0).collect::<Vec<_>>()
            ),
        });
        server.stop();
        server.join()?;
    }
    // Arrival patterns, two reactors.
    let (server, addr) = start(2)?;
    let mut open = Vec::new();
    for _ in 0..20 {
        let mut c = TcpStream::connect(addr)?;
        echo(&mut c)?;
        open.push(c);
    }
    let serial = settle(&server, 20);
    rows.push(Row {
        what: "serial".into(),
        threads: 2,
        detail: format!("20 connections one after another: {serial:?} per reactor"),
    });
    drop(open);
    let mut seen = serial;
    let mut bursts = Vec::new();
    for round in 0..3u64 {
        let mut burst: Vec<TcpStream> = (0..64)
            .map(|_| TcpStream::connect(addr))
            .collect::<std::io::Result<_>>()?;
        for c in &mut burst {
            echo(c)?;
        }
        let now = settle(&server, 20 + 64 * (round + 1));
        bursts.push(
            now.iter()
                .zip(&seen)
                .map(|(n, s)| n - s)
                .collect::<Vec<_>>(),
        );
        seen = now;
        drop(burst);
        for _ in 0..2000 {
            if counts(&server, |s| s.active).iter().all(|&a| a == 0) {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    rows.push(Row {
        what: "bursts".into(),
        threads: 2,
        detail: format!("64 connections at once, three times: {bursts:?} per reactor"),
    });
    server.stop();
    server.join()?;
    Ok(rows)
}

pub fn print(rows: &[Row]) {
    println!("\nT2: work per core (framed echo; reactors on a Server in the bench process)");
    for r in rows {
        println!("  {:<7} --threads {}: {}", r.what, r.threads, r.detail);
    }
}
