//! The simulation's handler: the TCP echo service, with every callback written to the trace
//! and checked as it happens.

use std::time::{Duration, Instant};

use crate::error::{CloseReason, TimeoutKind};
use crate::memnet::{ClientId, Net};
use crate::reactor::{ConnId, Context, Handler, ListenerId, PeerAddr, TimeoutAction, WorkId};

/// What the echo service saw happen to one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SimEvent {
    /// The connection of `client` was accepted.
    Accepted {
        /// The client.
        client: ClientId,
        /// Virtual time since the start.
        at: Duration,
    },
    /// A timeout fired (the deadline had passed: checked).
    TimedOut {
        /// The client.
        client: ClientId,
        /// Which timeout.
        kind: TimeoutKind,
        /// Virtual time since the start.
        at: Duration,
    },
    /// The connection closed.
    Closed {
        /// The client.
        client: ClientId,
        /// The reason, as its `Display` prints it.
        reason: String,
        /// Whether the reason is an orderly end (`CloseReason::is_clean`).
        clean: bool,
        /// Virtual time since the start.
        at: Duration,
    },
}

/// The echo service of the simulation.
#[derive(Debug)]
pub(crate) struct Recorder {
    net: Net,
    origin: Instant,
    /// Server connection index → client.
    clients: Vec<Option<(ConnId, ClientId)>>,
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
    /// Broken promises seen inside callbacks (a timeout before its deadline, data for an
    /// unknown connection).
    pub(crate) violations: Vec<String>,
}

impl Recorder {
    pub(crate) fn new(net: Net, origin: Instant) -> Recorder {
        Recorder {
            net,
            origin,
            clients: Vec::new(),
            events: Vec::new(),
            via_workers: false,
            jobs: Vec::new(),
            keep_open: false,
            close_percent: 0,
            lines: false,
            violations: Vec::new(),
        }
    }

    fn client(&self, conn: ConnId) -> Option<ClientId> {
        match self.clients.get(conn.index()) {
            Some(Some((c, client))) if *c == conn => Some(*client),
            _ => None,
        }
    }

    fn at(&self, cx: &Context<'_>) -> Duration {
        cx.now().saturating_duration_since(self.origin)
    }
}

impl Handler for Recorder {
    fn on_accept(&mut self, cx: &mut Context<'_>, _: ListenerId, conn: ConnId, peer: &PeerAddr) {
        // The in-memory network numbers its clients by port.
        let client = ClientId(peer.inet().map_or(0, |a| a.port().saturating_sub(20000)) as usize);
        let i = conn.index();
        if self.clients.len() <= i {
            self.clients.resize(i + 1, None);
        }
        self.clients[i] = Some((conn, client));
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
        let used = if self.lines {
            data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)
        } else {
            data.len()
        };
        self.net.log(format_args!(
            "handler: on_data {conn}, {} bytes: echo {used}",
            data.len()
        ));
        if self.via_workers {
            let copy = data[..used].to_vec();
            match cx.submit(Some(conn), move || copy) {
                Ok(job) => self.jobs.push((job, conn)),
                Err(e) => self.violations.push(format!("submit for {conn}: {e}")),
            }
            return used;
        }
        // Refused only once a close is under way: the input is dropped then, by design.
        let _ = cx.write(conn, &data[..used]);
        if self.close_percent > 0 && self.net.random(100) < u64::from(self.close_percent) {
            self.net.log(format_args!("handler: close {conn}"));
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
                self.net.log(format_args!(
                    "handler: {work} done: echo {} bytes",
                    bytes.len()
                ));
                let _ = cx.write(conn, &bytes);
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
        let client = self.client(conn).unwrap_or(ClientId(usize::MAX));
        let at = self.at(cx);
        self.net
            .log(format_args!("handler: on_timeout {conn}: {kind}"));
        self.events.push(SimEvent::TimedOut { client, kind, at });
        if self.keep_open {
            TimeoutAction::KeepOpen
        } else {
            TimeoutAction::Close
        }
    }

    fn on_close(&mut self, cx: &mut Context<'_>, conn: ConnId, reason: &CloseReason) {
        let at = self.at(cx);
        self.net
            .log(format_args!("handler: on_close {conn}: {reason}"));
        match self.client(conn) {
            Some(client) => {
                self.clients[conn.index()] = None;
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
