//! Request bodies: JSON that names the offending field when it is wrong, and raw bytes with the
//! size limit reported as 413.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;

use crate::problem::Problem;

fn bytes_problem(e: BytesRejection) -> Problem {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        Problem::too_large(format!("request body too large: {}", e.body_text()))
    } else {
        Problem::bad_request(e.body_text())
    }
}

fn content_type(req: &Request) -> Option<String> {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
}

/// A JSON body (`application/json`), deserialised strictly.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, St: Send + Sync> FromRequest<St> for JsonBody<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &St) -> Result<Self, Self::Rejection> {
        if content_type(&req).as_deref() != Some("application/json") {
            return Err(Problem::unsupported_media(
                "send the body as Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(bytes_problem)?;
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        match serde_path_to_error::deserialize(de) {
            Ok(v) => Ok(JsonBody(v)),
            Err(e) => {
                let path = e.path().to_string();
                let inner = e.into_inner();
                if inner.is_syntax() || inner.is_eof() {
                    Err(Problem::bad_request(format!("malformed JSON: {inner}")))
                } else {
                    let message = inner.to_string();
                    // serde_path_to_error puts an unknown field in the path; a missing one is
                    // only named in the message.
                    let field = match unknown_field(&message) {
                        Some(name) if path == "." => name,
                        _ => path,
                    };
                    Err(Problem::invalid(field, message))
                }
            }
        }
    }
}

/// serde names an unknown or missing field in its message ("unknown field `x`, expected …"),
/// not in the path: the client needs that name.
fn unknown_field(message: &str) -> Option<String> {
    let rest = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("missing field `"))?;
    Some(rest.split('`').next()?.to_owned())
}

/// A raw RFC 5322 message (`message/rfc822`).
pub struct RawMessage(pub Bytes);

impl<St: Send + Sync> FromRequest<St> for RawMessage {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &St) -> Result<Self, Self::Rejection> {
        if content_type(&req).as_deref() != Some("message/rfc822") {
            return Err(Problem::unsupported_media(
                "send the message as Content-Type: message/rfc822",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(bytes_problem)?;
        Ok(RawMessage(bytes))
    }
}
