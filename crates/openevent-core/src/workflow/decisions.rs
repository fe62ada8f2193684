//! A manager's decision on a HIL task. Nothing reaches a client without an approval: approving a
//! draft is what puts it in the outbox.

use serde::{Deserialize, Serialize};

use super::step3_room::lock_room;
use super::{Ctx, OutboxEmail, Outcome, Turn, WorkflowError, run};
use crate::audit::{Actor, AuditEntry};
use crate::effects::{Action, Draft, HilTask, TaskPayload, TaskStatus, TaskType};
use crate::event::{Event, OfferStatus, Status, Step, ThreadState};
use crate::ids::MessageId;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    Approve {
        /// The manager's edit of the draft body, sent instead of the original.
        edited_body: Option<String>,
        notes: Option<String>,
    },
    Reject {
        reason: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum DecisionError {
    #[error("task {task_id} is already {status}")]
    NotPending {
        task_id: String,
        status: &'static str,
    },
    #[error("a rejection needs a reason")]
    EmptyReason,
    #[error("the edited body is empty")]
    EmptyBody,
    #[error(transparent)]
    Workflow(#[from] WorkflowError),
}

/// The decided task and what it set in motion.
#[derive(Debug, Clone)]
pub struct DecisionOutcome {
    pub task_status: TaskStatus,
    /// The body that is sent, when the manager edited it.
    pub edited_body: Option<String>,
    pub notes: Option<String>,
    pub reject_reason: Option<String>,
    /// The booking after the decision (absent for tasks without a booking).
    pub outcome: Option<Outcome>,
}

/// Our Message-ID for a draft once it is sent.
pub fn outbound_message_id(ctx: &Ctx<'_>, draft: &Draft) -> MessageId {
    MessageId::parse(&format!(
        "{}.{}@openevent.invalid",
        draft.draft_id.as_str().to_lowercase(),
        ctx.org
    ))
    .expect("derived ids are valid")
}

pub fn decide_task(
    ctx: &Ctx<'_>,
    event: Option<Event>,
    task: &HilTask,
    draft: Option<&Draft>,
    decision: Decision,
) -> Result<DecisionOutcome, DecisionError> {
    if task.status != TaskStatus::Pending {
        return Err(DecisionError::NotPending {
            task_id: task.task_id.to_string(),
            status: task.status.as_str(),
        });
    }
    let seed =
        MessageId::parse(task.task_id.as_str()).expect("task ids are valid message-id tokens");
    match decision {
        Decision::Reject { reason } => {
            let reason = reason.trim().to_owned();
            if reason.is_empty() {
                return Err(DecisionError::EmptyReason);
            }
            let outcome = event.map(|event| {
                let mut t = Turn::new(
                    ctx,
                    event,
                    &seed,
                    task.source_message_id.clone(),
                    Actor::Manager,
                );
                // The manager took the conversation over; the next client message resumes the flow.
                t.event.thread_state = ThreadState::Checking;
                let step = t.event.current_step;
                t.audit(
                    AuditEntry::new(
                        ctx.now,
                        Actor::Manager,
                        Some(step),
                        Some(step),
                        "task_rejected",
                    )
                    .field("task_id", &task.task_id)
                    .field("task_type", task.task_type)
                    .field("reason", &reason),
                );
                t.action = Some(Action::TaskRejected);
                t.finish()
            });
            Ok(DecisionOutcome {
                task_status: TaskStatus::Rejected,
                edited_body: None,
                notes: None,
                reject_reason: Some(reason),
                outcome,
            })
        }
        Decision::Approve { edited_body, notes } => {
            let edited_body = match edited_body {
                Some(b) if b.trim().is_empty() => return Err(DecisionError::EmptyBody),
                other => other,
            };
            let Some(event) = event else {
                return Ok(DecisionOutcome {
                    task_status: TaskStatus::Approved,
                    edited_body,
                    notes,
                    reject_reason: None,
                    outcome: None,
                });
            };
            let mut t = Turn::new(
                ctx,
                event,
                &seed,
                task.source_message_id.clone(),
                Actor::Manager,
            );
            let step = t.event.current_step;
            t.audit(
                AuditEntry::new(
                    ctx.now,
                    Actor::Manager,
                    Some(step),
                    Some(step),
                    "task_approved",
                )
                .field("task_id", &task.task_id)
                .field("task_type", task.task_type)
                .field("edited", edited_body.is_some())
                .field("notes", &notes),
            );
            t.action = Some(Action::TaskApproved);
            // Approving a draft sends it; a room lock is a decision, the offer after it tells the
            // client.
            if task.task_type != TaskType::RoomLock
                && let Some(d) = draft
            {
                send(&mut t, d, edited_body.clone());
            }
            match (&task.task_type, &task.payload) {
                (TaskType::RoomLock, TaskPayload::RoomLock { room_id }) => {
                    if room_still_free(&t, room_id) {
                        // Locking is the decision; the offer that follows tells the client.
                        lock_room(&mut t, room_id);
                    } else {
                        // Another booking took the room since it was proposed: evaluate again.
                        let step = t.event.current_step;
                        t.audit(
                            AuditEntry::new(
                                ctx.now,
                                Actor::System,
                                Some(step),
                                Some(step),
                                "room_taken_meanwhile",
                            )
                            .field("room_id", room_id),
                        );
                    }
                    run(&mut t, None)?;
                }
                (TaskType::ClientReply, payload) => {
                    if let TaskPayload::OfferSent { offer_id } = payload
                        && let Some(o) = t.event.offers.iter_mut().find(|o| &o.offer_id == offer_id)
                        && o.status == OfferStatus::Draft
                    {
                        o.status = OfferStatus::Sent;
                    }
                    t.event.thread_state = ThreadState::AwaitingClient;
                }
                (TaskType::OfferAcceptance, TaskPayload::OfferAcceptance { offer_id }) => {
                    if let Some(o) = t.event.offers.iter_mut().find(|o| &o.offer_id == offer_id) {
                        o.status = OfferStatus::Accepted;
                    }
                    t.audit(
                        AuditEntry::new(
                            ctx.now,
                            Actor::Manager,
                            Some(step),
                            Some(Step::TransitionCheckpoint),
                            "offer_accepted",
                        )
                        .field("offer_id", offer_id),
                    );
                    t.event.current_step = Step::TransitionCheckpoint;
                    t.event.thread_state = ThreadState::AwaitingClient;
                    run(&mut t, None)?;
                }
                (TaskType::BookingConfirmation, _) => {
                    let deposit_required = t
                        .event
                        .offers
                        .iter()
                        .any(|o| o.status == OfferStatus::Accepted && o.deposit.is_some());
                    if deposit_required && t.event.deposit_paid_at.is_none() {
                        // Approving is the manager's word that the payment arrived.
                        t.event.deposit_paid_at = Some(ctx.now);
                    }
                    t.event.status = Status::Confirmed;
                    t.event.transition_ready = true;
                    t.event.thread_state = ThreadState::Closed;
                    t.audit(
                        AuditEntry::new(
                            ctx.now,
                            Actor::Manager,
                            Some(step),
                            Some(Step::Confirmation),
                            "booking_confirmed",
                        )
                        .field("status", Status::Confirmed),
                    );
                    t.action = Some(Action::ConfirmationFinalized);
                }
                (TaskType::Cancellation, _) => {
                    for o in &mut t.event.offers {
                        if matches!(
                            o.status,
                            OfferStatus::Draft | OfferStatus::Sent | OfferStatus::Accepted
                        ) {
                            o.status = OfferStatus::Declined;
                        }
                    }
                    t.event.status = Status::Cancelled;
                    t.event.thread_state = ThreadState::Closed;
                    t.audit(
                        AuditEntry::new(
                            ctx.now,
                            Actor::Manager,
                            Some(step),
                            Some(step),
                            "booking_cancelled",
                        )
                        .field("status", Status::Cancelled),
                    );
                    t.action = Some(Action::BookingCancelled);
                }
                _ => {}
            }
            Ok(DecisionOutcome {
                task_status: TaskStatus::Approved,
                edited_body,
                notes,
                reject_reason: None,
                outcome: Some(t.finish()),
            })
        }
    }
}

/// Whether the proposed room is still free for the booking's date and time.
fn room_still_free(t: &Turn<'_, '_>, room_id: &crate::ids::RoomId) -> bool {
    let (Some(room), Some(date)) = (t.ctx.venue.room(room_id), t.event.chosen_date) else {
        return false;
    };
    let window = match (t.event.start_time, t.event.end_time) {
        (Some(start), Some(end)) => Some(crate::calendar::Window { start, end }),
        _ => None,
    };
    crate::calendar::is_room_free(room, date, window, t.ctx.occupancy, Some(&t.event.event_id))
}

/// Puts an approved draft in the outbox, threaded under the client's messages.
pub(crate) fn send(t: &mut Turn<'_, '_>, draft: &Draft, edited_body: Option<String>) {
    let message_id = outbound_message_id(t.ctx, draft);
    let mut references: Vec<MessageId> = t.ctx.thread.to_vec();
    if !references.contains(&draft.in_reply_to) {
        references.push(draft.in_reply_to.clone());
    }
    let job_id = t.next_id("JOB");
    t.outbox.push(OutboxEmail {
        job_id,
        event_id: draft.event_id.clone(),
        delivery_key: format!("draft:{}", draft.draft_id),
        to: draft.to.clone(),
        subject: draft.subject.clone(),
        body: edited_body.unwrap_or_else(|| draft.body.clone()),
        message_id,
        in_reply_to: Some(draft.in_reply_to.clone()),
        references,
        due_at: t.ctx.now,
    });
}
