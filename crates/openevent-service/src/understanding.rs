//! How the shell understands a message before the core decides on it.

use openevent_core::message::InboundMessage;
use openevent_core::understanding::{Entities, Signals, Understanding, classify_inquiry};

/// The keyword classification; entities come with the rule-based NLU crate.
pub(crate) fn understand(message: &InboundMessage) -> Understanding {
    let c = classify_inquiry(&message.subject, &message.body_text);
    Understanding {
        language: c.language,
        intent: c.intent,
        confidence: c.confidence,
        entities: Entities::default(),
        signals: Signals::default(),
    }
}
