use super::*;
use crate::ids::{ClientEmail, MessageId};
use crate::understanding::{Confidence, Entities, Language, Signals};
use crate::venue::Venue;
use crate::workflow::Templates;

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

/// What the NLU would say about these test messages: intake is tested here, not understanding.
fn understanding(m: &InboundMessage) -> Understanding {
    let body = m.body_text.to_lowercase();
    let inquiry = ["book", "reservieren"].iter().any(|w| body.contains(w));
    Understanding {
        language: if body.contains("guten tag") {
            Language::De
        } else {
            Language::En
        },
        intent: if inquiry {
            Intent::EventRequest
        } else {
            Intent::NonEvent
        },
        confidence: Confidence::from_per_mille(if inquiry { 950 } else { 600 }),
        entities: Entities::default(),
        signals: Signals::default(),
    }
}

fn run_in(
    o: &OrgSlug,
    m: &InboundMessage,
    profile: Option<&ClientProfile>,
    thread: Option<&Event>,
) -> IntakeOutcome {
    let venue = Venue::atelier();
    let templates = Templates::builtin();
    let ctx = Ctx {
        org: o,
        venue: &venue,
        templates: &templates,
        client_name: profile.and_then(|p| p.name.as_deref()),
        occupancy: &[],
        calendar_until: jiff::civil::date(2099, 12, 31),
        calendar_days: &[],
        pending_tasks: &[],
        thread: &[],
        now: now(),
    };
    let u = understanding(m);
    decide(IntakeInput {
        org: o,
        message: m,
        understanding: &u,
        profile,
        thread_event: thread,
        workflow: &ctx,
        change: None,
        now: now(),
    })
    .unwrap()
}

fn run(
    m: &InboundMessage,
    profile: Option<&ClientProfile>,
    thread: Option<&Event>,
) -> IntakeOutcome {
    run_in(&org(), m, profile, thread)
}

const INQUIRY: &str = "Hello, we would like to book a room for a workshop with 25 participants.";

#[test]
fn inquiry_creates_a_lead_and_runs_the_workflow() {
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
    assert_eq!(e.status, crate::event::Status::Lead);
    assert_eq!(e.client_email.as_str(), "laura.meier@example.com");
    // No date was understood: Step 2 proposes dates, held for approval.
    assert_eq!(e.current_step, Step::DateConfirmation);
    assert_eq!(out.result.action, Action::DateOptionsProposed);
    assert_eq!(out.drafts.len(), 1);
    assert!(out.drafts[0].requires_approval);
    assert_eq!(out.tasks.len(), 1);
    assert_eq!(
        out.tasks[0].draft_id.as_ref(),
        Some(&out.drafts[0].draft_id)
    );
    assert_eq!(out.profile.name.as_deref(), Some("Laura Meier"));
    assert!(out.profile_changed);
    assert_eq!(out.audit[0].reason, "event_created");
    assert_eq!(out.audit[1].reason, "intake_complete");
}

#[test]
fn ids_are_deterministic_and_org_scoped() {
    let m = msg("a@x", "a@example.com", None, "Booking", INQUIRY);
    let a = run(&m, None, None);
    let b = run(&m, None, None);
    assert_eq!(a.result, b.result);
    let other = run_in(&OrgSlug::parse("other").unwrap(), &m, None, None);
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
fn reply_in_thread_continues_the_booking() {
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
    assert_eq!(out.result.event_id, Some(event.event_id.clone()));
    assert!(!out.event_is_new);
    assert!(!out.profile_changed);
    assert_eq!(out.audit[0].reason, "client_message_received");
    // Still no date: the second round of proposals.
    assert_eq!(out.result.action, Action::DateOptionsProposed);
    assert_eq!(out.event.unwrap().date_proposal_attempts, 2);
}

#[test]
fn replies_to_a_cancelled_booking_go_to_a_manager() {
    let first = msg("a@x", "a@example.com", None, "Booking", INQUIRY);
    let mut event = run(&first, None, None).event.unwrap();
    event.status = crate::event::Status::Cancelled;
    let mut reply = msg(
        "d@x",
        "a@example.com",
        None,
        "Re: Booking",
        "One question about the offer.",
    );
    reply.in_reply_to = Some(MessageId::parse("a@x").unwrap());
    let out = run(&reply, None, Some(&event));
    assert_eq!(out.result.action, Action::ThreadReplyRecorded);
    assert_eq!(out.tasks[0].task_type, TaskType::ManualReview);
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
    let _ = Confidence::from_per_mille(1);
}
