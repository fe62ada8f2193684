//! The delivery key: one per message that may ever leave, derived from what makes it that
//! message. It is the delivery ledger's unique key and the provider's idempotency key (and the
//! email's Message-ID), so a retry or a re-run of the scheduler can never send twice.

use std::fmt;

use jiff::Timestamp;
use openevent_core::{EventId, OrgSlug};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::booking::Subject;
use crate::definition::Anchor;
use crate::ids::{StepKey, WorkflowKey};
use crate::recipients::Address;

/// `dk1-` and 32 hex digits (128 bits of SHA-256).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeliveryKey(String);

/// Everything a delivery key depends on. The key is per (workflow key and version, step,
/// recipient, anchor and its version); the organization, booking, subject and the trigger's time
/// make it unique across bookings and across repeated triggers (a second offer gets its own
/// follow-up).
#[derive(Debug, Clone, Copy)]
pub struct KeyParts<'a> {
    pub org: &'a OrgSlug,
    pub event_id: &'a EventId,
    pub workflow: &'a WorkflowKey,
    pub workflow_version: u32,
    pub step: &'a StepKey,
    pub subject: &'a Subject,
    pub recipient: &'a Address,
    pub anchor: Anchor,
    pub anchor_version: u32,
    pub trigger_at: Timestamp,
}

impl DeliveryKey {
    pub fn derive(p: &KeyParts<'_>) -> DeliveryKey {
        let subject = match p.subject {
            Subject::Booking => "booking".to_owned(),
            Subject::Appointment { id } => format!("appointment:{id}"),
        };
        let anchor = serde_json::to_string(&p.anchor).expect("enum serialises");
        let fields: [&str; 10] = [
            p.org.as_str(),
            p.event_id.as_str(),
            p.workflow.as_str(),
            &p.workflow_version.to_string(),
            p.step.as_str(),
            &subject,
            &p.recipient.key(),
            &anchor,
            &p.anchor_version.to_string(),
            &p.trigger_at.as_millisecond().to_string(),
        ];
        let mut h = Sha256::new();
        h.update(b"openevent-delivery-v1");
        // Length-prefixed so that no two different field lists hash the same bytes.
        for f in fields {
            h.update((f.len() as u64).to_be_bytes());
            h.update(f.as_bytes());
        }
        let digest = h.finalize();
        DeliveryKey(format!("dk1-{}", hex::encode(&digest[..16])))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An RFC 5322 Message-ID for the email carrying this delivery (without angle brackets).
    pub fn message_id(&self, domain: &str) -> String {
        format!("{}@{domain}", self.0)
    }
}

impl AsRef<str> for DeliveryKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DeliveryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::AppointmentId;
    use proptest::prelude::*;

    struct Owned {
        org: OrgSlug,
        event: EventId,
        workflow: WorkflowKey,
        version: u32,
        step: StepKey,
        subject: Subject,
        recipient: Address,
        anchor: Anchor,
        anchor_version: u32,
        trigger_at: Timestamp,
    }

    impl Owned {
        fn key(&self) -> DeliveryKey {
            DeliveryKey::derive(&KeyParts {
                org: &self.org,
                event_id: &self.event,
                workflow: &self.workflow,
                workflow_version: self.version,
                step: &self.step,
                subject: &self.subject,
                recipient: &self.recipient,
                anchor: self.anchor,
                anchor_version: self.anchor_version,
                trigger_at: self.trigger_at,
            })
        }
    }

    fn sample() -> Owned {
        Owned {
            org: OrgSlug::parse("atelier").unwrap(),
            event: EventId::parse("EVT-1").unwrap(),
            workflow: WorkflowKey::parse("offer-follow-up").unwrap(),
            version: 1,
            step: StepKey::parse("nudge").unwrap(),
            subject: Subject::Booking,
            recipient: Address::Email("laura@example.com".into()),
            anchor: Anchor::Trigger,
            anchor_version: 0,
            trigger_at: Timestamp::from_second(1_780_000_000).unwrap(),
        }
    }

    #[test]
    fn the_key_is_stable() {
        // Pinned: changing the derivation would re-send every pending message.
        assert_eq!(
            sample().key().as_str(),
            "dk1-eff32273c9ef948006c3ee0967789b75"
        );
        assert_eq!(sample().key(), sample().key());
        assert!(
            sample()
                .key()
                .message_id("atelier.example")
                .ends_with("@atelier.example")
        );
    }

    #[test]
    fn each_part_changes_the_key() {
        let base = sample().key();
        let mut variants = Vec::new();
        let mut v = sample();
        v.version = 2;
        variants.push(v.key());
        let mut v = sample();
        v.anchor_version = 1;
        variants.push(v.key());
        let mut v = sample();
        v.recipient = Address::Email("other@example.com".into());
        variants.push(v.key());
        let mut v = sample();
        v.step = StepKey::parse("nudge-2").unwrap();
        variants.push(v.key());
        let mut v = sample();
        v.subject = Subject::Appointment {
            id: AppointmentId::parse("APT-1").unwrap(),
        };
        variants.push(v.key());
        let mut v = sample();
        v.anchor = Anchor::Start;
        variants.push(v.key());
        let mut v = sample();
        v.trigger_at = Timestamp::from_second(1_780_000_001).unwrap();
        variants.push(v.key());
        for k in variants {
            assert_ne!(k, base);
        }
    }

    proptest! {
        #[test]
        fn differing_inputs_never_collide(
            a in ("[a-z]{1,6}", "[a-z-]{0,6}", 0u32..4, 0u32..4),
            b in ("[a-z]{1,6}", "[a-z-]{0,6}", 0u32..4, 0u32..4),
        ) {
            // Pairs like ("ab", "c") and ("a", "bc") must not meet.
            let key = |(w, s, v, av): &(String, String, u32, u32)| {
                let mut o = sample();
                o.workflow = WorkflowKey::parse(w).unwrap();
                o.step = StepKey::parse(&format!("s{s}")).unwrap();
                o.version = *v;
                o.anchor_version = *av;
                o.key()
            };
            prop_assert_eq!(a == b, key(&a) == key(&b));
        }
    }
}
