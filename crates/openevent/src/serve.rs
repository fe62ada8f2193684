//! `openevent serve`: the HTTP API and the background workers in one process, stopped gracefully
//! by SIGTERM or Ctrl-C (in-flight requests and the message in hand finish; nothing new starts).

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use jiff::SignedDuration;
use openevent_automation::retry::RetryPolicy;
use openevent_channels::{
    DynChannel, ProcessEnv, SmsChannel, SmsConfig, SmtpChannel, SmtpConfig, WebhookChannel,
    WebhookConfig, WhatsAppChannel, WhatsAppConfig,
};
use openevent_core::ids::OrgSlug;
use openevent_http::{App, RateLimiter};
use openevent_imap::{ImapConfig, MessageSink, SinkError, SinkOutcome};
use openevent_llm::{LlmClient, LlmConfig};
use openevent_service::{Channels, IngestError};
use openevent_store::{SqlStore, Store};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::bad;
use crate::config::{self, EnvVars, Layers, Row, Schema, Source, fields_of};

/// Requests per minute per API token when `rate_limit_per_minute` is not set.
pub const DEFAULT_RATE_LIMIT_PER_MINUTE: u32 = 600;

/// The server's configuration file. Every key can also be set with an environment variable,
/// `OPENEVENT_<SECTION>_<KEY>` (`OPENEVENT_SMTP_HOST`) or `OPENEVENT_<KEY>` at the top level,
/// which overrides the file (see [`crate::config`]).
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
    /// WhatsApp Cloud API, for automation steps on the `whatsapp` channel.
    #[serde(default)]
    pub whatsapp: Option<WhatsAppConfig>,
    /// A Twilio-compatible SMS provider, for automation steps on the `sms` channel.
    #[serde(default)]
    pub sms: Option<SmsConfig>,
    /// Signed webhook calls (e.g. to a CRM), for automation steps on the `webhook` channel.
    #[serde(default)]
    pub webhook: Option<WebhookConfig>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentsSection {
    /// The environment variable holding the HMAC secret shared with the payment provider.
    pub webhook_secret_env: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebSection {
    /// Mark the session cookie `Secure` (set it when the app is served over HTTPS, e.g. behind
    /// a TLS-terminating proxy).
    #[serde(default)]
    pub secure_cookies: bool,
    /// Failed sign-ins allowed per client address and per token in a minute (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_failures_per_minute: Option<u32>,
    /// The header a trusted reverse proxy sets to the client's address (`X-Real-IP`,
    /// `X-Forwarded-For`); only behind such a proxy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip_header: Option<String>,
}

/// The configuration with the record of where each value came from.
pub struct Loaded {
    pub config: ServeConfig,
    pub layers: Layers,
}

impl ServeConfig {
    /// The keys of the file: the top-level ones and each section's.
    pub fn schema() -> Schema {
        Schema::new::<ServeConfig>(vec![
            ("imap", fields_of::<ImapConfig>()),
            ("smtp", fields_of::<SmtpConfig>()),
            ("retry", fields_of::<RetryPolicy>()),
            ("llm", fields_of::<LlmConfig>()),
            ("web", fields_of::<WebSection>()),
            ("payments", fields_of::<PaymentsSection>()),
            ("whatsapp", fields_of::<WhatsAppConfig>()),
            ("sms", fields_of::<SmsConfig>()),
            ("webhook", fields_of::<WebhookConfig>()),
        ])
    }

    /// Reads the file (when given), puts the `OPENEVENT_*` variables in `env` on top, types and
    /// validates the result. Every error names the key and where its value came from.
    pub fn load(path: Option<&Path>, env: &EnvVars) -> Result<Loaded> {
        let text = path
            .map(|p| {
                std::fs::read_to_string(p)
                    .map_err(|e| bad(format!("cannot read {}: {e}", p.display())))
            })
            .transpose()?;
        let file = path.zip(text.as_deref());
        let layers = Layers::build(file, env, &Self::schema()).map_err(bad)?;
        let config: ServeConfig = match file {
            // The file alone: toml's own errors, with line and column.
            Some((path, text)) if !layers.uses_env() => {
                toml::from_str(text).map_err(|e| bad(format!("{}: {e}", path.display())))?
            }
            _ => layers.deserialize().map_err(bad)?,
        };
        let mut problems = Vec::new();
        if config.rate_limit_per_minute == Some(0) {
            problems.push(layers.problem("rate_limit_per_minute", "must be at least 1"));
        }
        if let Some(imap) = &config.imap
            && let Err(e) = imap.validate()
        {
            problems.push(layers.problem(&format!("imap.{}", e.field), &e.message));
        }
        if let Some(smtp) = &config.smtp
            && let Err(e) = smtp.validate()
        {
            problems.extend(
                e.problems
                    .iter()
                    .map(|p| layers.problem(&p.field, &p.reason)),
            );
        }
        if let Some(llm) = &config.llm
            && let Err(e) = llm.validate()
        {
            problems.push(layers.problem(&format!("llm.{}", e.field), &e.problem));
        }
        problems.extend(
            config
                .retry
                .problems()
                .iter()
                .map(|p| layers.problem(&p.path, &p.message)),
        );
        if !problems.is_empty() {
            return Err(bad(problems.join("; ")));
        }
        Ok(Loaded { config, layers })
    }

    /// The email channel, when `[smtp]` is configured (its password read from the environment).
    pub fn email_channel(&self) -> Result<Option<SmtpChannel>> {
        self.smtp
            .as_ref()
            .map(|smtp| SmtpChannel::new(smtp, &ProcessEnv).map_err(|e| bad(format!("smtp: {e}"))))
            .transpose()
    }

    /// Every configured delivery channel (their secrets read from the environment); a job on a
    /// channel that is not configured waits in the outbox for one that is.
    pub fn delivery_channels(&self) -> Result<DeliveryChannels> {
        Ok(DeliveryChannels {
            email: self.email_channel()?,
            whatsapp: self
                .whatsapp
                .as_ref()
                .map(|c| {
                    WhatsAppChannel::new(c, &ProcessEnv).map_err(|e| bad(format!("whatsapp: {e}")))
                })
                .transpose()?,
            sms: self
                .sms
                .as_ref()
                .map(|c| SmsChannel::new(c, &ProcessEnv).map_err(|e| bad(format!("sms: {e}"))))
                .transpose()?,
            webhook: self
                .webhook
                .as_ref()
                .map(|c| {
                    WebhookChannel::new(c, &ProcessEnv).map_err(|e| bad(format!("webhook: {e}")))
                })
                .transpose()?,
        })
    }

    /// Each section's effective values, defaults filled in.
    fn effective_sections(&self) -> Vec<Effective> {
        fn table<T: Serialize>(value: &T) -> Option<toml::Table> {
            toml::Table::try_from(value).ok()
        }
        let all = |name, values| Effective {
            name,
            values,
            covered: None,
        };
        vec![
            Effective {
                name: "imap",
                values: self.imap.as_ref().map(imap_table),
                covered: Some(IMAP_KEYS),
            },
            all("smtp", self.smtp.as_ref().and_then(table)),
            all("whatsapp", self.whatsapp.as_ref().and_then(table)),
            all("sms", self.sms.as_ref().and_then(table)),
            all("webhook", self.webhook.as_ref().and_then(table)),
            all("retry", table(&self.retry)),
            all("llm", self.llm.as_ref().and_then(table)),
            all("web", table(&self.web)),
            all("payments", self.payments.as_ref().and_then(table)),
        ]
    }

    /// The names of the variables holding secrets (`*_env` keys), as configured.
    fn secret_vars(&self) -> Vec<String> {
        self.effective_sections()
            .into_iter()
            .filter_map(|e| e.values)
            .flat_map(|t| {
                t.into_iter()
                    .filter(|(k, _)| k.ends_with("_env"))
                    .filter_map(|(_, v)| v.as_str().map(str::to_owned))
            })
            .collect()
    }
}

/// One section of the effective configuration.
struct Effective {
    name: &'static str,
    /// `None`: the section is not configured.
    values: Option<toml::Table>,
    /// The keys `values` lists when set (`None`: all of them). `[imap]`'s type cannot be
    /// serialised, so its values are copied by hand: a key added later shows as a default.
    covered: Option<&'static [&'static str]>,
}

/// The `[imap]` keys [`imap_table`] copies.
const IMAP_KEYS: &[&str] = &[
    "host",
    "port",
    "tls",
    "ca_file",
    "user",
    "password_env",
    "folder",
    "poll_interval_secs",
    "idle",
    "batch_size",
    "max_message_bytes",
    "timeout_secs",
    "reconnect_max_secs",
];

fn imap_table(imap: &ImapConfig) -> toml::Table {
    let mut t = toml::Table::new();
    let mut put = |k: &str, v: toml::Value| {
        t.insert(k.to_owned(), v);
    };
    let int = |n: u64| toml::Value::Integer(i64::try_from(n).unwrap_or(i64::MAX));
    put("host", imap.host.clone().into());
    if let Some(port) = imap.port {
        put("port", int(port.into()));
    }
    put("tls", imap.tls.to_string().into());
    if let Some(ca) = &imap.ca_file {
        put("ca_file", ca.display().to_string().into());
    }
    put("user", imap.user.clone().into());
    put("password_env", imap.password_env.clone().into());
    put("folder", imap.folder.clone().into());
    put("poll_interval_secs", int(imap.poll_interval_secs));
    put("idle", imap.idle.into());
    put(
        "batch_size",
        int(u64::try_from(imap.batch_size).unwrap_or(u64::MAX)),
    );
    put("max_message_bytes", int(imap.max_message_bytes));
    put("timeout_secs", int(imap.timeout_secs));
    put("reconnect_max_secs", int(imap.reconnect_max_secs));
    t
}

impl Loaded {
    /// Every configuration key's value and source, for `--print-config`.
    pub fn rows(&self, is_set: &dyn Fn(&str) -> bool) -> Vec<Row> {
        let schema = ServeConfig::schema();
        let mut rows = Vec::new();
        for key in &schema.top {
            let value = match *key {
                "rate_limit_per_minute" => toml::Value::Integer(
                    self.config
                        .rate_limit_per_minute
                        .unwrap_or(DEFAULT_RATE_LIMIT_PER_MINUTE)
                        .into(),
                )
                .to_string(),
                _ => "(default)".to_owned(),
            };
            rows.push(Row {
                setting: (*key).to_owned(),
                value,
                source: self.layers.source(None, key),
                variable: config::var_name(None, key),
            });
        }
        let effective = self.config.effective_sections();
        for (section, keys) in &schema.sections {
            let Some(Effective {
                values, covered, ..
            }) = effective.iter().find(|e| e.name == *section)
            else {
                continue;
            };
            let Some(table) = values else {
                rows.push(Row {
                    setting: format!("[{section}]"),
                    value: "(not configured)".to_owned(),
                    source: Source::Default,
                    variable: format!("{}*", config::var_name(Some(section), "")),
                });
                continue;
            };
            for key in *keys {
                let value = match table.get(*key) {
                    Some(v) => config::show_value(key, v, is_set),
                    None if covered.is_none_or(|c| c.contains(key)) => "(unset)".to_owned(),
                    None => "(default)".to_owned(),
                };
                rows.push(Row {
                    setting: format!("{section}.{key}"),
                    value,
                    source: self.layers.source(Some(section), key),
                    variable: config::var_name(Some(section), key),
                });
            }
        }
        rows
    }

    /// Every `OPENEVENT_*` name something reads: `clap`'s, the configuration keys', the log
    /// filter and the secrets' variables.
    pub fn known_vars(&self, clap_names: BTreeSet<String>) -> BTreeSet<String> {
        let mut known = clap_names;
        known.extend(ServeConfig::schema().var_names());
        known.insert(config::LOG_ENV.to_owned());
        known.extend(self.config.secret_vars());
        known
    }
}

/// The delivery channels `serve` and `outbox run-due` send through.
#[derive(Default)]
pub struct DeliveryChannels {
    pub email: Option<SmtpChannel>,
    pub whatsapp: Option<WhatsAppChannel>,
    pub sms: Option<SmsChannel>,
    pub webhook: Option<WebhookChannel>,
}

impl DeliveryChannels {
    pub fn as_channels(&self) -> Channels<'_> {
        Channels {
            email: self.email.as_ref().map(|c| c as &dyn DynChannel),
            whatsapp: self.whatsapp.as_ref().map(|c| c as &dyn DynChannel),
            sms: self.sms.as_ref().map(|c| c as &dyn DynChannel),
            webhook: self.webhook.as_ref().map(|c| c as &dyn DynChannel),
        }
    }
}

/// Sends what is due, then sleeps until the next job is due (at most a second, so that newly
/// approved mail leaves promptly), until `stop`.
async fn dispatch_loop(
    app: Arc<App<SqlStore>>,
    delivery: DeliveryChannels,
    policy: RetryPolicy,
    mut stop: watch::Receiver<bool>,
) {
    const BATCH: u32 = 100;
    let channels = delivery.as_channels();
    let signal = app.engine.store().outbox_signal();
    while !*stop.borrow() {
        let pause = match app.engine.run_due(&channels, &policy, BATCH).await {
            Ok(report)
                if report.executed
                    + report.failed
                    + report.dead
                    + report.skipped
                    + report.not_sent
                    + report.deferred
                    >= BATCH =>
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
        // New work (this process's commits, or on PostgreSQL any process's outbox insert) ends
        // the pause early.
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = signal.notified() => {}
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

/// What one process runs: the HTTP API and web app, the background work, or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roles {
    /// Listen here for the API and the web app.
    pub http: Option<String>,
    /// Run the outbox dispatcher and the IMAP poller (when configured).
    pub workers: bool,
}

pub async fn run(
    app: Arc<App<SqlStore>>,
    org: OrgSlug,
    roles: Roles,
    mut config: ServeConfig,
) -> Result<()> {
    let listener = match &roles.http {
        Some(bind) => {
            let listener = tokio::net::TcpListener::bind(bind)
                .await
                .map_err(|e| bad(format!("cannot listen on {bind}: {e}")))?;
            Some(listener)
        }
        None => None,
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };

    let imap = match config.imap.take() {
        Some(imap) if roles.workers => {
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
        _ => None,
    };

    let dispatcher = if roles.workers {
        let delivery = config.delivery_channels()?;
        if delivery.email.is_none() {
            tracing::warn!(
                "no [smtp] configured: approved replies and email reminders wait in the outbox"
            );
        }
        // Always running in a worker: staff tasks need no channel, and due automation jobs are
        // checked (and skipped or deferred) even when a channel is missing.
        Some(tokio::spawn(dispatch_loop(
            Arc::clone(&app),
            delivery,
            config.retry,
            stop_rx.clone(),
        )))
    } else {
        tracing::info!("--no-workers: the outbox is dispatched by `openevent worker` processes");
        None
    };

    let server = match listener {
        Some(listener) => {
            let addr = listener.local_addr().context("reading the bound address")?;
            // The address line is for operators and for tests that bind port 0.
            println!("openevent listening on http://{addr}");
            let routes = openevent_http::router(Arc::clone(&app)).merge(
                openevent_web::router_with_config(Arc::clone(&app), web_config(&config.web)?),
            );
            Some(tokio::spawn(openevent_http::serve(
                listener,
                routes,
                stopped(stop_rx.clone()),
            )))
        }
        None => {
            println!("openevent worker running");
            None
        }
    };

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
    let served = match server {
        Some(server) => server.await.context("the HTTP server task failed")?,
        None => Ok(()),
    };
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

/// The web app's settings from `[web]`.
fn web_config(web: &WebSection) -> Result<openevent_web::WebConfig> {
    let defaults = openevent_web::WebConfig::default();
    let client_ip_header = web
        .client_ip_header
        .as_deref()
        .map(|h| {
            openevent_web::HeaderName::from_bytes(h.trim().as_bytes())
                .map_err(|_| bad(format!("web.client_ip_header: '{h}' is not a header name")))
        })
        .transpose()?;
    if web.login_failures_per_minute == Some(0) {
        return Err(bad("web.login_failures_per_minute: must be at least 1"));
    }
    Ok(openevent_web::WebConfig {
        secure_cookies: web.secure_cookies,
        login_failures_per_minute: web
            .login_failures_per_minute
            .unwrap_or(defaults.login_failures_per_minute),
        client_ip_header,
        ..defaults
    })
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
        limiter: RateLimiter::new(
            config
                .rate_limit_per_minute
                .unwrap_or(DEFAULT_RATE_LIMIT_PER_MINUTE),
        ),
        payment_secret,
        test_clock,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn print_config_copies_every_imap_key() {
        // Fails when `[imap]` gains a key: add it to `imap_table` and `IMAP_KEYS`.
        assert_eq!(fields_of::<ImapConfig>(), IMAP_KEYS);
    }

    #[test]
    fn config_variables_do_not_collide_with_options_or_secret_defaults() {
        let schema = ServeConfig::schema();
        assert_eq!(schema.top, vec!["rate_limit_per_minute"]);
        let vars: Vec<String> = schema.var_names().collect();
        let mut unique = vars.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), vars.len(), "two keys share a variable");
        let clap_names =
            config::clap_env_names(&<crate::cli::Cli as clap::CommandFactory>::command());
        for reserved in clap_names.iter().map(String::as_str).chain([
            config::LOG_ENV,
            openevent_imap::DEFAULT_PASSWORD_ENV,
            "OPENEVENT_SMTP_PASSWORD",
            "OPENEVENT_LLM_API_KEY",
            "OPENEVENT_PAYMENT_SECRET",
        ]) {
            assert!(
                !vars.iter().any(|v| v == reserved),
                "{reserved} is both a configuration key and something else"
            );
        }
    }

    #[test]
    fn the_whole_file_can_come_from_the_environment() {
        let env = EnvVars::from_pairs(&[
            ("OPENEVENT_RATE_LIMIT_PER_MINUTE", "42"),
            ("OPENEVENT_SMTP_HOST", "127.0.0.1"),
            ("OPENEVENT_SMTP_PORT", "2525"),
            ("OPENEVENT_SMTP_SECURITY", "none"),
            ("OPENEVENT_SMTP_FROM_ADDRESS", "events@atelier.example"),
            ("OPENEVENT_IMAP_HOST", "127.0.0.1"),
            ("OPENEVENT_IMAP_TLS", "none"),
            ("OPENEVENT_IMAP_USER", "events"),
            ("OPENEVENT_IMAP_IDLE", "false"),
            ("OPENEVENT_RETRY_MAX_ATTEMPTS", "3"),
            ("OPENEVENT_LLM_BASE_URL", "http://127.0.0.1:11434/v1"),
            ("OPENEVENT_LLM_MODEL", "qwen2.5:7b-instruct"),
            ("OPENEVENT_LLM_TEMPERATURE", "0.5"),
            ("OPENEVENT_LLM_RESPONSE_FORMAT", "json_object"),
            ("OPENEVENT_WEB_SECURE_COOKIES", "true"),
            ("OPENEVENT_PAYMENTS_WEBHOOK_SECRET_ENV", "PAY_SECRET"),
        ]);
        let loaded = ServeConfig::load(None, &env).unwrap();
        let c = &loaded.config;
        assert_eq!(c.rate_limit_per_minute, Some(42));
        assert_eq!(c.smtp.as_ref().unwrap().port, Some(2525));
        assert!(!c.imap.as_ref().unwrap().idle);
        assert_eq!(c.retry.max_attempts, 3);
        assert_eq!(c.llm.as_ref().unwrap().temperature, 0.5);
        assert!(c.web.secure_cookies);
        assert_eq!(
            c.payments.as_ref().unwrap().webhook_secret_env,
            "PAY_SECRET"
        );
        let rows = loaded.rows(&|_| false);
        let row = rows.iter().find(|r| r.setting == "smtp.port").unwrap();
        assert_eq!(row.value, "2525");
        assert_eq!(row.source, Source::Env("OPENEVENT_SMTP_PORT".to_owned()));
    }

    #[test]
    fn semantic_problems_name_the_variable() {
        let env = EnvVars::from_pairs(&[
            ("OPENEVENT_RATE_LIMIT_PER_MINUTE", "0"),
            ("OPENEVENT_RETRY_JITTER_PERCENT", "101"),
        ]);
        let Err(e) = ServeConfig::load(None, &env) else {
            panic!("accepted")
        };
        let e = e.to_string();
        assert!(
            e.contains("environment variable OPENEVENT_RATE_LIMIT_PER_MINUTE: rate_limit_per_minute: must be at least 1"),
            "{e}"
        );
        assert!(
            e.contains("environment variable OPENEVENT_RETRY_JITTER_PERCENT: retry.jitter_percent"),
            "{e}"
        );
    }
}
