//! What the automation engine needs to know about a booking, as a snapshot the shell builds from
//! the store. Every movable time carries a version that the store bumps when the time changes;
//! jobs compare versions, never times, to find out whether their anchor moved.

use std::collections::BTreeMap;

use jiff::Timestamp;
use openevent_core::money::Money;
use openevent_core::understanding::Language;
use openevent_core::{EventId, Status};
use serde::{Deserialize, Serialize};

use crate::definition::{Anchor, Goal, Trigger};
use crate::ids::{AppointmentId, StaffId};

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Contact {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffMember {
    pub id: StaffId,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// A time span whose `version` increases whenever start or end change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub start: Timestamp,
    pub end: Timestamp,
    pub version: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentStatus {
    Scheduled,
    Confirmed,
    Completed,
    Cancelled,
}

/// A site visit or other appointment attached to the booking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Appointment {
    pub id: AppointmentId,
    /// The organization's appointment type (`site_visit`, `tasting`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub span: Span,
    pub status: AppointmentStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff: Option<StaffMember>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferInfo {
    pub total: Money,
    pub expires_at: Timestamp,
    pub version: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepositInfo {
    pub amount: Money,
    pub due_at: Timestamp,
    pub version: u32,
}

/// The booking as the automation engine sees it at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingSnapshot {
    pub event_id: EventId,
    pub status: Status,
    pub language: Language,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    pub client: Contact,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager: Option<StaffMember>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partners: Vec<Contact>,
    /// The event's time span once a date is chosen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<Span>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer: Option<OfferInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deposit: Option<DepositInfo>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub appointments: Vec<Appointment>,
    /// When each goal was last reached; a goal only stops jobs scheduled before it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub goals: BTreeMap<Goal, Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub survey_url: Option<String>,
}

/// What an anchor belongs to: the booking itself or one of its appointments.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Subject {
    Booking,
    Appointment { id: AppointmentId },
}

/// A lifecycle moment: the trigger, when it happened, and for appointment triggers which one.
/// `at` must come from the stored record (not from the shell's clock at delivery), so that
/// handing the same event to the scheduler twice schedules nothing new.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerEvent {
    pub trigger: Trigger,
    pub at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appointment: Option<AppointmentId>,
}

impl TriggerEvent {
    pub fn subject(&self) -> Subject {
        match &self.appointment {
            Some(id) if self.trigger.is_appointment() => Subject::Appointment { id: id.clone() },
            _ => Subject::Booking,
        }
    }
}

/// Where an anchor stands now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnchorPoint {
    pub at: Timestamp,
    pub version: u32,
}

impl BookingSnapshot {
    pub fn appointment(&self, id: &AppointmentId) -> Option<&Appointment> {
        self.appointments.iter().find(|a| &a.id == id)
    }

    /// The current time and version of a movable anchor; `None` when the booking has no such
    /// time (no date chosen yet, no offer, the appointment is gone). `Anchor::Trigger` is not
    /// movable and is answered by the job itself.
    pub fn anchor_point(&self, anchor: Anchor, subject: &Subject) -> Option<AnchorPoint> {
        let span = || match subject {
            Subject::Booking => self.event,
            Subject::Appointment { id } => self.appointment(id).map(|a| a.span),
        };
        match anchor {
            Anchor::Trigger => None,
            Anchor::Start => span().map(|s| AnchorPoint {
                at: s.start,
                version: s.version,
            }),
            Anchor::End => span().map(|s| AnchorPoint {
                at: s.end,
                version: s.version,
            }),
            Anchor::OfferExpiry => self.offer.map(|o| AnchorPoint {
                at: o.expires_at,
                version: o.version,
            }),
            Anchor::DepositDue => self.deposit.map(|d| AnchorPoint {
                at: d.due_at,
                version: d.version,
            }),
        }
    }

    /// The type a step's `only_types` filter is compared with.
    pub fn type_for(&self, subject: &Subject) -> Option<&str> {
        match subject {
            Subject::Booking => self.event_type.as_deref(),
            Subject::Appointment { id } => self.appointment(id).and_then(|a| a.kind.as_deref()),
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.status == Status::Cancelled
    }

    pub fn subject_cancelled(&self, subject: &Subject) -> bool {
        match subject {
            Subject::Booking => false,
            Subject::Appointment { id } => self
                .appointment(id)
                .is_none_or(|a| a.status == AppointmentStatus::Cancelled),
        }
    }
}
