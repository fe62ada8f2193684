use proptest::prelude::*;

use super::*;

const SIMPLE: &[u8] = b"From: Laura Meier <Laura.Meier@Example.COM>\r\n\
To: events@atelier.example\r\n\
Subject: Workshop booking\r\n\
Message-ID: <abc123@example.com>\r\n\
Date: Tue, 17 Nov 2026 10:00:00 +0100\r\n\
\r\n\
We would like to book a room for 25 people.\r\n";

#[test]
fn parses_a_simple_message() {
    let m = parse_message(SIMPLE).unwrap();
    assert_eq!(m.from.as_str(), "laura.meier@example.com");
    assert_eq!(m.from_name.as_deref(), Some("Laura Meier"));
    assert_eq!(m.subject, "Workshop booking");
    assert_eq!(m.message_id.as_str(), "abc123@example.com");
    assert!(!m.message_id_derived);
    assert!(m.body_text.contains("25 people"));
    assert_eq!(m.sent_at.unwrap().to_string(), "2026-11-17T09:00:00Z");
}

#[test]
fn threading_headers() {
    let raw = b"From: a@example.com\r\nSubject: Re: x\r\nMessage-ID: <r@x>\r\n\
In-Reply-To: <p2@x>\r\nReferences: <p1@x> <p2@x>\r\n\r\nok\r\n";
    let m = parse_message(raw).unwrap();
    assert_eq!(m.in_reply_to.unwrap().as_str(), "p2@x");
    let refs: Vec<_> = m.references.iter().map(|r| r.as_str()).collect();
    assert_eq!(refs, ["p1@x", "p2@x"]);
}

#[test]
fn missing_message_id_gets_a_stable_derived_one() {
    let raw = b"From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n";
    let a = parse_message(raw).unwrap();
    let b = parse_message(raw).unwrap();
    assert!(a.message_id_derived);
    assert_eq!(a.message_id, b.message_id);
    let c = parse_message(b"From: a@example.com\r\nSubject: hi\r\n\r\nother\r\n").unwrap();
    assert_ne!(a.message_id, c.message_id);
}

#[test]
fn encoded_headers_and_quoted_printable_latin1() {
    let raw = b"From: =?ISO-8859-1?Q?J=FCrg_M=FCller?= <jm@example.ch>\r\n\
Subject: =?UTF-8?B?QW5mcmFnZSBmw7xyIE3DpHJ6?=\r\n\
Content-Type: text/plain; charset=ISO-8859-1\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\r\n\
Gr=FCezi, wir m=F6chten einen Raum f=FCr 40 Personen.\r\n";
    let m = parse_message(raw).unwrap();
    assert_eq!(m.from_name.as_deref(), Some("Jürg Müller"));
    assert_eq!(m.subject, "Anfrage für März");
    assert!(m.body_text.contains("möchten einen Raum für 40 Personen"));
}

#[test]
fn multipart_prefers_plain_text_and_lists_attachments() {
    let raw = b"From: a@example.com\r\nSubject: files\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=XX\r\n\r\n\
--XX\r\nContent-Type: multipart/alternative; boundary=YY\r\n\r\n\
--YY\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nplain version\r\n\
--YY\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>html version</p>\r\n--YY--\r\n\
--XX\r\nContent-Type: application/pdf; name=\"plan.pdf\"\r\n\
Content-Disposition: attachment; filename=\"plan.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
JVBERi0xLjQK\r\n--XX--\r\n";
    let m = parse_message(raw).unwrap();
    assert!(m.body_text.contains("plain version"));
    assert_eq!(m.attachments.len(), 1);
    assert_eq!(m.attachments[0].filename.as_deref(), Some("plan.pdf"));
    assert_eq!(m.attachments[0].content_type, "application/pdf");
}

#[test]
fn header_injection_is_folded_away() {
    let raw = b"From: \"Evil\r\n Bcc: x@y\" <e@example.com>\r\nSubject: a\r\n b\r\n\r\nx";
    let m = parse_message(raw).unwrap();
    assert!(!m.subject.contains(['\r', '\n']));
    assert!(!m.from_name.unwrap_or_default().contains(['\r', '\n']));
}

#[test]
fn bad_input_gets_clear_errors() {
    assert_eq!(parse_message(b""), Err(MailError::Empty));
    assert_eq!(parse_message(b" \r\n\n"), Err(MailError::Empty));
    assert!(matches!(
        parse_message(&[0xff, 0x00, 0x13, 0x88, 0x01, 0x02, 0x9a]),
        Err(MailError::NotAMessage(_) | MailError::HeaderNotUtf8 { .. })
    ));
    assert!(matches!(
        parse_message(b"just some text\nwithout headers\n"),
        Err(MailError::NotAMessage(_))
    ));
    assert_eq!(
        parse_message(b"From: a@example.com\r\nSubject: caf\xe9\r\n\r\nbody"),
        Err(MailError::HeaderNotUtf8 {
            line: 2,
            byte_offset: 33
        })
    );
    assert_eq!(
        parse_message(b"Subject: no sender\r\n\r\nbody"),
        Err(MailError::MissingFrom)
    );
    assert!(matches!(
        parse_message(b"From: not-an-address\r\n\r\nbody"),
        Err(MailError::MissingFrom | MailError::InvalidFrom(_))
    ));
    let big = vec![b'a'; MAX_MESSAGE_BYTES + 1];
    assert!(matches!(
        parse_message(&big),
        Err(MailError::TooLarge { .. })
    ));
}

#[test]
fn invalid_utf8_in_the_body_is_not_a_header_error() {
    let raw = b"From: a@example.com\r\nSubject: x\r\n\r\nbody \xff\xfe";
    assert!(parse_message(raw).is_ok());
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse_message(&bytes);
    }

    #[test]
    fn arbitrary_header_text_never_panics(name in "[A-Za-z-]{1,20}", value in "\\PC{0,200}", body in "\\PC{0,200}") {
        let raw = format!("From: a@example.com\r\n{name}: {value}\r\n\r\n{body}");
        let _ = parse_message(raw.as_bytes());
    }
}
