//! The scheduler: given the organization's workflows, a booking snapshot, the booking's jobs and
//! `now` (and the lifecycle trigger that just happened, if any), what must change.
//!
//! Rules, each a named function below:
//! - `plan_trigger`: a trigger schedules one job per (matching enabled step of an active
//!   workflow, recipient). A job whose delivery key already exists is not scheduled again, so
//!   handing the same trigger in twice is harmless. A job due before it could be scheduled
//!   follows its step's `if_past` (sent now, or recorded as skipped with the reason).
//! - `supersede`: a new occurrence of a trigger replaces the pending jobs of the same step and
//!   recipient from the previous occurrence (a second offer gets its own follow-up).
//! - `review_pending`: pending jobs are cancelled when the booking (or their appointment) is
//!   cancelled — unless they announce that cancellation —, when one of their stop-when goals was
//!   reached after they were scheduled, or when their workflow is disabled or unassigned; they
//!   are re-armed when their anchor moved.
//! - `replace_stale`: a job the dispatcher skipped as stale (its anchor moved while it was in
//!   flight) is re-created for the anchor's current version.
//! - Due times never fall into quiet hours for the job's channel.

use std::collections::BTreeSet;

use jiff::{SignedDuration, Timestamp};
use openevent_core::OrgSlug;
use serde::{Deserialize, Serialize};

use crate::booking::{AnchorPoint, BookingSnapshot, TriggerEvent};
use crate::definition::{Anchor, PastDuePolicy, Scope, StepSpec, Workflow};
use crate::delivery_key::{DeliveryKey, KeyParts};
use crate::dispatch::goal_reached;
use crate::ids::{StepKey, WorkflowKey};
use crate::job::{AnchorRef, CancelReason, Job, JobEvent, JobId, JobState, SkipReason};
use crate::quiet_hours;
use crate::recipients;
use crate::settings::OrgSettings;
use crate::timing;

/// How late a due time may be before it counts as missed: the scheduler runs a moment after the
/// trigger, and "right away" must not count as "in the past".
pub const PAST_DUE_GRACE: SignedDuration = SignedDuration::from_mins(15);

/// What the scheduler sees.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub org: &'a OrgSlug,
    pub settings: &'a OrgSettings,
    /// The organization's current workflow definitions.
    pub workflows: &'a [Workflow],
    /// The workflow assigned to this booking (see `assignment::resolve`).
    pub assigned: Option<&'a WorkflowKey>,
    pub booking: &'a BookingSnapshot,
    /// All of this booking's jobs, whatever their status.
    pub jobs: &'a [Job],
    pub now: Timestamp,
}

/// A change the shell must make, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    /// Store a new job (its state is `scheduled`, or `skipped` when it was already past due and
    /// its step says so: kept for the record).
    Schedule {
        job: Box<Job>,
    },
    Cancel {
        job: JobId,
        reason: CancelReason,
    },
    Skip {
        job: JobId,
        reason: SkipReason,
    },
    Rearm {
        job: JobId,
        anchor: AnchorRef,
        due_at: Timestamp,
    },
    /// A step that could not be scheduled for someone or at all; reported, not dropped.
    NotScheduled {
        workflow: WorkflowKey,
        step: StepKey,
        reason: String,
    },
}

impl Effect {
    /// The job transition an effect on an existing job stands for.
    pub fn job_event(&self) -> Option<(&JobId, JobEvent)> {
        match self {
            Effect::Cancel { job, reason } => Some((
                job,
                JobEvent::Cancel {
                    reason: reason.clone(),
                },
            )),
            Effect::Skip { job, reason } => Some((
                job,
                JobEvent::Skip {
                    reason: reason.clone(),
                },
            )),
            Effect::Rearm {
                job,
                anchor,
                due_at,
            } => Some((
                job,
                JobEvent::Rearmed {
                    anchor: *anchor,
                    due_at: *due_at,
                },
            )),
            Effect::Schedule { .. } | Effect::NotScheduled { .. } => None,
        }
    }
}

/// The workflows that run for this booking.
pub fn active_workflows<'a>(ctx: &Context<'a>) -> impl Iterator<Item = &'a Workflow> + 'a {
    let assigned = ctx.assigned;
    ctx.workflows.iter().filter(move |w| {
        w.enabled() && (w.spec().scope == Scope::AllBookings || Some(w.key()) == assigned)
    })
}

/// Everything that follows from the booking as it is now, and from `trigger` if one happened.
pub fn reconcile(ctx: &Context<'_>, trigger: Option<&TriggerEvent>) -> Vec<Effect> {
    let mut effects = Vec::new();
    let planned = trigger.map(|t| plan_trigger(ctx, t)).unwrap_or_default();
    let mut superseded = BTreeSet::new();
    for p in &planned {
        if let Effect::Schedule { job } = p {
            for old in supersede(ctx, job) {
                if superseded.insert(old.id.clone()) {
                    effects.push(Effect::Cancel {
                        job: old.id.clone(),
                        reason: CancelReason::Superseded { by: job.id.clone() },
                    });
                }
            }
        }
    }
    effects.extend(planned);
    for job in ctx.jobs.iter().filter(|j| !superseded.contains(&j.id)) {
        if job.status().is_pending() {
            effects.extend(review_pending(ctx, job));
        }
    }
    let mut known: BTreeSet<DeliveryKey> = ctx
        .jobs
        .iter()
        .map(|j| j.delivery_key.clone())
        .chain(effects.iter().filter_map(|e| match e {
            Effect::Schedule { job } => Some(job.delivery_key.clone()),
            _ => None,
        }))
        .collect();
    for job in ctx.jobs {
        if let Some(effect) = replace_stale(ctx, job, &known) {
            if let Effect::Schedule { job } = &effect {
                known.insert(job.delivery_key.clone());
            }
            effects.push(effect);
        }
    }
    effects
}

/// New jobs for `trigger`, as `Schedule` or `NotScheduled` effects.
pub fn plan_trigger(ctx: &Context<'_>, trigger: &TriggerEvent) -> Vec<Effect> {
    let mut out = Vec::new();
    if ctx.booking.is_cancelled() && !trigger.trigger.is_cancellation() {
        return out;
    }
    for wf in active_workflows(ctx) {
        for step in wf
            .steps()
            .iter()
            .filter(|s| s.enabled && s.trigger == trigger.trigger)
        {
            out.extend(plan_step(ctx, wf, step, trigger));
        }
    }
    let existing: BTreeSet<&DeliveryKey> = ctx.jobs.iter().map(|j| &j.delivery_key).collect();
    out.retain(|e| match e {
        Effect::Schedule { job } => !existing.contains(&job.delivery_key),
        _ => true,
    });
    out
}

/// The jobs one step schedules for one trigger occurrence.
pub fn plan_step(
    ctx: &Context<'_>,
    wf: &Workflow,
    step: &StepSpec,
    trigger: &TriggerEvent,
) -> Vec<Effect> {
    let subject = trigger.subject();
    let not_scheduled = |reason: String| {
        vec![Effect::NotScheduled {
            workflow: wf.key().clone(),
            step: step.key.clone(),
            reason,
        }]
    };
    if !step.accepts_type(ctx.booking.type_for(&subject)) {
        return Vec::new();
    }
    let anchor = timing::effective_anchor(trigger.trigger, step.timing.anchor);
    let point = match anchor {
        Anchor::Trigger => AnchorPoint {
            at: trigger.at,
            version: 0,
        },
        _ => match ctx.booking.anchor_point(anchor, &subject) {
            Some(p) => p,
            None => return not_scheduled(format!("the booking has no {anchor:?} time yet")),
        },
    };
    let anchor_ref = AnchorRef {
        anchor,
        at: point.at,
        version: point.version,
    };
    let resolved = recipients::resolve(
        &step.recipients,
        step.channel,
        ctx.booking,
        &subject,
        ctx.settings.default_country,
    );
    let mut out: Vec<Effect> = resolved
        .unreachable
        .into_iter()
        .map(|u| Effect::NotScheduled {
            workflow: wf.key().clone(),
            step: step.key.clone(),
            reason: format!("{} {}", u.who, u.reason),
        })
        .collect();
    for recipient in resolved.addresses {
        let key = DeliveryKey::derive(&KeyParts {
            org: ctx.org,
            event_id: &ctx.booking.event_id,
            workflow: wf.key(),
            workflow_version: wf.version(),
            step: &step.key,
            subject: &subject,
            recipient: &recipient,
            anchor,
            anchor_version: point.version,
            trigger_at: trigger.at,
        });
        let mut job = Job {
            id: Job::new_id(&key),
            delivery_key: key,
            org: ctx.org.clone(),
            event_id: ctx.booking.event_id.clone(),
            workflow: wf.key().clone(),
            workflow_version: wf.version(),
            step: step.key.clone(),
            trigger: trigger.trigger,
            trigger_at: trigger.at,
            subject: subject.clone(),
            channel: step.channel,
            recipient,
            timing: step.timing.clone(),
            anchor: anchor_ref,
            stop_when: step.stop_when.clone(),
            template: step.template.clone(),
            created_at: ctx.now,
            due_at: ctx.now,
            attempts: 0,
            state: JobState::Scheduled,
        };
        match due_for(ctx, &job, point.at) {
            Ok(Due::At(t)) => job.due_at = t,
            Ok(Due::Missed(due_at)) => {
                job.due_at = due_at;
                job.state = JobState::Skipped {
                    at: ctx.now,
                    reason: SkipReason::PastDue { due_at },
                };
            }
            Err(e) => return not_scheduled(e.to_string()),
        }
        out.push(Effect::Schedule { job: Box::new(job) });
    }
    out
}

enum Due {
    At(Timestamp),
    /// Missed, and the step says to skip it.
    Missed(Timestamp),
}

/// The due time of `job` for an anchor at `anchor_at`: the step's timing, the past-due policy,
/// then quiet hours.
fn due_for(ctx: &Context<'_>, job: &Job, anchor_at: Timestamp) -> Result<Due, timing::TimingError> {
    let settings = ctx.settings;
    let mut due = timing::due_at(&job.timing, anchor_at, settings.tz(), &settings.holidays)?;
    if due.saturating_add(PAST_DUE_GRACE).expect("fixed duration") < ctx.now {
        match job.timing.if_past {
            PastDuePolicy::Skip => return Ok(Due::Missed(due)),
            PastDuePolicy::SendNow => due = ctx.now,
        }
    }
    Ok(Due::At(quiet_hours::defer(
        due,
        job.channel,
        &settings.quiet_hours,
        settings.tz(),
    )))
}

/// Pending jobs of an earlier occurrence of the same step for the same recipient.
fn supersede<'a>(ctx: &Context<'a>, new: &Job) -> impl Iterator<Item = &'a Job> {
    let new = new.clone();
    ctx.jobs.iter().filter(move |old| {
        old.status().is_pending()
            && old.same_lineage(&new)
            && old.trigger == new.trigger
            && old.delivery_key != new.delivery_key
    })
}

/// What must happen to a pending job given the booking as it is now.
pub fn review_pending(ctx: &Context<'_>, job: &Job) -> Option<Effect> {
    let cancel = |reason| {
        Some(Effect::Cancel {
            job: job.id.clone(),
            reason,
        })
    };
    let b = ctx.booking;
    if !job.trigger.is_cancellation() {
        if b.is_cancelled() {
            return cancel(CancelReason::BookingCancelled);
        }
        if b.subject_cancelled(&job.subject) {
            return cancel(CancelReason::AppointmentCancelled);
        }
    }
    if let Some(goal) = goal_reached(job, b) {
        return cancel(CancelReason::GoalReached { goal });
    }
    if !active_workflows(ctx).any(|w| w.key() == &job.workflow) {
        return cancel(CancelReason::WorkflowInactive);
    }
    if job.anchor.anchor == Anchor::Trigger {
        return None;
    }
    let Some(point) = b.anchor_point(job.anchor.anchor, &job.subject) else {
        return cancel(CancelReason::AnchorGone);
    };
    if point.version == job.anchor.version {
        return None;
    }
    let anchor = AnchorRef {
        anchor: job.anchor.anchor,
        at: point.at,
        version: point.version,
    };
    match due_for(ctx, job, point.at) {
        Ok(Due::At(due_at)) => Some(Effect::Rearm {
            job: job.id.clone(),
            anchor,
            due_at,
        }),
        Ok(Due::Missed(due_at)) => Some(Effect::Skip {
            job: job.id.clone(),
            reason: SkipReason::PastDue { due_at },
        }),
        Err(e) => Some(Effect::NotScheduled {
            workflow: job.workflow.clone(),
            step: job.step.clone(),
            reason: e.to_string(),
        }),
    }
}

/// A job skipped as stale whose anchor still exists: scheduled again for the anchor's current
/// version, unless a job for that version exists already.
fn replace_stale(ctx: &Context<'_>, job: &Job, known: &BTreeSet<DeliveryKey>) -> Option<Effect> {
    let JobState::Skipped {
        reason: SkipReason::StaleAnchor,
        ..
    } = job.state
    else {
        return None;
    };
    let point = ctx.booking.anchor_point(job.anchor.anchor, &job.subject)?;
    let key = job.key_for(point.version);
    if point.version <= job.anchor.version || known.contains(&key) {
        return None;
    }
    let mut fresh = job.clone();
    fresh.id = Job::new_id(&key);
    fresh.delivery_key = key;
    fresh.anchor = AnchorRef {
        anchor: job.anchor.anchor,
        at: point.at,
        version: point.version,
    };
    fresh.attempts = 0;
    fresh.state = JobState::Scheduled;
    // Judged like any pending job: no replacement for a cancelled booking or a reached goal.
    if review_pending(ctx, &fresh).is_some_and(|e| matches!(e, Effect::Cancel { .. })) {
        return None;
    }
    match due_for(ctx, &fresh, point.at).ok()? {
        Due::At(t) => fresh.due_at = t,
        Due::Missed(due_at) => {
            fresh.due_at = due_at;
            fresh.state = JobState::Skipped {
                at: ctx.now,
                reason: SkipReason::PastDue { due_at },
            };
        }
    }
    Some(Effect::Schedule {
        job: Box::new(fresh),
    })
}

#[cfg(test)]
mod tests;
