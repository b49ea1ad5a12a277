//! Descriptors carried by a Unix socket's control data (`SCM_RIGHTS`), from both sides of the
//! `recvmsg(2)` seam.
//!
//! The receiving side is [`take_rights`]: after a `recvmsg` filled a control buffer, it walks
//! the control messages and takes ownership of every descriptor the kernel installed, then
//! reports `MSG_CTRUNC` (descriptors the kernel had to close) as an error. The reactor's
//! Unix reads end here, on a real socket ([`recv_with_fds`](super::recv_with_fds)) and in the
//! simulation alike.
//!
//! The kernel's side is [`put_rights`] (what `scm_detach_fds` does: install as many
//! descriptors as the buffer has room for, write one `SCM_RIGHTS` header over them, close the
//! rest and say `MSG_CTRUNC`) and [`dup_rights`] (what `sendmsg` does with the descriptors it
//! is given: take its own references). The simulation's in-memory network plays the kernel
//! with them, so that the bytes [`take_rights`] parses there are laid out as Linux lays them
//! out, and the code above the seam is the code that runs on a real socket.

use std::io::{self, IoSlice};
use std::mem::size_of;
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd, RawFd};

/// Most descriptors one message can carry (Linux's `SCM_MAX_FD`).
pub const MAX_FDS: usize = 253;

/// A control-message buffer big enough for [`MAX_FDS`] descriptors, for
/// [`recv_with_fds`](super::recv_with_fds); made once and reused, so that reading allocates nothing.
pub fn fds_buffer() -> Vec<u8> {
    nix::cmsg_space!([RawFd; MAX_FDS])
}

/// Take every descriptor in the control data `control` (as `recvmsg` left it: its first
/// `msg_controllen` bytes) into `fds`, then fail if `truncated` (`MSG_CTRUNC` was set).
///
/// # Errors
///
/// `InvalidData` if the control data was cut short (`MSG_CTRUNC`: the kernel closed the
/// descriptors that did not fit), after keeping the ones that did.
pub fn take_rights(control: &mut [u8], truncated: bool, fds: &mut Vec<OwnedFd>) -> io::Result<()> {
    // SAFETY: msghdr is plain data; zeroed is a valid empty header. Only its control fields
    // are set, to the buffer the caller lends for the whole walk.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = control.len() as _;
    // The walk: CMSG_FIRSTHDR/CMSG_NXTHDR visit only the `control.len()` bytes of the
    // buffer and return null past its end; headers and descriptors are read unaligned (a byte
    // slice), the descriptors bounded by both `cmsg_len` and the buffer.
    // SAFETY: as just said; each descriptor was installed for this process alone (by the
    // kernel, or by `put_rights`), so taking ownership of each is sound.
    unsafe {
        let end = control.as_ptr().add(control.len());
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            let hdr = std::ptr::read_unaligned(c);
            if hdr.cmsg_level == libc::SOL_SOCKET && hdr.cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(c);
                let room = end.offset_from(data).max(0) as usize;
                let bytes = (hdr.cmsg_len as usize)
                    .saturating_sub(libc::CMSG_LEN(0) as usize)
                    .min(room);
                for i in 0..bytes / size_of::<RawFd>() {
                    let fd = std::ptr::read_unaligned(data.cast::<RawFd>().add(i));
                    fds.push(OwnedFd::from_raw_fd(fd));
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    if truncated {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "descriptors were lost: more came with one message than fit (MSG_CTRUNC)",
        ));
    }
    Ok(())
}

/// The kernel's side of [`take_rights`], for a simulated socket: install `fds` in the
/// control buffer `cmsg` as one `SCM_RIGHTS` message, as many as fit; the rest are closed.
/// Returns the control data's length (`msg_controllen`) and whether any were left out
/// (`MSG_CTRUNC`).
pub fn put_rights(cmsg: &mut [u8], mut fds: Vec<OwnedFd>) -> (usize, bool) {
    if fds.is_empty() {
        return (0, false);
    }
    // SAFETY: CMSG_LEN and CMSG_SPACE only compute sizes.
    let (header, space) = unsafe { (libc::CMSG_LEN(0) as usize, libc::CMSG_SPACE(0) as usize) };
    let fit = (cmsg.len().saturating_sub(header) / size_of::<RawFd>()).min(fds.len());
    let truncated = fit < fds.len();
    // Those that do not fit are closed, as the kernel closes them.
    fds.truncate(fit);
    if fit == 0 || cmsg.len() < space {
        return (0, truncated);
    }
    let bytes = fit * size_of::<RawFd>();
    // SAFETY: CMSG_LEN and CMSG_SPACE only compute sizes.
    let (len, used) = unsafe {
        (
            libc::CMSG_LEN(bytes as u32) as usize,
            libc::CMSG_SPACE(bytes as u32) as usize,
        )
    };
    // SAFETY: as above, for zeroing a plain-data header.
    let mut hdr: libc::cmsghdr = unsafe { std::mem::zeroed() };
    hdr.cmsg_len = len as _;
    hdr.cmsg_level = libc::SOL_SOCKET;
    hdr.cmsg_type = libc::SCM_RIGHTS;
    // SAFETY: `cmsg` has room for the header and `fit` descriptors after it (`fit` was
    // bounded by the room after the header); both are written unaligned into the byte
    // slice, and each descriptor's ownership passes to whoever parses the buffer.
    unsafe {
        std::ptr::write_unaligned(cmsg.as_mut_ptr().cast::<libc::cmsghdr>(), hdr);
        let data = cmsg.as_mut_ptr().add(header).cast::<RawFd>();
        for (i, fd) in fds.into_iter().enumerate() {
            std::ptr::write_unaligned(data.add(i), fd.into_raw_fd());
        }
    }
    (used.min(cmsg.len()), truncated)
}

/// The checks `sendmsg` with `SCM_RIGHTS` makes before it sends: at most [`MAX_FDS`]
/// descriptors, and at least one byte to carry them.
///
/// # Errors
///
/// `InvalidInput` for either.
pub fn check_rights(bufs: &[IoSlice<'_>], fds: &[RawFd]) -> io::Result<()> {
    if fds.len() > MAX_FDS {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} descriptors in one message: at most {MAX_FDS}",
                fds.len()
            ),
        ));
    }
    if bufs.iter().all(|b| b.is_empty()) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "descriptors must travel with at least one byte",
        ));
    }
    Ok(())
}

/// The kernel's side of sending descriptors, for a simulated socket: its own references to
/// `fds` (duplicates, close-on-exec), as `sendmsg` takes them.
///
/// # Errors
///
/// Those of [`check_rights`]; `EBADF` for a descriptor that is not open; `EMFILE`.
pub fn dup_rights(bufs: &[IoSlice<'_>], fds: &[RawFd]) -> io::Result<Vec<OwnedFd>> {
    check_rights(bufs, fds)?;
    fds.iter()
        .map(|&fd| {
            // SAFETY: fcntl(F_DUPFD_CLOEXEC) reads no memory; on a descriptor that is not
            // open it fails with EBADF.
            let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
            if new < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `new` is a descriptor just made for us alone.
            Ok(unsafe { OwnedFd::from_raw_fd(new) })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    fn pair() -> (OwnedFd, OwnedFd) {
        let (a, b) = std::os::unix::net::UnixStream::pair().expect("socketpair");
        (a.into(), b.into())
    }

    #[test]
    fn what_put_rights_writes_take_rights_reads() {
        let mut cmsg = fds_buffer();
        cmsg.resize(cmsg.capacity(), 0);
        let (a, _ka) = pair();
        let (b, _kb) = pair();
        let raw = [a.as_raw_fd(), b.as_raw_fd()];
        let (len, truncated) = put_rights(&mut cmsg, vec![a, b]);
        assert!(!truncated && len > 0);
        let mut fds = Vec::new();
        take_rights(&mut cmsg[..len], false, &mut fds).expect("two descriptors");
        let got: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
        assert_eq!(got, raw);
    }

    #[test]
    fn a_small_buffer_keeps_what_fits_and_says_truncated() {
        // Room for the header and one descriptor only (as the kernel counts: the bytes after
        // the header, over the size of one).
        // SAFETY: CMSG_LEN only computes a size.
        let mut cmsg = vec![0u8; unsafe { libc::CMSG_LEN(4) } as usize];
        let (a, _ka) = pair();
        let (b, kb) = pair();
        let (len, truncated) = put_rights(&mut cmsg, vec![a, b]);
        assert!(truncated);
        let mut fds = Vec::new();
        let err = take_rights(&mut cmsg[..len], true, &mut fds).expect_err("MSG_CTRUNC");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(fds.len(), 1, "the one that fitted is kept");
        // The one left out was closed: its peer reads the end of the stream.
        let mut kb = std::os::unix::net::UnixStream::from(kb);
        let mut byte = [0u8; 1];
        assert_eq!(std::io::Read::read(&mut kb, &mut byte).expect("read"), 0);
    }

    #[test]
    fn sending_checks_count_and_bytes() {
        let (a, _ka) = pair();
        let fd = a.as_raw_fd();
        assert!(dup_rights(&[], &[fd]).is_err(), "no byte to carry it");
        let many = vec![fd; MAX_FDS + 1];
        assert!(dup_rights(&[IoSlice::new(b"x")], &many).is_err());
        let dups = dup_rights(&[IoSlice::new(b"x")], &[fd]).expect("one dup");
        assert_ne!(dups[0].as_raw_fd(), fd);
    }
}
