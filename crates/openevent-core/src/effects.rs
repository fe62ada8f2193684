//! Effects: values the core hands to the shell, which persists them in the same transaction as
//! the booking change that caused them. Nothing here is sent anywhere by the core.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::event::{Status, Step, ThreadState};
use crate::hash::sha256_hex;
use crate::ids::{ClientEmail, DraftId, EventId, MessageId, OrgSlug, TaskId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskType {
    /// A reply to the client, held until a manager approves it.
    ClientReply,
    /// A message the engine will not act on by itself: a person decides.
    ManualReview,
    /// Lock the proposed room for the booking (it becomes an option).
    RoomLock,
    /// The client accepted the offer: confirm the acceptance.
    OfferAcceptance,
    /// Confirm the booking (after the deposit, when one is required).
    BookingConfirmation,
    /// The client declined or cancelled: cancel the booking.
    Cancellation,
    /// Something staff should do, asked by an automation step (call the client, brief the
    /// team); approving marks it done.
    StaffTodo,
}

impl TaskType {
    pub const ALL: [TaskType; 7] = [
        TaskType::ClientReply,
        TaskType::ManualReview,
        TaskType::RoomLock,
        TaskType::OfferAcceptance,
        TaskType::BookingConfirmation,
        TaskType::Cancellation,
        TaskType::StaffTodo,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskType::ClientReply => "client_reply",
            TaskType::ManualReview => "manual_review",
            TaskType::RoomLock => "room_lock",
            TaskType::OfferAcceptance => "offer_acceptance",
            TaskType::BookingConfirmation => "booking_confirmation",
            TaskType::Cancellation => "cancellation",
            TaskType::StaffTodo => "staff_todo",
        }
    }

    pub fn parse(raw: &str) -> Option<TaskType> {
        TaskType::ALL.into_iter().find(|t| t.as_str() == raw)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Pending,
    Approved,
    Rejected,
    Superseded,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 4] = [
        TaskStatus::Pending,
        TaskStatus::Approved,
        TaskStatus::Rejected,
        TaskStatus::Superseded,
    ];

    pub fn parse(raw: &str) -> Option<TaskStatus> {
        TaskStatus::ALL.into_iter().find(|t| t.as_str() == raw)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "pending",
            TaskStatus::Approved => "approved",
            TaskStatus::Rejected => "rejected",
            TaskStatus::Superseded => "superseded",
        }
    }
}

/// A reply drafted for the client. It leaves only after its task is approved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Draft {
    pub draft_id: DraftId,
    pub event_id: Option<EventId>,
    pub to: ClientEmail,
    /// What the reply is about, e.g. `intake_ack`.
    pub topic: String,
    pub subject: String,
    pub body: String,
    pub requires_approval: bool,
    /// The client message this answers (for In-Reply-To/References when it is sent).
    pub in_reply_to: MessageId,
    pub created_at: Timestamp,
}

/// A human-in-the-loop task for a venue manager.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HilTask {
    pub task_id: TaskId,
    pub event_id: Option<EventId>,
    #[serde(rename = "type")]
    pub task_type: TaskType,
    pub status: TaskStatus,
    pub step: Option<Step>,
    pub draft_id: Option<DraftId>,
    /// What approving does besides sending the draft (typed, so the workflow can act on it).
    pub payload: TaskPayload,
    /// Why the task exists, in a manager's words.
    pub reason: String,
    pub source_message_id: MessageId,
    pub created_at: Timestamp,
}

/// What approving a task sets in motion, besides sending its draft.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TaskPayload {
    #[default]
    None,
    /// Sending this draft sends the offer to the client.
    OfferSent { offer_id: String },
    /// Approving locks this room.
    RoomLock { room_id: crate::ids::RoomId },
    /// Approving accepts this offer.
    OfferAcceptance { offer_id: String },
}

macro_rules! actions {
    ($($(#[doc = $doc:literal])* $variant:ident => $name:literal,)*) => {
        /// The canonical name of what a turn did.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Action {
            $($(#[doc = $doc])* $variant,)*
        }

        impl Action {
            pub const ALL: &'static [Action] = &[$(Action::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Action::$variant => $name,)*
                }
            }
        }
    };
}

actions! {
    /// A booking inquiry opened a new event at Step 1.
    IntakeEventCreated => "intake_event_created",
    /// Not a booking inquiry, or too unclear: a manager reviews it; no event, nothing sent.
    ManualReviewEnqueued => "manual_review_enqueued",
    /// A reply the workflow cannot act on by itself, put in front of a manager.
    ThreadReplyRecorded => "thread_reply_recorded",
    /// Step 2: candidate dates proposed.
    DateOptionsProposed => "date_options_proposed",
    /// Step 2: the date is fine, the time is missing.
    DateTimeClarification => "date_time_clarification",
    /// Step 2: the third round without a date goes to a manager.
    DateManualReview => "date_manual_review",
    /// Step 3: rooms evaluated, a room proposed (or alternatives).
    RoomAvailResult => "room_avail_result",
    /// Step 4: an offer version drafted.
    OfferDraftPrepared => "offer_draft_prepared",
    /// Step 5: acceptance without a complete billing address.
    OfferAcceptRequiresBilling => "offer_accept_requires_billing",
    /// Step 5: acceptance waiting for the manager.
    OfferAcceptPendingHil => "offer_accept_pending_hil",
    /// Step 5: the client declined; cancellation waits for the manager.
    NegotiationDecline => "negotiation_decline",
    /// Step 5: a counter-offer answered with a re-drafted offer.
    NegotiationCounter => "negotiation_counter",
    /// Step 5: too many counter-offers; a manager takes over.
    NegotiationManualReview => "negotiation_manual_review",
    /// A question answered from the venue FAQ; the step is unchanged.
    QuestionAnswered => "question_answered",
    /// A question the FAQ cannot answer, handed to a manager.
    QuestionForManager => "question_for_manager",
    /// A change was applied and the booking returned to where it was.
    BookingUpdated => "booking_updated",
    /// Step 6: something still blocks the confirmation.
    TransitionBlocked => "transition_blocked",
    /// Step 6: everything is in place.
    TransitionReady => "transition_ready",
    /// Step 7: the final confirmation waits for the manager.
    ConfirmationDraft => "confirmation_draft",
    /// Step 7: the deposit was requested.
    ConfirmationDepositRequested => "confirmation_deposit_requested",
    /// Step 7: the deposit arrived; the confirmation waits for the manager.
    ConfirmationFinalized => "confirmation_finalized",
    /// Step 7: site-visit slots proposed or a slot booked.
    ConfirmationSiteVisit => "confirmation_site_visit",
    /// The client cancels; the cancellation waits for the manager.
    BookingCancelled => "booking_cancelled",
    /// A manager approved a task.
    TaskApproved => "task_approved",
    /// A manager rejected a task.
    TaskRejected => "task_rejected",
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftView {
    pub draft_id: DraftId,
    pub topic: String,
    pub subject: String,
    pub body: String,
    pub requires_approval: bool,
}

impl From<&Draft> for DraftView {
    fn from(d: &Draft) -> Self {
        Self {
            draft_id: d.draft_id.clone(),
            topic: d.topic.clone(),
            subject: d.subject.clone(),
            body: d.body.clone(),
            requires_approval: d.requires_approval,
        }
    }
}

/// The result of processing one inbound message, as `openevent ingest` and the API print it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnResult {
    pub event_id: Option<EventId>,
    pub client_email: ClientEmail,
    pub action: Action,
    pub current_step: Option<Step>,
    pub status: Option<Status>,
    pub thread_state: Option<ThreadState>,
    pub drafts: Vec<DraftView>,
    pub tasks: Vec<TaskId>,
}

/// Deterministic ids: derived from the organization, the message that caused them and a role, so
/// replaying a message yields the same ids and no randomness enters the core.
pub fn derive_id(prefix: &str, org: &OrgSlug, message_id: &MessageId, role: &str) -> String {
    let digest = sha256_hex(format!("{org}\n{message_id}\n{role}").as_bytes());
    format!("{prefix}-{}", digest[..16].to_uppercase())
}
