//! The shared harness of the API tests: an in-memory store, three tokens (a manager and a
//! viewer of one organization, a manager of another) and the router.

#![allow(dead_code)]

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

pub struct Api {
    pub router: Router,
    pub manager: String,
    pub viewer: String,
    pub rival: String,
}

pub async fn api() -> Api {
    let store = SqlStore::open("sqlite::memory:").await.unwrap();
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(
        "2027-01-04T09:00:00Z".parse::<Timestamp>().unwrap(),
    ));
    let now = clock.now();
    let a = OrgSlug::parse("atelier").unwrap();
    let b = OrgSlug::parse("rival").unwrap();
    let token = |org: OrgSlug, role| {
        let store = store.clone();
        async move {
            create_token(&store, &org, role, "t", now)
                .await
                .unwrap()
                .token
        }
    };
    let manager = token(a.clone(), Role::Manager).await;
    let viewer = token(a, Role::Viewer).await;
    let rival = token(b, Role::Manager).await;
    let app = Arc::new(App {
        engine: Engine::new(store, clock, EngineConfig::default()),
        limiter: RateLimiter::new(10_000),
        payment_secret: None,
        test_clock: None,
    });
    Api {
        router: router(app),
        manager,
        viewer,
        rival,
    }
}

impl Api {
    pub async fn call(
        &self,
        method: &str,
        token: &str,
        uri: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
        let body = match body {
            Some(b) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        let res = self
            .router
            .clone()
            .oneshot(req.body(body).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, json)
    }

    pub async fn offer_sent(&self) -> String {
        let (s, r) = self
            .call(
                "POST",
                &self.manager,
                "/api/v1/messages",
                Some(&json!({
                    "from_email": "max@huber.example",
                    "from_name": "Max Huber",
                    "subject": "Wedding reception",
                    "body": "Hello, please book Room C on 14.08.2027 from 16:00 to 23:00 for 60 guests. Max Huber",
                })),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        let event = r["event_id"].as_str().unwrap().to_owned();
        let task = r["tasks"][0].as_str().unwrap().to_owned();
        let (s, r) = self
            .call(
                "POST",
                &self.manager,
                &format!("/api/v1/tasks/{task}/approve"),
                Some(&json!({})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        event
    }
}
