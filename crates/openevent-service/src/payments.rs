//! A payment provider reports a deposit: recorded at once, the confirmation goes to a manager.

use openevent_core::ids::{EventId, MessageId, OrgSlug};
use openevent_core::workflow;
use openevent_store::{DecisionCommit, EventWrite, Store, StoreError};

use crate::Engine;
use crate::clock::Clock;

/// What recording a payment did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PaymentReport {
    pub event_id: EventId,
    pub action: openevent_core::effects::Action,
    pub current_step: openevent_core::event::Step,
    pub status: openevent_core::event::Status,
    pub new_tasks: Vec<openevent_core::ids::TaskId>,
}

#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    #[error("no event {0} in this organization")]
    NotFound(EventId),
    #[error("event {0} has no accepted offer with a deposit")]
    NoDepositDue(EventId),
    #[error("the deposit of event {0} is already recorded")]
    AlreadyPaid(EventId),
    #[error("'{0}' is not a usable payment reference (no spaces or control characters)")]
    BadReference(String),
    #[error(transparent)]
    Workflow(#[from] workflow::WorkflowError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl<S: Store, C: Clock> Engine<S, C> {
    /// Records a paid deposit (idempotent per booking: a second report is refused, not doubled).
    pub async fn deposit_paid(
        &self,
        org: &OrgSlug,
        event_id: &EventId,
        reference: &str,
    ) -> Result<PaymentReport, PaymentError> {
        loop {
            let stored = self
                .store
                .load_event(org, event_id)
                .await?
                .ok_or_else(|| PaymentError::NotFound(event_id.clone()))?;
            let e = &stored.event;
            if e.deposit_paid_at.is_some() {
                return Err(PaymentError::AlreadyPaid(event_id.clone()));
            }
            let due = e.offers.iter().any(|o| {
                o.status == openevent_core::event::OfferStatus::Accepted && o.deposit.is_some()
            });
            if !due {
                return Err(PaymentError::NoDepositDue(event_id.clone()));
            }
            let now = self.clock.now();
            let data = self
                .turn_data(org, self.venue_of(org).await?, Some(e), None, now)
                .await?;
            let ctx = data.ctx(org, &self.config, data.client_name.as_deref(), now);
            let seed = MessageId::parse(&format!("payment.{reference}@openevent.invalid"))
                .map_err(|_| PaymentError::BadReference(reference.to_owned()))?;
            let mut out = workflow::on_deposit_paid(&ctx, e.clone(), &seed)?;
            let automation = data
                .automation_changes(&crate::automation::Write {
                    org,
                    venue: &data.venue.venue,
                    before: Some(e),
                    after: &out.event,
                    client_name: data.client_name.as_deref(),
                    client_phone: data.client_phone.as_deref(),
                    event_type: None,
                    cause: openevent_automation::lifecycle::Cause::Staff,
                    now,
                })
                .map(|(changes, audit)| {
                    out.audit.extend(audit);
                    changes
                });
            let commit = DecisionCommit {
                org,
                decided: None,
                at: now,
                event: Some(EventWrite::Update {
                    event: &out.event,
                    expected_version: stored.version,
                }),
                audit: &out.audit,
                drafts: &out.drafts,
                tasks: &out.tasks,
                superseded: &out.superseded,
                outbox: &out.outbox,
                calendar_seen: &data.calendar_seen(Some(&out.event)),
                automation: automation.as_ref(),
            };
            match self.store.commit_decision(commit).await {
                Ok(()) => {
                    tracing::info!(org = %org, event_id = %event_id, "deposit recorded");
                    return Ok(PaymentReport {
                        event_id: event_id.clone(),
                        action: out.action,
                        current_step: out.event.current_step,
                        status: out.event.status,
                        new_tasks: out.tasks.iter().map(|t| t.task_id.clone()).collect(),
                    });
                }
                Err(StoreError::Conflict(_) | StoreError::CalendarChanged(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}
