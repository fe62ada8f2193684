//! The SQL implementation of [`Store`]. Statements use `$N` placeholders and portable SQL
//! (`ON CONFLICT … DO NOTHING/UPDATE`, `LIMIT`), valid on SQLite and PostgreSQL alike. Each
//! method's logic runs as one unit on the connection's thread (see `sqlite.rs`).

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use jiff::Timestamp;
use jiff::civil::Date;
use openevent_automation::job::JobStatus;
use openevent_core::AuditEntry;
use openevent_core::calendar::{Occupancy, Window};
use openevent_core::client::{ClientContext, ClientProfile, EventSummary, HistoryEntry};
use openevent_core::effects::{Draft, HilTask, TaskStatus, TurnResult};
use openevent_core::event::{Event, Status, TimeOfDay};
use openevent_core::ids::{ClientEmail, EventId, MessageId, OrgSlug, RoomId, TaskId};
use openevent_core::understanding::Confidence;

use crate::automation::{
    self, AutomationChanges, AutomationSetup, BookingAutomation, SetupCache, WorkflowVersion,
};
use crate::calendar_cache::{CalendarCache, occupancy_of};
use crate::codec::{enum_from_text, enum_text, from_json, from_micros, micros, to_json};
use crate::db::{Conn, Plan, Row, Stmt, Value, execute_plan, params};
use crate::open::{self, Backend, DatabaseUrl, StoreOptions};
use crate::outbox;
use crate::reads::{self, DRAFT_COLUMNS, TASK_COLUMNS, step_from_column};
use crate::worker::{BoxConn, Connect, Worker};
use crate::{
    ClaimedJob, DecisionCommit, DraftText, EventFilter, EventListItem, InboundLookup, IngestCommit,
    JobResult, OperationalCounts, OutboxRow, Role, Store, StoreError, StoredEvent, TaskFilter,
    TaskView, TokenRecord, TurnContext, writes,
};

/// Tables, in the order an operator reads them.
const TABLES: [&str; 9] = [
    "organizations",
    "clients",
    "events",
    "messages",
    "history",
    "audit",
    "drafts",
    "tasks",
    "outbox",
];

#[derive(Debug, Clone)]
pub struct SqlStore {
    pub(crate) db: Arc<Worker>,
    backend: Backend,
    /// Woken when outbox work arrives: this process's own commits, and on PostgreSQL every
    /// process's (LISTEN/NOTIFY).
    outbox_signal: Arc<tokio::sync::Notify>,
    /// Stops the PostgreSQL listener thread when the store closes.
    stop_listening: Arc<std::sync::atomic::AtomicBool>,
    /// Organizations known to exist, so a turn need not re-insert its organization.
    known_orgs: Arc<Mutex<HashSet<String>>>,
    pub(crate) calendar: Arc<CalendarCache>,
    setups: Arc<SetupCache>,
}

/// A column as both backends describe it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Column {
    pub name: String,
    pub ty: ColumnType,
    pub required: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ColumnType {
    Integer,
    Text,
    Bytes,
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

impl SqlStore {
    /// Opens (creating a SQLite file on first use), verifies and migrates the database.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_with(url, &StoreOptions::default()).await
    }

    /// [`SqlStore::open`] with pool, timeout and retry settings (used by PostgreSQL).
    pub async fn open_with(url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        let url = DatabaseUrl::parse(url)?;
        let backend = url.backend();
        let outbox_signal = Arc::new(tokio::sync::Notify::new());
        let stop_listening = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let options = options.clone();
        let (signal, stop) = (Arc::clone(&outbox_signal), Arc::clone(&stop_listening));
        // Connecting blocks (and the PostgreSQL driver runs its own runtime), so it happens on a
        // thread of its own.
        let worker = std::thread::spawn(move || -> Result<Worker, StoreError> {
            match backend {
                Backend::Sqlite => {
                    let conn: BoxConn = Box::new(open::connect_sqlite(&url)?);
                    // One connection, one writer: queued transactions share commits.
                    Worker::spawn(vec![conn], None, true)
                }
                Backend::Postgres => {
                    let settings = url.postgres_settings(&options)?;
                    let first: BoxConn =
                        Box::new(open::connect_postgres(&url, &settings, &options)?);
                    if options.listen {
                        crate::postgres::spawn_listener(settings.clone(), signal, stop)?;
                    }
                    let connect: Connect = Arc::new(move || {
                        Ok(Box::new(crate::postgres::PgConn::connect(&settings)?) as BoxConn)
                    });
                    // PostgreSQL groups concurrent commits itself.
                    Worker::spawn(
                        vec![first],
                        Some((connect, options.pool_size.max(1))),
                        false,
                    )
                }
            }
        });
        let worker = tokio::task::spawn_blocking(move || worker.join())
            .await
            .map_err(|e| StoreError::Internal(e.to_string()))?
            .map_err(|_| StoreError::Internal("opening the database panicked".into()))??;
        Ok(Self {
            db: Arc::new(worker),
            backend,
            outbox_signal,
            stop_listening,
            known_orgs: Arc::default(),
            calendar: Arc::default(),
            setups: Arc::default(),
        })
    }

    /// Every table's columns as (name, portable type, not null), by table: what the schema
    /// comparison between the backends and the export/import compare.
    pub async fn schema(&self) -> Result<BTreeMap<String, Vec<Column>>, StoreError> {
        self.db
            .run(|c| {
                let sql = match c.backend() {
                    Backend::Sqlite => {
                        "SELECT m.name AS tbl, p.name AS col, p.type AS ty, \
                         (p.\"notnull\" <> 0 OR p.pk > 0) AS required \
                         FROM sqlite_master m JOIN pragma_table_info(m.name) p \
                         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, p.cid"
                    }
                    Backend::Postgres => {
                        "SELECT table_name::TEXT AS tbl, column_name::TEXT AS col, data_type::TEXT AS ty, \
                         (is_nullable = 'NO') AS required FROM information_schema.columns \
                         WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
                    }
                };
                let mut out: BTreeMap<String, Vec<Column>> = BTreeMap::new();
                for row in c.query(sql, &[])? {
                    let ty = row.text("ty")?.to_ascii_lowercase();
                    let ty = match ty.as_str() {
                        "integer" | "bigint" | "int8" => ColumnType::Integer,
                        "text" => ColumnType::Text,
                        "blob" | "bytea" => ColumnType::Bytes,
                        other => return Err(StoreError::Corrupt(format!("unexpected column type {other}"))),
                    };
                    out.entry(row.text("tbl")?).or_default().push(Column {
                        name: row.text("col")?,
                        ty,
                        required: row.int("required")? != 0,
                    });
                }
                Ok(out)
            })
            .await
    }

    /// Notified when outbox work may have arrived (own commits; on PostgreSQL any process's).
    pub fn outbox_signal(&self) -> Arc<tokio::sync::Notify> {
        Arc::clone(&self.outbox_signal)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The newest schema version this build knows.
    pub fn known_schema_version() -> i64 {
        open::known_version()
    }

    /// Waits for queued work, then closes the database.
    pub async fn close(&self) {
        self.stop_listening
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let db = Arc::clone(&self.db);
        let _ = tokio::task::spawn_blocking(move || db.close()).await;
    }

    fn org_known(&self, org: &str) -> bool {
        self.known_orgs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(org)
    }

    fn remember_org(&self, org: &str) {
        self.known_orgs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(org.to_owned());
    }

    /// Runs a write plan in one transaction.
    async fn commit_plan(&self, plan: Plan) -> Result<(), StoreError> {
        let wakes = adds_outbox_work(&plan);
        self.db.transaction(move |c| execute_plan(c, plan)).await?;
        self.wake_dispatcher(wakes);
        Ok(())
    }

    /// Tells this process's dispatcher that a commit added outbox work (other processes hear
    /// of it through PostgreSQL's NOTIFY).
    pub(crate) fn wake_dispatcher(&self, wakes: bool) {
        if wakes {
            self.outbox_signal.notify_one();
        }
    }

    /// Runs a write plan that may write a booking; once committed, the in-memory calendar learns
    /// the booking's new place (on the connection's thread, before any other work runs there).
    async fn commit_booking_plan(
        &self,
        org: &OrgSlug,
        plan: Plan,
        write: Option<crate::EventWrite<'_>>,
        calendar_seen: &[EventId],
    ) -> Result<(), StoreError> {
        let Some(write) = write else {
            return self.commit_plan(plan).await;
        };
        let event = write.event();
        let held = occupancy_of(event);
        let seen: Vec<String> = calendar_seen.iter().map(|e| e.to_string()).collect();
        let change = vec![(event.event_id.clone(), held.clone())];
        let (org, calendar) = (org.to_string(), Arc::clone(&self.calendar));
        let wakes = adds_outbox_work(&plan);
        let org_of_change = org.clone();
        self.db
            .transaction_then(
                move |c| {
                    if let Some(o) = &held {
                        check_room_unchanged(c, &org, o, &seen)?;
                    }
                    execute_plan(c, plan)
                },
                move |()| calendar.apply(&org_of_change, &change),
            )
            .await?;
        self.wake_dispatcher(wakes);
        Ok(())
    }
}

fn adds_outbox_work(plan: &Plan) -> bool {
    plan.iter().any(|s| s.sql.starts_with("INSERT INTO outbox"))
}

fn venue_revision(c: &mut dyn Conn, org: &str) -> Result<Option<i64>, StoreError> {
    c.query_opt(
        "SELECT revision FROM venues WHERE org_id = $1",
        &params![org],
    )?
    .map(|r| r.int("revision"))
    .transpose()
}

fn event_by_id(
    c: &mut dyn Conn,
    org: &str,
    event_id: &str,
) -> Result<Option<StoredEvent>, StoreError> {
    c.query_opt(
        "SELECT record, version FROM events WHERE org_id = $1 AND event_id = $2",
        &params![org, event_id],
    )?
    .map(|row| stored_event(&row))
    .transpose()
}

fn stored_event(row: &Row) -> Result<StoredEvent, StoreError> {
    let event: Event = from_json("event record", &row.text("record")?)?;
    if !event.hashes_consistent() {
        return Err(StoreError::Corrupt(format!(
            "event {}: requirements_hash does not match its requirements",
            event.event_id
        )));
    }
    Ok(StoredEvent {
        event,
        version: row.int("version")?,
    })
}

fn history_entry(row: &Row) -> Result<HistoryEntry, StoreError> {
    let pm = row.int("confidence_pm")?;
    Ok(HistoryEntry {
        msg_id: MessageId::parse(&row.text("msg_id")?).map_err(corrupt)?,
        ts: from_micros(row.int("ts")?)?,
        subject: row.text("subject")?,
        body_preview: row.text("body_preview")?,
        intent: enum_from_text("intent", &row.text("intent")?)?,
        confidence: Confidence::from_per_mille(u16::try_from(pm.clamp(0, 1000)).unwrap_or(0)),
    })
}

fn load_profile(
    c: &mut dyn Conn,
    org: &str,
    client: &str,
) -> Result<Option<ClientProfile>, StoreError> {
    c.query_opt(
        "SELECT profile FROM clients WHERE org_id = $1 AND email = $2",
        &params![org, client],
    )?
    .map(|row| from_json("client profile", &row.text("profile")?))
    .transpose()
}

fn client_context(
    c: &mut dyn Conn,
    org: &str,
    client: &ClientEmail,
) -> Result<Option<ClientContext>, StoreError> {
    let Some(profile) = load_profile(c, org, client.as_str())? else {
        return Ok(None);
    };
    let rows = c.query(
        "SELECT msg_id, ts, subject, body_preview, intent, confidence_pm FROM history \
         WHERE org_id = $1 AND client_email = $2 ORDER BY id DESC LIMIT 5",
        &params![org, client.as_str()],
    )?;
    let mut history = rows
        .iter()
        .map(history_entry)
        .collect::<Result<Vec<_>, _>>()?;
    history.reverse();
    // The latest event is the booking the client most recently wrote about.
    let last = c.query_opt(
        "SELECT event_id FROM history \
         WHERE org_id = $1 AND client_email = $2 AND event_id IS NOT NULL ORDER BY id DESC LIMIT 1",
        &params![org, client.as_str()],
    )?;
    let last_event = match last {
        Some(row) => event_by_id(c, org, &row.text("event_id")?)?
            .filter(|s| &s.event.client_email == client)
            .map(|s| EventSummary::from(&s.event)),
        None => None,
    };
    Ok(Some(ClientContext::build(profile, history, last_event)))
}

fn message_result(
    c: &mut dyn Conn,
    org: &str,
    id: &MessageId,
) -> Result<Option<TurnResult>, StoreError> {
    let Some(row) = c.query_opt(
        "SELECT result FROM messages WHERE org_id = $1 AND message_id = $2 AND direction = 'inbound'",
        &params![org, id.as_str()],
    )?
    else {
        return Ok(None);
    };
    let text = row
        .opt_text("result")?
        .ok_or_else(|| StoreError::Corrupt(format!("message {id} has no stored result")))?;
    Ok(Some(from_json("turn result", &text)?))
}

/// The booking of `client` that the nearest of `parents` belongs to.
fn thread_event(
    c: &mut dyn Conn,
    org: &str,
    client: &str,
    parents: &[String],
) -> Result<Option<StoredEvent>, StoreError> {
    for parent in parents {
        let row = c.query_opt(
            "SELECT event_id FROM messages \
             WHERE org_id = $1 AND client_email = $2 AND message_id = $3 AND event_id IS NOT NULL",
            &params![org, client, parent.as_str()],
        )?;
        if let Some(row) = row {
            return event_by_id(c, org, &row.text("event_id")?);
        }
    }
    Ok(None)
}

pub(crate) fn occupancy(
    c: &mut dyn Conn,
    org: &str,
    from: Date,
    to: Date,
) -> Result<Vec<Occupancy>, StoreError> {
    c.query(
        "SELECT event_id, locked_room_id, chosen_date, start_time, end_time FROM events \
         WHERE org_id = $1 AND status IN ('option', 'confirmed') AND locked_room_id IS NOT NULL \
         AND chosen_date >= $2 AND chosen_date <= $3",
        &params![org, from.to_string(), to.to_string()],
    )?
    .iter()
    .map(occupancy_row)
    .collect()
}

/// Inside the commit's transaction (so no other writer can slip in between): fails when a booking
/// the turn did not see now holds the same room on the day before, the day or the day after. The
/// turn then runs again and the workflow decides on the fresh calendar (buffers and windows are
/// the workflow's business, not the store's).
fn check_room_unchanged(
    c: &mut dyn Conn,
    org: &str,
    held: &Occupancy,
    seen: &[String],
) -> Result<(), StoreError> {
    // Two processes deciding bookings of the same room: the second waits here until the first
    // committed, then sees its booking.
    c.lock_key(&format!("room:{org}:{}", held.room_id.as_str()))?;
    let (from, to) = (
        held.date.yesterday().unwrap_or(held.date),
        held.date.tomorrow().unwrap_or(held.date),
    );
    let rows = c.query(
        "SELECT event_id FROM events \
         WHERE org_id = $1 AND status IN ('option', 'confirmed') AND locked_room_id = $2 \
         AND chosen_date >= $3 AND chosen_date <= $4 AND event_id <> $5",
        &params![
            org,
            held.room_id.as_str(),
            from.to_string(),
            to.to_string(),
            held.event_id.as_str(),
        ],
    )?;
    for row in rows {
        let id = row.text("event_id")?;
        if !seen.contains(&id) {
            return Err(StoreError::CalendarChanged(held.event_id.clone()));
        }
    }
    Ok(())
}

/// Every booking of the organization that holds a room on `from` or later.
fn calendar_from(c: &mut dyn Conn, org: &str, from: Date) -> Result<Vec<Occupancy>, StoreError> {
    occupancy(c, org, from, Date::MAX)
}

fn thread_ids(c: &mut dyn Conn, org: &str, event_id: &str) -> Result<Vec<MessageId>, StoreError> {
    c.query(
        "SELECT message_id FROM messages WHERE org_id = $1 AND event_id = $2 ORDER BY received_at, message_id",
        &params![org, event_id],
    )?
    .iter()
    .map(|r| MessageId::parse(&r.text("message_id")?).map_err(corrupt))
    .collect()
}

/// One statement per filter shape, so that each can use its index (a `$n IS NULL OR …` filter
/// would make SQLite scan the table).
fn tasks_query(org: &OrgSlug, filter: TaskFilter<'_>) -> (String, Vec<Value>) {
    let select = format!(
        "SELECT {TASK_COLUMNS}, d.subject AS draft_subject, d.body AS draft_body, e.client_email AS client_email \
         FROM tasks t \
         LEFT JOIN drafts d ON d.org_id = t.org_id AND d.draft_id = t.draft_id \
         LEFT JOIN events e ON e.org_id = t.org_id AND e.event_id = t.event_id"
    );
    let order = "ORDER BY t.created_at DESC, t.task_id DESC LIMIT $2";
    let limit = i64::from(if filter.limit == 0 { 100 } else { filter.limit });
    let mut params = Vec::from(params![org.as_str(), limit]);
    let mut conditions = String::from("t.org_id = $1");
    if let Some(event) = filter.event_id {
        params.push(event.as_str().into());
        conditions.push_str(&format!(" AND t.event_id = ${}", params.len()));
    }
    if let Some(status) = filter.status {
        params.push(status.as_str().into());
        conditions.push_str(&format!(" AND t.status = ${}", params.len()));
    }
    (format!("{select} WHERE {conditions} {order}"), params)
}

fn occupancy_row(row: &Row) -> Result<Occupancy, StoreError> {
    let window = match (row.opt_text("start_time")?, row.opt_text("end_time")?) {
        (Some(s), Some(e)) => Some(Window {
            start: TimeOfDay::parse(&s).map_err(corrupt)?,
            end: TimeOfDay::parse(&e).map_err(corrupt)?,
        }),
        _ => None,
    };
    Ok(Occupancy {
        event_id: EventId::parse(&row.text("event_id")?).map_err(corrupt)?,
        room_id: RoomId::parse(&row.text("locked_room_id")?).map_err(corrupt)?,
        date: row
            .text("chosen_date")?
            .parse()
            .map_err(|e: jiff::Error| corrupt(e))?,
        window,
    })
}

fn task_view(row: &Row) -> Result<TaskView, StoreError> {
    Ok(TaskView {
        task: reads::task(row)?,
        draft: row
            .opt_text("draft_subject")?
            .zip(row.opt_text("draft_body")?)
            .map(|(subject, body)| DraftText { subject, body }),
        client_email: row
            .opt_text("client_email")?
            .map(|e| ClientEmail::parse(&e))
            .transpose()
            .map_err(corrupt)?,
        decided_at: row.opt_int("decided_at")?.map(from_micros).transpose()?,
        notes: row.opt_text("notes")?,
        reject_reason: row.opt_text("reject_reason")?,
        edited_body: row.opt_text("edited_body")?,
    })
}

fn event_list_item(row: &Row) -> Result<EventListItem, StoreError> {
    let step = row.int("current_step")?;
    Ok(EventListItem {
        event_id: EventId::parse(&row.text("event_id")?).map_err(corrupt)?,
        client_email: ClientEmail::parse(&row.text("client_email")?).map_err(corrupt)?,
        status: Status::parse(&row.text("status")?).map_err(corrupt)?,
        current_step: step_from_column(Some(step))?
            .ok_or_else(|| StoreError::Corrupt(format!("step {step}")))?,
        chosen_date: row
            .opt_text("chosen_date")?
            .map(|d| d.parse().map_err(|e: jiff::Error| corrupt(e)))
            .transpose()?,
        locked_room_id: row
            .opt_text("locked_room_id")?
            .map(|r| RoomId::parse(&r))
            .transpose()
            .map_err(corrupt)?,
        created_at: from_micros(row.int("created_at")?)?,
        updated_at: from_micros(row.int("updated_at")?)?,
    })
}

fn audit_entry(row: &Row) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        ts: from_micros(row.int("ts")?)?,
        actor: enum_from_text("actor", &row.text("actor")?)?,
        from_step: step_from_column(row.opt_int("from_step")?)?,
        to_step: step_from_column(row.opt_int("to_step")?)?,
        reason: row.text("reason")?,
        fields: from_json("audit fields", &row.text("fields")?)?,
    })
}

impl Store for SqlStore {
    async fn schema_version(&self) -> Result<i64, StoreError> {
        self.db.run(|c| crate::migrate::applied_version(c)).await
    }

    async fn find_message_result(
        &self,
        org: &OrgSlug,
        message_id: &MessageId,
    ) -> Result<Option<TurnResult>, StoreError> {
        let (org, id) = (org.to_string(), message_id.clone());
        self.db.run(move |c| message_result(c, &org, &id)).await
    }

    async fn load_profile(
        &self,
        org: &OrgSlug,
        client: &ClientEmail,
    ) -> Result<Option<ClientProfile>, StoreError> {
        let (org, client) = (org.to_string(), client.to_string());
        self.db.run(move |c| load_profile(c, &org, &client)).await
    }

    async fn find_thread_event(
        &self,
        org: &OrgSlug,
        client: &ClientEmail,
        parents: &[&MessageId],
    ) -> Result<Option<StoredEvent>, StoreError> {
        if parents.is_empty() {
            return Ok(None);
        }
        let (org, client) = (org.to_string(), client.to_string());
        let parents: Vec<String> = parents.iter().map(|p| p.to_string()).collect();
        self.db
            .run(move |c| thread_event(c, &org, &client, &parents))
            .await
    }

    async fn load_event(
        &self,
        org: &OrgSlug,
        event_id: &EventId,
    ) -> Result<Option<StoredEvent>, StoreError> {
        let (org, id) = (org.to_string(), event_id.to_string());
        self.db.run(move |c| event_by_id(c, &org, &id)).await
    }

    async fn event_audit(
        &self,
        org: &OrgSlug,
        event_id: &EventId,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let (org, id) = (org.to_string(), event_id.to_string());
        self.db
            .run(move |c| {
                c.query(
                    "SELECT ts, actor, from_step, to_step, reason, fields FROM audit \
                     WHERE org_id = $1 AND event_id = $2 ORDER BY id",
                    &params![org, id],
                )?
                .iter()
                .map(audit_entry)
                .collect()
            })
            .await
    }

    async fn client_context(
        &self,
        org: &OrgSlug,
        client: &ClientEmail,
    ) -> Result<Option<ClientContext>, StoreError> {
        let (org, client) = (org.to_string(), client.clone());
        self.db.run(move |c| client_context(c, &org, &client)).await
    }

    async fn commit_ingest(&self, c: IngestCommit<'_>) -> Result<(), StoreError> {
        let org = c.org.as_str();
        let now = micros(c.received_at);
        let client = c.profile.email.as_str();
        let event_id = c.result.event_id.as_ref().map(|e| e.as_str());
        let org_known = self.org_known(org);
        let mut plan = Plan::new();
        if !org_known {
            plan.push(Stmt::new(
                "INSERT INTO organizations (org_id, name, created_at) VALUES ($1, $1, $2) \
                 ON CONFLICT (org_id) DO NOTHING",
                params![org, now],
            ));
        }
        plan.push(
            Stmt::new(
                "INSERT INTO messages (org_id, message_id, direction, client_email, event_id, subject, raw, received_at, result) \
                 VALUES ($1, $2, 'inbound', $3, $4, $5, $6, $7, $8) ON CONFLICT (org_id, message_id) DO NOTHING",
                params![
                    org,
                    c.message.message_id.as_str(),
                    client,
                    event_id,
                    c.message.subject.as_str(),
                    c.raw.to_vec(),
                    now,
                    to_json(c.result),
                ],
            )
            .or_fail(StoreError::DuplicateMessage(c.message.message_id.clone())),
        );
        if c.profile_changed {
            plan.push(Stmt::new(
                "INSERT INTO clients (org_id, email, profile, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) \
                 ON CONFLICT (org_id, email) DO UPDATE SET profile = excluded.profile, updated_at = excluded.updated_at",
                params![org, client, to_json(c.profile), now],
            ));
        }
        if let Some(write) = c.event {
            writes::event(&mut plan, c.org, write);
        }
        let h = c.history;
        plan.push(Stmt::new(
            "INSERT INTO history (org_id, client_email, msg_id, event_id, ts, subject, body_preview, intent, confidence_pm) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            params![
                org,
                client,
                h.msg_id.as_str(),
                event_id,
                micros(h.ts),
                h.subject.as_str(),
                h.body_preview.as_str(),
                enum_text(&h.intent),
                i64::from(h.confidence.per_mille()),
            ],
        ));
        if let Some(event_id) = &c.result.event_id {
            writes::audit(&mut plan, c.org, event_id, c.audit);
        }
        writes::effects(
            &mut plan,
            c.org,
            c.superseded,
            c.drafts,
            c.tasks,
            c.outbox,
            c.received_at,
        );
        if let Some(ch) = c.automation {
            automation::changes(&mut plan, c.org, ch, c.received_at);
        }
        self.commit_booking_plan(c.org, plan, c.event, c.calendar_seen)
            .await?;
        if !org_known {
            self.remember_org(org);
        }
        Ok(())
    }

    async fn occupancy(
        &self,
        org: &OrgSlug,
        from: Date,
        to: Date,
    ) -> Result<Vec<Occupancy>, StoreError> {
        let org = org.to_string();
        self.db.run(move |c| occupancy(c, &org, from, to)).await
    }

    async fn list_tasks(
        &self,
        org: &OrgSlug,
        filter: TaskFilter<'_>,
    ) -> Result<Vec<TaskView>, StoreError> {
        let (sql, params) = tasks_query(org, filter);
        self.db
            .run(move |c| c.query(&sql, &params)?.iter().map(task_view).collect())
            .await
    }

    async fn load_task(
        &self,
        org: &OrgSlug,
        task_id: &TaskId,
    ) -> Result<Option<(HilTask, Option<Draft>)>, StoreError> {
        let (org, id) = (org.to_string(), task_id.to_string());
        self.db
            .run(move |c| {
                let sql = format!(
                    "SELECT {TASK_COLUMNS} FROM tasks t WHERE t.org_id = $1 AND t.task_id = $2"
                );
                let Some(row) = c.query_opt(&sql, &params![org.as_str(), id])? else {
                    return Ok(None);
                };
                let task = reads::task(&row)?;
                let draft = match &task.draft_id {
                    None => None,
                    Some(draft_id) => {
                        let sql = format!(
                            "SELECT {DRAFT_COLUMNS} FROM drafts d WHERE d.org_id = $1 AND d.draft_id = $2"
                        );
                        c.query_opt(&sql, &params![org.as_str(), draft_id.as_str()])?
                            .map(|r| reads::draft(&r))
                            .transpose()?
                    }
                };
                Ok(Some((task, draft)))
            })
            .await
    }

    async fn thread_message_ids(
        &self,
        org: &OrgSlug,
        event_id: &EventId,
    ) -> Result<Vec<MessageId>, StoreError> {
        let (org, id) = (org.to_string(), event_id.to_string());
        self.db.run(move |c| thread_ids(c, &org, &id)).await
    }

    async fn inbound_lookup(
        &self,
        org: &OrgSlug,
        message_id: &MessageId,
        client: &ClientEmail,
        parents: &[&MessageId],
    ) -> Result<InboundLookup, StoreError> {
        let (org, id, client) = (org.to_string(), message_id.clone(), client.to_string());
        let parents: Vec<String> = parents.iter().map(|p| p.to_string()).collect();
        self.db
            .run(move |c| {
                Ok(InboundLookup {
                    previous: message_result(c, &org, &id)?,
                    profile: load_profile(c, &org, &client)?,
                    thread: thread_event(c, &org, &client, &parents)?,
                    venue_revision: venue_revision(c, &org)?,
                })
            })
            .await
    }

    async fn turn_context(
        &self,
        org: &OrgSlug,
        ranges: &[(Date, Date)],
        event: Option<(&EventId, &ClientEmail)>,
    ) -> Result<TurnContext, StoreError> {
        let from = ranges.iter().map(|r| r.0).min();
        let tasks = event.map(|(event_id, _)| {
            tasks_query(
                org,
                TaskFilter {
                    status: Some(TaskStatus::Pending),
                    event_id: Some(event_id),
                    limit: 1000,
                },
            )
        });
        let event = event.map(|(e, c)| (e.to_string(), c.to_string()));
        let org = org.to_string();
        let calendar = Arc::clone(&self.calendar);
        let setups = Arc::clone(&self.setups);
        self.db
            .run(move |c| {
                let mut out = TurnContext::default();
                if let Some(from) = from {
                    out.occupancy =
                        calendar.get(c, &org, from, |c| calendar_from(c, &org, from))?;
                }
                out.automation = setups.get(c, &org)?;
                if let (Some((event_id, _)), Some(_)) = (&event, &out.automation) {
                    out.booking_automation = Some(automation::booking(c, &org, event_id)?);
                }
                if let (Some((event_id, client)), Some((sql, params))) = (event, tasks) {
                    out.pending_tasks = c
                        .query(&sql, &params)?
                        .iter()
                        .map(reads::task)
                        .collect::<Result<_, _>>()?;
                    out.thread = thread_ids(c, &org, &event_id)?;
                    let profile = load_profile(c, &org, &client)?;
                    out.client_phone = profile.as_ref().and_then(|p| p.phone.clone());
                    out.client_name = profile.and_then(|p| p.name);
                }
                Ok(out)
            })
            .await
    }

    async fn commit_decision(&self, c: DecisionCommit<'_>) -> Result<(), StoreError> {
        let mut plan = Plan::new();
        if let Some(d) = c.decided {
            plan.push(
                Stmt::new(
                    "UPDATE tasks SET status = $1, decided_at = $2, updated_at = $2, notes = $3, reject_reason = $4, \
                     edited_body = $5 WHERE org_id = $6 AND task_id = $7 AND status = 'pending'",
                    params![
                        d.status.as_str(),
                        micros(c.at),
                        d.notes,
                        d.reject_reason,
                        d.edited_body,
                        c.org.as_str(),
                        d.task_id.as_str(),
                    ],
                )
                .or_fail(StoreError::TaskNotPending(d.task_id.clone())),
            );
        }
        if let Some(write) = c.event {
            writes::event(&mut plan, c.org, write);
            writes::audit(&mut plan, c.org, &write.event().event_id, c.audit);
        }
        writes::effects(
            &mut plan,
            c.org,
            c.superseded,
            c.drafts,
            c.tasks,
            c.outbox,
            c.at,
        );
        if let Some(ch) = c.automation {
            automation::changes(&mut plan, c.org, ch, c.at);
        }
        self.commit_booking_plan(c.org, plan, c.event, c.calendar_seen)
            .await
    }

    async fn create_token(&self, record: &TokenRecord, token_hash: &str) -> Result<(), StoreError> {
        let now = micros(record.created_at);
        self.commit_plan(vec![
            Stmt::new(
                "INSERT INTO organizations (org_id, name, created_at) VALUES ($1, $1, $2) \
                 ON CONFLICT (org_id) DO NOTHING",
                params![record.org.as_str(), now],
            ),
            Stmt::new(
                "INSERT INTO api_tokens (token_hash, token_id, org_id, role, name, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                params![
                    token_hash,
                    record.token_id.as_str(),
                    record.org.as_str(),
                    record.role.as_str(),
                    record.name.as_str(),
                    now,
                ],
            ),
        ])
        .await
    }

    async fn find_token(&self, token_hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let hash = token_hash.to_owned();
        self.db
            .run(move |c| {
                c.query_opt(
                    "SELECT token_id, org_id, role, name, created_at FROM api_tokens \
                     WHERE token_hash = $1 AND revoked_at IS NULL",
                    &params![hash],
                )?
                .map(|row| {
                    let role = row.text("role")?;
                    Ok(TokenRecord {
                        token_id: row.text("token_id")?,
                        org: OrgSlug::parse(&row.text("org_id")?).map_err(corrupt)?,
                        role: Role::parse(&role)
                            .ok_or_else(|| StoreError::Corrupt(format!("role '{role}'")))?,
                        name: row.text("name")?,
                        created_at: from_micros(row.int("created_at")?)?,
                    })
                })
                .transpose()
            })
            .await
    }

    async fn list_events(
        &self,
        org: &OrgSlug,
        filter: EventFilter<'_>,
    ) -> Result<Vec<EventListItem>, StoreError> {
        let limit = i64::from(filter.limit.clamp(1, 500));
        let mut params = Vec::from(params![org.as_str(), limit, i64::from(filter.offset)]);
        let mut conditions = String::from("org_id = $1");
        if let Some(status) = filter.status {
            params.push(status.as_str().into());
            conditions.push_str(&format!(" AND status = ${}", params.len()));
        }
        if let Some(step) = filter.step {
            params.push(i64::from(step.number()).into());
            conditions.push_str(&format!(" AND current_step = ${}", params.len()));
        }
        if let Some(q) = filter.q.map(str::trim).filter(|q| !q.is_empty()) {
            // A substring, never a pattern: LIKE's wildcards in the input match themselves.
            let escaped = q
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            params.push(format!("%{escaped}%").into());
            let n = params.len();
            conditions.push_str(&format!(
                " AND (LOWER(client_email) LIKE ${n} ESCAPE '\\' OR LOWER(event_id) LIKE ${n} ESCAPE '\\')"
            ));
        }
        let sql = format!(
            "SELECT event_id, client_email, status, current_step, chosen_date, locked_room_id, created_at, updated_at \
             FROM events WHERE {conditions} ORDER BY created_at DESC, event_id DESC LIMIT $2 OFFSET $3"
        );
        self.db
            .run(move |c| {
                c.query(&sql, &params)?
                    .iter()
                    .map(event_list_item)
                    .collect()
            })
            .await
    }

    async fn claim_due(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
        channels: &[&str],
    ) -> Result<Vec<ClaimedJob>, StoreError> {
        let channels: Vec<String> = channels.iter().map(|c| (*c).to_owned()).collect();
        self.db
            .transaction(move |c| outbox::claim_due(c, now, lease_until, limit, &channels))
            .await
    }

    async fn finish_job(
        &self,
        job: &ClaimedJob,
        result: &JobResult,
        payload: Option<&str>,
        audit: Option<&AuditEntry>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.commit_plan(outbox::finish_plan(job, result, payload, audit, now))
            .await
    }

    async fn finish_jobs(
        &self,
        finished: Vec<crate::FinishedJob>,
        now: Timestamp,
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        self.db
            .transaction(move |c| {
                let mut out = Vec::with_capacity(finished.len());
                for f in finished {
                    let plan = outbox::finish_plan(
                        &f.job,
                        &f.result,
                        f.payload.as_deref(),
                        f.audit.as_ref(),
                        now,
                    );
                    // Each job's statements stand alone: a lost lease skips that job only.
                    out.push(match execute_plan(c, plan) {
                        Ok(()) => Ok(()),
                        Err(StoreError::LeaseLost(id)) => Err(StoreError::LeaseLost(id)),
                        Err(e) => return Err(e),
                    });
                }
                Ok(out)
            })
            .await
    }

    async fn next_due(&self) -> Result<Option<Timestamp>, StoreError> {
        self.db
            .run(|c| {
                let jobs = outbox::next_due(c)?;
                let completion = automation::next_completion(c)?;
                Ok(jobs.into_iter().chain(completion).min())
            })
            .await
    }

    async fn list_outbox(
        &self,
        org: &OrgSlug,
        status: Option<JobStatus>,
        limit: u32,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let org = org.to_string();
        self.db
            .run(move |c| outbox::list(c, &org, status, limit))
            .await
    }

    async fn automation_setup(
        &self,
        org: &OrgSlug,
    ) -> Result<Option<Arc<AutomationSetup>>, StoreError> {
        let (org, setups) = (org.to_string(), Arc::clone(&self.setups));
        self.db.run(move |c| setups.get(c, &org)).await
    }

    async fn booking_automation(
        &self,
        org: &OrgSlug,
        event_id: &EventId,
    ) -> Result<BookingAutomation, StoreError> {
        let (org, event_id) = (org.to_string(), event_id.to_string());
        self.db
            .run(move |c| automation::booking(c, &org, &event_id))
            .await
    }

    async fn venue_revision(&self, org: &OrgSlug) -> Result<Option<i64>, StoreError> {
        let org = org.to_string();
        self.db.run(move |c| venue_revision(c, &org)).await
    }

    async fn load_venue(
        &self,
        org: &OrgSlug,
    ) -> Result<Option<(i64, openevent_core::venue::VenueSpec)>, StoreError> {
        let org = org.to_string();
        self.db
            .run(move |c| {
                c.query_opt(
                    "SELECT spec, revision FROM venues WHERE org_id = $1",
                    &params![org.as_str()],
                )?
                .map(|r| Ok((r.int("revision")?, from_json("venue", &r.text("spec")?)?)))
                .transpose()
            })
            .await
    }

    async fn save_venue(
        &self,
        org: &OrgSlug,
        spec: &openevent_core::venue::VenueSpec,
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        let (org, spec) = (org.to_string(), to_json(spec));
        self.db
            .transaction(move |c| {
                c.execute(
                    "INSERT INTO venues (org_id, spec, revision, updated_at) VALUES ($1, $2, 1, $3) \
                     ON CONFLICT (org_id) DO UPDATE SET spec = excluded.spec, \
                     revision = venues.revision + 1, updated_at = excluded.updated_at",
                    &params![org.as_str(), spec, micros(now)],
                )?;
                venue_revision(c, &org)?
                    .ok_or_else(|| StoreError::Internal("the venue row vanished".into()))
            })
            .await
    }

    async fn automation_head(
        &self,
        org: &OrgSlug,
        event_id: &EventId,
    ) -> Result<BookingAutomation, StoreError> {
        let (org, event_id) = (org.to_string(), event_id.to_string());
        self.db
            .run(move |c| automation::head(c, &org, &event_id))
            .await
    }

    async fn save_workflow(
        &self,
        org: &OrgSlug,
        workflow: &openevent_automation::Workflow,
        now: Timestamp,
    ) -> Result<u32, StoreError> {
        let (org, workflow) = (org.to_string(), workflow.clone());
        self.db
            .transaction(move |c| automation::save_workflow(c, &org, &workflow, now))
            .await
    }

    async fn workflow_versions(&self, org: &OrgSlug) -> Result<Vec<WorkflowVersion>, StoreError> {
        let org = org.to_string();
        self.db
            .run(move |c| automation::list_workflows(c, &org))
            .await
    }

    async fn save_automation_settings(
        &self,
        org: &OrgSlug,
        settings: &openevent_automation::OrgSettings,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.commit_plan(automation::settings_plan(org.as_str(), settings, now))
            .await
    }

    async fn save_rule(
        &self,
        org: &OrgSlug,
        rule: &openevent_automation::assignment::AssignmentRule,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.commit_plan(automation::rule_plan(org.as_str(), rule, now))
            .await
    }

    async fn delete_rule(
        &self,
        org: &OrgSlug,
        rule_id: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.commit_plan(automation::delete_rule_plan(org.as_str(), rule_id, now))
            .await
    }

    async fn set_override(
        &self,
        org: &OrgSlug,
        event_id: &EventId,
        value: Option<&openevent_automation::assignment::Override>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.commit_plan(automation::override_plan(
            org.as_str(),
            event_id.as_str(),
            value,
            now,
        ))
        .await
    }

    async fn due_completions(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<(OrgSlug, EventId)>, StoreError> {
        self.db
            .run(move |c| automation::due_completions(c, now, limit))
            .await
    }

    async fn commit_automation(
        &self,
        org: &OrgSlug,
        changes: &AutomationChanges,
        audit: &[AuditEntry],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut plan = Plan::new();
        automation::changes(&mut plan, org, changes, now);
        writes::audit(&mut plan, org, &changes.event_id, audit);
        self.commit_plan(plan).await
    }

    async fn automation_stats(
        &self,
        org: &OrgSlug,
    ) -> Result<Vec<(String, JobStatus, i64)>, StoreError> {
        let org = org.to_string();
        self.db.run(move |c| automation::stats(c, &org)).await
    }

    async fn requeue_job(
        &self,
        org: &OrgSlug,
        job_id: &str,
        audit: &AuditEntry,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.commit_plan(outbox::operator_plan(org, job_id, true, audit, now))
            .await
    }

    async fn abandon_job(
        &self,
        org: &OrgSlug,
        job_id: &str,
        audit: &AuditEntry,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.commit_plan(outbox::operator_plan(org, job_id, false, audit, now))
            .await
    }

    async fn operational_counts(&self) -> Result<OperationalCounts, StoreError> {
        self.db
            .run(|c| {
                let mut out = OperationalCounts::default();
                for row in c.query(
                    "SELECT status, COUNT(*) AS n FROM outbox GROUP BY status",
                    &[],
                )? {
                    out.outbox_by_status
                        .insert(row.text("status")?, row.int("n")?);
                }
                out.pending_tasks = c
                    .query_opt(
                        "SELECT COUNT(*) AS n FROM tasks WHERE status = 'pending'",
                        &[],
                    )?
                    .map_or(Ok(0), |r| r.first_int())?;
                Ok(out)
            })
            .await
    }

    async fn table_counts(&self) -> Result<BTreeMap<String, i64>, StoreError> {
        self.db
            .run(|c| {
                let mut out = BTreeMap::new();
                for table in TABLES {
                    // Table names come from the constant list above, never from input.
                    let row = c.query_opt(&format!("SELECT COUNT(*) AS n FROM {table}"), &[])?;
                    out.insert(table.to_owned(), row.map_or(Ok(0), |r| r.first_int())?);
                }
                Ok(out)
            })
            .await
    }
}
