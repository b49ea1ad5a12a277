//! The in-memory network's state: listeners, connection ends, pending edges, the virtual
//! clock, the fault generator and the trace. Every syscall of the simulation lands in one
//! method here.

use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use mio::Token;

use super::dgram::{Dgrams, Sent};
use super::edges::{Edges, Seat, Subject};
use super::ends::{server, Ends, Received};
use super::faults::{Fault, Faults, Rng, Seen};
use super::inbox::Kind;
use super::listeners::{Listeners, Remote};
use super::Ready;

#[derive(Debug)]
pub(crate) struct World {
    origin: Instant,
    pub(crate) elapsed: Duration,
    pub(crate) rng: Rng,
    pub(crate) faults: Faults,
    pub(crate) listeners: Listeners,
    /// The datagram sockets and the datagram peers.
    pub(crate) dgrams: Dgrams,
    /// Connections whose outgoing connect the next poll settles.
    dials: Vec<usize>,
    /// The last connection an outgoing connect made.
    pub(crate) last_dialed: Option<usize>,
    /// Every connection's two ends.
    pub(crate) ends: Ends,
    /// Edges raised and not yet reported, and registrations retired.
    edges: Edges,
    pub(crate) trace: Vec<String>,
    /// The faults the reactor met.
    pub(crate) seen: Seen,
    /// The last poll: when it began and how long it was asked to wait at most.
    /// By poll set.
    pub(crate) last_poll: Vec<(Duration, Option<Duration>)>,
    /// Poll sets made after the first (`Net::another_poll_set`).
    pub(crate) poll_sets: usize,
}

fn would_block() -> io::Error {
    io::Error::from(io::ErrorKind::WouldBlock)
}

impl World {
    pub(crate) fn new(seed: u64, faults: Faults, origin: Instant) -> World {
        World {
            origin,
            elapsed: Duration::ZERO,
            rng: Rng::new(seed),
            faults,
            listeners: Listeners::default(),
            dgrams: Dgrams::default(),
            dials: Vec::new(),
            last_dialed: None,
            ends: Ends::default(),
            edges: Edges::default(),
            trace: Vec::new(),
            seen: Seen::default(),
            last_poll: Vec::new(),
            poll_sets: 0,
        }
    }

    pub(crate) fn now(&self) -> Instant {
        self.origin + self.elapsed
    }

    pub(crate) fn log(&mut self, line: std::fmt::Arguments<'_>) {
        let ms = self.elapsed.as_secs_f64() * 1e3;
        self.trace.push(format!("{ms:9.3} ms  {line}"));
    }

    fn edge(&mut self, subject: Subject, readable: bool, writable: bool) {
        self.edges.raise(subject, readable, writable);
    }

    /// Poll set `set` polls: the edges of the sockets registered in it (those of sockets
    /// registered in another set wait for that one's poll).
    pub(crate) fn poll(&mut self, set: usize, out: &mut Vec<Ready>, timeout: Option<Duration>) {
        out.clear();
        if self.last_poll.len() <= set {
            self.last_poll.resize(set + 1, (Duration::ZERO, None));
        }
        self.last_poll[set] = (self.elapsed, timeout);
        if self.rng.chance(self.faults.interrupted) {
            // Nothing reported and no time passed; the edges wait for the next poll.
            self.seen.add(Fault::Interrupted);
            self.log(format_args!("epoll_wait -> EINTR (injected)"));
            return;
        }
        self.settle_dials();
        let seat = |subject| {
            let in_set = |reg: Option<(usize, Token)>| match reg {
                Some((s, t)) if s == set => (Some(t), false),
                other => (None, other.is_some()),
            };
            let ((token, elsewhere), hup) = match subject {
                Subject::End(e) => {
                    let end = &self.ends[e];
                    (in_set(end.token), end.eof || end.reset)
                }
                Subject::Listener(l) => (self.listeners.token(l, set), false),
                Subject::Dgram(d) => (in_set(self.dgrams.token(d)), false),
            };
            Seat {
                token,
                elsewhere,
                hup,
            }
        };
        let chaos = (&mut self.rng, &self.faults, &mut self.seen);
        self.edges.batch(out, seat, chaos);
        self.inject_ready(set, out);
        // Time moves only when no poll set has anything to report: another reactor's edges
        // would have woken it at once.
        if out.is_empty() && self.edges.is_empty() {
            if let Some(t) = timeout {
                self.elapsed += t;
                if !t.is_zero() && self.rng.chance(self.faults.late_timers) {
                    let late = Duration::from_millis(1 + self.rng.below(5));
                    self.elapsed += late;
                    self.seen.add(Fault::LateTimer);
                    self.log(format_args!("epoll_wait returns {late:?} late (injected)"));
                }
            }
        }
    }

    /// Add the batch's injected events: one for a socket with nothing behind it, one for a
    /// token retired since the last poll (a slot freed, perhaps reused).
    fn inject_ready(&mut self, set: usize, out: &mut Vec<Ready>) {
        if self.rng.chance(self.faults.spurious) {
            let mut quiet = self.ends.quiet_tokens(set);
            quiet.extend(self.listeners.quiet_tokens(set));
            quiet.extend(self.dgrams.quiet_tokens(set));
            if !quiet.is_empty() {
                let token = quiet[self.rng.below(quiet.len() as u64) as usize];
                out.push(Ready {
                    token,
                    readable: true,
                    writable: false,
                    hup: false,
                });
                self.seen.add(Fault::Spurious);
                self.log(format_args!(
                    "{token:?} readable with nothing behind it (injected)"
                ));
            }
        }
        let retired = self.edges.take_retired(set);
        if !retired.is_empty() && self.rng.chance(self.faults.stale_events) {
            let (_, token) = retired[self.rng.below(retired.len() as u64) as usize];
            let live = self.ends.holds(set, token)
                || self.listeners.holds(set, token)
                || self.dgrams.holds(set, token);
            if !live {
                out.push(Ready {
                    token,
                    readable: true,
                    writable: true,
                    hup: true,
                });
                self.seen.add(Fault::StaleEvent);
                self.log(format_args!("an event for retired {token:?} (injected)"));
            }
        }
    }

    /// An injected `EINTR` for the call `what`, now and then.
    fn interrupt(&mut self, what: std::fmt::Arguments<'_>) -> io::Result<()> {
        if !self.rng.chance(self.faults.interrupted) {
            return Ok(());
        }
        self.seen.add(Fault::Interrupted);
        self.log(format_args!("{what} -> EINTR (injected)"));
        Err(io::Error::from(io::ErrorKind::Interrupted))
    }

    /// A registration ended: its token may turn up in a stale event.
    fn retire(&mut self, reg: Option<(usize, Token)>) {
        self.edges.retire(reg);
    }

    pub(crate) fn register_listener(&mut self, l: usize, set: usize, token: Option<Token>) {
        let old = self.listeners.set_token(l, set, token);
        if token.is_none() {
            self.retire(old.map(|t| (set, t)));
        }
        if token.is_some() && self.listeners.has_waiting(l) {
            self.edge(Subject::Listener(l), true, false);
        }
    }

    /// Poll set `set` drops its handle to listener `l`; the last one closes it.
    pub(crate) fn close_listener(&mut self, l: usize, set: usize) {
        let (old, waiting) = self.listeners.release(l, set);
        self.retire(old.map(|t| (set, t)));
        // Connections never accepted are reset.
        for conn in waiting.unwrap_or_default() {
            self.ends.abort(conn);
        }
    }

    pub(crate) fn register_dgram(&mut self, d: usize, set: usize, token: Option<Token>) {
        let (old, readable) = self.dgrams.set_token(d, token.map(|t| (set, t)));
        match token {
            None => self.retire(old),
            Some(_) => self.edge(Subject::Dgram(d), readable, true),
        }
    }

    pub(crate) fn close_dgram(&mut self, d: usize) {
        let old = self.dgrams.close(d);
        self.retire(old);
    }

    /// The reactor's datagram socket `d` receives into `buf` (a longer datagram is cut
    /// short, as UDP's is): the datagram's whole length, and its sender.
    pub(crate) fn dgram_recv(
        &mut self,
        d: usize,
        buf: &mut [u8],
    ) -> io::Result<(usize, SocketAddr)> {
        self.interrupt(format_args!("recvfrom dgram {d}"))?;
        let Some((data, from)) = self.dgrams.recv(d) else {
            return Err(would_block());
        };
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        self.log(format_args!("recvfrom dgram {d} -> {n} bytes from {from}"));
        Ok((data.len(), from))
    }

    /// The reactor's datagram socket `d` sends `data` to `to`.
    pub(crate) fn dgram_send(
        &mut self,
        d: usize,
        data: &[u8],
        to: SocketAddr,
    ) -> io::Result<usize> {
        self.interrupt(format_args!("sendto dgram {d}"))?;
        let n = data.len();
        if !self.dgrams.is_unix(d) && self.rng.chance(self.faults.would_block) {
            // A UDP socket's own buffer is full: room comes at the next poll. (A Unix one's
            // `WouldBlock` means its receiver is full: that one is real, not injected.)
            self.seen.add(Fault::WouldBlock);
            self.log(format_args!("sendto dgram {d} -> WouldBlock (injected)"));
            self.edge(Subject::Dgram(d), false, true);
            return Err(would_block());
        }
        let fate = match self.dgrams.send(d, data, to) {
            Sent::Delivered => "",
            Sent::Dropped => " (dropped: no room there)",
            Sent::Refused => {
                self.log(format_args!(
                    "sendto dgram {d} -> WouldBlock ({to}'s queue full)"
                ));
                return Err(would_block());
            }
        };
        self.log(format_args!("sendto dgram {d} -> {n} bytes to {to}{fate}"));
        Ok(n)
    }

    /// Datagram peer `p` sends `data` to `port`: `false` if it was lost.
    pub(crate) fn peer_send(&mut self, p: usize, port: u16, data: &[u8]) -> bool {
        let Some(d) = self.dgrams.peer_send(p, port, data) else {
            return false;
        };
        self.log(format_args!(
            "peer {p} sends {} bytes to port {port}",
            data.len()
        ));
        self.edge(Subject::Dgram(d), true, false);
        true
    }

    /// A new connection of two ends, of `kind`; its number.
    fn new_conn(&mut self, kind: Kind) -> usize {
        let zero_window = self.rng.chance(self.faults.zero_window);
        self.ends.new_conn(kind, zero_window)
    }

    pub(crate) fn connect(&mut self, port: u16) -> io::Result<usize> {
        let Some(l) = self.listeners.find(port) else {
            return Err(io::Error::from(io::ErrorKind::ConnectionRefused));
        };
        let conn = self.new_conn(self.listeners.kind(l));
        self.listeners.queue(l, conn);
        self.log(format_args!("client {conn} connects"));
        self.edge(Subject::Listener(l), true, false);
        Ok(conn)
    }

    /// The reactor connects out to `port`: the server end of a new connection, under way;
    /// the next poll settles it as the remote service there says. Its client end is the
    /// remote peer the simulation plays.
    pub(crate) fn dial(&mut self, port: u16) -> usize {
        let conn = self.new_conn(Kind::Tcp);
        let remote = self.listeners.remote(port);
        self.ends[server(conn)].dialing = Some(remote);
        self.ends[server(conn)].started(self.elapsed);
        self.dials.push(conn);
        self.last_dialed = Some(conn);
        self.log(format_args!(
            "connect conn {conn} to port {port} ({remote:?})"
        ));
        server(conn)
    }

    /// Settle the connects under way: answered or refused, each raises a writable edge; a
    /// silent host's stays under way.
    fn settle_dials(&mut self) {
        for conn in std::mem::take(&mut self.dials) {
            let met = self.ends.settle(conn);
            if let Some(remote @ (Remote::Answers | Remote::Refuses)) = met {
                self.log(format_args!("conn {conn}: connect -> {remote:?}"));
                let refused = remote == Remote::Refuses;
                self.edge(Subject::End(server(conn)), refused, true);
            }
        }
    }

    pub(crate) fn accept(&mut self, l: usize) -> io::Result<usize> {
        if !self.listeners.has_waiting(l) {
            return Err(would_block());
        }
        if let Some((fault, errno)) = self.faults.accept_error(&mut self.rng) {
            self.seen.add(fault);
            self.log(format_args!("accept -> {} (injected)", fault.name()));
            return Err(io::Error::from_raw_os_error(errno));
        }
        let conn = self.listeners.pop(l).unwrap_or_default();
        if self.rng.chance(self.faults.accept_aborted) {
            self.log(format_args!(
                "accept -> ECONNABORTED (injected): client {conn} reset"
            ));
            self.ends.abort(conn);
            self.seen.add(Fault::AcceptAborted);
            return Err(io::Error::from_raw_os_error(crate::sys::ECONNABORTED));
        }
        self.log(format_args!("accept -> client {conn}"));
        self.ends[server(conn)].started(self.elapsed);
        Ok(server(conn))
    }

    pub(crate) fn register_end(&mut self, e: usize, set: usize, token: Option<Token>) {
        let old = std::mem::replace(&mut self.ends[e].token, token.map(|t| (set, t)));
        if token.is_none() {
            self.retire(old);
        } else {
            // Registering a socket that is already ready reports it at once, as epoll does.
            let end = &self.ends[e];
            let readable = !end.inbox.is_empty() || end.eof || end.reset;
            let writable = self.ends.room(e) > 0 || end.reset;
            self.edge(Subject::End(e), readable, writable);
        }
    }

    /// `recvmsg` on end `e`: bytes into `buf`; descriptors into the control buffer `ctl`,
    /// laid out as the kernel lays them (`None`: a plain read, which closes them). Returns
    /// the bytes, the control data's length and `MSG_CTRUNC`.
    pub(crate) fn read(
        &mut self,
        e: usize,
        buf: &mut [u8],
        ctl: Option<&mut [u8]>,
    ) -> io::Result<(usize, usize, bool)> {
        let conn = e / 2;
        let waiting = self.ends[e].inbox.len();
        if !self.ends.is_connected(e) {
            return Err(match self.ends[e].refused {
                true => io::Error::from(io::ErrorKind::ConnectionRefused),
                false => would_block(),
            });
        }
        if self.ends[e].reset {
            self.met_reset(e);
            self.log(format_args!("read conn {conn} -> ECONNRESET"));
            return Err(io::Error::from(io::ErrorKind::ConnectionReset));
        }
        self.interrupt(format_args!("read conn {conn}"))?;
        if waiting == 0 {
            if self.ends[e].eof {
                self.log(format_args!("read conn {conn} -> 0 (end of file)"));
                return Ok((0, 0, false));
            }
            return Err(would_block());
        }
        if self.rng.chance(self.faults.would_block) {
            self.seen.add(Fault::WouldBlock);
            self.log(format_args!("read conn {conn} -> WouldBlock (injected)"));
            self.edge(Subject::End(e), true, false);
            return Err(would_block());
        }
        let mut max = waiting.min(buf.len());
        let records = self.ends[e].inbox.kind() == Kind::Seqpacket;
        if max > 1 && !records && self.rng.chance(self.faults.short_read) {
            // Stopping short raises no edge: the reader must come back until WouldBlock.
            max = 1 + self.rng.below(max as u64 - 1) as usize;
            self.seen.add(Fault::ShortRead);
        }
        self.ends[e].read(self.elapsed);
        let (n, fds) = self.ends[e].inbox.take(buf, max);
        let got = fds.len();
        let (len, cut) = self.install(e, fds, ctl);
        self.log(format_args!("read conn {conn} -> {n} bytes, {got} fds"));
        Ok((n, len, cut))
    }

    /// The descriptors a read of end `e` took, installed in its control buffer `ctl` as the
    /// kernel does (`sys::put_rights`), less any an injected `MSG_CTRUNC` closes.
    fn install(
        &mut self,
        e: usize,
        mut fds: Vec<OwnedFd>,
        ctl: Option<&mut [u8]>,
    ) -> (usize, bool) {
        let Some(ctl) = ctl.filter(|_| !fds.is_empty()) else {
            return (0, !fds.is_empty());
        };
        let cut = self
            .faults
            .cut_rights(&mut self.rng, &mut self.seen, &mut fds);
        if cut {
            self.ends[e].ctrunc = true;
            self.log(format_args!(
                "recvmsg conn {} -> MSG_CTRUNC (injected)",
                e / 2
            ));
        }
        let (len, truncated) = crate::sys::put_rights(ctl, fds);
        (len, cut || truncated)
    }

    /// `sendmsg` on end `e`: as many bytes of `bufs` as fit, with `fds` attached to the first
    /// (a record goes whole or not at all).
    pub(crate) fn write(
        &mut self,
        e: usize,
        bufs: &[IoSlice<'_>],
        fds: Vec<OwnedFd>,
    ) -> io::Result<usize> {
        let conn = e / 2;
        if self.ends[e].reset || self.ends[e ^ 1].closed {
            self.ends[e].reset = true;
            self.met_reset(e);
            self.log(format_args!("writev conn {conn} -> EPIPE (peer gone)"));
            return Err(io::Error::from(io::ErrorKind::BrokenPipe));
        }
        if self.ends[e].shut {
            return Err(io::Error::from(io::ErrorKind::BrokenPipe));
        }
        self.interrupt(format_args!("writev conn {conn}"))?;
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        let room = self.ends.room(e);
        let records = self.ends[e].inbox.kind() == Kind::Seqpacket;
        // A record goes whole or not at all.
        if room == 0 || (records && total > room) {
            if self.ends[e ^ 1].zero_window && self.faults.zero_window > 0 {
                self.seen.add(Fault::ZeroWindow);
            }
            self.ends[e].blocked = true;
            self.log(format_args!(
                "writev conn {conn} -> WouldBlock (peer's queue full)"
            ));
            return Err(would_block());
        }
        if self.rng.chance(self.faults.would_block) {
            self.seen.add(Fault::WouldBlock);
            self.log(format_args!("writev conn {conn} -> WouldBlock (injected)"));
            self.edge(Subject::End(e), false, true);
            return Err(would_block());
        }
        let mut n = total.min(room);
        if n > 1 && !records && self.rng.chance(self.faults.short_write) {
            n = 1 + self.rng.below(n as u64 - 1) as usize;
            self.seen.add(Fault::ShortWrite);
        }
        let reset = n > 0 && self.rng.chance(self.faults.reset_mid_write);
        if reset && !records {
            n = n.div_ceil(2);
        }
        if n > 0 {
            self.ends[e].wrote(self.elapsed);
        }
        self.ends[e ^ 1].inbox.push(bufs, n, fds);
        self.log(format_args!("writev conn {conn} -> {n} of {total} bytes"));
        if reset {
            // The peer resets after taking part: the reactor meets it at its next call.
            self.ends[e].reset = true;
            self.ends[e].fault_reset = true;
            self.ends[e ^ 1].reset = true;
            self.log(format_args!("client {conn} resets mid-write (injected)"));
            self.edge(Subject::End(e), true, true);
        }
        Ok(n)
    }

    pub(crate) fn shutdown(&mut self, e: usize) -> io::Result<()> {
        if self.ends[e].reset {
            return Err(io::Error::from(io::ErrorKind::NotConnected));
        }
        self.ends[e].shut = true;
        self.ends[e ^ 1].eof = true;
        self.log(format_args!("shutdown(SHUT_WR) conn {} -> FIN", e / 2));
        Ok(())
    }

    pub(crate) fn close_end(&mut self, e: usize) {
        let end = &mut self.ends[e];
        if end.closed {
            return;
        }
        end.closed = true;
        let old = end.token.take();
        self.retire(old);
        let end = &mut self.ends[e];
        let unread = end.inbox.clear();
        let peer = &mut self.ends[e ^ 1];
        if unread > 0 && !peer.reset {
            // Closing with unread input makes Linux send a reset.
            peer.reset = true;
            self.log(format_args!(
                "close conn {} with {unread} unread bytes -> RST",
                e / 2
            ));
        } else if !peer.reset {
            peer.eof = true;
            self.log(format_args!("close conn {} -> FIN", e / 2));
        }
    }

    /// The reactor met a reset on end `e`: if a fault injected it, count it (once).
    fn met_reset(&mut self, e: usize) {
        if std::mem::take(&mut self.ends[e].fault_reset) {
            self.seen.add(Fault::ResetMidWrite);
        }
    }

    /// Sockets poll set `set` holds open.
    pub(crate) fn open_sockets(&self, set: usize) -> usize {
        self.ends.open_servers(set) + self.listeners.open_count(set) + self.dgrams.open_count(set)
    }

    pub(crate) fn client_send(
        &mut self,
        conn: usize,
        data: &[u8],
        fds: Vec<OwnedFd>,
    ) -> io::Result<usize> {
        let k = fds.len();
        let n = self.ends.client_send(conn, data, fds)?;
        if n > 0 {
            self.log(format_args!("client {conn} sends {n} bytes, {k} fds"));
            self.edge(Subject::End(server(conn)), true, false);
        }
        Ok(n)
    }

    pub(crate) fn client_recv(&mut self, conn: usize, max: usize) -> Received {
        // A zero window: the client reads nothing while faults are on.
        let (got, wake) = self
            .ends
            .client_recv(conn, max, self.faults.zero_window > 0);
        if !got.bytes.is_empty() {
            self.log(format_args!(
                "client {conn} receives {} bytes, {} fds",
                got.bytes.len(),
                got.fds
            ));
        }
        if wake {
            self.edge(Subject::End(server(conn)), false, true);
        }
        got
    }

    pub(crate) fn client_shutdown(&mut self, conn: usize) {
        if self.ends.client_shutdown(conn) {
            self.log(format_args!("client {conn} sends FIN"));
            self.edge(Subject::End(server(conn)), true, false);
        }
    }

    pub(crate) fn client_reset(&mut self, conn: usize) {
        if self.ends.client_reset(conn) {
            self.log(format_args!("client {conn} resets"));
            self.edge(Subject::End(server(conn)), true, true);
        }
    }
}
