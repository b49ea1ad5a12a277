//! The fuzz targets' bodies under plain `cargo test`: every checked-in seed in `tests/corpus/`,
//! then a few hundred deterministic pseudo-random inputs per target. A crash found by a long
//! fuzzing run belongs in `tests/corpus/<target>/` once fixed, so it is checked here forever.

use std::path::Path;

fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let path = e.unwrap().path();
            (path.display().to_string(), std::fs::read(&path).unwrap())
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no seeds in {}", dir.display());
    out
}

/// Inputs from a fixed xorshift sequence: lengths 0..512, some biased to small byte values.
fn generated(count: usize) -> impl Iterator<Item = Vec<u8>> {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..count).map(move |i| {
        let len = (next() % 512) as usize;
        let small = i % 2 == 0;
        (0..len)
            .map(|_| {
                let v = next() as u8;
                if small {
                    v % 8
                } else {
                    v
                }
            })
            .collect()
    })
}

fn run(target: &str, check: fn(&[u8])) {
    for (name, data) in seeds(target) {
        let result = std::panic::catch_unwind(|| check(&data));
        assert!(result.is_ok(), "{target}: seed {name} failed");
    }
    for data in generated(400) {
        check(&data);
    }
}

#[test]
fn decode_chunks_seeds_and_generated_inputs() {
    run("decode_chunks", netloop::internals::fuzz::decode_chunks);
}

#[test]
fn round_trip_seeds_and_generated_inputs() {
    run("round_trip", netloop::internals::fuzz::round_trip);
}

#[test]
fn timer_wheel_seeds_and_generated_inputs() {
    run("timer_wheel", netloop::internals::fuzz::timer_wheel);
}

#[test]
fn wire_seeds_and_generated_inputs() {
    run("wire", netloop::internals::fuzz::wire);
}

#[test]
fn sim_seeds_and_generated_inputs() {
    // Each input is a whole simulated session: the checked-in seeds, and 60 generated ones.
    for (name, data) in seeds("sim") {
        let result = std::panic::catch_unwind(|| netloop::internals::fuzz::sim(&data));
        assert!(result.is_ok(), "sim: seed {name} failed");
    }
    let (mut clients, mut bytes) = (0, 0);
    for data in generated(60) {
        netloop::internals::fuzz::sim(&data);
        let s = netloop::internals::sim::fuzzed_run(&data, 400).expect("checked just above");
        (clients, bytes) = (clients + s.clients, bytes + s.bytes_sent);
    }
    // The bytes drive real sessions: clients connect and send.
    assert!(
        clients > 30 && bytes > 10_000,
        "{clients} clients, {bytes} bytes"
    );
}
