//! `cargo +nightly fuzz run api_json`: the body is `fuzz/bodies/api_json.rs`, shared with the
//! stable smoke test.
#![no_main]

#[path = "../bodies/api_json.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // As in `mime_parse`: raw messages go through `parse_message`, which contains mail-parser's
    // panics; the default hook lets it. Any panic that escapes `check` still aborts.
    static DEFAULT_HOOK: std::sync::Once = std::sync::Once::new();
    DEFAULT_HOOK.call_once(|| drop(std::panic::take_hook()));
    body::check(data)
});
