//! The seven-step booking workflow. Pure: `(event, input, ctx) -> Outcome` where the outcome holds
//! the new record and every effect (drafts, HIL tasks, superseded tasks, audit, outbox jobs).
//!
//! | step | on a client message                                   | waits for                    |
//! |------|-------------------------------------------------------|------------------------------|
//! | 1    | capture every fact, go to 2                           | —                            |
//! | 2    | no date → 5 options; no time → ask; past/unavailable → options; else confirm, go to 3 (or back to the caller) | client |
//! | 3    | rank rooms; fit → room-lock task; none → detour to 2  | manager (lock) / client      |
//! | 4    | price an offer version, go to 5                       | manager (send)               |
//! | 5    | accept / decline / counter / question / change        | client, manager              |
//! | 6    | check blockers, go to 7                               | —                            |
//! | 7    | deposit, confirmation, site visit, cancellation       | client, manager              |
//!
//! | manager decision        | effect                                                  |
//! |-------------------------|---------------------------------------------------------|
//! | approve client_reply    | outbox email; `OfferSent` marks the offer sent          |
//! | approve room_lock       | lock room, status `option`, go to 4 (or the caller); a room taken meanwhile is evaluated again |
//! | reject any              | task rejected with reason, thread `checking`            |

mod decisions;
mod facts;
pub mod faq;
mod render;
mod step2_date;
mod step3_room;
mod step4_offer;
mod step5_negotiation;
mod step6_transition;
mod step7_confirmation;
pub mod templates;

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::audit::{Actor, AuditEntry};
use crate::calendar::Occupancy;
use crate::dag::{ChangeType, apply_route, route};
use crate::effects::{Action, Draft, HilTask, TaskPayload, TaskStatus, TaskType, derive_id};
use crate::event::{Event, Step, ThreadState};
use crate::ids::{ClientEmail, DraftId, EventId, MessageId, OrgSlug, TaskId};
use crate::understanding::Understanding;
use crate::venue::Venue;

pub use decisions::{Decision, DecisionError, decide_task};
pub use facts::capture_facts;
pub use templates::{TemplateError, Templates};

/// What a turn may look at besides the booking itself; the shell prepares it.
pub struct Ctx<'a> {
    pub org: &'a OrgSlug,
    pub venue: &'a Venue,
    pub templates: &'a Templates,
    /// How the client signs, for greetings.
    pub client_name: Option<&'a str>,
    /// `option`/`confirmed` bookings of the organization on the dates in question: every day
    /// from today to `calendar_until`, and the days around the dates the booking and the message
    /// name. Sorted by date (availability checks search it).
    pub occupancy: &'a [Occupancy],
    /// The last day of the window from today that the calendar covers; date proposals stay
    /// within it.
    pub calendar_until: Date,
    /// Further days the calendar covers (the shell loaded the bookings around them).
    pub calendar_days: &'a [Date],
    /// The booking's tasks still pending (to supersede, or to avoid duplicates).
    pub pending_tasks: &'a [HilTask],
    /// The booking's thread, oldest first (for References on outgoing mail).
    pub thread: &'a [MessageId],
    pub now: Timestamp,
}

impl Ctx<'_> {
    /// Today in the venue's time zone.
    pub fn today(&self) -> Date {
        self.now.to_zoned(self.venue.time_zone().clone()).date()
    }

    /// Whether the calendar knows every booking that can touch day `d`.
    pub fn covers(&self, d: Date) -> bool {
        d <= self.calendar_until || self.calendar_days.contains(&d)
    }
}

/// The days the shell must load the calendar around for a turn: the booking's date, the date
/// the message names, for a date already past its next occurrence (proposed instead), and for a
/// preferred month ("a Friday in March") every day of its next occurrence.
pub fn calendar_days(today: Date, event: Option<&Event>, u: Option<&Understanding>) -> Vec<Date> {
    let mut days: Vec<Date> = event.and_then(|e| e.chosen_date).into_iter().collect();
    let preference = u
        .and_then(|u| u.entities.date_preference)
        .or(event.and_then(|e| e.date_preference));
    if let Some(month) = preference.and_then(|p| p.month) {
        let year = if month >= today.month() {
            today.year()
        } else {
            today.year() + 1
        };
        if let Ok(first) = Date::new(year, month, 1) {
            let mut d = first;
            while d.month() == month {
                days.push(d);
                match d.tomorrow() {
                    Ok(next) => d = next,
                    Err(_) => break,
                }
            }
        }
    }
    if let Some(d) = u.and_then(|u| u.entities.date) {
        days.push(d);
        let mut next = d;
        while next < today {
            match next.checked_add(jiff::Span::new().years(1)) {
                Ok(n) => next = n,
                Err(_) => break,
            }
        }
        days.push(next);
    }
    days.sort();
    days.dedup();
    days
}

/// An email to send once its task is approved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEmail {
    pub job_id: String,
    pub event_id: Option<EventId>,
    /// Unique per send: a second attempt of the same send can never go out twice.
    pub delivery_key: String,
    pub to: ClientEmail,
    pub subject: String,
    pub body: String,
    /// Our Message-ID for this mail (without brackets).
    pub message_id: MessageId,
    pub in_reply_to: Option<MessageId>,
    pub references: Vec<MessageId>,
    pub due_at: Timestamp,
}

/// Everything a turn decided.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub event: Event,
    pub action: Action,
    pub drafts: Vec<Draft>,
    pub tasks: Vec<HilTask>,
    /// Pending tasks replaced by this turn's.
    pub superseded: Vec<TaskId>,
    /// Pending tasks that already cover what this turn would have asked (no duplicate created).
    pub existing_tasks: Vec<TaskId>,
    pub audit: Vec<AuditEntry>,
    pub outbox: Vec<OutboxEmail>,
}

/// Whether the step machine keeps going in the same turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// The booking moved to another step that should run now.
    Continue,
    /// Waiting for the client or a manager.
    Stop,
}

/// A turn in progress. Ids derive from the organization, the input that caused the turn, and a
/// counter, so a replay yields the same ids.
pub(crate) struct Turn<'c, 'a> {
    pub ctx: &'c Ctx<'a>,
    pub event: Event,
    seed: String,
    counter: u32,
    /// The message replies answer.
    pub reply_to: MessageId,
    pub actor: Actor,
    pub action: Option<Action>,
    pub drafts: Vec<Draft>,
    pub tasks: Vec<HilTask>,
    pub superseded: Vec<TaskId>,
    pub existing_tasks: Vec<TaskId>,
    pub audit: Vec<AuditEntry>,
    pub outbox: Vec<OutboxEmail>,
    /// Intake may go straight to an offer when one message had everything.
    pub shortcut: bool,
}

impl<'c, 'a> Turn<'c, 'a> {
    pub fn new(
        ctx: &'c Ctx<'a>,
        event: Event,
        seed: &MessageId,
        reply_to: MessageId,
        actor: Actor,
    ) -> Self {
        Self {
            ctx,
            event,
            seed: seed.as_str().to_owned(),
            counter: 0,
            reply_to,
            actor,
            action: None,
            drafts: Vec::new(),
            tasks: Vec::new(),
            superseded: Vec::new(),
            existing_tasks: Vec::new(),
            audit: Vec::new(),
            outbox: Vec::new(),
            shortcut: false,
        }
    }

    pub fn next_id(&mut self, prefix: &str) -> String {
        self.counter += 1;
        let seed = MessageId::parse(&self.seed).expect("seed is a valid id");
        derive_id(prefix, self.ctx.org, &seed, &format!("wf-{}", self.counter))
    }

    pub fn audit(&mut self, entry: AuditEntry) {
        self.audit.push(entry);
    }

    /// Moves to `step` with an audit entry.
    pub fn goto(&mut self, step: Step, reason: &str) {
        let from = self.event.current_step;
        self.event.current_step = step;
        self.event.updated_at = self.ctx.now;
        self.audit(AuditEntry::new(
            self.ctx.now,
            self.actor,
            Some(from),
            Some(step),
            reason,
        ));
    }

    /// Adds a draft held for approval and its task; older pending tasks of this booking that ask
    /// the manager about the same kind of thing are superseded.
    pub fn draft(
        &mut self,
        action: Action,
        topic: &str,
        body: String,
        task_type: TaskType,
        payload: TaskPayload,
        reason: String,
    ) {
        let draft_id = DraftId::parse(&self.next_id("DRF")).expect("derived ids are valid");
        let subject = render::reply_subject(self.ctx.venue, &self.event, topic);
        let draft = Draft {
            draft_id: draft_id.clone(),
            event_id: Some(self.event.event_id.clone()),
            to: self.event.client_email.clone(),
            topic: topic.to_owned(),
            subject,
            body,
            requires_approval: true,
            in_reply_to: self.reply_to.clone(),
            created_at: self.ctx.now,
        };
        let auto = task_type == TaskType::ClientReply
            && payload == TaskPayload::None
            && self.ctx.venue.spec().hil.auto_approves(topic);
        self.push_task(task_type, Some(draft_id), payload, reason);
        self.event.thread_state = ThreadState::WaitingOnHil;
        self.action = Some(action);
        if auto {
            // The venue chose to let this kind of reply go out without a person.
            if let Some(task) = self.tasks.last_mut() {
                task.status = TaskStatus::Approved;
            }
            decisions::send(self, &draft, None);
            self.event.thread_state = ThreadState::AwaitingClient;
            let step = self.event.current_step;
            self.audit(
                AuditEntry::new(
                    self.ctx.now,
                    Actor::System,
                    Some(step),
                    Some(step),
                    "auto_approved",
                )
                .field("topic", topic),
            );
        }
        self.drafts.push(draft);
    }

    /// A task without a draft (a person decides, nothing is sent).
    pub fn task(
        &mut self,
        action: Action,
        task_type: TaskType,
        payload: TaskPayload,
        reason: String,
    ) {
        self.push_task(task_type, None, payload, reason);
        self.event.thread_state = ThreadState::WaitingOnHil;
        self.action = Some(action);
    }

    fn push_task(
        &mut self,
        task_type: TaskType,
        draft_id: Option<DraftId>,
        payload: TaskPayload,
        reason: String,
    ) {
        let step = self.event.current_step;
        for t in self.ctx.pending_tasks {
            if replaces(t, task_type, &payload, step) && !self.superseded.contains(&t.task_id) {
                self.superseded.push(t.task_id.clone());
            }
        }
        let task_id = TaskId::parse(&self.next_id("TASK")).expect("derived ids are valid");
        self.tasks.push(HilTask {
            task_id,
            event_id: Some(self.event.event_id.clone()),
            task_type,
            status: TaskStatus::Pending,
            step: Some(self.event.current_step),
            draft_id,
            payload,
            reason,
            source_message_id: self.reply_to.clone(),
            created_at: self.ctx.now,
        });
    }

    pub fn finish(self) -> Outcome {
        let mut event = self.event;
        event.updated_at = self.ctx.now;
        Outcome {
            event,
            action: self.action.unwrap_or(Action::ThreadReplyRecorded),
            drafts: self.drafts,
            tasks: self.tasks,
            superseded: self.superseded,
            existing_tasks: self.existing_tasks,
            audit: self.audit,
            outbox: self.outbox,
        }
    }

    /// Whether this turn already asked someone something.
    pub fn produced_anything(&self) -> bool {
        !self.drafts.is_empty() || !self.tasks.is_empty() || !self.existing_tasks.is_empty()
    }
}

/// Whether a new task makes a pending one stale: the same kind of task (type and payload kind)
/// at the same or an earlier step, or a reply that decides nothing from a step the booking has
/// moved past. Manual reviews, decisions and unsent offers are never replaced by another kind —
/// except that a new offer version makes a pending acceptance or confirmation stale.
fn replaces(old: &HilTask, task_type: TaskType, payload: &TaskPayload, step: Step) -> bool {
    let old_step = old.step.unwrap_or(Step::Intake);
    if old.task_type == TaskType::ManualReview {
        return false;
    }
    // A new offer version changes what the client accepts and what would be confirmed.
    if matches!(payload, TaskPayload::OfferSent { .. })
        && matches!(
            old.task_type,
            TaskType::OfferAcceptance | TaskType::BookingConfirmation
        )
    {
        return true;
    }
    if old.task_type == task_type
        && std::mem::discriminant(&old.payload) == std::mem::discriminant(payload)
    {
        return old_step <= step;
    }
    old.task_type == TaskType::ClientReply && old.payload == TaskPayload::None && old_step < step
}

#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    #[error(transparent)]
    Template(#[from] TemplateError),
}

/// Runs the step machine from the booking's current step until it waits for someone.
pub(crate) fn run(turn: &mut Turn<'_, '_>, u: Option<&Understanding>) -> Result<(), WorkflowError> {
    // Each step either stops or moves forward/back a bounded number of times; 12 rounds cover the
    // longest cascade (2 → 3 → 4 with a detour) with room to spare.
    for _ in 0..12 {
        let flow = match turn.event.current_step {
            Step::Intake => {
                turn.goto(Step::DateConfirmation, "intake_complete");
                Flow::Continue
            }
            Step::DateConfirmation => step2_date::run(turn, u)?,
            Step::RoomAvailability => step3_room::run(turn)?,
            Step::Offer => step4_offer::run(turn)?,
            // A detour that changed what the booking costs comes back through a new offer version.
            Step::Negotiation if step5_negotiation::offer_is_stale(turn) => {
                turn.goto(Step::Offer, "offer_outdated");
                Flow::Continue
            }
            Step::TransitionCheckpoint => step6_transition::run(turn)?,
            // Reached after a detour returned here: tell the client what changed.
            Step::Negotiation | Step::Confirmation if !turn.produced_anything() => {
                let body =
                    step5_negotiation::render_with(turn, "booking_updated", serde_json::json!({}))?;
                turn.draft(
                    Action::BookingUpdated,
                    "booking_updated",
                    body,
                    TaskType::ClientReply,
                    TaskPayload::None,
                    "The change was applied; confirming it to the client.".to_owned(),
                );
                Flow::Stop
            }
            Step::Negotiation | Step::Confirmation => Flow::Stop,
        };
        if flow == Flow::Stop {
            return Ok(());
        }
    }
    Ok(())
}

/// A new booking: capture the facts of the first message and walk as far as they allow.
pub fn start(
    ctx: &Ctx<'_>,
    event: Event,
    message_id: &MessageId,
    u: &Understanding,
) -> Result<Outcome, WorkflowError> {
    let mut turn = Turn::new(ctx, event, message_id, message_id.clone(), Actor::Client);
    turn.event.language = u.language;
    capture_facts(&mut turn.event, u);
    let req = turn.event.requirements();
    turn.shortcut = u.entities.date.is_some()
        && u.entities.start_time.is_some()
        && req.number_of_participants.is_some()
        && req.preferred_room.is_some();
    run(&mut turn, Some(u))?;
    Ok(turn.finish())
}

/// A client's message in an existing booking's thread. Facts are captured; a change to something
/// settled goes through the DAG (a detour that returns to the step that asked); otherwise the
/// booking's current step answers.
pub fn on_message(
    ctx: &Ctx<'_>,
    event: Event,
    message_id: &MessageId,
    u: &Understanding,
    text: &str,
    change: Option<ChangeType>,
) -> Result<Outcome, WorkflowError> {
    let mut turn = Turn::new(ctx, event, message_id, message_id.clone(), Actor::Client);
    if change == Some(ChangeType::Date) {
        // The settled date is what changes: un-confirm it so Step 2 takes the new one, or, when
        // the client named none, proposes dates.
        turn.event.date_confirmed = false;
        turn.event.chosen_date = u.entities.date;
    }
    capture_facts(&mut turn.event, u);
    let Some(change) = change.filter(|_| turn.event.current_step > Step::Intake) else {
        match turn.event.current_step {
            Step::Negotiation => step5_negotiation::on_message(&mut turn, u, text)?,
            Step::Confirmation => step7_confirmation::on_message(&mut turn, u, text)?,
            _ => {
                run(&mut turn, Some(u))?;
                Flow::Stop
            }
        };
        return Ok(answered(turn));
    };
    let decision = route(&turn.event, change, turn.event.current_step);
    let entry = apply_route(&mut turn.event, change, &decision, ctx.now, Actor::Client);
    turn.audit(entry);
    match change {
        ChangeType::Commercial => {
            step5_negotiation::on_message(&mut turn, u, text)?;
        }
        ChangeType::Deposit => {
            step7_confirmation::deposit_reported(&mut turn)?;
        }
        ChangeType::SiteVisit => {
            step7_confirmation::on_message(&mut turn, u, text)?;
        }
        _ => run(&mut turn, Some(u))?,
    }
    Ok(answered(turn))
}

/// Every client message gets a draft or a task: a turn that produced neither is put in front of
/// a manager rather than left unanswered.
fn answered(mut turn: Turn<'_, '_>) -> Outcome {
    if !turn.produced_anything() {
        let step = turn.event.current_step;
        turn.task(
            Action::ThreadReplyRecorded,
            TaskType::ManualReview,
            TaskPayload::None,
            format!(
                "The client wrote at step {}; nothing to draft automatically.",
                step.number()
            ),
        );
    }
    turn.finish()
}

/// The payment provider reports the deposit of a booking as paid.
pub fn on_deposit_paid(
    ctx: &Ctx<'_>,
    event: Event,
    reference: &MessageId,
) -> Result<Outcome, WorkflowError> {
    let reply_to = ctx
        .thread
        .last()
        .cloned()
        .unwrap_or_else(|| reference.clone());
    let mut turn = Turn::new(ctx, event, reference, reply_to, Actor::System);
    let step = turn.event.current_step;
    turn.audit(AuditEntry::new(
        ctx.now,
        Actor::System,
        Some(step),
        Some(Step::Confirmation),
        "deposit_paid",
    ));
    turn.event.current_step = Step::Confirmation;
    step7_confirmation::deposit_received(&mut turn)?;
    Ok(turn.finish())
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_late;
