//! Step 4, Offer: prices a new offer version for the locked room and moves to negotiation.

use super::render::{self, greeting};
use super::{Flow, Turn, WorkflowError, step5_negotiation};
use crate::effects::{Action, TaskPayload, TaskType};
use crate::event::{Offer, Step};
use crate::offer::{OfferInput, add_offer_version, price_offer};

/// What the booking would cost now (with the negotiated discount), if a room is locked.
pub(crate) fn price(t: &Turn<'_, '_>) -> Option<Offer> {
    let venue = t.ctx.venue;
    let room = t
        .event
        .locked_room_id
        .as_ref()
        .and_then(|id| venue.room(id))?;
    Some(price_offer(
        &t.event,
        &OfferInput {
            venue,
            room,
            terms: &venue.spec().offer,
            today: t.ctx.today(),
            discount_bp: step5_negotiation::discount_bp(t),
        },
    ))
}

pub(crate) fn run(t: &mut Turn<'_, '_>) -> Result<Flow, WorkflowError> {
    if t.event.locked_room_id.is_none() {
        t.goto(Step::RoomAvailability, "offer_needs_room");
        return Ok(Flow::Continue);
    }
    draft_offer(t, Action::OfferDraftPrepared)?;
    Ok(Flow::Stop)
}

/// Adds the next offer version, moves to Step 5 and drafts the offer email for approval.
pub(crate) fn draft_offer(t: &mut Turn<'_, '_>, action: Action) -> Result<(), WorkflowError> {
    let Some(offer) = price(t) else {
        return Ok(());
    };
    let venue = t.ctx.venue;
    let room_name = t
        .event
        .locked_room_id
        .as_ref()
        .and_then(|id| venue.room(id))
        .map(|r| r.name.clone());
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
        "room_name": room_name,
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
    if t.event.current_step != Step::Negotiation {
        t.goto(Step::Negotiation, "offer_drafted");
    }
    let body = t
        .ctx
        .templates
        .render(t.event.language, "offer_draft_prepared", &ctx)?;
    let body = format!("{body}\n\n{}", render::status_line(&t.event));
    t.draft(
        action,
        "offer_draft_prepared",
        body,
        TaskType::ClientReply,
        TaskPayload::OfferSent {
            offer_id: offer_id.clone(),
        },
        format!("Offer {offer_id} ready to send."),
    );
    Ok(())
}
