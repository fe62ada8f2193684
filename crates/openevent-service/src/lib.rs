//! The imperative shell: runs openevent's pure core against a [`Store`] with an injected
//! [`Clock`], one transaction per input. Later the API server and the background workers drive
//! the same [`Engine`].

pub mod clock;
mod context;
mod decisions;
mod ingest;
pub mod outbox;
mod payments;
mod queries;
pub mod scenario;
mod understanding;

use openevent_core::venue::Venue;
use openevent_core::workflow::Templates;
use openevent_nlu::PreparedLexicon;
use openevent_store::Store;

pub use clock::{Clock, ManualClock, SystemClock};
pub use decisions::{DecisionError, DecisionReport};
pub use ingest::{IngestError, IngestReport};
pub use outbox::{Channels, DispatchReport};
pub use payments::{PaymentError, PaymentReport};
pub use queries::EventView;

/// The venue and its reply templates.
#[derive(Debug)]
pub struct EngineConfig {
    pub venue: Venue,
    pub templates: Templates,
}

impl Default for EngineConfig {
    /// The built-in reference venue, The Atelier, with the built-in templates.
    fn default() -> Self {
        Self {
            venue: Venue::atelier(),
            templates: Templates::builtin(),
        }
    }
}

pub struct Engine<S, C> {
    store: S,
    clock: C,
    config: EngineConfig,
    /// The venue's vocabulary prepared for the NLU once: preparing costs more than reading a
    /// message.
    lexicon: PreparedLexicon,
    /// The optional LLM that may refine what the rules understood (off unless configured).
    llm: Option<openevent_llm::LlmClient>,
    /// Messages processed by this process, by the turn's action (for metrics).
    processed: std::sync::Mutex<std::collections::BTreeMap<&'static str, u64>>,
}

impl<S: Store, C: Clock> Engine<S, C> {
    pub fn new(store: S, clock: C, config: EngineConfig) -> Self {
        Self {
            lexicon: PreparedLexicon::new(&config.venue.lexicon()),
            store,
            clock,
            config,
            llm: None,
            processed: Default::default(),
        }
    }

    /// Messages this process has processed, by action (duplicates not counted).
    pub fn processed_by_action(&self) -> std::collections::BTreeMap<&'static str, u64> {
        self.processed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Lets an LLM refine each message's understanding; the rules' facts always win, and any
    /// failure falls back to the rules' result, recorded on the booking's timeline.
    pub fn with_llm(mut self, llm: openevent_llm::LlmClient) -> Self {
        self.llm = Some(llm);
        self
    }

    /// The LLM adapter's counters (requests, used, fallbacks by reason), when one is configured.
    pub fn llm_metrics(&self) -> Option<openevent_llm::MetricsSnapshot> {
        self.llm.as_ref().map(|l| l.metrics().snapshot())
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn clock(&self) -> &C {
        &self.clock
    }

    pub fn venue(&self) -> &Venue {
        &self.config.venue
    }
}
