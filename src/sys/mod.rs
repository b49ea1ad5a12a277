//! Platform code: making sockets and catching signals.
//!
//! This module provides:
//!
//! * [`ListenOptions`] and [`tcp_listener`]: a non-blocking TCP listener made with socket2,
//!   with `SO_REUSEADDR`, an optional `SO_REUSEPORT`, an explicit `IPV6_V6ONLY` choice and a
//!   configurable backlog;
//! * [`udp_socket`]: a non-blocking UDP socket, likewise;
//! * Unix sockets (`sys/unix.rs`): [`unix_listener`], [`unix_datagram`],
//!   [`unix_seqpacket_listener`] bound to a file (its mode set, a stale file replaced) or an
//!   abstract name; [`unix_connect`], [`unix_seqpacket_connect`]; [`unix_pair`]
//!   (`socketpair(2)`); [`send_with_fds`] and [`recv_with_fds`] (`SCM_RIGHTS`, parsed by
//!   [`take_rights`]; the simulation plays the kernel's side, `sys/rights.rs`);
//!   [`peer_credentials`] (`SO_PEERCRED`); [`next_record_len`], the size of the next record
//!   or datagram, peeked (`recv(MSG_PEEK | MSG_TRUNC)`);
//! * [`Signals`]: a `signalfd(2)` so that SIGINT and SIGTERM arrive through the reactor's own
//!   poll as readable events, not through a flag set by an asynchronous handler, and
//!   [`Signals::wait`] for a main thread that only waits for them (`poll(2)`);
//! * [`raise_fd_limit`]: `setrlimit(RLIMIT_NOFILE)` up to the hard limit; [`Reserve`]: one
//!   descriptor held back for `EMFILE`;
//! * the process's groups (`sys/process.rs`): [`process_groups`];
//! * [`direct::recv`] and [`direct::send`]: a connection's reads and writes without the C
//!   library's cancellation-point bookkeeping (`sys/direct.rs`);
//! * [`PreciseTimer`]: a `timerfd(2)` that wakes the poll between whole milliseconds
//!   (`sys/timer.rs`);
//! * [`epoll_add_exclusive`]: one socket shared by several reactors, an event waking one;
//! * [`wait_fd`] and [`wait_any_writable`]: the blocking facade's waits, with `poll(2)`
//!   (`sys/wait.rs`);
//! * [`service_port`]: the services database (`/etc/services`); [`resolve`]: the C library's
//!   name services (`getaddrinfo`, `gethostbyname_r`, ...), the only FFI of its own;
//! * [`is_resource_exhausted`], [`is_connection_error`], [`EMFILE`], [`ECONNABORTED`]: what
//!   `accept(2)` errors mean.
//!
//! Everything above this module is platform-neutral Rust on top of mio. This is the only module
//! allowed `unsafe`, and needs it only for the `epoll_ctl` calls that ask for `EPOLLEXCLUSIVE`
//! and remove them ([`epoll_add_exclusive`], [`epoll_del`]), which neither mio nor nix's
//! current API offers (`sys/epoll.rs`), to take ownership of descriptors received with
//! `SCM_RIGHTS` (`sys/rights.rs`), to make a connection's reads and writes as plain system calls
//! (`sys/direct.rs`), and to call the C library's name services, which no safe
//! wrapper offers (`sys/resolve.rs`). socket2 and nix wrap the other syscalls safely.

mod activation;
pub mod direct;
mod epoll;
mod mmsg;
pub mod offload;
mod process;
pub mod resolve;
mod rights;
mod timer;
mod unix;
mod wait;

pub use activation::listen_fds;
pub use epoll::{epoll_add_exclusive, epoll_del};
pub use mmsg::{RecvBatch, SendBatch};
pub use process::process_groups;
pub use rights::{dup_rights, fds_buffer, put_rights, take_rights, MAX_FDS};
pub use timer::PreciseTimer;
pub use unix::{
    next_record_len, peer_credentials, recv_with_fds, send_with_fds, unix_connect, unix_datagram,
    unix_listener, unix_pair, unix_seqpacket_connect, unix_seqpacket_listener, PeerCredentials,
    UnixKind, UnixListenOptions,
};
pub use wait::{wait_any_writable, wait_fd};

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use socket2::{Domain, Protocol, Socket, Type};

/// How to make a listening socket (and, its backlog aside, a UDP socket).
///
/// Built from [`ListenOptions::default`] with the methods named like the fields (the struct
/// may grow, so it cannot be written as a literal outside netloop).
///
/// # Examples
///
/// ```
/// use netloop::reactor::ListenOptions;
///
/// let opts = ListenOptions::default().backlog(4096).only_v6(false);
/// assert_eq!((opts.backlog, opts.only_v6, opts.reuse_port), (4096, false, false));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListenOptions {
    /// The `listen(2)` backlog: connections the kernel queues before they are accepted.
    /// The kernel caps it at `net.core.somaxconn`.
    pub backlog: i32,
    /// For an IPv6 address: IPv6 only (`true`), or IPv4 too (`false`, dual stack: an IPv4
    /// peer appears to the socket as an IPv4-mapped address, `::ffff:a.b.c.d`, which the
    /// reactor shows as the IPv4 address it stands for). Dual stack on `[::]` lets one
    /// socket serve both families, but then `0.0.0.0` on the same port cannot be bound
    /// beside it. The system default (`net.ipv6.bindv6only`) varies, so netloop always sets
    /// it. Default `true`.
    pub only_v6: bool,
    /// Set `SO_REUSEPORT`, so that several listeners share one address and
    /// the kernel spreads connections across them.
    pub reuse_port: bool,
}

impl Default for ListenOptions {
    fn default() -> ListenOptions {
        ListenOptions {
            backlog: 1024,
            only_v6: true,
            reuse_port: false,
        }
    }
}

impl ListenOptions {
    /// With a `listen(2)` backlog of `n`.
    #[must_use]
    pub const fn backlog(self, n: i32) -> ListenOptions {
        ListenOptions { backlog: n, ..self }
    }

    /// IPv6 only (`true`), or IPv4 too on an IPv6 address (`false`).
    #[must_use]
    pub const fn only_v6(self, yes: bool) -> ListenOptions {
        ListenOptions {
            only_v6: yes,
            ..self
        }
    }

    /// With `SO_REUSEPORT` set (`true`) or not.
    #[must_use]
    pub const fn reuse_port(self, yes: bool) -> ListenOptions {
        ListenOptions {
            reuse_port: yes,
            ..self
        }
    }
}

/// A non-blocking TCP listener on `addr`. `SO_REUSEADDR` is always set, so a restarted server
/// can bind while old connections sit in TIME_WAIT.
///
/// # Errors
///
/// Any error of `socket`, `setsockopt`, `bind` or `listen`, for example `AddrInUse` or
/// `PermissionDenied` (a port below 1024 without privilege).
pub fn tcp_listener(addr: SocketAddr, opts: &ListenOptions) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::STREAM.nonblocking(),
        Some(Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    if opts.reuse_port {
        socket.set_reuse_port(true)?;
    }
    if addr.is_ipv6() {
        socket.set_only_v6(opts.only_v6)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(opts.backlog)?;
    Ok(socket.into())
}

/// A non-blocking TCP socket bound to `local` and connecting to `addr` (the connect goes on
/// in the background). Binding first chooses the source address: a load generator spreads
/// very many connections over several addresses of 127.0.0.0/8, each with its own ephemeral
/// ports.
///
/// # Errors
///
/// Any error of `socket`, `bind` (`AddrInUse`, `AddrNotAvailable`) or `connect` other than
/// "in progress".
pub fn tcp_connect_from(local: SocketAddr, addr: SocketAddr) -> io::Result<std::net::TcpStream> {
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::STREAM.nonblocking(),
        Some(Protocol::TCP),
    )?;
    // With port 0 the kernel picks a free port of `local` here: each source address has its
    // own range of ephemeral ports.
    socket.bind(&local.into())?;
    match socket.connect(&addr.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    Ok(socket.into())
}

/// A non-blocking UDP socket bound to `addr`, with `opts.reuse_port` and, for IPv6,
/// `opts.only_v6` (the backlog does not apply).
///
/// # Errors
///
/// Any error of `socket`, `setsockopt` or `bind`.
pub fn udp_socket(addr: SocketAddr, opts: &ListenOptions) -> io::Result<std::net::UdpSocket> {
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::DGRAM.nonblocking(),
        Some(Protocol::UDP),
    )?;
    if opts.reuse_port {
        socket.set_reuse_port(true)?;
    }
    if addr.is_ipv6() {
        socket.set_only_v6(opts.only_v6)?;
    }
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// This thread's signal mask as it was, to put back with [`SignalMask::restore`]: for code
/// that blocks signals for a while (a [`Signals`] made for one run) in a thread that goes on
/// afterwards.
#[derive(Debug)]
pub struct SignalMask(SigSet);

impl SignalMask {
    /// The calling thread's current mask.
    ///
    /// # Errors
    ///
    /// If `pthread_sigmask` fails.
    pub fn current() -> io::Result<SignalMask> {
        Ok(SignalMask(SigSet::thread_get_mask()?))
    }

    /// Make it the calling thread's mask again. A signal that arrived while blocked and was
    /// not read is delivered now.
    ///
    /// # Errors
    ///
    /// If `pthread_sigmask` fails.
    pub fn restore(self) -> io::Result<()> {
        Ok(self.0.thread_set_mask()?)
    }
}

/// Signals delivered through a file descriptor (`signalfd(2)`).
///
/// Creating it blocks the signals in the calling thread, so that they stay pending until read
/// from the descriptor instead of running the default action (termination). Threads inherit
/// the signal mask of the thread that creates them, so create `Signals` on the main thread
/// **before** spawning any other thread; otherwise a thread that did not block them may
/// receive (and die of) the signal.
#[derive(Debug)]
pub struct Signals {
    fd: SignalFd,
}

impl Signals {
    /// Block `signals` in this thread and open a non-blocking descriptor that reports them.
    ///
    /// # Errors
    ///
    /// If the mask cannot be changed or `signalfd` fails.
    pub fn new(signals: &[Signal]) -> io::Result<Signals> {
        let mut mask = SigSet::empty();
        for &s in signals {
            mask.add(s);
        }
        mask.thread_block().map_err(io::Error::from)?;
        let fd = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .map_err(io::Error::from)?;
        Ok(Signals { fd })
    }

    /// SIGINT (Ctrl-C) and SIGTERM, the signals that ask a server to stop.
    ///
    /// # Errors
    ///
    /// As for [`Signals::new`].
    pub fn termination() -> io::Result<Signals> {
        Signals::new(&[Signal::SIGINT, Signal::SIGTERM])
    }

    /// Wait up to `timeout` (`None`: forever) for a signal and return its number; `None` if
    /// the time passed first. `EINTR` is retried (with the whole timeout again: a wait cut
    /// short by a signal ends by finding it).
    ///
    /// # Errors
    ///
    /// If `poll(2)` or reading the descriptor fails.
    pub fn wait(&mut self, timeout: Option<std::time::Duration>) -> io::Result<Option<i32>> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        use std::os::fd::AsFd;
        let ms = match timeout {
            None => PollTimeout::NONE,
            Some(t) => PollTimeout::try_from(t).unwrap_or(PollTimeout::MAX),
        };
        loop {
            if let Some(signo) = self.read()? {
                return Ok(Some(signo));
            }
            let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, ms) {
                Ok(0) => return Ok(None),
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The next pending signal's number, or `None` if none is pending.
    ///
    /// # Errors
    ///
    /// If reading the descriptor fails for a reason other than "nothing pending".
    pub fn read(&mut self) -> io::Result<Option<i32>> {
        match self.fd.read_signal() {
            Ok(Some(info)) => Ok(Some(info.ssi_signo as i32)),
            Ok(None) => Ok(None),
            Err(nix::errno::Errno::EINTR) => Ok(None),
            Err(e) => Err(io::Error::from(e)),
        }
    }
}

impl AsRawFd for Signals {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Raise the soft limit on open descriptors to the hard one, as Go's runtime and many servers
/// do: each connection is a descriptor, and the usual soft limit of 1024 is far below what a
/// reactor can serve. Returns the soft limit before and after.
///
/// # Errors
///
/// If the limit cannot be read or raised.
pub fn raise_fd_limit() -> io::Result<(u64, u64)> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    }
    Ok((soft, hard.max(soft)))
}

/// The port of a service named in the services database (`/etc/services`), as
/// `getservbyname(name, proto)` finds it: `service_port("echo", "tcp") == Some(7)`. Aliases
/// count (`www` is `http`). `None` if the database is missing or has no such entry.
pub fn service_port(name: &str, proto: &str) -> Option<u16> {
    let db = std::fs::read_to_string("/etc/services").ok()?;
    find_service(&db, name, proto)
}

/// Look `name`/`proto` up in the text of a services database.
fn find_service(db: &str, name: &str, proto: &str) -> Option<u16> {
    db.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        let official = words.next()?;
        let (port, p) = words.next()?.split_once('/')?;
        let named = official == name || words.any(|alias| alias == name);
        (named && p == proto).then(|| port.parse().ok()).flatten()
    })
}

/// `EMFILE`: the process is out of descriptors (the simulation injects it into `accept`).
pub const EMFILE: i32 = libc::EMFILE;

/// `ENFILE`: the system is out of descriptors (the simulation injects it into `accept`).
pub const ENFILE: i32 = libc::ENFILE;

/// `ENOBUFS`: the kernel is out of socket memory (the simulation injects it into `accept`).
pub const ENOBUFS: i32 = libc::ENOBUFS;

/// `EINTR`: a call cut short by a signal (the simulation injects it everywhere).
pub const EINTR: i32 = libc::EINTR;

/// `ECONNABORTED`: a connection was reset before it was accepted.
pub const ECONNABORTED: i32 = libc::ECONNABORTED;

/// `ENOTCONN`: a send without an address on a socket that is not connected.
pub const ENOTCONN: i32 = libc::ENOTCONN;

/// `EINPROGRESS`: a non-blocking connect goes on in the background.
pub const EINPROGRESS: i32 = libc::EINPROGRESS;

/// `EAGAIN`: what Python's `connect_ex` returns for a connect that timed out.
pub const EAGAIN: i32 = libc::EAGAIN;

/// `SOCK_RDM`: the reliably-delivered-message type (TIPC only).
pub const SOCK_RDM: i32 = libc::SOCK_RDM;

/// `MSG_NOSIGNAL`: a send to a closed peer fails with `EPIPE` instead of raising SIGPIPE.
pub const MSG_NOSIGNAL: i32 = libc::MSG_NOSIGNAL;

/// Does this `socket(2)` error mean "this family does not offer this type or protocol"?
pub fn is_unsupported_combination(errno: i32) -> bool {
    matches!(
        errno,
        libc::ESOCKTNOSUPPORT | libc::EPROTONOSUPPORT | libc::EPROTOTYPE | libc::EAFNOSUPPORT
    )
}

/// `recv(2)` into an initialised buffer (socket2 takes uninitialised ones).
///
/// # Errors
///
/// Any error of `recv(2)`.
pub fn recv_init(sock: &socket2::Socket, buf: &mut [u8]) -> io::Result<usize> {
    sock.recv(as_uninit(buf))
}

/// `recvfrom(2)` into an initialised buffer.
///
/// # Errors
///
/// Any error of `recvfrom(2)`.
pub fn recv_from_init(
    sock: &socket2::Socket,
    buf: &mut [u8],
) -> io::Result<(usize, socket2::SockAddr)> {
    sock.recv_from(as_uninit(buf))
}

fn as_uninit(buf: &mut [u8]) -> &mut [std::mem::MaybeUninit<u8>] {
    // SAFETY: MaybeUninit<u8> has u8's layout, and an initialised byte is a valid
    // MaybeUninit<u8>; socket2 only writes bytes into the slice, never uninitialised ones,
    // so the caller's view as initialised bytes stays true.
    unsafe { &mut *(buf as *mut [u8] as *mut [std::mem::MaybeUninit<u8>]) }
}

/// One descriptor held in reserve for the moment the process runs out (libuv's trick): on
/// `EMFILE` during `accept`, [`release`](Reserve::release) it, accept the connections waiting
/// and close them at once (so their clients are told now, instead of waiting in the backlog
/// until they time out), then [`refill`](Reserve::refill) it.
#[derive(Debug)]
pub struct Reserve {
    file: Option<std::fs::File>,
}

impl Reserve {
    /// Hold one descriptor (`/dev/null`, close-on-exec).
    ///
    /// # Errors
    ///
    /// If `/dev/null` cannot be opened (out of descriptors already, say).
    pub fn new() -> io::Result<Reserve> {
        Ok(Reserve {
            file: Some(std::fs::File::open("/dev/null")?),
        })
    }

    /// Give the descriptor back to the process; `false` if it was not held.
    pub fn release(&mut self) -> bool {
        self.file.take().is_some()
    }

    /// Take a descriptor again, if one is free; `false` if not (try again later).
    pub fn refill(&mut self) -> bool {
        if self.file.is_none() {
            self.file = std::fs::File::open("/dev/null").ok();
        }
        self.file.is_some()
    }
}

/// Is this `accept(2)` error a lack of descriptors (`EMFILE`, `ENFILE`), which the
/// [`Reserve`] can answer?
pub fn is_out_of_descriptors(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

/// Is this `accept(2)` error about running out of descriptors or memory, where retrying at
/// once would fail again (and spin the loop)?
pub fn is_resource_exhausted(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// Is this `accept(2)` error about the one connection being accepted (it was aborted, or a
/// network error is pending on it), so that the listener can go on accepting?
pub fn is_connection_error(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(
            libc::ECONNABORTED
                | libc::EPROTO
                | libc::EPERM
                | libc::ENETDOWN
                | libc::ENOPROTOOPT
                | libc::EHOSTDOWN
                | libc::ENONET
                | libc::EHOSTUNREACH
                | libc::EOPNOTSUPP
                | libc::ENETUNREACH
        )
    )
}

/// The index of the network interface `name` (`if_nametoindex(3)`), for IPv6 scope ids.
///
/// # Errors
///
/// `NotFound`-like errors of the call when there is no such interface.
pub fn interface_index(name: &str) -> io::Result<u32> {
    Ok(nix::net::if_::if_nametoindex(name)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listener_ipv6_only_choice_is_applied() {
        let l = tcp_listener("[::1]:0".parse().unwrap(), &ListenOptions::default());
        // A machine without IPv6 on loopback cannot run this check.
        let Ok(l) = l else { return };
        let s = Socket::from(l);
        assert!(s.only_v6().unwrap());
        assert!(s.reuse_address().unwrap());
    }

    #[test]
    fn reuse_port_lets_two_listeners_share_an_address() {
        let opts = ListenOptions {
            reuse_port: true,
            ..ListenOptions::default()
        };
        let a = tcp_listener("127.0.0.1:0".parse().unwrap(), &opts).unwrap();
        let addr = a.local_addr().unwrap();
        let b = tcp_listener(addr, &opts).unwrap();
        assert_eq!(b.local_addr().unwrap(), addr);
        // Without it, the second bind fails.
        let err = tcp_listener(addr, &ListenOptions::default()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    }

    #[test]
    fn services_database_lookup() {
        let db = "# comment\necho\t\t7/tcp\necho 7/udp\nhttp\t80/tcp\t\twww # WWW\nbad line\n";
        assert_eq!(find_service(db, "echo", "tcp"), Some(7));
        assert_eq!(find_service(db, "echo", "udp"), Some(7));
        assert_eq!(find_service(db, "www", "tcp"), Some(80));
        assert_eq!(find_service(db, "http", "udp"), None);
        assert_eq!(find_service(db, "WWW", "tcp"), None);
        assert_eq!(find_service(db, "line", "tcp"), None);
    }

    #[test]
    fn error_classes() {
        assert!(is_resource_exhausted(&io::Error::from_raw_os_error(
            libc::EMFILE
        )));
        assert!(!is_resource_exhausted(&io::Error::from_raw_os_error(
            libc::ECONNABORTED
        )));
        assert!(is_connection_error(&io::Error::from_raw_os_error(
            libc::ECONNABORTED
        )));
    }
}
