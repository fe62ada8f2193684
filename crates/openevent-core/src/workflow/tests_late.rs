//! Steps 5–7 and the DAG scenarios, driven as a manager and a client would.

use jiff::civil::date;

use super::*;
use crate::event::{OfferStatus, Status, TimeOfDay};
use crate::ids::{ClientEmail, ProductId, RoomId};
use crate::understanding::{
    BillingAddress, Confidence, Entities, Intent, Language, ProductMention, Signals,
};

struct World {
    venue: Venue,
    templates: Templates,
    occupancy: Vec<Occupancy>,
    now: Timestamp,
}

/// A booking and the tasks still pending for it, as the shell would hold them.
struct Booking {
    event: Event,
    pending: Vec<(HilTask, Option<Draft>)>,
}

fn org() -> OrgSlug {
    OrgSlug::parse("default").unwrap()
}

fn mid(s: &str) -> MessageId {
    MessageId::parse(s).unwrap()
}

fn u(intent: Intent, entities: Entities, signals: Signals) -> Understanding {
    Understanding {
        language: Language::En,
        intent,
        confidence: Confidence::from_per_mille(950),
        entities,
        signals,
    }
}

impl World {
    fn new(deposit: bool) -> Self {
        let toml = include_str!("../venue/atelier.toml");
        let toml = if deposit {
            toml.replace("enabled = false", "enabled = true")
        } else {
            toml.to_owned()
        };
        Self {
            venue: Venue::from_toml(&toml).unwrap(),
            templates: Templates::builtin(),
            occupancy: Vec::new(),
            now: "2026-11-22T09:00:00Z".parse().unwrap(),
        }
    }

    fn with_ctx<R>(&self, b: &Booking, f: impl FnOnce(&Ctx<'_>) -> R) -> R {
        let o = org();
        let pending: Vec<HilTask> = b.pending.iter().map(|(t, _)| t.clone()).collect();
        let ctx = Ctx {
            org: &o,
            venue: &self.venue,
            templates: &self.templates,
            client_name: Some("Laura"),
            occupancy: &self.occupancy,
            calendar_until: jiff::civil::date(2099, 12, 31),
            calendar_days: &[],
            pending_tasks: &pending,
            thread: &[],
            now: self.now,
        };
        f(&ctx)
    }

    /// Applies an outcome the way the shell commits it.
    fn apply(b: &mut Booking, out: Outcome) -> Outcome {
        b.event = out.event.clone();
        b.pending
            .retain(|(t, _)| !out.superseded.contains(&t.task_id));
        for t in &out.tasks {
            let d = out
                .drafts
                .iter()
                .find(|d| Some(&d.draft_id) == t.draft_id.as_ref())
                .cloned();
            b.pending.push((t.clone(), d));
        }
        out
    }

    fn client(
        &self,
        b: &mut Booking,
        id: &str,
        und: Understanding,
        text: &str,
        change: Option<ChangeType>,
    ) -> Outcome {
        let out = self.with_ctx(b, |ctx| {
            on_message(ctx, b.event.clone(), &mid(id), &und, text, change).unwrap()
        });
        Self::apply(b, out)
    }

    /// Approves the pending task of `task_type` (there must be exactly one).
    fn approve(&self, b: &mut Booking, task_type: TaskType) -> Outcome {
        let idx = b
            .pending
            .iter()
            .position(|(t, _)| t.task_type == task_type)
            .unwrap_or_else(|| {
                panic!(
                    "no pending {task_type:?}; pending: {:?}",
                    b.pending
                        .iter()
                        .map(|(t, _)| t.task_type)
                        .collect::<Vec<_>>()
                )
            });
        let (task, draft) = b.pending.remove(idx);
        let decided = self.with_ctx(b, |ctx| {
            decide_task(
                ctx,
                Some(b.event.clone()),
                &task,
                draft.as_ref(),
                Decision::Approve {
                    edited_body: None,
                    notes: None,
                },
            )
            .unwrap()
        });
        Self::apply(b, decided.outcome.unwrap())
    }

    /// A booking with an offer sent: 24 people in Room B on 17.03.2027, 09:00–17:00.
    fn booking_at_negotiation(&self) -> Booking {
        let mut b = Booking {
            event: Event::new_lead(
                EventId::parse("EVT-L").unwrap(),
                ClientEmail::parse("laura@example.com").unwrap(),
                self.now,
            ),
            pending: Vec::new(),
        };
        let first = u(
            Intent::EventRequest,
            Entities {
                date: Some(date(2027, 3, 17)),
                start_time: Some(TimeOfDay::parse("09:00").unwrap()),
                end_time: Some(TimeOfDay::parse("17:00").unwrap()),
                participants: Some(24),
                room: Some(RoomId::parse("room_b").unwrap()),
                ..Entities::default()
            },
            Signals::default(),
        );
        let out = self.with_ctx(&b, |ctx| {
            start(ctx, b.event.clone(), &mid("m1@x"), &first).unwrap()
        });
        let out = Self::apply(&mut b, out);
        assert_eq!(out.action, Action::OfferDraftPrepared);
        let sent = self.approve(&mut b, TaskType::ClientReply);
        assert_eq!(sent.outbox.len(), 1);
        assert_eq!(b.event.current_step, Step::Negotiation);
        b
    }
}

fn accept() -> Understanding {
    u(
        Intent::AcceptOffer,
        Entities::default(),
        Signals {
            is_acceptance: true,
            ..Signals::default()
        },
    )
}

fn billing() -> Entities {
    Entities {
        billing_address: Some(BillingAddress {
            name_or_company: Some("Helvetia Labs".into()),
            street: Some("Bahnhofstrasse 1".into()),
            postal_code: Some("8001".into()),
            city: Some("Zürich".into()),
            country: Some("CH".into()),
        }),
        ..Entities::default()
    }
}

#[test]
fn acceptance_needs_billing_then_one_task_then_steps_6_and_7() {
    let w = World::new(false);
    let mut b = w.booking_at_negotiation();
    let out = w.client(&mut b, "m2@x", accept(), "Yes please, we accept.", None);
    assert_eq!(out.action, Action::OfferAcceptRequiresBilling);
    assert!(out.drafts[0].body.contains("street"));

    let mut with_billing = accept();
    with_billing.entities = billing();
    let out = w.client(
        &mut b,
        "m3@x",
        with_billing,
        "We accept. Helvetia Labs, Bahnhofstrasse 1, 8001 Zürich",
        None,
    );
    assert_eq!(out.action, Action::OfferAcceptPendingHil);
    assert_eq!(out.event.thread_state, ThreadState::WaitingOnHil);
    let task = out.tasks[0].task_id.clone();

    // Saying yes again creates no second task.
    let again = w.client(&mut b, "m4@x", accept(), "Yes, confirmed!", None);
    assert_eq!(again.action, Action::OfferAcceptPendingHil);
    assert!(again.tasks.is_empty());
    assert_eq!(again.existing_tasks, [task]);

    let out = w.approve(&mut b, TaskType::OfferAcceptance);
    assert_eq!(
        out.event.current_offer().unwrap().status,
        OfferStatus::Accepted
    );
    assert!(out.event.transition_ready);
    assert_eq!(out.event.current_step, Step::Confirmation);
    assert_eq!(out.action, Action::ConfirmationDraft);
    assert_eq!(
        out.event.status,
        Status::Option,
        "never confirmed before the manager approves"
    );

    let out = w.approve(&mut b, TaskType::BookingConfirmation);
    assert_eq!(out.event.status, Status::Confirmed);
    assert_eq!(out.action, Action::ConfirmationFinalized);
    assert_eq!(out.outbox.len(), 1);
}

#[test]
fn scenario_f_deposit_then_paid_then_confirmed() {
    let w = World::new(true);
    let mut b = w.booking_at_negotiation();
    let offer = b.event.current_offer().unwrap().clone();
    assert!(offer.deposit.is_some());
    let mut yes = accept();
    yes.entities = billing();
    w.client(&mut b, "m2@x", yes, "We accept.", None);
    let out = w.approve(&mut b, TaskType::OfferAcceptance);
    assert_eq!(out.action, Action::ConfirmationDepositRequested);
    assert_eq!(out.event.status, Status::Option);
    assert!(!out.event.transition_ready);
    assert!(
        out.drafts[0]
            .body
            .contains(&offer.deposit.unwrap().display_chf())
    );
    w.approve(&mut b, TaskType::ClientReply);

    let paid = u(Intent::DepositPaid, Entities::default(), Signals::default());
    let out = w.client(&mut b, "m3@x", paid, "We paid the deposit today.", None);
    assert_eq!(out.action, Action::ConfirmationFinalized);
    assert_eq!(out.event.status, Status::Option);
    let out = w.approve(&mut b, TaskType::BookingConfirmation);
    assert_eq!(out.event.status, Status::Confirmed);
    assert!(out.event.deposit_paid_at.is_some());
}

#[test]
fn deposit_webhook_records_payment_and_asks_for_confirmation() {
    let w = World::new(true);
    let mut b = w.booking_at_negotiation();
    let mut yes = accept();
    yes.entities = billing();
    w.client(&mut b, "m2@x", yes, "We accept.", None);
    w.approve(&mut b, TaskType::OfferAcceptance);
    let out = w.with_ctx(&b, |ctx| {
        on_deposit_paid(ctx, b.event.clone(), &mid("pay-1@provider")).unwrap()
    });
    let out = World::apply(&mut b, out);
    assert!(out.event.deposit_paid_at.is_some());
    assert_eq!(out.action, Action::ConfirmationFinalized);
    assert_eq!(out.event.status, Status::Option);
}

#[test]
fn scenario_e_fourth_counter_goes_to_a_manager_exactly_once() {
    let w = World::new(false);
    let mut b = w.booking_at_negotiation();
    let counter = || {
        u(
            Intent::CounterOffer,
            Entities::default(),
            Signals::default(),
        )
    };
    let mut totals = vec![b.event.current_offer().unwrap().total];
    for n in 1..=3 {
        let out = w.client(
            &mut b,
            &format!("c{n}@x"),
            counter(),
            "Can you do better on the price?",
            None,
        );
        assert_eq!(out.action, Action::NegotiationCounter);
        totals.push(out.event.current_offer().unwrap().total);
        w.approve(&mut b, TaskType::ClientReply);
    }
    assert!(totals.windows(2).all(|p| p[1] < p[0]), "{totals:?}");
    assert_eq!(b.event.offers.len(), 4);
    let out = w.client(&mut b, "c4@x", counter(), "Still too expensive.", None);
    assert_eq!(out.action, Action::NegotiationManualReview);
    assert_eq!(out.event.negotiation.counter_count, 4);
    assert_eq!(out.tasks.len(), 1);
    let out = w.client(&mut b, "c5@x", counter(), "Final offer?", None);
    assert_eq!(out.action, Action::NegotiationManualReview);
    assert!(out.tasks.is_empty());
    assert_eq!(
        b.pending
            .iter()
            .filter(|(t, _)| t.task_type == TaskType::ManualReview)
            .count(),
        1
    );

    let mut yes = accept();
    yes.entities = billing();
    w.client(&mut b, "m9@x", yes, "OK, we accept.", None);
    let out = w.approve(&mut b, TaskType::OfferAcceptance);
    assert_eq!(out.event.current_step, Step::Confirmation);
}

#[test]
fn scenario_d_product_change_makes_offer_v2() {
    let w = World::new(false);
    let mut b = w.booking_at_negotiation();
    let add = u(
        Intent::EditProducts,
        Entities {
            products_add: vec![ProductMention {
                product_id: ProductId::parse("wireless_microphone").unwrap(),
                quantity: Some(2),
            }],
            ..Entities::default()
        },
        Signals {
            is_change_request: true,
            ..Signals::default()
        },
    );
    let out = w.client(
        &mut b,
        "p1@x",
        add,
        "Please add two wireless microphones.",
        Some(ChangeType::Products),
    );
    assert_eq!(out.action, Action::OfferDraftPrepared);
    assert_eq!(out.event.offers.len(), 2);
    assert_eq!(out.event.offers[0].status, OfferStatus::Superseded);
    assert_eq!(out.event.offers[1].version, 2);
    assert_eq!(
        out.event.offer_hash,
        Some(out.event.offers[1].content_hash())
    );
    assert!(out.audit.iter().any(|a| a.reason == "change_products"));
    assert!(
        !out.audit
            .iter()
            .any(|a| a.to_step == Some(Step::RoomAvailability))
    );
}

#[test]
fn more_attendees_re_evaluate_rooms_only() {
    let w = World::new(false);
    let mut b = w.booking_at_negotiation();
    let hash_before = b.event.requirements_hash().to_owned();
    let more = u(
        Intent::EditRequirements,
        Entities {
            participants: Some(36),
            ..Entities::default()
        },
        Signals {
            is_change_request: true,
            ..Signals::default()
        },
    );
    let out = w.client(
        &mut b,
        "r1@x",
        more,
        "We are now 36 people.",
        Some(ChangeType::Requirements),
    );
    assert_ne!(out.event.requirements_hash(), hash_before);
    let steps: Vec<_> = out.audit.iter().filter_map(|a| a.to_step).collect();
    assert!(steps.contains(&Step::RoomAvailability), "{steps:?}");
    assert!(!steps.contains(&Step::DateConfirmation));
    // Room B (60) still fits 36: no new lock is asked for; the offer is re-priced for 36.
    assert_eq!(
        out.event.locked_room_id.as_ref().map(|r| r.as_str()),
        Some("room_b")
    );
    assert_eq!(
        out.event.room_eval_hash.as_deref(),
        Some(out.event.requirements_hash())
    );
    assert_eq!(out.event.current_step, Step::Negotiation);
    assert_eq!(out.event.caller_step, None);

    // The same number again changes nothing in the rooms: a fast skip.
    let same = u(
        Intent::EditRequirements,
        Entities {
            participants: Some(36),
            ..Entities::default()
        },
        Signals {
            is_change_request: true,
            ..Signals::default()
        },
    );
    let out = w.client(
        &mut b,
        "r2@x",
        same,
        "Just to confirm: 36 people.",
        Some(ChangeType::Requirements),
    );
    assert!(out.audit.iter().any(
        |a| a.fields.get("skip_reason") == Some(&serde_json::json!("requirements_hash_match"))
    ));
    assert_eq!(out.event.current_step, Step::Negotiation);
}

#[test]
fn date_change_after_offer_skips_step3_when_the_room_is_free() {
    let w = World::new(false);
    let mut b = w.booking_at_negotiation();
    let change = u(
        Intent::EditDate,
        Entities {
            date: Some(date(2027, 3, 24)),
            ..Entities::default()
        },
        Signals {
            is_change_request: true,
            ..Signals::default()
        },
    );
    let out = w.client(
        &mut b,
        "d1@x",
        change,
        "Could we move it to 24.03.2027 instead?",
        Some(ChangeType::Date),
    );
    assert_eq!(out.event.chosen_date, Some(date(2027, 3, 24)));
    assert!(out.event.date_confirmed);
    assert_eq!(out.event.current_step, Step::Negotiation);
    assert_eq!(out.event.caller_step, None);
    let reasons: Vec<&str> = out.audit.iter().map(|a| a.reason.as_str()).collect();
    assert!(reasons.contains(&"return_to_caller"), "{reasons:?}");
    assert!(
        out.audit
            .iter()
            .any(|a| a.fields.get("step3_skipped") == Some(&serde_json::json!(true)))
    );
    assert_eq!(out.action, Action::BookingUpdated);
}

#[test]
fn date_change_after_offer_runs_step3_when_the_room_is_taken() {
    let mut w = World::new(false);
    let mut b = w.booking_at_negotiation();
    w.occupancy.push(Occupancy {
        event_id: EventId::parse("OTHER").unwrap(),
        room_id: RoomId::parse("room_b").unwrap(),
        date: date(2027, 3, 24),
        window: None,
    });
    w.occupancy.sort_by_key(|o| o.date);
    let change = u(
        Intent::EditDate,
        Entities {
            date: Some(date(2027, 3, 24)),
            ..Entities::default()
        },
        Signals {
            is_change_request: true,
            ..Signals::default()
        },
    );
    let out = w.client(
        &mut b,
        "d1@x",
        change,
        "Move it to 24.03.2027 please.",
        Some(ChangeType::Date),
    );
    assert_eq!(out.event.current_step, Step::RoomAvailability);
    assert_eq!(out.event.caller_step, Some(Step::Negotiation));
    assert_eq!(out.action, Action::RoomAvailResult);
}

#[test]
fn prosecco_after_acceptance_goes_to_step4_not_step3() {
    let w = World::new(false);
    let mut b = w.booking_at_negotiation();
    let mut yes = accept();
    yes.entities = billing();
    w.client(&mut b, "m2@x", yes, "We accept.", None);
    w.approve(&mut b, TaskType::OfferAcceptance);
    assert_eq!(b.event.current_step, Step::Confirmation);
    let add = u(
        Intent::EditProducts,
        Entities {
            products_add: vec![ProductMention {
                product_id: ProductId::parse("prosecco").unwrap(),
                quantity: Some(6),
            }],
            ..Entities::default()
        },
        Signals {
            is_change_request: true,
            ..Signals::default()
        },
    );
    let out = w.client(
        &mut b,
        "p1@x",
        add,
        "Could you add 6 bottles of Prosecco?",
        Some(ChangeType::Products),
    );
    let steps: Vec<_> = out.audit.iter().filter_map(|a| a.to_step).collect();
    assert!(steps.contains(&Step::Offer));
    assert!(!steps.contains(&Step::RoomAvailability));
    assert_eq!(out.action, Action::OfferDraftPrepared);
    let latest = out.event.offers.last().unwrap();
    assert!(
        latest
            .line_items
            .iter()
            .any(|i| i.description == "Prosecco" && i.quantity == 6)
    );
}

#[test]
fn decline_and_cancel_need_a_manager() {
    let w = World::new(false);
    let mut b = w.booking_at_negotiation();
    let no = u(
        Intent::DeclineOffer,
        Entities::default(),
        Signals {
            is_rejection: true,
            ..Signals::default()
        },
    );
    let out = w.client(
        &mut b,
        "n1@x",
        no,
        "Unfortunately we have to decline.",
        None,
    );
    assert_eq!(out.action, Action::NegotiationDecline);
    assert_eq!(out.event.status, Status::Option);
    let out = w.approve(&mut b, TaskType::Cancellation);
    assert_eq!(out.event.status, Status::Cancelled);
    assert_eq!(out.event.thread_state, ThreadState::Closed);
    assert!(
        out.event
            .offers
            .iter()
            .all(|o| o.status != OfferStatus::Sent)
    );
}

#[test]
fn questions_are_answered_without_moving_the_step() {
    let w = World::new(false);
    let mut b = w.booking_at_negotiation();
    let q = u(
        Intent::GeneralQna,
        Entities::default(),
        Signals {
            is_question: true,
            ..Signals::default()
        },
    );
    let out = w.client(
        &mut b,
        "q1@x",
        q.clone(),
        "Is there parking for our guests?",
        None,
    );
    assert_eq!(out.action, Action::QuestionAnswered);
    assert_eq!(out.event.current_step, Step::Negotiation);
    assert!(out.drafts[0].body.contains("50 underground"));
    let out = w.client(&mut b, "q2@x", q, "Can we bring our own dog?", None);
    assert_eq!(out.action, Action::QuestionForManager);
    assert_eq!(out.tasks[0].task_type, TaskType::ManualReview);
}

#[test]
fn site_visits_offer_free_weekday_slots() {
    let w = World::new(false);
    let mut b = w.booking_at_negotiation();
    let mut yes = accept();
    yes.entities = billing();
    w.client(&mut b, "m2@x", yes, "We accept.", None);
    w.approve(&mut b, TaskType::OfferAcceptance);
    let ask = u(
        Intent::SiteVisitRequest,
        Entities::default(),
        Signals::default(),
    );
    let out = w.client(
        &mut b,
        "s1@x",
        ask,
        "Could we visit the venue beforehand?",
        None,
    );
    assert_eq!(out.action, Action::ConfirmationSiteVisit);
    // Sunday 22.11.2026 + 2 days = Tuesday 24.11.2026 10:00 is the first slot.
    assert!(
        out.drafts[0].body.contains("24.11.2026 10:00"),
        "{}",
        out.drafts[0].body
    );
    let pick = u(
        Intent::SiteVisitRequest,
        Entities {
            date: Some(date(2026, 11, 24)),
            start_time: Some(TimeOfDay::parse("14:00").unwrap()),
            ..Entities::default()
        },
        Signals::default(),
    );
    let out = w.client(&mut b, "s2@x", pick, "Tuesday 24.11. at 14:00 works.", None);
    assert_eq!(
        out.event.site_visit.map(|s| s.time.to_string()),
        Some("14:00".to_owned())
    );
}

#[test]
fn chosen_low_risk_replies_can_skip_approval() {
    let mut w = World::new(false);
    let mut spec = w.venue.spec().clone();
    spec.hil.auto_approve = vec!["question_answered".to_owned()];
    w.venue = Venue::from_spec(spec).unwrap();
    let mut b = w.booking_at_negotiation();
    let q = u(
        Intent::GeneralQna,
        Entities::default(),
        Signals {
            is_question: true,
            ..Signals::default()
        },
    );
    let out = w.client(&mut b, "q1@x", q, "Is there parking?", None);
    assert_eq!(out.action, Action::QuestionAnswered);
    assert_eq!(out.outbox.len(), 1, "sent at once");
    assert_eq!(out.tasks[0].status, TaskStatus::Approved);
    assert_eq!(out.event.thread_state, ThreadState::AwaitingClient);
    assert!(out.audit.iter().any(|a| a.reason == "auto_approved"));
    // Everything else still waits for a person.
    let counter = u(
        Intent::CounterOffer,
        Entities::default(),
        Signals::default(),
    );
    let out = w.client(&mut b, "c1@x", counter, "A discount please?", None);
    assert!(out.outbox.is_empty());
    assert_eq!(out.tasks[0].status, TaskStatus::Pending);
}

#[test]
fn decisions_cannot_be_configured_to_skip_approval() {
    let mut spec = Venue::atelier().spec().clone();
    spec.hil.auto_approve = vec![
        "offer_draft_prepared".to_owned(),
        "booking_cancelled".to_owned(),
    ];
    let Err(crate::venue::VenueError::Invalid(problems)) = Venue::from_spec(spec) else {
        panic!("accepted");
    };
    assert_eq!(problems.len(), 2);
    assert_eq!(problems[0].field, "hil.auto_approve[0]");
}

proptest::proptest! {
    /// Whatever the client says at whatever step, the turn drafts something or asks a person.
    #[test]
    fn every_client_message_gets_a_draft_or_a_task(
        intent in proptest::sample::select(vec![
            Intent::EventRequest, Intent::ConfirmDate, Intent::EditDate, Intent::AcceptOffer,
            Intent::DeclineOffer, Intent::CounterOffer, Intent::DepositPaid,
            Intent::SiteVisitRequest, Intent::MessageManager, Intent::GeneralQna, Intent::NonEvent,
        ]),
        question in proptest::bool::ANY,
        accepting in proptest::bool::ANY,
        reject in proptest::bool::ANY,
        accepted_first in proptest::bool::ANY,
        change in proptest::option::of(proptest::sample::select(ChangeType::ALL.to_vec())),
    ) {
        let w = World::new(false);
        let mut b = w.booking_at_negotiation();
        if accepted_first {
            let mut yes = accept();
            yes.entities = billing();
            w.client(&mut b, "a@x", yes, "We accept.", None);
            w.approve(&mut b, TaskType::OfferAcceptance);
        }
        let msg = u(intent, Entities::default(), Signals {
            is_question: question,
            is_acceptance: accepting,
            is_rejection: reject,
            ..Signals::default()
        });
        let out = w.client(&mut b, "p@x", msg, "Some text?", change);
        proptest::prop_assert!(
            !out.drafts.is_empty() || !out.tasks.is_empty() || !out.existing_tasks.is_empty(),
            "no draft or task for {:?} at step {:?}", intent, b.event.current_step
        );
    }
}

#[test]
fn a_question_does_not_supersede_a_pending_decision() {
    let w = World::new(false);
    let mut b = w.booking_at_negotiation();
    let mut yes = accept();
    yes.entities = billing();
    w.client(&mut b, "m2@x", yes, "We accept.", None);
    let acceptance = b
        .pending
        .iter()
        .find(|(t, _)| t.task_type == TaskType::OfferAcceptance)
        .unwrap()
        .0
        .task_id
        .clone();
    let q = u(
        Intent::GeneralQna,
        Entities::default(),
        Signals {
            is_question: true,
            ..Signals::default()
        },
    );
    let out = w.client(&mut b, "q1@x", q, "Is there parking?", None);
    assert_eq!(out.action, Action::QuestionAnswered);
    assert!(
        !out.superseded.contains(&acceptance),
        "the acceptance decision was superseded"
    );
    // A second question's answer replaces the first, still unsent, answer.
    let first_answer = out.tasks[0].task_id.clone();
    let q = u(
        Intent::GeneralQna,
        Entities::default(),
        Signals {
            is_question: true,
            ..Signals::default()
        },
    );
    let out = w.client(&mut b, "q2@x", q, "And is there parking for buses?", None);
    assert!(out.superseded.contains(&first_answer));
    assert!(!out.superseded.contains(&acceptance));
}

#[test]
fn a_room_taken_since_the_proposal_is_not_locked_on_approval() {
    let mut w = World::new(false);
    let mut b = Booking {
        event: Event::new_lead(
            EventId::parse("EVT-R").unwrap(),
            ClientEmail::parse("r@example.com").unwrap(),
            w.now,
        ),
        pending: Vec::new(),
    };
    let first = u(
        Intent::EventRequest,
        Entities {
            date: Some(date(2027, 3, 17)),
            start_time: Some(TimeOfDay::parse("09:00").unwrap()),
            end_time: Some(TimeOfDay::parse("17:00").unwrap()),
            participants: Some(24),
            ..Entities::default()
        },
        Signals::default(),
    );
    let out = w.with_ctx(&b, |ctx| {
        start(ctx, b.event.clone(), &mid("m1@x"), &first).unwrap()
    });
    let out = World::apply(&mut b, out);
    let TaskPayload::RoomLock { room_id } = out.tasks[0].payload.clone() else {
        panic!("expected a room-lock task");
    };
    // Meanwhile another booking takes that room for the day.
    w.occupancy.push(Occupancy {
        event_id: EventId::parse("OTHER").unwrap(),
        room_id: room_id.clone(),
        date: date(2027, 3, 17),
        window: None,
    });
    w.occupancy.sort_by_key(|o| o.date);
    let out = w.approve(&mut b, TaskType::RoomLock);
    assert_eq!(
        out.event.locked_room_id, None,
        "locked a room that is taken"
    );
    assert_eq!(out.event.status, Status::Lead);
    assert_eq!(out.action, Action::RoomAvailResult);
    assert!(out.audit.iter().any(|a| a.reason == "room_taken_meanwhile"));
    let TaskPayload::RoomLock { room_id: again } = out.tasks[0].payload.clone() else {
        panic!("expected a new room-lock proposal");
    };
    assert_ne!(again, room_id);
}

#[test]
fn a_new_offer_version_makes_a_pending_acceptance_stale() {
    let w = World::new(false);
    let mut b = w.booking_at_negotiation();
    let mut yes = accept();
    yes.entities = billing();
    w.client(&mut b, "m2@x", yes, "We accept.", None);
    let acceptance = b
        .pending
        .iter()
        .find(|(t, _)| t.task_type == TaskType::OfferAcceptance)
        .unwrap()
        .0
        .task_id
        .clone();
    let add = u(
        Intent::EditProducts,
        Entities {
            products_add: vec![ProductMention {
                product_id: ProductId::parse("projector").unwrap(),
                quantity: None,
            }],
            ..Entities::default()
        },
        Signals {
            is_change_request: true,
            ..Signals::default()
        },
    );
    let out = w.client(
        &mut b,
        "p1@x",
        add,
        "Oh, and please add a projector.",
        Some(ChangeType::Products),
    );
    assert_eq!(out.action, Action::OfferDraftPrepared);
    assert!(
        out.superseded.contains(&acceptance),
        "the acceptance of the old offer is still pending"
    );
}

#[test]
fn moving_the_date_without_a_new_one_proposes_dates() {
    let w = World::new(false);
    let mut b = w.booking_at_negotiation();
    let change = u(
        Intent::EditDate,
        Entities::default(),
        Signals {
            is_change_request: true,
            ..Signals::default()
        },
    );
    let out = w.client(
        &mut b,
        "d1@x",
        change,
        "Could we move the event to another day?",
        Some(ChangeType::Date),
    );
    assert_eq!(out.action, Action::DateOptionsProposed);
    assert_eq!(out.event.current_step, Step::DateConfirmation);
    assert_eq!(out.event.caller_step, Some(Step::Negotiation));
    assert!(!out.event.date_confirmed);
    assert!(!out.event.proposed_dates.is_empty());
}
