//! The pages as askama templates (HTML auto-escaped) and the view models they read: plain
//! strings, formatted here once (dates DD.MM.YYYY in the venue's zone, amounts as the core
//! formats them).

use askama::Template;
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use openevent_core::audit::AuditEntry;
use openevent_core::effects::TaskStatus;
use openevent_core::event::{Event, Offer, Step};
use openevent_core::venue::Venue;
use openevent_store::{EventListItem, OutboxRow, TaskView};
use serde::Serialize;

use crate::calendar::Grid;
use crate::session::Flash;

pub mod automation;
mod venue;

pub use venue::{VenueForm, VenueView, venue_view};

use automation::{
    AutomationView, DeadRow, DefinitionForm, LibraryItem, StatCell, VersionRow, WorkflowHead,
    WorkflowRow,
};

/// What every page shows around its content.
pub struct Chrome {
    pub title: String,
    pub nav: &'static str,
    pub user: Option<UserView>,
    pub flash: Option<FlashView>,
}

pub struct UserView {
    pub org: String,
    pub role: &'static str,
    pub csrf: String,
}

pub struct FlashView {
    pub css: &'static str,
    pub text: String,
}

impl From<Flash> for FlashView {
    fn from(f: Flash) -> Self {
        Self {
            css: f.kind.css(),
            text: f.text,
        }
    }
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub chrome: Chrome,
    pub csrf: String,
    pub error: Option<String>,
    pub notice: Option<String>,
}

#[derive(Template)]
#[template(path = "inbox.html")]
pub struct InboxPage {
    pub chrome: Chrome,
    pub tasks: Vec<TaskCard>,
    pub can_decide: bool,
    pub csrf: String,
    pub next: String,
}

#[derive(Template)]
#[template(path = "events.html")]
pub struct EventsPage {
    pub chrome: Chrome,
    pub rows: Vec<EventRow>,
    pub status_options: Vec<Opt>,
    pub step_options: Vec<Opt>,
    pub q: String,
    /// The chosen-date range, as `YYYY-MM-DD` for the date inputs (empty: open).
    pub from: String,
    pub to: String,
    pub page: u32,
    pub prev_link: Option<String>,
    pub next_link: Option<String>,
}

#[derive(Template)]
#[template(path = "event.html")]
pub struct EventPage {
    pub chrome: Chrome,
    pub ev: EventDetail,
    pub steps: Vec<StepMark>,
    pub audit: Vec<AuditRow>,
    pub deliveries: Vec<DeliveryRow>,
    /// Set when older deliveries may exist beyond what the page could read.
    pub deliveries_note: Option<String>,
    pub tasks: Vec<TaskCard>,
    pub can_decide: bool,
    pub csrf: String,
    pub next: String,
    pub automation: AutomationView,
}

#[derive(Template)]
#[template(path = "workflows.html")]
pub struct WorkflowsPage {
    pub chrome: Chrome,
    pub rows: Vec<WorkflowRow>,
    /// The statistics' column headings, one per job status.
    pub status_heads: Vec<&'static str>,
    pub library: Vec<LibraryItem>,
    /// How many library workflows the organization does not have yet.
    pub missing: usize,
    pub can_manage: bool,
    pub csrf: String,
    /// The form importing a new workflow.
    pub form: DefinitionForm,
}

#[derive(Template)]
#[template(path = "workflow.html")]
pub struct WorkflowPage {
    pub chrome: Chrome,
    pub wf: WorkflowHead,
    pub stats: Vec<StatCell>,
    pub total: i64,
    pub history: Vec<VersionRow>,
    /// The definition as TOML: the current one, or the text a refused save sent.
    pub form: DefinitionForm,
    /// The version the form edits; a save is refused when another became current meanwhile.
    pub base_version: u32,
    pub can_manage: bool,
    pub csrf: String,
}

#[derive(Template)]
#[template(path = "dead.html")]
pub struct DeadPage {
    pub chrome: Chrome,
    pub rows: Vec<DeadRow>,
    /// Set when more dead jobs may exist than the page lists.
    pub note: Option<String>,
    pub can_manage: bool,
    pub csrf: String,
}

#[derive(Template)]
#[template(path = "calendar.html")]
pub struct CalendarPage {
    pub chrome: Chrome,
    /// `March 2027`.
    pub label: String,
    /// `2027-03`.
    pub month: String,
    pub prev_link: Option<String>,
    pub next_link: Option<String>,
    /// Back to the current month, unless this is it.
    pub today_link: Option<String>,
    pub grid: Grid,
}

#[derive(Template)]
#[template(path = "venue.html")]
pub struct VenuePage {
    pub chrome: Chrome,
    pub venue: VenueView,
    /// The organization's venue revision; `None` while it uses the server's venue file.
    pub revision: Option<i64>,
    /// The edit form (managers only): the venue as TOML, or a refused save's text.
    pub form: VenueForm,
    /// The revision the next save must start from (0: the server's venue file).
    pub base_revision: i64,
    pub can_manage: bool,
    pub csrf: String,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub chrome: Chrome,
    pub code: u16,
    pub heading: String,
    pub message: String,
}

/// A task as a card: what it is about, its draft, and (for managers) the decision forms.
pub struct TaskCard {
    pub id: String,
    pub kind: String,
    pub event_id: Option<String>,
    pub client: Option<String>,
    pub step: Option<String>,
    pub status: &'static str,
    pub pending: bool,
    pub decided: Option<String>,
    pub created: String,
    pub reason: String,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub notes: Vec<String>,
}

pub struct EventRow {
    pub id: String,
    pub client: String,
    pub status: &'static str,
    pub step: String,
    pub date: String,
    pub room: String,
    pub updated: String,
}

pub struct Opt {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

pub struct Fact {
    pub label: &'static str,
    pub value: String,
}

pub struct EventDetail {
    pub id: String,
    pub facts: Vec<Fact>,
    pub offer: Option<OfferView>,
}

pub struct OfferView {
    pub id: String,
    pub version: u32,
    pub status: String,
    pub valid_until: String,
    pub lines: Vec<LineView>,
    pub subtotal: String,
    pub vat: String,
    pub total: String,
    pub deposit: Option<String>,
}

pub struct LineView {
    pub description: String,
    pub quantity: u32,
    pub unit: String,
    pub unit_price: String,
    pub amount: String,
}

/// One of the seven steps on a booking's progress bar.
pub struct StepMark {
    pub number: u8,
    pub name: &'static str,
    /// `done`, `current` or `todo` (the CSS class).
    pub state: &'static str,
}

/// An outbox delivery of a booking (no message content).
pub struct DeliveryRow {
    pub job_id: String,
    pub channel: String,
    /// The raw status, for the CSS class.
    pub status: String,
    pub status_label: String,
    pub due: String,
    pub attempts: u32,
    pub last_error: Option<String>,
}

pub struct AuditRow {
    pub when: String,
    pub actor: String,
    pub steps: String,
    pub reason: String,
    pub fields: String,
}

/// `17.03.2027`.
pub fn date(d: Date) -> String {
    d.strftime("%d.%m.%Y").to_string()
}

/// `23.11.2026 09:00`, in the venue's zone.
pub fn timestamp(ts: Timestamp, tz: &TimeZone) -> String {
    ts.to_zoned(tz.clone())
        .strftime("%d.%m.%Y %H:%M")
        .to_string()
}

/// A snake_case name as words: `client_reply` → `Client reply`.
pub fn words(raw: &str) -> String {
    let spaced = raw.replace('_', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The serde name of a unit enum value (`u_shape`), as words.
fn serde_words<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => words(&s),
        Ok(other) => other.to_string(),
        Err(_) => String::from("?"),
    }
}

fn step(s: Step) -> String {
    s.to_string()
}

fn room_name(venue: &Venue, id: &openevent_core::ids::RoomId) -> String {
    venue
        .room(id)
        .map_or_else(|| id.to_string(), |r| r.name.clone())
}

pub fn task_card(t: &TaskView, tz: &TimeZone) -> TaskCard {
    let task = &t.task;
    let mut notes = Vec::new();
    if let Some(n) = &t.notes {
        notes.push(format!("Notes: {n}"));
    }
    if let Some(r) = &t.reject_reason {
        notes.push(format!("Rejected because: {r}"));
    }
    if t.edited_body.is_some() {
        notes.push("The reply was edited before it was approved.".to_owned());
    }
    TaskCard {
        id: task.task_id.to_string(),
        kind: words(task.task_type.as_str()),
        event_id: task.event_id.as_ref().map(ToString::to_string),
        client: t.client_email.as_ref().map(ToString::to_string),
        step: task.step.map(step),
        status: task.status.as_str(),
        pending: task.status == TaskStatus::Pending,
        decided: t.decided_at.map(|d| format!("on {}", timestamp(d, tz))),
        created: timestamp(task.created_at, tz),
        reason: task.reason.clone(),
        subject: t.draft.as_ref().map(|d| d.subject.clone()),
        body: t
            .edited_body
            .clone()
            .or_else(|| t.draft.as_ref().map(|d| d.body.clone())),
        notes,
    }
}

pub fn event_row(e: &EventListItem, venue: &Venue) -> EventRow {
    let tz = venue.time_zone();
    EventRow {
        id: e.event_id.to_string(),
        client: e.client_email.to_string(),
        status: e.status.as_str(),
        step: step(e.current_step),
        date: e.chosen_date.map(date).unwrap_or_else(|| "—".into()),
        room: e
            .locked_room_id
            .as_ref()
            .map(|r| room_name(venue, r))
            .unwrap_or_else(|| "—".into()),
        updated: timestamp(e.updated_at, tz),
    }
}

fn offer_view(o: &Offer) -> OfferView {
    OfferView {
        id: o.offer_id.clone(),
        version: o.version,
        status: serde_words(&o.status),
        valid_until: date(o.valid_until),
        lines: o
            .line_items
            .iter()
            .map(|l| LineView {
                description: l.description.clone(),
                quantity: l.quantity,
                unit: serde_words(&l.unit),
                unit_price: l.unit_price.display_chf(),
                amount: l.amount.display_chf(),
            })
            .collect(),
        subtotal: o.subtotal.display_chf(),
        vat: o.vat_included.display_chf(),
        total: o.total.display_chf(),
        deposit: o.deposit.map(|d| match o.deposit_due {
            Some(due) => format!("{}, due {}", d.display_chf(), date(due)),
            None => d.display_chf(),
        }),
    }
}

pub fn event_detail(e: &Event, venue: &Venue) -> EventDetail {
    let tz = venue.time_zone();
    let r = e.requirements();
    let dash = || "—".to_owned();
    let mut facts = vec![
        Fact {
            label: "Client",
            value: e.client_email.to_string(),
        },
        Fact {
            label: "Status",
            value: words(e.status.as_str()),
        },
        Fact {
            label: "Step",
            value: step(e.current_step),
        },
        Fact {
            label: "Waiting on",
            value: words(e.thread_state.as_str()),
        },
        Fact {
            label: "Date",
            value: match e.chosen_date {
                Some(d) if e.date_confirmed => format!("{} (confirmed)", date(d)),
                Some(d) => format!("{} (not confirmed)", date(d)),
                None => dash(),
            },
        },
        Fact {
            label: "Time",
            value: match (e.start_time, e.end_time) {
                (Some(s), Some(t)) => format!("{s}–{t}"),
                (Some(s), None) => format!("from {s}"),
                _ => dash(),
            },
        },
        Fact {
            label: "Room",
            value: e
                .locked_room_id
                .as_ref()
                .map(|id| room_name(venue, id))
                .unwrap_or_else(dash),
        },
        Fact {
            label: "Participants",
            value: r
                .number_of_participants
                .map_or_else(dash, |n| n.to_string()),
        },
        Fact {
            label: "Layout",
            value: r.seating_layout.map_or_else(dash, |l| serde_words(&l)),
        },
    ];
    if let Some(d) = r.event_duration {
        facts.push(Fact {
            label: "Requested time",
            value: format!("{}–{}", d.start, d.end),
        });
    }
    if let Some(p) = &r.preferred_room {
        facts.push(Fact {
            label: "Preferred room",
            value: room_name(venue, p),
        });
    }
    if let Some(s) = &r.special_requirements {
        facts.push(Fact {
            label: "Special requirements",
            value: s.clone(),
        });
    }
    facts.push(Fact {
        label: "Created",
        value: timestamp(e.created_at, tz),
    });
    facts.push(Fact {
        label: "Updated",
        value: timestamp(e.updated_at, tz),
    });
    EventDetail {
        id: e.event_id.to_string(),
        facts,
        offer: e.current_offer().map(offer_view),
    }
}

pub fn step_marks(current: Step) -> Vec<StepMark> {
    Step::ALL
        .into_iter()
        .map(|s| StepMark {
            number: s.number(),
            name: s.name(),
            state: match s.number().cmp(&current.number()) {
                std::cmp::Ordering::Less => "done",
                std::cmp::Ordering::Equal => "current",
                std::cmp::Ordering::Greater => "todo",
            },
        })
        .collect()
}

pub fn delivery_row(o: &OutboxRow, tz: &TimeZone) -> DeliveryRow {
    let raw = match serde_json::to_value(o.status) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::from("unknown"),
    };
    DeliveryRow {
        job_id: o.job_id.clone(),
        channel: o.channel.clone(),
        status_label: words(&raw),
        status: raw,
        due: timestamp(o.due_at, tz),
        attempts: o.attempts,
        last_error: o.last_error.clone(),
    }
}

pub fn audit_row(a: &AuditEntry, tz: &TimeZone) -> AuditRow {
    let steps = match (a.from_step, a.to_step) {
        (Some(f), Some(t)) if f != t => format!("step {} → {}", f.number(), t.number()),
        (_, Some(t)) | (Some(t), None) => format!("step {}", t.number()),
        (None, None) => String::new(),
    };
    AuditRow {
        when: timestamp(a.ts, tz),
        actor: serde_words(&a.actor),
        steps,
        reason: a.reason.clone(),
        fields: a.fields.keys().cloned().collect::<Vec<_>>().join(", "),
    }
}

pub fn status_options(selected: Option<openevent_core::event::Status>) -> Vec<Opt> {
    openevent_core::event::Status::ALL
        .into_iter()
        .map(|s| Opt {
            value: s.as_str().to_owned(),
            label: words(s.as_str()),
            selected: Some(s) == selected,
        })
        .collect()
}

pub fn step_options(selected: Option<Step>) -> Vec<Opt> {
    Step::ALL
        .into_iter()
        .map(|s| Opt {
            value: s.number().to_string(),
            label: s.to_string(),
            selected: Some(s) == selected,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_swiss() {
        assert_eq!(date(jiff::civil::date(2027, 3, 7)), "07.03.2027");
        let tz = TimeZone::get("Europe/Zurich").unwrap();
        let ts: Timestamp = "2026-11-23T08:00:00Z".parse().unwrap();
        assert_eq!(timestamp(ts, &tz), "23.11.2026 09:00");
    }

    #[test]
    fn the_progress_marks_steps_before_at_and_after_the_current_one() {
        let marks = step_marks(Step::Offer);
        assert_eq!(marks.len(), 7);
        let states: Vec<&str> = marks.iter().map(|m| m.state).collect();
        assert_eq!(
            states,
            ["done", "done", "done", "current", "todo", "todo", "todo"]
        );
        assert_eq!((marks[3].number, marks[3].name), (4, "Offer"));
    }

    #[test]
    fn names_read_as_words() {
        assert_eq!(words("client_reply"), "Client reply");
        assert_eq!(words(""), "");
    }
}
