//! A manager's decision on a task: load → decide (pure) → commit, one transaction.

use openevent_core::effects::TaskStatus;
use openevent_core::ids::{OrgSlug, TaskId};
use openevent_core::workflow::{self, Decision};
use openevent_store::{DecisionCommit, EventWrite, Store, StoreError, TaskDecision};
use serde::Serialize;

use crate::Engine;
use crate::clock::Clock;

const MAX_CONFLICT_RETRIES: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum DecisionError {
    #[error("no task {0} in this organization")]
    NotFound(TaskId),
    #[error("task {task_id} was already decided ({status})")]
    AlreadyDecided {
        task_id: TaskId,
        status: &'static str,
    },
    #[error(transparent)]
    Invalid(#[from] workflow::DecisionError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("gave up after {0} concurrent updates of the same booking")]
    TooMuchContention(usize),
}

/// What a decision did, as the CLI and the API report it.
#[derive(Debug, Clone, Serialize)]
pub struct DecisionReport {
    pub task_id: TaskId,
    pub status: TaskStatus,
    pub event_id: Option<openevent_core::ids::EventId>,
    pub action: Option<openevent_core::effects::Action>,
    pub current_step: Option<openevent_core::event::Step>,
    pub event_status: Option<openevent_core::event::Status>,
    /// Emails queued for sending by this decision.
    pub queued_emails: usize,
    /// Tasks this decision created (for example the offer after a room lock).
    pub new_tasks: Vec<TaskId>,
}

impl<S: Store, C: Clock> Engine<S, C> {
    pub async fn decide_task(
        &self,
        org: &OrgSlug,
        task_id: &TaskId,
        decision: Decision,
    ) -> Result<DecisionReport, DecisionError> {
        for _ in 0..MAX_CONFLICT_RETRIES {
            let (task, draft) = self
                .store
                .load_task(org, task_id)
                .await?
                .ok_or_else(|| DecisionError::NotFound(task_id.clone()))?;
            if task.status != TaskStatus::Pending {
                return Err(DecisionError::AlreadyDecided {
                    task_id: task_id.clone(),
                    status: task.status.as_str(),
                });
            }
            let stored = match &task.event_id {
                Some(id) => self.store.load_event(org, id).await?,
                None => None,
            };
            let now = self.clock.now();
            let mut data = self
                .turn_data(
                    org,
                    self.venue_of(org).await?,
                    stored.as_ref().map(|s| &s.event),
                    None,
                    now,
                )
                .await?;
            data.pending.retain(|t| t.task_id != task.task_id);
            let ctx = data.ctx(org, &self.config, data.client_name.as_deref(), now);
            let mut decided = workflow::decide_task(
                &ctx,
                stored.as_ref().map(|s| s.event.clone()),
                &task,
                draft.as_ref(),
                decision.clone(),
            )?;
            let automation = match (decided.outcome.as_mut(), &stored) {
                (Some(o), Some(s)) => data
                    .automation_changes(&crate::automation::Write {
                        org,
                        venue: &data.venue.venue,
                        before: Some(&s.event),
                        after: &o.event,
                        client_name: data.client_name.as_deref(),
                        client_phone: data.client_phone.as_deref(),
                        event_type: None,
                        cause: openevent_automation::lifecycle::Cause::Staff,
                        now,
                    })
                    .map(|(changes, audit)| {
                        o.audit.extend(audit);
                        changes
                    }),
                _ => None,
            };
            let outcome = decided.outcome.as_ref();
            let calendar_seen = data.calendar_seen(outcome.map(|o| &o.event));
            let event_write = match (outcome, &stored) {
                (Some(o), Some(s)) => Some(EventWrite::Update {
                    event: &o.event,
                    expected_version: s.version,
                }),
                _ => None,
            };
            let commit = DecisionCommit {
                org,
                decided: Some(TaskDecision {
                    task_id,
                    status: decided.task_status,
                    notes: decided.notes.as_deref(),
                    reject_reason: decided.reject_reason.as_deref(),
                    edited_body: decided.edited_body.as_deref(),
                }),
                at: now,
                event: event_write,
                audit: outcome.map_or(&[], |o| &o.audit),
                drafts: outcome.map_or(&[], |o| &o.drafts),
                tasks: outcome.map_or(&[], |o| &o.tasks),
                superseded: outcome.map_or(&[], |o| &o.superseded),
                outbox: outcome.map_or(&[], |o| &o.outbox),
                calendar_seen: &calendar_seen,
                automation: automation.as_ref(),
            };
            match self.store.commit_decision(commit).await {
                Ok(()) => {
                    tracing::info!(org = %org, task_id = %task_id, status = decided.task_status.as_str(), "task decided");
                    return Ok(DecisionReport {
                        task_id: task_id.clone(),
                        status: decided.task_status,
                        event_id: task.event_id.clone(),
                        action: outcome.map(|o| o.action),
                        current_step: outcome.map(|o| o.event.current_step),
                        event_status: outcome.map(|o| o.event.status),
                        queued_emails: outcome.map_or(0, |o| o.outbox.len()),
                        new_tasks: outcome.map_or(Vec::new(), |o| {
                            o.tasks.iter().map(|t| t.task_id.clone()).collect()
                        }),
                    });
                }
                Err(StoreError::TaskNotPending(_)) => {
                    let status = self
                        .store
                        .load_task(org, task_id)
                        .await?
                        .map_or("gone", |(t, _)| t.status.as_str());
                    return Err(DecisionError::AlreadyDecided {
                        task_id: task_id.clone(),
                        status,
                    });
                }
                // A booking changed, or took the room meanwhile: decide again on fresh data.
                Err(StoreError::Conflict(_) | StoreError::CalendarChanged(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(DecisionError::TooMuchContention(MAX_CONFLICT_RETRIES))
    }
}
