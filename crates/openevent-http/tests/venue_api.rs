//! The venue API: each organization may keep its own venue (rooms, products, policies), validated
//! like a venue file; bookings use it from the next message on; other organizations are untouched.

mod common;

use axum::http::StatusCode;
use common::api;
use serde_json::{Value, json};

#[tokio::test]
async fn an_organization_edits_its_own_venue_and_its_offers_use_it() {
    let api = api().await;
    let (s, r) = api.call("GET", &api.viewer, "/api/v1/venue", None).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["source"], "server");
    assert_eq!(r["revision"], Value::Null);
    let mut venue = r["venue"].clone();
    let room_c = venue["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .position(|room| room["id"] == "room_c")
        .unwrap();
    assert_eq!(
        venue["rooms"][room_c]["full_day_rate_chf"],
        json!("1100.00"),
        "{}",
        venue["rooms"][room_c]
    );
    venue["rooms"][room_c]["full_day_rate_chf"] = json!("1234.00");
    venue["name"] = json!("The Atelier West");
    let (s, r) = api
        .call("PUT", &api.manager, "/api/v1/venue", Some(&venue))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["revision"], 1);
    assert_eq!(r["source"], "organization");
    // The next offer is priced with the new rate.
    api.offer_sent().await;
    let (_, list) = api.call("GET", &api.viewer, "/api/v1/events", None).await;
    let id = list["items"][0]["event_id"].as_str().unwrap().to_owned();
    let (_, event) = api
        .call("GET", &api.viewer, &format!("/api/v1/events/{id}"), None)
        .await;
    let items = event["offers"][0]["line_items"].to_string();
    assert!(items.contains("1234"), "{items}");
    // Another organization still has the server's venue.
    let (_, r) = api.call("GET", &api.rival, "/api/v1/venue", None).await;
    assert_eq!(r["source"], "server");
    assert_eq!(r["venue"]["name"], "The Atelier");
}

#[tokio::test]
async fn a_bad_venue_is_refused_naming_the_field_and_nothing_changes() {
    let api = api().await;
    let (_, r) = api.call("GET", &api.viewer, "/api/v1/venue", None).await;
    let mut venue = r["venue"].clone();
    venue["operating_hours"]["open"] = json!("23:30");
    let (s, r) = api
        .call("PUT", &api.manager, "/api/v1/venue", Some(&venue))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    assert_eq!(r["field"], "operating_hours", "{r}");
    let unknown = json!({ "name": "x", "surprise": true });
    let (s, r) = api
        .call("PUT", &api.manager, "/api/v1/venue", Some(&unknown))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    let (s, _) = api
        .call("PUT", &api.viewer, "/api/v1/venue", Some(&venue))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (_, r) = api.call("GET", &api.viewer, "/api/v1/venue", None).await;
    assert_eq!(r["source"], "server");
}
