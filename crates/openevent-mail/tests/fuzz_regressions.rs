//! The `mime_parse` fuzz target on stable (CI's smoke period): its body
//! (`fuzz/bodies/mime.rs`) over the committed seeds and regressions, then over generated
//! messages for a few seconds; and the hostile cases it is about, spelled out.

#[path = "../../../fuzz/bodies/mime.rs"]
mod body;
#[path = "../../../fuzz/bodies/replay.rs"]
mod replay;

use openevent_core::ids::ClientEmail;
use openevent_mail::{MailError, parse_message};
use proptest::prelude::*;

#[test]
fn committed_fuzz_inputs_pass() {
    assert!(replay::replay("mime_parse", body::check) >= 5);
}

/// Header lines, hostile ones included, and bodies that make a message multipart.
fn header() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("From: Laura Meier <laura@example.com>".to_owned()),
        Just(
            "From: =?utf-8?b?TGF1cmENCkJjYzogZXZpbEBleGFtcGxlLmNvbQ==?= <l@example.com>".to_owned()
        ),
        Just("From: \"<script>alert(1)</script>\" <m@example.com>".to_owned()),
        Just("From: l\u{430}ura@example.com".to_owned()),
        Just("Subject: =?utf-8?q?a=0D=0ABcc:_x@evil?=".to_owned()),
        Just("Subject: Booking\r\n folded".to_owned()),
        Just("Message-ID: <a@b>".to_owned()),
        Just("Message-ID: <a b@c>".to_owned()),
        Just("In-Reply-To: <p@x> <q@x>".to_owned()),
        Just("References: <p@x>\r\n <q@x>".to_owned()),
        Just("Date: Tue, 17 Nov 2026 10:00:00 +0100".to_owned()),
        Just("Date: Fri, 31 Dec 9999 23:59:59 -1200".to_owned()),
        Just("Content-Type: multipart/mixed; boundary=b".to_owned()),
        Just("Content-Type: text/html; charset=iso-8859-1".to_owned()),
        Just("Content-Transfer-Encoding: base64".to_owned()),
        "[A-Za-z-]{1,12}: [ -~]{0,40}",
    ]
}

fn part() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("--b\r\nContent-Type: text/plain\r\n\r\nHello 25 people\r\n".to_owned()),
        Just(
            "--b\r\nContent-Disposition: attachment; filename=\"../../etc/passwd\"\r\n\r\nroot\r\n"
                .to_owned()
        ),
        Just(
            "--b\r\nContent-Disposition: attachment; filename*=utf-8''..%2F%0D%0Ax\r\n\r\nx\r\n"
                .to_owned()
        ),
        Just("--b\r\nContent-Type: message/rfc822\r\n\r\nFrom: c@x.ch\r\n\r\ninner\r\n".to_owned()),
        Just("--b--\r\n".to_owned()),
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..600)) {
        body::check(&data);
    }

    #[test]
    fn generated_messages(
        headers in prop::collection::vec(header(), 0..8),
        parts in prop::collection::vec(part(), 0..5),
    ) {
        let raw = format!("{}\r\n\r\n{}", headers.join("\r\n"), parts.concat());
        body::check(raw.as_bytes());
    }
}

/// An encoded word that decodes to CRLF cannot put a header line into a subject or a name.
#[test]
fn encoded_line_breaks_are_folded_away() {
    let raw = "From: =?utf-8?b?TGF1cmENCkJjYzogZXZpbEBleGFtcGxlLmNvbQ==?= <laura@example.com>\r\n\
Subject: =?utf-8?q?Booking=0D=0ABcc:_evil@example.com?=\r\n\r\nHello\r\n";
    let m = parse_message(raw.as_bytes()).unwrap();
    assert_eq!(m.from_name.as_deref(), Some("Laura Bcc: evil@example.com"));
    assert_eq!(m.subject, "Booking Bcc: evil@example.com");
}

/// An attachment's name is metadata, one line, never a path anyone opens: openevent stores the
/// raw message and never writes attachments out.
#[test]
fn traversal_attachment_names_are_inert_metadata() {
    let raw = std::fs::read(replay::fuzz_dir().join("seeds/mime_parse/traversal_attachment.eml"))
        .unwrap();
    let m = parse_message(&raw).unwrap();
    let names: Vec<_> = m.attachments.iter().map(|a| a.filename.clone()).collect();
    assert_eq!(
        names,
        [
            Some("../../etc/passwd".to_owned()),
            Some("../../ evil.txt".to_owned())
        ]
    );
}

/// A lookalike address (Cyrillic 'а') is another client; the Kelvin sign, which lowercases to an
/// ASCII 'k', is refused rather than folded onto someone else's address.
#[test]
fn confusable_senders_are_not_someone_else() {
    let m = parse_message("From: l\u{430}ura@example.com\r\n\r\nHi\r\n".as_bytes()).unwrap();
    assert_ne!(m.from, ClientEmail::parse("laura@example.com").unwrap());
    let err = parse_message("From: \u{212A}laus@example.com\r\n\r\nHi\r\n".as_bytes()).unwrap_err();
    assert!(matches!(err, MailError::InvalidFrom(_)), "{err:?}");
}

/// Found by `mime_parse` (fuzz/regressions/mime_parse/nested_rfc822_reused_boundary.eml): a
/// message/rfc822 part nested in a multipart whose boundary it reuses trips a `debug_assert!` in
/// mail-parser, which panicked the caller in debug builds (tests, `cargo run`). The panic is now
/// contained: the message is refused as broken instead.
#[test]
fn a_panic_inside_the_mime_parser_is_a_broken_message() {
    let raw = "From: a@example.com\r\nContent-Type:multipart;boundary=outer\r\n\r\n\
--outerContent-Type:message/rfc822\r\n\r\nContent-Type:message/rfc822\r\n\r\n\r\n--outer--";
    match parse_message(raw.as_bytes()) {
        // Release builds compile the assertion out and parse on.
        Ok(m) => assert_eq!(m.from.as_str(), "a@example.com"),
        Err(e) => assert_eq!(
            e,
            MailError::NotAMessage("the MIME structure is broken".into())
        ),
    }
}
