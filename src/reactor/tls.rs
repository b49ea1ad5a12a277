//! TLS on the reactor's TCP connections (feature `tls`): [`TlsSock`], a non-blocking TCP
//! socket and one side of a rustls session, which `Stream::Tls` holds.
//!
//! The connection's `Transport` (`stream.rs`) reads and writes plaintext through it, so every
//! write the handler makes (queued, written directly, or the framed echo's fast path) is
//! encrypted here, and `Conn` never sees a record. rustls is sans-IO like `Conn`: a read pulls
//! records from the socket into the session and takes the plaintext out; a write puts
//! plaintext in and pushes the records the socket takes. Records the socket refused wait in
//! the session ([`TlsSock::pending`]): the connection then stays writable-interested and
//! holds its FIN back until they are out ([`TlsSock::flush_pending`]). A half-close or an
//! orderly close says `close_notify` first ([`TlsSock::finish`]); an abortive one does not.
//!
//! Without the feature, `TlsSock` is an empty enum: the variant exists and costs nothing,
//! and every match on it is unreachable.

#[cfg(feature = "tls")]
pub(crate) use imp::{TlsListener, TlsSock};
#[cfg(not(feature = "tls"))]
pub(crate) use off::{TlsListener, TlsSock};

#[cfg(feature = "tls")]
mod imp {
    use std::io::{self, IoSlice, Read, Write};
    use std::net::Shutdown;
    use std::sync::Arc;

    use mio::net::{TcpListener, TcpStream};
    use rustls::{ClientConfig, ClientConnection, Connection, ServerConfig, ServerConnection};

    /// A TCP listener whose connections speak TLS with `config`'s certificate.
    #[derive(Debug)]
    pub(crate) struct TlsListener {
        tcp: TcpListener,
        config: Arc<ServerConfig>,
    }

    impl TlsListener {
        pub(crate) fn new(tcp: TcpListener, config: Arc<ServerConfig>) -> TlsListener {
            TlsListener { tcp, config }
        }

        /// The TCP listener.
        pub(crate) fn tcp(&self) -> &TcpListener {
            &self.tcp
        }

        /// The TCP listener, mutably (to register it).
        pub(crate) fn tcp_mut(&mut self) -> &mut TcpListener {
            &mut self.tcp
        }

        /// Accept a connection and start the server side of its session (the handshake goes
        /// on as the connection is read).
        pub(crate) fn accept(&self) -> io::Result<(TlsSock, std::net::SocketAddr)> {
            let (tcp, peer) = self.tcp.accept()?;
            Ok((TlsSock::server(tcp, Arc::clone(&self.config))?, peer))
        }
    }

    /// A TCP socket and its TLS session (see the module docs).
    pub(crate) struct TlsSock {
        tcp: TcpStream,
        tls: Connection,
        /// A half-close asked for `close_notify` and a FIN: the FIN waits for the record.
        fin_pending: bool,
        /// `close_notify` was asked for during the handshake: it goes when that ends.
        notify: bool,
        /// Plaintext was taken before the handshake ended: rustls holds it until then.
        early: bool,
    }

    impl std::fmt::Debug for TlsSock {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("TlsSock")
                .field("tcp", &self.tcp)
                .field("handshaking", &self.tls.is_handshaking())
                .finish_non_exhaustive()
        }
    }

    fn tls_error(e: rustls::Error) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, format!("TLS: {e}"))
    }

    impl TlsSock {
        /// The server side of a session on an accepted connection.
        pub(crate) fn server(tcp: TcpStream, config: Arc<ServerConfig>) -> io::Result<TlsSock> {
            let tls = ServerConnection::new(config).map_err(tls_error)?;
            Ok(TlsSock {
                tcp,
                tls: Connection::Server(tls),
                fin_pending: false,
                notify: false,
                early: false,
            })
        }

        /// The client side of a session with `name` over an outgoing connection.
        pub(crate) fn client(
            tcp: TcpStream,
            config: Arc<ClientConfig>,
            name: rustls::pki_types::ServerName<'static>,
        ) -> io::Result<TlsSock> {
            let tls = ClientConnection::new(config, name).map_err(tls_error)?;
            Ok(TlsSock {
                tcp,
                tls: Connection::Client(tls),
                fin_pending: false,
                notify: false,
                early: false,
            })
        }

        /// Is the handshake under way?
        pub(crate) fn handshaking(&self) -> bool {
            self.tls.is_handshaking()
        }

        /// The TCP socket (for addresses and options: reading or writing it would break the
        /// session).
        pub(crate) fn tcp(&self) -> &TcpStream {
            &self.tcp
        }

        /// The TCP socket, mutably (to register it).
        pub(crate) fn tcp_mut(&mut self) -> &mut TcpStream {
            &mut self.tcp
        }

        /// Records wait for the socket to take them, or plaintext for the handshake to end,
        /// or a FIN for them to go.
        pub(crate) fn pending(&self) -> bool {
            self.tls.wants_write() || self.fin_pending || (self.early && self.tls.is_handshaking())
        }

        /// Write the records waiting, as far as the socket takes them (`WouldBlock` is not an
        /// error: they wait for the next writable event); then, once the handshake is over,
        /// the `close_notify` and FIN a half-close asked for.
        pub(crate) fn flush_pending(&mut self) -> io::Result<()> {
            let handshaking = self.tls.is_handshaking();
            if self.notify && !handshaking {
                self.notify = false;
                self.tls.send_close_notify();
            }
            while self.tls.wants_write() {
                match self.tls.write_tls(&mut self.tcp) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            if !handshaking {
                self.early = false;
            }
            if self.fin_pending && !self.notify {
                self.fin_pending = false;
                self.tcp.shutdown(Shutdown::Write)?;
            }
            Ok(())
        }

        /// Plaintext into `buf`: what the session holds, else records read from the socket
        /// and opened. 0 at the peer's `close_notify`, or when it closed without one (the
        /// bytes before it were delivered; nothing is dropped). `WouldBlock` when the socket
        /// has no whole record; `InvalidData` naming rustls's reason for a failed handshake
        /// or a bad record (the alert for it is sent first).
        pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            loop {
                match self.tls.reader().read(buf) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                        log::debug!("TLS: the peer closed without close_notify");
                        return Ok(0);
                    }
                    Err(e) => return Err(e),
                }
                let got = match self.tls.read_tls(&mut self.tcp) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                if let Err(e) = self.tls.process_new_packets() {
                    // The alert that says why goes out before the connection closes.
                    let _ = self.flush_pending();
                    return Err(tls_error(e));
                }
                // Handshake messages to answer, or a key update: sent now, or when writable.
                // A failure here is the flush's to report; the plaintext read is delivered.
                let _ = self.flush_pending();
                if got == 0 && self.tls.is_handshaking() {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "TLS: the peer closed the connection during the handshake",
                    ));
                }
                if got == 0 {
                    // The socket's end: what the session holds is all there will be.
                    return match self.tls.reader().read(buf) {
                        Ok(n) => Ok(n),
                        Err(_) => Ok(0),
                    };
                }
            }
        }

        /// Take plaintext from `bufs` into the session (as much as its buffer holds) and write
        /// the records the socket takes. `WouldBlock` while records from before still wait:
        /// the output stays queued until they are out.
        pub(crate) fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            self.flush_pending()?;
            if self.tls.wants_write() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = self.tls.writer().write_vectored(bufs)?;
            if self.tls.is_handshaking() {
                self.early |= n > 0;
            }
            // The session has the bytes now: a failure to push its records is the next
            // flush's to report, not this write's (which would queue them again).
            let _ = self.flush_pending();
            if n == 0 && bufs.iter().any(|b| !b.is_empty()) {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            Ok(n)
        }

        /// A half-close: `close_notify` (once the handshake is over, after what it holds),
        /// then FIN once its record is out.
        pub(crate) fn shutdown_write(&mut self) -> io::Result<()> {
            self.notify = true;
            self.fin_pending = true;
            self.flush_pending()
        }

        /// The connection closes, `clean` (an orderly end) or not: an orderly end says
        /// `close_notify` (unless a half-close did), and what the session holds gets one try
        /// at the socket. An abortive one (a timeout, an error, a cut-off) says nothing, so
        /// that the peer cannot take cut-off output for a complete stream.
        pub(crate) fn finish(mut self, clean: bool) {
            if !clean {
                return;
            }
            if !self.fin_pending && !self.tls.is_handshaking() {
                self.tls.send_close_notify();
            }
            self.notify = false;
            let _ = self.flush_pending();
        }
    }
}

#[cfg(not(feature = "tls"))]
mod off {
    use std::io::{self, IoSlice};

    /// Without the `tls` feature no TLS socket can exist.
    #[derive(Debug)]
    pub(crate) enum TlsSock {}

    /// Nor a TLS listener.
    #[derive(Debug)]
    pub(crate) enum TlsListener {}

    #[allow(clippy::unused_self)]
    impl TlsListener {
        pub(crate) fn tcp(&self) -> &mio::net::TcpListener {
            match *self {}
        }
        pub(crate) fn tcp_mut(&mut self) -> &mut mio::net::TcpListener {
            match *self {}
        }
        pub(crate) fn accept(&self) -> io::Result<(TlsSock, std::net::SocketAddr)> {
            match *self {}
        }
    }

    #[allow(clippy::unused_self)]
    impl TlsSock {
        pub(crate) fn pending(&self) -> bool {
            match *self {}
        }
        pub(crate) fn flush_pending(&mut self) -> io::Result<()> {
            match *self {}
        }
        pub(crate) fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            match *self {}
        }
        pub(crate) fn write_vectored(&mut self, _: &[IoSlice<'_>]) -> io::Result<usize> {
            match *self {}
        }
        pub(crate) fn shutdown_write(&mut self) -> io::Result<()> {
            match *self {}
        }
        pub(crate) fn finish(self, _: bool) {
            match self {}
        }
        pub(crate) fn handshaking(&self) -> bool {
            match *self {}
        }
        pub(crate) fn tcp(&self) -> &mio::net::TcpStream {
            match *self {}
        }
        pub(crate) fn tcp_mut(&mut self) -> &mut mio::net::TcpStream {
            match *self {}
        }
    }
}
