//! The course's "Simple Connectionless Server", on the reactor:
//!
//! ```python
//! s = socket(AF_INET, SOCK_DGRAM)
//! s.bind(('127.0.0.1', 11111))
//! while True:
//!     data, addr = s.recvfrom(1024)
//!     print "Connection from", addr
//!     s.sendto(data.upper(), addr)
//! ```
//!
//! Run: `cargo run --example udp_server [ADDR]` (default 127.0.0.1:11111), then
//! `cargo run --example udp_client`. Ctrl-C stops it.

#[path = "common/report.rs"]
mod report;

use std::net::SocketAddr;

use netloop::reactor::{Context, DgramId, Handler, Reactor};
use netloop::server::Signals;
use netloop::ConnId;

struct Upper {
    reply: Vec<u8>,
}

impl Handler for Upper {
    fn on_datagram(
        &mut self,
        cx: &mut Context<'_>,
        sock: DgramId,
        data: &[u8],
        addr: &netloop::reactor::PeerAddr,
    ) {
        println!("Connection from {addr}");
        // Python's `bytes.upper()`: ASCII letters upper-cased, every other byte unchanged.
        self.reply.clear();
        self.reply.extend(data.iter().map(u8::to_ascii_uppercase));
        if let Err(e) = cx.send_to(sock, &self.reply, addr) {
            eprintln!("reply to {addr} failed: {e}");
        }
    }

    // A UDP-only server has no stream connections.
    fn on_data(&mut self, _: &mut Context<'_>, _: ConnId, data: &[u8]) -> usize {
        data.len()
    }
}

fn main() -> std::process::ExitCode {
    report::exit(run())
}

fn run() -> std::io::Result<()> {
    let signals = Signals::termination()?;
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:11111".into())
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let mut reactor = Reactor::new(Upper {
        reply: Vec::with_capacity(65536),
    })?;
    reactor.add_signals(signals)?;
    let sock = reactor.bind_udp(addr)?;
    println!("serving on {}", reactor.udp_addr(sock)?);
    reactor.run()
}
