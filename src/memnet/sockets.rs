//! The reactor's handles to the in-memory network's stream sockets: [`MemListener`] and
//! [`MemStream`], each a network handle and a number in the world, making its calls there as
//! a descriptor makes its syscalls in the kernel. Dropping a handle closes its socket.

use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::os::unix::net::SocketAddr as UnixSocketAddr;

use mio::Token;

use super::inbox::Kind;
use super::Net;
use crate::addr::PeerAddr;

/// A listener in a [`Net`], as the reactor holds it. Dropping it closes it.
#[derive(Debug)]
pub struct MemListener {
    pub(super) net: Net,
    pub(super) id: usize,
}

impl MemListener {
    /// Accept the next waiting connection.
    ///
    /// # Errors
    ///
    /// `WouldBlock` if none waits; injected `EMFILE` or `ECONNABORTED`.
    pub fn accept(&self) -> io::Result<(MemStream, PeerAddr)> {
        let end = self.net.world().accept(self.id)?;
        let stream = MemStream {
            net: self.net.clone(),
            end,
        };
        let peer = stream.peer_addr()?;
        Ok((stream, peer))
    }

    /// A handle to the same listener for the reactor whose network handle is `net` (another
    /// poll set of this network), as a server's reactors each hold a descriptor of one
    /// shared socket. The listener closes when the last handle goes.
    pub fn share(&self, net: &Net) -> MemListener {
        self.net.world().listeners.share(self.id, net.set);
        MemListener {
            net: net.clone(),
            id: self.id,
        }
    }

    /// The address it listens on.
    ///
    /// # Errors
    ///
    /// None in practice (a Unix listener's path is short and valid).
    pub fn local_addr(&self) -> io::Result<PeerAddr> {
        let w = self.net.world();
        let addr = w.listeners.addr(self.id);
        match w.listeners.kind(self.id) {
            Kind::Tcp => Ok(PeerAddr::Inet(addr)),
            _ => unix_path(format!("/sim/listener-{}", addr.port())),
        }
    }

    /// Register for readiness with `token` (a listener only reports readable).
    pub fn register(&self, token: Token) {
        self.net
            .world()
            .register_listener(self.id, self.net.set, Some(token));
    }

    /// Stop reporting readiness.
    pub fn deregister(&self) {
        self.net
            .world()
            .register_listener(self.id, self.net.set, None);
    }
}

impl Drop for MemListener {
    fn drop(&mut self) {
        self.net.world().close_listener(self.id, self.net.set);
    }
}

/// The server end of a connection in a [`Net`], as the reactor holds it. Dropping it closes
/// it: with unread input, as a reset (as Linux does); else with FIN.
#[derive(Debug)]
pub struct MemStream {
    pub(super) net: Net,
    pub(super) end: usize,
}

impl MemStream {
    /// Read into `buf`.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when nothing is waiting (or injected), `ConnectionReset` after a reset.
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.net
            .world()
            .read(self.end, buf, None)
            .map(|(n, _, _)| n)
    }

    /// Read into `buf` like `recvmsg(2)`, descriptors that come with the bytes going into
    /// the control buffer `ctl` laid out as Linux lays them out (for `sys::take_rights`):
    /// the bytes read, the control data's length, and whether it was cut short
    /// (`MSG_CTRUNC`).
    ///
    /// # Errors
    ///
    /// As [`MemStream::read`].
    pub fn recvmsg(&self, buf: &mut [u8], ctl: &mut [u8]) -> io::Result<(usize, usize, bool)> {
        self.net.world().read(self.end, buf, Some(ctl))
    }

    /// What kind of connection it is.
    pub fn kind(&self) -> Kind {
        self.net.world().ends[self.end].inbox.kind()
    }

    /// The length of the next record (a seqpacket connection), peeked: 0 at the end.
    ///
    /// # Errors
    ///
    /// `WouldBlock` if none waits; `ConnectionReset` after a reset.
    pub fn record_len(&self) -> io::Result<usize> {
        self.net.world().ends.record_len(self.end)
    }

    /// Write from `bufs`, as much as fits in the peer's receive queue.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when the queue is full (or injected), `BrokenPipe` after our FIN or the
    /// peer's reset.
    pub fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.net.world().write(self.end, bufs, Vec::new())
    }

    /// Write from `bufs` with the descriptors `fds` attached to the first byte
    /// (`sendmsg(2)` with `SCM_RIGHTS`): the network takes its own duplicates
    /// (`sys::dup_rights`), as the kernel takes references.
    ///
    /// # Errors
    ///
    /// Those of `sys::check_rights`; `Unsupported` on a TCP connection; as
    /// [`MemStream::write_vectored`].
    pub fn send_with_fds(&self, bufs: &[IoSlice<'_>], fds: &[RawFd]) -> io::Result<usize> {
        if !self.kind().is_unix() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "only Unix connections pass descriptors",
            ));
        }
        let fds = crate::sys::dup_rights(bufs, fds)?;
        self.net.world().write(self.end, bufs, fds)
    }

    /// Does a read that returns less than asked for prove the stream drained, as on TCP?
    /// (Not when the network injects short reads: its streams then behave as Unix streams.)
    pub fn short_read_drains(&self) -> bool {
        // Reads stop short only when drained (TCP), or anywhere (a Unix stream)?
        let w = self.net.world();
        w.faults.short_read == 0 && !w.ends[self.end].inbox.kind().is_unix()
    }

    /// The same stream, for the reactor whose network handle is `net` (another poll set of
    /// this network): a connection handed from one reactor of a server to another.
    pub fn moved_to(mut self, net: &Net) -> MemStream {
        // Not closed when this handle drops: the end lives on in the new one.
        let end = std::mem::replace(&mut self.end, MOVED);
        MemStream {
            net: net.clone(),
            end,
        }
    }

    /// Its own address: 127.0.0.1 (port 0), or for a Unix connection `/sim/server-N`.
    ///
    /// # Errors
    ///
    /// None in practice (the path is short and valid).
    pub fn local_addr(&self) -> io::Result<PeerAddr> {
        match self.kind() {
            Kind::Tcp => Ok(PeerAddr::Inet(SocketAddr::from(([127, 0, 0, 1], 0)))),
            _ => unix_path(format!("/sim/server-{}", self.end / 2)),
        }
    }

    /// Send FIN.
    pub fn shutdown_write(&self) -> io::Result<()> {
        self.net.world().shutdown(self.end)
    }

    /// The peer's address: 127.0.0.1 and a port made from the connection number, or for a
    /// Unix connection `/sim/client-N`.
    ///
    /// # Errors
    ///
    /// `NotConnected` while an outgoing connect is under way, or after it was refused.
    pub fn peer_addr(&self) -> io::Result<PeerAddr> {
        let w = self.net.world();
        if !w.ends.is_connected(self.end) {
            return Err(io::Error::from(io::ErrorKind::NotConnected));
        }
        let conn = self.end / 2;
        match w.ends[self.end].inbox.kind() {
            Kind::Tcp => Ok(PeerAddr::Inet(SocketAddr::from((
                [127, 0, 0, 1],
                20000 + conn as u16,
            )))),
            _ => unix_path(format!("/sim/client-{conn}")),
        }
    }

    /// The error an outgoing connect ended with, taken (as `SO_ERROR` is): `ConnectionRefused`
    /// once, after a refused connect.
    pub fn take_error(&self) -> Option<io::Error> {
        self.net.world().ends.take_error(self.end)
    }

    /// Register for readiness with `token`.
    pub fn register(&self, token: Token) {
        self.net
            .world()
            .register_end(self.end, self.net.set, Some(token));
    }

    /// Stop reporting readiness.
    pub fn deregister(&self) {
        self.net.world().register_end(self.end, self.net.set, None);
    }
}

/// A Unix address of the simulation.
fn unix_path(path: String) -> io::Result<PeerAddr> {
    UnixSocketAddr::from_pathname(path).map(PeerAddr::Unix)
}

/// The end of a [`MemStream`] whose end moved to another handle.
const MOVED: usize = usize::MAX;

impl Drop for MemStream {
    fn drop(&mut self) {
        if self.end != MOVED {
            self.net.world().close_end(self.end);
        }
    }
}
