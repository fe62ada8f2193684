//! A web app over an in-memory store with one organization's manager and viewer tokens and a
//! second organization's manager token.

#![allow(dead_code)]

pub mod web;

use std::sync::Arc;

use jiff::Timestamp;
use openevent_core::ids::OrgSlug;
use openevent_http::{App, RateLimiter, create_token};
use openevent_service::{Clock, Engine, EngineConfig, IngestReport, ManualClock};
use openevent_store::{Role, SqlStore};

pub const NOW: &str = "2026-11-23T08:00:00Z";

pub const INQUIRY: &str = "Hello, we would like to book Room A for a workshop with 25 people on \
                           17.03.2027 from 09:00 to 17:00.";

pub struct Fixture {
    pub app: Arc<App<SqlStore>>,
    /// The engine's clock: tests move it.
    pub clock: Arc<ManualClock>,
    pub org: OrgSlug,
    pub other_org: OrgSlug,
    pub manager: String,
    pub viewer: String,
    pub other_manager: String,
}

pub async fn fixture() -> Fixture {
    let store = SqlStore::open("sqlite::memory:").await.unwrap();
    let manual = Arc::new(ManualClock::new(NOW.parse::<Timestamp>().unwrap()));
    let clock: Arc<dyn Clock> = manual.clone();
    let now = clock.now();
    let org = OrgSlug::parse("atelier").unwrap();
    let other_org = OrgSlug::parse("rival").unwrap();
    let token = |o: OrgSlug, role, name: &'static str| {
        let store = store.clone();
        async move {
            create_token(&store, &o, role, name, now)
                .await
                .unwrap()
                .token
        }
    };
    let manager = token(org.clone(), Role::Manager, "manager").await;
    let viewer = token(org.clone(), Role::Viewer, "viewer").await;
    let other_manager = token(other_org.clone(), Role::Manager, "rival").await;
    let engine = Engine::new(store, clock, EngineConfig::default());
    let app = Arc::new(App {
        engine,
        limiter: RateLimiter::new(10_000),
        payment_secret: None,
        test_clock: None,
    });
    Fixture {
        app,
        clock: manual,
        org,
        other_org,
        manager,
        viewer,
        other_manager,
    }
}

/// A raw client email.
pub fn raw_email(from: &str, subject: &str, message_id: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: events@atelier.example\r\nSubject: {subject}\r\n\
         Message-ID: {message_id}\r\nDate: Mon, 23 Nov 2026 08:00:00 +0000\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// A raw client email answering the message `in_reply_to` (so it joins that booking's thread).
pub fn raw_reply(
    from: &str,
    subject: &str,
    message_id: &str,
    in_reply_to: &str,
    body: &str,
) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: events@atelier.example\r\nSubject: {subject}\r\n\
         Message-ID: {message_id}\r\nIn-Reply-To: {in_reply_to}\r\nReferences: {in_reply_to}\r\n\
         Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

impl Fixture {
    /// Ingests the standard inquiry into `org`; answers the turn result.
    pub async fn inquiry(&self, org: &OrgSlug, message_id: &str) -> IngestReport {
        let raw = raw_email(
            "Laura Meier <laura@helvetia-labs.ch>",
            "Workshop booking",
            message_id,
            INQUIRY,
        );
        self.app.engine.ingest_raw(org, &raw).await.unwrap()
    }
}
