//! openevent's pure domain core.
//!
//! Everything here is a function over typed values: `(state, input, now) -> (new state, effects)`.
//! No I/O, no wall clock, no randomness: time arrives as a parameter and ids derive from content.
//! Storage, transport and scheduling live in other crates that depend on this one, never the
//! reverse.

pub mod audit;
pub mod calendar;
pub mod client;
pub mod dag;
pub mod effects;
pub mod event;
pub mod hash;
pub mod ics;
pub mod ids;
pub mod intake;
pub mod message;
pub mod money;
pub mod offer;
pub mod understanding;
pub mod venue;
pub mod workflow;

pub use audit::{Actor, AuditEntry};
pub use event::{Event, Status, Step, ThreadState};
pub use ids::{ClientEmail, DraftId, EventId, InvalidValue, MessageId, OrgSlug, RoomId, TaskId};
