//! Many datagrams per system call: `recvmmsg(2)` into a set of buffers made once, and
//! `sendmmsg(2)` from a batch of replies gathered in one arena. Used by the reactor for IP
//! datagram sockets, so that a burst of datagrams costs one receive and one send call. With
//! UDP offload (`offload.rs`) one slot of a receive may hold a run of datagrams glued
//! together ([`RecvBatch::segment`] says how to cut it), and a send gives each run of replies
//! of one size to one destination to the kernel as one message.

use std::io;
use std::net::SocketAddr;
use std::os::fd::RawFd;

use super::offload::{self, CONTROL_WORDS, RECV_CONTROL_WORDS};

/// Buffers for up to `n` datagrams of up to `cap` bytes each, received with one call.
pub struct RecvBatch {
    cap: usize,
    data: Vec<u8>,
    addrs: Vec<libc::sockaddr_storage>,
    iovs: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
    /// Control space for each slot (a `UDP_GRO` segment size).
    control: Vec<[u64; RECV_CONTROL_WORDS]>,
}

// The raw pointers inside are only into the batch's own vectors, rebuilt before each call.
// SAFETY: nothing in a RecvBatch is shared with another thread; moving it is moving its Vecs.
unsafe impl Send for RecvBatch {}

impl std::fmt::Debug for RecvBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RecvBatch({} x {} bytes)", self.hdrs.len(), self.cap)
    }
}

impl RecvBatch {
    /// Room for `n` datagrams of `cap` bytes (the memory is only touched as datagrams fill it).
    pub fn new(n: usize, cap: usize) -> RecvBatch {
        let n = n.max(1);
        // SAFETY: sockaddr_storage and mmsghdr are plain C data; zeroed is a valid value,
        // and every pointer in them is set before a call uses it.
        let (addrs, hdrs) = unsafe {
            (
                vec![std::mem::zeroed::<libc::sockaddr_storage>(); n],
                vec![std::mem::zeroed::<libc::mmsghdr>(); n],
            )
        };
        RecvBatch {
            cap,
            data: vec![0; n * cap],
            addrs,
            iovs: vec![
                libc::iovec {
                    iov_base: std::ptr::null_mut(),
                    iov_len: 0
                };
                n
            ],
            hdrs,
            control: vec![[0; RECV_CONTROL_WORDS]; n],
        }
    }

    /// Receive up to the batch's size from `fd` without waiting. Returns how many came.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when none is waiting; any other error of `recvmmsg(2)`.
    pub fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        let n = self.hdrs.len();
        for i in 0..n {
            self.iovs[i] = libc::iovec {
                // SAFETY: i * cap is within `data` (n * cap bytes long).
                iov_base: unsafe { self.data.as_mut_ptr().add(i * self.cap) }.cast(),
                iov_len: self.cap,
            };
            let h = &mut self.hdrs[i].msg_hdr;
            h.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast();
            h.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_iov = &mut self.iovs[i];
            h.msg_iovlen = 1;
            h.msg_control = self.control[i].as_mut_ptr().cast();
            h.msg_controllen = std::mem::size_of::<[u64; RECV_CONTROL_WORDS]>() as _;
            h.msg_flags = 0;
            self.hdrs[i].msg_len = 0;
        }
        // SAFETY: every header points to its own iovec, buffer slice and address storage,
        // all alive and unaliased for the call; vlen is the headers' count.
        let got = unsafe {
            libc::recvmmsg(
                fd,
                self.hdrs.as_mut_ptr(),
                n as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if got < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(got as usize)
    }

    /// The kernel's side of [`RecvBatch::recv`], for a simulated socket: fill the slots in
    /// order, `next` writing one datagram into the slot's buffer and returning its whole
    /// length and its sender (`Ok(None)`: no more). Each result is laid out as `recvmmsg`
    /// lays it out (`msg_len`, `MSG_TRUNC`, the sender's `sockaddr`), so that
    /// [`RecvBatch::get`] reads it as it reads the kernel's. Returns how many came.
    ///
    /// # Errors
    ///
    /// `next`'s error if it fails on the first slot (`WouldBlock` for none, as
    /// `recvmmsg`); a later failure ends the batch instead.
    pub fn fill(
        &mut self,
        mut next: impl FnMut(&mut [u8]) -> io::Result<Option<(usize, SocketAddr)>>,
    ) -> io::Result<usize> {
        let mut got = 0;
        while got < self.hdrs.len() {
            let slot = &mut self.data[got * self.cap..(got + 1) * self.cap];
            let (len, from) = match next(slot) {
                Ok(Some(one)) => one,
                Ok(None) if got == 0 => return Err(io::ErrorKind::WouldBlock.into()),
                Err(e) if got == 0 => return Err(e),
                Ok(None) | Err(_) => break,
            };
            let name = socket2::SockAddr::from(from);
            let hdr = &mut self.hdrs[got];
            hdr.msg_hdr.msg_control = std::ptr::null_mut();
            hdr.msg_hdr.msg_controllen = 0;
            hdr.msg_len = len.min(self.cap) as libc::c_uint;
            hdr.msg_hdr.msg_flags = if len > self.cap { libc::MSG_TRUNC } else { 0 };
            hdr.msg_hdr.msg_namelen = name.len();
            // SAFETY: `name` holds `name.len()` bytes of a socket address, at most the size
            // of a sockaddr_storage, which the slot's storage is; the two do not overlap.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    name.as_ptr().cast::<u8>(),
                    (&mut self.addrs[got] as *mut libc::sockaddr_storage).cast::<u8>(),
                    name.len() as usize,
                );
            }
            got += 1;
        }
        Ok(got)
    }

    /// With receive coalescing (`UDP_GRO`), the size the datagrams glued in slot `i` of the
    /// last receive each have, but the last (which may be shorter); `None` for a slot that
    /// holds one datagram.
    pub fn segment(&self, i: usize) -> Option<usize> {
        offload::gro_segment(&self.hdrs[i].msg_hdr)
    }

    /// Was slot `i`'s control data cut short (`MSG_CTRUNC`: more than the slot's room)? Then
    /// [`segment`](RecvBatch::segment) cannot be trusted to say "not glued".
    pub fn control_cut(&self, i: usize) -> bool {
        self.hdrs[i].msg_hdr.msg_flags & libc::MSG_CTRUNC != 0
    }

    /// Datagram `i` of the last receive: its bytes, whether it was cut short (larger than
    /// the buffer), and the sender.
    pub fn get(&self, i: usize) -> (&[u8], bool, Option<SocketAddr>) {
        let len = (self.hdrs[i].msg_len as usize).min(self.cap);
        let truncated = self.hdrs[i].msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
        let data = &self.data[i * self.cap..i * self.cap + len];
        let name = (&self.addrs[i] as *const libc::sockaddr_storage).cast::<libc::sockaddr>();
        // SAFETY: the kernel wrote a socket address of msg_namelen bytes into the storage.
        let from =
            unsafe { super::resolve::sockaddr_to_std(name, self.hdrs[i].msg_hdr.msg_namelen) };
        (data, truncated, from)
    }
}

/// Replies gathered for one `sendmmsg(2)`: their bytes in one arena, and where each goes.
#[derive(Debug, Default)]
pub struct SendBatch {
    data: Vec<u8>,
    msgs: Vec<(socket2::SockAddr, usize, usize)>,
}

impl SendBatch {
    /// Add a datagram.
    pub fn push(&mut self, to: SocketAddr, data: &[u8]) {
        let start = self.data.len();
        self.data.extend_from_slice(data);
        self.msgs.push((to.into(), start, data.len()));
    }

    /// Datagrams waiting.
    pub fn len(&self) -> usize {
        self.msgs.len()
    }

    /// Nothing waiting?
    pub fn is_empty(&self) -> bool {
        self.msgs.is_empty()
    }

    /// The datagram at `i`: its destination and bytes.
    pub fn get(&self, i: usize) -> (SocketAddr, &[u8]) {
        let (to, start, len) = &self.msgs[i];
        let addr = to
            .as_socket()
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
        (addr, &self.data[*start..*start + *len])
    }

    /// Forget everything (the memory is kept for the next batch).
    pub fn clear(&mut self) {
        self.data.clear();
        self.msgs.clear();
    }

    /// The kernel's side of [`SendBatch::send`], for a simulated socket: `one` sends each
    /// datagram from `from` in turn, until one fails (one interrupted by a signal is tried
    /// again); the same result as [`SendBatch::send`].
    pub fn send_each(
        &self,
        from: usize,
        mut one: impl FnMut(SocketAddr, &[u8]) -> io::Result<()>,
    ) -> (usize, Option<io::Error>) {
        let mut sent = 0;
        while from + sent < self.msgs.len() {
            let (to, data) = self.get(from + sent);
            match one(to, data) {
                Ok(()) => sent += 1,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (sent, Some(e)),
            }
        }
        (sent, None)
    }

    /// How many datagrams from `i` on go in one message with `gso`: a run to one
    /// destination, each of one size (at most [`GSO_MAX_SEGMENT`](offload::GSO_MAX_SEGMENT))
    /// but the last, which may be shorter and ends the run; 1 without `gso`.
    pub fn run_at(&self, i: usize, gso: bool) -> usize {
        let (to, start, seg) = &self.msgs[i];
        if !gso || *seg == 0 || *seg > offload::GSO_MAX_SEGMENT {
            return 1;
        }
        let (mut n, mut bytes) = (1, *seg);
        while let Some((to2, start2, len)) = self.msgs.get(i + n) {
            let joins = to2 == to
                && *start2 == start + bytes
                && *len > 0
                && *len <= *seg
                && n < offload::GSO_MAX_SEGMENTS
                && bytes + len <= offload::GSO_MAX_BYTES;
            if !joins {
                break;
            }
            n += 1;
            bytes += len;
            if len < seg {
                break;
            }
        }
        n
    }

    /// Send datagrams `from..` with as few calls as the kernel allows; with `gso`, each run
    /// of datagrams of one size to one destination ([`run_at`](SendBatch::run_at)) as one
    /// message that the kernel cuts (`UDP_SEGMENT`). Returns how many datagrams went before
    /// it stopped: all of them, or up to the first message that failed (`Err` for it; with
    /// `gso`, an error that [`is_gso_refusal`](super::offload::is_gso_refusal) names means
    /// "send them again without"); and how many of those went in runs the kernel cut.
    pub fn send(&self, fd: RawFd, from: usize, gso: bool) -> (usize, usize, Option<io::Error>) {
        const CHUNK: usize = 64;
        let (mut sent, mut segmented) = (0, 0);
        while from + sent < self.msgs.len() {
            let mut iovs: [libc::iovec; CHUNK] = [libc::iovec {
                iov_base: std::ptr::null_mut(),
                iov_len: 0,
            }; CHUNK];
            // SAFETY: mmsghdr is plain C data, valid zeroed; filled below.
            let mut hdrs: [libc::mmsghdr; CHUNK] = unsafe { std::mem::zeroed() };
            let mut control = [[0u64; CONTROL_WORDS]; CHUNK];
            let mut runs = [0usize; CHUNK];
            let (mut count, mut at) = (0, from + sent);
            while count < CHUNK && at < self.msgs.len() {
                let run = self.run_at(at, gso);
                let (to, start, seg) = &self.msgs[at];
                let (_, last_start, last_len) = &self.msgs[at + run - 1];
                iovs[count] = libc::iovec {
                    iov_base: self.data[*start..].as_ptr() as *mut libc::c_void,
                    iov_len: last_start + last_len - start,
                };
                let h = &mut hdrs[count].msg_hdr;
                h.msg_name = to.as_ptr() as *mut libc::c_void;
                h.msg_namelen = to.len();
                h.msg_iov = &mut iovs[count];
                h.msg_iovlen = 1;
                if run > 1 {
                    // `run_at` keeps a segment within GSO_MAX_SEGMENT, which fits a u16.
                    offload::put_segment(h, &mut control[count], *seg as u16);
                }
                runs[count] = run;
                count += 1;
                at += run;
            }
            // SAFETY: each header points to one iovec over bytes of `data`, to an address of
            // the batch and (for a run) to its own control space, all alive for the call; the
            // kernel only reads them (and writes msg_len into the headers).
            let n = unsafe {
                libc::sendmmsg(
                    fd,
                    hdrs.as_mut_ptr(),
                    count as libc::c_uint,
                    libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return (sent, segmented, Some(e));
            }
            // Messages sent, counted in datagrams. A short count: the next call reports why
            // (or sends more).
            for &run in &runs[..n as usize] {
                sent += run;
                if run > 1 {
                    segmented += run;
                }
            }
        }
        (sent, segmented, None)
    }
}
