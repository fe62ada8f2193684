//! The client's profile, message history and the context snapshot built from them.
//! Every piece is scoped to one organization and one client: nothing here can name another.

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::event::{Event, Status, Step, ThreadState};
use crate::hash::canonical_hash;
use crate::ids::{ClientEmail, EventId, MessageId, RoomId};
use crate::understanding::{Confidence, Intent, Language};

/// How many history entries the snapshot carries.
pub const HISTORY_TAIL: usize = 5;
/// History keeps a preview, never the full body.
pub const BODY_PREVIEW_CHARS: usize = 160;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientProfile {
    pub email: ClientEmail,
    pub name: Option<String>,
    pub company: Option<String>,
    pub phone: Option<String>,
    pub language: Option<Language>,
}

impl ClientProfile {
    pub fn new(email: ClientEmail) -> Self {
        Self {
            email,
            name: None,
            company: None,
            phone: None,
            language: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub msg_id: MessageId,
    pub ts: Timestamp,
    pub subject: String,
    pub body_preview: String,
    pub intent: Intent,
    pub confidence: Confidence,
}

/// Whitespace folded, capped at [`BODY_PREVIEW_CHARS`] characters (an ellipsis marks a cut).
pub fn body_preview(body: &str) -> String {
    let folded = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if folded.chars().count() <= BODY_PREVIEW_CHARS {
        return folded;
    }
    let mut out: String = folded.chars().take(BODY_PREVIEW_CHARS - 1).collect();
    out.push('…');
    out
}

/// What the snapshot shows of the client's latest booking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventSummary {
    pub event_id: EventId,
    pub status: Status,
    pub current_step: Step,
    pub thread_state: ThreadState,
    pub chosen_date: Option<Date>,
    pub locked_room_id: Option<RoomId>,
    pub number_of_participants: Option<u32>,
    pub updated_at: Timestamp,
}

impl From<&Event> for EventSummary {
    fn from(e: &Event) -> Self {
        Self {
            event_id: e.event_id.clone(),
            status: e.status,
            current_step: e.current_step,
            thread_state: e.thread_state,
            chosen_date: e.chosen_date,
            locked_room_id: e.locked_room_id.clone(),
            number_of_participants: e.requirements().number_of_participants,
            updated_at: e.updated_at,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientContext {
    pub profile: ClientProfile,
    /// The last [`HISTORY_TAIL`] entries, oldest first.
    pub history_tail: Vec<HistoryEntry>,
    pub last_event: Option<EventSummary>,
    pub context_hash: String,
}

impl ClientContext {
    /// Builds the snapshot. The hash covers profile and history only, so it changes exactly when
    /// either does (a manager moving the booking along does not make the context "new").
    pub fn build(
        profile: ClientProfile,
        mut history_tail: Vec<HistoryEntry>,
        last_event: Option<EventSummary>,
    ) -> Self {
        if history_tail.len() > HISTORY_TAIL {
            history_tail.drain(..history_tail.len() - HISTORY_TAIL);
        }
        #[derive(Serialize)]
        struct Hashed<'a> {
            profile: &'a ClientProfile,
            history_tail: &'a [HistoryEntry],
        }
        let context_hash = canonical_hash(&Hashed {
            profile: &profile,
            history_tail: &history_tail,
        });
        Self {
            profile,
            history_tail,
            last_event,
            context_hash,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_is_capped_and_folded() {
        assert_eq!(body_preview("  hello \n\n world "), "hello world");
        let long = "ä".repeat(500);
        let p = body_preview(&long);
        assert_eq!(p.chars().count(), BODY_PREVIEW_CHARS);
        assert!(p.ends_with('…'));
        let exact = "x".repeat(BODY_PREVIEW_CHARS);
        assert_eq!(body_preview(&exact), exact);
    }

    fn entry(n: u32) -> HistoryEntry {
        HistoryEntry {
            msg_id: MessageId::parse(&format!("m{n}@x")).unwrap(),
            ts: Timestamp::from_second(i64::from(n)).unwrap(),
            subject: format!("s{n}"),
            body_preview: "b".into(),
            intent: Intent::EventRequest,
            confidence: Confidence::from_per_mille(900),
        }
    }

    #[test]
    fn context_keeps_the_last_five_and_hash_ignores_event_progress() {
        let profile = ClientProfile::new(ClientEmail::parse("a@example.com").unwrap());
        let all: Vec<_> = (1..=7).map(entry).collect();
        let c = ClientContext::build(profile.clone(), all.clone(), None);
        assert_eq!(c.history_tail.len(), 5);
        assert_eq!(c.history_tail[0].subject, "s3");
        let mut e = Event::new_lead(
            EventId::parse("evt").unwrap(),
            profile.email.clone(),
            Timestamp::UNIX_EPOCH,
        );
        let c1 = ClientContext::build(profile.clone(), all.clone(), Some((&e).into()));
        e.status = Status::Option;
        let c2 = ClientContext::build(profile.clone(), all.clone(), Some((&e).into()));
        assert_eq!(c1.context_hash, c2.context_hash);
        let mut more = all.clone();
        more.push(entry(8));
        assert_ne!(
            ClientContext::build(profile.clone(), more, None).context_hash,
            c.context_hash
        );
        let mut renamed = profile;
        renamed.name = Some("Laura".into());
        assert_ne!(
            ClientContext::build(renamed, all, None).context_hash,
            c.context_hash
        );
    }
}
