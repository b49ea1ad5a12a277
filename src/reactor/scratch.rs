//! [`Scratch`]: the I/O space a reactor lends to one call at a time.
//!
//! It owns the buffers that are needed only during a system call and the handler calls it
//! feeds, so that no connection carries them: the datagram receive buffer (one for all
//! datagram sockets, made with the first of them), the control-message space and the
//! descriptors of the read just made (Unix connections passing `SCM_RIGHTS`), and the batch
//! arrays of `recvmmsg`/`sendmmsg` with the socket whose batch is being handled. A piece is
//! lent (taken out) for the length of one call and given back after, so that the handler can
//! be called while the bytes are borrowed.

use std::io;
use std::os::fd::OwnedFd;

use super::registry::Key;
use crate::addr::PeerAddr;
use crate::sys::{RecvBatch, SendBatch};

/// The largest UDP payload (65535 - 8 byte UDP header - 20 byte IPv4 header), rounded up to a
/// size that also fits any IPv6 datagram without jumbograms: the datagram buffer's size.
pub(crate) const DGRAM_BUF: usize = 65536;

/// Datagrams taken per `recvmmsg`.
pub(crate) const BATCH: usize = 16;

/// The largest UDP payload over IPv4.
const MAX_UDP: usize = 65_507;

/// The reactor's scratch space (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    dgram_buf: Vec<u8>,
    cmsg: Vec<u8>,
    fds_in: Vec<OwnedFd>,
    recv_batch: Option<Box<RecvBatch>>,
    send_batch: SendBatch,
    /// The datagram socket whose batch is being handled: replies to it are gathered.
    batching: Option<Key>,
}

impl Scratch {
    /// Make the datagram buffer, if no datagram socket has yet.
    pub(crate) fn ensure_dgram_buf(&mut self) {
        if self.dgram_buf.is_empty() {
            self.dgram_buf = vec![0; DGRAM_BUF];
        }
    }

    /// Lend the datagram buffer; give it back with [`return_dgram_buf`](Scratch::return_dgram_buf).
    pub(crate) fn lend_dgram_buf(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.dgram_buf)
    }

    /// Give back the datagram buffer (grown, perhaps, for a large Unix datagram).
    pub(crate) fn return_dgram_buf(&mut self, buf: Vec<u8>) {
        self.dgram_buf = buf;
    }

    /// The control-message space and the list the descriptors of one read go to.
    #[inline]
    pub(crate) fn fds_space(&mut self) -> (&mut Vec<u8>, &mut Vec<OwnedFd>) {
        (&mut self.cmsg, &mut self.fds_in)
    }

    /// Did the last read bring descriptors?
    #[inline]
    pub(crate) fn has_fds_in(&self) -> bool {
        !self.fds_in.is_empty()
    }

    /// The descriptors the last read brought.
    pub(crate) fn take_fds_in(&mut self) -> Vec<OwnedFd> {
        std::mem::take(&mut self.fds_in)
    }

    /// Lend the `recvmmsg` arrays (made on first use); give them back with
    /// [`return_recv_batch`](Scratch::return_recv_batch).
    pub(crate) fn lend_recv_batch(&mut self) -> Box<RecvBatch> {
        self.recv_batch
            .take()
            .unwrap_or_else(|| Box::new(RecvBatch::new(BATCH, DGRAM_BUF)))
    }

    /// Give back the `recvmmsg` arrays.
    pub(crate) fn return_recv_batch(&mut self, batch: Box<RecvBatch>) {
        self.recv_batch = Some(batch);
    }

    /// Replies to `key` are gathered from now on (`None`: no batch is being handled).
    pub(crate) fn set_batching(&mut self, key: Option<Key>) {
        self.batching = key;
    }

    /// Is a batch on `key` being handled?
    #[inline]
    pub(crate) fn is_batching(&self, key: Key) -> bool {
        self.batching == Some(key)
    }

    /// Gather a reply of the batch being handled, to be sent with the others; refused if it
    /// cannot go out on an IP socket.
    pub(crate) fn gather(&mut self, data: &[u8], peer: &PeerAddr) -> io::Result<()> {
        let Some(to) = peer.inet() else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "an IP socket cannot send to a Unix address",
            ));
        };
        if data.len() > MAX_UDP {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a {}-byte datagram: at most {MAX_UDP} fit in one",
                    data.len()
                ),
            ));
        }
        self.send_batch.push(to, data);
        Ok(())
    }

    /// Lend the gathered replies (empty if there are none); give the arrays back with
    /// [`return_send_batch`](Scratch::return_send_batch).
    pub(crate) fn lend_send_batch(&mut self) -> SendBatch {
        std::mem::take(&mut self.send_batch)
    }

    /// Give back the `sendmmsg` arrays, emptied.
    pub(crate) fn return_send_batch(&mut self, mut batch: SendBatch) {
        batch.clear();
        self.send_batch = batch;
    }

    /// Are replies gathered and not yet sent?
    pub(crate) fn has_replies(&self) -> bool {
        !self.send_batch.is_empty()
    }
}
