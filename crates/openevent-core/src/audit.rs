//! Audit trail entries: who moved the booking, from which step to which, why, and which fields.
//! Metadata only; message content never goes into the audit.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::event::Step;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    /// The workflow engine acting on its own rules.
    System,
    /// A client's message caused it.
    Client,
    /// A venue manager's decision (HIL approval, edit, rejection).
    Manager,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub ts: Timestamp,
    pub actor: Actor,
    pub from_step: Option<Step>,
    pub to_step: Option<Step>,
    pub reason: String,
    /// Changed fields with their new values.
    pub fields: BTreeMap<String, serde_json::Value>,
}

impl AuditEntry {
    pub fn new(
        ts: Timestamp,
        actor: Actor,
        from_step: Option<Step>,
        to_step: Option<Step>,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            ts,
            actor,
            from_step,
            to_step,
            reason: reason.into(),
            fields: BTreeMap::new(),
        }
    }

    pub fn field(mut self, name: &str, value: impl Serialize) -> Self {
        let value = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
        self.fields.insert(name.to_owned(), value);
        self
    }
}
