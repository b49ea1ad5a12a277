//! The reactor's state apart from `Poll` and the handler, and the I/O loops over it.
//!
//! [`Core`] owns the slab of registered sockets, the timer wheel, the buffer pool and the
//! work lists. [`Reactor::turn`](super::Reactor::turn) hands it events one at a time; the
//! methods here do the reads, accepts and writes and call the handler. A [`Context`] is just a
//! `&mut Core` with a public face.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::Instant;

use log::{debug, error, warn};
use mio::net::{TcpListener, TcpStream, UdpSocket, UnixDatagram, UnixListener, UnixStream};
use mio::unix::SourceFd;
use mio::{Interest, Registry};
use slab::Slab;

use super::context::Context;
use super::handler::{Handler, TimeoutAction};
use super::stream::{next_record_len, Dgram, Listener, PeerAddr, Stream, UnixFile};
use super::token::{ConnId, DgramId, Key, ListenerId, MAX_INDEX};
use super::{Config, Stats};
use crate::buf::{BufPool, MAX_IOVECS};
use crate::conn::{Conn, WriteSide};
use crate::error::{stale, CloseReason, ReadBufferFull};
use crate::sys::{self, Signals};
use crate::time::{TimerHandle, TimerWheel};

/// The largest UDP payload (65535 - 8 byte UDP header - 20 byte IPv4 header), rounded up to a
/// size that also fits any IPv6 datagram without jumbograms.
pub(crate) const DGRAM_BUF: usize = 65536;

/// What one queued datagram costs against [`Config::max_dgram_queue`](super::Config) beyond
/// its bytes: its address and vector.
const DGRAM_OVERHEAD: usize = 64;

/// What a wheel entry is for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TimerTarget {
    /// Check a connection's deadlines.
    Conn(Key),
    /// A user timer with the user's token.
    User(u64),
    /// Resume accepting on a listener paused after running out of descriptors.
    ResumeAccept(Key),
    /// The grace period of a graceful shutdown is over.
    ShutdownDeadline,
}

/// One registered socket (or signal descriptor).
///
/// Connections are by far the most numerous entries, so they are stored inline (not boxed):
/// boxing would cost an allocation per accept and a pointer chase per event, to save memory
/// only on the few listeners.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub(crate) enum Source {
    Listener {
        sock: Listener,
        paused: bool,
    },
    Conn {
        sock: Stream,
        conn: Conn,
    },
    Dgram {
        sock: Dgram,
        /// Datagrams the kernel had no room for yet, in order.
        queue: VecDeque<(PeerAddr, Vec<u8>)>,
        queued_bytes: usize,
    },
    Signals(Signals),
}

#[derive(Debug)]
pub(crate) struct Entry {
    gen: u32,
    /// In the read list already (so it is served once per turn, however often it is queued).
    queued: bool,
    source: Source,
}

/// Converts between `Instant`s and wheel ticks of one millisecond.
///
/// Deadlines round up and `now` rounds down, so a timer whose tick has been reached has
/// really expired: the wheel may be up to one tick late, never early.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    origin: Instant,
}

const NANOS_PER_TICK: u128 = 1_000_000;

impl Clock {
    pub(crate) fn new(origin: Instant) -> Clock {
        Clock { origin }
    }

    pub(crate) fn deadline_tick(&self, at: Instant) -> u64 {
        let nanos = at.saturating_duration_since(self.origin).as_nanos();
        u64::try_from(nanos.div_ceil(NANOS_PER_TICK)).unwrap_or(u64::MAX)
    }

    pub(crate) fn now_tick(&self, now: Instant) -> u64 {
        let nanos = now.saturating_duration_since(self.origin).as_nanos();
        u64::try_from(nanos / NANOS_PER_TICK).unwrap_or(u64::MAX)
    }

    pub(crate) fn instant(&self, tick: u64) -> Option<Instant> {
        self.origin
            .checked_add(std::time::Duration::from_millis(tick))
    }
}

pub(crate) struct Core {
    pub(crate) registry: Registry,
    pub(crate) entries: Slab<Entry>,
    next_gen: u32,
    pub(crate) wheel: TimerWheel<TimerTarget>,
    pub(crate) clock: Clock,
    pub(crate) pool: BufPool,
    pub(crate) config: Config,
    pub(crate) now: Instant,
    /// Sockets with input (or connections to accept) left over after their budget ran out,
    /// or whose reading resumed: served again next turn, without waiting for a new event.
    pub(crate) read_list: Vec<Key>,
    /// The read list's twin, swapped in each turn.
    pub(crate) read_spare: Vec<Key>,
    /// Connections with output queued this turn, flushed at the end of the turn.
    pub(crate) flush_list: Vec<Key>,
    /// The flush list's twin, swapped in each turn.
    pub(crate) flush_spare: Vec<Key>,
    /// Connections closed but not yet reported to the handler.
    closed: VecDeque<(ConnId, CloseReason)>,
    dgram_buf: Vec<u8>,
    pub(crate) stats: Stats,
    pub(crate) stopped: bool,
    /// A graceful shutdown is under way.
    pub(crate) shutting_down: bool,
    /// The wheel entry that ends the shutdown's grace period (none for an unbounded grace).
    shutdown_timer: Option<TimerHandle>,
}

impl Core {
    pub(crate) fn new(registry: Registry, config: Config, now: Instant) -> Core {
        Core {
            registry,
            entries: Slab::with_capacity(config.events_capacity),
            next_gen: 0,
            wheel: TimerWheel::with_capacity(config.events_capacity),
            clock: Clock::new(now),
            pool: BufPool::new(
                config.read_buffer_size,
                config.write_buffer_size,
                config.max_pooled_buffers,
            ),
            now,
            read_list: Vec::with_capacity(64),
            read_spare: Vec::with_capacity(64),
            flush_list: Vec::with_capacity(64),
            flush_spare: Vec::with_capacity(64),
            closed: VecDeque::with_capacity(16),
            dgram_buf: Vec::new(),
            stats: Stats::default(),
            stopped: false,
            shutting_down: false,
            shutdown_timer: None,
            config,
        }
    }

    // ----- the slab -------------------------------------------------------------------------

    /// Register `source` and put it in the slab under a fresh generation.
    fn insert(&mut self, mut source: Source, interest: Interest) -> io::Result<Key> {
        let entry = self.entries.vacant_entry();
        if entry.key() > MAX_INDEX {
            return Err(io::Error::other("too many sockets in one reactor"));
        }
        self.next_gen = self.next_gen.wrapping_add(1);
        let key = Key {
            index: entry.key() as u32,
            gen: self.next_gen,
        };
        let token = key.token();
        match &mut source {
            Source::Listener { sock, .. } => self.registry.register(sock, token, interest)?,
            Source::Conn { sock, .. } => self.registry.register(sock, token, interest)?,
            Source::Dgram { sock, .. } => self.registry.register(sock, token, interest)?,
            Source::Signals(s) => {
                let fd = std::os::fd::AsRawFd::as_raw_fd(s);
                self.registry
                    .register(&mut SourceFd(&fd), token, interest)?
            }
        }
        entry.insert(Entry {
            gen: key.gen,
            queued: false,
            source,
        });
        Ok(key)
    }

    /// The entry at `key`, if it is still the one `key` was issued for.
    fn get(&self, key: Key) -> Option<&Source> {
        match self.entries.get(key.index as usize) {
            Some(e) if e.gen == key.gen => Some(&e.source),
            _ => None,
        }
    }

    pub(crate) fn conn_mut(&mut self, key: Key) -> Option<(&mut Stream, &mut Conn)> {
        conn_in(&mut self.entries, key)
    }

    pub(crate) fn conn(&self, key: Key) -> Option<(&Stream, &Conn)> {
        match self.get(key) {
            Some(Source::Conn { sock, conn }) => Some((sock, conn)),
            _ => None,
        }
    }

    /// The ids of all open connections, in slab order.
    pub(crate) fn conn_ids(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.entries.iter().filter_map(|(index, e)| match e.source {
            Source::Conn { .. } => Some(ConnId(Key {
                index: index as u32,
                gen: e.gen,
            })),
            _ => None,
        })
    }

    /// The local address of a listener, connection or datagram socket.
    pub(crate) fn local_peer_addr(&self, key: Key) -> io::Result<PeerAddr> {
        match self.get(key) {
            Some(Source::Listener { sock, .. }) => sock.local_addr(),
            Some(Source::Conn { sock, .. }) => sock.local_addr(),
            Some(Source::Dgram { sock, .. }) => sock.local_addr(),
            _ => Err(stale()),
        }
    }

    /// The local IP address and port (an error for a Unix socket).
    pub(crate) fn local_addr(&self, key: Key) -> io::Result<SocketAddr> {
        self.local_peer_addr(key)?.inet().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "a Unix socket has no IP address",
            )
        })
    }

    // ----- adding sockets -------------------------------------------------------------------

    pub(crate) fn listen(
        &mut self,
        addr: SocketAddr,
        opts: &sys::ListenOptions,
    ) -> io::Result<ListenerId> {
        let sock = TcpListener::from_std(sys::tcp_listener(addr, opts)?);
        self.add_listening(Listener::Tcp(sock))
    }

    pub(crate) fn add_listener(&mut self, sock: std::net::TcpListener) -> io::Result<ListenerId> {
        sock.set_nonblocking(true)?;
        self.add_listening(Listener::Tcp(TcpListener::from_std(sock)))
    }

    pub(crate) fn listen_unix(
        &mut self,
        path: &std::path::Path,
        opts: &sys::UnixListenOptions,
    ) -> io::Result<ListenerId> {
        let sock = UnixListener::from_std(sys::unix_listener(path, opts)?);
        // From here on the file is ours: removed when the listener goes, even on error.
        let _file = UnixFile::new(path);
        self.add_listening(Listener::Unix { sock, _file })
    }

    pub(crate) fn listen_seqpacket(
        &mut self,
        path: &std::path::Path,
        opts: &sys::UnixListenOptions,
    ) -> io::Result<ListenerId> {
        let sock = sys::unix_seqpacket_listener(path, opts)?;
        let _file = UnixFile::new(path);
        self.add_listening(Listener::Seqpacket { sock, _file })
    }

    pub(crate) fn connect_seqpacket(&mut self, path: &std::path::Path) -> io::Result<ConnId> {
        let sock = Stream::Seqpacket(sys::unix_seqpacket_connect(path)?);
        // Connected already (a Unix connect does not go on in the background); on_connect
        // still comes first, with the writable event.
        let id = self.add_conn(sock, true)?;
        self.stats.connected += 1;
        Ok(id)
    }

    fn add_listening(&mut self, sock: Listener) -> io::Result<ListenerId> {
        let source = Source::Listener {
            sock,
            paused: false,
        };
        self.insert(source, Interest::READABLE).map(ListenerId)
    }

    pub(crate) fn bind_unix_dgram(
        &mut self,
        path: &std::path::Path,
        opts: &sys::UnixListenOptions,
    ) -> io::Result<DgramId> {
        let sock = UnixDatagram::from_std(sys::unix_datagram(path, opts)?);
        let _file = UnixFile::new(path);
        self.add_dgram(Dgram::Unix { sock, _file })
    }

    pub(crate) fn bind_udp(&mut self, addr: SocketAddr, reuse_port: bool) -> io::Result<DgramId> {
        self.add_udp(sys::udp_socket(addr, reuse_port)?)
    }

    pub(crate) fn add_udp(&mut self, sock: std::net::UdpSocket) -> io::Result<DgramId> {
        sock.set_nonblocking(true)?;
        self.add_dgram(Dgram::Udp(UdpSocket::from_std(sock)))
    }

    fn add_dgram(&mut self, sock: Dgram) -> io::Result<DgramId> {
        // One receive buffer for all datagram sockets, made with the first of them.
        if self.dgram_buf.is_empty() {
            self.dgram_buf = vec![0; DGRAM_BUF];
        }
        let source = Source::Dgram {
            sock,
            queue: VecDeque::new(),
            queued_bytes: 0,
        };
        self.insert(source, Interest::READABLE | Interest::WRITABLE)
            .map(DgramId)
    }

    pub(crate) fn add_signals(&mut self, signals: Signals) -> io::Result<()> {
        self.insert(Source::Signals(signals), Interest::READABLE)
            .map(|_| ())
    }

    /// Register a connected (or connecting) stream.
    pub(crate) fn add_conn(&mut self, sock: Stream, connecting: bool) -> io::Result<ConnId> {
        if self.config.nodelay {
            if let Err(e) = sock.set_nodelay() {
                // Not fatal: the connection works, only with Nagle's algorithm on.
                debug!("TCP_NODELAY failed: {e}");
            }
        }
        let mut conn = Conn::new(self.now, self.config.timeouts, connecting);
        conn.records = sock.is_records();
        conn.wq.set_records(conn.records);
        // Edge-triggered, both directions, once: no re-registration syscalls later. TCP also
        // asks for urgent-data events: a read stops short at the urgent mark (see read_conn).
        let interest = match sock {
            Stream::Tcp(_) => Interest::READABLE | Interest::WRITABLE | Interest::PRIORITY,
            _ => Interest::READABLE | Interest::WRITABLE,
        };
        let key = self.insert(Source::Conn { sock, conn }, interest)?;
        self.stats.active += 1;
        self.rearm(key);
        Ok(ConnId(key))
    }

    pub(crate) fn connect_unix(&mut self, path: &std::path::Path) -> io::Result<ConnId> {
        let sock = Stream::Unix(UnixStream::connect(path)?);
        let id = self.add_conn(sock, true)?;
        self.stats.connected += 1;
        Ok(id)
    }

    pub(crate) fn connect(&mut self, addr: SocketAddr) -> io::Result<ConnId> {
        let sock = Stream::Tcp(TcpStream::connect(addr)?);
        let id = self.add_conn(sock, true)?;
        self.stats.connected += 1;
        Ok(id)
    }

    pub(crate) fn remove_listener(&mut self, key: Key) -> io::Result<()> {
        if !matches!(self.get(key), Some(Source::Listener { .. })) {
            return Err(stale());
        }
        self.remove_source(key);
        Ok(())
    }

    /// Start a graceful shutdown: stop accepting and receiving datagrams, ask every
    /// connection to close once its queued output is flushed, and give them `grace` to do
    /// so. The reactor stops when the last connection is gone or the time is up, whichever
    /// comes first; connections still open then are closed at once.
    pub(crate) fn shutdown(&mut self, grace: std::time::Duration) {
        if self.shutting_down {
            return;
        }
        self.shutting_down = true;
        let mut keys = Vec::with_capacity(self.entries.len());
        for (index, e) in self.entries.iter() {
            keys.push((
                Key {
                    index: index as u32,
                    gen: e.gen,
                },
                matches!(e.source, Source::Conn { .. }),
            ));
        }
        for (key, is_conn) in keys {
            if is_conn {
                let reason = match self.conn(key) {
                    Some((_, c)) if c.read_eof => CloseReason::PeerClosed,
                    _ => CloseReason::Local,
                };
                let _ = self.close_graceful(key, reason);
            } else if !matches!(self.get(key), Some(Source::Signals(_))) {
                if matches!(self.get(key), Some(Source::Dgram { .. })) {
                    // One last try at queued replies; what the kernel will not take now is
                    // counted and logged, not lost silently.
                    self.flush_dgram(key);
                }
                self.remove_source(key);
            }
        }
        // A grace too long to represent is no limit at all.
        if let Some(deadline) = self.now.checked_add(grace) {
            let tick = self.clock.deadline_tick(deadline);
            self.shutdown_timer = Some(self.wheel.insert(tick, TimerTarget::ShutdownDeadline));
        }
        self.check_shutdown_done();
    }

    /// Stop once a graceful shutdown has no connection left, and leave shutdown mode, so
    /// that a later `run` starts afresh.
    pub(crate) fn check_shutdown_done(&mut self) {
        if self.shutting_down && self.stats.active == 0 {
            self.shutting_down = false;
            if let Some(t) = self.shutdown_timer.take() {
                self.wheel.cancel(t);
            }
            self.stopped = true;
        }
    }

    /// The grace period is over: close what is left, and stop.
    fn finish_shutdown(&mut self) {
        self.shutdown_timer = None;
        if !self.shutting_down {
            return;
        }
        let left: Vec<ConnId> = self.conn_ids().collect();
        if !left.is_empty() {
            warn!(
                "shutdown: grace period over, closing {} connection(s) with output still queued",
                left.len()
            );
        }
        for id in left {
            self.close_now(id.0, CloseReason::Local);
        }
        self.shutting_down = false;
        self.stopped = true;
    }

    /// Deregister and drop a listener, datagram socket or signal source.
    fn remove_source(&mut self, key: Key) {
        if self.get(key).is_none() {
            return;
        }
        let entry = self.entries.remove(key.index as usize);
        let result = match entry.source {
            Source::Listener { mut sock, .. } => self.registry.deregister(&mut sock),
            Source::Dgram {
                mut sock, queue, ..
            } => {
                if !queue.is_empty() {
                    self.stats.dgram_send_errors += queue.len() as u64;
                    warn!("dropping {} queued datagram(s) at shutdown", queue.len());
                }
                self.registry.deregister(&mut sock)
            }
            Source::Signals(s) => {
                let fd = std::os::fd::AsRawFd::as_raw_fd(&s);
                self.registry.deregister(&mut SourceFd(&fd))
            }
            Source::Conn { .. } => unreachable!("connections close through close_now"),
        };
        if let Err(e) = result {
            debug!("deregister failed: {e}");
        }
    }

    // ----- closing --------------------------------------------------------------------------

    /// Close `key` now: deregister, free the slot, return the buffers, and queue the
    /// `on_close` notification. Does nothing if `key` is stale.
    pub(crate) fn close_now(&mut self, key: Key, reason: CloseReason) {
        if self.conn(key).is_none() {
            return;
        }
        let entry = self.entries.remove(key.index as usize);
        let Source::Conn { mut sock, mut conn } = entry.source else {
            unreachable!("checked above that the entry is a connection");
        };
        if let Err(e) = self.registry.deregister(&mut sock) {
            debug!("deregister failed: {e}");
        }
        if let Some(h) = conn.armed() {
            self.wheel.cancel(h);
        }
        conn.rbuf.clear(&mut self.pool);
        conn.wq.clear(&mut self.pool);
        self.stats.count_close(&reason);
        debug!("conn#{}.{} closed: {reason}", key.index, key.gen);
        drop(sock);
        self.closed.push_back((ConnId(key), reason));
    }

    /// Close `key` once its queued output is flushed (at once if none is queued).
    pub(crate) fn close_graceful(&mut self, key: Key, reason: CloseReason) -> io::Result<()> {
        let Some((_, conn)) = conn_in(&mut self.entries, key) else {
            return Err(stale());
        };
        if conn.closing.is_none() {
            conn.closing = Some(reason);
        }
        self.schedule_flush(key);
        Ok(())
    }

    /// Call the handler through `f`. Unless [`Config::catch_panics`] is off, a panic in it is
    /// caught: it is logged and counted, and `conn` (the connection the call was about, if
    /// any) is closed with [`CloseReason::Panicked`], so that one faulty request cannot take
    /// the whole reactor down. Returns `None` if the handler panicked.
    pub(crate) fn call<H: Handler, R>(
        &mut self,
        h: &mut H,
        conn: Option<Key>,
        f: impl FnOnce(&mut H, &mut Context<'_>) -> R,
    ) -> Option<R> {
        if !self.config.catch_panics {
            return Some(f(h, &mut Context { core: self }));
        }
        // AssertUnwindSafe: after a panic the handler's state may be half-updated; the handler
        // learns of it through on_close(CloseReason::Panicked) and can repair its state there.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            f(h, &mut Context { core: self })
        }));
        match result {
            Ok(r) => Some(r),
            Err(payload) => {
                let msg = panic_message(payload.as_ref());
                self.stats.handler_panics += 1;
                match conn {
                    Some(key) => {
                        error!(
                            "handler panicked on conn#{}.{}: {msg}; closing it",
                            key.index, key.gen
                        );
                        self.close_now(key, CloseReason::Panicked(msg));
                    }
                    None => error!("handler panicked: {msg}"),
                }
                None
            }
        }
    }

    /// Tell the handler about connections closed since the last call.
    pub(crate) fn report_closed<H: Handler>(&mut self, h: &mut H) {
        while let Some((id, reason)) = self.closed.pop_front() {
            self.call(h, None, |h, cx| h.on_close(cx, id, &reason));
        }
        self.check_shutdown_done();
    }

    // ----- timers ---------------------------------------------------------------------------

    /// Make sure `key`'s wheel entry fires no later than its earliest deadline.
    pub(crate) fn rearm(&mut self, key: Key) {
        let Some((_, conn)) = self.conn(key) else {
            return;
        };
        let Some(at) = conn.arm_at() else {
            return;
        };
        let old = conn.armed();
        if let Some(old) = old {
            self.wheel.cancel(old);
        }
        self.stats.timeout_arms += 1;
        let handle = self
            .wheel
            .insert(self.clock.deadline_tick(at), TimerTarget::Conn(key));
        if let Some((_, conn)) = conn_in(&mut self.entries, key) {
            conn.set_armed(Some((handle, at)));
        }
    }

    /// A wheel entry fired.
    pub(crate) fn fire<H: Handler>(&mut self, h: &mut H, handle: TimerHandle, target: TimerTarget) {
        match target {
            TimerTarget::Conn(key) => self.check_deadlines(h, key, handle),
            TimerTarget::User(token) => {
                self.call(h, None, |h, cx| {
                    h.on_timer(cx, super::TimerId(handle), token)
                });
            }
            TimerTarget::ShutdownDeadline => self.finish_shutdown(),
            TimerTarget::ResumeAccept(key) => {
                if let Some(Source::Listener { paused, .. }) = source_in(&mut self.entries, key) {
                    *paused = false;
                    self.queue_read(key);
                }
            }
        }
        self.report_closed(h);
    }

    fn check_deadlines<H: Handler>(&mut self, h: &mut H, key: Key, handle: TimerHandle) {
        let now = self.now;
        let Some((_, conn)) = conn_in(&mut self.entries, key) else {
            return;
        };
        if conn.armed() != Some(handle) {
            return;
        }
        conn.set_armed(None);
        if conn.linger_expired(now) {
            let reason = conn.closing.take().unwrap_or(CloseReason::Local);
            return self.close_now(key, reason);
        }
        if let Some(kind) = conn.expired(now) {
            self.stats.timeouts += 1;
            let Some(action) = self.call(h, Some(key), |h, cx| h.on_timeout(cx, ConnId(key), kind))
            else {
                return;
            };
            match action {
                TimeoutAction::Close => self.close_now(key, CloseReason::TimedOut(kind)),
                TimeoutAction::KeepOpen => {
                    if let Some((_, conn)) = conn_in(&mut self.entries, key) {
                        conn.restart(kind, now);
                    }
                }
            }
        }
        self.rearm(key);
    }

    // ----- output ---------------------------------------------------------------------------

    pub(crate) fn schedule_flush(&mut self, key: Key) {
        if let Some((_, conn)) = conn_in(&mut self.entries, key) {
            if !conn.in_flush_list {
                conn.in_flush_list = true;
                self.flush_list.push(key);
            }
        }
    }

    /// Queue output on `key` with `push`, which adds `len` bytes to the queue.
    pub(crate) fn queue_output(
        &mut self,
        key: Key,
        len: usize,
        push: impl FnOnce(&mut Conn, &mut BufPool),
    ) -> io::Result<()> {
        let now = self.now;
        let high = self.config.high_watermark;
        let Some((_, conn)) = conn_in(&mut self.entries, key) else {
            return Err(stale());
        };
        if !conn.accepts_output() {
            return Err(io::Error::from(io::ErrorKind::BrokenPipe));
        }
        if len == 0 {
            return Ok(());
        }
        let was_empty = conn.wq.is_empty();
        push(conn, &mut self.pool);
        if conn.wq.len() >= high && !conn.read_paused {
            // Backpressure: the peer is not reading as fast as it sends; stop reading from it
            // until its output drains below the low watermark.
            conn.read_paused = true;
        }
        if was_empty {
            conn.note_output_started(now);
            self.rearm(key);
        }
        self.schedule_flush(key);
        Ok(())
    }

    /// Write as much queued output of `key` as the kernel takes.
    pub(crate) fn flush<H: Handler>(&mut self, h: &mut H, key: Key) {
        let now = self.now;
        let low = self.config.low_watermark;
        let mut wrote = false;
        let Some((sock, conn)) = conn_in(&mut self.entries, key) else {
            return;
        };
        conn.in_flush_list = false;
        if conn.connecting {
            return;
        }
        while !conn.wq.is_empty() {
            let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
            // One segment at a time for a record connection: the queue knows.
            let n = conn.wq.io_slices(&mut slices);
            match sock.write_vectored(&slices[..n]) {
                Ok(0) => {
                    let err = io::Error::from(io::ErrorKind::WriteZero);
                    return self.close_now(key, CloseReason::Io(err));
                }
                Ok(written) => {
                    conn.wq.advance(written, &mut self.pool);
                    conn.note_written(now);
                    self.stats.bytes_out += written as u64;
                    wrote = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return self.close_now(key, CloseReason::from_io(e)),
            }
        }
        if conn.read_paused && conn.wq.len() <= low {
            conn.read_paused = false;
            conn.note_read_resumed(now);
            // Edge-triggered: input that arrived while paused raised no new event.
            self.queue_read(key);
            self.rearm(key);
        }
        let Some((sock, conn)) = conn_in(&mut self.entries, key) else {
            return;
        };
        if !conn.wq.is_empty() {
            return;
        }
        if conn.closing.is_some() {
            return self.finish_close(key);
        }
        if conn.write_side == WriteSide::ShutPending {
            conn.write_side = WriteSide::Shut;
            if let Err(e) = sock.shutdown(Shutdown::Write) {
                return self.close_now(key, CloseReason::from_io(e));
            }
        }
        if wrote {
            self.call(h, Some(key), |h, cx| h.on_drained(cx, ConnId(key)));
            self.report_closed(h);
        }
    }

    // ----- input ----------------------------------------------------------------------------

    /// A connection asked to close has flushed its output: close it, lingering if need be.
    ///
    /// Closing a socket with unread input makes Linux send a reset, which can destroy replies
    /// still in flight to the peer. So unless the peer has already sent end of file, the
    /// connection sends its own end of file (`shutdown(SHUT_WR)`), then reads and discards
    /// input until the peer's end of file or [`Config::linger`](super::Config::linger).
    fn finish_close(&mut self, key: Key) {
        let now = self.now;
        let linger = self.config.linger;
        let Some((sock, conn)) = conn_in(&mut self.entries, key) else {
            return;
        };
        if conn.lingering {
            return;
        }
        if conn.read_eof || linger.is_zero() {
            let reason = conn.closing.take().unwrap_or(CloseReason::Local);
            return self.close_now(key, reason);
        }
        if conn.write_side != WriteSide::Shut {
            conn.write_side = WriteSide::Shut;
            if let Err(e) = sock.shutdown(Shutdown::Write) {
                let reason = match conn.closing.take() {
                    // The peer is already gone: the close is still the one asked for.
                    Some(r) if e.kind() == io::ErrorKind::NotConnected => r,
                    _ => CloseReason::from_io(e),
                };
                return self.close_now(key, reason);
            }
        }
        conn.start_linger(now.checked_add(linger).unwrap_or(now));
        // Input may be waiting already, with no new event to come for it.
        self.queue_read(key);
        self.rearm(key);
    }

    /// Read and drop the input of a connection asked to close (while it flushes, and while it
    /// lingers): a peer that writes everything before it reads must not be able to stall our
    /// flush by filling our receive buffer. At the peer's end of file a lingering connection
    /// closes; one still flushing closes when its output is out.
    fn discard_input(&mut self, key: Key) {
        let limit = self.config.max_read_buffer;
        let mut budget = self.config.read_budget;
        loop {
            let Some((sock, conn)) = conn_in(&mut self.entries, key) else {
                return;
            };
            if budget == 0 {
                return self.queue_read(key);
            }
            if !conn.rbuf.reserve(&mut self.pool, limit) {
                // Unreachable in practice: everything read here is dropped at once.
                conn.rbuf.clear(&mut self.pool);
                continue;
            }
            match sock.read(conn.rbuf.spare_mut()) {
                Ok(0) => {
                    conn.read_eof = true;
                    conn.rbuf.release(&mut self.pool);
                    if !conn.lingering && !conn.wq.is_empty() {
                        // Still flushing: finish_close closes once the output is out.
                        return;
                    }
                    let reason = conn.closing.take().unwrap_or(CloseReason::Local);
                    return self.close_now(key, reason);
                }
                Ok(n) => {
                    self.stats.bytes_in += n as u64;
                    budget = budget.saturating_sub(n);
                    conn.rbuf.commit(n);
                    conn.rbuf.clear(&mut self.pool);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    conn.rbuf.release(&mut self.pool);
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // Lingering, the output is already out and a reset just ends the close
                    // asked for; still flushing, the reset loses that output: say so.
                    let reason = if conn.lingering {
                        conn.closing.take().unwrap_or(CloseReason::Local)
                    } else {
                        CloseReason::from_io(e)
                    };
                    return self.close_now(key, reason);
                }
            }
        }
    }

    /// Put `key` on the read list, to be served next turn without waiting for an event
    /// (once, however often it is queued).
    pub(crate) fn queue_read(&mut self, key: Key) {
        if let Some(e) = self.entries.get_mut(key.index as usize) {
            if e.gen == key.gen && !e.queued {
                e.queued = true;
                self.read_list.push(key);
            }
        }
    }

    /// Serve `key`, taken off the read list.
    pub(crate) fn continue_read<H: Handler>(&mut self, h: &mut H, key: Key) {
        match self.entries.get_mut(key.index as usize) {
            Some(e) if e.gen == key.gen => e.queued = false,
            _ => return,
        }
        // No event to say whether the peer hung up: read until the kernel says WouldBlock.
        self.readable(h, key, true);
    }

    /// Serve a readable source. `hup`: the event also reported the peer's end of file or an
    /// error (or we cannot know), so a short read does not prove the socket drained.
    pub(crate) fn readable<H: Handler>(&mut self, h: &mut H, key: Key, hup: bool) {
        match source_in(&mut self.entries, key) {
            Some(Source::Conn { .. }) => self.read_conn(h, key, hup),
            Some(Source::Listener { paused: false, .. }) => self.accept(h, key),
            Some(Source::Dgram { .. }) => self.read_dgram(h, key),
            Some(Source::Signals(_)) => self.read_signals(h, key),
            Some(Source::Listener { paused: true, .. }) | None => {}
        }
    }

    /// Serve a writable source.
    pub(crate) fn writable<H: Handler>(&mut self, h: &mut H, key: Key) {
        match source_in(&mut self.entries, key) {
            Some(Source::Conn { sock, conn }) => {
                if conn.connecting {
                    let result = match sock.take_error() {
                        Ok(Some(e)) | Err(e) => Err(e),
                        // Writable with no error can still be a connect that has not finished
                        // on some systems; `peer_addr` tells (mio's documented check).
                        Ok(None) => sock.peer_addr().map(|_| ()),
                    };
                    match result {
                        Ok(()) => {
                            conn.connecting = false;
                            conn.note_read_resumed(self.now);
                            self.rearm(key);
                            self.call(h, Some(key), |h, cx| h.on_connect(cx, ConnId(key)));
                            self.report_closed(h);
                            // Input may already be waiting, and its event may have come
                            // before we stopped connecting.
                            self.read_conn(h, key, true);
                        }
                        Err(e) if e.kind() == io::ErrorKind::NotConnected => return,
                        Err(e) => return self.close_now(key, CloseReason::Io(e)),
                    }
                }
                self.flush(h, key)
            }
            Some(Source::Dgram { .. }) => self.flush_dgram(key),
            _ => {}
        }
    }

    /// Read until `WouldBlock`, the read budget, or (TCP, unless `hup`) a short read.
    ///
    /// Edge-triggered epoll reports readiness once per arrival, so a reader must drain the
    /// socket. On TCP, a read that returns fewer bytes than asked for has drained it
    /// (`tcp_recvmsg` copies all it has, up to the size asked), and any byte arriving later
    /// raises a new event: so the usual extra `read` that only returns `WouldBlock` is
    /// skipped, one syscall per message saved. Exceptions: an event that also reported the
    /// peer's end of file, an error, or urgent data (`hup`): the end of file raises no event
    /// of its own, and a read stops short at the urgent mark, so those are read to the end.
    /// Unix streams always read to `WouldBlock`: their reads also stop short after a message
    /// carrying descriptors.
    fn read_conn<H: Handler>(&mut self, h: &mut H, key: Key, hup: bool) {
        let mut budget = self.config.read_budget;
        let limit = self.config.max_read_buffer;
        loop {
            let now = self.now;
            let Some((sock, conn)) = conn_in(&mut self.entries, key) else {
                return;
            };
            if conn.lingering || conn.closing.is_some() {
                return self.discard_input(key);
            }
            if !conn.wants_read() {
                return;
            }
            if budget == 0 {
                // More input may be waiting, but others get their turn first.
                return self.queue_read(key);
            }
            if conn.records {
                // One whole record per read: learn its size first, and make room for it.
                let Stream::Seqpacket(raw) = &*sock else {
                    unreachable!("only seqpacket connections carry records");
                };
                let len = match next_record_len(raw) {
                    Ok(len) => len,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        conn.rbuf.release(&mut self.pool);
                        return;
                    }
                    Err(e) => return self.close_now(key, CloseReason::from_io(e)),
                };
                if !conn
                    .rbuf
                    .reserve_at_least(len.max(1), &mut self.pool, limit)
                {
                    let err = CloseReason::protocol(ReadBufferFull { limit });
                    return self.close_now(key, err);
                }
            } else if !conn.rbuf.reserve(&mut self.pool, limit) {
                let err = CloseReason::protocol(ReadBufferFull { limit });
                return self.close_now(key, err);
            }
            let room = conn.rbuf.spare_mut().len();
            match sock.read(conn.rbuf.spare_mut()) {
                Ok(0) if conn.records && empty_record(sock) => {
                    // A record of no bytes, not the end of the stream: deliver it as such.
                    conn.note_read(now);
                    budget = budget.saturating_sub(256);
                    self.deliver(h, key);
                }
                Ok(0) => {
                    conn.read_eof = true;
                    conn.rbuf.release(&mut self.pool);
                    self.call(h, Some(key), |h, cx| h.on_read_closed(cx, ConnId(key)));
                    self.report_closed(h);
                    return;
                }
                Ok(n) => {
                    conn.rbuf.commit(n);
                    conn.note_read(now);
                    self.stats.bytes_in += n as u64;
                    let records = conn.records;
                    // Each record costs at least a few hundred bytes of budget, so that a
                    // flood of tiny records cannot hold the loop for long.
                    budget = budget.saturating_sub(if records { n.max(256) } else { n });
                    let tcp = matches!(sock, Stream::Tcp(_));
                    self.deliver(h, key);
                    if records {
                        // Each record stands alone: nothing carries over to the next one.
                        if let Some((_, conn)) = conn_in(&mut self.entries, key) {
                            conn.rbuf.clear(&mut self.pool);
                        }
                        continue;
                    }
                    if n < room && !hup && tcp {
                        if let Some((_, conn)) = conn_in(&mut self.entries, key) {
                            conn.rbuf.release(&mut self.pool);
                        }
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    conn.rbuf.release(&mut self.pool);
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return self.close_now(key, CloseReason::from_io(e)),
            }
        }
    }

    /// Offer `key`'s unconsumed input to the handler.
    fn deliver<H: Handler>(&mut self, h: &mut H, key: Key) {
        let Some((_, conn)) = conn_in(&mut self.entries, key) else {
            return;
        };
        // Move the buffer out (no copy, no allocation) so the handler can borrow the bytes
        // while the context borrows the reactor, the connection's write queue included.
        let mut rbuf = std::mem::take(&mut conn.rbuf);
        let used = self
            .call(h, Some(key), |h, cx| {
                h.on_data(cx, ConnId(key), rbuf.data())
            })
            .unwrap_or(rbuf.len());
        // Returning more than data.len() is a handler bug; the docs promise it counts as all.
        rbuf.consume(used.min(rbuf.len()));
        match conn_in(&mut self.entries, key) {
            Some((_, conn)) => conn.rbuf = rbuf,
            // The handler closed the connection; the slot may even hold a new one now.
            None => rbuf.clear(&mut self.pool),
        }
        self.report_closed(h);
    }

    fn accept<H: Handler>(&mut self, h: &mut H, key: Key) {
        for _ in 0..self.config.accept_batch {
            let Some(Source::Listener { sock, paused }) = source_in(&mut self.entries, key) else {
                return;
            };
            match sock.accept() {
                Ok((stream, peer))
                    if self
                        .config
                        .max_connections
                        .is_some_and(|max| self.stats.active as usize >= max) =>
                {
                    self.stats.rejected += 1;
                    debug!("rejected a connection from {peer}: at the connection limit");
                    drop(stream);
                }
                Ok((stream, peer)) => match self.add_conn(stream, false) {
                    Ok(conn) => {
                        self.stats.accepted += 1;
                        self.call(h, Some(conn.0), |h, cx| {
                            h.on_accept(cx, ListenerId(key), conn, &peer)
                        });
                        self.report_closed(h);
                    }
                    Err(e) => warn!("could not register a connection from {peer}: {e}"),
                },
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if sys::is_connection_error(&e) => {
                    debug!("accept: a connection failed before it was accepted: {e}");
                }
                Err(e) => {
                    // Out of descriptors (EMFILE, ENFILE) or memory, or something unexpected:
                    // retrying now would fail again and, edge-triggered or not, spin the loop.
                    // Pause this listener and try again after a back-off.
                    self.stats.accept_errors += 1;
                    *paused = true;
                    let backoff = self.config.accept_backoff;
                    let why = if sys::is_resource_exhausted(&e) {
                        "out of descriptors or memory"
                    } else {
                        "unexpected error"
                    };
                    warn!("accept failed ({why}): {e}; pausing this listener for {backoff:?}");
                    let at = self.clock.deadline_tick(self.now + backoff);
                    self.wheel.insert(at, TimerTarget::ResumeAccept(key));
                    return;
                }
            }
        }
        // Batch used up: more connections may be waiting; continue next turn.
        self.queue_read(key);
    }

    fn read_dgram<H: Handler>(&mut self, h: &mut H, key: Key) {
        let mut buf = std::mem::take(&mut self.dgram_buf);
        let limit = self.config.max_read_buffer;
        for _ in 0..self.config.dgram_budget {
            let Some(Source::Dgram { sock, .. }) = source_in(&mut self.entries, key) else {
                break;
            };
            // A Unix datagram can be far larger than a UDP one (up to the sender's SO_SNDBUF):
            // learn its size first, so that it is never cut short without anyone knowing.
            let mut too_big = None;
            if let Dgram::Unix { sock: unix, .. } = &*sock {
                match next_record_len(unix) {
                    Ok(len) if len > buf.len() && len <= limit => buf.resize(len, 0),
                    Ok(len) if len > buf.len() => too_big = Some(len),
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        self.dgram_buf = buf;
                        return;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        debug!("recv_from: {e}");
                        continue;
                    }
                }
            }
            match sock.recv_from(&mut buf) {
                Ok((_, peer)) if too_big.is_some() => {
                    self.stats.dgram_recv_dropped += 1;
                    warn!(
                        "dropped a {}-byte datagram from {peer}: larger than max_read_buffer ({limit} bytes)",
                        too_big.unwrap_or(0)
                    );
                }
                Ok((n, peer)) => {
                    self.stats.datagrams_in += 1;
                    self.stats.bytes_in += n as u64;
                    self.call(h, None, |h, cx| {
                        h.on_datagram(cx, DgramId(key), &buf[..n], &peer)
                    });
                    self.report_closed(h);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.dgram_buf = buf;
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // An ICMP error for an earlier send (ECONNREFUSED and the like) is reported
                // once on the next call; it concerns no datagram in the queue.
                Err(e) => debug!("recv_from: {e}"),
            }
        }
        self.dgram_buf = buf;
        self.queue_read(key);
    }

    pub(crate) fn send_to(&mut self, key: Key, data: &[u8], peer: PeerAddr) -> io::Result<()> {
        let max_queue = self.config.max_dgram_queue;
        let Some(Source::Dgram {
            sock,
            queue,
            queued_bytes,
        }) = source_in(&mut self.entries, key)
        else {
            return Err(stale());
        };
        if queue.is_empty() {
            loop {
                match sock.send_to(data, &peer) {
                    Ok(_) => {
                        self.stats.datagrams_out += 1;
                        self.stats.bytes_out += data.len() as u64;
                        return Ok(());
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    // A Unix datagram socket says WouldBlock when the *receiver's* queue is
                    // full, and no writable event will follow: queueing would hold up every
                    // later reply, to any peer, behind one peer that does not read. Refuse.
                    Err(e)
                        if e.kind() == io::ErrorKind::WouldBlock
                            && matches!(sock, Dgram::Unix { .. }) =>
                    {
                        return Err(e)
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
        }
        // Each queued datagram also costs its bookkeeping, so empty ones are not free.
        let cost = data.len() + DGRAM_OVERHEAD;
        if *queued_bytes + cost > max_queue {
            return Err(io::Error::from(io::ErrorKind::WouldBlock));
        }
        *queued_bytes += cost;
        queue.push_back((peer, data.to_vec()));
        Ok(())
    }

    fn flush_dgram(&mut self, key: Key) {
        let Some(Source::Dgram {
            sock,
            queue,
            queued_bytes,
        }) = source_in(&mut self.entries, key)
        else {
            return;
        };
        while let Some((peer, data)) = queue.front() {
            match sock.send_to(data, peer) {
                Ok(_) => {
                    self.stats.datagrams_out += 1;
                    self.stats.bytes_out += data.len() as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.stats.dgram_send_errors += 1;
                    warn!(
                        "dropping a queued {}-byte datagram to {peer}: {e}",
                        data.len()
                    );
                }
            }
            *queued_bytes -= data.len() + DGRAM_OVERHEAD;
            queue.pop_front();
        }
    }

    fn read_signals<H: Handler>(&mut self, h: &mut H, key: Key) {
        loop {
            let Some(Source::Signals(signals)) = source_in(&mut self.entries, key) else {
                return;
            };
            match signals.read() {
                Ok(Some(signo)) => {
                    self.call(h, None, |h, cx| h.on_signal(cx, signo));
                    self.report_closed(h);
                }
                Ok(None) => return,
                Err(e) => {
                    warn!("reading signals: {e}");
                    return;
                }
            }
        }
    }
}

/// The entry at `key` in `entries`, if it is still the one `key` was issued for. A free
/// function (not a method) so that callers can borrow the slab and other fields of [`Core`]
/// at the same time.
fn source_in(entries: &mut Slab<Entry>, key: Key) -> Option<&mut Source> {
    match entries.get_mut(key.index as usize) {
        Some(e) if e.gen == key.gen => Some(&mut e.source),
        _ => None,
    }
}

/// The connection at `key`, if `key` is current and names a connection.
fn conn_in(entries: &mut Slab<Entry>, key: Key) -> Option<(&mut Stream, &mut Conn)> {
    match source_in(entries, key) {
        Some(Source::Conn { sock, conn }) => Some((sock, conn)),
        _ => None,
    }
}

/// After a seqpacket read of 0 bytes: was that an empty record (the connection goes on) or
/// the end of the stream? At the end, every later peek returns 0 at once; after an empty
/// record with nothing behind it, a peek finds nothing (`WouldBlock`), and with more behind
/// it, a non-empty record. (Two empty records in a row read as the end: a read cannot tell.)
fn empty_record(sock: &Stream) -> bool {
    let Stream::Seqpacket(raw) = sock else {
        return false;
    };
    match next_record_len(raw) {
        Ok(0) => false,
        Ok(_) => true,
        Err(e) => e.kind() == io::ErrorKind::WouldBlock,
    }
}

/// The text of a panic's payload (what `panic!` was given), or a placeholder.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic with a non-text payload)".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DESIGN.md quotes these sizes as the per-connection cost; keep them honest.
    #[test]
    fn per_connection_memory() {
        let entry = std::mem::size_of::<Entry>();
        let conn = std::mem::size_of::<Conn>();
        println!("slab entry: {entry} bytes, of which connection state: {conn} bytes");
        assert!(
            entry <= 320,
            "slab entry grew to {entry} bytes; update DESIGN.md"
        );
    }

    #[test]
    fn clock_rounds_deadlines_up_and_now_down() {
        let t0 = Instant::now();
        let c = Clock::new(t0);
        let us = std::time::Duration::from_micros;
        assert_eq!(c.deadline_tick(t0), 0);
        assert_eq!(c.deadline_tick(t0 + us(1)), 1);
        assert_eq!(c.deadline_tick(t0 + us(1000)), 1);
        assert_eq!(c.deadline_tick(t0 + us(1001)), 2);
        assert_eq!(c.now_tick(t0 + us(1999)), 1);
        assert_eq!(c.now_tick(t0 + us(2000)), 2);
        // Before the origin counts as the origin.
        assert_eq!(c.now_tick(t0), 0);
    }
}
