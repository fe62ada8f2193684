//! openevent's HTTP API. Every route under `/api/v1` needs a bearer token and sees only its
//! token's organization: another organization's ids answer 404, exactly like ids that do not
//! exist. Errors are `application/problem+json` documents.

pub mod auth;
mod automation;
mod body;
mod metrics;
mod payments;
mod problem;
mod routes;

use std::ops::Deref;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use openevent_service::{Clock, Engine};
use openevent_store::Store;

pub use auth::{NewToken, Principal, RateLimiter, TokenError, create_token, token_hash};
pub use problem::Problem;

/// The API's OpenAPI 3.1 document, served at `/api/v1/openapi.json`; a test checks that every
/// path it lists is routed.
pub const OPENAPI: &str = include_str!("../api/openapi.json");

/// Largest JSON request body.
pub const MAX_JSON_BYTES: usize = 1024 * 1024;

/// What the handlers share.
pub struct App<S> {
    pub engine: Engine<S, Arc<dyn Clock>>,
    pub limiter: RateLimiter,
    /// The payment provider's HMAC secret; without it the deposit webhook does not exist.
    pub payment_secret: Option<String>,
    /// Acceptance-test mode (`serve --test-clock`): the clock that `POST /api/v1/test/clock`
    /// moves. Without it that route does not exist.
    pub test_clock: Option<Arc<openevent_service::ManualClock>>,
}

/// The router's state: the app behind an `Arc`.
pub struct AppState<S>(pub Arc<App<S>>);

impl<S> Clone for AppState<S> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<S> Deref for AppState<S> {
    type Target = App<S>;
    fn deref(&self) -> &App<S> {
        &self.0
    }
}

/// Serves `routes` (the API's [`router`], possibly merged with more) on `listener` until
/// `shutdown` completes, then lets in-flight requests finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    routes: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // With the peer address, so that per-address limits (the web app's sign-in limit) work.
    axum::serve(
        listener,
        routes.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// The whole HTTP surface.
pub fn router<S: Store + Clone>(app: Arc<App<S>>) -> Router {
    let mut api = Router::new();
    if app.test_clock.is_some() {
        api = api.route("/test/clock", post(routes::advance_test_clock::<S>));
    }
    let api = api
        .route("/messages", post(routes::post_message::<S>))
        .route(
            "/messages/raw",
            post(routes::post_raw_message::<S>)
                .layer(DefaultBodyLimit::max(openevent_mail::MAX_MESSAGE_BYTES)),
        )
        .route("/events", get(routes::list_events::<S>))
        .route("/events/{id}", get(routes::get_event::<S>))
        .route("/events/{id}/timeline", get(routes::event_timeline::<S>))
        .route(
            "/events/{id}/calendar.ics",
            get(routes::event_calendar::<S>),
        )
        .route(
            "/events/{id}/deposit-paid",
            post(payments::deposit_paid::<S>),
        )
        .route("/tasks", get(routes::list_tasks::<S>))
        .route("/tasks/{id}/approve", post(routes::approve_task::<S>))
        .route("/tasks/{id}/reject", post(routes::reject_task::<S>))
        .route("/clients/{email}/context", get(routes::client_context::<S>))
        .route(
            "/venue",
            get(routes::get_venue::<S>).put(routes::put_venue::<S>),
        )
        .route("/workflows", get(automation::list_workflows::<S>))
        .route(
            "/workflows/{key}",
            get(automation::get_workflow::<S>).put(automation::put_workflow::<S>),
        )
        .route(
            "/workflows/library/install",
            post(automation::install_library::<S>),
        )
        .route(
            "/automation/settings",
            get(automation::get_settings::<S>).put(automation::put_settings::<S>),
        )
        .route("/automation/rules", get(automation::list_rules::<S>))
        .route(
            "/automation/rules/{id}",
            put(automation::put_rule::<S>).delete(automation::delete_rule::<S>),
        )
        .route(
            "/events/{id}/workflow",
            get(automation::get_event_workflow::<S>)
                .put(automation::put_event_workflow::<S>)
                .delete(automation::delete_event_workflow::<S>),
        )
        .route(
            "/events/{id}/automation/preview",
            get(automation::preview::<S>).post(automation::preview_edit::<S>),
        )
        .route("/outbox", get(automation::list_outbox::<S>))
        .route("/outbox/{id}/requeue", post(automation::requeue_job::<S>))
        .route("/outbox/{id}/abandon", post(automation::abandon_job::<S>))
        .fallback(routes::not_found);
    Router::new()
        .route("/healthz", get(routes::healthz))
        .route("/readyz", get(routes::readyz::<S>))
        .route("/metrics", get(metrics::metrics::<S>))
        .route(
            "/api/v1/openapi.json",
            get(|| async {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    OPENAPI,
                )
            }),
        )
        .nest("/api/v1", api)
        .fallback(routes::not_found)
        .layer(DefaultBodyLimit::max(MAX_JSON_BYTES))
        .layer(axum::middleware::map_response(no_sniff))
        .with_state(AppState(app))
}

/// Client text comes back as JSON string data; `nosniff` keeps a browser from ever reading an
/// answer as HTML or script.
async fn no_sniff(mut res: axum::response::Response) -> axum::response::Response {
    res.headers_mut().insert(
        axum::http::header::X_CONTENT_TYPE_OPTIONS,
        axum::http::HeaderValue::from_static("nosniff"),
    );
    res
}
