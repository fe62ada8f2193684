//! One pass over the folder: search the unseen messages, hand each to the sink, flag it.

use tokio::sync::watch;

use crate::config::{ImapConfig, Password};
use crate::conn::{Conn, REJECTED_KEYWORD, stopped};
use crate::connect::Connector;
use crate::error::ImapError;
use crate::sink::{MessageSink, SinkOutcome};

/// What one poll did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollReport {
    /// Unseen messages found by the search.
    pub unseen: usize,
    /// Messages downloaded and handed to the sink.
    pub fetched: usize,
    /// The sink stored them; now `\Seen`.
    pub committed: usize,
    /// The sink had them already; now `\Seen`.
    pub duplicates: usize,
    /// Refused by the sink or larger than `max_message_bytes`; now `\Seen` and flagged
    /// [`REJECTED_KEYWORD`](crate::REJECTED_KEYWORD).
    pub rejected: usize,
    /// The sink failed transiently, or the server refused to hand the message out; still unseen,
    /// offered again next poll.
    pub failed: usize,
    /// Left for the next poll: beyond `batch_size`, or not reached before a shutdown.
    pub deferred: usize,
    /// The folder's UIDVALIDITY, as SELECT reported it (for the logs: nothing depends on it).
    pub uid_validity: Option<u32>,
}

impl PollReport {
    /// True when nothing was found.
    pub fn is_empty(&self) -> bool {
        self.unseen == 0
    }
}

/// Connects, hands every unseen message of the folder (up to `batch_size`) to `sink`, marks each
/// `\Seen` once the sink has answered, and logs out.
///
/// Messages are fetched with `BODY.PEEK[]`, which does not set `\Seen`; the flag is stored only
/// after the sink returned [`SinkOutcome::Committed`] or [`SinkOutcome::Duplicate`] (and, with
/// the [`REJECTED_KEYWORD`] keyword, after [`SinkOutcome::Rejected`]). A transient sink error
/// leaves the message unseen. An error returned here may come after some messages were already
/// handled; those are flagged on the server, the others are untouched.
pub async fn poll_once<S: MessageSink + ?Sized>(
    config: &ImapConfig,
    password: &Password,
    sink: &S,
) -> Result<PollReport, ImapError> {
    config.validate()?;
    let connector = Connector::new(config)?;
    let mut conn = connector.connect(password).await?;
    // Never stops early: the sender lives until the poll is over.
    let (_never, stop) = watch::channel(false);
    let report = poll(&mut conn, config, sink, &stop).await?;
    log_report(config, &report);
    conn.logout().await;
    Ok(report)
}

/// The poll proper, on a connection `run` may keep for IDLE afterwards.
///
/// UIDs are used only within this call, on this connection, right after SELECT: the poller keeps
/// no UID between polls. The state is the `\Seen` flag on the server, so a UIDVALIDITY change (a
/// rebuilt mailbox) needs no special handling: the next search finds whatever is unseen.
pub(crate) async fn poll<S: MessageSink + ?Sized>(
    conn: &mut Conn,
    config: &ImapConfig,
    sink: &S,
    stop: &watch::Receiver<bool>,
) -> Result<PollReport, ImapError> {
    // Until a message is in hand, a shutdown interrupts whatever command is waiting.
    let mut stop = stop.clone();
    let Some(selected) = interruptible(&mut stop, conn.select(&config.folder)).await? else {
        conn.abandon();
        return Ok(PollReport::default());
    };
    let Some(mut uids) = interruptible(&mut stop, conn.unseen()).await? else {
        conn.abandon();
        return Ok(PollReport::default());
    };
    let mut report = PollReport {
        uid_validity: selected.uid_validity,
        unseen: uids.len(),
        deferred: uids.len().saturating_sub(config.batch_size),
        ..PollReport::default()
    };
    uids.truncate(config.batch_size);
    let Some(sizes) = interruptible(&mut stop, conn.sizes(&uids)).await? else {
        conn.abandon();
        report.deferred += uids.len();
        return Ok(report);
    };
    for (i, &uid) in uids.iter().enumerate() {
        if *stop.borrow() {
            report.deferred += uids.len() - i;
            break;
        }
        let Some(&size) = sizes.get(&uid) else {
            tracing::debug!(uid, "message expunged before it was fetched");
            continue;
        };
        if size > config.max_message_bytes {
            tracing::warn!(
                folder = config.folder,
                uid,
                size,
                max = config.max_message_bytes,
                keyword = REJECTED_KEYWORD,
                "message larger than max_message_bytes: not downloaded, marked rejected"
            );
            conn.mark_rejected(uid).await?;
            report.rejected += 1;
            continue;
        }
        let raw = match interruptible(&mut stop, conn.body(uid)).await {
            Ok(Some(Some(raw))) => raw,
            Ok(None) => {
                conn.abandon();
                report.deferred += uids.len() - i;
                break;
            }
            Ok(Some(None)) => {
                tracing::debug!(uid, "message expunged before it was fetched");
                continue;
            }
            // The server refuses this one message: skip it (still unseen) rather than let it
            // block every message behind it.
            Err(error @ ImapError::Refused { .. }) => {
                tracing::warn!(
                    folder = config.folder,
                    uid,
                    %error,
                    "cannot fetch the message: left unseen for the next poll"
                );
                report.failed += 1;
                continue;
            }
            Err(error) => return Err(error),
        };
        report.fetched += 1;
        // The message in hand: from here it is finished even if a shutdown is requested.
        match sink.ingest(raw).await {
            Ok(SinkOutcome::Committed) => {
                conn.mark_seen(uid).await?;
                report.committed += 1;
            }
            Ok(SinkOutcome::Duplicate) => {
                conn.mark_seen(uid).await?;
                report.duplicates += 1;
                tracing::debug!(uid, "already ingested (duplicate Message-ID): marked seen");
            }
            Ok(SinkOutcome::Rejected { reason }) => {
                tracing::warn!(
                    folder = config.folder,
                    uid,
                    reason,
                    keyword = REJECTED_KEYWORD,
                    "message rejected by ingestion: marked seen and flagged"
                );
                conn.mark_rejected(uid).await?;
                report.rejected += 1;
            }
            Err(error) => {
                tracing::warn!(
                    folder = config.folder,
                    uid,
                    %error,
                    "ingestion failed: message left unseen for the next poll"
                );
                report.failed += 1;
            }
        }
    }
    Ok(report)
}

/// Runs one IMAP step unless shutdown comes first: `None` then, and the caller abandons the
/// connection, which was left in the middle of a command.
async fn interruptible<T>(
    stop: &mut watch::Receiver<bool>,
    step: impl Future<Output = Result<T, ImapError>>,
) -> Result<Option<T>, ImapError> {
    tokio::select! {
        biased;
        result = step => result.map(Some),
        () = stopped(stop) => Ok(None),
    }
}

pub(crate) fn log_report(config: &ImapConfig, r: &PollReport) {
    if r.is_empty() {
        tracing::debug!(folder = config.folder, "imap poll: no unseen message");
    } else {
        tracing::info!(
            folder = config.folder,
            unseen = r.unseen,
            fetched = r.fetched,
            committed = r.committed,
            duplicates = r.duplicates,
            rejected = r.rejected,
            failed = r.failed,
            deferred = r.deferred,
            "imap poll"
        );
    }
}
