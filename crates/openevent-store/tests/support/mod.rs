//! What the storage tests share: a fixed clock and the booking workflow's first turn for a
//! message (the real intake decision, with a fixed understanding).

#![allow(dead_code)]

use jiff::Timestamp;
use openevent_core::ids::OrgSlug;
use openevent_core::intake::{self, IntakeInput, IntakeOutcome};
use openevent_core::message::InboundMessage;
use openevent_core::understanding::{
    Confidence, Entities, Intent, Language, Signals, Understanding,
};
use openevent_core::venue::Venue;
use openevent_core::workflow::{Ctx, Templates};

pub fn now() -> Timestamp {
    "2026-11-22T09:00:00Z".parse().unwrap()
}

/// The intake turn for `m` (a new inquiry, or a reply in `thread`'s booking).
pub fn decide(
    org: &OrgSlug,
    m: &InboundMessage,
    thread: Option<&openevent_core::Event>,
) -> IntakeOutcome {
    let venue = Venue::atelier();
    let templates = Templates::builtin();
    let ctx = Ctx {
        org,
        venue: &venue,
        templates: &templates,
        client_name: None,
        occupancy: &[],
        calendar_until: jiff::civil::date(2099, 12, 31),
        calendar_days: &[],
        pending_tasks: &[],
        thread: &[],
        now: now(),
    };
    let u = Understanding {
        language: Language::En,
        intent: Intent::EventRequest,
        confidence: Confidence::from_per_mille(950),
        entities: Entities::default(),
        signals: Signals::default(),
    };
    intake::decide(IntakeInput {
        org,
        message: m,
        understanding: &u,
        profile: None,
        thread_event: thread,
        workflow: &ctx,
        change: None,
        now: now(),
    })
    .unwrap()
}
