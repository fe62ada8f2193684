//! Row decoding shared by the queries.

use crate::StoreError;
use crate::codec::{from_json, from_micros};
use crate::db::Row;
use openevent_core::effects::{Draft, HilTask, TaskStatus, TaskType};
use openevent_core::event::Step;
use openevent_core::ids::{ClientEmail, DraftId, EventId, MessageId, TaskId};

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

pub(crate) fn step_from_column(v: Option<i64>) -> Result<Option<Step>, StoreError> {
    v.map(|n| {
        u8::try_from(n)
            .ok()
            .and_then(|n| Step::try_from(n).ok())
            .ok_or_else(|| StoreError::Corrupt(format!("step {n}")))
    })
    .transpose()
}

pub(crate) const TASK_COLUMNS: &str = "t.task_id, t.event_id, t.task_type, t.status, t.step, t.draft_id, t.payload, \
     t.reason, t.source_message_id, t.created_at, t.decided_at, t.notes, t.reject_reason, t.edited_body";

pub(crate) fn task(row: &Row) -> Result<HilTask, StoreError> {
    let task_type = row.text("task_type")?;
    let status = row.text("status")?;
    Ok(HilTask {
        task_id: TaskId::parse(&row.text("task_id")?).map_err(corrupt)?,
        event_id: row
            .opt_text("event_id")?
            .map(|e| EventId::parse(&e))
            .transpose()
            .map_err(corrupt)?,
        task_type: TaskType::parse(&task_type)
            .ok_or_else(|| StoreError::Corrupt(format!("task type '{task_type}'")))?,
        status: TaskStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("task status '{status}'")))?,
        step: step_from_column(row.opt_int("step")?)?,
        draft_id: row
            .opt_text("draft_id")?
            .map(|d| DraftId::parse(&d))
            .transpose()
            .map_err(corrupt)?,
        payload: from_json("task payload", &row.text("payload")?)?,
        reason: row.text("reason")?,
        source_message_id: MessageId::parse(&row.text("source_message_id")?).map_err(corrupt)?,
        created_at: from_micros(row.int("created_at")?)?,
    })
}

pub(crate) const DRAFT_COLUMNS: &str = "d.draft_id, d.event_id, d.to_email, d.topic, d.subject, d.body, d.requires_approval, d.in_reply_to, d.created_at";

pub(crate) fn draft(row: &Row) -> Result<Draft, StoreError> {
    Ok(Draft {
        draft_id: DraftId::parse(&row.text("draft_id")?).map_err(corrupt)?,
        event_id: row
            .opt_text("event_id")?
            .map(|e| EventId::parse(&e))
            .transpose()
            .map_err(corrupt)?,
        to: ClientEmail::parse(&row.text("to_email")?).map_err(corrupt)?,
        topic: row.text("topic")?,
        subject: row.text("subject")?,
        body: row.text("body")?,
        requires_approval: row.int("requires_approval")? != 0,
        in_reply_to: MessageId::parse(&row.text("in_reply_to")?).map_err(corrupt)?,
        created_at: from_micros(row.int("created_at")?)?,
    })
}
