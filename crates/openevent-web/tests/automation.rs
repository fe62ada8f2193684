//! The automation pages through the router: workflows with their statistics, the library,
//! editing a definition (validated, versioned, kept when refused), enabling, disabling and
//! exporting, a booking's workflow with its override and the preview of its messages, and the
//! dead letters — manager-only changes, CSRF on every form, one organization's data only,
//! everything escaped.

mod common;

use axum::http::{StatusCode, header};
use common::web::{Browser, Web, web};
use common::{INQUIRY, raw_email};
use jiff::{SignedDuration, Timestamp};
use openevent_automation::Workflow;
use openevent_automation::assignment::Override;
use openevent_automation::job::JobStatus;
use openevent_core::effects::{TaskStatus, TaskType};
use openevent_core::ids::{EventId, OrgSlug};
use openevent_core::workflow::Decision;
use openevent_store::{JobResult, Store, TaskFilter};

/// The page's text with askama's escapes undone (to compare with what was stored).
fn unescape(html: &str) -> String {
    html.replace("&#39;", "'")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#60;", "<")
        .replace("&lt;", "<")
        .replace("&#62;", ">")
        .replace("&gt;", ">")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

/// The text of the first `<textarea>` on the page, unescaped.
fn textarea(html: &str) -> String {
    let start = html.find("<textarea").expect("a textarea");
    let start = html[start..].find('>').unwrap() + start + 1;
    let end = html[start..].find("</textarea>").unwrap() + start;
    unescape(&html[start..end])
}

/// The table row with `id`.
fn row<'a>(html: &'a str, id: &str) -> &'a str {
    let marker = format!("<tr id=\"{id}\">");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no row {id} in {html}"));
    let end = html[start..].find("</tr>").unwrap() + start;
    &html[start..end]
}

/// The count in a row's statistics cell of `status`.
fn stat(row: &str, status: &str) -> i64 {
    let marker = format!("<td class=\"num stat-{status}");
    let start = row
        .find(&marker)
        .unwrap_or_else(|| panic!("no {status} cell in {row}"));
    let start = row[start..].find('>').unwrap() + start + 1;
    let end = row[start..].find('<').unwrap() + start;
    row[start..end].parse().unwrap()
}

async fn versions(web: &Web, org: &OrgSlug, key: &str) -> Vec<(u32, bool)> {
    web.fx
        .app
        .engine
        .store()
        .workflow_versions(org)
        .await
        .unwrap()
        .into_iter()
        .filter(|v| v.key == key)
        .map(|v| (v.version, v.enabled))
        .collect()
}

async fn install(web: &Web, org: &OrgSlug) {
    web.fx.app.engine.install_library(org, &[]).await.unwrap();
}

/// Approves the booking's pending task of type `kind`.
async fn approve(web: &Web, org: &OrgSlug, event: &EventId, kind: TaskType) {
    let store = web.fx.app.engine.store();
    let tasks = store
        .list_tasks(
            org,
            TaskFilter {
                status: Some(TaskStatus::Pending),
                event_id: Some(event),
                limit: 100,
            },
        )
        .await
        .unwrap();
    let task = tasks
        .iter()
        .find(|t| t.task.task_type == kind)
        .unwrap_or_else(|| panic!("no pending {kind:?} task"));
    web.fx
        .app
        .engine
        .decide_task(
            org,
            &task.task.task_id,
            Decision::Approve {
                edited_body: None,
                notes: None,
            },
        )
        .await
        .unwrap();
}

/// The standard inquiry of `client` ingested into `org`, its offer still waiting for approval.
async fn inquiry_from(web: &Web, org: &OrgSlug, client: &str, message_id: &str) -> EventId {
    let raw = raw_email(
        &format!("Laura Meier <{client}>"),
        "Workshop booking",
        message_id,
        INQUIRY,
    );
    let report = web.fx.app.engine.ingest_raw(org, &raw).await.unwrap();
    report.result.event_id.unwrap()
}

/// The standard inquiry with its offer approved (sent): the `offer_sent` trigger has fired.
async fn offer_sent(web: &Web, org: &OrgSlug, client: &str, message_id: &str) -> EventId {
    let event = inquiry_from(web, org, client, message_id).await;
    approve(web, org, &event, TaskType::ClientReply).await;
    event
}

async fn job_status(web: &Web, org: &OrgSlug, job: &str) -> JobStatus {
    web.fx
        .app
        .engine
        .store()
        .list_outbox(org, None, 100)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.job_id == job)
        .unwrap()
        .status
}

async fn override_of(web: &Web, org: &OrgSlug, event: &EventId) -> Option<Override> {
    web.fx
        .app
        .engine
        .store()
        .booking_automation(org, event)
        .await
        .unwrap()
        .override_
}

/// Follows a redirect and answers the page it leads to (with its flash).
async fn follow(web: &Web, me: &Browser, reply: &common::web::Page) -> common::web::Page {
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let to = reply.location.as_deref().unwrap();
    let to = to.split('#').next().unwrap();
    web.get(Some(&me.session), to).await
}

#[tokio::test]
async fn the_workflow_list_installs_the_library_and_counts_deliveries() {
    let web = web().await;
    let org = web.fx.org.clone();
    let me = web.sign_in(&web.fx.manager).await;
    let page = web.get(Some(&me.session), "/app/workflows").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("No workflows yet."), "{}", page.body);
    assert_eq!(page.body.matches("— not installed").count(), 7);
    assert!(page.body.contains("action=\"/app/library/install\""));

    let reply = web
        .post(
            Some(&me.session),
            "/app/library/install",
            &[("csrf", &me.csrf)],
        )
        .await;
    assert_eq!(reply.location.as_deref(), Some("/app/workflows"));
    let page = follow(&web, &me, &reply).await;
    assert!(
        page.body.contains("Installed 7 library workflows: "),
        "{}",
        page.body
    );
    assert_eq!(page.body.matches("— installed").count(), 7);
    assert!(page.body.contains("Every library workflow is installed."));
    let offer = row(&page.body, "workflow-offer-follow-up");
    assert!(offer.contains("<a href=\"/app/workflows/offer-follow-up\">Offer follow-up</a>"));
    assert!(offer.contains("enabled"));
    assert!(offer.contains("/app/workflows/offer-follow-up/export"));
    assert_eq!(stat(offer, "scheduled"), 0);

    // An offer sent: the default workflow schedules its two follow-ups (an email, a task).
    offer_sent(
        &web,
        &org,
        "laura@helvetia-labs.ch",
        "<list-1@helvetia-labs.ch>",
    )
    .await;
    let page = web.get(Some(&me.session), "/app/workflows").await;
    let offer = row(&page.body, "workflow-offer-follow-up");
    assert_eq!(stat(offer, "scheduled"), 2, "{offer}");
    assert_eq!(stat(offer, "sent"), 0);
    assert_eq!(stat(offer, "dead"), 0);
    assert!(offer.contains("<td class=\"num total\">2</td>"), "{offer}");
    assert!(
        offer.contains("<td class=\"num version\">1 of 1</td>"),
        "{offer}"
    );
    assert!(offer.contains("offer-follow-up · 2 steps · "), "{offer}");

    // Installing again changes nothing, not even an edited workflow.
    let mut edited = web
        .fx
        .app
        .engine
        .export_workflows(&org)
        .await
        .unwrap()
        .into_iter()
        .find(|(k, _)| k == "site-visit")
        .unwrap()
        .1;
    edited = edited.replace("name = \"", "name = \"Our ");
    web.fx
        .app
        .engine
        .import_workflow(&org, &edited)
        .await
        .unwrap();
    let reply = web
        .post(
            Some(&me.session),
            "/app/library/install",
            &[("csrf", &me.csrf)],
        )
        .await;
    let page = follow(&web, &me, &reply).await;
    assert!(page.body.contains("installed already; nothing changed"));
    assert_eq!(versions(&web, &org, "offer-follow-up").await.len(), 1);
    assert_eq!(versions(&web, &org, "site-visit").await.len(), 2);
    assert!(page.body.contains(">Our "), "the edit stays");
}

#[tokio::test]
async fn an_invalid_edit_shows_its_problems_keeps_the_text_and_stores_nothing() {
    let web = web().await;
    let org = web.fx.org.clone();
    install(&web, &org).await;
    let me = web.sign_in(&web.fx.manager).await;
    let uri = "/app/workflows/offer-follow-up";
    let page = web.get(Some(&me.session), uri).await;
    assert_eq!(page.status, StatusCode::OK);
    let current = textarea(&page.body);
    assert!(current.contains("key = \"offer-follow-up\""), "{current}");
    assert_eq!(Workflow::from_toml(&current).unwrap().version(), 1);
    assert!(page.body.contains("<dt>Version</dt><dd>1 of 1</dd>"));
    assert!(page.body.contains("name=\"base_version\" value=\"1\""));

    // A template using a variable its trigger does not provide.
    let invalid = current.replacen("{{ offer.total }}", "{{ appointment.date }}", 1);
    assert_ne!(invalid, current);
    let reply = web
        .post(
            Some(&me.session),
            uri,
            &[
                ("csrf", &me.csrf),
                ("base_version", "1"),
                ("definition", &invalid.replace('\n', "\r\n")),
            ],
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.body
    );
    assert!(
        reply
            .body
            .contains("The definition was not saved: it has a problem."),
        "{}",
        reply.body
    );
    assert!(
        reply
            .body
            .contains("<code>steps[0] (no-reply-3-days).template.body</code>: "),
        "{}",
        reply.body
    );
    assert!(
        unescape(&reply.body).contains("appointment"),
        "{}",
        reply.body
    );
    assert!(reply.body.contains("aria-invalid=\"true\""));
    assert_eq!(textarea(&reply.body), invalid, "the text is kept");
    assert_eq!(versions(&web, &org, "offer-follow-up").await, [(1, true)]);

    // Not TOML at all: the parser's message, with its line.
    let reply = web
        .post(
            Some(&me.session),
            uri,
            &[
                ("csrf", &me.csrf),
                ("base_version", "1"),
                ("definition", "key = = \"x\""),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        reply.body.contains("it is not valid TOML"),
        "{}",
        reply.body
    );
    assert!(reply.body.contains("<pre class=\"syntax\">"));
    assert_eq!(textarea(&reply.body), "key = = \"x\"");

    // Empty.
    let reply = web
        .post(
            Some(&me.session),
            uri,
            &[
                ("csrf", &me.csrf),
                ("base_version", "1"),
                ("definition", " "),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(reply.body.contains("it is empty"));

    // Another workflow's key: this page edits only its own.
    let other = current.replace("key = \"offer-follow-up\"", "key = \"something-else\"");
    let reply = web
        .post(
            Some(&me.session),
            uri,
            &[
                ("csrf", &me.csrf),
                ("base_version", "1"),
                ("definition", &other),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(reply.body.contains("<code>key</code>: "), "{}", reply.body);
    assert!(unescape(&reply.body).contains("but this page edits 'offer-follow-up'"));
    assert!(versions(&web, &org, "something-else").await.is_empty());
    assert_eq!(versions(&web, &org, "offer-follow-up").await, [(1, true)]);
}

#[tokio::test]
async fn a_valid_edit_stores_the_next_version_and_an_unchanged_one_nothing() {
    let web = web().await;
    let org = web.fx.org.clone();
    install(&web, &org).await;
    let me = web.sign_in(&web.fx.manager).await;
    let uri = "/app/workflows/offer-follow-up";
    let current = textarea(&web.get(Some(&me.session), uri).await.body);
    let edited = current.replace("Your offer from", "Our offer from");
    assert_ne!(edited, current);
    let reply = web
        .post(
            Some(&me.session),
            uri,
            &[
                ("csrf", &me.csrf),
                ("base_version", "1"),
                ("definition", &edited.replace('\n', "\r\n")),
            ],
        )
        .await;
    assert_eq!(reply.location.as_deref(), Some(uri));
    let page = follow(&web, &me, &reply).await;
    assert!(
        unescape(&page.body).contains("Saved: version 2 of 'Offer follow-up' is now current."),
        "{}",
        page.body
    );
    assert!(page.body.contains("<dt>Version</dt><dd>2 of 2</dd>"));
    assert!(page.body.contains("name=\"base_version\" value=\"2\""));
    let shown = textarea(&page.body);
    assert!(shown.contains("Our offer from"));
    assert!(!shown.contains('\r'), "line ends are normalised");
    assert_eq!(
        versions(&web, &org, "offer-follow-up").await,
        [(1, true), (2, true)]
    );
    let list = web.get(Some(&me.session), "/app/workflows").await;
    let offer = row(&list.body, "workflow-offer-follow-up");
    assert!(
        offer.contains("<td class=\"num version\">2 of 2</td>"),
        "{offer}"
    );

    // The same text again: nothing is stored.
    let reply = web
        .post(
            Some(&me.session),
            uri,
            &[
                ("csrf", &me.csrf),
                ("base_version", "2"),
                ("definition", &shown),
            ],
        )
        .await;
    let page = follow(&web, &me, &reply).await;
    assert!(page.body.contains("Nothing changed"), "{}", page.body);
    assert_eq!(versions(&web, &org, "offer-follow-up").await.len(), 2);

    // A form opened at version 1 cannot overwrite version 2 unseen.
    let stale = current.replace("Your offer from", "Stale offer from");
    let reply = web
        .post(
            Some(&me.session),
            uri,
            &[
                ("csrf", &me.csrf),
                ("base_version", "1"),
                ("definition", &stale),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.body);
    assert!(
        reply
            .body
            .contains("version 2 was stored after you opened version 1"),
        "{}",
        reply.body
    );
    assert_eq!(textarea(&reply.body), stale);
    assert!(reply.body.contains("name=\"base_version\" value=\"2\""));
    assert_eq!(versions(&web, &org, "offer-follow-up").await.len(), 2);
}

#[tokio::test]
async fn a_workflow_is_disabled_enabled_and_exported() {
    let web = web().await;
    let org = web.fx.org.clone();
    install(&web, &org).await;
    let me = web.sign_in(&web.fx.manager).await;
    let uri = "/app/workflows/offer-follow-up";
    let page = web.get(Some(&me.session), uri).await;
    assert!(
        page.body
            .contains("action=\"/app/workflows/offer-follow-up/enabled\"")
    );
    assert!(page.body.contains("name=\"enabled\" value=\"false\""));

    let toggle = |value: &'static str| {
        let (web, me) = (&web, &me);
        async move {
            web.post(
                Some(&me.session),
                "/app/workflows/offer-follow-up/enabled",
                &[("csrf", &me.csrf), ("enabled", value)],
            )
            .await
        }
    };
    let page = follow(&web, &me, &toggle("false").await).await;
    assert!(
        unescape(&page.body).contains("Workflow 'Offer follow-up' is disabled (version 2)"),
        "{}",
        page.body
    );
    assert!(page.body.contains("name=\"enabled\" value=\"true\""));
    assert!(
        page.body
            .contains("<span class=\"badge badge-dead\">disabled</span>")
    );
    assert_eq!(
        versions(&web, &org, "offer-follow-up").await,
        [(1, true), (2, false)]
    );
    let list = web.get(Some(&me.session), "/app/workflows").await;
    assert!(row(&list.body, "workflow-offer-follow-up").contains("disabled"));
    // Disabling twice stores nothing.
    let page = follow(&web, &me, &toggle("false").await).await;
    assert!(page.body.contains("is disabled already; nothing changed"));
    assert_eq!(versions(&web, &org, "offer-follow-up").await.len(), 2);
    let bad = toggle("maybe").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    // The export is the current definition as a file.
    let export = web
        .get(Some(&me.session), "/app/workflows/offer-follow-up/export")
        .await;
    assert_eq!(export.status, StatusCode::OK);
    assert_eq!(
        export.headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"offer-follow-up.toml\""
    );
    assert!(
        export.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/toml")
    );
    let wf = Workflow::from_toml(&export.body).unwrap();
    assert_eq!((wf.version(), wf.enabled()), (2, false));

    let page = follow(&web, &me, &toggle("true").await).await;
    assert!(
        page.body.contains("is enabled (version 3)"),
        "{}",
        page.body
    );
    assert_eq!(
        versions(&web, &org, "offer-follow-up").await,
        [(1, true), (2, false), (3, true)]
    );
    let page = web.get(Some(&me.session), uri).await;
    // The history, newest first.
    let history = &page.body[page.body.find("id=\"wf-history\"").unwrap()..];
    let three = history.find("<td class=\"num\">3</td>").unwrap();
    let one = history.find("<td class=\"num\">1</td>").unwrap();
    assert!(three < one);

    // Unknown workflows answer 404.
    for uri in [
        "/app/workflows/nope",
        "/app/workflows/nope/export",
        "/app/workflows/Not%20A%20Key",
    ] {
        assert_eq!(
            web.get(Some(&me.session), uri).await.status,
            StatusCode::NOT_FOUND,
            "{uri}"
        );
    }
}

#[tokio::test]
async fn a_new_workflow_is_imported_and_an_existing_key_refused() {
    let web = web().await;
    let org = web.fx.org.clone();
    install(&web, &org).await;
    let me = web.sign_in(&web.fx.manager).await;
    let nudge = r#"key = "nudge"
name = "Nudge"
version = 1

[[steps]]
key = "one"
trigger = "offer_sent"
channel = "email"
recipients = { audience = ["client"] }
timing = { anchor = "trigger", offset = { days = 2 }, if_past = "send_now" }

[steps.template]
subject = "Hello {{ client.name }}"
body = "Your offer: {{ offer.total }}"
"#;
    let reply = web
        .post(
            Some(&me.session),
            "/app/workflows",
            &[("csrf", &me.csrf), ("definition", nudge)],
        )
        .await;
    assert_eq!(reply.location.as_deref(), Some("/app/workflows/nudge"));
    let page = follow(&web, &me, &reply).await;
    assert!(
        unescape(&page.body).contains("Imported workflow 'Nudge' (nudge) as version 1."),
        "{}",
        page.body
    );
    assert_eq!(versions(&web, &org, "nudge").await, [(1, true)]);

    // The same key again: edit it on its page instead.
    let reply = web
        .post(
            Some(&me.session),
            "/app/workflows",
            &[
                ("csrf", &me.csrf),
                ("definition", &nudge.replace("Your offer", "Changed")),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert!(unescape(&reply.body).contains("has a workflow 'nudge' already"));
    assert!(textarea(&reply.body).contains("Changed"));
    assert_eq!(versions(&web, &org, "nudge").await.len(), 1);

    // Invalid: problems next to the form, the text kept.
    let broken = nudge
        .replace("key = \"nudge\"", "key = \"broken\"")
        .replace("{{ offer.total }}", "{{ appointment.date }}");
    let reply = web
        .post(
            Some(&me.session),
            "/app/workflows",
            &[("csrf", &me.csrf), ("definition", &broken)],
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.body
    );
    assert!(reply.body.contains("id=\"definition-errors\""));
    assert!(
        reply
            .body
            .contains("<code>steps[0] (one).template.body</code>: "),
        "{}",
        reply.body
    );
    assert_eq!(textarea(&reply.body), broken);
    assert!(versions(&web, &org, "broken").await.is_empty());
}

#[tokio::test]
async fn the_booking_page_explains_its_workflow_and_previews_its_messages() {
    let web = web().await;
    let org = web.fx.org.clone();
    install(&web, &org).await;
    // Quiet hours for email until 10:00: the 09:00 follow-up waits for them to end.
    let engine = &web.fx.app.engine;
    let mut settings = openevent_service::automation::default_settings(engine.venue());
    settings.quiet_hours = vec![
        toml::from_str(
            r#"start = "21:00"
end = "10:00"
channels = ["email"]"#,
        )
        .unwrap(),
    ];
    engine
        .save_automation_settings(&org, &toml::to_string(&settings).unwrap())
        .await
        .unwrap();
    let event = offer_sent(
        &web,
        &org,
        "laura@helvetia-labs.ch",
        "<preview-1@helvetia-labs.ch>",
    )
    .await;
    let uri = format!("/app/events/{event}");

    let viewer = web.sign_in(&web.fx.viewer).await;
    let page = web.get(Some(&viewer.session), &uri).await;
    assert_eq!(page.status, StatusCode::OK);
    let text = unescape(&page.body);
    assert!(
        page.body
            .contains("<h2 id=\"automation-heading\">Automation</h2>")
    );
    assert!(
        text.contains("<strong>Offer follow-up (offer-follow-up)</strong>"),
        "{}",
        page.body
    );
    assert!(text.contains("The organization's default workflow"));
    assert!(text.contains("No rule matched; the organization's default is 'offer-follow-up'"));
    assert!(
        !page.body.contains("name=\"choice\""),
        "a viewer only reads"
    );
    // The email, held back by quiet hours, rendered as it would read today.
    assert!(
        text.contains("26.11.2026 10:00 · Email to laura@helvetia-labs.ch"),
        "{}",
        page.body
    );
    assert!(
        text.contains("(due 26.11.2026 09:00; deferred for quiet hours)"),
        "{}",
        page.body
    );
    assert!(text.contains("<dt>Subject</dt><dd>Your offer from The Atelier</dd>"));
    assert!(text.contains("Dear Laura Meier"), "{}", page.body);
    assert!(text.contains("offer-follow-up, step no-reply-3-days"));
    assert!(page.body.contains("decision-send\">Will be sent</span>"));
    // The task for the manager, six business days after the offer.
    assert!(text.contains("offer-follow-up, step call-the-client"));
    assert!(
        text.contains("01.12.2026 10:00 · Task to "),
        "{}",
        page.body
    );
    assert_eq!(page.body.matches("<article class=\"message\">").count(), 2);

    // A manager overrides: no workflow.
    let me = web.sign_in(&web.fx.manager).await;
    let page = web.get(Some(&me.session), &uri).await;
    assert!(
        page.body
            .contains(&format!("action=\"/app/events/{event}/workflow\""))
    );
    assert!(page.body.contains("<option value=\"rules\" selected>"));
    assert!(page.body.contains("<option value=\"workflow:site-visit\">"));
    let choose = |choice: &'static str| {
        let (web, me, uri) = (&web, &me, &uri);
        async move {
            web.post(
                Some(&me.session),
                &format!("{uri}/workflow"),
                &[("csrf", &me.csrf), ("choice", choice)],
            )
            .await
        }
    };
    let reply = choose("none").await;
    assert_eq!(
        reply.location.as_deref(),
        Some(format!("/app/events/{event}#automation").as_str())
    );
    assert_eq!(override_of(&web, &org, &event).await, Some(Override::Clear));
    let page = follow(&web, &me, &reply).await;
    let text = unescape(&page.body);
    assert!(
        text.contains("Override saved: no workflow runs for the booking"),
        "{}",
        page.body
    );
    assert!(text.contains("<strong>None</strong>"));
    assert!(text.contains("A manager's choice: no workflow for this booking"));
    assert!(page.body.contains("<option value=\"none\" selected>"));

    let reply = choose("workflow:site-visit").await;
    assert_eq!(
        override_of(&web, &org, &event).await,
        Some(Override::Manual {
            workflow: "site-visit".parse().unwrap()
        })
    );
    let page = follow(&web, &me, &reply).await;
    let text = unescape(&page.body);
    assert!(
        text.contains("the booking runs workflow 'site-visit'"),
        "{}",
        page.body
    );
    assert!(text.contains("<option value=\"workflow:site-visit\" selected>"));
    assert!(text.contains("A manager's choice for this booking"));

    // A workflow that does not exist is refused; a made-up choice too.
    let reply = choose("workflow:nope").await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let reply = choose("whatever").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(matches!(
        override_of(&web, &org, &event).await,
        Some(Override::Manual { .. })
    ));

    // Removing the override hands the booking back to the rules.
    let reply = choose("rules").await;
    assert_eq!(override_of(&web, &org, &event).await, None);
    let page = follow(&web, &me, &reply).await;
    assert!(
        unescape(&page.body)
            .contains("Override removed: the booking runs workflow 'offer-follow-up'")
    );

    // A booking that never reached an offer has nothing scheduled.
    let quiet = inquiry_from(&web, &org, "otto@keller.ch", "<preview-2@keller.ch>").await;
    let page = web
        .get(Some(&me.session), &format!("/app/events/{quiet}"))
        .await;
    assert!(
        page.body
            .contains("No messages are scheduled for this booking.")
    );
}

#[tokio::test]
async fn dead_letters_are_requeued_or_abandoned_and_only_when_dead() {
    let web = web().await;
    let org = web.fx.org.clone();
    let first = offer_sent(
        &web,
        &org,
        "laura@helvetia-labs.ch",
        "<dead-1@helvetia-labs.ch>",
    )
    .await;
    let second = offer_sent(&web, &org, "otto@keller.ch", "<dead-2@keller.ch>").await;
    // The dispatcher claims both approved replies and the provider refuses them for good.
    let store = web.fx.app.engine.store();
    let now: Timestamp = web.fx.app.engine.clock().now();
    let claimed = store
        .claim_due(now, now + SignedDuration::from_secs(300), 10, &["email"])
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    for job in &claimed {
        store
            .finish_job(
                job,
                &JobResult::Dead {
                    error: "550 <mailbox> unknown & gone".into(),
                },
                None,
                None,
                now,
            )
            .await
            .unwrap();
    }
    let dead = store
        .list_outbox(&org, Some(JobStatus::Dead), 10)
        .await
        .unwrap();
    let job_of = |event: &EventId| {
        dead.iter()
            .find(|r| r.event_id.as_ref() == Some(event))
            .unwrap()
            .job_id
            .clone()
    };
    let (a, b) = (job_of(&first), job_of(&second));

    // A viewer sees them, without the buttons.
    let viewer = web.sign_in(&web.fx.viewer).await;
    let page = web.get(Some(&viewer.session), "/app/outbox/dead").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(&a) && page.body.contains(&b));
    assert!(
        page.body
            .contains("550 &#60;mailbox&#62; unknown &#38; gone")
            || page.body.contains("550 &lt;mailbox&gt; unknown &amp; gone"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("550 <mailbox>"));
    assert!(
        page.body
            .contains(&format!("<a href=\"/app/events/{first}\">"))
    );
    assert!(!page.body.contains("/requeue"));
    let r = web
        .post(
            Some(&viewer.session),
            &format!("/app/outbox/{a}/requeue"),
            &[("csrf", &viewer.csrf)],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("manager token"));

    let me = web.sign_in(&web.fx.manager).await;
    let page = web.get(Some(&me.session), "/app/outbox/dead").await;
    assert!(
        page.body
            .contains(&format!("action=\"/app/outbox/{a}/requeue\""))
    );
    assert!(
        page.body
            .contains(&format!("action=\"/app/outbox/{b}/abandon\""))
    );
    assert_eq!(job_status(&web, &org, &a).await, JobStatus::Dead);

    // Requeue: scheduled again, off the list.
    let reply = web
        .post(
            Some(&me.session),
            &format!("/app/outbox/{a}/requeue"),
            &[("csrf", &me.csrf)],
        )
        .await;
    assert_eq!(reply.location.as_deref(), Some("/app/outbox/dead"));
    let page = follow(&web, &me, &reply).await;
    assert!(page.body.contains(&format!("Job {a} is queued again")));
    assert!(
        !page
            .body
            .contains(&format!("action=\"/app/outbox/{a}/requeue\""))
    );
    assert_eq!(job_status(&web, &org, &a).await, JobStatus::Scheduled);
    // Again: it is not dead any more.
    let reply = web
        .post(
            Some(&me.session),
            &format!("/app/outbox/{a}/requeue"),
            &[("csrf", &me.csrf)],
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert!(
        reply
            .body
            .contains(&format!("Job {a} is not dead (its status is scheduled)")),
        "{}",
        reply.body
    );
    let reply = web
        .post(
            Some(&me.session),
            &format!("/app/outbox/{a}/abandon"),
            &[("csrf", &me.csrf), ("reason", "no")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(job_status(&web, &org, &a).await, JobStatus::Scheduled);

    // Abandon needs a reason.
    let reply = web
        .post(
            Some(&me.session),
            &format!("/app/outbox/{b}/abandon"),
            &[("csrf", &me.csrf), ("reason", "  ")],
        )
        .await;
    let page = follow(&web, &me, &reply).await;
    assert!(page.body.contains("was not abandoned: give a reason"));
    assert_eq!(job_status(&web, &org, &b).await, JobStatus::Dead);
    let reply = web
        .post(
            Some(&me.session),
            &format!("/app/outbox/{b}/abandon"),
            &[
                ("csrf", &me.csrf),
                ("reason", "The client phoned; address is wrong"),
            ],
        )
        .await;
    let page = follow(&web, &me, &reply).await;
    assert!(page.body.contains(&format!("Job {b} is abandoned")));
    assert!(page.body.contains("No dead letters"));
    assert_eq!(job_status(&web, &org, &b).await, JobStatus::Cancelled);
    // Both are on their bookings' timelines.
    let page = web
        .get(Some(&me.session), &format!("/app/events/{second}"))
        .await;
    assert!(page.body.contains("outbox_abandoned"), "{}", page.body);
    let page = web
        .get(Some(&me.session), &format!("/app/events/{first}"))
        .await;
    assert!(page.body.contains("outbox_requeued"));

    // Unknown jobs: 404.
    let reply = web
        .post(
            Some(&me.session),
            "/app/outbox/nope/requeue",
            &[("csrf", &me.csrf)],
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(reply.body.contains("There is no dead job nope"));
}

#[tokio::test]
async fn another_organization_sees_none_of_the_automation() {
    let web = web().await;
    let org = web.fx.org.clone();
    install(&web, &org).await;
    let event = offer_sent(
        &web,
        &org,
        "laura@helvetia-labs.ch",
        "<tenant-1@helvetia-labs.ch>",
    )
    .await;
    // One of ours dead.
    let store = web.fx.app.engine.store();
    let now = web.fx.app.engine.clock().now();
    let claimed = store
        .claim_due(now, now + SignedDuration::from_secs(300), 10, &["email"])
        .await
        .unwrap();
    store
        .finish_job(
            &claimed[0],
            &JobResult::Dead {
                error: "refused".into(),
            },
            None,
            None,
            now,
        )
        .await
        .unwrap();
    let job = claimed[0].job_id.clone();

    let them = web.sign_in(&web.fx.other_manager).await;
    let page = web.get(Some(&them.session), "/app/workflows").await;
    assert!(page.body.contains("No workflows yet."));
    assert!(!page.body.contains("/app/workflows/offer-follow-up"));
    let page = web.get(Some(&them.session), "/app/outbox/dead").await;
    assert!(page.body.contains("No dead letters"));
    assert!(!page.body.contains(&job));
    for uri in [
        "/app/workflows/offer-follow-up".to_owned(),
        "/app/workflows/offer-follow-up/export".to_owned(),
        format!("/app/events/{event}"),
    ] {
        let r = web.get(Some(&them.session), &uri).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}");
    }
    let definition = web
        .fx
        .app
        .engine
        .export_workflows(&org)
        .await
        .unwrap()
        .into_iter()
        .find(|(k, _)| k == "offer-follow-up")
        .unwrap()
        .1;
    for (uri, fields) in [
        (
            "/app/workflows/offer-follow-up".to_owned(),
            vec![("base_version", "1"), ("definition", definition.as_str())],
        ),
        (
            "/app/workflows/offer-follow-up/enabled".to_owned(),
            vec![("enabled", "false")],
        ),
        (
            format!("/app/events/{event}/workflow"),
            vec![("choice", "none")],
        ),
        (format!("/app/outbox/{job}/requeue"), vec![]),
        (
            format!("/app/outbox/{job}/abandon"),
            vec![("reason", "not ours")],
        ),
    ] {
        let mut all = vec![("csrf", them.csrf.as_str())];
        all.extend(fields);
        let r = web.post(Some(&them.session), &uri, &all).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}: {}", r.body);
    }
    // Nothing of ours changed, and their organization got nothing.
    assert_eq!(versions(&web, &org, "offer-follow-up").await, [(1, true)]);
    assert_eq!(override_of(&web, &org, &event).await, None);
    let dead = store
        .list_outbox(&org, Some(JobStatus::Dead), 10)
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    let other = web.fx.other_org.clone();
    assert!(store.workflow_versions(&other).await.unwrap().is_empty());
    // Installing the library in their organization leaves ours alone.
    let r = web
        .post(
            Some(&them.session),
            "/app/library/install",
            &[("csrf", &them.csrf)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(store.workflow_versions(&other).await.unwrap().len(), 7);
    assert_eq!(versions(&web, &org, "offer-follow-up").await, [(1, true)]);
}

#[tokio::test]
async fn every_automation_form_needs_the_csrf_token_and_a_manager() {
    let web = web().await;
    let org = web.fx.org.clone();
    install(&web, &org).await;
    let event = offer_sent(
        &web,
        &org,
        "laura@helvetia-labs.ch",
        "<forms-1@helvetia-labs.ch>",
    )
    .await;
    let store = web.fx.app.engine.store();
    let now = web.fx.app.engine.clock().now();
    let claimed = store
        .claim_due(now, now + SignedDuration::from_secs(300), 10, &["email"])
        .await
        .unwrap();
    store
        .finish_job(
            &claimed[0],
            &JobResult::Dead {
                error: "refused".into(),
            },
            None,
            None,
            now,
        )
        .await
        .unwrap();
    let job = claimed[0].job_id.clone();
    let definition = web
        .fx
        .app
        .engine
        .export_workflows(&org)
        .await
        .unwrap()
        .into_iter()
        .find(|(k, _)| k == "offer-follow-up")
        .unwrap()
        .1
        .replace("Your offer", "Changed offer");
    let forms: Vec<(String, Vec<(&str, &str)>)> = vec![
        ("/app/library/install".to_owned(), vec![]),
        (
            "/app/workflows".to_owned(),
            vec![(
                "definition",
                "key = \"x\"\nname = \"X\"\nversion = 1\nsteps = []",
            )],
        ),
        (
            "/app/workflows/offer-follow-up".to_owned(),
            vec![("base_version", "1"), ("definition", definition.as_str())],
        ),
        (
            "/app/workflows/offer-follow-up/enabled".to_owned(),
            vec![("enabled", "false")],
        ),
        (
            format!("/app/events/{event}/workflow"),
            vec![("choice", "none")],
        ),
        (format!("/app/outbox/{job}/requeue"), vec![]),
        (
            format!("/app/outbox/{job}/abandon"),
            vec![("reason", "gone")],
        ),
    ];
    let me = web.sign_in(&web.fx.manager).await;
    let viewer = web.sign_in(&web.fx.viewer).await;
    for (uri, fields) in &forms {
        // No token, and a wrong one.
        let r = web.post(Some(&me.session), uri, fields).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{uri}");
        assert!(r.body.contains("security token"), "{uri}: {}", r.body);
        let bad = "f".repeat(64);
        let mut wrong = vec![("csrf", bad.as_str())];
        wrong.extend(fields.iter().copied());
        let r = web.post(Some(&me.session), uri, &wrong).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{uri}");
        // A viewer's own token, but a viewer.
        let mut all = vec![("csrf", viewer.csrf.as_str())];
        all.extend(fields.iter().copied());
        let r = web.post(Some(&viewer.session), uri, &all).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{uri}");
        assert!(r.body.contains("manager token"), "{uri}: {}", r.body);
        // Without a session: to the sign-in.
        let r = web.post(None, uri, &all).await;
        assert_eq!(r.location.as_deref(), Some("/login"), "{uri}");
    }
    // Nothing changed.
    assert_eq!(versions(&web, &org, "offer-follow-up").await, [(1, true)]);
    assert!(versions(&web, &org, "x").await.is_empty());
    assert_eq!(override_of(&web, &org, &event).await, None);
    assert_eq!(
        store
            .list_outbox(&org, Some(JobStatus::Dead), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    // The viewer reads every page, without a form that changes anything.
    for uri in [
        "/app/workflows".to_owned(),
        "/app/workflows/offer-follow-up".to_owned(),
        format!("/app/events/{event}"),
        "/app/outbox/dead".to_owned(),
    ] {
        let page = web.get(Some(&viewer.session), &uri).await;
        assert_eq!(page.status, StatusCode::OK, "{uri}");
        assert_eq!(
            page.body.matches("method=\"post\"").count(),
            1,
            "{uri}: only the sign-out form"
        );
    }
}

#[tokio::test]
async fn workflow_names_and_templates_are_escaped() {
    let web = web().await;
    let org = web.fx.org.clone();
    let me = web.sign_in(&web.fx.manager).await;
    let hostile = r#"key = "hostile"
name = "<script>alert(1)</script> & co"
version = 1

[[steps]]
key = "one"
trigger = "offer_sent"
channel = "email"
recipients = { audience = ["client"] }
timing = { anchor = "trigger", offset = { days = 1 }, at = "11:00", if_past = "send_now" }

[steps.template]
subject = "<b>Offer</b> for {{ client.name }}"
body = "<img src=x onerror=alert(2)> {{ offer.total }} </textarea><script>alert(3)</script>"
"#;
    let reply = web
        .post(
            Some(&me.session),
            "/app/workflows",
            &[("csrf", &me.csrf), ("definition", hostile)],
        )
        .await;
    let page = follow(&web, &me, &reply).await;
    assert_eq!(page.status, StatusCode::OK);
    for raw in [
        "<script>alert",
        "<img src=x",
        "<b>Offer</b>",
        "</textarea><script>",
    ] {
        assert!(!page.body.contains(raw), "{raw} unescaped in {}", page.body);
    }
    assert!(textarea(&page.body).contains("</textarea><script>alert(3)</script>"));
    let list = web.get(Some(&me.session), "/app/workflows").await;
    assert!(!list.body.contains("<script>alert"));
    assert!(unescape(&list.body).contains("<script>alert(1)</script> & co"));

    // The booking runs it (chosen before the offer goes out); the preview shows its text as text.
    let event = inquiry_from(
        &web,
        &org,
        "laura@helvetia-labs.ch",
        "<hostile-1@helvetia-labs.ch>",
    )
    .await;
    let reply = web
        .post(
            Some(&me.session),
            &format!("/app/events/{event}/workflow"),
            &[("csrf", &me.csrf), ("choice", "workflow:hostile")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    approve(&web, &org, &event, TaskType::ClientReply).await;
    let page = web
        .get(Some(&me.session), &format!("/app/events/{event}"))
        .await;
    assert!(page.body.contains("hostile, step one"), "{}", page.body);
    for raw in ["<script>alert", "<img src=x", "<b>Offer</b>"] {
        assert!(!page.body.contains(raw), "{raw} unescaped in {}", page.body);
    }
    let text = unescape(&page.body);
    assert!(
        text.contains("<b>Offer</b> for Laura Meier"),
        "{}",
        page.body
    );
    assert!(text.contains("<img src=x onerror=alert(2)>"));
}
