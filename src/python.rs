//! From Python's `socket` and `socketserver` to netloop: every call, and its equivalent.
//!
//! netloop gives Python's model in Rust. The blocking calls are [`Socket`](crate::socket::Socket)
//! methods with Python's timeout semantics; the helpers are in [`names`](crate::names); the
//! servers are reactors ([`server`](crate::server)). Errors are `io::Error`s: Python's
//! `TimeoutError` (`socket.timeout`) is `ErrorKind::TimedOut` ("timed out"), `BlockingIOError`
//! is `WouldBlock`, `gaierror` and `herror` are a [`ResolveError`](crate::names::ResolveError)
//! (inside an `io::Error` where a socket call looked a name up).
//!
//! # `socket`: sockets
//!
//! | Python | netloop |
//! |---|---|
//! | `socket.socket(AF_INET, SOCK_STREAM, proto=0)` | [`Socket::new(Family::Inet, SockType::Stream, None)`](crate::socket::Socket::new) |
//! | `AF_INET`, `AF_INET6`, `AF_UNIX` | [`Family::Inet`](crate::socket::Family), `Family::Inet6`, `Family::Unix` |
//! | `SOCK_STREAM`, `SOCK_DGRAM`, `SOCK_RAW`, `SOCK_SEQPACKET`, `SOCK_RDM` | [`SockType`](crate::socket::SockType)`::{Stream, Dgram, Raw, Seqpacket, Rdm}` (`Rdm` fails with `Unsupported`: it needs TIPC) |
//! | `s.bind(("127.0.0.1", 9999))` | [`s.bind(("127.0.0.1", 9999))`](crate::socket::Socket::bind) (also a `SocketAddr`, or a [`UnixAddr`](crate::addr::UnixAddr)) |
//! | `s.listen(5)` | [`s.listen(5)`](crate::socket::Socket::listen) |
//! | `conn, addr = s.accept()` | [`let (conn, addr) = s.accept()?`](crate::socket::Socket::accept) |
//! | `s.connect(("localhost", 9999))` | [`s.connect(("localhost", 9999))`](crate::socket::Socket::connect) |
//! | `s.connect_ex(addr)` | [`s.connect_ex(addr)`](crate::socket::Socket::connect_ex) (0 or an errno) |
//! | `s.send(data)` / `s.sendall(data)` | [`s.send(data)`](crate::socket::Socket::send) / [`s.sendall(data)`](crate::socket::Socket::sendall) (a timeout carries a [`PartialSend`](crate::socket::PartialSend)) |
//! | `s.sendto(data, addr)` | [`s.sendto(data, addr)`](crate::socket::Socket::sendto) |
//! | `s.recv(1024)` / `s.recv_into(buf)` | [`s.recv(1024)`](crate::socket::Socket::recv) / [`s.recv_into(&mut buf)`](crate::socket::Socket::recv_into) |
//! | `s.recvfrom(1024)` / `s.recvfrom_into(buf)` | [`s.recvfrom(1024)`](crate::socket::Socket::recvfrom) / [`s.recvfrom_into(&mut buf)`](crate::socket::Socket::recvfrom_into) |
//! | `s.shutdown(SHUT_WR)` | [`s.shutdown(Shutdown::Write)`](crate::socket::Socket::shutdown) |
//! | `s.close()` | [`s.close()`](crate::socket::Socket::close), or drop it |
//! | `s.getsockname()` / `s.getpeername()` | [`s.getsockname()`](crate::socket::Socket::getsockname) / [`s.getpeername()`](crate::socket::Socket::getpeername) |
//! | `s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)` | [`s.setsockopt(SockOpt::ReuseAddr(true))`](crate::socket::Socket::setsockopt) |
//! | `s.getsockopt(SOL_SOCKET, SO_REUSEADDR)` | [`s.getsockopt(OptName::ReuseAddr)`](crate::socket::Socket::getsockopt) |
//! | `s.fileno()` | [`s.fileno()`](crate::socket::Socket::fileno), `AsRawFd`, `AsFd` |
//! | `s.dup()` | [`s.dup()`](crate::socket::Socket::dup) |
//! | `socket.socket(fileno=fd)` | `Socket::try_from(OwnedFd)`, `Socket::try_from(std::net::TcpStream)`, ... |
//! | `s.settimeout(2.0)` / `s.settimeout(None)` / `s.settimeout(0)` | [`s.settimeout(Some(Duration::from_secs(2)))`](crate::socket::Socket::settimeout) / `None` / `Some(Duration::ZERO)` |
//! | `s.gettimeout()` | [`s.gettimeout()`](crate::socket::Socket::gettimeout) |
//! | `s.setblocking(False)` | [`s.setblocking(false)`](crate::socket::Socket::setblocking) |
//! | `socket.setdefaulttimeout(t)` / `socket.getdefaulttimeout()` | [`setdefaulttimeout(Some(t))`](crate::socket::setdefaulttimeout) / [`getdefaulttimeout()`](crate::socket::getdefaulttimeout) |
//! | `f = s.makefile("r")` / `s.makefile("w")` | [`s.makefile_reader()`](crate::socket::Socket::makefile_reader) (`BufRead`) / [`s.makefile_writer()`](crate::socket::Socket::makefile_writer) |
//! | `socket.socketpair()` | [`sys::unix_pair(UnixKind::Stream)`](crate::sys::unix_pair) |
//!
//! # `socket`: helpers
//!
//! | Python | netloop |
//! |---|---|
//! | `htonl`, `htons`, `ntohl`, `ntohs` | [`names::htonl`](crate::names::htonl), [`htons`](crate::names::htons), [`ntohl`](crate::names::ntohl), [`ntohs`](crate::names::ntohs) |
//! | `inet_aton("127.1")` / `inet_ntoa(b)` | [`inet_aton("127.1")`](crate::names::inet_aton) (every C form) / [`inet_ntoa(b)`](crate::names::inet_ntoa) |
//! | `inet_pton(AF_INET6, s)` / `inet_ntop(AF_INET6, b)` | [`inet_pton(Family::Inet6, s)`](crate::names::inet_pton) / [`inet_ntop(Family::Inet6, &b)`](crate::names::inet_ntop) |
//! | `gethostname()` | [`gethostname()`](crate::names::gethostname) |
//! | `getfqdn(name)` | [`getfqdn(name)`](crate::names::getfqdn) |
//! | `gethostbyname(name)` | [`gethostbyname(name)`](crate::names::gethostbyname) |
//! | `gethostbyname_ex(name)` | [`gethostbyname_ex(name)`](crate::names::gethostbyname_ex) (a [`HostEntry`](crate::names::HostEntry): name, aliases, addresses) |
//! | `gethostbyaddr(ip)` | [`gethostbyaddr(ip)`](crate::names::gethostbyaddr) |
//! | `getaddrinfo(host, port, family, type, proto, flags)` | [`getaddrinfo(Some(host), Some(port), family, type, proto, AiFlags::...)`](crate::names::getaddrinfo) |
//! | `getnameinfo(sockaddr, flags)` | [`getnameinfo(&addr, NiFlags::...)`](crate::names::getnameinfo) |
//! | `getservbyname("ftp")` / `getservbyport(80)` | [`getservbyname("ftp", None)`](crate::names::getservbyname) / [`getservbyport(80, None)`](crate::names::getservbyport) |
//! | `getprotobyname("icmp")` | [`getprotobyname("icmp")`](crate::names::getprotobyname) |
//! | `socket.gaierror`, `socket.herror` | [`ResolveError`](crate::names::ResolveError) with a [`ResolveErrorKind`](crate::names::ResolveErrorKind) (`HostNotFound`, `TryAgain`, `NoData`, ...) |
//!
//! # `socketserver`
//!
//! Python's servers block in `serve_forever` and call a handler object per request; netloop's
//! run a reactor (one thread serves every connection) and call a [`Handler`](crate::Handler)
//! per event. One handler object per connection, as `socketserver` does, is
//! [`Sessions`](crate::server::Sessions).
//!
//! | Python | netloop |
//! |---|---|
//! | `TCPServer(addr, Handler)` | [`server::tcp_server(addr, config, factory)`](crate::server::tcp_server) |
//! | `UDPServer(addr, Handler)` | [`server::udp_server(addr, config, handler)`](crate::server::udp_server) |
//! | `UnixStreamServer(path, Handler)` | [`server::unix_stream_server(path, opts, config, factory)`](crate::server::unix_stream_server) |
//! | `UnixDatagramServer(path, Handler)` | [`server::unix_datagram_server(path, opts, config, handler)`](crate::server::unix_datagram_server) |
//! | `BaseRequestHandler.handle()` | [`Handler::on_data`](crate::Handler::on_data) (stream) or [`Handler::on_datagram`](crate::Handler::on_datagram) |
//! | `setup()` / `finish()` | [`Handler::on_accept`](crate::Handler::on_accept) / [`Handler::on_close`](crate::Handler::on_close) |
//! | `StreamRequestHandler` (`rfile`, `wfile`) | `on_data` gets the bytes; [`Context::write`](crate::Context::write) sends; whole messages: [`FrameHandler`](crate::reactor::framed::FrameHandler) |
//! | `DatagramRequestHandler` | `on_datagram` and [`Context::send_to`](crate::Context::send_to) |
//! | `server.serve_forever()` | [`Reactor::run`](crate::Reactor::run), or [`Server::start`](crate::server::Server::start) + [`serve_until_signal`](crate::server::Server::serve_until_signal) |
//! | `server.shutdown()` | [`Server::shutdown(grace)`](crate::server::Server::shutdown), [`Handle::stop`](crate::reactor::Handle::stop) |
//! | `server.server_close()` | drop the reactor (its sockets close, Unix socket files are removed) |
//! | `server.timeout`, `handle_timeout()` | [`Config::timeouts`](crate::Config), [`Handler::on_timeout`](crate::Handler::on_timeout) |
//! | `ThreadingMixIn` / `ForkingMixIn` | not needed: one reactor serves every connection; to use more cores, one reactor per core on the same sockets ([`Server::start`](crate::server::Server::start) with N reactors) |
//! | `allow_reuse_address` | always on for listeners ([`ListenOptions`](crate::reactor::ListenOptions)) |
//! | `request_queue_size` | [`ListenOptions::backlog`](crate::sys::ListenOptions) |
