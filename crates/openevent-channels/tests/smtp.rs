//! The SMTP channel against a real SMTP server: Debian's `python3-aiosmtpd`, started by each
//! test on a free loopback port, writing every accepted mail to a Maildir. A small handler
//! (`oe_sink.py`, written next to the Maildir) refuses recipients the way real servers do:
//! "reject" → 550, "busy" → 451, "flaky" → 451 for its first two attempts; with a user and
//! password it requires AUTH before MAIL.
//!
//! Without aiosmtpd the tests skip loudly, unless `CI` is set: then they fail.

#[path = "support/aiosmtpd.rs"]
mod aiosmtpd;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aiosmtpd::{Server, ServerOptions, free_port, mails, require_python};

use jiff::Timestamp;
use mail_parser::{MessageParser, MimeHeaders};
use openevent_automation::template::Rendered;
use openevent_channels::{
    Address, Channel, DeliveryResult, OutboundMessage, SmtpChannel, SmtpConfig, SmtpSecurity,
};
use openevent_core::workflow::OutboxEmail;
use openevent_core::{ClientEmail, EventId, MessageId};

fn config(port: u16) -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".into(),
        port: Some(port),
        security: SmtpSecurity::None,
        username: None,
        password_env: None,
        from_address: "bookings@atelier.example".into(),
        from_name: Some("The Atelier".into()),
        message_id_domain: None,
        hello_name: None,
        timeout_secs: 5,
        extra_root_certs: None,
    }
}

fn channel(config: &SmtpConfig) -> SmtpChannel {
    SmtpChannel::new(config, &[("SMTP_PASSWORD", "s3cret-pass")]).unwrap()
}

fn message(key: &str, to: &str) -> OutboundMessage {
    OutboundMessage::new(
        key,
        Address::Email(to.into()),
        Rendered {
            subject: Some("Reminder: your event on 20.06.2026".into()),
            text: "Dear Laura\n\nSee you on Saturday.".into(),
            html: None,
        },
    )
}

fn ids(v: &mail_parser::HeaderValue<'_>) -> Vec<String> {
    match v {
        mail_parser::HeaderValue::Text(t) => vec![t.to_string()],
        mail_parser::HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
    }
}

fn is_transient(r: &DeliveryResult) -> bool {
    matches!(r, DeliveryResult::Transient { .. })
}

#[tokio::test]
async fn a_booking_reply_arrives_threaded_and_multipart() {
    let Some(py) = require_python("a_booking_reply_arrives_threaded_and_multipart") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = Server::start(py, dir.path(), port, &ServerOptions::default());
    let ch = channel(&config(port));

    // The approved reply as the booking workflow queues it.
    let outbox = OutboxEmail {
        job_id: "JOB-1".into(),
        event_id: Some(EventId::parse("EVT-9B4F3ED8107AF2E4").unwrap()),
        delivery_key: "draft:DRF-42".into(),
        to: ClientEmail::parse("Laura.Meier@Example.COM").unwrap(),
        subject: "Re: Anfrage Firmenanlass – Offerte für Laura".into(),
        body: "Guten Tag Frau Meier\n\nIm Anhang die Offerte über CHF 1'234.50.".into(),
        message_id: MessageId::parse("drf-42.atelier@openevent.invalid").unwrap(),
        in_reply_to: Some(MessageId::parse("<second@client.example>").unwrap()),
        references: vec![
            MessageId::parse("first@client.example").unwrap(),
            MessageId::parse("second@client.example").unwrap(),
        ],
        due_at: Timestamp::from_second(1_780_000_000).unwrap(),
    };
    let mut msg = OutboundMessage::from_outbox(&outbox);
    msg.html = Some("<p>Guten Tag Frau Meier</p><p>Offerte über CHF 1'234.50.</p>".into());
    msg.reply_to = Some("events@atelier.example".into());

    let result = ch.send(&msg).await;
    assert!(
        matches!(&result, DeliveryResult::Sent { provider_id: Some(id) } if id.starts_with("250")),
        "{result:?}"
    );
    let mails = server.mails();
    assert_eq!(mails.len(), 1);
    let mail = MessageParser::default().parse(&mails[0]).unwrap();
    assert_eq!(mail.message_id(), Some("drf-42.atelier@openevent.invalid"));
    assert_eq!(ids(mail.in_reply_to()), ["second@client.example"]);
    assert_eq!(
        ids(mail.references()),
        ["first@client.example", "second@client.example"]
    );
    assert_eq!(
        mail.subject(),
        Some("Re: Anfrage Firmenanlass – Offerte für Laura")
    );
    let from = mail.from().unwrap().first().unwrap();
    assert_eq!(from.address(), Some("bookings@atelier.example"));
    assert_eq!(from.name(), Some("The Atelier"));
    assert_eq!(
        mail.to().unwrap().first().unwrap().address(),
        Some("laura.meier@example.com")
    );
    assert_eq!(
        mail.reply_to().unwrap().first().unwrap().address(),
        Some("events@atelier.example")
    );
    let ct = mail.content_type().unwrap();
    assert_eq!(
        (ct.ctype(), ct.subtype()),
        ("multipart", Some("alternative"))
    );
    assert_eq!(
        mail.body_text(0).unwrap().replace("\r\n", "\n").trim_end(),
        "Guten Tag Frau Meier\n\nIm Anhang die Offerte über CHF 1'234.50."
    );
    assert!(
        mail.body_html(0)
            .unwrap()
            .contains("<p>Offerte über CHF 1'234.50.</p>")
    );
    server.stop();
}

#[tokio::test]
async fn a_plain_message_gets_the_message_id_of_its_delivery_key() {
    let Some(py) = require_python("a_plain_message_gets_the_message_id_of_its_delivery_key") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = Server::start(py, dir.path(), port, &ServerOptions::default());
    let ch = channel(&config(port));
    let msg = message("dk1-00112233445566778899aabbccddeeff", "laura@example.com");
    assert!(matches!(ch.send(&msg).await, DeliveryResult::Sent { .. }));
    let mails = server.mails();
    assert_eq!(mails.len(), 1);
    let mail = MessageParser::default().parse(&mails[0]).unwrap();
    assert_eq!(
        mail.message_id(),
        Some("dk1-00112233445566778899aabbccddeeff@atelier.example")
    );
    assert!(mail.in_reply_to().is_empty());
    let ct = mail.content_type().unwrap();
    assert_eq!((ct.ctype(), ct.subtype()), ("text", Some("plain")));
    assert!(mail.body_text(0).unwrap().contains("See you on Saturday."));
    assert_eq!(mail.parts.len(), 1, "no HTML part");
}

/// The dispatcher's loop in miniature: try, and on `Transient` try again later.
async fn deliver_until_sent(
    ch: &SmtpChannel,
    msg: &OutboundMessage,
    max: usize,
) -> Vec<DeliveryResult> {
    let mut results = Vec::new();
    for _ in 0..max {
        let r = ch.send(msg).await;
        let done = !is_transient(&r);
        results.push(r);
        if done {
            break;
        }
    }
    results
}

#[tokio::test]
async fn server_down_then_back_delivers_exactly_once() {
    let Some(py) = require_python("server_down_then_back_delivers_exactly_once") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let ch = channel(&config(port));
    let msg = message("dk1-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "laura@example.com");

    // Down: connection refused, nothing written.
    let down = ch.send(&msg).await;
    let DeliveryResult::Transient { error, .. } = &down else {
        panic!("{down:?}")
    };
    assert!(error.starts_with("smtp at connect:"), "{error}");
    assert!(mails(&dir.path().join("maildir")).is_empty());

    // Back: the retry is delivered, once.
    let server = Server::start(py, dir.path(), port, &ServerOptions::default());
    let results = deliver_until_sent(&ch, &msg, 5).await;
    assert_eq!(results.len(), 1, "{results:?}");
    assert!(matches!(results[0], DeliveryResult::Sent { .. }));
    assert_eq!(server.mails().len(), 1);

    // Down again after the server is gone: transient, and the one mail stays one.
    server.stop();
    assert!(is_transient(&ch.send(&msg).await));
    assert_eq!(mails(&dir.path().join("maildir")).len(), 1);
}

#[tokio::test]
async fn refusals_are_classified_by_reply_code() {
    let Some(py) = require_python("refusals_are_classified_by_reply_code") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = Server::start(py, dir.path(), port, &ServerOptions::default());
    let ch = channel(&config(port));

    let r = ch.send(&message("dk1-r1", "reject@example.com")).await;
    let DeliveryResult::Permanent { error } = &r else {
        panic!("{r:?}")
    };
    assert!(error.starts_with("smtp 550 at send:"), "{error}");
    assert!(error.contains("No such user here"), "{error}");

    let r = ch.send(&message("dk1-r2", "busy@example.com")).await;
    let DeliveryResult::Transient { error, .. } = &r else {
        panic!("{r:?}")
    };
    assert!(error.starts_with("smtp 451 at send:"), "{error}");

    // Greylisted twice, then accepted: three attempts, one mail.
    let msg = message("dk1-r3", "flaky@example.com");
    let results = deliver_until_sent(&ch, &msg, 5).await;
    assert_eq!(results.len(), 3, "{results:?}");
    assert!(results[..2].iter().all(is_transient));
    assert!(matches!(results[2], DeliveryResult::Sent { .. }));

    let mails = server.mails();
    assert_eq!(mails.len(), 1, "only the flaky recipient's mail arrives");
    let mail = MessageParser::default().parse(&mails[0]).unwrap();
    assert_eq!(mail.message_id(), Some("dk1-r3@atelier.example"));
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_as_transient() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepts and keeps the socket open without a greeting.
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let (s, _) = listener.accept().await.unwrap();
            held.push(s);
        }
    });
    let mut c = config(port);
    c.timeout_secs = 1;
    let started = Instant::now();
    let r = channel(&c)
        .send(&message("dk1-t", "laura@example.com"))
        .await;
    assert!(is_transient(&r), "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    hold.abort();
}

/// A throwaway CA and a certificate for 127.0.0.1 signed by it, made with the openssl CLI.
fn certificates(dir: &Path) -> Option<(PathBuf, PathBuf, PathBuf)> {
    let run = |args: &[&str]| {
        Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    std::fs::write(
        dir.join("leaf.ext"),
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let ok = run(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-subj",
        "/CN=openevent test CA",
        "-days",
        "2",
    ]) && run(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]) && run(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "leaf.pem",
        "-days",
        "2",
        "-extfile",
        "leaf.ext",
    ]);
    if !ok {
        if std::env::var_os("CI").is_some() {
            panic!("the openssl CLI is required in CI to make test certificates");
        }
        eprintln!("SKIPPED TLS tests: the openssl CLI is not available");
        return None;
    }
    Some((
        dir.join("ca.pem"),
        dir.join("leaf.pem"),
        dir.join("leaf.key"),
    ))
}

#[tokio::test]
async fn starttls_with_auth_and_never_cleartext() {
    let Some(py) = require_python("starttls_with_auth_and_never_cleartext") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let Some((ca, cert, key)) = certificates(dir.path()) else {
        return;
    };
    let port = free_port();
    let server = Server::start(
        py,
        dir.path(),
        port,
        &ServerOptions {
            auth: Some(("bookings", "s3cret-pass")),
            starttls: Some((cert, key)),
            smtps: None,
        },
    );
    let mut c = config(port);
    c.security = SmtpSecurity::Starttls;
    c.username = Some("bookings".into());
    c.password_env = Some("SMTP_PASSWORD".into());
    c.extra_root_certs = Some(ca.clone());
    let r = channel(&c)
        .send(&message("dk1-tls1", "laura@example.com"))
        .await;
    assert!(matches!(r, DeliveryResult::Sent { .. }), "{r:?}");
    assert_eq!(server.mails().len(), 1);

    // A wrong password: the server's 535 is the answer.
    let wrong = SmtpChannel::new(&c, &[("SMTP_PASSWORD", "wrong")]).unwrap();
    let r = wrong.send(&message("dk1-tls2", "laura@example.com")).await;
    let DeliveryResult::Permanent { error } = &r else {
        panic!("{r:?}")
    };
    assert!(error.starts_with("smtp 535 at auth:"), "{error}");
    // The password never appears in what we report.
    assert!(!error.contains("wrong") && !error.contains("s3cret"));

    // Without our CA the server's certificate is not trusted: transient, nothing sent.
    let mut untrusted = c.clone();
    untrusted.extra_root_certs = None;
    let r = channel(&untrusted)
        .send(&message("dk1-tls3", "laura@example.com"))
        .await;
    assert!(is_transient(&r), "{r:?}");
    assert_eq!(server.mails().len(), 1);
    server.stop();

    // A server that offers no STARTTLS gets nothing in cleartext.
    let dir2 = tempfile::tempdir().unwrap();
    let port2 = free_port();
    let plain = Server::start(py, dir2.path(), port2, &ServerOptions::default());
    let mut c2 = c.clone();
    c2.port = Some(port2);
    let r = channel(&c2)
        .send(&message("dk1-tls4", "laura@example.com"))
        .await;
    let DeliveryResult::Transient { error, .. } = &r else {
        panic!("{r:?}")
    };
    assert!(error.contains("STARTTLS"), "{error}");
    assert!(plain.mails().is_empty());
}

#[tokio::test]
async fn implicit_tls() {
    let Some(py) = require_python("implicit_tls") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let Some((ca, cert, key)) = certificates(dir.path()) else {
        return;
    };
    let port = free_port();
    let server = Server::start(
        py,
        dir.path(),
        port,
        &ServerOptions {
            auth: None,
            starttls: None,
            smtps: Some((cert, key)),
        },
    );
    let mut c = config(port);
    c.security = SmtpSecurity::Tls;
    c.extra_root_certs = Some(ca);
    let r = channel(&c)
        .send(&message("dk1-smtps", "laura@example.com"))
        .await;
    assert!(matches!(r, DeliveryResult::Sent { .. }), "{r:?}");
    assert_eq!(server.mails().len(), 1);
}
