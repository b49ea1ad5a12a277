//! Descriptors passed over Unix connections (`SCM_RIGHTS`): queued with bytes, sent with the
//! first of them, and received ones handed to the handler.
//!
//! Sending: [`Context::write_with_fds`] queues the bytes like any write and records, beside
//! the connection, *where* in its output the descriptors go (a byte count ahead of the write
//! position). The flush writes up to that point as usual, then makes one `sendmsg` with the
//! descriptors attached and at most the bytes up to the next such point; the kernel hands the
//! peer its own duplicates and ours are closed. Connections that never pass a descriptor pay
//! one `is_empty` check per flush.
//!
//! Receiving: Unix stream and seqpacket connections read with `recvmsg` (`MSG_CMSG_CLOEXEC`),
//! and descriptors that arrive go to [`Handler::on_descriptors`] before the bytes that came
//! with them are offered to `on_data`. The default closes them: a descriptor is never leaked,
//! whatever the handler does.
//!
//! [`Context::write_with_fds`]: super::Context::write_with_fds
//! [`Handler::on_descriptors`]: super::Handler::on_descriptors

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// A connection that can send descriptors with its bytes (a Unix stream or seqpacket one).
pub(crate) trait SendFds: io::Write {
    /// Write `bufs` with `fds` attached (`sendmsg` with `SCM_RIGHTS`).
    fn send_with_fds(&mut self, bufs: &[IoSlice<'_>], fds: &[RawFd]) -> io::Result<usize>;
}

/// A connection's descriptors waiting to be sent.
#[derive(Debug, Default)]
pub(crate) struct FdsOut {
    /// Bytes written since this record began.
    sent: u64,
    /// Where each batch goes (in `sent`'s count: its first byte), in order.
    marks: VecDeque<(u64, Vec<OwnedFd>)>,
    /// Descriptors sent (for the stats, collected when the record is done).
    fds_sent: u64,
}

impl FdsOut {
    /// Descriptors sent so far (for the stats).
    pub(crate) fn fds_sent(&self) -> u64 {
        self.fds_sent
    }

    /// Send `fds` with the first byte of a write queued behind `queued_before` bytes of
    /// output.
    pub(crate) fn push(&mut self, queued_before: u64, fds: Vec<OwnedFd>) {
        let at = self.sent + queued_before;
        self.marks.push_back((at, fds));
    }

    /// Write `slices` (the connection's queued output) to `sock`, honouring the marks: never
    /// past the next mark without its descriptors, and the descriptors with the byte at it.
    /// Returns the bytes written, as `write_vectored` would.
    pub(crate) fn write(
        &mut self,
        sock: &mut impl SendFds,
        slices: &[IoSlice<'_>],
    ) -> io::Result<usize> {
        let Some((at, fds)) = self.marks.front() else {
            return sock.write_vectored(slices);
        };
        let ahead = (at - self.sent) as usize;
        let mut sent_fds = 0;
        let n = if ahead > 0 {
            let mut cut = [IoSlice::new(&[]); crate::buf::MAX_IOVECS];
            let k = truncate(slices, ahead, &mut cut);
            sock.write_vectored(&cut[..k])?
        } else {
            // With the descriptors: as far as the next mark at most.
            let limit = self
                .marks
                .get(1)
                .map_or(usize::MAX, |(next, _)| (next - at) as usize);
            let mut cut = [IoSlice::new(&[]); crate::buf::MAX_IOVECS];
            let k = truncate(slices, limit, &mut cut);
            let raw: Vec<RawFd> = fds.iter().map(|fd| fd.as_raw_fd()).collect();
            let n = sock.send_with_fds(&cut[..k], &raw)?;
            // The peer has its duplicates now; ours close here.
            if let Some((_, fds)) = self.marks.pop_front() {
                sent_fds = fds.len();
            }
            n
        };
        self.sent += n as u64;
        self.fds_sent += sent_fds as u64;
        Ok(n)
    }

    /// Nothing left to send with descriptors.
    pub(crate) fn is_done(&self) -> bool {
        self.marks.is_empty()
    }
}

/// Copy `slices` into `out`, cut to at most `limit` bytes; returns how many of `out` are used.
fn truncate<'b>(slices: &'b [IoSlice<'_>], mut limit: usize, out: &mut [IoSlice<'b>]) -> usize {
    let mut k = 0;
    for s in slices {
        if limit == 0 || k == out.len() {
            break;
        }
        let bytes: &'b [u8] = s;
        let take = bytes.len().min(limit);
        out[k] = IoSlice::new(&bytes[..take]);
        limit -= take;
        k += 1;
    }
    k
}
