//! The change-propagation DAG: when a client changes something already settled, only the steps
//! that depend on it re-run, and a detour returns to the step that asked (`caller_step`).
//!
//! | change        | goes to | caller                      | notes                                   |
//! |---------------|---------|-----------------------------|-----------------------------------------|
//! | date          | 2       | from_step                   | `maybe_run_step3`; Step 3 may be skipped |
//! | room          | 3       | from_step                   |                                         |
//! | requirements  | 3       | from_step                   | only if `requirements_hash != room_eval_hash` |
//! | requirements  | caller, else 4 | cleared              | hashes match: `requirements_hash_match` |
//! | products      | 4       | none set                    | `products_only`                         |
//! | commercial    | 5       | none set                    |                                         |
//! | deposit       | 7       | none set                    |                                         |
//! | site_visit    | 7       | none set                    | `site_visit_reschedule`, no re-eval     |
//! | client_info   | current | unchanged                   | `client_info_update`, no re-eval        |
//!
//! Three rules hold for every row: an existing `caller_step` is never overwritten by a nested
//! detour, routing to the step the booking is already on sets no caller, and routing to the
//! caller's own step is the return (the caller is cleared).

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::audit::{Actor, AuditEntry};
use crate::event::{Event, Step};
use crate::ids::RoomId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeType {
    Date,
    Room,
    Requirements,
    Products,
    Commercial,
    Deposit,
    SiteVisit,
    ClientInfo,
}

impl ChangeType {
    pub const ALL: [ChangeType; 8] = [
        ChangeType::Date,
        ChangeType::Room,
        ChangeType::Requirements,
        ChangeType::Products,
        ChangeType::Commercial,
        ChangeType::Deposit,
        ChangeType::SiteVisit,
        ChangeType::ClientInfo,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChangeType::Date => "date",
            ChangeType::Room => "room",
            ChangeType::Requirements => "requirements",
            ChangeType::Products => "products",
            ChangeType::Commercial => "commercial",
            ChangeType::Deposit => "deposit",
            ChangeType::SiteVisit => "site_visit",
            ChangeType::ClientInfo => "client_info",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    RequirementsHashMatch,
    ProductsOnly,
    SiteVisitReschedule,
    ClientInfoUpdate,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::RequirementsHashMatch => "requirements_hash_match",
            SkipReason::ProductsOnly => "products_only",
            SkipReason::SiteVisitReschedule => "site_visit_reschedule",
            SkipReason::ClientInfoUpdate => "client_info_update",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextStepDecision {
    pub next_step: Step,
    pub maybe_run_step3: bool,
    pub updated_caller_step: Option<Step>,
    pub needs_reeval: bool,
    pub skip_reason: Option<SkipReason>,
}

/// The caller a detour to `target` records: the existing one wins; none when staying put.
fn detour_caller(existing: Option<Step>, from: Step, target: Step) -> Option<Step> {
    existing.or((from != target).then_some(from))
}

/// Where a change sends the booking. Pure: reads the record, decides, changes nothing.
pub fn route(event: &Event, change: ChangeType, from_step: Step) -> NextStepDecision {
    let mut decision = route_table(event, change, from_step);
    // Going to the very step the caller waits on is the return itself: nothing is left to return to.
    if decision.updated_caller_step == Some(decision.next_step) {
        decision.updated_caller_step = None;
    }
    decision
}

fn route_table(event: &Event, change: ChangeType, from_step: Step) -> NextStepDecision {
    let existing = event.caller_step;
    let to = |next_step: Step, caller: Option<Step>| NextStepDecision {
        next_step,
        maybe_run_step3: false,
        updated_caller_step: caller,
        needs_reeval: true,
        skip_reason: None,
    };
    match change {
        ChangeType::Date => NextStepDecision {
            maybe_run_step3: true,
            ..to(
                Step::DateConfirmation,
                detour_caller(existing, from_step, Step::DateConfirmation),
            )
        },
        ChangeType::Room => to(
            Step::RoomAvailability,
            detour_caller(existing, from_step, Step::RoomAvailability),
        ),
        ChangeType::Requirements if event.rooms_evaluated_for_current_requirements() => {
            NextStepDecision {
                needs_reeval: false,
                skip_reason: Some(SkipReason::RequirementsHashMatch),
                ..to(existing.unwrap_or(Step::Offer), None)
            }
        }
        ChangeType::Requirements => to(
            Step::RoomAvailability,
            detour_caller(existing, from_step, Step::RoomAvailability),
        ),
        ChangeType::Products => NextStepDecision {
            skip_reason: Some(SkipReason::ProductsOnly),
            ..to(Step::Offer, existing)
        },
        ChangeType::Commercial => to(Step::Negotiation, existing),
        ChangeType::Deposit => to(Step::Confirmation, existing),
        ChangeType::SiteVisit => NextStepDecision {
            needs_reeval: false,
            skip_reason: Some(SkipReason::SiteVisitReschedule),
            ..to(Step::Confirmation, existing)
        },
        ChangeType::ClientInfo => NextStepDecision {
            needs_reeval: false,
            skip_reason: Some(SkipReason::ClientInfoUpdate),
            ..to(event.current_step, existing)
        },
    }
}

/// Room availability as the core sees it: a snapshot the shell prepared, never a query.
pub trait Availability {
    fn is_room_free(&self, room: &RoomId, date: Date) -> bool;
}

impl<F: Fn(&RoomId, Date) -> bool> Availability for F {
    fn is_room_free(&self, room: &RoomId, date: Date) -> bool {
        self(room, date)
    }
}

/// After a date change, Step 3 can be skipped only when a room is locked and that room is still
/// free on the new date.
pub fn should_skip_step3_after_date_change(
    event: &Event,
    new_date: Date,
    availability: &dyn Availability,
) -> bool {
    event
        .locked_room_id
        .as_ref()
        .is_some_and(|room| availability.is_room_free(room, new_date))
}

/// Applies a routing decision: records the caller before jumping, moves the step, and returns the
/// audit entry for the jump (a fast-skip back to the caller is audited as `return_to_caller`).
pub fn apply_route(
    event: &mut Event,
    change: ChangeType,
    decision: &NextStepDecision,
    now: Timestamp,
    actor: Actor,
) -> AuditEntry {
    let from = event.current_step;
    let returning = event.caller_step.is_some() && decision.updated_caller_step.is_none();
    event.caller_step = decision.updated_caller_step;
    event.current_step = decision.next_step;
    event.updated_at = now;
    let reason = if returning {
        "return_to_caller".to_owned()
    } else {
        format!("change_{}", change.as_str())
    };
    AuditEntry::new(now, actor, Some(from), Some(decision.next_step), reason)
        .field("change_type", change)
        .field("caller_step", decision.updated_caller_step)
        .field("needs_reeval", decision.needs_reeval)
        .field("skip_reason", decision.skip_reason)
}

/// The owner step of a detour has resolved. Returns to the caller when there is one waiting further
/// along (and clears it); otherwise moves on to `natural_next`. Always audited.
pub fn resolve_step(
    event: &mut Event,
    natural_next: Step,
    now: Timestamp,
    actor: Actor,
) -> AuditEntry {
    let from = event.current_step;
    let caller = event.caller_step.take();
    let (to, reason) = match caller {
        Some(c) if c > from => (c, "return_to_caller"),
        // A caller at or before the owner step has nothing left to return to: normal flow resumes.
        Some(_) => (natural_next, "caller_superseded"),
        None => (natural_next, "step_completed"),
    };
    event.current_step = to;
    event.updated_at = now;
    AuditEntry::new(now, actor, Some(from), Some(to), reason).field("caller_step", caller)
}

/// After Step 2 confirms a date that was changed on a detour: skip Step 3 and return to the caller
/// when the locked room is still free, otherwise run Step 3 (which keeps the caller to return to).
pub fn resolve_date_confirmation(
    event: &mut Event,
    availability: &dyn Availability,
    now: Timestamp,
    actor: Actor,
) -> AuditEntry {
    let skip = event
        .caller_step
        .is_some_and(|c| c > Step::RoomAvailability)
        && event
            .chosen_date
            .is_some_and(|d| should_skip_step3_after_date_change(event, d, availability));
    if skip {
        resolve_step(event, Step::RoomAvailability, now, actor).field("step3_skipped", true)
    } else if event
        .caller_step
        .is_some_and(|c| c <= Step::RoomAvailability)
    {
        // Step 3 is where normal flow goes anyway, so a caller at or before it is settled here.
        resolve_step(event, Step::RoomAvailability, now, actor)
    } else {
        let from = event.current_step;
        event.current_step = Step::RoomAvailability;
        event.updated_at = now;
        AuditEntry::new(
            now,
            actor,
            Some(from),
            Some(Step::RoomAvailability),
            "step_completed",
        )
        .field("caller_step", event.caller_step)
    }
}

#[cfg(test)]
mod tests;
