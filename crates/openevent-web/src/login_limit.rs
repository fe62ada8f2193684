//! Failed sign-ins are limited per client address and per token id: each key has a budget of
//! `per_minute` failures that refills continuously (a leaky bucket). A sign-in attempt reserves
//! one failure from every key it concerns before the token is looked up, and gives it back when
//! the token was right, so successful sign-ins never use up the budget, and parallel guesses
//! cannot overrun it. While a key is out of budget, every attempt for it is refused without
//! looking at the token: otherwise the answer would keep telling right from wrong guesses at full
//! speed.
//!
//! Time is the engine's clock (a parameter here), so tests are deterministic. The table forgets
//! keys whose budget has refilled, so it cannot grow without bound.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use jiff::Timestamp;

/// Above this many keys, the table drops those that have fully refilled.
const PRUNE_ABOVE: usize = 10_000;

/// One failure in bucket units: a bucket leaks `per_minute` units a microsecond, so a failure
/// leaks away in `60 s / per_minute`, in exact integer arithmetic.
const FAILURE: i128 = 60_000_000;

#[derive(Debug)]
pub struct LoginLimiter {
    per_minute: u32,
    /// Per key: the failures counted (in units of [`FAILURE`]) and when that was computed.
    buckets: Mutex<HashMap<String, (i128, Timestamp)>>,
}

/// The keys one sign-in attempt counts against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptKeys(Vec<String>);

impl AttemptKeys {
    /// The client's address (IPv6 by its /64, which one client usually holds whole) and the
    /// token id of a token shaped `oet_<id>_<secret>`.
    pub fn new(client: Option<IpAddr>, token: &str) -> Self {
        let mut keys = Vec::new();
        match client {
            Some(IpAddr::V4(ip)) => keys.push(format!("ip:{ip}")),
            Some(IpAddr::V6(ip)) => match ip.to_ipv4_mapped() {
                Some(v4) => keys.push(format!("ip:{v4}")),
                None => {
                    let s = ip.segments();
                    keys.push(format!(
                        "ip:{:x}:{:x}:{:x}:{:x}::/64",
                        s[0], s[1], s[2], s[3]
                    ));
                }
            },
            None => {}
        }
        if let Some(id) = token_id(token) {
            keys.push(format!("token:{id}"));
        }
        Self(keys)
    }
}

/// The id part of `oet_<id>_<secret>` (lowercase hex, as tokens are made).
fn token_id(token: &str) -> Option<&str> {
    let rest = token.strip_prefix("oet_")?;
    let (id, secret) = rest.split_once('_')?;
    (!id.is_empty()
        && id.len() <= 32
        && !secret.is_empty()
        && id.bytes().all(|b| b.is_ascii_hexdigit()))
    .then_some(id)
}

impl LoginLimiter {
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute: per_minute.max(1),
            buckets: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (i128, Timestamp)>> {
        self.buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn capacity(&self) -> i128 {
        i128::from(self.per_minute) * FAILURE
    }

    /// The failures of a bucket as of `now` (never negative; a clock set back refills nothing).
    fn level(&self, (count, at): (i128, Timestamp), now: Timestamp) -> i128 {
        let elapsed_us = now.duration_since(at).as_micros().max(0);
        (count - elapsed_us * i128::from(self.per_minute)).max(0)
    }

    /// Reserves one failure on every key, or answers how many seconds to wait (at least 1) when
    /// any of them is out of budget; nothing is reserved then.
    pub fn reserve(&self, keys: &AttemptKeys, now: Timestamp) -> Result<(), u64> {
        let capacity = self.capacity();
        let mut buckets = self.lock();
        let mut excess: i128 = 0;
        for key in &keys.0 {
            if let Some(b) = buckets.get(key) {
                excess = excess.max(self.level(*b, now) + FAILURE - capacity);
            }
        }
        if excess > 0 {
            let excess = excess.unsigned_abs();
            let wait_us = excess.div_ceil(u128::from(self.per_minute));
            let secs = wait_us.div_ceil(1_000_000);
            return Err(u64::try_from(secs).unwrap_or(u64::MAX).max(1));
        }
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, b| self.level(*b, now) > 0);
        }
        for key in &keys.0 {
            let level = buckets.get(key).map_or(0, |b| self.level(*b, now));
            buckets.insert(key.clone(), (level + FAILURE, now));
        }
        Ok(())
    }

    /// Gives back the failure [`LoginLimiter::reserve`] took: the sign-in succeeded.
    pub fn release(&self, keys: &AttemptKeys, now: Timestamp) {
        let mut buckets = self.lock();
        for key in &keys.0 {
            if let Some(b) = buckets.get_mut(key) {
                *b = ((self.level(*b, now) - FAILURE).max(0), now);
            }
        }
    }

    /// How many keys the table holds (for tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use jiff::SignedDuration;

    use super::*;

    fn t0() -> Timestamp {
        "2026-11-23T08:00:00Z".parse().unwrap()
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn keys_are_the_address_and_the_token_id() {
        let k = AttemptKeys::new(ip("192.0.2.7"), "oet_0a1b2c3d4e5f_deadbeef");
        assert_eq!(k.0, ["ip:192.0.2.7", "token:0a1b2c3d4e5f"]);
        let k = AttemptKeys::new(ip("2001:db8:1:2:3:4:5:6"), "not a token");
        assert_eq!(k.0, ["ip:2001:db8:1:2::/64"]);
        // Two addresses of the same /64 share a budget; a mapped IPv4 address is the IPv4 one.
        assert_eq!(
            AttemptKeys::new(ip("2001:db8:1:2::9"), "").0,
            AttemptKeys::new(ip("2001:db8:1:2:ffff::1"), "").0
        );
        assert_eq!(
            AttemptKeys::new(ip("::ffff:192.0.2.7"), "").0,
            ["ip:192.0.2.7"]
        );
        for no_id in [
            "oet_",
            "oet__x",
            "oet_zz_x",
            "oet_ab_",
            "oet_ab",
            "xyz_ab_cd",
        ] {
            assert!(AttemptKeys::new(None, no_id).0.is_empty(), "{no_id}");
        }
    }

    #[test]
    fn failures_beyond_the_budget_wait_and_the_budget_refills() {
        let limiter = LoginLimiter::new(10);
        let keys = AttemptKeys::new(ip("192.0.2.7"), "");
        let now = t0();
        for _ in 0..10 {
            limiter.reserve(&keys, now).unwrap();
        }
        // Ten failures a minute: one more after six seconds.
        assert_eq!(limiter.reserve(&keys, now), Err(6));
        let later = now + SignedDuration::from_secs(3);
        assert_eq!(limiter.reserve(&keys, later), Err(3));
        let later = now + SignedDuration::from_secs(6);
        assert_eq!(limiter.reserve(&keys, later), Ok(()));
        assert!(limiter.reserve(&keys, later).is_err());
        // Another address has its own budget.
        let other = AttemptKeys::new(ip("192.0.2.8"), "");
        assert_eq!(limiter.reserve(&other, now), Ok(()));
        // A clock set back refills nothing and does not panic.
        assert!(
            limiter
                .reserve(&keys, now - SignedDuration::from_secs(3600))
                .is_err()
        );
    }

    #[test]
    fn successes_give_their_reservation_back() {
        let limiter = LoginLimiter::new(3);
        let keys = AttemptKeys::new(ip("192.0.2.7"), "oet_abc_def");
        let now = t0();
        for _ in 0..50 {
            limiter.reserve(&keys, now).unwrap();
            limiter.release(&keys, now);
        }
        for _ in 0..3 {
            limiter.reserve(&keys, now).unwrap();
        }
        assert!(limiter.reserve(&keys, now).is_err());
    }

    #[test]
    fn a_token_id_is_limited_across_addresses() {
        let limiter = LoginLimiter::new(2);
        let now = t0();
        limiter
            .reserve(&AttemptKeys::new(ip("192.0.2.1"), "oet_abc_1"), now)
            .unwrap();
        limiter
            .reserve(&AttemptKeys::new(ip("192.0.2.2"), "oet_abc_2"), now)
            .unwrap();
        assert!(
            limiter
                .reserve(&AttemptKeys::new(ip("192.0.2.3"), "oet_abc_3"), now)
                .is_err()
        );
        // Refused attempts reserve nothing: the third address is still fresh.
        assert!(
            limiter
                .reserve(&AttemptKeys::new(ip("192.0.2.3"), "oet_def_3"), now)
                .is_ok()
        );
    }

    #[test]
    fn refilled_keys_are_forgotten() {
        let limiter = LoginLimiter::new(10);
        let now = t0();
        for i in 0..=PRUNE_ABOVE {
            let keys = AttemptKeys(vec![format!("k{i}")]);
            limiter.reserve(&keys, now).unwrap();
        }
        assert_eq!(limiter.len(), PRUNE_ABOVE + 1);
        let later = now + SignedDuration::from_secs(60);
        limiter
            .reserve(&AttemptKeys(vec!["fresh".into()]), later)
            .unwrap();
        assert_eq!(limiter.len(), 1);
    }
}
