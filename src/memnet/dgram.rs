//! [`Dgrams`]: the in-memory network's datagram sockets (the reactor's, bound to ports of
//! 127.0.0.1) and the datagram peers the simulation plays.
//!
//! A datagram lands whole in its receiver's queue, or is dropped when that queue is full (as
//! UDP drops: the sender is not told), both ways; the drops are counted by peer. A Unix
//! socket's send to a full receiver is refused instead (`WouldBlock`, as Linux does for
//! Unix datagrams), and counted the same. Order is kept. (A UDP send that finds the sender's
//! own buffer full, `WouldBlock`, is a fault the world injects.)

use std::collections::VecDeque;
use std::net::SocketAddr;

use mio::Token;

/// Bytes a socket's or a peer's receive queue holds.
const QUEUE: usize = 64 * 1024;

/// Peers have ports from here up (127.0.0.1:40000 is peer 0).
pub(crate) const PEER_PORTS: u16 = 40000;

#[derive(Debug, Default)]
struct Queue {
    /// Datagrams with the port they came from.
    list: VecDeque<(u16, Vec<u8>)>,
    bytes: usize,
}

impl Queue {
    fn push(&mut self, from: u16, data: &[u8]) -> bool {
        if self.bytes + data.len() > QUEUE {
            return false;
        }
        self.bytes += data.len();
        self.list.push_back((from, data.to_vec()));
        true
    }

    fn pop(&mut self) -> Option<(u16, Vec<u8>)> {
        let (from, data) = self.list.pop_front()?;
        self.bytes -= data.len();
        Some((from, data))
    }
}

#[derive(Debug)]
struct Socket {
    port: u16,
    inbox: Queue,
    open: bool,
    /// The poll set it is registered in, with its token there.
    token: Option<(usize, Token)>,
    /// A Unix datagram socket (its peers have paths): a full receiver refuses.
    unix: bool,
}

/// What became of a datagram a socket sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sent {
    /// In the peer's queue.
    Delivered,
    /// Dropped on the way (a UDP peer's queue full, or no peer there).
    Dropped,
    /// Refused: a Unix peer's queue is full (`WouldBlock`).
    Refused,
}

/// The datagram sockets and peers of one network (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct Dgrams {
    socks: Vec<Socket>,
    peers: Vec<Queue>,
    /// Replies dropped because the peer's queue was full, by peer.
    lost: Vec<u64>,
}

impl Dgrams {
    /// A socket bound to `port` (a Unix one if `unix`); its number.
    pub(crate) fn bind(&mut self, port: u16, unix: bool) -> usize {
        self.socks.push(Socket {
            port,
            inbox: Queue::default(),
            open: true,
            token: None,
            unix,
        });
        self.socks.len() - 1
    }

    /// Is socket `d` a Unix one?
    pub(crate) fn is_unix(&self, d: usize) -> bool {
        self.socks[d].unix
    }

    pub(crate) fn addr(&self, d: usize) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.socks[d].port))
    }

    /// Register socket `d` with `token` in a poll set (or nowhere): the registration it had,
    /// and whether it has something to read.
    pub(crate) fn set_token(
        &mut self,
        d: usize,
        token: Option<(usize, Token)>,
    ) -> (Option<(usize, Token)>, bool) {
        let s = &mut self.socks[d];
        let old = std::mem::replace(&mut s.token, token);
        (old, !s.inbox.list.is_empty())
    }

    pub(crate) fn token(&self, d: usize) -> Option<(usize, Token)> {
        self.socks[d].token
    }

    /// Close socket `d`: its registration. What it had not read is dropped.
    pub(crate) fn close(&mut self, d: usize) -> Option<(usize, Token)> {
        let s = &mut self.socks[d];
        s.open = false;
        s.inbox = Queue::default();
        s.token.take()
    }

    /// The next datagram for socket `d`, with the address it came from.
    pub(crate) fn recv(&mut self, d: usize) -> Option<(Vec<u8>, SocketAddr)> {
        let (from, data) = self.socks[d].inbox.pop()?;
        Some((data, SocketAddr::from(([127, 0, 0, 1], from))))
    }

    /// Socket `d` sends `data` to `to` (see [`Sent`]).
    pub(crate) fn send(&mut self, d: usize, data: &[u8], to: SocketAddr) -> Sent {
        let port = self.socks[d].port;
        let Some(peer) = to.port().checked_sub(PEER_PORTS).map(usize::from) else {
            return Sent::Dropped;
        };
        let Some(queue) = self.peers.get_mut(peer) else {
            return Sent::Dropped;
        };
        if queue.push(port, data) {
            return Sent::Delivered;
        }
        self.lost[peer] += 1;
        if self.socks[d].unix {
            Sent::Refused
        } else {
            Sent::Dropped
        }
    }

    /// A new peer: its number.
    pub(crate) fn new_peer(&mut self) -> usize {
        self.peers.push(Queue::default());
        self.lost.push(0);
        self.peers.len() - 1
    }

    /// Peer `p` sends `data` to `port`: the socket it reached (`None`: nothing open there,
    /// or its queue full, and the datagram is lost).
    pub(crate) fn peer_send(&mut self, p: usize, port: u16, data: &[u8]) -> Option<usize> {
        let d = self.socks.iter().position(|s| s.open && s.port == port)?;
        let from = PEER_PORTS + p as u16;
        self.socks[d].inbox.push(from, data).then_some(d)
    }

    /// Peer `p` takes every datagram waiting for it.
    pub(crate) fn peer_recv(&mut self, p: usize) -> Vec<Vec<u8>> {
        let mut got = Vec::new();
        while let Some((_, data)) = self.peers[p].pop() {
            got.push(data);
        }
        got
    }

    /// Replies to peer `p` dropped because its queue was full.
    pub(crate) fn lost(&self, p: usize) -> u64 {
        self.lost[p]
    }

    /// Tokens, in poll set `set`, of open sockets with nothing to read.
    pub(crate) fn quiet_tokens(&self, set: usize) -> impl Iterator<Item = Token> + '_ {
        self.socks
            .iter()
            .filter(|s| s.open && s.inbox.list.is_empty())
            .filter_map(move |s| s.token.filter(|(s, _)| *s == set).map(|(_, t)| t))
    }

    /// Is `token` registered for a socket in poll set `set` now?
    pub(crate) fn holds(&self, set: usize, token: Token) -> bool {
        self.socks.iter().any(|s| s.token == Some((set, token)))
    }

    /// Open sockets registered in poll set `set`.
    pub(crate) fn open_count(&self, set: usize) -> usize {
        self.socks
            .iter()
            .filter(|s| s.open && s.token.is_some_and(|(s, _)| s == set))
            .count()
    }
}
