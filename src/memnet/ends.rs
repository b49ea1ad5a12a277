//! [`Ends`]: every connection's two ends in the in-memory network, and what the simulation's
//! peers do with theirs.
//!
//! Connection `i` has ends `2i` (the peer the simulation plays: a client, or the remote
//! service an outgoing connect reached) and `2i + 1` (the reactor's). Each end has a bounded
//! receive queue (the socket buffer) and the flags a kernel keeps: end of file, reset, FIN
//! sent, closed. The peers' calls change them here; the world raises the edges they cause.

use std::io::{self, IoSlice};
use std::ops::{Index, IndexMut};
use std::os::fd::OwnedFd;
use std::time::Duration;

use mio::Token;

use super::inbox::{Inbox, Kind};
use super::listeners::Remote;

/// What a client's receive found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Received {
    /// Bytes taken from the client's receive queue.
    pub bytes: Vec<u8>,
    /// The server finished sending (end of file, after the bytes).
    pub eof: bool,
    /// The connection was reset.
    pub reset: bool,
    /// Descriptors that came with the bytes (a Unix connection), closed on arrival.
    pub fds: usize,
}

/// Each end's receive queue holds this many bytes (the socket buffer).
pub(crate) const QUEUE: usize = 16 * 1024;

#[derive(Debug, Default)]
pub(crate) struct End {
    /// Bytes (and descriptors) received and not yet read.
    pub(crate) inbox: Inbox,
    /// The peer sent FIN: after the inbox, reads return 0.
    pub(crate) eof: bool,
    /// The connection was reset: reads and writes fail.
    pub(crate) reset: bool,
    /// This end sent FIN.
    pub(crate) shut: bool,
    /// This end is closed (dropped by the reactor, or the client is done with it).
    pub(crate) closed: bool,
    /// A write from this end found no room (`WouldBlock`): the next room freed raises a
    /// writable edge (Linux's `SOCK_NOSPACE`); room freed otherwise raises none.
    pub(crate) blocked: bool,
    /// The poll set it is registered in, with its token there.
    pub(crate) token: Option<(usize, Token)>,
    /// A client end that reads nothing while faults are on (a zero window).
    pub(crate) zero_window: bool,
    /// A reset injected in the middle of a write, not yet met by the reactor.
    pub(crate) fault_reset: bool,
    /// When this end last read or wrote a byte (virtual time since the start), or was
    /// accepted or began its connect.
    pub(crate) moved_at: Duration,
    /// When it last read a byte (or was accepted, or began its connect).
    pub(crate) read_at: Duration,
    /// When it last wrote a byte (or was accepted, or began its connect).
    pub(crate) written_at: Duration,
    /// An outgoing connect from this end is under way: what it will meet at the next poll.
    pub(crate) dialing: Option<Remote>,
    /// The connect was refused, and the error not yet taken (`SO_ERROR`).
    pub(crate) refused: bool,
    /// A read of this end met truncated control data (`MSG_CTRUNC`, injected).
    pub(crate) ctrunc: bool,
}

impl End {
    /// The reactor accepted this end, or began its connect, at `now`: its clocks start.
    pub(crate) fn started(&mut self, now: Duration) {
        (self.moved_at, self.read_at, self.written_at) = (now, now, now);
    }

    /// This end read a byte at `now`.
    pub(crate) fn read(&mut self, now: Duration) {
        (self.moved_at, self.read_at) = (now, now);
    }

    /// This end wrote a byte at `now`.
    pub(crate) fn wrote(&mut self, now: Duration) {
        (self.moved_at, self.written_at) = (now, now);
    }
}

/// The reactor's end of connection `conn`.
pub(crate) fn server(conn: usize) -> usize {
    2 * conn + 1
}

/// Every connection's two ends (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct Ends(Vec<End>);

impl Index<usize> for Ends {
    type Output = End;

    fn index(&self, e: usize) -> &End {
        &self.0[e]
    }
}

impl IndexMut<usize> for Ends {
    fn index_mut(&mut self, e: usize) -> &mut End {
        &mut self.0[e]
    }
}

impl Ends {
    /// A new connection of `kind`: its number. Its peer reads nothing while `zero_window`
    /// faults are on, if `zero_window`.
    pub(crate) fn new_conn(&mut self, kind: Kind, zero_window: bool) -> usize {
        let conn = self.0.len() / 2;
        self.0.push(End {
            zero_window,
            inbox: Inbox::new(kind),
            ..End::default()
        });
        self.0.push(End {
            inbox: Inbox::new(kind),
            ..End::default()
        });
        conn
    }

    /// Settle the connect of `conn`'s reactor end: what it met, now that it is answered or
    /// refused (`None`: a silent host, still under way).
    pub(crate) fn settle(&mut self, conn: usize) -> Option<Remote> {
        let e = server(conn);
        let remote = self.0[e].dialing?;
        match remote {
            Remote::Answers => self.0[e].dialing = None,
            Remote::Refuses => {
                self.0[e].dialing = None;
                self.0[e].refused = true;
                self.0[2 * conn].closed = true;
            }
            Remote::Silent => return None,
        }
        Some(remote)
    }

    /// `conn` dies before it is accepted: its client sees a reset, and what it sent (with
    /// any descriptors) is dropped with the server end.
    pub(crate) fn abort(&mut self, conn: usize) {
        self.0[2 * conn].reset = true;
        let end = &mut self.0[server(conn)];
        end.closed = true;
        end.inbox.clear();
    }

    /// The pending error of end `e` (`SO_ERROR`), taken.
    pub(crate) fn take_error(&mut self, e: usize) -> Option<io::Error> {
        std::mem::take(&mut self.0[e].refused)
            .then(|| io::Error::from(io::ErrorKind::ConnectionRefused))
    }

    /// The length of end `e`'s next record, peeked (`recv(MSG_PEEK | MSG_TRUNC)`): 0 at the
    /// end of the stream.
    pub(crate) fn record_len(&self, e: usize) -> io::Result<usize> {
        let end = &self.0[e];
        match end.inbox.record_len() {
            _ if end.reset => Err(io::Error::from(io::ErrorKind::ConnectionReset)),
            Some(len) => Ok(len),
            None if end.eof => Ok(0),
            None => Err(io::Error::from(io::ErrorKind::WouldBlock)),
        }
    }

    /// Is end `e` connected (not under way, not refused)?
    pub(crate) fn is_connected(&self, e: usize) -> bool {
        self.0[e].dialing.is_none() && !self.0[e].refused
    }

    /// Room in the other end's receive queue for what end `e` writes.
    pub(crate) fn room(&self, e: usize) -> usize {
        QUEUE.saturating_sub(self.0[e ^ 1].inbox.len())
    }

    /// The reactor's ends registered in poll set `set` and not closed.
    pub(crate) fn open_servers(&self, set: usize) -> usize {
        self.0
            .iter()
            .skip(1)
            .step_by(2)
            .filter(|e| !e.closed && e.token.is_some_and(|(s, _)| s == set))
            .count()
    }

    /// Tokens, in poll set `set`, of the reactor's ends with nothing to read.
    pub(crate) fn quiet_tokens(&self, set: usize) -> Vec<Token> {
        self.0
            .iter()
            .skip(1)
            .step_by(2)
            .filter(|e| !e.closed && e.inbox.is_empty() && !e.eof && !e.reset)
            .filter_map(|e| e.token.filter(|(s, _)| *s == set).map(|(_, t)| t))
            .collect()
    }

    /// Is `token` registered for an end in poll set `set` now?
    pub(crate) fn holds(&self, set: usize, token: Token) -> bool {
        self.0.iter().any(|e| e.token == Some((set, token)))
    }

    /// The peer of `conn` sends up to `data.len()` bytes, with `fds` on a Unix connection:
    /// how many fit (a record fits whole or not at all; descriptors go with a first byte).
    pub(crate) fn client_send(
        &mut self,
        conn: usize,
        data: &[u8],
        fds: Vec<OwnedFd>,
    ) -> io::Result<usize> {
        let c = 2 * conn;
        if self.0[c].reset || self.0[c ^ 1].closed {
            self.0[c].reset = true;
            return Err(io::Error::from(io::ErrorKind::ConnectionReset));
        }
        if self.0[c].shut {
            return Err(io::Error::from(io::ErrorKind::BrokenPipe));
        }
        let inbox = &mut self.0[c ^ 1].inbox;
        let n = inbox.fits(data.len(), QUEUE.saturating_sub(inbox.len()));
        if n > 0 {
            inbox.push(&[IoSlice::new(data)], n, fds);
        }
        Ok(n)
    }

    /// The peer of `conn` reads up to `max` bytes (none if its window is shut while
    /// `windows_shut`); and whether the reactor's end, which found no room, may write again.
    pub(crate) fn client_recv(
        &mut self,
        conn: usize,
        max: usize,
        windows_shut: bool,
    ) -> (Received, bool) {
        let c = 2 * conn;
        let mut left = if self.0[c].zero_window && windows_shut {
            0
        } else {
            max.min(self.0[c].inbox.len())
        };
        let (mut bytes, mut fds) = (Vec::new(), 0);
        let inbox = &mut self.0[c].inbox;
        // Whole records only, as far as `max` holds them.
        while left > 0 && inbox.record_len().map_or(true, |r| r <= left) {
            let mut buf = vec![0; left];
            let (n, got) = inbox.take(&mut buf, left);
            if n == 0 {
                break;
            }
            bytes.extend_from_slice(&buf[..n]);
            fds += got.len();
            left -= n;
        }
        let n = bytes.len();
        let end = &self.0[c];
        let got = Received {
            eof: end.eof && end.inbox.is_empty(),
            reset: end.reset,
            bytes,
            fds,
        };
        // Room freed in the peer's queue: a reactor's end that found none may write again.
        let wake = n > 0 && std::mem::take(&mut self.0[c ^ 1].blocked);
        (got, wake)
    }

    /// The peer of `conn` sends FIN: `false` if it had already.
    pub(crate) fn client_shutdown(&mut self, conn: usize) -> bool {
        let c = 2 * conn;
        if self.0[c].shut {
            return false;
        }
        self.0[c].shut = true;
        self.0[c ^ 1].eof = true;
        true
    }

    /// The peer of `conn` resets the connection: `false` if the reactor's end was closed.
    pub(crate) fn client_reset(&mut self, conn: usize) -> bool {
        let c = 2 * conn;
        self.0[c].closed = true;
        self.0[c].inbox.clear();
        if self.0[c ^ 1].closed {
            return false;
        }
        self.0[c ^ 1].reset = true;
        true
    }
}
