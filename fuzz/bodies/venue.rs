//! Fuzz body `venue_toml`: a venue file through `Venue::from_toml` (parse + validation).
//!
//! Shared by the libFuzzer target (`fuzz/fuzz_targets/venue_toml.rs`, nightly) and the stable
//! smoke test (`crates/openevent-core/tests/fuzz_regressions.rs`).

use openevent_core::event::{Event, SelectedProduct};
use openevent_core::ids::{ClientEmail, EventId};
use openevent_core::offer::{OfferInput, price_offer};
use openevent_core::venue::{Venue, VenueError};

/// Loads `data` as a venue file. Never panics; an accepted venue survives `to_toml` and loads
/// back equal (what `venue show` prints is a valid venue file), and its derived lexicon and
/// per-room lookups work; pricing an offer in any of its rooms, at full capacity, with every
/// product in the largest quantity a client can write (`u32::MAX`) and the largest discount,
/// neither panics nor wraps (amounts saturate; below the limit the total is exactly the sum of
/// the lines); a refused venue names at least one field.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Venue::from_toml(text) {
        Ok(venue) => {
            let printed = venue.to_toml();
            let again = Venue::from_toml(&printed)
                .unwrap_or_else(|e| panic!("to_toml printed an invalid venue: {e}\n{printed}"));
            assert!(again == venue, "to_toml does not round-trip:\n{printed}");
            let lexicon = venue.lexicon();
            assert_eq!(lexicon.rooms.len(), venue.rooms().len());
            for room in venue.rooms() {
                assert!(venue.room(&room.id).is_some());
                let _ = room.capacity_for(None);
            }
            for product in venue.products() {
                assert!(venue.product(&product.id).is_some());
            }
            let _ = venue.time_zone();
            price_everything(&venue);
        }
        Err(VenueError::Invalid(problems)) => {
            assert!(!problems.is_empty(), "an invalid venue names its problems");
            for p in &problems {
                assert!(!p.field.is_empty() && !p.message.is_empty(), "{p:?}");
            }
        }
        Err(VenueError::Syntax(message)) => assert!(!message.is_empty()),
    }
}

fn price_everything(venue: &Venue) {
    let mut event = Event::new_lead(
        EventId::parse("EVT-FUZZ000000000000").expect("valid id"),
        ClientEmail::parse("fuzz@example.com").expect("valid address"),
        jiff::Timestamp::UNIX_EPOCH,
    );
    event.selected_products = venue
        .products()
        .iter()
        .map(|p| SelectedProduct {
            product_id: p.id.clone(),
            quantity: u32::MAX,
        })
        .collect();
    event.chosen_date = Some(jiff::civil::date(2027, 3, 17));
    let spec = venue.spec();
    for room in venue.rooms() {
        let mut requirements = event.requirements().clone();
        requirements.number_of_participants = Some(room.capacity_max);
        event.set_requirements(requirements);
        let offer = price_offer(
            &event,
            &OfferInput {
                venue,
                room,
                terms: &spec.offer,
                today: jiff::civil::date(2026, 11, 23),
                discount_bp: spec.negotiation.max_discount_percent,
            },
        );
        // Amounts saturate instead of wrapping: the total is never negative, and when no
        // amount reached the limit it is exactly the sum of the lines.
        assert!(offer.total.rappen() >= 0, "negative total: {offer:?}");
        let lines: Vec<i128> = offer
            .line_items
            .iter()
            .map(|i| i128::from(i.amount.rappen()))
            .collect();
        let charged: i128 = lines.iter().filter(|a| **a > 0).sum();
        if lines.iter().all(|a| a.abs() < i128::from(i64::MAX)) && charged < i128::from(i64::MAX) {
            assert_eq!(
                lines.iter().sum::<i128>(),
                i128::from(offer.total.rappen()),
                "the offer total is not the sum of its lines: {offer:?}"
            );
        }
        if let Some(deposit) = offer.deposit {
            assert!(deposit.rappen() >= 0 && deposit <= offer.total, "{offer:?}");
        }
    }
}
