//! Decoding throughput: netloop's zero-copy decoder beside tokio-util's
//! `LengthDelimitedCodec`, on the same bytes, read in the same chunks.
//! Run with `cargo bench --bench codec`.
//!
//! Both decoders see the stream as a server would: 16 KiB "reads" appended to a buffer, then
//! every whole frame taken out. netloop uses its own `ReadBuf` (frames are slices of it);
//! tokio-util uses `BytesMut` (frames are split off it). Both configurations are the same wire
//! format: 4-byte big-endian length of the payload, 8 MiB maximum.

mod support;

use std::hint::black_box;

use bytes::BytesMut;
use netloop::buf::{BufPool, ReadBuf};
use netloop::framing::{Codec, Decoded};
use support::{measure, report};
use tokio_util::codec::{Decoder as _, LengthDelimitedCodec};

const READ: usize = 16 * 1024;
const STREAM: usize = 8 * 1024 * 1024;

fn stream(payload: usize) -> (Vec<u8>, u64) {
    let codec = Codec::default();
    let mut wire = Vec::with_capacity(STREAM + payload + 4);
    let mut frames = 0;
    let body: Vec<u8> = (0..payload).map(|i| i as u8).collect();
    while wire.len() < STREAM {
        codec.encode_to_vec(&body, &mut wire).unwrap();
        frames += 1;
    }
    (wire, frames)
}

fn netloop_decode(wire: &[u8], pool: &mut BufPool) -> usize {
    let mut decoder = Codec::default().decoder().unwrap();
    let mut rbuf = ReadBuf::new();
    let mut total = 0;
    for chunk in wire.chunks(READ) {
        let mut chunk = chunk;
        while !chunk.is_empty() {
            assert!(rbuf.reserve(pool, 16 * 1024 * 1024));
            let spare = rbuf.spare_mut();
            let n = spare.len().min(chunk.len());
            spare[..n].copy_from_slice(&chunk[..n]);
            rbuf.commit(n);
            chunk = &chunk[n..];
            let mut used = 0;
            let data = rbuf.data();
            while let Decoded::Frame { frame, consumed } = decoder.decode(&data[used..]).unwrap() {
                total += black_box(&data[used..][frame]).len();
                used += consumed;
            }
            rbuf.consume(used);
        }
    }
    rbuf.release(pool);
    total
}

fn tokio_decode(wire: &[u8]) -> usize {
    let mut codec = LengthDelimitedCodec::builder()
        .max_frame_length(8 * 1024 * 1024)
        .new_codec();
    let mut buf = BytesMut::with_capacity(READ);
    let mut total = 0;
    for chunk in wire.chunks(READ) {
        buf.extend_from_slice(chunk);
        while let Some(frame) = codec.decode(&mut buf).unwrap() {
            total += black_box(frame).len();
        }
    }
    total
}

fn main() {
    for payload in [64, 64 * 1024] {
        let (wire, frames) = stream(payload);
        let mut pool = BufPool::new(READ, READ, 16);
        // Same frames out of both, before timing anything.
        assert_eq!(netloop_decode(&wire, &mut pool), tokio_decode(&wire));
        let results = [
            measure("netloop Decoder over ReadBuf", frames, || {
                netloop_decode(&wire, &mut pool)
            }),
            measure("tokio-util LengthDelimitedCodec", frames, || {
                tokio_decode(&wire)
            }),
        ];
        let mb = wire.len() as f64 / (1024.0 * 1024.0);
        report(
            &format!("decode {frames} frames of {payload} payload bytes ({mb:.1} MiB), per frame"),
            &results,
        );
    }
}
