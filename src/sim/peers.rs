//! [`DgramPeers`]: the datagram peers the simulation plays against the upper-casing service,
//! what each sent and got back, and the model their replies are checked against.
//!
//! A peer's datagram either reaches the service's socket (it is then owed a reply) or is
//! lost on the way in (the socket closed, or its queue full: not counted as sent). A reply
//! either reaches the peer or is dropped at its full queue, which the network counts. So the
//! replies received are the datagrams sent, upper-cased, in order, less the dropped ones.

use crate::memnet::Net;

/// The port of the upper-casing datagram service (the course's UDP server), in memory.
pub const UDP_PORT: u16 = 11111;

/// The same service on a Unix datagram socket (`/sim/dgram-11112`), in memory.
pub const UNIX_PORT: u16 = 11112;

/// What the simulation knows of one datagram peer.
#[derive(Debug, Default)]
struct Peer {
    /// Datagrams that reached the service's socket, in order.
    sent: Vec<Vec<u8>>,
    /// Replies received, in order.
    received: Vec<Vec<u8>>,
    /// It talks to the Unix datagram socket (else to the UDP one).
    unix: bool,
}

/// The datagram peers of one simulation (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct DgramPeers(Vec<Peer>);

impl DgramPeers {
    /// A new peer on `net`, of the Unix socket if `unix` (else of the UDP one): its number.
    pub(crate) fn add(&mut self, net: &Net, unix: bool) -> usize {
        self.0.push(Peer {
            unix,
            ..Peer::default()
        });
        net.dgram_peer()
    }

    /// Peer `p` sends `data` to the service: `false` if it was lost on the way in.
    pub(crate) fn send(&mut self, net: &Net, p: usize, data: &[u8]) -> bool {
        let port = if self.0[p].unix { UNIX_PORT } else { UDP_PORT };
        let delivered = net.peer_send(p, port, data);
        if delivered {
            self.0[p].sent.push(data.to_vec());
        }
        delivered
    }

    /// Peer `p` takes the replies waiting for it.
    pub(crate) fn recv(&mut self, net: &Net, p: usize) {
        let got = net.peer_recv(p);
        self.0[p].received.extend(got);
    }

    /// How many peers there are.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// Peer `p`'s datagrams so far: `(sent, replies received, replies dropped at its queue)`.
    pub(crate) fn counts(&self, net: &Net, p: usize) -> (usize, usize, usize) {
        let peer = &self.0[p];
        (
            peer.sent.len(),
            peer.received.len(),
            net.peer_lost(p) as usize,
        )
    }

    /// Each peer's replies are its datagrams upper-cased, in order, less the dropped ones.
    pub(crate) fn check(&self, net: &Net) -> Result<(), String> {
        for (i, p) in self.0.iter().enumerate() {
            let lost = net.peer_lost(i) as usize;
            let mut answers = p.sent.iter().map(|s| s.to_ascii_uppercase());
            let in_order = p.received.iter().all(|r| answers.any(|a| a == *r));
            if !in_order || p.received.len() + lost > p.sent.len() {
                return Err(format!(
                    "datagram peer {i}: {} replies ({lost} lost) to {} datagrams, not each its datagram upper-cased, in order",
                    p.received.len(),
                    p.sent.len(),
                ));
            }
        }
        Ok(())
    }
}
