//! A netloop reactor driven from a tokio runtime, next to tokio's own tasks: tokio's `AsyncFd`
//! waits on the reactor's epoll descriptor, and the reactor turns when it is readable or its
//! next timer is due (the rules are DESIGN.md's "Running inside another loop", the same as in
//! `embed_in_poll.rs`).
//!
//! The reactor serves an echo; a tokio task is its client, and another tokio task ticks
//! meanwhile, on the same thread. Run: `cargo run --example embed_in_tokio`.

#[path = "common/report.rs"]
mod report;

use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use netloop::reactor::{ConnId, Context, Handler, Reactor};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Echo;

impl Handler for Echo {
    fn on_data(&mut self, cx: &mut Context<'_>, conn: ConnId, data: &[u8]) -> usize {
        let _ = cx.write(conn, data);
        data.len()
    }
}

/// The reactor's descriptor, lent to tokio (the reactor outlives it, and keeps it open).
struct ReactorFd(RawFd);

impl AsRawFd for ReactorFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

fn main() -> std::process::ExitCode {
    report::exit(run())
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut reactor = Reactor::new(Echo)?;
        let listener = reactor.listen("127.0.0.1:0".parse()?)?;
        let addr = reactor.listener_addr(listener)?;
        // SAFETY: the reactor's epoll descriptor stays open and the same for as long as
        // `reactor` lives, and `fd`, declared after it, is dropped before it.
        let fd = unsafe {
            AsyncFd::register_with_interest(ReactorFd(reactor.as_raw_fd()), Interest::READABLE)
        }
        .map_err(std::io::Error::from)?;
        // tokio's own tasks: a client of the reactor's echo, and a ticker.
        let client = tokio::spawn(async move {
            let mut s = tokio::net::TcpStream::connect(addr).await?;
            for i in 0..100u32 {
                let msg = format!("message {i}\n");
                s.write_all(msg.as_bytes()).await?;
                let mut back = vec![0; msg.len()];
                s.read_exact(&mut back).await?;
                assert_eq!(back, msg.as_bytes());
            }
            Ok::<(), std::io::Error>(())
        });
        let ticker = tokio::spawn(async {
            let mut ticks = 0u32;
            let mut every = tokio::time::interval(Duration::from_millis(1));
            loop {
                every.tick().await;
                ticks += 1;
                if ticks == 10 {
                    return ticks;
                }
            }
        });
        while !client.is_finished() {
            // Wait for an event of the reactor's, or its next timer, whichever comes first.
            let wait = reactor.next_timeout().unwrap_or(Duration::from_millis(100));
            if let Ok(guard) = tokio::time::timeout(wait, fd.readable()).await {
                // Cleared before turning, so that an event arriving meanwhile raises a new
                // edge for tokio.
                guard?.clear_ready();
            }
            loop {
                let events = reactor.turn(Some(Duration::ZERO))?;
                if events == 0 && reactor.next_timeout() != Some(Duration::ZERO) {
                    break;
                }
            }
        }
        client.await??;
        let ticks = ticker.await?;
        println!(
            "100 echoes through a reactor inside tokio, beside a task that ticked {ticks} times; {} bytes echoed",
            reactor.stats().bytes_out
        );
        Ok::<(), Box<dyn std::error::Error>>(())
    })
}
