//! The imperative shell: runs openevent's pure core against a [`Store`] with an injected
//! [`Clock`], one transaction per input. Later the API server and the background workers drive
//! the same [`Engine`].

pub mod clock;
mod ingest;
mod queries;

use openevent_store::Store;

pub use clock::{Clock, ManualClock, SystemClock};
pub use ingest::{IngestError, IngestReport};
pub use queries::EventView;

/// Settings the engine needs from the venue's configuration.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Signs drafts ("Kind regards, The Atelier").
    pub venue_name: String,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            venue_name: "The Atelier".to_owned(),
        }
    }
}

pub struct Engine<S, C> {
    store: S,
    clock: C,
    config: EngineConfig,
}

impl<S: Store, C: Clock> Engine<S, C> {
    pub fn new(store: S, clock: C, config: EngineConfig) -> Self {
        Self {
            store,
            clock,
            config,
        }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn clock(&self) -> &C {
        &self.clock
    }
}
