//! Step 1's promise: every fact a client gives, in any message of the thread, is kept on the
//! record and used later without asking again.

use crate::event::{Event, EventDuration, SelectedProduct};
use crate::understanding::Understanding;

/// Copies what the message says onto the booking. Settled facts (a confirmed date) are not
/// overwritten here: changing them is a change request that goes through the DAG.
pub fn capture_facts(event: &mut Event, u: &Understanding) {
    let en = &u.entities;
    if !event.date_confirmed
        && let Some(d) = en.date
    {
        event.chosen_date = Some(d);
    }
    if en.date_preference.is_some() {
        event.date_preference = en.date_preference;
    }
    if en.start_time.is_some() {
        event.start_time = en.start_time;
    }
    if en.end_time.is_some() {
        event.end_time = en.end_time;
    }
    let mut req = event.requirements().clone();
    if let Some(n) = en.participants {
        req.number_of_participants = Some(n);
    }
    if let Some(l) = en.layout {
        req.seating_layout = Some(l);
    }
    if let Some(r) = &en.room {
        req.preferred_room = Some(r.clone());
    }
    if let (Some(start), Some(end)) = (event.start_time, event.end_time) {
        req.event_duration = Some(EventDuration { start, end });
    }
    if req != *event.requirements() {
        event.set_requirements(req);
    }
    for add in &en.products_add {
        match event
            .selected_products
            .iter_mut()
            .find(|p| p.product_id == add.product_id)
        {
            // Saturating: quantities are what the client wrote (up to u32::MAX each).
            Some(existing) => {
                existing.quantity = existing.quantity.saturating_add(add.quantity.unwrap_or(1));
            }
            None => event.selected_products.push(SelectedProduct {
                product_id: add.product_id.clone(),
                quantity: add.quantity.unwrap_or(0),
            }),
        }
    }
    for rm in &en.products_remove {
        match rm.quantity {
            Some(q) => {
                if let Some(p) = event
                    .selected_products
                    .iter_mut()
                    .find(|p| p.product_id == rm.product_id)
                {
                    p.quantity = p.quantity.saturating_sub(q);
                }
                event
                    .selected_products
                    .retain(|p| p.product_id != rm.product_id || p.quantity > 0);
            }
            None => event
                .selected_products
                .retain(|p| p.product_id != rm.product_id),
        }
    }
    if let Some(b) = &en.billing_address {
        let merged = event
            .billing_address
            .clone()
            .unwrap_or_default()
            .merged_with(b);
        event.billing_address = Some(merged);
    }
}
