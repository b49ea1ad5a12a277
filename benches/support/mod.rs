//! A small, dependency-free benchmark harness: each candidate runs the same workload several
//! times, the median time per operation is reported, and candidates are compared as ratios
//! against the first one. Ratios from one run on one machine are what we quote; absolute
//! numbers on a shared machine are noisy.
#![allow(dead_code)]

use std::hint::black_box;
use std::time::{Duration, Instant};

/// Runs of each candidate; the median is reported.
pub const RUNS: usize = 7;

/// One measured candidate.
pub struct Result {
    pub name: String,
    pub ns_per_op: f64,
}

/// Time `f`, which performs `ops` operations per call, `RUNS` times (after one warm-up run).
pub fn measure<R>(name: &str, ops: u64, mut f: impl FnMut() -> R) -> Result {
    black_box(f());
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            black_box(f());
            start.elapsed()
        })
        .collect();
    times.sort();
    let median = times[RUNS / 2];
    Result {
        name: name.to_owned(),
        ns_per_op: median.as_nanos() as f64 / ops as f64,
    }
}

/// Print a group of results with each one's ratio to the first.
pub fn report(group: &str, results: &[Result]) {
    println!("\n{group}");
    let base = results[0].ns_per_op;
    for r in results {
        println!(
            "  {:<40} {:>12.1} ns/op   {:>6.2}x the time of {}",
            r.name,
            r.ns_per_op,
            r.ns_per_op / base,
            results[0].name
        );
    }
}

/// Deterministic pseudo-random numbers (xorshift64*).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
