//! The fast paths for netloop's own format (a 4-byte big-endian body length at the start)
//! held to references: the decoder's to one written out by hand, the encoder's to the
//! general path it skips.

use proptest::prelude::*;

use super::*;

/// What netloop's own format (a 4-byte big-endian body length, the decoder's fast path)
/// must give, written out by hand.
fn reference_be32(max_frame: usize, input: &[u8]) -> Result<Decoded, FrameError> {
    if input.len() < 4 {
        return Ok(Decoded::Incomplete { consumed: 0 });
    }
    let total = 4 + u64::from(u32::from_be_bytes([input[0], input[1], input[2], input[3]]));
    if total > max_frame as u64 {
        return Err(FrameError::TooLong {
            len: total,
            max: max_frame,
        });
    }
    let total = total as usize;
    if input.len() < total {
        return Ok(Decoded::Incomplete { consumed: 0 });
    }
    Ok(Decoded::Frame {
        frame: 4..total,
        consumed: total,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn the_be32_fast_path_matches_a_reference(
        header in any::<u32>().prop_map(|h| h % 300),
        body in proptest::collection::vec(any::<u8>(), 0..320),
        max_frame in 4usize..400,
        big in any::<bool>(),
    ) {
        let mut input = if big { u32::MAX.to_be_bytes().to_vec() } else { header.to_be_bytes().to_vec() };
        input.extend_from_slice(&body);
        let mut decoder = Codec::length_prefixed(max_frame).decoder().unwrap();
        let got = decoder.decode(&input);
        let want = reference_be32(max_frame, &input);
        prop_assert_eq!(format!("{got:?}"), format!("{want:?}"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// Every field shape the fast path takes (any maximum and strip the codec accepts), and
    /// payload lengths around the maximum: the same envelope or the same error.
    #[test]
    fn the_be32_encoder_fast_path_matches_the_general_path(
        max_frame in 0usize..400,
        strip in 0usize..410,
        len in 0usize..420,
    ) {
        let codec = Codec {
            format: Format::Length(LengthField {
                max_frame,
                strip,
                ..LengthField::default()
            }),
            ..Codec::default()
        };
        let payload = vec![7u8; len];
        prop_assert_eq!(codec.envelope(&payload), codec.envelope_slow(&payload));
    }
}

#[test]
fn the_be32_encoder_fast_path_refuses_a_length_the_field_cannot_hold() {
    // A 4 GiB payload cannot be made here; the check is on the length alone.
    let codec = Codec::length_prefixed(usize::MAX);
    let len = u32::MAX as usize + 1;
    assert_eq!(
        super::codec::be32_envelope(usize::MAX, 4, len),
        Err(EncodeError::FieldOverflow {
            value: len as u64,
            width: 4
        })
    );
    assert!(codec.validate().is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// The one-pass scan agrees with `decode` called frame by frame: the same number of whole
    /// frames and bytes, stopping at the same place (an incomplete frame, or one `decode`
    /// refuses), for any maximum and strip of the format, and leaves the decoder as it was.
    #[test]
    fn scanning_whole_frames_matches_decoding_them(
        lens in proptest::collection::vec(0u32..40, 0..12),
        tail in proptest::collection::vec(any::<u8>(), 0..8),
        max_frame in 4usize..48,
        strip in 0usize..6,
        cut in any::<usize>(),
    ) {
        let mut input = Vec::new();
        for len in lens {
            input.extend_from_slice(&len.to_be_bytes());
            input.extend((0..len).map(|i| i as u8));
        }
        input.extend_from_slice(&tail);
        input.truncate(cut % (input.len() + 1));
        let codec = Codec {
            format: Format::Length(LengthField { max_frame, strip, ..LengthField::default() }),
            ..Codec::default()
        };
        prop_assume!(codec.validate().is_ok());
        let mut decoder = codec.decoder().unwrap();
        let (frames, end) = decoder.scan_whole_frames(&input);
        let (mut want_frames, mut want_end) = (0, 0);
        while let Ok(Decoded::Frame { consumed, .. }) = decoder.decode(&input[want_end..]) {
            want_frames += 1;
            want_end += consumed;
        }
        prop_assert_eq!((frames, end), (want_frames, want_end));
    }
}

#[test]
fn other_codecs_and_a_decoder_mid_skip_are_not_scanned() {
    let lines = Codec::lines(LineEnding::Lf, 100);
    assert_eq!(
        lines.decoder().unwrap().scan_whole_frames(b"a\nb\n"),
        (0, 0)
    );
    let mut skipping = Codec {
        on_too_long: OnTooLong::Discard,
        ..Codec::length_prefixed(8)
    }
    .decoder()
    .unwrap();
    // A 100-byte frame is too long: the decoder skips it, and is mid-skip after 10 bytes.
    let mut input = 100u32.to_be_bytes().to_vec();
    input.extend_from_slice(&[0; 6]);
    assert!(matches!(
        skipping.decode(&input),
        Ok(Decoded::Skipped { .. })
    ));
    assert!(!skipping.is_idle());
    let frame = [0, 0, 0, 1, 9];
    assert_eq!(skipping.scan_whole_frames(&frame), (0, 0));
}

#[test]
fn the_scan_stops_at_a_header_over_the_limit_whether_or_not_the_input_could_hold_it() {
    // Frames of 10 bytes (6 of body) under a 16-byte limit, then a header announcing 13 bytes
    // of body (17 in all, one over), then that many bytes: the scan stops before the header
    // whether the input is shorter than the limit (where it skips the per-frame check) or
    // longer (where it makes it), and decoding then refuses the frame.
    let codec = Codec::length_prefixed(16);
    let mut frame = 6u32.to_be_bytes().to_vec();
    frame.extend_from_slice(&[7; 6]);
    let mut over = 13u32.to_be_bytes().to_vec();
    over.extend_from_slice(&[9; 13]);
    for whole in [0, 1, 3] {
        let mut input = frame.repeat(whole);
        input.extend_from_slice(&over[..4]);
        assert!(input.len() <= 16 || whole == 3);
        let mut decoder = codec.decoder().unwrap();
        assert_eq!(
            decoder.scan_whole_frames(&input),
            (whole as u64, 10 * whole)
        );
        input.extend_from_slice(&over[4..]);
        assert!(input.len() > 16);
        assert_eq!(
            decoder.scan_whole_frames(&input),
            (whole as u64, 10 * whole)
        );
        assert!(matches!(
            decoder.decode(&input[10 * whole..]),
            Err(FrameError::TooLong { len: 17, max: 16 })
        ));
    }
}
