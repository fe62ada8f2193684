use super::*;
use crate::booking::AppointmentStatus;
use crate::definition::{Channel, Goal, Trigger};
use crate::dispatch::{Decision, decide};
use crate::ids::AppointmentId;
use crate::job::{Applied, JobStatus, apply};
use crate::library;
use crate::recipients::Address;
use crate::retry::{DeliveryResult, RetryPolicy};
use crate::testing::{appointment, booking, ts};
use openevent_core::Status;

struct World {
    org: OrgSlug,
    settings: OrgSettings,
    workflows: Vec<Workflow>,
    assigned: Option<WorkflowKey>,
    booking: BookingSnapshot,
    jobs: Vec<Job>,
}

impl World {
    fn new() -> World {
        World {
            org: OrgSlug::parse("atelier").unwrap(),
            settings: OrgSettings::atelier(),
            workflows: library::all(),
            assigned: Some(WorkflowKey::parse("offer-follow-up").unwrap()),
            booking: booking(),
            jobs: Vec::new(),
        }
    }

    fn run(&self, trigger: Option<&TriggerEvent>, now: Timestamp) -> Vec<Effect> {
        let ctx = Context {
            org: &self.org,
            settings: &self.settings,
            workflows: &self.workflows,
            assigned: self.assigned.as_ref(),
            booking: &self.booking,
            jobs: &self.jobs,
            now,
        };
        reconcile(&ctx, trigger)
    }

    /// Runs the scheduler and applies its effects to the stored jobs, as the shell would.
    fn step(&mut self, trigger: Option<&TriggerEvent>, now: Timestamp) -> Vec<Effect> {
        let effects = self.run(trigger, now);
        for e in &effects {
            match e {
                Effect::Schedule { job } => self.jobs.push((**job).clone()),
                other => {
                    if let Some((id, event)) = other.job_event() {
                        let j = self.jobs.iter_mut().find(|j| &j.id == id).unwrap();
                        if let Applied::Changed(next) =
                            apply(j, event, &RetryPolicy::default(), now).unwrap()
                        {
                            *j = *next;
                        }
                    }
                }
            }
        }
        effects
    }

    fn job(&self, step: &str) -> &Job {
        self.jobs
            .iter()
            .rev()
            .find(|j| j.step.as_str() == step)
            .unwrap_or_else(|| panic!("no job for {step}"))
    }
}

fn trigger(t: Trigger, at: &str) -> TriggerEvent {
    TriggerEvent {
        trigger: t,
        at: ts(at),
        appointment: None,
    }
}

fn visit(id: &str, at: &str, t: Trigger) -> TriggerEvent {
    TriggerEvent {
        trigger: t,
        at: ts(at),
        appointment: Some(AppointmentId::parse(id).unwrap()),
    }
}

fn scheduled(effects: &[Effect]) -> Vec<&Job> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Schedule { job } => Some(&**job),
            _ => None,
        })
        .collect()
}

fn local(t: Timestamp) -> String {
    t.to_zoned(jiff::tz::TimeZone::get("Europe/Zurich").unwrap())
        .strftime("%Y-%m-%d %H:%M")
        .to_string()
}

#[test]
fn offer_sent_schedules_the_follow_up_and_is_idempotent() {
    let mut w = World::new();
    let offer = trigger(Trigger::OfferSent, "2026-06-05T15:30");
    let effects = w.step(Some(&offer), ts("2026-06-05T15:30"));
    let jobs = scheduled(&effects);
    assert_eq!(jobs.len(), 2, "{effects:#?}");
    let nudge = w.job("no-reply-3-days");
    assert_eq!(local(nudge.due_at), "2026-06-08 09:00");
    assert_eq!(
        nudge.recipient,
        Address::Email("laura.meier@example.com".into())
    );
    // Friday + 6 business days = the Monday after next.
    let task = w.job("call-the-client");
    assert_eq!(local(task.due_at), "2026-06-15 10:00");
    assert_eq!(task.recipient, Address::Staff("u-sara".parse().unwrap()));
    // The same trigger again (a retry of the shell) schedules nothing new.
    assert!(w.run(Some(&offer), ts("2026-06-05T15:31")).is_empty());
}

#[test]
fn a_reply_stops_the_follow_up_sequence() {
    let mut w = World::new();
    w.step(
        Some(&trigger(Trigger::OfferSent, "2026-06-05T15:30")),
        ts("2026-06-05T15:30"),
    );
    w.booking
        .goals
        .insert(Goal::ClientReplied, ts("2026-06-06T11:00"));
    let effects = w.step(None, ts("2026-06-06T11:00"));
    assert_eq!(effects.len(), 2);
    for e in &effects {
        assert!(matches!(
            e,
            Effect::Cancel {
                reason: CancelReason::GoalReached {
                    goal: Goal::ClientReplied
                },
                ..
            }
        ));
    }
    assert!(w.jobs.iter().all(|j| j.status() == JobStatus::Cancelled));
}

#[test]
fn a_second_offer_supersedes_the_first_follow_up() {
    let mut w = World::new();
    w.step(
        Some(&trigger(Trigger::OfferSent, "2026-06-05T15:30")),
        ts("2026-06-05T15:30"),
    );
    let first = w.job("no-reply-3-days").id.clone();
    w.booking.offer.as_mut().unwrap().version = 2;
    let effects = w.step(
        Some(&trigger(Trigger::OfferSent, "2026-06-07T10:00")),
        ts("2026-06-07T10:00"),
    );
    assert!(effects.iter().any(|e| matches!(
        e,
        Effect::Cancel { job, reason: CancelReason::Superseded { .. } } if *job == first
    )));
    assert_eq!(local(w.job("no-reply-3-days").due_at), "2026-06-10 09:00");
}

#[test]
fn moving_the_appointment_rearms_its_reminders_dst_correctly() {
    let mut w = World::new();
    w.booking
        .appointments
        .push(appointment("APT-1", "2026-10-23T14:00"));
    let confirmed = visit("APT-1", "2026-10-01T10:00", Trigger::AppointmentConfirmed);
    w.step(Some(&confirmed), ts("2026-10-01T10:00"));
    assert_eq!(
        local(w.job("reminder-day-before").due_at),
        "2026-10-22 09:00"
    );
    assert_eq!(local(w.job("reminder-sms").due_at), "2026-10-23 12:00");

    // Moved to Monday after the switch to winter time.
    let a = &mut w.booking.appointments[0];
    a.span.start = ts("2026-10-26T14:00");
    a.span.end = ts("2026-10-26T15:00");
    a.span.version = 2;
    let effects = w.step(None, ts("2026-10-02T10:00"));
    assert_eq!(effects.len(), 2, "{effects:#?}");
    assert!(
        effects
            .iter()
            .all(|e| matches!(e, Effect::Rearm { anchor, .. } if anchor.version == 2))
    );
    let reminder = w.job("reminder-day-before");
    assert_eq!(local(reminder.due_at), "2026-10-25 09:00");
    assert_eq!(reminder.delivery_key, reminder.key_for(2));
    assert_eq!(
        decide(reminder, &w.booking, &w.settings, reminder.due_at),
        Decision::Send
    );
}

#[test]
fn a_job_in_flight_when_its_anchor_moved_is_skipped_and_recreated() {
    let mut w = World::new();
    w.booking
        .appointments
        .push(appointment("APT-1", "2026-06-12T14:00"));
    w.step(
        Some(&visit(
            "APT-1",
            "2026-06-01T10:00",
            Trigger::AppointmentConfirmed,
        )),
        ts("2026-06-01T10:00"),
    );
    let old = w.job("reminder-day-before").clone();
    let now = old.due_at;
    // Claimed by the dispatcher; the visit moves meanwhile.
    let claimed = match apply(&old, JobEvent::Claimed, &RetryPolicy::default(), now).unwrap() {
        Applied::Changed(j) => j,
        Applied::Ignored(_) => unreachable!(),
    };
    let a = &mut w.booking.appointments[0];
    a.span.start = ts("2026-06-19T14:00");
    a.span.version = 2;
    let decision = decide(&claimed, &w.booking, &w.settings, now);
    assert_eq!(
        decision,
        Decision::Skip {
            reason: SkipReason::StaleAnchor
        }
    );
    let Applied::Changed(skipped) = apply(
        &claimed,
        JobEvent::Decided { decision },
        &RetryPolicy::default(),
        now,
    )
    .unwrap() else {
        unreachable!()
    };
    *w.jobs.iter_mut().find(|j| j.id == old.id).unwrap() = *skipped;
    let effects = w.step(None, now);
    let fresh = scheduled(&effects);
    assert_eq!(fresh.len(), 1, "{effects:#?}");
    assert_eq!(fresh[0].step.as_str(), "reminder-day-before");
    assert_eq!(local(fresh[0].due_at), "2026-06-18 09:00");
    assert!(w.run(None, now).is_empty(), "the replacement is made once");
}

#[test]
fn cancellation_stops_reminders_but_sends_the_cancellation_notice() {
    let mut w = World::new();
    w.booking
        .appointments
        .push(appointment("APT-1", "2026-06-12T14:00"));
    w.step(
        Some(&visit(
            "APT-1",
            "2026-06-01T10:00",
            Trigger::AppointmentConfirmed,
        )),
        ts("2026-06-01T10:00"),
    );
    w.booking.appointments[0].status = AppointmentStatus::Cancelled;
    let effects = w.step(
        Some(&visit(
            "APT-1",
            "2026-06-02T10:00",
            Trigger::AppointmentCancelled,
        )),
        ts("2026-06-02T10:00"),
    );
    let notice = scheduled(&effects);
    assert_eq!(notice.len(), 1);
    assert_eq!(notice[0].step.as_str(), "cancelled-notice");
    let cancels = effects
        .iter()
        .filter(|e| {
            matches!(
                e,
                Effect::Cancel {
                    reason: CancelReason::AppointmentCancelled,
                    ..
                }
            )
        })
        .count();
    assert_eq!(cancels, 2);
    let notice = w.job("cancelled-notice");
    assert_eq!(
        decide(notice, &w.booking, &w.settings, ts("2026-06-02T10:00")),
        Decision::Send
    );
    // A later reconcile leaves the notice alone.
    assert!(w.run(None, ts("2026-06-02T10:01")).is_empty());
}

#[test]
fn booking_cancellation_cancels_pending_jobs() {
    let mut w = World::new();
    w.step(
        Some(&trigger(Trigger::BookingConfirmed, "2026-06-01T10:00")),
        ts("2026-06-01T10:00"),
    );
    assert_eq!(w.jobs.len(), 2);
    w.booking.status = Status::Cancelled;
    let effects = w.step(
        Some(&trigger(Trigger::BookingCancelled, "2026-06-03T10:00")),
        ts("2026-06-03T10:00"),
    );
    assert_eq!(effects.len(), 2);
    assert!(effects.iter().all(|e| matches!(
        e,
        Effect::Cancel {
            reason: CancelReason::BookingCancelled,
            ..
        }
    )));
    // No new job for a cancelled booking's ordinary triggers.
    assert!(
        w.run(
            Some(&trigger(Trigger::OfferSent, "2026-06-03T11:00")),
            ts("2026-06-03T11:00")
        )
        .is_empty()
    );
}

#[test]
fn past_due_steps_follow_their_policy_and_are_recorded() {
    let mut w = World::new();
    // Event on 20.06; the head-count request (5 business days before, send_now) and the briefing
    // (the day before, send_now) are late when the booking is confirmed on the 19th.
    w.booking.event.as_mut().unwrap().start = ts("2026-06-20T18:00");
    let effects = w.step(
        Some(&trigger(Trigger::BookingConfirmed, "2026-06-19T11:00")),
        ts("2026-06-19T11:00"),
    );
    let head_count = w.job("ask-head-count");
    assert_eq!(head_count.due_at, ts("2026-06-19T11:00"));
    assert_eq!(head_count.status(), JobStatus::Scheduled);
    assert_eq!(local(w.job("event-tomorrow").due_at), "2026-06-19 16:00");
    assert_eq!(scheduled(&effects).len(), 2);

    // The option warning (two days before expiry, skip) when the option is placed the day before.
    let effects = w.step(
        Some(&trigger(Trigger::OptionPlaced, "2026-06-14T12:00")),
        ts("2026-06-14T12:00"),
    );
    let warn = w.job("warn-client");
    assert_eq!(
        warn.state,
        JobState::Skipped {
            at: ts("2026-06-14T12:00"),
            reason: SkipReason::PastDue {
                due_at: ts("2026-06-13T09:00")
            }
        }
    );
    assert_eq!(scheduled(&effects).len(), 2);
}

#[test]
fn sms_due_in_quiet_hours_waits_for_the_morning() {
    let mut w = World::new();
    w.booking
        .appointments
        .push(appointment("APT-1", "2026-06-12T09:00"));
    w.step(
        Some(&visit(
            "APT-1",
            "2026-06-01T10:00",
            Trigger::AppointmentConfirmed,
        )),
        ts("2026-06-01T10:00"),
    );
    // Two hours before 09:00 is 07:00, inside 21:00–08:00.
    let sms = w.job("reminder-sms");
    assert_eq!(sms.channel, Channel::Sms);
    assert_eq!(local(sms.due_at), "2026-06-12 08:00");
    assert_eq!(
        sms.recipient,
        Address::Phone(
            crate::phone::E164::parse("+41791234567", crate::phone::Country::CH).unwrap()
        )
    );
}

#[test]
fn appointment_completed_counts_from_the_end() {
    let mut w = World::new();
    w.booking
        .appointments
        .push(appointment("APT-1", "2026-06-12T14:00"));
    w.booking.appointments[0].status = AppointmentStatus::Completed;
    w.step(
        Some(&visit(
            "APT-1",
            "2026-06-12T17:30",
            Trigger::AppointmentCompleted,
        )),
        ts("2026-06-12T17:30"),
    );
    let thanks = w.job("thank-you");
    // End 15:00 + 120 minutes = 17:00 — already past when completion is recorded at 17:30, and
    // the step says send_now.
    assert_eq!(thanks.anchor.anchor, Anchor::End);
    assert_eq!(thanks.due_at, ts("2026-06-12T17:30"));
    let mut w2 = World::new();
    w2.booking.appointments = w.booking.appointments.clone();
    w2.step(
        Some(&visit(
            "APT-1",
            "2026-06-12T15:05",
            Trigger::AppointmentCompleted,
        )),
        ts("2026-06-12T15:05"),
    );
    assert_eq!(local(w2.job("thank-you").due_at), "2026-06-12 17:00");
}

#[test]
fn type_filters_and_unreachable_recipients() {
    let mut w = World::new();
    let mut tasting = appointment("APT-2", "2026-06-12T14:00");
    tasting.kind = Some("Tasting".into());
    w.booking.appointments.push(tasting);
    let effects = w.step(
        Some(&visit(
            "APT-2",
            "2026-06-01T10:00",
            Trigger::AppointmentConfirmed,
        )),
        ts("2026-06-01T10:00"),
    );
    assert!(effects.is_empty(), "site-visit steps ignore tastings");

    let mut visit_ = appointment("APT-3", "2026-06-12T14:00");
    visit_.kind = Some("SITE_VISIT".into());
    w.booking.appointments.push(visit_);
    w.booking.client.phone = None;
    let effects = w.step(
        Some(&visit(
            "APT-3",
            "2026-06-01T10:00",
            Trigger::AppointmentConfirmed,
        )),
        ts("2026-06-01T10:00"),
    );
    assert_eq!(scheduled(&effects).len(), 1);
    assert!(effects.iter().any(|e| matches!(
        e,
        Effect::NotScheduled { step, reason, .. }
            if step.as_str() == "reminder-sms" && reason.contains("no phone")
    )));
}

#[test]
fn disabling_or_unassigning_a_workflow_cancels_its_pending_jobs() {
    let mut w = World::new();
    w.step(
        Some(&trigger(Trigger::OfferSent, "2026-06-05T15:30")),
        ts("2026-06-05T15:30"),
    );
    w.assigned = None;
    let effects = w.step(None, ts("2026-06-06T10:00"));
    assert_eq!(effects.len(), 2);
    assert!(effects.iter().all(|e| matches!(
        e,
        Effect::Cancel {
            reason: CancelReason::WorkflowInactive,
            ..
        }
    )));
}

#[test]
fn a_whole_history_through_scheduler_dispatch_and_transitions() {
    let mut w = World::new();
    w.booking.deposit = Some(crate::booking::DepositInfo {
        amount: openevent_core::money::Money::from_rappen(37_035),
        due_at: ts("2026-06-10T23:59"),
        version: 1,
    });
    w.step(
        Some(&trigger(Trigger::DepositRequested, "2026-06-01T10:00")),
        ts("2026-06-01T10:00"),
    );
    let email = w.job("three-days-before").clone();
    assert_eq!(local(email.due_at), "2026-06-07 09:00");
    // Due: sends, the provider times out, retries a minute later, then succeeds.
    let now = email.due_at;
    assert_eq!(decide(&email, &w.booking, &w.settings, now), Decision::Send);
    let policy = RetryPolicy::default();
    let step = |j: &Job, e: JobEvent, at: Timestamp| match apply(j, e, &policy, at).unwrap() {
        Applied::Changed(j) => j,
        Applied::Ignored(why) => panic!("{why}"),
    };
    let j = step(&email, JobEvent::Claimed, now);
    let j = step(
        &j,
        JobEvent::Delivered {
            result: DeliveryResult::Transient {
                error: "451 try later".into(),
                retry_after_secs: None,
            },
        },
        now,
    );
    assert_eq!(j.status(), JobStatus::Failed);
    assert!(j.due_at >= now + SignedDuration::from_mins(1));
    let j = step(&j, JobEvent::Claimed, j.due_at);
    let j = step(
        &j,
        JobEvent::Delivered {
            result: DeliveryResult::Sent { provider_id: None },
        },
        j.due_at,
    );
    assert_eq!((j.status(), j.attempts), (JobStatus::Sent, 2));
    // The deposit is paid: the due-date SMS is cancelled.
    w.booking
        .goals
        .insert(Goal::DepositPaid, ts("2026-06-08T10:00"));
    let id = j.id.clone();
    *w.jobs.iter_mut().find(|x| x.id == id).unwrap() = *j;
    let effects = w.step(None, ts("2026-06-08T10:00"));
    assert_eq!(effects.len(), 1);
    assert_eq!(w.job("due-today-sms").status(), JobStatus::Cancelled);
}
