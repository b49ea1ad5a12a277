//! [`Inbox`]: one connection end's receive queue (its socket buffer), with the boundaries a
//! Unix socket keeps.
//!
//! A TCP-like end's inbox is a byte stream. A Unix stream's is a byte stream of messages,
//! each the bytes of one send with the descriptors that came with it; a read joins messages
//! but stops after one that carried descriptors, which it hands over (Linux's
//! `unix_stream_read_generic`). A seqpacket end's is a queue of records, each read whole: a
//! read takes one record and drops what did not fit in the buffer. Descriptors waiting in an
//! inbox are owned by it, as the kernel holds a reference to each until it is received, and
//! close with it.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::os::fd::OwnedFd;

/// What kind of connection an end belongs to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Kind {
    /// TCP: bytes only.
    #[default]
    Tcp,
    /// A Unix stream: bytes, with descriptors.
    UnixStream,
    /// A Unix seqpacket connection: records, with descriptors.
    Seqpacket,
}

impl Kind {
    /// Does it carry descriptors (a Unix connection)?
    pub fn is_unix(self) -> bool {
        self != Kind::Tcp
    }
}

/// One send's bytes on a Unix end, and the descriptors that came with them.
#[derive(Debug)]
struct Message {
    len: usize,
    fds: Vec<OwnedFd>,
}

/// One end's receive queue (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct Inbox {
    kind: Kind,
    bytes: VecDeque<u8>,
    /// On a Unix end, the messages the bytes came in, in order (their lengths add up to the
    /// bytes'); empty on a TCP end.
    messages: VecDeque<Message>,
}

impl Inbox {
    pub(crate) fn new(kind: Kind) -> Inbox {
        Inbox {
            kind,
            ..Inbox::default()
        }
    }

    pub(crate) fn kind(&self) -> Kind {
        self.kind
    }

    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Drop everything waiting (the end closed): the bytes dropped. Descriptors close.
    pub(crate) fn clear(&mut self) -> usize {
        self.messages.clear();
        let n = self.bytes.len();
        self.bytes.clear();
        n
    }

    /// The length of the next record of a seqpacket end (`None` if none waits, or on
    /// another kind).
    pub(crate) fn record_len(&self) -> Option<usize> {
        match self.kind {
            Kind::Seqpacket => self.messages.front().map(|m| m.len),
            _ => None,
        }
    }

    /// How many of `total` bytes a send may put in `room`: a record goes whole or not at
    /// all; bytes as many as fit.
    pub(crate) fn fits(&self, total: usize, room: usize) -> usize {
        match self.kind {
            Kind::Seqpacket if total > room => 0,
            _ => total.min(room),
        }
    }

    /// Queue the first `n` bytes of `bufs`, as one send with `fds` attached (to its first
    /// byte; on a TCP end there are none).
    pub(crate) fn push(&mut self, bufs: &[IoSlice<'_>], n: usize, fds: Vec<OwnedFd>) {
        let mut left = n;
        for b in bufs {
            let take = left.min(b.len());
            self.bytes.extend(&b[..take]);
            left -= take;
        }
        if self.kind.is_unix() && n > 0 {
            self.messages.push_back(Message { len: n, fds });
        }
    }

    /// Read into `buf`, at most `max` bytes of it (a short read; a record is read whole
    /// regardless, as far as `buf` holds it): the bytes read, and the descriptors that came
    /// with them.
    pub(crate) fn take(&mut self, buf: &mut [u8], max: usize) -> (usize, Vec<OwnedFd>) {
        let mut fds = Vec::new();
        let n = match self.kind {
            Kind::Tcp => self.bytes.len().min(buf.len()).min(max),
            Kind::UnixStream => {
                let mut n = 0;
                let want = self.bytes.len().min(buf.len()).min(max);
                while n < want {
                    let Some(m) = self.messages.front_mut() else {
                        break;
                    };
                    let chunk = m.len.min(want - n);
                    n += chunk;
                    m.len -= chunk;
                    let carried = !m.fds.is_empty();
                    fds.append(&mut m.fds);
                    if m.len == 0 {
                        self.messages.pop_front();
                    }
                    if carried {
                        // A read stops after a message that carried descriptors.
                        break;
                    }
                }
                n
            }
            Kind::Seqpacket => {
                let Some(m) = self.messages.pop_front() else {
                    return (0, fds);
                };
                fds = m.fds;
                let n = m.len.min(buf.len());
                // What did not fit is dropped with the record.
                self.bytes.drain(n..m.len);
                n
            }
        };
        for (slot, byte) in buf.iter_mut().zip(self.bytes.drain(..n)) {
            *slot = byte;
        }
        (n, fds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fd() -> OwnedFd {
        std::os::unix::net::UnixStream::pair()
            .expect("socketpair")
            .0
            .into()
    }

    #[test]
    fn a_unix_stream_read_stops_after_descriptors() {
        let mut inbox = Inbox::new(Kind::UnixStream);
        inbox.push(&[IoSlice::new(b"ab")], 2, Vec::new());
        inbox.push(&[IoSlice::new(b"cd")], 2, vec![fd(), fd()]);
        inbox.push(&[IoSlice::new(b"ef")], 2, Vec::new());
        let mut buf = [0u8; 16];
        let (n, fds) = inbox.take(&mut buf, 16);
        assert_eq!((&buf[..n], fds.len()), (&b"abcd"[..], 2));
        let (n, fds) = inbox.take(&mut buf, 16);
        assert_eq!((&buf[..n], fds.len()), (&b"ef"[..], 0));
    }

    #[test]
    fn a_record_is_read_whole_and_its_excess_dropped() {
        let mut inbox = Inbox::new(Kind::Seqpacket);
        inbox.push(&[IoSlice::new(b"abc"), IoSlice::new(b"def")], 6, vec![fd()]);
        inbox.push(&[IoSlice::new(b"gh")], 2, Vec::new());
        assert_eq!(inbox.record_len(), Some(6));
        assert_eq!(inbox.fits(10, 9), 0);
        let mut buf = [0u8; 4];
        let (n, fds) = inbox.take(&mut buf, 1);
        assert_eq!((&buf[..n], fds.len()), (&b"abcd"[..], 1));
        let (n, _) = inbox.take(&mut buf, 4);
        assert_eq!(&buf[..n], b"gh");
        assert!(inbox.is_empty());
    }
}
