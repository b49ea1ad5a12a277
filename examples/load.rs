//! A small closed-loop load generator for the framed echo service, on one reactor:
//! CONNS connections each keep DEPTH frames of SIZE bytes in flight, and every echoed frame is
//! checked and replaced by a new one. Prints frames per second after SECS seconds.
//!
//! Run: `cargo run --release --example load -- [ADDR] [CONNS] [SECS] [SIZE] [DEPTH]`
//! (defaults: 127.0.0.1:9998 64 10 64 8), against `netloop serve`.

use std::time::{Duration, Instant};

use netloop::framing::Codec;
use netloop::reactor::framed::{send_frame, FrameHandler, Framed};
use netloop::reactor::{ConnId, Context, Handler, Reactor};
use netloop::CloseReason;

struct Load {
    codec: Codec,
    payload: Vec<u8>,
    depth: usize,
    frames: u64,
    bad: u64,
    closed: u64,
}

impl Handler for Load {
    fn on_connect(&mut self, cx: &mut Context<'_>, conn: ConnId) {
        for _ in 0..self.depth {
            let _ = send_frame(cx, conn, &self.codec, &self.payload);
        }
    }

    fn on_close(&mut self, _: &mut Context<'_>, conn: ConnId, reason: &CloseReason) {
        self.closed += 1;
        eprintln!("{conn}: {reason}");
    }
}

impl FrameHandler for Load {
    fn on_frame(&mut self, cx: &mut Context<'_>, conn: ConnId, frame: &[u8]) {
        if frame != self.payload.as_slice() {
            self.bad += 1;
        }
        self.frames += 1;
        let _ = send_frame(cx, conn, &self.codec, &self.payload);
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:9998".into())
        .parse()?;
    let conns: usize = args.next().map_or(Ok(64), |s| s.parse())?;
    let secs: u64 = args.next().map_or(Ok(10), |s| s.parse())?;
    let size: usize = args.next().map_or(Ok(64), |s| s.parse())?;
    let depth: usize = args.next().map_or(Ok(8), |s| s.parse())?;

    let codec = Codec::default();
    let load = Load {
        codec,
        payload: (0..size).map(|i| i as u8).collect(),
        depth,
        frames: 0,
        bad: 0,
        closed: 0,
    };
    let mut reactor = Reactor::new(Framed::new(codec, load)?)?;
    reactor.with_context(|_, cx| -> std::io::Result<()> {
        for _ in 0..conns {
            cx.connect(addr)?;
        }
        Ok(())
    })?;
    // Warm up for a second, then measure.
    let warm = Instant::now() + Duration::from_secs(1);
    while Instant::now() < warm {
        reactor.turn(Some(Duration::from_millis(10)))?;
    }
    let before = reactor.handler().inner().frames;
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    while Instant::now() < end {
        reactor.turn(Some(Duration::from_millis(10)))?;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let l = reactor.handler().inner();
    let frames = l.frames - before;
    println!(
        "{conns} connections, {size}-byte frames, depth {depth}: {frames} frames in {elapsed:.2} s = {:.0} frames/s ({} bad, {} closed)",
        frames as f64 / elapsed,
        l.bad,
        l.closed
    );
    if l.bad > 0 || l.closed > 0 {
        return Err("errors during the run".into());
    }
    Ok(())
}
