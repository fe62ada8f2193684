use jiff::civil::date;
use openevent_core::event::{Offer, OfferStatus, SiteVisit};
use openevent_core::money::Money;
use openevent_core::{ClientEmail, EventId, OrgSlug};

use super::*;
use crate::job::{CancelReason, JobStatus};
use crate::testing::ts;

fn venue() -> Venue {
    Venue::atelier()
}

fn lead(now: &str) -> Event {
    let mut e = Event::new_lead(
        EventId::parse("EVT-1").unwrap(),
        ClientEmail::parse("laura@example.com").unwrap(),
        ts(now),
    );
    e.updated_at = ts(now);
    e
}

fn offer(version: u32, status: OfferStatus, deposit: Option<i64>) -> Offer {
    Offer {
        offer_id: format!("EVT-1-OFFER-{version}"),
        version,
        status,
        line_items: vec![],
        subtotal: Money::from_chf(1000),
        vat_included: Money::from_chf(75),
        total: Money::from_chf(1000),
        deposit: deposit.map(Money::from_chf),
        deposit_due: deposit.map(|_| date(2026, 6, 1)),
        payment_days: 30,
        valid_until: date(2026, 5, 20),
    }
}

/// Applies `edit` to a copy of `before` at `now` and observes the write.
fn write(
    previous: Option<&Record>,
    before: Option<&Event>,
    now: &str,
    cause: Cause,
    edit: impl FnOnce(&mut Event),
) -> (Event, Observation) {
    let mut after = before.cloned().unwrap_or_else(|| lead(now));
    after.updated_at = ts(now);
    edit(&mut after);
    let v = venue();
    let obs = observe(&Change {
        previous,
        before,
        after: &after,
        venue: &v,
        client_name: Some("Laura"),
        client_phone: None,
        event_type: None,
        cause,
    });
    (after, obs)
}

fn names(obs: &Observation) -> Vec<Trigger> {
    obs.triggers.iter().map(|t| t.trigger).collect()
}

#[test]
fn a_new_booking_is_a_lead_created_at_its_creation() {
    let (e, obs) = write(None, None, "2026-05-04T09:00", Cause::ClientMessage, |_| {});
    assert_eq!(names(&obs), [Trigger::LeadCreated]);
    assert_eq!(obs.triggers[0].at, e.created_at);
    // The first message is not a reply.
    assert!(obs.record.snapshot.goals.is_empty());
    assert_eq!(obs.record.snapshot.event, None);
}

#[test]
fn the_event_span_is_versioned_by_its_times() {
    let (e0, r0) = write(None, None, "2026-05-04T09:00", Cause::ClientMessage, |_| {});
    let (e1, r1) = write(
        Some(&r0.record),
        Some(&e0),
        "2026-05-04T10:00",
        Cause::Staff,
        |e| {
            e.chosen_date = Some(date(2026, 6, 20));
            e.start_time = Some(TimeOfDay::new(18, 0).unwrap());
            e.end_time = Some(TimeOfDay::new(1, 0).unwrap());
        },
    );
    let span = r1.record.snapshot.event.unwrap();
    assert_eq!(
        (span.start, span.end, span.version),
        (ts("2026-06-20T18:00"), ts("2026-06-21T01:00"), 1),
        "an end before the start runs into the next day"
    );
    // Another write that does not move the event keeps the version.
    let (e2, r2) = write(
        Some(&r1.record),
        Some(&e1),
        "2026-05-05T10:00",
        Cause::ClientMessage,
        |_| {},
    );
    assert_eq!(r2.record.snapshot.event.unwrap().version, 1);
    assert_eq!(
        r2.record.snapshot.goals.get(&Goal::ClientReplied),
        Some(&ts("2026-05-05T10:00"))
    );
    let (_, r3) = write(
        Some(&r2.record),
        Some(&e2),
        "2026-05-06T10:00",
        Cause::Staff,
        |e| {
            e.chosen_date = Some(date(2026, 6, 27));
        },
    );
    assert_eq!(r3.record.snapshot.event.unwrap().version, 2);
    assert!(r3.triggers.is_empty());
}

#[test]
fn an_event_without_times_spans_the_operating_hours() {
    let (_, obs) = write(None, None, "2026-05-04T09:00", Cause::ClientMessage, |e| {
        e.chosen_date = Some(date(2026, 6, 20));
    });
    let span = obs.record.snapshot.event.unwrap();
    assert_eq!(
        (span.start, span.end),
        (ts("2026-06-20T08:00"), ts("2026-06-20T23:00"))
    );
}

#[test]
fn offers_fire_sent_accepted_and_deposit_requested_once() {
    let (e0, r0) = write(None, None, "2026-05-04T09:00", Cause::ClientMessage, |_| {});
    let (e1, r1) = write(
        Some(&r0.record),
        Some(&e0),
        "2026-05-05T09:00",
        Cause::Staff,
        |e| {
            e.offers.push(offer(1, OfferStatus::Sent, Some(300)));
        },
    );
    assert_eq!(names(&r1), [Trigger::OfferSent]);
    let o = r1.record.snapshot.offer.unwrap();
    assert_eq!((o.expires_at, o.version), (ts("2026-05-20T23:59:59"), 1));
    assert_eq!(
        r1.record.snapshot.deposit.unwrap().amount,
        Money::from_chf(300)
    );
    // Observing the same booking again fires nothing.
    let (_, again) = write(
        Some(&r1.record),
        Some(&e1),
        "2026-05-05T09:00",
        Cause::Staff,
        |_| {},
    );
    assert!(again.triggers.is_empty());
    let (e2, r2) = write(
        Some(&r1.record),
        Some(&e1),
        "2026-05-07T09:00",
        Cause::Staff,
        |e| {
            e.offers[0].status = OfferStatus::Accepted;
        },
    );
    assert_eq!(
        names(&r2),
        [Trigger::OfferAccepted, Trigger::DepositRequested]
    );
    assert_eq!(
        r2.record.snapshot.goals.get(&Goal::OfferAccepted),
        Some(&ts("2026-05-07T09:00"))
    );
    let (_, r3) = write(
        Some(&r2.record),
        Some(&e2),
        "2026-05-08T09:00",
        Cause::Staff,
        |e| {
            e.deposit_paid_at = Some(ts("2026-05-08T08:30"));
            e.status = Status::Confirmed;
        },
    );
    assert_eq!(
        names(&r3),
        [Trigger::BookingConfirmed, Trigger::DepositPaid]
    );
    assert_eq!(r3.triggers[1].at, ts("2026-05-08T08:30"));
    assert_eq!(
        r3.record.snapshot.goals.get(&Goal::DepositPaid),
        Some(&ts("2026-05-08T08:30"))
    );
}

#[test]
fn status_changes_fire_option_confirmed_and_cancelled() {
    let (e0, r0) = write(None, None, "2026-05-04T09:00", Cause::ClientMessage, |_| {});
    let (e1, r1) = write(
        Some(&r0.record),
        Some(&e0),
        "2026-05-04T10:00",
        Cause::Staff,
        |e| {
            e.status = Status::Option;
        },
    );
    assert_eq!(names(&r1), [Trigger::OptionPlaced]);
    let (_, r2) = write(
        Some(&r1.record),
        Some(&e1),
        "2026-05-04T11:00",
        Cause::Staff,
        |e| {
            e.status = Status::Cancelled;
        },
    );
    assert_eq!(names(&r2), [Trigger::BookingCancelled]);
    assert!(
        r2.record
            .snapshot
            .goals
            .contains_key(&Goal::BookingCancelled)
    );
}

#[test]
fn the_site_visit_is_an_appointment_created_moved_and_cancelled() {
    let (e0, r0) = write(None, None, "2026-05-04T09:00", Cause::ClientMessage, |_| {});
    let visit = |d, h| SiteVisit {
        date: date(2026, 5, d),
        time: TimeOfDay::new(h, 0).unwrap(),
    };
    let (e1, r1) = write(
        Some(&r0.record),
        Some(&e0),
        "2026-05-04T10:00",
        Cause::Staff,
        |e| {
            e.site_visit = Some(visit(12, 14));
        },
    );
    assert_eq!(
        names(&r1),
        [Trigger::AppointmentCreated, Trigger::AppointmentConfirmed]
    );
    assert_eq!(
        r1.triggers[0].appointment.as_ref().unwrap().as_str(),
        SITE_VISIT
    );
    let (e2, r2) = write(
        Some(&r1.record),
        Some(&e1),
        "2026-05-05T10:00",
        Cause::Staff,
        |e| {
            e.site_visit = Some(visit(13, 10));
        },
    );
    assert_eq!(names(&r2), [Trigger::AppointmentRescheduled]);
    let a = &r2.record.snapshot.appointments[0];
    assert_eq!((a.span.start, a.span.version), (ts("2026-05-13T10:00"), 2));
    let (_, r3) = write(
        Some(&r2.record),
        Some(&e2),
        "2026-05-06T10:00",
        Cause::Staff,
        |e| {
            e.site_visit = None;
        },
    );
    assert_eq!(names(&r3), [Trigger::AppointmentCancelled]);
    assert_eq!(
        r3.record.snapshot.appointments[0].status,
        AppointmentStatus::Cancelled,
        "kept, so that the cancellation notice can name the slot"
    );
}

#[test]
fn completions_fire_once_when_the_span_has_ended_and_again_after_a_move() {
    let (e0, r0) = write(None, None, "2026-05-04T09:00", Cause::ClientMessage, |e| {
        e.chosen_date = Some(date(2026, 6, 20));
        e.status = Status::Confirmed;
    });
    assert_eq!(r0.record.next_completion(), Some(ts("2026-06-20T23:00")));
    assert!(
        completions(&r0.record, ts("2026-06-20T22:59"))
            .triggers
            .is_empty()
    );
    let done = completions(&r0.record, ts("2026-06-21T09:00"));
    assert_eq!(names(&done), [Trigger::EventCompleted]);
    assert_eq!(done.triggers[0].at, ts("2026-06-20T23:00"));
    assert!(
        completions(&done.record, ts("2026-06-22T09:00"))
            .triggers
            .is_empty()
    );
    assert_eq!(done.record.next_completion(), None);
    // Moved to a later date: it will end again.
    let (_, moved) = write(
        Some(&done.record),
        Some(&e0),
        "2026-06-21T10:00",
        Cause::Staff,
        |e| {
            e.chosen_date = Some(date(2026, 7, 4));
        },
    );
    assert_eq!(moved.record.next_completion(), Some(ts("2026-07-04T23:00")));
}

fn setup_jobs(
    workflows: &[Workflow],
    record: &Record,
    jobs: &[Job],
    triggers: &[TriggerEvent],
    now: Timestamp,
) -> JobPlan {
    let org = OrgSlug::parse("atelier").unwrap();
    let settings = OrgSettings::atelier();
    plan(
        &Setup {
            org: &org,
            settings: &settings,
            workflows,
            assigned: Some(workflows[0].key()),
            retry: &RetryPolicy::default(),
        },
        &record.snapshot,
        jobs,
        triggers,
        now,
    )
}

#[test]
fn an_offer_schedules_its_follow_up_and_a_reply_cancels_it() {
    let wf = vec![crate::library::get("offer-follow-up").unwrap()];
    let (e0, r0) = write(None, None, "2026-05-04T09:00", Cause::ClientMessage, |_| {});
    let (e1, r1) = write(
        Some(&r0.record),
        Some(&e0),
        "2026-05-05T11:00",
        Cause::Staff,
        |e| {
            e.offers.push(offer(1, OfferStatus::Sent, None));
        },
    );
    let p1 = setup_jobs(&wf, &r1.record, &[], &r1.triggers, ts("2026-05-05T11:00"));
    assert_eq!(p1.inserted.len(), 2, "{:?}", p1.effects);
    let email = p1
        .inserted
        .iter()
        .find(|j| j.step.as_str() == "no-reply-3-days")
        .unwrap();
    assert_eq!(email.due_at, ts("2026-05-08T09:00"));
    // Planning the same observation again schedules nothing new.
    let again = setup_jobs(
        &wf,
        &r1.record,
        &p1.inserted,
        &r1.triggers,
        ts("2026-05-05T11:00"),
    );
    assert!(again.inserted.is_empty());
    let (_, r2) = write(
        Some(&r1.record),
        Some(&e1),
        "2026-05-06T08:00",
        Cause::ClientMessage,
        |_| {},
    );
    let p2 = setup_jobs(
        &wf,
        &r2.record,
        &p1.inserted,
        &r2.triggers,
        ts("2026-05-06T08:00"),
    );
    assert!(p2.inserted.is_empty());
    assert_eq!(p2.updated.len(), 2);
    for j in &p2.updated {
        assert_eq!(j.status(), JobStatus::Cancelled);
    }
    assert!(p2.effects.iter().all(|e| matches!(
        e,
        Effect::Cancel {
            reason: CancelReason::GoalReached {
                goal: Goal::ClientReplied
            },
            ..
        }
    )));
}

#[test]
fn a_reschedule_rearms_the_reminders_at_the_new_local_time_across_dst() {
    let wf = vec![crate::library::get("final-head-count").unwrap()];
    let step_at = |p: &JobPlan| {
        p.inserted
            .iter()
            .chain(&p.updated)
            .map(|j| j.due_at)
            .collect::<Vec<_>>()
    };
    // Confirmed for Tuesday 31 March 2026, two days after Zurich moves to summer time.
    let (e0, r0) = write(None, None, "2026-03-02T09:00", Cause::Staff, |e| {
        e.chosen_date = Some(date(2026, 3, 31));
        e.status = Status::Confirmed;
    });
    let p0 = setup_jobs(&wf, &r0.record, &[], &r0.triggers, ts("2026-03-02T09:00"));
    assert_eq!(p0.inserted.len(), 1, "{:?}", p0.effects);
    // Five business days before Tuesday 31.03 is Tuesday 24.03 (winter time), 09:00 local.
    assert_eq!(step_at(&p0), [ts("2026-03-24T09:00")]);
    let (_, r1) = write(
        Some(&r0.record),
        Some(&e0),
        "2026-03-10T09:00",
        Cause::Staff,
        |e| {
            e.chosen_date = Some(date(2026, 4, 14));
        },
    );
    let p1 = setup_jobs(
        &wf,
        &r1.record,
        &p0.inserted,
        &r1.triggers,
        ts("2026-03-10T09:00"),
    );
    assert_eq!(step_at(&p1), [ts("2026-04-07T09:00")], "{:?}", p1.effects);
    assert_eq!(p1.updated[0].anchor.version, 2);
}

#[test]
fn a_cancelled_booking_drops_its_visit_reminder_but_announces_the_cancelled_visit() {
    let wf = vec![crate::library::get("site-visit").unwrap()];
    let visit = SiteVisit {
        date: date(2026, 5, 12),
        time: TimeOfDay::new(14, 0).unwrap(),
    };
    let (e0, r0) = write(None, None, "2026-05-04T09:00", Cause::ClientMessage, |_| {});
    let (e1, r1) = write(
        Some(&r0.record),
        Some(&e0),
        "2026-05-04T10:00",
        Cause::Staff,
        |e| {
            e.status = Status::Option;
            e.site_visit = Some(visit);
        },
    );
    let p1 = setup_jobs(&wf, &r1.record, &[], &r1.triggers, ts("2026-05-04T10:00"));
    let reminder = p1
        .inserted
        .iter()
        .find(|j| j.step.as_str() == "reminder-day-before")
        .expect("the day-before reminder");
    assert_eq!(reminder.due_at, ts("2026-05-11T09:00"));
    let (_, r2) = write(
        Some(&r1.record),
        Some(&e1),
        "2026-05-06T10:00",
        Cause::Staff,
        |e| {
            e.status = Status::Cancelled;
        },
    );
    assert_eq!(
        names(&r2),
        [Trigger::BookingCancelled, Trigger::AppointmentCancelled]
    );
    let p2 = setup_jobs(
        &wf,
        &r2.record,
        &p1.inserted,
        &r2.triggers,
        ts("2026-05-06T10:00"),
    );
    assert!(
        p2.updated
            .iter()
            .all(|j| j.status() == JobStatus::Cancelled),
        "{:?}",
        p2.effects
    );
    let notice = p2
        .inserted
        .iter()
        .find(|j| j.trigger == Trigger::AppointmentCancelled)
        .expect("the cancellation notice is scheduled");
    assert_eq!(notice.status(), JobStatus::Scheduled);
}
