//! [`ping`]: the [`Pinger`] driven by a reactor. The ICMP socket is registered like any
//! datagram socket (readiness, never a blocking read); requests go out on a timer, each
//! request's timeout is a timer on the same wheel, and replies arrive through
//! [`Handler::on_datagram`].

use std::io;
use std::net::{IpAddr, SocketAddr, SocketAddrV6};
use std::time::{Duration, Instant};

use super::ping::{choose_ident, random_cookie, PingReply, PingSummary, Pinger};
use super::socket::{IcmpKind, IcmpMode, IcmpSocket};
use crate::reactor::{Context, DgramId, Handler, PeerAddr, Reactor, TimerId};
use crate::sys::{SignalMask, Signals};
use crate::wire::IcmpVersion;

/// How to ping (the flags of `netloop ping`).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PingOptions {
    /// How many requests to send; `None` until stopped by a signal (SIGINT or SIGTERM, when
    /// `stop_on_signal` is set).
    pub count: Option<u32>,
    /// Time between requests (at least 1 ms, the timer wheel's resolution).
    pub interval: Duration,
    /// How long to wait for each reply.
    pub timeout: Duration,
    /// Data bytes per request (56, as ping's default, making 64-byte ICMP messages).
    pub size: usize,
    /// Which ICMP socket to use.
    pub mode: IcmpMode,
    /// Stop (and return the summary) on SIGINT or SIGTERM. The signals are blocked in the
    /// calling thread for the run (see [`Signals`]), and its mask restored afterwards.
    pub stop_on_signal: bool,
    /// The scope (interface index) of a link-local IPv6 target (`fe80::1%eth0`); 0 for
    /// none.
    pub scope_id: u32,
}

impl Default for PingOptions {
    fn default() -> PingOptions {
        PingOptions {
            count: None,
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
            size: 56,
            mode: IcmpMode::Auto,
            stop_on_signal: false,
            scope_id: 0,
        }
    }
}

impl PingOptions {
    /// Send `count` requests, then stop once each is answered or timed out.
    pub fn count(mut self, count: u32) -> PingOptions {
        self.count = Some(count);
        self
    }
    /// Set the time between requests.
    pub fn interval(mut self, interval: Duration) -> PingOptions {
        self.interval = interval;
        self
    }
    /// Set how long to wait for each reply.
    pub fn timeout(mut self, timeout: Duration) -> PingOptions {
        self.timeout = timeout;
        self
    }
    /// Set the data size of each request.
    pub fn size(mut self, size: usize) -> PingOptions {
        self.size = size;
        self
    }
    /// Choose the kind of ICMP socket.
    pub fn mode(mut self, mode: IcmpMode) -> PingOptions {
        self.mode = mode;
        self
    }
    /// Stop on SIGINT or SIGTERM.
    pub fn stop_on_signal(mut self, yes: bool) -> PingOptions {
        self.stop_on_signal = yes;
        self
    }
    /// Set the IPv6 scope (interface index) for a link-local target.
    pub fn scope_id(mut self, scope_id: u32) -> PingOptions {
        self.scope_id = scope_id;
        self
    }
}

/// Something that happened during a ping run, as it happens.
#[derive(Debug)]
#[non_exhaustive]
pub enum PingEvent<'a> {
    /// A reply matched its request.
    Reply(&'a PingReply),
    /// No reply to request `seq` within the timeout.
    Timeout {
        /// The request's sequence number.
        seq: u16,
    },
    /// Sending request `seq` failed (it still counts as transmitted, as in ping).
    SendFailed {
        /// The request's sequence number.
        seq: u16,
        /// What `sendto` said.
        error: &'a io::Error,
    },
}

/// What [`ping`] returns: the kind of socket used and the summary.
#[derive(Clone, Debug)]
pub struct PingRun {
    /// Raw or datagram socket.
    pub kind: IcmpKind,
    /// The echo identifier.
    pub ident: u16,
    /// Counts and round-trip statistics.
    pub summary: PingSummary,
    /// From the first request to the end of the run.
    pub elapsed: Duration,
}

/// Ping `target`: send echo requests as `opts` says, calling `on_event` for each reply,
/// timeout and failed send, and return the summary when done (every request answered or
/// timed out after `count` of them, or a signal with `stop_on_signal`).
///
/// # Errors
///
/// Opening the socket (`PermissionDenied` with an
/// [`IcmpNotPermitted`](super::IcmpNotPermitted) that says how to allow it); `InvalidInput`
/// for an interval under 1 ms, a data size over 65,000 bytes, a count of 0, a zero timeout,
/// or no count without `stop_on_signal` (nothing would ever stop it); or the reactor failing.
pub fn ping(
    target: IpAddr,
    opts: &PingOptions,
    on_event: impl FnMut(PingEvent<'_>),
) -> io::Result<PingRun> {
    let invalid = |msg: &str| Err(io::Error::new(io::ErrorKind::InvalidInput, msg.to_string()));
    if opts.interval < Duration::from_millis(1) {
        return invalid("the interval must be at least 1 ms");
    }
    if opts.size > 65_000 {
        return invalid("the data size must be at most 65000 bytes");
    }
    if opts.count == Some(0) {
        return invalid("the count must be at least 1");
    }
    if opts.timeout.is_zero() {
        return invalid("the timeout must be more than zero");
    }
    if opts.count.is_none() && !opts.stop_on_signal {
        return invalid("without a count, ping runs until a signal: set stop_on_signal");
    }
    let version = match target {
        IpAddr::V4(_) => IcmpVersion::V4,
        IpAddr::V6(_) => IcmpVersion::V6,
    };
    let sock = IcmpSocket::open(version, opts.mode)?;
    let kind = sock.kind();
    let ident = sock.kernel_ident()?.unwrap_or_else(choose_ident);
    let pinger = Pinger::new(version, kind, ident, random_cookie(), opts.size);
    let target = match target {
        IpAddr::V4(a) => SocketAddr::from((a, 0)),
        IpAddr::V6(a) => SocketAddrV6::new(a, 0, 0, opts.scope_id).into(),
    };
    let driver = Driver {
        pinger,
        target,
        count: opts.count,
        interval: opts.interval,
        timeout: opts.timeout,
        socket: None,
        started: None,
        on_event,
    };
    // The signals are blocked for this run only: the caller's mask comes back afterwards.
    let mask = if opts.stop_on_signal {
        Some(SignalMask::current()?)
    } else {
        None
    };
    let result = run_reactor(driver, sock, opts.stop_on_signal);
    if let Some(mask) = mask {
        mask.restore()?;
    }
    let (summary, elapsed) = result?;
    Ok(PingRun {
        kind,
        ident,
        summary,
        elapsed,
    })
}

fn run_reactor<F: FnMut(PingEvent<'_>)>(
    driver: Driver<F>,
    sock: IcmpSocket,
    stop_on_signal: bool,
) -> io::Result<(PingSummary, Duration)> {
    let mut reactor = Reactor::new(driver)?;
    if stop_on_signal {
        reactor.add_signals(Signals::termination()?)?;
    }
    reactor.with_context(|d, cx| -> io::Result<()> {
        d.socket = Some(sock.add_to(cx)?);
        d.send_next(cx);
        Ok(())
    })?;
    reactor.run()?;
    let d = reactor.handler();
    Ok((
        d.pinger.summary().clone(),
        d.started.map(|t| t.elapsed()).unwrap_or_default(),
    ))
}

/// Timer tokens: one for "send the next request", and each request's timeout as its seq.
const SEND: u64 = u64::MAX;

struct Driver<F> {
    pinger: Pinger,
    target: SocketAddr,
    count: Option<u32>,
    interval: Duration,
    timeout: Duration,
    socket: Option<DgramId>,
    started: Option<Instant>,
    on_event: F,
}

impl<F: FnMut(PingEvent<'_>)> Driver<F> {
    fn send_next(&mut self, cx: &mut Context<'_>) {
        let Some(socket) = self.socket else { return };
        // The clock is read here, not taken from the turn: the round trip starts at the send.
        let now = Instant::now();
        self.started.get_or_insert(now);
        let (seq, msg) = self.pinger.request(now);
        if let Err(error) = cx.send_to(socket, &msg, PeerAddr::Inet(self.target)) {
            self.pinger.forget(seq);
            (self.on_event)(PingEvent::SendFailed { seq, error: &error });
        } else {
            cx.set_timer(self.timeout, u64::from(seq));
        }
        if !self.all_sent() {
            cx.set_timer(self.interval, SEND);
        }
        self.stop_if_done(cx);
    }

    fn all_sent(&self) -> bool {
        self.count
            .is_some_and(|c| self.pinger.summary().transmitted >= c)
    }

    fn stop_if_done(&self, cx: &mut Context<'_>) {
        if self.all_sent() && self.pinger.waiting() == 0 {
            cx.stop();
        }
    }
}

impl<F: FnMut(PingEvent<'_>)> Handler for Driver<F> {
    fn on_datagram(&mut self, cx: &mut Context<'_>, _: DgramId, data: &[u8], peer: &PeerAddr) {
        let Some(from) = peer.inet().map(|a| a.ip()) else {
            return;
        };
        // The turn's clock: read just after the poll returned, the closest to the arrival.
        match self.pinger.on_packet(data, from, cx.now()) {
            Ok(reply) => (self.on_event)(PingEvent::Reply(&reply)),
            Err(why) => log::trace!("ignored an ICMP packet from {from}: {why}"),
        }
        self.stop_if_done(cx);
    }

    fn on_timer(&mut self, cx: &mut Context<'_>, _: TimerId, token: u64) {
        if token == SEND {
            self.send_next(cx);
            return;
        }
        let seq = token as u16;
        if self.pinger.expire(seq) {
            (self.on_event)(PingEvent::Timeout { seq });
        }
        self.stop_if_done(cx);
    }
}
