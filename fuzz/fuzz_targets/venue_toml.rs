//! `cargo +nightly fuzz run venue_toml`: the body is `fuzz/bodies/venue.rs`, shared with the
//! stable smoke test.
#![no_main]

#[path = "../bodies/venue.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| body::check(data));
