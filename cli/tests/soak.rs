//! Soak: 1,000 connections at once, each keeping frames of mixed sizes (1 byte to 200 KiB) in
//! flight through the framed echo for a few seconds; every echoed byte is checked, and any
//! error fails the test. Bounded: it stops sending after `SECS` and gives up after a minute.

// The library's test helpers, shared rather than copied.
#[path = "../../tests/util/mod.rs"]
mod util;

use std::time::{Duration, Instant};

use netloop::framing::Codec;
use netloop::reactor::framed::{send_frame_owned, FrameHandler, Framed};
use netloop::reactor::{ConnId, Context, Handler, Reactor};
use netloop::CloseReason;
use netloop_cli::services::CourseServer;
use util::Running;

const CONNS: usize = 1000;
const IN_FLIGHT: u32 = 2;
const SECS: u64 = 4;
const SIZES: [usize; 6] = [1, 100, 1000, 16 * 1024, 64 * 1024, 200 * 1024];

/// The frame number `seq` of connection `index`: its size and its bytes follow from both, so
/// that the echo can be checked without keeping copies.
fn payload(index: usize, seq: u32) -> Vec<u8> {
    let len = SIZES[(index * 7 + seq as usize) % SIZES.len()];
    (0..len)
        .map(|j| ((index + seq as usize + j) % 251) as u8)
        .collect()
}

#[derive(Default)]
struct Soak {
    /// (connection, frames sent, frames received) by connection index.
    conns: Vec<Option<(ConnId, u32, u32)>>,
    until: Option<Instant>,
    frames: u64,
    bytes: u64,
    bad: u64,
    errors: Vec<String>,
    closed: usize,
}

impl Soak {
    fn send_next(&mut self, cx: &mut Context<'_>, conn: ConnId) {
        let codec = Codec::default();
        if let Some(Some((_, sent, _))) = self.conns.get_mut(conn.index()) {
            let p = payload(conn.index(), *sent);
            *sent += 1;
            if let Err(e) = send_frame_owned(cx, conn, &codec, p) {
                self.errors.push(format!("{conn}: send: {e}"));
            }
        }
    }
}

impl Handler for Soak {
    fn on_connect(&mut self, cx: &mut Context<'_>, conn: ConnId) {
        let i = conn.index();
        if self.conns.len() <= i {
            self.conns.resize(i + 1, None);
        }
        self.conns[i] = Some((conn, 0, 0));
        for _ in 0..IN_FLIGHT {
            self.send_next(cx, conn);
        }
    }

    fn on_close(&mut self, _: &mut Context<'_>, conn: ConnId, reason: &CloseReason) {
        self.closed += 1;
        if !reason.is_clean() {
            self.errors.push(format!("{conn}: {reason}"));
        }
    }
}

impl FrameHandler for Soak {
    fn on_frame(&mut self, cx: &mut Context<'_>, conn: ConnId, frame: &[u8]) {
        let Some(Some((_, sent, received))) = self.conns.get_mut(conn.index()) else {
            self.errors
                .push(format!("{conn}: a frame for an unknown connection"));
            return;
        };
        let seq = *received;
        *received += 1;
        let sending = self.until.is_some_and(|u| cx.now() < u);
        let done = !sending && *received == *sent;
        self.frames += 1;
        self.bytes += frame.len() as u64;
        if frame != payload(conn.index(), seq).as_slice() {
            self.bad += 1;
        }
        if sending {
            self.send_next(cx, conn);
        } else if done {
            cx.close(conn);
        }
    }
}

#[test]
fn a_thousand_connections_with_mixed_frames_every_byte_checked() {
    if let Err(e) = netloop::server::raise_fd_limit() {
        eprintln!("descriptor limit not raised: {e}");
    }
    let mut server = Reactor::new(CourseServer::new()).unwrap();
    let l = server.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.listener_addr(l).unwrap();
    server.handler_mut().serve_framed(l);
    let server = Running::start(server);

    let mut client = Reactor::new(Framed::new(Codec::default(), Soak::default()).unwrap()).unwrap();
    client
        .with_context(|h, cx| -> std::io::Result<()> {
            h.inner_mut().until = Some(cx.now() + Duration::from_secs(SECS));
            for _ in 0..CONNS {
                cx.connect(addr)?;
            }
            Ok(())
        })
        .unwrap();
    let give_up = Instant::now() + Duration::from_secs(60);
    while client.handler().inner().closed < CONNS && Instant::now() < give_up {
        client.turn(Some(Duration::from_millis(50))).unwrap();
    }
    let soak = client.handler().inner();
    println!(
        "{} connections, {} frames, {} bytes echoed and checked",
        CONNS, soak.frames, soak.bytes
    );
    assert!(
        soak.errors.is_empty(),
        "{:?}",
        &soak.errors[..soak.errors.len().min(10)]
    );
    assert_eq!(soak.bad, 0, "frames that came back different");
    assert_eq!(
        soak.closed, CONNS,
        "every connection finished within the minute"
    );
    assert!(soak.frames >= (CONNS as u64) * u64::from(IN_FLIGHT));
    let stats = server.stop().stats().to_owned();
    assert_eq!(stats.accepted, CONNS as u64);
    assert_eq!(stats.closed_peer, CONNS as u64, "{stats:?}");
}
