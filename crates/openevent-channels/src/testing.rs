//! Channels for tests and benchmarks: [`NoopChannel`] succeeds at once and counts;
//! [`RecordingChannel`] keeps every message and answers from a script.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{Channel, DeliveryResult, OutboundMessage};

/// Succeeds immediately (`Sent`, no provider id) and counts the calls. For benchmarks of the
/// dispatcher without any I/O.
#[derive(Debug, Default)]
pub struct NoopChannel {
    sent: AtomicU64,
}

impl NoopChannel {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn count(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

impl Channel for NoopChannel {
    fn name(&self) -> &'static str {
        "noop"
    }

    async fn send(&self, _msg: &OutboundMessage) -> DeliveryResult {
        self.sent.fetch_add(1, Ordering::Relaxed);
        DeliveryResult::Sent { provider_id: None }
    }
}

/// Records every message it is asked to send, and answers with the scripted results in order
/// (`then`), then `Sent { provider_id: "rec-<n>" }` once the script is used up. A message is
/// recorded whatever the answer, so a test sees attempts, not only successes.
#[derive(Debug, Default)]
pub struct RecordingChannel {
    inner: Mutex<Recording>,
}

#[derive(Debug, Default)]
struct Recording {
    attempts: Vec<OutboundMessage>,
    script: VecDeque<DeliveryResult>,
}

impl RecordingChannel {
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues the answer to a coming attempt.
    pub fn then(self, result: DeliveryResult) -> Self {
        self.push(result);
        self
    }

    /// Queues the answer to a coming attempt, on a shared channel.
    pub fn push(&self, result: DeliveryResult) {
        self.lock().script.push_back(result);
    }

    /// Every attempt, in order.
    pub fn attempts(&self) -> Vec<OutboundMessage> {
        self.lock().attempts.clone()
    }

    /// The attempts that were answered `Sent` are not tracked separately: count the keys.
    pub fn attempts_for(&self, delivery_key: &str) -> usize {
        self.lock()
            .attempts
            .iter()
            .filter(|m| m.delivery_key == delivery_key)
            .count()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Recording> {
        // A test that panicked while holding the lock already failed; keep the data readable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Channel for RecordingChannel {
    fn name(&self) -> &'static str {
        "recording"
    }

    async fn send(&self, msg: &OutboundMessage) -> DeliveryResult {
        let mut r = self.lock();
        r.attempts.push(msg.clone());
        let n = r.attempts.len();
        r.script.pop_front().unwrap_or(DeliveryResult::Sent {
            provider_id: Some(format!("rec-{n}")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Address;
    use openevent_automation::template::Rendered;

    fn msg(key: &str) -> OutboundMessage {
        OutboundMessage::new(
            key,
            Address::Email("a@example.com".into()),
            Rendered {
                subject: None,
                text: "t".into(),
                html: None,
            },
        )
    }

    #[tokio::test]
    async fn recording_answers_from_its_script_then_sends() {
        let ch = RecordingChannel::new().then(DeliveryResult::Transient {
            error: "down".into(),
            retry_after_secs: Some(5),
        });
        assert!(matches!(
            ch.send(&msg("k1")).await,
            DeliveryResult::Transient { .. }
        ));
        assert_eq!(
            ch.send(&msg("k1")).await,
            DeliveryResult::Sent {
                provider_id: Some("rec-2".into())
            }
        );
        assert_eq!(ch.attempts_for("k1"), 2);
        let noop = NoopChannel::new();
        noop.send(&msg("k2")).await;
        // Through a trait object too.
        let channels: Vec<Box<dyn crate::DynChannel>> = vec![Box::new(noop)];
        channels[0].send_boxed(&msg("k3")).await;
        assert_eq!(channels[0].name(), "noop");
    }
}
