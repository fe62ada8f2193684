//! openevent's web app for venue managers: the inbox of tasks waiting for a decision and the
//! bookings with their timelines, rendered on the server (askama, auto-escaped).
//!
//! Sign-in takes an API token (`openevent token create`); the app keeps a server-side session in
//! memory (so sessions end when the process ends) behind an `oe_session` cookie (HttpOnly,
//! SameSite=Strict, `Secure` with [`WebConfig::secure_cookies`]). Every form carries the
//! session's CSRF token. `viewer` tokens read; `manager` tokens also decide tasks and change the
//! automation and the venue. Every page is scoped to the token's organization: another
//! organization's ids answer 404, and pages show the organization's venue (its own once saved,
//! else the server's venue file).
//!
//! Pages: the inbox (`/app`), the bookings with filters (`/app/events`) and each booking with its
//! progress, timeline, deliveries and tasks (`/app/events/{id}`), the rooms-by-days calendar of a
//! month (`/app/calendar?month=YYYY-MM`) and the venue's settings (`/app/venue`), which managers
//! edit there as TOML: each save is validated and stored as the organization's next venue
//! revision.
//!
//! Automation: the workflows with their delivery statistics and the library (`/app/workflows`),
//! one workflow's definition to edit, enable, disable or export (`/app/workflows/{key}`), on each
//! booking page the workflow it runs and why, the override form and the messages to come, and
//! the dead letters to requeue or abandon (`/app/outbox/dead`).
//!
//! Failed sign-ins are limited per client address and per token id
//! ([`WebConfig::login_failures_per_minute`], 429 with `Retry-After` beyond it). The client
//! address comes from the connection when the router is served with connect info
//! (`into_make_service_with_connect_info::<SocketAddr>()`), or from
//! [`WebConfig::client_ip_header`] behind a trusted proxy.
//!
//! Merge [`router`] with the API router: it serves `/login`, `/logout`, `/app`, `/app/…` and
//! `/assets/…` and sets no fallback of its own.

mod calendar;
mod login_limit;
mod month;
mod pages;
pub mod session;
mod views;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
pub use axum::http::HeaderName;
use axum::routing::{get, post};
use openevent_http::App;
use openevent_store::Store;

pub use session::{SESSION_COOKIE, Sessions};

use crate::login_limit::LoginLimiter;

/// How the web app behaves.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Adds `Secure` to the cookies: turn on whenever the app is reached over HTTPS.
    pub secure_cookies: bool,
    /// A session ends after this long without a request.
    pub session_idle: Duration,
    /// Failed sign-ins allowed per client address and per token id in a minute (refilling
    /// continuously); beyond, sign-ins wait (429 with `Retry-After`). Successful ones never count.
    pub login_failures_per_minute: u32,
    /// The header a trusted reverse proxy sets to the client's address (`X-Real-IP`, or
    /// `X-Forwarded-For`, whose last address is read). Only set it when every request comes
    /// through that proxy: a client reaching the app directly could forge it. Without it, the
    /// address is the connection's.
    pub client_ip_header: Option<HeaderName>,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            secure_cookies: false,
            session_idle: Duration::from_secs(12 * 60 * 60),
            login_failures_per_minute: 10,
            client_ip_header: None,
        }
    }
}

/// What the web handlers share.
pub(crate) struct WebState<S> {
    pub app: Arc<App<S>>,
    pub sessions: Arc<Sessions>,
    pub login_limiter: Arc<LoginLimiter>,
    pub config: WebConfig,
    /// Held while a venue is checked against its base revision and saved (one save at a time).
    pub venue_saves: Arc<tokio::sync::Mutex<()>>,
}

impl<S> Clone for WebState<S> {
    fn clone(&self) -> Self {
        Self {
            app: Arc::clone(&self.app),
            sessions: Arc::clone(&self.sessions),
            login_limiter: Arc::clone(&self.login_limiter),
            config: self.config.clone(),
            venue_saves: Arc::clone(&self.venue_saves),
        }
    }
}

/// The web app with the default configuration (no `Secure` cookies, 12 h idle sessions, 10
/// failed sign-ins a minute).
pub fn router<S: Store + Clone>(app: Arc<App<S>>) -> Router {
    router_with_config(app, WebConfig::default())
}

/// The web app with `config`.
pub fn router_with_config<S: Store + Clone>(app: Arc<App<S>>, config: WebConfig) -> Router {
    let sessions = Arc::new(Sessions::new(config.session_idle));
    router_with_sessions(app, config, sessions)
}

/// The web app sharing a session table the caller keeps (to inspect or reuse it).
pub fn router_with_sessions<S: Store + Clone>(
    app: Arc<App<S>>,
    config: WebConfig,
    sessions: Arc<Sessions>,
) -> Router {
    let state = WebState {
        app,
        sessions,
        login_limiter: Arc::new(LoginLimiter::new(config.login_failures_per_minute)),
        config,
        venue_saves: Arc::new(tokio::sync::Mutex::new(())),
    };
    Router::new()
        .route(
            "/login",
            get(pages::login_form::<S>).post(pages::login::<S>),
        )
        .route("/logout", post(pages::logout::<S>))
        .route("/app", get(pages::inbox::<S>))
        .route("/app/", get(pages::inbox::<S>))
        .route("/app/tasks/{id}/approve", post(pages::approve::<S>))
        .route("/app/tasks/{id}/reject", post(pages::reject::<S>))
        .route("/app/events", get(pages::events::<S>))
        .route("/app/events/{id}", get(pages::event::<S>))
        .route("/app/calendar", get(pages::calendar::<S>))
        .route(
            "/app/venue",
            get(pages::venue::<S>).post(pages::save_venue::<S>),
        )
        .route(
            "/app/workflows",
            get(pages::workflows::<S>).post(pages::import_workflow::<S>),
        )
        .route(
            "/app/workflows/{key}",
            get(pages::workflow::<S>).post(pages::save_workflow::<S>),
        )
        .route(
            "/app/workflows/{key}/enabled",
            post(pages::set_enabled::<S>),
        )
        .route(
            "/app/workflows/{key}/export",
            get(pages::export_workflow::<S>),
        )
        .route("/app/library/install", post(pages::install_library::<S>))
        .route("/app/events/{id}/workflow", post(pages::set_override::<S>))
        .route("/app/outbox/dead", get(pages::dead_letters::<S>))
        .route("/app/outbox/{id}/requeue", post(pages::requeue::<S>))
        .route("/app/outbox/{id}/abandon", post(pages::abandon::<S>))
        .route("/app/{*rest}", get(pages::not_found))
        .route("/assets/app.css", get(pages::stylesheet))
        .with_state(state)
}
