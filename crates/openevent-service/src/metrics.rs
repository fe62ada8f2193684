//! What this process measured for operators: how long each delivery attempt took per channel and
//! how it ended, and the inputs that failed. Counts and durations only, never tenant data.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use openevent_automation::retry::DeliveryResult;

/// Upper bounds (seconds) of the delivery-latency histogram's buckets.
pub const LATENCY_BUCKETS: [f64; 10] = [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// One channel's delivery attempts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChannelStats {
    /// Attempts at or under each bound of [`LATENCY_BUCKETS`] (cumulative, as Prometheus wants).
    pub buckets: [u64; LATENCY_BUCKETS.len()],
    pub count: u64,
    pub sum_seconds: f64,
    pub sent: u64,
    /// Failed, to be retried.
    pub transient: u64,
    /// Failed for good.
    pub permanent: u64,
}

#[derive(Debug, Default)]
pub struct Metrics {
    deliveries: Mutex<BTreeMap<&'static str, ChannelStats>>,
    ingest_errors: Mutex<BTreeMap<&'static str, u64>>,
}

impl Metrics {
    pub fn delivery(&self, channel: &'static str, took: Duration, result: &DeliveryResult) {
        let mut all = self
            .deliveries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let s = all.entry(channel).or_default();
        let secs = took.as_secs_f64();
        for (bound, n) in LATENCY_BUCKETS.iter().zip(s.buckets.iter_mut()) {
            if secs <= *bound {
                *n += 1;
            }
        }
        s.count += 1;
        s.sum_seconds += secs;
        match result {
            DeliveryResult::Sent { .. } => s.sent += 1,
            DeliveryResult::Transient { .. } => s.transient += 1,
            DeliveryResult::Permanent { .. } => s.permanent += 1,
        }
    }

    pub fn ingest_error(&self, kind: &'static str) {
        *self
            .ingest_errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(kind)
            .or_default() += 1;
    }

    pub fn deliveries(&self) -> BTreeMap<&'static str, ChannelStats> {
        self.deliveries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub fn ingest_errors(&self) -> BTreeMap<&'static str, u64> {
        self.ingest_errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_land_in_every_bucket_at_or_above_their_duration() {
        let m = Metrics::default();
        m.delivery(
            "email",
            Duration::from_millis(30),
            &DeliveryResult::Sent { provider_id: None },
        );
        m.delivery(
            "email",
            Duration::from_secs(3),
            &DeliveryResult::Transient {
                error: "timeout".into(),
                retry_after_secs: None,
            },
        );
        let s = &m.deliveries()["email"];
        assert_eq!(s.buckets, [0, 0, 1, 1, 1, 1, 1, 1, 2, 2]);
        assert_eq!((s.count, s.sent, s.transient, s.permanent), (2, 1, 1, 0));
        assert!((s.sum_seconds - 3.03).abs() < 1e-9);
    }
}
