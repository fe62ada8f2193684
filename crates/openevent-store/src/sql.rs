//! The SQL implementation of [`Store`]. Statements use `$N` placeholders and portable SQL
//! (`ON CONFLICT … DO NOTHING/UPDATE`, `LIMIT`), valid on SQLite and PostgreSQL alike.

use std::collections::BTreeMap;

use openevent_core::AuditEntry;
use openevent_core::client::{ClientContext, ClientProfile, EventSummary, HistoryEntry};
use openevent_core::effects::TurnResult;
use openevent_core::event::{Event, Step};
use openevent_core::ids::{ClientEmail, EventId, MessageId, OrgSlug};
use openevent_core::understanding::Confidence;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use crate::codec::{enum_from_text, enum_text, from_json, from_micros, micros, to_json};
use crate::open::{self, Backend, DatabaseUrl};
use crate::{EventWrite, IngestCommit, Store, StoreError, StoredEvent};

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
}

impl SqlStore {
    /// Opens (creating a SQLite file on first use), verifies and migrates the database.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let url = DatabaseUrl::parse(url)?;
        let pool = open::connect(&url).await?;
        Ok(Self {
            pool,
            backend: url.backend(),
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

fn step_from_column(v: Option<i64>) -> Result<Option<Step>, StoreError> {
    v.map(|n| {
        u8::try_from(n)
            .ok()
            .and_then(|n| Step::try_from(n).ok())
            .ok_or_else(|| StoreError::Corrupt(format!("step {n}")))
    })
    .transpose()
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

        sqlx::query(
            "INSERT INTO organizations (org_id, name, created_at) VALUES ($1, $1, $2) \
             ON CONFLICT (org_id) DO NOTHING",
        )
        .bind(org)
        .bind(now)
        .execute(&mut *tx)
        .await?;

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

        match c.event {
            Some(EventWrite::Insert(e)) => {
                sqlx::query(
                    "INSERT INTO events (org_id, event_id, client_email, status, current_step, chosen_date, version, created_at, updated_at, record) \
                     VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8, $9)",
                )
                .bind(org)
                .bind(e.event_id.as_str())
                .bind(e.client_email.as_str())
                .bind(e.status.as_str())
                .bind(i64::from(e.current_step.number()))
                .bind(e.chosen_date.map(|d| d.to_string()))
                .bind(micros(e.created_at))
                .bind(micros(e.updated_at))
                .bind(to_json(e))
                .execute(&mut *tx)
                .await?;
            }
            Some(EventWrite::Update {
                event: e,
                expected_version,
            }) => {
                let updated = sqlx::query(
                    "UPDATE events SET status = $1, current_step = $2, chosen_date = $3, version = version + 1, \
                     updated_at = $4, record = $5 WHERE org_id = $6 AND event_id = $7 AND version = $8",
                )
                .bind(e.status.as_str())
                .bind(i64::from(e.current_step.number()))
                .bind(e.chosen_date.map(|d| d.to_string()))
                .bind(micros(e.updated_at))
                .bind(to_json(e))
                .bind(org)
                .bind(e.event_id.as_str())
                .bind(expected_version)
                .execute(&mut *tx)
                .await?;
                if updated.rows_affected() == 0 {
                    tx.rollback().await?;
                    return Err(StoreError::Conflict(e.event_id.clone()));
                }
            }
            None => {}
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

        if let Some(event_id) = event_id {
            for a in c.audit {
                sqlx::query(
                    "INSERT INTO audit (org_id, event_id, ts, actor, from_step, to_step, reason, fields) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(org)
                .bind(event_id)
                .bind(micros(a.ts))
                .bind(enum_text(&a.actor))
                .bind(a.from_step.map(|s| i64::from(s.number())))
                .bind(a.to_step.map(|s| i64::from(s.number())))
                .bind(a.reason.as_str())
                .bind(to_json(&a.fields))
                .execute(&mut *tx)
                .await?;
            }
        }

        for d in c.drafts {
            sqlx::query(
                "INSERT INTO drafts (org_id, draft_id, event_id, to_email, topic, subject, body, requires_approval, in_reply_to, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(org)
            .bind(d.draft_id.as_str())
            .bind(d.event_id.as_ref().map(|e| e.as_str()))
            .bind(d.to.as_str())
            .bind(d.topic.as_str())
            .bind(d.subject.as_str())
            .bind(d.body.as_str())
            .bind(i64::from(d.requires_approval))
            .bind(d.in_reply_to.as_str())
            .bind(micros(d.created_at))
            .execute(&mut *tx)
            .await?;
        }

        for t in c.tasks {
            sqlx::query(
                "INSERT INTO tasks (org_id, task_id, event_id, task_type, status, step, draft_id, reason, source_message_id, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
            )
            .bind(org)
            .bind(t.task_id.as_str())
            .bind(t.event_id.as_ref().map(|e| e.as_str()))
            .bind(t.task_type.as_str())
            .bind(t.status.as_str())
            .bind(t.step.map(|s| i64::from(s.number())))
            .bind(t.draft_id.as_ref().map(|d| d.as_str()))
            .bind(t.reason.as_str())
            .bind(t.source_message_id.as_str())
            .bind(micros(t.created_at))
            .execute(&mut *tx)
            .await?;
        }

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
