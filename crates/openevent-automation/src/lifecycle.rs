//! From the booking record to what the automation engine acts on: the booking's snapshot (with
//! versions on every movable time), the lifecycle triggers a change fired, and the jobs that
//! follow from them.
//!
//! The shell keeps one [`Record`] per booking next to the booking. Each time the booking is
//! written, [`observe`] compares the booking before and after (and the record) and answers the
//! new record and the triggers; [`plan`] runs the scheduler over them and answers the job
//! writes; the shell stores all of it in the booking's transaction. Times that pass without a
//! write (the event ended, the site visit took place) are [`completions`], which the dispatcher
//! asks for when [`Record::next_completion`] is due.
//!
//! Rules:
//! - Trigger times come from the stored booking (`updated_at`, `created_at`, `deposit_paid_at`,
//!   the end of the event), never from the clock at delivery, so observing the same change twice
//!   schedules nothing new.
//! - A version increases exactly when its time changes: the event's span (date, start, end), the
//!   site visit's span, the offer's expiry and the deposit's due date (an offer version).
//! - An event without a time spans the venue's operating hours; an end at or before the start
//!   runs into the next day. An offer expires, and a deposit falls due, at the end of its day.
//! - `client_replied` is reached by a client message on an existing booking; the other goals by
//!   the change that reaches them.

use std::collections::BTreeSet;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use openevent_core::event::{Event, OfferStatus, Status, TimeOfDay};
use openevent_core::venue::Venue;
use serde::{Deserialize, Serialize};

use crate::booking::{
    Appointment, AppointmentStatus, BookingSnapshot, Contact, DepositInfo, OfferInfo, Span,
    Subject, TriggerEvent,
};
use crate::definition::{Goal, Trigger, Workflow};
use crate::ids::{AppointmentId, WorkflowKey};
use crate::job::{Applied, Job, JobId};
use crate::retry::RetryPolicy;
use crate::scheduler::{self, Context, Effect};
use crate::settings::OrgSettings;

/// The id of a booking's site visit (a booking has at most one agreed slot).
pub const SITE_VISIT: &str = "site-visit";
/// How long a site visit is assumed to take.
pub const SITE_VISIT_LENGTH: SignedDuration = SignedDuration::from_hours(1);

/// What the automation engine keeps per booking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub snapshot: BookingSnapshot,
    /// Completion triggers already fired, by subject and the version of the span that ended.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub completed: BTreeSet<(Subject, u32)>,
}

impl Record {
    /// When the next completion trigger falls due, if one is still to fire.
    pub fn next_completion(&self) -> Option<Timestamp> {
        completion_candidates(&self.snapshot)
            .filter(|(subject, span, _)| !self.completed.contains(&(subject.clone(), span.version)))
            .map(|(_, span, _)| span.end)
            .min()
    }
}

/// What caused the booking write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// A message from the client.
    ClientMessage,
    /// A manager's decision, a payment, an operator.
    Staff,
}

/// The booking write as the automation engine sees it.
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    pub previous: Option<&'a Record>,
    /// The booking before the write (`None`: created by it).
    pub before: Option<&'a Event>,
    pub after: &'a Event,
    pub venue: &'a Venue,
    pub client_name: Option<&'a str>,
    /// The client's phone number as they gave it (normalised where it is used).
    pub client_phone: Option<&'a str>,
    /// The kind of event the client named in this message ("wedding"), if any.
    pub event_type: Option<&'a str>,
    pub cause: Cause,
}

/// The new record and the triggers the write fired, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub record: Record,
    pub triggers: Vec<TriggerEvent>,
}

/// A venue-local date and time as an instant (a time skipped by a DST change moves forward).
fn local(date: Date, time: TimeOfDay, tz: &TimeZone) -> Option<Timestamp> {
    date.to_datetime(time.time())
        .to_zoned(tz.clone())
        .ok()
        .map(|z| z.timestamp())
}

fn end_of_day(date: Date, tz: &TimeZone) -> Option<Timestamp> {
    date.at(23, 59, 59, 0)
        .to_zoned(tz.clone())
        .ok()
        .map(|z| z.timestamp())
}

/// The event's start and end, once it has a date.
pub fn event_times(event: &Event, venue: &Venue) -> Option<(Timestamp, Timestamp)> {
    let date = event.chosen_date?;
    let hours = &venue.spec().operating_hours;
    let start_t = event.start_time.unwrap_or(hours.open);
    let end_t = event.end_time.unwrap_or(hours.close);
    let tz = venue.time_zone();
    let start = local(date, start_t, tz)?;
    let end_date = if end_t <= start_t {
        date.tomorrow().ok()?
    } else {
        date
    };
    Some((start, local(end_date, end_t, tz)?))
}

fn versioned(previous: Option<Span>, start: Timestamp, end: Timestamp) -> Span {
    let version = match previous {
        Some(p) if p.start == start && p.end == end => p.version,
        Some(p) => p.version + 1,
        None => 1,
    };
    Span {
        start,
        end,
        version,
    }
}

/// The offer the client has in hand: the newest sent or accepted one.
fn live_offer(event: &Event) -> Option<&openevent_core::event::Offer> {
    event
        .offers
        .iter()
        .filter(|o| matches!(o.status, OfferStatus::Sent | OfferStatus::Accepted))
        .max_by_key(|o| o.version)
}

fn offer_status(event: Option<&Event>, offer_id: &str) -> Option<OfferStatus> {
    event?
        .offers
        .iter()
        .find(|o| o.offer_id == offer_id)
        .map(|o| o.status)
}

fn site_visit_id() -> AppointmentId {
    AppointmentId::parse(SITE_VISIT).expect("a valid appointment id")
}

/// The booking's snapshot after the write.
fn snapshot(change: &Change<'_>) -> BookingSnapshot {
    let e = change.after;
    let tz = change.venue.time_zone();
    let prev = change.previous.map(|r| &r.snapshot);
    let event = event_times(e, change.venue)
        .map(|(start, end)| versioned(prev.and_then(|p| p.event), start, end));
    let offer = live_offer(e).and_then(|o| {
        Some(OfferInfo {
            total: o.total,
            expires_at: end_of_day(o.valid_until, tz)?,
            version: o.version,
        })
    });
    let deposit = live_offer(e).and_then(|o| {
        Some(DepositInfo {
            amount: o.deposit.filter(|d| d.rappen() > 0)?,
            due_at: end_of_day(o.deposit_due?, tz)?,
            version: o.version,
        })
    });
    let appointments = site_visit(prev, e, change.venue).into_iter().collect();
    let mut goals = prev.map(|p| p.goals.clone()).unwrap_or_default();
    let at = e.updated_at;
    if change.cause == Cause::ClientMessage && change.before.is_some() {
        goals.insert(Goal::ClientReplied, at);
    }
    let accepted_now = e.offers.iter().any(|o| {
        o.status == OfferStatus::Accepted
            && offer_status(change.before, &o.offer_id) != Some(OfferStatus::Accepted)
    });
    if accepted_now {
        goals.insert(Goal::OfferAccepted, at);
    }
    if let Some(paid) = e.deposit_paid_at {
        goals.entry(Goal::DepositPaid).or_insert(paid);
    }
    if e.status == Status::Cancelled {
        goals.entry(Goal::BookingCancelled).or_insert(at);
    }
    BookingSnapshot {
        event_id: e.event_id.clone(),
        status: e.status,
        language: e.language,
        event_type: change
            .event_type
            .map(str::to_owned)
            .or_else(|| prev.and_then(|p| p.event_type.clone())),
        client: Contact {
            name: change.client_name.map(str::to_owned),
            email: Some(e.client_email.as_str().to_owned()),
            phone: change
                .client_phone
                .map(str::to_owned)
                .or_else(|| prev.and_then(|p| p.client.phone.clone())),
        },
        manager: prev.and_then(|p| p.manager.clone()),
        partners: prev.map(|p| p.partners.clone()).unwrap_or_default(),
        event,
        room: e.locked_room_id.as_ref().map(|id| {
            change
                .venue
                .room(id)
                .map_or(id.to_string(), |r| r.name.clone())
        }),
        offer,
        deposit,
        appointments,
        goals,
        survey_url: prev.and_then(|p| p.survey_url.clone()),
    }
}

/// The site visit after the write: the agreed slot, or the previous one marked cancelled when the
/// slot was withdrawn or the booking cancelled (its cancellation notice still needs its time).
fn site_visit(prev: Option<&BookingSnapshot>, e: &Event, venue: &Venue) -> Option<Appointment> {
    let id = site_visit_id();
    let before = prev.and_then(|p| p.appointment(&id));
    let slot = e
        .site_visit
        .and_then(|v| local(v.date, v.time, venue.time_zone()));
    match slot {
        Some(start) => {
            let span = versioned(before.map(|a| a.span), start, start + SITE_VISIT_LENGTH);
            let status = if e.status == Status::Cancelled {
                AppointmentStatus::Cancelled
            } else {
                before.map_or(AppointmentStatus::Confirmed, |a| match a.status {
                    AppointmentStatus::Cancelled => AppointmentStatus::Confirmed,
                    s => s,
                })
            };
            Some(Appointment {
                id,
                kind: Some("site_visit".into()),
                span,
                status,
                staff: before.and_then(|a| a.staff.clone()),
            })
        }
        None => before.map(|a| Appointment {
            status: AppointmentStatus::Cancelled,
            ..a.clone()
        }),
    }
}

fn trigger(trigger: Trigger, at: Timestamp) -> TriggerEvent {
    TriggerEvent {
        trigger,
        at,
        appointment: None,
    }
}

fn appointment_trigger(t: Trigger, at: Timestamp) -> TriggerEvent {
    TriggerEvent {
        trigger: t,
        at,
        appointment: Some(site_visit_id()),
    }
}

/// The lifecycle triggers of a write, in the order they happened.
fn triggers(
    change: &Change<'_>,
    prev: Option<&BookingSnapshot>,
    now: &BookingSnapshot,
) -> Vec<TriggerEvent> {
    let (before, after) = (change.before, change.after);
    let at = after.updated_at;
    let mut out = Vec::new();
    if before.is_none() {
        out.push(trigger(Trigger::LeadCreated, after.created_at));
    }
    for o in &after.offers {
        let was = offer_status(before, &o.offer_id);
        if was == Some(o.status) {
            continue;
        }
        match o.status {
            OfferStatus::Sent => out.push(trigger(Trigger::OfferSent, at)),
            OfferStatus::Accepted => {
                out.push(trigger(Trigger::OfferAccepted, at));
                if o.deposit.is_some_and(|d| d.rappen() > 0) && after.deposit_paid_at.is_none() {
                    out.push(trigger(Trigger::DepositRequested, at));
                }
            }
            OfferStatus::Declined => out.push(trigger(Trigger::OfferDeclined, at)),
            OfferStatus::Draft | OfferStatus::Superseded => {}
        }
    }
    let was = before.map(|b| b.status);
    if was != Some(after.status) {
        match after.status {
            Status::Option => out.push(trigger(Trigger::OptionPlaced, at)),
            Status::Confirmed => out.push(trigger(Trigger::BookingConfirmed, at)),
            Status::Cancelled => out.push(trigger(Trigger::BookingCancelled, at)),
            Status::Lead => {}
        }
    }
    if let (None, Some(paid)) = (
        before.and_then(|b| b.deposit_paid_at),
        after.deposit_paid_at,
    ) {
        out.push(trigger(Trigger::DepositPaid, paid));
    }
    let id = site_visit_id();
    let visit_before = prev.and_then(|p| p.appointment(&id));
    let visit_now = now.appointment(&id);
    match (visit_before, visit_now) {
        (None | Some(_), Some(v))
            if v.status != AppointmentStatus::Cancelled
                && visit_before.is_none_or(|b| b.status == AppointmentStatus::Cancelled) =>
        {
            out.push(appointment_trigger(Trigger::AppointmentCreated, at));
            out.push(appointment_trigger(Trigger::AppointmentConfirmed, at));
        }
        (Some(b), Some(v))
            if b.status != AppointmentStatus::Cancelled
                && v.status == AppointmentStatus::Cancelled =>
        {
            out.push(appointment_trigger(Trigger::AppointmentCancelled, at));
        }
        (Some(b), Some(v)) if b.span.version != v.span.version => {
            out.push(appointment_trigger(Trigger::AppointmentRescheduled, at));
        }
        _ => {}
    }
    out
}

/// Observes one write of the booking.
pub fn observe(change: &Change<'_>) -> Observation {
    let snapshot = snapshot(change);
    let prev = change.previous.map(|r| &r.snapshot);
    let triggers = triggers(change, prev, &snapshot);
    let mut completed = change
        .previous
        .map(|r| r.completed.clone())
        .unwrap_or_default();
    // A span that moved may end again: only the current versions' completions count.
    completed.retain(|(subject, version)| {
        completion_candidates(&snapshot)
            .any(|(s, span, _)| &s == subject && span.version == *version)
    });
    Observation {
        record: Record {
            snapshot,
            completed,
        },
        triggers,
    }
}

/// The spans whose end fires a completion trigger: the event once confirmed, and the site visit
/// unless cancelled.
fn completion_candidates(
    b: &BookingSnapshot,
) -> impl Iterator<Item = (Subject, Span, Trigger)> + '_ {
    let event = (b.status == Status::Confirmed)
        .then_some(b.event)
        .flatten()
        .map(|span| (Subject::Booking, span, Trigger::EventCompleted));
    let visits = b
        .appointments
        .iter()
        .filter(|a| a.status != AppointmentStatus::Cancelled && b.status != Status::Cancelled)
        .map(|a| {
            (
                Subject::Appointment { id: a.id.clone() },
                a.span,
                Trigger::AppointmentCompleted,
            )
        });
    event.into_iter().chain(visits)
}

/// The completion triggers due at `now`, with the record that remembers them as fired.
pub fn completions(record: &Record, now: Timestamp) -> Observation {
    let mut next = record.clone();
    let mut triggers = Vec::new();
    for (subject, span, t) in completion_candidates(&record.snapshot) {
        if span.end > now || !next.completed.insert((subject.clone(), span.version)) {
            continue;
        }
        if let Subject::Appointment { id } = &subject
            && let Some(a) = next.snapshot.appointments.iter_mut().find(|a| &a.id == id)
        {
            a.status = AppointmentStatus::Completed;
        }
        triggers.push(TriggerEvent {
            trigger: t,
            at: span.end,
            appointment: match subject {
                Subject::Appointment { id } => Some(id),
                Subject::Booking => None,
            },
        });
    }
    Observation {
        record: next,
        triggers,
    }
}

/// What the organization's automation is, for [`plan`].
#[derive(Debug, Clone, Copy)]
pub struct Setup<'a> {
    pub org: &'a openevent_core::OrgSlug,
    pub settings: &'a OrgSettings,
    pub workflows: &'a [Workflow],
    pub assigned: Option<&'a WorkflowKey>,
    pub retry: &'a RetryPolicy,
}

/// The job writes of one observation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JobPlan {
    /// New jobs, to insert.
    pub inserted: Vec<Job>,
    /// Existing jobs in their new state, to update if still pending in storage.
    pub updated: Vec<Job>,
    /// Every scheduler effect, in order (for the audit trail).
    pub effects: Vec<Effect>,
}

/// Runs the scheduler for each trigger in turn (and once without one, to review pending jobs
/// against the new snapshot), applying its effects to the booking's jobs as it goes.
pub fn plan(
    setup: &Setup<'_>,
    booking: &BookingSnapshot,
    jobs: &[Job],
    triggers: &[TriggerEvent],
    now: Timestamp,
) -> JobPlan {
    let mut current: Vec<Job> = jobs.to_vec();
    let mut inserted: BTreeSet<JobId> = BTreeSet::new();
    let mut updated: BTreeSet<JobId> = BTreeSet::new();
    let mut effects = Vec::new();
    let rounds: Vec<Option<&TriggerEvent>> = if triggers.is_empty() {
        vec![None]
    } else {
        triggers.iter().map(Some).collect()
    };
    for t in rounds {
        let ctx = Context {
            org: setup.org,
            settings: setup.settings,
            workflows: setup.workflows,
            assigned: setup.assigned,
            booking,
            jobs: &current,
            now,
        };
        let round = scheduler::reconcile(&ctx, t);
        for effect in &round {
            match effect {
                Effect::Schedule { job } => {
                    inserted.insert(job.id.clone());
                    current.push((**job).clone());
                }
                Effect::NotScheduled { .. } => {}
                other => {
                    let Some((id, event)) = other.job_event() else {
                        continue;
                    };
                    let Some(slot) = current.iter_mut().find(|j| &j.id == id) else {
                        continue;
                    };
                    if let Ok(Applied::Changed(next)) =
                        crate::job::apply(slot, event, setup.retry, now)
                    {
                        *slot = *next;
                        if !inserted.contains(id) {
                            updated.insert(id.clone());
                        }
                    }
                }
            }
        }
        effects.extend(round);
    }
    JobPlan {
        inserted: current
            .iter()
            .filter(|j| inserted.contains(&j.id))
            .cloned()
            .collect(),
        updated: current
            .iter()
            .filter(|j| updated.contains(&j.id))
            .cloned()
            .collect(),
        effects,
    }
}

#[cfg(test)]
mod tests;
