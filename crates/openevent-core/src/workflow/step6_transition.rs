//! Step 6, Transition Checkpoint: nothing is confirmed before every condition holds.
//!
//! Blockers: no confirmed date, no locked room, rooms evaluated for other requirements than the
//! current ones, no accepted offer, a required deposit unpaid. An unpaid deposit alone moves on to
//! Step 7, which asks for it; any other blocker goes to a manager (`transition_blocked`).

use super::{Flow, Turn, WorkflowError, step7_confirmation};
use crate::audit::AuditEntry;
use crate::effects::{Action, TaskPayload, TaskType};
use crate::event::{OfferStatus, Step};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Blocker {
    DateNotConfirmed,
    NoRoomLocked,
    RoomsNotEvaluated,
    NoAcceptedOffer,
    DepositUnpaid,
}

impl Blocker {
    fn as_str(self) -> &'static str {
        match self {
            Blocker::DateNotConfirmed => "date_not_confirmed",
            Blocker::NoRoomLocked => "no_room_locked",
            Blocker::RoomsNotEvaluated => "rooms_not_evaluated_for_current_requirements",
            Blocker::NoAcceptedOffer => "no_accepted_offer",
            Blocker::DepositUnpaid => "deposit_unpaid",
        }
    }
}

pub(crate) fn blockers(t: &Turn<'_, '_>) -> Vec<Blocker> {
    let e = &t.event;
    let mut out = Vec::new();
    if !e.date_confirmed || e.chosen_date.is_none() {
        out.push(Blocker::DateNotConfirmed);
    }
    if e.locked_room_id.is_none() {
        out.push(Blocker::NoRoomLocked);
    }
    if !e.rooms_evaluated_for_current_requirements() {
        out.push(Blocker::RoomsNotEvaluated);
    }
    let accepted = e
        .offers
        .iter()
        .rev()
        .find(|o| o.status == OfferStatus::Accepted);
    match accepted {
        None => out.push(Blocker::NoAcceptedOffer),
        Some(o) if o.deposit.is_some() && e.deposit_paid_at.is_none() => {
            out.push(Blocker::DepositUnpaid)
        }
        Some(_) => {}
    }
    out
}

pub(crate) fn run(t: &mut Turn<'_, '_>) -> Result<Flow, WorkflowError> {
    let found = blockers(t);
    let names: Vec<&str> = found.iter().map(|b| b.as_str()).collect();
    if found.is_empty() || found == [Blocker::DepositUnpaid] {
        t.event.transition_ready = found.is_empty();
        t.audit(
            AuditEntry::new(
                t.ctx.now,
                t.actor,
                Some(Step::TransitionCheckpoint),
                Some(Step::Confirmation),
                "transition_passed",
            )
            .field("transition_ready", t.event.transition_ready)
            .field("blockers", &names),
        );
        t.event.current_step = Step::Confirmation;
        return step7_confirmation::after_transition(t);
    }
    t.event.transition_ready = false;
    t.audit(
        AuditEntry::new(
            t.ctx.now,
            t.actor,
            Some(Step::TransitionCheckpoint),
            Some(Step::TransitionCheckpoint),
            "transition_blocked",
        )
        .field("blockers", &names),
    );
    t.task(
        Action::TransitionBlocked,
        TaskType::ManualReview,
        TaskPayload::None,
        format!("The booking cannot be confirmed yet: {}.", names.join(", ")),
    );
    Ok(Flow::Stop)
}
