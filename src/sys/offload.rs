//! UDP segmentation offload (`UDP_SEGMENT`, "GSO") and receive coalescing (`UDP_GRO`), as
//! QUIC stacks use them (quinn-udp): one `sendmsg` carries a run of datagrams of one size to
//! one destination, which the kernel cuts into datagrams as late as it can; and one `recvmsg`
//! takes a run of datagrams of one size from one sender, glued together, with the size in a
//! control message. This file holds the socket options and the control messages; the batches
//! that use them are `mmsg.rs`'s.
//!
//! Both are Linux's (4.18 for GSO, 5.0 for GRO). Where the kernel or the socket does not
//! offer one, [`enable`] says so and the caller goes without, silently.

use std::os::fd::RawFd;

/// The longest datagram sent in a GSO run: what fits a 1,500-byte MTU over IPv6 (1,500
/// bytes less 40 of IPv6 header and 8 of UDP). The kernel refuses a segment larger than the
/// route's MTU allows, so longer datagrams go one per message.
pub(crate) const GSO_MAX_SEGMENT: usize = 1452;

/// The most datagrams in one GSO run (the kernel's `UDP_MAX_SEGMENTS` before 6.x).
pub(crate) const GSO_MAX_SEGMENTS: usize = 64;

/// The most bytes in one GSO run: under the 65,507 of one IPv4 datagram.
pub(crate) const GSO_MAX_BYTES: usize = 65_000;

/// Control space per sent message for one `UDP_SEGMENT` control message, in `u64`s (aligned
/// as `cmsghdr` wants; `CMSG_SPACE(sizeof(u16))` is 24 bytes).
pub(crate) const CONTROL_WORDS: usize = 4;

/// Control space per received datagram, in `u64`s: 256 bytes, room for `UDP_GRO` after what
/// other options a program may turn on through `Reactor::dgram_socket` write before it
/// (timestamps, `SO_RXQ_OVFL`, `IP_PKTINFO`, ...). A receive whose control data was cut
/// (`MSG_CTRUNC`) cannot be trusted to say whether datagrams are glued, and is dropped.
pub(crate) const RECV_CONTROL_WORDS: usize = 32;

/// What the kernel offers on the UDP socket `fd`: `(gro, gso)`. Turns receive coalescing on
/// if it can.
pub fn enable(fd: RawFd) -> (bool, bool) {
    let on: libc::c_int = 1;
    // SAFETY: setsockopt reads `size_of::<c_int>()` bytes from the live `on`.
    let gro = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_UDP,
            libc::UDP_GRO,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    } == 0;
    let mut seg: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into the live `seg`, and `len` back.
    let gso = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_UDP,
            libc::UDP_SEGMENT,
            (&mut seg as *mut libc::c_int).cast(),
            &mut len,
        )
    } == 0;
    (gro, gso)
}

/// Write one `UDP_SEGMENT` control message saying `segment` into `space`, and point `hdr` at
/// it.
pub(crate) fn put_segment(hdr: &mut libc::msghdr, space: &mut [u64; CONTROL_WORDS], segment: u16) {
    hdr.msg_control = space.as_mut_ptr().cast();
    // SAFETY: CMSG_SPACE is a size computation.
    hdr.msg_controllen = unsafe { libc::CMSG_SPACE(std::mem::size_of::<u16>() as u32) } as _;
    // SAFETY: the control buffer is `space`, aligned for a header and large enough for one
    // header and a u16 (CMSG_SPACE(2) is 24 bytes of its 32); CMSG_FIRSTHDR returns its
    // start, and CMSG_DATA a pointer inside it.
    unsafe {
        let c = libc::CMSG_FIRSTHDR(hdr);
        (*c).cmsg_level = libc::SOL_UDP;
        (*c).cmsg_type = libc::UDP_SEGMENT;
        (*c).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<u16>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<u16>(), segment);
    }
}

/// The segment size a `UDP_GRO` control message in `hdr` (as `recvmsg` left it) gives: the
/// datagrams glued in the payload are each this long but the last. `None` without one.
pub(crate) fn gro_segment(hdr: &libc::msghdr) -> Option<usize> {
    if hdr.msg_control.is_null() || hdr.msg_controllen == 0 {
        return None;
    }
    // SAFETY: the walk visits only the `msg_controllen` bytes the kernel wrote into the
    // control buffer `hdr` points to (CMSG_NXTHDR returns null past them); an int is read
    // only from a header whose length says it holds one.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(hdr);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_UDP
                && (*c).cmsg_type == libc::UDP_GRO
                && (*c).cmsg_len as usize
                    >= libc::CMSG_LEN(std::mem::size_of::<libc::c_int>() as u32) as usize
            {
                let size = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::c_int>());
                return usize::try_from(size).ok().filter(|&s| s > 0);
            }
            c = libc::CMSG_NXTHDR(hdr, c);
        }
    }
    None
}

/// Is `e` what a kernel or device without working GSO answers a `UDP_SEGMENT` send with
/// (`EIO`: no checksum offload; `EINVAL`: a segment the route will not take;
/// `ENOPROTOOPT`/`EOPNOTSUPP`: not offered)? Then the batch is sent again without.
pub(crate) fn is_gso_refusal(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EIO | libc::EINVAL | libc::ENOPROTOOPT | libc::EOPNOTSUPP)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::{RecvBatch, SendBatch};
    use std::net::UdpSocket;
    use std::os::fd::AsRawFd;

    /// A datagram of `len` bytes, each byte saying which datagram it belongs to.
    fn datagram(i: usize, len: usize) -> Vec<u8> {
        vec![b'a' + (i % 26) as u8; len]
    }

    #[test]
    fn a_run_goes_as_one_message_and_arrives_glued_then_cut_back_apart() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_nonblocking(true).unwrap();
        let (gro, _) = enable(rx.as_raw_fd());
        let (_, gso) = enable(tx.as_raw_fd());
        assert!(gro && gso, "Linux 5.0 and later offer both on loopback");
        let to = rx.local_addr().unwrap();
        let mut batch = SendBatch::default();
        // 20 of 1,200 bytes and a shorter last one: one run. Then a longer one (a new run),
        // which a shorter one joins as its last.
        for i in 0..20 {
            batch.push(to, &datagram(i, 1200));
        }
        batch.push(to, &datagram(20, 700));
        batch.push(to, &datagram(21, 1300));
        batch.push(to, &datagram(22, 1200));
        assert_eq!(batch.run_at(0, true), 21);
        assert_eq!(batch.run_at(21, true), 2, "1,300, then a shorter last one");
        assert_eq!(batch.run_at(0, false), 1);
        let (sent, segmented, err) = batch.send(tx.as_raw_fd(), 0, true);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(sent, 23);
        assert_eq!(segmented, 23, "two runs, 21 and 2");
        // The receiver gets the first run glued (the kernel keeps it whole over loopback
        // for a socket with UDP_GRO), with the segment size beside it.
        let mut recv = RecvBatch::new(8, 65536);
        let mut got = Vec::new();
        for _ in 0..100 {
            match recv.recv(rx.as_raw_fd()) {
                Ok(n) => {
                    for i in 0..n {
                        let (data, truncated, from) = recv.get(i);
                        assert!(!truncated);
                        assert_eq!(from, Some(tx.local_addr().unwrap()));
                        got.push((data.to_vec(), recv.segment(i)));
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if got
                        .iter()
                        .map(|(d, s)| s.map_or(1, |s| d.len().div_ceil(s)))
                        .sum::<usize>()
                        >= 23
                    {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(got[0].1, Some(1200), "the run arrived as one");
        assert_eq!(got[0].0.len(), 20 * 1200 + 700);
        let mut each = Vec::new();
        for (data, segment) in &got {
            match segment {
                Some(s) => each.extend(data.chunks(*s).map(<[u8]>::to_vec)),
                None => each.push(data.clone()),
            }
        }
        assert_eq!(each.len(), 23);
        for (i, d) in each.iter().enumerate() {
            let len = match i {
                20 => 700,
                21 => 1300,
                _ => 1200,
            };
            assert_eq!(d, &datagram(i, len), "datagram {i}");
        }
    }

    #[test]
    fn runs_stop_at_another_destination_a_large_datagram_and_the_limits() {
        let a = "127.0.0.1:1".parse().unwrap();
        let b = "127.0.0.1:2".parse().unwrap();
        let mut batch = SendBatch::default();
        batch.push(a, &[0; 100]);
        batch.push(a, &[0; 100]);
        batch.push(b, &[0; 100]);
        batch.push(b, &[0; GSO_MAX_SEGMENT + 1]);
        batch.push(b, &[0; GSO_MAX_SEGMENT + 1]);
        assert_eq!(batch.run_at(0, true), 2);
        assert_eq!(batch.run_at(2, true), 1, "a longer datagram does not join");
        assert_eq!(batch.run_at(3, true), 1, "too large for a segment");
        let mut many = SendBatch::default();
        for _ in 0..GSO_MAX_SEGMENTS + 5 {
            many.push(a, &[0; 10]);
        }
        assert_eq!(many.run_at(0, true), GSO_MAX_SEGMENTS);
        let mut big = SendBatch::default();
        for _ in 0..60 {
            big.push(a, &[0; 1400]);
        }
        assert_eq!(big.run_at(0, true), GSO_MAX_BYTES / 1400);
    }
}
