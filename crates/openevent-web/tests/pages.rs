//! The web app through its router (no network): sign-in, sessions, CSRF, roles, tenancy,
//! decisions and escaping.

mod common;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{Fixture, fixture, raw_email};
use http_body_util::BodyExt;
use openevent_core::effects::TaskStatus;
use openevent_core::ids::TaskId;
use openevent_web::{Sessions, WebConfig, router_with_sessions};
use tower::ServiceExt;

struct Web {
    fx: Fixture,
    router: Router,
    sessions: Arc<Sessions>,
}

struct Page {
    status: StatusCode,
    location: Option<String>,
    set_cookies: Vec<String>,
    body: String,
}

impl Page {
    /// The value of the first `name="csrf"` hidden field.
    fn csrf(&self) -> String {
        hidden_value(&self.body, "csrf").expect("a csrf field")
    }

    fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookies.iter().find_map(|c| {
            c.split(';')
                .next()
                .and_then(|kv| kv.split_once('='))
                .filter(|(k, _)| *k == name)
                .map(|(_, v)| v.to_owned())
        })
    }
}

fn hidden_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

/// A signed-in browser: its session cookie and the CSRF token its pages carry.
struct Browser {
    session: String,
    csrf: String,
}

async fn web_with(config: WebConfig) -> Web {
    let fx = fixture().await;
    let sessions = Arc::new(Sessions::new(config.session_idle));
    let router = router_with_sessions(Arc::clone(&fx.app), config, Arc::clone(&sessions));
    Web {
        fx,
        router,
        sessions,
    }
}

async fn web() -> Web {
    web_with(WebConfig::default()).await
}

fn form_body(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl Web {
    async fn send(&self, req: Request<Body>) -> Page {
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let location = res
            .headers()
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_owned());
        let set_cookies = res
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        Page {
            status,
            location,
            set_cookies,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn get(&self, cookie: Option<&str>, uri: &str) -> Page {
        let mut req = Request::get(uri);
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        self.send(req.body(Body::empty()).unwrap()).await
    }

    async fn post(&self, cookie: Option<&str>, uri: &str, fields: &[(&str, &str)]) -> Page {
        let mut req =
            Request::post(uri).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        self.send(req.body(Body::from(form_body(fields))).unwrap())
            .await
    }

    /// Opens the sign-in form and submits `token`; answers the form page and the reply.
    async fn submit_login(&self, token: &str) -> Page {
        let form = self.get(None, "/login").await;
        assert_eq!(form.status, StatusCode::OK);
        let login_cookie = form.cookie("oe_login_csrf").expect("a login csrf cookie");
        self.post(
            Some(&format!("oe_login_csrf={login_cookie}")),
            "/login",
            &[("token", token), ("csrf", &form.csrf())],
        )
        .await
    }

    async fn sign_in(&self, token: &str) -> Browser {
        let reply = self.submit_login(token).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
        assert_eq!(reply.location.as_deref(), Some("/app"));
        let session = reply.cookie("oe_session").expect("a session cookie");
        let cookie = format!("oe_session={session}");
        let inbox = self.get(Some(&cookie), "/app").await;
        assert_eq!(inbox.status, StatusCode::OK, "{}", inbox.body);
        Browser {
            session: cookie,
            csrf: inbox.csrf(),
        }
    }
}

#[tokio::test]
async fn a_bad_token_shows_the_form_again_with_an_error() {
    let web = web().await;
    for bad in ["oet_nope_nope", "not a token", ""] {
        let reply = web.submit_login(bad).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert!(
            reply.body.contains("That token is not valid"),
            "{}",
            reply.body
        );
        assert!(
            reply
                .body
                .contains("<form method=\"post\" action=\"/login\"")
        );
        assert!(reply.cookie("oe_session").is_none());
    }
    assert!(web.sessions.is_empty());
}

#[tokio::test]
async fn a_good_token_starts_a_session_with_a_strict_http_only_cookie() {
    let web = web().await;
    let reply = web.submit_login(&web.fx.manager).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    let cookie = reply
        .set_cookies
        .iter()
        .find(|c| c.starts_with("oe_session="))
        .expect("Set-Cookie oe_session");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert!(!cookie.contains("Secure"), "{cookie}");
    let id = reply.cookie("oe_session").unwrap();
    assert_eq!(id.len(), 64, "256 bits, hex");
    assert_eq!(web.sessions.len(), 1);

    let secure = web_with(WebConfig {
        secure_cookies: true,
        ..WebConfig::default()
    })
    .await;
    let reply = secure.submit_login(&secure.fx.viewer).await;
    let cookie = reply
        .set_cookies
        .iter()
        .find(|c| c.starts_with("oe_session="))
        .unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
}

#[tokio::test]
async fn the_login_form_itself_needs_its_csrf_token() {
    let web = web().await;
    let form = web.get(None, "/login").await;
    let login_cookie = form.cookie("oe_login_csrf").unwrap();
    // Right cookie, no field; a field without the cookie.
    let r = web
        .post(
            Some(&format!("oe_login_csrf={login_cookie}")),
            "/login",
            &[("token", &web.fx.manager)],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = web
        .post(
            None,
            "/login",
            &[("token", &web.fx.manager), ("csrf", &form.csrf())],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(web.sessions.is_empty());
}

#[tokio::test]
async fn pages_without_a_session_redirect_to_the_login() {
    let web = web().await;
    for uri in ["/app", "/app/events", "/app/events/evt_x", "/app/anything"] {
        let r = web.get(None, uri).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{uri}");
        assert_eq!(r.location.as_deref(), Some("/login"), "{uri}");
        let r = web.get(Some("oe_session=forged"), uri).await;
        assert_eq!(r.location.as_deref(), Some("/login"), "{uri}");
    }
    // The stylesheet is public.
    let r = web.get(None, "/assets/app.css").await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn posts_without_or_with_a_wrong_csrf_token_are_refused() {
    let web = web().await;
    let report = web
        .fx
        .inquiry(&web.fx.org, "<csrf-1@helvetia-labs.ch>")
        .await;
    let task = report.result.tasks[0].to_string();
    let me = web.sign_in(&web.fx.manager).await;
    let approve = format!("/app/tasks/{task}/approve");
    let r = web.post(Some(&me.session), &approve, &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("security token"), "{}", r.body);
    let r = web
        .post(
            Some(&me.session),
            &approve,
            &[("csrf", "0".repeat(64).as_str())],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = web
        .post(
            Some(&me.session),
            &format!("/app/tasks/{task}/reject"),
            &[("csrf", "wrong"), ("reason", "no")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = web.post(Some(&me.session), "/logout", &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Nothing was decided.
    let (t, _) = load_task(&web, &task).await;
    assert_eq!(t, TaskStatus::Pending);
}

async fn load_task(web: &Web, task: &str) -> (TaskStatus, Option<String>) {
    use openevent_store::Store;
    let (t, _) = web
        .fx
        .app
        .engine
        .store()
        .load_task(&web.fx.org, &TaskId::parse(task).unwrap())
        .await
        .unwrap()
        .unwrap();
    (t.status, t.event_id.map(|e| e.to_string()))
}

#[tokio::test]
async fn a_viewer_reads_but_cannot_decide() {
    let web = web().await;
    let report = web
        .fx
        .inquiry(&web.fx.org, "<viewer-1@helvetia-labs.ch>")
        .await;
    let task = report.result.tasks[0].to_string();
    let me = web.sign_in(&web.fx.viewer).await;
    let inbox = web.get(Some(&me.session), "/app").await;
    assert!(inbox.body.contains(&task), "the viewer sees the task");
    assert!(!inbox.body.contains("/approve"), "{}", inbox.body);
    assert!(!inbox.body.contains("/reject"));
    assert!(!inbox.body.contains("<textarea"));
    let event = report.result.event_id.unwrap().to_string();
    let page = web
        .get(Some(&me.session), &format!("/app/events/{event}"))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("/approve"));

    let r = web
        .post(
            Some(&me.session),
            &format!("/app/tasks/{task}/approve"),
            &[("csrf", &me.csrf)],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("manager token"), "{}", r.body);
    assert_eq!(load_task(&web, &task).await.0, TaskStatus::Pending);
}

#[tokio::test]
async fn another_organizations_ids_answer_404() {
    let web = web().await;
    let theirs = web
        .fx
        .inquiry(&web.fx.other_org, "<rival-1@helvetia-labs.ch>")
        .await;
    let their_event = theirs.result.event_id.unwrap().to_string();
    let their_task = theirs.result.tasks[0].to_string();
    let me = web.sign_in(&web.fx.manager).await;

    let r = web
        .get(Some(&me.session), &format!("/app/events/{their_event}"))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.contains("no such booking"), "{}", r.body);
    let r = web.get(Some(&me.session), "/app/events/evt_unknown").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = web
        .post(
            Some(&me.session),
            &format!("/app/tasks/{their_task}/approve"),
            &[("csrf", &me.csrf)],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Their booking is in neither the inbox nor the list.
    let inbox = web.get(Some(&me.session), "/app").await;
    assert!(!inbox.body.contains(&their_task));
    let list = web.get(Some(&me.session), "/app/events").await;
    assert!(!list.body.contains(&their_event));
    // And their manager still sees it.
    let them = web.sign_in(&web.fx.other_manager).await;
    let r = web
        .get(Some(&them.session), &format!("/app/events/{their_event}"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn approving_twice_shows_the_conflict() {
    let web = web().await;
    let report = web
        .fx
        .inquiry(&web.fx.org, "<twice-1@helvetia-labs.ch>")
        .await;
    let task = report.result.tasks[0].to_string();
    let me = web.sign_in(&web.fx.manager).await;
    let inbox = web.get(Some(&me.session), "/app").await;
    assert!(inbox.body.contains(&format!("/app/tasks/{task}/approve")));
    assert!(inbox.body.contains("laura@helvetia-labs.ch"));

    let approve = format!("/app/tasks/{task}/approve");
    let r = web
        .post(
            Some(&me.session),
            &approve,
            &[
                ("csrf", &me.csrf),
                ("next", "/app"),
                ("notes", "looks good"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location.as_deref(), Some("/app"));
    let inbox = web.get(Some(&me.session), "/app").await;
    assert!(
        inbox.body.contains(&format!("Task {task} approved.")),
        "{}",
        inbox.body
    );
    assert!(!inbox.body.contains(&approve), "the task left the inbox");
    // The flash shows once.
    let again = web.get(Some(&me.session), "/app").await;
    assert!(!again.body.contains("approved."));
    assert_eq!(load_task(&web, &task).await.0, TaskStatus::Approved);

    let r = web
        .post(Some(&me.session), &approve, &[("csrf", &me.csrf)])
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("Already decided"), "{}", r.body);
    assert!(r.body.contains("was already approved"), "{}", r.body);
    let r = web
        .post(
            Some(&me.session),
            &format!("/app/tasks/{task}/reject"),
            &[("csrf", &me.csrf), ("reason", "changed my mind")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_rejection_needs_a_reason_and_then_leads_back() {
    let web = web().await;
    let report = web
        .fx
        .inquiry(&web.fx.org, "<reject-1@helvetia-labs.ch>")
        .await;
    let task = report.result.tasks[0].to_string();
    let event = report.result.event_id.unwrap().to_string();
    let me = web.sign_in(&web.fx.manager).await;
    let reject = format!("/app/tasks/{task}/reject");
    let back = format!("/app/events/{event}");
    let r = web
        .post(
            Some(&me.session),
            &reject,
            &[("csrf", &me.csrf), ("next", &back), ("reason", "  ")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = web.get(Some(&me.session), &back).await;
    assert!(page.body.contains("was not decided"), "{}", page.body);
    assert_eq!(load_task(&web, &task).await.0, TaskStatus::Pending);

    let r = web
        .post(
            Some(&me.session),
            &reject,
            &[
                ("csrf", &me.csrf),
                ("next", &back),
                ("reason", "wrong room"),
            ],
        )
        .await;
    assert_eq!(r.location.as_deref(), Some(back.as_str()));
    let page = web.get(Some(&me.session), &back).await;
    assert!(page.body.contains("rejected."), "{}", page.body);
    assert!(page.body.contains("Rejected because: wrong room"));
    assert_eq!(load_task(&web, &task).await.0, TaskStatus::Rejected);
}

/// Whether `html` shows `text` as text: its `<`, `>` escaped, by name or by number.
fn contains_escaped(html: &str, text: &str) -> bool {
    let named = text.replace('<', "&lt;").replace('>', "&gt;");
    let numeric = text.replace('<', "&#60;").replace('>', "&#62;");
    html.contains(&named) || html.contains(&numeric)
}

#[tokio::test]
async fn client_text_is_escaped() {
    let web = web().await;
    let raw = raw_email(
        "\"<script>alert(1)</script>\" <mallory@example.com>",
        "<script>alert(1)</script>",
        "<xss-1@example.com>",
        "Hello <script>alert(1)</script>, we would like to book Room A for a workshop with 25 \
         people on 17.03.2027 from 09:00 to 17:00. <img src=x onerror=alert(2)>",
    );
    let report = web
        .fx
        .app
        .engine
        .ingest_raw(&web.fx.org, &raw)
        .await
        .unwrap();
    let task = report.result.tasks[0].to_string();
    let me = web.sign_in(&web.fx.manager).await;
    // An edited reply carrying markup is shown as text, too.
    let event = report.result.event_id.unwrap().to_string();
    let inbox = web.get(Some(&me.session), "/app").await;
    let drafts: String = report
        .result
        .drafts
        .iter()
        .map(|d| format!("{d:?}"))
        .collect();
    assert!(
        drafts.contains("<script>alert(1)</script>"),
        "the draft carries the client's markup: {drafts}"
    );
    assert!(
        contains_escaped(&inbox.body, "<script>alert(1)</script>"),
        "{}",
        inbox.body
    );
    assert!(!inbox.body.contains("<script>"), "{}", inbox.body);
    assert!(!inbox.body.contains("<img src=x"));

    let r = web
        .post(
            Some(&me.session),
            &format!("/app/tasks/{task}/approve"),
            &[
                ("csrf", &me.csrf),
                ("edited_body", "Dear client,\r\n<script>alert(3)</script>"),
                ("notes", "<b>bold</b>"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = web
        .get(Some(&me.session), &format!("/app/events/{event}"))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        contains_escaped(&page.body, "<script>alert(3)</script>"),
        "{}",
        page.body
    );
    assert!(contains_escaped(&page.body, "<b>bold</b>"));
    assert!(!page.body.contains("<script>"));
    // Search text is echoed escaped.
    let list = web
        .get(Some(&me.session), "/app/events?q=%22%3E%3Cscript%3E")
        .await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(!list.body.contains("\"><script>"));
}

#[tokio::test]
async fn bookings_are_listed_filtered_and_shown() {
    let web = web().await;
    let report = web
        .fx
        .inquiry(&web.fx.org, "<list-1@helvetia-labs.ch>")
        .await;
    let event = report.result.event_id.unwrap().to_string();
    let me = web.sign_in(&web.fx.viewer).await;
    let list = web.get(Some(&me.session), "/app/events").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains(&event), "{}", list.body);
    assert!(list.body.contains("17.03.2027") || list.body.contains("—"));
    let list = web
        .get(Some(&me.session), "/app/events?q=HELVETIA&status=&step=")
        .await;
    assert!(list.body.contains(&event));
    let list = web
        .get(Some(&me.session), "/app/events?q=nobody-else")
        .await;
    assert!(!list.body.contains(&event));
    assert!(list.body.contains("No bookings match"));
    let list = web
        .get(Some(&me.session), "/app/events?status=cancelled")
        .await;
    assert!(!list.body.contains(&format!("/app/events/{event}\"")));
    let r = web.get(Some(&me.session), "/app/events?status=bogus").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = web.get(Some(&me.session), "/app/events?step=9").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    let page = web
        .get(Some(&me.session), &format!("/app/events/{event}"))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("laura@helvetia-labs.ch"));
    assert!(page.body.contains("17.03.2027"), "{}", page.body);
    assert!(page.body.contains("Timeline"));
    // The current offer with its totals, as the core formats amounts.
    assert!(page.body.contains("Current offer"));
    assert!(page.body.contains("CHF 500.00"), "{}", page.body);
    assert!(page.body.contains("Room A"));
    assert!(page.body.contains(&report.result.tasks[0].to_string()));
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let web = web().await;
    let me = web.sign_in(&web.fx.manager).await;
    let r = web
        .post(Some(&me.session), "/logout", &[("csrf", &me.csrf)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location.as_deref(), Some("/login?signed_out=1"));
    let cleared = r
        .set_cookies
        .iter()
        .find(|c| c.starts_with("oe_session="))
        .unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let r = web.get(Some(&me.session), "/app").await;
    assert_eq!(r.location.as_deref(), Some("/login"));
    assert!(web.sessions.is_empty());
}
