//! The automation API through the router: workflows, settings, rules, overrides with their
//! explanation, previews and the dead-letter queue — validated, role-checked and tenant-scoped.

mod common;

use axum::http::StatusCode;
use common::api;
use serde_json::{Value, json};

#[tokio::test]
async fn install_assign_explain_and_preview() {
    let api = api().await;
    let (s, r) = api
        .call(
            "POST",
            &api.manager,
            "/api/v1/workflows/library/install",
            Some(&json!({ "keys": ["offer-follow-up"] })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(
        r["installed"][0],
        json!({ "key": "offer-follow-up", "version": 1 })
    );
    let (s, r) = api
        .call("GET", &api.viewer, "/api/v1/workflows", None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(r["workflows"][0]["key"], "offer-follow-up");

    // No rule: the organization's default (the built-in settings name the offer follow-up).
    let event = api.offer_sent().await;
    let (s, r) = api
        .call(
            "GET",
            &api.viewer,
            &format!("/api/v1/events/{event}/workflow"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["workflow"], "offer-follow-up");
    assert_eq!(r["decided_by"]["by"], "org_default");
    assert!(r["reason"].as_str().unwrap().contains("default"), "{r}");

    // The preview shows both follow-up messages, rendered, in order.
    let (s, r) = api
        .call(
            "GET",
            &api.viewer,
            &format!("/api/v1/events/{event}/automation/preview"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let upcoming = r["upcoming"].as_array().unwrap();
    assert_eq!(upcoming.len(), 2, "{r}");
    assert_eq!(upcoming[0]["channel"], "email");
    assert_eq!(
        upcoming[0]["rendered"]["subject"], "Your offer from The Atelier",
        "{r}"
    );

    // A manual override wins, and is explained.
    let (s, r) = api
        .call(
            "PUT",
            &api.manager,
            &format!("/api/v1/events/{event}/workflow"),
            Some(&json!({ "mode": "manual", "workflow": "offer-follow-up" })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["workflow"], "offer-follow-up");
    assert_eq!(r["decided_by"]["by"], "override");

    // An override pointing nowhere resolves to no workflow (it does not fall through).
    let (s, r) = api
        .call(
            "PUT",
            &api.manager,
            &format!("/api/v1/events/{event}/workflow"),
            Some(&json!({ "mode": "manual", "workflow": "no-such-workflow" })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["workflow"], Value::Null);

    let (s, r) = api
        .call(
            "GET",
            &api.viewer,
            &format!("/api/v1/events/{event}/automation/preview"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert!(r["upcoming"].is_array());
}

#[tokio::test]
async fn definitions_are_validated_and_versioned() {
    let api = api().await;
    let mut spec = json!({
        "key": "nudge",
        "name": "Nudge",
        "version": 1,
        "steps": [{
            "key": "one",
            "trigger": "offer_sent",
            "channel": "email",
            "recipients": { "audience": ["client"] },
            "timing": { "anchor": "trigger", "offset": { "days": 2 }, "if_past": "send_now" },
            "template": { "subject": "Hello {{ client.name }}", "body": "Your offer: {{ offer.total }}" }
        }]
    });
    let (s, r) = api
        .call("PUT", &api.manager, "/api/v1/workflows/nudge", Some(&spec))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["version"], 1);
    // The same definition again: no new version.
    let (_, r) = api
        .call("PUT", &api.manager, "/api/v1/workflows/nudge", Some(&spec))
        .await;
    assert_eq!(r["version"], 1);
    spec["steps"][0]["template"]["body"] = json!("Changed: {{ offer.total }}");
    let (_, r) = api
        .call("PUT", &api.manager, "/api/v1/workflows/nudge", Some(&spec))
        .await;
    assert_eq!(r["version"], 2);
    let (_, r) = api
        .call("GET", &api.viewer, "/api/v1/workflows", None)
        .await;
    assert_eq!(r["workflows"][0]["versions"], 2);

    // A template using a variable the trigger does not provide is refused, naming the step.
    spec["steps"][0]["template"]["body"] = json!("{{ appointment.date }}");
    let (s, r) = api
        .call("PUT", &api.manager, "/api/v1/workflows/nudge", Some(&spec))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    assert!(r["field"].as_str().unwrap().contains("steps[0]"), "{r}");
    // Unknown trigger names and unknown fields are refused too.
    spec["steps"][0]["trigger"] = json!("offer_exploded");
    let (s, _) = api
        .call("PUT", &api.manager, "/api/v1/workflows/nudge", Some(&spec))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // A viewer may read but not write.
    spec["steps"][0]["trigger"] = json!("offer_sent");
    spec["steps"][0]["template"]["body"] = json!("Hi");
    let (s, _) = api
        .call("PUT", &api.viewer, "/api/v1/workflows/nudge", Some(&spec))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn another_organization_sees_none_of_it() {
    let api = api().await;
    api.call(
        "POST",
        &api.manager,
        "/api/v1/workflows/library/install",
        Some(&json!({})),
    )
    .await;
    let event = api.offer_sent().await;
    let (_, r) = api.call("GET", &api.rival, "/api/v1/workflows", None).await;
    assert_eq!(r["workflows"], json!([]));
    for uri in [
        format!("/api/v1/events/{event}/workflow"),
        format!("/api/v1/events/{event}/automation/preview"),
        "/api/v1/workflows/offer-follow-up".to_owned(),
    ] {
        let (s, _) = api.call("GET", &api.rival, &uri, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{uri}");
    }
    let (s, _) = api
        .call(
            "PUT",
            &api.rival,
            &format!("/api/v1/events/{event}/workflow"),
            Some(&json!({ "mode": "clear" })),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, r) = api.call("GET", &api.rival, "/api/v1/outbox", None).await;
    assert_eq!(r["jobs"], json!([]));
}

#[tokio::test]
async fn dead_jobs_can_be_requeued_or_abandoned_only_when_dead() {
    let api = api().await;
    let (s, _) = api
        .call("POST", &api.manager, "/api/v1/outbox/nope/requeue", None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, r) = api
        .call(
            "POST",
            &api.manager,
            "/api/v1/outbox/nope/abandon",
            Some(&json!({ "reason": " " })),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    let (s, _) = api
        .call("GET", &api.viewer, "/api/v1/outbox?status=bogus", None)
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}

/// Every documented route that names a resource, with another organization's ids, answers 404
/// (upserts into the caller's own organization aside): the table is the OpenAPI document, so a
/// new route is covered as soon as it is documented.
#[tokio::test]
async fn every_documented_route_hides_another_organizations_resources() {
    let api = api().await;
    api.call(
        "POST",
        &api.manager,
        "/api/v1/workflows/library/install",
        Some(&json!({})),
    )
    .await;
    let (s, _) = api
        .call(
            "PUT",
            &api.manager,
            "/api/v1/automation/rules/weddings",
            Some(&json!({
                "id": "weddings", "workflow": "offer-follow-up", "priority": 1,
                "created_at": "2027-01-01T00:00:00Z", "event_type": "wedding"
            })),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let event = api.offer_sent().await;
    let (_, tasks) = api.call("GET", &api.manager, "/api/v1/tasks", None).await;
    let task = tasks["items"][0]["task_id"]
        .as_str()
        .unwrap_or("TASK-X")
        .to_owned();
    let (_, jobs) = api.call("GET", &api.manager, "/api/v1/outbox", None).await;
    let job = jobs["jobs"][0]["job_id"].as_str().unwrap().to_owned();
    let (_, doc) = api
        .call("GET", &api.manager, "/api/v1/openapi.json", None)
        .await;
    let (_, spec) = api
        .call(
            "GET",
            &api.manager,
            "/api/v1/workflows/offer-follow-up",
            None,
        )
        .await;
    let mut checked = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        if !path.contains('{') || path.ends_with("/deposit-paid") {
            continue;
        }
        let uri = path
            .replace("/events/{id}", &format!("/events/{event}"))
            .replace("/tasks/{id}", &format!("/tasks/{task}"))
            .replace("/outbox/{id}", &format!("/outbox/{job}"))
            .replace("/rules/{id}", "/rules/weddings")
            .replace("{key}", "offer-follow-up")
            .replace("{email}", "max@huber.example");
        for method in ops.as_object().unwrap().keys() {
            let method = method.to_uppercase();
            // A PUT of a workflow or rule by key writes into the caller's own organization.
            if method == "PUT" && (path.contains("{key}") || path.contains("/rules/")) {
                continue;
            }
            // A valid body for each write, so that only the tenancy check can refuse it.
            let body = match (method.as_str(), path.rsplit('/').next().unwrap()) {
                ("GET" | "DELETE", _) => None,
                (_, "preview") => Some(spec.clone()),
                (_, "workflow") => Some(json!({"mode": "clear"})),
                (_, "abandon" | "reject") => Some(json!({"reason": "x"})),
                (_, "requeue") => None,
                _ => Some(json!({})),
            };
            let (s, r) = api.call(&method, &api.rival, &uri, body.as_ref()).await;
            assert_eq!(
                s,
                StatusCode::NOT_FOUND,
                "{method} {uri} answered {s} to another organization: {r}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 14, "{checked}");
    // And nothing changed for the owner.
    let (s, r) = api
        .call(
            "GET",
            &api.manager,
            &format!("/api/v1/events/{event}/workflow"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(r["workflow"], "offer-follow-up");
}

#[tokio::test]
async fn every_answer_forbids_content_sniffing() {
    use tower::ServiceExt;
    let api = api().await;
    for uri in ["/healthz", "/api/v1/workflows", "/api/v1/no-such-route"] {
        let res = api
            .router
            .clone()
            .oneshot(
                axum::http::Request::get(uri)
                    .header("authorization", format!("Bearer {}", api.viewer))
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(res.headers()["x-content-type-options"], "nosniff", "{uri}");
    }
}
