//! The course's servers, as one [`Handler`]: UDP upper-casing, TCP stream echo, and TCP framed
//! echo.
//!
//! `netloop serve` runs [`CourseServer`] on one reactor. It is also a small, complete example
//! of a handler serving several protocols side by side:
//!
//! * datagrams come in through [`Handler::on_datagram`] and go straight back out, upper-cased,
//!   with [`Context::send_to`];
//! * stream bytes come in through [`Handler::on_data`] and are queued back with
//!   [`Context::write`], which copies them into pooled blocks (no allocation per message);
//! * connections accepted on a *framed* listener go through a [`FrameDecoders`] table instead,
//!   which calls [`FrameEcho::on_frame`] once per whole frame; the frame goes back unchanged
//!   with [`send_frame`]. A malformed or oversize frame closes that connection only, with the
//!   error as its close reason.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use log::{debug, warn};

use netloop::error::CloseReason;
use netloop::framing::{Codec, ConfigError, DEFAULT_MAX_FRAME};
use netloop::reactor::framed::{send_frame, FrameDecoders, FrameHandler};
use netloop::reactor::UnixListenOptions;
use netloop::reactor::{
    Config, ConnId, ConnectionLimit, Context, DgramId, Handler, ListenerId, PeerAddr, Reactor,
};
use netloop::server;

/// Upper-case the ASCII letters of `data` into `out` (replacing its contents), as Python's
/// `bytes.upper()` does: other bytes, UTF-8 included, are copied unchanged.
pub fn uppercase_into(data: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend(data.iter().map(u8::to_ascii_uppercase));
}

/// An echo that could not be queued. A connection already closing no longer wants its input
/// echoed; any other failure (the queue's hard cap: a peer that sends and never reads) closes
/// the connection with the error as its reason, so no echo goes missing without a word.
#[cold]
fn echo_failed(cx: &mut Context<'_>, conn: ConnId, len: usize, e: std::io::Error) {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        debug!("{conn}: closing, so the echo of {len} bytes is not sent");
    } else {
        cx.abort_with(conn, CloseReason::Io(e));
    }
}

/// Sends every frame back unchanged, in order.
#[derive(Debug, Clone, Copy)]
pub struct FrameEcho {
    codec: Codec,
}

impl FrameEcho {
    /// Echo frames of `codec`.
    pub fn new(codec: Codec) -> FrameEcho {
        FrameEcho { codec }
    }
}

impl Handler for FrameEcho {}

impl FrameHandler for FrameEcho {
    fn on_frame(&mut self, cx: &mut Context<'_>, conn: ConnId, frame: &[u8]) {
        if let Err(e) = send_frame(cx, conn, &self.codec, frame) {
            echo_failed(cx, conn, frame.len(), e);
        }
    }
}

/// UDP: reply to each datagram with the same bytes upper-cased. TCP: echo every byte back,
/// or, on listeners registered with [`serve_framed`](CourseServer::serve_framed), every frame.
#[derive(Debug)]
pub struct CourseServer {
    scratch: Vec<u8>,
    framed_listeners: Vec<ListenerId>,
    framed: FrameDecoders,
}

impl CourseServer {
    /// A server handler whose framed echo uses netloop's wire format (4-byte big-endian
    /// length, 8 MiB maximum frame).
    pub fn new() -> CourseServer {
        CourseServer::with_codec(Codec::default()).expect("the default codec is valid")
    }

    /// A server handler whose framed echo uses `codec`.
    ///
    /// # Errors
    ///
    /// If the codec's configuration is invalid.
    pub fn with_codec(codec: Codec) -> Result<CourseServer, ConfigError> {
        Ok(CourseServer {
            // The largest UDP payload, allocated once here, never per datagram.
            scratch: Vec::with_capacity(65536),
            framed_listeners: Vec::new(),
            framed: FrameDecoders::new(codec)?,
        })
    }

    /// Echo frames, not bytes, on connections accepted by `listener`.
    pub fn serve_framed(&mut self, listener: ListenerId) {
        self.framed_listeners.push(listener);
    }
}

impl Default for CourseServer {
    fn default() -> Self {
        CourseServer::new()
    }
}

impl Handler for CourseServer {
    fn on_accept(&mut self, _cx: &mut Context<'_>, l: ListenerId, conn: ConnId, peer: &PeerAddr) {
        let framed = self.framed_listeners.contains(&l);
        if framed {
            self.framed.open(conn);
        }
        debug!(
            "{conn}: {} connection from {peer}",
            if framed { "framed" } else { "stream" }
        );
    }

    fn on_data(&mut self, cx: &mut Context<'_>, conn: ConnId, data: &[u8]) -> usize {
        if self.framed.contains(conn) {
            // Whole frames go back unchanged (one write from the input where the codec
            // allows it: see `FrameDecoders::echo`).
            let (used, len, sent) = self.framed.echo(cx, conn, data);
            if let Err(e) = sent {
                echo_failed(cx, conn, len, e);
            }
            return used;
        }
        if let Err(e) = cx.write(conn, data) {
            echo_failed(cx, conn, data.len(), e);
        }
        data.len()
    }

    fn on_read_closed(&mut self, cx: &mut Context<'_>, conn: ConnId) {
        if !self.framed.contains(conn) || self.framed.on_read_closed(cx, conn) {
            cx.close(conn);
        }
    }

    fn in_message(&mut self, _cx: &mut Context<'_>, conn: ConnId) -> bool {
        // A partial frame waits unconsumed, which the reactor sees; an oversize one being
        // skipped is consumed as it comes, which only the decoder knows. A stream echo answers
        // every byte as it comes: always at a boundary.
        self.framed.contains(conn) && self.framed.in_message(conn)
    }

    fn on_close(&mut self, _cx: &mut Context<'_>, conn: ConnId, _reason: &CloseReason) {
        // The reactor logs every close, with the peer's address and the reason.
        self.framed.close(conn);
    }

    fn on_datagram(&mut self, cx: &mut Context<'_>, socket: DgramId, data: &[u8], peer: &PeerAddr) {
        debug!("{socket}: {} bytes from {peer}", data.len());
        uppercase_into(data, &mut self.scratch);
        if let Err(e) = cx.send_to(socket, &self.scratch, peer) {
            warn!("{socket}: reply to {peer} not sent: {e}");
        }
    }
}

/// What `netloop serve` runs: the addresses of each service, and the limits.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct CourseConfig {
    /// UDP upper-casing service addresses. Default: 127.0.0.1:11111.
    pub udp: Vec<SocketAddr>,
    /// TCP stream echo addresses. Default: 127.0.0.1:9999.
    pub tcp: Vec<SocketAddr>,
    /// TCP framed echo addresses. Default: 127.0.0.1:9998.
    pub framed: Vec<SocketAddr>,
    /// Unix socket files for framed echo (served by the first reactor).
    pub unix: Vec<netloop::addr::UnixAddr>,
    /// Largest frame, header included. Default 8 MiB.
    pub max_frame: usize,
    /// Idle timeout of every connection. Default: none.
    pub timeout: Option<Duration>,
    /// Longest time from a frame's first byte to its last. Default: 30 s.
    pub frame_timeout: Option<Duration>,
    /// Reactors, one per thread. Default 1.
    pub threads: usize,
    /// Most connections open at once, in all reactors together. Default: no limit.
    pub max_conns: Option<usize>,
    /// Input memory budget per reactor (`Config::max_buffered`). Default 64 MiB.
    pub max_buffered: usize,
    /// An IPv6 wildcard address (`[::]:9999`) is one dual-stack socket serving IPv4 clients
    /// too, shown as their IPv4 addresses. Default `true`; `false` makes it IPv6-only, so
    /// that `0.0.0.0` on the same port can be bound beside it. Other IPv6 addresses are
    /// always IPv6-only.
    pub dual_stack: bool,
    /// Busy-poll ([`Config::busy_poll`]): each reactor thread spins instead of sleeping, for
    /// the lowest latency at the cost of a core per thread. Default false.
    pub busy_poll: bool,
    /// Serve the TCP echoes (stream and framed) over TLS with this config. Default: plain.
    pub tls: Option<std::sync::Arc<netloop::socket::tls::rustls::ServerConfig>>,
}

impl Default for CourseConfig {
    fn default() -> CourseConfig {
        CourseConfig {
            udp: vec![SocketAddr::from(([127, 0, 0, 1], 11111))],
            tcp: vec![SocketAddr::from(([127, 0, 0, 1], 9999))],
            framed: vec![SocketAddr::from(([127, 0, 0, 1], 9998))],
            unix: Vec::new(),
            max_frame: DEFAULT_MAX_FRAME,
            timeout: None,
            frame_timeout: Some(Duration::from_secs(30)),
            threads: 1,
            max_conns: None,
            max_buffered: 64 * 1024 * 1024,
            dual_stack: true,
            busy_poll: false,
            tls: None,
        }
    }
}

/// A socket a service manager handed `netloop serve` (socket activation), and the service
/// it is for.
#[derive(Debug)]
pub struct Handed {
    /// The service.
    pub service: Service,
    /// The listening (or, for UDP, bound) socket.
    pub socket: std::os::fd::OwnedFd,
}

/// The course's services, as socket activation names them (`FileDescriptorName=` in a
/// systemd `.socket` unit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// UDP upper-casing (`udp`).
    Udp,
    /// TCP stream echo (`tcp`).
    Tcp,
    /// TCP framed echo (`framed`).
    Framed,
    /// Framed echo on a Unix stream socket (`unix`).
    Unix,
}

/// Decide which service each handed socket is for: by its name (`udp`, `tcp`, `framed`,
/// `unix`), else by its address (one given to `--udp`, `--tcp` or `--framed` in `cfg`), else by
/// its kind where that leaves no doubt (a UDP socket is the UDP service, a Unix stream socket
/// the Unix framed echo). A TCP socket with neither name nor matching address is an error:
/// it could be either echo.
///
/// # Errors
///
/// A message naming the descriptor, its address and what to do, for a socket that cannot be
/// placed, or whose kind does not fit its name.
pub fn place_handed(
    fds: Vec<(Option<String>, std::os::fd::OwnedFd)>,
    cfg: &CourseConfig,
) -> Result<Vec<Handed>, String> {
    use socket2::{SockRef, Type};
    let mut handed = Vec::with_capacity(fds.len());
    for (i, (name, fd)) in fds.into_iter().enumerate() {
        let sock = SockRef::from(&fd);
        let what = format!("handed socket {} (descriptor {})", i + 1, i + 3);
        let ty = sock
            .r#type()
            .map_err(|e| format!("{what}: not a socket: {e}"))?;
        let local = sock.local_addr().map_err(|e| format!("{what}: {e}"))?;
        let inet = local.as_socket();
        let shown = inet.map_or_else(|| "a Unix socket".to_owned(), |a| a.to_string());
        let service = match name.as_deref() {
            Some("udp") => Service::Udp,
            Some("tcp") => Service::Tcp,
            Some("framed") => Service::Framed,
            Some("unix") => Service::Unix,
            Some(other) if !other.is_empty() && other != "unknown" => {
                return Err(format!(
                    "{what} ({shown}) is named '{other}': name it udp, tcp, framed or unix"
                ))
            }
            _ => match (ty, inet) {
                (Type::DGRAM, Some(_)) => Service::Udp,
                (Type::STREAM, None) => Service::Unix,
                (Type::STREAM, Some(a)) if cfg.tcp.contains(&a) => Service::Tcp,
                (Type::STREAM, Some(a)) if cfg.framed.contains(&a) => Service::Framed,
                _ => {
                    return Err(format!(
                        "{what} ({shown}) could be either echo: name it (FileDescriptorName=tcp or framed) or give its address to --tcp or --framed"
                    ))
                }
            },
        };
        let fits = match service {
            Service::Udp => ty == Type::DGRAM && inet.is_some(),
            Service::Tcp | Service::Framed => ty == Type::STREAM && inet.is_some(),
            Service::Unix => ty == Type::STREAM && inet.is_none(),
        };
        if !fits {
            return Err(format!(
                "{what} ({shown}) is not a socket the {service:?} service can serve"
            ));
        }
        handed.push(Handed {
            service,
            socket: fd,
        });
    }
    Ok(handed)
}

/// One service bound by [`course_reactors`]: what it is and where (the port resolved).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bound {
    /// "UDP upper-case", "TCP echo", "TCP framed echo" or "Unix framed echo".
    pub service: &'static str,
    /// The address (or `unix:PATH`).
    pub addr: String,
}

/// Say what a bind error means for a person, keeping its kind. `port` is `None` for a Unix
/// socket, whose address is a path (or an abstract name).
fn bind_error(
    what: &str,
    addr: &dyn std::fmt::Display,
    port: Option<u16>,
    e: io::Error,
) -> io::Error {
    let hint = match e.kind() {
        io::ErrorKind::AddrInUse if port.is_none() => {
            " (another program is serving on that path or name)"
        }
        io::ErrorKind::AddrInUse => " (another program is using that port)",
        io::ErrorKind::PermissionDenied if port.is_some_and(|p| p < 1024) => {
            " (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
        }
        io::ErrorKind::AddrNotAvailable => " (no local interface has that address)",
        _ => "",
    };
    io::Error::new(e.kind(), format!("cannot {what} on {addr}: {e}{hint}"))
}

/// The reactors of `netloop serve`, one per `cfg.threads`, each with every service of `cfg`
/// bound, ready for
/// [`Server::start`](netloop::server::Server::start). Every address is one socket shared by the
/// reactors (see [`server::bind_tcp`]), so a second server on the same address fails with
/// "address in use", and `max_conns` is one limit for them all. Also returns what was bound,
/// in order.
///
/// # Errors
///
/// An invalid codec or config, or a bind error that names the service and address (with a
/// hint for "address in use" and privileged ports), of the same `io::ErrorKind`.
pub fn course_reactors(cfg: &CourseConfig) -> io::Result<(Vec<Reactor<CourseServer>>, Vec<Bound>)> {
    course_reactors_with(cfg, Vec::new())
}

/// [`course_reactors`], serving `handed` (sockets a service manager handed over) beside the
/// addresses `cfg` names.
///
/// # Errors
///
/// As [`course_reactors`]; a handed socket that cannot be served names its service.
pub fn course_reactors_with(
    cfg: &CourseConfig,
    handed: Vec<Handed>,
) -> io::Result<(Vec<Reactor<CourseServer>>, Vec<Bound>)> {
    let invalid = |e: String| io::Error::new(io::ErrorKind::InvalidInput, e);
    let codec = Codec::length_prefixed(cfg.max_frame);
    let defaults = Config::default();
    let mut config = defaults;
    config.timeouts.idle = cfg.timeout;
    config.timeouts.frame = cfg.frame_timeout;
    // A whole frame must fit in a connection's read buffer, and in the budget.
    config.max_read_buffer = defaults.max_read_buffer.max(codec.max_frame());
    config.max_buffered = cfg.max_buffered;
    config.busy_poll = cfg.busy_poll;
    // One limit for all the reactors, kept exactly (see `ConnectionLimit`).
    let limit = cfg.max_conns.map(ConnectionLimit::new);
    let mut reactors = Vec::with_capacity(cfg.threads);
    for _ in 0..cfg.threads.max(1) {
        let handler = CourseServer::with_codec(codec).map_err(|e| invalid(e.to_string()))?;
        let mut reactor = Reactor::with_config(handler, config)?;
        if let Some(limit) = &limit {
            reactor.share_connection_limit(std::sync::Arc::clone(limit));
        }
        reactors.push(reactor);
    }
    let mut bound = Vec::new();
    let opts_for = |addr: SocketAddr| {
        (config.listen).only_v6(!(cfg.dual_stack && addr.is_ipv6() && addr.ip().is_unspecified()))
    };
    for &addr in &cfg.udp {
        let (_, local) = server::bind_udp(&mut reactors, addr, opts_for(addr))
            .map_err(|e| bind_error("bind UDP", &addr, Some(addr.port()), e))?;
        bound.push(Bound {
            service: "UDP upper-case",
            addr: local.to_string(),
        });
    }
    for (&addr, framed) in cfg
        .tcp
        .iter()
        .map(|a| (a, false))
        .chain(cfg.framed.iter().map(|a| (a, true)))
    {
        let (ids, local) = match &cfg.tls {
            Some(tls) => server::bind_tls(&mut reactors, addr, opts_for(addr), Arc::clone(tls)),
            None => server::bind_tcp(&mut reactors, addr, opts_for(addr)),
        }
        .map_err(|e| bind_error("listen", &addr, Some(addr.port()), e))?;
        if framed {
            for (reactor, id) in reactors.iter_mut().zip(ids) {
                reactor.handler_mut().serve_framed(id);
            }
        }
        bound.push(Bound {
            service: match (framed, cfg.tls.is_some()) {
                (true, false) => "TCP framed echo",
                (false, false) => "TCP echo",
                (true, true) => "TLS framed echo",
                (false, true) => "TLS echo",
            },
            addr: local.to_string(),
        });
    }
    for Handed { service, socket } in handed {
        let failed = |e: io::Error| {
            io::Error::new(
                e.kind(),
                format!("cannot serve the handed {service:?} socket: {e}"),
            )
        };
        let (name, addr) = match service {
            Service::Udp => {
                let (_, local) = server::share_udp(&mut reactors, socket.into()).map_err(failed)?;
                ("UDP upper-case", local.to_string())
            }
            Service::Tcp | Service::Framed => {
                let (ids, local) =
                    server::share_tcp(&mut reactors, socket.into()).map_err(failed)?;
                if service == Service::Framed {
                    for (reactor, id) in reactors.iter_mut().zip(ids) {
                        reactor.handler_mut().serve_framed(id);
                    }
                    ("TCP framed echo", local.to_string())
                } else {
                    ("TCP echo", local.to_string())
                }
            }
            Service::Unix => {
                let listener = std::os::unix::net::UnixListener::from(socket);
                let local = listener
                    .local_addr()
                    .ok()
                    .and_then(|a| a.as_pathname().map(|p| p.display().to_string()))
                    .unwrap_or_else(|| "(unnamed)".to_owned());
                let id = reactors[0]
                    .with_context(|_, cx| cx.add_unix_listener(listener))
                    .map_err(failed)?;
                reactors[0].handler_mut().serve_framed(id);
                ("Unix framed echo", format!("unix:{local}"))
            }
        };
        bound.push(Bound {
            service: name,
            addr: format!("{addr} (handed by the service manager)"),
        });
    }
    for addr in &cfg.unix {
        let id = reactors[0]
            .with_context(|_, cx| cx.listen_unix(addr, &UnixListenOptions::default()))
            .map_err(|e| bind_error("listen", addr, None, e))?;
        reactors[0].handler_mut().serve_framed(id);
        bound.push(Bound {
            service: "Unix framed echo",
            addr: format!("unix:{addr}"),
        });
    }
    Ok((reactors, bound))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uppercase_matches_python_bytes_upper() {
        let mut out = Vec::new();
        uppercase_into(b"MixedCaseString", &mut out);
        assert_eq!(out, b"MIXEDCASESTRING");
        uppercase_into("héllo, wörld 1!".as_bytes(), &mut out);
        // Python: 'héllo, wörld 1!'.encode().upper() leaves the non-ASCII bytes alone.
        assert_eq!(out, "HéLLO, WöRLD 1!".as_bytes());
        uppercase_into(b"", &mut out);
        assert!(out.is_empty());
    }
}
