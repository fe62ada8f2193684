//! A scheduled job: one message (or task, or webhook call) for one recipient, and its lifecycle.
//!
//! ```text
//! state        --event------------------------------> state
//! scheduled    --Claimed----------------------------> claimed
//! failed       --Claimed----------------------------> claimed
//! scheduled    --Rearmed / failed --Rearmed---------> scheduled (new anchor, due time, key; attempts 0)
//! scheduled    --Cancel(reason) / failed --Cancel---> cancelled
//! scheduled    --Skip(reason)   / failed --Skip-----> skipped
//! claimed      --Decided(Send)----------------------> claimed      (no change: now deliver)
//! claimed      --Decided(Skip r)--------------------> skipped
//! claimed      --Decided(Cancel r)------------------> cancelled
//! claimed      --Decided(Defer until)---------------> scheduled (due = until)
//! claimed      --Delivered(Sent)--------------------> sent
//! claimed      --Delivered(Transient), retries left-> failed (due = retry time)
//! claimed      --Delivered(Transient), none left----> dead
//! claimed      --Delivered(Permanent)---------------> dead
//! claimed      --LeaseExpired-----------------------> scheduled (the delivery key keeps a
//!                                                      possible duplicate out)
//! claimed      --Cancel / Rearmed / Skip------------> ignored: the attempt in flight decides;
//!                                                      a stale send is skipped at dispatch and
//!                                                      re-created by the next reconcile
//! sent|dead|skipped|cancelled --Cancel / Rearmed / Skip --> ignored (already over)
//! anything else ------------------------------------> TransitionError
//! ```

use std::collections::BTreeSet;

use jiff::Timestamp;
use openevent_core::{EventId, OrgSlug};
use serde::{Deserialize, Serialize};

use crate::booking::Subject;
use crate::definition::{Anchor, Channel, Goal, TemplateSpec, Timing, Trigger};
use crate::delivery_key::{DeliveryKey, KeyParts};
use crate::dispatch::Decision;
use crate::ids::{StepKey, WorkflowKey};
use crate::recipients::Address;
use crate::retry::{DeliveryResult, RetryPolicy, RetryVerdict};

/// The delivery key the job was created with; it stays when the job is re-armed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(String);

impl JobId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for JobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The anchor a job counts from, as it was when the job was (re-)armed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnchorRef {
    pub anchor: Anchor,
    pub at: Timestamp,
    /// The version of the anchor's time in the booking; always 0 for `Anchor::Trigger`, which
    /// never moves.
    pub version: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum SkipReason {
    /// The anchor moved after the job was armed.
    StaleAnchor,
    /// The booking was cancelled.
    Cancelled,
    AppointmentCancelled,
    /// The anchor no longer exists (the offer was withdrawn, the appointment deleted).
    AnchorGone,
    /// Due before it could be scheduled, and the step says `if_past = "skip"`.
    PastDue {
        due_at: Timestamp,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum CancelReason {
    GoalReached {
        goal: Goal,
    },
    BookingCancelled,
    AppointmentCancelled,
    /// A newer occurrence of the same trigger scheduled this step again.
    Superseded {
        by: JobId,
    },
    /// The workflow was disabled or is no longer assigned to the booking.
    WorkflowInactive,
    AnchorGone,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum JobState {
    Scheduled,
    Claimed {
        at: Timestamp,
    },
    Sent {
        at: Timestamp,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        provider_id: Option<String>,
    },
    /// Will be retried at the job's `due_at`.
    Failed {
        at: Timestamp,
        error: String,
    },
    Dead {
        at: Timestamp,
        error: String,
    },
    Skipped {
        at: Timestamp,
        #[serde(flatten)]
        reason: SkipReason,
    },
    Cancelled {
        at: Timestamp,
        #[serde(flatten)]
        reason: CancelReason,
    },
}

/// The state's name alone, for a status column and filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Scheduled,
    Claimed,
    Sent,
    Failed,
    Dead,
    Skipped,
    Cancelled,
}

impl JobState {
    pub fn status(&self) -> JobStatus {
        match self {
            JobState::Scheduled => JobStatus::Scheduled,
            JobState::Claimed { .. } => JobStatus::Claimed,
            JobState::Sent { .. } => JobStatus::Sent,
            JobState::Failed { .. } => JobStatus::Failed,
            JobState::Dead { .. } => JobStatus::Dead,
            JobState::Skipped { .. } => JobStatus::Skipped,
            JobState::Cancelled { .. } => JobStatus::Cancelled,
        }
    }
}

impl JobStatus {
    /// Waiting for its due time: the scheduler may still re-arm or cancel it.
    pub fn is_pending(self) -> bool {
        matches!(self, JobStatus::Scheduled | JobStatus::Failed)
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobStatus::Sent | JobStatus::Dead | JobStatus::Skipped | JobStatus::Cancelled
        )
    }
}

/// Everything needed to decide, render and send without looking the workflow up again: a job
/// runs the definition version it was scheduled from, even after the workflow is edited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub id: JobId,
    pub delivery_key: DeliveryKey,
    pub org: OrgSlug,
    pub event_id: EventId,
    pub workflow: WorkflowKey,
    pub workflow_version: u32,
    pub step: StepKey,
    pub trigger: Trigger,
    pub trigger_at: Timestamp,
    pub subject: Subject,
    pub channel: Channel,
    pub recipient: Address,
    pub timing: Timing,
    pub anchor: AnchorRef,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub stop_when: BTreeSet<Goal>,
    pub template: TemplateSpec,
    pub created_at: Timestamp,
    /// When the dispatcher should next look at the job (first send, deferral or retry).
    pub due_at: Timestamp,
    /// Delivery attempts made for the current delivery key.
    pub attempts: u32,
    pub state: JobState,
}

impl Job {
    pub fn status(&self) -> JobStatus {
        self.state.status()
    }

    /// The delivery key this job would have with its anchor at `anchor_version`.
    pub fn key_for(&self, anchor_version: u32) -> DeliveryKey {
        DeliveryKey::derive(&KeyParts {
            org: &self.org,
            event_id: &self.event_id,
            workflow: &self.workflow,
            workflow_version: self.workflow_version,
            step: &self.step,
            subject: &self.subject,
            recipient: &self.recipient,
            anchor: self.anchor.anchor,
            anchor_version,
            trigger_at: self.trigger_at,
        })
    }

    /// The same step for the same recipient and occurrence; used to find what a re-scheduling
    /// replaces.
    pub fn same_lineage(&self, other: &Job) -> bool {
        self.event_id == other.event_id
            && self.workflow == other.workflow
            && self.step == other.step
            && self.subject == other.subject
            && self.recipient == other.recipient
    }

    /// The id of a job created with `key` (stable: the key it was created with).
    pub fn new_id(key: &DeliveryKey) -> JobId {
        JobId(key.as_str().to_owned())
    }
}

/// What happened to a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum JobEvent {
    Claimed,
    LeaseExpired,
    Decided {
        decision: Decision,
    },
    Delivered {
        result: DeliveryResult,
    },
    Cancel {
        reason: CancelReason,
    },
    Skip {
        reason: SkipReason,
    },
    Rearmed {
        anchor: AnchorRef,
        due_at: Timestamp,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    Changed(Box<Job>),
    /// Nothing to do, and why; not an error (a cancel arriving after the send).
    Ignored(&'static str),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("job {job}: {event} is not possible while {status:?}")]
pub struct TransitionError {
    pub job: JobId,
    pub status: JobStatus,
    pub event: &'static str,
}

fn event_name(e: &JobEvent) -> &'static str {
    match e {
        JobEvent::Claimed => "claimed",
        JobEvent::LeaseExpired => "lease_expired",
        JobEvent::Decided { .. } => "decided",
        JobEvent::Delivered { .. } => "delivered",
        JobEvent::Cancel { .. } => "cancel",
        JobEvent::Skip { .. } => "skip",
        JobEvent::Rearmed { .. } => "rearmed",
    }
}

/// Applies `event` to `job` at `now`; see the table at the top of this file.
pub fn apply(
    job: &Job,
    event: JobEvent,
    retry: &RetryPolicy,
    now: Timestamp,
) -> Result<Applied, TransitionError> {
    use JobStatus as S;
    let status = job.status();
    let mut next = job.clone();
    match (status, event) {
        (S::Scheduled | S::Failed, JobEvent::Claimed) => {
            next.state = JobState::Claimed { at: now };
        }
        (S::Scheduled | S::Failed, JobEvent::Rearmed { anchor, due_at }) => {
            next.delivery_key = job.key_for(anchor.version);
            next.anchor = anchor;
            next.due_at = due_at;
            next.attempts = 0;
            next.state = JobState::Scheduled;
        }
        (S::Scheduled | S::Failed, JobEvent::Cancel { reason }) => {
            next.state = JobState::Cancelled { at: now, reason };
        }
        (S::Scheduled | S::Failed, JobEvent::Skip { reason }) => {
            next.state = JobState::Skipped { at: now, reason };
        }
        (S::Claimed, JobEvent::Decided { decision }) => match decision {
            Decision::Send => return Ok(Applied::Ignored("send: deliver now")),
            Decision::Skip { reason } => next.state = JobState::Skipped { at: now, reason },
            Decision::Cancel { reason } => next.state = JobState::Cancelled { at: now, reason },
            Decision::Defer { until, .. } => {
                next.due_at = until;
                next.state = JobState::Scheduled;
            }
        },
        (S::Claimed, JobEvent::Delivered { result }) => {
            next.attempts = job.attempts + 1;
            match result {
                DeliveryResult::Sent { provider_id } => {
                    next.state = JobState::Sent {
                        at: now,
                        provider_id,
                    };
                }
                DeliveryResult::Permanent { error } => {
                    next.state = JobState::Dead { at: now, error };
                }
                DeliveryResult::Transient {
                    error,
                    retry_after_secs,
                } => match retry.after_failure(
                    &job.delivery_key,
                    next.attempts,
                    retry_after_secs,
                    now,
                ) {
                    RetryVerdict::RetryAt(at) => {
                        next.due_at = at;
                        next.state = JobState::Failed { at: now, error };
                    }
                    RetryVerdict::GiveUp => {
                        next.state = JobState::Dead {
                            at: now,
                            error: format!("{error} (gave up after {} attempts)", next.attempts),
                        };
                    }
                },
            }
        }
        (S::Claimed, JobEvent::LeaseExpired) => {
            next.state = JobState::Scheduled;
        }
        (
            S::Claimed,
            JobEvent::Cancel { .. } | JobEvent::Rearmed { .. } | JobEvent::Skip { .. },
        ) => {
            return Ok(Applied::Ignored("an attempt is in flight; it decides"));
        }
        (s, JobEvent::Cancel { .. } | JobEvent::Rearmed { .. } | JobEvent::Skip { .. })
            if s.is_final() =>
        {
            return Ok(Applied::Ignored("the job is already over"));
        }
        (status, event) => {
            return Err(TransitionError {
                job: job.id.clone(),
                status,
                event: event_name(&event),
            });
        }
    }
    Ok(Applied::Changed(Box::new(next)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::DeferReason;
    use crate::testing::job;

    fn now() -> Timestamp {
        "2026-06-10T10:00:00Z".parse().unwrap()
    }

    fn changed(a: Result<Applied, TransitionError>) -> Job {
        match a.unwrap() {
            Applied::Changed(j) => *j,
            Applied::Ignored(why) => panic!("ignored: {why}"),
        }
    }

    fn run(job: &Job, events: Vec<JobEvent>) -> Job {
        events.into_iter().fold(job.clone(), |j, e| {
            changed(apply(&j, e, &RetryPolicy::default(), now()))
        })
    }

    fn transient() -> JobEvent {
        JobEvent::Delivered {
            result: DeliveryResult::Transient {
                error: "timeout".into(),
                retry_after_secs: None,
            },
        }
    }

    #[test]
    fn happy_path() {
        let j = run(
            &job(),
            vec![
                JobEvent::Claimed,
                JobEvent::Delivered {
                    result: DeliveryResult::Sent {
                        provider_id: Some("p-1".into()),
                    },
                },
            ],
        );
        assert_eq!(j.status(), JobStatus::Sent);
        assert_eq!(j.attempts, 1);
    }

    #[test]
    fn transient_failures_retry_then_die_after_six_attempts() {
        let mut j = job();
        for attempt in 1..=5 {
            j = run(&j, vec![JobEvent::Claimed, transient()]);
            assert_eq!(j.status(), JobStatus::Failed, "attempt {attempt}");
            assert!(j.due_at > now());
        }
        j = run(&j, vec![JobEvent::Claimed, transient()]);
        assert_eq!(j.status(), JobStatus::Dead);
        assert_eq!(j.attempts, 6);
    }

    #[test]
    fn permanent_errors_go_straight_to_dead() {
        let j = run(
            &job(),
            vec![
                JobEvent::Claimed,
                JobEvent::Delivered {
                    result: DeliveryResult::Permanent {
                        error: "550 no such user".into(),
                    },
                },
            ],
        );
        assert_eq!(j.status(), JobStatus::Dead);
    }

    #[test]
    fn defer_returns_to_scheduled_with_the_new_due_time() {
        let until: Timestamp = "2026-06-11T06:00:00Z".parse().unwrap();
        let j = run(
            &job(),
            vec![
                JobEvent::Claimed,
                JobEvent::Decided {
                    decision: Decision::Defer {
                        until,
                        reason: DeferReason::QuietHours,
                    },
                },
            ],
        );
        assert_eq!(j.status(), JobStatus::Scheduled);
        assert_eq!(j.due_at, until);
        assert_eq!(j.attempts, 0);
    }

    #[test]
    fn rearm_changes_key_and_resets_attempts_but_keeps_the_id() {
        let j = run(&job(), vec![JobEvent::Claimed, transient()]);
        let anchor = AnchorRef {
            version: j.anchor.version + 1,
            ..j.anchor
        };
        let r = run(
            &j,
            vec![JobEvent::Rearmed {
                anchor,
                due_at: now(),
            }],
        );
        assert_eq!(r.id, j.id);
        assert_ne!(r.delivery_key, j.delivery_key);
        assert_eq!(r.delivery_key, j.key_for(anchor.version));
        assert_eq!((r.status(), r.attempts), (JobStatus::Scheduled, 0));
    }

    #[test]
    fn late_cancels_are_ignored_and_impossible_events_refused() {
        let sent = run(
            &job(),
            vec![
                JobEvent::Claimed,
                JobEvent::Delivered {
                    result: DeliveryResult::Sent { provider_id: None },
                },
            ],
        );
        let cancel = JobEvent::Cancel {
            reason: CancelReason::BookingCancelled,
        };
        assert!(matches!(
            apply(&sent, cancel.clone(), &RetryPolicy::default(), now()),
            Ok(Applied::Ignored(_))
        ));
        let claimed = run(&job(), vec![JobEvent::Claimed]);
        assert!(matches!(
            apply(&claimed, cancel, &RetryPolicy::default(), now()),
            Ok(Applied::Ignored(_))
        ));
        let err = apply(&job(), transient(), &RetryPolicy::default(), now()).unwrap_err();
        assert_eq!(err.status, JobStatus::Scheduled);
        assert!(apply(&sent, JobEvent::Claimed, &RetryPolicy::default(), now()).is_err());
    }

    #[test]
    fn job_state_serialises_flat() {
        let j = run(
            &job(),
            vec![JobEvent::Cancel {
                reason: CancelReason::GoalReached {
                    goal: Goal::ClientReplied,
                },
            }],
        );
        let v = serde_json::to_value(&j.state).unwrap();
        assert_eq!(v["status"], "cancelled");
        assert_eq!(v["reason"], "goal_reached");
        assert_eq!(v["goal"], "client_replied");
        let back: Job = serde_json::from_str(&serde_json::to_string(&j).unwrap()).unwrap();
        assert_eq!(back, j);
    }
}
