//! Fuzz body `mime_parse`: one raw RFC 5322 message through `openevent_mail::parse_message`.
//!
//! Shared by the libFuzzer target (`fuzz/fuzz_targets/mime_parse.rs`, nightly) and the stable
//! smoke test (`crates/openevent-mail/tests/fuzz_regressions.rs`): a plain function that panics
//! when an invariant breaks.

use openevent_core::ids::{ClientEmail, MessageId};
use openevent_mail::{MAX_MESSAGE_BYTES, MailError, parse_message};

/// Parses `data` and checks what the rest of openevent relies on: no panic, the same answer
/// twice, and single-line, control-free header values (nothing downstream can be fed a header
/// injection through a subject, a display name or an attachment name).
pub fn check(data: &[u8]) {
    let first = parse_message(data);
    assert_eq!(first, parse_message(data), "parsing is deterministic");
    match first {
        Ok(m) => {
            one_line("subject", &m.subject);
            if let Some(name) = &m.from_name {
                one_line("from_name", name);
                assert!(!name.is_empty(), "an empty display name is None");
            }
            for a in &m.attachments {
                if let Some(f) = &a.filename {
                    one_line("attachment filename", f);
                }
            }
            // Typed values are what their own parsers accept, so they round-trip.
            assert_eq!(ClientEmail::parse(m.from.as_str()).as_ref(), Ok(&m.from));
            for id in std::iter::once(&m.message_id)
                .chain(&m.in_reply_to)
                .chain(&m.references)
            {
                assert_eq!(MessageId::parse(id.as_str()).as_ref(), Ok(id));
            }
            if m.message_id_derived {
                assert!(m.message_id.as_str().starts_with("sha256-"));
            }
        }
        Err(MailError::TooLarge { size, limit }) => {
            assert!(size > limit && limit == MAX_MESSAGE_BYTES);
        }
        Err(MailError::Empty) => assert!(data.iter().all(u8::is_ascii_whitespace)),
        Err(_) => {}
    }
}

fn one_line(what: &str, s: &str) {
    assert!(
        !s.chars().any(char::is_control),
        "{what} carries a control character: {s:?}"
    );
    assert_eq!(s.trim(), s, "{what} is not trimmed: {s:?}");
}
