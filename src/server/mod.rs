//! `socketserver`, the reactor way: several reactors, one per thread, serving the same
//! sockets.
//!
//! Python's `ThreadingMixIn` starts a thread per request and lets them share one listening
//! socket. netloop instead runs N independent reactors on N threads. Every reactor serves the
//! same listening (and UDP) socket through its own clone of it, registered with
//! `EPOLLEXCLUSIVE`, and the kernel wakes one idle reactor for each new connection (or
//! datagram). After that a connection lives and dies on one thread: no lock, no shared queue and no cache line moves
//! between cores on the hot path, which is why one reactor per core scales where one shared
//! reactor (or one shared accept queue feeding worker threads) stops at the lock or the wake-up
//! that every message then needs.
//!
//! [`Sessions`] gives each connection its own handler object made by a factory, as
//! `socketserver` makes one request handler per client; [`tcp_server`], [`udp_server`],
//! [`unix_stream_server`], [`unix_datagram_server`] and [`unix_seqpacket_server`] are
//! `socketserver`'s server classes: a reactor with one socket and its handler, ready to run.
//!
//! Data flow: [`bind_tcp`] and [`bind_udp`] bind one socket per address and give every
//! reactor a clone of it (so a port 0 is resolved once, and the address is this process's
//! alone); [`ConnectionLimit`](crate::reactor::ConnectionLimit) bounds their connections
//! together;
//! [`Server::start`] moves each reactor to a thread of its own and returns the [`Handle`]s;
//! [`Server::stats`] adds up their counters; [`Server::shutdown`] shuts them all down
//! gracefully and [`Server::join`] waits for them.

mod session;

pub use session::Sessions;

pub use crate::sys::{raise_fd_limit, Signals};

/// The listening sockets a service manager handed this process (socket activation:
/// systemd's `LISTEN_FDS`, `LISTEN_PID`, `LISTEN_FDNAMES`), each with its name if the manager
/// named it; empty when the process was not socket-activated. Taken once: the variables are
/// removed, so a second call, or a child process, gets nothing. Serve them with
/// [`share_tcp`], [`share_udp`] or `Context::add_unix_listener`.
///
/// # Errors
///
/// `InvalidData` for malformed variables; an error for a descriptor that is not open.
pub use crate::sys::listen_fds;

use std::io;
use std::net::SocketAddr;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::reactor::{
    Config, Context, DgramId, Handle, Handler, ListenerId, PeerAddr, Reactor, Stats,
};
use crate::sys::{ListenOptions, UnixListenOptions};

/// Listen on `addr` with one socket that every reactor serves. Returns each reactor's
/// listener id (in order) and the address bound (port 0 resolved).
///
/// One socket, not one per reactor: each reactor registers its own clone of it with
/// `EPOLLEXCLUSIVE`, so a new connection wakes one reactor, and the address belongs to this
/// process alone. (With `SO_REUSEPORT` sockets, one per reactor, any process of the same user
/// could bind the address too and silently take a share of the connections; here a second
/// server's bind fails with "address in use", as with one reactor.) `opts.reuse_port` is
/// honoured if set, for a caller who wants the group. If registering fails in one reactor, the
/// listeners already added are closed again: all or nothing.
///
/// # Errors
///
/// The bind error (address in use, permission denied, ...), or a registration error.
pub fn bind_tcp<H: Handler>(
    reactors: &mut [Reactor<H>],
    addr: SocketAddr,
    opts: ListenOptions,
) -> io::Result<(Vec<ListenerId>, SocketAddr)> {
    share_tcp(reactors, crate::sys::tcp_listener(addr, &opts)?)
}

/// Serve the listening socket `sock`, made elsewhere (handed by a service manager, say: see
/// [`listen_fds`]), in every reactor, as [`bind_tcp`] does with the socket it binds. Returns
/// each reactor's listener id and the socket's address.
///
/// # Errors
///
/// The socket's error (not a socket, not listening), or a registration error.
pub fn share_tcp<H: Handler>(
    reactors: &mut [Reactor<H>],
    sock: std::net::TcpListener,
) -> io::Result<(Vec<ListenerId>, SocketAddr)> {
    let bound = sock.local_addr()?;
    share(
        reactors,
        |r| {
            let sock = sock.try_clone()?;
            r.with_context(|_, cx| cx.add_shared_listener(sock))
        },
        |r, id| {
            let _ = r.with_context(|_, cx| cx.close_listener(id));
        },
    )
    .map(|ids| (ids, bound))
}

/// [`bind_tcp`] for connections that speak TLS with `config`'s certificate (feature `tls`;
/// see `Context::listen_tls`): one socket, served by every reactor.
///
/// # Errors
///
/// As [`bind_tcp`].
#[cfg(feature = "tls")]
pub fn bind_tls<H: Handler>(
    reactors: &mut [Reactor<H>],
    addr: SocketAddr,
    opts: ListenOptions,
    config: std::sync::Arc<rustls::ServerConfig>,
) -> io::Result<(Vec<ListenerId>, SocketAddr)> {
    let sock = crate::sys::tcp_listener(addr, &opts)?;
    let bound = sock.local_addr()?;
    share(
        reactors,
        |r| {
            let (sock, config) = (sock.try_clone()?, std::sync::Arc::clone(&config));
            r.with_context(|_, cx| cx.add_shared_tls_listener(sock, config))
        },
        |r, id| {
            let _ = r.with_context(|_, cx| cx.close_listener(id));
        },
    )
    .map(|ids| (ids, bound))
}

/// Bind one UDP socket to `addr` (with `opts`' `only_v6` and `reuse_port`) that every reactor serves (see [`bind_tcp`]: each datagram
/// goes to one reactor, and the address belongs to this process). Returns each reactor's
/// socket id and the address bound.
///
/// # Errors
///
/// The bind error, or a registration error.
pub fn bind_udp<H: Handler>(
    reactors: &mut [Reactor<H>],
    addr: SocketAddr,
    opts: ListenOptions,
) -> io::Result<(Vec<DgramId>, SocketAddr)> {
    share_udp(reactors, crate::sys::udp_socket(addr, &opts)?)
}

/// Serve the UDP socket `sock`, made elsewhere, in every reactor, as [`bind_udp`] does with
/// the socket it binds. Returns each reactor's socket id and the socket's address.
///
/// # Errors
///
/// The socket's error, or a registration error.
pub fn share_udp<H: Handler>(
    reactors: &mut [Reactor<H>],
    sock: std::net::UdpSocket,
) -> io::Result<(Vec<DgramId>, SocketAddr)> {
    let bound = sock.local_addr()?;
    share(
        reactors,
        |r| {
            let sock = sock.try_clone()?;
            r.with_context(|_, cx| cx.add_shared_udp(sock))
        },
        |r, id| {
            let _ = r.with_context(|_, cx| cx.close_dgram(id));
        },
    )
    .map(|ids| (ids, bound))
}

/// Add one socket to every reactor with `add`; if one fails, undo the others with `undo`.
fn share<H: Handler, I: Copy>(
    reactors: &mut [Reactor<H>],
    mut add: impl FnMut(&mut Reactor<H>) -> io::Result<I>,
    mut undo: impl FnMut(&mut Reactor<H>, I),
) -> io::Result<Vec<I>> {
    let mut ids = Vec::with_capacity(reactors.len());
    for i in 0..reactors.len() {
        match add(&mut reactors[i]) {
            Ok(id) => ids.push(id),
            Err(e) => {
                for (r, id) in reactors.iter_mut().zip(ids) {
                    undo(r, id);
                }
                return Err(e);
            }
        }
    }
    Ok(ids)
}

/// A reactor's thread, which hands the reactor back when it ends.
type ReactorThread<H> = JoinHandle<io::Result<Reactor<H>>>;

/// `socketserver.TCPServer`: a reactor listening on `addr` (the listener's id comes with it),
/// with a session (a [`Handler`] of its own) made by `factory` for every connection. Add more listeners to the same reactor with
/// [`Reactor::with_context`]; run it with [`Reactor::run`] (`serve_forever`), or several with
/// [`Server`].
///
/// # Errors
///
/// An invalid `config`, or any error of binding and listening.
///
/// # Examples
///
/// ```
/// use netloop::reactor::{Config, ConnId, Context};
/// use netloop::reactor::Handler;
/// use netloop::server::tcp_server;
///
/// struct Echo;
/// impl Handler for Echo {
///     fn on_data(&mut self, cx: &mut Context<'_>, conn: ConnId, data: &[u8]) -> usize {
///         let _ = cx.write(conn, data);
///         data.len()
///     }
/// }
///
/// let (reactor, listener) = tcp_server("127.0.0.1:0".parse().unwrap(), Config::default(), |_, _| Echo)?;
/// let addr = reactor.listener_addr(listener)?; // the port the kernel chose
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn tcp_server<F, S>(
    addr: SocketAddr,
    config: Config,
    factory: F,
) -> io::Result<(Reactor<Sessions<F, S>>, ListenerId)>
where
    F: FnMut(Option<ListenerId>, Option<&PeerAddr>) -> S,
    S: Handler,
{
    sessions_on(config, factory, |cx| cx.listen(addr))
}

/// A reactor with a [`Sessions`] handler and the one listener `bind` makes.
fn sessions_on<F, S>(
    config: Config,
    factory: F,
    bind: impl FnOnce(&mut Context<'_>) -> io::Result<ListenerId>,
) -> io::Result<(Reactor<Sessions<F, S>>, ListenerId)>
where
    F: FnMut(Option<ListenerId>, Option<&PeerAddr>) -> S,
    S: Handler,
{
    let mut reactor = Reactor::with_config(Sessions::new(factory), config)?;
    let id = reactor.with_context(|_, cx| bind(cx))?;
    Ok((reactor, id))
}

/// `socketserver.UnixStreamServer`: like [`tcp_server`], on the Unix socket `addr` (a file,
/// or an abstract name: [`UnixAddr`](crate::addr::UnixAddr)).
///
/// # Errors
///
/// An invalid `config`; `AddrInUse` if a server is listening at the address; `AlreadyExists` if the path is
/// something other than a socket; any error of `socket`, `bind`, `chmod` or `listen`.
pub fn unix_stream_server<F, S>(
    addr: impl Into<crate::addr::UnixAddr>,
    opts: &UnixListenOptions,
    config: Config,
    factory: F,
) -> io::Result<(Reactor<Sessions<F, S>>, ListenerId)>
where
    F: FnMut(Option<ListenerId>, Option<&PeerAddr>) -> S,
    S: Handler,
{
    sessions_on(config, factory, |cx| cx.listen_unix(addr, opts))
}

/// A Unix `SOCK_SEQPACKET` server: like [`unix_stream_server`], but each `on_data` is one
/// whole record and each write one record (see
/// [`Context::listen_seqpacket`](crate::reactor::Context::listen_seqpacket)).
///
/// # Errors
///
/// An invalid `config`; `AddrInUse` if a server is listening at the address; `AlreadyExists` if the path is
/// something other than a socket; any error of `socket`, `bind`, `chmod` or `listen`.
pub fn unix_seqpacket_server<F, S>(
    addr: impl Into<crate::addr::UnixAddr>,
    opts: &UnixListenOptions,
    config: Config,
    factory: F,
) -> io::Result<(Reactor<Sessions<F, S>>, ListenerId)>
where
    F: FnMut(Option<ListenerId>, Option<&PeerAddr>) -> S,
    S: Handler,
{
    sessions_on(config, factory, |cx| cx.listen_seqpacket(addr, opts))
}

/// `socketserver.UDPServer`: a reactor with a UDP socket on `addr`, whose `handler` is
/// called per datagram with the peer's address ([`Handler::on_datagram`]).
///
/// # Errors
///
/// An invalid `config`, or any error of binding.
pub fn udp_server<H: Handler>(
    addr: SocketAddr,
    config: Config,
    handler: H,
) -> io::Result<(Reactor<H>, DgramId)> {
    let mut reactor = Reactor::with_config(handler, config)?;
    let id = reactor.bind_udp(addr)?;
    Ok((reactor, id))
}

/// `socketserver.UnixDatagramServer`: like [`udp_server`], on the Unix socket `addr` (a
/// file or an abstract name).
///
/// # Errors
///
/// An invalid `config`; `AddrInUse` if a socket is bound at the address; `AlreadyExists` if
/// the path is something other than a socket; any error of `socket`, `bind` or `chmod`.
pub fn unix_datagram_server<H: Handler>(
    addr: impl Into<crate::addr::UnixAddr>,
    opts: &UnixListenOptions,
    config: Config,
    handler: H,
) -> io::Result<(Reactor<H>, DgramId)> {
    let mut reactor = Reactor::with_config(handler, config)?;
    let id = reactor.with_context(|_, cx| cx.bind_unix_dgram(addr, opts))?;
    Ok((reactor, id))
}

/// Reactors running on threads of their own.
pub struct Server<H> {
    threads: Vec<(Handle<H>, ReactorThread<H>)>,
}

impl<H: Handler + Send + 'static> Server<H> {
    /// Run each reactor on a thread of its own (named `netloop-0`, `netloop-1`, ...), like
    /// Python's `serve_forever`, until stopped or shut down.
    ///
    /// The reactors become one group: a connection accepted on a listener they share
    /// ([`bind_tcp`], [`share_tcp`]) is served by the one with the fewest connections (ties
    /// in turn), whichever the kernel woke to accept it; it is handed over before it is
    /// registered, and that reactor's handler gets its `on_accept`. So serial arrivals and
    /// bursts alike spread evenly, and the listening socket stays one socket, this
    /// process's alone.
    ///
    /// # Errors
    ///
    /// If a thread cannot be spawned (the reactors already started keep running; dropping
    /// the returned error does not stop them, so this stops them first).
    pub fn start(mut reactors: Vec<Reactor<H>>) -> io::Result<Server<H>> {
        Reactor::balance(&mut reactors);
        let mut threads = Vec::with_capacity(reactors.len());
        for (i, mut reactor) in reactors.into_iter().enumerate() {
            let handle = reactor.handle();
            let spawned = std::thread::Builder::new()
                .name(format!("netloop-{i}"))
                .spawn(move || reactor.run().map(|()| reactor));
            match spawned {
                Ok(t) => threads.push((handle, t)),
                Err(e) => {
                    let server = Server { threads };
                    server.stop();
                    let _ = server.join();
                    return Err(e);
                }
            }
        }
        Ok(Server { threads })
    }

    /// One handle per reactor, in order.
    pub fn handles(&self) -> Vec<Handle<H>> {
        self.threads.iter().map(|(h, _)| h.clone()).collect()
    }

    /// Each reactor's counters, in order, as of its last turn.
    pub fn stats_per_reactor(&self) -> Vec<Stats> {
        self.threads.iter().map(|(h, _)| h.stats()).collect()
    }

    /// All reactors' counters added up.
    pub fn stats(&self) -> Stats {
        self.stats_per_reactor()
            .iter()
            .fold(Stats::default(), |sum, s| sum.add(s))
    }

    /// Shut every reactor down gracefully within `grace` (see
    /// [`Context::shutdown`](crate::reactor::Context::shutdown)): no new connections, each
    /// open one closes cleanly at its next message boundary, and what is left when `grace`
    /// ends is cut off. [`stop`](Server::stop) meanwhile cuts them off at once.
    pub fn shutdown(&self, grace: Duration) {
        for (h, _) in &self.threads {
            // A reactor that is already gone has nothing to shut down.
            let _ = h.shutdown(grace);
        }
    }

    /// Serve until SIGINT or SIGTERM arrives on `signals` (Python's `serve_forever` with a
    /// Ctrl-C handler), calling `tick` with the server every `every` meanwhile (a stats
    /// ticker, say). Returns the signal's number; the reactors keep running, so that the
    /// caller decides how to stop them ([`shutdown`](Server::shutdown), then
    /// [`join`](Server::join)).
    ///
    /// `signals` must have been made before the reactor threads started (see
    /// [`Signals`]), so that every thread has the signals blocked.
    ///
    /// # Errors
    ///
    /// If waiting on the signal descriptor fails.
    pub fn serve_until_signal(
        &self,
        signals: &mut crate::sys::Signals,
        every: Option<Duration>,
        mut tick: impl FnMut(&Server<H>),
    ) -> io::Result<i32> {
        loop {
            if let Some(signo) = signals.wait(every)? {
                return Ok(signo);
            }
            tick(self);
        }
    }

    /// Have all the reactors stopped (their threads ended)?
    pub fn is_finished(&self) -> bool {
        self.threads.iter().all(|(_, t)| t.is_finished())
    }

    /// Stop every reactor after its current turn, without waiting for connections (during a
    /// graceful shutdown, those left are cut off and counted so).
    pub fn stop(&self) {
        for (h, _) in &self.threads {
            let _ = h.stop();
        }
    }

    /// Wait for every reactor to stop, and get them back.
    ///
    /// # Errors
    ///
    /// The first reactor's error (a poll failure), or `Other` if a reactor thread panicked
    /// (a panic outside any handler callback: a bug in netloop).
    pub fn join(self) -> io::Result<Vec<Reactor<H>>> {
        let mut out = Vec::with_capacity(self.threads.len());
        let mut first_err = None;
        for (_, t) in self.threads {
            match t.join() {
                Ok(Ok(r)) => out.push(r),
                Ok(Err(e)) => {
                    first_err.get_or_insert(e);
                }
                Err(_) => {
                    first_err.get_or_insert(io::Error::other("a reactor thread panicked"));
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }
}
