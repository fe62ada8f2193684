//! What the HTTP channels share: one client setup (rustls with `ring`, webpki roots, no
//! redirects, a deadline per request) and one classification of answers.
//!
//! | answer | result |
//! |---|---|
//! | 2xx | `Sent`, with the provider's id when the body carries one; a 2xx whose body cannot be read is still `Sent` (the provider accepted it; sending again would double it) |
//! | 408, 409, 425, 429 | `Transient` (409: a request with this idempotency key is still in flight) |
//! | 5xx | `Transient` |
//! | other 3xx/4xx | `Permanent` |
//! | timeout, connection refused or reset, TLS failure | `Transient` |
//!
//! A `Retry-After` (delta seconds or HTTP-date) on any transient answer becomes
//! `retry_after_secs`.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{RequestBuilder, StatusCode};

use crate::{DeliveryResult, excerpt, permanent, transient};

/// The client every HTTP channel uses. TLS is rustls with the `ring` provider and the Mozilla
/// roots from `webpki-roots`; HTTP/1.1 only; redirects are not followed (a provider that
/// redirects a POST is misconfigured, and following it could send the message elsewhere).
pub fn client(timeout: Duration) -> reqwest::Client {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("openevent/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("a static client configuration builds")
}

/// An HTTP answer that came back: status, headers, body (possibly unread on error).
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Option<Vec<u8>>,
}

/// Sends the request. `Err` is the transport failure already classified.
pub async fn execute(channel: &str, req: RequestBuilder) -> Result<Answer, DeliveryResult> {
    let resp = req.send().await.map_err(|e| transport_error(channel, e))?;
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.ok().map(|b| b.to_vec());
    Ok(Answer {
        status,
        headers,
        body,
    })
}

fn transport_error(channel: &str, e: reqwest::Error) -> DeliveryResult {
    // `without_url`: a webhook URL may carry a token in its query.
    let e = e.without_url();
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    let detail = excerpt(&detail, 300);
    if e.is_builder() {
        // A request that cannot be built (a malformed URL) will not build next time either.
        return permanent(format!("{channel}: invalid request: {detail}"));
    }
    let what = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "transport error"
    };
    transient(format!("{channel}: {what}: {detail}"), None)
}

/// Whether the status is worth another attempt.
pub fn is_transient_status(status: StatusCode) -> bool {
    status.is_server_error() || matches!(status.as_u16(), 408 | 409 | 425 | 429)
}

/// Classifies an answer. `provider_id` reads the provider's id from a 2xx body; `describe`
/// reads the provider's error text from an error body.
pub fn classify(
    channel: &str,
    answer: &Answer,
    provider_id: impl Fn(&serde_json::Value) -> Option<String>,
) -> DeliveryResult {
    let status = answer.status;
    let json = answer
        .body
        .as_deref()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok());
    if status.is_success() {
        return DeliveryResult::Sent {
            provider_id: json.as_ref().and_then(provider_id),
        };
    }
    let error = format!(
        "{channel}: http {}: {}",
        status.as_u16(),
        error_text(answer, json.as_ref())
    );
    if is_transient_status(status) {
        transient(error, retry_after(&answer.headers, Timestamp::now()))
    } else {
        permanent(error)
    }
}

/// The provider's error text: a JSON `message`/`error.message`/`error` field, else the body.
pub fn error_text(answer: &Answer, json: Option<&serde_json::Value>) -> String {
    let from_json = json.and_then(|j| {
        j.pointer("/error/message")
            .or_else(|| j.get("message"))
            .or_else(|| j.get("error"))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    });
    let text = from_json.unwrap_or_else(|| {
        answer
            .body
            .as_deref()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default()
    });
    let text = if text.trim().is_empty() {
        answer
            .status
            .canonical_reason()
            .unwrap_or("no reason given")
            .to_owned()
    } else {
        text
    };
    excerpt(&text, 300)
}

/// `Retry-After` as seconds from `now`: delta-seconds or an HTTP-date (RFC 9110 §10.2.3).
/// A date in the past gives 0; an unreadable value gives `None`.
pub fn retry_after(headers: &HeaderMap, now: Timestamp) -> Option<u32> {
    let raw = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = raw.parse::<u64>() {
        return Some(u32::try_from(secs).unwrap_or(u32::MAX));
    }
    let at = jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(raw)
        .ok()?;
    let secs = at.duration_since(now).as_secs().max(0);
    Some(u32::try_from(secs).unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now: Timestamp = "2026-06-10T10:00:00Z".parse().unwrap();
        assert_eq!(retry_after(&headers("120"), now), Some(120));
        assert_eq!(
            retry_after(&headers("Wed, 10 Jun 2026 10:05:00 GMT"), now),
            Some(300)
        );
        assert_eq!(
            retry_after(&headers("Wed, 10 Jun 2026 09:00:00 GMT"), now),
            Some(0)
        );
        assert_eq!(retry_after(&headers("soon"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: Some(body.as_bytes().to_vec()),
        }
    }

    #[test]
    fn statuses_map_to_results() {
        let id = |j: &serde_json::Value| j.get("id").and_then(|v| v.as_str()).map(str::to_owned);
        assert_eq!(
            classify("x", &answer(201, r#"{"id":"M1"}"#), id),
            DeliveryResult::Sent {
                provider_id: Some("M1".into())
            }
        );
        // Accepted even though the body is not JSON: never resend.
        assert_eq!(
            classify("x", &answer(200, "ok"), id),
            DeliveryResult::Sent { provider_id: None }
        );
        for s in [408, 409, 425, 429, 500, 502, 503] {
            assert!(
                matches!(
                    classify("x", &answer(s, ""), id),
                    DeliveryResult::Transient { .. }
                ),
                "{s}"
            );
        }
        for s in [301, 400, 401, 403, 404, 410, 422] {
            assert!(
                matches!(
                    classify("x", &answer(s, ""), id),
                    DeliveryResult::Permanent { .. }
                ),
                "{s}"
            );
        }
        let DeliveryResult::Permanent { error } = classify(
            "sms",
            &answer(
                400,
                r#"{"code":21211,"message":"Invalid 'To' Phone Number"}"#,
            ),
            id,
        ) else {
            panic!()
        };
        assert_eq!(error, "sms: http 400: Invalid 'To' Phone Number");
    }
}
