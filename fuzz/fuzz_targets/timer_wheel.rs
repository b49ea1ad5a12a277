//! Fuzz target: see `netloop::check::timer_wheel` for what it checks.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| netloop::check::timer_wheel(data));
