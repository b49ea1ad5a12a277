//! Unit tests of every knob, the boundaries, and the chunking property.

use proptest::prelude::*;

use super::*;

/// Decode all of `input` in one piece: the frames, then the error if any.
fn frames(codec: Codec, input: &[u8]) -> (Vec<Vec<u8>>, Option<FrameError>, usize) {
    let mut d = codec.decoder().unwrap();
    let mut out = Vec::new();
    let mut rest = input;
    loop {
        match d.decode(rest) {
            Ok(Decoded::Frame { frame, consumed }) => {
                out.push(rest[frame].to_vec());
                rest = &rest[consumed..];
            }
            Ok(Decoded::Skipped { .. }) => {}
            Ok(Decoded::Discarded { consumed }) => rest = &rest[consumed..],
            Ok(Decoded::Incomplete { consumed }) => {
                rest = &rest[consumed..];
                return (out, None, rest.len());
            }
            Err(e) => return (out, Some(e), rest.len()),
        }
    }
}

fn length(f: LengthField) -> Codec {
    Codec {
        format: Format::Length(f),
        on_too_long: OnTooLong::Fail,
    }
}

// ----- the default format ----------------------------------------------------------------------

#[test]
fn default_is_u32_be_payload_length_and_8_mib() {
    let c = Codec::default();
    assert_eq!(c.max_frame(), 8 * 1024 * 1024);
    let mut wire = Vec::new();
    c.encode_to_vec(b"abc", &mut wire).unwrap();
    assert_eq!(wire, [0, 0, 0, 3, b'a', b'b', b'c']);
    assert_eq!(frames(c, &wire).0, vec![b"abc".to_vec()]);
}

#[test]
fn zero_length_frames() {
    let wire = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, b'x'];
    let (f, err, left) = frames(Codec::default(), &wire);
    assert_eq!(f, vec![vec![], vec![], b"x".to_vec()]);
    assert_eq!((err, left), (None, 0));
}

#[test]
fn exactly_max_passes_and_max_plus_one_fails_at_the_header() {
    let max = 100;
    let c = Codec::length_prefixed(max);
    // Max counts the 4-byte header: 96 payload bytes make a 100-byte frame.
    let mut ok = vec![0, 0, 0, 96];
    ok.extend([7u8; 96]);
    assert_eq!(frames(c, &ok).0, vec![vec![7u8; 96]]);
    // 97 payload bytes: refused with only the header present, nothing of the payload.
    let (f, err, _) = frames(c, &[0, 0, 0, 97]);
    assert!(f.is_empty());
    assert_eq!(err, Some(FrameError::TooLong { len: 101, max: 100 }));
}

#[test]
fn all_ones_length_is_refused_after_four_bytes() {
    let (_, err, _) = frames(Codec::default(), &[0xff, 0xff, 0xff, 0xff]);
    assert_eq!(
        err,
        Some(FrameError::TooLong {
            len: 0xffff_ffff + 4,
            max: DEFAULT_MAX_FRAME
        })
    );
    // Fewer than four bytes: still waiting, no error yet.
    assert_eq!(frames(Codec::default(), &[0xff, 0xff, 0xff]).1, None);
}

#[test]
fn a_final_error_stays() {
    let mut d = Codec::length_prefixed(10).decoder().unwrap();
    let e = d.decode(&[0, 0, 1, 0]).unwrap_err();
    assert!(d.is_failed());
    assert_eq!(d.decode(&[]).unwrap_err(), e);
    assert_eq!(d.decode(&[0, 0, 0, 0]).unwrap_err(), e);
}

#[test]
fn partial_frames_wait_and_report_no_consumption() {
    let mut d = Codec::default().decoder().unwrap();
    for n in 0..7 {
        let wire = [0, 0, 0, 3, 1, 2, 3];
        assert_eq!(
            d.decode(&wire[..n]).unwrap(),
            Decoded::Incomplete { consumed: 0 }
        );
    }
    assert_eq!(
        d.decode(&[0, 0, 0, 3, 1, 2, 3]).unwrap(),
        Decoded::Frame {
            frame: 4..7,
            consumed: 7
        }
    );
}

// ----- each knob ------------------------------------------------------------------------------

#[test]
fn every_width_in_both_byte_orders() {
    for width in [1, 2, 3, 4, 8] {
        for endian in [Endian::Big, Endian::Little] {
            let c = length(LengthField {
                width,
                endian,
                strip: width,
                ..LengthField::default()
            });
            let payload = vec![0xabu8; 200];
            let mut wire = Vec::new();
            c.encode_to_vec(&payload, &mut wire).unwrap();
            assert_eq!(wire.len(), width + 200);
            let field = &wire[..width];
            let expect_low = if endian == Endian::Big {
                field[width - 1]
            } else {
                field[0]
            };
            assert_eq!(expect_low, 200, "{width} {endian:?}: {field:?}");
            assert_eq!(frames(c, &wire).0, vec![payload], "{width} {endian:?}");
        }
    }
}

#[test]
fn three_byte_little_endian_field_by_hand() {
    let c = length(LengthField {
        width: 3,
        endian: Endian::Little,
        strip: 3,
        ..LengthField::default()
    });
    assert_eq!(frames(c, &[2, 0, 0, b'h', b'i']).0, vec![b"hi".to_vec()]);
    assert_eq!(
        frames(c, &[0, 1, 0]).1,
        None,
        "256 bytes announced: waiting"
    );
}

#[test]
fn width_one_cannot_encode_256() {
    let c = length(LengthField {
        width: 1,
        strip: 1,
        ..LengthField::default()
    });
    assert_eq!(
        c.envelope(&[0; 256]),
        Err(EncodeError::FieldOverflow {
            value: 256,
            width: 1
        })
    );
    assert!(c.envelope(&[0; 255]).is_ok());
}

#[test]
fn offset_skips_header_bytes_before_the_field() {
    // 2-byte message type, then a u16 payload length; deliver the whole frame.
    let c = length(LengthField {
        width: 2,
        offset: 2,
        strip: 0,
        ..LengthField::default()
    });
    let wire = [0xca, 0xfe, 0, 2, b'o', b'k'];
    assert_eq!(frames(c, &wire).0, vec![wire.to_vec()]);
}

#[test]
fn negative_adjustment_when_the_length_counts_the_header() {
    let c = length(LengthField {
        adjustment: -4,
        ..LengthField::default()
    });
    // The field says 6: the 4-byte header plus 2 payload bytes.
    assert_eq!(frames(c, &[0, 0, 0, 6, b'o', b'k']).0, vec![b"ok".to_vec()]);
    let mut wire = Vec::new();
    c.encode_to_vec(b"ok", &mut wire).unwrap();
    assert_eq!(wire, [0, 0, 0, 6, b'o', b'k']);
    // A field below 4 means a negative body: malformed, final even under Discard.
    let d = c.with_policy(OnTooLong::Discard);
    assert_eq!(
        frames(d, &[0, 0, 0, 3]).1,
        Some(FrameError::NegativeLength {
            field: 3,
            adjustment: -4
        })
    );
}

#[test]
fn positive_adjustment_for_a_trailer_not_counted() {
    // The field counts the payload but a 2-byte checksum follows it.
    let c = length(LengthField {
        width: 1,
        adjustment: 2,
        strip: 1,
        ..LengthField::default()
    });
    assert_eq!(
        frames(c, &[1, b'x', 0xaa, 0xbb]).0,
        vec![vec![b'x', 0xaa, 0xbb]]
    );
}

#[test]
fn strip_zero_delivers_the_header_and_too_much_strip_fails() {
    let c = length(LengthField {
        strip: 0,
        ..LengthField::default()
    });
    assert_eq!(frames(c, &[0, 0, 0, 1, 9]).0, vec![vec![0, 0, 0, 1, 9]]);
    let c = length(LengthField {
        strip: 7,
        ..LengthField::default()
    });
    assert_eq!(
        frames(c, &[0, 0, 0, 1, 9]).1,
        Some(FrameError::StripExceedsFrame { strip: 7, len: 5 })
    );
    // Strip into the payload is allowed when the frame is long enough.
    assert_eq!(frames(c, &[0, 0, 0, 4, 1, 2, 3, 4]).0, vec![vec![4]]);
}

#[test]
fn max_counts_offset_and_adjustment() {
    let c = length(LengthField {
        width: 2,
        offset: 3,
        adjustment: 10,
        strip: 5,
        max_frame: 20,
        ..LengthField::default()
    });
    // header 5 + field 5 + adjustment 10 = 20: allowed.
    let mut ok = vec![0, 0, 0, 0, 5];
    ok.extend([1u8; 15]);
    assert_eq!(frames(c, &ok).0, vec![vec![1u8; 15]]);
    assert_eq!(
        frames(c, &[0, 0, 0, 0, 6]).1,
        Some(FrameError::TooLong { len: 21, max: 20 })
    );
}

#[test]
fn eight_byte_field_with_huge_values_does_not_overflow() {
    let c = length(LengthField {
        width: 8,
        strip: 8,
        adjustment: i64::MAX,
        ..LengthField::default()
    });
    let (_, err, _) = frames(c, &[0xff; 8]);
    assert_eq!(
        err,
        Some(FrameError::TooLong {
            len: u64::MAX,
            max: DEFAULT_MAX_FRAME
        })
    );
    let c = length(LengthField {
        width: 8,
        strip: 8,
        adjustment: i64::MIN,
        ..LengthField::default()
    });
    assert!(matches!(
        frames(c, &[0; 8]).1,
        Some(FrameError::NegativeLength { .. })
    ));
}

#[test]
fn config_errors_are_named() {
    let bad = length(LengthField {
        width: 5,
        ..LengthField::default()
    });
    assert_eq!(bad.decoder().unwrap_err(), ConfigError::Width(5));
    let bad = length(LengthField {
        offset: 10,
        max_frame: 12,
        ..LengthField::default()
    });
    assert_eq!(
        bad.validate(),
        Err(ConfigError::HeaderExceedsMax {
            header: 14,
            max: 12
        })
    );
    assert_eq!(Codec::varint(0).validate(), Err(ConfigError::ZeroMax));
    assert!(ConfigError::Width(5).to_string().contains("width 5"));
}

// ----- discard policy -------------------------------------------------------------------------

#[test]
fn discard_skips_exactly_the_oversize_frame_and_carries_on() {
    let c = Codec::length_prefixed(10).with_policy(OnTooLong::Discard);
    let mut wire = vec![0, 0, 0, 2, b'o', b'k'];
    wire.extend([0, 0, 0, 20]);
    wire.extend([b'z'; 20]);
    wire.extend([0, 0, 0, 3, b'y', b'e', b's']);
    let mut d = c.decoder().unwrap();
    let mut rest = &wire[..];
    let mut seen = Vec::new();
    loop {
        match d.decode(rest).unwrap() {
            Decoded::Frame { frame, consumed } => {
                seen.push(format!("frame {:?}", String::from_utf8_lossy(&rest[frame])));
                rest = &rest[consumed..];
            }
            Decoded::Skipped { error } => seen.push(format!("skip: {error}")),
            Decoded::Discarded { consumed } => rest = &rest[consumed..],
            Decoded::Incomplete { .. } => break,
        }
    }
    assert_eq!(
        seen,
        [
            "frame \"ok\"",
            "skip: frame of 24 bytes exceeds the maximum of 10 bytes",
            "frame \"yes\""
        ]
    );
    assert!(d.is_idle());
}

#[test]
fn discard_does_not_buffer_the_skipped_bytes() {
    let c = Codec::length_prefixed(10).with_policy(OnTooLong::Discard);
    let mut d = c.decoder().unwrap();
    assert!(matches!(
        d.decode(&[0, 0, 1, 0]).unwrap(),
        Decoded::Skipped { .. }
    ));
    // Every byte of the 260-byte frame is consumed as soon as it is offered.
    assert_eq!(
        d.decode(&[0, 0, 1, 0, 1, 2]).unwrap(),
        Decoded::Incomplete { consumed: 6 }
    );
    assert_eq!(
        d.decode(&[9; 100]).unwrap(),
        Decoded::Incomplete { consumed: 100 }
    );
    assert!(!d.is_idle());
    // 154 bytes left of it, then a good frame in the same input.
    let mut tail = vec![9u8; 154];
    tail.extend([0, 0, 0, 1, b'!']);
    assert_eq!(
        d.decode(&tail).unwrap(),
        Decoded::Discarded { consumed: 154 }
    );
    assert!(d.is_idle());
    assert_eq!(
        d.decode(&tail[154..]).unwrap(),
        Decoded::Frame {
            frame: 4..5,
            consumed: 5
        }
    );
}

// ----- varint ---------------------------------------------------------------------------------

#[test]
fn varint_edge_cases() {
    let c = Codec::varint(1 << 20);
    let enc = |n: usize| c.envelope(&vec![0; n]).unwrap().prefix().to_vec();
    assert_eq!(enc(0), [0]);
    assert_eq!(enc(1), [1]);
    assert_eq!(enc(127), [0x7f]);
    assert_eq!(enc(128), [0x80, 0x01]);
    assert_eq!(enc(300), [0xac, 0x02]);
    assert_eq!(enc(16383), [0xff, 0x7f]);
    assert_eq!(enc(16384), [0x80, 0x80, 0x01]);
    for n in [0, 1, 127, 128, 300, 16384] {
        let mut wire = Vec::new();
        c.encode_to_vec(&vec![5; n], &mut wire).unwrap();
        assert_eq!(frames(c, &wire).0, vec![vec![5u8; n]], "{n}");
    }
    // A non-minimal encoding of 1 (0x81 0x00) is accepted, as protobuf does.
    assert_eq!(frames(c, &[0x81, 0x00, 7]).0, vec![vec![7]]);
    // Continuation bits with no end yet: waiting.
    assert_eq!(frames(c, &[0x80, 0x80]).1, None);
}

#[test]
fn varint_malformed_and_too_long() {
    let c = Codec::varint(usize::MAX);
    // u64::MAX: nine 0xff then 0x01.
    let mut max = vec![0xff; 9];
    max.push(0x01);
    assert!(matches!(
        frames(c, &max).1,
        None | Some(FrameError::TooLong { .. })
    ));
    let mut overflow = vec![0xff; 9];
    overflow.push(0x02);
    assert_eq!(frames(c, &overflow).1, Some(FrameError::VarintOverflow));
    let mut eleven = vec![0x80; 10];
    eleven.push(0);
    assert_eq!(frames(c, &eleven).1, Some(FrameError::VarintTooLong));
    // Too long for the maximum: known at the header.
    let small = Codec::varint(100);
    assert_eq!(
        frames(small, &[0xe4, 0x00]).1,
        Some(FrameError::TooLong { len: 102, max: 100 })
    );
    assert_eq!(frames(small, &[99]).1, None, "1 + 99 = 100 bytes: fits");
    assert_eq!(
        frames(small, &[100]).1,
        Some(FrameError::TooLong { len: 101, max: 100 })
    );
}

// ----- lines ----------------------------------------------------------------------------------

#[test]
fn line_endings() {
    let input = b"one\ntwo\r\nthree\r\n";
    let lf = Codec::lines(LineEnding::Lf, 100);
    assert_eq!(
        frames(lf, input).0,
        vec![b"one".to_vec(), b"two\r".to_vec(), b"three\r".to_vec()]
    );
    let any = Codec::lines(LineEnding::Any, 100);
    assert_eq!(
        frames(any, input).0,
        vec![b"one".to_vec(), b"two".to_vec(), b"three".to_vec()]
    );
    let crlf = Codec::lines(LineEnding::CrLf, 100);
    assert_eq!(
        frames(crlf, input).0,
        vec![b"one\ntwo".to_vec(), b"three".to_vec()]
    );
    // Empty lines are frames too.
    assert_eq!(frames(lf, b"\n\n").0, vec![Vec::<u8>::new(), vec![]]);
}

#[test]
fn line_max_is_exclusive_of_the_terminator() {
    let c = Codec::lines(LineEnding::Any, 3);
    assert_eq!(frames(c, b"abc\r\n").0, vec![b"abc".to_vec()]);
    assert_eq!(frames(c, b"abc\n").0, vec![b"abc".to_vec()]);
    assert_eq!(
        frames(c, b"abcd\n").1,
        Some(FrameError::LineTooLong { max: 3 })
    );
    // Known too long without any terminator once max + 2 bytes are there.
    assert_eq!(frames(c, b"abcd").1, None);
    assert_eq!(
        frames(c, b"abcde").1,
        Some(FrameError::LineTooLong { max: 3 })
    );
}

#[test]
fn line_discard_skips_to_the_next_terminator_even_across_inputs() {
    let c = Codec::lines(LineEnding::CrLf, 2).with_policy(OnTooLong::Discard);
    let mut d = c.decoder().unwrap();
    assert!(matches!(
        d.decode(b"toolong").unwrap(),
        Decoded::Skipped { .. }
    ));
    assert_eq!(
        d.decode(b"toolong\r").unwrap(),
        Decoded::Incomplete { consumed: 8 }
    );
    // The \n completing "\r\n" arrives alone.
    assert_eq!(
        d.decode(b"\nok\r\n").unwrap(),
        Decoded::Discarded { consumed: 1 }
    );
    assert_eq!(
        d.decode(b"ok\r\n").unwrap(),
        Decoded::Frame {
            frame: 0..2,
            consumed: 4
        }
    );
}

#[test]
fn encoding_lines() {
    let c = Codec::lines(LineEnding::Lf, 5);
    let mut out = Vec::new();
    c.encode_to_vec(b"hi", &mut out).unwrap();
    assert_eq!(out, b"hi\n");
    assert_eq!(
        c.envelope(b"a\nb"),
        Err(EncodeError::LineContainsTerminator)
    );
    assert_eq!(
        c.envelope(b"toolong"),
        Err(EncodeError::TooLong { len: 7, max: 5 })
    );
    let crlf = Codec::lines(LineEnding::CrLf, 5);
    assert!(
        crlf.envelope(b"a\nb").is_ok(),
        "a lone \\n is fine in CRLF lines"
    );
    assert_eq!(
        crlf.envelope(b"a\r\nb"),
        Err(EncodeError::LineContainsTerminator)
    );
}

#[test]
fn errors_say_what_failed() {
    assert_eq!(
        FrameError::TooLong { len: 5, max: 4 }.to_string(),
        "frame of 5 bytes exceeds the maximum of 4 bytes"
    );
    assert!(FrameError::VarintOverflow.to_string().contains("64 bits"));
    assert!(EncodeError::FieldOverflow {
        value: 256,
        width: 1
    }
    .to_string()
    .contains("1-byte field"));
}

// ----- the chunking property --------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any codec, any bytes, any chunking: same frames, same error, same point.
    #[test]
    fn chunking_never_changes_the_result(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        crate::check::decode_chunks(&data);
    }

    /// Streams of real frames (some oversize) in the default format under both policies.
    #[test]
    fn chunking_of_valid_streams(
        sizes in proptest::collection::vec(0usize..64, 0..20),
        cuts in proptest::collection::vec(1usize..40, 1..10),
        discard in any::<bool>(),
    ) {
        let policy = if discard { OnTooLong::Discard } else { OnTooLong::Fail };
        let codec = Codec::length_prefixed(40).with_policy(policy);
        let mut wire = Vec::new();
        for (i, &n) in sizes.iter().enumerate() {
            wire.extend((n as u32).to_be_bytes());
            wire.extend(std::iter::repeat(i as u8).take(n));
        }
        let whole = frames(codec, &wire);
        // Feed the same bytes in the chunk sizes given, keeping unconsumed bytes.
        let mut d = codec.decoder().unwrap();
        let mut buf = Vec::new();
        let mut got = Vec::new();
        let mut err = None;
        let mut rest = &wire[..];
        let mut cut = cuts.iter().cycle();
        'outer: while !rest.is_empty() {
            let n = (*cut.next().unwrap()).min(rest.len());
            buf.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            loop {
                match d.decode(&buf) {
                    Ok(Decoded::Frame { frame, consumed }) => {
                        got.push(buf[frame].to_vec());
                        buf.drain(..consumed);
                    }
                    Ok(Decoded::Skipped { .. }) => {}
                    Ok(Decoded::Discarded { consumed }) => { buf.drain(..consumed); }
                    Ok(Decoded::Incomplete { consumed }) => { buf.drain(..consumed); break; }
                    Err(e) => { err = Some(e); break 'outer; }
                }
            }
        }
        prop_assert_eq!(&got, &whole.0);
        prop_assert_eq!(err, whole.1);
        let expected: Vec<Vec<u8>> = sizes
            .iter()
            .enumerate()
            .take_while(|(_, &n)| discard || n + 4 <= 40)
            .filter(|(_, &n)| n + 4 <= 40)
            .map(|(i, &n)| vec![i as u8; n])
            .collect();
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn encode_then_decode(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        crate::check::round_trip(&data);
    }
}

#[test]
fn encoding_checks_a_hand_made_codec() {
    let bad = length(LengthField {
        width: 16,
        ..LengthField::default()
    });
    assert_eq!(
        bad.envelope(b"x"),
        Err(EncodeError::Config(ConfigError::Width(16)))
    );
    let strip_too_far = length(LengthField {
        strip: 6,
        ..LengthField::default()
    });
    assert_eq!(
        strip_too_far.envelope(b"a"),
        Err(EncodeError::ShorterThanStrip { strip: 6, len: 5 })
    );
    assert!(strip_too_far.envelope(b"ab").is_ok());
    let strip_past_max = length(LengthField {
        strip: 20,
        max_frame: 10,
        ..LengthField::default()
    });
    assert_eq!(
        strip_past_max.validate(),
        Err(ConfigError::StripExceedsMax { strip: 20, max: 10 })
    );
}
