//! openevent's storage interface and its SQL implementation.
//!
//! The [`Store`] trait is what the shell talks to; the core never sees it. [`SqlStore`] implements
//! it once, with SQL kept portable between SQLite and PostgreSQL (`$N` placeholders, no
//! backend-only syntax in shared statements); each backend has its own migrations folder.
//! Every write that belongs to one processed input happens in one transaction.

mod automation;
mod calendar_cache;
mod codec;
mod db;
mod error;
mod migrate;
mod open;
mod outbox;
mod postgres;
mod reads;
mod sql;
mod sqlite;
pub mod testing;
mod transfer;
mod worker;
mod writes;

use std::collections::BTreeMap;
use std::future::Future;

use jiff::Timestamp;
use jiff::civil::Date;
use openevent_core::AuditEntry;
use openevent_core::calendar::Occupancy;
use openevent_core::client::{ClientContext, ClientProfile, HistoryEntry};
use openevent_core::effects::{Draft, HilTask, TaskStatus, TurnResult};
use openevent_core::event::Event;
use openevent_core::ids::{ClientEmail, EventId, MessageId, OrgSlug, TaskId};
use openevent_core::message::InboundMessage;
use openevent_core::workflow::OutboxEmail;
use serde::Serialize;

pub use automation::{AutomationChanges, AutomationSetup, BookingAutomation, WorkflowVersion};
pub use error::{StoreError, unavailable_reason};
pub use open::{Backend, DatabaseUrl, StoreOptions};
pub use sql::{Column, ColumnType, SqlStore};
pub use transfer::{ExportReport, ImportReport};

/// A booking record with the version it was read at (for optimistic concurrency).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub event: Event,
    pub version: i64,
}

/// How the event of a turn is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventWrite<'a> {
    Insert(&'a Event),
    /// Update only if the stored version still equals `expected_version`.
    Update {
        event: &'a Event,
        expected_version: i64,
    },
}

impl<'a> EventWrite<'a> {
    /// The booking as written.
    pub fn event(self) -> &'a Event {
        match self {
            EventWrite::Insert(e) | EventWrite::Update { event: e, .. } => e,
        }
    }
}

/// Everything one inbound message changes, committed together or not at all.
#[derive(Debug, Clone, Copy)]
pub struct IngestCommit<'a> {
    pub org: &'a OrgSlug,
    pub message: &'a InboundMessage,
    pub raw: &'a [u8],
    pub received_at: Timestamp,
    pub profile: &'a ClientProfile,
    /// False when the stored profile is already this one (nothing to write).
    pub profile_changed: bool,
    pub history: &'a HistoryEntry,
    pub event: Option<EventWrite<'a>>,
    pub audit: &'a [AuditEntry],
    pub drafts: &'a [Draft],
    pub tasks: &'a [HilTask],
    /// Pending tasks this turn replaced.
    pub superseded: &'a [TaskId],
    pub outbox: &'a [OutboxEmail],
    pub result: &'a TurnResult,
    /// The other bookings the turn saw holding the booking's room around its date (see
    /// [`StoreError::CalendarChanged`]).
    pub calendar_seen: &'a [EventId],
    /// What the booking write changes in automation (jobs scheduled, cancelled, re-armed).
    pub automation: Option<&'a AutomationChanges>,
}

/// The task a manager decided.
#[derive(Debug, Clone, Copy)]
pub struct TaskDecision<'a> {
    pub task_id: &'a TaskId,
    pub status: TaskStatus,
    pub notes: Option<&'a str>,
    pub reject_reason: Option<&'a str>,
    pub edited_body: Option<&'a str>,
}

/// A change that did not come from a client message (a manager's decision, a payment) and
/// everything it caused, committed together.
#[derive(Debug, Clone, Copy)]
pub struct DecisionCommit<'a> {
    pub org: &'a OrgSlug,
    /// The task decided, if the change is a decision.
    pub decided: Option<TaskDecision<'a>>,
    pub at: Timestamp,
    pub event: Option<EventWrite<'a>>,
    pub audit: &'a [AuditEntry],
    pub drafts: &'a [Draft],
    pub tasks: &'a [HilTask],
    pub superseded: &'a [TaskId],
    pub outbox: &'a [OutboxEmail],
    /// The other bookings the decision saw holding the booking's room around its date.
    pub calendar_seen: &'a [EventId],
    pub automation: Option<&'a AutomationChanges>,
}

/// A task as the manager's inbox shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskView {
    #[serde(flatten)]
    pub task: HilTask,
    pub draft: Option<DraftText>,
    pub client_email: Option<ClientEmail>,
    pub decided_at: Option<Timestamp>,
    pub notes: Option<String>,
    pub reject_reason: Option<String>,
    pub edited_body: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DraftText {
    pub subject: String,
    pub body: String,
}

/// Which tasks to list.
#[derive(Debug, Clone, Copy, Default)]
pub struct TaskFilter<'a> {
    pub status: Option<TaskStatus>,
    pub event_id: Option<&'a EventId>,
    pub limit: u32,
}

/// What an API token may do in its organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything of the organization.
    Viewer,
    /// Reads, approves, rejects and edits.
    Manager,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Manager => "manager",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "manager" => Some(Role::Manager),
            _ => None,
        }
    }
}

/// A stored API token (its secret is not kept, only a hash of it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenRecord {
    pub token_id: String,
    pub org: OrgSlug,
    pub role: Role,
    pub name: String,
    pub created_at: Timestamp,
}

/// Which bookings to list.
#[derive(Debug, Clone, Copy, Default)]
pub struct EventFilter<'a> {
    pub status: Option<openevent_core::event::Status>,
    pub step: Option<openevent_core::event::Step>,
    /// Part of the client's email address or of the event id.
    pub q: Option<&'a str>,
    pub limit: u32,
    pub offset: u32,
}

/// A booking as a list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventListItem {
    pub event_id: EventId,
    pub client_email: ClientEmail,
    pub status: openevent_core::event::Status,
    pub current_step: openevent_core::event::Step,
    pub chosen_date: Option<Date>,
    pub locked_room_id: Option<openevent_core::ids::RoomId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// An outbox job a dispatcher claimed: it holds the lease until `lease_until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedJob {
    pub org: OrgSlug,
    pub job_id: String,
    pub event_id: Option<EventId>,
    pub channel: String,
    pub delivery_key: String,
    pub kind: JobKind,
    /// The job's JSON payload (for email replies an `OutboxEmail`, for automation a `Job`).
    pub payload: String,
    /// This attempt's number (1 for the first); finishing is fenced by it.
    pub attempt: u32,
}

/// What an outbox job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// An approved reply of the booking workflow.
    Reply,
    /// A step of an automation workflow (reminder, follow-up, task, webhook).
    Automation,
}

/// One claimed attempt's outcome, for [`Store::finish_jobs`].
#[derive(Debug, Clone)]
pub struct FinishedJob {
    pub job: ClaimedJob,
    pub result: JobResult,
    /// The job's new payload, when it changed.
    pub payload: Option<String>,
    pub audit: Option<AuditEntry>,
}

/// How a claimed job's attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobResult {
    Sent,
    /// Transient failure: try again at `at`.
    Retry {
        at: Timestamp,
        error: String,
    },
    /// Permanent failure, or out of attempts.
    Dead {
        error: String,
    },
    /// Not sent, for good: the booking moved on (cancelled, anchor moved).
    Skipped {
        reason: String,
    },
    /// Not sent, for good: a stop-when goal was reached.
    Cancelled {
        reason: String,
    },
    /// Not sent yet (quiet hours, not due): looked at again at `until`; the attempt does not
    /// count.
    Deferred {
        until: Timestamp,
        reason: String,
    },
}

/// An outbox job as an operator lists it (no message content).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboxRow {
    pub job_id: String,
    pub event_id: Option<EventId>,
    pub channel: String,
    pub status: openevent_automation::job::JobStatus,
    pub due_at: Timestamp,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub delivery_key: String,
}

/// What processing an inbound message reads first.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundLookup {
    /// The stored result, when this message was processed before.
    pub previous: Option<TurnResult>,
    pub profile: Option<ClientProfile>,
    /// The booking the message's thread belongs to.
    pub thread: Option<StoredEvent>,
    /// The revision of the organization's own venue, if it has one.
    pub venue_revision: Option<i64>,
}

/// Sorts bookings by date (as the workflow's availability checks need them) and drops the
/// duplicates that overlapping date ranges return.
pub fn sort_occupancy(occupancy: &mut Vec<Occupancy>) {
    occupancy.sort_by(|a, b| (a.date, &a.event_id).cmp(&(b.date, &b.event_id)));
    occupancy.dedup();
}

/// What a workflow turn looks at besides the booking.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TurnContext {
    /// Sorted by date, without duplicates; at least the asked ranges (a backend may answer with
    /// more, shared between turns).
    pub occupancy: std::sync::Arc<Vec<Occupancy>>,
    /// The organization's automation, when it has any.
    pub automation: Option<std::sync::Arc<AutomationSetup>>,
    /// The booking's automation state (only with a booking and an automation setup).
    pub booking_automation: Option<BookingAutomation>,
    pub pending_tasks: Vec<HilTask>,
    pub thread: Vec<MessageId>,
    pub client_name: Option<String>,
    pub client_phone: Option<String>,
}

/// Aggregate counts for metrics (no tenant data).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OperationalCounts {
    pub outbox_by_status: BTreeMap<String, i64>,
    pub pending_tasks: i64,
}

/// The storage interface. Every read and write is scoped by organization, and client lookups by
/// client: no method can return another tenant's or another client's rows.
pub trait Store: Send + Sync + 'static {
    /// The schema version the database is at.
    fn schema_version(&self) -> impl Future<Output = Result<i64, StoreError>> + Send;

    /// The stored result of an inbound message already processed, if any.
    fn find_message_result(
        &self,
        org: &OrgSlug,
        message_id: &MessageId,
    ) -> impl Future<Output = Result<Option<TurnResult>, StoreError>> + Send;

    fn load_profile(
        &self,
        org: &OrgSlug,
        client: &ClientEmail,
    ) -> impl Future<Output = Result<Option<ClientProfile>, StoreError>> + Send;

    /// The booking of `client` that one of `parents` (message ids, nearest first) belongs to.
    fn find_thread_event(
        &self,
        org: &OrgSlug,
        client: &ClientEmail,
        parents: &[&MessageId],
    ) -> impl Future<Output = Result<Option<StoredEvent>, StoreError>> + Send;

    fn load_event(
        &self,
        org: &OrgSlug,
        event_id: &EventId,
    ) -> impl Future<Output = Result<Option<StoredEvent>, StoreError>> + Send;

    /// The event's audit trail, oldest first.
    fn event_audit(
        &self,
        org: &OrgSlug,
        event_id: &EventId,
    ) -> impl Future<Output = Result<Vec<AuditEntry>, StoreError>> + Send;

    /// The client's context snapshot, or `None` for an unknown client.
    fn client_context(
        &self,
        org: &OrgSlug,
        client: &ClientEmail,
    ) -> impl Future<Output = Result<Option<ClientContext>, StoreError>> + Send;

    /// Commits one processed inbound message. Fails with [`StoreError::DuplicateMessage`] when the
    /// message was committed before and [`StoreError::Conflict`] when the event changed since it
    /// was read; in both cases nothing was written.
    fn commit_ingest(
        &self,
        commit: IngestCommit<'_>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// `option` and `confirmed` bookings with a locked room on dates within `from..=to`.
    fn occupancy(
        &self,
        org: &OrgSlug,
        from: Date,
        to: Date,
    ) -> impl Future<Output = Result<Vec<Occupancy>, StoreError>> + Send;

    /// Tasks, newest first.
    fn list_tasks(
        &self,
        org: &OrgSlug,
        filter: TaskFilter<'_>,
    ) -> impl Future<Output = Result<Vec<TaskView>, StoreError>> + Send;

    /// One task with its draft.
    fn load_task(
        &self,
        org: &OrgSlug,
        task_id: &TaskId,
    ) -> impl Future<Output = Result<Option<(HilTask, Option<Draft>)>, StoreError>> + Send;

    /// The message ids of a booking's thread (in and out), oldest first.
    fn thread_message_ids(
        &self,
        org: &OrgSlug,
        event_id: &EventId,
    ) -> impl Future<Output = Result<Vec<MessageId>, StoreError>> + Send;

    /// Commits a decision (or another change without a message). Fails with
    /// [`StoreError::TaskNotPending`] when another decision on the task came first and
    /// [`StoreError::Conflict`] when the booking changed since it was read; nothing is written then.
    fn commit_decision(
        &self,
        commit: DecisionCommit<'_>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores a new API token (by its hash), creating the organization if needed.
    fn create_token(
        &self,
        record: &TokenRecord,
        token_hash: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The live token with this hash.
    fn find_token(
        &self,
        token_hash: &str,
    ) -> impl Future<Output = Result<Option<TokenRecord>, StoreError>> + Send;

    /// The organization's bookings, newest first.
    fn list_events(
        &self,
        org: &OrgSlug,
        filter: EventFilter<'_>,
    ) -> impl Future<Output = Result<Vec<EventListItem>, StoreError>> + Send;

    /// Claims up to `limit` due jobs (or jobs whose lease expired) of every organization on the
    /// given channels, each with a lease until `lease_until`.
    fn claim_due(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
        channels: &[&str],
    ) -> impl Future<Output = Result<Vec<ClaimedJob>, StoreError>> + Send;

    /// Records how a claimed attempt ended (with the job's new payload, if it changed), with its
    /// audit entry on the booking, in one transaction. Fails with [`StoreError::LeaseLost`] when the lease expired and another
    /// attempt took the job (nothing is written then).
    fn finish_job(
        &self,
        job: &ClaimedJob,
        result: &JobResult,
        payload: Option<&str>,
        audit: Option<&AuditEntry>,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// [`Store::finish_job`] for many attempts in one transaction (one disk sync for a batch).
    /// Each answer is `Ok` or [`StoreError::LeaseLost`] for that job alone; another error fails
    /// the whole batch.
    fn finish_jobs(
        &self,
        finished: Vec<FinishedJob>,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<Result<(), StoreError>>, StoreError>> + Send;

    /// When the next job becomes due (or a lease expires), if any is waiting.
    fn next_due(&self) -> impl Future<Output = Result<Option<Timestamp>, StoreError>> + Send;

    /// The organization's outbox, newest due first.
    fn list_outbox(
        &self,
        org: &OrgSlug,
        status: Option<openevent_automation::job::JobStatus>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<OutboxRow>, StoreError>> + Send;

    /// [`Store::find_message_result`], [`Store::load_profile`] and [`Store::find_thread_event`]
    /// together (a backend may answer them in one round trip).
    fn inbound_lookup(
        &self,
        org: &OrgSlug,
        message_id: &MessageId,
        client: &ClientEmail,
        parents: &[&MessageId],
    ) -> impl Future<Output = Result<InboundLookup, StoreError>> + Send {
        async move {
            Ok(InboundLookup {
                previous: self.find_message_result(org, message_id).await?,
                profile: self.load_profile(org, client).await?,
                thread: self.find_thread_event(org, client, parents).await?,
                venue_revision: self.venue_revision(org).await?,
            })
        }
    }

    /// The occupancy of each date range (deduplicated), and for a booking its pending tasks,
    /// thread and client name, together (a backend may answer them in one round trip).
    fn turn_context(
        &self,
        org: &OrgSlug,
        ranges: &[(Date, Date)],
        event: Option<(&EventId, &ClientEmail)>,
    ) -> impl Future<Output = Result<TurnContext, StoreError>> + Send {
        async move {
            let mut out = TurnContext::default();
            let mut occupancy = Vec::new();
            for (from, to) in ranges {
                occupancy.extend(self.occupancy(org, *from, *to).await?);
            }
            sort_occupancy(&mut occupancy);
            out.occupancy = std::sync::Arc::new(occupancy);
            if let Some((event_id, client)) = event {
                out.pending_tasks = self
                    .list_tasks(
                        org,
                        TaskFilter {
                            status: Some(TaskStatus::Pending),
                            event_id: Some(event_id),
                            limit: 1000,
                        },
                    )
                    .await?
                    .into_iter()
                    .map(|v| v.task)
                    .collect();
                out.thread = self.thread_message_ids(org, event_id).await?;
                let profile = self.load_profile(org, client).await?;
                out.client_phone = profile.as_ref().and_then(|p| p.phone.clone());
                out.client_name = profile.and_then(|p| p.name);
            }
            Ok(out)
        }
    }

    /// The organization's automation setup, `None` when it has none.
    fn automation_setup(
        &self,
        org: &OrgSlug,
    ) -> impl Future<Output = Result<Option<std::sync::Arc<AutomationSetup>>, StoreError>> + Send;

    /// One booking's automation record, override and jobs.
    fn booking_automation(
        &self,
        org: &OrgSlug,
        event_id: &EventId,
    ) -> impl Future<Output = Result<BookingAutomation, StoreError>> + Send;

    /// The revision of the organization's own venue (`None`: it uses the server's venue).
    fn venue_revision(
        &self,
        org: &OrgSlug,
    ) -> impl Future<Output = Result<Option<i64>, StoreError>> + Send;

    /// The organization's own venue and its revision.
    fn load_venue(
        &self,
        org: &OrgSlug,
    ) -> impl Future<Output = Result<Option<(i64, openevent_core::venue::VenueSpec)>, StoreError>> + Send;

    /// Stores the organization's venue (validated by the caller); answers the new revision.
    fn save_venue(
        &self,
        org: &OrgSlug,
        spec: &openevent_core::venue::VenueSpec,
        now: Timestamp,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;

    /// The booking's automation record and override without its jobs (what the dispatcher
    /// checks before sending).
    fn automation_head(
        &self,
        org: &OrgSlug,
        event_id: &EventId,
    ) -> impl Future<Output = Result<BookingAutomation, StoreError>> + Send;

    /// Stores a workflow as its key's next version (unless unchanged); answers the current
    /// version.
    fn save_workflow(
        &self,
        org: &OrgSlug,
        workflow: &openevent_automation::Workflow,
        now: Timestamp,
    ) -> impl Future<Output = Result<u32, StoreError>> + Send;

    /// Every stored version of every workflow, by key then version.
    fn workflow_versions(
        &self,
        org: &OrgSlug,
    ) -> impl Future<Output = Result<Vec<WorkflowVersion>, StoreError>> + Send;

    fn save_automation_settings(
        &self,
        org: &OrgSlug,
        settings: &openevent_automation::OrgSettings,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn save_rule(
        &self,
        org: &OrgSlug,
        rule: &openevent_automation::assignment::AssignmentRule,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Fails with [`StoreError::NotFound`] for an unknown rule.
    fn delete_rule(
        &self,
        org: &OrgSlug,
        rule_id: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Sets (or with `None` removes) a manager's workflow override for a booking.
    fn set_override(
        &self,
        org: &OrgSlug,
        event_id: &EventId,
        value: Option<&openevent_automation::assignment::Override>,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Bookings whose event or site visit ended by `now` and whose completion did not fire yet.
    fn due_completions(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<(OrgSlug, EventId)>, StoreError>> + Send;

    /// Commits automation changes that come without a booking write (completions), with their
    /// audit entries.
    fn commit_automation(
        &self,
        org: &OrgSlug,
        changes: &AutomationChanges,
        audit: &[AuditEntry],
        now: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Puts a dead job back in the queue, due at `now` with a fresh attempt count; fails with
    /// [`StoreError::NotFound`] unless the job is dead.
    fn requeue_job(
        &self,
        org: &OrgSlug,
        job_id: &str,
        audit: &AuditEntry,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Gives up a dead job for good (status `cancelled`, reason kept); fails with
    /// [`StoreError::NotFound`] unless the job is dead.
    fn abandon_job(
        &self,
        org: &OrgSlug,
        job_id: &str,
        audit: &AuditEntry,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Automation jobs per workflow key and status (delivery statistics).
    fn automation_stats(
        &self,
        org: &OrgSlug,
    ) -> impl Future<
        Output = Result<Vec<(String, openevent_automation::job::JobStatus, i64)>, StoreError>,
    > + Send;

    /// Outbox jobs per status and pending tasks, over all organizations (counts only, for
    /// metrics).
    fn operational_counts(
        &self,
    ) -> impl Future<Output = Result<OperationalCounts, StoreError>> + Send;

    /// Row counts per table, for operators (no tenant data).
    fn table_counts(
        &self,
    ) -> impl Future<Output = Result<BTreeMap<String, i64>, StoreError>> + Send;
}
