//! The load generator's [`Handler`]: keeps requests in flight on every connection (or sends
//! them on a schedule, open loop), checks every byte that comes back, and records each
//! request's latency.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::pattern;
use super::{Progress, ProgressFn, Proto};
use netloop::reactor::{ConnId, Context, DgramId, Handler, PeerAddr, TimerId};
use netloop::CloseReason;

/// Timer tokens.
const TICK: u64 = 1;
const PROGRESS: u64 = 2;
const END: u64 = 3;
const MEASURE: u64 = 4;

/// How long a datagram may go unanswered before it counts as lost.
const UDP_LOST_AFTER: Duration = Duration::from_secs(1);

/// One TCP connection's state.
struct Conn {
    idx: u32,
    next_seq: u64,
    /// Requests sent and not yet answered, oldest first, with their intended send times.
    inflight: VecDeque<(u64, Instant)>,
    /// Bytes of the oldest request's answer received so far.
    got: usize,
    /// Open loop: when the next request is due.
    next_due: Instant,
}

/// One UDP socket's state.
struct Udp {
    idx: u32,
    next_seq: u64,
    inflight: BTreeMap<u64, Instant>,
    next_due: Instant,
}

/// What the run is asked to do.
/// Open loops with at most this many connections tick every 100 µs (see `Driver::next_tick`).
const PRECISE_TICK_CONNS: usize = 1024;

pub(crate) struct Plan {
    pub proto: Proto,
    pub size: usize,
    pub pipeline: usize,
    /// Open loop: time between requests on each connection.
    pub interval: Option<Duration>,
    pub server: std::net::SocketAddr,
    pub upper: bool,
    pub warmup: Duration,
    pub duration: Duration,
}

pub(crate) struct Driver {
    plan: Plan,
    conns: HashMap<ConnId, Conn>,
    udp: HashMap<DgramId, Udp>,
    scratch: Vec<u8>,
    pub(crate) hist: Histogram<u64>,
    /// Per connection (or socket) index, while measuring: latency sum in ns, and count.
    per_conn: Vec<(u64, u64)>,
    /// Requests answered, bytes echoed, while measuring.
    pub(crate) completed: u64,
    pub(crate) bytes: u64,
    pub(crate) lost: u64,
    pub(crate) measuring_since: Option<Instant>,
    pub(crate) measured: Duration,
    pub(crate) error: Option<String>,
    pub(crate) done: bool,
    started: Instant,
    total: u64,
    progress: Option<ProgressFn>,
    last_progress: (Instant, u64),
}

impl Driver {
    pub(crate) fn new(plan: Plan, progress: Option<ProgressFn>) -> Driver {
        let now = Instant::now();
        Driver {
            scratch: Vec::with_capacity(plan.size + 4),
            plan,
            conns: HashMap::new(),
            udp: HashMap::new(),
            hist: Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid histogram bounds"),
            per_conn: Vec::new(),
            completed: 0,
            bytes: 0,
            lost: 0,
            measuring_since: None,
            measured: Duration::ZERO,
            error: None,
            done: false,
            started: now,
            total: 0,
            progress,
            last_progress: (now, 0),
        }
    }

    pub(crate) fn add_conn(&mut self, id: ConnId, idx: u32) {
        let conn = Conn {
            idx,
            next_seq: 0,
            inflight: VecDeque::new(),
            got: 0,
            next_due: Instant::now(),
        };
        self.conns.insert(id, conn);
    }

    pub(crate) fn add_udp(&mut self, id: DgramId, idx: u32) {
        let udp = Udp {
            idx,
            next_seq: 0,
            inflight: BTreeMap::new(),
            next_due: Instant::now(),
        };
        self.udp.insert(id, udp);
    }

    /// Arm the run's timers; UDP sockets start sending at once.
    pub(crate) fn start(&mut self, cx: &mut Context<'_>) {
        self.started = cx.now();
        self.last_progress = (self.started, 0);
        cx.set_timer(self.plan.warmup, MEASURE);
        cx.set_timer(self.plan.warmup + self.plan.duration, END);
        cx.set_timer(Duration::from_secs(1), PROGRESS);
        if self.plan.interval.is_some() || self.plan.proto == Proto::Udp {
            self.next_tick(cx);
        }
        if self.plan.interval.is_none() {
            let ids: Vec<DgramId> = self.udp.keys().copied().collect();
            for id in ids {
                for _ in 0..self.plan.pipeline {
                    self.send_udp(cx, id, Instant::now());
                }
            }
        }
    }

    fn fail(&mut self, cx: &mut Context<'_>, msg: String) {
        if self.error.is_none() && !self.done {
            self.error = Some(msg);
        }
        cx.stop();
    }

    /// Record an answered request sent (or due) at `sent`, on connection (or socket) `idx`.
    fn complete(&mut self, now: Instant, sent: Instant, bytes: usize, idx: u32) {
        self.total += 1;
        if self.measuring_since.is_some() {
            let ns = now
                .saturating_duration_since(sent)
                .as_nanos()
                .min(u128::from(u64::MAX)) as u64;
            self.hist.saturating_record(ns.max(1));
            self.completed += 1;
            self.bytes += bytes as u64;
            let idx = idx as usize;
            if self.per_conn.len() <= idx {
                self.per_conn.resize(idx + 1, (0, 0));
            }
            let (sum, count) = &mut self.per_conn[idx];
            *sum = sum.saturating_add(ns);
            *count += 1;
        }
    }

    /// Connections (or sockets) answered at least once while measuring.
    pub(crate) fn answered_conns(&self) -> usize {
        self.per_conn.iter().filter(|(_, count)| *count > 0).count()
    }

    /// The lowest and highest mean latency of one connection (or socket) while measuring,
    /// in nanoseconds: how evenly the server shares its time (`None` before any answer).
    pub(crate) fn mean_spread(&self) -> Option<(f64, f64)> {
        let means = self
            .per_conn
            .iter()
            .filter(|(_, count)| *count > 0)
            .map(|&(sum, count)| sum as f64 / count as f64);
        means.fold(None, |acc, m| match acc {
            None => Some((m, m)),
            Some((lo, hi)) => Some((f64::min(lo, m), f64::max(hi, m))),
        })
    }

    fn send_tcp(&mut self, cx: &mut Context<'_>, id: ConnId, intended: Instant) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        let seq = c.next_seq;
        c.next_seq += 1;
        let size = self.plan.size;
        self.scratch.clear();
        if self.plan.proto == Proto::Framed {
            self.scratch.extend_from_slice(&(size as u32).to_be_bytes());
        }
        let start = self.scratch.len();
        self.scratch.resize(start + size, 0);
        pattern::fill(c.idx, seq, &mut self.scratch[start..]);
        c.inflight.push_back((seq, intended));
        if let Err(e) = cx.write(id, &self.scratch) {
            let msg = format!("cannot queue a request on connection {}: {e}", c.idx);
            self.fail(cx, msg);
        }
    }

    fn send_udp(&mut self, cx: &mut Context<'_>, id: DgramId, intended: Instant) {
        let Some(u) = self.udp.get_mut(&id) else {
            return;
        };
        let seq = u.next_seq;
        u.next_seq += 1;
        self.scratch.clear();
        self.scratch
            .extend((0..self.plan.size).map(|i| pattern::letter(u.idx, seq, i)));
        u.inflight.insert(seq, intended);
        if let Err(e) = cx.send_to(id, &self.scratch, PeerAddr::Inet(self.plan.server)) {
            // A full socket buffer drops the datagram, as the network may: it counts as lost.
            log::debug!("sendto: {e}");
        }
    }

    /// Open loop: send every request that is due (from the timer, or after every turn when
    /// busy-polling, which keeps the schedule exactly).
    pub(crate) fn send_due(&mut self, cx: &mut Context<'_>) {
        let Some(every) = self.plan.interval.filter(|_| !self.done) else {
            return;
        };
        let now = Instant::now();
        let ids: Vec<ConnId> = self.conns.keys().copied().collect();
        for id in ids {
            while let Some(due) = self
                .conns
                .get(&id)
                .map(|c| c.next_due)
                .filter(|d| *d <= now)
            {
                if let Some(c) = self.conns.get_mut(&id) {
                    c.next_due = due + every;
                }
                self.send_tcp(cx, id, due);
            }
        }
        let ids: Vec<DgramId> = self.udp.keys().copied().collect();
        for id in ids {
            while let Some(due) = self.udp.get(&id).map(|u| u.next_due).filter(|d| *d <= now) {
                if let Some(u) = self.udp.get_mut(&id) {
                    u.next_due = due + every;
                }
                self.send_udp(cx, id, due);
            }
        }
    }

    /// Send what is due; UDP: give up on datagrams unanswered for too long (and, in the
    /// closed loop, send others in their place).
    fn tick(&mut self, cx: &mut Context<'_>) {
        self.send_due(cx);
        let now = Instant::now();
        let ids: Vec<DgramId> = self.udp.keys().copied().collect();
        for id in ids {
            let Some(u) = self.udp.get_mut(&id) else {
                continue;
            };
            let stale: Vec<u64> = u
                .inflight
                .iter()
                .filter(|(_, t)| now.saturating_duration_since(**t) > UDP_LOST_AFTER)
                .map(|(s, _)| *s)
                .collect();
            for s in &stale {
                u.inflight.remove(s);
            }
            if self.measuring_since.is_some() {
                self.lost += stale.len() as u64;
            }
            if self.plan.interval.is_none() {
                for _ in 0..stale.len() {
                    self.send_udp(cx, id, now);
                }
            }
        }
        self.next_tick(cx);
    }

    /// Arm the next tick. In the open loop with up to `PRECISE_TICK_CONNS` connections, a
    /// precise timer every 100 µs, so that requests leave close to their scheduled times
    /// (the wheel's millisecond timer fires up to a couple of milliseconds late, and that
    /// lateness would count as the server's latency); otherwise, with more connections to
    /// go through on every tick, the wheel's millisecond.
    fn next_tick(&mut self, cx: &mut Context<'_>) {
        if self.plan.interval.is_some() && self.conns.len() + self.udp.len() <= PRECISE_TICK_CONNS {
            cx.set_precise_timer(Duration::from_micros(100), TICK);
        } else {
            cx.set_timer(Duration::from_millis(1), TICK);
        }
    }

    fn report_progress(&mut self, cx: &mut Context<'_>) {
        let now = cx.now();
        let (then, before) = self.last_progress;
        let secs = now.saturating_duration_since(then).as_secs_f64().max(1e-9);
        let p = Progress {
            elapsed: now.saturating_duration_since(self.started),
            requests: self.total,
            rate: (self.total - before) as f64 / secs,
            warming_up: self.measuring_since.is_none(),
        };
        self.last_progress = (now, self.total);
        if let Some(f) = self.progress.as_mut() {
            f(&p);
        }
        cx.set_timer(Duration::from_secs(1), PROGRESS);
    }
}

impl Handler for Driver {
    fn on_connect(&mut self, cx: &mut Context<'_>, conn: ConnId) {
        if self.plan.interval.is_none() {
            for _ in 0..self.plan.pipeline {
                self.send_tcp(cx, conn, Instant::now());
            }
        } else if let Some(c) = self.conns.get_mut(&conn) {
            c.next_due = Instant::now();
        }
    }

    fn on_data(&mut self, cx: &mut Context<'_>, conn: ConnId, data: &[u8]) -> usize {
        // The clock is read per call, not per turn: an answer that arrives in the turn its
        // request was sent in must not measure zero.
        let now = Instant::now();
        let framed = self.plan.proto == Proto::Framed;
        let size = self.plan.size;
        let answer = if framed { size + 4 } else { size };
        let header = (size as u32).to_be_bytes();
        let mut at = 0;
        while at < data.len() {
            let Some(c) = self.conns.get_mut(&conn) else {
                return data.len();
            };
            let Some(&(seq, sent)) = c.inflight.front() else {
                let msg = format!(
                    "connection {}: {} bytes came back that nobody asked for",
                    c.idx,
                    data.len() - at
                );
                self.fail(cx, msg);
                return data.len();
            };
            let take = (answer - c.got).min(data.len() - at);
            let got = &data[at..at + take];
            // What should have come: the header's bytes (framed), then the payload's, made
            // afresh into the scratch buffer and compared in one go.
            let mut expected = std::mem::take(&mut self.scratch);
            expected.clear();
            expected.resize(take, 0);
            let mut k = 0;
            while k < take && framed && c.got + k < 4 {
                expected[k] = header[c.got + k];
                k += 1;
            }
            let payload_from = (c.got + k).saturating_sub(if framed { 4 } else { 0 });
            pattern::fill_at(c.idx, seq, payload_from, &mut expected[k..]);
            let bad = got.iter().zip(&expected).position(|(g, e)| g != e);
            self.scratch = expected;
            if let Some(k) = bad {
                let pos = c.got + k;
                let what = if framed && pos < 4 {
                    "length header"
                } else {
                    "payload"
                };
                let pos = if framed && pos >= 4 { pos - 4 } else { pos };
                let msg = format!(
                    "mismatch on connection {}, request {seq}, {what} byte {pos}: sent {:#04x}, got {:#04x} back",
                    c.idx, self.scratch[k], got[k]
                );
                self.fail(cx, msg);
                return data.len();
            }
            c.got += take;
            at += take;
            if c.got == answer {
                c.got = 0;
                c.inflight.pop_front();
                let idx = c.idx;
                self.complete(now, sent, answer, idx);
                if self.plan.interval.is_none() && !self.done {
                    self.send_tcp(cx, conn, now);
                }
            }
        }
        data.len()
    }

    fn on_datagram(&mut self, cx: &mut Context<'_>, socket: DgramId, data: &[u8], _: &PeerAddr) {
        let now = Instant::now();
        let upper = self.plan.upper;
        let size = self.plan.size;
        let Some(u) = self.udp.get_mut(&socket) else {
            return;
        };
        let seq = if upper {
            pattern::seq_of_upper(data)
        } else {
            pattern::seq_of_upper(&data.to_ascii_uppercase())
        };
        let Some(seq) = seq else {
            let msg = format!(
                "socket {}: a datagram without a sequence number came back",
                u.idx
            );
            self.fail(cx, msg);
            return;
        };
        let Some(sent) = u.inflight.remove(&seq) else {
            return; // late: already counted as lost
        };
        let idx = u.idx;
        let ok = data.len() == size
            && data.iter().enumerate().all(|(i, &b)| {
                let l = pattern::letter(idx, seq, i);
                b == if upper { l.to_ascii_uppercase() } else { l }
            });
        if !ok {
            self.fail(cx, format!("mismatch on socket {idx}, datagram {seq}: the reply differs from what was sent"));
            return;
        }
        self.complete(now, sent, size, idx);
        if self.plan.interval.is_none() && !self.done {
            self.send_udp(cx, socket, now);
        }
    }

    fn on_close(&mut self, cx: &mut Context<'_>, conn: ConnId, reason: &CloseReason) {
        if let Some(c) = self.conns.remove(&conn) {
            if !self.done {
                self.fail(
                    cx,
                    format!("connection {} closed before the end: {reason}", c.idx),
                );
            }
        }
    }

    fn on_timer(&mut self, cx: &mut Context<'_>, _: TimerId, token: u64) {
        match token {
            TICK if !self.done => self.tick(cx),
            PROGRESS if !self.done => self.report_progress(cx),
            MEASURE => self.measuring_since = Some(cx.now()),
            END => {
                self.done = true;
                let since = self.measuring_since.unwrap_or(cx.now());
                self.measured = cx.now().saturating_duration_since(since);
                cx.stop();
            }
            _ => {}
        }
    }
}
