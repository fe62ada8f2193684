//! The dispatcher: claims due outbox jobs, sends each through its channel once, and records the
//! outcome with an audit entry on the booking, per job in its own transaction.
//!
//! Delivery is at-least-once towards the provider and exactly-once in the ledger: a job is sent
//! only while its lease is held, its completion is fenced by the attempt number, and a resend
//! after a crash between "sent" and "recorded" carries the same delivery key (the email's
//! Message-ID, the HTTP providers' idempotency key), so the receiving side can drop it.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use openevent_automation::retry::{DeliveryResult, RetryPolicy, RetryVerdict};
use openevent_channels::{DynChannel, OutboundMessage};
use openevent_core::AuditEntry;
use openevent_core::audit::Actor;
use openevent_core::workflow::OutboxEmail;
use openevent_store::{ClaimedJob, JobResult, Store, StoreError};
use serde::Serialize;

use crate::Engine;
use crate::clock::Clock;

/// How long a claimed job is ours before another dispatcher may take it over.
pub const LEASE: SignedDuration = SignedDuration::from_secs(300);

/// The channels a dispatcher can send through; a job for a channel that is not configured is not
/// claimed: it waits for a dispatcher that has it.
#[derive(Default)]
pub struct Channels<'a> {
    pub email: Option<&'a dyn DynChannel>,
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

impl<S: Store, C: Clock> Engine<S, C> {
    /// Sends what is due now, up to `limit` jobs, once each.
    pub async fn run_due(
        &self,
        channels: &Channels<'_>,
        policy: &RetryPolicy,
        limit: u32,
    ) -> Result<DispatchReport, StoreError> {
        let now = self.clock.now();
        let lease_until = now.saturating_add(LEASE).expect("lease fits");
        let mut names = Vec::new();
        if channels.email.is_some() {
            names.push("email");
        }
        let claimed = self
            .store
            .claim_due(now, lease_until, limit, &names)
            .await?;
        let mut report = DispatchReport::default();
        for job in claimed {
            let result = match (job.channel.as_str(), channels.email) {
                ("email", Some(channel)) => match email_message(&job) {
                    Ok(message) => {
                        let delivered = channel.send_boxed(&message).await;
                        job_result(policy, &job, delivered, self.clock.now())
                    }
                    Err(error) => JobResult::Dead { error },
                },
                (other, _) => JobResult::Dead {
                    error: format!("claimed a job for channel '{other}' without that channel"),
                },
            };
            let finished = self.clock.now();
            let entry = audit_entry(&job, &result, finished);
            match self
                .store
                .finish_job(&job, &result, Some(&entry), finished)
                .await
            {
                Ok(()) => match result {
                    JobResult::Sent => report.executed += 1,
                    JobResult::Retry { .. } => report.failed += 1,
                    JobResult::Dead { .. } => report.dead += 1,
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
}
