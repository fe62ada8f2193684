//! Step 2, Date Confirmation.
//!
//! | situation                                   | action                     |
//! |---------------------------------------------|----------------------------|
//! | date already confirmed (a detour came back) | resolve, continue          |
//! | no date                                     | `date_options_proposed`    |
//! | date in the past                            | `date_options_proposed` (same day next year first) |
//! | blackout day                                | `date_options_proposed`    |
//! | date without start and end time             | `date_time_clarification`  |
//! | date and time                               | confirm, continue to 3 (or back to the caller) |
//!
//! Every round of proposals counts; the third escalates to a manager.

use jiff::ToSpan;
use jiff::civil::Date;
use serde::Serialize;

use super::render::{self, greeting};
use super::{Flow, Turn, WorkflowError};
use crate::audit::AuditEntry;
use crate::calendar::{Window, evaluate_rooms, is_room_free};
use crate::dag::resolve_date_confirmation;
use crate::effects::{Action, TaskPayload, TaskType};
use crate::ids::RoomId;

/// How many dates a proposal offers.
const CANDIDATES: usize = 5;
/// Rounds of proposals before a manager takes over.
const MAX_ROUNDS: u32 = 3;
/// How far ahead candidates are searched.
const HORIZON_DAYS: i64 = 400;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ProposalReason {
    NoDate,
    Past,
    Unavailable,
    NoRoom,
}

pub(crate) fn window(t: &Turn<'_, '_>) -> Option<Window> {
    match (t.event.start_time, t.event.end_time) {
        (Some(start), Some(end)) => Some(Window { start, end }),
        _ => None,
    }
}

/// Whether the booking could take place on `d`: no blackout and some room fits and is free.
fn date_works(t: &Turn<'_, '_>, d: Date) -> bool {
    let venue = t.ctx.venue;
    if venue.spec().blackout_dates.contains(&d) {
        return false;
    }
    evaluate_rooms(
        venue,
        t.event.requirements(),
        &t.event.selected_products,
        d,
        window(t),
        t.ctx.occupancy,
        Some(&t.event.event_id),
    )
    .iter()
    .any(|o| o.available())
}

/// The next `CANDIDATES` workable dates from tomorrow on that suit the client's preference
/// ("a Friday in March"), within the calendar the turn knows.
pub(crate) fn candidate_dates(t: &Turn<'_, '_>) -> Vec<Date> {
    let today = t.ctx.today();
    let preference = t.event.date_preference;
    (1..=HORIZON_DAYS)
        .filter_map(|n| today.checked_add(n.days()).ok())
        .filter(|d| preference.is_none_or(|p| p.matches(*d)))
        .filter(|d| t.ctx.covers(*d) && date_works(t, *d))
        .take(CANDIDATES)
        .collect()
}

pub(crate) fn run(
    t: &mut Turn<'_, '_>,
    _u: Option<&crate::understanding::Understanding>,
) -> Result<Flow, WorkflowError> {
    if t.event.date_confirmed {
        return Ok(confirm(t));
    }
    let today = t.ctx.today();
    let Some(requested) = t.event.chosen_date else {
        return propose(t, ProposalReason::NoDate, None);
    };
    if requested < today {
        return propose(t, ProposalReason::Past, Some(requested));
    }
    // Whether a room fits is Step 3's question (it detours back here when none does).
    if t.ctx.venue.spec().blackout_dates.contains(&requested) {
        return propose(t, ProposalReason::Unavailable, Some(requested));
    }
    if t.event.start_time.is_none() || t.event.end_time.is_none() {
        let body = t.ctx.templates.render(
            t.event.language,
            "date_time_clarification",
            &serde_json::json!({
                "greeting": greeting(t.event.language, t.ctx.client_name),
                "venue_name": t.ctx.venue.name(),
                "date": render::date(requested),
                "participants": t.event.requirements().number_of_participants,
            }),
        )?;
        let body = format!("{body}\n\n{}", render::status_line(&t.event));
        t.draft(
            Action::DateTimeClarification,
            "date_time_clarification",
            body,
            TaskType::ClientReply,
            TaskPayload::None,
            format!(
                "Date {} works; asking for the time.",
                render::date(requested)
            ),
        );
        return Ok(Flow::Stop);
    }
    t.event.date_confirmed = true;
    Ok(confirm(t))
}

fn confirm(t: &mut Turn<'_, '_>) -> Flow {
    t.event.date_proposal_attempts = 0;
    t.event.proposed_dates.clear();
    let date = t.event.chosen_date;
    t.audit(
        AuditEntry::new(
            t.ctx.now,
            t.actor,
            Some(t.event.current_step),
            Some(t.event.current_step),
            "date_confirmed",
        )
        .field("chosen_date", date)
        .field("start_time", t.event.start_time)
        .field("end_time", t.event.end_time),
    );
    let window = window(t);
    let venue = t.ctx.venue;
    let occupancy = t.ctx.occupancy;
    let own = t.event.event_id.clone();
    let avail = move |room: &RoomId, d: Date| {
        venue
            .room(room)
            .is_some_and(|r| is_room_free(r, d, window, occupancy, Some(&own)))
    };
    let entry = resolve_date_confirmation(&mut t.event, &avail, t.ctx.now, t.actor);
    t.audit(entry);
    Flow::Continue
}

/// Proposes dates, or hands the booking to a manager after too many rounds.
pub(crate) fn propose(
    t: &mut Turn<'_, '_>,
    reason: ProposalReason,
    requested: Option<Date>,
) -> Result<Flow, WorkflowError> {
    t.event.date_proposal_attempts += 1;
    if t.event.date_proposal_attempts >= MAX_ROUNDS {
        t.task(
            Action::DateManualReview,
            TaskType::ManualReview,
            TaskPayload::None,
            format!(
                "{} rounds of date proposals without a confirmed date: please contact the client.",
                t.event.date_proposal_attempts
            ),
        );
        return Ok(Flow::Stop);
    }
    let today = t.ctx.today();
    let same_day_next_year = requested
        .filter(|_| reason == ProposalReason::Past)
        .and_then(|d| d.checked_add(1.year()).ok())
        .map(|d| {
            // Past by more than a year: the next occurrence of that day.
            let mut d = d;
            while d <= today {
                d = d.checked_add(1.year()).unwrap_or(d);
            }
            d
        })
        .filter(|d| t.ctx.covers(*d) && date_works(t, *d));
    let mut dates = candidate_dates(t);
    if let Some(d) = same_day_next_year {
        dates.retain(|x| *x != d);
        dates.insert(0, d);
        dates.truncate(CANDIDATES);
    }
    t.event.proposed_dates = dates.clone();
    t.event.chosen_date = None;
    let body = t.ctx.templates.render(
        t.event.language,
        "date_options_proposed",
        &serde_json::json!({
            "greeting": greeting(t.event.language, t.ctx.client_name),
            "venue_name": t.ctx.venue.name(),
            "reason": reason,
            "requested_date": requested.map(render::date),
            "same_day_next_year": same_day_next_year.map(render::date),
            "participants": t.event.requirements().number_of_participants,
            "dates": dates.iter().map(|d| render::date(*d)).collect::<Vec<_>>(),
        }),
    )?;
    let body = format!("{body}\n\n{}", render::status_line(&t.event));
    t.draft(
        Action::DateOptionsProposed,
        "date_options_proposed",
        body,
        TaskType::ClientReply,
        TaskPayload::None,
        format!(
            "Date proposal round {} ({reason:?}).",
            t.event.date_proposal_attempts
        ),
    );
    Ok(Flow::Stop)
}
