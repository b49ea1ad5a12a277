//! What a load run measured, as a table for people or JSON for programs.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use super::driver::Driver;
use super::{LoadConfig, Proto};

/// The figures of one run (the measured part, after the warm-up).
#[derive(Clone, Debug)]
pub struct LoadReport {
    /// What ran: protocol, connections, pipeline, size, rate.
    pub setup: String,
    /// Requests answered while measuring.
    pub requests: u64,
    /// Payload bytes echoed while measuring.
    pub bytes: u64,
    /// UDP requests given up as lost (no answer within a second).
    pub lost: u64,
    /// The measured time.
    pub elapsed: Duration,
    /// Latency percentiles (p50, p90, p99, p99.9) and the maximum and mean, in microseconds.
    pub latency_us: [f64; 6],
    /// The lowest and the highest mean latency of one connection (or UDP socket), in
    /// microseconds: a server that serves some connections later than others in every turn
    /// shows a spread here that the percentiles, over all requests, hide.
    pub conn_mean_us: Option<(f64, f64)>,
    /// Connections (or UDP sockets) that got no answer at all while measuring: starved,
    /// which the spread above cannot show.
    pub unanswered: usize,
    /// The server's user and system CPU time while measuring, if its pid was given.
    pub server_cpu: Option<(Duration, Duration)>,
    /// While measuring, how long the server's threads (summed) and the load's own thread
    /// waited for a CPU while runnable, behind any task (`/proc/.../schedstat`; for the
    /// server, its own other threads included): `(server, load)`. `None` without the
    /// server's pid, or if one of its threads exited meanwhile. For a single-threaded
    /// server, latency it did not cause: something else had its CPU.
    pub waited: Option<(Duration, Duration)>,
}

impl LoadReport {
    pub(crate) fn new(
        cfg: &LoadConfig,
        d: &Driver,
        server_cpu: Option<(Duration, Duration)>,
        _end: Instant,
    ) -> LoadReport {
        let h = &d.hist;
        let us = |ns: u64| ns as f64 / 1e3;
        let latency_us = if h.is_empty() {
            [0.0; 6]
        } else {
            [
                us(h.value_at_quantile(0.50)),
                us(h.value_at_quantile(0.90)),
                us(h.value_at_quantile(0.99)),
                us(h.value_at_quantile(0.999)),
                us(h.max()),
                h.mean() / 1e3,
            ]
        };
        let proto = match cfg.proto {
            Proto::Framed => "framed",
            Proto::Stream => "stream",
            Proto::Udp => "udp",
        };
        let mode = match cfg.rate {
            Some(r) => format!("open loop at {r} requests/s"),
            None => format!("{} in flight each", cfg.pipeline),
        };
        LoadReport {
            setup: format!(
                "{proto} to {}, {} connections, {mode}, {} B",
                cfg.addr, cfg.conns, cfg.size
            ),
            requests: d.completed,
            bytes: d.bytes,
            lost: d.lost,
            elapsed: d.measured,
            latency_us,
            conn_mean_us: d.mean_spread().map(|(lo, hi)| (lo / 1e3, hi / 1e3)),
            unanswered: cfg.conns.saturating_sub(d.answered_conns()),
            server_cpu,
            waited: None,
        }
    }

    /// Requests per second.
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The report as a table.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "{}", self.setup);
        let _ = writeln!(s, "  measured     {:.2} s", self.elapsed.as_secs_f64());
        let _ = writeln!(s, "  requests     {} ({:.0}/s)", self.requests, self.rate());
        let _ = writeln!(
            s,
            "  throughput   {:.2} MB/s",
            self.bytes as f64 / self.elapsed.as_secs_f64().max(1e-9) / 1e6
        );
        let l = &self.latency_us;
        let _ = writeln!(
            s,
            "  latency µs   p50 {:.1}  p90 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}  mean {:.1}",
            l[0], l[1], l[2], l[3], l[4], l[5]
        );
        if let Some((lo, hi)) = self.conn_mean_us {
            let _ = writeln!(
                s,
                "  per conn     mean latency µs: lowest {lo:.1}, highest {hi:.1}; {} without an answer",
                self.unanswered
            );
        }
        if self.lost > 0 {
            let _ = writeln!(s, "  lost         {} datagrams", self.lost);
        }
        if let Some((user, sys)) = self.server_cpu {
            let per = |d: Duration| d.as_secs_f64() * 1e9 / self.requests.max(1) as f64;
            let _ = writeln!(
                s,
                "  server CPU   user {:.3} s, system {:.3} s; per request {:.0} ns user + {:.0} ns system",
                user.as_secs_f64(),
                sys.as_secs_f64(),
                per(user),
                per(sys)
            );
        }
        if let Some((server, load)) = self.waited {
            let _ = writeln!(
                s,
                "  waited       for a CPU while runnable: server {:.1} ms, load {:.1} ms",
                server.as_secs_f64() * 1e3,
                load.as_secs_f64() * 1e3
            );
        }
        s
    }

    /// The report as one JSON object.
    pub fn json(&self) -> String {
        let l = &self.latency_us;
        let mut s = format!(
            "{{\"setup\":\"{}\",\"elapsed_s\":{:.6},\"requests\":{},\"requests_per_s\":{:.1},\"bytes\":{},\"lost\":{},\"latency_us\":{{\"p50\":{:.3},\"p90\":{:.3},\"p99\":{:.3},\"p999\":{:.3},\"max\":{:.3},\"mean\":{:.3}}}",
            self.setup.replace('"', "'"),
            self.elapsed.as_secs_f64(),
            self.requests,
            self.rate(),
            self.bytes,
            self.lost,
            l[0], l[1], l[2], l[3], l[4], l[5]
        );
        if let Some((lo, hi)) = self.conn_mean_us {
            let _ = write!(
                s,
                ",\"conn_mean_us\":{{\"lowest\":{lo:.3},\"highest\":{hi:.3},\"unanswered\":{}}}",
                self.unanswered
            );
        }
        if let Some((user, sys)) = self.server_cpu {
            let _ = write!(
                s,
                ",\"server_cpu_s\":{{\"user\":{:.6},\"system\":{:.6}}}",
                user.as_secs_f64(),
                sys.as_secs_f64()
            );
        }
        if let Some((server, load)) = self.waited {
            let _ = write!(
                s,
                ",\"waited_ms\":{{\"server\":{:.3},\"load\":{:.3}}}",
                server.as_secs_f64() * 1e3,
                load.as_secs_f64() * 1e3
            );
        }
        s.push('}');
        s
    }
}
