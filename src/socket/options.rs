//! Typed socket options: Python's `setsockopt(level, name, value)` and `getsockopt`, with
//! the level, the name and the value's type in one enum instead of three integers.

use std::io;
use std::time::Duration;

use super::blocking::Socket;

/// A socket option with its value, for [`Socket::setsockopt`] (and what
/// [`Socket::getsockopt`] returns).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SockOpt {
    /// `SOL_SOCKET, SO_REUSEADDR`.
    ReuseAddr(bool),
    /// `SOL_SOCKET, SO_REUSEPORT`.
    ReusePort(bool),
    /// `SOL_SOCKET, SO_KEEPALIVE`.
    KeepAlive(bool),
    /// `SOL_SOCKET, SO_BROADCAST`.
    Broadcast(bool),
    /// `SOL_SOCKET, SO_RCVBUF` (the kernel doubles what is set, and reports that).
    RecvBuffer(usize),
    /// `SOL_SOCKET, SO_SNDBUF` (likewise doubled).
    SendBuffer(usize),
    /// `SOL_SOCKET, SO_LINGER`: `None` off, `Some(t)` close waits up to `t` (zero: reset).
    Linger(Option<Duration>),
    /// `IPPROTO_TCP, TCP_NODELAY`.
    NoDelay(bool),
    /// `IPPROTO_IPV6, IPV6_V6ONLY`.
    OnlyV6(bool),
    /// `IPPROTO_IP, IP_TTL`.
    Ttl(u32),
    /// `SOL_SOCKET, SO_ERROR` (read only): the pending error's number, 0 if none.
    Error(i32),
}

/// The name of an option to read with [`Socket::getsockopt`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OptName {
    /// `SO_REUSEADDR`.
    ReuseAddr,
    /// `SO_REUSEPORT`.
    ReusePort,
    /// `SO_KEEPALIVE`.
    KeepAlive,
    /// `SO_BROADCAST`.
    Broadcast,
    /// `SO_RCVBUF`.
    RecvBuffer,
    /// `SO_SNDBUF`.
    SendBuffer,
    /// `SO_LINGER`.
    Linger,
    /// `TCP_NODELAY`.
    NoDelay,
    /// `IPV6_V6ONLY`.
    OnlyV6,
    /// `IP_TTL`.
    Ttl,
    /// `SO_ERROR` (reading it clears it).
    Error,
}

impl Socket {
    /// `setsockopt(...)`.
    ///
    /// # Errors
    ///
    /// Any error of `setsockopt(2)` (an option of another protocol: `ENOPROTOOPT`);
    /// `InvalidInput` for the read-only `Error`.
    pub fn setsockopt(&self, opt: SockOpt) -> io::Result<()> {
        let s = self.inner();
        match opt {
            SockOpt::ReuseAddr(v) => s.set_reuse_address(v),
            SockOpt::ReusePort(v) => s.set_reuse_port(v),
            SockOpt::KeepAlive(v) => s.set_keepalive(v),
            SockOpt::Broadcast(v) => s.set_broadcast(v),
            SockOpt::RecvBuffer(v) => s.set_recv_buffer_size(v),
            SockOpt::SendBuffer(v) => s.set_send_buffer_size(v),
            SockOpt::Linger(v) => s.set_linger(v),
            SockOpt::NoDelay(v) => s.set_tcp_nodelay(v),
            SockOpt::OnlyV6(v) => s.set_only_v6(v),
            SockOpt::Ttl(v) => s.set_ttl_v4(v),
            SockOpt::Error(_) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "SO_ERROR is read only",
            )),
        }
    }

    /// `getsockopt(...)`: the option's value, typed.
    ///
    /// # Errors
    ///
    /// Any error of `getsockopt(2)`.
    pub fn getsockopt(&self, name: OptName) -> io::Result<SockOpt> {
        let s = self.inner();
        Ok(match name {
            OptName::ReuseAddr => SockOpt::ReuseAddr(s.reuse_address()?),
            OptName::ReusePort => SockOpt::ReusePort(s.reuse_port()?),
            OptName::KeepAlive => SockOpt::KeepAlive(s.keepalive()?),
            OptName::Broadcast => SockOpt::Broadcast(s.broadcast()?),
            OptName::RecvBuffer => SockOpt::RecvBuffer(s.recv_buffer_size()?),
            OptName::SendBuffer => SockOpt::SendBuffer(s.send_buffer_size()?),
            OptName::Linger => SockOpt::Linger(s.linger()?),
            OptName::NoDelay => SockOpt::NoDelay(s.tcp_nodelay()?),
            OptName::OnlyV6 => SockOpt::OnlyV6(s.only_v6()?),
            OptName::Ttl => SockOpt::Ttl(s.ttl_v4()?),
            OptName::Error => {
                SockOpt::Error(s.take_error()?.and_then(|e| e.raw_os_error()).unwrap_or(0))
            }
        })
    }
}
