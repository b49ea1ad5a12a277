//! One randomized session from a seed (or from a fuzzer's bytes): random settings, faults and
//! client behaviour, with the invariants checked after every step; then, with the faults
//! stopped, every connection must finish its work within a stated virtual time (liveness).

use std::time::Duration;

use super::event::SimEvent;
use super::harness::Sim;
use crate::conn::Timeouts;
use crate::memnet::{ClientId, Fault, Faults, Kind, Remote, Rng, Seen};
use crate::reactor::{Config, Stats};

/// What a randomized session did (to see that it did something).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Clients that connected.
    pub clients: usize,
    /// Bytes the clients sent.
    pub bytes_sent: usize,
    /// Timeouts that fired.
    pub timeouts: u64,
    /// Connections the server closed with an error or timeout reason.
    pub unclean_closes: usize,
    /// Virtual time the session took.
    pub elapsed: Duration,
    /// The reactor's counters at the end.
    pub stats: Stats,
    /// A hash of the whole trace: the same seed must give the same hash.
    pub trace_hash: u64,
    /// The faults the reactor met, by kind.
    pub seen: Seen,
    /// Blocks the buffer pool allocated for want of an idle one, in sessions whose pool
    /// keeps at most one idle block (the pool running dry, as a fault); 0 in the others.
    pub pool_dry: u64,
    /// User timers that fired: `(wheel, precise)`.
    pub timers_fired: (u64, u64),
    /// Jobs the echo service ran on the pool (inline in the simulation).
    pub jobs_done: u64,
    /// The echo service's outgoing connects: `(connected, refused, timed out)`.
    pub dials: (u64, u64, u64),
    /// Datagrams the service received: `(UDP, Unix)`.
    pub datagrams: (u64, u64),
    /// The session read UDP in batches (`Config::udp_batching`: `recvmmsg` and `sendmmsg`,
    /// whose kernel side the network plays).
    pub udp_batched: bool,
    /// In a session with a server of two reactors, the connections its second reactor
    /// served (accepted, or handed to it by the balance); 0 in the others.
    pub second_reactor: u64,
    /// Descriptors the service took on Unix streams and on seqpacket connections (each
    /// passed by a client, through the same control-data parse as on a real socket).
    pub fds_taken: (u64, u64),
}

/// How long, in virtual time, every connection has to finish its work once the faults stop.
pub const LIVENESS_WITHIN: Duration = Duration::from_secs(30);

/// Where a session's choices come from: a seeded generator, or a fuzzer's bytes.
trait Draw {
    /// A number below `n` (0 if `n` is 0).
    fn below(&mut self, n: u64) -> u64;

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: u8) -> bool {
        self.below(100) < u64::from(percent)
    }

    /// 64 bits.
    fn next_u64(&mut self) -> u64;
}

impl Draw for Rng {
    fn below(&mut self, n: u64) -> u64 {
        Rng::below(self, n)
    }

    fn next_u64(&mut self) -> u64 {
        Rng::next_u64(self)
    }
}

/// A fuzzer's bytes as choices: a byte for a small choice, four for a large one, then zeros
/// once they run out (so that every input is a complete, and short, session).
struct Bytes<'a> {
    data: &'a [u8],
    at: usize,
}

impl Bytes<'_> {
    fn take(&mut self, n: usize) -> u64 {
        let mut v = 0u64;
        for _ in 0..n {
            let b = self.data.get(self.at).copied().unwrap_or(0);
            self.at += 1;
            v = (v << 8) | u64::from(b);
        }
        v
    }
}

impl Draw for Bytes<'_> {
    fn below(&mut self, n: u64) -> u64 {
        match n {
            0 => 0,
            1..=256 => self.take(1) % n,
            _ => self.take(4) % n,
        }
    }

    fn next_u64(&mut self) -> u64 {
        self.take(8)
    }
}

fn maybe_ms(rng: &mut impl Draw, percent: u8, lo: u64, hi: u64) -> Option<Duration> {
    rng.chance(percent)
        .then(|| Duration::from_millis(lo + rng.below(hi - lo)))
}

/// Settings and faults drawn from `rng`: small buffers and budgets, so that backpressure,
/// budgets and the read list all come into play; now and then a pool that keeps almost no
/// idle block, so that it runs dry.
fn draw(rng: &mut impl Draw) -> (Config, Faults, bool) {
    let high = 1024 + rng.below(16 * 1024) as usize;
    let mut config = Config {
        timeouts: Timeouts {
            read: maybe_ms(rng, 30, 5, 300),
            write: maybe_ms(rng, 30, 5, 300),
            idle: maybe_ms(rng, 30, 5, 300),
            frame: maybe_ms(rng, 50, 5, 300),
            connect: maybe_ms(rng, 50, 5, 300),
            handshake: None,
        },
        read_budget: 1 + rng.below(32 * 1024) as usize,
        accept_batch: 1 + rng.below(4) as usize,
        read_buffer_size: 64 + rng.below(4096) as usize,
        write_buffer_size: 64 + rng.below(4096) as usize,
        high_watermark: high,
        low_watermark: rng.below(high as u64) as usize,
        linger: Duration::from_millis(rng.below(50)),
        accept_backoff: Duration::from_millis(1 + rng.below(20)),
        udp_batching: rng.chance(40),
        max_pooled_buffers: if rng.chance(20) {
            rng.below(2) as usize
        } else {
            1024
        },
        ..Config::default()
    };
    let tight = rng.chance(30);
    if tight {
        // A tight input budget: a few partial messages fill it, and the others wait. The
        // echo service announces no message sizes, so growth is admitted step by step and
        // half-grown messages can hold the budget between them: the frame timeout is what
        // ends such a wait, so it is set.
        config.max_read_buffer = config.read_buffer_size + rng.below(64 * 1024) as usize;
        config.max_buffered = config.max_read_buffer * (1 + rng.below(4) as usize);
        config.timeouts.frame = Some(Duration::from_millis(5 + rng.below(300)));
    }
    let mut pct = |max: u64| rng.below(max + 1) as u8;
    let faults = Faults {
        short_read: pct(40),
        short_write: pct(40),
        would_block: pct(20),
        accept_emfile: pct(20),
        accept_aborted: pct(10),
        split_events: pct(30),
        interrupted: pct(10),
        reset_mid_write: pct(3),
        spurious: pct(30),
        accept_enfile: pct(10),
        accept_enobufs: pct(10),
        stale_events: pct(50),
        zero_window: pct(30),
        late_timers: pct(40),
        ctrunc: pct(30),
    };
    (config, faults, tight)
}

/// Play one randomized session of `steps` steps from `seed`, then let every client finish.
///
/// # Errors
///
/// The first broken invariant, with the seed and the end of the trace.
pub fn random_run(seed: u64, steps: usize) -> Result<RunSummary, String> {
    random_run_with(seed, steps, ALL_FAULTS)
}

/// Every fault kind, as a mask for [`random_run_with`].
pub const ALL_FAULTS: u32 = (1 << Fault::ALL.len()) - 1;

/// [`random_run`] with only the fault kinds in `mask` injected (bit `i` for
/// `Fault::ALL[i]`): how a shrunk failure replays.
///
/// # Errors
///
/// As [`random_run`].
pub fn random_run_with(seed: u64, steps: usize, mask: u32) -> Result<RunSummary, String> {
    let name = format!("seed {seed}, {steps} steps, faults {mask:#x}");
    session(&mut Rng::new(seed), &name, steps, mask)
}

/// A failing run made smaller: fewer steps, fewer kinds of fault, failing still.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shrunk {
    /// The seed.
    pub seed: u64,
    /// The fewest steps found that still fail.
    pub steps: usize,
    /// The fault kinds still needed (bit `i` for `Fault::ALL[i]`).
    pub mask: u32,
    /// The failure, as the shrunk run reports it.
    pub failure: String,
}

impl Shrunk {
    /// The one command that replays this failure and prints its trace.
    pub fn command(&self) -> String {
        format!(
            "cargo run -p netloop --example sim_trace -- replay {} {} {:#x}",
            self.seed, self.steps, self.mask
        )
    }

    /// The fault kinds still needed, by name.
    pub fn faults(&self) -> Vec<&'static str> {
        Fault::ALL
            .iter()
            .enumerate()
            .filter(|(i, _)| self.mask & (1 << i) != 0)
            .map(|(_, f)| f.name())
            .collect()
    }
}

/// Shrink a failing `random_run(seed, steps)`: halve the steps while it fails, then turn off
/// each fault kind in turn, keeping it off when the run fails without it. Each candidate is
/// a whole replayable run ([`random_run_with`]); `None` if the run does not fail.
pub fn shrink(seed: u64, steps: usize) -> Option<Shrunk> {
    let mut failure = random_run_with(seed, steps, ALL_FAULTS).err()?;
    let (mut steps, mut mask) = (steps, ALL_FAULTS);
    while steps > 1 {
        match random_run_with(seed, steps / 2, mask) {
            Err(e) => {
                steps /= 2;
                failure = e;
            }
            Ok(_) => break,
        }
    }
    for i in 0..Fault::ALL.len() {
        let without = mask & !(1 << i);
        if let Err(e) = random_run_with(seed, steps, without) {
            mask = without;
            failure = e;
        }
    }
    Some(Shrunk {
        seed,
        steps,
        mask,
        failure,
    })
}

/// [`random_run`] with every choice taken from `data` (a fuzzer's input) instead of a seed:
/// the settings, the faults' rates and seed, and each step. At most `steps` steps, fewer
/// for a short input.
///
/// # Errors
///
/// As [`random_run`].
pub fn fuzzed_run(data: &[u8], steps: usize) -> Result<RunSummary, String> {
    let steps = steps.min(data.len());
    session(&mut Bytes { data, at: 0 }, "fuzz input", steps, ALL_FAULTS)
}

/// The fuzz target `sim` (`fuzz/fuzz_targets/sim.rs`): a session whose every choice the
/// fuzzer's bytes make ([`fuzzed_run`], at most 400 steps); a broken invariant, or a
/// connection that does not finish once the faults stop, panics with the trace's end.
pub fn fuzz(data: &[u8]) {
    if let Err(e) = fuzzed_run(data, 400) {
        panic!("{e}");
    }
}

fn session(rng: &mut impl Draw, name: &str, steps: usize, mask: u32) -> Result<RunSummary, String> {
    let (config, faults, tight) = draw(rng);
    let faults = faults.only(|f| mask & (1 << f as u32) != 0);
    let dry_pool = config.max_pooled_buffers <= 1;
    let fail = |sim: &Sim, what: String| {
        let trace = sim.take_trace();
        // The end of the trace; all of it with NETLOOP_SIM_FULL_TRACE set (for a replay).
        let keep = if std::env::var_os("NETLOOP_SIM_FULL_TRACE").is_some() {
            trace.len()
        } else {
            40
        };
        let tail = trace[trace.len().saturating_sub(keep)..].join("\n");
        format!("{name}: {what}\nconfig: {config:?}\nfaults: {faults:?}\nlast trace lines:\n{tail}")
    };
    let seed = rng.next_u64();
    // Now and then a server of two reactors: one listener, the balance, a shared limit.
    let reactors = if rng.chance(25) { 2 } else { 1 };
    let mut sim = Sim::server(seed, faults, config, reactors).map_err(|e| e.to_string())?;
    // Keeping a connection whose message timed out keeps its share of a tight budget, and
    // the connections waiting for it wait for ever, by design: not with a tight budget.
    let keep_open = rng.chance(30) && !tight;
    sim.keep_open_on_timeout(keep_open);
    sim.echo_lines(rng.chance(50));
    // Short lines, or long ones that grow a buffer (and meet the budget, or its limit).
    let line_every = if rng.chance(50) { 100 } else { 20_000 };
    if rng.chance(30) {
        sim.close_after_data(1 + rng.below(10) as u8);
    }
    if rng.chance(20) {
        sim.panic_in_on_data(1 + rng.below(5) as u8);
    }
    if rng.chance(40) {
        sim.set_timers(1 + rng.below(30) as u8);
    }
    sim.echo_via_workers(rng.chance(20));
    // Some sessions end in a graceful shutdown of the reactor, at a random step.
    let shutdown_at = rng.chance(20).then(|| rng.below(steps as u64 + 1) as usize);
    let max_clients = 1 + rng.below(6) as usize;
    // The remote services the echo service's outgoing connects meet (nothing on 9001).
    sim.remote(9000, Remote::Answers);
    sim.remote(9002, Remote::Silent);
    // A connect to a silent host ends only by its timeout, and only if the service does not
    // keep it going.
    let can_time_out = config.timeouts.connect.is_some() && !keep_open;
    let mut live: Vec<ClientId> = Vec::new();
    let mut sent = 0;
    for step in 0..steps {
        if shutdown_at == Some(step) {
            sim.shutdown_reactor(Duration::from_millis(rng.below(300)));
        }
        match rng.below(10) {
            0 if live.len() < max_clients && rng.chance(25) => {
                // The service connects out: most reach a peer, some are refused, and (with
                // a connect timeout to end them) some meet a host that never answers.
                let port = match rng.below(10) {
                    0..=6 => 9000,
                    9 if can_time_out => 9002,
                    _ => 9001,
                };
                match sim.dial(port) {
                    Ok(c) if port == 9000 => live.push(c),
                    Ok(_) => {}
                    Err(e) => return Err(fail(&sim, format!("connect: {e}"))),
                }
            }
            0 if live.len() < max_clients => {
                // TCP mostly; Unix streams and seqpacket connections, which carry
                // descriptors, now and then.
                let kind = match rng.below(10) {
                    0 | 1 => Kind::UnixStream,
                    2 | 3 => Kind::Seqpacket,
                    _ => Kind::Tcp,
                };
                if let Ok(c) = sim.connect_kind(kind) {
                    live.push(c);
                }
            }
            1..=3 if !live.is_empty() => {
                let c = live[rng.below(live.len() as u64) as usize];
                let len = 1 + rng.below(3000) as usize;
                // Random bytes, with a line end now and then (for the line mode).
                let data: Vec<u8> = (0..len)
                    .map(|_| {
                        if rng.below(line_every) == 0 {
                            b'\n'
                        } else {
                            // Any byte but a line end.
                            let b = rng.below(255) as u8;
                            if b >= b'\n' {
                                b + 1
                            } else {
                                b
                            }
                        }
                    })
                    .collect();
                sent += if sim.kind_of(c).is_unix() && rng.chance(30) {
                    let fds = 1 + rng.below(3) as usize;
                    sim.send_fds(c, &data, fds).unwrap_or(0)
                } else {
                    sim.send(c, &data).unwrap_or(0)
                };
            }
            4 | 5 if !live.is_empty() => {
                let c = live[rng.below(live.len() as u64) as usize];
                sim.recv_some(c, 1 + rng.below(8192) as usize);
            }
            6 if !live.is_empty() && rng.chance(20) => {
                let i = rng.below(live.len() as u64) as usize;
                if rng.chance(50) {
                    sim.shutdown(live[i]);
                } else {
                    sim.reset(live.swap_remove(i));
                }
            }
            7 => sim.advance(Duration::from_millis(rng.below(40))),
            8 if rng.chance(60) => {
                // A datagram for the upper-casing service, from one of up to three peers.
                let peers = sim.dgram_peers().len() as u64;
                let p = if peers > 0 && (peers == 3 || !rng.chance(30)) {
                    rng.below(peers) as usize
                } else if rng.chance(40) {
                    sim.unix_dgram_peer()
                } else {
                    sim.dgram_peer()
                };
                let len = 1 + rng.below(1500) as usize;
                let data: Vec<u8> = (0..len).map(|_| b'a' + rng.below(52) as u8).collect();
                sim.send_datagram(p, &data);
            }
            9 if !sim.dgram_peers().is_empty() => {
                let p = rng.below(sim.dgram_peers().len() as u64) as usize;
                sim.recv_datagrams(p);
            }
            _ => {}
        }
        let wait = Duration::from_millis(rng.below(20));
        if let Err(e) = sim.turn(wait) {
            return Err(fail(&sim, e.to_string()));
        }
    }
    // Liveness: the faults stop, and with no more input every echo completes (or the
    // connection ends) within LIVENESS_WITHIN of virtual time, without any end of file to
    // wake the reactor; a stranded byte would show here.
    sim.net().set_faults(Faults::NONE);
    let deadline = sim.elapsed() + LIVENESS_WITHIN;
    let settled =
        |sim: &Sim, c: ClientId| sim.finished(c) || sim.received(c).len() == sim.echo_due(c);
    let peers_settled = |sim: &Sim| sim.dgram_peers().all(|p| sim.datagrams_settled(p));
    for _ in 0..20_000 {
        if sim.elapsed() > deadline {
            break;
        }
        for &c in &live {
            sim.recv(c);
        }
        for p in sim.dgram_peers() {
            sim.recv_datagrams(p);
        }
        if live.iter().all(|&c| settled(&sim, c)) && peers_settled(&sim) {
            break;
        }
        if let Err(e) = sim.turn(Duration::from_millis(5)) {
            return Err(fail(&sim, e.to_string()));
        }
    }
    if let Some(p) = sim.dgram_peers().find(|&p| !sim.datagrams_settled(p)) {
        let (sent, got, lost) = sim.datagrams(p);
        let what = format!(
            "datagram peer {p}: {got} replies ({lost} lost) to {sent} datagrams within {LIVENESS_WITHIN:?} of the faults stopping"
        );
        return Err(fail(&sim, what));
    }
    if let Some(c) = live.iter().find(|&&c| !settled(&sim, c)) {
        let what = format!(
            "client {}: {} of {} bytes echoed within {LIVENESS_WITHIN:?} of the faults stopping, and the connection stays open",
            c.0,
            sim.received(*c).len(),
            sim.echo_due(*c)
        );
        return Err(fail(&sim, what));
    }
    // The end: every client finishes sending and reads until the server closes.
    for &c in &live {
        sim.shutdown(c);
    }
    for _ in 0..20_000 {
        for &c in &live {
            sim.recv(c);
        }
        if live.iter().all(|&c| sim.finished(c)) && sim.stats().active == 0 {
            break;
        }
        if let Err(e) = sim.turn(Duration::from_millis(5)) {
            return Err(fail(&sim, e.to_string()));
        }
    }
    if let Some(c) = live.iter().find(|&&c| !sim.finished(c)) {
        return Err(fail(&sim, format!("client {} never finished", c.0)));
    }
    if sim.stats().active != 0 {
        return Err(fail(&sim, "connections left open at the end".into()));
    }
    if let Err(e) = sim.check_outcome() {
        return Err(fail(&sim, e));
    }
    if let Err(e) = sim.check_descriptors() {
        return Err(fail(&sim, e));
    }
    let stats = sim.stats();
    let trace_hash = {
        use std::hash::{Hash, Hasher};
        // SipHash with fixed keys: the same on every run of the same build.
        let mut h = std::collections::hash_map::DefaultHasher::new();
        sim.take_trace().hash(&mut h);
        h.finish()
    };
    Ok(RunSummary {
        clients: sim.clients().count(),
        bytes_sent: sent,
        timeouts: stats.timeouts,
        unclean_closes: sim
            .events()
            .iter()
            .filter(|e| matches!(e, SimEvent::Closed { clean: false, .. }))
            .count(),
        elapsed: sim.elapsed(),
        stats,
        trace_hash,
        seen: sim.seen(),
        pool_dry: if dry_pool { sim.pool_dry_takes() } else { 0 },
        timers_fired: sim.timers_fired(),
        jobs_done: sim.jobs_done(),
        dials: sim.dials(),
        datagrams: sim.datagrams_by_kind(),
        udp_batched: config.udp_batching,
        second_reactor: if reactors > 1 {
            sim.stats_of(1).accepted
        } else {
            0
        },
        fds_taken: sim.descriptors().1,
    })
}
