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
    let slots = slots.join(", ");
    // One index-ordered scan per status, each stopping after `limit` rows (a single scan over
    // both statuses would sort every due job, however large the backlog, for every claim).
    // On PostgreSQL each scan locks what it picks and skips rows another process is claiming, so
    // concurrent dispatchers take disjoint jobs without waiting for each other.
    let lock = match c.backend() {
        crate::Backend::Sqlite => "",
        crate::Backend::Postgres => " FOR UPDATE SKIP LOCKED",
    };
    let sql = format!(
        "UPDATE outbox SET status = 'claimed', lease_until = $2, attempts = attempts + 1, updated_at = $1 \
         WHERE (org_id, job_id) IN (\
           SELECT org_id, job_id FROM (\
             SELECT org_id, job_id, due_at FROM (SELECT org_id, job_id, due_at FROM outbox \
               WHERE status = 'scheduled' AND due_at <= $1 AND channel IN ({slots}) \
               ORDER BY due_at LIMIT $3{lock}) AS scheduled \
             UNION ALL \
             SELECT org_id, job_id, due_at FROM (SELECT org_id, job_id, due_at FROM outbox \
               WHERE status = 'failed' AND due_at <= $1 AND channel IN ({slots}) \
               ORDER BY due_at LIMIT $3{lock}) AS failed \
             UNION ALL \
             SELECT org_id, job_id, due_at FROM (SELECT org_id, job_id, due_at FROM outbox \
               WHERE status = 'claimed' AND lease_until <= $1 AND channel IN ({slots}) \
               ORDER BY due_at LIMIT $3{lock}) AS expired) AS due \
           ORDER BY due_at LIMIT $3) \
         RETURNING org_id, job_id, event_id, channel, delivery_key, payload, attempts, kind"
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
                kind: enum_from_text("outbox kind", &row.text("kind")?)?,
                payload: row.text("payload")?,
                attempt: attempts(row)?,
            })
        })
        .collect()
}

pub(crate) fn finish_plan(
    job: &ClaimedJob,
    result: &JobResult,
    payload: Option<&str>,
    audit: Option<&AuditEntry>,
    now: Timestamp,
) -> Plan {
    // (status, next due time, error or reason, whether the attempt counts)
    let (status, due_at, note, counts) = match result {
        JobResult::Sent => (JobStatus::Sent, None, None, true),
        JobResult::Retry { at, error } => (JobStatus::Failed, Some(micros(*at)), Some(error), true),
        JobResult::Dead { error } => (JobStatus::Dead, None, Some(error), true),
        JobResult::Skipped { reason } => (JobStatus::Skipped, None, Some(reason), false),
        JobResult::Cancelled { reason } => (JobStatus::Cancelled, None, Some(reason), false),
        JobResult::Deferred { until, reason } => (
            JobStatus::Scheduled,
            Some(micros(*until)),
            Some(reason),
            false,
        ),
    };
    let mut plan = vec![
        Stmt::new(
            "UPDATE outbox SET status = $1, due_at = COALESCE($2, due_at), lease_until = NULL, \
             last_error = $3, updated_at = $4, payload = COALESCE($8, payload), attempts = attempts - $9 \
             WHERE org_id = $5 AND job_id = $6 AND status = 'claimed' AND attempts = $7",
            params![
                enum_text(&status),
                due_at,
                note.cloned(),
                micros(now),
                job.org.as_str(),
                job.job_id.as_str(),
                i64::from(job.attempt),
                payload,
                i64::from(!counts),
            ],
        )
        .or_fail(StoreError::LeaseLost(job.job_id.clone())),
    ];
    if let (Some(event_id), Some(entry)) = (&job.event_id, audit) {
        writes::audit(&mut plan, &job.org, event_id, std::slice::from_ref(entry));
    }
    plan
}

/// An operator's decision on a dead job: back into the queue, or given up (`cancelled`).
pub(crate) fn operator_plan(
    org: &OrgSlug,
    job_id: &str,
    requeue: bool,
    audit: &AuditEntry,
    now: Timestamp,
) -> Plan {
    let sql = if requeue {
        "UPDATE outbox SET status = 'scheduled', due_at = $1, attempts = 0, lease_until = NULL, updated_at = $1 \
         WHERE org_id = $2 AND job_id = $3 AND status = 'dead'"
    } else {
        "UPDATE outbox SET status = 'cancelled', updated_at = $1 \
         WHERE org_id = $2 AND job_id = $3 AND status = 'dead'"
    };
    let mut plan = vec![
        Stmt::new(sql, params![micros(now), org.as_str(), job_id])
            .or_fail(StoreError::NotFound(format!("dead job {job_id}"))),
    ];
    // The audit entry goes on the job's booking, found in the same transaction.
    plan.push(Stmt::new(
        "INSERT INTO audit (org_id, event_id, ts, actor, from_step, to_step, reason, fields) \
         SELECT org_id, event_id, $1, $2, NULL, NULL, $3, $4 FROM outbox \
         WHERE org_id = $5 AND job_id = $6 AND event_id IS NOT NULL",
        params![
            micros(audit.ts),
            enum_text(&audit.actor),
            audit.reason.clone(),
            crate::codec::to_json(&audit.fields),
            org.as_str(),
            job_id,
        ],
    ));
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
