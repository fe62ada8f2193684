//! The imperative shell: runs openevent's pure core against a [`Store`] with an injected
//! [`Clock`], one transaction per input. Later the API server and the background workers drive
//! the same [`Engine`].

pub mod automation;
pub mod clock;
mod context;
mod decisions;
mod ingest;
pub mod metrics;
pub mod outbox;
mod payments;
mod queries;
pub mod scenario;
mod understanding;
pub mod workflows;

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

/// A venue with its vocabulary prepared for the NLU (preparing costs more than reading a
/// message, so it happens once per venue revision).
#[derive(Debug)]
pub struct VenueBundle {
    pub venue: Venue,
    pub lexicon: PreparedLexicon,
    /// The organization's venue revision; `None` for the server's venue.
    pub revision: Option<i64>,
}

impl VenueBundle {
    fn new(venue: Venue, revision: Option<i64>) -> Self {
        Self {
            lexicon: PreparedLexicon::new(&venue.lexicon()),
            venue,
            revision,
        }
    }
}

/// Why a venue could not be saved.
#[derive(Debug, thiserror::Error)]
pub enum VenueSaveError {
    #[error(transparent)]
    Invalid(#[from] openevent_core::venue::VenueError),
    #[error(transparent)]
    Store(#[from] openevent_store::StoreError),
}

pub struct Engine<S, C> {
    store: S,
    clock: C,
    config: EngineConfig,
    /// The server's venue (from `--venue` or built in), for organizations without their own.
    default_venue: std::sync::Arc<VenueBundle>,
    /// Organizations' own venues, by organization, as last read.
    venues: std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<VenueBundle>>>,
    /// The optional LLM that may refine what the rules understood (off unless configured).
    llm: Option<openevent_llm::LlmClient>,
    /// Delivery latency and outcomes per channel, failed inputs (for metrics).
    metrics: metrics::Metrics,
    /// Messages processed by this process, by the turn's action (for metrics).
    processed: std::sync::Mutex<std::collections::BTreeMap<&'static str, u64>>,
}

impl<S: Store, C: Clock> Engine<S, C> {
    pub fn new(store: S, clock: C, config: EngineConfig) -> Self {
        Self {
            default_venue: std::sync::Arc::new(VenueBundle::new(config.venue.clone(), None)),
            venues: Default::default(),
            metrics: Default::default(),
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

    /// What this process measured (delivery latency and outcomes, failed inputs).
    pub fn metrics(&self) -> &metrics::Metrics {
        &self.metrics
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// The server's venue (organizations without their own use it).
    pub fn venue(&self) -> &Venue {
        &self.config.venue
    }

    /// The organization's venue: its own when it saved one, else the server's.
    pub async fn venue_of(
        &self,
        org: &openevent_core::ids::OrgSlug,
    ) -> Result<std::sync::Arc<VenueBundle>, openevent_store::StoreError> {
        let revision = self.store.venue_revision(org).await?;
        self.venue_at(org, revision).await
    }

    /// [`Engine::venue_of`] when the revision is already known.
    pub(crate) async fn venue_at(
        &self,
        org: &openevent_core::ids::OrgSlug,
        revision: Option<i64>,
    ) -> Result<std::sync::Arc<VenueBundle>, openevent_store::StoreError> {
        let Some(revision) = revision else {
            return Ok(std::sync::Arc::clone(&self.default_venue));
        };
        let cached = self
            .venues
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(org.as_str())
            .filter(|b| b.revision == Some(revision))
            .cloned();
        if let Some(b) = cached {
            return Ok(b);
        }
        let Some((revision, spec)) = self.store.load_venue(org).await? else {
            return Ok(std::sync::Arc::clone(&self.default_venue));
        };
        let venue = Venue::from_spec(spec).map_err(|e| {
            openevent_store::StoreError::Corrupt(format!("the stored venue of {org}: {e}"))
        })?;
        let bundle = std::sync::Arc::new(VenueBundle::new(venue, Some(revision)));
        self.venues
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(org.to_string(), std::sync::Arc::clone(&bundle));
        Ok(bundle)
    }

    /// Validates and stores the organization's own venue; answers its new revision. Bookings
    /// already made keep their prices: offers are stored with their line items.
    pub async fn save_venue(
        &self,
        org: &openevent_core::ids::OrgSlug,
        spec: openevent_core::venue::VenueSpec,
    ) -> Result<i64, VenueSaveError> {
        let venue = Venue::from_spec(spec)?;
        let revision = self
            .store
            .save_venue(org, venue.spec(), self.clock.now())
            .await?;
        tracing::info!(org = %org, revision, "venue saved");
        Ok(revision)
    }
}
