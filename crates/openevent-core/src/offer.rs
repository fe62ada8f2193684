//! Pricing an offer: the room's full-day rate plus products by their unit, VAT shown as included,
//! a deposit when the venue asks for one, validity and payment terms. Pure arithmetic in rappen.

use jiff::ToSpan;
use jiff::civil::Date;

use crate::event::{Event, LineItem, Offer, OfferStatus, Unit};
use crate::money::Money;
use crate::venue::{DepositKind, OfferTerms, Room, Venue};

/// What an offer is priced from, besides the booking itself.
pub struct OfferInput<'a> {
    pub venue: &'a Venue,
    pub room: &'a Room,
    pub terms: &'a OfferTerms,
    /// The day the offer is drafted (venue calendar).
    pub today: Date,
    /// A discount granted in negotiation, in basis points of the gross total (0 for none).
    pub discount_bp: u32,
}

/// Hours an event lasts, rounded up; a full day (8 h) when no time window is known.
fn event_hours(event: &Event) -> u32 {
    let Some(d) = event.requirements().event_duration else {
        return 8;
    };
    let start = i32::from(d.start.time().hour()) * 60 + i32::from(d.start.time().minute());
    let mut end = i32::from(d.end.time().hour()) * 60 + i32::from(d.end.time().minute());
    if end <= start {
        end += 24 * 60;
    }
    ((end - start + 59) / 60) as u32
}

/// The unit count a product is billed for.
fn billed_quantity(unit: Unit, chosen: u32, participants: u32, hours: u32) -> u32 {
    match unit {
        Unit::PerPerson => participants,
        Unit::PerEvent | Unit::PerDay => 1,
        Unit::PerHour if chosen == 0 => hours,
        Unit::PerHour | Unit::PerUnit | Unit::PerBottle => chosen.max(1),
    }
}

/// Builds the next offer version for the event. The caller supersedes older versions.
pub fn price_offer(event: &Event, input: &OfferInput<'_>) -> Offer {
    let participants = event.requirements().number_of_participants.unwrap_or(0);
    let hours = event_hours(event);
    let mut items = vec![LineItem {
        description: format!("{} (full day)", input.room.name),
        product_id: None,
        room_id: Some(input.room.id.clone()),
        quantity: 1,
        unit: Unit::PerDay,
        unit_price: input.room.full_day_rate_chf,
        amount: input.room.full_day_rate_chf,
    }];
    for sel in &event.selected_products {
        let Some(product) = input.venue.product(&sel.product_id) else {
            continue;
        };
        let quantity = billed_quantity(product.unit, sel.quantity, participants, hours);
        items.push(LineItem {
            description: product.name.clone(),
            product_id: Some(product.id.clone()),
            room_id: None,
            quantity,
            unit: product.unit,
            unit_price: product.price_chf,
            amount: product.price_chf * i64::from(quantity),
        });
    }
    let subtotal: Money = items.iter().map(|i| i.amount).sum();
    if input.discount_bp > 0 {
        let discount = subtotal.percent_bp(i64::from(input.discount_bp));
        items.push(LineItem {
            description: format!(
                "Discount {}.{:02} %",
                input.discount_bp / 100,
                input.discount_bp % 100
            ),
            product_id: None,
            room_id: None,
            quantity: 1,
            unit: Unit::PerEvent,
            unit_price: Money::ZERO - discount,
            amount: Money::ZERO - discount,
        });
    }
    let total: Money = items.iter().map(|i| i.amount).sum();
    let vat_bp = i64::from(input.venue.spec().vat_percent);
    // Prices include VAT: the VAT share of a gross amount is gross × rate / (1 + rate).
    let vat_included = Money::from_rappen(
        ((i128::from(total.rappen()) * i128::from(vat_bp) * 2 + i128::from(10_000 + vat_bp))
            / (2 * i128::from(10_000 + vat_bp))) as i64,
    );
    let policy = &input.venue.spec().deposit;
    let (deposit, deposit_due) = if policy.enabled {
        let amount = match policy.kind {
            DepositKind::Percentage => total.percent_bp(i64::from(policy.percent)),
            DepositKind::Fixed => policy.fixed_chf.unwrap_or(Money::ZERO).min(total),
        };
        let tomorrow = input.today.tomorrow().unwrap_or(input.today);
        let due = event
            .chosen_date
            .and_then(|d| d.checked_sub(i64::from(policy.due_days_before).days()).ok())
            .map_or(tomorrow, |d| d.max(tomorrow));
        (Some(amount), Some(due))
    } else {
        (None, None)
    };
    let version = event.offers.iter().map(|o| o.version).max().unwrap_or(0) + 1;
    Offer {
        offer_id: format!("{}-OFFER-{version}", event.event_id),
        version,
        status: OfferStatus::Draft,
        line_items: items,
        subtotal,
        vat_included,
        total,
        deposit,
        deposit_due,
        payment_days: input.terms.payment_days,
        valid_until: input
            .today
            .checked_add(i64::from(input.terms.validity_days).days())
            .unwrap_or(input.today),
    }
}

/// Adds a new offer version: older drafts and sent versions become superseded, the hash follows
/// the newest one.
pub fn add_offer_version(event: &mut Event, offer: Offer) {
    for o in &mut event.offers {
        if matches!(o.status, OfferStatus::Draft | OfferStatus::Sent) {
            o.status = OfferStatus::Superseded;
        }
    }
    event.offer_hash = Some(offer.content_hash());
    event.offers.push(offer);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventDuration, Requirements, SelectedProduct, TimeOfDay};
    use crate::ids::{ClientEmail, EventId, ProductId, RoomId};
    use jiff::civil::date;

    fn event(participants: u32, products: &[(&str, u32)]) -> Event {
        let mut e = Event::new_lead(
            EventId::parse("EVT-1").unwrap(),
            ClientEmail::parse("a@example.com").unwrap(),
            jiff::Timestamp::UNIX_EPOCH,
        );
        e.set_requirements(Requirements {
            number_of_participants: Some(participants),
            event_duration: Some(EventDuration {
                start: TimeOfDay::parse("09:00").unwrap(),
                end: TimeOfDay::parse("17:00").unwrap(),
            }),
            ..Requirements::default()
        });
        e.chosen_date = Some(date(2027, 3, 17));
        e.selected_products = products
            .iter()
            .map(|(id, q)| SelectedProduct {
                product_id: ProductId::parse(id).unwrap(),
                quantity: *q,
            })
            .collect();
        e
    }

    fn price(e: &Event, venue: &Venue, discount_bp: u32) -> Offer {
        let room = venue.room(&RoomId::parse("room_b").unwrap()).unwrap();
        price_offer(
            e,
            &OfferInput {
                venue,
                room,
                terms: &venue.spec().offer,
                today: date(2026, 11, 22),
                discount_bp,
            },
        )
    }

    #[test]
    fn units_are_billed_as_they_should_be() {
        let v = Venue::atelier();
        let e = event(
            30,
            &[
                ("basic_coffee_tea", 0),
                ("projector", 3),
                ("wireless_microphone", 2),
                ("photographer", 0),
                ("prosecco", 4),
            ],
        );
        let o = price(&e, &v, 0);
        let amounts: Vec<(u32, i64)> = o
            .line_items
            .iter()
            .map(|i| (i.quantity, i.amount.rappen()))
            .collect();
        assert_eq!(
            amounts,
            [
                (1, 75_000),  // Room B full day
                (30, 25_500), // coffee 8.50 × 30
                (1, 7_500),   // projector per event
                (2, 5_000),   // 2 microphones
                (8, 144_000), // photographer 8 h × 180
                (4, 14_000),  // 4 bottles
            ]
        );
        assert_eq!(o.total, Money::from_rappen(271_000));
        assert_eq!(o.subtotal, o.total);
        // 2710.00 × 8.1 / 108.1 = 203.06
        assert_eq!(o.vat_included, Money::from_rappen(20_306));
        assert_eq!(o.offer_id, "EVT-1-OFFER-1");
        assert_eq!(o.valid_until, date(2026, 12, 6));
        assert_eq!(o.deposit, None);
    }

    #[test]
    fn deposit_and_discount() {
        let toml = include_str!("venue/atelier.toml").replace("enabled = false", "enabled = true");
        let v = Venue::from_toml(&toml).unwrap();
        let e = event(20, &[]);
        let o = price(&e, &v, 500);
        assert_eq!(o.total, Money::from_rappen(71_250)); // 750 − 5 %
        assert_eq!(o.deposit, Some(Money::from_rappen(21_375))); // 30 %
        assert_eq!(o.deposit_due, Some(date(2027, 3, 7)));
        // An event too close: the deposit is due tomorrow, not in the past.
        let mut soon = e.clone();
        soon.chosen_date = Some(date(2026, 11, 25));
        assert_eq!(price(&soon, &v, 0).deposit_due, Some(date(2026, 11, 23)));
    }

    #[test]
    fn versions_supersede_and_hash_follows() {
        let v = Venue::atelier();
        let mut e = event(20, &[]);
        let o1 = price(&e, &v, 0);
        add_offer_version(&mut e, o1.clone());
        e.selected_products.push(SelectedProduct {
            product_id: ProductId::parse("flipchart").unwrap(),
            quantity: 2,
        });
        let o2 = price(&e, &v, 0);
        assert_eq!(o2.version, 2);
        assert_eq!(o2.offer_id, "EVT-1-OFFER-2");
        add_offer_version(&mut e, o2.clone());
        assert_eq!(e.offers[0].status, OfferStatus::Superseded);
        assert_eq!(e.offers[1].status, OfferStatus::Draft);
        assert_eq!(e.offer_hash, Some(o2.content_hash()));
        assert_ne!(o1.content_hash(), o2.content_hash());
    }
}
