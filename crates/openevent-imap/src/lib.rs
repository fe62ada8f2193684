//! IMAP poller of openevent: reads a mailbox and hands each new message, as raw RFC 5322 bytes,
//! to an ingestion [`MessageSink`] — the `[imap]` section of `openevent serve`.
//!
//! This crate knows nothing of the rest of openevent: the caller implements [`MessageSink`] over
//! its ingest pipeline.
//!
//! # Guarantee: no message lost, none processed twice
//!
//! The mailbox's `\Seen` flag is the only state. A poll `SELECT`s the folder, searches
//! `UID SEARCH UNSEEN UNDELETED`, and for each message, oldest first:
//!
//! 1. fetches it with `BODY.PEEK[]`, which leaves `\Seen` alone;
//! 2. hands it to the sink and waits for the answer;
//! 3. only then stores `\Seen` (`UID STORE … +FLAGS.SILENT (\Seen)`).
//!
//! *Nothing is lost* because nothing is marked seen before the sink's transaction committed: a
//! crash, a dropped connection or a server restart anywhere before step 3 leaves the message
//! unseen, and the next poll offers it again. A transient sink failure ([`SinkError`]) leaves it
//! unseen on purpose.
//!
//! *Nothing is processed twice* because the sink is idempotent on Message-ID: the one window left
//! — committed, but the connection broke before `\Seen` was stored — re-delivers the message, and
//! the sink answers [`SinkOutcome::Duplicate`] without changing anything; the poller then marks it
//! seen. (openevent's ingest stores the message and its effects in one transaction keyed by
//! `(org, Message-ID)`, and derives a stable id from the content when a message has none.)
//!
//! A message the sink can never take ([`SinkOutcome::Rejected`]: not a message, too large, no
//! sender…) is marked `\Seen` and flagged with the keyword [`REJECTED_KEYWORD`], and logged, so
//! it is not retried forever and an operator can find it (`UID SEARCH KEYWORD
//! $OpeneventRejected`). A message larger than `max_message_bytes` is rejected the same way
//! without being downloaded.
//!
//! UIDs are only used within one poll, right after its `SELECT`, and never stored, so a change of
//! UIDVALIDITY (a mailbox rebuilt by the server) needs no handling beyond a log line: the next
//! search simply finds whatever is unseen. Messages flagged `\Deleted` by someone else are left
//! alone.
//!
//! The guarantee holds for one poller per mailbox. Two pollers on the same folder would each
//! ingest a message before either marks it seen; the sink's idempotence still stores it once.
//! Anyone marking a message seen by hand (reading the inbox in a mail client) hides it from the
//! poller: give openevent a folder of its own, or a dedicated account.
//!
//! # Use
//!
//! ```no_run
//! use openevent_imap::{ImapConfig, MessageSink, SinkError, SinkOutcome};
//!
//! struct Ingest;
//! impl MessageSink for Ingest {
//!     async fn ingest(&self, raw: Vec<u8>) -> Result<SinkOutcome, SinkError> {
//!         // parse and store in one transaction, idempotent on Message-ID
//!         # let _ = raw;
//!         Ok(SinkOutcome::Committed)
//!     }
//! }
//!
//! # async fn serve(text: &str) -> Result<(), Box<dyn std::error::Error>> {
//! #[derive(serde::Deserialize)]
//! struct Config { imap: ImapConfig }
//! # fn parse(_: &str) -> Config { unimplemented!() }
//! let config: Config = parse(text); // e.g. with the `toml` crate
//! config.imap.validate()?;
//! let password = config.imap.password_from_env()?;
//! let shutdown = std::future::pending::<()>(); // e.g. tokio::signal::ctrl_c()
//! openevent_imap::run(config.imap, password, Ingest, shutdown).await?;
//! # Ok(()) }
//! ```
//!
//! # TLS
//!
//! rustls with the `ring` provider. The server certificate is checked against Mozilla's root
//! certificates compiled into the binary (webpki-roots), so the single openevent binary verifies
//! the same way on any host or container, whether or not it has a CA bundle; `ca_file` replaces
//! them with the authorities of a PEM file for a private or self-signed server. `tls = "none"`
//! is accepted only for a loopback host.

mod config;
mod conn;
mod connect;
mod error;
mod poll;
mod run;
mod sink;

pub use config::{ConfigError, DEFAULT_PASSWORD_ENV, ImapConfig, Password, TlsMode};
pub use conn::REJECTED_KEYWORD;
pub use error::ImapError;
pub use poll::{PollReport, poll_once};
pub use run::run;
pub use sink::{MessageSink, SinkError, SinkOutcome};
