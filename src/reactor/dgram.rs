//! Receiving datagrams (UDP and Unix) and signals: read a batch per event and call the
//! handler for each one. IP sockets take many datagrams per call (`dgram_batch.rs`); Unix
//! ones, whose datagrams can be far larger, are read one at a time after a peek at the size.

use std::io;

use log::{debug, warn};

use super::core::Core;
use super::handler::Handler;
use super::registry::Source;
use super::token::{DgramId, Key};

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
}
