//! Automation around a booking write: what the write means for the booking's reminders and
//! follow-ups, computed from the turn's data (no I/O) and committed with the booking.

use jiff::Timestamp;
use openevent_automation::OrgSettings;
use openevent_automation::assignment::{self, LeadFacts};
use openevent_automation::lifecycle::{self, Cause, Change, JobPlan, Setup};
use openevent_automation::scheduler::Effect;
use openevent_automation::settings::Zone;
use openevent_core::AuditEntry;
use openevent_core::audit::Actor;
use openevent_core::event::Event;
use openevent_core::ids::OrgSlug;
use openevent_core::venue::Venue;
use openevent_store::{AutomationChanges, AutomationSetup, BookingAutomation};

/// The organization's settings, or (until an operator stores some) the built-in defaults with
/// the venue's name and zone.
pub fn settings_for(setup: &AutomationSetup, venue: &Venue) -> OrgSettings {
    setup
        .settings
        .clone()
        .unwrap_or_else(|| default_settings(venue))
}

pub fn default_settings(venue: &Venue) -> OrgSettings {
    let mut s = OrgSettings::atelier();
    s.venue_name = venue.name().to_owned();
    if let Ok(zone) = Zone::get(&venue.spec().time_zone) {
        s.time_zone = zone;
    }
    s
}

/// The facts assignment rules match on.
pub fn lead_facts(event: &Event, record: Option<&lifecycle::Record>) -> LeadFacts {
    facts(
        record.and_then(|r| r.snapshot.event_type.clone()),
        event.status,
    )
}

/// Leads arrive by email (the API's JSON messages too); the pipeline stage is the status.
fn facts(event_type: Option<String>, status: openevent_core::event::Status) -> LeadFacts {
    LeadFacts {
        lead_source: Some("email".to_owned()),
        event_type,
        pipeline_stage: Some(status.as_str().to_owned()),
    }
}

/// The facts assignment rules match on, from the automation record alone (its status is the
/// booking's).
pub fn snapshot_facts(snapshot: &openevent_automation::BookingSnapshot) -> LeadFacts {
    facts(snapshot.event_type.clone(), snapshot.status)
}

/// The venue with the quote terms of the workflow the booking runs, when that workflow sets
/// any (a booking not stored yet is a lead); `None` when the venue's own terms apply.
pub fn offer_venue(
    venue: &Venue,
    setup: Option<&AutomationSetup>,
    booking: Option<&BookingAutomation>,
    status: Option<openevent_core::event::Status>,
) -> Option<Venue> {
    let setup = setup?;
    let settings = settings_for(setup, venue);
    let record = booking.and_then(|b| b.record.as_ref());
    let facts = match record {
        Some(r) => snapshot_facts(&r.snapshot),
        None => facts(None, status.unwrap_or(openevent_core::event::Status::Lead)),
    };
    let assigned = resolution(
        setup,
        &settings,
        booking.and_then(|b| b.override_.as_ref()),
        &facts,
    )
    .workflow?;
    let workflow = setup.workflows.iter().find(|w| w.key() == &assigned);
    let offer = &venue.spec().offer;
    let resolved = openevent_automation::quote_terms::resolve(
        workflow,
        openevent_automation::settings::QuoteTerms {
            payment_days: offer.payment_days,
            validity_days: offer.validity_days,
        },
    );
    let terms = openevent_core::venue::OfferTerms {
        payment_days: resolved.payment_days,
        validity_days: resolved.validity_days,
    };
    (terms != *offer).then(|| venue.with_offer_terms(terms))
}

/// Which workflow a booking runs: the organization's workflows, rules and default with the
/// booking's override, for these facts.
pub fn resolution(
    setup: &AutomationSetup,
    settings: &OrgSettings,
    override_: Option<&openevent_automation::assignment::Override>,
    facts: &LeadFacts,
) -> assignment::Resolution {
    assignment::resolve(
        &setup.workflows,
        &setup.rules,
        settings.default_workflow.as_ref(),
        override_,
        facts,
    )
}

/// One booking write, as the automation engine needs it.
pub struct Write<'a> {
    pub org: &'a OrgSlug,
    pub venue: &'a Venue,
    pub before: Option<&'a Event>,
    pub after: &'a Event,
    pub client_name: Option<&'a str>,
    pub client_phone: Option<&'a str>,
    pub event_type: Option<&'a str>,
    pub cause: Cause,
    pub now: Timestamp,
}

/// The automation changes of a booking write and their audit entries; `None` when the
/// organization has no automation or nothing changes.
pub fn changes(
    setup: Option<&AutomationSetup>,
    booking: Option<&BookingAutomation>,
    w: &Write<'_>,
) -> Option<(AutomationChanges, Vec<AuditEntry>)> {
    let setup = setup?;
    let empty = BookingAutomation::default();
    let booking = booking.unwrap_or(&empty);
    let settings = settings_for(setup, w.venue);
    let observation = lifecycle::observe(&Change {
        previous: booking.record.as_ref(),
        before: w.before,
        after: w.after,
        venue: w.venue,
        client_name: w.client_name,
        client_phone: w.client_phone,
        event_type: w.event_type,
        cause: w.cause,
    });
    let unchanged = booking.record.as_ref() == Some(&observation.record);
    let (changes, audit) = plan_jobs(
        w.org,
        setup,
        &settings,
        booking,
        &w.after.event_id,
        observation,
        w.now,
    );
    if audit.is_empty() && changes.inserted.is_empty() && changes.updated.is_empty() && unchanged {
        return None;
    }
    Some((changes, audit))
}

/// Runs the scheduler over an observation of the booking (its new record and the triggers that
/// fired) with the workflow the booking is assigned now: the job writes and their audit entries.
pub fn plan_jobs(
    org: &OrgSlug,
    setup: &AutomationSetup,
    settings: &OrgSettings,
    booking: &BookingAutomation,
    event_id: &openevent_core::ids::EventId,
    observation: lifecycle::Observation,
    now: Timestamp,
) -> (AutomationChanges, Vec<AuditEntry>) {
    let assigned = resolution(
        setup,
        settings,
        booking.override_.as_ref(),
        &snapshot_facts(&observation.record.snapshot),
    )
    .workflow;
    let plan = lifecycle::plan(
        &Setup {
            org,
            settings,
            workflows: &setup.workflows,
            assigned: assigned.as_ref(),
            retry: &settings.retry,
        },
        &observation.record.snapshot,
        &booking.jobs,
        &observation.triggers,
        now,
    );
    let audit = audit_entries(&plan, now);
    (
        AutomationChanges {
            event_id: event_id.clone(),
            record: observation.record,
            inserted: plan.inserted,
            updated: plan.updated,
        },
        audit,
    )
}

/// One audit entry per scheduler effect: metadata, never message content.
pub fn audit_entries(plan: &JobPlan, now: Timestamp) -> Vec<AuditEntry> {
    let entry = |reason: &str| AuditEntry::new(now, Actor::System, None, None, reason);
    plan.effects
        .iter()
        .map(|e| match e {
            Effect::Schedule { job } => entry("automation_scheduled")
                .field("job_id", job.id.as_str())
                .field("workflow", job.workflow.as_str())
                .field("workflow_version", job.workflow_version)
                .field("step", job.step.as_str())
                .field("trigger", job.trigger)
                .field("channel", job.channel)
                .field("status", job.status())
                .field("due_at", job.due_at.to_string()),
            Effect::Cancel { job, reason } => entry("automation_cancelled")
                .field("job_id", job.as_str())
                .field("reason", reason),
            Effect::Skip { job, reason } => entry("automation_skipped")
                .field("job_id", job.as_str())
                .field("reason", reason),
            Effect::Rearm { job, due_at, .. } => entry("automation_rearmed")
                .field("job_id", job.as_str())
                .field("due_at", due_at.to_string()),
            Effect::NotScheduled {
                workflow,
                step,
                reason,
            } => entry("automation_not_scheduled")
                .field("workflow", workflow.as_str())
                .field("step", step.as_str())
                .field("reason", reason),
        })
        .collect()
}
