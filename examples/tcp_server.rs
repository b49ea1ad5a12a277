//! The course's TCP server (listen, accept, talk to the client), as an echo server on the
//! reactor. Where the course's loop serves one client at a time, the reactor serves them all
//! at once on one thread.
//!
//! ```python
//! s = socket(AF_INET, SOCK_STREAM)
//! s.bind(('127.0.0.1', 9999))
//! s.listen(5) # max queued connections
//! while True:
//!     sock, addr = s.accept()
//!     # use socket sock to communicate with client process
//! ```
//!
//! Run: `cargo run --example tcp_server [ADDR]` (default 127.0.0.1:9999), then
//! `cargo run --example tcp_client`. Ctrl-C stops it.

#[path = "common/report.rs"]
mod report;

use std::net::SocketAddr;

use netloop::reactor::ListenOptions;
use netloop::reactor::{Config, ConnId, Context, Handler, ListenerId, PeerAddr, Reactor};
use netloop::server::Signals;
use netloop::CloseReason;

struct Echo;

impl Handler for Echo {
    fn on_accept(&mut self, _: &mut Context<'_>, _: ListenerId, conn: ConnId, addr: &PeerAddr) {
        println!("{conn}: connection from {addr}");
    }

    fn on_data(&mut self, cx: &mut Context<'_>, conn: ConnId, data: &[u8]) -> usize {
        let _ = cx.write(conn, data);
        data.len()
    }

    fn on_close(&mut self, _: &mut Context<'_>, conn: ConnId, reason: &CloseReason) {
        // "Server receives 0 bytes after close()": that is CloseReason::PeerClosed.
        println!("{conn}: {reason}");
    }
}

fn main() -> std::process::ExitCode {
    report::exit(run())
}

fn run() -> std::io::Result<()> {
    let signals = Signals::termination()?;
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9999".into())
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    // listen(5), as in the course.
    let config = Config::default().listen(ListenOptions::default().backlog(5));
    let mut reactor = Reactor::with_config(Echo, config)?;
    reactor.add_signals(signals)?;
    let listener = reactor.listen(addr)?;
    println!("listening on {}", reactor.listener_addr(listener)?);
    reactor.run()
}
