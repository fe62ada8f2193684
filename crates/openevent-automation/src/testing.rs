//! Fixtures shared by the unit tests: a booking at The Atelier and a job for it.

use std::collections::BTreeMap;

use jiff::Timestamp;
use openevent_core::money::Money;
use openevent_core::understanding::Language;
use openevent_core::{EventId, OrgSlug, Status};

use crate::booking::{
    Appointment, AppointmentStatus, BookingSnapshot, Contact, OfferInfo, Span, StaffMember, Subject,
};
use crate::definition::{Anchor, Channel, PastDuePolicy, TemplateSpec, Timing, Trigger};
use crate::delivery_key::{DeliveryKey, KeyParts};
use crate::ids::{AppointmentId, StaffId, StepKey, WorkflowKey};
use crate::job::{AnchorRef, Job, JobState};
use crate::recipients::Address;

/// A local Zurich wall time ("2026-06-10T09:00") as a timestamp.
pub fn ts(local: &str) -> Timestamp {
    local
        .parse::<jiff::civil::DateTime>()
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::get("Europe/Zurich").unwrap())
        .unwrap()
        .timestamp()
}

pub fn booking() -> BookingSnapshot {
    BookingSnapshot {
        event_id: EventId::parse("EVT-1").unwrap(),
        status: Status::Option,
        language: Language::De,
        event_type: Some("Wedding".into()),
        client: Contact {
            name: Some("Laura Meier".into()),
            email: Some("laura.meier@example.com".into()),
            phone: Some("079 123 45 67".into()),
        },
        manager: Some(StaffMember {
            id: StaffId::parse("u-sara").unwrap(),
            name: "Sara Keller".into(),
            email: Some("sara@atelier.example".into()),
            phone: Some("+41 44 555 66 77".into()),
        }),
        partners: vec![],
        event: Some(Span {
            start: ts("2026-06-20T18:00"),
            end: ts("2026-06-20T23:00"),
            version: 1,
        }),
        room: Some("Room A".into()),
        offer: Some(OfferInfo {
            total: Money::from_rappen(123_450),
            expires_at: ts("2026-06-15T23:59"),
            version: 1,
        }),
        deposit: None,
        appointments: vec![],
        goals: BTreeMap::new(),
        survey_url: Some("https://survey.example/evt-1".into()),
    }
}

pub fn appointment(id: &str, start: &str) -> Appointment {
    let start = ts(start);
    Appointment {
        id: AppointmentId::parse(id).unwrap(),
        kind: Some("site_visit".into()),
        span: Span {
            start,
            end: start + jiff::SignedDuration::from_hours(1),
            version: 1,
        },
        status: AppointmentStatus::Confirmed,
        staff: None,
    }
}

pub fn job() -> Job {
    let org = OrgSlug::parse("atelier").unwrap();
    let event_id = EventId::parse("EVT-1").unwrap();
    let workflow = WorkflowKey::parse("offer-follow-up").unwrap();
    let step = StepKey::parse("nudge").unwrap();
    let recipient = Address::Email("laura.meier@example.com".into());
    let trigger_at = ts("2026-06-05T10:00");
    let key = DeliveryKey::derive(&KeyParts {
        org: &org,
        event_id: &event_id,
        workflow: &workflow,
        workflow_version: 1,
        step: &step,
        subject: &Subject::Booking,
        recipient: &recipient,
        anchor: Anchor::Trigger,
        anchor_version: 0,
        trigger_at,
    });
    Job {
        id: Job::new_id(&key),
        delivery_key: key,
        org,
        event_id,
        workflow,
        workflow_version: 1,
        step,
        trigger: Trigger::OfferSent,
        trigger_at,
        subject: Subject::Booking,
        channel: Channel::Email,
        recipient,
        timing: Timing {
            anchor: Anchor::Trigger,
            offset: crate::definition::Offset::Days(3),
            at: None,
            if_past: PastDuePolicy::SendNow,
        },
        anchor: AnchorRef {
            anchor: Anchor::Trigger,
            at: trigger_at,
            version: 0,
        },
        stop_when: Default::default(),
        template: TemplateSpec {
            subject: Some("Ihre Offerte".into()),
            body: "Guten Tag {{ client.name }}".into(),
        },
        created_at: trigger_at,
        due_at: ts("2026-06-08T10:00"),
        attempts: 0,
        state: JobState::Scheduled,
    }
}
