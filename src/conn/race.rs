//! [`Race`]: Happy Eyeballs (RFC 8305), the decisions of one connection by name, sans-IO:
//! which address to try next and when, and when to give up. `now` goes in, one [`Step`]
//! comes out; the caller carries it out (the reactor's dials, `reactor/dial.rs`, on its slab
//! and wheel; the blocking facade's `create_connection`, with `poll(2)`) and reports back
//! what each attempt did.
//!
//! The rules: the addresses are tried in [`interleave`]d order (the families alternating,
//! IPv6 first); the first attempt starts at once; the next starts beside those under way
//! when `delay` passes with no answer, or at once when an attempt fails; the first to
//! connect wins (the caller's to see); `timeout`, from the start, bounds the whole of it,
//! look-up included. The errors name every address tried and what it said.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Split `"host:service"` into the host and the service (a port number or a name such as
/// `http`). An IPv6 address is written in brackets: `[::1]:80`.
///
/// # Errors
///
/// `InvalidInput`, saying what is wrong.
pub fn split_target(target: &str) -> io::Result<(&str, &str)> {
    let bad = |why: &str| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("cannot connect to {target:?}: {why}"),
        )
    };
    let (host, service) = if let Some(rest) = target.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| bad("an opening '[' without its ']'"))?;
        let service = after
            .strip_prefix(':')
            .ok_or_else(|| bad("expected host:service, as [::1]:80"))?;
        (host, service)
    } else {
        let (host, service) = target
            .rsplit_once(':')
            .ok_or_else(|| bad("expected host:service, as example.com:80"))?;
        if host.contains(':') {
            return Err(bad("write an IPv6 address in brackets, as [::1]:80"));
        }
        (host, service)
    };
    if host.is_empty() || service.is_empty() {
        return Err(bad("expected host:service, as example.com:80"));
    }
    Ok((host, service))
}

/// `addrs` in the order Happy Eyeballs tries them (RFC 8305, section 4): the families
/// interleaved, IPv6 first, each family in the resolver's order.
pub fn interleave(addrs: Vec<SocketAddr>) -> VecDeque<SocketAddr> {
    let (v6, v4): (Vec<_>, Vec<_>) = addrs.into_iter().partition(SocketAddr::is_ipv6);
    let (mut v6, mut v4) = (v6.into_iter(), v4.into_iter());
    let mut out = VecDeque::new();
    loop {
        match (v6.next(), v4.next()) {
            (None, None) => return out,
            (a, b) => out.extend(a.into_iter().chain(b)),
        }
    }
}

/// What a dial does next (see [`Race::next`]).
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Start an attempt to this address (then [`Race::failed`] if it cannot even start).
    Start(SocketAddr),
    /// Nothing until an attempt answers or this instant (`None`: only an answer).
    Wait(Option<Instant>),
    /// The dial failed: its error's kind and what happened.
    Fail(io::ErrorKind, String),
}

/// One dial's decisions (see the module docs): sans-IO, `now` in, one step out.
#[derive(Debug)]
pub struct Race {
    /// `Timeouts::connect`, and the instant it ends.
    timeout: Option<(Duration, Instant)>,
    delay: Duration,
    /// The addresses not tried yet; `None` while the name is being looked up.
    untried: Option<VecDeque<SocketAddr>>,
    in_flight: usize,
    /// When the next attempt may start without waiting for an answer.
    next_start: Instant,
    /// What each failed attempt said (or the look-up's error), and the last error's kind.
    failures: Vec<String>,
    last_kind: io::ErrorKind,
}

impl Race {
    /// A dial started at `now`, bounded by `timeout`, starting a new attempt every `delay`
    /// while none answers.
    pub fn new(now: Instant, timeout: Option<Duration>, delay: Duration) -> Race {
        Race {
            timeout: timeout.and_then(|t| Some((t, now.checked_add(t)?))),
            delay,
            untried: None,
            in_flight: 0,
            next_start: now,
            failures: Vec::new(),
            last_kind: io::ErrorKind::NotFound,
        }
    }

    /// The look-up answered.
    pub fn resolved(&mut self, addrs: io::Result<Vec<SocketAddr>>) {
        match addrs {
            Ok(addrs) => self.untried = Some(interleave(addrs)),
            Err(e) => {
                self.last_kind = e.kind();
                self.failures.push(e.to_string());
                self.untried = Some(VecDeque::new());
            }
        }
    }

    /// The attempt to `addr` failed at `now` with `err`: the next may start at once.
    pub fn failed(&mut self, addr: SocketAddr, err: &io::Error, now: Instant) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.last_kind = err.kind();
        self.failures.push(format!("{addr}: {err}"));
        self.next_start = now;
    }

    /// What to do at `now`.
    pub fn next(&mut self, now: Instant) -> Step {
        if let Some((timeout, deadline)) = self.timeout {
            if now >= deadline {
                let what = match self.untried {
                    None => format!("the name was not looked up within {timeout:?}"),
                    Some(_) => format!("no connection within {timeout:?}"),
                };
                return Step::Fail(io::ErrorKind::TimedOut, self.with_failures(what));
            }
        }
        let deadline = self.timeout.map(|(_, d)| d);
        let Some(untried) = &mut self.untried else {
            return Step::Wait(deadline);
        };
        if !untried.is_empty() && (self.in_flight == 0 || now >= self.next_start) {
            let addr = untried.pop_front().expect("checked non-empty");
            self.in_flight += 1;
            self.next_start = now.checked_add(self.delay).unwrap_or(now);
            return Step::Start(addr);
        }
        if self.in_flight > 0 {
            let next = (!untried.is_empty()).then_some(self.next_start);
            return Step::Wait(earliest(next, deadline));
        }
        if self.failures.is_empty() {
            return Step::Fail(io::ErrorKind::NotFound, "the name has no address".into());
        }
        Step::Fail(self.last_kind, self.failures.join("; "))
    }

    fn with_failures(&self, what: String) -> String {
        if self.failures.is_empty() {
            what
        } else {
            format!("{what} ({})", self.failures.join("; "))
        }
    }
}

/// The earlier of two optional instants.
fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
