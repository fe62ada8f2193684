//! Deterministic, rule-based, multilingual (en/de/fr/it/es) message understanding.
//!
//! Pure: no I/O, no clock (`now` is a parameter), no randomness, no model. Patterns are compiled
//! once per process. `understand` reads only what the client wrote now: quoted history and
//! signatures are stripped first.
//!
//! Extraction order matters because each extractor masks the digits it consumed, so a later
//! one never reads them again: address lines → phones → prices → dates → times → rooms →
//! products → participants.

pub mod address;
pub mod change;
pub mod contact;
pub mod corpus;
pub mod dates;
pub mod event_type;
pub mod intent;
pub mod lang;
pub mod lexicon;
pub mod participants;
pub mod prepared;
pub mod products;
pub mod quotes;
pub mod report;
pub mod rooms;
pub mod signals;
pub mod text;
pub mod times;

use std::sync::LazyLock;

use openevent_core::Event;
use openevent_core::understanding::{Confidence, Entities, Signals, Understanding};

use crate::text::Re;

pub use change::detect_change_type;
pub use lexicon::atelier_lexicon;
pub use prepared::PreparedLexicon;
pub use quotes::strip_quoted;

/// What `understand` needs besides the message: the venue vocabulary (prepared once per
/// venue: `PreparedLexicon::new(&lexicon)`), the venue's time zone (relative dates are
/// venue-local) and the booking the message belongs to, if any.
pub struct NluContext<'a> {
    pub lexicon: &'a PreparedLexicon,
    pub time_zone: &'a jiff::tz::TimeZone,
    pub event: Option<&'a Event>,
}

static PRICE: LazyLock<Re> = LazyLock::new(|| {
    Re::new(
        r"(?:\b(?:chf|eur|usd|gbp|sfr|fr\.)|[€$£])\s*\d[\d'’.,]*(?:\s*(?:\.-|\.–|-|k)\b)?|\b\d[\d'’.,]*\s*(?:chf|eur|euro|euros|franken|francs|franchi|francos|fr\.|€|%|k\b|prozent|percent|pour cent|per cento|por ciento)",
    )
});

/// Reads one message. `subject` and `body` as received; `now` is the processing instant.
pub fn understand(
    subject: &str,
    body: &str,
    ctx: &NluContext<'_>,
    now: jiff::Timestamp,
) -> Understanding {
    let body = strip_quoted(body);
    let subject = subject.replace(['\n', '\r'], " ");
    let text = format!("{subject}\n{body}");
    let lower_full = text.to_lowercase();
    let body_lower = body.to_lowercase();
    let language = lang::detect(if body_lower.trim().is_empty() {
        &lower_full
    } else {
        &body_lower
    });
    let today = now.to_zoned(ctx.time_zone.clone()).date();

    let mut lower = lower_full.clone();
    let billing = address::extract(&body);
    if let Some((_, lines)) = &billing {
        mask_lines(&mut lower, lines.iter().map(|l| l + 1));
    }
    let (_, phone_spans) = contact::phones(&lower);
    for (s, e) in phone_spans {
        text::mask(&mut lower, s..e);
    }
    let prices: Vec<_> = PRICE.find_iter(&lower).map(|m| m.range()).collect();
    for r in prices {
        text::mask(&mut lower, r);
    }
    let (date, date_end) = dates::extract(&mut lower, today);
    let date_preference = date.is_none().then(|| dates::preference(&lower)).flatten();
    let (start_time, end_time) = times::extract(&mut lower);
    let mut folded = lower.replace(['-', '_', '/'], " ");
    let (room, room_spans) = rooms::room(&folded, ctx.lexicon);
    for (s, e) in room_spans {
        text::mask(&mut folded, s..e);
        text::mask(&mut lower, s..e);
    }
    let layout = rooms::layout(&folded);
    let (products_add, products_remove, product_spans) = products::extract(&folded, ctx.lexicon);
    let mut type_text = lower_full.clone();
    for (s, e) in product_spans {
        text::mask(&mut type_text, s..e);
    }
    let participants = participants::extract(&lower);

    let entities = Entities {
        date,
        date_end,
        date_preference,
        start_time,
        end_time,
        participants,
        room,
        layout,
        products_add,
        products_remove,
        billing_address: billing.map(|b| b.0),
        contact: contact::extract(&body),
        event_type: event_type::extract(&type_text),
    };
    let read = signals::read(&lower_full, !entities.products_remove.is_empty());
    let mut u = Understanding {
        language,
        intent: openevent_core::understanding::Intent::NonEvent,
        confidence: Confidence::from_per_mille(0),
        entities,
        signals: Signals {
            is_acceptance: read.acceptance,
            is_rejection: read.rejection,
            is_change_request: false,
            is_question: read.question,
            is_manager_request: read.manager,
            has_urgency: read.urgency,
            has_injection_attempt: read.injection,
        },
    };
    let change = ctx.event.and_then(|e| detect_change_type(e, &u, &text));
    u.signals.is_change_request = change.is_some();
    let (intent, pm) = intent::classify(&intent::Features {
        lower: &lower_full,
        signals: &read,
        entities: &u.entities,
        event: ctx.event,
        change,
    });
    u.intent = intent;
    u.confidence = Confidence::from_per_mille(pm);
    u
}

fn mask_lines(lower: &mut String, lines: impl Iterator<Item = usize>) {
    let starts: Vec<usize> = std::iter::once(0)
        .chain(lower.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    for l in lines {
        if let Some(&s) = starts.get(l) {
            let e = starts.get(l + 1).map_or(lower.len(), |n| n - 1);
            text::mask(lower, s..e);
        }
    }
}
