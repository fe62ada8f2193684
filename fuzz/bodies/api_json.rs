//! Fuzz body `api_json`: request bodies through the real router (tower `oneshot`, no network)
//! of an app on an in-memory SQLite store: `POST /api/v1/messages` (JSON), `POST
//! /api/v1/messages/raw` (RFC 822) and a pending task's `approve` / `reject` (JSON), with the
//! organization's manager token or another organization's.
//!
//! Shared by the libFuzzer target (`fuzz/fuzz_targets/api_json.rs`, nightly) and the stable
//! smoke test in `crates/openevent-http/tests/hostile.rs`. It runs its own Tokio runtime, so it
//! must be called from a plain thread (a `#[test]`, not a `#[tokio::test]`).
//!
//! Input layout: byte 0 picks the route (low two bits) and, with bit 7, the other
//! organization's token; the rest is the request body.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use openevent_core::ids::OrgSlug;
use openevent_http::{App, RateLimiter, create_token, router};
use openevent_service::{Clock, Engine, EngineConfig, ManualClock};
use openevent_store::{Role, SqlStore};
use serde_json::{Value, json};
use tower::ServiceExt;

/// The app is rebuilt after this many requests, so the database stays small.
const REBUILD_EVERY: u32 = 2_000;

struct Harness {
    rt: tokio::runtime::Runtime,
    router: Router,
    manager: String,
    other_org: String,
    /// A pending task of the organization, replaced once decided.
    task: Option<String>,
    used: u32,
    inquiries: u32,
}

static HARNESS: Mutex<Option<Harness>> = Mutex::new(None);

impl Harness {
    fn new() -> Harness {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a Tokio runtime");
        let (router, manager, other_org) = rt.block_on(async {
            let store = SqlStore::open("sqlite::memory:")
                .await
                .expect("in-memory store");
            let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(
                "2026-11-23T08:00:00Z".parse().expect("an instant"),
            ));
            let now = clock.now();
            let a = OrgSlug::parse("atelier").expect("slug");
            let b = OrgSlug::parse("rival").expect("slug");
            let manager = create_token(&store, &a, Role::Manager, "fuzz", now)
                .await
                .expect("token")
                .token;
            let other_org = create_token(&store, &b, Role::Manager, "fuzz rival", now)
                .await
                .expect("token")
                .token;
            let app = Arc::new(App {
                engine: Engine::new(store, clock, EngineConfig::default()),
                limiter: RateLimiter::new(u32::MAX),
                payment_secret: None,
                test_clock: None,
            });
            (router(app), manager, other_org)
        });
        Harness {
            rt,
            router,
            manager,
            other_org,
            task: None,
            used: 0,
            inquiries: 0,
        }
    }

    fn send(&self, req: Request<Body>) -> (StatusCode, String, Vec<u8>) {
        self.rt.block_on(async {
            let res = self
                .router
                .clone()
                .oneshot(req)
                .await
                .expect("the router is infallible");
            let status = res.status();
            let ct = res
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let body = res
                .into_body()
                .collect()
                .await
                .expect("a full body")
                .to_bytes();
            (status, ct, body.to_vec())
        })
    }

    fn post(&self, token: &str, uri: &str, content_type: &str, body: Vec<u8>) -> Request<Body> {
        Request::post(uri)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .expect("a request")
    }

    /// A pending task to decide on: the first task of a fresh inquiry.
    fn pending_task(&mut self) -> String {
        if let Some(t) = &self.task {
            return t.clone();
        }
        self.inquiries += 1;
        let body = json!({
            "from_email": "laura@helvetia-labs.ch",
            "from_name": "Laura Meier",
            "subject": "Workshop",
            "body": "Hello, we would like to book Room A for a workshop with 25 people on 17.03.2027 from 09:00 to 17:00.",
            "message_id": format!("<fuzz-{}@helvetia-labs.ch>", self.inquiries),
        });
        let req = self.post(
            &self.manager,
            "/api/v1/messages",
            "application/json",
            body.to_string().into_bytes(),
        );
        let (status, _, bytes) = self.send(req);
        assert_eq!(
            status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&bytes)
        );
        let v: Value = serde_json::from_slice(&bytes).expect("JSON");
        let task = v["tasks"][0].as_str().expect("a task").to_owned();
        self.task = Some(task.clone());
        task
    }
}

pub fn check(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let mut guard = HARNESS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if guard.as_ref().is_none_or(|h| h.used >= REBUILD_EVERY) {
        *guard = Some(Harness::new());
    }
    let h = guard.as_mut().expect("built above");
    h.used += 1;
    let foreign = selector & 0x80 != 0;
    let route = selector & 3;
    let (uri, content_type) = match route {
        0 => ("/api/v1/messages".to_owned(), "application/json"),
        1 => ("/api/v1/messages/raw".to_owned(), "message/rfc822"),
        2 => (
            format!("/api/v1/tasks/{}/approve", h.pending_task()),
            "application/json",
        ),
        _ => (
            format!("/api/v1/tasks/{}/reject", h.pending_task()),
            "application/json",
        ),
    };
    let token = if foreign { &h.other_org } else { &h.manager };
    let req = h.post(token, &uri, content_type, body.to_vec());
    let (status, ct, bytes) = h.send(req);
    let text = String::from_utf8_lossy(&bytes);
    let allowed = [
        StatusCode::OK,
        StatusCode::BAD_REQUEST,
        StatusCode::NOT_FOUND,
        StatusCode::CONFLICT,
        StatusCode::PAYLOAD_TOO_LARGE,
        StatusCode::UNPROCESSABLE_ENTITY,
    ];
    assert!(
        allowed.contains(&status),
        "{uri} answered {status}: {text}\nbody: {:?}",
        String::from_utf8_lossy(body)
    );
    let v: Value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{uri} answered {status} with no JSON ({e}): {text}"));
    if status == StatusCode::OK {
        assert_eq!(ct, "application/json", "{uri}");
    } else {
        assert_eq!(ct, "application/problem+json", "{uri}: {text}");
        assert_eq!(v["status"], status.as_u16(), "{text}");
        if status == StatusCode::UNPROCESSABLE_ENTITY {
            // The field may be "" when the offending key is literally `""`.
            assert!(v["field"].is_string(), "a 422 names its field: {text}");
        }
    }
    if route >= 2 {
        if foreign {
            // Another organization's task does not exist for this token: never decided, never
            // "already decided".
            assert!(
                status != StatusCode::OK && status != StatusCode::CONFLICT,
                "{uri} with the other organization's token answered {status}: {text}"
            );
        } else if status == StatusCode::OK || status == StatusCode::CONFLICT {
            h.task = None;
        }
    }
    if status == StatusCode::OK && route < 2 {
        for d in v["drafts"].as_array().into_iter().flatten() {
            let subject = d["subject"].as_str().unwrap_or_default();
            assert!(!subject.contains(['\r', '\n']), "draft subject {subject:?}");
        }
    }
}
