//! A workflow definition as an organization writes it (TOML on disk, JSON over the API): what
//! happens, to whom, through which channel and when, relative to the booking's lifecycle.
//!
//! `WorkflowSpec` is the raw shape; `Workflow` is a spec that passed validation, the only kind the
//! scheduler accepts.

use std::collections::BTreeSet;
use std::fmt;

use openevent_core::event::TimeOfDay;
use serde::{Deserialize, Serialize};

use crate::ids::{StepKey, WorkflowKey};
use crate::validation::{self, DefinitionError};

/// A moment in the booking's lifecycle that starts a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    LeadCreated,
    OfferSent,
    OfferAccepted,
    OfferDeclined,
    OptionPlaced,
    DepositRequested,
    DepositPaid,
    BookingConfirmed,
    BookingCancelled,
    EventCompleted,
    AppointmentCreated,
    AppointmentConfirmed,
    AppointmentCompleted,
    AppointmentCancelled,
    AppointmentRescheduled,
}

impl Trigger {
    pub const ALL: [Trigger; 15] = [
        Trigger::LeadCreated,
        Trigger::OfferSent,
        Trigger::OfferAccepted,
        Trigger::OfferDeclined,
        Trigger::OptionPlaced,
        Trigger::DepositRequested,
        Trigger::DepositPaid,
        Trigger::BookingConfirmed,
        Trigger::BookingCancelled,
        Trigger::EventCompleted,
        Trigger::AppointmentCreated,
        Trigger::AppointmentConfirmed,
        Trigger::AppointmentCompleted,
        Trigger::AppointmentCancelled,
        Trigger::AppointmentRescheduled,
    ];

    /// Appointment triggers anchor on the appointment's times, the others on the event's.
    pub fn is_appointment(self) -> bool {
        matches!(
            self,
            Trigger::AppointmentCreated
                | Trigger::AppointmentConfirmed
                | Trigger::AppointmentCompleted
                | Trigger::AppointmentCancelled
                | Trigger::AppointmentRescheduled
        )
    }

    /// A step started by a cancellation exists to announce it, so the cancellation must not
    /// stop it.
    pub fn is_cancellation(self) -> bool {
        matches!(
            self,
            Trigger::BookingCancelled | Trigger::AppointmentCancelled
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::LeadCreated => "lead_created",
            Trigger::OfferSent => "offer_sent",
            Trigger::OfferAccepted => "offer_accepted",
            Trigger::OfferDeclined => "offer_declined",
            Trigger::OptionPlaced => "option_placed",
            Trigger::DepositRequested => "deposit_requested",
            Trigger::DepositPaid => "deposit_paid",
            Trigger::BookingConfirmed => "booking_confirmed",
            Trigger::BookingCancelled => "booking_cancelled",
            Trigger::EventCompleted => "event_completed",
            Trigger::AppointmentCreated => "appointment_created",
            Trigger::AppointmentConfirmed => "appointment_confirmed",
            Trigger::AppointmentCompleted => "appointment_completed",
            Trigger::AppointmentCancelled => "appointment_cancelled",
            Trigger::AppointmentRescheduled => "appointment_rescheduled",
        }
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Whatsapp,
    Sms,
    /// A signed HTTP call, e.g. to update a CRM.
    Webhook,
    /// A to-do for staff in openevent's task list.
    Task,
}

impl Channel {
    pub const ALL: [Channel; 5] = [
        Channel::Email,
        Channel::Whatsapp,
        Channel::Sms,
        Channel::Webhook,
        Channel::Task,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Whatsapp => "whatsapp",
            Channel::Sms => "sms",
            Channel::Webhook => "webhook",
            Channel::Task => "task",
        }
    }

    /// Channels addressed by phone number.
    pub fn uses_phone(self) -> bool {
        matches!(self, Channel::Whatsapp | Channel::Sms)
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an appointment's follow-up action does, as the calendar UI names it. Each maps to one
/// channel; a step may name its action so the UI can show it, and validation keeps the two
/// consistent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    SendEmail,
    SendSms,
    CreateTask,
    /// An email whose body carries the survey link (`survey.url`).
    SendSurvey,
    /// A signed webhook to the CRM.
    UpdateCrm,
}

impl ActionKind {
    pub fn channel(self) -> Channel {
        match self {
            ActionKind::SendEmail | ActionKind::SendSurvey => Channel::Email,
            ActionKind::SendSms => Channel::Sms,
            ActionKind::CreateTask => Channel::Task,
            ActionKind::UpdateCrm => Channel::Webhook,
        }
    }
}

/// A state of the booking that makes the rest of a sequence pointless.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Goal {
    ClientReplied,
    OfferAccepted,
    DepositPaid,
    BookingCancelled,
}

/// The point in time a step's offset counts from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Anchor {
    /// When the trigger happened (for `appointment_completed` and `event_completed`: the end
    /// time, see `timing::effective_anchor`).
    #[default]
    Trigger,
    /// The start of the appointment (appointment triggers) or of the event (all others).
    Start,
    /// Its end.
    End,
    OfferExpiry,
    DepositDue,
}

/// A signed distance from the anchor; negative means before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Offset {
    /// Exact elapsed minutes.
    Minutes(i64),
    /// Calendar days in the venue's zone; the wall-clock time stays the same across DST.
    Days(i32),
    /// Monday to Friday in the venue's zone, skipping the organization's holidays.
    BusinessDays(i32),
}

impl Default for Offset {
    fn default() -> Self {
        Offset::Minutes(0)
    }
}

impl Offset {
    pub fn is_zero(&self) -> bool {
        matches!(
            self,
            Offset::Minutes(0) | Offset::Days(0) | Offset::BusinessDays(0)
        )
    }
}

/// What to do with a step whose due time has already passed when it is scheduled (a booking
/// made two days before the event gets no "one week before" reminder on time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PastDuePolicy {
    SendNow,
    Skip,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timing {
    #[serde(default)]
    pub anchor: Anchor,
    #[serde(default, skip_serializing_if = "Offset::is_zero")]
    pub offset: Offset,
    /// Moves the result to this local wall-clock time on its day ("09:00 the day before").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<TimeOfDay>,
    /// Required: the author decides what a late step does.
    pub if_past: PastDuePolicy,
}

/// Who a step addresses, resolved against the booking's contacts when the step is scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    Client,
    AssignedManager,
    /// Every partner or vendor contact on the booking (caterer, decorator, …).
    Partners,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipientSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audience: Vec<Audience>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<String>,
    /// For the webhook channel: where the signed call goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
}

pub const MAX_SUBJECT_CHARS: usize = 500;
pub const MAX_BODY_CHARS: usize = 12_000;

/// minijinja source for the message; the variables a template may use depend on the step's
/// trigger (see `template::variables_for`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateSpec {
    /// Email subject or task title; SMS and WhatsApp have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    pub key: StepKey,
    pub trigger: Trigger,
    /// Only for these appointment types (appointment triggers) or event types (the others);
    /// compared case-insensitively; empty means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub only_types: Vec<String>,
    pub channel: Channel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<ActionKind>,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub stop_when: BTreeSet<Goal>,
    pub recipients: RecipientSpec,
    pub timing: Timing,
    pub template: TemplateSpec,
}

impl StepSpec {
    /// Whether a booking or appointment of `kind` passes the step's type filter.
    pub fn accepts_type(&self, kind: Option<&str>) -> bool {
        if self.only_types.is_empty() {
            return true;
        }
        let Some(kind) = kind.map(str::trim) else {
            return false;
        };
        let kind = kind.to_lowercase();
        self.only_types
            .iter()
            .any(|t| t.trim().to_lowercase() == kind)
    }
}

/// Which bookings a workflow runs for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Only bookings this workflow is assigned to (see `assignment`).
    #[default]
    Assigned,
    /// Every booking of the organization (staff briefings, site-visit reminders): these do not
    /// compete for the one assignment a lead has.
    AllBookings,
}

/// A workflow's own offer terms, overriding the organization's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuoteTermOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_days: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity_days: Option<u16>,
}

impl QuoteTermOverrides {
    pub fn is_empty(&self) -> bool {
        self.payment_days.is_none() && self.validity_days.is_none()
    }
}

pub const MAX_STEPS: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowSpec {
    pub key: WorkflowKey,
    pub name: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Bumped on every edit; jobs remember the version they were scheduled from.
    pub version: u32,
    #[serde(default, skip_serializing_if = "is_default_scope")]
    pub scope: Scope,
    #[serde(default, skip_serializing_if = "QuoteTermOverrides::is_empty")]
    pub quote_terms: QuoteTermOverrides,
    pub steps: Vec<StepSpec>,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_default_scope(s: &Scope) -> bool {
    *s == Scope::Assigned
}

/// A workflow definition that passed validation (limits, unique step keys, recipients, and every
/// template against the variables its trigger provides).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "WorkflowSpec", into = "WorkflowSpec")]
pub struct Workflow {
    spec: WorkflowSpec,
}

impl Workflow {
    pub fn new(spec: WorkflowSpec) -> Result<Workflow, DefinitionError> {
        let problems = validation::validate(&spec);
        if problems.is_empty() {
            Ok(Workflow { spec })
        } else {
            Err(DefinitionError::Invalid(problems))
        }
    }

    pub fn from_toml(text: &str) -> Result<Workflow, DefinitionError> {
        let spec: WorkflowSpec =
            toml::from_str(text).map_err(|e| DefinitionError::Syntax(e.to_string()))?;
        Workflow::new(spec)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string(&self.spec).expect("a workflow always serialises")
    }

    pub fn spec(&self) -> &WorkflowSpec {
        &self.spec
    }

    pub fn into_spec(self) -> WorkflowSpec {
        self.spec
    }

    pub fn key(&self) -> &WorkflowKey {
        &self.spec.key
    }

    pub fn version(&self) -> u32 {
        self.spec.version
    }

    pub fn enabled(&self) -> bool {
        self.spec.enabled
    }

    pub fn steps(&self) -> &[StepSpec] {
        &self.spec.steps
    }

    pub fn step(&self, key: &StepKey) -> Option<&StepSpec> {
        self.spec.steps.iter().find(|s| &s.key == key)
    }
}

impl TryFrom<WorkflowSpec> for Workflow {
    type Error = DefinitionError;
    fn try_from(spec: WorkflowSpec) -> Result<Self, Self::Error> {
        Workflow::new(spec)
    }
}

impl From<Workflow> for WorkflowSpec {
    fn from(w: Workflow) -> Self {
        w.spec
    }
}
