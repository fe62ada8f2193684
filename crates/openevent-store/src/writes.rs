//! Statements shared by every commit: the booking, its audit, drafts, tasks and outbox. Each runs
//! on the caller's transaction.

use jiff::Timestamp;
use openevent_core::AuditEntry;
use openevent_core::effects::{Draft, HilTask};
use openevent_core::ids::{EventId, OrgSlug, TaskId};
use openevent_core::workflow::OutboxEmail;
use sqlx::AnyConnection;

use crate::codec::{enum_text, micros, to_json};
use crate::{EventWrite, StoreError};

pub(crate) async fn write_event(
    conn: &mut AnyConnection,
    org: &OrgSlug,
    write: EventWrite<'_>,
) -> Result<(), StoreError> {
    match write {
        EventWrite::Insert(e) => {
            sqlx::query(
                "INSERT INTO events (org_id, event_id, client_email, status, current_step, chosen_date, \
                 locked_room_id, start_time, end_time, version, created_at, updated_at, record) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $11, $12)",
            )
            .bind(org.as_str())
            .bind(e.event_id.as_str())
            .bind(e.client_email.as_str())
            .bind(e.status.as_str())
            .bind(i64::from(e.current_step.number()))
            .bind(e.chosen_date.map(|d| d.to_string()))
            .bind(e.locked_room_id.as_ref().map(|r| r.to_string()))
            .bind(e.start_time.map(|t| t.to_string()))
            .bind(e.end_time.map(|t| t.to_string()))
            .bind(micros(e.created_at))
            .bind(micros(e.updated_at))
            .bind(to_json(e))
            .execute(&mut *conn)
            .await?;
        }
        EventWrite::Update {
            event: e,
            expected_version,
        } => {
            let updated = sqlx::query(
                "UPDATE events SET status = $1, current_step = $2, chosen_date = $3, locked_room_id = $4, \
                 start_time = $5, end_time = $6, version = version + 1, updated_at = $7, record = $8 \
                 WHERE org_id = $9 AND event_id = $10 AND version = $11",
            )
            .bind(e.status.as_str())
            .bind(i64::from(e.current_step.number()))
            .bind(e.chosen_date.map(|d| d.to_string()))
            .bind(e.locked_room_id.as_ref().map(|r| r.to_string()))
            .bind(e.start_time.map(|t| t.to_string()))
            .bind(e.end_time.map(|t| t.to_string()))
            .bind(micros(e.updated_at))
            .bind(to_json(e))
            .bind(org.as_str())
            .bind(e.event_id.as_str())
            .bind(expected_version)
            .execute(&mut *conn)
            .await?;
            if updated.rows_affected() == 0 {
                return Err(StoreError::Conflict(e.event_id.clone()));
            }
        }
    }
    Ok(())
}

pub(crate) async fn insert_audit(
    conn: &mut AnyConnection,
    org: &OrgSlug,
    event_id: &EventId,
    entries: &[AuditEntry],
) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    // One statement for all of a turn's entries: each statement is a round trip to the driver.
    let tuples: Vec<String> = (0..entries.len())
        .map(|i| {
            let b = i * 8;
            format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7,
                b + 8
            )
        })
        .collect();
    let sql = format!(
        "INSERT INTO audit (org_id, event_id, ts, actor, from_step, to_step, reason, fields) VALUES {}",
        tuples.join(", ")
    );
    // The statement text holds only generated placeholders; every value is bound.
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for a in entries {
        query = query
            .bind(org.as_str())
            .bind(event_id.as_str())
            .bind(micros(a.ts))
            .bind(enum_text(&a.actor))
            .bind(a.from_step.map(|s| i64::from(s.number())))
            .bind(a.to_step.map(|s| i64::from(s.number())))
            .bind(a.reason.clone())
            .bind(to_json(&a.fields));
    }
    query.execute(&mut *conn).await?;
    Ok(())
}

pub(crate) async fn insert_drafts(
    conn: &mut AnyConnection,
    org: &OrgSlug,
    drafts: &[Draft],
) -> Result<(), StoreError> {
    for d in drafts {
        sqlx::query(
            "INSERT INTO drafts (org_id, draft_id, event_id, to_email, topic, subject, body, requires_approval, in_reply_to, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(org.as_str())
        .bind(d.draft_id.as_str())
        .bind(d.event_id.as_ref().map(|e| e.as_str()))
        .bind(d.to.as_str())
        .bind(d.topic.as_str())
        .bind(d.subject.as_str())
        .bind(d.body.as_str())
        .bind(i64::from(d.requires_approval))
        .bind(d.in_reply_to.as_str())
        .bind(micros(d.created_at))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub(crate) async fn insert_tasks(
    conn: &mut AnyConnection,
    org: &OrgSlug,
    tasks: &[HilTask],
) -> Result<(), StoreError> {
    for t in tasks {
        sqlx::query(
            "INSERT INTO tasks (org_id, task_id, event_id, task_type, status, step, draft_id, payload, reason, source_message_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
        )
        .bind(org.as_str())
        .bind(t.task_id.as_str())
        .bind(t.event_id.as_ref().map(|e| e.as_str()))
        .bind(t.task_type.as_str())
        .bind(t.status.as_str())
        .bind(t.step.map(|s| i64::from(s.number())))
        .bind(t.draft_id.as_ref().map(|d| d.as_str()))
        .bind(to_json(&t.payload))
        .bind(t.reason.as_str())
        .bind(t.source_message_id.as_str())
        .bind(micros(t.created_at))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Marks replaced tasks superseded; only pending ones change.
pub(crate) async fn supersede(
    conn: &mut AnyConnection,
    org: &OrgSlug,
    ids: &[TaskId],
    now: Timestamp,
) -> Result<(), StoreError> {
    for id in ids {
        sqlx::query(
            "UPDATE tasks SET status = 'superseded', updated_at = $1 \
             WHERE org_id = $2 AND task_id = $3 AND status = 'pending'",
        )
        .bind(micros(now))
        .bind(org.as_str())
        .bind(id.as_str())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Queues approved mail and records our Message-ID so that client replies thread back.
pub(crate) async fn insert_outbox(
    conn: &mut AnyConnection,
    org: &OrgSlug,
    jobs: &[OutboxEmail],
    now: Timestamp,
) -> Result<(), StoreError> {
    for j in jobs {
        sqlx::query(
            "INSERT INTO outbox (org_id, job_id, event_id, channel, delivery_key, payload, status, due_at, attempts, created_at, updated_at) \
             VALUES ($1, $2, $3, 'email', $4, $5, 'scheduled', $6, 0, $7, $7)",
        )
        .bind(org.as_str())
        .bind(j.job_id.as_str())
        .bind(j.event_id.as_ref().map(|e| e.as_str()))
        .bind(j.delivery_key.as_str())
        .bind(to_json(j))
        .bind(micros(j.due_at))
        .bind(micros(now))
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "INSERT INTO messages (org_id, message_id, direction, client_email, event_id, subject, raw, received_at, result) \
             VALUES ($1, $2, 'outbound', $3, $4, $5, NULL, $6, NULL)",
        )
        .bind(org.as_str())
        .bind(j.message_id.as_str())
        .bind(j.to.as_str())
        .bind(j.event_id.as_ref().map(|e| e.as_str()))
        .bind(j.subject.as_str())
        .bind(micros(now))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
