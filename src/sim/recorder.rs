//! The simulation's handler: the TCP echo service, with every callback written to the trace
//! and checked as it happens.

use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use super::event::SimEvent;
use super::tracks::{Track, Tracks};
use crate::conn::Timeouts;
use crate::error::{CloseReason, TimeoutKind};
use crate::memnet::{ClientId, Net};
use crate::reactor::{
    ConnId, Context, DgramId, Handler, ListenerId, PeerAddr, TimeoutAction, TimerId, WorkId,
};

/// What a deliberate panic of the echo service says (the panic hook stays quiet for it).
pub(crate) const DELIBERATE: &str = "sim: a deliberate panic in on_data";

/// Make the panic hook quiet for the echo service's deliberate panics (each would print a
/// message), and leave it as it was for every other panic.
pub(crate) fn quiet_deliberate_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() != Some(&DELIBERATE) {
                previous(info);
            }
        }));
    });
}

/// A user timer the service set and has not yet seen fire.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pending {
    pub(crate) id: TimerId,
    pub(crate) token: u64,
    pub(crate) due: Instant,
    pub(crate) precise: bool,
}

/// The echo service of the simulation.
#[derive(Debug)]
pub(crate) struct Recorder {
    net: Net,
    origin: Instant,
    /// What the service knows of each connection.
    tracks: Tracks,
    /// The timeouts configured (the model's, not the connection's own numbers).
    pub(crate) timeouts: Timeouts,
    /// Percent of `on_data` calls that panic (before doing anything).
    pub(crate) panic_percent: u8,
    /// Percent of `on_data` calls that set a user timer (half of them precise).
    pub(crate) timer_percent: u8,
    /// User timers set and not yet fired.
    pub(crate) timers: Vec<Pending>,
    /// User timers that fired: wheel, precise.
    pub(crate) timers_fired: (u64, u64),
    /// Jobs whose result came back (the simulation runs them inline).
    pub(crate) jobs_done: u64,
    /// Outgoing connects by how they ended: connected, refused, timed out.
    pub(crate) dials: (u64, u64, u64),
    /// Datagrams received: on the UDP socket, on the Unix one.
    pub(crate) datagrams: (u64, u64),
    /// The listener whose connections are records (seqpacket), each echoed whole.
    pub(crate) seqpacket_listener: Option<ListenerId>,
    /// Descriptors received (`on_descriptors`) on Unix streams and on seqpacket
    /// connections, and those sent back with an echo.
    pub(crate) fds: (u64, u64, u64),
    next_token: u64,
    pub(crate) events: Vec<SimEvent>,
    /// Keep connections whose timeout fired (`TimeoutAction::KeepOpen`).
    pub(crate) keep_open: bool,
    /// Echo whole lines only: leave a partial line unconsumed until its end arrives, so that
    /// the frame clock runs. A partial line at the peer's end of file is dropped.
    pub(crate) lines: bool,
    /// Percent of `on_data` calls after which the service closes the connection gracefully
    /// (its echo flushed first, later input dropped, then a lingering close).
    pub(crate) close_percent: u8,
    /// Echo through the reactor's workers: each `on_data` submits a job that copies the
    /// bytes, and `on_work_done` writes the copy (the simulation runs jobs inline).
    pub(crate) via_workers: bool,
    /// Jobs under way, with the connection each echoes to.
    jobs: Vec<(WorkId, ConnId)>,
    /// Connections whose peer finished while jobs still echo to them: each closes after the
    /// last of its jobs has written its bytes.
    finish_after_jobs: Vec<ConnId>,
    /// Broken promises seen inside callbacks (a timeout before its deadline, data for an
    /// unknown connection).
    pub(crate) violations: Vec<String>,
}

impl Recorder {
    pub(crate) fn new(net: Net, origin: Instant) -> Recorder {
        Recorder {
            net,
            origin,
            tracks: Tracks::default(),
            timeouts: Timeouts::NONE,
            panic_percent: 0,
            timer_percent: 0,
            timers: Vec::new(),
            timers_fired: (0, 0),
            jobs_done: 0,
            dials: (0, 0, 0),
            datagrams: (0, 0),
            seqpacket_listener: None,
            fds: (0, 0, 0),
            next_token: 0,
            events: Vec::new(),
            via_workers: false,
            jobs: Vec::new(),
            finish_after_jobs: Vec::new(),
            keep_open: false,
            close_percent: 0,
            lines: false,
            violations: Vec::new(),
        }
    }

    fn track(&mut self, conn: ConnId) -> Option<&mut Track> {
        self.tracks.get_mut(conn)
    }

    /// The service made the outgoing connection `conn` at `at`; its peer is `client`.
    pub(crate) fn track_dialed(&mut self, conn: ConnId, client: ClientId, at: Instant) {
        self.tracks.insert(Track::new(conn, client, at, Some(at)));
    }

    fn client(&self, conn: ConnId) -> Option<ClientId> {
        self.tracks.client(conn)
    }

    /// The model's idle deadline of `conn`: the configured idle timeout after the last
    /// activity the network saw (the accept, or a byte read or written), after this reactor
    /// took the connection (a server's reactor adopts a handed one later than another
    /// accepted it: its clocks start then), or after the service last kept it open. `None` when the model cannot say: no idle timeout, or a
    /// close under way (input is read and dropped then, which moves no clock).
    fn idle_deadline(&mut self, cx: &Context<'_>, conn: ConnId) -> Option<Instant> {
        let idle = self.timeouts.idle?;
        let shutting_down = cx.is_shutting_down();
        let origin = self.origin;
        let moved = self.net.moved_at(self.client(conn)?);
        let t = self.track(conn)?;
        if t.closing || shutting_down {
            return None;
        }
        let last = (origin + moved)
            .max(t.taken_at)
            .max(t.kept_idle.unwrap_or(origin));
        Some(last + idle)
    }

    /// Set a user timer now and then (half of them precise), as `on_data` asks.
    fn maybe_set_timer(&mut self, cx: &mut Context<'_>) {
        if self.timer_percent == 0 || self.net.random(100) >= u64::from(self.timer_percent) {
            return;
        }
        let after = Duration::from_millis(1 + self.net.random(50));
        let precise = self.net.random(2) == 0;
        self.next_token += 1;
        let token = self.next_token;
        let id = if precise {
            cx.set_precise_timer(after, token)
        } else {
            cx.set_timer(after, token)
        };
        self.net.log(format_args!(
            "handler: set {} timer {token} for {after:?}",
            if precise { "a precise" } else { "a" }
        ));
        self.timers.push(Pending {
            id,
            token,
            due: cx.now() + after,
            precise,
        });
    }

    /// No user timer due by `by` is still waiting to fire.
    pub(crate) fn check_timers(&self, by: Instant) -> Result<(), String> {
        match self.timers.iter().find(|p| p.due <= by) {
            Some(p) => Err(format!(
                "timer {} due at {:?} has not fired by {:?} (less the slack)",
                p.token,
                p.due - self.origin,
                by - self.origin
            )),
            None => Ok(()),
        }
    }

    fn at(&self, cx: &Context<'_>) -> Duration {
        cx.now().saturating_duration_since(self.origin)
    }
}

impl Handler for Recorder {
    fn on_accept(
        &mut self,
        cx: &mut Context<'_>,
        listener: ListenerId,
        conn: ConnId,
        peer: &PeerAddr,
    ) {
        // The in-memory network numbers its clients by port, or by path (`/sim/client-N`).
        let n = match peer {
            PeerAddr::Inet(a) => usize::from(a.port().saturating_sub(20000)),
            PeerAddr::Unix(a) => a
                .as_pathname()
                .and_then(|p| p.to_str()?.strip_prefix("/sim/client-")?.parse().ok())
                .unwrap_or(usize::MAX),
        };
        let client = ClientId(n);
        let mut track = Track::new(conn, client, cx.now(), None);
        track.records = Some(listener) == self.seqpacket_listener;
        self.tracks.insert(track);
        let at = self.at(cx);
        self.net.log(format_args!(
            "handler: on_accept {conn} (client {})",
            client.0
        ));
        self.events.push(SimEvent::Accepted { client, at });
    }

    fn on_data(&mut self, cx: &mut Context<'_>, conn: ConnId, data: &[u8]) -> usize {
        if self.client(conn).is_none() {
            self.violations
                .push(format!("on_data for {conn}, which was never accepted"));
        }
        if self.panic_percent > 0 && self.net.random(100) < u64::from(self.panic_percent) {
            self.net
                .log(format_args!("handler: panics in on_data {conn}"));
            std::panic::panic_any(DELIBERATE);
        }
        self.maybe_set_timer(cx);
        let records = self.track(conn).is_some_and(|t| t.records);
        let used = if self.lines && !records {
            data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)
        } else {
            data.len()
        };
        self.net.log(format_args!(
            "handler: on_data {conn}, {} bytes: echo {used}",
            data.len()
        ));
        let now = cx.now();
        if let Some(t) = self.track(conn) {
            // The input left after the last line end: none, the partial line that was
            // there (no line end came), or a new one, all of whose bytes came in this read.
            t.partial_since = match (data.len() - used, used, t.partial_since) {
                (0, _, _) => None,
                (_, 0, Some(since)) => Some(since),
                _ => Some(now),
            };
        }
        if self.via_workers {
            let copy = data[..used].to_vec();
            match cx.submit(Some(conn), move || copy) {
                Ok(job) => self.jobs.push((job, conn)),
                Err(e) => self.violations.push(format!("submit for {conn}: {e}")),
            }
            return used;
        }
        // Refused only once a close is under way: the input is dropped then, by design.
        // Descriptors that came on the connection go back with the echo's first byte.
        let fds = self.track(conn).map(|t| std::mem::take(&mut t.fds));
        match fds.filter(|f| !f.is_empty() && used > 0) {
            Some(fds) => {
                let lent: Vec<_> = fds.iter().map(|f| f.as_fd()).collect();
                if cx.write_with_fds(conn, &data[..used], &lent).is_ok() {
                    self.fds.2 += fds.len() as u64;
                }
            }
            None => {
                let _ = cx.write(conn, &data[..used]);
            }
        }
        if self.close_percent > 0 && self.net.random(100) < u64::from(self.close_percent) {
            self.net.log(format_args!("handler: close {conn}"));
            if let Some(t) = self.track(conn) {
                t.closing = true;
            }
            cx.close(conn);
        }
        used
    }

    fn on_work_done(
        &mut self,
        cx: &mut Context<'_>,
        work: WorkId,
        output: std::thread::Result<Box<dyn std::any::Any + Send>>,
    ) {
        let Some(i) = self.jobs.iter().position(|(w, _)| *w == work) else {
            return self
                .violations
                .push(format!("{work}: a result nobody waits for"));
        };
        let (_, conn) = self.jobs.remove(i);
        match output.map(|o| o.downcast::<Vec<u8>>()) {
            Ok(Ok(bytes)) => {
                self.jobs_done += 1;
                self.net.log(format_args!(
                    "handler: {work} done: echo {} bytes",
                    bytes.len()
                ));
                let _ = cx.write(conn, &bytes);
                let last = !self.jobs.iter().any(|(_, c)| *c == conn);
                if let Some(i) = self.finish_after_jobs.iter().position(|c| *c == conn) {
                    if last {
                        self.finish_after_jobs.swap_remove(i);
                        self.net
                            .log(format_args!("handler: its last job done: close {conn}"));
                        cx.close(conn);
                    }
                }
            }
            _ => self
                .violations
                .push(format!("{work}: not the bytes it was given")),
        }
    }

    fn on_timeout(
        &mut self,
        cx: &mut Context<'_>,
        conn: ConnId,
        kind: TimeoutKind,
    ) -> TimeoutAction {
        let now = cx.now();
        match cx.deadline(conn, kind) {
            Some(d) if d <= now => {}
            other => self.violations.push(format!(
                "{conn}: {kind} fired at {:?} with its deadline at {:?}",
                now - self.origin,
                other.map(|d| d.saturating_duration_since(self.origin))
            )),
        }
        if kind == TimeoutKind::Connect {
            // The configured connect timeout after the connect began (or was kept going).
            let began = self
                .track(conn)
                .and_then(|t| t.dialed_at.max(t.kept_connect));
            if let (Some(began), Some(limit)) = (began, self.timeouts.connect) {
                let got = cx.deadline(conn, kind);
                if got != Some(began + limit) || now < began + limit {
                    self.violations.push(format!(
                        "{conn}: connect timeout at {:?}: began at {:?} with {limit:?}, the connection's deadline {:?}",
                        now - self.origin,
                        began - self.origin,
                        got.map(|d| d.saturating_duration_since(self.origin))
                    ));
                }
                self.dials.2 += 1;
            }
        }
        if let (Some(client), Some(t)) = (self.client(conn), self.timeouts.get(kind)) {
            // Never before the configured timeout after the last byte the network saw read
            // (for a read timeout) or written (for a write timeout), or after the first byte
            // of the partial line held (for a frame timeout): lower bounds each clock can
            // only restart after.
            let (read, written) = self.net.read_written_at(client);
            // A frame timeout: the partial line's first byte, which must exist.
            let partial = self.track(conn).map(|t| t.partial_since);
            if kind == TimeoutKind::Frame && partial == Some(None) {
                self.violations.push(format!(
                    "{conn}: a frame timeout with no partial message held"
                ));
            }
            let last = match kind {
                TimeoutKind::Read => Some(read),
                TimeoutKind::Write => Some(written),
                TimeoutKind::Frame => partial.flatten().map(|p| p - self.origin),
                _ => None,
            };
            if let Some(last) = last.filter(|&l| now < self.origin + l + t) {
                self.violations.push(format!(
                    "{conn}: {kind} at {:?}, but its clock cannot have started before {last:?} ({t:?})",
                    now - self.origin
                ));
            }
        }
        if kind == TimeoutKind::Idle {
            // Checked against the model: the configured timeout after the last activity the
            // network saw. A deadline computed wrongly, early or late, shows here.
            if let Some(model) = self.idle_deadline(cx, conn) {
                let got = cx.deadline(conn, kind);
                if got != Some(model) || now < model {
                    self.violations.push(format!(
                        "{conn}: idle timeout at {:?}: the model's deadline is {:?}, the connection's {:?}",
                        now - self.origin,
                        model - self.origin,
                        got.map(|d| d.saturating_duration_since(self.origin))
                    ));
                }
            }
        }
        let client = self.client(conn).unwrap_or(ClientId(usize::MAX));
        let at = self.at(cx);
        self.net
            .log(format_args!("handler: on_timeout {conn}: {kind}"));
        self.events.push(SimEvent::TimedOut { client, kind, at });
        if self.keep_open {
            if let Some(t) = self.track(conn) {
                match kind {
                    TimeoutKind::Idle => t.kept_idle = Some(now),
                    TimeoutKind::Connect => t.kept_connect = Some(now),
                    _ => {}
                }
            }
            TimeoutAction::KeepOpen
        } else {
            TimeoutAction::Close
        }
    }

    fn on_datagram(&mut self, cx: &mut Context<'_>, socket: DgramId, data: &[u8], peer: &PeerAddr) {
        // The course's UDP service: the datagram back, upper-cased.
        self.net.log(format_args!(
            "handler: on_datagram {} bytes from {peer}",
            data.len()
        ));
        let unix = matches!(peer, PeerAddr::Unix(_));
        if unix {
            self.datagrams.1 += 1;
        } else {
            self.datagrams.0 += 1;
        }
        match cx.send_to(socket, &data.to_ascii_uppercase(), peer) {
            Ok(()) => {}
            // A Unix receiver whose queue is full refuses, and the reply is lost (the
            // network counts it).
            Err(e) if unix && e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => self.violations.push(format!(
                "send_to {peer}: {e} (the queue has room for this traffic)"
            )),
        }
    }

    fn on_descriptors(&mut self, _: &mut Context<'_>, conn: ConnId, fds: Vec<OwnedFd>) {
        self.net.log(format_args!(
            "handler: on_descriptors {conn}, {}",
            fds.len()
        ));
        let n = fds.len() as u64;
        match self.tracks.get_mut(conn) {
            Some(t) => {
                let records = t.records;
                t.fds.extend(fds);
                if records {
                    self.fds.1 += n;
                } else {
                    self.fds.0 += n;
                }
            }
            None => self.violations.push(format!(
                "on_descriptors for {conn}, which was never accepted"
            )),
        }
    }

    fn on_connect(&mut self, cx: &mut Context<'_>, conn: ConnId) {
        let at = self.at(cx);
        self.net.log(format_args!("handler: on_connect {conn}"));
        match self.track(conn) {
            Some(t) if t.dialed_at.is_some() && !t.connected => {
                t.connected = true;
                let client = t.client;
                self.dials.0 += 1;
                self.events.push(SimEvent::Connected { client, at });
            }
            _ => self
                .violations
                .push(format!("on_connect for {conn}, which did not connect out")),
        }
    }

    fn in_message(&mut self, _: &mut Context<'_>, conn: ConnId) -> bool {
        // A reply still being made on the pool: a graceful shutdown must wait for it.
        self.jobs.iter().any(|(_, c)| *c == conn)
    }

    fn on_read_closed(&mut self, cx: &mut Context<'_>, conn: ConnId) {
        if let Some(t) = self.track(conn) {
            t.closing = true;
        }
        if self.jobs.iter().any(|(_, c)| *c == conn) {
            // Its echo is still on the pool: close once the last job's bytes are written.
            self.net.log(format_args!(
                "handler: on_read_closed {conn}: jobs still echo"
            ));
            self.finish_after_jobs.push(conn);
            return;
        }
        cx.close(conn);
    }

    fn on_timer(&mut self, cx: &mut Context<'_>, timer: TimerId, token: u64) {
        let now = cx.now();
        let Some(i) = self.timers.iter().position(|p| p.token == token) else {
            return self
                .violations
                .push(format!("timer {token} fired, but none is pending with it"));
        };
        let p = self.timers.swap_remove(i);
        self.net.log(format_args!("handler: timer {token} fired"));
        // The poll before this turn must not have been asked to sleep past the deadline (a
        // precise timer's exactly, a wheel timer's by less than a tick).
        let (began, wait) = self.net.last_poll();
        let (began, slack) = (
            self.origin + began,
            Duration::from_millis(u64::from(!p.precise)),
        );
        if began < p.due && wait.map_or(true, |w| began + w > p.due + slack) {
            self.violations.push(format!(
                "timer {token} due at {:?}: the poll at {:?} was asked to wait {wait:?}",
                p.due - self.origin,
                began - self.origin
            ));
        }
        if p.id != timer || now < p.due {
            self.violations.push(format!(
                "timer {token} fired at {:?}, due at {:?} (id {timer:?}, set as {:?})",
                now - self.origin,
                p.due - self.origin,
                p.id
            ));
        }
        if p.precise {
            self.timers_fired.1 += 1;
        } else {
            self.timers_fired.0 += 1;
        }
    }

    fn on_close(&mut self, cx: &mut Context<'_>, conn: ConnId, reason: &CloseReason) {
        let at = self.at(cx);
        // The network gives resets, never another I/O error; the service panics only on
        // purpose.
        let refused = self
            .track(conn)
            .is_some_and(|t| t.dialed_at.is_some() && !t.connected);
        match reason {
            // An outgoing connect that met a refusing port.
            CloseReason::Io(e) if refused && e.kind() == std::io::ErrorKind::ConnectionRefused => {
                self.dials.1 += 1;
            }
            // Descriptors were lost to truncated control data the network injected.
            CloseReason::Io(e)
                if e.kind() == std::io::ErrorKind::InvalidData
                    && self.client(conn).is_some_and(|c| self.net.ctrunc_met(c)) => {}
            CloseReason::Io(e) => self.violations.push(format!(
                "{conn} closed with an I/O error the network never gives: {e}"
            )),
            CloseReason::Panicked(m) if m != DELIBERATE => self
                .violations
                .push(format!("{conn}: an unexpected panic: {m}")),
            _ => {}
        }
        self.net
            .log(format_args!("handler: on_close {conn}: {reason}"));
        self.finish_after_jobs.retain(|c| *c != conn);
        match self.client(conn) {
            Some(client) => {
                self.tracks.remove(conn);
                self.events.push(SimEvent::Closed {
                    client,
                    reason: reason.to_string(),
                    clean: reason.is_clean(),
                    at,
                });
            }
            None => self
                .violations
                .push(format!("on_close for {conn}, unknown or reported twice")),
        }
    }
}
