//! Delivery channels: the adapters that send one message and say how it went.
//!
//! The outbox dispatcher claims a job, builds an [`OutboundMessage`] and calls
//! [`Channel::send`]. The answer is an [`openevent_automation::retry::DeliveryResult`]:
//!
//! | answer | meaning | examples |
//! |---|---|---|
//! | `Sent { provider_id }` | the provider accepted the message | SMTP 250 after DATA, HTTP 2xx |
//! | `Transient { error, retry_after_secs }` | try again later | connection refused, timeout, SMTP 4xx, HTTP 408/409/425/429/5xx |
//! | `Permanent { error }` | trying again cannot help | SMTP 5xx to MAIL/RCPT/DATA/AUTH, HTTP 4xx, an address the channel cannot reach, an invalid header |
//!
//! Classification happens here, once per provider, so the dispatcher only applies its retry
//! policy. Each channel passes the delivery key to the provider in the way the provider
//! understands (see each module): as the email's Message-ID, as an `Idempotency-Key` header, as
//! WhatsApp's `biz_opaque_callback_data`. A channel never retries by itself: one call, one attempt.
//!
//! Error strings start with the channel and the provider's code (`smtp 550: …`, `http 429: …`),
//! never contain a secret, and are cut to a few hundred characters.
//!
//! Where to start reading: [`Channel`], then [`smtp`] (the only channel whose "sent" is not a
//! single request/response) and [`http`] (the shared HTTP classification).

pub mod config;
pub mod http;
pub mod message;
pub mod sms;
pub mod smtp;
pub mod testing;
pub mod webhook;
pub mod whatsapp;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use config::{ConfigError, ProcessEnv, Secret, SecretSource};
pub use message::{OutboundMessage, Sender};
pub use openevent_automation::recipients::Address;
pub use openevent_automation::retry::DeliveryResult;
pub use sms::{SmsChannel, SmsConfig};
pub use smtp::{SmtpChannel, SmtpConfig, SmtpSecurity};
pub use testing::{NoopChannel, RecordingChannel};
pub use webhook::{WebhookChannel, WebhookConfig};
pub use whatsapp::{WhatsAppChannel, WhatsAppConfig};

/// One way of delivering a message. `send` makes exactly one attempt and never panics on a
/// provider's answer; every outcome is a [`DeliveryResult`].
pub trait Channel: Send + Sync {
    /// A short name for logs and error strings (`smtp`, `sms`, …).
    fn name(&self) -> &'static str;

    fn send(&self, msg: &OutboundMessage) -> impl Future<Output = DeliveryResult> + Send;
}

impl<C: Channel> Channel for Arc<C> {
    fn name(&self) -> &'static str {
        (**self).name()
    }

    fn send(&self, msg: &OutboundMessage) -> impl Future<Output = DeliveryResult> + Send {
        (**self).send(msg)
    }
}

impl<C: Channel> Channel for &C {
    fn name(&self) -> &'static str {
        (**self).name()
    }

    fn send(&self, msg: &OutboundMessage) -> impl Future<Output = DeliveryResult> + Send {
        (**self).send(msg)
    }
}

/// [`Channel`] as a trait object, for a dispatcher that picks the channel at run time
/// (`Box<dyn DynChannel>` per configured channel). Every `Channel` is one.
pub trait DynChannel: Send + Sync {
    fn name(&self) -> &'static str;

    fn send_boxed<'a>(
        &'a self,
        msg: &'a OutboundMessage,
    ) -> Pin<Box<dyn Future<Output = DeliveryResult> + Send + 'a>>;
}

impl<C: Channel> DynChannel for C {
    fn name(&self) -> &'static str {
        Channel::name(self)
    }

    fn send_boxed<'a>(
        &'a self,
        msg: &'a OutboundMessage,
    ) -> Pin<Box<dyn Future<Output = DeliveryResult> + Send + 'a>> {
        Box::pin(self.send(msg))
    }
}

/// Cuts provider text for error strings: first `max` characters, control characters as spaces.
pub(crate) fn excerpt(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out.trim().to_owned()
}

pub(crate) fn permanent(error: impl Into<String>) -> DeliveryResult {
    DeliveryResult::Permanent {
        error: error.into(),
    }
}

pub(crate) fn transient(error: impl Into<String>, retry_after_secs: Option<u32>) -> DeliveryResult {
    DeliveryResult::Transient {
        error: error.into(),
        retry_after_secs,
    }
}

/// Logs the outcome of one attempt: the key, the channel and the result, never the body or a
/// secret.
pub(crate) fn log_result(channel: &str, msg: &OutboundMessage, result: &DeliveryResult) {
    match result {
        DeliveryResult::Sent { provider_id } => tracing::info!(
            channel,
            delivery_key = %msg.delivery_key,
            provider_id = provider_id.as_deref().unwrap_or(""),
            "delivery sent"
        ),
        DeliveryResult::Transient {
            error,
            retry_after_secs,
        } => tracing::warn!(
            channel,
            delivery_key = %msg.delivery_key,
            error = %error,
            retry_after_secs = retry_after_secs.unwrap_or(0),
            "delivery failed, transient"
        ),
        DeliveryResult::Permanent { error } => tracing::warn!(
            channel,
            delivery_key = %msg.delivery_key,
            error = %error,
            "delivery failed, permanent"
        ),
    }
}
