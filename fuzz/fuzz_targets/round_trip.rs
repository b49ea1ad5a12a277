//! Fuzz target: see `netloop::check::round_trip` for what it checks.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| netloop::check::round_trip(data));
