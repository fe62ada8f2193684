//! How the shell understands a message before the core decides on it: the deterministic NLU,
//! with the venue's vocabulary and time zone, and change detection for replies in a booking.

use jiff::Timestamp;
use openevent_core::dag::ChangeType;
use openevent_core::event::Event;
use openevent_core::message::InboundMessage;
use openevent_core::understanding::Understanding;
use openevent_core::venue::Venue;
use openevent_nlu::{NluContext, PreparedLexicon, detect_change_type, understand as nlu};

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
