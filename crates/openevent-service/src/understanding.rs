//! How the shell understands a message before the core decides on it: the deterministic NLU,
//! with the venue's vocabulary and time zone, and change detection for replies in a booking.

use jiff::Timestamp;
use openevent_core::AuditEntry;
use openevent_core::audit::Actor;
use openevent_core::dag::ChangeType;
use openevent_core::event::Event;
use openevent_core::message::InboundMessage;
use openevent_core::understanding::Understanding;
use openevent_core::venue::Venue;
use openevent_nlu::{NluContext, PreparedLexicon, detect_change_type, understand as nlu};

/// The timeline entry recording what the LLM did with a message: metadata only.
pub(crate) fn llm_audit(outcome: &openevent_llm::LlmOutcome, now: Timestamp) -> AuditEntry {
    let reason = if outcome.is_fallback() {
        "understanding_llm_fallback"
    } else {
        "understanding_llm_refined"
    };
    let mut fields = std::collections::BTreeMap::new();
    fields.insert(
        "llm".to_owned(),
        serde_json::to_value(outcome).unwrap_or(serde_json::Value::Null),
    );
    AuditEntry {
        ts: now,
        actor: Actor::System,
        from_step: None,
        to_step: None,
        reason: reason.to_owned(),
        fields,
    }
}

pub(crate) fn understand(
    venue: &Venue,
    lexicon: &PreparedLexicon,
    message: &InboundMessage,
    event: Option<&Event>,
    now: Timestamp,
) -> (Understanding, Option<ChangeType>) {
    let ctx = NluContext {
        lexicon,
        time_zone: venue.time_zone(),
        event,
    };
    let u = nlu(&message.subject, &message.body_text, &ctx, now);
    let change = event.and_then(|e| detect_change_type(e, &u, &message.body_text));
    (u, change)
}
