//! What the poller hands messages to: the caller's ingestion pipeline.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

/// What became of a message the sink was given. Every variant is final for that message: the
/// poller marks it `\Seen` and will not offer it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkOutcome {
    /// Stored; the transaction has committed.
    Committed,
    /// Already stored earlier (same Message-ID); nothing changed. This is what a message
    /// re-delivered after a crash between commit and `\Seen` gets.
    Duplicate,
    /// Can never be ingested (not a message, too large, no usable sender…). The poller marks it
    /// `\Seen` *and* [`REJECTED_KEYWORD`](crate::REJECTED_KEYWORD) so it is not retried forever
    /// and an operator can find it (`UID SEARCH KEYWORD $OpeneventRejected`).
    Rejected {
        /// Why; logged.
        reason: String,
    },
}

/// A failure that may pass (database busy, disk full, …). The message stays unseen and is offered
/// again by the next poll.
#[derive(Debug)]
pub struct SinkError(Box<dyn StdError + Send + Sync>);

impl SinkError {
    /// Wraps the cause.
    pub fn transient(cause: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        SinkError(cause.into())
    }
}

impl fmt::Display for SinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "transient ingestion failure: {}", self.0)
    }
}

impl StdError for SinkError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.0)
    }
}

/// The ingestion pipeline the poller feeds.
///
/// The poller relies on two properties of the implementation:
///
/// 1. **Commit before answering.** `Committed` and `Duplicate` are returned only once the
///    message is durably stored; the poller then marks it `\Seen`. An error or a panic leaves it
///    unseen.
/// 2. **Idempotence on Message-ID.** A message may be offered again after it was committed (the
///    connection broke between the commit and the `\Seen` flag); the sink must then answer
///    `Duplicate` and change nothing.
pub trait MessageSink: Send + Sync {
    /// Ingests one raw RFC 5322 message, exactly as the server stores it.
    fn ingest(&self, raw: Vec<u8>) -> impl Future<Output = Result<SinkOutcome, SinkError>> + Send;
}

impl<T: MessageSink + ?Sized> MessageSink for &T {
    fn ingest(&self, raw: Vec<u8>) -> impl Future<Output = Result<SinkOutcome, SinkError>> + Send {
        (**self).ingest(raw)
    }
}

impl<T: MessageSink + ?Sized> MessageSink for Arc<T> {
    fn ingest(&self, raw: Vec<u8>) -> impl Future<Output = Result<SinkOutcome, SinkError>> + Send {
        (**self).ingest(raw)
    }
}
