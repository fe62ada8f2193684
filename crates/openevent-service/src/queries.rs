//! Read models for the CLI and (later) the API.

use openevent_core::AuditEntry;
use openevent_core::client::ClientContext;
use openevent_core::event::Event;
use openevent_core::ids::{ClientEmail, EventId, OrgSlug};
use openevent_store::{Store, StoreError};
use serde::Serialize;

use crate::Engine;
use crate::clock::Clock;

/// A booking record with its audit trail, under the canonical field names.
#[derive(Debug, Clone, Serialize)]
pub struct EventView {
    #[serde(flatten)]
    pub event: Event,
    pub version: i64,
    pub audit: Vec<AuditEntry>,
}

impl<S: Store, C: Clock> Engine<S, C> {
    pub async fn event_view(
        &self,
        org: &OrgSlug,
        event_id: &EventId,
    ) -> Result<Option<EventView>, StoreError> {
        let Some(stored) = self.store.load_event(org, event_id).await? else {
            return Ok(None);
        };
        let audit = self.store.event_audit(org, event_id).await?;
        Ok(Some(EventView {
            event: stored.event,
            version: stored.version,
            audit,
        }))
    }

    pub async fn client_context(
        &self,
        org: &OrgSlug,
        client: &ClientEmail,
    ) -> Result<Option<ClientContext>, StoreError> {
        self.store.client_context(org, client).await
    }
}
