//! [`Ends`]: every connection's two ends in the in-memory network, and what the simulation's
//! peers do with theirs.
//!
//! Connection `i` has ends `2i` (the peer the simulation plays: a client, or the remote
//! service an outgoing connect reached) and `2i + 1` (the reactor's). Each end has a bounded
//! receive queue (the socket buffer) and the flags a kernel keeps: end of file, reset, FIN
//! sent, closed. The peers' calls change them here; the world raises the edges they cause.

use std::collections::VecDeque;
use std::io;
use std::ops::{Index, IndexMut};
use std::time::Duration;

use mio::Token;

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
}

/// Each end's receive queue holds this many bytes (the socket buffer).
pub(crate) const QUEUE: usize = 16 * 1024;

#[derive(Debug, Default)]
pub(crate) struct End {
    /// Bytes received and not yet read.
    pub(crate) inbox: VecDeque<u8>,
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
    /// A new connection: its number. Its peer reads nothing while `zero_window` faults are
    /// on, if `zero_window`.
    pub(crate) fn new_conn(&mut self, zero_window: bool) -> usize {
        let conn = self.0.len() / 2;
        self.0.push(End {
            zero_window,
            ..End::default()
        });
        self.0.push(End::default());
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

    /// The pending error of end `e` (`SO_ERROR`), taken.
    pub(crate) fn take_error(&mut self, e: usize) -> Option<io::Error> {
        std::mem::take(&mut self.0[e].refused)
            .then(|| io::Error::from(io::ErrorKind::ConnectionRefused))
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

    /// The peer of `conn` sends up to `data.len()` bytes: how many fit.
    pub(crate) fn client_send(&mut self, conn: usize, data: &[u8]) -> io::Result<usize> {
        let c = 2 * conn;
        if self.0[c].reset || self.0[c ^ 1].closed {
            self.0[c].reset = true;
            return Err(io::Error::from(io::ErrorKind::ConnectionReset));
        }
        if self.0[c].shut {
            return Err(io::Error::from(io::ErrorKind::BrokenPipe));
        }
        let n = data.len().min(self.room(c));
        self.0[c ^ 1].inbox.extend(&data[..n]);
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
        let n = if self.0[c].zero_window && windows_shut {
            0
        } else {
            max.min(self.0[c].inbox.len())
        };
        let bytes: Vec<u8> = self.0[c].inbox.drain(..n).collect();
        let end = &self.0[c];
        let got = Received {
            eof: end.eof && end.inbox.is_empty(),
            reset: end.reset,
            bytes,
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
