//! Framing on criterion: netloop's decoder and encoder beside tokio-util's
//! `LengthDelimitedCodec`, on the same bytes. Run with `cargo bench --bench codec`.
//!
//! Decoding sees the stream as a server would: 16 KiB "reads" appended to a buffer, then
//! every whole frame taken out. netloop uses its own `ReadBuf` (frames are slices of it);
//! tokio-util uses `BytesMut` (frames are split off it). Encoding queues 1,000 frames for
//! writing and then drops them as a write would: netloop puts the header and payload into a
//! pooled `WriteQueue` (what a handler's `write_parts` does); tokio-util encodes a `Bytes`
//! (cloned, so no allocation) into a `BytesMut`. Both use the same wire format: 4-byte
//! big-endian length of the payload, 8 MiB maximum. Criterion reports time per frame
//! (`elements`) for each; the ratio between the two lines is the figure to quote.

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use netloop::framing::{Codec, Decoded};
use netloop::internals::buf::{BufPool, ReadBuf, WriteQueue};
use tokio_util::codec::{Decoder as _, Encoder as _, LengthDelimitedCodec};

const READ: usize = 16 * 1024;
const STREAM: usize = 4 * 1024 * 1024;
const MAX: usize = 8 * 1024 * 1024;

fn stream(payload: usize) -> (Vec<u8>, u64) {
    let codec = Codec::default();
    let mut wire = Vec::with_capacity(STREAM + payload + 4);
    let mut frames = 0;
    let body: Vec<u8> = (0..payload).map(|i| i as u8).collect();
    while wire.len() < STREAM {
        codec
            .encode_to_vec(&body, &mut wire)
            .expect("the frame fits");
        frames += 1;
    }
    (wire, frames)
}

fn tokio_codec() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .max_frame_length(MAX)
        .new_codec()
}

fn netloop_decode(wire: &[u8], pool: &mut BufPool) -> usize {
    let mut decoder = Codec::default().decoder().expect("valid codec");
    let mut rbuf = ReadBuf::new();
    let mut total = 0;
    for chunk in wire.chunks(READ) {
        let mut chunk = chunk;
        while !chunk.is_empty() {
            assert!(rbuf.reserve(pool, 2 * MAX));
            let spare = rbuf.spare_mut();
            let n = spare.len().min(chunk.len());
            spare[..n].copy_from_slice(&chunk[..n]);
            rbuf.commit(n);
            chunk = &chunk[n..];
            let mut used = 0;
            let data = rbuf.data();
            while let Decoded::Frame { frame, consumed } =
                decoder.decode(&data[used..]).expect("valid frames")
            {
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
    let mut codec = tokio_codec();
    let mut buf = BytesMut::with_capacity(READ);
    let mut total = 0;
    for chunk in wire.chunks(READ) {
        buf.extend_from_slice(chunk);
        while let Some(frame) = codec.decode(&mut buf).expect("valid frames") {
            total += black_box(frame).len();
        }
    }
    total
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    for payload in [64, 64 * 1024] {
        let (wire, frames) = stream(payload);
        let mut pool = BufPool::new(READ, READ, 16);
        // Same frames out of both, before timing anything.
        assert_eq!(netloop_decode(&wire, &mut pool), tokio_decode(&wire));
        group.throughput(Throughput::Elements(frames));
        group.bench_function(BenchmarkId::new("netloop", payload), |b| {
            b.iter(|| netloop_decode(&wire, &mut pool))
        });
        group.bench_function(BenchmarkId::new("tokio-util", payload), |b| {
            b.iter(|| tokio_decode(&wire))
        });
    }
    group.finish();
}

const ENCODE_FRAMES: usize = 1000;

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    for payload in [64, 4096] {
        let body: Vec<u8> = (0..payload).map(|i| i as u8).collect();
        group.throughput(Throughput::Elements(ENCODE_FRAMES as u64));

        let codec = Codec::default();
        let mut pool = BufPool::new(READ, READ, 1024);
        let mut queue = WriteQueue::new();
        group.bench_function(BenchmarkId::new("netloop", payload), |b| {
            b.iter(|| {
                for _ in 0..ENCODE_FRAMES {
                    let env = codec.envelope(&body).expect("the frame fits");
                    queue.push_parts(&[env.prefix(), &body], &mut pool);
                }
                let n = black_box(queue.len());
                queue.advance(n, &mut pool);
                n
            })
        });

        let mut tokio = tokio_codec();
        let bytes = Bytes::from(body.clone());
        let mut out = BytesMut::with_capacity(READ);
        group.bench_function(BenchmarkId::new("tokio-util", payload), |b| {
            b.iter(|| {
                for _ in 0..ENCODE_FRAMES {
                    tokio
                        .encode(bytes.clone(), &mut out)
                        .expect("the frame fits");
                }
                let n = black_box(out.len());
                out.clear();
                n
            })
        });
    }
    group.finish();
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
