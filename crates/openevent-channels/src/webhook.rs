//! A signed HTTP call: `POST <url>` with a JSON body, to the URL the automation step names.
//!
//! Body: `{"delivery_key", "subject"?, "text", "html"?}`. Headers:
//!
//! | header | value |
//! |---|---|
//! | `X-Openevent-Timestamp` | Unix seconds when the attempt was signed |
//! | `X-Openevent-Signature` | `sha256=` and the lowercase hex HMAC-SHA256, keyed with the shared secret, of `<timestamp>.<body bytes>` |
//! | `Idempotency-Key` | the delivery key: the same on every attempt of this message |
//!
//! A receiver recomputes the HMAC over the timestamp header, a `.`, and the raw body, compares
//! in constant time, and refuses timestamps older than a few minutes ([`verify`] does exactly
//! that). Each attempt is signed afresh, so a retry carries a new timestamp and the same
//! `Idempotency-Key`. The URL must be https (http only to a loopback host). The shared HTTP
//! rules classify the answer ([`crate::http`]); a JSON `id` in a 2xx answer is the provider id.

use std::time::Duration;

use hmac::{Hmac, Mac};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::config::{
    ConfigError, Problems, Secret, SecretSource, check_base_url, check_env_name, check_timeout,
    default_timeout_secs, read_secret,
};
use crate::http;
use crate::smtp::address_kind;
use crate::{Address, Channel, DeliveryResult, OutboundMessage, log_result, permanent};

pub const SIGNATURE_HEADER: &str = "X-Openevent-Signature";
pub const TIMESTAMP_HEADER: &str = "X-Openevent-Timestamp";
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// ```toml
/// secret_env = "OPENEVENT_WEBHOOK_SECRET"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// The environment variable holding the shared signing secret.
    pub secret_env: String,
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
}

impl WebhookConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut p = Problems::default();
        check_env_name(&mut p, "webhook.secret_env", &self.secret_env);
        check_timeout(&mut p, "webhook.timeout_secs", self.timeout_secs);
        p.finish()
    }
}

#[derive(Debug, Clone)]
pub struct WebhookChannel {
    secret: Secret,
    client: reqwest::Client,
}

/// The JSON body a webhook receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookPayload {
    pub delivery_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

impl WebhookChannel {
    pub fn new(config: &WebhookConfig, secrets: &dyn SecretSource) -> Result<Self, ConfigError> {
        config.validate()?;
        let secret = read_secret(secrets, "webhook.secret_env", &config.secret_env)?;
        if secret.expose().len() < 16 {
            return Err(ConfigError::new(
                "webhook.secret_env",
                format!(
                    "the secret in {} is shorter than 16 characters",
                    config.secret_env
                ),
            ));
        }
        Ok(WebhookChannel {
            secret,
            client: http::client(Duration::from_secs(config.timeout_secs)),
        })
    }

    async fn attempt(&self, msg: &OutboundMessage) -> DeliveryResult {
        let Address::Webhook(url) = &msg.to else {
            return permanent(format!(
                "webhook: cannot deliver to a {} address",
                address_kind(&msg.to)
            ));
        };
        let mut p = Problems::default();
        check_base_url(&mut p, "url", url.trim_end_matches('/'));
        if let Err(e) = p.finish() {
            return permanent(format!("webhook: {e}"));
        }
        let body = serde_json::to_vec(&WebhookPayload {
            delivery_key: msg.delivery_key.clone(),
            subject: msg.subject.clone(),
            text: msg.text.clone(),
            html: msg.html.clone(),
        })
        .expect("strings serialise");
        let timestamp = Timestamp::now().as_second();
        let signature = sign(self.secret.expose().as_bytes(), timestamp, &body);
        let req = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, signature)
            .header(IDEMPOTENCY_HEADER, msg.delivery_key.as_str())
            .body(body);
        match http::execute("webhook", req).await {
            Ok(answer) => http::classify("webhook", &answer, |j| {
                j.get("id").and_then(|v| match v {
                    serde_json::Value::String(s) => Some(s.clone()),
                    serde_json::Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
            }),
            Err(failed) => failed,
        }
    }
}

impl Channel for WebhookChannel {
    fn name(&self) -> &'static str {
        "webhook"
    }

    async fn send(&self, msg: &OutboundMessage) -> DeliveryResult {
        let result = self.attempt(msg).await;
        log_result("webhook", msg, &result);
        result
    }
}

fn mac(secret: &[u8], timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `X-Openevent-Signature` value: `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let tag = mac(secret, &timestamp.to_string(), body)
        .finalize()
        .into_bytes();
    format!("sha256={}", hex::encode(tag))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature or timestamp header is malformed")]
    Malformed,
    #[error("the timestamp is outside the accepted window")]
    Stale,
    #[error("the signature does not match")]
    Mismatch,
}

/// What a receiver does: checks the timestamp is within `tolerance_secs` of `now` and the
/// signature matches (constant-time).
pub fn verify(
    secret: &[u8],
    timestamp_header: &str,
    signature_header: &str,
    body: &[u8],
    now: Timestamp,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    let ts: i64 = timestamp_header
        .trim()
        .parse()
        .map_err(|_| SignatureError::Malformed)?;
    let hex_tag = signature_header
        .trim()
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed)?;
    let tag = hex::decode(hex_tag).map_err(|_| SignatureError::Malformed)?;
    if (now.as_second() - ts).abs() > tolerance_secs {
        return Err(SignatureError::Stale);
    }
    mac(secret, timestamp_header.trim(), body)
        .verify_slice(&tag)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Computed independently:
        // printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac 'whsec_0123456789abcdef'
        let sig = sign(b"whsec_0123456789abcdef", 1_700_000_000, br#"{"a":1}"#);
        assert_eq!(
            sig,
            "sha256=9f5e37cdc7ea587c7c02062d93283cad000d66a831b2a1676418696db47ed6c2"
        );
        let now = Timestamp::from_second(1_700_000_100).unwrap();
        let key = b"whsec_0123456789abcdef";
        assert_eq!(
            verify(key, "1700000000", &sig, br#"{"a":1}"#, now, 300),
            Ok(())
        );
        assert_eq!(
            verify(key, "1700000000", &sig, br#"{"a":2}"#, now, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(key, "1700000001", &sig, br#"{"a":1}"#, now, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(key, "1700000000", &sig, br#"{"a":1}"#, now, 10),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(key, "1700000000", "md5=00", br#"{"a":1}"#, now, 300),
            Err(SignatureError::Malformed)
        );
    }
}
