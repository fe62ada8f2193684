//! Step 1's record keeping: who the client is, what they wrote (as a preview), and whether the
//! message opens a booking, continues one, or needs a person.
//!
//! | message                                     | outcome                                          |
//! |---------------------------------------------|--------------------------------------------------|
//! | reply in a booking's thread                 | facts captured, the workflow answers (DAG detours for changes) |
//! | reply to a cancelled booking                | history on that booking, manual-review task      |
//! | booking inquiry, confidence >= 0.85         | new event (lead) at Step 1, the workflow runs    |
//! | anything else                               | manual-review task, no event, nothing drafted    |

use jiff::Timestamp;

use crate::audit::{Actor, AuditEntry};
use crate::client::{ClientProfile, HistoryEntry, body_preview};
use crate::dag::ChangeType;
use crate::effects::{
    Action, Draft, DraftView, HilTask, TaskPayload, TaskStatus, TaskType, TurnResult, derive_id,
};
use crate::event::{Event, Status, Step, ThreadState};
use crate::ids::{EventId, OrgSlug, TaskId};
use crate::message::InboundMessage;
use crate::understanding::{Confidence, Intent, Understanding};
use crate::workflow::{self, Ctx, OutboxEmail, WorkflowError};

/// Below this, a message from someone without a booking thread goes to a person.
pub const MIN_INQUIRY_CONFIDENCE: Confidence = Confidence::from_per_mille(850);

pub struct IntakeInput<'a> {
    pub org: &'a OrgSlug,
    pub message: &'a InboundMessage,
    pub understanding: &'a Understanding,
    /// The client's stored profile, if the client is known.
    pub profile: Option<&'a ClientProfile>,
    /// The booking this message replies to, found through its threading headers.
    pub thread_event: Option<&'a Event>,
    /// What the workflow may look at (venue, calendar, the booking's pending tasks).
    pub workflow: &'a Ctx<'a>,
    /// A change to something settled that the message asks for (from change detection).
    pub change: Option<ChangeType>,
    pub now: Timestamp,
}

/// Everything intake decided; the shell stores it in one transaction.
#[derive(Debug, Clone)]
pub struct IntakeOutcome {
    pub profile: ClientProfile,
    pub profile_changed: bool,
    pub history: HistoryEntry,
    /// The booking the message belongs to, if any (new or existing).
    pub event: Option<Event>,
    pub event_is_new: bool,
    pub drafts: Vec<Draft>,
    pub tasks: Vec<HilTask>,
    pub superseded: Vec<TaskId>,
    pub outbox: Vec<OutboxEmail>,
    pub audit: Vec<AuditEntry>,
    pub result: TurnResult,
}

/// Whether a message without a booking thread opens a booking.
pub fn is_inquiry(u: &Understanding) -> bool {
    u.intent == Intent::EventRequest && u.confidence >= MIN_INQUIRY_CONFIDENCE
}

pub fn decide(input: IntakeInput<'_>) -> Result<IntakeOutcome, WorkflowError> {
    let msg = input.message;
    let u = input.understanding;
    let (profile, profile_changed) = updated_profile(input.profile, msg, u);
    let history = HistoryEntry {
        msg_id: msg.message_id.clone(),
        ts: input.now,
        subject: msg.subject.clone(),
        body_preview: body_preview(&msg.body_text),
        intent: u.intent,
        confidence: u.confidence,
    };
    let id = |prefix: &str, role: &str| derive_id(prefix, input.org, &msg.message_id, role);
    let manual_review = |event_id: Option<EventId>, step: Option<Step>, reason: String| HilTask {
        task_id: TaskId::parse(&id("TASK", "task")).expect("derived ids are valid"),
        event_id,
        task_type: TaskType::ManualReview,
        status: TaskStatus::Pending,
        step,
        draft_id: None,
        payload: TaskPayload::None,
        reason,
        source_message_id: msg.message_id.clone(),
        created_at: input.now,
    };
    let mut understood = format!("understood as {:?}, confidence {}", u.intent, u.confidence);
    // A message that tries to instruct the system is answered by the same rules as any other
    // (nothing it asks is followed), and the flag is kept where the manager looks: the booking's
    // audit and the review task's reason.
    let injection = u.signals.has_injection_attempt;
    if injection {
        understood.push_str("; possible prompt injection");
    }
    let flagged = |entry: AuditEntry| {
        if injection {
            entry.field("injection_suspected", true)
        } else {
            entry
        }
    };

    if let Some(existing) = input.thread_event {
        let received = flagged(
            AuditEntry::new(
                input.now,
                Actor::Client,
                Some(existing.current_step),
                Some(existing.current_step),
                "client_message_received",
            )
            .field("intent", u.intent),
        );
        if existing.status != Status::Cancelled {
            let out = workflow::on_message(
                input.workflow,
                existing.clone(),
                &msg.message_id,
                u,
                &msg.body_text,
                input.change,
            )?;
            let mut audit = vec![received];
            audit.extend(out.audit);
            let mut result = turn_result(
                out.action,
                &profile,
                Some(&out.event),
                &out.drafts,
                &out.tasks,
            );
            result.tasks.extend(out.existing_tasks.iter().cloned());
            return Ok(IntakeOutcome {
                profile,
                profile_changed,
                history,
                event: Some(out.event),
                event_is_new: false,
                drafts: out.drafts,
                tasks: out.tasks,
                superseded: out.superseded,
                outbox: out.outbox,
                audit,
                result,
            });
        }
        // A cancelled booking does not run again: a person decides what the message means.
        let mut event = existing.clone();
        event.thread_state = ThreadState::WaitingOnHil;
        event.updated_at = input.now;
        let task = manual_review(
            Some(event.event_id.clone()),
            Some(event.current_step),
            format!("Client replied in the booking thread ({understood})."),
        );
        let result = turn_result(
            Action::ThreadReplyRecorded,
            &profile,
            Some(&event),
            &[],
            std::slice::from_ref(&task),
        );
        return Ok(IntakeOutcome {
            profile,
            profile_changed,
            history,
            event: Some(event),
            event_is_new: false,
            drafts: Vec::new(),
            tasks: vec![task],
            superseded: Vec::new(),
            outbox: Vec::new(),
            audit: vec![received],
            result,
        });
    }

    if is_inquiry(u) {
        let event_id = EventId::parse(&id("EVT", "event")).expect("derived ids are valid");
        let event = Event::new_lead(event_id, msg.from.clone(), input.now);
        let created = flagged(
            AuditEntry::new(
                input.now,
                Actor::Client,
                None,
                Some(Step::Intake),
                "event_created",
            )
            .field("status", event.status)
            .field("intent", u.intent)
            .field("confidence", u.confidence),
        );
        let out = workflow::start(input.workflow, event, &msg.message_id, u)?;
        let mut audit = vec![created];
        audit.extend(out.audit);
        let result = turn_result(
            out.action,
            &profile,
            Some(&out.event),
            &out.drafts,
            &out.tasks,
        );
        return Ok(IntakeOutcome {
            profile,
            profile_changed,
            history,
            event: Some(out.event),
            event_is_new: true,
            drafts: out.drafts,
            tasks: out.tasks,
            superseded: out.superseded,
            outbox: out.outbox,
            audit,
            result,
        });
    }

    let task = manual_review(
        None,
        None,
        format!("Not recognised as a booking inquiry ({understood})."),
    );
    let result = turn_result(
        Action::ManualReviewEnqueued,
        &profile,
        None,
        &[],
        std::slice::from_ref(&task),
    );
    Ok(IntakeOutcome {
        profile,
        profile_changed,
        history,
        event: None,
        event_is_new: false,
        drafts: Vec::new(),
        tasks: vec![task],
        superseded: Vec::new(),
        outbox: Vec::new(),
        audit: Vec::new(),
        result,
    })
}

fn updated_profile(
    stored: Option<&ClientProfile>,
    msg: &InboundMessage,
    u: &Understanding,
) -> (ClientProfile, bool) {
    let mut profile = stored
        .cloned()
        .unwrap_or_else(|| ClientProfile::new(msg.from.clone()));
    if let Some(name) = msg
        .from_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        profile.name = Some(name.to_owned());
    }
    if profile.language.is_none() && u.intent == Intent::EventRequest {
        profile.language = Some(u.language);
    }
    // Contact details given in a signature are kept: the latest phone number wins (reminders by
    // SMS need it); a company is taken once.
    if let Some(contact) = &u.entities.contact {
        if let Some(phone) = &contact.phone {
            profile.phone = Some(phone.clone());
        }
        if profile.company.is_none() {
            profile.company.clone_from(&contact.company);
        }
    }
    let changed = stored != Some(&profile);
    (profile, changed)
}

fn turn_result(
    action: Action,
    profile: &ClientProfile,
    event: Option<&Event>,
    drafts: &[Draft],
    tasks: &[HilTask],
) -> TurnResult {
    TurnResult {
        event_id: event.map(|e| e.event_id.clone()),
        client_email: profile.email.clone(),
        action,
        current_step: event.map(|e| e.current_step),
        status: event.map(|e| e.status),
        thread_state: event.map(|e| e.thread_state),
        drafts: drafts.iter().map(DraftView::from).collect(),
        tasks: tasks.iter().map(|t| t.task_id.clone()).collect(),
    }
}

#[cfg(test)]
mod tests;
