//! The dispatcher: claims due outbox jobs, sends each through its channel once, and records the
//! outcome with an audit entry on the booking, per job in its own transaction.
//!
//! Delivery is at-least-once towards the provider and exactly-once in the ledger: a job is sent
//! only while its lease is held, its completion is fenced by the attempt number, and a resend
//! after a crash between "sent" and "recorded" carries the same delivery key (the email's
//! Message-ID, the HTTP providers' idempotency key), so the receiving side can drop it.

use std::collections::{BTreeMap, HashMap};

use jiff::Timestamp;
use openevent_automation::definition::Channel;
use openevent_automation::dispatch::{Decision, decide};
use openevent_automation::job::{Applied, Job, JobEvent, JobState, SkipReason};
use openevent_automation::lifecycle;
use openevent_automation::retry::{DeliveryResult, RetryPolicy, RetryVerdict};
use openevent_automation::template::{self, Rendered};
use openevent_channels::{DynChannel, OutboundMessage};
use openevent_core::AuditEntry;
use openevent_core::audit::Actor;
use openevent_core::effects::{HilTask, TaskPayload, TaskStatus, TaskType};
use openevent_core::ids::{MessageId, TaskId};
use openevent_core::workflow::OutboxEmail;
use openevent_store::{
    ClaimedJob, DecisionCommit, FinishedJob, JobKind, JobResult, Store, StoreError,
};
use serde::Serialize;

use std::sync::Arc;

use openevent_core::ids::OrgSlug;

use crate::Engine;
use crate::clock::Clock;

/// The channels a dispatcher can send through; a job for a channel that is not configured is not
/// claimed: it waits for a dispatcher that has it. Tasks need no channel (they are stored as HIL
/// tasks), so task jobs are always claimed.
#[derive(Default, Clone, Copy)]
pub struct Channels<'a> {
    pub email: Option<&'a dyn DynChannel>,
    pub whatsapp: Option<&'a dyn DynChannel>,
    pub sms: Option<&'a dyn DynChannel>,
    pub webhook: Option<&'a dyn DynChannel>,
}

impl<'a> Channels<'a> {
    fn get(&self, channel: Channel) -> Option<&'a dyn DynChannel> {
        match channel {
            Channel::Email => self.email,
            Channel::Whatsapp => self.whatsapp,
            Channel::Sms => self.sms,
            Channel::Webhook => self.webhook,
            Channel::Task => None,
        }
    }

    /// The channel names this dispatcher claims jobs for.
    pub fn names(&self) -> Vec<&'static str> {
        Channel::ALL
            .into_iter()
            .filter(|c| *c == Channel::Task || self.get(*c).is_some())
            .map(Channel::as_str)
            .collect()
    }
}

/// What one `run_due` pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DispatchReport {
    /// Sent and recorded.
    pub executed: u32,
    /// Failed, retry scheduled.
    pub failed: u32,
    /// Failed for good (permanent error or out of attempts): listed for an operator.
    pub dead: u32,
    /// Claimed but not ours to finish any more (the lease expired and another attempt took it).
    pub skipped: u32,
    /// Automation jobs that will not be sent (booking cancelled, anchor moved, goal reached),
    /// with the reason recorded.
    pub not_sent: u32,
    /// Automation jobs put off (quiet hours).
    pub deferred: u32,
}

fn email_message(job: &ClaimedJob) -> Result<OutboundMessage, String> {
    let email: OutboxEmail =
        serde_json::from_str(&job.payload).map_err(|e| format!("unreadable payload: {e}"))?;
    Ok(OutboundMessage::from_outbox(&email))
}

/// The ledger's verdict on one attempt (pure).
pub fn job_result(
    policy: &RetryPolicy,
    job: &ClaimedJob,
    delivered: DeliveryResult,
    now: Timestamp,
) -> JobResult {
    match delivered {
        DeliveryResult::Sent { .. } => JobResult::Sent,
        DeliveryResult::Permanent { error } => JobResult::Dead { error },
        DeliveryResult::Transient {
            error,
            retry_after_secs,
        } => match policy.after_failure(&job.delivery_key, job.attempt, retry_after_secs, now) {
            RetryVerdict::RetryAt(at) => JobResult::Retry { at, error },
            RetryVerdict::GiveUp => JobResult::Dead {
                error: format!("gave up after {} attempts: {error}", job.attempt),
            },
        },
    }
}

/// The booking's audit entry for an attempt: metadata only, never the message.
pub fn audit_entry(job: &ClaimedJob, result: &JobResult, now: Timestamp) -> AuditEntry {
    let mut fields = BTreeMap::new();
    fields.insert("job_id".to_owned(), job.job_id.clone().into());
    fields.insert("channel".to_owned(), job.channel.clone().into());
    fields.insert("attempt".to_owned(), job.attempt.into());
    fields.insert("delivery_key".to_owned(), job.delivery_key.clone().into());
    let reason = match result {
        JobResult::Sent => "outbox_sent",
        JobResult::Retry { at, error } => {
            fields.insert("retry_at".to_owned(), at.to_string().into());
            fields.insert("error".to_owned(), error.clone().into());
            "outbox_retry_scheduled"
        }
        JobResult::Dead { error } => {
            fields.insert("error".to_owned(), error.clone().into());
            "outbox_dead"
        }
        JobResult::Skipped { reason } | JobResult::Cancelled { reason } => {
            fields.insert("reason".to_owned(), reason.clone().into());
            "outbox_not_sent"
        }
        JobResult::Deferred { until, .. } => {
            fields.insert("until".to_owned(), until.to_string().into());
            "outbox_deferred"
        }
    };
    AuditEntry {
        ts: now,
        actor: Actor::System,
        from_step: None,
        to_step: None,
        reason: reason.to_owned(),
        fields,
    }
}

/// What a dispatcher pass reads once and uses for every job of its batch.
#[derive(Default)]
struct Batch {
    orgs: BTreeMap<OrgSlug, Arc<OrgContext>>,
    heads:
        HashMap<(OrgSlug, openevent_core::ids::EventId), Arc<openevent_store::BookingAutomation>>,
}

struct OrgContext {
    setup: Arc<openevent_store::AutomationSetup>,
    settings: openevent_automation::OrgSettings,
}

/// The ledger's result for an automation job in its new state, and the audit reason.
fn automation_result(job: &Job) -> (JobResult, &'static str) {
    // Reasons as their JSON form (`{"reason":"stale_anchor"}`), for the ledger's note column.
    fn text<T: Serialize>(v: &T) -> String {
        serde_json::to_string(v).unwrap_or_default()
    }
    match &job.state {
        JobState::Sent { .. } => (JobResult::Sent, "automation_sent"),
        JobState::Failed { error, .. } => (
            JobResult::Retry {
                at: job.due_at,
                error: error.clone(),
            },
            "automation_retry_scheduled",
        ),
        JobState::Dead { error, .. } => (
            JobResult::Dead {
                error: error.clone(),
            },
            "automation_dead",
        ),
        JobState::Skipped { reason, .. } => (
            JobResult::Skipped {
                reason: text(reason),
            },
            "automation_skipped",
        ),
        JobState::Cancelled { reason, .. } => (
            JobResult::Cancelled {
                reason: text(reason),
            },
            "automation_cancelled",
        ),
        JobState::Scheduled => (
            JobResult::Deferred {
                until: job.due_at,
                reason: "deferred".to_owned(),
            },
            "automation_deferred",
        ),
        JobState::Claimed { .. } => (
            JobResult::Dead {
                error: "the attempt ended without an outcome".to_owned(),
            },
            "automation_dead",
        ),
    }
}

fn apply_or_keep(job: &Job, event: JobEvent, policy: &RetryPolicy, now: Timestamp) -> Job {
    match openevent_automation::job::apply(job, event, policy, now) {
        Ok(Applied::Changed(next)) => *next,
        Ok(Applied::Ignored(_)) | Err(_) => job.clone(),
    }
}

/// The staff task an automation step creates; its id comes from the delivery key, so a replay
/// after a crash finds the task already there.
fn staff_task(job: &Job, rendered: &Rendered, now: Timestamp) -> Result<HilTask, String> {
    let digest = &openevent_core::hash::sha256_hex(job.delivery_key.as_str().as_bytes())[..20];
    let task_id = TaskId::parse(&format!("TASK-AUTO-{digest}")).map_err(|e| e.to_string())?;
    let source = MessageId::parse(&job.delivery_key.message_id("automation.openevent.invalid"))
        .map_err(|e| e.to_string())?;
    let reason = match &rendered.subject {
        Some(subject) => format!("{subject}\n\n{}", rendered.text),
        None => rendered.text.clone(),
    };
    Ok(HilTask {
        task_id,
        event_id: Some(job.event_id.clone()),
        task_type: TaskType::StaffTodo,
        status: TaskStatus::Pending,
        step: None,
        draft_id: None,
        payload: TaskPayload::None,
        reason,
        source_message_id: source,
        created_at: now,
    })
}

impl<S: Store, C: Clock> Engine<S, C> {
    /// Sends what is due now, up to `limit` jobs, once each.
    pub async fn run_due(
        &self,
        channels: &Channels<'_>,
        policy: &RetryPolicy,
        limit: u32,
    ) -> Result<DispatchReport, StoreError> {
        let now = self.clock.now();
        let mut report = DispatchReport::default();
        self.fire_completions(now, limit).await?;
        let lease_until = now.saturating_add(policy.lease()).expect("lease fits");
        // No send starts in the lease's second half: a send started before it ends (channel
        // timeouts are far shorter) before another dispatcher may take the job over, so a slow
        // channel cannot make a batch outlive its lease and have its sent jobs sent again.
        let last_start = now.saturating_add(policy.lease() / 2).expect("lease fits");
        let claimed = self
            .store
            .claim_due(now, lease_until, limit, &channels.names())
            .await?;
        let mut finished = Vec::with_capacity(claimed.len());
        let mut batch = Batch::default();
        for job in claimed {
            if self.clock.now() >= last_start {
                // Back in the queue at once, the attempt not counted.
                finished.push(FinishedJob {
                    result: JobResult::Deferred {
                        until: self.clock.now(),
                        reason: "lease_half_spent".into(),
                    },
                    payload: None,
                    audit: None,
                    job,
                });
                continue;
            }
            let (result, payload, entry) = match job.kind {
                JobKind::Reply => {
                    let result = match (job.channel.as_str(), channels.email) {
                        ("email", Some(channel)) => match email_message(&job) {
                            Ok(message) => {
                                let started = std::time::Instant::now();
                                let delivered = channel.send_boxed(&message).await;
                                self.metrics
                                    .delivery("email", started.elapsed(), &delivered);
                                job_result(policy, &job, delivered, self.clock.now())
                            }
                            Err(error) => JobResult::Dead { error },
                        },
                        (other, _) => JobResult::Dead {
                            error: format!(
                                "claimed a job for channel '{other}' without that channel"
                            ),
                        },
                    };
                    let entry = audit_entry(&job, &result, self.clock.now());
                    (result, None, entry)
                }
                JobKind::Automation => {
                    let (result, next, reason) = self
                        .dispatch_automation(&job, &mut batch, channels, policy)
                        .await?;
                    let entry = automation_audit(&job, &next, &result, reason, self.clock.now());
                    (
                        result,
                        Some(serde_json::to_string(&next).expect("a job serialises")),
                        entry,
                    )
                }
            };
            finished.push(FinishedJob {
                job,
                result,
                payload,
                audit: Some(entry),
            });
        }
        // One transaction for the batch: a crash before it commits re-sends the batch under the
        // same delivery keys, which the providers drop.
        let results: Vec<JobResult> = finished.iter().map(|f| f.result.clone()).collect();
        let outcomes = self.store.finish_jobs(finished, self.clock.now()).await?;
        for (result, outcome) in results.into_iter().zip(outcomes) {
            match outcome {
                Ok(()) => match result {
                    JobResult::Sent => report.executed += 1,
                    JobResult::Retry { .. } => report.failed += 1,
                    JobResult::Dead { .. } => report.dead += 1,
                    JobResult::Skipped { .. } | JobResult::Cancelled { .. } => report.not_sent += 1,
                    JobResult::Deferred { .. } => report.deferred += 1,
                },
                Err(StoreError::LeaseLost(id)) => {
                    tracing::warn!(job_id = %id, "lease lost before the outcome was recorded");
                    report.skipped += 1;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(report)
    }

    /// Decides, renders and delivers one claimed automation job: the job in its new state.
    /// The organization's venue, setup and settings, read once per batch.
    async fn org_context(
        &self,
        batch: &mut Batch,
        org: &OrgSlug,
    ) -> Result<Arc<OrgContext>, StoreError> {
        if let Some(c) = batch.orgs.get(org) {
            return Ok(Arc::clone(c));
        }
        let venue = self.venue_of(org).await?;
        let setup = self.store.automation_setup(org).await?.unwrap_or_default();
        let settings = crate::automation::settings_for(&setup, &venue.venue);
        let c = Arc::new(OrgContext { setup, settings });
        batch.orgs.insert(org.clone(), Arc::clone(&c));
        Ok(c)
    }

    async fn dispatch_automation(
        &self,
        claimed: &ClaimedJob,
        batch: &mut Batch,
        channels: &Channels<'_>,
        policy: &RetryPolicy,
    ) -> Result<(JobResult, Job, Option<&'static str>), StoreError> {
        let now = self.clock.now();
        let job: Job = match serde_json::from_str(&claimed.payload) {
            Ok(j) => j,
            Err(e) => {
                return Err(StoreError::Corrupt(format!(
                    "automation job {}: {e}",
                    claimed.job_id
                )));
            }
        };
        let job = apply_or_keep(&job, JobEvent::Claimed, policy, now);
        let org = self.org_context(batch, &claimed.org).await?;
        let (setup, settings) = (&org.setup, &org.settings);
        let key = (claimed.org.clone(), job.event_id.clone());
        let head = match batch.heads.get(&key) {
            Some(h) => Arc::clone(h),
            None => {
                let h = Arc::new(
                    self.store
                        .automation_head(&claimed.org, &job.event_id)
                        .await?,
                );
                batch.heads.insert(key, Arc::clone(&h));
                h
            }
        };
        let Some(record) = &head.record else {
            let next = apply_or_keep(
                &job,
                JobEvent::Decided {
                    decision: Decision::Skip {
                        reason: SkipReason::AnchorGone,
                    },
                },
                policy,
                now,
            );
            let (result, _) = automation_result(&next);
            return Ok((result, next, Some("automation_skipped")));
        };
        // The workflow may have been disabled, or the booking's assignment changed, since the job
        // was scheduled: such a job is cancelled rather than sent.
        let assigned = crate::automation::resolution(
            setup,
            settings,
            head.override_.as_ref(),
            &crate::automation::snapshot_facts(&record.snapshot),
        )
        .workflow;
        let ctx = openevent_automation::scheduler::Context {
            org: &claimed.org,
            settings,
            workflows: &setup.workflows,
            assigned: assigned.as_ref(),
            booking: &record.snapshot,
            jobs: std::slice::from_ref(&job),
            now,
        };
        let decision = if openevent_automation::scheduler::active_workflows(&ctx)
            .any(|w| w.key() == &job.workflow)
        {
            decide(&job, &record.snapshot, settings, now)
        } else {
            Decision::Cancel {
                reason: openevent_automation::job::CancelReason::WorkflowInactive,
            }
        };
        if decision != Decision::Send {
            let next = apply_or_keep(&job, JobEvent::Decided { decision }, policy, now);
            let (result, reason) = automation_result(&next);
            return Ok((result, next, Some(reason)));
        }
        let ctx = template::context(job.trigger, &record.snapshot, &job.subject, settings);
        let delivered = match template::render(&job.template, job.channel, &ctx) {
            Err(e) => DeliveryResult::Permanent {
                error: format!("template: {e}"),
            },
            Ok(rendered) => match (job.channel, channels.get(job.channel)) {
                (Channel::Task, _) => match staff_task(&job, &rendered, now) {
                    Ok(task) => {
                        self.store
                            .commit_decision(DecisionCommit {
                                org: &claimed.org,
                                decided: None,
                                at: now,
                                event: None,
                                audit: &[],
                                drafts: &[],
                                tasks: std::slice::from_ref(&task),
                                superseded: &[],
                                outbox: &[],
                                calendar_seen: &[],
                                automation: None,
                            })
                            .await?;
                        DeliveryResult::Sent {
                            provider_id: Some(task.task_id.to_string()),
                        }
                    }
                    Err(error) => DeliveryResult::Permanent { error },
                },
                (_, Some(channel)) => {
                    let message = OutboundMessage::new(
                        job.delivery_key.as_str(),
                        job.recipient.clone(),
                        rendered,
                    );
                    let started = std::time::Instant::now();
                    let delivered = channel.send_boxed(&message).await;
                    self.metrics
                        .delivery(job.channel.as_str(), started.elapsed(), &delivered);
                    delivered
                }
                (other, None) => DeliveryResult::Permanent {
                    error: format!("no '{}' channel is configured", other.as_str()),
                },
            },
        };
        let next = apply_or_keep(
            &job,
            JobEvent::Delivered { result: delivered },
            policy,
            self.clock.now(),
        );
        let (result, reason) = automation_result(&next);
        Ok((result, next, Some(reason)))
    }

    /// Fires the completion triggers (event ended, site visit took place) due by `now`.
    pub async fn fire_completions(&self, now: Timestamp, limit: u32) -> Result<u32, StoreError> {
        let due = self.store.due_completions(now, limit).await?;
        let mut fired = 0;
        for (org, event_id) in due {
            let Some(setup) = self.store.automation_setup(&org).await? else {
                continue;
            };
            let booking = self.store.booking_automation(&org, &event_id).await?;
            let Some(record) = &booking.record else {
                continue;
            };
            let observation = lifecycle::completions(record, now);
            let fired_now = observation.triggers.len() as u32;
            let venue = self.venue_of(&org).await?;
            let settings = crate::automation::settings_for(&setup, &venue.venue);
            let (changes, audit) = crate::automation::plan_jobs(
                &org,
                &setup,
                &settings,
                &booking,
                &event_id,
                observation,
                now,
            );
            self.store
                .commit_automation(&org, &changes, &audit, now)
                .await?;
            fired += fired_now;
        }
        Ok(fired)
    }
}

/// The booking's audit entry for an automation attempt: metadata only.
fn automation_audit(
    claimed: &ClaimedJob,
    job: &Job,
    result: &JobResult,
    reason: Option<&'static str>,
    now: Timestamp,
) -> AuditEntry {
    let mut entry = AuditEntry::new(
        now,
        Actor::System,
        None,
        None,
        reason.unwrap_or("automation_attempt"),
    )
    .field("job_id", job.id.as_str())
    .field("workflow", job.workflow.as_str())
    .field("workflow_version", job.workflow_version)
    .field("step", job.step.as_str())
    .field("channel", job.channel)
    .field("attempt", claimed.attempt)
    .field("delivery_key", job.delivery_key.as_str());
    match result {
        JobResult::Retry { at, error } => {
            entry = entry
                .field("retry_at", at.to_string())
                .field("error", error);
        }
        JobResult::Dead { error } => entry = entry.field("error", error),
        JobResult::Skipped { reason } | JobResult::Cancelled { reason } => {
            entry = entry.field("reason", reason)
        }
        JobResult::Deferred { until, .. } => entry = entry.field("until", until.to_string()),
        JobResult::Sent => {}
    }
    entry
}
