//! The payment provider's webhook: `POST /api/v1/events/{id}/deposit-paid`, authenticated by an
//! HMAC-SHA256 signature over `"{timestamp}.{body}"` (headers `X-Openevent-Timestamp` and
//! `X-Openevent-Signature: sha256=<hex>`, at most 5 minutes old), not by a bearer token. Without a
//! configured secret the route answers 404: it is never an open endpoint.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use openevent_core::ids::{EventId, OrgSlug};
use openevent_service::{PaymentError, PaymentReport};
use openevent_store::Store;
use serde::Deserialize;

use crate::AppState;
use crate::problem::Problem;

/// How old a signed request may be.
const TOLERANCE_SECS: i64 = 300;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DepositPaid {
    org: String,
    reference: String,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, Problem> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Problem::unauthorized(format!("missing {name}")))
}

pub async fn deposit_paid<S: Store>(
    State(app): State<AppState<S>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<PaymentReport>, Problem> {
    let Some(secret) = &app.payment_secret else {
        return Err(Problem::not_found("the payment webhook is not configured"));
    };
    openevent_channels::webhook::verify(
        secret.as_bytes(),
        header(&headers, "x-openevent-timestamp")?,
        header(&headers, "x-openevent-signature")?,
        &body,
        app.engine.clock().now(),
        TOLERANCE_SECS,
    )
    .map_err(|e| Problem::unauthorized(format!("signature refused: {e}")))?;
    let input: DepositPaid = serde_json::from_slice(&body).map_err(|e| {
        let message = e.to_string();
        let field = ["org", "reference"]
            .into_iter()
            .find(|f| message.contains(&format!("`{f}`")))
            .unwrap_or("body");
        Problem::invalid(field, message)
    })?;
    let org = OrgSlug::parse(&input.org).map_err(|e| Problem::invalid("org", e.to_string()))?;
    let event_id = EventId::parse(&id).map_err(|_| Problem::not_found(format!("no event {id}")))?;
    app.engine
        .deposit_paid(&org, &event_id, &input.reference)
        .await
        .map(Json)
        .map_err(|e| match e {
            PaymentError::NotFound(_) => Problem::not_found(e.to_string()),
            PaymentError::NoDepositDue(_) | PaymentError::AlreadyPaid(_) => {
                Problem::conflict(e.to_string())
            }
            PaymentError::BadReference(_) => Problem::invalid("reference", e.to_string()),
            PaymentError::Store(s) => Problem::internal(&s),
            PaymentError::Workflow(w) => Problem::internal(&w),
        })
}
