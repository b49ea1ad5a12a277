//! [`recv`] and [`send`] on a connected stream socket, straight to the kernel.
//!
//! The C library's `recv` and `send` are *cancellation points*: each call switches
//! asynchronous `pthread_cancel` on and off around the syscall, about 60 instructions that
//! matter only to C programs that cancel threads (Rust never does). Reading and writing each
//! connection's bytes are the reactor's commonest syscalls, so it makes them with the C
//! library's plain `syscall(2)` entry instead: the same `recvfrom`/`sendto` system calls,
//! the same results and errors, without the cancellation bookkeeping. `send` passes
//! `MSG_NOSIGNAL`, as std's `TcpStream::write` does, so a peer that has gone away is an
//! `EPIPE` error, never a `SIGPIPE` that would kill a program not ignoring it.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Read into `buf` from the connected socket `fd` (`recvfrom(fd, buf, len, 0, NULL, NULL)`).
///
/// # Errors
///
/// As `recv(2)`: `WouldBlock` when nothing is waiting on a non-blocking socket, `Interrupted`
/// on a signal, the connection's error otherwise.
pub fn recv(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `fd` is a descriptor borrowed for the call; `buf` is valid for writes of
    // `buf.len()` bytes for the whole call; the address arguments are null, which recvfrom
    // accepts for a connected socket. The kernel writes at most `len` bytes into `buf`.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_recvfrom,
            fd.as_raw_fd() as libc::c_long,
            buf.as_mut_ptr(),
            buf.len(),
            0 as libc::c_long,
            std::ptr::null_mut::<libc::sockaddr>(),
            std::ptr::null_mut::<libc::socklen_t>(),
        )
    };
    result(rc)
}

/// Write `buf` to the connected socket `fd` (`sendto(fd, buf, len, MSG_NOSIGNAL, NULL, 0)`).
///
/// # Errors
///
/// As `send(2)`: `WouldBlock` when the send buffer is full, `BrokenPipe` when the peer is gone.
pub fn send(fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `fd` is a descriptor borrowed for the call; `buf` is valid for reads of
    // `buf.len()` bytes for the whole call; a null address with length 0 is what sendto
    // takes for a connected socket. The kernel only reads from `buf`.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_sendto,
            fd.as_raw_fd() as libc::c_long,
            buf.as_ptr(),
            buf.len(),
            libc::MSG_NOSIGNAL as libc::c_long,
            std::ptr::null::<libc::sockaddr>(),
            0 as libc::c_long,
        )
    };
    result(rc)
}

/// A raw syscall's return value: a byte count, or -1 with the error in `errno`.
fn result(rc: libc::c_long) -> io::Result<usize> {
    usize::try_from(rc).map_err(|_| io::Error::last_os_error())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsFd;

    #[test]
    fn bytes_go_both_ways_and_errors_are_the_kernels() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let mut c = std::net::TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
        let (s, _) = l.accept().expect("accept");
        assert_eq!(send(s.as_fd(), b"hello").expect("send"), 5);
        let mut got = [0u8; 5];
        c.read_exact(&mut got).expect("read");
        assert_eq!(&got, b"hello");
        c.write_all(b"back").expect("write");
        let mut buf = [0u8; 16];
        assert_eq!(recv(s.as_fd(), &mut buf).expect("recv"), 4);
        assert_eq!(&buf[..4], b"back");
        s.set_nonblocking(true).expect("nonblocking");
        let err = recv(s.as_fd(), &mut buf).expect_err("nothing waiting");
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        drop(c);
        // The peer is gone: end of file, then writes fail with an error, not a signal.
        assert_eq!(recv(s.as_fd(), &mut buf).expect("eof"), 0);
        let mut failed = false;
        for _ in 0..100 {
            if send(s.as_fd(), &[0; 1024]).is_err() {
                failed = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(failed, "writing to a closed peer fails");
    }
}
