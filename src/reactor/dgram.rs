//! Datagram sockets' I/O (UDP and Unix) and signals: read a batch per event and call the
//! handler for each one; send a datagram at once, or queue it while the kernel's buffer is
//! full and send it on the writable event. IP sockets take many datagrams per call (`dgram_batch.rs`); Unix
//! ones, whose datagrams can be far larger, are read one at a time after a peek at the size.

use std::io;

use log::{debug, warn};

use super::core::Core;
use super::handler::Handler;
use super::ids::DgramId;
use super::registry::Key;
use super::registry::Source;
use crate::addr::PeerAddr;
use crate::error::stale;

/// What one queued datagram costs against `Config::max_dgram_queue` beyond its bytes: its
/// address and vector.
pub(crate) const DGRAM_OVERHEAD: usize = 64;

impl Core {
    /// Receive up to `Config::dgram_budget` datagrams on `key`.
    pub(crate) fn read_dgram<H: Handler>(&mut self, h: &mut H, key: Key) {
        if self.read_inet_batch(h, key) {
            return;
        }
        let mut buf = self.scratch.lend_dgram_buf();
        let limit = self.config.max_read_buffer;
        for _ in 0..self.config.dgram_budget {
            let Some(Source::Dgram { sock, .. }) = self.sources.get_mut(key) else {
                break;
            };
            // A Unix datagram can be far larger than a UDP one (up to the sender's SO_SNDBUF):
            // learn its size first, so that it is never cut short without anyone knowing.
            let mut too_big = None;
            match sock.next_len() {
                None => {}
                Some(Ok(len)) if len > buf.len() && len <= limit => buf.resize(len, 0),
                Some(Ok(len)) if len > buf.len() => too_big = Some(len),
                Some(Ok(_)) => {}
                Some(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.scratch.return_dgram_buf(buf);
                    return;
                }
                Some(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Some(Err(e)) => {
                    debug!("recv_from: {e}");
                    continue;
                }
            }
            match sock.recv_from(&mut buf) {
                Ok((_, peer)) if too_big.is_some() => {
                    self.stats.dgram_recv_dropped += 1;
                    warn!(
                        "dropped a {}-byte datagram from {peer}: larger than max_read_buffer ({limit} bytes)",
                        too_big.unwrap_or(0)
                    );
                }
                Ok((n, peer)) => {
                    self.stats.datagrams_in += 1;
                    self.stats.bytes_in += n as u64;
                    self.call(h, None, |h, cx| {
                        h.on_datagram(cx, DgramId(key), &buf[..n], &peer)
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.scratch.return_dgram_buf(buf);
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // An ICMP error for an earlier send (ECONNREFUSED and the like) is reported
                // once on the next call; it concerns no datagram in the queue.
                Err(e) => debug!("recv_from: {e}"),
            }
        }
        self.scratch.return_dgram_buf(buf);
        self.queue_read(key);
    }

    /// Read every pending signal and hand each to the handler.
    pub(crate) fn read_signals<H: Handler>(&mut self, h: &mut H, key: Key) {
        loop {
            let Some(Source::Signals(signals)) = self.sources.get_mut(key) else {
                return;
            };
            match signals.read() {
                Ok(Some(signo)) => {
                    self.call(h, None, |h, cx| h.on_signal(cx, signo));
                }
                Ok(None) => return,
                Err(e) => {
                    warn!("reading signals: {e}");
                    return;
                }
            }
        }
    }

    /// Send one datagram from `key` to `peer`, or queue it if the kernel's buffer is full.
    pub(crate) fn send_to(&mut self, key: Key, data: &[u8], peer: PeerAddr) -> io::Result<()> {
        if let Some(gathered) = self.gather_reply(key, data, &peer) {
            return gathered;
        }
        let max_queue = self.config.max_dgram_queue;
        let Some(Source::Dgram {
            sock,
            queue,
            queued_bytes,
        }) = self.sources.get_mut(key)
        else {
            return Err(stale());
        };
        if queue.is_empty() {
            loop {
                match sock.send_to(data, &peer) {
                    Ok(_) => {
                        self.stats.count_datagram_out(data.len());
                        return Ok(());
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    // Queueing would hold up every later reply, to any peer, behind one peer
                    // that does not read. Refuse.
                    Err(e)
                        if e.kind() == io::ErrorKind::WouldBlock && sock.blocks_on_receiver() =>
                    {
                        return Err(e)
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
        }
        // Each queued datagram also costs its bookkeeping, so empty ones are not free.
        let cost = data.len() + DGRAM_OVERHEAD;
        if *queued_bytes + cost > max_queue {
            return Err(io::Error::from(io::ErrorKind::WouldBlock));
        }
        *queued_bytes += cost;
        queue.push_back((peer, data.to_vec()));
        Ok(())
    }

    /// Send the datagrams queued on `key`, in order, until the kernel's buffer is full.
    pub(crate) fn flush_dgram(&mut self, key: Key) {
        let Some(Source::Dgram {
            sock,
            queue,
            queued_bytes,
        }) = self.sources.get_mut(key)
        else {
            return;
        };
        while let Some((peer, data)) = queue.front() {
            match sock.send_to(data, peer) {
                Ok(_) => self.stats.count_datagram_out(data.len()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.stats.dgram_send_errors += 1;
                    warn!(
                        "dropping a queued {}-byte datagram to {peer}: {e}",
                        data.len()
                    );
                }
            }
            *queued_bytes -= data.len() + DGRAM_OVERHEAD;
            queue.pop_front();
        }
    }
}
