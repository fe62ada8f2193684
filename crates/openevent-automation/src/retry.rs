//! When a failed delivery is tried again. Exponential backoff (1, 2, 4, 8, 16 minutes by default,
//! six attempts in all) plus jitter that spreads retries of many messages apart. The jitter is
//! derived from the delivery key and the attempt, not drawn from a random generator, so the same
//! failure always schedules the same retry and tests can pin it.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::validation::Problem;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included.
    pub max_attempts: u32,
    /// Delay after the first failure.
    pub base_delay_secs: u32,
    /// Each further failure multiplies the delay by this.
    pub factor: u32,
    /// Upper bound of one backoff delay (before jitter).
    pub max_delay_secs: u32,
    /// Up to this share (in percent) of the delay is added as jitter.
    pub jitter_percent: u32,
    /// A provider's Retry-After longer than this is cut to it, so one answer cannot park a
    /// message for days.
    pub max_retry_after_secs: u32,
    /// How long a claimed job stays reserved for the dispatcher that claimed it. After a crash,
    /// another dispatcher sends the job once this has passed; a dispatcher starts no new send in
    /// the second half of its lease (so keep it above twice the longest channel timeout).
    pub lease_secs: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay_secs: 60,
            factor: 2,
            max_delay_secs: 3_600,
            jitter_percent: 10,
            max_retry_after_secs: 86_400,
            lease_secs: 300,
        }
    }
}

/// How one delivery attempt ended, as the channel adapter reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum DeliveryResult {
    Sent {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        provider_id: Option<String>,
    },
    /// Worth trying again (timeout, 429, 5xx).
    Transient {
        error: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_secs: Option<u32>,
    },
    /// Trying again cannot help (invalid address, 4xx other than 429, rejected content).
    Permanent { error: String },
}

/// What follows a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryVerdict {
    RetryAt(Timestamp),
    GiveUp,
}

impl RetryPolicy {
    /// The backoff before jitter after failed attempt `attempt` (1-based).
    pub fn backoff(&self, attempt: u32) -> SignedDuration {
        let exp = attempt.saturating_sub(1).min(30);
        let secs = u64::from(self.base_delay_secs)
            .saturating_mul(u64::from(self.factor).saturating_pow(exp))
            .min(u64::from(self.max_delay_secs));
        SignedDuration::from_secs(secs as i64)
    }

    /// Deterministic jitter in `0..=backoff * jitter_percent / 100`.
    pub fn jitter(
        &self,
        key: &(impl AsRef<str> + ?Sized),
        attempt: u32,
        backoff: SignedDuration,
    ) -> SignedDuration {
        let span_ms = backoff.as_millis() * i128::from(self.jitter_percent) / 100;
        if span_ms <= 0 {
            return SignedDuration::ZERO;
        }
        let mut h = Sha256::new();
        h.update(key.as_ref().as_bytes());
        h.update(attempt.to_be_bytes());
        let d = h.finalize();
        let r = u64::from_be_bytes(d[..8].try_into().expect("8 bytes"));
        let ms = i128::from(r) % (span_ms + 1);
        SignedDuration::from_millis(ms as i64)
    }

    /// After failed attempt `attempt` (1-based) at `now`: when to try again, or give up.
    /// `Permanent` errors never reach this; a Retry-After is honoured as a lower bound.
    /// `key` is the delivery key (any outbox job's unique key).
    pub fn after_failure(
        &self,
        key: &(impl AsRef<str> + ?Sized),
        attempt: u32,
        retry_after_secs: Option<u32>,
        now: Timestamp,
    ) -> RetryVerdict {
        if attempt >= self.max_attempts {
            return RetryVerdict::GiveUp;
        }
        let backoff = self.backoff(attempt);
        let ours = backoff + self.jitter(key, attempt, backoff);
        let theirs = retry_after_secs
            .map(|s| SignedDuration::from_secs(i64::from(s.min(self.max_retry_after_secs))))
            .unwrap_or(SignedDuration::ZERO);
        RetryVerdict::RetryAt(
            now.saturating_add(ours.max(theirs))
                .expect("signed duration"),
        )
    }

    pub fn lease(&self) -> SignedDuration {
        SignedDuration::from_secs(i64::from(self.lease_secs))
    }

    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        if !(1..=20).contains(&self.max_attempts) {
            out.push(Problem::new(
                "retry.max_attempts",
                "must be between 1 and 20",
            ));
        }
        if self.base_delay_secs == 0 {
            out.push(Problem::new("retry.base_delay_secs", "must be positive"));
        }
        if self.factor == 0 {
            out.push(Problem::new("retry.factor", "must be at least 1"));
        }
        if self.max_delay_secs < self.base_delay_secs {
            out.push(Problem::new(
                "retry.max_delay_secs",
                "must be at least base_delay_secs",
            ));
        }
        if self.jitter_percent > 100 {
            out.push(Problem::new("retry.jitter_percent", "must be at most 100"));
        }
        if !(10..=86_400).contains(&self.lease_secs) {
            out.push(Problem::new(
                "retry.lease_secs",
                "must be between 10 and 86400",
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery_key::DeliveryKey;

    fn key() -> DeliveryKey {
        serde_json::from_str("\"dk1-00112233445566778899aabbccddeeff\"").unwrap()
    }

    fn now() -> Timestamp {
        "2026-06-10T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn default_schedule_is_1_2_4_8_16_minutes_then_dead() {
        let p = RetryPolicy::default();
        let mins: Vec<i64> = (1..=5).map(|a| p.backoff(a).as_mins()).collect();
        assert_eq!(mins, [1, 2, 4, 8, 16]);
        for attempt in 1..=5 {
            let RetryVerdict::RetryAt(at) = p.after_failure(&key(), attempt, None, now()) else {
                panic!("attempt {attempt} should retry");
            };
            let wait = at.duration_since(now());
            let backoff = p.backoff(attempt);
            assert!(
                wait >= backoff && wait <= backoff + backoff / 10,
                "{wait:?}"
            );
        }
        assert_eq!(
            p.after_failure(&key(), 6, None, now()),
            RetryVerdict::GiveUp
        );
    }

    #[test]
    fn jitter_is_deterministic_and_differs_between_messages() {
        let p = RetryPolicy::default();
        let b = p.backoff(5);
        assert_eq!(p.jitter(&key(), 5, b), p.jitter(&key(), 5, b));
        let other: DeliveryKey =
            serde_json::from_str("\"dk1-ffeeddccbbaa99887766554433221100\"").unwrap();
        assert_ne!(p.jitter(&key(), 5, b), p.jitter(&other, 5, b));
    }

    #[test]
    fn retry_after_is_a_lower_bound_and_capped() {
        let p = RetryPolicy::default();
        let RetryVerdict::RetryAt(at) = p.after_failure(&key(), 1, Some(900), now()) else {
            panic!()
        };
        assert_eq!(at.duration_since(now()), SignedDuration::from_mins(15));
        // A short Retry-After does not shorten our own backoff.
        let RetryVerdict::RetryAt(at) = p.after_failure(&key(), 3, Some(1), now()) else {
            panic!()
        };
        assert!(at.duration_since(now()) >= SignedDuration::from_mins(4));
        let RetryVerdict::RetryAt(at) = p.after_failure(&key(), 1, Some(u32::MAX), now()) else {
            panic!()
        };
        assert_eq!(at.duration_since(now()), SignedDuration::from_hours(24));
    }

    #[test]
    fn configurable() {
        let p = RetryPolicy {
            max_attempts: 3,
            base_delay_secs: 30,
            factor: 3,
            jitter_percent: 0,
            ..RetryPolicy::default()
        };
        assert_eq!(p.backoff(2), SignedDuration::from_secs(90));
        assert_eq!(
            p.after_failure(&key(), 1, None, now()),
            RetryVerdict::RetryAt(now() + SignedDuration::from_secs(30))
        );
        assert_eq!(
            p.after_failure(&key(), 3, None, now()),
            RetryVerdict::GiveUp
        );
    }
}
