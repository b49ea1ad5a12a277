//! `netloop load`: a load generator for echo servers, on a netloop reactor.
//!
//! Data flows like this: [`run`] resolves nothing (it takes addresses), opens the
//! connections (TCP, from one or several source addresses in 127.0.0.0/8) or UDP sockets on
//! one reactor, and hands them to the driver (`driver.rs`). In the closed loop each connection
//! keeps `pipeline` requests in flight, sending a new one as each answer completes; in the
//! open loop (`rate`) requests go out on a schedule whatever the server does, and each one's
//! latency is measured from when it was *due*, so a stalled server shows up in the latency
//! (coordinated omission is not hidden; without `spin` the schedule is kept by the reactor's
//! 1 ms timer, so requests go out up to a millisecond late and that shows in the latency;
//! with `spin` it is checked after every turn). Every byte that comes back is checked against what
//! was sent (`pattern.rs` makes request bytes a function of connection, request and offset,
//! so nothing is stored): a mismatch ends the run with an error. Latencies go to an
//! HDR histogram; the report has throughput, percentiles and, given the server's pid, the
//! server's user and system CPU per request.
//!
//! Requests are `size` bytes: for `framed`, a 4-byte big-endian length and `size` bytes of
//! payload, answered by the same frame; for `stream`, `size` bytes answered by the same
//! bytes; for `udp`, one datagram of `size` lower-case letters answered upper-cased (the
//! course's UDP service), or unchanged with `upper = false`.

mod driver;
mod pattern;
mod report;

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use netloop::reactor::Reactor;
pub use report::LoadReport;

/// The protocol spoken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    /// 4-byte big-endian length, then the payload; the server echoes each frame.
    Framed,
    /// Bytes; the server echoes them.
    Stream,
    /// Datagrams; the server answers each (upper-cased, by default).
    Udp,
}

/// What to run.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LoadConfig {
    /// The server.
    pub addr: SocketAddr,
    /// Its protocol.
    pub proto: Proto,
    /// Connections (or UDP sockets).
    pub conns: usize,
    /// Requests in flight per connection (closed loop).
    pub pipeline: usize,
    /// Bytes per request (payload).
    pub size: usize,
    /// How long to measure.
    pub duration: Duration,
    /// How long to run first without measuring.
    pub warmup: Duration,
    /// Open loop: requests per second in total, spread evenly over the connections.
    pub rate: Option<f64>,
    /// Source addresses 127.0.0.1, 127.0.0.2, ... (for more than one port range's worth of
    /// connections to one server); 1 leaves the choice to the kernel. Loopback servers only.
    pub sources: usize,
    /// Busy-poll: the client never sleeps in `epoll_wait` (for latency floors; costs a core).
    pub spin: bool,
    /// UDP: the answer is the request upper-cased (`true`, the course's service) or the same.
    pub upper: bool,
    /// The server's pid, to report its CPU time during the measurement.
    pub server_pid: Option<u32>,
    /// UDP: send with the kernel's UDP offload (`Config::udp_offload`): the requests a batch
    /// of replies calls for go as runs the kernel cuts into datagrams, and replies arrive
    /// glued. Default false.
    pub offload: bool,
}

impl LoadConfig {
    /// Defaults: framed, 64 connections x 16 in flight, 64 bytes, 10 s after a 1 s warm-up.
    pub fn new(addr: SocketAddr, proto: Proto) -> LoadConfig {
        LoadConfig {
            addr,
            proto,
            conns: 64,
            pipeline: 16,
            size: 64,
            duration: Duration::from_secs(10),
            warmup: Duration::from_secs(1),
            rate: None,
            sources: 1,
            spin: false,
            upper: true,
            server_pid: None,
            offload: false,
        }
    }
}

/// What [`run`] calls once a second with the run's progress.
pub type ProgressFn = Box<dyn FnMut(&Progress)>;

/// Where the run is, once a second.
#[derive(Clone, Debug)]
pub struct Progress {
    /// Since the start.
    pub elapsed: Duration,
    /// Requests answered so far (warm-up included).
    pub requests: u64,
    /// Requests per second over the last second.
    pub rate: f64,
    /// Still warming up.
    pub warming_up: bool,
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.into())
}

/// Run the load, calling `progress` once a second.
///
/// # Errors
///
/// `InvalidInput` for a configuration that cannot run; a connect error; `InvalidData` with
/// what differed when the server's answer is not what was sent (or a connection closed
/// early).
pub fn run(cfg: &LoadConfig, progress: Option<ProgressFn>) -> io::Result<LoadReport> {
    if cfg.conns == 0 || (cfg.pipeline == 0 && cfg.rate.is_none()) {
        return Err(invalid(
            "need at least one connection and one request in flight",
        ));
    }
    if cfg.proto == Proto::Udp && !(16..=65_507).contains(&cfg.size) {
        return Err(invalid(
            "UDP requests carry their sequence number: 16 to 65507 bytes",
        ));
    }
    if cfg.proto == Proto::Framed && cfg.size > u32::MAX as usize {
        return Err(invalid("a frame's length must fit in 32 bits"));
    }
    if cfg.sources > 1 && !cfg.addr.ip().is_loopback() {
        return Err(invalid(
            "several source addresses are for a loopback server only",
        ));
    }
    if cfg.duration.is_zero() {
        return Err(invalid("the duration must be more than zero"));
    }
    let interval = match cfg.rate {
        Some(r) if r > 0.0 && r.is_finite() => Some(Duration::from_secs_f64(cfg.conns as f64 / r)),
        Some(_) => {
            return Err(invalid(
                "the rate must be a positive number of requests per second",
            ))
        }
        None => None,
    };
    let plan = driver::Plan {
        proto: cfg.proto,
        size: cfg.size,
        pipeline: cfg.pipeline,
        interval,
        server: cfg.addr,
        upper: cfg.upper,
        warmup: cfg.warmup,
        duration: cfg.duration,
    };
    // Many datagrams per call: the client keeps up with more (see `Config::udp_batching`).
    let config = netloop::Config::default()
        .udp_batching(true)
        .udp_offload(cfg.offload);
    let mut reactor = Reactor::with_config(driver::Driver::new(plan, progress), config)?;
    let source = |i: usize| -> SocketAddr {
        match (cfg.sources > 1, cfg.addr.ip()) {
            (true, IpAddr::V4(_)) => {
                SocketAddr::from((Ipv4Addr::new(127, 0, 0, 1 + (i % cfg.sources) as u8), 0))
            }
            (_, IpAddr::V4(_)) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
            (_, IpAddr::V6(_)) => SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, 0)),
        }
    };
    reactor.with_context(|d, cx| -> io::Result<()> {
        for i in 0..cfg.conns {
            let idx = i as u32;
            match cfg.proto {
                Proto::Udp => {
                    let id = cx.bind_udp(source(i))?;
                    d.add_udp(id, idx);
                }
                _ if cfg.sources > 1 => {
                    let id = cx.connect_from(source(i), cfg.addr)?;
                    d.add_conn(id, idx);
                }
                _ => {
                    let id = cx.connect(cfg.addr)?;
                    d.add_conn(id, idx);
                }
            }
        }
        d.start(cx);
        Ok(())
    })?;
    let mut cpu_before = None;
    let mut wait_before = None;
    let mut measuring = false;
    let exact_schedule = cfg.spin && cfg.rate.is_some();
    loop {
        reactor.turn(if cfg.spin { Some(Duration::ZERO) } else { None })?;
        if exact_schedule {
            reactor.with_context(|d, cx| d.send_due(cx));
        }
        if !measuring && reactor.handler().measuring_since.is_some() {
            measuring = true;
            cpu_before = cfg
                .server_pid
                .and_then(|pid| crate::process::process_cpu(pid).ok());
            wait_before = waits(cfg.server_pid);
        }
        if reactor.is_stopped() {
            break;
        }
    }
    let cpu_after = cfg
        .server_pid
        .and_then(|pid| crate::process::process_cpu(pid).ok());
    let d = reactor.handler();
    if let Some(e) = &d.error {
        return Err(io::Error::new(io::ErrorKind::InvalidData, e.clone()));
    }
    let server_cpu = match (cpu_before, cpu_after) {
        (Some(b), Some(a)) => Some((a.0.saturating_sub(b.0), a.1.saturating_sub(b.1))),
        _ => None,
    };
    // Unknown if a server thread exited meanwhile (its wait left with it).
    let waited = match (wait_before, waits(cfg.server_pid)) {
        (Some(b), Some(a)) => {
            a.0.since(&b.0)
                .map(|server| (server, a.1.saturating_sub(b.1)))
        }
        _ => None,
    };
    let mut report = LoadReport::new(cfg, d, server_cpu, Instant::now());
    report.waited = waited;
    Ok(report)
}

/// How long the server's threads (if its pid is known) and this thread, which runs the load,
/// have waited for a CPU so far.
fn waits(server: Option<u32>) -> Option<(crate::process::ThreadWaits, Duration)> {
    let load = crate::process::thread_run_queue_wait().ok()?;
    let server = crate::process::ThreadWaits::of(server?).ok()?;
    Some((server, load))
}
