//! The outbox as a queue: claims with a lease (a crashed dispatcher's jobs come back when the
//! lease expires), and completions fenced by the attempt number (a late finisher cannot
//! overwrite the attempt that took the job over).

use jiff::Timestamp;
use openevent_automation::job::JobStatus;
use openevent_core::AuditEntry;
use openevent_core::ids::{EventId, OrgSlug};

use crate::codec::{enum_from_text, enum_text, from_micros, micros};
use crate::db::{Conn, Plan, Row, Stmt, Value, params};
use crate::{ClaimedJob, JobResult, OutboxRow, StoreError, writes};

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn attempts(row: &Row) -> Result<u32, StoreError> {
    u32::try_from(row.int("attempts")?).map_err(corrupt)
}

fn event_id(row: &Row) -> Result<Option<EventId>, StoreError> {
    row.opt_text("event_id")?
        .map(|e| EventId::parse(&e))
        .transpose()
        .map_err(corrupt)
}

pub(crate) fn claim_due(
    c: &mut dyn Conn,
    now: Timestamp,
    lease_until: Timestamp,
    limit: u32,
    channels: &[String],
) -> Result<Vec<ClaimedJob>, StoreError> {
    if channels.is_empty() {
        return Ok(Vec::new());
    }
    // Only channels this dispatcher can send through are claimed: another job waits, unclaimed,
    // for a dispatcher that can.
    let slots: Vec<String> = (0..channels.len()).map(|i| format!("${}", i + 4)).collect();
    let sql = format!(
        "UPDATE outbox SET status = 'claimed', lease_until = $2, attempts = attempts + 1, updated_at = $1 \
         WHERE (org_id, job_id) IN (\
           SELECT org_id, job_id FROM outbox \
           WHERE ((status IN ('scheduled', 'failed') AND due_at <= $1) \
              OR (status = 'claimed' AND lease_until <= $1)) \
             AND channel IN ({}) \
           ORDER BY due_at LIMIT $3) \
         RETURNING org_id, job_id, event_id, channel, delivery_key, payload, attempts",
        slots.join(", ")
    );
    let mut values = Vec::from(params![micros(now), micros(lease_until), i64::from(limit)]);
    values.extend(channels.iter().map(|ch| Value::from(ch.as_str())));
    c.query(&sql, &values)?
        .iter()
        .map(|row| {
            Ok(ClaimedJob {
                org: OrgSlug::parse(&row.text("org_id")?).map_err(corrupt)?,
                job_id: row.text("job_id")?,
                event_id: event_id(row)?,
                channel: row.text("channel")?,
                delivery_key: row.text("delivery_key")?,
                payload: row.text("payload")?,
                attempt: attempts(row)?,
            })
        })
        .collect()
}

pub(crate) fn finish_plan(
    job: &ClaimedJob,
    result: &JobResult,
    audit: Option<&AuditEntry>,
    now: Timestamp,
) -> Plan {
    let (status, due_at, error) = match result {
        JobResult::Sent => (JobStatus::Sent, None, None),
        JobResult::Retry { at, error } => (JobStatus::Failed, Some(micros(*at)), Some(error)),
        JobResult::Dead { error } => (JobStatus::Dead, None, Some(error)),
    };
    let mut plan = vec![
        Stmt::new(
            "UPDATE outbox SET status = $1, due_at = COALESCE($2, due_at), lease_until = NULL, \
             last_error = $3, updated_at = $4 \
             WHERE org_id = $5 AND job_id = $6 AND status = 'claimed' AND attempts = $7",
            params![
                enum_text(&status),
                due_at,
                error.cloned(),
                micros(now),
                job.org.as_str(),
                job.job_id.as_str(),
                i64::from(job.attempt),
            ],
        )
        .or_fail(StoreError::LeaseLost(job.job_id.clone())),
    ];
    if let (Some(event_id), Some(entry)) = (&job.event_id, audit) {
        writes::audit(&mut plan, &job.org, event_id, std::slice::from_ref(entry));
    }
    plan
}

pub(crate) fn next_due(c: &mut dyn Conn) -> Result<Option<Timestamp>, StoreError> {
    let row = c.query_opt(
        "SELECT MIN(t) AS t FROM (\
           SELECT MIN(due_at) AS t FROM outbox WHERE status IN ('scheduled', 'failed') \
           UNION ALL SELECT MIN(lease_until) AS t FROM outbox WHERE status = 'claimed') AS due",
        &[],
    )?;
    match row {
        Some(r) => r.opt_int("t")?.map(from_micros).transpose(),
        None => Ok(None),
    }
}

pub(crate) fn list(
    c: &mut dyn Conn,
    org: &str,
    status: Option<JobStatus>,
    limit: u32,
) -> Result<Vec<OutboxRow>, StoreError> {
    let columns = "job_id, event_id, channel, status, due_at, attempts, last_error, delivery_key";
    let rows = match status {
        Some(s) => c.query(
            &format!(
                "SELECT {columns} FROM outbox WHERE org_id = $1 AND status = $3 ORDER BY due_at DESC LIMIT $2"
            ),
            &params![org, i64::from(limit), enum_text(&s)],
        )?,
        None => c.query(
            &format!(
                "SELECT {columns} FROM outbox WHERE org_id = $1 ORDER BY due_at DESC LIMIT $2"
            ),
            &params![org, i64::from(limit)],
        )?,
    };
    rows.iter()
        .map(|row| {
            Ok(OutboxRow {
                job_id: row.text("job_id")?,
                event_id: event_id(row)?,
                channel: row.text("channel")?,
                status: enum_from_text("outbox status", &row.text("status")?)?,
                due_at: from_micros(row.int("due_at")?)?,
                attempts: attempts(row)?,
                last_error: row.opt_text("last_error")?,
                delivery_key: row.text("delivery_key")?,
            })
        })
        .collect()
}
