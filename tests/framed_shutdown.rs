//! A graceful shutdown and the framed layer, on loopback: a connection whose decoder is in the
//! middle of skipping an oversize frame (its bytes consumed as they come, so the reactor alone
//! would see a boundary) is in a message until the frame ends; the next whole frame is then
//! answered, and the connection closed cleanly.

mod util;

use std::io::{Read, Write};

use netloop::framing::{Codec, OnTooLong};
use netloop::reactor::framed::{send_frame, FrameHandler, Framed};
use netloop::reactor::{ConnId, Context, Handler, Reactor};
use util::{connect, Running};

struct Echo(Codec);

impl Handler for Echo {}

impl FrameHandler for Echo {
    fn on_frame(&mut self, cx: &mut Context<'_>, conn: ConnId, frame: &[u8]) {
        let _ = send_frame(cx, conn, &self.0, frame);
    }
}

fn framed(payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(payload);
    f
}

#[test]
fn a_frame_being_skipped_is_a_message_in_progress() {
    let codec = Codec::length_prefixed(64).with_policy(OnTooLong::Discard);
    let mut reactor = Reactor::new(Framed::new(codec, Echo(codec)).unwrap()).unwrap();
    let addr = reactor
        .with_context(|_, cx| {
            let l = cx.listen("127.0.0.1:0".parse().unwrap())?;
            cx.listener_addr(l)
        })
        .unwrap();
    let server = Running::start(reactor);
    let mut c = connect(addr);
    // An oversize frame (1000 bytes, the limit is 64): its header and a first part.
    let big = framed(&[7; 1000]);
    c.write_all(&big[..300]).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    server
        .handle
        .shutdown(std::time::Duration::from_secs(30))
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    // Still open: the rest of the skipped frame, then a whole one, which is answered.
    c.write_all(&big[300..]).unwrap();
    c.write_all(&framed(b"after")).unwrap();
    let mut got = Vec::new();
    c.read_to_end(&mut got)
        .expect("the answer, then end of file");
    assert_eq!(got, framed(b"after"));
    drop(c);
    let reactor = server.join();
    let stats = *reactor.stats();
    assert_eq!((stats.shutdown_finished, stats.shutdown_cut_off), (1, 0));
}
