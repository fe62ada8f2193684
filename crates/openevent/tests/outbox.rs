//! Approved replies leave through a real SMTP server (aiosmtpd on loopback): threaded, once,
//! and again after the server was down, with every attempt on the booking's timeline.

mod common;

// The SMTP server harness of openevent-channels' own tests, shared rather than copied.
#[path = "../../openevent-channels/tests/support/aiosmtpd.rs"]
mod aiosmtpd;

use aiosmtpd::{Server, ServerOptions, free_port, mails, require_python};
use common::{Oe, eml};
use serde_json::Value;

fn smtp_config(oe: &Oe, port: u16) -> String {
    let path = oe.write(
        &format!("smtp-{port}.toml"),
        format!(
            "[smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\nfrom_address = \"events@atelier.example\"\nfrom_name = \"The Atelier\"\ntimeout_secs = 5\n"
        )
        .as_bytes(),
    );
    path.to_str().unwrap().to_owned()
}

/// An inquiry that goes straight to a priced offer; its task approved. Returns (event id, the
/// client's Message-ID).
fn approved_offer(oe: &Oe, n: u32) -> (String, String) {
    let client_id = format!("inq-{n}@helvetia-labs.ch");
    let turn = oe.ingest_text(&eml(
        &format!("Laura Meier <laura{n}@helvetia-labs.ch>"),
        "Workshop booking",
        &client_id,
        None,
        &format!("Hello, we would like to book Room A for a workshop with 25 people on 1{n}.03.2027 from 09:00 to 17:00."),
    ));
    let task = turn["tasks"][0].as_str().unwrap();
    let decided = oe.json(&["tasks", "approve", task]);
    assert_eq!(decided["queued_emails"], 1, "{decided}");
    (turn["event_id"].as_str().unwrap().to_owned(), client_id)
}

fn reasons(oe: &Oe, event: &str) -> Vec<String> {
    let shown = oe.json(&["event", "show", event]);
    shown["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["reason"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn an_approved_reply_is_sent_once_threaded_and_audited() {
    let Some(py) = require_python("an_approved_reply_is_sent_once_threaded_and_audited") else {
        return;
    };
    let oe = Oe::new();
    let port = free_port();
    let server = Server::start(py, oe.dir.path(), port, &ServerOptions::default());
    let config = smtp_config(&oe, port);

    let (event, client_id) = approved_offer(&oe, 1);
    let listed = oe.json(&["outbox", "list", "--status", "scheduled"]);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");

    let run = oe.json(&["outbox", "run-due", "--config", &config]);
    assert_eq!(run["executed"], 1, "{run}");
    let sent = server.mails();
    assert_eq!(sent.len(), 1);
    let text = String::from_utf8_lossy(&sent[0]);
    assert!(
        text.contains(&format!("In-Reply-To: <{client_id}>")),
        "{text}"
    );
    assert!(text.contains("@openevent.invalid>"), "{text}");
    assert!(text.contains("laura1@helvetia-labs.ch"), "{text}");

    // Nothing is due any more: a second run sends nothing.
    let run = oe.json(&["outbox", "run-due", "--config", &config]);
    assert_eq!(run["executed"], 0, "{run}");
    assert_eq!(mails(&server.maildir).len(), 1);
    let listed = oe.json(&["outbox", "list", "--status", "sent"]);
    assert_eq!(listed[0]["attempts"], 1, "{listed}");
    assert!(reasons(&oe, &event).contains(&"outbox_sent".to_owned()));
}

#[test]
fn mail_waits_while_the_server_is_down_and_leaves_once_it_is_back() {
    let Some(py) = require_python("mail_waits_while_the_server_is_down_and_leaves_once_it_is_back")
    else {
        return;
    };
    let oe = Oe::new();
    let port = free_port();
    let config = smtp_config(&oe, port);
    let (event, _) = approved_offer(&oe, 2);

    // No server on the port: the attempt fails and a retry is scheduled (1 minute + jitter).
    let run = oe.json(&["outbox", "run-due", "--config", &config]);
    assert_eq!(run["failed"], 1, "{run}");
    let failed: Value = oe.json(&["outbox", "list", "--status", "failed"]);
    assert!(
        failed[0]["last_error"].as_str().unwrap().contains("smtp"),
        "{failed}"
    );
    // Not due yet: nothing is attempted early.
    let run = oe.json(&["outbox", "run-due", "--config", &config]);
    assert_eq!(
        run,
        serde_json::json!({"executed": 0, "failed": 0, "dead": 0, "skipped": 0, "not_sent": 0, "deferred": 0})
    );

    let server = Server::start(py, oe.dir.path(), port, &ServerOptions::default());
    let later = "2026-11-22T09:05:00Z";
    let run = oe.json(&["--now", later, "outbox", "run-due", "--config", &config]);
    assert_eq!(run["executed"], 1, "{run}");
    assert_eq!(server.mails().len(), 1);
    let run = oe.json(&["--now", later, "outbox", "run-due", "--config", &config]);
    assert_eq!(run["executed"], 0);
    assert_eq!(server.mails().len(), 1, "sent exactly once");
    let r = reasons(&oe, &event);
    assert!(r.contains(&"outbox_retry_scheduled".to_owned()), "{r:?}");
    assert!(r.contains(&"outbox_sent".to_owned()), "{r:?}");
}

#[test]
fn without_smtp_configured_mail_waits_in_the_outbox() {
    let oe = Oe::new();
    approved_offer(&oe, 3);
    let run = oe.json(&["outbox", "run-due"]);
    assert_eq!(run["executed"], 0);
    let listed = oe.json(&["outbox", "list"]);
    assert_eq!(listed[0]["status"], "scheduled", "{listed}");
    assert_eq!(listed[0]["attempts"], 0, "{listed}");
}
