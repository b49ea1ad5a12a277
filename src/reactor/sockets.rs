//! [`Context`]'s socket methods: opening listeners, datagram and ICMP sockets and outgoing
//! connections of every family, closing them, and reaching their addresses and options.
//!
//! Each method checks nothing itself: it asks `sys` (or socket2) for a configured socket and
//! hands it to the core, which registers it with the poll (`core/lifecycle.rs`).

use std::io;
use std::net::SocketAddr;
use std::os::fd::{BorrowedFd, OwnedFd};

use super::context::Context;
use super::ids::{ConnId, DgramId, DialId, ListenerId, Readiness, WatchId};
use super::socket::{Dgram, Listener};
use super::stream::Stream;
use crate::addr::PeerAddr;
use crate::addr::UnixAddr;
use crate::conn::Opened;
use crate::sys::{ListenOptions, Signals, UnixListenOptions};

impl Context<'_> {
    /// Listen on `addr` with the reactor's default [`ListenOptions`].
    ///
    /// # Errors
    ///
    /// Any error of `socket`, `setsockopt`, `bind` or `listen`, for example `AddrInUse` or `PermissionDenied` (a port below 1024 without privilege).
    pub fn listen(&mut self, addr: SocketAddr) -> io::Result<ListenerId> {
        let opts = self.core.config().listen;
        self.core.add_listener(Listener::tcp(addr, &opts)?)
    }

    /// Listen on `addr` with `opts`.
    ///
    /// # Errors
    ///
    /// Any error of `socket`, `setsockopt`, `bind` or `listen`, for example `AddrInUse` or `PermissionDenied` (a port below 1024 without privilege).
    pub fn listen_with(
        &mut self,
        addr: SocketAddr,
        opts: &ListenOptions,
    ) -> io::Result<ListenerId> {
        self.core.add_listener(Listener::tcp(addr, opts)?)
    }

    /// Take over a listener made elsewhere (it is made non-blocking).
    ///
    /// # Errors
    ///
    /// If it cannot be made non-blocking or registered.
    pub fn add_listener(&mut self, listener: std::net::TcpListener) -> io::Result<ListenerId> {
        self.core.add_listener(Listener::from_std(listener)?)
    }

    /// Watch a descriptor of the program's own (a pipe, an `eventfd` another thread writes, a
    /// child's output, a `timerfd`, ...) for `interest`: [`Handler::on_ready`] is called when
    /// it is ready.
    ///
    /// The reactor takes the descriptor and owns it until [`unwatch`](Context::unwatch) hands
    /// it back (or the reactor is dropped, which closes it). So it cannot be closed behind the
    /// reactor's back, and its registration cannot outlive it and fire for another descriptor
    /// that reuses the number. To keep a descriptor of your own too, watch a copy
    /// (`try_clone`). It is watched edge-triggered (see [`Handler::on_ready`]); make it
    /// non-blocking first, or a read that finds nothing stalls the whole reactor.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for an interest in nothing; a registration error (`EPERM` for a regular
    /// file, which epoll does not watch).
    ///
    /// [`Handler::on_ready`]: super::Handler::on_ready
    pub fn watch(&mut self, fd: OwnedFd, interest: Readiness) -> io::Result<WatchId> {
        self.core.outside().watch(fd, interest)
    }

    /// The descriptor `watch` watches, borrowed: to read or write it from
    /// [`Handler::on_ready`](super::Handler::on_ready). `None` if the id is stale.
    pub fn watched(&self, watch: WatchId) -> Option<BorrowedFd<'_>> {
        self.core.sources().watched(watch.0)
    }

    /// Stop watching `watch` and hand its descriptor back; `None` if the id is stale (never
    /// watched, or handed back already).
    pub fn unwatch(&mut self, watch: WatchId) -> Option<OwnedFd> {
        self.core.outside().unwatch(watch.0)
    }

    /// Call [`Handler::on_ready`](super::Handler::on_ready) for `watch` again next turn, as
    /// readable, whether or not anything new arrived: to read the rest of what is waiting
    /// later, without a new edge.
    ///
    /// # Errors
    ///
    /// `NotConnected` if `watch` is stale.
    pub fn notify(&mut self, watch: WatchId) -> io::Result<()> {
        self.core.outside().notify(watch.0)
    }

    /// Serve a listening Unix stream socket made elsewhere (handed by a service manager, for
    /// example: see [`server::listen_fds`](crate::server::listen_fds)); it is made
    /// non-blocking. Its socket file, if any, is left alone when it closes: whoever made it
    /// owns it.
    ///
    /// # Errors
    ///
    /// If it cannot be made non-blocking or registered.
    pub fn add_unix_listener(
        &mut self,
        listener: std::os::unix::net::UnixListener,
    ) -> io::Result<ListenerId> {
        self.core.add_listener(Listener::from_std_unix(listener)?)
    }

    /// Serve a listening socket that other reactors serve too, each through its own clone of
    /// it (`try_clone`): registered with `EPOLLEXCLUSIVE`, so that a new connection wakes one
    /// reactor, not all. One socket shared this way keeps the address to this process (a
    /// second server's bind fails with "address in use"), which `SO_REUSEPORT` would not.
    ///
    /// # Errors
    ///
    /// If it cannot be made non-blocking or registered.
    pub fn add_shared_listener(
        &mut self,
        listener: std::net::TcpListener,
    ) -> io::Result<ListenerId> {
        self.core.add_shared_listener(Listener::from_std(listener)?)
    }

    /// [`add_shared_listener`](Context::add_shared_listener) for a listener whose
    /// connections speak TLS with `config`'s certificate (feature `tls`; see
    /// [`listen_tls`](Context::listen_tls)).
    ///
    /// # Errors
    ///
    /// As [`add_shared_listener`](Context::add_shared_listener).
    #[cfg(feature = "tls")]
    pub fn add_shared_tls_listener(
        &mut self,
        listener: std::net::TcpListener,
        config: std::sync::Arc<rustls::ServerConfig>,
    ) -> io::Result<ListenerId> {
        self.core
            .add_shared_listener(Listener::tls_from_std(listener, config)?)
    }

    /// Serve a UDP socket that other reactors serve too, through its own clone of it (see
    /// [`add_shared_listener`](Context::add_shared_listener)): each datagram is read by one
    /// reactor. Registered without `EPOLLEXCLUSIVE`, so that a writable event reaches every
    /// reactor with datagrams queued (each datagram may wake them all; one reads it).
    ///
    /// # Errors
    ///
    /// If it cannot be made non-blocking or registered.
    pub fn add_shared_udp(&mut self, socket: std::net::UdpSocket) -> io::Result<DgramId> {
        self.core.add_shared_udp(socket)
    }

    /// Bind a UDP socket to `addr` with the reactor's default [`ListenOptions`] (an IPv6
    /// socket is IPv6-only unless they say otherwise).
    ///
    /// # Errors
    ///
    /// Any error of `socket`, `setsockopt` or `bind`, for example `AddrInUse`.
    pub fn bind_udp(&mut self, addr: SocketAddr) -> io::Result<DgramId> {
        let opts = self.core.config().listen;
        self.core.add_dgram(Dgram::udp(addr, &opts)?)
    }

    /// Bind a UDP socket to `addr` with `opts`: for example `only_v6: false` on `[::]` for
    /// one socket that serves IPv4 and IPv6 (IPv4 senders are shown, and answered, as their
    /// IPv4 addresses).
    ///
    /// # Errors
    ///
    /// Any error of `socket`, `setsockopt` or `bind`, for example `AddrInUse`.
    pub fn bind_udp_with(&mut self, addr: SocketAddr, opts: &ListenOptions) -> io::Result<DgramId> {
        self.core.add_dgram(Dgram::udp(addr, opts)?)
    }

    /// Bind a Unix datagram socket to `addr`, a file (mode and stale files as for
    /// [`listen_unix`](Context::listen_unix); removed when the socket goes) or an abstract
    /// name.
    ///
    /// # Errors
    ///
    /// `AddrInUse` if a socket is bound at the address; `AlreadyExists` if the path is
    /// something other than a socket; any error of `socket`, `bind` or `chmod`.
    pub fn bind_unix_dgram(
        &mut self,
        addr: impl Into<UnixAddr>,
        opts: &UnixListenOptions,
    ) -> io::Result<DgramId> {
        self.core.add_dgram(Dgram::unix(&addr.into(), opts)?)
    }

    /// Take over a UDP socket made elsewhere (it is made non-blocking).
    ///
    /// # Errors
    ///
    /// If it cannot be made non-blocking or registered.
    pub fn add_udp(&mut self, socket: std::net::UdpSocket) -> io::Result<DgramId> {
        self.core.add_dgram(Dgram::from_std_udp(socket)?)
    }

    /// Start a non-blocking TCP connect to `addr`. [`Handler::on_connect`] follows when it is
    /// established, or [`Handler::on_close`] with the error. Output may be queued at once; it
    /// is sent when the connection is up.
    ///
    /// # Errors
    ///
    /// If the socket cannot be made or registered (a refused connection is reported later,
    /// through `on_close`).
    ///
    /// [`Handler::on_connect`]: super::Handler::on_connect
    /// [`Handler::on_close`]: super::Handler::on_close
    pub fn connect(&mut self, addr: SocketAddr) -> io::Result<ConnId> {
        self.core.connect(addr)
    }

    /// Listen on `addr` for connections that speak TLS (feature `tls`), presenting
    /// `config`'s certificate (see `socket::tls::server_config`; ALPN and the rest are set
    /// there). The handler sees plaintext: `on_data` gets it and `write` takes it, the
    /// records are the reactor's. The handshake runs as the connection is read, after
    /// `on_accept`; a handshake that fails closes the connection with rustls's reason
    /// (`CloseReason::Io`, `InvalidData`). A graceful close sends `close_notify`.
    ///
    /// # Errors
    ///
    /// As [`listen`](Context::listen).
    #[cfg(feature = "tls")]
    pub fn listen_tls(
        &mut self,
        addr: SocketAddr,
        config: std::sync::Arc<rustls::ServerConfig>,
    ) -> io::Result<ListenerId> {
        let opts = self.core.config().listen;
        self.core.add_listener(Listener::tls(addr, &opts, config)?)
    }

    /// Connect to `addr` and speak TLS there (feature `tls`), the server proving it is
    /// `server_name` (a host name or an IP address) with a certificate `config` trusts (see
    /// `socket::tls::client_config`). [`Handler::on_connect`](super::Handler::on_connect) follows when the TCP connection
    /// is up; output written from then on goes once the handshake is done. A handshake that
    /// fails closes the connection with rustls's reason (`invalid peer certificate:
    /// UnknownIssuer`, ...).
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a bad server name; as [`connect`](Context::connect).
    #[cfg(feature = "tls")]
    pub fn connect_tls(
        &mut self,
        addr: SocketAddr,
        server_name: &str,
        config: std::sync::Arc<rustls::ClientConfig>,
    ) -> io::Result<ConnId> {
        let name =
            rustls::pki_types::ServerName::try_from(server_name.to_string()).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("'{server_name}' as a TLS server name: {e}"),
                )
            })?;
        let tcp = mio::net::TcpStream::connect(addr)?;
        let sock = super::tls::TlsSock::client(tcp, config, name)?;
        self.core
            .add_conn(Stream::Tls(Box::new(sock)), Opened::Connecting)
    }

    /// Connect to `target`, a host and a service (`"example.com:443"`, `"localhost:http"`,
    /// `"[::1]:9999"`), without blocking the loop: the name is looked up on the reactor's
    /// worker threads ([`Config::workers`](super::Config::workers); the resolver is
    /// `getaddrinfo` unless [`set_resolver`](Context::set_resolver) gave another), then its
    /// addresses are tried with Happy Eyeballs (RFC 8305): IPv6 and IPv4 interleaved, IPv6
    /// first, a new attempt starting beside the ones under way whenever
    /// [`Config::connect_attempt_delay`](super::Config::connect_attempt_delay) passes with no
    /// answer (or at once when one fails). The first to connect wins and the others are
    /// closed. The connect timeout ([`Timeouts::connect`](super::Timeouts::connect)) bounds
    /// the whole of it, look-up included.
    ///
    /// [`Handler::on_dialed`] reports how it ended, with the id returned here: the
    /// connection (then [`Handler::on_connect`], as for [`connect`](Context::connect)), or an
    /// error naming every address tried. The attempts are the reactor's own and reach no
    /// other callback.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a target that is not `host:service` (an IPv6 address goes in
    /// brackets); `WouldBlock` when the worker queue is full (see
    /// [`submit`](Context::submit)); `Unsupported` in the simulation. A name that cannot be
    /// looked up, or no address that answers, is reported later, through `on_dialed`.
    ///
    /// [`Handler::on_dialed`]: super::Handler::on_dialed
    /// [`Handler::on_connect`]: super::Handler::on_connect
    pub fn connect_host(&mut self, target: &str) -> io::Result<DialId> {
        self.core.outside().connect_host(target)
    }

    /// Give up a connection by name still under way: its look-up's answer is ignored, its
    /// attempts are closed, and [`Handler::on_dialed`](super::Handler::on_dialed) is not
    /// called for it. `false` if it has ended already.
    pub fn cancel_dial(&mut self, dial: DialId) -> bool {
        self.core.outside().cancel_dial(dial)
    }

    /// A fresh dial id, for a dial that failed before it started (`Handle::connect_host`).
    pub(crate) fn new_dial_id(&mut self) -> DialId {
        self.core.outside().new_dial_id()
    }

    /// Deliver SIGINT/SIGTERM-style signals through the reactor (see [`Signals`]).
    ///
    /// # Errors
    ///
    /// If registering the descriptor fails.
    pub fn add_signals(&mut self, signals: Signals) -> io::Result<()> {
        self.core.add_signals(signals)
    }

    /// Close a listener; connections it accepted are not affected.
    ///
    /// # Errors
    ///
    /// `NotConnected` if `listener` is stale.
    pub fn close_listener(&mut self, listener: ListenerId) -> io::Result<()> {
        self.core.remove_listener(listener.0)
    }

    /// Close a datagram socket: queued datagrams get one last try, and what the kernel will
    /// not take is counted in `Stats::dgram_send_errors` and logged.
    ///
    /// Closed from [`on_datagram`](crate::reactor::Handler::on_datagram), the replies sent
    /// so far in that receive batch go first, and the handler hears no more of the batch:
    /// the datagrams received with it and not yet handed over are dropped with the socket,
    /// as the kernel drops those still queued.
    ///
    /// # Errors
    ///
    /// `NotConnected` if `socket` is stale.
    pub fn close_dgram(&mut self, socket: DgramId) -> io::Result<()> {
        self.core.close_dgram(socket.0)
    }

    /// The local address of a listener.
    ///
    /// # Errors
    ///
    /// `NotConnected` if `listener` is stale.
    pub fn listener_addr(&self, listener: ListenerId) -> io::Result<SocketAddr> {
        self.core.sources().local_addr(listener.0)
    }

    /// The local address of any listener, Unix ones included (`unix:/path`, `unix:@name`).
    ///
    /// # Errors
    ///
    /// `NotConnected` if `listener` is stale.
    pub fn listener_local_addr(&self, listener: ListenerId) -> io::Result<PeerAddr> {
        self.core.sources().local_peer_addr(listener.0)
    }

    /// The local address of a UDP socket.
    ///
    /// # Errors
    ///
    /// `NotConnected` if `socket` is stale.
    pub fn udp_addr(&self, socket: DgramId) -> io::Result<SocketAddr> {
        self.core.sources().local_addr(socket.0)
    }

    /// The local address of a connection.
    ///
    /// # Errors
    ///
    /// `NotConnected` if `conn` is stale.
    pub fn local_addr(&self, conn: ConnId) -> io::Result<PeerAddr> {
        self.core.sources().local_peer_addr(conn.0)
    }

    /// Listen on the Unix socket `addr`: a file (see [`UnixListenOptions`] for its mode and
    /// stale files; it is removed when the listener is closed or the reactor is dropped) or
    /// an abstract name ([`UnixAddr::abstract_name`], no file).
    ///
    /// [`UnixAddr::abstract_name`]: crate::addr::UnixAddr::abstract_name
    ///
    /// # Errors
    ///
    /// `AddrInUse` if a server is listening at the address; `AlreadyExists` if the path is something other than a socket; any error of `socket`, `bind`, `chmod` or `listen`.
    pub fn listen_unix(
        &mut self,
        addr: impl Into<UnixAddr>,
        opts: &UnixListenOptions,
    ) -> io::Result<ListenerId> {
        self.core.add_listener(Listener::unix(&addr.into(), opts)?)
    }

    /// Listen on a Unix `SOCK_SEQPACKET` socket at `addr` (a file or an abstract name). Its connections are made of
    /// records: every `on_data` call gets exactly one whole record (what the handler does not
    /// use of it is dropped with it), and every write (`write`, `write_owned`, `write_parts`,
    /// ...) is sent as one record. An empty record arrives as an `on_data` call with no
    /// bytes; an empty write sends nothing.
    ///
    /// # Errors
    ///
    /// `AddrInUse` if a server is listening at the address; `AlreadyExists` if the path is something other than a socket; any error of `socket`, `bind`, `chmod` or `listen`.
    pub fn listen_seqpacket(
        &mut self,
        addr: impl Into<UnixAddr>,
        opts: &UnixListenOptions,
    ) -> io::Result<ListenerId> {
        self.core
            .add_listener(Listener::seqpacket(&addr.into(), opts)?)
    }

    /// Connect a record (seqpacket) connection to `addr` (see
    /// [`listen_seqpacket`](Context::listen_seqpacket)).
    ///
    /// # Errors
    ///
    /// Any error of `socket` or `connect`: `ConnectionRefused` when nothing listens there, `WouldBlock` when the listener's backlog is full (the socket is then *not* connected; try again later).
    pub fn connect_seqpacket(&mut self, addr: impl Into<UnixAddr>) -> io::Result<ConnId> {
        self.core
            .add_conn(Stream::connect_seqpacket(&addr.into())?, Opened::Connecting)
    }

    /// Start a TCP connect to `addr` from the local address `local` (port 0: any), as
    /// [`connect`](Context::connect) does otherwise.
    ///
    /// # Errors
    ///
    /// Any error of `socket`, `bind` (`AddrInUse`, `AddrNotAvailable`) or `connect` other than "in progress".
    pub fn connect_from(&mut self, local: SocketAddr, addr: SocketAddr) -> io::Result<ConnId> {
        self.core
            .add_conn(Stream::connect_from(local, addr)?, Opened::Connecting)
    }

    /// Start a connect to the Unix stream socket at `addr`, a file or an abstract name (see
    /// [`connect`](Context::connect)).
    ///
    /// # Errors
    ///
    /// If the socket cannot be made or registered, or nothing listens at `path` (Unix
    /// connects usually complete or fail at once).
    pub fn connect_unix(&mut self, addr: impl Into<UnixAddr>) -> io::Result<ConnId> {
        self.core
            .add_conn(Stream::connect_unix(&addr.into())?, Opened::Connecting)
    }

    /// Serve a connected Unix stream socket made elsewhere, such as one end of
    /// [`socket::unix_pair`](crate::socket::unix_pair) (it is made non-blocking).
    /// [`Handler::on_connect`](super::Handler::on_connect) comes first, as for
    /// [`connect_unix`](Context::connect_unix).
    ///
    /// # Errors
    ///
    /// If it cannot be made non-blocking or registered.
    pub fn add_unix_stream(
        &mut self,
        socket: std::os::unix::net::UnixStream,
    ) -> io::Result<ConnId> {
        self.core
            .add_conn(Stream::from_std_unix(socket)?, Opened::Connecting)
    }

    /// Serve a connected Unix seqpacket socket made elsewhere (one end of
    /// [`socket::unix_pair`](crate::socket::unix_pair)`(UnixKind::Seqpacket)`): records, as for
    /// [`listen_seqpacket`](Context::listen_seqpacket).
    ///
    /// # Errors
    ///
    /// If it cannot be made non-blocking or registered.
    pub fn add_seqpacket(&mut self, socket: socket2::Socket) -> io::Result<ConnId> {
        self.core
            .add_conn(Stream::from_seqpacket(socket)?, Opened::Connecting)
    }

    /// Serve a Unix datagram socket made elsewhere, bound or not (one end of
    /// [`socket::unix_pair`](crate::socket::unix_pair)`(UnixKind::Datagram)` is unnamed: its
    /// datagrams come from an unnamed peer; [`send_to`](Context::send_to) that unnamed
    /// peer sends to the socket's connected peer). A socket file it is bound to is not
    /// removed when it goes.
    ///
    /// # Errors
    ///
    /// If it cannot be made non-blocking or registered.
    pub fn add_unix_dgram(
        &mut self,
        socket: std::os::unix::net::UnixDatagram,
    ) -> io::Result<DgramId> {
        self.core.add_dgram(Dgram::from_std_unix(socket)?)
    }

    /// The credentials of the process at the other end of a Unix connection
    /// (`SO_PEERCRED`: pid, uid, gid as they were when it connected), for example to decide
    /// in [`Handler::on_accept`](super::Handler::on_accept) whom to serve.
    ///
    /// # Errors
    ///
    /// `NotConnected` if `conn` is stale; the `getsockopt` error for a socket that is not a
    /// Unix socket (TCP) or a simulated one.
    pub fn peer_credentials(&self, conn: ConnId) -> io::Result<crate::sys::PeerCredentials> {
        let sock = self.core.sources().sock_ref(conn.0)?;
        crate::sys::peer_credentials(&*sock)
    }

    /// The peer address of a connection.
    ///
    /// # Errors
    ///
    /// `NotConnected` if `conn` is stale or not connected yet.
    pub fn peer_addr(&self, conn: ConnId) -> io::Result<PeerAddr> {
        self.core.sources().peer_addr(conn.0)
    }

    /// `conn`'s socket, to read or set options that netloop does not set itself
    /// (`SO_KEEPALIVE`, buffer sizes, `TCP_NODELAY`, ...) through socket2's
    /// [`SockRef`](socket2::SockRef), which also gives its descriptor (`AsFd`, `AsRawFd`).
    /// Do not read, write or close it behind the reactor's back.
    ///
    /// # Errors
    ///
    /// `NotConnected` if `conn` is stale; `Unsupported` for a simulated connection.
    ///
    /// # Examples
    ///
    /// ```
    /// use netloop::reactor::{ConnId, Context, Handler, ListenerId, PeerAddr};
    ///
    /// struct KeepAlive;
    /// impl Handler for KeepAlive {
    ///     fn on_accept(&mut self, cx: &mut Context<'_>, _: ListenerId, conn: ConnId, _: &PeerAddr) {
    ///         if let Ok(sock) = cx.socket(conn) {
    ///             let _ = sock.set_keepalive(true);
    ///         }
    ///     }
    /// }
    /// ```
    pub fn socket(&self, conn: ConnId) -> io::Result<socket2::SockRef<'_>> {
        self.core.sources().sock_ref(conn.0)
    }

    /// A listener's socket, for options (see [`socket`](Context::socket)).
    ///
    /// # Errors
    ///
    /// `NotConnected` if `listener` is stale; `Unsupported` for a simulated one.
    pub fn listener_socket(&self, listener: ListenerId) -> io::Result<socket2::SockRef<'_>> {
        self.core.sources().sock_ref(listener.0)
    }

    /// A datagram socket's socket, for options (see [`socket`](Context::socket)).
    ///
    /// # Errors
    ///
    /// `NotConnected` if `socket` is stale.
    pub fn dgram_socket(&self, socket: DgramId) -> io::Result<socket2::SockRef<'_>> {
        self.core.sources().sock_ref(socket.0)
    }
}
