//! SMS through a Twilio-compatible API: `POST {base_url}/2010-04-01/Accounts/{account_sid}/Messages.json`,
//! form-encoded `To`, `Body` and `From` (or `MessagingServiceSid`), HTTP basic auth with the
//! account SID (or an API key SID) and the auth token.
//!
//! Idempotency: the request carries the delivery key as an `Idempotency-Key` header. Twilio's
//! Messages API documents no idempotency key of its own (its `I-Twilio-Idempotency-Token` is a
//! header Twilio puts on the webhooks it sends, not one it reads), so against Twilio itself a
//! request that timed out after Twilio accepted it can be sent twice; compatible providers that
//! honour `Idempotency-Key` de-duplicate it. The shared HTTP rules classify the answer
//! ([`crate::http`]); the provider id is the message `sid`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{
    ConfigError, Problems, Secret, SecretSource, check_base_url, check_env_name, check_timeout,
    default_timeout_secs, read_secret,
};
use crate::http;
use crate::smtp::address_kind;
use crate::{Address, Channel, DeliveryResult, OutboundMessage, log_result, permanent};

/// ```toml
/// account_sid = "AC0123456789abcdef0123456789abcdef"
/// auth_token_env = "OPENEVENT_TWILIO_TOKEN"
/// from = "+41445005050"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsConfig {
    #[serde(default = "default_base_url")]
    pub base_url: String,
    pub account_sid: String,
    /// An API key SID (`SK…`) to authenticate with instead of the account SID.
    #[serde(default)]
    pub api_key_sid: Option<String>,
    /// The environment variable holding the auth token (or the API key's secret).
    pub auth_token_env: String,
    /// The sender: an E.164 number or an alphanumeric sender id. Exactly one of `from` and
    /// `messaging_service_sid`.
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub messaging_service_sid: Option<String>,
    /// Where the provider reports delivery status.
    #[serde(default)]
    pub status_callback: Option<String>,
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
}

fn default_base_url() -> String {
    "https://api.twilio.com".to_owned()
}

fn is_sid(s: &str) -> bool {
    s.len() >= 2 && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl SmsConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut p = Problems::default();
        check_base_url(&mut p, "sms.base_url", &self.base_url);
        if !is_sid(&self.account_sid) {
            p.push(
                "sms.account_sid",
                "must be the account SID (letters and digits)",
            );
        }
        if self.api_key_sid.as_deref().is_some_and(|s| !is_sid(s)) {
            p.push(
                "sms.api_key_sid",
                "must be an API key SID (letters and digits)",
            );
        }
        check_env_name(&mut p, "sms.auth_token_env", &self.auth_token_env);
        match (&self.from, &self.messaging_service_sid) {
            (Some(_), Some(_)) => p.push(
                "sms.messaging_service_sid",
                "give either sms.from or sms.messaging_service_sid, not both",
            ),
            (None, None) => p.push(
                "sms.from",
                "required unless sms.messaging_service_sid is set",
            ),
            (Some(f), None) if f.trim().is_empty() => p.push("sms.from", "must not be empty"),
            (None, Some(s)) if !is_sid(s) => p.push(
                "sms.messaging_service_sid",
                "must be a SID (letters and digits)",
            ),
            _ => {}
        }
        if let Some(url) = &self.status_callback {
            check_base_url(&mut p, "sms.status_callback", url);
        }
        check_timeout(&mut p, "sms.timeout_secs", self.timeout_secs);
        p.finish()
    }
}

#[derive(Debug, Clone)]
pub struct SmsChannel {
    url: String,
    user: String,
    token: Secret,
    sender: (&'static str, String),
    status_callback: Option<String>,
    client: reqwest::Client,
}

impl SmsChannel {
    pub fn new(config: &SmsConfig, secrets: &dyn SecretSource) -> Result<Self, ConfigError> {
        config.validate()?;
        let sender = match (&config.from, &config.messaging_service_sid) {
            (Some(from), _) => ("From", from.trim().to_owned()),
            (None, Some(sid)) => ("MessagingServiceSid", sid.clone()),
            (None, None) => unreachable!("validated"),
        };
        Ok(SmsChannel {
            url: format!(
                "{}/2010-04-01/Accounts/{}/Messages.json",
                config.base_url, config.account_sid
            ),
            user: config
                .api_key_sid
                .clone()
                .unwrap_or_else(|| config.account_sid.clone()),
            token: read_secret(secrets, "sms.auth_token_env", &config.auth_token_env)?,
            sender,
            status_callback: config.status_callback.clone(),
            client: http::client(Duration::from_secs(config.timeout_secs)),
        })
    }

    async fn attempt(&self, msg: &OutboundMessage) -> DeliveryResult {
        let Address::Phone(to) = &msg.to else {
            return permanent(format!(
                "sms: cannot deliver to a {} address",
                address_kind(&msg.to)
            ));
        };
        let mut form: Vec<(&str, &str)> = vec![
            ("To", to.as_str()),
            (self.sender.0, self.sender.1.as_str()),
            ("Body", msg.text.as_str()),
        ];
        if let Some(cb) = &self.status_callback {
            form.push(("StatusCallback", cb.as_str()));
        }
        let req = self
            .client
            .post(&self.url)
            .basic_auth(&self.user, Some(self.token.expose()))
            .header("Idempotency-Key", msg.delivery_key.as_str())
            .form(&form);
        match http::execute("sms", req).await {
            Ok(answer) => http::classify("sms", &answer, |j| {
                j.get("sid").and_then(|v| v.as_str()).map(str::to_owned)
            }),
            Err(failed) => failed,
        }
    }
}

impl Channel for SmsChannel {
    fn name(&self) -> &'static str {
        "sms"
    }

    async fn send(&self, msg: &OutboundMessage) -> DeliveryResult {
        let result = self.attempt(msg).await;
        log_result("sms", msg, &result);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_sender() {
        let base = || SmsConfig {
            base_url: default_base_url(),
            account_sid: "AC123".into(),
            api_key_sid: None,
            auth_token_env: "TWILIO_TOKEN".into(),
            from: Some("+41445005050".into()),
            messaging_service_sid: None,
            status_callback: None,
            timeout_secs: 10,
        };
        assert!(base().validate().is_ok());
        let mut c = base();
        c.messaging_service_sid = Some("MG1".into());
        assert!(c.validate().unwrap_err().names("sms.messaging_service_sid"));
        let mut c = base();
        c.from = None;
        assert!(c.validate().unwrap_err().names("sms.from"));
        let mut c = base();
        c.account_sid = "AC/../x".into();
        assert!(c.validate().unwrap_err().names("sms.account_sid"));
    }
}
