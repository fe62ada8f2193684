//! The foundation's self-test scenarios, run through the real binary: context reuse, client
//! isolation, idempotency, threading.

mod common;

use common::{INQUIRY_BODY, Oe, eml, fixture};
use serde_json::Value;

fn history_ids(ctx: &Value) -> Vec<String> {
    ctx["history_tail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["msg_id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn help_lists_the_subcommands() {
    let oe = Oe::new();
    let out = oe.run(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for sub in ["migrate", "ingest", "event", "client"] {
        assert!(text.contains(sub), "--help lacks {sub}: {text}");
    }
    for opt in ["--db", "--org", "--now"] {
        assert!(text.contains(opt), "--help lacks {opt}");
    }
}

#[test]
fn migrate_reports_the_schema_version() {
    let oe = Oe::new();
    let v = oe.json(&["migrate"]);
    assert_eq!(v["schema_version"], v["latest_known"]);
    assert!(v["schema_version"].as_i64().unwrap() >= 1);
    // Running it again is a no-op.
    assert_eq!(oe.json(&["migrate"]), v);
}

#[test]
fn context_is_reused_for_the_same_client() {
    let oe = Oe::new();
    let first = oe.json(&["ingest", fixture("inquiry_laura.eml").to_str().unwrap()]);
    // Date, time and head count were understood: the workflow walks on to Step 3 and proposes a
    // room for the manager to lock.
    assert_eq!(first["action"], "room_avail_result");
    assert_eq!(first["current_step"], 3);
    assert_eq!(first["status"], "lead");
    assert_eq!(first["thread_state"], "waiting_on_hil");
    assert_eq!(first["client_email"], "laura.meier@example.com");
    assert_eq!(first["duplicate"], false);
    let event_id = first["event_id"].as_str().unwrap().to_owned();
    assert_eq!(first["drafts"].as_array().unwrap().len(), 1);
    assert_eq!(first["drafts"][0]["requires_approval"], true);
    assert_eq!(first["tasks"].as_array().unwrap().len(), 1);

    let ctx1 = oe.json(&["client", "context", "Laura.Meier@EXAMPLE.com"]);
    assert_eq!(history_ids(&ctx1), ["laura-1@example.com"]);
    assert_eq!(ctx1["last_event"]["event_id"], event_id.as_str());
    assert_eq!(ctx1["profile"]["name"], "Laura Meier");
    let preview = ctx1["history_tail"][0]["body_preview"].as_str().unwrap();
    assert!(preview.chars().count() <= 160);
    assert!(preview.starts_with("Hello, we would like to book a room"));
    // Reading changes nothing.
    let again = oe.json(&["client", "context", "laura.meier@example.com"]);
    assert_eq!(again["context_hash"], ctx1["context_hash"]);

    // The reply threads into the same booking; it comes with another display name.
    let second = oe.json(&["ingest", fixture("reply_laura.eml").to_str().unwrap()]);
    // Still at Step 3: the room proposal is re-drafted (and supersedes the first one).
    assert_eq!(second["action"], "room_avail_result");
    assert_eq!(second["event_id"], event_id.as_str());
    let ctx2 = oe.json(&["client", "context", "laura.meier@example.com"]);
    assert_eq!(
        history_ids(&ctx2),
        ["laura-1@example.com", "laura-2@example.com"]
    );
    assert_eq!(ctx2["last_event"]["event_id"], event_id.as_str());
    // The preview is the client's new text, not the quoted history under it.
    let reply_preview = ctx2["history_tail"][1]["body_preview"].as_str().unwrap();
    assert!(
        reply_preview.starts_with("Thanks! We could also do 18.03.2027"),
        "{reply_preview}"
    );
    assert!(!reply_preview.contains("wrote:"), "{reply_preview}");
    assert!(!reply_preview.contains('>'), "{reply_preview}");
    assert_ne!(ctx2["context_hash"], ctx1["context_hash"]);
    assert_eq!(ctx2["profile"]["name"], "Meier, Laura");

    // Another client's message leaves this client's context and hash alone.
    oe.ingest_text(&eml(
        "other@example.org",
        "Booking",
        "o-1@example.org",
        None,
        INQUIRY_BODY,
    ));
    let ctx3 = oe.json(&["client", "context", "laura.meier@example.com"]);
    assert_eq!(ctx3, ctx2);

    // The event carries its audit trail.
    let ev = oe.json(&["event", "show", &event_id]);
    assert_eq!(ev["event_id"], event_id.as_str());
    assert_eq!(ev["client_email"], "laura.meier@example.com");
    let reasons: Vec<&str> = ev["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            "event_created",
            "intake_complete",
            "date_confirmed",
            "step_completed",
            "client_message_received"
        ]
    );
    assert_eq!(ev["version"], 2);
}

#[test]
fn history_tail_keeps_the_last_five() {
    let oe = Oe::new();
    let first = oe.ingest_text(&eml(
        "a@example.com",
        "Booking",
        "h-0@x",
        None,
        INQUIRY_BODY,
    ));
    assert_eq!(first["action"], "date_options_proposed");
    for i in 1..=6 {
        let r = oe.ingest_text(&eml(
            "a@example.com",
            "Re: Booking",
            &format!("h-{i}@x"),
            Some(&format!("h-{}@x", i - 1)),
            &format!("Follow-up number {i}"),
        ));
        assert_eq!(
            r["event_id"], first["event_id"],
            "reply {i} lost its thread"
        );
    }
    let ctx = oe.json(&["client", "context", "a@example.com"]);
    assert_eq!(
        history_ids(&ctx),
        ["h-2@x", "h-3@x", "h-4@x", "h-5@x", "h-6@x"]
    );
}

#[test]
fn plus_addresses_are_separate_clients_with_nothing_shared() {
    let oe = Oe::new();
    let a = oe.ingest_text(&eml(
        "Alex Client <client@example.com>",
        "Booking",
        "iso-a@example.com",
        None,
        INQUIRY_BODY,
    ));
    let b = oe.ingest_text(&eml(
        "Alex Client <client+1@example.com>",
        "Booking",
        "iso-b@example.com",
        None,
        "Hi, we want to reserve a room for a dinner party with 30 guests.",
    ));
    assert_ne!(a["event_id"], b["event_id"]);
    assert_eq!(a["client_email"], "client@example.com");
    assert_eq!(b["client_email"], "client+1@example.com");

    let ca = oe.json(&["client", "context", "client@example.com"]);
    let cb = oe.json(&["client", "context", "client+1@example.com"]);
    assert_eq!(history_ids(&ca), ["iso-a@example.com"]);
    assert_eq!(history_ids(&cb), ["iso-b@example.com"]);
    assert_eq!(ca["last_event"]["event_id"], a["event_id"]);
    assert_eq!(cb["last_event"]["event_id"], b["event_id"]);
    assert_ne!(ca["context_hash"], cb["context_hash"]);

    // A reply from client+1 that points at client's message must not reach client's booking.
    let hijack = oe.ingest_text(&eml(
        "Alex Client <client+1@example.com>",
        "Re: Booking",
        "iso-c@example.com",
        Some("iso-a@example.com"),
        "Please change the date of this booking.",
    ));
    assert_ne!(hijack["event_id"], a["event_id"]);
    let ev_a = oe.json(&["event", "show", a["event_id"].as_str().unwrap()]);
    assert_eq!(ev_a["version"], 1);
    assert_eq!(ev_a["client_email"], "client@example.com");
    assert!(
        ev_a["audit"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["reason"] != "client_message_received")
    );
    let ca_after = oe.json(&["client", "context", "client@example.com"]);
    assert_eq!(ca_after, ca);
}

#[test]
fn organizations_are_isolated() {
    let oe = Oe::new();
    let msg = eml("a@example.com", "Booking", "org-1@x", None, INQUIRY_BODY);
    let path = oe.write("org.eml", msg.as_bytes());
    let default = oe.json(&["ingest", path.to_str().unwrap()]);
    let other = oe.json(&["--org", "other-venue", "ingest", path.to_str().unwrap()]);
    // Same Message-ID in another organization is a different message there.
    assert_eq!(other["duplicate"], false);
    assert_ne!(default["event_id"], other["event_id"]);
    let id = default["event_id"].as_str().unwrap();
    let out = oe.run(&["--org", "other-venue", "event", "show", id]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no event"));
    let out = oe.run(&["--org", "third", "client", "context", "a@example.com"]);
    assert!(!out.status.success());
}

#[test]
fn the_same_message_twice_changes_nothing_and_says_so() {
    let oe = Oe::new();
    let path = fixture("inquiry_laura.eml");
    let first = oe.json(&["ingest", path.to_str().unwrap()]);
    let ctx = oe.json(&["client", "context", "laura.meier@example.com"]);
    let second = oe.json(&[
        "--now",
        "2026-11-23T10:00:00Z",
        "ingest",
        path.to_str().unwrap(),
    ]);
    assert_eq!(second["duplicate"], true);
    let strip = |mut v: Value| {
        v.as_object_mut().unwrap().remove("duplicate");
        v
    };
    assert_eq!(strip(second), strip(first.clone()));
    assert_eq!(
        oe.json(&["client", "context", "laura.meier@example.com"]),
        ctx
    );
    let ev = oe.json(&["event", "show", first["event_id"].as_str().unwrap()]);
    assert_eq!(ev["version"], 1);
}

#[test]
fn a_message_without_message_id_gets_a_stable_one() {
    let oe = Oe::new();
    let raw = format!("From: b@example.com\r\nSubject: Booking\r\n\r\n{INQUIRY_BODY}\r\n");
    let path = oe.write("noid.eml", raw.as_bytes());
    let first = oe.json(&["ingest", path.to_str().unwrap()]);
    let second = oe.json(&["ingest", path.to_str().unwrap()]);
    assert_eq!(first["duplicate"], false);
    assert_eq!(second["duplicate"], true);
    let out = oe.run_stdin(&["ingest", "-"], raw.as_bytes());
    let third: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(third["duplicate"], true);
    assert_eq!(third["event_id"], first["event_id"]);
}

#[test]
fn a_non_inquiry_goes_to_manual_review_without_an_event() {
    let oe = Oe::new();
    let r = oe.ingest_text(&eml(
        "news@shop.example",
        "Black Friday",
        "spam-1@shop.example",
        None,
        "Huge discounts on shoes this week only. Unsubscribe at any time.",
    ));
    assert_eq!(r["action"], "manual_review_enqueued");
    assert_eq!(r["event_id"], Value::Null);
    assert!(r["drafts"].as_array().unwrap().is_empty());
    assert_eq!(r["tasks"].as_array().unwrap().len(), 1);
}

#[test]
fn encoded_german_inquiry_is_understood() {
    let oe = Oe::new();
    let r = oe.json(&[
        "ingest",
        fixture("inquiry_german_latin1.eml").to_str().unwrap(),
    ]);
    assert_eq!(r["action"], "date_options_proposed");
    assert!(
        r["drafts"][0]["body"]
            .as_str()
            .unwrap()
            .starts_with("Guten Tag Jürg Müller")
    );
    let ctx = oe.json(&["client", "context", "juerg@example.ch"]);
    assert_eq!(ctx["profile"]["language"], "de");
    assert!(
        ctx["history_tail"][0]["body_preview"]
            .as_str()
            .unwrap()
            .contains("möchten für unseren Firmenanlass")
    );
}

#[test]
fn the_clock_comes_from_now_or_the_environment() {
    let oe = Oe::new();
    let path = oe.write(
        "clock.eml",
        eml("c@example.com", "Booking", "clk@x", None, INQUIRY_BODY).as_bytes(),
    );
    let out = oe
        .command(&["ingest", path.to_str().unwrap()])
        .env("OPENEVENT_NOW", "2027-01-05T12:00:00Z")
        .output()
        .unwrap();
    assert!(out.status.success());
    // --now on the command line (set by the helper) wins over the environment.
    let ctx = oe.json(&["client", "context", "c@example.com"]);
    assert_eq!(ctx["history_tail"][0]["ts"], common::NOW);
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_openevent"));
    cmd.arg("--db")
        .arg(oe.db_url())
        .args(["client", "context", "c@example.com"]);
    cmd.env("OPENEVENT_NOW", "2027-01-05T12:00:00Z");
    assert!(cmd.output().unwrap().status.success());
}

#[test]
fn nlu_prints_the_understanding() {
    let oe = Oe::new();
    let out = oe.run_stdin(
        &["nlu", "--subject", "Anfrage"],
        "Guten Tag, wir möchten Raum B am 17.03.2027 von 18 bis 22 Uhr für 30 Personen reservieren."
            .as_bytes(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let u: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(u["language"], "de");
    assert_eq!(u["intent"], "event_request");
    assert_eq!(u["entities"]["date"], "2027-03-17");
    assert_eq!(u["entities"]["start_time"], "18:00");
    assert_eq!(u["entities"]["end_time"], "22:00");
    assert_eq!(u["entities"]["participants"], 30);
    assert_eq!(u["entities"]["room"], "room_b");
    // Reading a message touches no database.
    assert!(!oe.db_path.exists());
}

#[test]
fn nlu_scores_a_labelled_corpus() {
    let oe = Oe::new();
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/nlu");
    let out = oe.run(&["nlu", "--corpus", corpus.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("per-field exact accuracy"), "{text}");
    assert!(text.contains("intent confusion matrix"), "{text}");
    let missing = oe.run(&["nlu", "--corpus", "/nonexistent"]);
    assert_eq!(missing.status.code(), Some(65));
}

#[test]
fn json_logs_carry_the_message_span() {
    let oe = Oe::new();
    let path = oe.write(
        "m.eml",
        eml("a@example.com", "Booking", "span-1@x", None, INQUIRY_BODY).as_bytes(),
    );
    let out = oe
        .command(&["--log-format", "json", "ingest", path.to_str().unwrap()])
        .env("OPENEVENT_LOG", "info")
        .output()
        .unwrap();
    assert!(out.status.success());
    let line = String::from_utf8_lossy(&out.stderr)
        .lines()
        .find(|l| l.contains("message processed"))
        .map(str::to_owned)
        .expect("a log line for the message");
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["span"]["message_id"], "span-1@x", "{v}");
    assert!(
        v["span"]["event_id"].as_str().unwrap().starts_with("EVT-"),
        "{v}"
    );
}
