//! SOCK_SEQPACKET beside SOCK_STREAM: the same three writes, read back.
//!
//! A stream has no message boundaries: three quick writes may come out of one read, glued
//! together (which is why the course's TCP programs need a length header). A seqpacket
//! connection is reliable and ordered like a stream, but every write is a record and every
//! read returns exactly one. Both pairs are made with `socketpair(2)`; the reading side is
//! the reactor, which shows what each `on_data` call received.
//!
//! Run: `cargo run --example seqpacket_vs_stream`

#[path = "common/report.rs"]
mod report;

use std::io::Write;
use std::time::Duration;

use netloop::reactor::{ConnId, Context, Handler, Reactor};
use netloop::socket::{unix_pair, UnixKind};

/// Prints each `on_data` call, and stops the reactor once it has seen `expect` bytes.
struct Show {
    label: &'static str,
    seen: usize,
    expect: usize,
}

impl Handler for Show {
    fn on_data(&mut self, cx: &mut Context<'_>, _: ConnId, data: &[u8]) -> usize {
        println!(
            "  {}: on_data got {:?}",
            self.label,
            String::from_utf8_lossy(data)
        );
        self.seen += data.len();
        if self.seen >= self.expect {
            cx.stop();
        }
        data.len()
    }
}

fn main() -> std::process::ExitCode {
    report::exit(run())
}

fn run() -> std::io::Result<()> {
    let writes: [&[u8]; 3] = [b"one", b"two", b"three"];
    let expect = writes.iter().map(|w| w.len()).sum();
    for kind in [UnixKind::Stream, UnixKind::Seqpacket] {
        let label = if kind == UnixKind::Stream {
            "SOCK_STREAM"
        } else {
            "SOCK_SEQPACKET"
        };
        println!("{label}: three writes");
        let (reader, writer) = unix_pair(kind)?;
        // All three are written before the reactor reads anything.
        for w in writes {
            (&writer).write_all(w)?;
        }
        let mut reactor = Reactor::new(Show {
            label,
            seen: 0,
            expect,
        })?;
        reactor.with_context(|_, cx| match kind {
            UnixKind::Stream => cx.add_unix_stream(reader.into()),
            _ => cx.add_seqpacket(reader),
        })?;
        while !reactor.is_stopped() {
            reactor.turn(Some(Duration::from_secs(1)))?;
        }
    }
    Ok(())
}
