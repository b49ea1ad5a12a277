//! TLS over the blocking facade's [`Socket`], with rustls (feature `tls`): what Python's
//! `ssl.SSLContext.wrap_socket` gives, in the facade's terms.
//!
//! A [`TlsStream`] owns a connected [`Socket`] and one side of a TLS session. It is made by
//! [`TlsStream::connect`] (the client side: the server's certificate is checked against the
//! trusted authorities and the name asked for) or [`TlsStream::accept`] (the server side),
//! each of which completes the handshake before it returns, within the socket's timeout for
//! each step. Then it reads and writes plaintext ([`Read`], [`Write`], and Python's
//! `sendall` and `recv`), and [`TlsStream::close`] says `close_notify` before the socket
//! closes.
//!
//! The settings are rustls's own configs, so SNI, ALPN, versions and client certificates are
//! set there; [`client_config`] and [`server_config`] make the usual ones from PEM files. A
//! handshake that fails says why, with rustls's reason: a certificate signed by no trusted
//! authority (`UnknownIssuer`), an expired one, a name that does not match.

use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::ServerConnection;
use rustls::{ClientConfig, ClientConnection, Connection, RootCertStore, ServerConfig};

use super::blocking::Socket;

/// The rustls this module is built with, for its configs' types and builders.
pub use rustls;

/// Where the system keeps its trusted authorities, by distribution (the first that exists is
/// used when no CA file is named).
const SYSTEM_BUNDLES: [&str; 3] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

/// ring's cryptography: it builds with a C compiler alone (aws-lc-rs, rustls's default,
/// needs more). rustls deprecates it for its lack of post-quantum key exchange; a program
/// that wants that builds its own config with another provider.
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn invalid(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what)
}

/// The certificates in the PEM file `path`.
///
/// # Errors
///
/// The file cannot be read, holds a malformed PEM section, or holds no certificate.
pub fn load_certs(path: &Path) -> io::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| invalid(format!("{}: {e}", path.display())))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(invalid(format!("{}: no certificate in it", path.display())));
    }
    Ok(certs)
}

/// A client config that trusts the authorities in the PEM file `ca`, or with `None` the
/// system's (the first of the usual bundle files that exists), and speaks TLS 1.2 and 1.3.
///
/// # Errors
///
/// As [`load_certs`]; `NotFound` when no CA file is named and the system has no bundle;
/// `InvalidInput` for a certificate rustls cannot use as an authority.
pub fn client_config(ca: Option<&Path>) -> io::Result<Arc<ClientConfig>> {
    let path = match ca {
        Some(p) => p.to_path_buf(),
        None => SYSTEM_BUNDLES
            .iter()
            .map(Path::new)
            .find(|p| p.exists())
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    "no system CA bundle found: name a CA file",
                )
            })?
            .to_path_buf(),
    };
    let mut roots = RootCertStore::empty();
    for cert in load_certs(&path)? {
        roots
            .add(cert)
            .map_err(|e| invalid(format!("{}: {e}", path.display())))?;
    }
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A server config that presents the certificate chain in the PEM file `cert` (the server's
/// own first) with the private key in the PEM file `key`, and speaks TLS 1.2 and 1.3.
///
/// # Errors
///
/// As [`load_certs`]; `InvalidInput` for a key file with no key, or a key that does not
/// match the certificate.
pub fn server_config(cert: &Path, key: &Path) -> io::Result<Arc<ServerConfig>> {
    let chain = load_certs(cert)?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| invalid(format!("{}: {e}", key.display())))?;
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| invalid(format!("{}: {e}", cert.display())))?;
    Ok(Arc::new(config))
}

/// A TLS session over a connected [`Socket`] (see the module docs).
#[derive(Debug)]
pub struct TlsStream {
    tls: Connection,
    sock: Socket,
}

impl TlsStream {
    /// The client side: a TLS session with the server at the other end of `sock`, which must
    /// prove it is `server_name` (a host name, or an IP address) with a certificate that
    /// `config` trusts. The handshake is complete when this returns.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a name that is neither a host name nor an IP address; the
    /// handshake's failure: `InvalidData` with rustls's reason (`invalid peer certificate:
    /// UnknownIssuer`, `... certificate expired ...`, a name mismatch, an alert from the
    /// server), or the socket's error (`TimedOut` after its timeout, `ConnectionReset`,
    /// `UnexpectedEof` if the server closed).
    pub fn connect(
        sock: Socket,
        server_name: &str,
        config: Arc<ClientConfig>,
    ) -> io::Result<TlsStream> {
        let name = ServerName::try_from(server_name.to_string())
            .map_err(|e| invalid(format!("'{server_name}' as a TLS server name: {e}")))?;
        let tls = ClientConnection::new(config, name).map_err(|e| invalid(e.to_string()))?;
        TlsStream::handshake(Connection::Client(tls), sock, server_name)
    }

    /// The server side: a TLS session with the client at the other end of `sock` (an
    /// accepted socket), presenting `config`'s certificate. The handshake is complete when
    /// this returns.
    ///
    /// # Errors
    ///
    /// The handshake's failure, as for [`connect`](TlsStream::connect): an alert from the
    /// client (one that does not trust the certificate says so), or the socket's error.
    pub fn accept(sock: Socket, config: Arc<ServerConfig>) -> io::Result<TlsStream> {
        let tls = ServerConnection::new(config).map_err(|e| invalid(e.to_string()))?;
        TlsStream::handshake(Connection::Server(tls), sock, "the client")
    }

    fn handshake(tls: Connection, sock: Socket, peer: &str) -> io::Result<TlsStream> {
        let mut s = TlsStream { tls, sock };
        while s.tls.is_handshaking() {
            if let Err(e) = s.tls.complete_io(&mut s.sock) {
                return Err(io::Error::new(
                    e.kind(),
                    format!("TLS handshake with {peer} failed: {e}"),
                ));
            }
        }
        Ok(s)
    }

    /// Finish what an earlier call left: the handshake, and records not yet written.
    fn complete_prior_io(&mut self) -> io::Result<()> {
        if self.tls.is_handshaking() {
            self.tls.complete_io(&mut self.sock)?;
        }
        if self.tls.wants_write() {
            self.tls.complete_io(&mut self.sock)?;
        }
        Ok(())
    }

    /// Send all of `data` (Python's `sendall`).
    ///
    /// # Errors
    ///
    /// The socket's error (`TimedOut` after its timeout, ...).
    pub fn sendall(&mut self, data: &[u8]) -> io::Result<()> {
        self.write_all(data)?;
        self.flush()
    }

    /// Receive up to `bufsize` bytes of plaintext (Python's `recv`); empty at the end of the
    /// stream (the peer's `close_notify`).
    ///
    /// # Errors
    ///
    /// The socket's error; `UnexpectedEof` if the peer closed without `close_notify` (a
    /// truncation attack or a crash: the data read so far may be incomplete).
    pub fn recv(&mut self, bufsize: usize) -> io::Result<Vec<u8>> {
        let mut buf = vec![0; bufsize];
        let n = self.read(&mut buf)?;
        buf.truncate(n);
        Ok(buf)
    }

    /// The protocol agreed by ALPN, if any.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.tls.alpn_protocol()
    }

    /// The TLS version agreed, as rustls names it (`TLSv1_3`, ...).
    pub fn protocol_version(&self) -> Option<String> {
        self.tls.protocol_version().map(|v| format!("{v:?}"))
    }

    /// The socket underneath (for its timeout and addresses; reading or writing it directly
    /// would break the session).
    pub fn socket(&self) -> &Socket {
        &self.sock
    }

    /// The socket underneath, mutably (to change its timeout).
    pub fn socket_mut(&mut self) -> &mut Socket {
        &mut self.sock
    }

    /// Say `close_notify` without closing (a half-close, as `shutdown(SHUT_WR)`): the peer
    /// reads the end of the stream, and this side can still read. The alert goes with the
    /// next write or flush.
    pub fn send_close_notify(&mut self) {
        self.tls.send_close_notify();
    }

    /// Has the session records waiting to be written to the socket (a non-blocking socket
    /// refused them): poll it for writing, then flush.
    pub fn wants_write(&self) -> bool {
        self.tls.wants_write()
    }

    /// End the session: send `close_notify` (so the peer can tell the end from a cut), then
    /// close the socket.
    ///
    /// # Errors
    ///
    /// The socket's error while sending the alert (the socket is closed regardless).
    pub fn close(mut self) -> io::Result<()> {
        self.tls.send_close_notify();
        self.flush()
    }
}

impl Read for TlsStream {
    /// Plaintext, reading records from the socket as needed (under its timeout); 0 at the
    /// peer's `close_notify`.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.complete_prior_io()?;
        while self.tls.wants_read() {
            if self.tls.complete_io(&mut self.sock)?.0 == 0 {
                break;
            }
        }
        self.tls.reader().read(buf)
    }
}

impl Write for TlsStream {
    /// Take plaintext into the session and write what records the socket takes; the rest
    /// goes with the next call, or [`flush`](Write::flush).
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.complete_prior_io()?;
        let n = self.tls.writer().write(buf)?;
        // A socket that refuses now takes the records at the next call.
        let _ = self.tls.complete_io(&mut self.sock);
        Ok(n)
    }

    /// Write every record waiting.
    fn flush(&mut self) -> io::Result<()> {
        self.complete_prior_io()?;
        self.tls.writer().flush()?;
        while self.tls.wants_write() {
            self.tls.complete_io(&mut self.sock)?;
        }
        Ok(())
    }
}
