//! Hostile input through the HTTP API. `tests/hostile/*.json` is the corpus, one case per file,
//! each with what is sent and the outcome expected of it:
//!
//! | outcome     | meaning                                                                         |
//! |-------------|---------------------------------------------------------------------------------|
//! | `flagged`   | accepted as a message and flagged as a prompt-injection attempt (the booking's audit carries `injection_suspected`, a review task says "possible prompt injection"); nothing it asks for is done |
//! | `escaped`   | accepted; markup and line breaks stay inert text: JSON string data, one-line subjects and names, plain-text drafts and outgoing email without injected headers |
//! | `rejected`  | refused with a 4xx problem document (naming the field where there is one), nothing stored |
//! | `isolated`  | accepted, but never matched to another client's booking or shown their data    |
//! | `accepted`  | an extreme but legitimate input, handled                                        |
//! | `not_found` | another organization's ids answer 404                                           |
//!
//! Whatever the outcome, every case runs against a fresh app (file-backed SQLite in a temporary
//! directory) that already holds a victim's booking in the same organization, and the runner
//! checks: no 5xx; nothing of the victim's (ids, the codename in their message) and nothing in
//! the case's `absent` list in any response, draft or outgoing email made for the case, nothing
//! in its `not_in_replies` list in the drafts and the outgoing email; the victim's booking unchanged; another
//! organization's token gets 404 for every id the case created; no file but the database is
//! written; and when the case produced a draft, approving it puts an email in the outbox whose
//! wire form (built by the SMTP channel) is text/plain with only the expected headers.
//!
//! The `api_json` fuzz target's body (`fuzz/bodies/api_json.rs`) runs here too, over its committed
//! inputs and a few hundred deterministic mutations of them (CI's smoke period).

#[path = "../../../fuzz/bodies/api_json.rs"]
mod api_json;
#[path = "../../../fuzz/bodies/replay.rs"]
mod replay;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use jiff::Timestamp;
use openevent_channels::{OutboundMessage, SmtpChannel, SmtpConfig, SmtpSecurity};
use openevent_core::ids::OrgSlug;
use openevent_core::workflow::OutboxEmail;
use openevent_http::{App, RateLimiter, create_token, router};
use openevent_service::{Clock, Engine, EngineConfig, ManualClock};
use openevent_store::{Role, SqlStore, Store};
use serde_json::{Value, json};
use tower::ServiceExt;

const NOW: &str = "2026-11-23T08:00:00Z";
/// Written by the victim only: it must never reach anyone else.
const CODENAME: &str = "BLUEFALCON";

struct Reply {
    status: StatusCode,
    content_type: String,
    text: String,
    json: Value,
}

struct Victim {
    email: String,
    message_id: String,
    event_id: String,
    task_ids: Vec<String>,
    version: Value,
}

struct Harness {
    dir: tempfile::TempDir,
    app: Arc<App<SqlStore>>,
    router: Router,
    manager: String,
    other_org: String,
    victim: Option<Victim>,
}

impl Harness {
    async fn new() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("openevent.db").display());
        let store = SqlStore::open(&url).await.unwrap();
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(NOW.parse().unwrap()));
        let now = clock.now();
        let a = OrgSlug::parse("atelier").unwrap();
        let b = OrgSlug::parse("rival").unwrap();
        let manager = create_token(&store, &a, Role::Manager, "manager", now)
            .await
            .unwrap()
            .token;
        let other_org = create_token(&store, &b, Role::Manager, "rival manager", now)
            .await
            .unwrap()
            .token;
        let app = Arc::new(App {
            engine: Engine::new(store, clock, EngineConfig::default()),
            limiter: RateLimiter::new(100_000),
            payment_secret: None,
            test_clock: None,
        });
        let mut h = Harness {
            dir,
            router: router(Arc::clone(&app)),
            app,
            manager,
            other_org,
            victim: None,
        };
        h.victim = Some(h.victim_books().await);
        h
    }

    fn victim(&self) -> &Victim {
        self.victim.as_ref().unwrap()
    }

    /// Client A of the same organization, with a booking and a draft waiting for approval.
    async fn victim_books(&self) -> Victim {
        let r = self
            .post_json(
                &self.manager,
                "/api/v1/messages",
                &json!({
                    "from_email": "laura.kaufmann@helvetia-labs.ch",
                    "from_name": "Laura Kaufmann",
                    "subject": format!("Workshop booking {CODENAME}"),
                    "body": format!("Hello, we would like to book Room A for a workshop with 25 people on 17.03.2027 from 09:00 to 17:00. Our project codename is {CODENAME}. Best, Laura"),
                    "message_id": "<victim-1@helvetia-labs.ch>",
                }),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let event_id = r.json["event_id"].as_str().unwrap().to_owned();
        let task_ids: Vec<String> = r.json["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_owned())
            .collect();
        assert!(!task_ids.is_empty(), "{}", r.text);
        let view = self
            .get(&self.manager, &format!("/api/v1/events/{event_id}"))
            .await;
        Victim {
            email: "laura.kaufmann@helvetia-labs.ch".into(),
            message_id: "<victim-1@helvetia-labs.ch>".into(),
            event_id,
            task_ids,
            version: view.json["version"].clone(),
        }
    }

    async fn send(&self, req: Request<Body>) -> Reply {
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let content_type = res
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            content_type,
            text,
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

    async fn post(&self, token: &str, uri: &str, content_type: &str, body: Vec<u8>) -> Reply {
        self.send(
            Request::post(uri)
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .header(header::CONTENT_TYPE, content_type)
                .body(Body::from(body))
                .unwrap(),
        )
        .await
    }

    async fn post_json(&self, token: &str, uri: &str, body: &Value) -> Reply {
        self.post(
            token,
            uri,
            "application/json",
            body.to_string().into_bytes(),
        )
        .await
    }

    /// `{victim.…}` placeholders in a case's strings.
    fn fill(&self, s: &str) -> String {
        let v = self.victim();
        s.replace("{victim.event_id}", &v.event_id)
            .replace("{victim.task_id}", &v.task_ids[0])
            .replace("{victim.message_id}", &v.message_id)
            .replace("{victim.email}", &encode_segment(&v.email))
    }

    fn fill_json(&self, v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(self.fill(s)),
            Value::Array(a) => Value::Array(a.iter().map(|x| self.fill_json(x)).collect()),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| (k.clone(), self.fill_json(x)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// The outbox's email jobs, as they would go on the wire.
    async fn outgoing_emails(&self) -> Vec<(OutboxEmail, String)> {
        let now: Timestamp = NOW.parse().unwrap();
        let later = now + jiff::SignedDuration::from_hours(24 * 30);
        let jobs = self
            .app
            .engine
            .store()
            .claim_due(later, later, 1000, &["email"])
            .await
            .unwrap();
        let smtp = SmtpChannel::new(
            &SmtpConfig {
                host: "127.0.0.1".into(),
                port: None,
                security: SmtpSecurity::None,
                username: None,
                password_env: None,
                from_address: "bookings@atelier.example".into(),
                from_name: Some("The Atelier".into()),
                message_id_domain: None,
                hello_name: None,
                timeout_secs: 30,
                extra_root_certs: None,
            },
            &BTreeMap::<String, String>::new(),
        )
        .unwrap();
        jobs.iter()
            .map(|job| {
                let email: OutboxEmail = serde_json::from_str(&job.payload).unwrap();
                let (_, bytes) = smtp
                    .build(&OutboundMessage::from_outbox(&email))
                    .unwrap_or_else(|e| panic!("an approved reply cannot be built: {e:?}"));
                (email, String::from_utf8(bytes).unwrap())
            })
            .collect()
    }
}

/// Percent-encodes one path segment (an email address may hold any character).
fn encode_segment(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~@+".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/hostile")
}

/// The request of a case: method, URI, content type, body.
fn request_of(h: &Harness, send: &Value, token: &str) -> Request<Body> {
    let post = |uri: String, ct: &str, body: Vec<u8>| {
        Request::post(uri)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, ct)
            .body(Body::from(body))
            .unwrap()
    };
    let (kind, v) = send.as_object().unwrap().iter().next().unwrap();
    match kind.as_str() {
        "json" => post(
            "/api/v1/messages".into(),
            "application/json",
            h.fill_json(v).to_string().into_bytes(),
        ),
        "json_text" => post(
            "/api/v1/messages".into(),
            "application/json",
            v.as_str().unwrap().as_bytes().to_vec(),
        ),
        "json_repeat" => {
            let mut body = h.fill_json(&v["json"]);
            let field = v["field"].as_str().unwrap();
            let long = v["text"]
                .as_str()
                .unwrap()
                .repeat(v["count"].as_u64().unwrap() as usize);
            let old = body[field].as_str().unwrap().to_owned();
            body[field] = Value::String(if v["prepend"] == true {
                format!("{long}{old}")
            } else {
                format!("{old}{long}")
            });
            post(
                "/api/v1/messages".into(),
                "application/json",
                body.to_string().into_bytes(),
            )
        }
        "raw" => post(
            "/api/v1/messages/raw".into(),
            "message/rfc822",
            h.fill(v.as_str().unwrap()).into_bytes(),
        ),
        "raw_file" => post(
            "/api/v1/messages/raw".into(),
            "message/rfc822",
            std::fs::read(corpus_dir().join(v.as_str().unwrap())).unwrap(),
        ),
        "raw_repeat" => {
            let mut raw = v["head"].as_str().unwrap().to_owned();
            raw.push_str(
                &v["text"]
                    .as_str()
                    .unwrap()
                    .repeat(v["count"].as_u64().unwrap() as usize),
            );
            post(
                "/api/v1/messages/raw".into(),
                "message/rfc822",
                raw.into_bytes(),
            )
        }
        "approve_victim" | "reject_victim" => {
            let verb = kind.trim_end_matches("_victim");
            post(
                format!("/api/v1/tasks/{}/{verb}", h.victim().task_ids[0]),
                "application/json",
                h.fill_json(v).to_string().into_bytes(),
            )
        }
        "get" => Request::get(h.fill(v.as_str().unwrap()))
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap(),
        other => panic!("unknown kind of request {other}"),
    }
}

/// Everything the case produced that a manager or the client could see: the reply, the new
/// booking with its audit and timeline, the tasks with their drafts, the sender's context.
async fn produced(h: &Harness, reply: &Reply) -> Vec<(String, Reply)> {
    let mut out = Vec::new();
    let j = &reply.json;
    if let Some(id) = j["event_id"].as_str() {
        for uri in [
            format!("/api/v1/events/{id}"),
            format!("/api/v1/events/{id}/timeline"),
        ] {
            let r = h.get(&h.manager, &uri).await;
            assert_eq!(r.status, StatusCode::OK, "{uri}: {}", r.text);
            out.push((uri, r));
        }
    }
    if j["tasks"].is_array() {
        let uri = "/api/v1/tasks?limit=500".to_owned();
        let all = h.get(&h.manager, &uri).await;
        let mine: Vec<Value> = all
            .json
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| j["tasks"].as_array().unwrap().contains(&t["task_id"]))
            .cloned()
            .collect();
        let text = Value::Array(mine.clone()).to_string();
        out.push((
            uri,
            Reply {
                status: all.status,
                content_type: all.content_type,
                text,
                json: Value::Array(mine),
            },
        ));
    }
    if let Some(email) = j["client_email"].as_str() {
        let uri = format!("/api/v1/clients/{}/context", encode_segment(email));
        let r = h.get(&h.manager, &uri).await;
        assert_eq!(r.status, StatusCode::OK, "{uri}: {}", r.text);
        out.push((uri, r));
    }
    out
}

/// Another organization's token sees none of what the case created.
async fn other_org_sees_nothing(h: &Harness, reply: &Reply, name: &str) {
    let j = &reply.json;
    let mut gets = Vec::new();
    if let Some(id) = j["event_id"].as_str() {
        gets.push(format!("/api/v1/events/{id}"));
        gets.push(format!("/api/v1/events/{id}/timeline"));
        gets.push(format!("/api/v1/events/{id}/calendar.ics"));
    }
    if let Some(email) = j["client_email"].as_str() {
        gets.push(format!("/api/v1/clients/{}/context", encode_segment(email)));
    }
    for uri in &gets {
        let r = h.get(&h.other_org, uri).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{name}: {uri}: {}", r.text);
    }
    for task in strings(&j["tasks"]) {
        for (verb, body) in [("approve", json!({})), ("reject", json!({"reason": "x"}))] {
            let uri = format!("/api/v1/tasks/{task}/{verb}");
            let r = h.post_json(&h.other_org, &uri, &body).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{name}: {uri}: {}", r.text);
        }
    }
    for uri in ["/api/v1/events", "/api/v1/tasks"] {
        let r = h.get(&h.other_org, uri).await;
        let items = r.json.get("items").unwrap_or(&r.json);
        assert_eq!(
            items.as_array().map(Vec::len),
            Some(0),
            "{name}: {uri}: {}",
            r.text
        );
    }
}

/// Header names an outgoing reply may carry.
const HEADERS: &[&str] = &[
    "from",
    "to",
    "subject",
    "message-id",
    "in-reply-to",
    "references",
    "date",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
];

/// Approves the case's first drafted task (with the case's approval body) and checks the email
/// that goes out.
async fn approve_and_check_outbox(h: &Harness, case: &Value, reply: &Reply, name: &str) -> String {
    let sender = reply.json["client_email"].as_str().unwrap_or_default();
    let tasks = h.get(&h.manager, "/api/v1/tasks?status=pending").await;
    let Some(task) = tasks.json.as_array().unwrap().iter().find(|t| {
        reply.json["tasks"]
            .as_array()
            .unwrap()
            .contains(&t["task_id"])
            && t["draft"].is_object()
    }) else {
        return String::new();
    };
    let id = task["task_id"].as_str().unwrap();
    let body = case.get("approve").cloned().unwrap_or(json!({}));
    let r = h
        .post_json(&h.manager, &format!("/api/v1/tasks/{id}/approve"), &body)
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{name}: approving {id}: {}",
        r.text
    );
    let mut wire = String::new();
    for (email, bytes) in h.outgoing_emails().await {
        assert_eq!(email.to.as_str(), sender, "{name}: a reply to someone else");
        assert_ne!(
            email.to.as_str(),
            h.victim().email,
            "{name}: the victim is written to"
        );
        let (head, _) = bytes.split_once("\r\n\r\n").unwrap();
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        for line in unfolded.split("\r\n") {
            let name_of = line.split_once(':').map(|(n, _)| n.to_ascii_lowercase());
            assert!(
                name_of.as_deref().is_some_and(|n| HEADERS.contains(&n)),
                "{name}: unexpected header line {line:?} in\n{head}"
            );
        }
        assert!(
            unfolded
                .to_ascii_lowercase()
                .contains("content-type: text/plain"),
            "{name}: {head}"
        );
        assert!(!email.subject.contains(['\r', '\n']), "{name}");
        wire.push_str(&bytes);
    }
    wire
}

fn files_in(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// Runs one case; returns how many outgoing emails it checked.
async fn run_case(name: &str, case: &Value) -> usize {
    let h = Harness::new().await;
    let expect = &case["expect"];
    let outcome = expect["outcome"].as_str().unwrap();
    let token = match case["token"].as_str() {
        Some("other_org") => h.other_org.clone(),
        None | Some("manager") => h.manager.clone(),
        Some(other) => panic!("{name}: unknown token {other}"),
    };
    let tasks_before = h.get(&h.manager, "/api/v1/tasks").await.json;
    let events_before = h.get(&h.manager, "/api/v1/events").await.json;
    let request = request_of(&h, &case["send"], &token);
    // What the case itself sends (an id in its URI, an address in its body) may come back.
    let request_text = format!("{} {}", request.uri(), h.fill_json(&case["send"]));

    let reply = h.send(request).await;
    let want = StatusCode::from_u16(expect["status"].as_u64().unwrap() as u16).unwrap();
    assert_eq!(reply.status, want, "{name}: {}", reply.text);
    assert!(!reply.status.is_server_error(), "{name}");
    if reply.status == StatusCode::OK {
        assert_eq!(reply.content_type, "application/json", "{name}");
    } else {
        assert_eq!(reply.content_type, "application/problem+json", "{name}");
        assert_eq!(
            reply.json["status"],
            want.as_u16(),
            "{name}: {}",
            reply.text
        );
    }
    if let Some(field) = expect["field"].as_str() {
        assert_eq!(reply.json["field"], field, "{name}: {}", reply.text);
    }

    // What the case produced, and the email that goes out when a manager approves its draft.
    let mut seen = vec![("the reply".to_owned(), reply.text.clone())];
    // What goes back to the client: the drafts, and the outgoing email once approved.
    let mut replies: Vec<(String, String)> = reply.json["drafts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| ("a draft".to_owned(), d.to_string()))
        .collect();
    let posted_message = reply.status == StatusCode::OK && reply.json["client_email"].is_string();
    if posted_message {
        for (uri, r) in produced(&h, &reply).await {
            seen.push((uri, r.text));
        }
        other_org_sees_nothing(&h, &reply, name).await;
    }

    match outcome {
        "rejected" => {
            assert!(reply.status.is_client_error(), "{name}");
            let tasks_after = h.get(&h.manager, "/api/v1/tasks").await.json;
            let events_after = h.get(&h.manager, "/api/v1/events").await.json;
            assert_eq!(
                tasks_after, tasks_before,
                "{name}: a refused message left tasks"
            );
            assert_eq!(
                events_after, events_before,
                "{name}: a refused message left events"
            );
        }
        "not_found" => assert_eq!(reply.status, StatusCode::NOT_FOUND, "{name}"),
        "flagged" => {
            assert!(posted_message, "{name}");
            let flagged = match reply.json["event_id"].as_str() {
                Some(id) => {
                    let view = h.get(&h.manager, &format!("/api/v1/events/{id}")).await;
                    view.json["audit"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|a| a["fields"]["injection_suspected"] == true)
                }
                None => seen.iter().any(|(uri, text)| {
                    uri.starts_with("/api/v1/tasks") && text.contains("possible prompt injection")
                }),
            };
            assert!(
                flagged,
                "{name}: the injection attempt is not flagged: {seen:#?}"
            );
        }
        "escaped" => {
            assert!(posted_message, "{name}");
            // Markup and folded line breaks come back as JSON string data, verbatim, in what a
            // manager reads (drafts, the client's context); the web app escapes them when it
            // renders (openevent-web's tests, and `web_templates_never_opt_out_of_escaping`).
            for v in strings(&expect["verbatim"]) {
                let as_data = seen.iter().any(|(_, text)| {
                    serde_json::from_str::<Value>(text).is_ok_and(|j| contains_string(&j, &v))
                });
                assert!(
                    as_data,
                    "{name}: {v:?} does not come back as data: {seen:#?}"
                );
            }
        }
        "isolated" | "accepted" => {}
        other => panic!("{name}: unknown outcome {other}"),
    }

    let mut emails = 0;
    if posted_message {
        let wire = approve_and_check_outbox(&h, case, &reply, name).await;
        emails = wire.matches("\r\nMessage-ID: ").count();
        seen.push(("the outgoing email".into(), wire.clone()));
        replies.push(("the outgoing email".into(), wire));
    }

    // Nothing of the victim's reaches what the case produced (unless the case itself sent it).
    let v = h.victim();
    let mut secrets: Vec<String> = vec![CODENAME.into(), v.event_id.clone(), v.email.clone()];
    secrets.extend(v.task_ids.iter().cloned());
    secrets.retain(|s| !request_text.contains(s.as_str()));
    secrets.extend(strings(&expect["absent"]).iter().map(|s| h.fill(s)));
    for secret in &secrets {
        for (what, text) in &seen {
            assert!(
                !text.contains(secret.as_str()),
                "{name}: {secret:?} appears in {what}: {text}"
            );
        }
    }
    // What the message asked for is not done: it is not in what goes back to the client.
    for not_done in strings(&expect["not_in_replies"]) {
        for (what, text) in &replies {
            assert!(
                !text.contains(not_done.as_str()),
                "{name}: {not_done:?} appears in {what}: {text}"
            );
        }
    }
    // The victim's booking is untouched.
    let view = h
        .get(&h.manager, &format!("/api/v1/events/{}", v.event_id))
        .await;
    assert_eq!(
        view.json["version"], v.version,
        "{name}: the victim's booking changed"
    );
    if let Some(id) = reply.json["event_id"].as_str() {
        assert_ne!(id, v.event_id, "{name}: matched to the victim's booking");
    }
    // Nothing but the database was written.
    let files = files_in(h.dir.path());
    assert!(
        files.iter().all(|f| f.starts_with("openevent.db")),
        "{name}: files written: {files:?}"
    );
    eprintln!(
        "{name}: {} {outcome}, {emails} outgoing email(s) checked",
        reply.status
    );
    emails
}

fn contains_string(v: &Value, needle: &str) -> bool {
    match v {
        Value::String(s) => s.contains(needle),
        Value::Array(a) => a.iter().any(|x| contains_string(x, needle)),
        Value::Object(o) => o.values().any(|x| contains_string(x, needle)),
        _ => false,
    }
}

/// The corpus: every case in `tests/hostile/*.json`, each against a fresh app.
#[tokio::test]
async fn hostile_corpus() {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 30, "{} cases", paths.len());
    let mut by_outcome: BTreeMap<String, usize> = BTreeMap::new();
    let mut emails = 0;
    for path in &paths {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let case: Value = serde_json::from_slice(&std::fs::read(path).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(case["description"].is_string(), "{name}: no description");
        emails += run_case(&name, &case).await;
        *by_outcome
            .entry(case["expect"]["outcome"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    for outcome in ["flagged", "escaped", "rejected", "isolated", "not_found"] {
        assert!(by_outcome.contains_key(outcome), "no {outcome} case");
    }
    // Most accepted cases end with an approved reply on the wire.
    assert!(emails >= 10, "only {emails} outgoing emails checked");
}

/// The web app renders what clients wrote through askama's HTML escaping; no template opts out.
/// (Its own tests render a `<script>` name and check the page.)
#[test]
fn web_templates_never_opt_out_of_escaping() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../openevent-web/templates");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for opt_out in [
            "|safe",
            "| safe",
            "escape = \"none\"",
            "{% autoescape false",
        ] {
            assert!(
                !text.contains(opt_out),
                "{}: {opt_out} renders markup unescaped",
                path.display()
            );
        }
        checked += 1;
    }
    assert!(checked >= 5, "{checked}");
}

/// The `api_json` fuzz target's committed inputs.
#[test]
fn api_json_committed_fuzz_inputs_pass() {
    assert!(replay::replay("api_json", api_json::check) >= 5);
}

/// A few hundred deterministic mutations of the committed inputs (byte flips, insertions of
/// JSON and MIME fragments, truncations) through the same body: the stable stand-in for
/// fuzzing.
#[test]
fn api_json_mutations() {
    const FRAGMENTS: &[&str] = &[
        "\"",
        "\\u0000",
        "\\r\\n",
        "{",
        "}",
        "[",
        "null",
        "1e999",
        "-0",
        "\"from_name\":",
        "\"edited_body\":\"\",",
        "\"reason\":\"\",",
        "<script>",
        "\r\nBcc: x@evil\r\n",
        "\u{212A}",
        "\u{430}",
        "\u{feff}",
    ];
    let mut seeds = Vec::new();
    let dir = replay::fuzz_dir().join("seeds/api_json");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    for p in paths {
        seeds.push(std::fs::read(p).unwrap());
    }
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..300 {
        let mut data = seeds[(next() % seeds.len() as u64) as usize].clone();
        for _ in 0..(1 + next() % 4) {
            if data.len() < 2 {
                break;
            }
            let at = 1 + (next() % (data.len() as u64 - 1)) as usize;
            match next() % 4 {
                0 => data[at] = next() as u8,
                1 => {
                    let f = FRAGMENTS[(next() % FRAGMENTS.len() as u64) as usize];
                    data.splice(at..at, f.bytes());
                }
                2 => data.truncate(at),
                _ => data[0] = next() as u8,
            }
        }
        api_json::check(&data);
    }
}
