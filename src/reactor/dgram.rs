//! [`DgramSock`]: a datagram socket (UDP, ICMP or Unix) and the replies waiting for room in
//! the kernel's buffer.
//!
//! A datagram is sent at once when nothing waits ahead of it, else queued (bounded by
//! `Config::max_dgram_queue`, each datagram costing its bytes plus [`DGRAM_OVERHEAD`]) and
//! sent on the socket's writable event, in order. Receiving is one datagram per call here
//! ([`recv_one`](DgramSock::recv_one)); IP sockets with `Config::udp_batching` take many per
//! system call (`recvmmsg`, `sendmmsg`; the batches are `Scratch`'s, the loop the turn's), and
//! the replies a batch gathers that the kernel will not take yet join this queue
//! ([`send_batch`](DgramSock::send_batch)).

use std::collections::VecDeque;
use std::io;

use log::{debug, warn};

use super::socket::{BatchPort, Dgram};
use super::stats::Stats;
use crate::addr::PeerAddr;
use crate::sys::SendBatch;

/// What a queued datagram costs beyond its bytes (its address and bookkeeping), so that
/// empty ones are not free.
pub(crate) const DGRAM_OVERHEAD: usize = 64;

/// A datagram socket and its queue of datagrams waiting to be sent (see the module docs).
#[derive(Debug)]
pub(crate) struct DgramSock {
    sock: Dgram,
    /// Datagrams the kernel had no room for yet, in order.
    queue: VecDeque<(PeerAddr, Vec<u8>)>,
    /// What the queue costs (bytes plus overhead), against `Config::max_dgram_queue`.
    queued_bytes: usize,
    /// Batched sends use UDP segmentation offload (`Config::udp_offload`, where the kernel
    /// offers it; off for good after the kernel refuses it once).
    gso: bool,
}

/// What one receive did (see [`DgramSock::recv_one`]).
pub(crate) enum RecvOne {
    /// A datagram of this many bytes is in the buffer, its sender in the `peer` given.
    Got(usize),
    /// Nothing for the handler this time (an error reported for an earlier send, a datagram
    /// too large and dropped, an interrupted call): try again.
    Again,
    /// The socket is drained.
    Drained,
}

impl DgramSock {
    /// `sock`, with nothing queued; with the kernel's UDP offload if `offload` and it offers
    /// it.
    pub(crate) fn new(sock: Dgram, offload: bool) -> DgramSock {
        let gso = offload && sock.enable_offload();
        DgramSock {
            sock,
            queue: VecDeque::new(),
            queued_bytes: 0,
            gso,
        }
    }

    /// The socket.
    pub(crate) fn sock(&self) -> &Dgram {
        &self.sock
    }

    /// The socket, mutably (to register it).
    pub(crate) fn sock_mut(&mut self) -> &mut Dgram {
        &mut self.sock
    }

    /// The port of an IP socket, for batched calls; `None` for a Unix one.
    pub(crate) fn batch_port(&self) -> Option<BatchPort> {
        self.sock.batch_port(self.gso)
    }

    /// Is a datagram waiting to be sent?
    pub(crate) fn has_queued(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Receive one datagram into `buf` (grown, up to `limit`, for a Unix datagram larger
    /// than it: their size is learnt first, so that none is ever cut short without anyone
    /// knowing), its sender into `peer`.
    #[inline]
    pub(crate) fn recv_one(
        &mut self,
        buf: &mut Vec<u8>,
        peer: &mut PeerAddr,
        limit: usize,
        stats: &mut Stats,
    ) -> RecvOne {
        let mut too_big = None;
        match self.sock.next_len() {
            None => {}
            Some(Ok(len)) if len > buf.len() && len <= limit => buf.resize(len, 0),
            Some(Ok(len)) if len > buf.len() => too_big = Some(len),
            Some(Ok(_)) => {}
            Some(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => return RecvOne::Drained,
            Some(Err(e)) if e.kind() == io::ErrorKind::Interrupted => return RecvOne::Again,
            Some(Err(e)) => {
                debug!("recv_from: {e}");
                return RecvOne::Again;
            }
        }
        match self.sock.recv_from(buf, peer) {
            Ok(_) if too_big.is_some() => {
                stats.dgram_recv_dropped += 1;
                warn!(
                    "dropped a {}-byte datagram from {peer}: larger than max_read_buffer ({limit} bytes)",
                    too_big.unwrap_or(0)
                );
                RecvOne::Again
            }
            Ok(n) => {
                stats.datagrams_in += 1;
                stats.bytes_in += n as u64;
                RecvOne::Got(n)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => RecvOne::Drained,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => RecvOne::Again,
            // An ICMP error for an earlier send (ECONNREFUSED and the like) is reported once
            // on the next call; it concerns no datagram in the queue.
            Err(e) => {
                debug!("recv_from: {e}");
                RecvOne::Again
            }
        }
    }

    /// Send `data` to `peer` now if nothing waits ahead of it, else queue it (up to
    /// `max_queue`). A Unix datagram socket whose receiver is full refuses (`WouldBlock`)
    /// instead of queueing: no writable event would say when that receiver drains, and
    /// queueing would hold up every later reply, to any peer, behind it.
    #[inline]
    pub(crate) fn send_to(
        &mut self,
        data: &[u8],
        peer: &PeerAddr,
        max_queue: usize,
        stats: &mut Stats,
    ) -> io::Result<()> {
        if self.queue.is_empty() {
            loop {
                match self.sock.send_to(data, peer) {
                    Ok(_) => {
                        stats.count_datagram_out(data.len());
                        return Ok(());
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e)
                        if e.kind() == io::ErrorKind::WouldBlock
                            && self.sock.blocks_on_receiver() =>
                    {
                        return Err(e)
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
        }
        if !self.enqueue(peer.clone(), data, max_queue) {
            return Err(io::Error::from(io::ErrorKind::WouldBlock));
        }
        Ok(())
    }

    /// Queue `data` for `peer` if the queue has room; `false` if it has not.
    fn enqueue(&mut self, peer: PeerAddr, data: &[u8], max_queue: usize) -> bool {
        let cost = data.len() + DGRAM_OVERHEAD;
        if self.queued_bytes + cost > max_queue {
            return false;
        }
        self.queued_bytes += cost;
        self.queue.push_back((peer, data.to_vec()));
        true
    }

    /// Send queued datagrams until the kernel's buffer is full. One that fails for another
    /// reason is dropped, counted and logged.
    pub(crate) fn flush(&mut self, stats: &mut Stats) {
        while let Some((peer, data)) = self.queue.front() {
            match self.sock.send_to(data, peer) {
                Ok(_) => stats.count_datagram_out(data.len()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    stats.dgram_send_errors += 1;
                    warn!(
                        "dropping a queued {}-byte datagram to {peer}: {e}",
                        data.len()
                    );
                }
            }
            self.queued_bytes -= data.len() + DGRAM_OVERHEAD;
            self.queue.pop_front();
        }
    }

    /// Send the replies a receive batch gathered (`batch`) with `sendmmsg`, in order; what
    /// the kernel will not take joins the queue (up to `max_queue`).
    pub(crate) fn send_batch(&mut self, batch: &SendBatch, max_queue: usize, stats: &mut Stats) {
        let mut from = 0;
        while let Some(port) = self.batch_port().filter(|_| from < batch.len()) {
            let (sent, segmented, err) = port.send(batch, from);
            for i in from..from + sent {
                stats.count_datagram_out(batch.get(i).1.len());
            }
            stats.datagrams_segmented_out += segmented as u64;
            from += sent;
            match err {
                None => break,
                Some(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Some(e)
                    if self.gso
                        && batch.run_at(from, true) > 1
                        && crate::sys::offload::is_gso_refusal(&e) =>
                {
                    // The kernel or the device will not segment (a segmented message failed):
                    // the rest go one by one, and so does every later batch of this socket.
                    debug!("UDP segmentation offload refused ({e}): sending without it");
                    self.gso = false;
                }
                Some(e) => {
                    let (to, data) = batch.get(from);
                    stats.dgram_send_errors += 1;
                    warn!("dropping a {}-byte datagram to {to}: {e}", data.len());
                    from += 1;
                }
            }
        }
        for i in from..batch.len() {
            let (to, data) = batch.get(i);
            if !self.enqueue(PeerAddr::Inet(to), data, max_queue) {
                stats.dgram_send_errors += 1;
                warn!(
                    "dropping a {}-byte datagram to {to}: the socket's queue is full",
                    data.len()
                );
            }
        }
    }

    /// The socket is being closed: one last try at the queue, then drop (and count) what
    /// is left.
    pub(crate) fn close(mut self, stats: &mut Stats) {
        self.flush(stats);
        if !self.queue.is_empty() {
            stats.dgram_send_errors += self.queue.len() as u64;
            warn!("dropping {} queued datagram(s) at close", self.queue.len());
        }
    }
}
