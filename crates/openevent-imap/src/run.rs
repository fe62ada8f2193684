//! The long-running poller of `openevent serve`.
//!
//! ```text
//! connect ──ok──► poll ──ok, batch full──────────────► poll
//!    │             │ └─ok──► wait ──changed/interval──► poll        (IDLE: same connection)
//!    │             │          └──── interval ─────────► connect     (no IDLE: log out, reconnect)
//!    │             └─err──► back off ──► connect
//!    └─err──► permanent and never polled yet? ──yes──► return the error
//!                 └─no──► back off ──► connect
//! shutdown: interrupts any wait, and any command while no message is in hand; the message in
//! hand is finished (sink, then its flag).
//! ```

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;

use crate::config::{ImapConfig, Password};
use crate::conn::{Idled, stopped};
use crate::connect::Connector;
use crate::error::ImapError;
use crate::poll::{log_report, poll};
use crate::sink::MessageSink;

/// Polls `config.folder` until `shutdown` resolves.
///
/// After each poll it waits for the next one: in IMAP IDLE on the same connection when
/// `config.idle` is set and the server offers it (a new message wakes it at once, and it polls
/// anyway after `poll_interval_secs`), or else logged out for `poll_interval_secs`. A full batch is
/// followed by another poll at once.
///
/// Any failure drops the connection and reconnects after a pause that doubles from half a second
/// up to `reconnect_max_secs`, resetting after a successful poll. Every failure is logged.
///
/// Returns `Ok(())` after a shutdown, or an error when the configuration is invalid or the very
/// first connection fails for a reason retrying cannot fix ([`ImapError::is_permanent`]: refused
/// login, missing folder, untrusted certificate), so a misconfigured `openevent serve` stops at
/// start-up instead of retrying quietly. Once a poll has succeeded, every failure is retried.
///
/// On shutdown the message in hand is finished (handed to the sink and flagged), the rest is left
/// unseen for the next start; waits, reconnection pauses and commands issued while no message is
/// in hand (a server that stopped answering) are interrupted at once.
pub async fn run<S: MessageSink>(
    config: ImapConfig,
    password: Password,
    sink: S,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ImapError> {
    config.validate()?;
    let connector = Connector::new(&config)?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let work = poll_loop(&config, &password, &sink, &connector, stop_rx);
    tokio::pin!(work, shutdown);
    tokio::select! {
        result = &mut work => return result,
        () = &mut shutdown => {
            tracing::info!(folder = config.folder, "imap poller: shutdown requested");
            let _ = stop_tx.send(true);
        }
    }
    let result = work.await;
    tracing::info!(folder = config.folder, "imap poller stopped");
    result
}

async fn poll_loop<S: MessageSink>(
    config: &ImapConfig,
    password: &Password,
    sink: &S,
    connector: &Connector,
    mut stop: watch::Receiver<bool>,
) -> Result<(), ImapError> {
    let mut backoff = Backoff::new(Duration::from_secs(config.reconnect_max_secs));
    let mut polled_once = false;
    let mut uid_validity = None;
    loop {
        // Connect (interruptible: nothing is in hand).
        let connected = tokio::select! {
            c = connector.connect(password) => c,
            () = stopped(&mut stop) => return Ok(()),
        };
        let mut conn = match connected {
            Ok(conn) => conn,
            Err(error) if error.is_permanent() && !polled_once => return Err(error),
            Err(error) => {
                if pause(&mut backoff, &error, &mut stop).await {
                    return Ok(());
                }
                continue;
            }
        };
        let use_idle = config.idle && conn.supports_idle();
        tracing::debug!(
            host = config.host,
            folder = config.folder,
            idle = use_idle,
            "imap connected"
        );
        // Poll and wait on this connection until it fails (or, without IDLE, until the next poll).
        let failure = loop {
            let report = match poll(&mut conn, config, sink, &stop).await {
                Ok(report) => report,
                Err(error) => break Some(error),
            };
            polled_once = true;
            backoff.reset();
            log_report(config, &report);
            if report.uid_validity != uid_validity {
                if let (Some(old), Some(new)) = (uid_validity, report.uid_validity) {
                    tracing::info!(
                        folder = config.folder,
                        old,
                        new,
                        "UIDVALIDITY changed: nothing to reset, the \\Seen flags are the state"
                    );
                }
                uid_validity = report.uid_validity;
            }
            if *stop.borrow() {
                conn.logout().await;
                return Ok(());
            }
            // A full batch, or a message announced after the search: poll again now.
            if report.deferred > 0 || conn.take_arrived() {
                continue;
            }
            if !use_idle {
                conn.logout().await;
                tokio::select! {
                    () = tokio::time::sleep(config.poll_interval()) => {}
                    () = stopped(&mut stop) => return Ok(()),
                }
                break None;
            }
            match conn.idle(config.poll_interval(), &mut stop).await {
                Ok(Idled::Stopped) => return Ok(()),
                Ok(Idled::Woken(back, woken)) => {
                    tracing::debug!(?woken, "imap idle ended");
                    conn = back;
                }
                Err(error) => break Some(error),
            }
        };
        let Some(failure) = failure else {
            continue;
        };
        if failure.is_permanent() && !polled_once {
            return Err(failure);
        }
        if pause(&mut backoff, &failure, &mut stop).await {
            return Ok(());
        }
    }
}

/// Logs the failure and waits out the backoff; true if shutdown came meanwhile.
async fn pause(backoff: &mut Backoff, error: &ImapError, stop: &mut watch::Receiver<bool>) -> bool {
    let delay = backoff.next_delay();
    tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "imap poller: reconnecting");
    tokio::select! {
        () = tokio::time::sleep(delay) => false,
        () = stopped(stop) => true,
    }
}

/// Exponential backoff: 0.5 s, 1 s, 2 s, … up to `max`.
#[derive(Debug)]
struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    const INITIAL: Duration = Duration::from_millis(500);

    fn new(max: Duration) -> Self {
        Backoff {
            next: Self::INITIAL.min(max),
            max,
        }
    }

    fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        delay
    }

    fn reset(&mut self) {
        self.next = Self::INITIAL.min(self.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(3));
        let delays: Vec<u128> = (0..5).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(delays, [500, 1000, 2000, 3000, 3000]);
        b.reset();
        assert_eq!(b.next_delay().as_millis(), 500);
    }
}
