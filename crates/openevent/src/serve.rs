//! `openevent serve`: the HTTP API and the background workers in one process, stopped gracefully
//! by SIGTERM or Ctrl-C (in-flight requests and the message in hand finish; nothing new starts).

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use jiff::SignedDuration;
use openevent_automation::retry::RetryPolicy;
use openevent_channels::{ProcessEnv, SmtpChannel, SmtpConfig};
use openevent_core::ids::OrgSlug;
use openevent_http::{App, RateLimiter};
use openevent_imap::{ImapConfig, MessageSink, SinkError, SinkOutcome};
use openevent_llm::{LlmClient, LlmConfig};
use openevent_service::{Channels, IngestError};
use openevent_store::{SqlStore, Store};
use serde::Deserialize;
use tokio::sync::watch;

use crate::bad;

/// The server's configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    /// Requests per minute per API token (default 600).
    #[serde(default)]
    pub rate_limit_per_minute: Option<u32>,
    /// Poll this mailbox and ingest what arrives into the organization given with --org.
    #[serde(default)]
    pub imap: Option<ImapConfig>,
    /// Send approved replies through this SMTP server. Without it, mail waits in the outbox.
    #[serde(default)]
    pub smtp: Option<SmtpConfig>,
    /// How failed sends are retried (default: 6 attempts, 1, 2, 4, 8, 16 minutes apart).
    #[serde(default)]
    pub retry: RetryPolicy,
    /// An OpenAI-compatible model that may refine the rules' understanding (off when absent).
    #[serde(default)]
    pub llm: Option<LlmConfig>,
    /// The manager's web app.
    #[serde(default)]
    pub web: WebSection,
    /// The payment provider's webhook (`POST /api/v1/events/{id}/deposit-paid`).
    #[serde(default)]
    pub payments: Option<PaymentsSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentsSection {
    /// The environment variable holding the HMAC secret shared with the payment provider.
    pub webhook_secret_env: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebSection {
    /// Mark the session cookie `Secure` (set it when the app is served over HTTPS, e.g. behind
    /// a TLS-terminating proxy).
    #[serde(default)]
    pub secure_cookies: bool,
}

impl ServeConfig {
    pub fn load(path: Option<&Path>) -> Result<Self> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?;
        let config: ServeConfig =
            toml::from_str(&text).map_err(|e| bad(format!("{}: {e}", path.display())))?;
        if config.rate_limit_per_minute == Some(0) {
            return Err(bad(format!(
                "{}: rate_limit_per_minute must be at least 1",
                path.display()
            )));
        }
        if let Some(imap) = &config.imap {
            imap.validate()
                .map_err(|e| bad(format!("{}: {e}", path.display())))?;
        }
        if let Some(llm) = &config.llm {
            llm.validate()
                .map_err(|e| bad(format!("{}: {e}", path.display())))?;
        }
        let problems = config.retry.problems();
        if !problems.is_empty() {
            let list: Vec<String> = problems
                .iter()
                .map(|p| format!("retry.{}: {}", p.path, p.message))
                .collect();
            return Err(bad(format!("{}: {}", path.display(), list.join("; "))));
        }
        Ok(config)
    }

    /// The email channel, when `[smtp]` is configured (its password read from the environment).
    pub fn email_channel(&self) -> Result<Option<SmtpChannel>> {
        self.smtp
            .as_ref()
            .map(|smtp| SmtpChannel::new(smtp, &ProcessEnv).map_err(|e| bad(format!("smtp: {e}"))))
            .transpose()
    }
}

/// Sends what is due, then sleeps until the next job is due (at most a second, so that newly
/// approved mail leaves promptly), until `stop`.
async fn dispatch_loop(
    app: Arc<App<SqlStore>>,
    email: SmtpChannel,
    policy: RetryPolicy,
    mut stop: watch::Receiver<bool>,
) {
    const BATCH: u32 = 100;
    let channels = Channels {
        email: Some(&email),
    };
    while !*stop.borrow() {
        let pause = match app.engine.run_due(&channels, &policy, BATCH).await {
            Ok(report)
                if report.executed + report.failed + report.dead + report.skipped >= BATCH =>
            {
                continue;
            }
            Ok(_) => match app.engine.store().next_due().await {
                Ok(Some(at)) => {
                    let wait = at.duration_since(app.engine.clock().now());
                    wait.clamp(SignedDuration::ZERO, SignedDuration::from_secs(1))
                }
                Ok(None) => SignedDuration::from_secs(1),
                Err(e) => {
                    tracing::error!(error = %e, "reading the outbox failed");
                    SignedDuration::from_secs(5)
                }
            },
            Err(e) => {
                tracing::error!(error = %e, "dispatching failed");
                SignedDuration::from_secs(5)
            }
        };
        let pause = std::time::Duration::try_from(pause).unwrap_or_default();
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            _ = stop.changed() => {}
        }
    }
}

/// The IMAP poller's way into the same ingest path as the API and the CLI.
struct EngineSink {
    app: Arc<App<SqlStore>>,
    org: OrgSlug,
}

impl MessageSink for EngineSink {
    async fn ingest(&self, raw: Vec<u8>) -> Result<SinkOutcome, SinkError> {
        match self.app.engine.ingest_raw(&self.org, &raw).await {
            Ok(report) if report.duplicate => Ok(SinkOutcome::Duplicate),
            Ok(_) => Ok(SinkOutcome::Committed),
            Err(IngestError::Mail(e)) => Ok(SinkOutcome::Rejected {
                reason: e.to_string(),
            }),
            Err(e) => Err(SinkError::transient(e)),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

pub async fn run(
    app: Arc<App<SqlStore>>,
    org: OrgSlug,
    bind: &str,
    mut config: ServeConfig,
) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| bad(format!("cannot listen on {bind}: {e}")))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };

    let imap = match config.imap.take() {
        Some(imap) => {
            let password = imap
                .password_from_env()
                .map_err(|e| bad(format!("imap: {e}")))?;
            let sink = EngineSink {
                app: Arc::clone(&app),
                org: org.clone(),
            };
            let shutdown = stopped(stop_rx.clone());
            tracing::info!(host = %imap.host, folder = %imap.folder, "IMAP poller starting");
            Some(tokio::spawn(openevent_imap::run(
                imap, password, sink, shutdown,
            )))
        }
        None => None,
    };

    let dispatcher = match config.email_channel()? {
        Some(email) => Some(tokio::spawn(dispatch_loop(
            Arc::clone(&app),
            email,
            config.retry,
            stop_rx.clone(),
        ))),
        None => {
            tracing::warn!("no [smtp] configured: approved replies wait in the outbox");
            None
        }
    };

    // The address line is for operators and for tests that bind port 0.
    println!("openevent listening on http://{addr}");
    let routes = openevent_http::router(Arc::clone(&app)).merge(openevent_web::router_with_config(
        Arc::clone(&app),
        openevent_web::WebConfig {
            secure_cookies: config.web.secure_cookies,
            ..openevent_web::WebConfig::default()
        },
    ));
    let server = tokio::spawn(openevent_http::serve(
        listener,
        routes,
        stopped(stop_rx.clone()),
    ));

    let mut imap = imap;
    // A poller that gives up (wrong password, missing folder) stops the server, loudly.
    let poller_ended = tokio::select! {
        () = shutdown_signal() => {
            tracing::info!("shutting down");
            None
        }
        ended = async {
            match imap.as_mut() {
                Some(handle) => handle.await,
                None => std::future::pending().await,
            }
        } => Some(ended),
    };
    let _ = stop_tx.send(true);
    let served = server.await.context("the HTTP server task failed")?;
    if let Some(dispatcher) = dispatcher {
        dispatcher.await.context("the dispatcher task failed")?;
    }
    let polled = match (poller_ended, imap) {
        (Some(ended), _) => ended.context("the IMAP poller task failed")?,
        (None, Some(handle)) => handle.await.context("the IMAP poller task failed")?,
        (None, None) => Ok(()),
    };
    app.engine.store().close().await;
    served.context("the HTTP server failed")?;
    polled.context("the IMAP poller stopped")?;
    Ok(())
}

/// The state the server and its workers share.
pub fn app(
    engine: openevent_service::Engine<SqlStore, Arc<dyn openevent_service::Clock>>,
    config: &ServeConfig,
    test_clock: Option<Arc<openevent_service::ManualClock>>,
) -> Result<Arc<App<SqlStore>>> {
    let engine = match &config.llm {
        Some(llm) => {
            engine.with_llm(LlmClient::from_env(llm.clone()).map_err(|e| bad(format!("llm: {e}")))?)
        }
        None => engine,
    };
    let payment_secret = match &config.payments {
        Some(p) => Some(
            std::env::var(&p.webhook_secret_env)
                .ok()
                .filter(|s| s.len() >= 16)
                .ok_or_else(|| {
                    bad(format!(
                        "payments.webhook_secret_env: environment variable {} must hold a secret of at least 16 characters",
                        p.webhook_secret_env
                    ))
                })?,
        ),
        None => None,
    };
    Ok(Arc::new(App {
        engine,
        limiter: RateLimiter::new(config.rate_limit_per_minute.unwrap_or(600)),
        payment_secret,
        test_clock,
    }))
}
