//! The statements of a commit, built as a plan of owned values before anything touches the
//! database: the booking, its audit, drafts, tasks and outbox. The same plan runs on every backend.

use jiff::Timestamp;
use openevent_core::AuditEntry;
use openevent_core::effects::{Draft, HilTask};
use openevent_core::ids::{EventId, OrgSlug, TaskId};
use openevent_core::workflow::OutboxEmail;

use crate::codec::{enum_text, micros, to_json};
use crate::db::{Plan, Stmt, Value, params};
use crate::{EventWrite, StoreError};

pub(crate) fn event(plan: &mut Plan, org: &OrgSlug, write: EventWrite<'_>) {
    match write {
        EventWrite::Insert(e) => plan.push(Stmt::new(
            "INSERT INTO events (org_id, event_id, client_email, status, current_step, chosen_date, \
             locked_room_id, start_time, end_time, version, created_at, updated_at, record) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $11, $12)",
            params![
                org.as_str(),
                e.event_id.as_str(),
                e.client_email.as_str(),
                e.status.as_str(),
                i64::from(e.current_step.number()),
                e.chosen_date.map(|d| d.to_string()),
                e.locked_room_id.as_ref().map(|r| r.to_string()),
                e.start_time.map(|t| t.to_string()),
                e.end_time.map(|t| t.to_string()),
                micros(e.created_at),
                micros(e.updated_at),
                to_json(e),
            ],
        )),
        EventWrite::Update {
            event: e,
            expected_version,
        } => plan.push(
            Stmt::new(
                "UPDATE events SET status = $1, current_step = $2, chosen_date = $3, locked_room_id = $4, \
                 start_time = $5, end_time = $6, version = version + 1, updated_at = $7, record = $8 \
                 WHERE org_id = $9 AND event_id = $10 AND version = $11",
                params![
                    e.status.as_str(),
                    i64::from(e.current_step.number()),
                    e.chosen_date.map(|d| d.to_string()),
                    e.locked_room_id.as_ref().map(|r| r.to_string()),
                    e.start_time.map(|t| t.to_string()),
                    e.end_time.map(|t| t.to_string()),
                    micros(e.updated_at),
                    to_json(e),
                    org.as_str(),
                    e.event_id.as_str(),
                    expected_version,
                ],
            )
            .or_fail(StoreError::Conflict(e.event_id.clone())),
        ),
    }
}

pub(crate) fn audit(plan: &mut Plan, org: &OrgSlug, event_id: &EventId, entries: &[AuditEntry]) {
    if entries.is_empty() {
        return;
    }
    // One statement for all of a turn's entries.
    const COLUMNS: usize = 8;
    let tuples: Vec<String> = (0..entries.len())
        .map(|i| {
            let b = i * COLUMNS;
            let slots: Vec<String> = (1..=COLUMNS).map(|k| format!("${}", b + k)).collect();
            format!("({})", slots.join(", "))
        })
        .collect();
    let sql = format!(
        "INSERT INTO audit (org_id, event_id, ts, actor, from_step, to_step, reason, fields) VALUES {}",
        tuples.join(", ")
    );
    let mut values: Vec<Value> = Vec::with_capacity(entries.len() * COLUMNS);
    for a in entries {
        values.extend(params![
            org.as_str(),
            event_id.as_str(),
            micros(a.ts),
            enum_text(&a.actor),
            a.from_step.map(|s| i64::from(s.number())),
            a.to_step.map(|s| i64::from(s.number())),
            a.reason.clone(),
            to_json(&a.fields),
        ]);
    }
    plan.push(Stmt::new(sql, values));
}

pub(crate) fn drafts(plan: &mut Plan, org: &OrgSlug, drafts: &[Draft]) {
    for d in drafts {
        plan.push(Stmt::new(
            "INSERT INTO drafts (org_id, draft_id, event_id, to_email, topic, subject, body, requires_approval, in_reply_to, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            params![
                org.as_str(),
                d.draft_id.as_str(),
                d.event_id.as_ref().map(|e| e.as_str()),
                d.to.as_str(),
                d.topic.as_str(),
                d.subject.as_str(),
                d.body.as_str(),
                d.requires_approval,
                d.in_reply_to.as_str(),
                micros(d.created_at),
            ],
        ));
    }
}

pub(crate) fn tasks(plan: &mut Plan, org: &OrgSlug, tasks: &[HilTask]) {
    for t in tasks {
        plan.push(Stmt::new(
            "INSERT INTO tasks (org_id, task_id, event_id, task_type, status, step, draft_id, payload, reason, source_message_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) \
             ON CONFLICT (org_id, task_id) DO NOTHING",
            params![
                org.as_str(),
                t.task_id.as_str(),
                t.event_id.as_ref().map(|e| e.as_str()),
                t.task_type.as_str(),
                t.status.as_str(),
                t.step.map(|s| i64::from(s.number())),
                t.draft_id.as_ref().map(|d| d.as_str()),
                to_json(&t.payload),
                t.reason.as_str(),
                t.source_message_id.as_str(),
                micros(t.created_at),
            ],
        ));
    }
}

/// Marks replaced tasks superseded; only pending ones change.
pub(crate) fn supersede(plan: &mut Plan, org: &OrgSlug, ids: &[TaskId], now: Timestamp) {
    for id in ids {
        plan.push(Stmt::new(
            "UPDATE tasks SET status = 'superseded', updated_at = $1 \
             WHERE org_id = $2 AND task_id = $3 AND status = 'pending'",
            params![micros(now), org.as_str(), id.as_str()],
        ));
    }
}

/// Queues approved mail and records our Message-ID so that client replies thread back.
pub(crate) fn outbox(plan: &mut Plan, org: &OrgSlug, jobs: &[OutboxEmail], now: Timestamp) {
    for j in jobs {
        plan.push(Stmt::new(
            "INSERT INTO outbox (org_id, job_id, event_id, channel, delivery_key, payload, status, due_at, attempts, created_at, updated_at) \
             VALUES ($1, $2, $3, 'email', $4, $5, 'scheduled', $6, 0, $7, $7)",
            params![
                org.as_str(),
                j.job_id.as_str(),
                j.event_id.as_ref().map(|e| e.as_str()),
                j.delivery_key.as_str(),
                to_json(j),
                micros(j.due_at),
                micros(now),
            ],
        ));
        plan.push(Stmt::new(
            "INSERT INTO messages (org_id, message_id, direction, client_email, event_id, subject, raw, received_at, result) \
             VALUES ($1, $2, 'outbound', $3, $4, $5, NULL, $6, NULL)",
            params![
                org.as_str(),
                j.message_id.as_str(),
                j.to.as_str(),
                j.event_id.as_ref().map(|e| e.as_str()),
                j.subject.as_str(),
                micros(now),
            ],
        ));
    }
}

/// What every commit writes after its own statements: supersessions, drafts, tasks, outbox.
pub(crate) fn effects(
    plan: &mut Plan,
    org: &OrgSlug,
    superseded: &[TaskId],
    new_drafts: &[Draft],
    new_tasks: &[HilTask],
    jobs: &[OutboxEmail],
    now: Timestamp,
) {
    supersede(plan, org, superseded, now);
    drafts(plan, org, new_drafts);
    tasks(plan, org, new_tasks);
    outbox(plan, org, jobs, now);
}
