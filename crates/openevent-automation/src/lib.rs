//! The pure core of openevent's automation engine: reminders and follow-ups tied to a booking.
//!
//! Workflows (per organization) hold steps; a step fires on a lifecycle trigger, addresses an
//! audience through a channel, at a time relative to an anchor, with a template. The shell hands
//! in the booking as a snapshot, the booking's jobs and `now`; this crate answers with typed
//! effects (schedule, cancel, re-arm), dispatch decisions and job transitions. No I/O, no clock,
//! no randomness.
//!
//! Where to start reading: `scheduler::reconcile` (what a lifecycle event does),
//! `dispatch::decide` (whether a due job still sends), `job` (the job's transition table).

pub mod assignment;
pub mod booking;
pub mod definition;
pub mod delivery_key;
pub mod dispatch;
pub mod ids;
pub mod job;
pub mod library;
pub mod lifecycle;
pub mod phone;
pub mod preview;
pub mod quiet_hours;
pub mod quote_terms;
pub mod recipients;
pub mod retry;
pub mod scheduler;
pub mod settings;
pub mod template;
pub mod timing;
pub mod validation;

#[cfg(test)]
mod testing;

pub use booking::{BookingSnapshot, Subject, TriggerEvent};
pub use definition::{Channel, Goal, Trigger, Workflow, WorkflowSpec};
pub use delivery_key::DeliveryKey;
pub use dispatch::{Decision, decide};
pub use job::{Job, JobEvent, JobId, JobState, JobStatus, apply};
pub use scheduler::{Effect, reconcile};
pub use settings::OrgSettings;
pub use validation::{DefinitionError, Problem};
