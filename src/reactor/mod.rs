//! The reactor: one `mio::Poll`, a slab of sockets, a timer wheel, and your [`Handler`].
//!
//! This is the I/O shell around the pure core (`conn`, `buf`, `time`, `framing`): the only
//! code that polls, reads the clock, and calls `read`, `write`, `accept`, `recvfrom` and
//! `sendto`, on TCP, UDP and Unix (stream, datagram, seqpacket) sockets alike.
//!
//! # One turn
//!
//! [`Reactor::turn`] hands the core and the handler to a `Turn` (`turn.rs`), which runs these
//! steps, in this order, every time (compare redis's `aeProcessEvents`); each is one call:
//!
//! 1. **Timeout** (`core`, `timers`): zero if work is left over from the last turn (a source
//!    that used up its read budget, output queued from outside a callback), else the time to
//!    the timers' next deadline, capped by the caller's `max_wait`.
//! 2. **Poll** (`registry`): `epoll_wait` through mio, or the simulation's in-memory network.
//!    `EINTR` is a turn with no events.
//! 3. **Now**: the clock is read once; every callback in this turn sees that instant.
//! 4. **Dispatch** (`turn`, then `core` and `stream`, `dgram`): for each event, find the slab
//!    entry by the token's key, drop the event if the generation differs or the entry was
//!    closed earlier in this batch, then accept, read until drained (`WouldBlock`, or a short
//!    TCP read) or the read budget is spent, or write, calling the handler.
//! 5. **Finished work, left-over reads** (`outside`, `turn`): results of jobs the workers
//!    finished go to [`Handler::on_work_done`] (a dial's look-up goes to its dial); then the
//!    read list as it stood before this turn's events (sources that hit their budget,
//!    listeners resuming after EMFILE, connections whose reading resumed after backpressure
//!    or that linger in a close), each at most once.
//! 6. **Timers** (`timers`, `turn`): the wheel is advanced to `now`; connection deadlines are
//!    checked lazily (the connection decides), user timers fire, dials move on; then each
//!    dial that ended is reported to [`Handler::on_dialed`].
//! 7. **Flush** (`turn`, `core`, `stream`): every connection given output during this turn is
//!    written, one vectored write each until `WouldBlock`; what is left waits for a writable
//!    event. During a graceful shutdown, connections found in the middle of a message are
//!    asked again whether they reached a boundary.
//! 8. **Reap** (`turn`): every connection closed during the turn is reported to
//!    [`Handler::on_close`] and its slot freed. Until then the slot stays marked closed, so
//!    no id or token can come to mean another connection within the turn.
//! 9. **Admit** (`budget`): connections waiting for the input budget read again, in order, as
//!    far as the memory freed in this turn allows.
//! 10. **Time** (`stats`): the turn's length, from the poll's return, goes into
//!     [`Stats::turns`] (the loop's lag, a fixed histogram).
//! 11. **Publish** the counters for [`Handle::stats`].
//!
//! # Rooms
//!
//! `Core` (the reactor's state) is a composition of owners, each a type with private fields
//! and the methods that change them, in a file of its own: `Sources`, `Timers`, `Admission`,
//! `Work`, `Scratch`, `Life`, `Door`, `Stats`; beside them the sockets' own rooms (`Stream`
//! with its connection, `DgramSock` with its queue). `Core`'s fields are private to its two
//! files (`core/mod.rs`, `core/lifecycle.rs`), whose methods move data between the owners and
//! never call the handler. The `Turn` calls the handler, asking the core for each step; the
//! handler acts back through a `Context`, which also asks the core. So the imports point one
//! way: `turn` → `context` → `core` → the owners.
//!
//! | layer | rooms |
//! |---|---|
//! | the turn | `mod.rs` ([`Reactor`]), `turn` (`Turn`: routing events, reading and flushing connections, accepting, receiving datagrams and signals, timers fired, `call` with panics caught, `reap`) |
//! | the handler's side | `handler` ([`Handler`]), `context` ([`Context`]), `sockets` (the `Context`'s socket methods), [`framed`] |
//! | the core | `core` (`Core`: the owners composed, the hot path between them: poll, read, write, flush), `core/lifecycle` (adding, accepting, closing, shutting down, datagram glue), `outside` (`Outside`: the glue for the program's own descriptors, its blocking work and its dials: a view over the owners they change) |
//! | owners of state | `registry` (`Sources`: the poll, the slab, tokens and generations), `timers` (`Timers`: the wheel, the precise timers and their `timerfd`, the `clock`), `budget` (`Admission`: the input budget and its waiting line), `work` (`Work`: what to read, flush and reap), `workers` (`Workers`: threads for blocking work), `dial` (`Dials`: connections by name under way, carrying out `conn::race`'s Happy Eyeballs decisions), `scratch` (`Scratch`: buffers lent to one call), `life` (`Life`: running, shutting down, stopped), `door` (`Door`: the connection limit and the reserve descriptor), `fds` (`FdsOut`: descriptors waiting to be sent), `stats` ([`Stats`]), `closelog` (`CloseLog`: closes logged, a burst summed up), `limit` ([`ConnectionLimit`]), `audit` (`Audit`: the invariants between the owners, read-only), `balance` (`Spread`: this reactor's part in placing a server's connections on its least loaded reactor; `Balance`: the group's loads and inboxes) |
//! | sockets | `stream` (`Stream`: a connection's socket and the steps that carry out its `Conn`'s decisions), `dgram` (`DgramSock`: a datagram socket and its send queue), `socket` (`Listener` and `Dgram`: one enum per socket kind), `tls` (`TlsSock`: a TCP socket and its rustls session, under `Stream::Tls`; `TlsListener`; empty types without the `tls` feature) |
//! | vocabulary | `ids` (the handler's ids), `config` ([`Config`]), `handle` ([`Handle`]) |
//!
//! Decisions about one connection are not here: `crate::conn` makes them, and these rooms
//! carry them out.
//!
//! # Embedding
//!
//! [`Reactor::run`] turns until [`Context::stop`], [`Handle::stop`], a signal, or the end of a
//! graceful [`Context::shutdown`]. A program with its own loop calls [`Reactor::turn`]
//! instead, with `Some(Duration::ZERO)` to busy-poll. A [`Handle`] (cloneable, `Send`) wakes
//! the reactor from another thread to stop it, shut it down, read its counters, or run a
//! closure on its thread.

mod audit;
mod balance;
mod budget;
mod clock;
mod closelog;
mod config;
mod context;
mod core;
mod dgram;
mod dial;
mod door;
mod fds;
pub mod framed;
mod handle;
mod handler;
mod ids;
mod life;
mod limit;
mod outside;
mod registry;
mod scratch;
mod socket;
mod sockets;
mod stats;
mod stream;
mod timers;
mod tls;
mod turn;
mod work;
mod workers;

use std::io;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use mio::Waker;

pub use self::config::Config;
pub use self::context::Context;
pub use self::handle::Handle;
pub use self::handler::{Handler, TimeoutAction};
pub use self::ids::{ConnId, DgramId, DialId, ListenerId, Readiness, TimerId, WatchId, WorkId};
pub use self::limit::ConnectionLimit;
pub use self::stats::{Stats, TurnTimes};
pub use self::workers::Resolver;
pub use crate::addr::PeerAddr;
pub use crate::conn::Timeouts;
pub use crate::sys::{ListenOptions, UnixListenOptions};

use self::core::Core;
use self::handle::Msg;
use self::registry::Sources;
use self::registry::WAKER;
use self::turn::Turn;
use crate::sys::Signals;

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
        Reactor::build(handler, config, None)
    }

    /// A reactor whose sockets live in the simulation's in-memory `net`, with its virtual
    /// clock (see `crate::sim`).
    pub(crate) fn simulated(
        handler: H,
        config: Config,
        net: crate::memnet::Net,
    ) -> io::Result<Reactor<H>> {
        Reactor::build(handler, config, Some(net))
    }

    fn build(handler: H, config: Config, net: Option<crate::memnet::Net>) -> io::Result<Self> {
        config.validate()?;
        let sources = Sources::new(config.events_capacity, net)?;
        let waker = Arc::new(Waker::new(sources.registry(), WAKER)?);
        let workers_waker = Arc::clone(&waker);
        let (tx, rx) = mpsc::channel();
        Ok(Reactor {
            core: Core::new(sources, config, workers_waker),
            handler,
            rx,
            handle: Handle::new(tx, waker),
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
        self.core.stats()
    }

    /// Run `f` with the handler and a [`Context`], outside any turn: to open connections,
    /// write, or set timers from the thread that owns the reactor. Output queued here is sent
    /// during the next turn.
    pub fn with_context<R>(&mut self, f: impl FnOnce(&mut H, &mut Context<'_>) -> R) -> R {
        self.core.read_clock();
        let r = f(&mut self.handler, &mut Context::new(&mut self.core));
        Turn::new(&mut self.core, &mut self.handler).reap();
        r
    }

    /// Serve `listener`, of the simulation's in-memory network.
    pub(crate) fn listen_mem(
        &mut self,
        listener: crate::memnet::MemListener,
    ) -> io::Result<ListenerId> {
        self.core
            .add_listener(self::socket::Listener::Mem(listener))
    }

    /// Serve `listener`, an in-memory listener other reactors serve too (`MemListener::share`),
    /// as a server's reactors share one: its connections placed by the balance.
    pub(crate) fn listen_mem_shared(
        &mut self,
        listener: crate::memnet::MemListener,
    ) -> io::Result<ListenerId> {
        self.core
            .add_shared_listener(self::socket::Listener::Mem(listener))
    }

    /// Bind a datagram socket to `port` of the simulation's in-memory network (a Unix one if
    /// `unix`).
    pub(crate) fn bind_mem_dgram(
        &mut self,
        net: &crate::memnet::Net,
        port: u16,
        unix: bool,
    ) -> io::Result<DgramId> {
        self.core
            .add_dgram(self::socket::Dgram::Mem(net.bind_dgram(port, unix)))
    }

    /// Check the reactor's invariants (see `Core::audit`): for the simulation.
    pub(crate) fn audit(&self) -> Result<(), String> {
        self.core.audit()
    }

    /// Blocks the buffer pool allocated because none was idle (for the simulation).
    pub(crate) fn pool_dry_takes(&self) -> u64 {
        self.core.pool_dry_takes()
    }

    /// Sources in the slab (for the simulation's leak check).
    pub(crate) fn socket_count(&self) -> usize {
        self.core.socket_count()
    }

    /// How long a program that embeds the reactor in its own event loop may wait (on the
    /// reactor's descriptor, see `AsRawFd`) before it must call [`turn`](Reactor::turn):
    /// zero if work is left over from the last turn that no event will announce, else the
    /// time until the timer wheel next needs a turn (a timer is due, or far timers move to
    /// finer slots, which may come before their deadlines) or a precise timer is due, to the
    /// nanosecond; `None` if no timer is set.
    pub fn next_timeout(&self) -> Option<Duration> {
        self.core.next_timeout(None)
    }

    /// Share `limit` with other reactors (see [`ConnectionLimit`]): from now on, this reactor
    /// refuses a connection when the connections open in all the reactors sharing it reach
    /// its maximum. Replaces the limit of [`Config::max_connections`]. Call it before serving.
    pub fn share_connection_limit(&mut self, limit: Arc<ConnectionLimit>) {
        self.core.set_limit(Some(limit));
    }

    /// Has the reactor been asked to stop (by `stop`, a signal, or the end of a graceful
    /// shutdown), so that [`run`](Reactor::run) returns after this turn?
    pub fn is_stopped(&self) -> bool {
        self.core.is_stopped()
    }

    /// Listen on `addr` (see [`Context::listen`]).
    ///
    /// # Errors
    ///
    /// Any error of `socket`, `setsockopt`, `bind` or `listen`, for example `AddrInUse` or `PermissionDenied` (a port below 1024 without privilege).
    pub fn listen(&mut self, addr: SocketAddr) -> io::Result<ListenerId> {
        self.with_context(|_, cx| cx.listen(addr))
    }

    /// Connect to `target` by name, without blocking (see [`Context::connect_host`]).
    ///
    /// # Errors
    ///
    /// As [`Context::connect_host`].
    pub fn connect_host(&mut self, target: &str) -> io::Result<DialId> {
        self.with_context(|_, cx| cx.connect_host(target))
    }

    /// Bind a UDP socket (see [`Context::bind_udp`]).
    ///
    /// # Errors
    ///
    /// Any error of `socket`, `setsockopt` or `bind`, for example `AddrInUse`.
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
        self.core.sources().local_addr(listener.0)
    }

    /// A listener's socket, for options (see [`Context::socket`]).
    ///
    /// # Errors
    ///
    /// `NotConnected` if `listener` is stale; `Unsupported` for a simulated one.
    pub fn listener_socket(&self, listener: ListenerId) -> io::Result<socket2::SockRef<'_>> {
        self.core.sources().sock_ref(listener.0)
    }

    /// A datagram socket's socket, for options (see [`Context::socket`]).
    ///
    /// # Errors
    ///
    /// `NotConnected` if `socket` is stale.
    pub fn dgram_socket(&self, socket: DgramId) -> io::Result<socket2::SockRef<'_>> {
        self.core.sources().sock_ref(socket.0)
    }

    /// The local address of a UDP socket.
    ///
    /// # Errors
    ///
    /// `NotConnected` if `socket` is stale.
    pub fn udp_addr(&self, socket: DgramId) -> io::Result<SocketAddr> {
        self.core.sources().local_addr(socket.0)
    }

    /// Turn until stopped by [`Context::stop`], [`Handle::stop`] or a signal; then return, so
    /// that `run` can be called again. Like `serve_forever` in Python's `socketserver`. With
    /// [`Config::busy_poll`] the turns never wait.
    ///
    /// # Errors
    ///
    /// If polling fails (other than by `EINTR`, which is retried).
    pub fn run(&mut self) -> io::Result<()> {
        // A stop asked for before `run` (or a shutdown already complete) is honoured at once.
        let wait = if self.core.config().busy_poll {
            Some(Duration::ZERO)
        } else {
            None
        };
        while !self.core.is_stopped() {
            self.turn(wait)?;
        }
        self.core.clear_stop();
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
        let events = Turn::new(&mut self.core, &mut self.handler).run(&self.rx, max_wait)?;
        self.publish_stats();
        Ok(events)
    }

    /// Publish the counters for [`Handle::stats`] (an uncontended lock and a copy), and the
    /// load for the server's other reactors.
    fn publish_stats(&self) {
        self.handle.publish(self.core.stats());
        self.core.publish_load();
    }

    /// Make `reactors` one group that places the connections its shared listeners accept on
    /// the least loaded of them (see `balance.rs`; `Server::start` does this).
    pub(crate) fn balance(reactors: &mut [Reactor<H>]) {
        if reactors.len() < 2 {
            return;
        }
        let wakers = reactors.iter().map(|r| r.handle.waker()).collect();
        let balance = self::balance::Balance::new(wakers);
        for (i, r) in reactors.iter_mut().enumerate() {
            r.core.join_balance(Arc::clone(&balance), i);
        }
    }

    /// Shut down gracefully (see [`Context::shutdown`]); [`run`](Reactor::run) returns when
    /// it is done.
    pub fn shutdown(&mut self, grace: Duration) {
        self.with_context(|_, cx| cx.shutdown(grace));
    }
}

/// The reactor's epoll descriptor, readable when a socket of the reactor has an event, so
/// that a reactor can be nested in another event loop: wait on this descriptor there, for at
/// most [`Reactor::next_timeout`] (timers and left-over work raise no event on it), then call
/// [`Reactor::turn`] with `Some(Duration::ZERO)`.
impl<H> std::os::fd::AsRawFd for Reactor<H> {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.core.poll_fd().as_raw_fd()
    }
}

/// As [`AsRawFd`](std::os::fd::AsRawFd): the epoll descriptor, borrowed.
impl<H> std::os::fd::AsFd for Reactor<H> {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.core.poll_fd()
    }
}

impl<H> std::fmt::Debug for Reactor<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reactor")
            .field("sockets", &self.core.socket_count())
            .field("timers", &self.core.timer_count())
            .field("stats", self.core.stats())
            .finish_non_exhaustive()
    }
}
