//! The course's "Simple Connectionless Client", on the reactor:
//!
//! ```python
//! s = socket(AF_INET, SOCK_DGRAM)
//! s.bind(('127.0.0.1', 0)) # OS chooses port
//! print "using", s.getsockname()
//! server = ('127.0.0.1', 11111)
//! s.sendto("MixedCaseString", server)
//! data, addr = s.recvfrom(1024)
//! print "received", data, "from", addr
//! ```
//!
//! Run: `cargo run --example udp_client [SERVER] [MESSAGE]`. Gives up after 5 seconds.

#[path = "common/report.rs"]
mod report;

use std::net::SocketAddr;
use std::time::Duration;

use netloop::reactor::{Context, DgramId, Handler, Reactor, TimerId};
use netloop::ConnId;

#[derive(Default)]
struct Client {
    reply: Option<(Vec<u8>, netloop::reactor::PeerAddr)>,
}

impl Handler for Client {
    fn on_datagram(
        &mut self,
        cx: &mut Context<'_>,
        _: DgramId,
        data: &[u8],
        addr: &netloop::reactor::PeerAddr,
    ) {
        self.reply = Some((data.to_vec(), addr.clone()));
        cx.stop();
    }

    fn on_timer(&mut self, cx: &mut Context<'_>, _: TimerId, _: u64) {
        cx.stop(); // no reply in time
    }

    fn on_data(&mut self, _: &mut Context<'_>, _: ConnId, data: &[u8]) -> usize {
        data.len()
    }
}

fn main() -> std::process::ExitCode {
    report::exit(run())
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let server: SocketAddr = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:11111".into())
        .parse()?;
    let message = args.next().unwrap_or_else(|| "MixedCaseString".into());

    let mut reactor = Reactor::new(Client::default())?;
    let sock = reactor.bind_udp("127.0.0.1:0".parse()?)?; // OS chooses port
    println!("using {}", reactor.udp_addr(sock)?);
    reactor.with_context(|_, cx| {
        cx.set_timer(Duration::from_secs(5), 0);
        cx.send_to(sock, message.as_bytes(), server)
    })?;
    reactor.run()?;
    match reactor.handler().reply.as_ref() {
        Some((data, addr)) => {
            println!("received {} from {addr}", String::from_utf8_lossy(data));
            Ok(())
        }
        None => Err(format!("no reply from {server} within 5 s").into()),
    }
}
