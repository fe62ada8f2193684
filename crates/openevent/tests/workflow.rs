//! `openevent workflow …` and the dead-letter commands through the real binary: the library is
//! installed, a booking's offer schedules its follow-up, `resolve` and `preview` explain it, and
//! bad definitions are refused before the database is touched.

mod common;

// The SMTP server harness of openevent-channels' own tests, shared rather than copied.
#[path = "../../openevent-channels/tests/support/aiosmtpd.rs"]
mod aiosmtpd;

use aiosmtpd::{Server, ServerOptions, free_port, require_python};
use common::{Oe, eml};

fn offer_sent(oe: &Oe) -> String {
    let turn = oe.ingest_text(&eml(
        "Laura Meier <laura@helvetia-labs.ch>",
        "Workshop booking",
        "inq-1@helvetia-labs.ch",
        None,
        "Hello, we would like to book Room A for a workshop with 25 people on 17.03.2027 from 09:00 to 17:00.",
    ));
    let task = turn["tasks"][0].as_str().unwrap();
    oe.json(&["tasks", "approve", task]);
    turn["event_id"].as_str().unwrap().to_owned()
}

#[test]
fn install_schedule_explain_and_preview() {
    let oe = Oe::new();
    let out = oe.run(&["workflow", "install"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 7, "{text}");
    let event = offer_sent(&oe);
    let resolved = oe.json(&["workflow", "resolve", "--event", &event]);
    assert_eq!(resolved["workflow"], "offer-follow-up", "{resolved}");
    assert_eq!(resolved["decided_by"]["by"], "org_default");
    let preview = oe.json(&["workflow", "preview", "--event", &event]);
    let upcoming = preview["upcoming"].as_array().unwrap();
    assert!(
        upcoming.iter().any(|u| u["step"] == "no-reply-3-days"
            && u["rendered"]["subject"] == "Your offer from The Atelier"),
        "{preview}"
    );
    // Clearing the workflow for this booking cancels its pending follow-ups at the next write;
    // the explanation says a manager decided.
    let cleared = oe.json(&["workflow", "override", "--event", &event, "--none"]);
    assert_eq!(cleared["decided_by"]["by"], "override", "{cleared}");
    assert_eq!(cleared["workflow"], serde_json::Value::Null);
    let listed = oe.json(&["workflow", "list", "--json"]);
    assert_eq!(listed.as_array().unwrap().len(), 7);
    let jobs = oe.json(&["outbox", "list", "--status", "scheduled"]);
    assert!(!jobs.as_array().unwrap().is_empty(), "{jobs}");
}

#[test]
fn a_bad_definition_is_refused_before_the_database_is_opened() {
    let oe = Oe::new();
    let file = oe.write(
        "bad.toml",
        b"key = \"nudge\"\nname = \"Nudge\"\nversion = 1\n\n[[steps]]\nkey = \"one\"\ntrigger = \"offer_sent\"\nchannel = \"email\"\nrecipients = { audience = [\"client\"] }\ntiming = { offset = { days = 2 }, if_past = \"send_now\" }\n\n[steps.template]\nbody = \"{{ appointment.date }}\"\n",
    );
    let out = oe.run(&["workflow", "import", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(65));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("steps[0]"), "{err}");
    assert!(!oe.db_path.exists(), "no database for refused input");
}

#[test]
fn only_dead_jobs_can_be_requeued_or_abandoned() {
    let oe = Oe::new();
    oe.run(&["migrate"]);
    let out = oe.run(&["outbox", "requeue", "JOB-NOPE"]);
    assert_eq!(
        out.status.code(),
        Some(65),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = oe.run(&["outbox", "abandon", "JOB-NOPE", "--reason", " "]);
    assert_eq!(out.status.code(), Some(65));
}

#[test]
fn the_offer_follow_up_reaches_a_real_smtp_server_once_three_days_later() {
    let Some(py) =
        require_python("the_offer_follow_up_reaches_a_real_smtp_server_once_three_days_later")
    else {
        return;
    };
    let oe = Oe::new();
    let port = free_port();
    let server = Server::start(py, oe.dir.path(), port, &ServerOptions::default());
    let config = oe.write(
        "smtp.toml",
        format!(
            "[smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\nfrom_address = \"events@atelier.example\"\ntimeout_secs = 5\n"
        )
        .as_bytes(),
    );
    let config = config.to_str().unwrap();
    oe.run(&["workflow", "install", "offer-follow-up"]);
    let event = offer_sent(&oe);
    // Now (22.11.2026 10:00 in Zurich): the offer itself leaves; the follow-up is not due.
    let run = oe.json(&["outbox", "run-due", "--config", config]);
    assert_eq!(run["executed"], 1, "{run}");
    // Three days later at 09:00 Zurich time (08:00 UTC): the follow-up, once.
    let later = "2026-11-25T08:00:00Z";
    let run = oe.json(&["--now", later, "outbox", "run-due", "--config", config]);
    assert_eq!(run["executed"], 1, "{run}");
    let run = oe.json(&["--now", later, "outbox", "run-due", "--config", config]);
    assert_eq!(run["executed"], 0, "{run}");
    let mails: Vec<String> = server
        .mails()
        .iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .collect();
    assert_eq!(mails.len(), 2);
    let follow_ups: Vec<&String> = mails
        .iter()
        .filter(|m| m.contains("Subject: Your offer from The Atelier"))
        .collect();
    assert_eq!(follow_ups.len(), 1, "{mails:?}");
    assert!(
        follow_ups[0].contains("To: laura@helvetia-labs.ch"),
        "{}",
        follow_ups[0]
    );
    let shown = oe.json(&["event", "show", &event]);
    let reasons: Vec<&str> = shown["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["reason"].as_str().unwrap())
        .collect();
    assert!(reasons.contains(&"automation_sent"), "{reasons:?}");
}
