//! Fuzz body `nlu_understand`: one message text through `openevent_nlu::understand`, with and
//! without a booking in context, then change detection on the result.
//!
//! Shared by the libFuzzer target (`fuzz/fuzz_targets/nlu_understand.rs`, nightly) and the stable
//! smoke test (`crates/openevent-nlu/tests/fuzz_regressions.rs`).
//!
//! Input layout: byte 0 picks the clock and the booking's state, the rest is UTF-8 (lossy)
//! `subject NUL body`; without a NUL the whole text is the body.

use std::sync::LazyLock;

use openevent_core::event::{Event, Step};
use openevent_core::ids::{ClientEmail, EventId};
use openevent_nlu::{
    NluContext, PreparedLexicon, atelier_lexicon, detect_change_type, strip_quoted, understand,
};

static LEXICON: LazyLock<PreparedLexicon> =
    LazyLock::new(|| PreparedLexicon::new(&atelier_lexicon()));
static ZURICH: LazyLock<jiff::tz::TimeZone> =
    LazyLock::new(|| jiff::tz::TimeZone::get("Europe/Zurich").expect("bundled tzdb"));

fn booking(selector: u8) -> Event {
    let mut e = Event::new_lead(
        EventId::parse("EVT-FUZZ000000000000").expect("valid id"),
        ClientEmail::parse("fuzz@example.com").expect("valid address"),
        jiff::Timestamp::UNIX_EPOCH,
    );
    e.current_step = match selector % 4 {
        0 => Step::DateConfirmation,
        1 => Step::RoomAvailability,
        2 => Step::Negotiation,
        _ => Step::Confirmation,
    };
    e.date_confirmed = selector & 4 != 0;
    e.chosen_date = Some(jiff::civil::date(2027, 3, 17));
    e
}

pub fn check(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let (subject, body) = text.split_once('\0').unwrap_or(("", &text));
    // Now: around 2026, or near the ends of the supported range (year arithmetic at the edges).
    let now = match selector >> 6 {
        0 => jiff::Timestamp::from_second(1_795_000_000),
        1 => jiff::Timestamp::from_second(0),
        2 => jiff::Timestamp::from_second(253_402_000_000), // late 9999
        _ => jiff::Timestamp::from_second(-62_135_000_000), // early year 1
    }
    .expect("in range");
    let event = booking(selector);
    for ev in [None, Some(&event)] {
        let ctx = NluContext {
            lexicon: &LEXICON,
            time_zone: &ZURICH,
            event: ev,
        };
        let u = understand(subject, body, &ctx, now);
        assert_eq!(u, understand(subject, body, &ctx, now), "deterministic");
        if let Some(e) = ev {
            let _ = detect_change_type(e, &u, body);
        }
    }
    let stripped = strip_quoted(body);
    assert!(
        stripped.len() <= body.len() + 1,
        "strip_quoted grew the text"
    );
}
