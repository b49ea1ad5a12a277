//! [`Sim`]: a reactor on an in-memory network, its echo service, and the clients the test
//! plays, with the invariants checked after every step.

use std::io;
use std::time::{Duration, Instant};

use super::clients::Clients;
use super::event::SimEvent;
use super::peers::{DgramPeers, UDP_PORT, UNIX_PORT};
use super::recorder::{quiet_deliberate_panics, Recorder};
use crate::memnet::{ClientId, Faults, Kind, Net, Remote, Seen};
use crate::reactor::{Config, Reactor, Stats};

/// The port the echo service listens on, in memory.
const PORT: u16 = 7;

/// Its Unix stream listener (`/sim/listener-8`) and its seqpacket one (`/sim/listener-9`).
const UNIX_STREAM_PORT: u16 = 8;
const SEQPACKET_PORT: u16 = 9;

/// How late a user timer may fire at most, after the turn that passed its deadline: the
/// wheel's tick, and a millisecond for the tick the deadline falls in.
const TIMER_SLACK: Duration = Duration::from_millis(2);

/// A reactor (or a server of several), an in-memory network and the clients of its echo
/// service (see the module docs).
pub struct Sim {
    /// The reactors; the first holds the datagram socket and makes the outgoing connects.
    reactors: Vec<Reactor<Recorder>>,
    /// The network, through each reactor's poll set (in the same order).
    nets: Vec<Net>,
    net: Net,
    /// Turns so far: which reactor turns first goes round.
    turns: usize,
    /// When each reactor's last turn ended (its timers due by then have fired).
    turned_at: Vec<Instant>,
    origin: Instant,
    clients: Clients,
    peers: DgramPeers,
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
        Sim::server(seed, faults, config, 1)
    }

    /// [`Sim::new`] with a server of `reactors` reactors (at least one), as `Server::start`
    /// makes them: one listener they all hold (a connection wakes the first to poll), the
    /// connections it accepts placed on the least loaded (`balance.rs`, handed over through
    /// each reactor's inbox), one connection limit shared by all if `config` sets one. The
    /// reactors turn one after the other, the first going round, on one virtual clock.
    ///
    /// # Errors
    ///
    /// An invalid `config`.
    pub fn server(seed: u64, faults: Faults, config: Config, reactors: usize) -> io::Result<Sim> {
        let origin = Instant::now();
        let net = Net::new(seed, faults, origin);
        let nets: Vec<Net> = (0..reactors.max(1))
            .map(|i| {
                if i == 0 {
                    net.clone()
                } else {
                    net.another_poll_set()
                }
            })
            .collect();
        let mut list = Vec::new();
        for n in &nets {
            let mut recorder = Recorder::new(n.clone(), origin);
            recorder.timeouts = config.timeouts;
            list.push(Reactor::simulated(recorder, config, n.clone())?);
        }
        if list.len() == 1 {
            list[0].listen_mem(net.listen(PORT))?;
        } else {
            Reactor::balance(&mut list);
            let first = net.listen(PORT);
            let mut handles: Vec<_> = nets[1..].iter().map(|n| first.share(n)).collect();
            handles.insert(0, first);
            for (r, h) in list.iter_mut().zip(handles) {
                r.listen_mem_shared(h)?;
            }
            if let Some(max) = config.max_connections {
                let limit = crate::reactor::ConnectionLimit::new(max);
                for r in &mut list {
                    r.share_connection_limit(std::sync::Arc::clone(&limit));
                }
            }
        }
        // Unix streams and seqpacket connections, on the first reactor.
        list[0].listen_mem(net.listen_kind(UNIX_STREAM_PORT, Kind::UnixStream))?;
        let seqpacket = list[0].listen_mem(net.listen_kind(SEQPACKET_PORT, Kind::Seqpacket))?;
        list[0].handler_mut().seqpacket_listener = Some(seqpacket);
        list[0].bind_mem_dgram(&net, UDP_PORT, false)?;
        list[0].bind_mem_dgram(&net, UNIX_PORT, true)?;
        Ok(Sim {
            reactors: list,
            nets,
            turns: 0,
            turned_at: vec![origin; reactors.max(1)],
            net,
            origin,
            clients: Clients::default(),
            peers: DgramPeers::default(),
            shut_down: false,
        })
    }

    /// Keep connections whose timeout fired (the handler answers `KeepOpen`), or not.
    pub fn keep_open_on_timeout(&mut self, keep: bool) {
        self.each_service(|r| r.keep_open = keep);
    }

    /// Panic in this percentage of the `on_data` calls (0: never). The reactor closes the
    /// connection with [`CloseReason::HandlerPanic`](crate::CloseReason) and carries on; the
    /// panic hook stays quiet for these deliberate panics.
    pub fn panic_in_on_data(&mut self, percent: u8) {
        if percent > 0 {
            quiet_deliberate_panics();
        }
        self.each_service(|r| r.panic_percent = percent);
    }

    /// Set a user timer (half of them precise) in this percentage of the `on_data` calls;
    /// each must fire once, never early, and not a tick or more late.
    pub fn set_timers(&mut self, percent: u8) {
        self.each_service(|r| r.timer_percent = percent);
    }

    /// User timers that fired so far: `(wheel, precise)`.
    pub fn timers_fired(&self) -> (u64, u64) {
        self.recorders().fold((0, 0), |(w, p), r| {
            (w + r.timers_fired.0, p + r.timers_fired.1)
        })
    }

    /// Jobs whose result came back to the echo service.
    pub fn jobs_done(&self) -> u64 {
        self.recorders().map(|r| r.jobs_done).sum()
    }

    /// User timers set and not yet fired.
    pub fn timers_pending(&self) -> usize {
        self.recorders().map(|r| r.timers.len()).sum()
    }

    /// Blocks the reactor's buffer pool allocated because none was idle (the pool ran dry).
    pub fn pool_dry_takes(&self) -> u64 {
        self.reactors.iter().map(|r| r.pool_dry_takes()).sum()
    }

    /// The faults the reactor met so far.
    pub fn seen(&self) -> Seen {
        self.net.seen()
    }

    /// Close a connection gracefully after this percentage of the `on_data` calls (0: never).
    pub fn close_after_data(&mut self, percent: u8) {
        self.each_service(|r| r.close_percent = percent);
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
        self.connect_kind(Kind::Tcp)
    }

    /// A new client connects to the echo service over a connection of `kind`: TCP, or a
    /// Unix stream or seqpacket connection, which carry descriptors ([`Sim::send_fds`]).
    ///
    /// # Errors
    ///
    /// As [`Sim::connect`].
    pub fn connect_kind(&mut self, kind: Kind) -> io::Result<ClientId> {
        let port = match kind {
            Kind::Tcp => PORT,
            Kind::UnixStream => UNIX_STREAM_PORT,
            Kind::Seqpacket => SEQPACKET_PORT,
        };
        let c = self.net.connect(port)?;
        self.clients.add(kind);
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
        let conn = self.reactors[0].with_context(|_, cx| cx.connect(addr))?;
        let client = self
            .net
            .last_dialed()
            .ok_or_else(|| io::Error::other("the connect made no connection"))?;
        let now = self.net.now();
        self.reactors[0]
            .handler_mut()
            .track_dialed(conn, client, now);
        self.clients.add(Kind::Tcp);
        Ok(client)
    }

    /// A new datagram peer of the upper-casing service's UDP socket: its number.
    pub fn dgram_peer(&mut self) -> usize {
        self.peers.add(&self.net, false)
    }

    /// A new datagram peer of the service's Unix datagram socket (whose sends to a full
    /// peer are refused, not dropped): its number.
    pub fn unix_dgram_peer(&mut self) -> usize {
        self.peers.add(&self.net, true)
    }

    /// Datagrams the service received: `(UDP, Unix)`.
    pub fn datagrams_by_kind(&self) -> (u64, u64) {
        self.recorders()
            .fold((0, 0), |(u, x), r| (u + r.datagrams.0, x + r.datagrams.1))
    }

    /// Peer `p` sends `data` to the datagram service: `false` if it was lost (the socket is
    /// closed, or its queue is full), as UDP loses datagrams.
    pub fn send_datagram(&mut self, p: usize, data: &[u8]) -> bool {
        self.peers.send(&self.net, p, data)
    }

    /// Peer `p` takes the replies waiting for it.
    pub fn recv_datagrams(&mut self, p: usize) {
        self.peers.recv(&self.net, p);
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
        self.peers.counts(&self.net, p)
    }

    /// Outgoing connects by how they ended: `(connected, refused, timed out)`.
    pub fn dials(&self) -> (u64, u64, u64) {
        self.recorders().fold((0, 0, 0), |(a, b, c), r| {
            (a + r.dials.0, b + r.dials.1, c + r.dials.2)
        })
    }

    /// Client `c` sends what fits of `data` in the server's receive queue; returns how much.
    ///
    /// # Errors
    ///
    /// `ConnectionReset` if the server end is gone; `BrokenPipe` after `shutdown`.
    pub fn send(&mut self, c: ClientId, data: &[u8]) -> io::Result<usize> {
        let n = self.net.client_send(c, data)?;
        self.clients.sent(c.0, &data[..n], Vec::new());
        Ok(n)
    }

    /// [`Sim::send`] on a Unix connection, passing `fds` descriptors with the first byte:
    /// each one end of a new socket pair, whose other end the client keeps, so that the end
    /// of the session can check that every copy was closed.
    ///
    /// # Errors
    ///
    /// As [`Sim::send`]; any error making the socket pairs.
    pub fn send_fds(&mut self, c: ClientId, data: &[u8], fds: usize) -> io::Result<usize> {
        let mut kept = Vec::new();
        let mut passed = Vec::new();
        for _ in 0..fds {
            let (a, b) = std::os::unix::net::UnixStream::pair()?;
            passed.push(a.into());
            kept.push(b);
        }
        let n = self.net.client_send_fds(c, data, passed)?;
        // Nothing sent: the network closed the passed ends at once.
        self.clients
            .sent(c.0, &data[..n], if n > 0 { kept } else { Vec::new() });
        Ok(n)
    }

    /// Descriptors passed by the clients, taken by the echo service (`on_descriptors`) on
    /// Unix streams and on seqpacket connections, and sent back by it: `(passed, (stream,
    /// seqpacket), sent back)`.
    pub fn descriptors(&self) -> (usize, (u64, u64), u64) {
        let (s, q, b) = self.recorders().fold((0, 0, 0), |(s, q, b), r| {
            (s + r.fds.0, q + r.fds.1, b + r.fds.2)
        });
        (self.clients.fds().0, (s, q), b)
    }

    /// At the end: every client closes its socket (what waits in its queue, descriptors
    /// too, is dropped), then every descriptor passed must be closed everywhere.
    ///
    /// # Errors
    ///
    /// The first passed descriptor still open somewhere.
    pub fn check_descriptors(&mut self) -> Result<(), String> {
        for c in 0..self.clients.len() {
            self.net.client_close(ClientId(c));
        }
        self.clients.check_descriptors_closed()
    }

    /// Client `c` reads everything waiting for it (up to 64 KiB).
    pub fn recv(&mut self, c: ClientId) {
        self.recv_some(c, 64 * 1024);
    }

    /// Client `c` reads up to `max` bytes (a slow reader reads little).
    pub fn recv_some(&mut self, c: ClientId, max: usize) {
        let got = self.net.client_recv(c, max);
        self.clients.received(c.0, &got);
    }

    /// Client `c` sends FIN (it keeps reading).
    pub fn shutdown(&mut self, c: ClientId) {
        self.net.client_shutdown(c);
    }

    /// Client `c` resets its connection and is done.
    pub fn reset(&mut self, c: ClientId) {
        self.net.client_reset(c);
        self.clients.aborted(c.0);
    }

    /// What client `c` has received.
    pub fn received(&self, c: ClientId) -> &[u8] {
        self.clients.received_bytes(c.0)
    }

    /// Echo whole lines only (a partial line waits for its end, so the frame clock runs; one
    /// left at the end of the stream is dropped), or every byte (the default).
    pub fn echo_lines(&mut self, lines: bool) {
        self.each_service(|r| r.lines = lines);
    }

    /// Echo through the reactor's workers (each chunk a job; the simulation runs jobs
    /// inline, in order), or directly (the default).
    pub fn echo_via_workers(&mut self, on: bool) {
        self.each_service(|r| r.via_workers = on);
    }

    /// How much of what client `c` sent the echo service owes it: all of it, or, echoing
    /// lines, up to its last line end.
    pub fn echo_due(&self, c: ClientId) -> usize {
        self.clients.echo_due(c.0, self.reactors[0].handler().lines)
    }

    /// What client `c` has sent (all of it accepted by the server's receive queue).
    pub fn sent(&self, c: ClientId) -> &[u8] {
        self.clients.sent_bytes(c.0)
    }

    /// Has client `c` seen the end of the stream (FIN or reset)?
    pub fn finished(&self, c: ClientId) -> bool {
        self.clients.finished(c.0)
    }

    /// Did client `c` see its connection reset (not closed with FIN)?
    pub fn was_reset(&self, c: ClientId) -> bool {
        self.clients.was_reset(c.0)
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
    ///
    /// A server's reactors each turn once, the first going round; none waits past a timer
    /// of another (virtual time moves only in a poll that finds nothing).
    pub fn turn(&mut self, max_wait: Duration) -> io::Result<()> {
        let n = self.reactors.len();
        let first = self.turns % n;
        self.turns += 1;
        for k in 0..n {
            let i = (first + k) % n;
            let others = (0..n)
                .filter(|&j| j != i)
                .filter_map(|j| self.reactors[j].next_timeout())
                .min();
            let wait = others.map_or(max_wait, |o| o.min(max_wait));
            self.reactors[i].turn(Some(wait))?;
            self.turned_at[i] = self.net.now();
        }
        self.check().map_err(io::Error::other)
    }

    /// Set something on every reactor's echo service.
    fn each_service(&mut self, f: impl Fn(&mut Recorder)) {
        for r in &mut self.reactors {
            f(r.handler_mut());
        }
    }

    /// The echo services, one per reactor.
    fn recorders(&self) -> impl Iterator<Item = &Recorder> {
        self.reactors.iter().map(|r| r.handler())
    }

    /// The counters of reactor `i`.
    pub fn stats_of(&self, i: usize) -> Stats {
        *self.reactors[i].stats()
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
        for r in &mut self.reactors {
            r.shutdown(grace);
        }
    }

    /// Stop the reactor, as a second signal does during a graceful shutdown (see
    /// `Context::stop`).
    pub fn stop_reactor(&mut self) {
        for r in &mut self.reactors {
            r.with_context(|_, cx| cx.stop());
        }
    }

    /// Has the reactor stopped (a graceful shutdown finished)?
    pub fn reactor_stopped(&self) -> bool {
        self.reactors.iter().all(|r| r.is_stopped())
    }

    /// The reactors' counters, added up.
    pub fn stats(&self) -> Stats {
        self.reactors
            .iter()
            .fold(Stats::default(), |sum, r| sum.add(r.stats()))
    }

    /// What the echo service saw, in order (reactor by reactor, for a server).
    pub fn events(&self) -> Vec<SimEvent> {
        self.recorders()
            .flat_map(|r| r.events.iter().cloned())
            .collect()
    }

    /// How client `c`'s connection closed on the server: its reason and when.
    pub fn closed(&self, c: ClientId) -> Option<(&str, Duration)> {
        self.recorders()
            .flat_map(|r| r.events.iter())
            .find_map(|e| match e {
                SimEvent::Closed {
                    client, reason, at, ..
                } if *client == c => Some((reason.as_str(), *at)),
                _ => None,
            })
    }

    /// What kind of connection client `c` has.
    pub fn kind_of(&self, c: ClientId) -> Kind {
        self.clients.kind(c.0)
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
        if let Some(v) = self.recorders().find_map(|r| r.violations.first()) {
            return Err(v.clone());
        }
        self.peers.check(&self.net)?;
        self.clients.check_prefixes()?;
        let (passed, (stream, seqpacket), back) = self.descriptors();
        let taken = stream + seqpacket;
        let came_back = self.clients.fds().1 as u64;
        if taken > passed as u64 || came_back > back {
            return Err(format!(
                "descriptors: {passed} passed, {taken} taken by the service, {back} sent back, {came_back} came back"
            ));
        }
        for r in &self.reactors {
            r.audit()?;
        }
        for (r, &now) in self.reactors.iter().zip(&self.turned_at) {
            if !r.is_stopped() {
                r.handler().check_timers(now - TIMER_SLACK)?;
            }
        }
        for (i, (r, n)) in self.reactors.iter().zip(&self.nets).enumerate() {
            let (open, slab) = (n.open_sockets(), r.socket_count());
            if open != slab {
                return Err(format!(
                    "{open} sockets open in the network's poll set {i}, {slab} in its reactor's slab"
                ));
            }
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
        let lines = self.reactors[0].handler().lines;
        self.clients.check_outcome(lines, |c| {
            self.closed(c).map(|(reason, _)| reason.to_string())
        })
    }

    /// The time at which the simulation started (its virtual clock's origin).
    pub fn origin(&self) -> Instant {
        self.origin
    }
}
