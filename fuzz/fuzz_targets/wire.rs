//! Fuzz target: see `netloop::check::wire` for what it checks.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| netloop::check::wire(data));
