//! The decision the dispatcher asks for just before sending a claimed job: is this message still
//! right, given the booking as it is now?
//!
//! The rules, in the order they are checked (each is a named function below):
//! 1. `cancellation` — booking (or the job's appointment) cancelled → skip, unless the job
//!    exists to announce that very cancellation.
//! 2. `goal` — a stop-when goal reached after the job was scheduled → cancel.
//! 3. `anchor` — the anchor moved (version mismatch) → skip `stale_anchor`; gone → skip.
//! 4. `timing` — not yet due → defer to the due time; inside quiet hours → defer to their end.
//! 5. otherwise → send.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::booking::BookingSnapshot;
use crate::definition::{Anchor, Goal};
use crate::job::{CancelReason, Job, SkipReason};
use crate::quiet_hours;
use crate::settings::OrgSettings;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeferReason {
    NotDue,
    QuietHours,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    Send,
    Skip {
        reason: SkipReason,
    },
    Cancel {
        reason: CancelReason,
    },
    Defer {
        until: Timestamp,
        reason: DeferReason,
    },
}

/// Decides what to do with `job` now.
pub fn decide(
    job: &Job,
    booking: &BookingSnapshot,
    settings: &OrgSettings,
    now: Timestamp,
) -> Decision {
    cancellation(job, booking)
        .or_else(|| goal(job, booking))
        .or_else(|| anchor(job, booking))
        .or_else(|| timing(job, settings, now))
        .unwrap_or(Decision::Send)
}

fn cancellation(job: &Job, booking: &BookingSnapshot) -> Option<Decision> {
    if job.trigger.is_cancellation() {
        return None;
    }
    if booking.is_cancelled() {
        return Some(Decision::Skip {
            reason: SkipReason::Cancelled,
        });
    }
    booking
        .subject_cancelled(&job.subject)
        .then_some(Decision::Skip {
            reason: SkipReason::AppointmentCancelled,
        })
}

fn goal(job: &Job, booking: &BookingSnapshot) -> Option<Decision> {
    goal_reached(job, booking).map(|goal| Decision::Cancel {
        reason: CancelReason::GoalReached { goal },
    })
}

/// The first of the job's stop-when goals that was reached after the job was scheduled. A goal
/// reached earlier belongs to an earlier conversation: a client who replied before the offer
/// went out still gets the offer's follow-up.
pub fn goal_reached(job: &Job, booking: &BookingSnapshot) -> Option<Goal> {
    job.stop_when
        .iter()
        .copied()
        .find(|g| booking.goals.get(g).is_some_and(|at| *at >= job.created_at))
}

fn anchor(job: &Job, booking: &BookingSnapshot) -> Option<Decision> {
    if job.anchor.anchor == Anchor::Trigger {
        return None;
    }
    match booking.anchor_point(job.anchor.anchor, &job.subject) {
        None => Some(Decision::Skip {
            reason: SkipReason::AnchorGone,
        }),
        Some(p) if p.version != job.anchor.version => Some(Decision::Skip {
            reason: SkipReason::StaleAnchor,
        }),
        Some(_) => None,
    }
}

fn timing(job: &Job, settings: &OrgSettings, now: Timestamp) -> Option<Decision> {
    if now < job.due_at {
        return Some(Decision::Defer {
            until: job.due_at,
            reason: DeferReason::NotDue,
        });
    }
    let until = quiet_hours::defer(now, job.channel, &settings.quiet_hours, settings.tz());
    (until > now).then_some(Decision::Defer {
        until,
        reason: DeferReason::QuietHours,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::booking::{AppointmentStatus, Subject};
    use crate::definition::{Channel, Trigger};
    use crate::job::AnchorRef;
    use crate::testing::{appointment, booking, job, ts};
    use openevent_core::Status;

    fn settings() -> OrgSettings {
        OrgSettings::atelier()
    }

    fn start_anchored(b: &BookingSnapshot) -> Job {
        let mut j = job();
        let span = b.event.unwrap();
        j.anchor = AnchorRef {
            anchor: Anchor::Start,
            at: span.start,
            version: span.version,
        };
        j.due_at = ts("2026-06-10T09:00");
        j
    }

    #[test]
    fn due_job_is_sent() {
        let b = booking();
        let j = start_anchored(&b);
        assert_eq!(
            decide(&j, &b, &settings(), ts("2026-06-10T09:00")),
            Decision::Send
        );
    }

    #[test]
    fn stale_anchor_is_skipped() {
        let mut b = booking();
        let j = start_anchored(&b);
        let span = b.event.as_mut().unwrap();
        span.start = ts("2026-06-20T10:00");
        span.version += 1;
        assert_eq!(
            decide(&j, &b, &settings(), ts("2026-06-10T09:00")),
            Decision::Skip {
                reason: SkipReason::StaleAnchor
            }
        );
    }

    #[test]
    fn cancelled_booking_skips_everything_but_the_cancellation_notice() {
        let mut b = booking();
        b.status = Status::Cancelled;
        let j = start_anchored(&b);
        assert_eq!(
            decide(&j, &b, &settings(), ts("2026-06-10T09:00")),
            Decision::Skip {
                reason: SkipReason::Cancelled
            }
        );
        let mut notice = job();
        notice.trigger = Trigger::BookingCancelled;
        notice.due_at = ts("2026-06-10T09:00");
        assert_eq!(
            decide(&notice, &b, &settings(), ts("2026-06-10T09:00")),
            Decision::Send
        );
    }

    #[test]
    fn cancelled_appointment_skips_its_reminder_but_sends_its_cancellation_notice() {
        let mut b = booking();
        let mut a = appointment("APT-1", "2026-06-12T14:00");
        a.status = AppointmentStatus::Cancelled;
        b.appointments.push(a.clone());
        let subject = Subject::Appointment { id: a.id.clone() };
        let mut reminder = job();
        reminder.trigger = Trigger::AppointmentConfirmed;
        reminder.subject = subject.clone();
        reminder.due_at = ts("2026-06-10T09:00");
        assert_eq!(
            decide(&reminder, &b, &settings(), ts("2026-06-10T09:00")),
            Decision::Skip {
                reason: SkipReason::AppointmentCancelled
            }
        );
        let mut notice = reminder.clone();
        notice.trigger = Trigger::AppointmentCancelled;
        assert_eq!(
            decide(&notice, &b, &settings(), ts("2026-06-10T09:00")),
            Decision::Send
        );
    }

    #[test]
    fn a_reply_after_scheduling_cancels_but_an_earlier_one_does_not() {
        let mut b = booking();
        let mut j = job();
        j.stop_when = [Goal::ClientReplied].into();
        j.created_at = ts("2026-06-05T10:00");
        j.due_at = ts("2026-06-08T10:00");
        b.goals.insert(Goal::ClientReplied, ts("2026-06-04T10:00"));
        assert_eq!(
            decide(&j, &b, &settings(), ts("2026-06-08T10:00")),
            Decision::Send
        );
        b.goals.insert(Goal::ClientReplied, ts("2026-06-06T10:00"));
        assert_eq!(
            decide(&j, &b, &settings(), ts("2026-06-08T10:00")),
            Decision::Cancel {
                reason: CancelReason::GoalReached {
                    goal: Goal::ClientReplied
                }
            }
        );
    }

    #[test]
    fn quiet_hours_defer_sms_to_the_morning() {
        let b = booking();
        let mut j = job();
        j.channel = Channel::Sms;
        j.due_at = ts("2026-06-10T22:00");
        assert_eq!(
            decide(&j, &b, &settings(), ts("2026-06-10T22:05")),
            Decision::Defer {
                until: ts("2026-06-11T08:00"),
                reason: DeferReason::QuietHours
            }
        );
        assert_eq!(
            decide(&j, &b, &settings(), ts("2026-06-10T20:00")),
            Decision::Defer {
                until: ts("2026-06-10T22:00"),
                reason: DeferReason::NotDue
            }
        );
    }
}
