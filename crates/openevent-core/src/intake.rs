//! Step 1's record keeping: who the client is, what they wrote (as a preview), and whether the
//! message opens a booking, continues one, or needs a person.
//!
//! | message                                     | outcome                                          |
//! |---------------------------------------------|--------------------------------------------------|
//! | reply in a known booking's thread           | history on that booking, manual-review task      |
//! | booking inquiry, confidence >= 0.85         | new event at Step 1 (lead), acknowledgement draft held for approval |
//! | anything else                               | manual-review task, no event, nothing drafted    |

use jiff::Timestamp;

use crate::audit::{Actor, AuditEntry};
use crate::client::{ClientProfile, HistoryEntry, body_preview};
use crate::effects::{
    Action, Draft, DraftView, HilTask, TaskStatus, TaskType, TurnResult, derive_id,
};
use crate::event::{Event, Step, ThreadState};
use crate::ids::{DraftId, EventId, OrgSlug, TaskId};
use crate::message::InboundMessage;
use crate::understanding::{Classification, Confidence, Intent, Language, classify_inquiry};

/// Below this, a message from someone without a booking thread goes to a person.
pub const MIN_INQUIRY_CONFIDENCE: Confidence = Confidence::from_per_mille(850);

pub struct IntakeInput<'a> {
    pub org: &'a OrgSlug,
    pub venue_name: &'a str,
    pub message: &'a InboundMessage,
    /// The client's stored profile, if the client is known.
    pub profile: Option<&'a ClientProfile>,
    /// The booking this message replies to, found through its threading headers.
    pub thread_event: Option<&'a Event>,
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
    pub audit: Vec<AuditEntry>,
    pub result: TurnResult,
}

pub fn decide(input: IntakeInput<'_>) -> IntakeOutcome {
    let msg = input.message;
    let class = classify_inquiry(&msg.subject, &msg.body_text);
    let (profile, profile_changed) = updated_profile(input.profile, msg, class);
    let history = HistoryEntry {
        msg_id: msg.message_id.clone(),
        ts: input.now,
        subject: msg.subject.clone(),
        body_preview: body_preview(&msg.body_text),
        intent: class.intent,
        confidence: class.confidence,
    };
    let id = |prefix: &str, role: &str| derive_id(prefix, input.org, &msg.message_id, role);
    let task_id = || TaskId::parse(&id("TASK", "task")).expect("derived ids are valid");

    if let Some(existing) = input.thread_event {
        let mut event = existing.clone();
        event.thread_state = ThreadState::WaitingOnHil;
        event.updated_at = input.now;
        let task = HilTask {
            task_id: task_id(),
            event_id: Some(event.event_id.clone()),
            task_type: TaskType::ManualReview,
            status: TaskStatus::Pending,
            step: Some(event.current_step),
            draft_id: None,
            reason: format!(
                "Client replied in the booking thread (understood as {:?}, confidence {}).",
                class.intent, class.confidence
            ),
            source_message_id: msg.message_id.clone(),
            created_at: input.now,
        };
        let audit = vec![
            AuditEntry::new(
                input.now,
                Actor::Client,
                Some(event.current_step),
                Some(event.current_step),
                "client_message_received",
            )
            .field("thread_state", event.thread_state),
        ];
        let result = turn_result(
            Action::ThreadReplyRecorded,
            &profile,
            Some(&event),
            &[],
            &task,
        );
        return IntakeOutcome {
            profile,
            profile_changed,
            history,
            event: Some(event),
            event_is_new: false,
            drafts: Vec::new(),
            tasks: vec![task],
            audit,
            result,
        };
    }

    if class.intent == Intent::EventRequest && class.confidence >= MIN_INQUIRY_CONFIDENCE {
        let event_id = EventId::parse(&id("EVT", "event")).expect("derived ids are valid");
        let mut event = Event::new_lead(event_id.clone(), msg.from.clone(), input.now);
        event.thread_state = ThreadState::WaitingOnHil;
        let draft = Draft {
            draft_id: DraftId::parse(&id("DRF", "draft")).expect("derived ids are valid"),
            event_id: Some(event_id.clone()),
            to: msg.from.clone(),
            topic: "intake_ack".to_owned(),
            subject: reply_subject(&msg.subject),
            body: acknowledgement(class.language, profile.name.as_deref(), input.venue_name),
            requires_approval: true,
            in_reply_to: msg.message_id.clone(),
            created_at: input.now,
        };
        let task = HilTask {
            task_id: task_id(),
            event_id: Some(event_id),
            task_type: TaskType::ClientReply,
            status: TaskStatus::Pending,
            step: Some(Step::Intake),
            draft_id: Some(draft.draft_id.clone()),
            reason: "New booking inquiry: approve the acknowledgement.".to_owned(),
            source_message_id: msg.message_id.clone(),
            created_at: input.now,
        };
        let audit = vec![
            AuditEntry::new(
                input.now,
                Actor::Client,
                None,
                Some(Step::Intake),
                "event_created",
            )
            .field("status", event.status)
            .field("intent", class.intent)
            .field("confidence", class.confidence),
        ];
        let drafts = vec![draft];
        let result = turn_result(
            Action::IntakeEventCreated,
            &profile,
            Some(&event),
            &drafts,
            &task,
        );
        return IntakeOutcome {
            profile,
            profile_changed,
            history,
            event: Some(event),
            event_is_new: true,
            drafts,
            tasks: vec![task],
            audit,
            result,
        };
    }

    let task = HilTask {
        task_id: task_id(),
        event_id: None,
        task_type: TaskType::ManualReview,
        status: TaskStatus::Pending,
        step: None,
        draft_id: None,
        reason: format!(
            "Not recognised as a booking inquiry (understood as {:?}, confidence {}).",
            class.intent, class.confidence
        ),
        source_message_id: msg.message_id.clone(),
        created_at: input.now,
    };
    let result = turn_result(Action::ManualReviewEnqueued, &profile, None, &[], &task);
    IntakeOutcome {
        profile,
        profile_changed,
        history,
        event: None,
        event_is_new: false,
        drafts: Vec::new(),
        tasks: vec![task],
        audit: Vec::new(),
        result,
    }
}

fn updated_profile(
    stored: Option<&ClientProfile>,
    msg: &InboundMessage,
    class: Classification,
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
    if profile.language.is_none() && class.intent == Intent::EventRequest {
        profile.language = Some(class.language);
    }
    let changed = stored != Some(&profile);
    (profile, changed)
}

fn turn_result(
    action: Action,
    profile: &ClientProfile,
    event: Option<&Event>,
    drafts: &[Draft],
    task: &HilTask,
) -> TurnResult {
    TurnResult {
        event_id: event.map(|e| e.event_id.clone()),
        client_email: profile.email.clone(),
        action,
        current_step: event.map(|e| e.current_step),
        status: event.map(|e| e.status),
        thread_state: event.map(|e| e.thread_state),
        drafts: drafts.iter().map(DraftView::from).collect(),
        tasks: vec![task.task_id.clone()],
    }
}

fn reply_subject(subject: &str) -> String {
    let s = subject.trim();
    if s.is_empty() {
        "Your event inquiry".to_owned()
    } else if s.len() >= 3 && s[..3].eq_ignore_ascii_case("re:") {
        s.to_owned()
    } else {
        format!("Re: {s}")
    }
}

fn acknowledgement(language: Language, name: Option<&str>, venue: &str) -> String {
    match language {
        Language::De => format!(
            "{greeting}\n\nVielen Dank für Ihre Anfrage bei {venue}. Damit wir die Verfügbarkeit \
             prüfen und Ihnen eine Offerte erstellen können, teilen Sie uns bitte mit:\n\
             - das gewünschte Datum (und wenn möglich ein Ausweichdatum)\n\
             - Beginn und Ende der Veranstaltung\n\
             - die Anzahl Personen\n\n\
             Freundliche Grüsse\n{venue}\n\n\
             ---\nStatus: Schritt 1 Anfrage · Nächster Schritt: Datum bestätigen · Wir warten auf: Ihre Antwort",
            greeting = name.map_or("Guten Tag".to_owned(), |n| format!("Guten Tag {n}")),
        ),
        _ => format!(
            "{greeting}\n\nThank you for your inquiry at {venue}. To check availability and prepare \
             an offer, could you let us know:\n\
             - your preferred date (and an alternative, if you are flexible)\n\
             - start and end time\n\
             - the number of participants\n\n\
             Kind regards\n{venue}\n\n\
             ---\nStatus: Step 1 Intake · Next: confirm the date · Waiting on: your reply",
            greeting = name.map_or("Hello".to_owned(), |n| format!("Dear {n}")),
        ),
    }
}

#[cfg(test)]
mod tests;
