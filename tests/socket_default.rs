//! `setdefaulttimeout` is process-wide, so it has a test binary (a process) of its own.

use std::io;
use std::time::Duration;

use netloop::socket::{getdefaulttimeout, setdefaulttimeout, Family, SockType, Socket};

#[test]
fn setdefaulttimeout_affects_only_later_sockets() {
    assert_eq!(getdefaulttimeout(), None);
    let before = Socket::new(Family::Inet, SockType::Stream, None).unwrap();
    setdefaulttimeout(Some(Duration::from_millis(150)));
    assert_eq!(getdefaulttimeout(), Some(Duration::from_millis(150)));
    let after = Socket::new(Family::Inet, SockType::Stream, None).unwrap();
    assert_eq!(before.gettimeout(), None);
    assert_eq!(after.gettimeout(), Some(Duration::from_millis(150)));

    // Accepted sockets take the default too, as in Python.
    after.bind(("127.0.0.1", 0)).unwrap();
    after.listen(1).unwrap();
    let port = after.getsockname().unwrap().inet().unwrap().port();
    before.connect(("127.0.0.1", port)).unwrap();
    let (conn, _) = after.accept().unwrap();
    assert_eq!(conn.gettimeout(), Some(Duration::from_millis(150)));
    assert_eq!(conn.recv(1).unwrap_err().kind(), io::ErrorKind::TimedOut);

    setdefaulttimeout(None);
    let last = Socket::new(Family::Inet, SockType::Stream, None).unwrap();
    assert_eq!(last.gettimeout(), None);
    assert_eq!(after.gettimeout(), Some(Duration::from_millis(150)));
}
