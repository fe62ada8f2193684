//! The API end to end through the router (no network): auth, tenancy, validation, the booking
//! flow.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use jiff::Timestamp;
use openevent_core::ids::OrgSlug;
use openevent_http::{App, RateLimiter, create_token, router};
use openevent_service::{Clock, Engine, EngineConfig, ManualClock};
use openevent_store::{Role, SqlStore};
use serde_json::{Value, json};
use tower::ServiceExt;

const NOW: &str = "2026-11-23T08:00:00Z";

struct Api {
    router: Router,
    manager: String,
    viewer: String,
    other_org: String,
}

async fn api_with_limit(per_minute: u32) -> Api {
    api_with(per_minute, None).await
}

async fn api_with(per_minute: u32, payment_secret: Option<&str>) -> Api {
    api_full(per_minute, payment_secret, false).await
}

async fn api_full(per_minute: u32, payment_secret: Option<&str>, test_clock: bool) -> Api {
    let store = SqlStore::open("sqlite::memory:").await.unwrap();
    let manual = Arc::new(ManualClock::new(NOW.parse::<Timestamp>().unwrap()));
    let clock: Arc<dyn Clock> = manual.clone();
    let now = clock.now();
    let a = OrgSlug::parse("atelier").unwrap();
    let b = OrgSlug::parse("rival").unwrap();
    let manager = create_token(&store, &a, Role::Manager, "test manager", now)
        .await
        .unwrap()
        .token;
    let viewer = create_token(&store, &a, Role::Viewer, "test viewer", now)
        .await
        .unwrap()
        .token;
    let other_org = create_token(&store, &b, Role::Manager, "rival manager", now)
        .await
        .unwrap()
        .token;
    let engine = Engine::new(store, clock, EngineConfig::default());
    let app = Arc::new(App {
        engine,
        limiter: RateLimiter::new(per_minute),
        payment_secret: payment_secret.map(str::to_owned),
        test_clock: test_clock.then_some(manual),
    });
    Api {
        router: router(app),
        manager,
        viewer,
        other_org,
    }
}

async fn api() -> Api {
    api_with_limit(10_000).await
}

struct Reply {
    status: StatusCode,
    content_type: String,
    retry_after: Option<String>,
    json: Value,
}

impl Api {
    async fn send(&self, req: Request<Body>) -> Reply {
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let header_text = |name| {
            res.headers()
                .get(name)
                .map(|v: &header::HeaderValue| v.to_str().unwrap().to_owned())
        };
        let content_type = header_text(header::CONTENT_TYPE).unwrap_or_default();
        let retry_after = header_text(header::RETRY_AFTER);
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Reply {
            status,
            content_type,
            retry_after,
            json,
        }
    }

    async fn get(&self, token: &str, uri: &str) -> Reply {
        self.send(
            Request::get(uri)
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }

    async fn post(&self, token: &str, uri: &str, body: &Value) -> Reply {
        self.send(
            Request::post(uri)
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
    }

    /// An inquiry with a date, a time, a head count and a room: the shortcut to a priced offer.
    async fn inquiry(&self, message_id: &str) -> Value {
        let r = self
            .post(
                &self.manager,
                "/api/v1/messages",
                &json!({
                    "from_email": "laura@helvetia-labs.ch",
                    "from_name": "Laura Meier",
                    "subject": "Workshop booking",
                    "body": "Hello, we would like to book Room A for a workshop with 25 people on 17.03.2027 from 09:00 to 17:00. Best, Laura",
                    "message_id": message_id,
                }),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.json);
        r.json
    }
}

#[tokio::test]
async fn health_and_readiness_need_no_token() {
    let api = api().await;
    let r = api
        .send(Request::get("/healthz").body(Body::empty()).unwrap())
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = api
        .send(Request::get("/readyz").body(Body::empty()).unwrap())
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn metrics_count_messages_and_waiting_work() {
    let api = api().await;
    api.inquiry("<metrics-1@helvetia-labs.ch>").await;
    api.inquiry("<metrics-1@helvetia-labs.ch>").await; // a duplicate is not counted again
    let r = api
        .send(Request::get("/metrics").body(Body::empty()).unwrap())
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.content_type.starts_with("text/plain"),
        "{}",
        r.content_type
    );
    let text = r.json.as_str().unwrap();
    let processed: u64 = text
        .lines()
        .filter(|l| l.starts_with("openevent_messages_processed_total{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(processed, 1, "{text}");
    assert!(text.contains("openevent_tasks_pending 1"), "{text}");
}

#[tokio::test]
async fn a_message_becomes_a_booking_and_a_repeat_is_recognised() {
    let api = api().await;
    let first = api.inquiry("<m1@helvetia-labs.ch>").await;
    let event_id = first["event_id"].as_str().unwrap().to_owned();
    assert_eq!(first["duplicate"], false);
    assert!(!first["drafts"].as_array().unwrap().is_empty(), "{first}");
    let again = api.inquiry("<m1@helvetia-labs.ch>").await;
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["event_id"], first["event_id"]);
    assert_eq!(again["tasks"], first["tasks"]);

    let r = api
        .get(&api.viewer, &format!("/api/v1/events/{event_id}"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json["event_id"], event_id.as_str());
    assert!(!r.json["audit"].as_array().unwrap().is_empty());

    let r = api.get(&api.viewer, "/api/v1/events?status=lead").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let listed: Vec<&str> = r.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    assert!(
        listed.contains(&event_id.as_str()) || first["status"] != "lead",
        "{r:?}",
        r = r.json
    );
    let r = api.get(&api.viewer, "/api/v1/events?q=HELVETIA").await;
    assert_eq!(r.json["items"].as_array().unwrap().len(), 1, "{}", r.json);
    let r = api.get(&api.viewer, "/api/v1/events?q=%25").await;
    assert_eq!(
        r.json["items"].as_array().unwrap().len(),
        0,
        "a % is no wildcard"
    );

    let r = api
        .get(&api.viewer, &format!("/api/v1/events/{event_id}/timeline"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.json["tasks"].as_array().unwrap().is_empty());

    let r = api
        .get(
            &api.viewer,
            "/api/v1/clients/laura@helvetia-labs.ch/context",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert!(r.json["context_hash"].is_string(), "{}", r.json);
}

#[tokio::test]
async fn a_manager_approves_once_and_a_second_approval_conflicts() {
    let api = api().await;
    let first = api.inquiry("<m2@helvetia-labs.ch>").await;
    let task = first["tasks"][0].as_str().unwrap().to_owned();
    let r = api
        .post(
            &api.viewer,
            &format!("/api/v1/tasks/{task}/approve"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.json);
    let r = api
        .post(
            &api.manager,
            &format!("/api/v1/tasks/{task}/approve"),
            &json!({"notes": "looks right"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["status"], "approved");
    let r = api
        .post(
            &api.manager,
            &format!("/api/v1/tasks/{task}/approve"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.json);
    let r = api.get(&api.viewer, "/api/v1/tasks?status=approved").await;
    assert!(
        r.json
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["task_id"] == task.as_str())
    );
}

#[tokio::test]
async fn a_rejection_needs_a_reason() {
    let api = api().await;
    let first = api.inquiry("<m3@helvetia-labs.ch>").await;
    let task = first["tasks"][0].as_str().unwrap();
    let r = api
        .post(
            &api.manager,
            &format!("/api/v1/tasks/{task}/reject"),
            &json!({"reason": "  "}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.json);
    assert_eq!(r.json["field"], "reason");
    let r = api
        .post(
            &api.manager,
            &format!("/api/v1/tasks/{task}/reject"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.json);
    assert_eq!(r.json["field"], "reason");
}

#[tokio::test]
async fn tokens_are_required_and_checked() {
    let api = api().await;
    let r = api
        .send(Request::get("/api/v1/events").body(Body::empty()).unwrap())
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.content_type, "application/problem+json");
    let r = api.get("oet_000000000000_forged", "/api/v1/events").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = api.get("not-a-token", "/api/v1/events").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = api
        .post(
            &api.viewer,
            "/api/v1/messages",
            &json!({"from_email": "a@b.ch", "body": "hi"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

/// Every route, asked by another organization's token about this organization's records,
/// answers exactly what it answers for records that do not exist.
#[tokio::test]
async fn another_organizations_ids_answer_404_on_every_route() {
    let api = api().await;
    let first = api.inquiry("<m4@helvetia-labs.ch>").await;
    let event = first["event_id"].as_str().unwrap();
    let task = first["tasks"][0].as_str().unwrap();
    let gets = [
        format!("/api/v1/events/{event}"),
        format!("/api/v1/events/{event}/timeline"),
        format!("/api/v1/events/{event}/calendar.ics"),
        "/api/v1/clients/laura@helvetia-labs.ch/context".to_owned(),
    ];
    for uri in &gets {
        let r = api.get(&api.other_org, uri).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}: {}", r.json);
        let own = api.get(&api.manager, uri).await;
        assert_eq!(own.status, StatusCode::OK, "{uri}: {}", own.json);
    }
    let posts = [
        (format!("/api/v1/tasks/{task}/approve"), json!({})),
        (
            format!("/api/v1/tasks/{task}/reject"),
            json!({"reason": "no"}),
        ),
    ];
    for (uri, body) in &posts {
        let r = api.post(&api.other_org, uri, body).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}: {}", r.json);
    }
    // Lists are filtered, not refused.
    for uri in [
        "/api/v1/events",
        "/api/v1/tasks",
        &format!("/api/v1/tasks?event_id={event}"),
    ] {
        let r = api.get(&api.other_org, uri).await;
        assert_eq!(r.status, StatusCode::OK, "{uri}");
        let items = r.json.get("items").unwrap_or(&r.json);
        assert_eq!(items.as_array().unwrap().len(), 0, "{uri}: {}", r.json);
    }
    // The same Message-ID in another organization is another message.
    let r = api
        .post(
            &api.other_org,
            "/api/v1/messages",
            &json!({
                "from_email": "laura@helvetia-labs.ch",
                "body": "Hello, we would like to book Room A for a workshop with 25 people on 17.03.2027 from 09:00 to 17:00.",
                "message_id": "<m4@helvetia-labs.ch>",
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json["duplicate"], false);
    assert_ne!(r.json["event_id"], first["event_id"]);
}

#[tokio::test]
async fn bad_input_is_named() {
    let api = api().await;
    let cases = [
        (
            json!({"from_email": "x@y.ch", "body": "hi", "colour": "red"}),
            "colour",
        ),
        (
            json!({"from_email": "not an email", "body": "hi"}),
            "from_email",
        ),
        (json!({"body": "hi"}), "from_email"),
        (json!({"from_email": "x@y.ch", "body": "  "}), "body"),
        (
            json!({"from_email": "x@y.ch", "body": "hi", "received_at": "yesterday"}),
            "received_at",
        ),
        (
            json!({"from_email": "x@y.ch", "body": "hi", "subject": "a\r\nBcc: x@evil"}),
            "subject",
        ),
        (json!({"from_email": "x@y.ch", "body": 7}), "body"),
    ];
    for (body, field) in cases {
        let r = api.post(&api.manager, "/api/v1/messages", &body).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.json
        );
        assert_eq!(r.json["field"], field, "{body}: {}", r.json);
        assert_eq!(r.content_type, "application/problem+json");
    }
    let r = api
        .send(
            Request::post("/api/v1/messages")
                .header(header::AUTHORIZATION, format!("Bearer {}", api.manager))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{not json"))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = api
        .send(
            Request::post("/api/v1/messages")
                .header(header::AUTHORIZATION, format!("Bearer {}", api.manager))
                .header(header::CONTENT_TYPE, "text/plain")
                .body(Body::from("hi"))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let big = json!({"from_email": "x@y.ch", "body": "x".repeat(1_100_000)});
    let r = api.post(&api.manager, "/api/v1/messages", &big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.json);
    let r = api.get(&api.viewer, "/api/v1/events?step=9").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json["field"], "step");
    let r = api.get(&api.viewer, "/api/v1/events?colour=red").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.json);
    let r = api.get(&api.viewer, "/api/v1/nothing").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn raw_messages_are_accepted_as_rfc822() {
    let api = api().await;
    let raw = "From: Laura Meier <laura@helvetia-labs.ch>\r\nTo: events@atelier.ch\r\nSubject: Booking\r\nMessage-ID: <raw1@helvetia-labs.ch>\r\nDate: Mon, 23 Nov 2026 08:00:00 +0000\r\n\r\nHello, we would like to book Room A for a workshop with 25 people on 17.03.2027 from 09:00 to 17:00.\r\n";
    let request = |ct: &str| {
        Request::post("/api/v1/messages/raw")
            .header(header::AUTHORIZATION, format!("Bearer {}", api.manager))
            .header(header::CONTENT_TYPE, ct)
            .body(Body::from(raw))
            .unwrap()
    };
    let r = api.send(request("text/plain")).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let r = api.send(request("message/rfc822")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert!(r.json["event_id"].is_string());
    let r = api
        .send(
            Request::post("/api/v1/messages/raw")
                .header(header::AUTHORIZATION, format!("Bearer {}", api.manager))
                .header(header::CONTENT_TYPE, "message/rfc822")
                .body(Body::from("this is not a message"))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.json);
}

#[tokio::test]
async fn a_token_over_its_rate_gets_429_with_retry_after() {
    let api = api_with_limit(2).await;
    assert_eq!(
        api.get(&api.viewer, "/api/v1/events").await.status,
        StatusCode::OK
    );
    assert_eq!(
        api.get(&api.viewer, "/api/v1/events").await.status,
        StatusCode::OK
    );
    let r = api.get(&api.viewer, "/api/v1/events").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.retry_after.unwrap().parse::<u64>().unwrap() >= 1);
    // Other tokens are not slowed down by it.
    assert_eq!(
        api.get(&api.manager, "/api/v1/events").await.status,
        StatusCode::OK
    );
}

/// The payment webhook is authenticated by its HMAC signature, and only exists when a secret is
/// configured.
#[tokio::test]
async fn the_deposit_webhook_needs_a_valid_fresh_signature() {
    const SECRET: &str = "a-long-test-secret-0123456789";
    let plain = api().await;
    let first = plain.inquiry("<pay-0@helvetia-labs.ch>").await;
    let event = first["event_id"].as_str().unwrap().to_owned();
    let uri = format!("/api/v1/events/{event}/deposit-paid");
    let unconfigured = plain
        .send(
            Request::post(uri.as_str())
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
    assert_eq!(unconfigured.status, StatusCode::NOT_FOUND);

    let api = api_with(10_000, Some(SECRET)).await;
    let first = api.inquiry("<pay-1@helvetia-labs.ch>").await;
    let event = first["event_id"].as_str().unwrap().to_owned();
    let uri = format!("/api/v1/events/{event}/deposit-paid");
    let now = NOW.parse::<Timestamp>().unwrap().as_second();
    let signed = |org: &str, ts: i64, secret: &str| {
        let body = json!({"org": org, "reference": "PAY-123"}).to_string();
        let signature = openevent_channels::webhook::sign(secret.as_bytes(), ts, body.as_bytes());
        Request::post(uri.as_str())
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-openevent-timestamp", ts.to_string())
            .header("x-openevent-signature", signature)
            .body(Body::from(body))
            .unwrap()
    };
    let unsigned = api
        .send(
            Request::post(uri.as_str())
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    json!({"org": "atelier", "reference": "PAY-1"}).to_string(),
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(unsigned.status, StatusCode::UNAUTHORIZED);
    let forged = api
        .send(signed("atelier", now, "not-the-secret-at-all"))
        .await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    let stale = api.send(signed("atelier", now - 3600, SECRET)).await;
    assert_eq!(stale.status, StatusCode::UNAUTHORIZED);
    // Signed and fresh: it reaches the booking, which has no deposit due yet.
    let ok = api.send(signed("atelier", now, SECRET)).await;
    assert_eq!(ok.status, StatusCode::CONFLICT, "{}", ok.json);
    // Another organization's booking id does not exist there.
    let other = api.send(signed("rival", now, SECRET)).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND, "{}", other.json);
}

#[tokio::test]
async fn a_dated_booking_exports_as_icalendar() {
    let api = api().await;
    let first = api.inquiry("<ics-1@helvetia-labs.ch>").await;
    let event = first["event_id"].as_str().unwrap();
    let r = api
        .get(&api.viewer, &format!("/api/v1/events/{event}/calendar.ics"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert!(
        r.content_type.starts_with("text/calendar"),
        "{}",
        r.content_type
    );
    let text = r.json.as_str().unwrap();
    assert!(text.contains("DTSTART:20270317T080000Z"), "{text}");
    assert!(text.contains(&format!("UID:{event}@openevent")), "{text}");
}

#[tokio::test]
async fn the_test_clock_route_exists_only_in_test_mode() {
    let api = api().await;
    let body = json!({"advance_seconds": 3600});
    let r = api.post(&api.manager, "/api/v1/test/clock", &body).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let api = api_full(10_000, None, true).await;
    let r = api.post(&api.viewer, "/api/v1/test/clock", &body).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = api.post(&api.manager, "/api/v1/test/clock", &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["now"], "2026-11-23T09:00:00Z");
    let r = api
        .post(
            &api.manager,
            "/api/v1/test/clock",
            &json!({"advance_seconds": -1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json["field"], "advance_seconds");
}

/// The OpenAPI document lists real routes: each of its operations answers something other than
/// the router's "no such route" (with a token, placeholder ids, and test mode on).
#[tokio::test]
async fn every_documented_operation_is_routed() {
    let api = api_full(10_000, Some("a-long-test-secret-0123456789"), true).await;
    let r = api
        .send(
            Request::get("/api/v1/openapi.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let doc: Value = serde_json::from_str(openevent_http::OPENAPI).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(r.json, doc);
    let mut checked = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        let uri = path
            .replace("{id}", "EVT-0000000000000000")
            .replace("{email}", "nobody@example.com");
        for method in ops.as_object().unwrap().keys() {
            let req = Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(uri.as_str())
                .header(header::AUTHORIZATION, format!("Bearer {}", api.manager))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{}"))
                .unwrap();
            let r = api.send(req).await;
            assert!(
                r.json.get("detail") != Some(&Value::from("no such route"))
                    && r.status != StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path} is documented but not routed"
            );
            checked += 1;
        }
    }
    assert!(checked >= 16, "{checked}");
}

/// Managers clicking "approve" on the same draft at the same moment (two browser tabs, two
/// people): exactly one decision wins and one reply is queued; every other request gets 409.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_approvals_of_one_task_let_exactly_one_win() {
    let api = api().await;
    let first = api.inquiry("<race@helvetia-labs.ch>").await;
    let task = first["tasks"][0].as_str().unwrap().to_owned();
    let uri = format!("/api/v1/tasks/{task}/approve");
    let body = json!({});
    let attempts = (0..8).map(|_| api.post(&api.manager, &uri, &body));
    let replies = futures_join_all(attempts).await;
    let won = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    let refused = replies
        .iter()
        .filter(|r| r.status == StatusCode::CONFLICT)
        .count();
    assert_eq!(
        (won, refused),
        (1, 7),
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    let outbox = api.get(&api.manager, "/api/v1/outbox").await;
    assert_eq!(outbox.status, StatusCode::OK, "{}", outbox.json);
    let queued = outbox.json["jobs"].as_array().map_or(0, Vec::len);
    assert_eq!(queued, 1, "one approval queues one reply: {}", outbox.json);
}

/// Polls every future together (they interleave at each await, so the requests overlap at the
/// database).
async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut futures: Vec<_> = futures.map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in futures.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter()
        .map(|o| o.expect("every future finished"))
        .collect()
}
