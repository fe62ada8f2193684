//! What the channel configurations share: field-naming validation errors, secrets read from
//! environment variables named in the configuration (never the value itself), and the loopback
//! test that decides where cleartext is tolerated.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::IpAddr;

/// One thing wrong with a configuration, naming the field (`smtp.port`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: String,
    pub reason: String,
}

/// Why a channel could not be built. Lists every problem found, each naming its field; never
/// contains a secret's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", p.field, p.reason)?;
        }
        Ok(())
    }
}

impl ConfigError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError {
            problems: vec![Problem {
                field: field.into(),
                reason: reason.into(),
            }],
        }
    }

    /// Whether any problem names `field`.
    pub fn names(&self, field: &str) -> bool {
        self.problems.iter().any(|p| p.field == field)
    }
}

/// Collects problems; `finish` turns them into `Ok` or a `ConfigError`.
#[derive(Default)]
pub(crate) struct Problems(Vec<Problem>);

impl Problems {
    pub(crate) fn push(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.0.push(Problem {
            field: field.into(),
            reason: reason.into(),
        });
    }

    pub(crate) fn finish(self) -> Result<(), ConfigError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ConfigError { problems: self.0 })
        }
    }
}

/// A secret value. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// Where secrets named in a configuration are looked up: the process environment in
/// production ([`ProcessEnv`]), a map in tests.
pub trait SecretSource {
    fn get(&self, name: &str) -> Option<String>;
}

/// Reads secrets from the process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl SecretSource for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl SecretSource for BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        BTreeMap::get(self, name).cloned()
    }
}

impl SecretSource for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name).cloned()
    }
}

impl<const N: usize> SecretSource for [(&str, &str); N] {
    fn get(&self, name: &str) -> Option<String> {
        self.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    }
}

/// Reads the secret named by the configuration field `field` (whose value is `env_name`).
pub(crate) fn read_secret(
    source: &dyn SecretSource,
    field: &str,
    env_name: &str,
) -> Result<Secret, ConfigError> {
    match source.get(env_name) {
        Some(v) if !v.is_empty() => Ok(Secret(v)),
        Some(_) => Err(ConfigError::new(
            field,
            format!("environment variable {env_name} is empty"),
        )),
        None => Err(ConfigError::new(
            field,
            format!("environment variable {env_name} is not set"),
        )),
    }
}

/// Checks that an env var *name* (not a value) was given and looks like one.
pub(crate) fn check_env_name(p: &mut Problems, field: &str, name: &str) {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    {
        p.push(
            field,
            "must name an environment variable (A-Z, 0-9, _), not hold the secret itself",
        );
    }
}

/// `localhost`, `127.0.0.0/8`, `::1`.
pub fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost") || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Checks a base URL: `https://…`, or `http://` to a loopback host (tests, local relays).
pub(crate) fn check_base_url(p: &mut Problems, field: &str, url: &str) {
    match url_scheme_host(url) {
        Some(("https", _)) => {}
        Some(("http", host)) if is_loopback_host(host) => {}
        Some(("http", _)) => p.push(field, "must use https (http only to a loopback host)"),
        _ => p.push(field, "must be an http(s) URL"),
    }
    if url.ends_with('/') {
        p.push(field, "must not end with '/'");
    }
}

/// `("https", "host")` from `https://host:port/path`.
pub(crate) fn url_scheme_host(url: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        authority.split(':').next().unwrap_or("")
    };
    if host.is_empty() {
        return None;
    }
    let scheme = match scheme {
        s if s.eq_ignore_ascii_case("https") => "https",
        s if s.eq_ignore_ascii_case("http") => "http",
        _ => return None,
    };
    Some((scheme, host))
}

pub(crate) fn default_timeout_secs() -> u64 {
    30
}

pub(crate) fn check_timeout(p: &mut Problems, field: &str, secs: u64) {
    if !(1..=300).contains(&secs) {
        p.push(field, "must be between 1 and 300 seconds");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for h in ["localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]"] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in ["smtp.example.com", "10.0.0.1", "localhost.example.com"] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }

    #[test]
    fn base_urls() {
        let check = |u: &str| {
            let mut p = Problems::default();
            check_base_url(&mut p, "x.base_url", u);
            p.finish()
        };
        assert!(check("https://graph.facebook.com").is_ok());
        assert!(check("http://127.0.0.1:8080").is_ok());
        assert!(check("http://[::1]:8080").is_ok());
        assert!(
            check("http://api.example.com")
                .unwrap_err()
                .names("x.base_url")
        );
        assert!(check("ftp://x").is_err());
        assert!(check("https://x.example/").is_err());
        assert!(check("https://user:pw@127.0.0.1").is_ok());
    }

    #[test]
    fn secrets_are_named_never_shown() {
        let env = [("SMTP_PASSWORD", "hunter2")];
        let s = read_secret(&env, "smtp.password_env", "SMTP_PASSWORD").unwrap();
        assert_eq!(s.expose(), "hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
        let err = read_secret(&env, "smtp.password_env", "MISSING").unwrap_err();
        assert_eq!(
            err.to_string(),
            "smtp.password_env: environment variable MISSING is not set"
        );
        let mut p = Problems::default();
        check_env_name(&mut p, "smtp.password_env", "hunter2");
        assert!(p.finish().unwrap_err().names("smtp.password_env"));
    }
}
