//! [`recv`] and [`send`] on a connected stream socket, [`recv_from`] and [`send_to`] on an
//! IP datagram socket, straight to the kernel.
//!
//! The C library's `recv`, `send`, `recvfrom` and `sendto` are *cancellation points*: each
//! call switches asynchronous `pthread_cancel` on and off around the syscall, about 60
//! instructions that matter only to C programs that cancel threads (Rust never does).
//! Reading and writing each connection's bytes and each datagram are the reactor's commonest
//! syscalls, so it makes them with the C library's plain `syscall(2)` entry instead: the same
//! `recvfrom`/`sendto` system calls, the same results and errors, without the cancellation
//! bookkeeping. Sends pass `MSG_NOSIGNAL`, as std's do, so a peer that has gone away is an
//! `EPIPE` error, never a `SIGPIPE` that would kill a program not ignoring it.

use std::io;
use std::mem::size_of;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Read into `buf` from the connected socket `fd` (`recvfrom(fd, buf, len, 0, NULL, NULL)`).
///
/// # Errors
///
/// As `recv(2)`: `WouldBlock` when nothing is waiting on a non-blocking socket, `Interrupted`
/// on a signal, the connection's error otherwise.
pub fn recv(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: null address arguments are what recvfrom takes for a connected socket.
    unsafe { recvfrom(fd, buf, std::ptr::null_mut(), std::ptr::null_mut()) }
}

/// `recvfrom(2)` through `syscall(2)`.
///
/// # Safety
///
/// `addr` and `len` are both null, or `addr` is valid for writes of `*len` bytes and `len`
/// for a read and a write of a `socklen_t`, for the whole call.
unsafe fn recvfrom(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    addr: *mut libc::sockaddr,
    len: *mut libc::socklen_t,
) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the whole call, `fd` is
    // borrowed, and the caller vouches for `addr` and `len`. The kernel writes at most
    // `buf.len()` bytes into `buf` and at most `*len` into `addr`.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_recvfrom,
            fd.as_raw_fd() as libc::c_long,
            buf.as_mut_ptr(),
            buf.len(),
            0 as libc::c_long,
            addr,
            len,
        )
    };
    result(rc)
}

/// `sendto(2)` with `MSG_NOSIGNAL` through `syscall(2)`.
///
/// # Safety
///
/// `addr` is null with `len` 0, or valid for reads of `len` bytes for the whole call.
unsafe fn sendto(
    fd: BorrowedFd<'_>,
    buf: &[u8],
    addr: *const libc::sockaddr,
    len: libc::socklen_t,
) -> io::Result<usize> {
    // SAFETY: `buf` is valid for reads of `buf.len()` bytes for the whole call, `fd` is
    // borrowed, and the caller vouches for `addr`. The kernel only reads them.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_sendto,
            fd.as_raw_fd() as libc::c_long,
            buf.as_ptr(),
            buf.len(),
            libc::MSG_NOSIGNAL as libc::c_long,
            addr,
            len as libc::c_long,
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
    // SAFETY: a null address of length 0 is what sendto takes for a connected socket.
    unsafe { sendto(fd, buf, std::ptr::null(), 0) }
}

/// Receive one datagram into `buf` from the IP socket `fd`, with its sender
/// (`recvfrom(fd, buf, len, 0, &addr, &addrlen)`). A datagram longer than `buf` is cut to fit.
///
/// # Errors
///
/// As `recvfrom(2)`; `InvalidData` if the sender is not an IPv4 or IPv6 address.
pub fn recv_from(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
    // SAFETY: all-zero bytes are a valid sockaddr_storage (plain integers).
    let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `addr` is valid for writes of `len` bytes (its own size) and `len` for a read
    // and a write, both for the whole call.
    let n = unsafe {
        recvfrom(
            fd,
            buf,
            std::ptr::addr_of_mut!(addr).cast::<libc::sockaddr>(),
            std::ptr::addr_of_mut!(len),
        )
    }?;
    // SAFETY: the kernel wrote a socket address of `len` bytes (at most the storage's size)
    // into `addr`.
    let from = unsafe { super::resolve::sockaddr_to_std(std::ptr::addr_of!(addr).cast(), len) };
    from.map(|a| (n, a)).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "a datagram from a sender that is not an IP address",
        )
    })
}

/// Send `buf` as one datagram from the IP socket `fd` to `to`
/// (`sendto(fd, buf, len, MSG_NOSIGNAL, &to, tolen)`).
///
/// # Errors
///
/// As `sendto(2)`: `WouldBlock` when the send buffer is full, the kernel's refusal otherwise
/// (a message too long, an unreachable network, a family the socket does not speak).
pub fn send_to(fd: BorrowedFd<'_>, buf: &[u8], to: &SocketAddr) -> io::Result<usize> {
    let addr = socket2::SockAddr::from(*to);
    // SAFETY: `addr` holds a socket address of `addr.len()` bytes for the whole call.
    unsafe { sendto(fd, buf, addr.as_ptr().cast::<libc::sockaddr>(), addr.len()) }
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

    #[test]
    fn datagrams_go_both_ways_with_their_addresses_v4_and_v6() {
        for (a, b) in [("127.0.0.1:0", "127.0.0.1:0"), ("[::1]:0", "[::1]:0")] {
            let Ok(x) = std::net::UdpSocket::bind(a) else {
                continue; // no IPv6 loopback here
            };
            let y = std::net::UdpSocket::bind(b).expect("bind");
            let (xa, ya) = (x.local_addr().expect("addr"), y.local_addr().expect("addr"));
            assert_eq!(send_to(x.as_fd(), b"ping", &ya).expect("send"), 4);
            let mut buf = [0u8; 16];
            let (n, from) = recv_from(y.as_fd(), &mut buf).expect("recv");
            assert_eq!((&buf[..n], from), (&b"ping"[..], xa));
            assert_eq!(send_to(y.as_fd(), b"pong!", &from).expect("send"), 5);
            let (n, from) = recv_from(x.as_fd(), &mut buf).expect("recv");
            assert_eq!((&buf[..n], from), (&b"pong!"[..], ya));
            y.set_nonblocking(true).expect("nonblocking");
            let err = recv_from(y.as_fd(), &mut buf).expect_err("nothing waiting");
            assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        }
        // A v4 socket cannot send to a v6 address: the kernel's error, not a crash.
        let x = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let v6: SocketAddr = "[::1]:9".parse().expect("addr");
        assert!(send_to(x.as_fd(), b"x", &v6).is_err());
    }
}
