//! A chat server: every frame a client sends is relayed to all connected clients (the sender
//! included, so it sees its message was accepted). Frames use netloop's wire format: a 4-byte
//! big-endian length, then the message.
//!
//! Run: `cargo run --example chat [ADDR]` (default 127.0.0.1:7777), then in two terminals
//! `cargo run -- framed-client hello --server 127.0.0.1:7777`.
//!
//! Slow readers: the reactor bounds what a client's own messages can queue, but a relay writes
//! to *other* clients, so it bounds that itself: a member with more than `MAX_BACKLOG` bytes
//! waiting (it stopped reading) is disconnected. An idle timeout drops clients that vanish.

#[path = "common/report.rs"]
mod report;

use std::time::Duration;

use netloop::framing::Codec;
use netloop::reactor::framed::{send_frame, FrameHandler, Framed};
use netloop::reactor::Timeouts;
use netloop::reactor::{Config, ConnId, Context, Handler, ListenerId, PeerAddr, Reactor};
use netloop::server::Signals;
use netloop::CloseReason;

/// Most output one member may have waiting before it is dropped as too slow.
const MAX_BACKLOG: usize = 4 * 1024 * 1024;

struct Chat {
    codec: Codec,
    members: Vec<ConnId>,
}

impl Handler for Chat {
    fn on_accept(&mut self, _: &mut Context<'_>, _: ListenerId, conn: ConnId, _: &PeerAddr) {
        println!("{conn} joined ({} online)", self.members.len() + 1);
        self.members.push(conn);
    }

    fn on_close(&mut self, _: &mut Context<'_>, conn: ConnId, reason: &CloseReason) {
        self.members.retain(|&m| m != conn);
        println!("{conn} left: {reason} ({} online)", self.members.len());
    }
}

impl FrameHandler for Chat {
    fn on_frame(&mut self, cx: &mut Context<'_>, from: ConnId, frame: &[u8]) {
        for &to in &self.members {
            if cx.queued(to) > MAX_BACKLOG {
                eprintln!("{to}: not reading, disconnected");
                cx.abort(to);
                continue;
            }
            if let Err(e) = send_frame(cx, to, &self.codec, frame) {
                eprintln!("{from} -> {to}: not relayed: {e}");
            }
        }
    }
}

fn main() -> std::process::ExitCode {
    report::exit(run())
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let signals = Signals::termination()?;
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7777".into());
    let codec = Codec::length_prefixed(64 * 1024);
    let config = Config::default().timeouts(Timeouts::idle(Duration::from_secs(300)));
    let chat = Chat {
        codec,
        members: Vec::new(),
    };
    let mut reactor = Reactor::with_config(Framed::new(codec, chat)?, config)?;
    reactor.add_signals(signals)?;
    let l = reactor.listen(addr.parse()?)?;
    println!("chat on {}", reactor.listener_addr(l)?);
    reactor.run()?;
    Ok(())
}
