use super::*;
use crate::ids::{ClientEmail, MessageId};

fn org() -> OrgSlug {
    OrgSlug::parse("default").unwrap()
}

fn msg(id: &str, from: &str, name: Option<&str>, subject: &str, body: &str) -> InboundMessage {
    InboundMessage {
        message_id: MessageId::parse(id).unwrap(),
        message_id_derived: false,
        from: ClientEmail::parse(from).unwrap(),
        from_name: name.map(str::to_owned),
        subject: subject.into(),
        body_text: body.into(),
        sent_at: None,
        in_reply_to: None,
        references: vec![],
        attachments: vec![],
    }
}

fn now() -> Timestamp {
    "2026-11-22T09:00:00Z".parse().unwrap()
}

fn run<'a>(
    m: &'a InboundMessage,
    profile: Option<&'a ClientProfile>,
    thread: Option<&'a Event>,
) -> IntakeOutcome {
    decide(IntakeInput {
        org: &org(),
        venue_name: "The Atelier",
        message: m,
        profile,
        thread_event: thread,
        now: now(),
    })
}

const INQUIRY: &str = "Hello, we would like to book a room for a workshop with 25 participants.";

#[test]
fn inquiry_creates_a_lead_at_step_one_with_a_held_draft() {
    let m = msg(
        "a@x",
        "Laura.Meier@Example.COM",
        Some("Laura Meier"),
        "Workshop",
        INQUIRY,
    );
    let out = run(&m, None, None);
    let e = out.event.as_ref().unwrap();
    assert!(out.event_is_new);
    assert_eq!(e.current_step, Step::Intake);
    assert_eq!(e.status, crate::event::Status::Lead);
    assert_eq!(e.client_email.as_str(), "laura.meier@example.com");
    assert_eq!(out.result.action, Action::IntakeEventCreated);
    assert_eq!(out.drafts.len(), 1);
    assert!(out.drafts[0].requires_approval);
    assert!(out.drafts[0].body.starts_with("Dear Laura Meier"));
    assert_eq!(out.drafts[0].subject, "Re: Workshop");
    assert_eq!(out.tasks.len(), 1);
    assert_eq!(
        out.tasks[0].draft_id.as_ref(),
        Some(&out.drafts[0].draft_id)
    );
    assert_eq!(out.profile.name.as_deref(), Some("Laura Meier"));
    assert!(out.profile_changed);
    assert_eq!(out.audit[0].reason, "event_created");
}

#[test]
fn ids_are_deterministic_and_org_scoped() {
    let m = msg("a@x", "a@example.com", None, "Booking", INQUIRY);
    let a = run(&m, None, None);
    let b = run(&m, None, None);
    assert_eq!(a.result, b.result);
    let other = decide(IntakeInput {
        org: &OrgSlug::parse("other").unwrap(),
        venue_name: "V",
        message: &m,
        profile: None,
        thread_event: None,
        now: now(),
    });
    assert_ne!(a.result.event_id, other.result.event_id);
}

#[test]
fn unclear_message_goes_to_manual_review_without_event_or_draft() {
    let m = msg("b@x", "a@example.com", None, "Hi", "Can you call me back?");
    let out = run(&m, None, None);
    assert!(out.event.is_none());
    assert!(out.drafts.is_empty());
    assert_eq!(out.result.action, Action::ManualReviewEnqueued);
    assert_eq!(out.tasks[0].task_type, TaskType::ManualReview);
    assert_eq!(out.history.intent, Intent::NonEvent);
}

#[test]
fn reply_in_thread_attaches_to_the_booking() {
    let first = msg("a@x", "a@example.com", None, "Booking", INQUIRY);
    let created = run(&first, None, None);
    let event = created.event.unwrap();
    let mut reply = msg(
        "c@x",
        "a@example.com",
        None,
        "Re: Booking",
        "Thanks, sounds good.",
    );
    reply.in_reply_to = Some(MessageId::parse("a@x").unwrap());
    let out = run(&reply, Some(&created.profile), Some(&event));
    assert_eq!(out.result.action, Action::ThreadReplyRecorded);
    assert_eq!(out.result.event_id, Some(event.event_id.clone()));
    assert!(!out.event_is_new);
    assert!(!out.profile_changed);
    assert_eq!(out.event.unwrap().thread_state, ThreadState::WaitingOnHil);
}

#[test]
fn history_keeps_only_a_preview() {
    let body = format!("{INQUIRY} {}", "details ".repeat(100));
    let m = msg("d@x", "a@example.com", None, "Booking", &body);
    let out = run(&m, None, None);
    assert!(out.history.body_preview.chars().count() <= crate::client::BODY_PREVIEW_CHARS);
    assert_ne!(out.history.body_preview, body);
}

#[test]
fn german_inquiry_gets_a_german_draft() {
    let m = msg(
        "e@x",
        "b@example.ch",
        None,
        "Anfrage",
        "Guten Tag, wir möchten für unseren Firmenanlass mit 40 Personen einen Raum reservieren.",
    );
    let out = run(&m, None, None);
    assert!(out.drafts[0].body.starts_with("Guten Tag"));
    assert_eq!(out.profile.language, Some(Language::De));
}
