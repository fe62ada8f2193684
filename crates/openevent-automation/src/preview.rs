//! What a booking will receive, and what an edit to a workflow would change for it: read-only
//! views over the same functions the scheduler and dispatcher use, so the preview cannot drift
//! from what happens.

use std::collections::BTreeSet;

use jiff::Timestamp;
use serde::Serialize;

use crate::booking::{BookingSnapshot, Subject, TriggerEvent};
use crate::definition::{Channel, Workflow};
use crate::dispatch::{Decision, decide};
use crate::ids::{StepKey, WorkflowKey};
use crate::job::{Job, JobId, JobStatus};
use crate::recipients::Address;
use crate::scheduler::{Context, Effect, plan_step};
use crate::settings::OrgSettings;
use crate::template::{self, Rendered};

/// One message the booking is due to get.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Upcoming {
    pub job: JobId,
    pub workflow: WorkflowKey,
    pub step: StepKey,
    pub channel: Channel,
    pub to: Address,
    /// When it would go out (after quiet hours).
    pub at: Timestamp,
    /// What the dispatcher would decide then, were the booking to stay as it is.
    pub decision: Decision,
    /// The message as it would read today…
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rendered: Option<Rendered>,
    /// …or why it cannot be rendered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub render_error: Option<String>,
}

/// Every pending message of the booking, in the order they would go out.
pub fn upcoming(
    booking: &BookingSnapshot,
    jobs: &[Job],
    settings: &OrgSettings,
    now: Timestamp,
) -> Vec<Upcoming> {
    let mut out: Vec<Upcoming> = jobs
        .iter()
        .filter(|j| j.status().is_pending() || j.status() == JobStatus::Claimed)
        .map(|j| {
            let due = j.due_at.max(now);
            let mut decision = decide(j, booking, settings, due);
            let mut at = due;
            if let Decision::Defer { until, .. } = decision {
                at = until;
                decision = decide(j, booking, settings, until);
            }
            let ctx = template::context(j.trigger, booking, &j.subject, settings);
            let rendered =
                template::render(&j.template, j.channel, &ctx).map_err(|e| e.to_string());
            Upcoming {
                job: j.id.clone(),
                workflow: j.workflow.clone(),
                step: j.step.clone(),
                channel: j.channel,
                to: j.recipient.clone(),
                at,
                decision,
                render_error: rendered.as_ref().err().cloned(),
                rendered: rendered.ok(),
            }
        })
        .collect();
    out.sort_by(|a, b| (a.at, &a.job).cmp(&(b.at, &b.job)));
    out
}

/// How an edited definition would change one pending message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// The edit adds a message for an occurrence the booking already had.
    Added {
        step: StepKey,
        to: Address,
        at: Timestamp,
    },
    /// The edit drops a pending message.
    Removed {
        job: JobId,
        step: StepKey,
        to: Address,
        at: Timestamp,
    },
    /// Same step and recipient, different time, channel or text.
    Changed {
        job: JobId,
        step: StepKey,
        to: Address,
        at_before: Timestamp,
        at_after: Timestamp,
        content_changed: bool,
    },
}

/// What replacing the booking's pending jobs of `edited`'s workflow with the ones `edited` would
/// schedule for the same trigger occurrences would change. Unchanged messages are not listed.
pub fn diff(ctx: &Context<'_>, edited: &Workflow) -> Vec<Change> {
    let pending: Vec<&Job> = ctx
        .jobs
        .iter()
        .filter(|j| j.workflow == *edited.key() && j.status().is_pending())
        .collect();
    let occurrences: BTreeSet<(Timestamp, Subject, crate::definition::Trigger)> = pending
        .iter()
        .map(|j| (j.trigger_at, j.subject.clone(), j.trigger))
        .collect();
    let mut planned: Vec<Job> = Vec::new();
    for (at, subject, trigger) in occurrences {
        let event = TriggerEvent {
            trigger,
            at,
            appointment: match subject {
                Subject::Appointment { id } => Some(id),
                Subject::Booking => None,
            },
        };
        for step in edited
            .steps()
            .iter()
            .filter(|s| s.enabled && s.trigger == trigger)
        {
            planned.extend(plan_step(ctx, edited, step, &event).into_iter().filter_map(
                |e| match e {
                    Effect::Schedule { job } if job.status() == JobStatus::Scheduled => Some(*job),
                    _ => None,
                },
            ));
        }
    }
    let same = |a: &Job, b: &Job| {
        a.step == b.step
            && a.recipient == b.recipient
            && a.subject == b.subject
            && a.trigger_at == b.trigger_at
    };
    let mut out = Vec::new();
    for old in &pending {
        match planned.iter().find(|p| same(p, old)) {
            None => out.push(Change::Removed {
                job: old.id.clone(),
                step: old.step.clone(),
                to: old.recipient.clone(),
                at: old.due_at,
            }),
            Some(new) => {
                let content_changed = new.template != old.template || new.channel != old.channel;
                if content_changed || new.due_at != old.due_at {
                    out.push(Change::Changed {
                        job: old.id.clone(),
                        step: old.step.clone(),
                        to: old.recipient.clone(),
                        at_before: old.due_at,
                        at_after: new.due_at,
                        content_changed,
                    });
                }
            }
        }
    }
    for new in &planned {
        if !pending.iter().any(|old| same(new, old)) {
            out.push(Change::Added {
                step: new.step.clone(),
                to: new.recipient.clone(),
                at: new.due_at,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::{Offset, Trigger};
    use crate::library;
    use crate::scheduler::reconcile;
    use crate::testing::{booking, ts};
    use openevent_core::OrgSlug;

    fn setup() -> (
        OrgSlug,
        OrgSettings,
        Vec<Workflow>,
        WorkflowKey,
        BookingSnapshot,
    ) {
        (
            OrgSlug::parse("atelier").unwrap(),
            OrgSettings::atelier(),
            vec![library::get("offer-follow-up").unwrap()],
            WorkflowKey::parse("offer-follow-up").unwrap(),
            booking(),
        )
    }

    fn schedule(
        org: &OrgSlug,
        settings: &OrgSettings,
        wfs: &[Workflow],
        assigned: &WorkflowKey,
        b: &BookingSnapshot,
    ) -> Vec<Job> {
        let ctx = Context {
            org,
            settings,
            workflows: wfs,
            assigned: Some(assigned),
            booking: b,
            jobs: &[],
            now: ts("2026-06-05T15:30"),
        };
        let t = TriggerEvent {
            trigger: Trigger::OfferSent,
            at: ts("2026-06-05T15:30"),
            appointment: None,
        };
        reconcile(&ctx, Some(&t))
            .into_iter()
            .filter_map(|e| match e {
                Effect::Schedule { job } => Some(*job),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn upcoming_lists_rendered_messages_in_order() {
        let (org, settings, wfs, key, b) = setup();
        let jobs = schedule(&org, &settings, &wfs, &key, &b);
        let list = upcoming(&b, &jobs, &settings, ts("2026-06-05T15:30"));
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].step.as_str(), "no-reply-3-days");
        assert!(list[0].at < list[1].at);
        assert_eq!(list[0].decision, Decision::Send);
        let r = list[0].rendered.as_ref().unwrap();
        assert_eq!(r.subject.as_deref(), Some("Your offer from The Atelier"));
        assert!(r.text.contains("Dear Laura Meier"), "{}", r.text);
        assert!(r.text.contains("CHF 1'234.50"), "{}", r.text);
        assert!(r.html.is_some());
        assert!(
            list[1].rendered.as_ref().unwrap().html.is_none(),
            "tasks have no HTML"
        );
    }

    #[test]
    fn diff_shows_what_an_edit_changes_for_a_booking_in_flight() {
        let (org, settings, wfs, key, b) = setup();
        let jobs = schedule(&org, &settings, &wfs, &key, &b);
        let mut spec = wfs[0].clone().into_spec();
        spec.version = 2;
        spec.steps[0].timing.offset = Offset::Days(4);
        spec.steps.remove(1);
        let edited = Workflow::new(spec).unwrap();
        let ctx = Context {
            org: &org,
            settings: &settings,
            workflows: &wfs,
            assigned: Some(&key),
            booking: &b,
            jobs: &jobs,
            now: ts("2026-06-06T10:00"),
        };
        let changes = diff(&ctx, &edited);
        assert_eq!(changes.len(), 2, "{changes:#?}");
        assert!(changes.iter().any(|c| matches!(
            c,
            Change::Changed { at_before, at_after, content_changed: false, .. }
                if *at_before == ts("2026-06-08T09:00") && *at_after == ts("2026-06-09T09:00")
        )));
        assert!(changes.iter().any(|c| matches!(
            c,
            Change::Removed { step, .. } if step.as_str() == "call-the-client"
        )));
        assert!(
            diff(&ctx, &wfs[0]).is_empty(),
            "an unchanged definition changes nothing"
        );
    }
}
