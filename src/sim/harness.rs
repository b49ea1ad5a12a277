//! [`Sim`]: a reactor on an in-memory network, its echo service, and the clients the test
//! plays, with the invariants checked after every step.

use std::io;
use std::time::{Duration, Instant};

use super::recorder::{Recorder, SimEvent, DELIBERATE};
use crate::memnet::{ClientId, Faults, Net, Remote, Seen};
use crate::reactor::{Config, Reactor, Stats};

/// The port the echo service listens on, in memory.
const PORT: u16 = 7;

/// The port of the upper-casing datagram service (the course's UDP server), in memory.
pub const UDP_PORT: u16 = 11111;

/// What the simulation knows of one datagram peer.
#[derive(Debug, Default)]
struct DgramPeer {
    /// Datagrams that reached the service's socket, in order.
    sent: Vec<Vec<u8>>,
    /// Replies received, in order.
    received: Vec<Vec<u8>>,
}

/// How late a user timer may fire at most, after the turn that passed its deadline: the
/// wheel's tick, and a millisecond for the tick the deadline falls in.
const TIMER_SLACK: Duration = Duration::from_millis(2);

/// Make the panic hook quiet for the echo service's deliberate panics (each would print a
/// message), and leave it as it was for every other panic.
fn quiet_deliberate_panics() {
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

/// What the simulation knows of one client.
#[derive(Debug, Default)]
struct Client {
    sent: Vec<u8>,
    received: Vec<u8>,
    eof: bool,
    reset: bool,
    fin_sent: bool,
    aborted: bool,
}

/// A reactor, an in-memory network and the clients of its echo service (see the module docs).
pub struct Sim {
    reactor: Reactor<Recorder>,
    net: Net,
    origin: Instant,
    clients: Vec<Client>,
    peers: Vec<DgramPeer>,
    /// A graceful shutdown was asked for (the datagram socket closes at once then).
    shut_down: bool,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("elapsed", &self.net.elapsed())
            .field("clients", &self.clients.len())
            .finish_non_exhaustive()
    }
}

impl Sim {
    /// A simulation whose faults and choices come from `seed`, with an echo service on a
    /// reactor made with `config`.
    ///
    /// # Errors
    ///
    /// An invalid `config`.
    pub fn new(seed: u64, faults: Faults, config: Config) -> io::Result<Sim> {
        let origin = Instant::now();
        let net = Net::new(seed, faults, origin);
        let mut recorder = Recorder::new(net.clone(), origin);
        recorder.timeouts = config.timeouts;
        let mut reactor = Reactor::simulated(recorder, config, net.clone())?;
        reactor.listen_mem(&net, PORT)?;
        reactor.bind_mem_dgram(&net, UDP_PORT)?;
        Ok(Sim {
            reactor,
            net,
            origin,
            clients: Vec::new(),
            peers: Vec::new(),
            shut_down: false,
        })
    }

    /// Keep connections whose timeout fired (the handler answers `KeepOpen`), or not.
    pub fn keep_open_on_timeout(&mut self, keep: bool) {
        self.reactor.handler_mut().keep_open = keep;
    }

    /// Panic in this percentage of the `on_data` calls (0: never). The reactor closes the
    /// connection with [`CloseReason::HandlerPanic`](crate::CloseReason) and carries on; the
    /// panic hook stays quiet for these deliberate panics.
    pub fn panic_in_on_data(&mut self, percent: u8) {
        if percent > 0 {
            quiet_deliberate_panics();
        }
        self.reactor.handler_mut().panic_percent = percent;
    }

    /// Set a user timer (half of them precise) in this percentage of the `on_data` calls;
    /// each must fire once, never early, and not a tick or more late.
    pub fn set_timers(&mut self, percent: u8) {
        self.reactor.handler_mut().timer_percent = percent;
    }

    /// User timers that fired so far: `(wheel, precise)`.
    pub fn timers_fired(&self) -> (u64, u64) {
        self.reactor.handler().timers_fired
    }

    /// Jobs whose result came back to the echo service.
    pub fn jobs_done(&self) -> u64 {
        self.reactor.handler().jobs_done
    }

    /// User timers set and not yet fired.
    pub fn timers_pending(&self) -> usize {
        self.reactor.handler().timers.len()
    }

    /// Blocks the reactor's buffer pool allocated because none was idle (the pool ran dry).
    pub fn pool_dry_takes(&self) -> u64 {
        self.reactor.pool_dry_takes()
    }

    /// The faults the reactor met so far.
    pub fn seen(&self) -> Seen {
        self.net.seen()
    }

    /// Close a connection gracefully after this percentage of the `on_data` calls (0: never).
    pub fn close_after_data(&mut self, percent: u8) {
        self.reactor.handler_mut().close_percent = percent;
    }

    /// The network (for its random numbers, its trace, and time jumps).
    pub fn net(&self) -> &Net {
        &self.net
    }

    /// Virtual time since the start.
    pub fn elapsed(&self) -> Duration {
        self.net.elapsed()
    }

    /// A new client connects to the echo service.
    ///
    /// # Errors
    ///
    /// `ConnectionRefused` after a shutdown closed the listener.
    pub fn connect(&mut self) -> io::Result<ClientId> {
        let c = self.net.connect(PORT)?;
        self.clients.push(Client::default());
        Ok(c)
    }

    /// Put a remote service on `port` for the echo service's outgoing connects to meet (see
    /// [`Remote`]; nothing there refuses).
    pub fn remote(&mut self, port: u16, remote: Remote) {
        self.net.set_remote(port, remote);
    }

    /// The echo service connects out to `port` (`Context::connect`); the remote peer is a
    /// client of the simulation like any other, and the service echoes what it sends.
    ///
    /// # Errors
    ///
    /// Any error of `Context::connect`.
    pub fn dial(&mut self, port: u16) -> io::Result<ClientId> {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let conn = self.reactor.with_context(|_, cx| cx.connect(addr))?;
        let client = self
            .net
            .last_dialed()
            .ok_or_else(|| io::Error::other("the connect made no connection"))?;
        let now = self.net.now();
        self.reactor.handler_mut().track_dialed(conn, client, now);
        self.clients.push(Client::default());
        Ok(client)
    }

    /// A new datagram peer of the upper-casing service: its number.
    pub fn dgram_peer(&mut self) -> usize {
        self.peers.push(DgramPeer::default());
        self.net.dgram_peer()
    }

    /// Peer `p` sends `data` to the datagram service: `false` if it was lost (the socket is
    /// closed, or its queue is full), as UDP loses datagrams.
    pub fn send_datagram(&mut self, p: usize, data: &[u8]) -> bool {
        let delivered = self.net.peer_send(p, UDP_PORT, data);
        if delivered {
            self.peers[p].sent.push(data.to_vec());
        }
        delivered
    }

    /// Peer `p` takes the replies waiting for it.
    pub fn recv_datagrams(&mut self, p: usize) {
        let got = self.net.peer_recv(p);
        self.peers[p].received.extend(got);
    }

    /// Datagram peers so far.
    pub fn dgram_peers(&self) -> std::ops::Range<usize> {
        0..self.peers.len()
    }

    /// Has peer `p` had a reply to every datagram that reached the service? (Once a
    /// shutdown closed the socket, what it had not read, or not sent, is gone: yes.)
    pub fn datagrams_settled(&self, p: usize) -> bool {
        let (sent, received, lost) = self.datagrams(p);
        received + lost == sent || self.shut_down
    }

    /// Peer `p`'s datagrams so far: `(sent, replies received, replies lost)` (lost: dropped
    /// at its full queue).
    pub fn datagrams(&self, p: usize) -> (usize, usize, usize) {
        let peer = &self.peers[p];
        let lost = self.net.peer_lost(p) as usize;
        (peer.sent.len(), peer.received.len(), lost)
    }

    /// Outgoing connects by how they ended: `(connected, refused, timed out)`.
    pub fn dials(&self) -> (u64, u64, u64) {
        self.reactor.handler().dials
    }

    /// Client `c` sends what fits of `data` in the server's receive queue; returns how much.
    ///
    /// # Errors
    ///
    /// `ConnectionReset` if the server end is gone; `BrokenPipe` after `shutdown`.
    pub fn send(&mut self, c: ClientId, data: &[u8]) -> io::Result<usize> {
        let n = self.net.client_send(c, data)?;
        self.clients[c.0].sent.extend_from_slice(&data[..n]);
        Ok(n)
    }

    /// Client `c` reads everything waiting for it (up to 64 KiB).
    pub fn recv(&mut self, c: ClientId) {
        self.recv_some(c, 64 * 1024);
    }

    /// Client `c` reads up to `max` bytes (a slow reader reads little).
    pub fn recv_some(&mut self, c: ClientId, max: usize) {
        let got = self.net.client_recv(c, max);
        let client = &mut self.clients[c.0];
        client.received.extend_from_slice(&got.bytes);
        client.eof |= got.eof;
        client.reset |= got.reset;
    }

    /// Client `c` sends FIN (it keeps reading).
    pub fn shutdown(&mut self, c: ClientId) {
        self.net.client_shutdown(c);
        self.clients[c.0].fin_sent = true;
    }

    /// Client `c` resets its connection and is done.
    pub fn reset(&mut self, c: ClientId) {
        self.net.client_reset(c);
        self.clients[c.0].aborted = true;
    }

    /// What client `c` has received.
    pub fn received(&self, c: ClientId) -> &[u8] {
        &self.clients[c.0].received
    }

    /// Echo whole lines only (a partial line waits for its end, so the frame clock runs; one
    /// left at the end of the stream is dropped), or every byte (the default).
    pub fn echo_lines(&mut self, lines: bool) {
        self.reactor.handler_mut().lines = lines;
    }

    /// Echo through the reactor's workers (each chunk a job; the simulation runs jobs
    /// inline, in order), or directly (the default).
    pub fn echo_via_workers(&mut self, on: bool) {
        self.reactor.handler_mut().via_workers = on;
    }

    /// How much of what client `c` sent the echo service owes it: all of it, or, echoing
    /// lines, up to its last line end.
    pub fn echo_due(&self, c: ClientId) -> usize {
        let sent = &self.clients[c.0].sent;
        if self.reactor.handler().lines {
            sent.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)
        } else {
            sent.len()
        }
    }

    /// What client `c` has sent (all of it accepted by the server's receive queue).
    pub fn sent(&self, c: ClientId) -> &[u8] {
        &self.clients[c.0].sent
    }

    /// Has client `c` seen the end of the stream (FIN or reset)?
    pub fn finished(&self, c: ClientId) -> bool {
        let client = &self.clients[c.0];
        client.eof || client.reset || client.aborted
    }

    /// Did client `c` see its connection reset (not closed with FIN)?
    pub fn was_reset(&self, c: ClientId) -> bool {
        self.clients[c.0].reset
    }

    /// Clients connected so far.
    pub fn clients(&self) -> impl Iterator<Item = ClientId> {
        (0..self.clients.len()).map(ClientId)
    }

    /// Move virtual time forward by `d` without turning (the process was descheduled).
    pub fn advance(&mut self, d: Duration) {
        self.net.advance(d);
    }

    /// One reactor turn, waiting at most `max_wait` of virtual time, then [`check`](Sim::check).
    ///
    /// # Errors
    ///
    /// `Other` with the broken invariant; any error of the turn.
    pub fn turn(&mut self, max_wait: Duration) -> io::Result<()> {
        self.reactor.turn(Some(max_wait))?;
        self.check().map_err(io::Error::other)
    }

    /// Turn until `d` of virtual time has passed (a poll with nothing to report jumps ahead;
    /// at most 10,000 turns).
    ///
    /// # Errors
    ///
    /// As for [`turn`](Sim::turn).
    pub fn run_for(&mut self, d: Duration) -> io::Result<()> {
        let end = self.net.elapsed() + d;
        for _ in 0..10_000 {
            let now = self.net.elapsed();
            if now >= end {
                return Ok(());
            }
            self.turn(end - now)?;
        }
        Err(io::Error::other(
            "the reactor kept finding work for 10,000 turns",
        ))
    }

    /// Shut the reactor down gracefully, with `grace` (see `Context::shutdown`).
    pub fn shutdown_reactor(&mut self, grace: Duration) {
        self.shut_down = true;
        self.reactor.shutdown(grace);
    }

    /// Stop the reactor, as a second signal does during a graceful shutdown (see
    /// `Context::stop`).
    pub fn stop_reactor(&mut self) {
        self.reactor.with_context(|_, cx| cx.stop());
    }

    /// Has the reactor stopped (a graceful shutdown finished)?
    pub fn reactor_stopped(&self) -> bool {
        self.reactor.is_stopped()
    }

    /// The reactor's counters.
    pub fn stats(&self) -> Stats {
        *self.reactor.stats()
    }

    /// What the echo service saw, in order.
    pub fn events(&self) -> &[SimEvent] {
        &self.reactor.handler().events
    }

    /// How client `c`'s connection closed on the server: its reason and when.
    pub fn closed(&self, c: ClientId) -> Option<(&str, Duration)> {
        self.events().iter().find_map(|e| match e {
            SimEvent::Closed {
                client, reason, at, ..
            } if *client == c => Some((reason.as_str(), *at)),
            _ => None,
        })
    }

    /// Take the trace written so far.
    pub fn take_trace(&self) -> Vec<String> {
        self.net.take_trace()
    }

    /// Check the invariants (see the module docs); the first broken one, described.
    ///
    /// # Errors
    ///
    /// The broken invariant.
    pub fn check(&self) -> Result<(), String> {
        if let Some(v) = self.reactor.handler().violations.first() {
            return Err(v.clone());
        }
        for (i, p) in self.peers.iter().enumerate() {
            // The replies are the datagrams upper-cased, in order; those missing are the
            // ones the network counts as dropped at the peer's full queue.
            let lost = self.net.peer_lost(i) as usize;
            let mut answers = p.sent.iter().map(|s| s.to_ascii_uppercase());
            let in_order = p.received.iter().all(|r| answers.any(|a| a == *r));
            if !in_order || p.received.len() + lost > p.sent.len() {
                return Err(format!(
                    "datagram peer {i}: {} replies ({lost} lost) to {} datagrams, not each its datagram upper-cased, in order",
                    p.received.len(),
                    p.sent.len(),
                ));
            }
        }
        for (i, c) in self.clients.iter().enumerate() {
            if !c.sent.starts_with(&c.received) {
                return Err(format!(
                    "client {i}: received {} bytes that are not a prefix of the {} it sent",
                    c.received.len(),
                    c.sent.len()
                ));
            }
        }
        self.reactor.audit()?;
        let now = self.net.now();
        if !self.reactor.is_stopped() {
            let late = self
                .reactor
                .handler()
                .timers
                .iter()
                .find(|p| p.due + TIMER_SLACK <= now);
            if let Some(p) = late {
                return Err(format!(
                    "timer {} due at {:?} has not fired by {:?}",
                    p.token,
                    p.due - self.origin,
                    now - self.origin
                ));
            }
        }
        let open = self.net.open_sockets();
        let slab = self.reactor.socket_count();
        if open != slab {
            return Err(format!(
                "{open} sockets open in the network, {slab} in the reactor's slab"
            ));
        }
        Ok(())
    }

    /// At the end of a session: every client either got back all it sent, or its connection
    /// closed for a reason that says why not (a timeout, a reset, an error, or a close the
    /// server asked for, after which input is dropped by design), or it reset the connection
    /// itself. A close because the peer finished (`PeerClosed`) must come with the whole echo.
    ///
    /// # Errors
    ///
    /// The first client for which none holds.
    pub fn check_outcome(&self) -> Result<(), String> {
        for (i, c) in self.clients.iter().enumerate() {
            if c.aborted || c.received.len() == self.echo_due(ClientId(i)) {
                continue;
            }
            let why = self.events().iter().find_map(|e| match e {
                SimEvent::Closed { client, reason, .. } if client.0 == i => Some(reason.clone()),
                _ => None,
            });
            let peer_closed = crate::error::CloseReason::PeerClosed.to_string();
            match why {
                Some(reason) if reason != peer_closed => {}
                // Reset before it was accepted: the client saw the reset.
                None if c.reset => {}
                other => {
                    return Err(format!(
                    "client {i}: sent {} bytes, got {} back, and the server's close was {other:?}",
                    c.sent.len(),
                    c.received.len()
                ))
                }
            }
        }
        Ok(())
    }

    /// The time at which the simulation started (its virtual clock's origin).
    pub fn origin(&self) -> Instant {
        self.origin
    }
}
