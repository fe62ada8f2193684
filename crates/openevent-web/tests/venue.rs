//! The venue page through the router (no network): the organization's own venue or the server's
//! venue file, the managers' edit form, and the pages and offers that use the saved venue.

mod common;

use axum::http::StatusCode;
use common::web::{Browser, Page, Web, hidden_value, web};
use openevent_core::venue::Venue;
use openevent_store::Store;

/// The text of an HTML fragment as a browser shows it (askama escapes `'` and `"` by number).
fn unescape(html: &str) -> String {
    html.replace("&#39;", "'")
        .replace("&#34;", "\"")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#38;", "&")
}

/// The edit box's text, as the browser would send it back.
fn textarea(page: &Page) -> String {
    let start = page
        .body
        .find("<textarea id=\"venue-toml\"")
        .unwrap_or_else(|| panic!("no venue form: {}", page.body));
    let start = page.body[start..].find('>').unwrap() + start + 1;
    let end = page.body[start..].find("</textarea>").unwrap() + start;
    unescape(&page.body[start..end])
}

/// `text` with `from` replaced (once) by `to`; `from` must be there.
fn edit(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} not in {text}");
    text.replacen(from, to, 1)
}

/// Opens the venue page as `who` and posts the edit box's text changed by `change`.
async fn save_edited(web: &Web, who: &Browser, change: impl FnOnce(&str) -> String) -> Page {
    let page = web.get(Some(&who.session), "/app/venue").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let base = hidden_value(&page.body, "base_revision").expect("a base revision");
    let text = change(&textarea(&page));
    web.post(
        Some(&who.session),
        "/app/venue",
        &[
            ("csrf", &who.csrf),
            ("base_revision", &base),
            ("venue", &text),
        ],
    )
    .await
}

async fn stored_revision(web: &Web) -> Option<i64> {
    web.fx
        .app
        .engine
        .store()
        .venue_revision(&web.fx.org)
        .await
        .unwrap()
}

/// The row of the venue page's rooms table for `room_id`.
fn room_row(html: &str, room_id: &str) -> String {
    let start = html
        .find(&format!("<tr id=\"room-{room_id}\">"))
        .unwrap_or_else(|| panic!("no room {room_id}: {html}"));
    let end = html[start..].find("</tr>").unwrap() + start;
    unescape(&html[start..end])
}

/// Room A renamed "Salon A" (still recognised as "Room A") at CHF 640.00 a day.
fn salon_a(text: &str) -> String {
    let text = edit(
        text,
        "name = \"Room A\"\ncapacity_min = 12\ncapacity_max = 40\nfull_day_rate_chf = \"500.00\"",
        "name = \"Salon A\"\ncapacity_min = 12\ncapacity_max = 40\nfull_day_rate_chf = \"640.00\"",
    );
    edit(
        &text,
        "synonyms = [\"Raum A\",",
        "synonyms = [\"Room A\", \"Raum A\",",
    )
}

#[tokio::test]
async fn a_manager_edits_a_rooms_rate_and_new_offers_are_priced_with_it() {
    let web = web().await;
    let me = web.sign_in(&web.fx.manager).await;
    let page = web.get(Some(&me.session), "/app/venue").await;
    assert!(
        page.body
            .contains("<strong>The server's venue file.</strong>"),
        "{}",
        page.body
    );
    assert_eq!(
        hidden_value(&page.body, "base_revision").as_deref(),
        Some("0")
    );
    // The edit box holds the venue as TOML: it reads back as the venue shown.
    let text = textarea(&page);
    assert_eq!(&Venue::from_toml(&text).unwrap(), web.fx.app.engine.venue());
    assert!(room_row(&page.body, "room_a").contains("CHF 500.00"));

    let saved = save_edited(&web, &me, salon_a).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(saved.location.as_deref(), Some("/app/venue"));
    assert_eq!(stored_revision(&web).await, Some(1));

    // The page shows the organization's own venue, revision 1, with the new rate.
    let page = web.get(Some(&me.session), "/app/venue").await;
    let text = unescape(&page.body);
    assert!(
        text.contains("Saved: the organization now uses its own venue, revision 1"),
        "{text}"
    );
    assert!(text.contains("<strong>The organization's own venue, revision 1.</strong>"));
    let row = room_row(&page.body, "room_a");
    assert!(row.contains("Salon A"), "{row}");
    assert!(row.contains("<td class=\"num\">CHF 640.00</td>"), "{row}");
    assert_eq!(
        hidden_value(&page.body, "base_revision").as_deref(),
        Some("1")
    );
    assert!(textarea(&page).contains("full_day_rate_chf = \"640.00\""));
    // The flash shows once.
    let again = web.get(Some(&me.session), "/app/venue").await;
    assert!(!again.body.contains("Saved:"));

    // A booking made afterwards is priced with the new rate.
    let report = web
        .fx
        .inquiry(&web.fx.org, "<venue-rate-1@helvetia-labs.ch>")
        .await;
    let event = report.result.event_id.unwrap();
    let page = web
        .get(Some(&me.session), &format!("/app/events/{event}"))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let text = unescape(&page.body);
    assert!(
        text.contains(
            "<td>Salon A (full day)</td><td class=\"num\">1</td><td>Per day</td>\
             <td class=\"num\">CHF 640.00</td><td class=\"num\">CHF 640.00</td>"
        ),
        "{text}"
    );
    assert!(
        text.contains("<td class=\"num total\">CHF 640.00</td>"),
        "{text}"
    );
    assert!(!text.contains("CHF 500.00"));
    // The booking and the calendar name the room as the organization's venue does.
    assert!(text.contains("<dt>Room</dt><dd>Salon A</dd>"), "{text}");
    let calendar = web
        .get(Some(&me.session), "/app/calendar?month=2027-03")
        .await;
    assert!(
        calendar.body.contains("<th scope=\"row\">Salon A"),
        "{}",
        calendar.body
    );
    assert!(!calendar.body.contains("<th scope=\"row\">Room A"));
    let list = web.get(Some(&me.session), "/app/events").await;
    assert!(list.body.contains("Salon A"), "{}", list.body);
}

#[tokio::test]
async fn another_organization_still_sees_the_servers_venue() {
    let web = web().await;
    let me = web.sign_in(&web.fx.manager).await;
    let saved = save_edited(&web, &me, salon_a).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let rival = web.sign_in(&web.fx.other_manager).await;
    let page = web.get(Some(&rival.session), "/app/venue").await;
    assert!(
        page.body
            .contains("<strong>The server's venue file.</strong>")
    );
    let row = room_row(&page.body, "room_a");
    assert!(
        row.contains("Room A") && row.contains("CHF 500.00"),
        "{row}"
    );
    assert_eq!(
        hidden_value(&page.body, "base_revision").as_deref(),
        Some("0")
    );
    // Its bookings are priced and its calendar drawn from the server's venue.
    let report = web
        .fx
        .inquiry(&web.fx.other_org, "<venue-rival-1@helvetia-labs.ch>")
        .await;
    let event = report.result.event_id.unwrap();
    let page = web
        .get(Some(&rival.session), &format!("/app/events/{event}"))
        .await;
    let text = unescape(&page.body);
    assert!(text.contains("<td>Room A (full day)</td>"), "{text}");
    assert!(text.contains("<td class=\"num total\">CHF 500.00</td>"));
    let calendar = web
        .get(Some(&rival.session), "/app/calendar?month=2027-03")
        .await;
    assert!(calendar.body.contains("<th scope=\"row\">Room A"));
    assert_eq!(
        web.fx
            .app
            .engine
            .store()
            .venue_revision(&web.fx.other_org)
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn an_invalid_venue_shows_its_problems_by_field_and_stores_nothing() {
    let web = web().await;
    let me = web.sign_in(&web.fx.manager).await;

    // Opening after closing.
    let r = save_edited(&web, &me, |t| {
        edit(t, "open = \"08:00\"", "open = \"23:30\"")
    })
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let text = unescape(&r.body);
    assert!(
        text.contains("The venue was not saved: it has problems."),
        "{text}"
    );
    assert!(
        text.contains("<li><code>operating_hours</code>: open must be before close</li>"),
        "{text}"
    );
    // Site visit times outside the hours are named one by one.
    assert!(text.contains("<code>site_visits.times[0]</code>: must be within operating hours"));
    // The text is kept as sent, the form marked invalid, the settings shown still the old ones.
    assert!(textarea(&r).contains("open = \"23:30\""));
    assert!(
        r.body
            .contains("aria-describedby=\"venue-errors\" aria-invalid=\"true\"")
    );
    assert!(text.contains("08:00–23:00 every day"));
    assert!(text.contains("<strong>The server's venue file.</strong>"));

    // A room's problem names the room.
    let r = save_edited(&web, &me, |t| {
        edit(t, "capacity_min = 20", "capacity_min = 99")
    })
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        unescape(&r.body)
            .contains("<code>rooms[1] (room_b).capacity_min</code>: must be at most capacity_max"),
        "{}",
        r.body
    );

    // An unknown field: the parser's message, the field and its line.
    let r = save_edited(&web, &me, |t| {
        edit(
            t,
            "full_day_rate_chf = \"750.00\"",
            "full_day_rate_chf = \"750.00\"\nhappy_hour = true",
        )
    })
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let text = unescape(&r.body);
    assert!(text.contains("the text is not a venue in TOML"), "{text}");
    assert!(text.contains("<code>rooms[1].happy_hour (line "), "{text}");
    assert!(text.contains("unknown field `happy_hour`"));
    assert!(text.contains("<pre class=\"syntax\">TOML parse error at line"));
    assert!(textarea(&r).contains("happy_hour = true"));

    // Broken TOML.
    let r = save_edited(&web, &me, |t| {
        edit(t, "vat_percent = \"8.10\"", "vat_percent = \"8.10")
    })
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let text = unescape(&r.body);
    assert!(text.contains("<code>vat_percent (line 5)</code>"), "{text}");
    assert!(textarea(&r).contains("vat_percent = \"8.10\n"));

    // An empty text.
    let r = save_edited(&web, &me, |_| "  \r\n".to_owned()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("the text is empty"));

    // Nothing was stored: the organization still uses the server's venue.
    assert_eq!(stored_revision(&web).await, None);
    let page = web.get(Some(&me.session), "/app/venue").await;
    assert!(
        page.body
            .contains("<strong>The server's venue file.</strong>")
    );
    assert!(!page.body.contains("venue-errors"));
}

#[tokio::test]
async fn a_viewer_sees_no_form_and_may_not_save() {
    let web = web().await;
    let me = web.sign_in(&web.fx.viewer).await;
    let page = web.get(Some(&me.session), "/app/venue").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("<textarea"));
    assert!(!page.body.contains("action=\"/app/venue\""));
    assert!(!page.body.contains("base_revision"));
    assert!(
        page.body
            .contains("editing the venue needs a manager token")
    );
    let text = Venue::atelier().to_toml().replace("\"500.00\"", "\"1.00\"");
    let r = web
        .post(
            Some(&me.session),
            "/app/venue",
            &[("csrf", &me.csrf), ("base_revision", "0"), ("venue", &text)],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("manager token"), "{}", r.body);
    assert_eq!(stored_revision(&web).await, None);
}

#[tokio::test]
async fn a_save_without_the_csrf_token_is_refused() {
    let web = web().await;
    let me = web.sign_in(&web.fx.manager).await;
    let text = Venue::atelier().to_toml().replace("\"500.00\"", "\"1.00\"");
    let wrong = "0".repeat(64);
    for csrf in [None, Some(""), Some(wrong.as_str())] {
        let mut fields = vec![("base_revision", "0"), ("venue", text.as_str())];
        if let Some(c) = csrf {
            fields.push(("csrf", c));
        }
        let r = web.post(Some(&me.session), "/app/venue", &fields).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{csrf:?}");
        assert!(r.body.contains("security token"), "{}", r.body);
    }
    // Without a session: to the sign-in.
    let r = web
        .post(
            None,
            "/app/venue",
            &[("csrf", &me.csrf), ("base_revision", "0"), ("venue", &text)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location.as_deref(), Some("/login"));
    assert_eq!(stored_revision(&web).await, None);
}

#[tokio::test]
async fn a_save_over_a_newer_revision_is_refused_with_the_text_kept() {
    let web = web().await;
    let me = web.sign_in(&web.fx.manager).await;
    // The form is opened on the server's venue file…
    let page = web.get(Some(&me.session), "/app/venue").await;
    let mine = edit(&textarea(&page), "\"500.00\"", "\"520.00\"");
    // …and meanwhile someone saves revision 1.
    let mut theirs = Venue::atelier().spec().clone();
    theirs.name = "The Atelier West".into();
    assert_eq!(
        web.fx
            .app
            .engine
            .save_venue(&web.fx.org, theirs)
            .await
            .unwrap(),
        1
    );
    let r = web
        .post(
            Some(&me.session),
            "/app/venue",
            &[("csrf", &me.csrf), ("base_revision", "0"), ("venue", &mine)],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let text = unescape(&r.body);
    assert!(
        text.contains("revision 1 was saved after you opened the server's venue file"),
        "{text}"
    );
    assert_eq!(textarea(&r), mine);
    // The page shows their revision, and the next save starts from it.
    assert!(text.contains("<h1>Venue: The Atelier West</h1>"));
    assert_eq!(hidden_value(&r.body, "base_revision").as_deref(), Some("1"));
    assert_eq!(stored_revision(&web).await, Some(1));
    // Saving again from revision 1 replaces it.
    let r = web
        .post(
            Some(&me.session),
            "/app/venue",
            &[("csrf", &me.csrf), ("base_revision", "1"), ("venue", &mine)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(stored_revision(&web).await, Some(2));
    let page = web.get(Some(&me.session), "/app/venue").await;
    assert!(
        unescape(&page.body).contains("Saved: revision 2 of the venue is now in use."),
        "{}",
        page.body
    );
    assert!(room_row(&page.body, "room_a").contains("CHF 520.00"));
    // The same text again stores nothing.
    let r = save_edited(&web, &me, ToOwned::to_owned).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(stored_revision(&web).await, Some(2));
    let page = web.get(Some(&me.session), "/app/venue").await;
    assert!(page.body.contains("Nothing changed"), "{}", page.body);
    // A form without its base revision is refused.
    let r = web
        .post(
            Some(&me.session),
            "/app/venue",
            &[("csrf", &me.csrf), ("venue", &mine)],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("Reload the page"));
    assert_eq!(stored_revision(&web).await, Some(2));
}
