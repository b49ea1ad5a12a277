//! The reactor: one `mio::Poll`, a slab of sockets, a timer wheel, and your [`Handler`].
//!
//! This is the I/O shell around the pure core (`conn`, `buf`, `time`, `framing`): the only
//! code that polls, reads the clock, and calls `read`, `write`, `accept`, `recvfrom` and
//! `sendto`, on TCP, UDP and Unix (stream, datagram, seqpacket) sockets alike.
//!
//! # One turn
//!
//! [`Reactor::turn`] runs these steps, in this order, every time:
//!
//! 1. **Timeout**: zero if work is left over from the last turn (a connection that used up
//!    its read budget, output queued from outside a callback), else the time to the timer
//!    wheel's next deadline, capped by the caller's `max_wait`.
//! 2. **Poll**: `epoll_wait` through mio. `EINTR` ends the turn early with no events.
//! 3. **Now**: the clock is read once; every callback in this turn sees that instant.
//! 4. **Dispatch**: for each event, find the slab entry by the token's key, drop the event if
//!    the generation differs (a stale event for a socket closed earlier in this batch), then
//!    accept, read until drained (`WouldBlock`, or a short TCP read) or the read budget, or
//!    write, calling the handler.
//! 5. **Left-over reads**: the read list as it stood before this turn's events (sockets that
//!    hit their budget, listeners resuming after EMFILE, connections whose reading resumed
//!    after backpressure or that linger in a close), each at most once.
//! 6. **Timers**: the wheel is advanced to `now`; connection deadlines are checked lazily and
//!    user timers fire.
//! 7. **Flush**: every connection given output during this turn is written, one vectored write
//!    each until `WouldBlock`; what is left waits for a writable event. Then the counters are
//!    published for [`Handle::stats`].
//!
//! Closed connections leave the slab at once (so an id or token for them is stale from then
//! on) and are reported to [`Handler::on_close`] right after the callback that closed them.
//!
//! # Embedding
//!
//! [`Reactor::run`] turns until [`Context::stop`], [`Handle::stop`], a signal, or the end of a
//! graceful [`Context::shutdown`]. A program with its own loop calls [`Reactor::turn`]
//! instead, with `Some(Duration::ZERO)` to busy-poll. A [`Handle`] (cloneable, `Send`) wakes
//! the reactor from another thread to stop it, shut it down, read its counters, or run a
//! closure on its thread.

mod context;
mod core;
pub mod framed;
mod handler;
mod stream;
mod token;

use std::io;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mio::{Events, Poll, Waker};

pub use self::context::Context;
pub use self::handler::{Handler, TimeoutAction};
pub use self::stream::PeerAddr;
pub use self::token::{ConnId, DgramId, ListenerId};

use self::core::Core;
use self::token::{Key, WAKER};
use crate::conn::Timeouts;
use crate::error::CloseReason;
use crate::sys::{ListenOptions, Signals};
use crate::time::TimerHandle;

/// A user timer (see [`Context::set_timer`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerId(pub(crate) TimerHandle);

/// Reactor settings. `Config::default()` suits a general-purpose server.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Timeouts every new connection starts with (Python's `setdefaulttimeout`). Default: none.
    pub timeouts: Timeouts,
    /// Events fetched per poll, and the initial slab capacity. Default 1024.
    pub events_capacity: usize,
    /// Bytes read from one connection per event before the others get a turn. Default 256 KiB.
    pub read_budget: usize,
    /// Connections accepted per listener event before the others get a turn. Default 128.
    pub accept_batch: usize,
    /// Datagrams received per socket per event. Default 64.
    pub dgram_budget: usize,
    /// Size of a pooled read block, the usual size of one read. Default 16 KiB.
    pub read_buffer_size: usize,
    /// Size of a pooled write block. Default 16 KiB.
    pub write_buffer_size: usize,
    /// Most unconsumed input one connection may hold; past it the connection is closed with a
    /// [`ReadBufferFull`](crate::error::ReadBufferFull) protocol error. A framed connection
    /// needs room for one whole frame: this must be at least the codec's
    /// [`max_frame`](crate::framing::Codec::max_frame). Default 8 MiB, the default codec's
    /// maximum. (The buffer grows to this only while a message that large is arriving.)
    pub max_read_buffer: usize,
    /// Queued output at which reading from a connection stops. Default 1 MiB.
    pub high_watermark: usize,
    /// Queued output below which reading resumes. Default 256 KiB.
    pub low_watermark: usize,
    /// Idle blocks the buffer pool keeps, per kind. Default 1024.
    pub max_pooled_buffers: usize,
    /// Set `TCP_NODELAY` on every connection. Default true: a reactor batches its own writes.
    pub nodelay: bool,
    /// How long a listener pauses after `accept` fails for lack of descriptors or memory.
    /// Default 100 ms.
    pub accept_backoff: Duration,
    /// Most bytes of datagrams queued per UDP socket while the kernel buffer is full.
    /// Default 1 MiB.
    pub max_dgram_queue: usize,
    /// Options for [`Context::listen`] and [`Reactor::listen`].
    pub listen: ListenOptions,
    /// How long a gracefully closed connection waits for the peer's end of file, reading and
    /// discarding its input, before the socket is closed (see [`Context::close`]). Closing
    /// with unread input would make the kernel reset the connection and could destroy
    /// replies still in flight. Zero closes at once. Default 2 s.
    pub linger: Duration,
    /// Most connections open at once (accepted plus connected); `None`: no limit (the
    /// descriptor limit still applies). A connection accepted past the limit is closed at
    /// once, which the client sees as an immediate end of file, and counted in
    /// [`Stats::rejected`]. Accepting and closing, rather than leaving connections in the
    /// kernel's backlog, tells clients at once instead of letting them time out, and keeps
    /// the listener's readiness from firing again and again for connections never taken.
    pub max_connections: Option<usize>,
    /// Catch a panic in a handler callback: log it, count it, and close the connection the
    /// callback was about with [`CloseReason::Panicked`], so that the reactor keeps serving
    /// the others. Default true. Turn it off to let panics unwind out of [`Reactor::turn`]
    /// (with `panic = "abort"` they abort regardless).
    pub catch_panics: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            timeouts: Timeouts::NONE,
            events_capacity: 1024,
            read_budget: 256 * 1024,
            accept_batch: 128,
            dgram_budget: 64,
            read_buffer_size: 16 * 1024,
            write_buffer_size: 16 * 1024,
            max_read_buffer: crate::framing::DEFAULT_MAX_FRAME,
            high_watermark: 1024 * 1024,
            low_watermark: 256 * 1024,
            max_pooled_buffers: 1024,
            nodelay: true,
            accept_backoff: Duration::from_millis(100),
            max_dgram_queue: 1024 * 1024,
            listen: ListenOptions::default(),
            catch_panics: true,
            max_connections: None,
            linger: Duration::from_secs(2),
        }
    }
}

impl Config {
    fn validate(&self) -> io::Result<()> {
        let bad = |what: &str| Err(io::Error::new(io::ErrorKind::InvalidInput, what.to_owned()));
        if self.events_capacity == 0 {
            return bad("events_capacity must be > 0");
        }
        if self.read_budget == 0 || self.accept_batch == 0 || self.dgram_budget == 0 {
            return bad("read_budget, accept_batch and dgram_budget must be > 0");
        }
        if self.read_buffer_size == 0 || self.write_buffer_size == 0 {
            return bad("buffer sizes must be > 0");
        }
        if self.max_read_buffer < self.read_buffer_size {
            return bad("max_read_buffer must be >= read_buffer_size");
        }
        if self.low_watermark > self.high_watermark || self.high_watermark == 0 {
            return bad("need 0 < high_watermark and low_watermark <= high_watermark");
        }
        Ok(())
    }
}

/// Counters kept by a reactor. Plain numbers: read them with [`Reactor::stats`] or
/// [`Context::stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connections accepted.
    pub accepted: u64,
    /// Outgoing connections started.
    pub connected: u64,
    /// Connections open now.
    pub active: u64,
    /// Closed after the peer's end of file.
    pub closed_peer: u64,
    /// Closed by a reset.
    pub closed_reset: u64,
    /// Closed by a timeout.
    pub closed_timeout: u64,
    /// Closed for a protocol error.
    pub closed_protocol: u64,
    /// Closed locally.
    pub closed_local: u64,
    /// Closed by another I/O error.
    pub closed_io: u64,
    /// Accepted past [`Config::max_connections`] and closed at once.
    pub rejected: u64,
    /// Timeouts that fired (whether or not they closed the connection).
    pub timeouts: u64,
    /// Bytes received (streams and datagrams).
    pub bytes_in: u64,
    /// Bytes sent (streams and datagrams).
    pub bytes_out: u64,
    /// Whole frames received (counted by [`framed`]).
    pub frames_in: u64,
    /// Frames queued for sending (counted by [`framed::send_frame`]).
    pub frames_out: u64,
    /// Datagrams received.
    pub datagrams_in: u64,
    /// Datagrams sent.
    pub datagrams_out: u64,
    /// Queued datagrams dropped because sending them failed.
    pub dgram_send_errors: u64,
    /// Received datagrams dropped because they were larger than
    /// [`Config::max_read_buffer`] (Unix datagram sockets only: UDP's 64 KiB always fit).
    pub dgram_recv_dropped: u64,
    /// `accept` failures that paused a listener (out of descriptors or memory).
    pub accept_errors: u64,
    /// Panics caught in handler callbacks.
    pub handler_panics: u64,
    /// Connections closed because their handler panicked.
    pub closed_panic: u64,
    /// Times a connection's timeout entry was (re)inserted into the timer wheel. Traffic does
    /// not re-arm (deadlines are checked lazily), so this grows with connections and timeout
    /// periods, not with messages.
    pub timeout_arms: u64,
}

impl Stats {
    /// The sum of two sets of counters (for several reactors).
    pub fn add(&self, o: &Stats) -> Stats {
        Stats {
            accepted: self.accepted + o.accepted,
            connected: self.connected + o.connected,
            active: self.active + o.active,
            closed_peer: self.closed_peer + o.closed_peer,
            closed_reset: self.closed_reset + o.closed_reset,
            closed_timeout: self.closed_timeout + o.closed_timeout,
            closed_protocol: self.closed_protocol + o.closed_protocol,
            closed_local: self.closed_local + o.closed_local,
            closed_io: self.closed_io + o.closed_io,
            closed_panic: self.closed_panic + o.closed_panic,
            rejected: self.rejected + o.rejected,
            timeouts: self.timeouts + o.timeouts,
            bytes_in: self.bytes_in + o.bytes_in,
            bytes_out: self.bytes_out + o.bytes_out,
            frames_in: self.frames_in + o.frames_in,
            frames_out: self.frames_out + o.frames_out,
            datagrams_in: self.datagrams_in + o.datagrams_in,
            datagrams_out: self.datagrams_out + o.datagrams_out,
            dgram_send_errors: self.dgram_send_errors + o.dgram_send_errors,
            dgram_recv_dropped: self.dgram_recv_dropped + o.dgram_recv_dropped,
            accept_errors: self.accept_errors + o.accept_errors,
            handler_panics: self.handler_panics + o.handler_panics,
            timeout_arms: self.timeout_arms + o.timeout_arms,
        }
    }

    /// Connections closed, for any reason.
    pub fn closed(&self) -> u64 {
        self.closed_peer
            + self.closed_reset
            + self.closed_timeout
            + self.closed_protocol
            + self.closed_local
            + self.closed_io
            + self.closed_panic
    }

    fn count_close(&mut self, reason: &CloseReason) {
        self.active = self.active.saturating_sub(1);
        let counter = match reason {
            CloseReason::PeerClosed => &mut self.closed_peer,
            CloseReason::Reset => &mut self.closed_reset,
            CloseReason::TimedOut(_) => &mut self.closed_timeout,
            CloseReason::Protocol(_) => &mut self.closed_protocol,
            CloseReason::Local => &mut self.closed_local,
            CloseReason::Io(_) => &mut self.closed_io,
            CloseReason::Panicked(_) => &mut self.closed_panic,
        };
        *counter += 1;
    }
}

type Job<H> = Box<dyn FnOnce(&mut H, &mut Context<'_>) + Send>;

enum Msg<H> {
    Stop,
    Shutdown(Duration),
    Run(Job<H>),
}

/// A handle to a reactor, usable from any thread: stop it, shut it down gracefully, read its
/// counters, or run code on its thread.
pub struct Handle<H> {
    tx: mpsc::Sender<Msg<H>>,
    waker: Arc<Waker>,
    stats: Arc<Mutex<Stats>>,
}

impl<H> Clone for Handle<H> {
    fn clone(&self) -> Self {
        Handle {
            tx: self.tx.clone(),
            waker: Arc::clone(&self.waker),
            stats: Arc::clone(&self.stats),
        }
    }
}

impl<H> std::fmt::Debug for Handle<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle").finish_non_exhaustive()
    }
}

impl<H> Handle<H> {
    /// Ask the reactor to stop: [`Reactor::run`] returns after the current turn.
    ///
    /// # Errors
    ///
    /// `BrokenPipe` if the reactor is gone; any error of waking it.
    pub fn stop(&self) -> io::Result<()> {
        self.send(Msg::Stop)
    }

    /// Shut down gracefully (see [`Context::shutdown`]): stop accepting, flush and close every
    /// connection within `grace`, then stop.
    ///
    /// # Errors
    ///
    /// `BrokenPipe` if the reactor is gone; any error of waking it.
    pub fn shutdown(&self, grace: Duration) -> io::Result<()> {
        self.send(Msg::Shutdown(grace))
    }

    /// The reactor's counters as of the end of its last turn. Reading them never stops or
    /// waits for the reactor.
    pub fn stats(&self) -> Stats {
        // A poisoned lock still holds plain numbers: use them.
        *self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Run `f` on the reactor's thread, with its handler and a context, during its next turn.
    ///
    /// # Errors
    ///
    /// `BrokenPipe` if the reactor is gone; any error of waking it.
    pub fn run<F>(&self, f: F) -> io::Result<()>
    where
        F: FnOnce(&mut H, &mut Context<'_>) + Send + 'static,
    {
        self.send(Msg::Run(Box::new(f)))
    }

    fn send(&self, msg: Msg<H>) -> io::Result<()> {
        self.tx
            .send(msg)
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))?;
        self.waker.wake()
    }
}

/// A single-threaded event loop driving a [`Handler`].
///
/// # Examples
///
/// ```
/// use netloop::reactor::{ConnId, Context, Handler, Reactor};
/// use std::io::{Read, Write};
/// use std::time::Duration;
///
/// struct Echo;
/// impl Handler for Echo {
///     fn on_data(&mut self, cx: &mut Context<'_>, conn: ConnId, data: &[u8]) -> usize {
///         let _ = cx.write(conn, data);
///         data.len()
///     }
/// }
///
/// # fn main() -> std::io::Result<()> {
/// let mut reactor = Reactor::new(Echo)?;
/// let listener = reactor.listen("127.0.0.1:0".parse().unwrap())?;
/// let addr = reactor.listener_addr(listener)?;
///
/// let mut client = std::net::TcpStream::connect(addr)?;
/// client.write_all(b"hi")?;
/// client.set_nonblocking(true)?;
/// let mut got = Vec::new();
/// for _ in 0..100 {
///     reactor.turn(Some(Duration::from_millis(10)))?;
///     let mut buf = [0; 16];
///     if let Ok(n) = client.read(&mut buf) {
///         got.extend_from_slice(&buf[..n]);
///     }
///     if got.len() == 2 {
///         break;
///     }
/// }
/// assert_eq!(got, b"hi");
/// # Ok(())
/// # }
/// ```
pub struct Reactor<H> {
    poll: Poll,
    events: Events,
    core: Core,
    handler: H,
    rx: mpsc::Receiver<Msg<H>>,
    handle: Handle<H>,
}

impl<H: Handler> Reactor<H> {
    /// A reactor with the default [`Config`].
    ///
    /// # Errors
    ///
    /// If the poll instance or its waker cannot be created.
    pub fn new(handler: H) -> io::Result<Reactor<H>> {
        Reactor::with_config(handler, Config::default())
    }

    /// A reactor with `config`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for an inconsistent config; otherwise if the poll instance or its waker
    /// cannot be created.
    pub fn with_config(handler: H, config: Config) -> io::Result<Reactor<H>> {
        config.validate()?;
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let registry = poll.registry().try_clone()?;
        let (tx, rx) = mpsc::channel();
        Ok(Reactor {
            events: Events::with_capacity(config.events_capacity),
            core: Core::new(registry, config, Instant::now()),
            poll,
            handler,
            rx,
            handle: Handle {
                tx,
                waker,
                stats: Arc::new(Mutex::new(Stats::default())),
            },
        })
    }

    /// A handle for stopping this reactor or running code on it from other threads.
    pub fn handle(&self) -> Handle<H> {
        self.handle.clone()
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// The handler, mutably.
    pub fn handler_mut(&mut self) -> &mut H {
        &mut self.handler
    }

    /// The reactor's counters.
    pub fn stats(&self) -> &Stats {
        &self.core.stats
    }

    /// Run `f` with the handler and a [`Context`], outside any turn: to open connections,
    /// write, or set timers from the thread that owns the reactor. Output queued here is sent
    /// during the next turn.
    pub fn with_context<R>(&mut self, f: impl FnOnce(&mut H, &mut Context<'_>) -> R) -> R {
        self.core.now = Instant::now();
        let r = f(
            &mut self.handler,
            &mut Context {
                core: &mut self.core,
            },
        );
        self.core.report_closed(&mut self.handler);
        r
    }

    /// Listen on `addr` (see [`Context::listen`]).
    ///
    /// # Errors
    ///
    /// As for [`sys::tcp_listener`](crate::sys::tcp_listener).
    pub fn listen(&mut self, addr: SocketAddr) -> io::Result<ListenerId> {
        self.with_context(|_, cx| cx.listen(addr))
    }

    /// Bind a UDP socket (see [`Context::bind_udp`]).
    ///
    /// # Errors
    ///
    /// As for [`sys::udp_socket`](crate::sys::udp_socket).
    pub fn bind_udp(&mut self, addr: SocketAddr) -> io::Result<DgramId> {
        self.with_context(|_, cx| cx.bind_udp(addr))
    }

    /// Deliver signals through this reactor (see [`Signals`]): each one reaches
    /// [`Handler::on_signal`], which by default stops the reactor.
    ///
    /// # Errors
    ///
    /// If registering the descriptor fails.
    pub fn add_signals(&mut self, signals: Signals) -> io::Result<()> {
        self.core.add_signals(signals)
    }

    /// The local address of a listener (to learn the port after binding port 0).
    ///
    /// # Errors
    ///
    /// `NotConnected` if `listener` is stale.
    pub fn listener_addr(&self, listener: ListenerId) -> io::Result<SocketAddr> {
        self.core.local_addr(listener.0)
    }

    /// The local address of a UDP socket.
    ///
    /// # Errors
    ///
    /// `NotConnected` if `socket` is stale.
    pub fn udp_addr(&self, socket: DgramId) -> io::Result<SocketAddr> {
        self.core.local_addr(socket.0)
    }

    /// Turn until stopped by [`Context::stop`], [`Handle::stop`] or a signal; then return, so
    /// that `run` can be called again. Like `serve_forever` in Python's `socketserver`.
    ///
    /// # Errors
    ///
    /// If polling fails (other than by `EINTR`, which is retried).
    pub fn run(&mut self) -> io::Result<()> {
        // A stop asked for before `run` (or a shutdown already complete) is honoured at once.
        while !self.core.stopped {
            self.turn(None)?;
        }
        self.core.stopped = false;
        Ok(())
    }

    /// Run one turn (see the module docs): wait up to `max_wait` for events (`None`: as long
    /// as the timers allow; `Some(Duration::ZERO)`: do not wait), handle them, fire timers,
    /// flush output. Returns the number of events received.
    ///
    /// # Errors
    ///
    /// If polling fails. `EINTR` is not an error: the turn ends with 0 events.
    pub fn turn(&mut self, max_wait: Option<Duration>) -> io::Result<usize> {
        let timeout = self.poll_timeout(max_wait);
        if let Err(e) = self.poll.poll(&mut self.events, timeout) {
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
            self.events.clear();
        }
        let core = &mut self.core;
        let handler = &mut self.handler;
        core.now = Instant::now();
        // Work left from the last turn; what this turn leaves goes to the other list. (Two
        // vectors swapped turn after turn: no allocation once both have grown.)
        let spare = std::mem::take(&mut core.read_spare);
        let mut pending = std::mem::replace(&mut core.read_list, spare);

        let mut count = 0;
        for event in self.events.iter() {
            count += 1;
            if event.token() == WAKER {
                Self::drain_messages(&self.rx, core, handler);
                continue;
            }
            let key = Key::from_token(event.token());
            // Errors and hang-ups are surfaced by the read or write they make fail.
            let hup = event.is_read_closed() || event.is_error() || event.is_priority();
            if event.is_readable() || hup {
                core.readable(handler, key, hup);
            }
            if event.is_writable() || event.is_write_closed() || event.is_error() {
                core.writable(handler, key);
            }
            // Closes made by the I/O itself (a reset, a refused connect) are reported here;
            // closes made inside callbacks were reported right after them.
            core.report_closed(handler);
        }

        for key in pending.drain(..) {
            core.continue_read(handler, key);
            core.report_closed(handler);
        }
        core.read_spare = pending;

        let now_tick = core.clock.now_tick(core.now);
        while let Some((handle, target)) = core.wheel.poll(now_tick) {
            core.fire(handler, handle, target);
        }

        // Flushing can queue more output (on_drained); that waits for the next turn.
        let spare = std::mem::take(&mut core.flush_spare);
        let mut list = std::mem::replace(&mut core.flush_list, spare);
        for key in list.drain(..) {
            core.flush(handler, key);
            core.report_closed(handler);
        }
        core.flush_spare = list;

        // Publish the counters for Handle::stats (an uncontended lock and a copy).
        if let Ok(mut shared) = self.handle.stats.lock() {
            *shared = core.stats;
        }
        Ok(count)
    }

    /// Shut down gracefully (see [`Context::shutdown`]); [`run`](Reactor::run) returns when
    /// it is done.
    pub fn shutdown(&mut self, grace: Duration) {
        self.with_context(|_, cx| cx.shutdown(grace));
    }

    fn poll_timeout(&mut self, max_wait: Option<Duration>) -> Option<Duration> {
        if !self.core.read_list.is_empty() || !self.core.flush_list.is_empty() {
            return Some(Duration::ZERO);
        }
        let timers = self.core.wheel.next_deadline().map(|tick| {
            match self.core.clock.instant(tick) {
                Some(at) => at.saturating_duration_since(Instant::now()),
                // Beyond what Instant can represent: as good as never.
                None => Duration::MAX,
            }
        });
        match (timers, max_wait) {
            (Some(t), Some(m)) => Some(t.min(m)),
            (t, m) => t.or(m),
        }
    }

    fn drain_messages(rx: &mpsc::Receiver<Msg<H>>, core: &mut Core, handler: &mut H) {
        while let Ok(msg) = rx.try_recv() {
            match msg {
                Msg::Stop => core.stopped = true,
                Msg::Shutdown(grace) => core.shutdown(grace),
                Msg::Run(job) => {
                    core.call(handler, None, job);
                    core.report_closed(handler);
                }
            }
        }
    }
}

impl<H> std::fmt::Debug for Reactor<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reactor")
            .field("sockets", &self.core.entries.len())
            .field("timers", &self.core.wheel.len())
            .field("stats", &self.core.stats)
            .finish_non_exhaustive()
    }
}
