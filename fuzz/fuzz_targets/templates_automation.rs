//! `cargo +nightly fuzz run templates_automation`: the body is `fuzz/bodies/templates_automation.rs`, shared with the
//! stable smoke test.
#![no_main]

#[path = "../bodies/templates_automation.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| body::check(data));
