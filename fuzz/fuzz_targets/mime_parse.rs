//! `cargo +nightly fuzz run mime_parse`: the body is `fuzz/bodies/mime.rs`, shared with the
//! stable smoke test.
#![no_main]

#[path = "../bodies/mime.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // `parse_message` turns a panic inside mail-parser into an error (`catch_unwind`), which
    // libfuzzer-sys's abort-on-panic hook would pre-empt; the default hook lets it. A panic that
    // escapes `check` still aborts (libfuzzer-sys catches it and aborts), so it is still found.
    static DEFAULT_HOOK: std::sync::Once = std::sync::Once::new();
    DEFAULT_HOOK.call_once(|| drop(std::panic::take_hook()));
    body::check(data)
});
