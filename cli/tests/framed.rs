//! The framed echo service on loopback: pipelining, byte-at-a-time frames, oversize and
//! truncated frames, the discard policy.

// The library's test helpers, shared rather than copied.
#[path = "../../tests/util/mod.rs"]
mod util;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use netloop::framing::{Codec, Decoded, FrameError, OnTooLong};
use netloop::reactor::framed::{send_frame, FrameHandler, Framed};
use netloop::reactor::{Config, ConnId, Context, Handler, Reactor};
use netloop::CloseReason;
use netloop_cli::services::CourseServer;
use util::{connect, pattern, Running};

fn start(max_frame: usize) -> (Running<CourseServer>, SocketAddr) {
    let codec = Codec::length_prefixed(max_frame);
    let config =
        Config::default().max_read_buffer(Config::default().max_read_buffer.max(max_frame));
    let mut reactor =
        Reactor::with_config(CourseServer::with_codec(codec).unwrap(), config).unwrap();
    let l = reactor.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    reactor.handler_mut().serve_framed(l);
    let addr = reactor.listener_addr(l).unwrap();
    (Running::start(reactor), addr)
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    Codec::default().encode_to_vec(payload, &mut out).unwrap();
    out
}

/// Read one frame in the default format.
fn read_frame(s: &mut TcpStream) -> Vec<u8> {
    let mut len = [0; 4];
    s.read_exact(&mut len).expect("frame header");
    util::read_n(s, u32::from_be_bytes(len) as usize)
}

fn is_closed(s: &mut TcpStream) -> bool {
    let mut b = [0; 1];
    match s.read(&mut b) {
        Ok(0) => true,
        Err(e) if e.kind() == ErrorKind::ConnectionReset => true,
        other => panic!("expected the server to close, got {other:?}"),
    }
}

#[test]
fn a_thousand_pipelined_frames_of_random_sizes_come_back_in_order() {
    let (_server, addr) = start(1 << 20);
    let mut c = connect(addr);
    let payloads: Vec<Vec<u8>> = (0..1000)
        .map(|i| {
            let size = (pattern(i, 4)
                .iter()
                .fold(0usize, |a, &b| a * 256 + b as usize))
                % 20_000;
            pattern(i + 7, size)
        })
        .collect();
    let mut wire = Vec::new();
    for p in &payloads {
        wire.extend(frame(p));
    }
    let mut writer = c.try_clone().unwrap();
    let t = std::thread::spawn(move || writer.write_all(&wire).unwrap());
    for (i, p) in payloads.iter().enumerate() {
        let got = read_frame(&mut c);
        assert!(
            got == *p,
            "frame {i} differs ({} vs {} bytes)",
            got.len(),
            p.len()
        );
    }
    t.join().unwrap();
}

#[test]
fn a_frame_sent_one_byte_at_a_time() {
    let (_server, addr) = start(1 << 20);
    let mut c = connect(addr);
    c.set_nodelay(true).unwrap();
    let wire = frame(b"one byte at a time");
    for &b in &wire[..wire.len() - 1] {
        c.write_all(&[b]).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    // Nothing comes back before the frame is whole.
    c.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut probe = [0; 1];
    let early = c.read(&mut probe);
    assert!(
        matches!(&early, Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)),
        "echo before the frame was complete: {early:?}"
    );
    c.set_read_timeout(Some(util::STEP)).unwrap();
    c.write_all(&wire[wire.len() - 1..]).unwrap();
    assert_eq!(read_frame(&mut c), b"one byte at a time");
}

#[test]
fn zero_length_and_exactly_max_frames_echo_and_max_plus_one_closes() {
    let (server, addr) = start(100);
    let mut c = connect(addr);
    c.write_all(&frame(b"")).unwrap();
    assert_eq!(read_frame(&mut c), b"");
    let max_payload = vec![b'm'; 96];
    c.write_all(&frame(&max_payload)).unwrap();
    assert_eq!(read_frame(&mut c), max_payload);
    // 97 bytes of payload: 101 on the wire. Refused at the header.
    c.write_all(&97u32.to_be_bytes()).unwrap();
    assert!(is_closed(&mut c));
    assert!(util::wait_until(|| server
        .query(|_, cx| cx.stats().closed_protocol)
        == 1));
}

#[test]
fn oversize_header_closes_only_that_connection() {
    let (server, addr) = start(8 * 1024 * 1024);
    let mut good = connect(addr);
    good.write_all(&frame(b"before")).unwrap();
    assert_eq!(read_frame(&mut good), b"before");

    let mut bad = connect(addr);
    bad.write_all(&[0xff, 0xff, 0xff, 0xff]).unwrap();
    assert!(is_closed(&mut bad));

    good.write_all(&frame(b"after")).unwrap();
    assert_eq!(read_frame(&mut good), b"after");
    let stats = server.query(|_, cx| *cx.stats());
    assert_eq!(stats.closed_protocol, 1);
    assert_eq!(stats.active, 1);
}

#[test]
fn peer_closing_mid_frame_is_a_truncated_frame_error() {
    let (server, addr) = start(1 << 20);
    let mut c = connect(addr);
    c.write_all(&[0, 0, 0, 10, 1, 2, 3]).unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    assert!(is_closed(&mut c));
    assert!(util::wait_until(|| server
        .query(|_, cx| cx.stats().closed_protocol)
        == 1));
}

#[test]
fn half_close_after_whole_frames_gets_every_echo_then_eof() {
    let (_server, addr) = start(1 << 20);
    let mut c = connect(addr);
    for i in 0..10u8 {
        c.write_all(&frame(&[i; 100])).unwrap();
    }
    c.shutdown(Shutdown::Write).unwrap();
    for i in 0..10u8 {
        assert_eq!(read_frame(&mut c), [i; 100]);
    }
    assert!(is_closed(&mut c));
}

/// Echo, counting skipped frames, with the discard policy.
struct Skipping {
    codec: Codec,
    skipped: Vec<FrameError>,
    closes: Vec<String>,
}

impl Handler for Skipping {
    fn on_close(&mut self, _: &mut Context<'_>, _: ConnId, reason: &CloseReason) {
        self.closes.push(reason.to_string());
    }
}

impl FrameHandler for Skipping {
    fn on_frame(&mut self, cx: &mut Context<'_>, conn: ConnId, frame: &[u8]) {
        send_frame(cx, conn, &self.codec, frame).unwrap();
    }
    fn on_frame_skipped(&mut self, _: &mut Context<'_>, _: ConnId, error: &FrameError) {
        self.skipped.push(error.clone());
    }
}

#[test]
fn discard_policy_skips_an_oversize_frame_and_keeps_the_connection() {
    let codec = Codec::length_prefixed(64).with_policy(OnTooLong::Discard);
    let handler = Framed::new(
        codec,
        Skipping {
            codec,
            skipped: Vec::new(),
            closes: Vec::new(),
        },
    )
    .unwrap();
    // A small read buffer: the skipped frame is far larger than it, and must not be buffered.
    let config = Config::default().read_buffer_size(256).max_read_buffer(256);
    let mut reactor = Reactor::with_config(handler, config).unwrap();
    let l = reactor.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = reactor.listener_addr(l).unwrap();
    let server = Running::start(reactor);

    let mut c = connect(addr);
    let mut wire = frame(b"first");
    wire.extend(100_000u32.to_be_bytes());
    wire.extend(vec![b'z'; 100_000]);
    wire.extend(frame(b"second"));
    let mut w = c.try_clone().unwrap();
    let t = std::thread::spawn(move || w.write_all(&wire).unwrap());
    assert_eq!(read_frame(&mut c), b"first");
    assert_eq!(read_frame(&mut c), b"second");
    t.join().unwrap();
    drop(c);
    let reactor = server.stop();
    let h = reactor.handler().inner();
    assert_eq!(
        h.skipped,
        vec![FrameError::TooLong {
            len: 100_004,
            max: 64
        }]
    );
    assert_eq!(reactor.stats().closed_protocol, 0);
}

#[test]
fn decoding_replies_client_side_with_the_same_codec() {
    // The decoder works on client-side buffers too: read everything, split frames.
    let (_server, addr) = start(1 << 20);
    let mut c = connect(addr);
    c.write_all(&[frame(b"a"), frame(b"bc")].concat()).unwrap();
    let mut buf = Vec::new();
    let mut d = Codec::default().decoder().unwrap();
    let mut got = Vec::new();
    let mut chunk = [0; 64];
    while got.len() < 2 {
        match d.decode(&buf).unwrap() {
            Decoded::Frame { frame, consumed } => {
                got.push(buf[frame].to_vec());
                buf.drain(..consumed);
            }
            _ => {
                let n = c.read(&mut chunk).unwrap();
                assert!(n > 0);
                buf.extend_from_slice(&chunk[..n]);
            }
        }
    }
    assert_eq!(got, vec![b"a".to_vec(), b"bc".to_vec()]);
}

/// The course server's framed echo with a codec that re-encodes (lines): each frame is sent
/// back through `send_frame`, not from the input (`FrameDecoders::echo`'s other path).
#[test]
fn framed_echo_with_a_line_codec_reencodes_each_frame() {
    use netloop::framing::LineEnding;
    let codec = Codec::lines(LineEnding::Any, 64);
    let mut server = CourseServer::with_codec(codec).unwrap();
    let mut reactor = Reactor::new(CourseServer::new()).unwrap();
    let id = reactor.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    server.serve_framed(id);
    *reactor.handler_mut() = server;
    let addr = reactor.listener_addr(id).unwrap();
    let _running = Running::start(reactor);
    let mut c = connect(addr);
    // Bare LF endings come back as CRLF: the frames were re-encoded, not copied.
    c.write_all(b"one\ntwo\r\n").unwrap();
    let mut back = [0u8; 10];
    c.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"one\r\ntwo\r\n");
}
