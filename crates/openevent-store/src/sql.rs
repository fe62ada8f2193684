//! The SQL implementation of [`Store`]. Statements use `$N` placeholders and portable SQL
//! (`ON CONFLICT … DO NOTHING/UPDATE`, `LIMIT`), valid on SQLite and PostgreSQL alike.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use jiff::civil::Date;
use openevent_core::AuditEntry;
use openevent_core::calendar::{Occupancy, Window};
use openevent_core::client::{ClientContext, ClientProfile, EventSummary, HistoryEntry};
use openevent_core::effects::{Draft, HilTask, TurnResult};
use openevent_core::event::{Event, TimeOfDay};
use openevent_core::ids::{ClientEmail, EventId, MessageId, OrgSlug, RoomId, TaskId};
use openevent_core::understanding::Confidence;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use crate::codec::{enum_from_text, enum_text, from_json, from_micros, micros, to_json};
use crate::open::{self, Backend, DatabaseUrl};
use crate::reads::{self, DRAFT_COLUMNS, TASK_COLUMNS, step_from_column};
use crate::{
    DecisionCommit, DraftText, IngestCommit, Store, StoreError, StoredEvent, TaskFilter, TaskView,
    writes,
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
    pool: AnyPool,
    backend: Backend,
    /// Organizations known to exist, so a turn need not re-insert its organization.
    known_orgs: Arc<Mutex<HashSet<String>>>,
}

impl SqlStore {
    /// Opens (creating a SQLite file on first use), verifies and migrates the database.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let url = DatabaseUrl::parse(url)?;
        let pool = open::connect(&url).await?;
        Ok(Self {
            pool,
            backend: url.backend(),
            known_orgs: Arc::default(),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The newest schema version this build knows.
    pub fn known_schema_version() -> i64 {
        open::known_version()
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn event_by_id(
        &self,
        org: &OrgSlug,
        event_id: &str,
    ) -> Result<Option<StoredEvent>, StoreError> {
        sqlx::query("SELECT record, version FROM events WHERE org_id = $1 AND event_id = $2")
            .bind(org.as_str())
            .bind(event_id)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| stored_event(&row))
            .transpose()
    }
}

fn stored_event(row: &AnyRow) -> Result<StoredEvent, StoreError> {
    let event: Event = from_json("event record", &row.try_get::<String, _>("record")?)?;
    if !event.hashes_consistent() {
        return Err(StoreError::Corrupt(format!(
            "event {}: requirements_hash does not match its requirements",
            event.event_id
        )));
    }
    Ok(StoredEvent {
        event,
        version: row.try_get("version")?,
    })
}

fn history_entry(row: &AnyRow) -> Result<HistoryEntry, StoreError> {
    let pm: i64 = row.try_get("confidence_pm")?;
    Ok(HistoryEntry {
        msg_id: MessageId::parse(&row.try_get::<String, _>("msg_id")?)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        ts: from_micros(row.try_get("ts")?)?,
        subject: row.try_get("subject")?,
        body_preview: row.try_get("body_preview")?,
        intent: enum_from_text("intent", &row.try_get::<String, _>("intent")?)?,
        confidence: Confidence::from_per_mille(u16::try_from(pm.clamp(0, 1000)).unwrap_or(0)),
    })
}

impl Store for SqlStore {
    async fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(open::applied_version(&self.pool).await?)
    }

    async fn find_message_result(
        &self,
        org: &OrgSlug,
        message_id: &MessageId,
    ) -> Result<Option<TurnResult>, StoreError> {
        let row = sqlx::query(
            "SELECT result FROM messages WHERE org_id = $1 AND message_id = $2 AND direction = 'inbound'",
        )
        .bind(org.as_str())
        .bind(message_id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        match row {
            None => Ok(None),
            Some(row) => {
                let text: Option<String> = row.try_get("result")?;
                let text = text.ok_or_else(|| {
                    StoreError::Corrupt(format!("message {message_id} has no stored result"))
                })?;
                Ok(Some(from_json("turn result", &text)?))
            }
        }
    }

    async fn load_profile(
        &self,
        org: &OrgSlug,
        client: &ClientEmail,
    ) -> Result<Option<ClientProfile>, StoreError> {
        sqlx::query("SELECT profile FROM clients WHERE org_id = $1 AND email = $2")
            .bind(org.as_str())
            .bind(client.as_str())
            .fetch_optional(&self.pool)
            .await?
            .map(|row| from_json("client profile", &row.try_get::<String, _>("profile")?))
            .transpose()
    }

    async fn find_thread_event(
        &self,
        org: &OrgSlug,
        client: &ClientEmail,
        parents: &[&MessageId],
    ) -> Result<Option<StoredEvent>, StoreError> {
        for parent in parents {
            let row = sqlx::query(
                "SELECT event_id FROM messages \
                 WHERE org_id = $1 AND client_email = $2 AND message_id = $3 AND event_id IS NOT NULL",
            )
            .bind(org.as_str())
            .bind(client.as_str())
            .bind(parent.as_str())
            .fetch_optional(&self.pool)
            .await?;
            if let Some(row) = row {
                let event_id: String = row.try_get("event_id")?;
                return self.event_by_id(org, &event_id).await;
            }
        }
        Ok(None)
    }

    async fn load_event(
        &self,
        org: &OrgSlug,
        event_id: &EventId,
    ) -> Result<Option<StoredEvent>, StoreError> {
        self.event_by_id(org, event_id.as_str()).await
    }

    async fn event_audit(
        &self,
        org: &OrgSlug,
        event_id: &EventId,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT ts, actor, from_step, to_step, reason, fields FROM audit \
             WHERE org_id = $1 AND event_id = $2 ORDER BY id",
        )
        .bind(org.as_str())
        .bind(event_id.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(AuditEntry {
                    ts: from_micros(row.try_get("ts")?)?,
                    actor: enum_from_text("actor", &row.try_get::<String, _>("actor")?)?,
                    from_step: step_from_column(row.try_get("from_step")?)?,
                    to_step: step_from_column(row.try_get("to_step")?)?,
                    reason: row.try_get("reason")?,
                    fields: from_json("audit fields", &row.try_get::<String, _>("fields")?)?,
                })
            })
            .collect()
    }

    async fn client_context(
        &self,
        org: &OrgSlug,
        client: &ClientEmail,
    ) -> Result<Option<ClientContext>, StoreError> {
        let Some(profile) = self.load_profile(org, client).await? else {
            return Ok(None);
        };
        let rows = sqlx::query(
            "SELECT msg_id, ts, subject, body_preview, intent, confidence_pm FROM history \
             WHERE org_id = $1 AND client_email = $2 ORDER BY id DESC LIMIT 5",
        )
        .bind(org.as_str())
        .bind(client.as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut history = rows
            .iter()
            .map(history_entry)
            .collect::<Result<Vec<_>, _>>()?;
        history.reverse();
        // The latest event is the booking the client most recently wrote about.
        let last = sqlx::query(
            "SELECT event_id FROM history \
             WHERE org_id = $1 AND client_email = $2 AND event_id IS NOT NULL ORDER BY id DESC LIMIT 1",
        )
        .bind(org.as_str())
        .bind(client.as_str())
        .fetch_optional(&self.pool)
        .await?;
        let last_event = match last {
            Some(row) => self
                .event_by_id(org, &row.try_get::<String, _>("event_id")?)
                .await?
                .filter(|s| &s.event.client_email == client)
                .map(|s| EventSummary::from(&s.event)),
            None => None,
        };
        Ok(Some(ClientContext::build(profile, history, last_event)))
    }

    async fn commit_ingest(&self, c: IngestCommit<'_>) -> Result<(), StoreError> {
        let org = c.org.as_str();
        let now = micros(c.received_at);
        let client = c.profile.email.as_str();
        let event_id = c.result.event_id.as_ref().map(|e| e.as_str());
        let mut tx = self.pool.begin().await?;

        let org_known = self
            .known_orgs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(org);
        if !org_known {
            sqlx::query(
                "INSERT INTO organizations (org_id, name, created_at) VALUES ($1, $1, $2) \
                 ON CONFLICT (org_id) DO NOTHING",
            )
            .bind(org)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }

        let inserted = sqlx::query(
            "INSERT INTO messages (org_id, message_id, direction, client_email, event_id, subject, raw, received_at, result) \
             VALUES ($1, $2, 'inbound', $3, $4, $5, $6, $7, $8) ON CONFLICT (org_id, message_id) DO NOTHING",
        )
        .bind(org)
        .bind(c.message.message_id.as_str())
        .bind(client)
        .bind(event_id)
        .bind(c.message.subject.as_str())
        .bind(c.raw.to_vec())
        .bind(now)
        .bind(to_json(c.result))
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            tx.rollback().await?;
            return Err(StoreError::DuplicateMessage(c.message.message_id.clone()));
        }

        if c.profile_changed {
            sqlx::query(
                "INSERT INTO clients (org_id, email, profile, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) \
                 ON CONFLICT (org_id, email) DO UPDATE SET profile = excluded.profile, updated_at = excluded.updated_at",
            )
            .bind(org)
            .bind(client)
            .bind(to_json(c.profile))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }

        if let Some(write) = c.event
            && let Err(e) = writes::write_event(&mut tx, c.org, write).await
        {
            tx.rollback().await?;
            return Err(e);
        }

        let h = c.history;
        sqlx::query(
            "INSERT INTO history (org_id, client_email, msg_id, event_id, ts, subject, body_preview, intent, confidence_pm) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(org)
        .bind(client)
        .bind(h.msg_id.as_str())
        .bind(event_id)
        .bind(micros(h.ts))
        .bind(h.subject.as_str())
        .bind(h.body_preview.as_str())
        .bind(enum_text(&h.intent))
        .bind(i64::from(h.confidence.per_mille()))
        .execute(&mut *tx)
        .await?;

        if let Some(event_id) = &c.result.event_id {
            writes::insert_audit(&mut tx, c.org, event_id, c.audit).await?;
        }
        writes::supersede(&mut tx, c.org, c.superseded, c.received_at).await?;
        writes::insert_drafts(&mut tx, c.org, c.drafts).await?;
        writes::insert_tasks(&mut tx, c.org, c.tasks).await?;
        writes::insert_outbox(&mut tx, c.org, c.outbox, c.received_at).await?;

        tx.commit().await?;
        if !org_known {
            self.known_orgs
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(org.to_owned());
        }
        Ok(())
    }

    async fn occupancy(
        &self,
        org: &OrgSlug,
        from: Date,
        to: Date,
    ) -> Result<Vec<Occupancy>, StoreError> {
        let rows = sqlx::query(
            "SELECT event_id, locked_room_id, chosen_date, start_time, end_time FROM events \
             WHERE org_id = $1 AND status IN ('option', 'confirmed') AND locked_room_id IS NOT NULL \
             AND chosen_date >= $2 AND chosen_date <= $3",
        )
        .bind(org.as_str())
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_all(&self.pool)
        .await?;
        let corrupt = |e: String| StoreError::Corrupt(e);
        rows.iter()
            .map(|row| {
                let start: Option<String> = row.try_get("start_time")?;
                let end: Option<String> = row.try_get("end_time")?;
                let window = match (start, end) {
                    (Some(s), Some(e)) => Some(Window {
                        start: TimeOfDay::parse(&s).map_err(|e| corrupt(e.to_string()))?,
                        end: TimeOfDay::parse(&e).map_err(|e| corrupt(e.to_string()))?,
                    }),
                    _ => None,
                };
                Ok(Occupancy {
                    event_id: EventId::parse(&row.try_get::<String, _>("event_id")?)
                        .map_err(|e| corrupt(e.to_string()))?,
                    room_id: RoomId::parse(&row.try_get::<String, _>("locked_room_id")?)
                        .map_err(|e| corrupt(e.to_string()))?,
                    date: row
                        .try_get::<String, _>("chosen_date")?
                        .parse()
                        .map_err(|e: jiff::Error| corrupt(e.to_string()))?,
                    window,
                })
            })
            .collect()
    }

    async fn list_tasks(
        &self,
        org: &OrgSlug,
        filter: TaskFilter<'_>,
    ) -> Result<Vec<TaskView>, StoreError> {
        // One statement per filter shape, so that each can use its index (a `$n IS NULL OR …`
        // filter would make SQLite scan the table).
        let select = format!(
            "SELECT {TASK_COLUMNS}, d.subject AS draft_subject, d.body AS draft_body, e.client_email AS client_email \
             FROM tasks t \
             LEFT JOIN drafts d ON d.org_id = t.org_id AND d.draft_id = t.draft_id \
             LEFT JOIN events e ON e.org_id = t.org_id AND e.event_id = t.event_id"
        );
        let order = "ORDER BY t.created_at DESC, t.task_id DESC LIMIT $3";
        let limit = i64::from(if filter.limit == 0 { 100 } else { filter.limit });
        let status = filter.status.map(|s| s.as_str());
        let query = match (filter.event_id, status) {
            (Some(event), Some(status)) => sqlx::query(sqlx::AssertSqlSafe(format!(
                "{select} WHERE t.org_id = $1 AND t.event_id = $2 AND t.status = $4 {order}"
            )))
            .bind(org.as_str())
            .bind(event.as_str())
            .bind(limit)
            .bind(status),
            (Some(event), None) => sqlx::query(sqlx::AssertSqlSafe(format!(
                "{select} WHERE t.org_id = $1 AND t.event_id = $2 {order}"
            )))
            .bind(org.as_str())
            .bind(event.as_str())
            .bind(limit),
            (None, Some(status)) => sqlx::query(sqlx::AssertSqlSafe(format!(
                "{select} WHERE t.org_id = $1 AND t.status = $2 {order}"
            )))
            .bind(org.as_str())
            .bind(status)
            .bind(limit),
            (None, None) => sqlx::query(sqlx::AssertSqlSafe(format!(
                "{select} WHERE t.org_id = $1 AND $2 = $2 {order}"
            )))
            .bind(org.as_str())
            .bind(0_i64)
            .bind(limit),
        };
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                let subject: Option<String> = row.try_get("draft_subject")?;
                let body: Option<String> = row.try_get("draft_body")?;
                Ok(TaskView {
                    task: reads::task(row)?,
                    draft: subject
                        .zip(body)
                        .map(|(subject, body)| DraftText { subject, body }),
                    client_email: row
                        .try_get::<Option<String>, _>("client_email")?
                        .map(|e| ClientEmail::parse(&e))
                        .transpose()
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    decided_at: row
                        .try_get::<Option<i64>, _>("decided_at")?
                        .map(from_micros)
                        .transpose()?,
                    notes: row.try_get("notes")?,
                    reject_reason: row.try_get("reject_reason")?,
                    edited_body: row.try_get("edited_body")?,
                })
            })
            .collect()
    }

    async fn load_task(
        &self,
        org: &OrgSlug,
        task_id: &TaskId,
    ) -> Result<Option<(HilTask, Option<Draft>)>, StoreError> {
        let sql =
            format!("SELECT {TASK_COLUMNS} FROM tasks t WHERE t.org_id = $1 AND t.task_id = $2");
        let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.as_str())
            .bind(task_id.as_str())
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let task = reads::task(&row)?;
        let draft = match &task.draft_id {
            None => None,
            Some(id) => {
                let sql = format!(
                    "SELECT {DRAFT_COLUMNS} FROM drafts d WHERE d.org_id = $1 AND d.draft_id = $2"
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(org.as_str())
                    .bind(id.as_str())
                    .fetch_optional(&self.pool)
                    .await?
                    .map(|r| reads::draft(&r))
                    .transpose()?
            }
        };
        Ok(Some((task, draft)))
    }

    async fn thread_message_ids(
        &self,
        org: &OrgSlug,
        event_id: &EventId,
    ) -> Result<Vec<MessageId>, StoreError> {
        let rows = sqlx::query(
            "SELECT message_id FROM messages WHERE org_id = $1 AND event_id = $2 ORDER BY received_at, message_id",
        )
        .bind(org.as_str())
        .bind(event_id.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                MessageId::parse(&r.try_get::<String, _>("message_id")?)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))
            })
            .collect()
    }

    async fn commit_decision(&self, c: DecisionCommit<'_>) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        if let Some(d) = c.decided {
            let decided = sqlx::query(
                "UPDATE tasks SET status = $1, decided_at = $2, updated_at = $2, notes = $3, reject_reason = $4, \
                 edited_body = $5 WHERE org_id = $6 AND task_id = $7 AND status = 'pending'",
            )
            .bind(d.status.as_str())
            .bind(micros(c.at))
            .bind(d.notes)
            .bind(d.reject_reason)
            .bind(d.edited_body)
            .bind(c.org.as_str())
            .bind(d.task_id.as_str())
            .execute(&mut *tx)
            .await?;
            if decided.rows_affected() == 0 {
                tx.rollback().await?;
                return Err(StoreError::TaskNotPending(d.task_id.clone()));
            }
        }
        if let Some(write) = c.event {
            if let Err(e) = writes::write_event(&mut tx, c.org, write).await {
                tx.rollback().await?;
                return Err(e);
            }
            let event_id = match write {
                crate::EventWrite::Insert(e) | crate::EventWrite::Update { event: e, .. } => {
                    &e.event_id
                }
            };
            writes::insert_audit(&mut tx, c.org, event_id, c.audit).await?;
        }
        writes::supersede(&mut tx, c.org, c.superseded, c.at).await?;
        writes::insert_drafts(&mut tx, c.org, c.drafts).await?;
        writes::insert_tasks(&mut tx, c.org, c.tasks).await?;
        writes::insert_outbox(&mut tx, c.org, c.outbox, c.at).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn table_counts(&self) -> Result<BTreeMap<String, i64>, StoreError> {
        let mut out = BTreeMap::new();
        for table in TABLES {
            // Table names come from the constant list above, never from input.
            let sql = format!("SELECT COUNT(*) FROM {table}");
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_one(&self.pool)
                .await?;
            out.insert(table.to_owned(), row.try_get::<i64, _>(0)?);
        }
        Ok(out)
    }
}
