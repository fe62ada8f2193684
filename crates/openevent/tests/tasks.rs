//! The manager's controls through the binary: list, approve (with an edit), reject; nothing is
//! sent without an approval, and a task is decided once.

mod common;

use common::{INQUIRY_BODY, Oe, eml};
use serde_json::Value;

fn pending(oe: &Oe) -> Vec<Value> {
    oe.json(&["tasks", "list", "--status", "pending", "--json"])
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn approving_a_draft_queues_the_email_once() {
    let oe = Oe::new();
    let r = oe.ingest_text(&eml(
        "Laura <laura@example.com>",
        "Booking",
        "t-1@x",
        None,
        INQUIRY_BODY,
    ));
    let task_id = r["tasks"][0].as_str().unwrap().to_owned();
    let tasks = pending(&oe);
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["task_id"], task_id.as_str());
    assert_eq!(tasks[0]["type"], "client_reply");
    assert_eq!(tasks[0]["client_email"], "laura@example.com");
    assert!(
        tasks[0]["draft"]["body"]
            .as_str()
            .unwrap()
            .contains("These dates are available")
    );

    let body = oe.write(
        "edited.txt",
        "Dear Laura, here are our dates: ...".as_bytes(),
    );
    let approved = oe.json(&[
        "tasks",
        "approve",
        &task_id,
        "--body",
        body.to_str().unwrap(),
        "--notes",
        "shortened",
    ]);
    assert_eq!(approved["status"], "approved");
    assert_eq!(approved["queued_emails"], 1);
    assert!(pending(&oe).is_empty());

    let ev = oe.json(&["event", "show", r["event_id"].as_str().unwrap()]);
    assert_eq!(ev["thread_state"], "awaiting_client");
    let audit: Vec<&str> = ev["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["reason"].as_str().unwrap())
        .collect();
    assert!(audit.contains(&"task_approved"));

    // A second decision on the same task is refused and changes nothing.
    let before = oe.db_bytes();
    let again = oe.run(&["tasks", "approve", &task_id]);
    assert_eq!(again.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already decided"));
    assert_eq!(oe.db_bytes(), before);

    let all = oe.json(&["tasks", "list", "--json"]);
    assert_eq!(all[0]["edited_body"], "Dear Laura, here are our dates: ...");
    assert_eq!(all[0]["notes"], "shortened");
}

#[test]
fn a_client_reply_to_our_mail_threads_back() {
    let oe = Oe::new();
    let r = oe.ingest_text(&eml(
        "laura@example.com",
        "Booking",
        "t-1@x",
        None,
        INQUIRY_BODY,
    ));
    let task_id = r["tasks"][0].as_str().unwrap().to_owned();
    oe.json(&["tasks", "approve", &task_id]);
    // Our outgoing Message-ID is derived from the draft id and the organization.
    let draft_id = r["drafts"][0]["draft_id"].as_str().unwrap().to_lowercase();
    let ours = format!("{draft_id}.default@openevent.invalid");
    let reply = oe.ingest_text(&eml(
        "laura@example.com",
        "Re: Booking",
        "t-2@x",
        Some(&ours),
        "Thanks, let me check.",
    ));
    assert_eq!(reply["event_id"], r["event_id"]);
}

#[test]
fn rejecting_needs_a_reason_and_sends_nothing() {
    let oe = Oe::new();
    let r = oe.ingest_text(&eml(
        "laura@example.com",
        "Booking",
        "t-1@x",
        None,
        INQUIRY_BODY,
    ));
    let task_id = r["tasks"][0].as_str().unwrap().to_owned();
    let out = oe.run(&["tasks", "reject", &task_id, "--reason", " "]);
    assert_eq!(out.status.code(), Some(65));
    let rejected = oe.json(&["tasks", "reject", &task_id, "--reason", "I will call her"]);
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["queued_emails"], 0);
    let ev = oe.json(&["event", "show", r["event_id"].as_str().unwrap()]);
    assert_eq!(ev["thread_state"], "checking");
    let out = oe.run(&["tasks", "approve", "TASK-UNKNOWN"]);
    assert_eq!(out.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no task"));
    let out = oe.run(&["tasks", "list", "--status", "maybe"]);
    assert_eq!(out.status.code(), Some(65));
}

#[test]
fn a_newer_draft_supersedes_the_pending_one() {
    let oe = Oe::new();
    let r = oe.ingest_text(&eml(
        "laura@example.com",
        "Booking",
        "t-1@x",
        None,
        INQUIRY_BODY,
    ));
    let first_task = r["tasks"][0].as_str().unwrap().to_owned();
    oe.ingest_text(&eml(
        "laura@example.com",
        "Re: Booking",
        "t-2@x",
        Some("t-1@x"),
        "Any dates in spring?",
    ));
    let all = oe.json(&["tasks", "list", "--json"]);
    let first = all
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["task_id"] == first_task.as_str())
        .unwrap();
    assert_eq!(first["status"], "superseded");
    assert_eq!(pending(&oe).len(), 1);
    let out = oe.run(&["tasks", "approve", &first_task]);
    assert_eq!(out.status.code(), Some(65));
}

#[test]
fn venue_files_are_checked() {
    let oe = Oe::new();
    let shown = oe.run(&["venue", "show"]);
    assert!(shown.status.success());
    let text = String::from_utf8(shown.stdout).unwrap();
    assert!(text.contains("The Atelier"));
    let good = oe.write("venue.toml", text.as_bytes());
    let out = oe.run(&["venue", "check", good.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("6 rooms"));
    let bad = oe.write(
        "bad.toml",
        text.replace("Europe/Zurich", "Mars/Base").as_bytes(),
    );
    let out = oe.run(&["venue", "check", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&out.stderr).contains("time_zone"));
    // A venue file in use renames the signature of drafts.
    let renamed = oe.write(
        "renamed.toml",
        text.replace("name = \"The Atelier\"", "name = \"Villa Sole\"")
            .as_bytes(),
    );
    let r = oe.json(&[
        "--venue",
        renamed.to_str().unwrap(),
        "ingest",
        oe.write(
            "m.eml",
            eml("a@example.com", "Booking", "v-1@x", None, INQUIRY_BODY).as_bytes(),
        )
        .to_str()
        .unwrap(),
    ]);
    assert!(
        r["drafts"][0]["body"]
            .as_str()
            .unwrap()
            .contains("Villa Sole")
    );
}

#[test]
fn venue_templates_replace_the_built_in_ones() {
    let oe = Oe::new();
    let builtin = oe.run(&["venue", "templates", "--language", "de"]);
    assert!(builtin.status.success());
    assert!(String::from_utf8_lossy(&builtin.stdout).contains("=== date_options_proposed"));

    let dir = oe.dir.path().join("templates");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join("en.txt"),
        "=== date_options_proposed\nGrüezi {{ greeting }}! Our free dates: {% for d in dates %}{{ d }} {% endfor %}\n",
    )
    .unwrap();
    let msg = oe.write(
        "m.eml",
        eml(
            "laura@example.com",
            "Booking",
            "tpl-1@x",
            None,
            INQUIRY_BODY,
        )
        .as_bytes(),
    );
    let r = oe.json(&[
        "--templates",
        dir.to_str().unwrap(),
        "ingest",
        msg.to_str().unwrap(),
    ]);
    let body = r["drafts"][0]["body"].as_str().unwrap();
    assert!(body.starts_with("Grüezi Hello! Our free dates: "), "{body}");
    // The status line is the engine's, whatever the template says.
    assert!(body.contains("Status: Step 2"), "{body}");

    std::fs::write(
        dir.join("en.txt"),
        "=== date_options_proposed\n{% for d in dates %}\n",
    )
    .unwrap();
    let before = oe.db_bytes();
    let out = oe.run(&[
        "--templates",
        dir.to_str().unwrap(),
        "ingest",
        msg.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&out.stderr).contains("date_options_proposed"));
    assert_eq!(oe.db_bytes(), before);
}
