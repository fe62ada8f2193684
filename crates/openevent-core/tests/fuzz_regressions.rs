//! The `venue_toml` and `templates_core` fuzz targets on stable (CI's smoke period): their bodies
//! (`fuzz/bodies/venue.rs`, `fuzz/bodies/templates_core.rs`) over the committed seeds and
//! regressions, then over generated inputs for a few seconds; and the bugs they found, as
//! plain regression tests.

#[path = "../../../fuzz/bodies/replay.rs"]
mod replay;
#[path = "../../../fuzz/bodies/templates_core.rs"]
mod templates_core;
#[path = "../../../fuzz/bodies/venue.rs"]
mod venue;

use openevent_core::event::{Event, SelectedProduct};
use openevent_core::ids::{ClientEmail, EventId, ProductId};
use openevent_core::money::Money;
use openevent_core::understanding::{
    Confidence, Entities, Intent, Language, ProductMention, Signals, Understanding,
};
use openevent_core::workflow::capture_facts;
use openevent_core::workflow::templates::Templates;
use proptest::prelude::*;

const ATELIER: &str = include_str!("../src/venue/atelier.toml");

#[test]
fn committed_venue_inputs_pass() {
    assert!(replay::replay("venue_toml", venue::check) >= 1);
}

#[test]
fn committed_template_inputs_pass() {
    assert!(replay::replay("templates_core", templates_core::check) >= 3);
}

/// Values a venue file might hold by mistake or malice.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("0".to_owned()),
        Just("-1".to_owned()),
        Just("4294967295".to_owned()),
        Just("9223372036854775807".to_owned()),
        Just("999999999999.99".to_owned()),
        Just("\"999'999'999'999.99\"".to_owned()),
        Just("1e308".to_owned()),
        Just("nan".to_owned()),
        Just("-0.0".to_owned()),
        Just("0.005".to_owned()),
        Just("\"\"".to_owned()),
        Just("\"<script>alert(1)</script>\"".to_owned()),
        Just("\"Etc/GMT+12\"".to_owned()),
        Just("\"../../etc/passwd\"".to_owned()),
        Just("\"24:00\"".to_owned()),
        Just("\"00:00\"".to_owned()),
        Just("9999-12-31".to_owned()),
        Just("[]".to_owned()),
        Just("{}".to_owned()),
        Just("true".to_owned()),
        "\"[ -~]{0,12}\"",
        "[0-9]{1,20}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// The reference venue with some of its values replaced.
    #[test]
    fn edited_reference_venues(edits in prop::collection::vec((any::<prop::sample::Index>(), value()), 1..6)) {
        let mut lines: Vec<String> = ATELIER.lines().map(str::to_owned).collect();
        for (at, v) in edits {
            let i = at.index(lines.len());
            if let Some((key, _)) = lines[i].split_once(" = ") {
                lines[i] = format!("{key} = {v}");
            }
        }
        venue::check(lines.join("\n").as_bytes());
    }

    #[test]
    fn arbitrary_venue_text(text in any::<String>()) {
        venue::check(text.as_bytes());
    }

    #[test]
    fn replacement_templates_and_hostile_values(
        sections in prop::collection::vec(
            (
                prop_oneof![Just("booking_cancelled"), Just("offer_draft_prepared"), Just("x")],
                prop_oneof![
                    Just("{{ greeting }}\n{{ venue_name }}".to_owned()),
                    Just("{% for d in dates %}{{ d }}{% endfor %}".to_owned()),
                    Just("{{ greeting".to_owned()),
                    Just("{% if x %}".to_owned()),
                    Just("{{ nothing_such }}".to_owned()),
                    any::<String>(),
                ],
            ),
            0..4,
        ),
        values in prop::collection::vec(
            prop_oneof![
                Just("<script>alert(1)</script>".to_owned()),
                Just("Laura\r\nBcc: evil@example.com".to_owned()),
                Just("{{ 7*7 }}".to_owned()),
                Just("\n\n\n\n".to_owned()),
                any::<String>(),
            ],
            0..5,
        ),
    ) {
        let file: String = sections
            .iter()
            .map(|(topic, body)| format!("=== {topic}\n{body}\n"))
            .collect();
        let mut input = file.into_bytes();
        for v in values {
            input.push(0);
            input.extend_from_slice(v.as_bytes());
        }
        templates_core::check(&input);
    }
}

/// A value that looks like a template is text, not a template: drafts never evaluate what a
/// client wrote.
#[test]
fn client_text_in_a_draft_is_never_evaluated() {
    let t = Templates::builtin();
    let ctx = serde_json::json!({
        "greeting": "Dear {{ 7*7 }} {% for i in range(9) %}x{% endfor %}",
        "venue_name": "The Atelier",
        "date": "17.03.2027",
        "policy": "",
    });
    let out = t.render(Language::En, "booking_cancelled", &ctx).unwrap();
    assert!(
        out.starts_with("Dear {{ 7*7 }} {% for i in range(9) %}x{% endfor %}"),
        "{out}"
    );
}

/// Found by the confusable-address case of the hostile corpus: the Kelvin sign (U+212A)
/// lowercases to an ASCII 'k', so `Klaus@…` with it became the same client as `klaus@…`, with
/// that client's bookings and context. Such an address is now refused.
#[test]
fn kelvin_sign_addresses_are_refused() {
    let err = ClientEmail::parse("\u{212A}laus@example.com").unwrap_err();
    assert_eq!(err.field, "client_email");
    assert!(err.reason.contains("U+212A"), "{err}");
    // Other non-ASCII addresses still lowercase as before, and lookalikes stay distinct.
    assert_eq!(
        ClientEmail::parse("MÜLLER@example.ch").unwrap().as_str(),
        "müller@example.ch"
    );
    assert_ne!(
        ClientEmail::parse("l\u{430}ura@example.com").unwrap(),
        ClientEmail::parse("laura@example.com").unwrap()
    );
    assert!(ClientEmail::parse("İrem@example.com").is_ok());
}

/// Found by the `venue_toml` body's pricing check (fuzz/regressions/venue_toml/huge_unit_price.toml):
/// a unit price near
/// the largest a venue file allows times the largest quantity a client can write overflowed
/// `Money` (a panic in debug builds, a wrapped, negative total in release). Amounts saturate now.
#[test]
fn huge_prices_times_huge_quantities_saturate() {
    let text = ATELIER.replace("price_chf = 25", "price_chf = 999999999999.99");
    assert_ne!(text, ATELIER);
    venue::check(text.as_bytes());
    let big = Money::from_rappen(99_999_999_999_999);
    assert_eq!(big * i64::from(u32::MAX), Money::from_rappen(i64::MAX));
    assert_eq!(
        Money::from_rappen(i64::MAX) + Money::from_chf(1),
        Money::from_rappen(i64::MAX)
    );
    assert_eq!(
        Money::from_rappen(i64::MIN) - Money::from_chf(1),
        Money::from_rappen(i64::MIN)
    );
    assert_eq!(Money::from_chf(18) * 25, Money::from_chf(450));
}

/// A client asking twice for u32::MAX of a product (in one message or two) overflowed the
/// selected quantity (a panic in debug builds, a wrap in release). It saturates now.
#[test]
fn repeated_huge_quantities_saturate() {
    let mut event = Event::new_lead(
        EventId::parse("EVT-QTY0000000000000").unwrap(),
        ClientEmail::parse("q@example.com").unwrap(),
        jiff::Timestamp::UNIX_EPOCH,
    );
    let flipcharts = ProductId::parse("flipchart").unwrap();
    let mention = ProductMention {
        product_id: flipcharts.clone(),
        quantity: Some(u32::MAX),
    };
    let u = Understanding {
        language: Language::En,
        intent: Intent::EditRequirements,
        confidence: Confidence::from_per_mille(900),
        entities: Entities {
            products_add: vec![mention.clone(), mention],
            ..Entities::default()
        },
        signals: Signals::default(),
    };
    capture_facts(&mut event, &u);
    capture_facts(&mut event, &u);
    assert_eq!(
        event.selected_products,
        [SelectedProduct {
            product_id: flipcharts,
            quantity: u32::MAX
        }]
    );
}

/// A venue's replacement template that loops for hours (ten billion iterations) would have run
/// on every client message; renders now run on a fuel budget and fail instead.
#[test]
fn a_replacement_template_cannot_loop_for_hours() {
    let file = "=== booking_cancelled\n{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}\n";
    let t = Templates::with_overrides(&[(Language::En, file.to_owned())]).unwrap();
    let started = std::time::Instant::now();
    let err = t
        .render(Language::En, "booking_cancelled", &serde_json::json!({}))
        .unwrap_err();
    assert!(err.to_string().contains("fuel"), "{err}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}
