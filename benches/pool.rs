//! The buffer pool on criterion: what a connection's buffers cost per message when they come
//! from netloop's `BufPool`, beside allocating them fresh each time (what a reactor without a
//! pool does). Run with `cargo bench --bench pool`.
//!
//! * `read_cycle`: a read buffer is taken for a 64-byte read, the bytes used, and the buffer
//!   given back (a connection whose input is all handled, so it holds no buffer when idle).
//! * `write_cycle`: 64 bytes of output are copied into a write queue and written out, the
//!   queue's block going back (a reply the kernel could not take at once).
//!
//! Each is reported per message (`elements`, 1,000 per iteration).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use netloop::internals::buf::{BufPool, ReadBuf, WriteQueue};

const BLOCK: usize = 16 * 1024;
const MESSAGES: usize = 1000;

fn read_cycle(c: &mut Criterion) {
    let mut g = c.benchmark_group("read_cycle");
    g.throughput(Throughput::Elements(MESSAGES as u64));
    let msg = [7u8; 64];
    let mut pool = BufPool::new(BLOCK, BLOCK, 64);
    g.bench_function(BenchmarkId::new("netloop BufPool", 64), |b| {
        b.iter(|| {
            let mut rbuf = ReadBuf::new();
            for _ in 0..MESSAGES {
                assert!(rbuf.reserve(&mut pool, BLOCK));
                rbuf.spare_mut()[..msg.len()].copy_from_slice(&msg);
                rbuf.commit(msg.len());
                black_box(rbuf.data());
                rbuf.consume(msg.len());
                rbuf.release(&mut pool);
            }
        })
    });
    g.bench_function(BenchmarkId::new("fresh Vec", 64), |b| {
        b.iter(|| {
            for _ in 0..MESSAGES {
                let mut buf = vec![0u8; BLOCK];
                buf[..msg.len()].copy_from_slice(&msg);
                black_box(&buf[..msg.len()]);
                drop(black_box(buf));
            }
        })
    });
    g.finish();
}

fn write_cycle(c: &mut Criterion) {
    let mut g = c.benchmark_group("write_cycle");
    g.throughput(Throughput::Elements(MESSAGES as u64));
    let msg = [7u8; 64];
    let mut pool = BufPool::new(BLOCK, BLOCK, 64);
    let mut queue = WriteQueue::new();
    g.bench_function(BenchmarkId::new("netloop BufPool", 64), |b| {
        b.iter(|| {
            for _ in 0..MESSAGES {
                queue.push_copy(&msg, &mut pool);
                let n = black_box(queue.len());
                queue.advance(n, &mut pool);
            }
        })
    });
    g.bench_function(BenchmarkId::new("fresh Vec", 64), |b| {
        b.iter(|| {
            for _ in 0..MESSAGES {
                let mut out = Vec::with_capacity(BLOCK);
                out.extend_from_slice(&msg);
                drop(black_box(out));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, read_cycle, write_cycle);
criterion_main!(benches);
