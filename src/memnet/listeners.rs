//! [`Listeners`]: the in-memory network's listening sockets, with their backlogs, and the
//! remote services the reactor's outgoing connects reach ([`Remote`]).
//!
//! A client's connect finds the open listener on its port and waits in its backlog until a
//! reactor accepts it. Several reactors may hold one listener (each its own handle, as each
//! holds its own descriptor of one shared socket): it is registered in each one's poll set,
//! a new connection wakes the first of them to poll (as `EPOLLEXCLUSIVE` wakes one), and it
//! closes when the last handle goes. An outgoing connect from the reactor finds the remote service the
//! simulation put on its port: it answers, refuses, or never replies (nothing there refuses).

use std::collections::VecDeque;
use std::net::SocketAddr;

use mio::Token;

use super::inbox::Kind;

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
    /// What its connections are: TCP, or Unix streams or seqpacket.
    kind: Kind,
    backlog: VecDeque<usize>,
    open: bool,
    /// The poll sets holding a handle to it.
    holders: Vec<usize>,
    /// Its registrations: poll set and token.
    regs: Vec<(usize, Token)>,
}

/// The listeners of one network, by number, and the remote services by port.
#[derive(Debug, Default)]
pub(crate) struct Listeners {
    list: Vec<Listener>,
    remotes: Vec<(u16, Remote)>,
}

impl Listeners {
    /// A new open listener of `kind` on `port`, held by poll set `set`; its number.
    pub(crate) fn listen(&mut self, port: u16, kind: Kind, set: usize) -> usize {
        self.list.push(Listener {
            port,
            kind,
            backlog: VecDeque::new(),
            open: true,
            holders: vec![set],
            regs: Vec::new(),
        });
        self.list.len() - 1
    }

    /// Poll set `set` takes a handle to listener `l` too.
    pub(crate) fn share(&mut self, l: usize, set: usize) {
        self.list[l].holders.push(set);
    }

    /// The kind of connection listener `l` accepts.
    pub(crate) fn kind(&self, l: usize) -> Kind {
        self.list[l].kind
    }

    pub(crate) fn addr(&self, l: usize) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.list[l].port))
    }

    /// Listener `l`'s token in poll set `set`; and whether it is registered anywhere.
    pub(crate) fn token(&self, l: usize, set: usize) -> (Option<Token>, bool) {
        let regs = &self.list[l].regs;
        let here = regs.iter().find(|(s, _)| *s == set).map(|(_, t)| *t);
        (here, !regs.is_empty())
    }

    /// Register listener `l` in poll set `set` with `token` (or not at all); the token it
    /// had there.
    pub(crate) fn set_token(
        &mut self,
        l: usize,
        set: usize,
        token: Option<Token>,
    ) -> Option<Token> {
        let regs = &mut self.list[l].regs;
        let old = regs
            .iter()
            .position(|(s, _)| *s == set)
            .map(|i| regs.remove(i).1);
        if let Some(t) = token {
            regs.push((set, t));
        }
        old
    }

    /// Poll set `set` lets go of its handle to listener `l`: its token there, and, if that
    /// was the last handle (the listener closes), the connections that were waiting.
    pub(crate) fn release(&mut self, l: usize, set: usize) -> (Option<Token>, Option<Vec<usize>>) {
        let old = self.set_token(l, set, None);
        let listener = &mut self.list[l];
        if let Some(i) = listener.holders.iter().position(|s| *s == set) {
            listener.holders.swap_remove(i);
        }
        if !listener.holders.is_empty() {
            return (old, None);
        }
        listener.open = false;
        (old, Some(listener.backlog.drain(..).collect()))
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

    /// Tokens, in poll set `set`, of open listeners with nothing waiting.
    pub(crate) fn quiet_tokens(&self, set: usize) -> impl Iterator<Item = Token> + '_ {
        self.list
            .iter()
            .filter(|l| l.open && l.backlog.is_empty())
            .flat_map(move |l| l.regs.iter().filter(move |(s, _)| *s == set))
            .map(|(_, t)| *t)
    }

    /// Is `token` registered for a listener in poll set `set` now?
    pub(crate) fn holds(&self, set: usize, token: Token) -> bool {
        self.list.iter().any(|l| l.regs.contains(&(set, token)))
    }

    /// Open listeners poll set `set` holds.
    pub(crate) fn open_count(&self, set: usize) -> usize {
        self.list
            .iter()
            .filter(|l| l.open && l.holders.contains(&set))
            .count()
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
