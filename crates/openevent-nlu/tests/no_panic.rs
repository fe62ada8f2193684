//! Arbitrary input never panics: not in `understand`, `strip_quoted` or `detect_change_type`.

use openevent_core::event::{Event, Step};
use openevent_core::ids::{ClientEmail, EventId};
use openevent_nlu::{
    NluContext, PreparedLexicon, atelier_lexicon, detect_change_type, strip_quoted, understand,
};
use proptest::prelude::*;

fn event(confirmed: bool) -> Event {
    let mut e = Event::new_lead(
        EventId::parse("evt_prop").unwrap(),
        ClientEmail::parse("p@example.com").unwrap(),
        jiff::Timestamp::UNIX_EPOCH,
    );
    e.current_step = Step::Negotiation;
    e.date_confirmed = confirmed;
    e.chosen_date = Some(jiff::civil::date(2027, 3, 17));
    e
}

/// Text made of the pieces the extractors look for, so the patterns are actually exercised.
fn message() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        any::<String>(),
        Just("17.03.2026".to_owned()),
        Just("12.–13.06.".to_owned()),
        Just(" 18-22 ".to_owned()),
        Just("25 people".to_owned()),
        Just("Room B".to_owned()),
        Just("2 flipcharts".to_owned()),
        Just("ohne Beamer".to_owned()),
        Just("Bahnhofstrasse 1, 8001 Zürich".to_owned()),
        Just("+41 44 123 45 67".to_owned()),
        Just("\n> quoted\n".to_owned()),
        Just("\n-- \n".to_owned()),
        Just("instead of".to_owned()),
        Just("İ ß ẞ é ñ 😀".to_owned()),
        "[0-9 .:,/–-]{0,20}",
    ];
    prop::collection::vec(piece, 0..12).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn understand_never_panics(subject in any::<String>(), body in message(), secs in 0i64..4_000_000_000, confirmed in any::<bool>()) {
        let lexicon = PreparedLexicon::new(&atelier_lexicon());
        let tz = jiff::tz::TimeZone::get("Europe/Zurich").unwrap();
        let e = event(confirmed);
        let now = jiff::Timestamp::from_second(secs).unwrap();
        for ev in [None, Some(&e)] {
            let ctx = NluContext { lexicon: &lexicon, time_zone: &tz, event: ev };
            let u = understand(&subject, &body, &ctx, now);
            let _ = detect_change_type(&e, &u, &body);
        }
    }

    #[test]
    fn strip_quoted_never_panics_and_never_grows(body in message()) {
        let out = strip_quoted(&body);
        prop_assert!(out.len() <= body.len() + 1);
        prop_assert!(!out.lines().any(|l| l.trim_start().starts_with('>')));
    }
}
