//! `GET /app/calendar?month=YYYY-MM`: the organization's rooms by the days of a month.

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use jiff::civil::Date;
use openevent_core::calendar::Occupancy;
use openevent_core::ids::{ClientEmail, EventId, OrgSlug};
use openevent_store::{Store, StoreError};
use serde::Deserialize;

use super::{Current, PageError, html, venue_of};
use crate::WebState;
use crate::calendar::{BookingInfo, month_grid};
use crate::month::Month;
use crate::views::CalendarPage;

#[derive(Debug, Deserialize)]
pub struct CalendarQuery {
    month: Option<String>,
}

fn link(month: Month) -> String {
    format!("/app/calendar?month={month}")
}

/// What the calendar shows of each booking in `occupancy`: its status and client, read from the
/// organization's own records (a booking that vanished in between is left out).
async fn bookings<S: Store>(
    store: &S,
    org: &OrgSlug,
    occupancy: &[Occupancy],
) -> Result<HashMap<EventId, BookingInfo>, StoreError> {
    let mut out = HashMap::new();
    let mut names: HashMap<ClientEmail, Option<String>> = HashMap::new();
    for o in occupancy {
        if out.contains_key(&o.event_id) {
            continue;
        }
        let Some(stored) = store.load_event(org, &o.event_id).await? else {
            continue;
        };
        let email = stored.event.client_email;
        let name = match names.get(&email) {
            Some(n) => n.clone(),
            None => {
                let n = store
                    .load_profile(org, &email)
                    .await?
                    .and_then(|p| p.name)
                    .filter(|n| !n.trim().is_empty());
                names.insert(email.clone(), n.clone());
                n
            }
        };
        out.insert(
            o.event_id.clone(),
            BookingInfo {
                status: stored.event.status,
                client_email: email.to_string(),
                client_name: name,
            },
        );
    }
    Ok(out)
}

pub async fn calendar<S: Store>(
    State(st): State<WebState<S>>,
    who: Current,
    query: Result<Query<CalendarQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let Query(q) = query.map_err(|e| PageError::bad_request(e.body_text()).for_user(&who))?;
    let bundle = venue_of(&st, &who).await?;
    let venue = &bundle.venue;
    let today: Date = st
        .app
        .engine
        .clock()
        .now()
        .to_zoned(venue.time_zone().clone())
        .date();
    let this_month = Month::of(today);
    let month = match q.month.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
        None => this_month,
        Some(raw) => {
            Month::parse(raw).map_err(|e| PageError::bad_request(e.to_string()).for_user(&who))?
        }
    };
    let org = &who.principal.org;
    let store = st.app.engine.store();
    // From the day before: an overnight booking that evening still holds its room on the first.
    let from = month.first_day().yesterday().unwrap_or(month.first_day());
    let occupancy = store
        .occupancy(org, from, month.last_day())
        .await
        .map_err(|e| PageError::internal(&e).for_user(&who))?;
    let bookings = bookings(store, org, &occupancy)
        .await
        .map_err(|e| PageError::internal(&e).for_user(&who))?;
    let page = CalendarPage {
        chrome: who.chrome(&st, format!("Calendar {}", month.label()), "calendar"),
        label: month.label(),
        month: month.to_string(),
        prev_link: month.previous().map(link),
        next_link: month.next().map(link),
        today_link: (month != this_month).then(|| link(this_month)),
        grid: month_grid(venue, month, today, &occupancy, &bookings),
    };
    Ok(html(StatusCode::OK, &page))
}
