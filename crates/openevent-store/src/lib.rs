//! openevent's storage interface and its SQL implementation.
//!
//! The [`Store`] trait is what the shell talks to; the core never sees it. [`SqlStore`] implements
//! it once, with SQL kept portable between SQLite and PostgreSQL (`$N` placeholders, no
//! backend-only syntax in shared statements); each backend has its own migrations folder.
//! Every write that belongs to one processed input happens in one transaction.

mod codec;
mod error;
mod open;
mod sql;

use std::collections::BTreeMap;
use std::future::Future;

use jiff::Timestamp;
use openevent_core::AuditEntry;
use openevent_core::client::{ClientContext, ClientProfile, HistoryEntry};
use openevent_core::effects::{Draft, HilTask, TurnResult};
use openevent_core::event::Event;
use openevent_core::ids::{ClientEmail, EventId, MessageId, OrgSlug};
use openevent_core::message::InboundMessage;

pub use error::StoreError;
pub use open::{Backend, DatabaseUrl};
pub use sql::SqlStore;

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

/// Everything one inbound message changes, committed together or not at all.
#[derive(Debug, Clone, Copy)]
pub struct IngestCommit<'a> {
    pub org: &'a OrgSlug,
    pub message: &'a InboundMessage,
    pub raw: &'a [u8],
    pub received_at: Timestamp,
    pub profile: &'a ClientProfile,
    pub history: &'a HistoryEntry,
    pub event: Option<EventWrite<'a>>,
    pub audit: &'a [AuditEntry],
    pub drafts: &'a [Draft],
    pub tasks: &'a [HilTask],
    pub result: &'a TurnResult,
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

    /// Row counts per table, for operators (no tenant data).
    fn table_counts(
        &self,
    ) -> impl Future<Output = Result<BTreeMap<String, i64>, StoreError>> + Send;
}
