//! A line-based server using the line codec: one command per line, one reply line each.
//!
//! ```text
//! UPPER some text   ->  SOME TEXT
//! LEN some text     ->  9
//! QUIT              ->  BYE (then the server closes the connection)
//! anything else     ->  ERR unknown command
//! ```
//!
//! Lines end with `\n` or `\r\n` and may be 1024 bytes long; a longer line is skipped with an
//! error reply (the discard policy) and the connection carries on.
//!
//! Run: `cargo run --example lines [ADDR]` (default 127.0.0.1:7878), then talk to it with
//! `nc 127.0.0.1 7878` or `python3 -c` and a socket.

#[path = "common/report.rs"]
mod report;

use netloop::framing::{Codec, FrameError, LineEnding, OnTooLong};
use netloop::reactor::framed::{send_frame, FrameHandler, Framed};
use netloop::reactor::{ConnId, Context, Handler, Reactor};
use netloop::server::Signals;

struct Commands {
    codec: Codec,
    reply: Vec<u8>,
}

impl Commands {
    fn answer(&mut self, line: &[u8]) -> bool {
        self.reply.clear();
        let (cmd, arg) = match line.iter().position(|&b| b == b' ') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => (line, &b""[..]),
        };
        match cmd {
            b"UPPER" => self.reply.extend(arg.iter().map(u8::to_ascii_uppercase)),
            b"LEN" => self.reply.extend(arg.len().to_string().bytes()),
            b"QUIT" => {
                self.reply.extend(b"BYE");
                return false;
            }
            _ => self.reply.extend(b"ERR unknown command"),
        }
        true
    }
}

/// Connections, timeouts and closes: the reactor's defaults.
impl Handler for Commands {}

impl FrameHandler for Commands {
    fn on_frame(&mut self, cx: &mut Context<'_>, conn: ConnId, line: &[u8]) {
        let keep = self.answer(line);
        let _ = send_frame(cx, conn, &self.codec, &self.reply);
        if !keep {
            cx.close(conn); // after the reply is flushed
        }
    }

    fn on_frame_skipped(&mut self, cx: &mut Context<'_>, conn: ConnId, error: &FrameError) {
        let msg = format!("ERR {error}");
        let _ = send_frame(cx, conn, &self.codec, msg.as_bytes());
    }
}

fn main() -> std::process::ExitCode {
    report::exit(run())
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let signals = Signals::termination()?;
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7878".into());
    let codec = Codec::lines(LineEnding::Any, 1024).with_policy(OnTooLong::Discard);
    let handler = Commands {
        codec,
        reply: Vec::with_capacity(1024),
    };
    let mut reactor = Reactor::new(Framed::new(codec, handler)?)?;
    reactor.add_signals(signals)?;
    let l = reactor.listen(addr.parse()?)?;
    println!("line server on {}", reactor.listener_addr(l)?);
    reactor.run()?;
    Ok(())
}
