//! `cargo +nightly fuzz run nlu_understand`: the body is `fuzz/bodies/nlu.rs`, shared with the
//! stable smoke test.
#![no_main]

#[path = "../bodies/nlu.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| body::check(data));
