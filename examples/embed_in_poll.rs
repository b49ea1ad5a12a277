//! A netloop reactor driven from a program's own `poll(2)` loop, beside a descriptor of that
//! loop's own: the reactor's epoll descriptor is one more entry in the poll set.
//!
//! The rules (DESIGN.md, "Running inside another loop"):
//! 1. Wait on the reactor's descriptor (`AsFd`), readable when a socket of it has an event.
//! 2. Then call `turn(Some(Duration::ZERO))` until it reports no events and `next_timeout()`
//!    is not zero: work left over from a turn (a read budget spent, output queued outside a
//!    callback) raises no event on the descriptor.
//! 3. Use `next_timeout()` as the outer wait's timeout: timers raise no event either.
//!
//! Here the reactor serves an echo; the outer loop also watches a pipe that a client thread
//! writes to when it is done, and ends then. Run: `cargo run --example embed_in_poll`.

#[path = "common/report.rs"]
mod report;

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::time::Duration;

use netloop::reactor::{ConnId, Context, Handler, Reactor};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

struct Echo;

impl Handler for Echo {
    fn on_data(&mut self, cx: &mut Context<'_>, conn: ConnId, data: &[u8]) -> usize {
        let _ = cx.write(conn, data);
        data.len()
    }
}

fn main() -> std::process::ExitCode {
    report::exit(run())
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut reactor = Reactor::new(Echo)?;
    let listener = reactor.listen("127.0.0.1:0".parse()?)?;
    let addr = reactor.listener_addr(listener)?;
    // The outer loop's own descriptor: the client says it is done through this pipe.
    let (done_rx, done_tx) = nix::unistd::pipe()?;
    let client = std::thread::spawn(move || -> std::io::Result<()> {
        let mut s = std::net::TcpStream::connect(addr)?;
        for i in 0..100u32 {
            let msg = format!("message {i}\n");
            s.write_all(msg.as_bytes())?;
            let mut back = vec![0; msg.len()];
            s.read_exact(&mut back)?;
            assert_eq!(back, msg.as_bytes());
        }
        std::fs::File::from(done_tx).write_all(b"x")?;
        Ok(())
    });
    let mut turns = 0u64;
    loop {
        // Rule 3: wait no longer than the reactor's timers allow (forever if it has none).
        let timeout = match reactor.next_timeout() {
            Some(t) => PollTimeout::try_from(t.as_millis().min(60_000) as u32)?,
            None => PollTimeout::NONE,
        };
        // Rule 1: the reactor's descriptor is one entry of the poll set.
        let mut fds = [
            PollFd::new(reactor.as_fd(), PollFlags::POLLIN),
            PollFd::new(done_rx.as_fd(), PollFlags::POLLIN),
        ];
        poll(&mut fds, timeout)?;
        let done = fds[1].revents().is_some_and(|r| !r.is_empty());
        // Rule 2: turn without waiting until nothing is left over.
        loop {
            turns += 1;
            let events = reactor.turn(Some(Duration::ZERO))?;
            if events == 0 && reactor.next_timeout() != Some(Duration::ZERO) {
                break;
            }
        }
        if done {
            break;
        }
    }
    client.join().map_err(|_| "the client panicked")??;
    println!(
        "100 echoes through a reactor inside a poll(2) loop, in {turns} turns; {} bytes echoed",
        reactor.stats().bytes_out
    );
    Ok(())
}
