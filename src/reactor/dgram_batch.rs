//! IP datagram sockets, many datagrams per system call (with `Config::udp_batching`): one
//! `recvmmsg` takes a burst, the
//! handler is called for each datagram, and the replies it sends to the same socket meanwhile
//! are gathered and go out together with one `sendmmsg` (in order, before anything else is
//! sent on that socket). What the kernel will not take yet joins the socket's queue, sent
//! when it becomes writable, as for any datagram.

use std::io;
use std::os::fd::AsRawFd;

use log::{debug, warn};

use super::core::Core;
use super::dgram::DGRAM_OVERHEAD;
use super::handler::Handler;
use super::ids::DgramId;
use super::registry::Key;
use super::registry::Source;
use super::scratch::BATCH;
use super::socket::Dgram;
use crate::addr::PeerAddr;
use crate::sys::SendBatch;

/// The largest UDP payload over IPv4 (65,535 - 8 - 20); sends above it fail at once.
const MAX_UDP: usize = 65_507;

impl Core {
    /// The socket's descriptor, if `key` is an IP datagram socket.
    fn inet_fd(&self, key: Key) -> Option<i32> {
        if !self.config.udp_batching {
            return None;
        }
        match self.sources.get(key) {
            Some(Source::Dgram {
                sock: Dgram::Inet(s),
                ..
            }) => Some(s.as_raw_fd()),
            _ => None,
        }
    }

    /// Receive on the IP datagram socket `key` in batches, up to `Config::dgram_budget`
    /// datagrams. Returns false if `key` is not one (the caller reads it one at a time).
    pub(crate) fn read_inet_batch<H: Handler>(&mut self, h: &mut H, key: Key) -> bool {
        let Some(mut fd) = self.inet_fd(key) else {
            return false;
        };
        let mut batch = self.scratch.lend_recv_batch();
        let mut budget = self.config.dgram_budget;
        loop {
            if budget == 0 {
                // More may be waiting; others get their turn first.
                self.queue_read(key);
                break;
            }
            let n = match batch.recv(fd) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // An ICMP error for an earlier send (ECONNREFUSED and the like) is reported
                // once on the next call; it concerns no datagram in the queue.
                Err(e) => {
                    debug!("recvmmsg: {e}");
                    budget -= 1;
                    continue;
                }
            };
            self.scratch.set_batching(Some(key));
            for i in 0..n {
                let (data, truncated, from) = batch.get(i);
                let Some(from) = from else { continue };
                let peer = PeerAddr::Inet(crate::addr::unmap(from));
                if truncated {
                    self.stats.dgram_recv_dropped += 1;
                    warn!(
                        "dropped a datagram from {peer}: larger than {} bytes",
                        data.len()
                    );
                    continue;
                }
                self.stats.datagrams_in += 1;
                self.stats.bytes_in += data.len() as u64;
                self.call(h, None, |h, cx| {
                    h.on_datagram(cx, DgramId(key), data, &peer)
                });
            }
            self.scratch.set_batching(None);
            self.flush_send_batch(key);
            budget = budget.saturating_sub(n.max(1));
            // The handler may have closed the socket.
            match self.inet_fd(key) {
                Some(f) => fd = f,
                None => break,
            }
            // A short batch emptied the socket's queue: anything later raises a new edge.
            if n < BATCH {
                break;
            }
        }
        self.scratch.return_recv_batch(batch);
        true
    }

    /// During a batch on `key`, a reply to `peer` is gathered instead of sent (see the module
    /// docs). Returns `None` if it was not (another socket, or output already queued ahead).
    pub(crate) fn gather_reply(
        &mut self,
        key: Key,
        data: &[u8],
        peer: &PeerAddr,
    ) -> Option<io::Result<()>> {
        if !self.scratch.is_batching(key) {
            return None;
        }
        match self.sources.get(key) {
            Some(Source::Dgram { queue, .. }) if queue.is_empty() => {}
            _ => return None,
        }
        let Some(to) = peer.inet() else {
            return Some(Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "an IP socket cannot send to a Unix address",
            )));
        };
        if data.len() > MAX_UDP {
            return Some(Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a {}-byte datagram: at most {MAX_UDP} fit in one",
                    data.len()
                ),
            )));
        }
        self.scratch.gather(to, data);
        Some(Ok(()))
    }

    /// Send the replies gathered during a batch on `key`: one `sendmmsg` for as many as the
    /// kernel takes; the rest wait in the socket's queue (or, past its limit, are dropped and
    /// counted, as a failed send would be).
    fn flush_send_batch(&mut self, key: Key) {
        if !self.scratch.has_replies() {
            return;
        }
        let batch = self.scratch.lend_send_batch();
        let mut from = 0;
        if let Some(fd) = self.inet_fd(key) {
            while from < batch.len() {
                let (sent, err) = batch.send(fd, from);
                for i in from..from + sent {
                    self.stats.count_datagram_out(batch.get(i).1.len());
                }
                from += sent;
                match err {
                    None => break,
                    Some(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Some(e) => {
                        let (to, data) = batch.get(from);
                        self.stats.dgram_send_errors += 1;
                        warn!("dropping a {}-byte datagram to {to}: {e}", data.len());
                        from += 1;
                    }
                }
            }
        }
        self.queue_rest(key, &batch, from);
        self.scratch.return_send_batch(batch);
    }

    /// Queue datagrams `from..` of `batch` on `key` for when it becomes writable.
    fn queue_rest(&mut self, key: Key, batch: &SendBatch, from: usize) {
        let max_queue = self.config.max_dgram_queue;
        let Some(Source::Dgram {
            queue,
            queued_bytes,
            ..
        }) = self.sources.get_mut(key)
        else {
            return;
        };
        for i in from..batch.len() {
            let (to, data) = batch.get(i);
            let cost = data.len() + DGRAM_OVERHEAD;
            if *queued_bytes + cost > max_queue {
                self.stats.dgram_send_errors += 1;
                warn!(
                    "dropping a {}-byte datagram to {to}: the socket's queue is full",
                    data.len()
                );
                continue;
            }
            *queued_bytes += cost;
            queue.push_back((PeerAddr::Inet(to), data.to_vec()));
        }
    }
}
