//! Unix-domain sockets: binding to a file or an abstract name, connecting, socket pairs,
//! passing descriptors (`SCM_RIGHTS`) and reading the peer's credentials (`SO_PEERCRED`).
//!
//! A socket *file* is claimed carefully (a stale file left by a dead server is replaced, a
//! live one never), given its mode, and removed again if the bind fails half-way. An
//! *abstract* name (Linux) is not a file: it lives in the network namespace, disappears with
//! its last socket, and has no permissions, so none of that applies to it.

use std::io::{self, IoSlice};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;

use nix::sys::socket::{getsockopt, recv, sendmsg, sockopt, ControlMessage, MsgFlags};
use socket2::{Domain, Socket, Type};

use socket2::SockAddr;

/// How to make a Unix listening socket.
///
/// Built from [`UnixListenOptions::default`] with the methods named like the fields (the
/// struct may grow, so it cannot be written as a literal outside netloop).
///
/// # Examples
///
/// ```
/// use netloop::reactor::UnixListenOptions;
///
/// let opts = UnixListenOptions::default().mode(Some(0o660)).remove_stale(false);
/// assert_eq!((opts.backlog, opts.mode, opts.remove_stale), (1024, Some(0o660), false));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnixListenOptions {
    /// The `listen(2)` backlog.
    pub backlog: i32,
    /// Permissions of the socket file (connecting needs write permission), e.g. `0o660`;
    /// `None` leaves what the umask gives. (An abstract name has no permissions.)
    pub mode: Option<u32>,
    /// If a socket file is already at the path but nothing listens on it (a server that
    /// died without cleaning up), remove it and bind. A socket file with a live listener is
    /// never removed: binding fails with `AddrInUse`.
    pub remove_stale: bool,
}

impl Default for UnixListenOptions {
    fn default() -> UnixListenOptions {
        UnixListenOptions {
            backlog: 1024,
            mode: None,
            remove_stale: true,
        }
    }
}

impl UnixListenOptions {
    /// With a `listen(2)` backlog of `n`.
    #[must_use]
    pub const fn backlog(self, n: i32) -> UnixListenOptions {
        UnixListenOptions { backlog: n, ..self }
    }

    /// With the socket file's permissions set to `mode` (`None`: what the umask gives).
    #[must_use]
    pub const fn mode(self, mode: Option<u32>) -> UnixListenOptions {
        UnixListenOptions { mode, ..self }
    }

    /// Whether a stale socket file (nothing listening) at the path is replaced.
    #[must_use]
    pub const fn remove_stale(self, yes: bool) -> UnixListenOptions {
        UnixListenOptions {
            remove_stale: yes,
            ..self
        }
    }
}

/// The kind of a Unix socket, for [`unix_pair`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnixKind {
    /// `SOCK_STREAM`: a byte stream.
    Stream,
    /// `SOCK_DGRAM`: datagrams, reliable and ordered on Unix sockets.
    Datagram,
    /// `SOCK_SEQPACKET`: a connection of records, each read whole.
    Seqpacket,
}

impl UnixKind {
    fn ty(self) -> Type {
        match self {
            UnixKind::Stream => Type::STREAM,
            UnixKind::Datagram => Type::DGRAM,
            UnixKind::Seqpacket => Type::SEQPACKET,
        }
    }
}

/// A non-blocking Unix stream listener bound to `addr`.
///
/// # Errors
///
/// `AddrInUse` if a server is listening at `addr`; `AlreadyExists` if the path is something
/// other than a socket; any error of `socket`, `bind`, `chmod` or `listen`.
pub fn unix_listener(
    addr: &SockAddr,
    opts: &UnixListenOptions,
) -> io::Result<std::os::unix::net::UnixListener> {
    bind(addr, Type::STREAM, opts, true).map(Into::into)
}

/// A non-blocking Unix datagram socket bound to `addr` (the backlog option does not apply).
///
/// # Errors
///
/// As for [`unix_listener`].
pub fn unix_datagram(
    addr: &SockAddr,
    opts: &UnixListenOptions,
) -> io::Result<std::os::unix::net::UnixDatagram> {
    bind(addr, Type::DGRAM, opts, false).map(Into::into)
}

/// A non-blocking Unix `SOCK_SEQPACKET` listener bound to `addr`: connections made of
/// records, each delivered whole.
///
/// # Errors
///
/// As for [`unix_listener`].
pub fn unix_seqpacket_listener(addr: &SockAddr, opts: &UnixListenOptions) -> io::Result<Socket> {
    bind(addr, Type::SEQPACKET, opts, true)
}

/// A non-blocking Unix stream socket connected to `addr`.
///
/// # Errors
///
/// Any error of `socket` or `connect`: `ConnectionRefused` when nothing listens there,
/// `WouldBlock` when the listener's backlog is full (the socket is then *not* connected; try
/// again later).
pub fn unix_connect(addr: &SockAddr) -> io::Result<std::os::unix::net::UnixStream> {
    connect(addr, Type::STREAM).map(Into::into)
}

/// A non-blocking Unix `SOCK_SEQPACKET` socket connected to `addr`. A Unix connect completes
/// at once or fails: nothing goes on in the background.
///
/// # Errors
///
/// Any error of `socket` or `connect`: `ConnectionRefused` when nothing listens there,
/// `WouldBlock` when the listener's backlog is full (the socket is then *not* connected; try
/// again later).
pub fn unix_seqpacket_connect(addr: &SockAddr) -> io::Result<Socket> {
    connect(addr, Type::SEQPACKET)
}

/// Two connected Unix sockets of `kind` (`socketpair(2)`), blocking, close-on-exec. Give
/// one to a reactor ([`Context::add_unix_stream`](crate::reactor::Context::add_unix_stream)
/// and its siblings) and the other to a thread or a child process.
///
/// # Errors
///
/// Any error of `socketpair(2)` (`EMFILE`, ...).
pub fn unix_pair(kind: UnixKind) -> io::Result<(Socket, Socket)> {
    Socket::pair(Domain::UNIX, kind.ty(), None)
}

fn connect(addr: &SockAddr, ty: Type) -> io::Result<Socket> {
    let socket = Socket::new(Domain::UNIX, ty.nonblocking(), None)?;
    socket.connect(addr)?;
    Ok(socket)
}

/// Make a socket of `ty` bound to `addr` (and listening, if `listen`).
fn bind(addr: &SockAddr, ty: Type, opts: &UnixListenOptions, listen: bool) -> io::Result<Socket> {
    let listen_now = |socket: &Socket| {
        if listen {
            socket.listen(opts.backlog)
        } else {
            Ok(())
        }
    };
    let socket = Socket::new(Domain::UNIX, ty.nonblocking(), None)?;
    // A path is claimed first (a stale socket file replaced) and its mode set after; an
    // abstract name is bound as it is.
    let Some(path) = addr.as_pathname() else {
        socket.bind(addr)?;
        listen_now(&socket)?;
        return Ok(socket);
    };
    claim_unix_path(path, opts, |p| probe(p, ty))?;
    socket.bind(addr)?;
    finish_bind(path, opts, || listen_now(&socket))?;
    Ok(socket)
}

/// After a successful bind: set the file's mode and run `rest` (listen); on any error,
/// remove the file just made, so that a failed start leaves nothing behind.
fn finish_bind(
    path: &Path,
    opts: &UnixListenOptions,
    rest: impl FnOnce() -> io::Result<()>,
) -> io::Result<()> {
    let result = (|| {
        if let Some(mode) = opts.mode {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        }
        rest()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(path);
    }
    result
}

/// Is something bound at `path`? A non-blocking connect (stream and seqpacket) or an
/// unbound datagram socket's connect: it never hangs on a live server with a full backlog
/// (that is `WouldBlock`, which counts as live).
fn probe(path: &Path, ty: Type) -> io::Result<()> {
    let socket = Socket::new(Domain::UNIX, ty.nonblocking(), None)?;
    match socket.connect(&socket2::SockAddr::unix(path)?) {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
        other => other,
    }
}

/// Make `path` free to bind: nothing there, or a stale socket file (removed if allowed).
/// `probe` connects to the path: success means a live socket is bound there.
fn claim_unix_path(
    path: &Path,
    opts: &UnixListenOptions,
    probe: impl Fn(&Path) -> io::Result<()>,
) -> io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a socket", path.display()),
            ));
        }
        match probe(path) {
            Ok(()) => {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("a server is already listening on {}", path.display()),
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused && opts.remove_stale => {
                log::info!("removing stale socket file {}", path.display());
                std::fs::remove_file(path)?;
            }
            Err(_) => {}
        }
    }
    Ok(())
}

/// Length of the next record of a seqpacket or datagram socket, without taking it
/// (`recv(MSG_PEEK | MSG_TRUNC)`; `EINTR` is retried). For a seqpacket socket 0 means end of
/// file or an empty record, which read the same.
///
/// # Errors
///
/// `WouldBlock` when no record is waiting; any other error of `recv(2)`.
pub fn next_record_len(sock: &impl AsRawFd) -> io::Result<usize> {
    loop {
        // MSG_TRUNC makes Linux return the record's real length, not the 0 bytes copied.
        match recv(
            sock.as_raw_fd(),
            &mut [],
            MsgFlags::MSG_PEEK | MsgFlags::MSG_TRUNC,
        ) {
            Ok(n) => return Ok(n),
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// Read from a Unix stream or seqpacket socket like `read(2)`, taking any descriptors that
/// came with the bytes (`SCM_RIGHTS`, received close-on-exec with `MSG_CMSG_CLOEXEC`) into
/// `fds`. `cmsg` is scratch space from [`fds_buffer`](super::fds_buffer).
///
/// # Errors
///
/// Any error of `recvmsg(2)` (`WouldBlock`, `Interrupted`, ...); `InvalidData` if the
/// control data was cut short (`MSG_CTRUNC`: the kernel closed descriptors that did not
/// fit), after keeping the ones that did.
pub fn recv_with_fds(
    sock: &impl AsRawFd,
    buf: &mut [u8],
    cmsg: &mut [u8],
    fds: &mut Vec<OwnedFd>,
) -> io::Result<usize> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is plain data; zeroed is a valid empty header, filled in below.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cmsg.as_mut_ptr().cast();
    msg.msg_controllen = cmsg.len() as _;
    // SAFETY: msg points to one iovec over `buf` and to the control buffer `cmsg`, both
    // valid and writable for their lengths during the call.
    let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    // Take every descriptor the kernel installed, even when the control data was cut short
    // (MSG_CTRUNC: it then writes the headers of what fitted and closes the rest itself).
    let control = (msg.msg_controllen as usize).min(cmsg.len());
    let truncated = msg.msg_flags & libc::MSG_CTRUNC != 0;
    super::rights::take_rights(&mut cmsg[..control], truncated, fds)?;
    Ok(n as usize)
}

/// Write `bufs` with the descriptors `fds` attached (`sendmsg(2)` with `SCM_RIGHTS`, and
/// `MSG_NOSIGNAL`, so a closed peer is an `EPIPE` error, not a signal). The peer receives
/// its own duplicates of the descriptors with the first byte written.
///
/// # Errors
///
/// Any error of `sendmsg(2)`; `InvalidInput` for more than [`MAX_FDS`](super::MAX_FDS) descriptors or no
/// bytes to carry them.
pub fn send_with_fds(
    sock: &impl AsRawFd,
    bufs: &[IoSlice<'_>],
    fds: &[RawFd],
) -> io::Result<usize> {
    super::rights::check_rights(bufs, fds)?;
    let cmsg = [ControlMessage::ScmRights(fds)];
    Ok(sendmsg::<()>(
        sock.as_raw_fd(),
        bufs,
        &cmsg,
        MsgFlags::MSG_NOSIGNAL,
        None,
    )?)
}

/// Who is at the other end of a Unix socket (`SO_PEERCRED`): the process id, user and group
/// of the process that connected (or, for a listener's connection, that listened), as they
/// were at `connect(2)` or `socketpair(2)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerCredentials {
    /// Process id.
    pub pid: i32,
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

/// The peer credentials of a connected Unix socket.
///
/// # Errors
///
/// Any error of `getsockopt(2)` (`ENOTCONN`, or an error for a socket that is not Unix).
pub fn peer_credentials(sock: &impl std::os::fd::AsFd) -> io::Result<PeerCredentials> {
    let c = getsockopt(sock, sockopt::PeerCredentials)?;
    Ok(PeerCredentials {
        pid: c.pid(),
        uid: c.uid(),
        gid: c.gid(),
    })
}
