//! Step 7, Confirmation.
//!
//! | situation                                  | action                                   |
//! |--------------------------------------------|------------------------------------------|
//! | arrived, deposit required and unpaid       | `confirmation_deposit_requested` (status stays `option`) |
//! | arrived, nothing missing                   | `confirmation_draft`: final confirmation for the manager |
//! | client says the deposit is paid            | `confirmation_finalized`: confirmation for the manager   |
//! | client asks for a site visit               | `confirmation_site_visit`: slots, or the booked slot      |
//! | client cancels                             | `booking_cancelled`: cancellation for the manager        |
//! | a question                                 | FAQ answer or a task                     |
//!
//! The status becomes `confirmed` only when a manager approves the confirmation task.

use jiff::ToSpan;
use jiff::civil::Weekday;

use super::step5_negotiation::{answer_question, manual, render_with};
use super::{Flow, Turn, WorkflowError};
use crate::effects::{Action, TaskPayload, TaskType};
use crate::event::{SiteVisit, TimeOfDay};
use crate::understanding::{Intent, Understanding};

fn deposit_due(t: &Turn<'_, '_>) -> bool {
    t.event
        .offers
        .iter()
        .rev()
        .find(|o| o.status == crate::event::OfferStatus::Accepted)
        .is_some_and(|o| o.deposit.is_some())
        && t.event.deposit_paid_at.is_none()
}

/// Step 7 entered from the checkpoint.
pub(crate) fn after_transition(t: &mut Turn<'_, '_>) -> Result<Flow, WorkflowError> {
    if deposit_due(t) {
        let body = render_with(t, "confirmation_deposit_requested", serde_json::json!({}))?;
        t.draft(
            Action::ConfirmationDepositRequested,
            "confirmation_deposit_requested",
            body,
            TaskType::ClientReply,
            TaskPayload::None,
            "Offer accepted; requesting the deposit.".to_owned(),
        );
        return Ok(Flow::Stop);
    }
    confirmation(
        t,
        Action::ConfirmationDraft,
        "All conditions met: approve the booking confirmation.",
    )
}

fn confirmation(t: &mut Turn<'_, '_>, action: Action, reason: &str) -> Result<Flow, WorkflowError> {
    if let Some(existing) = t
        .ctx
        .pending_tasks
        .iter()
        .find(|p| p.task_type == TaskType::BookingConfirmation)
    {
        t.existing_tasks.push(existing.task_id.clone());
        t.action = Some(action);
        return Ok(Flow::Stop);
    }
    let body = render_with(t, "confirmation_draft", serde_json::json!({}))?;
    t.draft(
        action,
        "confirmation_draft",
        body,
        TaskType::BookingConfirmation,
        TaskPayload::None,
        reason.to_owned(),
    );
    Ok(Flow::Stop)
}

pub(crate) fn on_message(
    t: &mut Turn<'_, '_>,
    u: &Understanding,
    text: &str,
) -> Result<Flow, WorkflowError> {
    let s = &u.signals;
    if s.is_rejection || u.intent == Intent::DeclineOffer {
        return cancel(t);
    }
    if u.intent == Intent::DepositPaid {
        return deposit_reported(t);
    }
    if u.intent == Intent::SiteVisitRequest {
        return site_visit(t, u);
    }
    if s.is_question || u.intent == Intent::GeneralQna {
        return answer_question(t, text);
    }
    if (s.is_acceptance || u.intent == Intent::AcceptOffer) && !deposit_due(t) {
        return confirmation(
            t,
            Action::ConfirmationDraft,
            "Client confirms: approve the booking confirmation.",
        );
    }
    manual(
        t,
        format!(
            "Client wrote during confirmation (understood as {:?}).",
            u.intent
        ),
    );
    Ok(Flow::Stop)
}

/// The client says the deposit is paid: a manager checks and confirms.
pub(crate) fn deposit_reported(t: &mut Turn<'_, '_>) -> Result<Flow, WorkflowError> {
    confirmation(
        t,
        Action::ConfirmationFinalized,
        "The client reports the deposit as paid: check the payment and approve the confirmation.",
    )
}

/// The payment provider reported the deposit: recorded at once, the confirmation goes to a manager.
pub(crate) fn deposit_received(t: &mut Turn<'_, '_>) -> Result<Flow, WorkflowError> {
    t.event.deposit_paid_at = Some(t.ctx.now);
    t.event.transition_ready = true;
    confirmation(
        t,
        Action::ConfirmationFinalized,
        "Deposit received: approve the booking confirmation.",
    )
}

fn cancel(t: &mut Turn<'_, '_>) -> Result<Flow, WorkflowError> {
    let policy = t
        .ctx
        .venue
        .spec()
        .faq
        .iter()
        .find(|q| q.topic == "cancellation")
        .map(|q| q.answer.in_language(t.event.language).to_owned());
    let body = render_with(
        t,
        "booking_cancelled",
        serde_json::json!({ "policy": policy }),
    )?;
    t.draft(
        Action::BookingCancelled,
        "booking_cancelled",
        body,
        TaskType::Cancellation,
        TaskPayload::None,
        "Client cancels the booking: approve the cancellation.".to_owned(),
    );
    Ok(Flow::Stop)
}

/// Site-visit slots: venue weekdays and times, at least the minimum days ahead, never on a day
/// with an event in the venue.
fn slots(t: &Turn<'_, '_>, count: usize) -> Vec<(jiff::civil::Date, TimeOfDay)> {
    let policy = &t.ctx.venue.spec().site_visits;
    let today = t.ctx.today();
    let weekdays: Vec<Weekday> = policy.weekdays.iter().map(|w| w.weekday()).collect();
    let mut out = Vec::new();
    for n in i64::from(policy.min_days_ahead)..i64::from(policy.min_days_ahead) + 60 {
        let Ok(d) = today.checked_add(n.days()) else {
            break;
        };
        if !weekdays.contains(&d.weekday())
            || crate::calendar::around(t.ctx.occupancy, d)
                .iter()
                .any(|o| o.date == d)
            || t.ctx.venue.spec().blackout_dates.contains(&d)
        {
            continue;
        }
        for time in &policy.times {
            out.push((d, *time));
            if out.len() == count {
                return out;
            }
        }
    }
    out
}

fn site_visit(t: &mut Turn<'_, '_>, u: &Understanding) -> Result<Flow, WorkflowError> {
    let wanted = u.entities.date.zip(u.entities.start_time);
    let free = slots(t, 200);
    let chosen = wanted.filter(|w| free.contains(w));
    if let Some((date, time)) = chosen {
        t.event.site_visit = Some(SiteVisit { date, time });
    }
    let fmt = |(d, tm): (jiff::civil::Date, TimeOfDay)| format!("{} {tm}", super::render::date(d));
    let offered: Vec<String> = free.iter().take(6).map(|s| fmt(*s)).collect();
    let body = render_with(
        t,
        "confirmation_site_visit",
        serde_json::json!({ "chosen": chosen.map(fmt), "slots": offered }),
    )?;
    t.draft(
        Action::ConfirmationSiteVisit,
        "confirmation_site_visit",
        body,
        TaskType::ClientReply,
        TaskPayload::None,
        match chosen {
            Some(s) => format!("Site visit booked for {}.", fmt(s)),
            None => "Site-visit slots proposed.".to_owned(),
        },
    );
    Ok(Flow::Stop)
}
