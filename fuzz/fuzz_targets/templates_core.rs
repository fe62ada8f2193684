//! `cargo +nightly fuzz run templates_core`: the body is `fuzz/bodies/templates_core.rs`, shared with the
//! stable smoke test.
#![no_main]

#[path = "../bodies/templates_core.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| body::check(data));
