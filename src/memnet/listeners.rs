//! [`Listeners`]: the in-memory network's listening sockets, with their backlogs, and the
//! remote services the reactor's outgoing connects reach ([`Remote`]).
//!
//! A client's connect finds the open listener on its port and waits in its backlog until the
//! reactor accepts it. An outgoing connect from the reactor finds the remote service the
//! simulation put on its port: it answers, refuses, or never replies (nothing there refuses).

use std::collections::VecDeque;
use std::net::SocketAddr;

use mio::Token;

/// What an outgoing connect to a port meets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Remote {
    /// A service that accepts: the connect completes at the next poll, and the simulation
    /// plays the peer.
    Answers,
    /// Nothing listens: the connect fails with `ECONNREFUSED` at the next poll.
    Refuses,
    /// A host that never replies: the connect stays under way until the connect timeout.
    Silent,
}

#[derive(Debug)]
struct Listener {
    port: u16,
    backlog: VecDeque<usize>,
    open: bool,
    token: Option<Token>,
}

/// The listeners of one network, by number, and the remote services by port.
#[derive(Debug, Default)]
pub(crate) struct Listeners {
    list: Vec<Listener>,
    remotes: Vec<(u16, Remote)>,
}

impl Listeners {
    /// A new open listener on `port`; its number.
    pub(crate) fn listen(&mut self, port: u16) -> usize {
        self.list.push(Listener {
            port,
            backlog: VecDeque::new(),
            open: true,
            token: None,
        });
        self.list.len() - 1
    }

    pub(crate) fn addr(&self, l: usize) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.list[l].port))
    }

    pub(crate) fn token(&self, l: usize) -> Option<Token> {
        self.list[l].token
    }

    /// Register listener `l` with `token` (or none); the token it had.
    pub(crate) fn set_token(&mut self, l: usize, token: Option<Token>) -> Option<Token> {
        std::mem::replace(&mut self.list[l].token, token)
    }

    /// Close listener `l`: its token, and the connections that were waiting in its backlog.
    pub(crate) fn close(&mut self, l: usize) -> (Option<Token>, Vec<usize>) {
        let listener = &mut self.list[l];
        listener.open = false;
        (listener.token.take(), listener.backlog.drain(..).collect())
    }

    /// The open listener on `port`, if any.
    pub(crate) fn find(&self, port: u16) -> Option<usize> {
        self.list.iter().position(|l| l.open && l.port == port)
    }

    /// Connection `conn` waits in listener `l`'s backlog.
    pub(crate) fn queue(&mut self, l: usize, conn: usize) {
        self.list[l].backlog.push_back(conn);
    }

    pub(crate) fn has_waiting(&self, l: usize) -> bool {
        !self.list[l].backlog.is_empty()
    }

    /// The next connection waiting in listener `l`'s backlog.
    pub(crate) fn pop(&mut self, l: usize) -> Option<usize> {
        self.list[l].backlog.pop_front()
    }

    /// Tokens of open listeners with nothing waiting.
    pub(crate) fn quiet_tokens(&self) -> impl Iterator<Item = Token> + '_ {
        self.list
            .iter()
            .filter(|l| l.open && l.backlog.is_empty())
            .filter_map(|l| l.token)
    }

    /// Is `token` registered for a listener now?
    pub(crate) fn holds(&self, token: Token) -> bool {
        self.list.iter().any(|l| l.token == Some(token))
    }

    pub(crate) fn open_count(&self) -> usize {
        self.list.iter().filter(|l| l.open).count()
    }

    /// Put a remote service on `port` (replacing any there).
    pub(crate) fn set_remote(&mut self, port: u16, remote: Remote) {
        self.remotes.retain(|(p, _)| *p != port);
        self.remotes.push((port, remote));
    }

    /// What an outgoing connect to `port` meets: nothing there refuses.
    pub(crate) fn remote(&self, port: u16) -> Remote {
        self.remotes
            .iter()
            .find(|(p, _)| *p == port)
            .map_or(Remote::Refuses, |(_, r)| *r)
    }
}
