//! Server-side sessions: a random 256-bit id in the `oe_session` cookie points at an entry in an
//! in-memory map holding the API token's hash (re-checked on every request, so revoking the token
//! ends the session), a per-session CSRF token and a one-shot flash message. Sessions live in
//! this process only: restarting `openevent serve` signs everybody out.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use axum::http::header;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "oe_session";
/// The cookie that carries the login form's CSRF token before a session exists.
pub const LOGIN_CSRF_COOKIE: &str = "oe_login_csrf";

/// 32 random bytes from the operating system, hex-encoded.
pub(crate) fn random_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Compares two secrets in time independent of where they differ.
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && !a.is_empty()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A message shown once on the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    pub kind: FlashKind,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashKind {
    Success,
    Error,
}

impl FlashKind {
    pub fn css(self) -> &'static str {
        match self {
            FlashKind::Success => "flash flash-success",
            FlashKind::Error => "flash flash-error",
        }
    }
}

#[derive(Debug)]
struct Entry {
    token_hash: String,
    csrf: String,
    last_seen: Instant,
    flash: Option<Flash>,
}

/// What a request learns from its session.
#[derive(Debug, Clone)]
pub(crate) struct SessionData {
    pub id: String,
    pub token_hash: String,
    pub csrf: String,
}

/// The in-memory session table.
#[derive(Debug)]
pub struct Sessions {
    idle: Duration,
    map: Mutex<HashMap<String, Entry>>,
}

impl Sessions {
    pub fn new(idle: Duration) -> Self {
        Self {
            idle,
            map: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts a session for a verified token; answers the new session id.
    pub(crate) fn create(&self, token_hash: String) -> Result<String, getrandom::Error> {
        let id = random_token()?;
        let csrf = random_token()?;
        let now = Instant::now();
        let mut map = self.lock();
        // Forget sessions that idled out, so the table cannot grow without bound.
        map.retain(|_, e| now.duration_since(e.last_seen) < self.idle);
        map.insert(
            id.clone(),
            Entry {
                token_hash,
                csrf,
                last_seen: now,
                flash: None,
            },
        );
        Ok(id)
    }

    /// The live session `id` names, refreshing its idle timer.
    pub(crate) fn touch(&self, id: &str) -> Option<SessionData> {
        let now = Instant::now();
        let mut map = self.lock();
        let entry = map.get_mut(id)?;
        if now.duration_since(entry.last_seen) >= self.idle {
            map.remove(id);
            return None;
        }
        entry.last_seen = now;
        Some(SessionData {
            id: id.to_owned(),
            token_hash: entry.token_hash.clone(),
            csrf: entry.csrf.clone(),
        })
    }

    pub(crate) fn remove(&self, id: &str) {
        self.lock().remove(id);
    }

    pub(crate) fn set_flash(&self, id: &str, flash: Flash) {
        if let Some(e) = self.lock().get_mut(id) {
            e.flash = Some(flash);
        }
    }

    pub(crate) fn take_flash(&self, id: &str) -> Option<Flash> {
        self.lock().get_mut(id).and_then(|e| e.flash.take())
    }

    /// How many sessions are live (for tests and diagnostics).
    pub fn len(&self) -> usize {
        let now = Instant::now();
        self.lock()
            .values()
            .filter(|e| now.duration_since(e.last_seen) < self.idle)
            .count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The value of cookie `name` in the request, if any.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, Path=/, Secure when asked.
pub(crate) fn set_cookie(name: &str, value: &str, max_age: Option<u64>, secure: bool) -> String {
    let mut c = format!("{name}={value}; HttpOnly; SameSite=Strict; Path=/");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bit_and_differ() {
        let a = random_token().unwrap();
        let b = random_token().unwrap();
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
    }

    #[test]
    fn secrets_compare_exactly() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
        assert!(!same_secret("", ""));
    }

    #[test]
    fn an_idle_session_expires() {
        let sessions = Sessions::new(Duration::from_millis(0));
        let id = sessions.create("h".into()).unwrap();
        assert!(sessions.touch(&id).is_none());
        let sessions = Sessions::new(Duration::from_secs(60));
        let id = sessions.create("h".into()).unwrap();
        assert_eq!(sessions.touch(&id).unwrap().token_hash, "h");
        sessions.remove(&id);
        assert!(sessions.touch(&id).is_none());
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, "a=1; oe_session=xyz; b=2".parse().unwrap());
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("xyz"));
        assert_eq!(cookie(&h, "c"), None);
        assert_eq!(
            set_cookie("x", "v", None, true),
            "x=v; HttpOnly; SameSite=Strict; Path=/; Secure"
        );
    }
}
