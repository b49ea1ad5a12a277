//! [`Clients`]: the stream clients the simulation plays (the peers of accepted connections,
//! and the remote ends of the service's outgoing connects): what each sent, received and
//! passed, and the model of what each is owed.
//!
//! Every byte a client sent that the server's queue took is owed back by the echo service
//! (less, echoing lines, a last partial line), in order; what a client received must always
//! be a prefix of what it sent. Every descriptor a Unix client passes is one end of a socket
//! pair whose other end the client keeps: once every connection has closed, each kept end
//! must read the end of the stream, which it does only when every copy of the passed end,
//! in the network's queues, in the reactor and in the service, has been closed.

use std::io::{self, Read};
use std::os::unix::net::UnixStream;

use crate::memnet::{ClientId, Kind, Received};

/// What the simulation knows of one client.
#[derive(Debug, Default)]
struct Client {
    kind: Kind,
    sent: Vec<u8>,
    received: Vec<u8>,
    eof: bool,
    reset: bool,
    aborted: bool,
    /// The ends kept of the descriptors it passed (see the module docs).
    kept: Vec<UnixStream>,
    /// Descriptors that came back with the echo.
    fds_back: usize,
}

/// The clients of one simulation, by number (the network's `ClientId`).
#[derive(Debug, Default)]
pub(crate) struct Clients(Vec<Client>);

impl Clients {
    /// A new client, of a connection of `kind`.
    pub(crate) fn add(&mut self, kind: Kind) {
        self.0.push(Client {
            kind,
            ..Client::default()
        });
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn kind(&self, c: usize) -> Kind {
        self.0[c].kind
    }

    /// Client `c`'s queue took `data`, which passed the descriptors whose kept ends are `kept`.
    pub(crate) fn sent(&mut self, c: usize, data: &[u8], kept: Vec<UnixStream>) {
        self.0[c].sent.extend_from_slice(data);
        self.0[c].kept.extend(kept);
    }

    /// Client `c` received `got`.
    pub(crate) fn received(&mut self, c: usize, got: &Received) {
        let client = &mut self.0[c];
        client.received.extend_from_slice(&got.bytes);
        client.eof |= got.eof;
        client.reset |= got.reset;
        client.fds_back += got.fds;
    }

    /// Client `c` reset its connection and is done.
    pub(crate) fn aborted(&mut self, c: usize) {
        self.0[c].aborted = true;
    }

    pub(crate) fn sent_bytes(&self, c: usize) -> &[u8] {
        &self.0[c].sent
    }

    pub(crate) fn received_bytes(&self, c: usize) -> &[u8] {
        &self.0[c].received
    }

    /// Has client `c` seen the end of the stream (FIN or reset), or reset it itself?
    pub(crate) fn finished(&self, c: usize) -> bool {
        let client = &self.0[c];
        client.eof || client.reset || client.aborted
    }

    pub(crate) fn was_reset(&self, c: usize) -> bool {
        self.0[c].reset
    }

    /// How much of what client `c` sent the echo service owes it: all of it, or, echoing
    /// `lines` on a byte stream, up to its last line end (a record is echoed whole).
    pub(crate) fn echo_due(&self, c: usize, lines: bool) -> usize {
        let client = &self.0[c];
        if lines && client.kind != Kind::Seqpacket {
            let end = client.sent.iter().rposition(|&b| b == b'\n');
            end.map_or(0, |i| i + 1)
        } else {
            client.sent.len()
        }
    }

    /// Descriptors the clients passed, and those that came back.
    pub(crate) fn fds(&self) -> (usize, usize) {
        self.0
            .iter()
            .fold((0, 0), |(p, b), c| (p + c.kept.len(), b + c.fds_back))
    }

    /// Every client has received a prefix of what it sent.
    pub(crate) fn check_prefixes(&self) -> Result<(), String> {
        for (i, c) in self.0.iter().enumerate() {
            if !c.sent.starts_with(&c.received) {
                return Err(format!(
                    "client {i}: received {} bytes that are not a prefix of the {} it sent",
                    c.received.len(),
                    c.sent.len()
                ));
            }
        }
        Ok(())
    }

    /// At the end of a session: every client either got back all it was owed (see
    /// [`Clients::echo_due`]), or its connection closed for a reason (`closed`, by client)
    /// that says why not, or it reset the connection itself (see `Sim::check_outcome`).
    pub(crate) fn check_outcome(
        &self,
        lines: bool,
        closed: impl Fn(ClientId) -> Option<String>,
    ) -> Result<(), String> {
        let peer_closed = crate::error::CloseReason::PeerClosed.to_string();
        for (i, c) in self.0.iter().enumerate() {
            if c.aborted || c.received.len() == self.echo_due(i, lines) {
                continue;
            }
            match closed(ClientId(i)) {
                Some(reason) if reason != peer_closed => {}
                // Reset before it was accepted: the client saw the reset.
                None if c.reset => {}
                other => {
                    return Err(format!(
                    "client {i}: sent {} bytes, got {} back, and the server's close was {other:?}",
                    c.sent.len(),
                    c.received.len()
                ))
                }
            }
        }
        Ok(())
    }

    /// Every descriptor passed has been closed everywhere (see the module docs): for the end,
    /// once every connection closed and every client closed its socket.
    pub(crate) fn check_descriptors_closed(&mut self) -> Result<(), String> {
        for (i, c) in self.0.iter_mut().enumerate() {
            for (k, kept) in c.kept.iter_mut().enumerate() {
                let mut byte = [0u8; 1];
                match kept.set_nonblocking(true).and_then(|()| kept.read(&mut byte)) {
                    Ok(0) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        return Err(format!(
                            "client {i}: descriptor {k} it passed is still open somewhere after every connection closed (a leak)"
                        ))
                    }
                    other => return Err(format!("client {i}: its kept end {k} read {other:?}")),
                }
            }
        }
        Ok(())
    }
}
