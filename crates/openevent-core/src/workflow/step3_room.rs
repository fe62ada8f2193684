//! Step 3, Room Availability.
//!
//! | situation                                   | action                                     |
//! |---------------------------------------------|--------------------------------------------|
//! | head count unknown                          | `room_avail_result` asking for it          |
//! | nothing fits or is free on the date         | detour to Step 2 (caller 3), `date_options_proposed` |
//! | the client's room is taken or unsuitable    | `room_avail_result` with alternatives (client chooses) |
//! | one message had everything (intake)         | lock the room at once (audited `shortcut`), continue to 4 |
//! | re-evaluation: the locked room still fits   | keep it (`room_reconfirmed`), back to the caller or 4 |
//! | otherwise                                   | `room_avail_result`: a room-lock task for the manager |

use super::render::{self, greeting};
use super::step2_date::{ProposalReason, propose, window};
use super::{Flow, Turn, WorkflowError};
use crate::audit::AuditEntry;
use crate::calendar::{RoomOption, evaluate_rooms};
use crate::dag::{ChangeType, apply_route, resolve_step, route};
use crate::effects::{Action, TaskPayload, TaskType};
use crate::event::{Layout, Status, Step};
use crate::ids::RoomId;

fn layout_name(l: Layout) -> &'static str {
    match l {
        Layout::Theatre => "theatre",
        Layout::UShape => "U-shape",
        Layout::Classroom => "classroom",
        Layout::Boardroom => "boardroom",
        Layout::Banquet => "banquet",
        Layout::Workshop => "workshop",
        Layout::StandingReception => "standing reception",
    }
}

fn describe(o: &RoomOption) -> String {
    format!(
        "{} ({} seats, {} per day)",
        o.name,
        o.seats,
        render::chf(o.full_day_rate)
    )
}

pub(crate) fn run(t: &mut Turn<'_, '_>) -> Result<Flow, WorkflowError> {
    let Some(date) = t.event.chosen_date.filter(|_| t.event.date_confirmed) else {
        t.goto(Step::DateConfirmation, "room_needs_date");
        return Ok(Flow::Continue);
    };
    let options = evaluate_rooms(
        t.ctx.venue,
        t.event.requirements(),
        &t.event.selected_products,
        date,
        window(t),
        t.ctx.occupancy,
        Some(&t.event.event_id),
    );
    let req = t.event.requirements().clone();
    let available: Vec<&RoomOption> = options.iter().filter(|o| o.available()).collect();
    if req.number_of_participants.is_none() {
        let body = room_body(t, None, &available, None, false)?;
        t.draft(
            Action::RoomAvailResult,
            "room_avail_result",
            body,
            TaskType::ClientReply,
            TaskPayload::None,
            "Head count unknown: asking before proposing a room.".to_owned(),
        );
        return Ok(Flow::Stop);
    }
    // Re-evaluation after a change: the room already locked still fits and is free, so it stays.
    if let Some(locked) = t.event.locked_room_id.clone()
        && available.iter().any(|o| o.room_id == locked)
    {
        let entry = room_audit(t, "room_reconfirmed", &locked);
        t.audit(entry);
        rooms_settled(t);
        return Ok(Flow::Continue);
    }
    let Some(best) = available.first().copied() else {
        // Nothing fits on this date: look for other dates, then come back here.
        let decision = route(&t.event, ChangeType::Date, Step::RoomAvailability);
        let entry = apply_route(
            &mut t.event,
            ChangeType::Date,
            &decision,
            t.ctx.now,
            t.actor,
        )
        .field("cause", "no_room_fits");
        t.audit(entry);
        t.event.date_confirmed = false;
        return propose(t, ProposalReason::NoRoom, Some(date));
    };
    if let Some(preferred) = &req.preferred_room
        && &best.room_id != preferred
    {
        let preferred_name = t
            .ctx
            .venue
            .room(preferred)
            .map_or(preferred.to_string(), |r| r.name.clone());
        let body = room_body(t, None, &available, Some(preferred_name), true)?;
        t.draft(
            Action::RoomAvailResult,
            "room_avail_result",
            body,
            TaskType::ClientReply,
            TaskPayload::None,
            format!("Requested {preferred} is not available; offering alternatives."),
        );
        return Ok(Flow::Stop);
    }
    if t.shortcut {
        let room = best.room_id.clone();
        let entry = room_audit(t, "shortcut", &room);
        t.audit(entry);
        lock_room(t, &room);
        return Ok(Flow::Continue);
    }
    let others: Vec<&RoomOption> = available.iter().skip(1).copied().collect();
    let body = room_body(t, Some(best), &others, None, false)?;
    let room_id = best.room_id.clone();
    t.draft(
        Action::RoomAvailResult,
        "room_avail_result",
        body,
        TaskType::RoomLock,
        TaskPayload::RoomLock {
            room_id: room_id.clone(),
        },
        format!("Lock {} for {}?", best.name, render::date(date)),
    );
    Ok(Flow::Stop)
}

fn room_body(
    t: &Turn<'_, '_>,
    best: Option<&RoomOption>,
    alternatives: &[&RoomOption],
    preferred_unavailable: Option<String>,
    ask_choice: bool,
) -> Result<String, WorkflowError> {
    let req = t.event.requirements();
    let body = t.ctx.templates.render(
        t.event.language,
        "room_avail_result",
        &serde_json::json!({
            "greeting": greeting(t.event.language, t.ctx.client_name),
            "venue_name": t.ctx.venue.name(),
            "date": t.event.chosen_date.map(render::date),
            "time_window": render::time_window(&t.event),
            "participants": req.number_of_participants,
            "layout": req.seating_layout.map(layout_name),
            "room_name": best.map(|b| b.name.clone()),
            "seats": best.map(|b| b.seats),
            "preferred_unavailable": preferred_unavailable,
            "alternatives": alternatives.iter().map(|o| describe(o)).collect::<Vec<_>>(),
            "ask_choice": ask_choice,
            "ask_participants": req.number_of_participants.is_none(),
        }),
    )?;
    Ok(format!("{body}\n\n{}", render::status_line(&t.event)))
}

/// Locks the room for the booking: it becomes an option, rooms count as evaluated for the
/// current requirements, and the workflow moves on to the offer (or back to the caller).
pub(crate) fn lock_room(t: &mut Turn<'_, '_>, room: &RoomId) {
    t.event.locked_room_id = Some(room.clone());
    t.event.status = Status::Option;
    let entry = room_audit(t, "room_locked", room).field("status", Status::Option);
    t.audit(entry);
    rooms_settled(t);
}

/// An audit entry of Step 3 about a room.
fn room_audit(t: &Turn<'_, '_>, reason: &str, room: &RoomId) -> AuditEntry {
    AuditEntry::new(
        t.ctx.now,
        t.actor,
        Some(Step::RoomAvailability),
        Some(Step::RoomAvailability),
        reason,
    )
    .field("locked_room_id", room)
}

/// The locked room is right for the current requirements: Step 3 is done, on to the offer (or
/// back to the caller).
fn rooms_settled(t: &mut Turn<'_, '_>) {
    t.event.room_eval_hash = Some(t.event.requirements_hash().to_owned());
    let entry = resolve_step(&mut t.event, Step::Offer, t.ctx.now, t.actor);
    t.audit(entry);
}
