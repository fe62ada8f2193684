//! Step 4, Offer: prices a new offer version for the locked room and moves to negotiation.

use super::render::{self, greeting};
use super::{Flow, Turn, WorkflowError};
use crate::effects::{Action, TaskPayload, TaskType};
use crate::event::Step;
use crate::offer::{OfferInput, add_offer_version, price_offer};

pub(crate) fn run(t: &mut Turn<'_, '_>) -> Result<Flow, WorkflowError> {
    let venue = t.ctx.venue;
    let Some(room) = t
        .event
        .locked_room_id
        .as_ref()
        .and_then(|id| venue.room(id))
    else {
        t.goto(Step::RoomAvailability, "offer_needs_room");
        return Ok(Flow::Continue);
    };
    let offer = price_offer(
        &t.event,
        &OfferInput {
            venue,
            room,
            terms: &venue.spec().offer,
            today: t.ctx.today(),
            discount_bp: 0,
        },
    );
    let offer_id = offer.offer_id.clone();
    let items: Vec<String> = offer
        .line_items
        .iter()
        .map(|i| {
            if i.quantity == 1 {
                format!("{}: {}", i.description, render::chf(i.amount))
            } else {
                format!(
                    "{} × {}: {}",
                    i.quantity,
                    i.description,
                    render::chf(i.amount)
                )
            }
        })
        .collect();
    let vat_bp = venue.spec().vat_percent;
    let ctx = serde_json::json!({
        "greeting": greeting(t.event.language, t.ctx.client_name),
        "venue_name": venue.name(),
        "offer_id": offer.offer_id,
        "date": t.event.chosen_date.map(render::date),
        "time_window": render::time_window(&t.event),
        "room_name": room.name,
        "items": items,
        "total": render::chf(offer.total),
        "vat": render::chf(offer.vat_included),
        "vat_percent": format!("{}.{}", vat_bp / 100, (vat_bp % 100) / 10),
        "deposit": offer.deposit.map(render::chf),
        "deposit_due": offer.deposit_due.map(render::date),
        "payment_days": offer.payment_days,
        "valid_until": render::date(offer.valid_until),
    });
    add_offer_version(&mut t.event, offer);
    t.goto(Step::Negotiation, "offer_drafted");
    let body = t
        .ctx
        .templates
        .render(t.event.language, "offer_draft_prepared", &ctx)?;
    let body = format!("{body}\n\n{}", render::status_line(&t.event));
    t.draft(
        Action::OfferDraftPrepared,
        "offer_draft_prepared",
        body,
        TaskType::ClientReply,
        TaskPayload::OfferSent {
            offer_id: offer_id.clone(),
        },
        format!("Offer {offer_id} ready to send."),
    );
    Ok(Flow::Stop)
}
