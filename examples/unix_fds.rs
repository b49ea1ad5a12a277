//! AF_UNIX in depth: an abstract name, the peer's credentials, and a descriptor passed over
//! the connection (`SCM_RIGHTS`).
//!
//! The server listens on the abstract name `@netloop-example` (no file to clean up), asks
//! each client who it is (`SO_PEERCRED`), and when a client sends a descriptor with its
//! message, writes a greeting into it. The client (a thread here) sends one end of a
//! socket pair and reads the greeting from the other end: a working descriptor crossed over.
//!
//! Run: `cargo run --example unix_fds`

#[path = "common/report.rs"]
mod report;

use std::fs::File;
use std::io::{IoSlice, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use netloop::addr::UnixAddr;
use netloop::reactor::UnixListenOptions;
use netloop::reactor::{ConnId, Context, Handler, ListenerId, PeerAddr, Reactor};
use netloop::socket::{send_with_fds, unix_connect};

struct Server {
    done: bool,
}

impl Handler for Server {
    fn on_accept(&mut self, cx: &mut Context<'_>, _: ListenerId, conn: ConnId, peer: &PeerAddr) {
        match cx.peer_credentials(conn) {
            Ok(c) => println!(
                "server: {peer} is pid {} (uid {}, gid {})",
                c.pid, c.uid, c.gid
            ),
            Err(e) => println!("server: {peer}: no credentials: {e}"),
        }
    }

    fn on_descriptors(&mut self, _: &mut Context<'_>, _: ConnId, fds: Vec<OwnedFd>) {
        for fd in fds {
            println!("server: got descriptor {}; writing into it", fd.as_raw_fd());
            let _ = File::from(fd).write_all(b"hello through a passed descriptor\n");
        }
    }

    fn on_data(&mut self, cx: &mut Context<'_>, conn: ConnId, data: &[u8]) -> usize {
        println!("server: message {:?}", String::from_utf8_lossy(data));
        cx.close(conn);
        self.done = true;
        data.len()
    }
}

fn main() -> std::process::ExitCode {
    report::exit(run())
}

fn run() -> std::io::Result<()> {
    let name = UnixAddr::abstract_name("netloop-example");
    let mut reactor = Reactor::new(Server { done: false })?;
    let id = reactor.with_context(|_, cx| cx.listen_unix(&name, &UnixListenOptions::default()))?;
    let shown = reactor.with_context(|_, cx| cx.listener_local_addr(id))?;
    println!("server: listening on {shown}");

    let client = std::thread::spawn(move || -> std::io::Result<String> {
        let sock = unix_connect(&name)?;
        sock.set_nonblocking(false)?;
        let (mut read_end, write_end) = std::os::unix::net::UnixStream::pair()?;
        let write_end: OwnedFd = write_end.into();
        send_with_fds(
            &sock,
            &[IoSlice::new(b"here is a socket")],
            &[write_end.as_raw_fd()],
        )?;
        drop(write_end); // the server holds the only copy now
        let mut greeting = String::new();
        read_end.read_to_string(&mut greeting)?; // ends when the server closes its copy
        Ok(greeting)
    });

    while !reactor.handler().done {
        reactor.turn(Some(Duration::from_secs(1)))?;
    }
    reactor.turn(Some(Duration::ZERO))?; // close the connection
    let greeting = client.join().expect("client thread")?;
    print!("client: read from the other end: {greeting}");
    Ok(())
}
