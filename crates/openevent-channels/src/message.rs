//! The message a channel sends: owned, serialisable (the dispatcher may store it with the job),
//! channel-neutral. Email uses every field; WhatsApp and SMS send `text`; the webhook posts
//! subject, text and HTML as JSON.

use openevent_automation::recipients::Address;
use openevent_automation::template::Rendered;
use openevent_core::workflow::OutboxEmail;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A From mailbox: address and optional display name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sender {
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundMessage {
    /// The delivery ledger's key for this message; the provider's idempotency key.
    pub delivery_key: String,
    pub to: Address,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub text: String,
    /// Email only: sent as multipart/alternative next to `text`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    /// Email: our Message-ID, without angle brackets. Client replies from the booking workflow
    /// carry theirs (`<draftid>.<org>@openevent.invalid`); without one it is derived from the
    /// delivery key ([`message_id_for_key`]), so a resend carries the same id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// Email threading: the message this one answers (without brackets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<String>,
    /// Email threading: the thread's Message-IDs, oldest first (without brackets).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
    /// Email: overrides the channel's configured From.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Sender>,
    /// Email: a Reply-To address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
}

impl OutboundMessage {
    /// A message from an automation step's rendered template.
    pub fn new(delivery_key: impl Into<String>, to: Address, rendered: Rendered) -> Self {
        OutboundMessage {
            delivery_key: delivery_key.into(),
            to,
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
            message_id: None,
            in_reply_to: None,
            references: Vec::new(),
            from: None,
            reply_to: None,
        }
    }

    /// The approved client reply the booking workflow queued: its Message-ID and threading
    /// headers are kept as the workflow chose them.
    pub fn from_outbox(email: &OutboxEmail) -> Self {
        OutboundMessage {
            delivery_key: email.delivery_key.clone(),
            to: Address::Email(email.to.as_str().to_owned()),
            subject: Some(email.subject.clone()),
            text: email.body.clone(),
            html: None,
            message_id: Some(email.message_id.as_str().to_owned()),
            in_reply_to: email.in_reply_to.as_ref().map(|m| m.as_str().to_owned()),
            references: email
                .references
                .iter()
                .map(|m| m.as_str().to_owned())
                .collect(),
            from: None,
            reply_to: None,
        }
    }

    /// The Message-ID this message goes out with (without brackets): the explicit one, or one
    /// derived from the delivery key under `domain`.
    pub fn effective_message_id(&self, domain: &str) -> String {
        match &self.message_id {
            Some(id) => strip_brackets(id).to_owned(),
            None => message_id_for_key(&self.delivery_key, domain),
        }
    }
}

/// The Message-ID for a delivery key: `<key>@<domain>` when the key is a valid dot-atom (as
/// automation keys `dk1-…` are, matching `DeliveryKey::message_id`), otherwise
/// `oe-<32 hex of SHA-256(key)>@<domain>`. Stable: the same key always gives the same id.
pub fn message_id_for_key(key: &str, domain: &str) -> String {
    if is_dot_atom(key) {
        format!("{key}@{domain}")
    } else {
        let digest = Sha256::digest(key.as_bytes());
        format!("oe-{}@{domain}", hex::encode(&digest[..16]))
    }
}

pub(crate) fn strip_brackets(id: &str) -> &str {
    let s = id.trim();
    s.strip_prefix('<')
        .and_then(|x| x.strip_suffix('>'))
        .unwrap_or(s)
}

/// RFC 5322 `dot-atom-text` restricted to ASCII.
fn is_dot_atom(s: &str) -> bool {
    const SPECIALS: &[u8] = b"!#$%&'*+-/=?^_`{|}~";
    !s.is_empty()
        && s.len() <= 200
        && !s.starts_with('.')
        && !s.ends_with('.')
        && !s.contains("..")
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || SPECIALS.contains(&b))
}

/// Checks a Message-ID given without brackets: `left@right`, printable ASCII, no spaces or
/// brackets. Anything else would let a value break out of its header.
pub(crate) fn check_message_id(id: &str) -> Result<(), String> {
    let ok = id.len() <= 250
        && id
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b'"' | b'\\'))
        && id
            .split_once('@')
            .is_some_and(|(l, r)| !l.is_empty() && !r.is_empty() && !r.contains('@'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "'{}' is not a valid Message-ID",
            crate::excerpt(id, 80)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openevent_automation::DeliveryKey;

    #[test]
    fn derived_message_id_matches_the_automation_key_form() {
        let key: DeliveryKey =
            serde_json::from_str("\"dk1-00112233445566778899aabbccddeeff\"").unwrap();
        assert_eq!(
            message_id_for_key(key.as_str(), "atelier.example"),
            key.message_id("atelier.example")
        );
        // A key that is no dot-atom (the workflow's `draft:DRF-…`) is hashed, stably.
        let a = message_id_for_key("draft:DRF-1", "atelier.example");
        assert!(
            a.starts_with("oe-") && a.ends_with("@atelier.example"),
            "{a}"
        );
        assert_eq!(a, message_id_for_key("draft:DRF-1", "atelier.example"));
        assert_ne!(a, message_id_for_key("draft:DRF-2", "atelier.example"));
        assert!(check_message_id(&a).is_ok());
    }

    #[test]
    fn message_ids_that_could_break_a_header_are_refused() {
        assert!(check_message_id("abc@host.example").is_ok());
        for bad in [
            "abc",
            "a b@host",
            "abc@host\r\nBcc: x@y",
            "<abc@host>",
            "@host",
            "abc@",
            "a@b@c",
            "abç@host",
        ] {
            assert!(check_message_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn explicit_message_id_wins_and_loses_its_brackets() {
        let mut m = OutboundMessage::new(
            "dk1-aa",
            Address::Email("laura@example.com".into()),
            Rendered {
                subject: None,
                text: "hi".into(),
                html: None,
            },
        );
        assert_eq!(m.effective_message_id("x.example"), "dk1-aa@x.example");
        m.message_id = Some("<drf-1.atelier@openevent.invalid>".into());
        assert_eq!(
            m.effective_message_id("x.example"),
            "drf-1.atelier@openevent.invalid"
        );
    }

    #[test]
    fn serde_round_trip_and_unknown_fields_refused() {
        let m = OutboundMessage::new(
            "dk1-aa",
            Address::Email("laura@example.com".into()),
            Rendered {
                subject: Some("S".into()),
                text: "T".into(),
                html: Some("<p>T</p>".into()),
            },
        );
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<OutboundMessage>(&json).unwrap(), m);
        let bad = json.replacen('{', "{\"bcc\":\"x\",", 1);
        assert!(serde_json::from_str::<OutboundMessage>(&bad).is_err());
    }
}
