//! Sockets made elsewhere and handed to the reactor as listeners (by a service manager, say)
//! must be listening: a connected one is refused at once with a clear error, instead of
//! failing every `accept` later.

use std::io::ErrorKind;
use std::net::{TcpListener, TcpStream};

use netloop::reactor::{Context, Handler, Reactor};

struct Nothing;

impl Handler for Nothing {
    fn on_data(&mut self, _: &mut Context<'_>, _: netloop::ConnId, data: &[u8]) -> usize {
        data.len()
    }
}

/// A connected TCP socket, dressed as a listener (as a descriptor handed over by number
/// would be).
fn connected_as_listener() -> (TcpListener, TcpListener) {
    let real = TcpListener::bind("127.0.0.1:0").unwrap();
    let stream = TcpStream::connect(real.local_addr().unwrap()).unwrap();
    (real, TcpListener::from(std::os::fd::OwnedFd::from(stream)))
}

#[test]
fn a_connected_socket_is_not_taken_as_a_listener() {
    let mut reactor = Reactor::new(Nothing).unwrap();
    let (_real, fake) = connected_as_listener();
    let e = reactor
        .with_context(|_, cx| cx.add_listener(fake.try_clone().unwrap()))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("not listening"), "{e}");
    let e = netloop::server::share_tcp(std::slice::from_mut(&mut reactor), fake).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    let before = reactor.with_context(|_, cx| cx.socket_count());
    assert_eq!(before, 0, "nothing was registered");
    // A listening one is taken.
    let good = TcpListener::bind("127.0.0.1:0").unwrap();
    reactor.with_context(|_, cx| cx.add_listener(good)).unwrap();
}

#[test]
fn a_connected_unix_socket_is_not_taken_as_a_listener() {
    let mut reactor = Reactor::new(Nothing).unwrap();
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    let fake = std::os::unix::net::UnixListener::from(std::os::fd::OwnedFd::from(a));
    let e = reactor
        .with_context(|_, cx| cx.add_unix_listener(fake))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
}
