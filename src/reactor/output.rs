//! Output that does not wait for the handler: queueing bytes on a connection (written at the
//! end of the turn by `stream`), and sending datagrams (at once, or queued while the kernel's
//! buffer is full and sent on the writable event).

use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};

use log::warn;

use super::core::Core;
use super::registry::Source;
use super::token::Key;
use crate::addr::PeerAddr;
use crate::buf::{BufPool, WriteQueue};
use crate::conn::Queued;
use crate::error::stale;

/// What one queued datagram costs against `Config::max_dgram_queue` beyond its bytes: its
/// address and vector.
pub(crate) const DGRAM_OVERHEAD: usize = 64;

impl Core {
    /// Queue output on `key` with `push`, which adds `len` bytes to the queue; the flush at
    /// the end of the turn writes it.
    pub(crate) fn queue_output(
        &mut self,
        key: Key,
        len: usize,
        push: impl FnOnce(&mut WriteQueue, &mut BufPool),
    ) -> io::Result<()> {
        let (high, cap) = (self.config.high_watermark, self.config.max_queued);
        let Some((_, conn)) = self.sources.conn_mut(key) else {
            return Err(stale());
        };
        match conn.queue(self.now, high, cap, len, &mut self.pool, push)? {
            Queued::Nothing => return Ok(()),
            Queued::Added => {}
            Queued::Started => self.rearm(key),
        }
        self.schedule_flush(key);
        Ok(())
    }

    /// Write `data` on `key` at once if nothing is queued ahead of it, and queue (copy) only
    /// what the kernel does not take.
    #[inline]
    pub(crate) fn write_now(&mut self, key: Key, data: &[u8]) -> io::Result<()> {
        use std::io::Write;
        let now = self.now;
        let Some((sock, conn)) = self.sources.conn_mut(key) else {
            return Err(stale());
        };
        let mut rest = data;
        if conn.can_write_directly() && !data.is_empty() {
            // Any failure other than a full buffer is left to the flush, which closes the
            // connection with it: the bytes are queued as if this write had not been tried.
            if let Ok(n) = sock.write(data) {
                conn.on_direct_write(now, n);
                self.stats.bytes_out += n as u64;
                rest = &data[n..];
            }
        }
        if rest.is_empty() {
            return Ok(());
        }
        self.queue_output(key, rest.len(), |q, pool| q.push_copy(rest, pool))
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

    /// Queue `data` on `key` with duplicates of `fds` to travel with its first byte.
    pub(crate) fn write_with_fds(
        &mut self,
        key: Key,
        data: &[u8],
        fds: &[BorrowedFd<'_>],
    ) -> io::Result<()> {
        let invalid = |msg: String| io::Error::new(io::ErrorKind::InvalidInput, msg);
        if data.is_empty() {
            return Err(invalid(
                "descriptors must travel with at least one byte".into(),
            ));
        }
        if fds.len() > crate::sys::MAX_FDS {
            return Err(invalid(format!(
                "{} descriptors in one write: at most {}",
                fds.len(),
                crate::sys::MAX_FDS
            )));
        }
        let Some((sock, conn)) = self.sources.conn(key) else {
            return Err(stale());
        };
        if !sock.passes_fds() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "only Unix stream and seqpacket connections pass descriptors",
            ));
        }
        let before = conn.queued() as u64;
        // Our own duplicates (close-on-exec), made before anything is queued: if this fails
        // (EMFILE) or the queue refuses the bytes, the caller's descriptors are untouched.
        let fds = fds
            .iter()
            .map(|fd| fd.try_clone_to_owned())
            .collect::<io::Result<Vec<OwnedFd>>>()?;
        let len = data.len();
        self.queue_output(key, len, |q, pool| q.push_copy(data, pool))?;
        self.fds_out.entry(key).or_default().push(before, fds);
        Ok(())
    }
}
