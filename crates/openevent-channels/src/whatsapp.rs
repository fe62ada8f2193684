//! WhatsApp through Meta's Cloud API: `POST {base_url}/{api_version}/{phone_number_id}/messages`
//! with a bearer token and a JSON text message.
//!
//! The Cloud API has no idempotency key. The delivery key travels as
//! `biz_opaque_callback_data`, which Meta echoes in its status webhooks, so a delivery receipt
//! can be matched to the ledger; a request that timed out after Meta accepted it can therefore
//! be sent twice, and the receipts show it.
//!
//! Meta answers some temporary conditions with HTTP 400 and an error code (rate limits,
//! "service unavailable"); those codes ([`TRANSIENT_CODES`]) are `Transient` whatever the
//! status. Otherwise the shared HTTP rules apply ([`crate::http`]). Text messages reach a
//! client only inside the 24-hour customer-service window; outside it Meta refuses them
//! (code 131047, `Permanent`): business-initiated messages need approved templates, which this
//! channel does not send.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::{
    ConfigError, Problems, Secret, SecretSource, check_base_url, check_env_name, check_timeout,
    default_timeout_secs, read_secret,
};
use crate::http::{self, Answer};
use crate::smtp::address_kind;
use crate::{Address, Channel, DeliveryResult, OutboundMessage, log_result, permanent, transient};

/// Graph API error codes that mean "later", even on a 400: 1 and 2 (unknown / service error),
/// 4 and 80007 (rate limits), 130429 (throughput), 131000 (something went wrong), 131016
/// (service unavailable), 131048 (spam rate limit), 131056 (pair rate limit), 133004 (server
/// temporarily unavailable).
pub const TRANSIENT_CODES: &[i64] = &[
    1, 2, 4, 80007, 130429, 131000, 131016, 131048, 131056, 133004,
];

/// ```toml
/// phone_number_id = "106540352242922"
/// token_env = "OPENEVENT_WHATSAPP_TOKEN"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhatsAppConfig {
    #[serde(default = "default_base_url")]
    pub base_url: String,
    #[serde(default = "default_api_version")]
    pub api_version: String,
    pub phone_number_id: String,
    /// The environment variable holding the access token.
    pub token_env: String,
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
}

fn default_base_url() -> String {
    "https://graph.facebook.com".to_owned()
}

fn default_api_version() -> String {
    "v21.0".to_owned()
}

impl WhatsAppConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut p = Problems::default();
        check_base_url(&mut p, "whatsapp.base_url", &self.base_url);
        let v = &self.api_version;
        if !(v.starts_with('v')
            && v.len() > 1
            && v[1..].bytes().all(|b| b.is_ascii_digit() || b == b'.'))
        {
            p.push("whatsapp.api_version", "must look like v21.0");
        }
        if self.phone_number_id.is_empty()
            || !self.phone_number_id.bytes().all(|b| b.is_ascii_digit())
        {
            p.push(
                "whatsapp.phone_number_id",
                "must be the numeric phone number id",
            );
        }
        check_env_name(&mut p, "whatsapp.token_env", &self.token_env);
        check_timeout(&mut p, "whatsapp.timeout_secs", self.timeout_secs);
        p.finish()
    }
}

#[derive(Debug, Clone)]
pub struct WhatsAppChannel {
    url: String,
    token: Secret,
    client: reqwest::Client,
}

impl WhatsAppChannel {
    pub fn new(config: &WhatsAppConfig, secrets: &dyn SecretSource) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(WhatsAppChannel {
            url: format!(
                "{}/{}/{}/messages",
                config.base_url, config.api_version, config.phone_number_id
            ),
            token: read_secret(secrets, "whatsapp.token_env", &config.token_env)?,
            client: http::client(Duration::from_secs(config.timeout_secs)),
        })
    }

    async fn attempt(&self, msg: &OutboundMessage) -> DeliveryResult {
        let Address::Phone(to) = &msg.to else {
            return permanent(format!(
                "whatsapp: cannot deliver to a {} address",
                address_kind(&msg.to)
            ));
        };
        let body = json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to.as_str(),
            "type": "text",
            "text": { "preview_url": false, "body": msg.text },
            "biz_opaque_callback_data": msg.delivery_key,
        });
        let req = self
            .client
            .post(&self.url)
            .bearer_auth(self.token.expose())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        match http::execute("whatsapp", req).await {
            Ok(answer) => classify(&answer),
            Err(failed) => failed,
        }
    }
}

fn classify(answer: &Answer) -> DeliveryResult {
    let result = http::classify("whatsapp", answer, |j| {
        j.pointer("/messages/0/id")
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    });
    let DeliveryResult::Permanent { error } = &result else {
        return result;
    };
    let code = answer
        .body
        .as_deref()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
        .and_then(|j| j.pointer("/error/code").and_then(|c| c.as_i64()));
    match code {
        Some(c) if TRANSIENT_CODES.contains(&c) => transient(
            format!("{error} [code {c}]"),
            http::retry_after(&answer.headers, jiff::Timestamp::now()),
        ),
        Some(c) => permanent(format!("{error} [code {c}]")),
        None => result,
    }
}

impl Channel for WhatsAppChannel {
    fn name(&self) -> &'static str {
        "whatsapp"
    }

    async fn send(&self, msg: &OutboundMessage) -> DeliveryResult {
        let result = self.attempt(msg).await;
        log_result("whatsapp", msg, &result);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;
    use reqwest::header::HeaderMap;

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: Some(body.as_bytes().to_vec()),
        }
    }

    #[test]
    fn rate_limits_on_a_400_are_transient() {
        let r = classify(&answer(
            400,
            r#"{"error":{"message":"(#130429) Rate limit hit","code":130429}}"#,
        ));
        assert_eq!(
            r,
            DeliveryResult::Transient {
                error: "whatsapp: http 400: (#130429) Rate limit hit [code 130429]".into(),
                retry_after_secs: None
            }
        );
        let r = classify(&answer(
            400,
            r#"{"error":{"message":"(#131047) Re-engagement message","code":131047}}"#,
        ));
        assert!(matches!(r, DeliveryResult::Permanent { .. }), "{r:?}");
    }

    #[test]
    fn config_is_checked() {
        let c: WhatsAppConfig = serde_json::from_str(
            r#"{"phone_number_id":"12ab","token_env":"WA_TOKEN","base_url":"http://graph.example"}"#,
        )
        .unwrap();
        let err = c.validate().unwrap_err();
        assert!(err.names("whatsapp.phone_number_id"), "{err}");
        assert!(err.names("whatsapp.base_url"), "{err}");
        assert!(!err.names("whatsapp.token_env"), "{err}");
    }
}
