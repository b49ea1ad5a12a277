//! Consistency checks over arbitrary bytes: the bodies of the fuzz targets.
//!
//! Each function takes any byte string, derives a configuration and a workload from it, runs
//! the code under test and a simpler reference side by side, and **panics** if they disagree.
//! `fuzz/` runs them under libFuzzer (`cargo +nightly fuzz run decode_chunks`); `cargo test`
//! runs them over the checked-in seed corpora in `tests/corpus/` and a few thousand generated
//! inputs (`tests/fuzz_corpus.rs`), so stable CI exercises them too.
//!
//! * [`decode_chunks`]: decoding a stream delivered in arbitrary chunks (with the unconsumed
//!   bytes kept and offered again, as the reactor does) gives exactly the frames, skips and
//!   error of decoding it in one piece.
//! * [`round_trip`]: whatever `encode` accepts, `decode` gives back.
//! * [`timer_wheel`]: the timer wheel against a `BTreeMap` model under insert, cancel and
//!   advance.
//! * [`wire`]: arbitrary bytes parsed as IPv4 + ICMP and as ICMPv6: every accessor of a
//!   checked view stays in bounds, and what a view says agrees with the bytes; echo requests
//!   built from the input verify; the ping matcher takes any packet without panicking.

use std::collections::BTreeMap;

use crate::framing::{
    Codec, ConfigError, Decoded, EncodeError, Endian, Format, FrameError, LengthField, LineEnding,
    OnTooLong,
};
use crate::time::{TimerHandle, TimerWheel};

/// Reads numbers from the front of the fuzzer's bytes; zeros once they run out.
struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    fn u64(&mut self) -> u64 {
        (0..8).fold(0, |v, _| (v << 8) | u64::from(self.u8()))
    }
    fn rest(self) -> &'a [u8] {
        self.0
    }
}

/// A codec chosen by the fuzzer: every knob, with maxima small enough that frames complete.
fn codec_from(b: &mut Bytes<'_>) -> Codec {
    let kind = b.u8() % 3;
    let policy = if b.u8() & 1 == 0 {
        OnTooLong::Fail
    } else {
        OnTooLong::Discard
    };
    let format = match kind {
        0 => {
            let width = [1, 2, 3, 4, 8][b.u8() as usize % 5];
            let endian = if b.u8() & 1 == 0 {
                Endian::Big
            } else {
                Endian::Little
            };
            let offset = b.u8() as usize % 5;
            // Mostly small adjustments; sometimes extreme ones.
            let adjustment = match b.u8() % 8 {
                0 => i64::MIN,
                1 => i64::MAX,
                _ => i64::from(b.u8() as i8),
            };
            let strip = b.u8() as usize % (offset + width + 3);
            // Maxima up to 4 KiB: every decision point is reachable, and runs stay fast.
            let max_frame = offset + width + b.u16() as usize % 4096;
            Format::Length(LengthField {
                width,
                endian,
                offset,
                adjustment,
                strip,
                max_frame,
            })
        }
        1 => Format::Varint {
            max_frame: 1 + b.u16() as usize % 4096,
        },
        _ => Format::Lines {
            ending: [LineEnding::Lf, LineEnding::CrLf, LineEnding::Any][b.u8() as usize % 3],
            max_line: b.u8() as usize,
        },
    };
    Codec {
        format,
        on_too_long: policy,
    }
}

/// One observable decoding event, with its position in the stream.
#[derive(Debug, PartialEq, Eq)]
enum Event {
    Frame { at: usize, bytes: Vec<u8> },
    Skipped { at: usize, error: FrameError },
    Failed { at: usize, error: FrameError },
}

/// Decode `chunks` in order, keeping unconsumed bytes between chunks as a read buffer does.
/// Returns the events and the number of bytes left unconsumed.
fn decode_stream<'c>(codec: &Codec, chunks: impl Iterator<Item = &'c [u8]>) -> (Vec<Event>, usize) {
    let mut decoder = codec.decoder().expect("validated");
    let mut events = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut pos = 0; // stream offset of buf[0]
    'chunks: for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            match decoder.decode(&buf) {
                Ok(Decoded::Frame { frame, consumed }) => {
                    assert!(frame.start <= frame.end && frame.end <= consumed);
                    assert!(consumed <= buf.len(), "consumed past the input");
                    assert!(
                        frame.end - frame.start <= codec.max_frame(),
                        "frame longer than the maximum"
                    );
                    events.push(Event::Frame {
                        at: pos + frame.start,
                        bytes: buf[frame].to_vec(),
                    });
                    buf.drain(..consumed);
                    pos += consumed;
                }
                Ok(Decoded::Skipped { error }) => {
                    assert_eq!(codec.on_too_long, OnTooLong::Discard);
                    events.push(Event::Skipped { at: pos, error });
                }
                Ok(Decoded::Discarded { consumed }) => {
                    assert!(consumed <= buf.len());
                    buf.drain(..consumed);
                    pos += consumed;
                }
                Ok(Decoded::Incomplete { consumed }) => {
                    assert!(consumed <= buf.len());
                    buf.drain(..consumed);
                    pos += consumed;
                    continue 'chunks;
                }
                Err(error) => {
                    // Final: the same error again, and nothing else.
                    assert_eq!(decoder.decode(&buf), Err(error.clone()));
                    events.push(Event::Failed { at: pos, error });
                    break 'chunks;
                }
            }
        }
    }
    (events, buf.len())
}

/// A stream built from `seed` out of pieces that sit on the decoder's decision points: whole
/// frames whose length is within a few bytes of the maximum (both sides of it), bare
/// terminators and headers, and raw bytes. Random bytes alone rarely hit those points.
fn stream_near_limits(codec: &Codec, seed: &[u8]) -> Vec<u8> {
    let mut b = Bytes(seed);
    // The same format with no maximum, to write oversize frames.
    let unlimited = Codec {
        format: match codec.format {
            Format::Length(f) => Format::Length(LengthField {
                max_frame: usize::MAX,
                ..f
            }),
            Format::Varint { .. } => Format::Varint {
                max_frame: usize::MAX,
            },
            Format::Lines { ending, .. } => Format::Lines {
                ending,
                max_line: usize::MAX,
            },
        },
        ..*codec
    };
    let overhead = match codec.format {
        Format::Length(f) => f.header_len(),
        Format::Varint { .. } => 1,
        Format::Lines { .. } => 0,
    };
    let limit = match codec.format {
        Format::Lines { max_line, .. } => max_line,
        _ => codec.max_frame(),
    };
    let mut out = Vec::new();
    while !b.0.is_empty() && out.len() < 8192 {
        let token = b.u8();
        match token % 4 {
            0 => out.push(b.u8()),
            1 | 2 => {
                // Around the limit, or anywhere below it.
                let len = if token % 4 == 1 {
                    (limit + 3).saturating_sub(overhead + b.u8() as usize % 7)
                } else {
                    b.u8() as usize
                };
                let fill = if b.u8() & 1 == 0 { b'a' } else { b'\r' };
                let payload = vec![fill; len.min(1 << 16)];
                if unlimited.encode_to_vec(&payload, &mut out).is_err() {
                    out.push(token);
                }
            }
            _ => match b.u8() % 3 {
                0 => out.push(b'\n'),
                1 => out.extend_from_slice(b"\r\n"),
                _ => out.push(b'\r'),
            },
        }
    }
    out
}

/// Decoding in arbitrary chunks equals decoding in one piece. Panics if not.
pub fn decode_chunks(data: &[u8]) {
    let mut b = Bytes(data);
    let codec = codec_from(&mut b);
    if codec.validate().is_err() {
        return;
    }
    let sizes: Vec<usize> = (0..1 + b.u8() % 16).map(|_| 1 + b.u8() as usize).collect();
    let structured = b.u8() & 1 == 1;
    let generated;
    let stream = if structured {
        generated = stream_near_limits(&codec, b.rest());
        &generated[..]
    } else {
        b.rest()
    };

    let (whole, left_whole) = decode_stream(&codec, std::iter::once(stream));
    let mut chunks = Vec::new();
    let mut rest = stream;
    for size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (chunk, tail) = rest.split_at((*size).min(rest.len()));
        chunks.push(chunk);
        rest = tail;
    }
    let (pieces, left_pieces) = decode_stream(&codec, chunks.into_iter());
    // One byte at a time too: the hardest chunking.
    let (bytewise, left_bytewise) = decode_stream(&codec, stream.chunks(1));
    assert_eq!(
        whole, pieces,
        "chunking {sizes:?} changed the result for {codec:?}"
    );
    assert_eq!(
        whole, bytewise,
        "byte-at-a-time changed the result for {codec:?}"
    );
    if !whole.iter().any(|e| matches!(e, Event::Failed { .. })) {
        assert_eq!(left_whole, left_pieces);
        assert_eq!(left_whole, left_bytewise);
    }
    scan_agrees(&codec, stream);
}

/// `Decoder::scan_whole_frames` counts and measures the same whole frames at the front of
/// `stream` as `decode` called frame by frame (or declines, for codecs it does not scan).
fn scan_agrees(codec: &Codec, stream: &[u8]) {
    let Ok(mut decoder) = codec.decoder() else {
        return;
    };
    let (frames, end) = decoder.scan_whole_frames(stream);
    let scanned = matches!(codec.format, Format::Length(f) if f.is_plain_be32());
    if !scanned {
        assert_eq!((frames, end), (0, 0), "a scan of a codec it cannot scan");
        return;
    }
    let (mut want_frames, mut want_end) = (0, 0);
    while let Ok(Decoded::Frame { consumed, .. }) = decoder.decode(&stream[want_end..]) {
        want_frames += 1;
        want_end += consumed;
    }
    assert_eq!(
        (frames, end),
        (want_frames, want_end),
        "the one-pass scan disagrees with decoding for {codec:?}"
    );
}

/// Encode payloads, decode the result: the frames come back. Panics if not.
pub fn round_trip(data: &[u8]) {
    let mut b = Bytes(data);
    let codec = codec_from(&mut b).with_policy(OnTooLong::Fail);
    if let Err(e) = codec.validate() {
        assert!(matches!(
            e,
            ConfigError::Width(_)
                | ConfigError::HeaderExceedsMax { .. }
                | ConfigError::StripExceedsMax { .. }
        ));
        assert!(matches!(codec.envelope(b""), Err(EncodeError::Config(_))));
        return;
    }
    let lens: Vec<usize> = (0..1 + b.u8() % 8)
        .map(|_| b.u16() as usize % 300)
        .collect();
    let rest = b.rest();
    let mut source = rest.iter().copied().cycle();
    let mut wire = Vec::new();
    let mut expected = Vec::new();
    for len in lens {
        let payload: Vec<u8> = if rest.is_empty() {
            vec![b'a'; len]
        } else {
            source.by_ref().take(len).collect()
        };
        let before = wire.len();
        match codec.encode_to_vec(&payload, &mut wire) {
            Ok(()) => {
                let frame = &wire[before..];
                expected.push(match codec.format {
                    Format::Length(f) => frame[f.strip..].to_vec(),
                    Format::Varint { .. } | Format::Lines { .. } => payload.clone(),
                });
            }
            Err(e) => {
                assert_eq!(wire.len(), before, "a failed encode wrote bytes");
                check_encode_error(&codec, &payload, &e);
            }
        }
    }
    let mut decoder = codec.decoder().expect("validated");
    let mut input = &wire[..];
    let mut got = Vec::new();
    loop {
        match decoder.decode(input) {
            Ok(Decoded::Frame { frame, consumed }) => {
                got.push(input[frame].to_vec());
                input = &input[consumed..];
            }
            Ok(Decoded::Incomplete { consumed }) => {
                assert_eq!(consumed, 0);
                break;
            }
            Ok(Decoded::Skipped { .. } | Decoded::Discarded { .. }) => {
                panic!("skipped under the Fail policy")
            }
            Err(e) => panic!("decoding what was encoded failed: {e} ({codec:?})"),
        }
    }
    assert_eq!(got, expected, "round trip through {codec:?}");
    assert!(
        input.is_empty(),
        "{} encoded bytes left undecoded",
        input.len()
    );
}

fn check_encode_error(codec: &Codec, payload: &[u8], e: &EncodeError) {
    match (codec.format, e) {
        (Format::Length(f), EncodeError::TooLong { len, max }) => {
            assert_eq!(*max, f.max_frame);
            assert!(*len as usize > f.max_frame && *len as usize == f.header_len() + payload.len());
        }
        (Format::Length(f), EncodeError::FieldOverflow { width, .. }) => {
            assert!(f.width < 8 && *width == f.width)
        }
        (Format::Length(f), EncodeError::NegativeLength { .. }) => {
            assert!((payload.len() as i128) < i128::from(f.adjustment))
        }
        (Format::Length(f), EncodeError::ShorterThanStrip { strip, len }) => {
            assert!(*strip == f.strip && *len == f.header_len() + payload.len() && len < strip)
        }
        (Format::Varint { max_frame }, EncodeError::TooLong { len, .. }) => {
            assert!(*len as usize > max_frame)
        }
        (Format::Lines { max_line, .. }, EncodeError::TooLong { .. }) => {
            assert!(payload.len() > max_line)
        }
        (Format::Lines { .. }, EncodeError::LineContainsTerminator) => {
            assert!(payload.contains(&b'\n'))
        }
        (format, e) => panic!("unexpected encode error {e:?} for {format:?}"),
    }
}

/// The timer wheel against a `BTreeMap` model. Panics on any difference.
pub fn timer_wheel(data: &[u8]) {
    let mut b = Bytes(data);
    let mut wheel: TimerWheel<u64> = TimerWheel::new();
    // (deadline, id) -> handle
    let mut model: BTreeMap<(u64, u64), TimerHandle> = BTreeMap::new();
    let mut handles: Vec<(TimerHandle, u64, u64)> = Vec::new();
    let mut now = match b.u8() % 4 {
        0 => 0,
        1 => (1 << 36) - 100,
        2 => u64::MAX - 1_000_000,
        _ => b.u64() >> 8,
    };
    if now > 0 {
        // Start the wheel at `now`: nothing is due.
        assert!(wheel.poll(now).is_none());
    }
    let mut next_id = 0u64;
    for _ in 0..512 {
        if b.0.is_empty() {
            break;
        }
        let op = b.u8();
        let delta = match op >> 6 {
            0 => u64::from(b.u8()),
            1 => u64::from(b.u16()),
            2 => u64::from(b.u16()) << 16,
            _ => b.u64(),
        };
        match op % 4 {
            0 | 1 => {
                let deadline = now.saturating_add(delta);
                let id = next_id;
                next_id += 1;
                let h = wheel.insert(deadline, id);
                assert_eq!(wheel.deadline(h), Some(deadline));
                model.insert((deadline, id), h);
                handles.push((h, deadline, id));
            }
            2 => {
                if handles.is_empty() {
                    continue;
                }
                let (h, deadline, id) = handles[delta as usize % handles.len()];
                let live = model.remove(&(deadline, id)).is_some();
                assert_eq!(wheel.cancel(h).is_some(), live, "cancel of {id}");
                assert_eq!(wheel.cancel(h), None, "second cancel of {id}");
            }
            _ => {
                let target = now.saturating_add(delta);
                if let Some(next) = wheel.next_deadline() {
                    let min = model.keys().next().map(|k| k.0);
                    assert!(
                        Some(next) <= min,
                        "next_deadline {next} after the earliest {min:?}"
                    );
                }
                while let Some((h, id)) = wheel.poll(target) {
                    let deadline = wheel_deadline_of(&handles, id);
                    assert!(
                        deadline <= target,
                        "timer {id} due {deadline} fired at {target}"
                    );
                    assert_eq!(
                        model.remove(&(deadline, id)),
                        Some(h),
                        "timer {id} fired twice or was cancelled"
                    );
                }
                now = target;
                if let Some((&(deadline, id), _)) = model.iter().next() {
                    assert!(
                        deadline > now,
                        "timer {id} due {deadline} not fired at {now}"
                    );
                }
            }
        }
        assert_eq!(wheel.len(), model.len());
    }
}

fn wheel_deadline_of(handles: &[(TimerHandle, u64, u64)], id: u64) -> u64 {
    // Ids are indexes into `handles`.
    handles[id as usize].1
}

/// Parse `data` as an IPv4 packet carrying ICMP, and as an ICMPv6 message: a checked view
/// must never panic or read out of bounds, its fields must be the bytes at their offsets,
/// and an ICMPv4 echo request built from the input must carry a checksum that verifies.
pub fn wire(data: &[u8]) {
    use crate::wire::{checksum, IcmpEcho, IcmpVersion, Ipv4Packet};
    if let Ok(ip) = Ipv4Packet::new_checked(data) {
        let header = ip.header_len();
        assert!((20..=60).contains(&header), "header length {header}");
        assert!(ip.total_len() >= header && ip.total_len() <= data.len());
        assert_eq!(ip.payload().len(), ip.total_len() - header);
        assert_eq!(ip.protocol(), data[9]);
        assert_eq!(ip.src().octets(), data[12..16]);
        let _ = (
            ip.ttl(),
            ip.dst(),
            ip.checksum_field(),
            ip.verify_checksum(),
        );
        if let Ok(icmp) = IcmpEcho::new_checked(ip.payload(), IcmpVersion::V4) {
            echo_fields(&icmp, ip.payload());
        }
    }
    for version in [IcmpVersion::V4, IcmpVersion::V6] {
        if let Ok(icmp) = IcmpEcho::new_checked(data, version) {
            echo_fields(&icmp, data);
            assert!(icmp.kind() == version.request() || icmp.kind() == version.reply());
        }
    }
    // Build: an echo request from the input's first bytes verifies, and reads back.
    let ident = u16::from_be_bytes([*data.first().unwrap_or(&0), *data.get(1).unwrap_or(&0)]);
    let seq = u16::from_be_bytes([*data.get(2).unwrap_or(&0), *data.get(3).unwrap_or(&0)]);
    let payload = data.get(4..).unwrap_or(&[]);
    let built = IcmpEcho::request(IcmpVersion::V4, ident, seq, payload).into_inner();
    assert_eq!(checksum(&built), 0, "a built request verifies");
    let back = IcmpEcho::new_checked(&built[..], IcmpVersion::V4).expect("a built request parses");
    assert_eq!(
        (back.ident(), back.seq(), back.data()),
        (ident, seq, payload)
    );
    // The pinger takes any packet without panicking, and accepts one only if it is an echo
    // reply with its identifier, a waiting sequence number and its own data.
    pinger_takes(data);
}

fn pinger_takes(data: &[u8]) {
    use crate::raw::{IcmpKind, Pinger};
    use crate::wire::IcmpVersion;
    let now = std::time::Instant::now();
    let from = std::net::IpAddr::from([127, 0, 0, 1]);
    for (version, kind) in [
        (IcmpVersion::V4, IcmpKind::Raw),
        (IcmpVersion::V4, IcmpKind::Datagram),
        (IcmpVersion::V6, IcmpKind::Raw),
    ] {
        let mut p = Pinger::new(version, kind, 0x0102, 0, 8);
        let _ = p.request(now);
        if let Ok(reply) = p.on_packet(data, from, now) {
            assert_eq!(reply.seq, 1);
            assert_eq!(p.summary().received, 1);
            assert_eq!(p.waiting(), 0);
        }
    }
}

fn echo_fields(icmp: &crate::wire::IcmpEcho<&[u8]>, bytes: &[u8]) {
    assert_eq!(icmp.ident(), u16::from_be_bytes([bytes[4], bytes[5]]));
    assert_eq!(icmp.seq(), u16::from_be_bytes([bytes[6], bytes[7]]));
    assert_eq!(icmp.data(), &bytes[8..]);
    let _ = (icmp.code(), icmp.checksum_field(), icmp.verify_checksum());
}
