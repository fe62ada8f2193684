//! The web app through its router (no network): sign-in, sessions, CSRF, roles, tenancy,
//! decisions and escaping.

mod common;

use axum::http::{StatusCode, header};
use common::web::{Web, web, web_with};
use common::{raw_email, raw_reply};
use jiff::SignedDuration;
use openevent_core::effects::{TaskStatus, TaskType};
use openevent_core::ids::{EventId, OrgSlug, TaskId};
use openevent_core::workflow::Decision;
use openevent_store::{Store, TaskFilter};
use openevent_web::WebConfig;

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
    for uri in [
        "/app",
        "/app/events",
        "/app/events/evt_x",
        "/app/calendar",
        "/app/calendar?month=2027-03",
        "/app/venue",
        "/app/workflows",
        "/app/workflows/offer-follow-up",
        "/app/workflows/offer-follow-up/export",
        "/app/outbox/dead",
        "/app/anything",
    ] {
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

// ---------------------------------------------------------------------------------------------
// Calendar, venue, booking details, filters, sign-in limits

/// The text of an HTML fragment as a browser shows it (askama escapes `'` and `"` by number).
fn unescape(html: &str) -> String {
    html.replace("&#39;", "'")
        .replace("&#34;", "\"")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#38;", "&")
}

/// The cells of the calendar row whose heading starts with `room` (index 0: the first day).
fn calendar_row(html: &str, room: &str) -> Vec<String> {
    let marker = format!("<th scope=\"row\">{room}");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no row {room}: {html}"));
    let end = html[start..].find("</tr>").unwrap() + start;
    html[start..end]
        .split("<td")
        .skip(1)
        .map(ToOwned::to_owned)
        .collect()
}

/// The class of day `day`'s column heading.
fn day_heading_class(html: &str, day: usize) -> String {
    let heads: Vec<&str> = html.split("<th scope=\"col\" class=\"").skip(1).collect();
    let head = heads[day - 1];
    head[..head.find('"').unwrap()].to_owned()
}

async fn pending_tasks(web: &Web, org: &OrgSlug, event: &EventId) -> Vec<(TaskId, TaskType)> {
    web.fx
        .app
        .engine
        .store()
        .list_tasks(
            org,
            TaskFilter {
                status: Some(TaskStatus::Pending),
                event_id: Some(event),
                limit: 100,
            },
        )
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.task.task_id, t.task.task_type))
        .collect()
}

/// Approves the booking's pending task of type `kind`.
async fn approve(web: &Web, org: &OrgSlug, event: &EventId, kind: TaskType) {
    let tasks = pending_tasks(web, org, event).await;
    let (task, _) = tasks
        .iter()
        .find(|(_, t)| *t == kind)
        .unwrap_or_else(|| panic!("no pending {kind:?} task: {tasks:?}"));
    web.fx
        .app
        .engine
        .decide_task(
            org,
            task,
            Decision::Approve {
                edited_body: None,
                notes: None,
            },
        )
        .await
        .unwrap();
}

/// Walks the standard inquiry of `client` on `date` to a confirmed booking, as the manager
/// approving every step; answers its id.
async fn confirmed_booking(web: &Web, client: &str, date: &str) -> EventId {
    let org = web.fx.org.clone();
    let raw = raw_email(
        &format!("Otto Keller <{client}>"),
        "Seminar",
        &format!("<confirm-1-{client}>"),
        &format!(
            "Hello, we would like to book Room B for a seminar with 30 people on {date} from \
             09:00 to 17:00."
        ),
    );
    let report = web.fx.app.engine.ingest_raw(&org, &raw).await.unwrap();
    let event = report.result.event_id.unwrap();
    approve(web, &org, &event, TaskType::ClientReply).await;
    web.fx.clock.advance(SignedDuration::from_hours(26));
    let reply = raw_reply(
        &format!("Otto Keller <{client}>"),
        "Re: Seminar",
        &format!("<confirm-2-{client}>"),
        &format!("<confirm-1-{client}>"),
        "Hi, the offer looks good, we accept.\nBilling address: Keller AG, Bahnhofstrasse 1, \
         8001 Zürich, Switzerland\n\nBest, Otto",
    );
    let report = web.fx.app.engine.ingest_raw(&org, &reply).await.unwrap();
    assert_eq!(report.result.event_id.as_ref(), Some(&event), "{report:?}");
    approve(web, &org, &event, TaskType::OfferAcceptance).await;
    approve(web, &org, &event, TaskType::BookingConfirmation).await;
    let stored = web
        .fx
        .app
        .engine
        .store()
        .load_event(&org, &event)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.event.status.as_str(), "confirmed");
    event
}

#[tokio::test]
async fn the_calendar_shows_rooms_by_days_with_options_and_confirmed_bookings() {
    let web = web().await;
    let option = web
        .fx
        .inquiry(&web.fx.org, "<cal-1@helvetia-labs.ch>")
        .await
        .result
        .event_id
        .unwrap()
        .to_string();
    let confirmed = confirmed_booking(&web, "otto@keller.ch", "18.03.2027")
        .await
        .to_string();
    let me = web.sign_in(&web.fx.viewer).await;
    let page = web
        .get(Some(&me.session), "/app/calendar?month=2027-03")
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let text = unescape(&page.body);
    assert!(text.contains("<h1>Calendar: March 2027</h1>"), "{text}");
    assert!(text.contains("2 bookings holding a room"), "{text}");
    // Every room of the venue is a row, every day a column.
    for room in ["Room A", "Room B", "Room C", "Room D", "Room E", "Room F"] {
        assert_eq!(calendar_row(&page.body, room).len(), 31, "{room}");
    }
    // The option: Room A on the 17th, its window, its client, a link to it.
    let a = calendar_row(&page.body, "Room A");
    assert!(
        a[16].contains(&format!("href=\"/app/events/{option}\"")),
        "{}",
        a[16]
    );
    assert!(a[16].contains("booking booking-option"), "{}", a[16]);
    assert!(a[16].contains("<span class=\"status\">Option</span>"));
    assert!(a[16].contains("09:00–17:00"));
    assert!(a[16].contains("Laura Meier"), "{}", a[16]);
    assert!(
        a.iter()
            .enumerate()
            .all(|(i, c)| i == 16 || !c.contains("booking"))
    );
    // The confirmed booking: Room B on the 18th, told apart by its label and class.
    let b = calendar_row(&page.body, "Room B");
    assert!(
        b[17].contains(&format!("href=\"/app/events/{confirmed}\"")),
        "{}",
        b[17]
    );
    assert!(b[17].contains("booking booking-confirmed"), "{}", b[17]);
    assert!(b[17].contains("<span class=\"status\">Confirmed</span>"));
    assert!(b[17].contains("Otto Keller"));
    // Weekends are marked: 6 and 7 March 2027 are a Saturday and a Sunday.
    assert_eq!(day_heading_class(&page.body, 6), "day weekend");
    assert_eq!(day_heading_class(&page.body, 7), "day weekend");
    assert_eq!(day_heading_class(&page.body, 8), "day ");
    assert!(a[5].starts_with(" class=\"weekend\""), "{}", a[5]);
    // The neighbouring months and the way back to today's.
    assert!(
        page.body
            .contains("href=\"/app/calendar?month=2027-02\" rel=\"prev\"")
    );
    assert!(
        page.body
            .contains("href=\"/app/calendar?month=2027-04\" rel=\"next\"")
    );
    assert!(
        page.body
            .contains("href=\"/app/calendar?month=2026-11\">This month")
    );
    // The link leads to the booking.
    let detail = web
        .get(Some(&me.session), &format!("/app/events/{confirmed}"))
        .await;
    assert_eq!(detail.status, StatusCode::OK);
    // Another month does not show them.
    let april = web
        .get(Some(&me.session), "/app/calendar?month=2027-04")
        .await;
    assert!(!april.body.contains(&option) && !april.body.contains(&confirmed));
    assert!(april.body.contains("0 bookings holding a room"));
}

#[tokio::test]
async fn the_calendar_opens_on_the_current_month_in_the_venues_time_zone() {
    let web = web().await;
    let me = web.sign_in(&web.fx.manager).await;
    // 23.11.2026 09:00 in Zurich (the fixture's clock).
    let page = web.get(Some(&me.session), "/app/calendar").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("Calendar: November 2026"),
        "{}",
        page.body
    );
    assert!(page.body.contains("value=\"2026-11\""));
    assert_eq!(day_heading_class(&page.body, 23), "day today");
    assert!(!page.body.contains("This month"));
    // A blank month is the current one too.
    let blank = web.get(Some(&me.session), "/app/calendar?month=").await;
    assert!(blank.body.contains("Calendar: November 2026"));
    // 30.11.2026 23:30 UTC is already 1 December in Zurich.
    web.fx.clock.set("2026-11-30T23:30:00Z".parse().unwrap());
    let page = web.get(Some(&me.session), "/app/calendar").await;
    assert!(
        page.body.contains("Calendar: December 2026"),
        "{}",
        page.body
    );
    assert_eq!(day_heading_class(&page.body, 1), "day today");
    // 24 and 25 December are blackout dates of the venue.
    assert_eq!(day_heading_class(&page.body, 24), "day blackout");
    assert!(unescape(&page.body).contains("title=\"Thursday 24.12.2026 (closed)\""));
}

#[tokio::test]
async fn a_bad_month_is_a_400_page() {
    let web = web().await;
    let me = web.sign_in(&web.fx.viewer).await;
    for bad in [
        "2027-13",
        "2027-00",
        "2027-3",
        "27-03",
        "march",
        "2027-03-01",
        "10000-01",
        "0000-01",
        "%FF%FE",
        "%3Cscript%3E",
    ] {
        let page = web
            .get(Some(&me.session), &format!("/app/calendar?month={bad}"))
            .await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{bad}: {}", page.body);
        assert!(page.body.contains("That request is not valid"), "{bad}");
        let text = unescape(&page.body);
        assert!(
            text.contains("write it as YYYY-MM")
                || text.contains("the month must be 01 to 12")
                || text.contains("the calendar covers the years 0001 to 9999"),
            "{bad}: {text}"
        );
        assert!(!page.body.contains("<script>"));
        // Still the signed-in chrome.
        assert!(page.body.contains("href=\"/app/calendar\""), "{bad}");
    }
    let page = web
        .get(
            Some(&me.session),
            &format!("/app/calendar?month={}", "9".repeat(10_000)),
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    // The very first and last months have no link beyond them.
    let first = web
        .get(Some(&me.session), "/app/calendar?month=0001-01")
        .await;
    assert_eq!(first.status, StatusCode::OK);
    assert!(!first.body.contains("rel=\"prev\""));
    let last = web
        .get(Some(&me.session), "/app/calendar?month=9999-12")
        .await;
    assert_eq!(last.status, StatusCode::OK);
    assert!(!last.body.contains("rel=\"next\""));
}

#[tokio::test]
async fn the_calendar_shows_only_the_own_organizations_bookings() {
    let web = web().await;
    let ours = web
        .fx
        .inquiry(&web.fx.org, "<tenancy-1@helvetia-labs.ch>")
        .await
        .result
        .event_id
        .unwrap()
        .to_string();
    // The rival organization holds Room A on the same day.
    let theirs = web
        .fx
        .inquiry(&web.fx.other_org, "<tenancy-2@helvetia-labs.ch>")
        .await
        .result
        .event_id
        .unwrap()
        .to_string();
    assert_ne!(ours, theirs);
    let me = web.sign_in(&web.fx.manager).await;
    let page = web
        .get(Some(&me.session), "/app/calendar?month=2027-03")
        .await;
    assert!(page.body.contains(&ours));
    assert!(!page.body.contains(&theirs), "{}", page.body);
    assert!(page.body.contains("1 booking holding a room"));
    let r = web
        .get(Some(&me.session), &format!("/app/events/{theirs}"))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Their manager sees theirs and not ours.
    let them = web.sign_in(&web.fx.other_manager).await;
    let page = web
        .get(Some(&them.session), "/app/calendar?month=2027-03")
        .await;
    assert!(page.body.contains(&theirs));
    assert!(!page.body.contains(&ours));
}

#[tokio::test]
async fn client_markup_shows_as_text_on_the_calendar() {
    let web = web().await;
    let raw = raw_email(
        "\"<script>alert(1)</script>\" <mallory@example.com>",
        "<script>alert(1)</script>",
        "<xss-cal@example.com>",
        "Hello, we would like to book Room A for a workshop with 25 people on 17.03.2027 from \
         09:00 to 17:00.",
    );
    let report = web
        .fx
        .app
        .engine
        .ingest_raw(&web.fx.org, &raw)
        .await
        .unwrap();
    let event = report.result.event_id.unwrap();
    let profile = web
        .fx
        .app
        .engine
        .store()
        .load_profile(&web.fx.org, &"mallory@example.com".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        profile.name.as_deref(),
        Some("<script>alert(1)</script>"),
        "the stored name carries the markup"
    );
    let me = web.sign_in(&web.fx.manager).await;
    let page = web
        .get(Some(&me.session), "/app/calendar?month=2027-03")
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let cell = &calendar_row(&page.body, "Room A")[16];
    assert!(cell.contains(event.as_str()), "{cell}");
    assert!(
        contains_escaped(cell, "<script>alert(1)</script>"),
        "{cell}"
    );
    assert!(!page.body.contains("<script>"), "{}", page.body);
    assert!(cell.contains("mallory@example.com"));
}

#[tokio::test]
async fn the_venue_page_shows_rooms_products_and_policies() {
    let web = web().await;
    let me = web.sign_in(&web.fx.viewer).await;
    let page = web.get(Some(&me.session), "/app/venue").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let text = unescape(&page.body);
    for expected in [
        "<h1>Venue: The Atelier</h1>",
        "Europe/Zurich",
        "<dt>Currency</dt><dd>CHF</dd>",
        "8.1 %, included in the prices",
        "08:00–23:00 every day",
        // Rooms: capacity, seats by layout, rate, buffers.
        "Room A <span class=\"hint\">room_a</span></th><td class=\"num\">12–40</td><td>Theatre 40, U shape 22, Workshop 28</td><td class=\"num\">CHF 500.00</td><td>30 min before, 30 min after</td>",
        "<td class=\"num\">CHF 1'650.00</td><td>60 min before, 60 min after</td>",
        // Products: price, unit, where they can be served.
        "<th scope=\"row\">Prosecco</th><td class=\"num\">CHF 35.00</td><td>Per bottle</td><td>Not in Room A</td>",
        "<th scope=\"row\">Basic Coffee & Tea</th><td class=\"num\">CHF 8.50</td><td>Per person</td><td>All rooms</td>",
        "Not in Room D",
        // Deposit, blackout dates, site visits, FAQ.
        "Not asked for (off)",
        "30 % of the offer total",
        "Thu 24.12.2026",
        "Fri 01.01.2027",
        "Monday, Tuesday, Wednesday, Thursday, Friday",
        "10:00, 14:00, 16:00",
        "at least 2 days ahead",
        "<h3>Parking</h3>",
        "We have 50 underground parking spaces",
        "<dt>German</dt><dd>Im Gebäude stehen 50 Tiefgaragenplätze",
        "None: every reply waits for a manager.",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in {text}");
    }
    // View only: no form but the sign-out one.
    assert_eq!(page.body.matches("<form").count(), 1);
}

#[tokio::test]
async fn a_booking_shows_its_progress_and_deliveries() {
    let web = web().await;
    let report = web
        .fx
        .inquiry(&web.fx.org, "<deliveries-1@helvetia-labs.ch>")
        .await;
    let event = report.result.event_id.unwrap();
    let uri = format!("/app/events/{event}");
    let me = web.sign_in(&web.fx.manager).await;
    let page = web.get(Some(&me.session), &uri).await;
    assert!(
        page.body
            .contains("Nothing was sent or is waiting to be sent.")
    );
    // The progress: the offer went out in one go (steps 1–4 done), the booking is at step 5.
    let step = report.result.current_step.unwrap();
    let current = format!(
        "<li class=\"step-current\" aria-current=\"step\"><span class=\"n\">{}</span> {}",
        step.number(),
        step.name()
    );
    assert!(page.body.contains(&current), "{current} in {}", page.body);
    assert_eq!(page.body.matches("aria-current=\"step\"").count(), 1);
    assert_eq!(
        page.body.matches("class=\"step-done\"").count(),
        usize::from(step.number() - 1)
    );
    assert_eq!(
        page.body.matches("class=\"step-todo\"").count(),
        usize::from(7 - step.number())
    );

    // Approving the reply queues it in the outbox: the page lists the delivery.
    let task = report.result.tasks[0].to_string();
    let r = web
        .post(
            Some(&me.session),
            &format!("/app/tasks/{task}/approve"),
            &[("csrf", &me.csrf), ("next", &uri)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // Another booking's and another organization's deliveries stay off the page.
    let other = web
        .fx
        .inquiry(&web.fx.org, "<deliveries-2@helvetia-labs.ch>")
        .await;
    let rival = web
        .fx
        .inquiry(&web.fx.other_org, "<deliveries-3@helvetia-labs.ch>")
        .await;
    for (org, report) in [(&web.fx.org, &other), (&web.fx.other_org, &rival)] {
        web.fx
            .app
            .engine
            .decide_task(
                org,
                &report.result.tasks[0],
                Decision::Approve {
                    edited_body: None,
                    notes: None,
                },
            )
            .await
            .unwrap();
    }
    let outbox = web
        .fx
        .app
        .engine
        .store()
        .list_outbox(&web.fx.org, None, 100)
        .await
        .unwrap();
    let mine: Vec<_> = outbox
        .iter()
        .filter(|o| o.event_id.as_ref() == Some(&event))
        .collect();
    assert_eq!(mine.len(), 1, "{outbox:?}");
    assert_eq!(outbox.len(), 2);
    let page = web.get(Some(&me.session), &uri).await;
    assert!(page.body.contains("<h2 id=\"deliveries\">Deliveries</h2>"));
    assert!(
        page.body.contains(&format!("<td>{}</td>", mine[0].job_id)),
        "{}",
        page.body
    );
    assert!(page.body.contains(&format!("<td>{}</td>", mine[0].channel)));
    assert!(page.body.contains("Scheduled</span>"), "{}", page.body);
    assert!(page.body.contains("23.11.2026 09:00"));
    let theirs: Vec<_> = outbox
        .iter()
        .filter(|o| o.event_id.as_ref() != Some(&event))
        .collect();
    assert!(!page.body.contains(&theirs[0].job_id));
    let rival_jobs = web
        .fx
        .app
        .engine
        .store()
        .list_outbox(&web.fx.other_org, None, 100)
        .await
        .unwrap();
    assert!(!page.body.contains(&rival_jobs[0].job_id));
    assert!(!page.body.contains("older ones of this booking may exist"));
}

#[tokio::test]
async fn a_confirmed_booking_has_done_every_step() {
    let web = web().await;
    let event = confirmed_booking(&web, "otto@keller.ch", "18.03.2027").await;
    let me = web.sign_in(&web.fx.viewer).await;
    let page = web
        .get(Some(&me.session), &format!("/app/events/{event}"))
        .await;
    assert!(
        page.body
            .contains("<li class=\"step-current\" aria-current=\"step\"><span class=\"n\">7</span> Confirmation"),
        "{}",
        page.body
    );
    assert_eq!(page.body.matches("class=\"step-done\"").count(), 6);
    // The three approved replies (offer, acceptance, confirmation) wait in the outbox, latest
    // first.
    assert_eq!(
        page.body.matches("Scheduled</span>").count(),
        3,
        "{}",
        page.body
    );
}

/// Ingests an inquiry from a client of its own for Room A on `date` (DD.MM.YYYY).
async fn inquiry_on(web: &Web, n: usize, date: &str) -> String {
    let raw = raw_email(
        &format!("Client {n} <client{n}@example.com>"),
        "Workshop",
        &format!("<range-{n}@example.com>"),
        &format!(
            "Hello, we would like to book Room A for a workshop with 25 people on {date} from \
             09:00 to 17:00."
        ),
    );
    let report = web
        .fx
        .app
        .engine
        .ingest_raw(&web.fx.org, &raw)
        .await
        .unwrap();
    report.result.event_id.unwrap().to_string()
}

/// The booking ids a list page links to.
fn listed(html: &str) -> Vec<String> {
    html.split("<tr><td><a href=\"/app/events/")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].to_owned())
        .collect()
}

#[tokio::test]
async fn bookings_are_filtered_by_a_date_range_across_pages() {
    let web = web().await;
    // 30 bookings in March 2027 and 30 in April, created alternately.
    let mut march = Vec::new();
    let mut april = Vec::new();
    for day in 1..=30 {
        march.push(inquiry_on(&web, day, &format!("{day:02}.03.2027")).await);
        web.fx.clock.advance(SignedDuration::from_secs(60));
        april.push(inquiry_on(&web, 100 + day, &format!("{day:02}.04.2027")).await);
        web.fx.clock.advance(SignedDuration::from_secs(60));
    }
    let me = web.sign_in(&web.fx.viewer).await;
    let first = web
        .get(
            Some(&me.session),
            "/app/events?from=2027-03-01&to=31.03.2027&status=&step=&q=",
        )
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let page1 = listed(&first.body);
    assert_eq!(page1.len(), 25);
    // The chosen range stays in the form and in the page links.
    assert!(first.body.contains("name=\"from\" value=\"2027-03-01\""));
    assert!(first.body.contains("name=\"to\" value=\"2027-03-31\""));
    let next = "/app/events?from=2027-03-01&#38;to=2027-03-31&#38;page=2";
    assert!(first.body.contains(next), "{}", first.body);
    let second = web
        .get(
            Some(&me.session),
            "/app/events?from=2027-03-01&to=2027-03-31&page=2",
        )
        .await;
    let page2 = listed(&second.body);
    assert_eq!(page2.len(), 5, "{}", second.body);
    assert!(!second.body.contains("rel=\"next\""));
    assert!(second.body.contains("rel=\"prev\""));
    // Exactly March's bookings, each once, newest first.
    let mut seen: Vec<String> = page1.into_iter().chain(page2).collect();
    let expected: Vec<String> = march.iter().rev().cloned().collect();
    assert_eq!(seen, expected);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 30);
    // Open-ended ranges and a range combined with the search.
    let from = web
        .get(Some(&me.session), "/app/events?from=2027-04-30")
        .await;
    assert_eq!(listed(&from.body), [april[29].clone()]);
    let to = web
        .get(Some(&me.session), "/app/events?to=2027-03-02")
        .await;
    assert_eq!(listed(&to.body), [march[1].clone(), march[0].clone()]);
    let both = web
        .get(
            Some(&me.session),
            "/app/events?from=2027-03-01&to=2027-04-30&q=client105%40",
        )
        .await;
    assert_eq!(listed(&both.body), [april[4].clone()]);
    // Without a range, the store's pages: 60 bookings, three pages.
    let all3 = web.get(Some(&me.session), "/app/events?page=3").await;
    assert_eq!(listed(&all3.body).len(), 10);
}

#[tokio::test]
async fn bad_filters_are_a_400_page() {
    let web = web().await;
    let me = web.sign_in(&web.fx.viewer).await;
    for (query, message) in [
        ("from=2027-02-30", "is not a day of the calendar"),
        ("from=yesterday", "is not a date"),
        ("to=2027-3-1", "is not a date"),
        (
            "from=2027-04-01&to=2027-03-01",
            "The date range ends (01.03.2027) before it starts (01.04.2027).",
        ),
        ("step=0", "is not a step 1–7"),
        ("status=bogus", "bogus"),
        ("page=0", "is not a page number"),
    ] {
        let r = web
            .get(Some(&me.session), &format!("/app/events?{query}"))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}");
        assert!(unescape(&r.body).contains(message), "{query}: {}", r.body);
    }
}

#[tokio::test]
async fn every_page_links_to_every_other() {
    let web = web().await;
    let event = web
        .fx
        .inquiry(&web.fx.org, "<nav-1@helvetia-labs.ch>")
        .await
        .result
        .event_id
        .unwrap();
    web.fx
        .app
        .engine
        .install_library(&web.fx.org, &[])
        .await
        .unwrap();
    let me = web.sign_in(&web.fx.manager).await;
    for (uri, current) in [
        ("/app".to_owned(), Some("/app")),
        ("/app/events".to_owned(), Some("/app/events")),
        (format!("/app/events/{event}"), Some("/app/events")),
        ("/app/calendar".to_owned(), Some("/app/calendar")),
        ("/app/venue".to_owned(), Some("/app/venue")),
        ("/app/workflows".to_owned(), Some("/app/workflows")),
        (
            "/app/workflows/offer-follow-up".to_owned(),
            Some("/app/workflows"),
        ),
        ("/app/outbox/dead".to_owned(), Some("/app/outbox/dead")),
        ("/app/nowhere".to_owned(), None),
        ("/app/workflows/nope".to_owned(), None),
    ] {
        let page = web.get(Some(&me.session), &uri).await;
        for link in [
            "/app",
            "/app/events",
            "/app/calendar",
            "/app/venue",
            "/app/workflows",
            "/app/outbox/dead",
        ] {
            assert!(
                page.body.contains(&format!("<a href=\"{link}\"")),
                "{uri} lacks {link}"
            );
        }
        if let Some(current) = current {
            assert!(
                page.body
                    .contains(&format!("<a href=\"{current}\" aria-current=\"page\">")),
                "{uri}"
            );
        }
    }
}

#[tokio::test]
async fn failed_sign_ins_are_limited_per_address_with_retry_after() {
    let web = web().await;
    let a = Some("192.0.2.10:50000");
    for i in 0..10 {
        let r = web
            .submit_login_from(a, &[], &format!("oet_guess{i}"))
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "attempt {i}");
    }
    let r = web.submit_login_from(a, &[], "oet_guess10").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert_eq!(r.retry_after.as_deref(), Some("6"));
    assert!(r.body.contains("Too many failed sign-ins"), "{}", r.body);
    // The form is there to try again later.
    assert!(r.body.contains("<form method=\"post\" action=\"/login\""));
    assert!(r.cookie("oe_session").is_none());
    // While limited, even a right token waits: the answer must not tell right from wrong.
    let r = web.submit_login_from(a, &[], &web.fx.manager).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    // Another address signs in, right or wrong, unaffected.
    let b = Some("198.51.100.20:40000");
    let r = web.submit_login_from(b, &[], &web.fx.manager).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = web.submit_login_from(b, &[], "oet_wrong").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Six seconds later (the engine's clock) one more attempt is allowed, then the wait again.
    web.fx.clock.advance(SignedDuration::from_secs(6));
    let r = web.submit_login_from(a, &[], &web.fx.manager).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = web.submit_login_from(a, &[], "oet_guess11").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = web.submit_login_from(a, &[], "oet_guess12").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    // A minute later the budget is whole again.
    web.fx.clock.advance(SignedDuration::from_secs(60));
    for i in 0..10 {
        let r = web
            .submit_login_from(a, &[], &format!("oet_again{i}"))
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "attempt {i}");
    }
}

#[tokio::test]
async fn successful_sign_ins_never_count_against_the_limit() {
    let web = web().await;
    let a = Some("192.0.2.30:1234");
    for _ in 0..25 {
        let r = web.submit_login_from(a, &[], &web.fx.viewer).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
    }
    for i in 0..10 {
        let r = web
            .submit_login_from(a, &[], &format!("oet_guess{i}"))
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "attempt {i}");
    }
    let r = web.submit_login_from(a, &[], "oet_guess").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn guesses_at_one_token_are_limited_across_addresses() {
    let web = web().await;
    // The manager token's id, with wrong secrets, from ten addresses.
    let id = web.fx.manager.split('_').nth(1).unwrap().to_owned();
    for i in 0..10 {
        let addr = format!("203.0.113.{i}:5000");
        let r = web
            .submit_login_from(Some(&addr), &[], &format!("oet_{id}_{i:048}"))
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "attempt {i}");
    }
    let r = web
        .submit_login_from(
            Some("203.0.113.99:5000"),
            &[],
            &format!("oet_{id}_{:048}", 99),
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.retry_after.is_some());
    // Other tokens are not held up.
    let r = web
        .submit_login_from(Some("203.0.113.99:5000"), &[], &web.fx.viewer)
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_address_comes_from_its_header() {
    let web = web_with(WebConfig {
        login_failures_per_minute: 3,
        client_ip_header: Some(header::HeaderName::from_static("x-forwarded-for")),
        ..WebConfig::default()
    })
    .await;
    // Every request comes from the proxy; the clients differ.
    let proxy = Some("10.0.0.1:443");
    let client_a = [("x-forwarded-for", "203.0.113.7, 192.0.2.1")];
    let client_b = [("x-forwarded-for", "192.0.2.2")];
    for _ in 0..3 {
        let r = web.submit_login_from(proxy, &client_a, "oet_nope").await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let r = web.submit_login_from(proxy, &client_a, "oet_nope").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.retry_after.as_deref(), Some("20"));
    let r = web.submit_login_from(proxy, &client_b, "oet_nope").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Without the header, the proxy's own address is the key.
    let r = web.submit_login_from(proxy, &[], "oet_nope").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}
