//! Stream connections' I/O: read until drained and hand the bytes to the handler, queue the
//! handler's output (written at once when nothing is queued ahead of it), write queued output
//! with one vectored write at the end of the turn, finish an outgoing connect.
//!
//! Every decision is the connection's (`crate::conn`): this room asks it what to do, makes
//! the syscall, tells it what happened, and does what it answers.

use std::io::{self, IoSlice, Write};
use std::net::Shutdown;
use std::os::fd::{BorrowedFd, OwnedFd};

use super::core::Core;
use super::handler::Handler;
use super::ids::ConnId;
use super::registry::Key;
use crate::buf::{BufPool, WriteQueue, MAX_IOVECS};
use crate::conn::{FlushStep, Input, InputStep, NoRoom, Queued, ReadMode};
use crate::error::{stale, CloseReason};

impl Core {
    /// Read until `WouldBlock`, the read budget, or (TCP, unless `hup`) a short read.
    ///
    /// Edge-triggered epoll reports readiness once per arrival, so a reader must drain the
    /// socket. On TCP, a read that returns fewer bytes than asked for has drained it, and any
    /// byte arriving later raises a new event: so the usual extra `read` that only returns
    /// `WouldBlock` is skipped, one syscall per message saved. Exceptions: an event that also
    /// reported the peer's end of file, an error, or urgent data (`hup`): the end of file
    /// raises no event of its own, and a read stops short at the urgent mark, so those are
    /// read to the end. Unix streams always read to `WouldBlock`.
    pub(crate) fn read_conn<H: Handler>(&mut self, h: &mut H, key: Key, hup: bool) {
        let mut budget = self.config.read_budget;
        let limit = self.config.max_read_buffer;
        loop {
            let now = self.now;
            let Some((sock, conn)) = self.sources.conn_mut(key) else {
                return;
            };
            let mode = conn.read_mode();
            if mode == ReadMode::Ignore {
                return;
            }
            if budget == 0 {
                // More input may be waiting, but others get their turn first.
                return self.queue_read(key);
            }
            let deliver = mode == ReadMode::Deliver;
            // A record connection reads one whole record at a time: learn its size first.
            let peek = if deliver {
                sock.next_record_len()
            } else {
                None
            };
            let record = match peek {
                None => None,
                Some(Ok(len)) => Some(len),
                Some(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    let budget = self.admission.budget();
                    conn.on_input(now, Input::WouldBlock, &mut self.pool, budget);
                    return;
                }
                Some(Err(e)) => return self.close_now(key, CloseReason::from_io(e)),
            };
            let room = match conn.input_room(&mut self.pool, limit, record, self.admission.budget())
            {
                Ok(room) => room,
                Err(NoRoom::Close(reason)) => return self.close_now(key, reason),
                Err(NoRoom::Wait) => {
                    // Over the input budget: the bytes wait in the kernel, and TCP pushes
                    // back on the sender, until the budget admits this connection again.
                    self.wait_for_budget(key);
                    return;
                }
            };
            let asked = room.len();
            let (cmsg, fds_in) = self.scratch.fds_space();
            let input = match sock.read_fds(room, cmsg, fds_in) {
                Ok(0) if sock.read_empty_record() => Input::EmptyRecord,
                Ok(0) => Input::Eof,
                Ok(n) => Input::Bytes(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Input::WouldBlock,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Input::Failed(e),
            };
            let got = if let Input::Bytes(n) = input { n } else { 0 };
            self.stats.bytes_in += got as u64;
            budget = budget.saturating_sub(conn.read_cost(got));
            let drained = got < asked && !hup && sock.short_read_drains();
            let step = conn.on_input(now, input, &mut self.pool, self.admission.budget());
            if self.scratch.has_fds_in() {
                self.hand_over_fds(h, key, &step);
            }
            match step {
                InputStep::Deliver => {
                    self.deliver(h, key, drained);
                    if drained {
                        return;
                    }
                }
                InputStep::Discarded => {}
                InputStep::Drained | InputStep::Wait => return,
                InputStep::ReadClosed => {
                    self.call(h, Some(key), |h, cx| h.on_read_closed(cx, ConnId(key)));
                    return;
                }
                InputStep::Close(reason) => return self.close_now(key, reason),
            }
        }
    }

    /// Offer `key`'s unconsumed input to the handler; if the socket is `drained`, give the
    /// read block back afterwards unless input is left in it.
    fn deliver<H: Handler>(&mut self, h: &mut H, key: Key, drained: bool) {
        let Some((_, conn)) = self.sources.conn_mut(key) else {
            return;
        };
        // Moved out (no copy, no allocation) so the handler can borrow the bytes while the
        // context borrows the reactor, the connection's write queue included.
        let mut rbuf = conn.take_input();
        let used = self
            .call(h, Some(key), |h, cx| {
                h.on_data(cx, ConnId(key), rbuf.data())
            })
            .unwrap_or(rbuf.len());
        match self.sources.conn_mut(key) {
            Some((_, conn)) => {
                let budget = self.admission.budget();
                let restarted =
                    conn.restore_input(self.now, rbuf, used, drained, &mut self.pool, budget);
                if restarted {
                    self.rearm(key);
                }
            }
            // The handler closed the connection; the slot may even hold a new one now.
            None => rbuf.clear(&mut self.pool),
        }
    }

    /// Write as much queued output of `key` as the kernel takes, then do what the connection
    /// says comes next.
    pub(crate) fn flush<H: Handler>(&mut self, h: &mut H, key: Key) {
        let now = self.now;
        let Some((sock, conn)) = self.sources.conn_to_flush(key) else {
            return;
        };
        let mut wrote = false;
        loop {
            let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
            let n = conn.output(&mut slices);
            if n == 0 {
                break;
            }
            // Descriptors to send are rare: one emptiness check for everyone else.
            let pending = if self.fds_out.is_empty() {
                None
            } else {
                self.fds_out.get_mut(&key)
            };
            let result = match pending {
                None => sock.write_vectored(&slices[..n]),
                Some(out) => {
                    let r = out.write(sock, &slices[..n]);
                    if out.is_done() {
                        self.stats.fds_out += out.fds_sent();
                        self.fds_out.remove(&key);
                    }
                    r
                }
            };
            match result {
                Ok(0) => {
                    let err = io::Error::from(io::ErrorKind::WriteZero);
                    return self.close_now(key, CloseReason::Io(err));
                }
                Ok(written) => {
                    conn.on_written(now, written, &mut self.pool);
                    self.stats.bytes_out += written as u64;
                    wrote = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return self.close_now(key, CloseReason::from_io(e)),
            }
        }
        let done = conn.after_flush(now, wrote, self.config.low_watermark, self.config.linger);
        if done.read_again {
            // Edge-triggered: input that arrived meanwhile raised no event of its own.
            self.queue_read(key);
            self.rearm(key);
        }
        match done.step {
            FlushStep::Wait => {}
            FlushStep::Drained => self.drained(h, key),
            FlushStep::ShutdownWrite { drained } => {
                if self.send_fin(key) && drained {
                    self.drained(h, key);
                }
            }
            FlushStep::Close(reason) => self.close_now(key, reason),
            FlushStep::Linger { shutdown } => {
                if shutdown {
                    self.send_fin(key);
                }
            }
        }
    }

    fn drained<H: Handler>(&mut self, h: &mut H, key: Key) {
        self.call(h, Some(key), |h, cx| h.on_drained(cx, ConnId(key)));
    }

    /// Shut the write side down (send FIN); on failure, close as the connection says.
    fn send_fin(&mut self, key: Key) -> bool {
        let Some((sock, conn)) = self.sources.conn_mut(key) else {
            return false;
        };
        match sock.shutdown(Shutdown::Write) {
            Ok(()) => true,
            Err(e) => {
                let reason = conn.on_shutdown_failed(e);
                self.close_now(key, reason);
                false
            }
        }
    }

    /// Serve a writable connection: finish its connect if one is under way, then flush.
    pub(crate) fn conn_writable<H: Handler>(&mut self, h: &mut H, key: Key) {
        let Some((sock, conn)) = self.sources.conn_mut(key) else {
            return;
        };
        if conn.is_connecting() {
            let result = match sock.take_error() {
                Ok(Some(e)) | Err(e) => Err(e),
                // Writable with no error can still be a connect that has not finished on
                // some systems; `peer_addr` tells (mio's documented check).
                Ok(None) => sock.peer_addr().map(|_| ()),
            };
            match result {
                Ok(()) => {
                    conn.on_connected(self.now);
                    self.rearm(key);
                    self.call(h, Some(key), |h, cx| h.on_connect(cx, ConnId(key)));
                    // Input may already be waiting, and its event may have come before we
                    // stopped connecting.
                    self.read_conn(h, key, true);
                }
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return,
                Err(e) => return self.close_now(key, CloseReason::Io(e)),
            }
        } else if !conn.needs_flush() {
            // Nothing to write: the usual case, since every event for a socket with room in
            // its send buffer says writable, the read events included.
            return;
        }
        self.flush(h, key);
    }

    /// Give the descriptors of the read just made to the handler, before their bytes, if
    /// those bytes are going to it (`step` is `Deliver`); otherwise (input being discarded,
    /// the connection closing) close them.
    pub(crate) fn hand_over_fds<H: Handler>(&mut self, h: &mut H, key: Key, step: &InputStep) {
        let fds = self.scratch.take_fds_in();
        if matches!(step, InputStep::Deliver) {
            self.stats.fds_in += fds.len() as u64;
            self.call(h, Some(key), |h, cx| h.on_descriptors(cx, ConnId(key), fds));
        } else {
            log::debug!(
                "{} descriptors closed unread: the connection is not taking input",
                fds.len()
            );
        }
    }

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
