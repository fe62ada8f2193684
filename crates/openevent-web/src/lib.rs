//! openevent's web app for venue managers: the inbox of tasks waiting for a decision and the
//! bookings with their timelines, rendered on the server (askama, auto-escaped).
//!
//! Sign-in takes an API token (`openevent token create`); the app keeps a server-side session in
//! memory (so sessions end when the process ends) behind an `oe_session` cookie (HttpOnly,
//! SameSite=Strict, `Secure` with [`WebConfig::secure_cookies`]). Every form carries the
//! session's CSRF token. `viewer` tokens read; `manager` tokens also approve and reject. Every
//! page is scoped to the token's organization: another organization's ids answer 404.
//!
//! Merge [`router`] with the API router: it serves `/login`, `/logout`, `/app`, `/app/…` and
//! `/assets/…` and sets no fallback of its own.

mod pages;
pub mod session;
mod views;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use openevent_http::App;
use openevent_store::Store;

pub use session::{SESSION_COOKIE, Sessions};

/// How the web app behaves.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Adds `Secure` to the cookies: turn on whenever the app is reached over HTTPS.
    pub secure_cookies: bool,
    /// A session ends after this long without a request.
    pub session_idle: Duration,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            secure_cookies: false,
            session_idle: Duration::from_secs(12 * 60 * 60),
        }
    }
}

/// What the web handlers share.
pub(crate) struct WebState<S> {
    pub app: Arc<App<S>>,
    pub sessions: Arc<Sessions>,
    pub config: WebConfig,
}

impl<S> Clone for WebState<S> {
    fn clone(&self) -> Self {
        Self {
            app: Arc::clone(&self.app),
            sessions: Arc::clone(&self.sessions),
            config: self.config.clone(),
        }
    }
}

/// The web app with the default configuration (no `Secure` cookies, 12 h idle sessions).
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
        config,
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
        .route("/app/{*rest}", get(pages::not_found))
        .route("/assets/app.css", get(pages::stylesheet))
        .with_state(state)
}
