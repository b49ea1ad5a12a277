//! Fuzz target: see `netloop::internals::sim::fuzz` for what it checks.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| netloop::internals::fuzz::sim(data));
