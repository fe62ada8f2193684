//! Bearer tokens: `oet_<id>_<secret>`, stored as a SHA-256 of the whole token, each scoped to one
//! organization with one role. Every request's organization comes from its token, never from
//! the request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use jiff::Timestamp;
use openevent_core::ids::OrgSlug;
use openevent_store::{Role, Store, StoreError, TokenRecord};
use sha2::{Digest, Sha256};

use crate::problem::Problem;
use crate::{App, AppState};

const PREFIX: &str = "oet_";

/// Who is asking: the token's organization and role.
#[derive(Debug, Clone)]
pub struct Principal {
    pub org: OrgSlug,
    pub role: Role,
    pub token_id: String,
}

impl Principal {
    pub fn require_manager(&self) -> Result<(), Problem> {
        match self.role {
            Role::Manager => Ok(()),
            Role::Viewer => Err(Problem::forbidden(
                "this token may only read; approving, rejecting and ingesting need a manager token",
            )),
        }
    }
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A freshly created token: the secret is in `token` and nowhere else.
#[derive(Debug)]
pub struct NewToken {
    pub token: String,
    pub record: TokenRecord,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("no randomness available from the operating system: {0}")]
    Random(String),
    #[error("the token name must be 1-100 printable characters")]
    BadName,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Creates and stores a token for `org` with `role`.
pub async fn create_token<S: Store>(
    store: &S,
    org: &OrgSlug,
    role: Role,
    name: &str,
    now: Timestamp,
) -> Result<NewToken, TokenError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(TokenError::BadName);
    }
    let mut id = [0u8; 6];
    let mut secret = [0u8; 24];
    getrandom::fill(&mut id).map_err(|e| TokenError::Random(e.to_string()))?;
    getrandom::fill(&mut secret).map_err(|e| TokenError::Random(e.to_string()))?;
    let token_id = hex::encode(id);
    let token = format!("{PREFIX}{token_id}_{}", hex::encode(secret));
    let record = TokenRecord {
        token_id,
        org: org.clone(),
        role,
        name: name.to_owned(),
        created_at: now,
    };
    store.create_token(&record, &token_hash(&token)).await?;
    Ok(NewToken { token, record })
}

/// A token bucket per token: `per_minute` requests, refilled continuously.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute: per_minute.max(1),
            buckets: Mutex::default(),
        }
    }

    /// `Err(seconds)` when the token must wait.
    fn take(&self, token_id: &str) -> Result<(), u64> {
        let capacity = f64::from(self.per_minute);
        let rate = capacity / 60.0;
        let now = Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (tokens, at) = buckets
            .entry(token_id.to_owned())
            .or_insert((capacity, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(capacity);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            let wait = Duration::from_secs_f64((1.0 - *tokens) / rate);
            Err(wait.as_secs().max(1))
        }
    }
}

impl<S: Store> FromRequestParts<AppState<S>> for Principal {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState<S>,
    ) -> Result<Self, Self::Rejection> {
        let app: &App<S> = state;
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| Problem::unauthorized("missing Authorization: Bearer <token>"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| t.starts_with(PREFIX))
            .ok_or_else(|| {
                Problem::unauthorized("the Authorization header must be 'Bearer oet_…'")
            })?;
        let record = app
            .engine
            .store()
            .find_token(&token_hash(token))
            .await
            .map_err(|e| Problem::internal(&e))?
            .ok_or_else(|| Problem::unauthorized("unknown or revoked token"))?;
        app.limiter
            .take(&record.token_id)
            .map_err(Problem::too_many_requests)?;
        Ok(Principal {
            org: record.org,
            role: record.role,
            token_id: record.token_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_refuses_beyond_its_rate_and_says_how_long_to_wait() {
        let limiter = RateLimiter::new(3);
        assert!(limiter.take("a").is_ok());
        assert!(limiter.take("a").is_ok());
        assert!(limiter.take("a").is_ok());
        let wait = limiter.take("a").unwrap_err();
        assert!((1..=20).contains(&wait), "{wait}");
        // Another token has its own bucket.
        assert!(limiter.take("b").is_ok());
    }
}
