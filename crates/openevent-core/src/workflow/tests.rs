use jiff::civil::{Date, date};

use super::*;
use crate::calendar::Window;
use crate::event::{Status, TimeOfDay};
use crate::ids::{ClientEmail, RoomId};
use crate::understanding::{Confidence, Entities, Intent, Language, Signals};

fn org() -> OrgSlug {
    OrgSlug::parse("default").unwrap()
}

struct World {
    venue: Venue,
    templates: Templates,
    occupancy: Vec<Occupancy>,
    pending: Vec<HilTask>,
    now: Timestamp,
}

impl World {
    fn new() -> Self {
        Self {
            venue: Venue::atelier(),
            templates: Templates::builtin(),
            occupancy: Vec::new(),
            pending: Vec::new(),
            now: "2026-11-22T09:00:00Z".parse().unwrap(),
        }
    }

    fn ctx<'a>(&'a self, org: &'a OrgSlug) -> Ctx<'a> {
        Ctx {
            org,
            venue: &self.venue,
            templates: &self.templates,
            client_name: Some("Laura Meier"),
            occupancy: &self.occupancy,
            calendar_until: jiff::civil::date(2099, 12, 31),
            calendar_days: &[],
            pending_tasks: &self.pending,
            thread: &[],
            now: self.now,
        }
    }

    fn book(&mut self, id: &str, room: &str, d: Date) {
        self.occupancy.push(Occupancy {
            event_id: EventId::parse(id).unwrap(),
            room_id: RoomId::parse(room).unwrap(),
            date: d,
            window: None,
        });
        self.occupancy.sort_by_key(|o| o.date);
    }
}

fn lead() -> Event {
    Event::new_lead(
        EventId::parse("EVT-T").unwrap(),
        ClientEmail::parse("laura@example.com").unwrap(),
        "2026-11-22T09:00:00Z".parse().unwrap(),
    )
}

fn understanding(entities: Entities) -> Understanding {
    Understanding {
        language: Language::En,
        intent: Intent::EventRequest,
        confidence: Confidence::from_per_mille(950),
        entities,
        signals: Signals::default(),
    }
}

fn t(s: &str) -> Option<TimeOfDay> {
    Some(TimeOfDay::parse(s).unwrap())
}

fn mid(s: &str) -> MessageId {
    MessageId::parse(s).unwrap()
}

fn reasons(o: &Outcome) -> Vec<&str> {
    o.audit.iter().map(|a| a.reason.as_str()).collect()
}

#[test]
fn no_date_proposes_five_free_dates_from_tomorrow() {
    let mut w = World::new();
    // Every room that fits 25 is taken on 23.11.; the 24.11. is fully free.
    for room in ["room_a", "room_b", "room_f", "room_d", "room_c", "room_e"] {
        w.book("OTHER", room, date(2026, 11, 23));
    }
    let o = org();
    let out = start(
        &w.ctx(&o),
        lead(),
        &mid("m1@x"),
        &understanding(Entities {
            participants: Some(25),
            ..Entities::default()
        }),
    )
    .unwrap();
    assert_eq!(out.action, Action::DateOptionsProposed);
    assert_eq!(out.event.current_step, Step::DateConfirmation);
    assert_eq!(out.event.date_proposal_attempts, 1);
    assert_eq!(
        out.event.proposed_dates,
        [
            date(2026, 11, 24),
            date(2026, 11, 25),
            date(2026, 11, 26),
            date(2026, 11, 27),
            date(2026, 11, 28)
        ]
    );
    let body = &out.drafts[0].body;
    assert!(body.contains("24.11.2026"), "{body}");
    assert!(!body.contains("23.11.2026"));
    assert!(body.ends_with("Waiting on: your reply"), "{body}");
    assert_eq!(out.tasks[0].task_type, TaskType::ClientReply);
    assert_eq!(out.event.thread_state, ThreadState::WaitingOnHil);
}

#[test]
fn blackout_dates_are_never_proposed() {
    let mut w = World::new();
    w.now = "2026-12-22T09:00:00Z".parse().unwrap();
    let o = org();
    let out = start(
        &w.ctx(&o),
        lead(),
        &mid("m1@x"),
        &understanding(Entities::default()),
    )
    .unwrap();
    assert!(!out.event.proposed_dates.contains(&date(2026, 12, 24)));
    assert!(!out.event.proposed_dates.contains(&date(2026, 12, 25)));
    assert_eq!(out.event.proposed_dates[0], date(2026, 12, 23));
}

#[test]
fn date_without_time_asks_for_it_then_confirms_and_proposes_a_room() {
    let w = World::new();
    let o = org();
    let out = start(
        &w.ctx(&o),
        lead(),
        &mid("m1@x"),
        &understanding(Entities {
            date: Some(date(2027, 3, 17)),
            participants: Some(24),
            ..Entities::default()
        }),
    )
    .unwrap();
    assert_eq!(out.action, Action::DateTimeClarification);
    assert_eq!(out.event.chosen_date, Some(date(2027, 3, 17)));
    assert!(!out.event.date_confirmed);
    assert!(out.drafts[0].body.contains("17.03.2027"));

    // The time arrives in the next message; the date was kept.
    let event = out.event;
    let u = understanding(Entities {
        start_time: t("09:00"),
        end_time: t("17:00"),
        ..Entities::default()
    });
    let out = on_message(&w.ctx(&o), event, &mid("m2@x"), &u, "", None).unwrap();
    assert!(out.event.date_confirmed);
    assert_eq!(out.event.current_step, Step::RoomAvailability);
    assert_eq!(out.action, Action::RoomAvailResult);
    assert_eq!(out.tasks[0].task_type, TaskType::RoomLock);
    assert_eq!(
        out.tasks[0].payload,
        TaskPayload::RoomLock {
            // 24 people, no layout: Room D (up to 26) is the tightest fit.
            room_id: RoomId::parse("room_d").unwrap()
        }
    );
    assert!(reasons(&out).contains(&"date_confirmed"));
}

#[test]
fn room_approval_locks_and_drafts_the_offer() {
    let w = World::new();
    let o = org();
    let out = start(
        &w.ctx(&o),
        lead(),
        &mid("m1@x"),
        &understanding(Entities {
            date: Some(date(2027, 3, 17)),
            start_time: t("09:00"),
            end_time: t("17:00"),
            participants: Some(24),
            ..Entities::default()
        }),
    )
    .unwrap();
    assert_eq!(out.action, Action::RoomAvailResult);
    let task = out.tasks[0].clone();
    let draft = out.drafts[0].clone();
    let decided = decide_task(
        &w.ctx(&o),
        Some(out.event),
        &task,
        Some(&draft),
        Decision::Approve {
            edited_body: None,
            notes: Some("fine".into()),
        },
    )
    .unwrap();
    let out = decided.outcome.unwrap();
    let e = &out.event;
    assert_eq!(e.status, Status::Option);
    assert_eq!(
        e.locked_room_id.as_ref().map(|r| r.as_str()),
        Some("room_d")
    );
    assert_eq!(e.room_eval_hash.as_deref(), Some(e.requirements_hash()));
    assert_eq!(e.current_step, Step::Negotiation);
    assert_eq!(out.action, Action::OfferDraftPrepared);
    assert_eq!(e.offers.len(), 1);
    assert_eq!(e.offer_hash, Some(e.offers[0].content_hash()));
    // Locking is the decision; nothing was sent yet. The offer awaits its own approval.
    assert!(out.outbox.is_empty());
    assert!(matches!(
        out.tasks[0].payload,
        TaskPayload::OfferSent { .. }
    ));
    assert!(
        out.drafts[0].body.contains("Room D (full day): CHF 350.00"),
        "{}",
        out.drafts[0].body
    );
    assert!(reasons(&out).contains(&"room_locked"));

    // Approving the offer draft sends it and marks it sent.
    let mut w2 = World::new();
    w2.pending = out.tasks.clone();
    let sent = decide_task(
        &w2.ctx(&o),
        Some(out.event.clone()),
        &out.tasks[0],
        Some(&out.drafts[0]),
        Decision::Approve {
            edited_body: Some("Edited offer text".into()),
            notes: None,
        },
    )
    .unwrap()
    .outcome
    .unwrap();
    assert_eq!(sent.outbox.len(), 1);
    assert_eq!(sent.outbox[0].body, "Edited offer text");
    assert_eq!(sent.outbox[0].in_reply_to, Some(mid("m1@x")));
    assert_eq!(sent.event.offers[0].status, crate::event::OfferStatus::Sent);
    assert_eq!(sent.event.thread_state, ThreadState::AwaitingClient);
}

#[test]
fn one_complete_message_takes_the_shortcut_to_an_offer() {
    let w = World::new();
    let o = org();
    let out = start(
        &w.ctx(&o),
        lead(),
        &mid("m1@x"),
        &understanding(Entities {
            date: Some(date(2027, 3, 17)),
            start_time: t("18:00"),
            end_time: t("22:00"),
            participants: Some(30),
            room: Some(RoomId::parse("room_b").unwrap()),
            ..Entities::default()
        }),
    )
    .unwrap();
    assert_eq!(out.action, Action::OfferDraftPrepared);
    assert_eq!(out.event.current_step, Step::Negotiation);
    assert_eq!(out.event.status, Status::Option);
    assert_eq!(
        out.event.locked_room_id.as_ref().map(|r| r.as_str()),
        Some("room_b")
    );
    assert!(reasons(&out).contains(&"shortcut"));
    assert_eq!(out.tasks.len(), 1);
}

#[test]
fn no_room_on_the_date_detours_to_step2_and_comes_back() {
    let mut w = World::new();
    for room in ["room_a", "room_b", "room_c", "room_d", "room_e", "room_f"] {
        w.book("OTHER", room, date(2027, 3, 17));
    }
    let o = org();
    let mut event = lead();
    event.chosen_date = Some(date(2027, 3, 17));
    event.date_confirmed = true;
    event.start_time = t("09:00");
    event.end_time = t("17:00");
    event.current_step = Step::RoomAvailability;
    let mut req = event.requirements().clone();
    req.number_of_participants = Some(24);
    event.set_requirements(req);
    let out = on_message(
        &w.ctx(&o),
        event,
        &mid("m1@x"),
        &understanding(Entities::default()),
        "",
        None,
    )
    .unwrap();
    assert_eq!(out.action, Action::DateOptionsProposed);
    assert_eq!(out.event.current_step, Step::DateConfirmation);
    assert_eq!(out.event.caller_step, Some(Step::RoomAvailability));
    assert!(!out.event.proposed_dates.contains(&date(2027, 3, 17)));

    // The client picks another date: back to Step 3 through the caller.
    let event = out.event;
    let u = understanding(Entities {
        date: Some(date(2027, 3, 18)),
        ..Entities::default()
    });
    let out = on_message(&w.ctx(&o), event, &mid("m2@x"), &u, "", None).unwrap();
    assert_eq!(out.event.current_step, Step::RoomAvailability);
    assert_eq!(out.event.caller_step, None);
    assert!(reasons(&out).contains(&"return_to_caller"));
    assert_eq!(out.action, Action::RoomAvailResult);
}

#[test]
fn a_taken_preferred_room_gets_alternatives() {
    let mut w = World::new();
    w.book("OTHER", "room_b", date(2027, 3, 17));
    let o = org();
    let out = start(
        &w.ctx(&o),
        lead(),
        &mid("m1@x"),
        &understanding(Entities {
            date: Some(date(2027, 3, 17)),
            start_time: t("09:00"),
            end_time: t("17:00"),
            participants: Some(30),
            room: Some(RoomId::parse("room_b").unwrap()),
            ..Entities::default()
        }),
    )
    .unwrap();
    assert_eq!(out.action, Action::RoomAvailResult);
    assert_eq!(out.tasks[0].task_type, TaskType::ClientReply);
    assert_eq!(out.event.locked_room_id, None);
    let body = &out.drafts[0].body;
    assert!(
        body.contains("Unfortunately Room B is not available"),
        "{body}"
    );
    assert!(body.contains("- Room F"), "{body}");
    assert!(body.contains("Which room would you like?"));
}

#[test]
fn past_dates_offer_the_same_day_next_year() {
    let w = World::new();
    let o = org();
    let out = start(
        &w.ctx(&o),
        lead(),
        &mid("m1@x"),
        &understanding(Entities {
            date: Some(date(2026, 3, 17)),
            start_time: t("09:00"),
            end_time: t("17:00"),
            ..Entities::default()
        }),
    )
    .unwrap();
    assert_eq!(out.action, Action::DateOptionsProposed);
    assert_eq!(out.event.proposed_dates[0], date(2027, 3, 17));
    assert!(out.drafts[0].body.contains("already in the past"));
}

#[test]
fn the_third_round_without_a_date_escalates() {
    let w = World::new();
    let o = org();
    let mut event = lead();
    let mut last = None;
    for n in 1..=3 {
        let out = on_message(
            &w.ctx(&o),
            event.clone(),
            &mid(&format!("m{n}@x")),
            &understanding(Entities::default()),
            "",
            None,
        )
        .unwrap();
        event = out.event.clone();
        last = Some(out);
    }
    let out = last.unwrap();
    assert_eq!(out.action, Action::DateManualReview);
    assert_eq!(out.event.date_proposal_attempts, 3);
    assert_eq!(out.tasks[0].task_type, TaskType::ManualReview);
    assert!(out.drafts.is_empty());
}

#[test]
fn rejection_needs_a_reason_and_hands_over() {
    let w = World::new();
    let o = org();
    let out = start(
        &w.ctx(&o),
        lead(),
        &mid("m1@x"),
        &understanding(Entities::default()),
    )
    .unwrap();
    let err = decide_task(
        &w.ctx(&o),
        Some(out.event.clone()),
        &out.tasks[0],
        Some(&out.drafts[0]),
        Decision::Reject {
            reason: "  ".into(),
        },
    )
    .unwrap_err();
    assert!(matches!(err, DecisionError::EmptyReason));
    let d = decide_task(
        &w.ctx(&o),
        Some(out.event.clone()),
        &out.tasks[0],
        Some(&out.drafts[0]),
        Decision::Reject {
            reason: "I will call her".into(),
        },
    )
    .unwrap();
    assert_eq!(d.task_status, TaskStatus::Rejected);
    let after = d.outcome.unwrap();
    assert_eq!(after.event.thread_state, ThreadState::Checking);
    assert!(after.outbox.is_empty());
    let mut decided = out.tasks[0].clone();
    decided.status = TaskStatus::Rejected;
    assert!(matches!(
        decide_task(
            &w.ctx(&o),
            Some(out.event),
            &decided,
            None,
            Decision::Approve {
                edited_body: None,
                notes: None
            }
        ),
        Err(DecisionError::NotPending { .. })
    ));
}

#[test]
fn new_drafts_supersede_pending_ones() {
    let mut w = World::new();
    let o = org();
    let first = start(
        &w.ctx(&o),
        lead(),
        &mid("m1@x"),
        &understanding(Entities::default()),
    )
    .unwrap();
    w.pending = first.tasks.clone();
    let second = on_message(
        &w.ctx(&o),
        first.event,
        &mid("m2@x"),
        &understanding(Entities::default()),
        "",
        None,
    )
    .unwrap();
    assert_eq!(second.superseded, [first.tasks[0].task_id.clone()]);
}

#[test]
fn german_clients_get_german_drafts() {
    let w = World::new();
    let o = org();
    let mut u = understanding(Entities {
        date: Some(date(2027, 3, 17)),
        ..Entities::default()
    });
    u.language = Language::De;
    let out = start(&w.ctx(&o), lead(), &mid("m1@x"), &u).unwrap();
    let body = &out.drafts[0].body;
    assert!(body.starts_with("Guten Tag Laura Meier"), "{body}");
    assert!(body.contains("17.03.2027"));
    assert!(body.contains("Schritt 2"));
    assert!(
        out.drafts[0]
            .subject
            .starts_with("Ihr Anlass bei The Atelier")
    );
}

#[test]
fn templates_fall_back_to_english_and_reject_broken_overrides() {
    let t = Templates::builtin();
    assert!(t.has(Language::De, "offer_draft_prepared"));
    assert!(!t.has(Language::Fr, "offer_draft_prepared"));
    let broken = Templates::with_overrides(&[(Language::Fr, "=== x\n{% if %}".to_owned())]);
    assert!(broken.is_err());
    let missing_var = t.render(
        Language::En,
        "date_time_clarification",
        &serde_json::json!({}),
    );
    assert!(missing_var.is_err(), "strict undefined variables must fail");
    let _ = Window {
        start: TimeOfDay::parse("09:00").unwrap(),
        end: TimeOfDay::parse("10:00").unwrap(),
    };
}

#[test]
fn proposals_stay_within_the_loaded_calendar() {
    let w = World::new();
    let o = org();
    let mut ctx = w.ctx(&o);
    // Only the next three days' bookings are known: nothing later may be offered as free.
    ctx.calendar_until = date(2026, 11, 25);
    let out = start(
        &ctx,
        lead(),
        &mid("m1@x"),
        &understanding(Entities::default()),
    )
    .unwrap();
    assert_eq!(
        out.event.proposed_dates,
        [date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 25)]
    );
    let days = calendar_days(
        date(2026, 11, 22),
        None,
        Some(&understanding(Entities {
            date: Some(date(2025, 3, 17)),
            ..Entities::default()
        })),
    );
    assert_eq!(days, [date(2025, 3, 17), date(2027, 3, 17)]);
}
