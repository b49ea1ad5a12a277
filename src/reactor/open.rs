//! Adding sockets to the reactor: listeners, datagram sockets, signal descriptors, and
//! connections (accepted or connecting). Each is made by `sys`, wrapped in a `socket` enum,
//! registered once (edge-triggered, never re-registered) and stored in the slab.

use std::io;
use std::net::SocketAddr;

use log::debug;
use mio::net::{TcpListener, TcpStream, UdpSocket, UnixDatagram, UnixListener, UnixStream};
use mio::Interest;

use super::core::Core;
use super::ids::{ConnId, DgramId, ListenerId};
use super::registry::Key;
use super::registry::Source;
use super::socket::{Dgram, Listener, Stream, UnixFile};
use crate::addr::PeerAddr;
use crate::addr::UnixAddr;
use crate::conn::{Conn, Opened};
use crate::error::stale;
use crate::sys::{self, ListenOptions, Signals, UnixListenOptions};

impl Core {
    pub(crate) fn listen(
        &mut self,
        addr: SocketAddr,
        opts: &ListenOptions,
    ) -> io::Result<ListenerId> {
        let sock = TcpListener::from_std(sys::tcp_listener(addr, opts)?);
        self.add_listening(Listener::Tcp(sock))
    }

    pub(crate) fn add_listener(&mut self, sock: std::net::TcpListener) -> io::Result<ListenerId> {
        sock.set_nonblocking(true)?;
        self.add_listening(Listener::Tcp(TcpListener::from_std(sock)))
    }

    /// Serve a listening socket that other reactors serve too (each through its own clone of
    /// the socket), registered with `EPOLLEXCLUSIVE`.
    pub(crate) fn add_shared_listener(
        &mut self,
        sock: std::net::TcpListener,
    ) -> io::Result<ListenerId> {
        sock.set_nonblocking(true)?;
        let source = Source::Listener {
            sock: Listener::Tcp(TcpListener::from_std(sock)),
            paused: None,
        };
        self.sources
            .insert_shared(source, Interest::READABLE)
            .map(ListenerId)
    }

    /// Serve a UDP socket that other reactors serve too (a datagram wakes each; one reads it).
    pub(crate) fn add_shared_udp(&mut self, sock: std::net::UdpSocket) -> io::Result<DgramId> {
        sock.set_nonblocking(true)?;
        self.scratch.ensure_dgram_buf();
        let source = Source::Dgram {
            sock: Dgram::Inet(UdpSocket::from_std(sock)),
            queue: Default::default(),
            queued_bytes: 0,
        };
        // Not exclusive: a writable event must reach every reactor, since each has its own
        // queue of datagrams waiting for room (with EPOLLEXCLUSIVE it would wake one).
        self.sources
            .insert(source, Interest::READABLE | Interest::WRITABLE)
            .map(DgramId)
    }

    pub(crate) fn listen_unix(
        &mut self,
        addr: &UnixAddr,
        opts: &UnixListenOptions,
    ) -> io::Result<ListenerId> {
        let sock = UnixListener::from_std(sys::unix_listener(&addr.to_sockaddr()?, opts)?);
        // From here on the file is ours: removed when the listener goes, even on error.
        let _file = UnixFile::new(addr);
        self.add_listening(Listener::Unix { sock, _file })
    }

    pub(crate) fn listen_seqpacket(
        &mut self,
        addr: &UnixAddr,
        opts: &UnixListenOptions,
    ) -> io::Result<ListenerId> {
        let sock = sys::unix_seqpacket_listener(&addr.to_sockaddr()?, opts)?;
        let _file = UnixFile::new(addr);
        self.add_listening(Listener::Seqpacket { sock, _file })
    }

    pub(crate) fn add_listening(&mut self, sock: Listener) -> io::Result<ListenerId> {
        let source = Source::Listener { sock, paused: None };
        self.sources
            .insert(source, Interest::READABLE)
            .map(ListenerId)
    }

    pub(crate) fn bind_unix_dgram(
        &mut self,
        addr: &UnixAddr,
        opts: &UnixListenOptions,
    ) -> io::Result<DgramId> {
        let sock = UnixDatagram::from_std(sys::unix_datagram(&addr.to_sockaddr()?, opts)?);
        let _file = UnixFile::new(addr);
        self.add_dgram(Dgram::Unix { sock, _file })
    }

    pub(crate) fn bind_udp(
        &mut self,
        addr: SocketAddr,
        opts: &ListenOptions,
    ) -> io::Result<DgramId> {
        self.add_udp(sys::udp_socket(addr, opts)?)
    }

    pub(crate) fn add_udp(&mut self, sock: std::net::UdpSocket) -> io::Result<DgramId> {
        sock.set_nonblocking(true)?;
        self.add_dgram(Dgram::Inet(UdpSocket::from_std(sock)))
    }

    fn add_dgram(&mut self, sock: Dgram) -> io::Result<DgramId> {
        self.scratch.ensure_dgram_buf();
        let source = Source::Dgram {
            sock,
            queue: Default::default(),
            queued_bytes: 0,
        };
        self.sources
            .insert(source, Interest::READABLE | Interest::WRITABLE)
            .map(DgramId)
    }

    pub(crate) fn add_signals(&mut self, signals: Signals) -> io::Result<()> {
        self.sources
            .insert(Source::Signals(signals), Interest::READABLE)
            .map(|_| ())
    }

    /// Register a connected (or connecting) stream.
    pub(crate) fn add_conn(&mut self, sock: Stream, opened: Opened) -> io::Result<ConnId> {
        if self.config.nodelay {
            if let Err(e) = sock.set_nodelay() {
                // Not fatal: the connection works, only with Nagle's algorithm on.
                debug!("TCP_NODELAY failed: {e}");
            }
        }
        let conn = Conn::new(self.now, self.config.timeouts, opened, sock.is_records());
        // Edge-triggered, both directions, once: no re-registration syscalls later. TCP also
        // asks for urgent-data events: a read stops short at the urgent mark (see `stream`).
        let interest = match sock {
            Stream::Tcp(_) => Interest::READABLE | Interest::WRITABLE | Interest::PRIORITY,
            _ => Interest::READABLE | Interest::WRITABLE,
        };
        let key = self.sources.insert(Source::Conn { sock, conn }, interest)?;
        self.stats.active += 1;
        if opened == Opened::Connecting {
            self.stats.connected += 1;
            // Outgoing connections count against the limit; only incoming ones are refused.
            self.door.take_place();
        }
        self.rearm(key);
        Ok(ConnId(key))
    }

    pub(crate) fn connect(&mut self, addr: SocketAddr) -> io::Result<ConnId> {
        let sock = Stream::Tcp(TcpStream::connect(addr)?);
        self.add_conn(sock, Opened::Connecting)
    }

    pub(crate) fn connect_from(
        &mut self,
        local: SocketAddr,
        addr: SocketAddr,
    ) -> io::Result<ConnId> {
        let sock = Stream::Tcp(TcpStream::from_std(sys::tcp_connect_from(local, addr)?));
        self.add_conn(sock, Opened::Connecting)
    }

    pub(crate) fn connect_unix(&mut self, addr: &UnixAddr) -> io::Result<ConnId> {
        let sock = Stream::Unix(UnixStream::from_std(sys::unix_connect(
            &addr.to_sockaddr()?,
        )?));
        self.add_conn(sock, Opened::Connecting)
    }

    pub(crate) fn connect_seqpacket(&mut self, addr: &UnixAddr) -> io::Result<ConnId> {
        let sock = Stream::Seqpacket(sys::unix_seqpacket_connect(&addr.to_sockaddr()?)?);
        // Connected already (a Unix connect does not go on in the background); on_connect
        // still comes first, with the writable event.
        self.add_conn(sock, Opened::Connecting)
    }

    /// Adopt a connected Unix stream socket (one end of a `socketpair`, or one made
    /// elsewhere). `on_connect` comes first, with the writable event.
    pub(crate) fn add_unix_stream(
        &mut self,
        sock: std::os::unix::net::UnixStream,
    ) -> io::Result<ConnId> {
        sock.set_nonblocking(true)?;
        self.add_conn(Stream::Unix(UnixStream::from_std(sock)), Opened::Connecting)
    }

    /// Adopt a connected Unix seqpacket socket.
    pub(crate) fn add_seqpacket(&mut self, sock: socket2::Socket) -> io::Result<ConnId> {
        sock.set_nonblocking(true)?;
        self.add_conn(Stream::Seqpacket(sock), Opened::Connecting)
    }

    /// Adopt a Unix datagram socket (bound or not: one end of a `socketpair` is unnamed).
    /// If it is bound to a file, the file stays where it is when the socket goes.
    pub(crate) fn add_unix_dgram(
        &mut self,
        sock: std::os::unix::net::UnixDatagram,
    ) -> io::Result<DgramId> {
        sock.set_nonblocking(true)?;
        self.add_dgram(Dgram::Unix {
            sock: UnixDatagram::from_std(sock),
            _file: None,
        })
    }

    /// The local address of a listener, connection or datagram socket.
    pub(crate) fn local_peer_addr(&self, key: Key) -> io::Result<PeerAddr> {
        match self.sources.get(key) {
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

    /// The socket of a listener, connection or datagram socket, for options.
    pub(crate) fn sock_ref(&self, key: Key) -> io::Result<socket2::SockRef<'_>> {
        match self.sources.get(key) {
            Some(Source::Listener { sock, .. }) => sock.sock_ref(),
            Some(Source::Conn { sock, .. }) => sock.sock_ref(),
            Some(Source::Dgram { sock, .. }) => sock.sock_ref(),
            _ => Err(stale()),
        }
    }

    /// The ids of all open connections, in slab order.
    pub(crate) fn conn_ids(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.sources.iter().filter_map(|(key, s)| match s {
            Source::Conn { .. } => Some(ConnId(key)),
            _ => None,
        })
    }
}
