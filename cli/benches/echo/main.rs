//! `cargo bench --bench echo`: netloop beside tokio (current-thread with tokio-util's
//! `LengthDelimitedCodec`, and multi-thread), std thread-per-connection and a hand-written
//! mio loop, on the same workloads, in one run.
//!
//! Every server runs in a fresh process of its own (this binary, re-executed with
//! `NETLOOP_BENCH_SERVE=<peer>`), pinned to CPU 0; the load generator (`netloop_cli::load`) runs
//! here, pinned to CPU 1. For each workload and server: a warm-up run, then three measured
//! runs, in rounds (each round runs every server once, so that a noisy spell on a shared
//! machine hits all servers alike); the medians are reported, with the server's user and system CPU (from
//! `/proc/PID/stat`) and, where it matters, its memory (`VmRSS`). (System calls per request
//! come from `benches/profile_peers.sh`, under callgrind: `/proc/PID/io` counts only the
//! read and write families, and socket servers receive and send with `recvfrom`, `sendto`
//! and their like.) The table gives each server's figures and netloop's ratio to each (below 1:
//! netloop is better). Results go to `target/echo-bench.json` and `target/echo-bench.svg`.
//!
//! Workloads:
//! * W1: ping-pong, 1 connection, 64 B: p50 latency.
//! * W1s: W1 with netloop busy-polling and a spinning client, beside the floor of two
//!   threads ping-ponging on non-blocking sockets.
//! * W2: 64 connections x 16 in flight x 64 B: server CPU per frame.
//! * W3: 8 connections x 4 in flight x 64 KiB: server CPU per MB.
//! * W4h: 10,000 connections, one frame each per 200 ms (open loop): server CPU per frame,
//!   and memory per connection.
//! * U1: UDP, 64 sockets x 4 in flight x 64 B: server CPU per datagram (netloop also with
//!   `Config::udp_batching`, as `netloop-batch`).
//! * U2: bulk UDP, 1 socket x 64 in flight x 1,200 B, the client sending with UDP offload:
//!   server CPU per datagram and datagrams per server CPU-second, for netloop plain, batched
//!   (`netloop-batch`) and batched with GSO and GRO (`netloop-offload`), tokio-ct and the mio
//!   loop.
//! * T1: a 250 µs timer on an idle reactor: how late it fires, p50 and p99 (`timers.rs`).
//! * S1: the framed echo at 1,000, 10,000, 50,000 and 100,000 connections, 50,000 requests/s
//!   in all (open loop): server CPU per request (user and system), p99, memory per
//!   connection, for netloop, tokio-ct and the mio loop; and the accept rate (`scale.rs`).
//! * T2: work per core: W2 on one and on two reactors, and how connections and CPU spread
//!   over them for serial arrivals and bursts (`cores.rs`).
//! * L1: the framed echo, 64 connections, open loop at 25, 50 and 75% of the saturated rate
//!   (measured first): p50, p99, p99.9 and max, medians of `ECHO_BENCH_L1_ROUNDS` (default
//!   5) interleaved rounds with the spread (`latency.rs`).
//!
//! `ECHO_BENCH_SECS` sets the measured seconds per run (default 2); `ECHO_BENCH_ONLY=W2,U1`
//! runs a subset; `ECHO_BENCH_REPS` the measured runs (default 3).

mod cores;
mod latency;
mod peers;
mod report;
mod scale;
mod timers;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use netloop_cli::load::{self, LoadConfig, Proto};
use netloop_cli::process as sys;
use peers::Peer;

/// One workload.
#[derive(Clone, Copy)]
pub struct Workload {
    pub name: &'static str,
    pub proto: Proto,
    pub conns: usize,
    pub pipeline: usize,
    pub size: usize,
    pub rate: Option<f64>,
    /// The client busy-polls.
    pub spin: bool,
    /// UDP: the client sends with the kernel's UDP offload (`LoadConfig::offload`).
    pub offload: bool,
    /// What the headline figure is.
    pub metric: Metric,
    pub peers: &'static [Peer],
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    LatencyP50,
    CpuPerFrame,
    CpuPerMb,
}

const ALL: &[Peer] = &Peer::ALL;
const EVENTED: &[Peer] = &[
    Peer::Netloop,
    Peer::TokioCurrent,
    Peer::TokioMulti,
    Peer::MioLoop,
];

const SPIN: &[Peer] = &[Peer::NetloopSpin];
/// U1 also runs netloop with `recvmmsg`/`sendmmsg` (`Config::udp_batching`).
const UDP: &[Peer] = &[
    Peer::Netloop,
    Peer::NetloopBatch,
    Peer::TokioCurrent,
    Peer::TokioMulti,
    Peer::StdThreads,
    Peer::MioLoop,
];

pub const WORKLOADS: [Workload; 12] = [
    Workload {
        name: "W1",
        proto: Proto::Framed,
        conns: 1,
        pipeline: 1,
        size: 64,
        rate: None,
        spin: false,
        offload: false,
        metric: Metric::LatencyP50,
        peers: ALL,
    },
    Workload {
        name: "W1s",
        proto: Proto::Framed,
        conns: 1,
        pipeline: 1,
        size: 64,
        rate: None,
        spin: true,
        offload: false,
        metric: Metric::LatencyP50,
        peers: SPIN,
    },
    Workload {
        name: "W2",
        proto: Proto::Framed,
        conns: 64,
        pipeline: 16,
        size: 64,
        rate: None,
        spin: false,
        offload: false,
        metric: Metric::CpuPerFrame,
        peers: ALL,
    },
    Workload {
        name: "W3",
        proto: Proto::Framed,
        conns: 8,
        pipeline: 4,
        size: 65536,
        rate: None,
        spin: false,
        offload: false,
        metric: Metric::CpuPerMb,
        peers: ALL,
    },
    Workload {
        name: "W4h",
        proto: Proto::Framed,
        conns: 10_000,
        pipeline: 1,
        size: 64,
        rate: Some(50_000.0),
        spin: false,
        offload: false,
        metric: Metric::CpuPerFrame,
        peers: EVENTED,
    },
    s1("S1-1k", 1_000),
    s1("S1-10k", 10_000),
    s1("S1-18k", 18_000),
    s1("S1-50k", 50_000),
    s1("S1-100k", 100_000),
    Workload {
        name: "U1",
        proto: Proto::Udp,
        conns: 64,
        pipeline: 4,
        size: 64,
        rate: None,
        spin: false,
        offload: false,
        metric: Metric::CpuPerFrame,
        peers: UDP,
    },
    Workload {
        name: "U2",
        proto: Proto::Udp,
        conns: 1,
        pipeline: 64,
        size: 1200,
        rate: None,
        spin: false,
        offload: true,
        metric: Metric::CpuPerFrame,
        peers: BULK,
    },
];

/// U2's servers: netloop plain, with `recvmmsg`/`sendmmsg`, and with UDP offload besides
/// (`Config::udp_offload`: GSO and GRO), beside tokio and the mio loop.
const BULK: &[Peer] = &[
    Peer::Netloop,
    Peer::NetloopBatch,
    Peer::NetloopOffload,
    Peer::TokioCurrent,
    Peer::MioLoop,
];

/// S1's servers: the evented ones that hold 100,000 connections in one thread or a few.
const SCALE: &[Peer] = &[Peer::Netloop, Peer::TokioCurrent, Peer::MioLoop];

/// The total rate S1 offers, spread over all the connections, whatever their number.
pub const S1_RATE: f64 = 50_000.0;

/// S1 at `conns` connections: the framed echo, open loop at [`S1_RATE`] in all.
const fn s1(name: &'static str, conns: usize) -> Workload {
    Workload {
        name,
        proto: Proto::Framed,
        conns,
        pipeline: 1,
        size: 64,
        rate: Some(S1_RATE),
        spin: false,
        offload: false,
        metric: Metric::CpuPerFrame,
        peers: SCALE,
    }
}

/// What one measured run gave.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sample {
    pub requests: u64,
    pub bytes: u64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub user_ns: f64,
    pub sys_ns: f64,
    pub rss_per_conn: f64,
    /// Milliseconds the hypervisor took from the machine's CPUs during the run (all CPUs):
    /// a run with much of it has a tail no server can help.
    pub steal_ms: f64,
    /// Milliseconds the server's threads (summed) and the load generator's waited for a CPU
    /// while runnable, behind any task (the server's own other threads included; for the
    /// single-threaded servers, latency they did not cause). Not a number if unknown.
    pub waited_ms: (f64, f64),
}

struct Server {
    child: Child,
    tcp: SocketAddr,
    udp: SocketAddr,
}

impl Server {
    fn start(peer: Peer) -> std::io::Result<Server> {
        let mut child = Command::new(std::env::current_exe()?)
            .env("NETLOOP_BENCH_SERVE", peer.name())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line)?;
        let mut words = line.split_whitespace().skip(1);
        let parse = |w: Option<&str>| -> std::io::Result<SocketAddr> {
            w.and_then(|a| a.parse().ok()).ok_or_else(|| {
                std::io::Error::other(format!("{}: no READY line ({line:?})", peer.name()))
            })
        };
        let tcp = parse(words.next())?;
        let udp = parse(words.next())?;
        Ok(Server { child, tcp, udp })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run_once(w: &Workload, server: &Server, secs: f64, warm: bool) -> std::io::Result<Sample> {
    let addr = if w.proto == Proto::Udp {
        server.udp
    } else {
        server.tcp
    };
    let mut cfg = LoadConfig::new(addr, w.proto);
    cfg.conns = w.conns;
    cfg.pipeline = w.pipeline;
    cfg.size = w.size;
    cfg.rate = w.rate;
    cfg.spin = w.spin;
    cfg.offload = w.offload;
    // Many connections take a while to come up: they get a warm-up inside the run itself
    // (3 s, and a second more per 20,000).
    cfg.warmup = if w.conns >= 1000 {
        Duration::from_secs(3 + w.conns as u64 / 20_000)
    } else {
        Duration::ZERO
    };
    cfg.duration = Duration::from_secs_f64(if warm { secs / 2.0 } else { secs });
    cfg.server_pid = Some(server.pid());
    // Sources 127.0.0.1, .2, ...: at most 2,000 connections each, so that no source runs out
    // of ephemeral ports (with earlier runs' TIME_WAIT on them too).
    cfg.sources = w.conns.div_ceil(2000).clamp(1, 200);
    let pid = server.pid();
    let rss0 = sys::process_rss(pid).unwrap_or(0);
    // The server's memory is read once a second while the connections are open.
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(rss0));
    let seen = std::sync::Arc::clone(&peak);
    let progress: load::ProgressFn = Box::new(move |_| {
        let rss = sys::process_rss(pid).unwrap_or(0);
        seen.fetch_max(rss, std::sync::atomic::Ordering::Relaxed);
    });
    let steal0 = sys::steal_time().unwrap_or_default();
    let r = load::run(&cfg, Some(progress))?;
    let steal = sys::steal_time().unwrap_or_default().saturating_sub(steal0);
    let rss1 = peak.load(std::sync::atomic::Ordering::Relaxed);
    let (user, system) = r.server_cpu.unwrap_or_default();
    let n = r.requests.max(1) as f64;
    Ok(Sample {
        requests: r.requests,
        bytes: r.bytes,
        p50_us: r.latency_us[0],
        p99_us: r.latency_us[2],
        user_ns: user.as_nanos() as f64 / n,
        sys_ns: system.as_nanos() as f64 / n,
        rss_per_conn: rss1.saturating_sub(rss0.min(rss1)) as f64 / w.conns as f64,
        steal_ms: steal.as_secs_f64() * 1e3,
        waited_ms: r.waited.map_or((f64::NAN, f64::NAN), |(server, load)| {
            (server.as_secs_f64() * 1e3, load.as_secs_f64() * 1e3)
        }),
    })
}

/// S1 holds up to 100,000 connections on each side: raise the hard descriptor limit to what
/// the kernel allows (`fs.nr_open`), for this process and the servers it starts (root with
/// `CAP_SYS_RESOURCE` may), else the soft limit to the hard one. Returns the limit got.
fn raise_fd_limits() -> u64 {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let most: u64 = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1 << 20);
    if let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, most, most) {
        let _ = netloop::server::raise_fd_limit();
        let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap_or((0, 0));
        eprintln!(
            "note: the descriptor limit stays at {hard} ({e}: raising the hard limit needs CAP_SYS_RESOURCE); S1 runs only the sizes that fit"
        );
    }
    getrlimit(Resource::RLIMIT_NOFILE).map_or(0, |(soft, _)| soft)
}

fn main() -> std::io::Result<()> {
    if let Ok(name) = std::env::var("NETLOOP_BENCH_SERVE") {
        let _ = sys::pin_to_cpu(0);
        let peer = Peer::from_name(&name).ok_or_else(|| std::io::Error::other("unknown peer"))?;
        return peers::serve(peer);
    }
    // cargo bench passes --bench; cargo test --benches passes nothing we need to run for.
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return Ok(());
    }
    // What it ran on, in the output, rather than assumed (`uname -r` reads the same
    // file); the CPUs counted before this thread is pinned to one.
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string());
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("echo bench on Linux {kernel}, {cpus} CPUs");
    let fd_limit = raise_fd_limits();
    if sys::pin_to_cpu(1).is_err() {
        eprintln!("note: could not pin the load generator to CPU 1 (fewer than 2 CPUs?)");
    }
    let secs: f64 = std::env::var("ECHO_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let reps: usize = std::env::var("ECHO_BENCH_REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let only: Option<String> = std::env::var("ECHO_BENCH_ONLY").ok();
    let mut results = Vec::new();
    for w in WORKLOADS.iter().filter(|w| {
        only.as_deref().is_none_or(|o| {
            o.split(',')
                .any(|n| n == w.name || (n == "S1" && w.name.starts_with("S1")))
        })
    }) {
        // Each side holds every connection, and a few descriptors more.
        if (w.conns + 500) as u64 > fd_limit {
            println!(
                "{}: skipped: {} connections need more than the descriptor limit of {fd_limit}",
                w.name, w.conns
            );
            continue;
        }
        // Rounds: each round runs every server once, so that a noisy spell on this shared
        // machine falls on all of them alike rather than on one server's every run.
        let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); w.peers.len()];
        for rep in 0..reps {
            for (i, &peer) in w.peers.iter().enumerate() {
                // A fresh server per run.
                let server = Server::start(peer)?;
                std::thread::sleep(Duration::from_millis(100));
                // Many connections warm up inside the run, on a fresh server, so that the
                // memory they take shows.
                if rep == 0 && w.conns < 1000 {
                    run_once(w, &server, secs, true)?;
                }
                match run_once(w, &server, secs, false) {
                    Ok(s) => samples[i].push(s),
                    Err(e) => eprintln!("{} {}: {e}", w.name, peer.name()),
                }
            }
        }
        let mut per_peer = Vec::new();
        for (&peer, samples) in w.peers.iter().zip(samples) {
            eprintln!("  {} {}: {} runs", w.name, peer.name(), samples.len());
            if samples.is_empty() {
                eprintln!(
                    "  {} {}: every run failed; left out of the table",
                    w.name,
                    peer.name()
                );
                continue;
            }
            per_peer.push((peer, report::median(&samples)));
        }
        results.push((*w, per_peer));
    }
    // W1s's floor: two threads spinning on non-blocking sockets, no reactor at all.
    if only
        .as_deref()
        .is_none_or(|o| o.split(',').any(|n| n == "W1s"))
    {
        match peers::spinning_floor(64, 200_000) {
            Ok(us) => println!(
                "W1s floor (two threads spinning on non-blocking sockets, 64 B): p50 {us:.1} µs"
            ),
            Err(e) => eprintln!("W1s floor: {e}"),
        }
    }
    let mut lateness = Vec::new();
    if only
        .as_deref()
        .is_none_or(|o| o.split(',').any(|n| n == "T1"))
    {
        lateness = timers::run(4000)?;
        println!(
            "\nT1 a {} µs timer on an idle reactor, 4000 in a row: how late it fires (µs)",
            timers::AFTER.as_micros()
        );
        println!("  {:<18} {:>8} {:>8} {:>8}", "timer", "p50", "p99", "max");
        for l in &lateness {
            println!(
                "  {:<18} {:>8.1} {:>8.1} {:>8.1}",
                l.name, l.p50_us, l.p99_us, l.max_us
            );
        }
    }
    report::print(&results);
    if only
        .as_deref()
        .is_none_or(|o| o.split(',').any(|n| n == "L1"))
    {
        let rounds: usize = std::env::var("ECHO_BENCH_L1_ROUNDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(5);
        let (saturated, rows) = latency::run(secs, rounds)?;
        latency::print(saturated, &rows);
        latency::write_svg(&rows, "target/echo-bench-l1.svg")?;
        eprintln!("wrote target/echo-bench-l1.svg");
    }
    if only
        .as_deref()
        .is_none_or(|o| o.split(',').any(|n| n.starts_with("S1")))
    {
        scale::run(SCALE, secs)?;
    }
    if only
        .as_deref()
        .is_none_or(|o| o.split(',').any(|n| n == "T2"))
    {
        cores::print(&cores::run(secs)?);
    }
    report::write_json(&kernel, cpus, &results, &lateness, "target/echo-bench.json")?;
    report::write_svg(&results, "target/echo-bench.svg")?;
    eprintln!("wrote target/echo-bench.json and target/echo-bench.svg");
    Ok(())
}
