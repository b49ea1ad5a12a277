//! The in-memory network's state: listeners, connection ends, pending edges, the virtual
//! clock, the fault generator and the trace. Every syscall of the simulation lands in one
//! method here.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::Token;

/// One readiness event, as the reactor's dispatch sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ready {
    /// The token the source was registered with.
    pub token: Token,
    /// Readable (or a listener with connections waiting).
    pub readable: bool,
    /// Writable.
    pub writable: bool,
    /// The peer finished or reset: read to the end, whatever the read returns.
    pub hup: bool,
}

/// What a client's receive found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Received {
    /// Bytes taken from the client's receive queue.
    pub bytes: Vec<u8>,
    /// The server finished sending (end of file, after the bytes).
    pub eof: bool,
    /// The connection was reset.
    pub reset: bool,
}

/// A small seeded generator (SplitMix64): the same seed gives the same faults.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (0 if `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u8) -> bool {
        self.below(100) < u64::from(percent)
    }
}

/// How often each fault is injected, in percent of the calls that could see it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// A read returns fewer bytes than are waiting, and no edge reports the rest, as a Unix
    /// stream's read can stop short. Any value above 0 makes the network's streams behave
    /// that way (so the reactor must read them until `WouldBlock`); at 0 they keep TCP's
    /// promise that a short read means the socket is drained.
    pub short_read: u8,
    /// A write takes fewer bytes than there is room for.
    pub short_write: u8,
    /// A read or write says `WouldBlock` although it could go on, as if the bytes (or the
    /// room) had not arrived yet; an edge follows when they "arrive", at the next poll.
    pub would_block: u8,
    /// `accept` fails with `EMFILE` (out of descriptors); the connection stays waiting.
    pub accept_emfile: u8,
    /// `accept` fails with `ECONNABORTED`: the waiting connection was reset and is gone.
    pub accept_aborted: u8,
    /// An event is reported twice in one batch (readable and writable apart).
    pub split_events: u8,
}

impl Faults {
    /// No faults.
    pub const NONE: Faults = Faults {
        short_read: 0,
        short_write: 0,
        would_block: 0,
        accept_emfile: 0,
        accept_aborted: 0,
        split_events: 0,
    };
}

/// Each end's receive queue holds this many bytes (the socket buffer).
const QUEUE: usize = 16 * 1024;

#[derive(Debug, Default)]
struct End {
    /// Bytes received and not yet read.
    inbox: VecDeque<u8>,
    /// The peer sent FIN: after the inbox, reads return 0.
    eof: bool,
    /// The connection was reset: reads and writes fail.
    reset: bool,
    /// This end sent FIN.
    shut: bool,
    /// This end is closed (dropped by the reactor, or the client is done with it).
    closed: bool,
    /// A write from this end found no room (`WouldBlock`): the next room freed raises a
    /// writable edge (Linux's `SOCK_NOSPACE`); room freed otherwise raises none.
    blocked: bool,
    token: Option<Token>,
}

#[derive(Debug)]
struct Listener {
    port: u16,
    backlog: VecDeque<usize>,
    open: bool,
    token: Option<Token>,
}

/// What an edge is about.
#[derive(Clone, Copy, Debug)]
enum Subject {
    End(usize),
    Listener(usize),
}

#[derive(Debug)]
pub(crate) struct World {
    origin: Instant,
    pub(crate) elapsed: Duration,
    pub(crate) rng: Rng,
    pub(crate) faults: Faults,
    listeners: Vec<Listener>,
    /// Connection `i` has ends `2i` (the client) and `2i + 1` (the server).
    ends: Vec<End>,
    /// Edges raised since the last poll: subject, readable, writable.
    edges: Vec<(Subject, bool, bool)>,
    pub(crate) trace: Vec<String>,
}

fn would_block() -> io::Error {
    io::Error::from(io::ErrorKind::WouldBlock)
}

fn server(conn: usize) -> usize {
    2 * conn + 1
}

impl World {
    pub(crate) fn new(seed: u64, faults: Faults, origin: Instant) -> World {
        World {
            origin,
            elapsed: Duration::ZERO,
            rng: Rng::new(seed),
            faults,
            listeners: Vec::new(),
            ends: Vec::new(),
            edges: Vec::new(),
            trace: Vec::new(),
        }
    }

    pub(crate) fn now(&self) -> Instant {
        self.origin + self.elapsed
    }

    pub(crate) fn log(&mut self, line: std::fmt::Arguments<'_>) {
        let ms = self.elapsed.as_secs_f64() * 1e3;
        let mut s = String::new();
        let _ = write!(s, "{ms:9.3} ms  {line}");
        self.trace.push(s);
    }

    fn edge(&mut self, subject: Subject, readable: bool, writable: bool) {
        self.edges.push((subject, readable, writable));
    }

    pub(crate) fn poll(&mut self, out: &mut Vec<Ready>, timeout: Option<Duration>) {
        out.clear();
        let edges = std::mem::take(&mut self.edges);
        for (subject, readable, writable) in edges {
            let (token, hup) = match subject {
                Subject::End(e) => {
                    let end = &self.ends[e];
                    (end.token, end.eof || end.reset)
                }
                Subject::Listener(l) => (self.listeners[l].token, false),
            };
            // Deregistered since: epoll would not report it.
            let Some(token) = token else { continue };
            match out.iter_mut().find(|r| r.token == token) {
                // One event per socket per batch, as epoll gives, unless split on purpose.
                Some(r) if !self.rng.chance(self.faults.split_events) => {
                    r.readable |= readable;
                    r.writable |= writable;
                    r.hup |= hup;
                }
                _ => out.push(Ready {
                    token,
                    readable,
                    writable,
                    hup,
                }),
            }
        }
        if out.is_empty() {
            if let Some(t) = timeout {
                self.elapsed += t;
            }
        }
    }

    pub(crate) fn listen(&mut self, port: u16) -> usize {
        self.listeners.push(Listener {
            port,
            backlog: VecDeque::new(),
            open: true,
            token: None,
        });
        self.listeners.len() - 1
    }

    pub(crate) fn listener_addr(&self, l: usize) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.listeners[l].port))
    }

    pub(crate) fn register_listener(&mut self, l: usize, token: Option<Token>) {
        self.listeners[l].token = token;
        if token.is_some() && !self.listeners[l].backlog.is_empty() {
            self.edge(Subject::Listener(l), true, false);
        }
    }

    pub(crate) fn close_listener(&mut self, l: usize) {
        let listener = &mut self.listeners[l];
        listener.open = false;
        listener.token = None;
        // Connections never accepted are reset.
        let waiting: Vec<usize> = listener.backlog.drain(..).collect();
        for conn in waiting {
            self.ends[2 * conn].reset = true;
            self.ends[server(conn)].closed = true;
        }
    }

    pub(crate) fn connect(&mut self, port: u16) -> io::Result<usize> {
        let Some(l) = self.listeners.iter().position(|l| l.open && l.port == port) else {
            return Err(io::Error::from(io::ErrorKind::ConnectionRefused));
        };
        let conn = self.ends.len() / 2;
        self.ends.push(End::default());
        self.ends.push(End::default());
        self.listeners[l].backlog.push_back(conn);
        self.log(format_args!("client {conn} connects"));
        self.edge(Subject::Listener(l), true, false);
        Ok(conn)
    }

    pub(crate) fn accept(&mut self, l: usize) -> io::Result<(usize, SocketAddr)> {
        if self.listeners[l].backlog.is_empty() {
            return Err(would_block());
        }
        if self.rng.chance(self.faults.accept_emfile) {
            self.log(format_args!("accept -> EMFILE (injected)"));
            return Err(io::Error::from_raw_os_error(crate::sys::EMFILE));
        }
        let conn = self.listeners[l].backlog.pop_front().unwrap_or_default();
        if self.rng.chance(self.faults.accept_aborted) {
            self.log(format_args!(
                "accept -> ECONNABORTED (injected): client {conn} reset"
            ));
            self.ends[2 * conn].reset = true;
            self.ends[server(conn)].closed = true;
            return Err(io::Error::from_raw_os_error(crate::sys::ECONNABORTED));
        }
        self.log(format_args!("accept -> client {conn}"));
        Ok((server(conn), self.peer_addr(server(conn))))
    }

    pub(crate) fn peer_addr(&self, end: usize) -> SocketAddr {
        let port = 20000 + (end / 2) as u16;
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    pub(crate) fn register_end(&mut self, e: usize, token: Option<Token>) {
        self.ends[e].token = token;
        if token.is_some() {
            // Registering a socket that is already ready reports it at once, as epoll does.
            let end = &self.ends[e];
            let readable = !end.inbox.is_empty() || end.eof || end.reset;
            let writable = self.room(e) > 0 || end.reset;
            self.edge(Subject::End(e), readable, writable);
        }
    }

    /// Room in the peer's receive queue for what end `e` writes.
    fn room(&self, e: usize) -> usize {
        QUEUE.saturating_sub(self.ends[e ^ 1].inbox.len())
    }

    pub(crate) fn read(&mut self, e: usize, buf: &mut [u8]) -> io::Result<usize> {
        let conn = e / 2;
        let waiting = self.ends[e].inbox.len();
        if self.ends[e].reset {
            self.log(format_args!("read conn {conn} -> ECONNRESET"));
            return Err(io::Error::from(io::ErrorKind::ConnectionReset));
        }
        if waiting == 0 {
            if self.ends[e].eof {
                self.log(format_args!("read conn {conn} -> 0 (end of file)"));
                return Ok(0);
            }
            return Err(would_block());
        }
        if self.rng.chance(self.faults.would_block) {
            self.log(format_args!("read conn {conn} -> WouldBlock (injected)"));
            self.edge(Subject::End(e), true, false);
            return Err(would_block());
        }
        let mut n = waiting.min(buf.len());
        if n > 1 && self.rng.chance(self.faults.short_read) {
            // Stopping short raises no edge: the reader must come back until WouldBlock.
            n = 1 + self.rng.below(n as u64 - 1) as usize;
        }
        for (slot, byte) in buf.iter_mut().zip(self.ends[e].inbox.drain(..n)) {
            *slot = byte;
        }
        self.log(format_args!("read conn {conn} -> {n} bytes"));
        Ok(n)
    }

    pub(crate) fn write(&mut self, e: usize, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let conn = e / 2;
        if self.ends[e].reset || self.ends[e ^ 1].closed {
            self.ends[e].reset = true;
            self.log(format_args!("writev conn {conn} -> EPIPE (peer gone)"));
            return Err(io::Error::from(io::ErrorKind::BrokenPipe));
        }
        if self.ends[e].shut {
            return Err(io::Error::from(io::ErrorKind::BrokenPipe));
        }
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        let room = self.room(e);
        if room == 0 {
            self.ends[e].blocked = true;
            self.log(format_args!(
                "writev conn {conn} -> WouldBlock (peer's queue full)"
            ));
            return Err(would_block());
        }
        if self.rng.chance(self.faults.would_block) {
            self.log(format_args!("writev conn {conn} -> WouldBlock (injected)"));
            self.edge(Subject::End(e), false, true);
            return Err(would_block());
        }
        let mut n = total.min(room);
        if n > 1 && self.rng.chance(self.faults.short_write) {
            n = 1 + self.rng.below(n as u64 - 1) as usize;
        }
        let mut left = n;
        for b in bufs {
            let take = left.min(b.len());
            self.ends[e ^ 1].inbox.extend(&b[..take]);
            left -= take;
        }
        self.log(format_args!("writev conn {conn} -> {n} of {total} bytes"));
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
        end.token = None;
        let unread = end.inbox.len();
        end.inbox.clear();
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

    /// Do reads stop short only when drained (TCP), or anywhere (a Unix stream)?
    pub(crate) fn short_read_drains(&self) -> bool {
        self.faults.short_read == 0
    }

    pub(crate) fn server_open(&self, conn: usize) -> bool {
        !self.ends[server(conn)].closed
    }

    pub(crate) fn open_sockets(&self) -> usize {
        let ends = (0..self.ends.len() / 2)
            .filter(|&c| !self.ends[server(c)].closed && self.ends[server(c)].token.is_some())
            .count();
        ends + self.listeners.iter().filter(|l| l.open).count()
    }

    pub(crate) fn client_send(&mut self, conn: usize, data: &[u8]) -> io::Result<usize> {
        let c = 2 * conn;
        if self.ends[c].reset || self.ends[c ^ 1].closed {
            self.ends[c].reset = true;
            return Err(io::Error::from(io::ErrorKind::ConnectionReset));
        }
        if self.ends[c].shut {
            return Err(io::Error::from(io::ErrorKind::BrokenPipe));
        }
        let n = data.len().min(self.room(c));
        self.ends[c ^ 1].inbox.extend(&data[..n]);
        if n > 0 {
            self.log(format_args!("client {conn} sends {n} bytes"));
            self.edge(Subject::End(c ^ 1), true, false);
        }
        Ok(n)
    }

    pub(crate) fn client_recv(&mut self, conn: usize, max: usize) -> Received {
        let c = 2 * conn;
        let n = max.min(self.ends[c].inbox.len());
        let bytes: Vec<u8> = self.ends[c].inbox.drain(..n).collect();
        let end = &self.ends[c];
        let got = Received {
            eof: end.eof && end.inbox.is_empty(),
            reset: end.reset,
            bytes,
        };
        if n > 0 {
            self.log(format_args!("client {conn} receives {n} bytes"));
            // Room freed in the client's queue: a server end that found none may write again.
            if std::mem::take(&mut self.ends[c ^ 1].blocked) {
                self.edge(Subject::End(c ^ 1), false, true);
            }
        }
        got
    }

    pub(crate) fn client_shutdown(&mut self, conn: usize) {
        let c = 2 * conn;
        if !self.ends[c].shut {
            self.ends[c].shut = true;
            self.ends[c ^ 1].eof = true;
            self.log(format_args!("client {conn} sends FIN"));
            self.edge(Subject::End(c ^ 1), true, false);
        }
    }

    pub(crate) fn client_reset(&mut self, conn: usize) {
        let c = 2 * conn;
        self.ends[c].closed = true;
        self.ends[c].inbox.clear();
        if !self.ends[c ^ 1].closed {
            self.ends[c ^ 1].reset = true;
            self.log(format_args!("client {conn} resets"));
            self.edge(Subject::End(c ^ 1), true, true);
        }
    }
}
