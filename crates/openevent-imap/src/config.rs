//! The `[imap]` section: where the mailbox is, how to reach it, and how often to look.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// The environment variable read for the password when `password_env` is not set.
pub const DEFAULT_PASSWORD_ENV: &str = "OPENEVENT_IMAP_PASSWORD";

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain TCP: the password crosses the wire in clear text. Accepted only for a loopback host.
    None,
    /// Plain TCP upgraded with `STARTTLS` before logging in (usually port 143).
    Starttls,
    /// TLS from the first byte (IMAPS, usually port 993).
    Tls,
}

impl TlsMode {
    /// The conventional port: 993 for `tls`, 143 otherwise.
    pub fn default_port(self) -> u16 {
        match self {
            TlsMode::Tls => 993,
            TlsMode::None | TlsMode::Starttls => 143,
        }
    }
}

impl fmt::Display for TlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsMode::None => "none",
            TlsMode::Starttls => "starttls",
            TlsMode::Tls => "tls",
        })
    }
}

/// The `[imap]` configuration of `openevent serve`.
///
/// ```toml
/// [imap]
/// host = "imap.example.com"
/// tls = "tls"                       # none | starttls | tls
/// user = "bookings@example.com"
/// password_env = "OPENEVENT_IMAP_PASSWORD"
/// folder = "INBOX"
/// ```
///
/// Every field but `host`, `tls` and `user` has a default. Unknown fields are refused, so a typo
/// is an error rather than a silently ignored setting. Call [`ImapConfig::validate`] after
/// deserializing: it refuses values serde cannot (a zero batch, clear text to a remote host…).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImapConfig {
    /// Server host name or IP address; also the name the TLS certificate must carry.
    pub host: String,
    /// Server port; by default 993 for `tls`, 143 for `starttls` and `none`.
    #[serde(default)]
    pub port: Option<u16>,
    /// Connection protection. `none` is refused unless `host` is a loopback address.
    pub tls: TlsMode,
    /// PEM file of the certificate authorities to trust *instead of* the built-in Mozilla roots
    /// (for a server with a private or self-signed certificate).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Login name.
    pub user: String,
    /// Name of the environment variable holding the password (the password itself never
    /// appears in a configuration file).
    #[serde(default = "default_password_env")]
    pub password_env: String,
    /// Mailbox to read, as the mail client shows it (`"Anfragen/Entwürfe"`; the hierarchy
    /// separator is the server's, often `/` or `.`). Sent in IMAP's modified UTF-7.
    #[serde(default = "default_folder")]
    pub folder: String,
    /// Seconds between two polls; with IDLE, the longest wait before polling anyway.
    #[serde(default = "default_poll_interval_secs")]
    pub poll_interval_secs: u64,
    /// Use IMAP IDLE, when the server offers it, to poll as soon as a message arrives.
    #[serde(default = "default_true")]
    pub idle: bool,
    /// The most messages handed to the sink in one poll; the rest follow in the next poll, which
    /// starts at once.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Messages larger than this (as the server reports them) are not downloaded but rejected.
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: u64,
    /// Seconds allowed for connecting, logging in and each IMAP command.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// Longest wait between two reconnection attempts (the wait doubles from half a second).
    #[serde(default = "default_reconnect_max_secs")]
    pub reconnect_max_secs: u64,
}

fn default_password_env() -> String {
    DEFAULT_PASSWORD_ENV.to_owned()
}
fn default_folder() -> String {
    "INBOX".to_owned()
}
fn default_poll_interval_secs() -> u64 {
    30
}
fn default_true() -> bool {
    true
}
fn default_batch_size() -> usize {
    50
}
fn default_max_message_bytes() -> u64 {
    25 * 1024 * 1024
}
fn default_timeout_secs() -> u64 {
    60
}
fn default_reconnect_max_secs() -> u64 {
    60
}

/// IDLE must be renewed within 29 minutes (RFC 2177), and servers may log out a client that
/// stays quiet for 30: no wait may be longer.
const MAX_INTERVAL_SECS: u64 = 29 * 60;

/// A configuration value that cannot work. `field` is the key in the `[imap]` section.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("imap.{field}: {message}")]
pub struct ConfigError {
    /// The offending key, e.g. `"tls"`.
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl ConfigError {
    fn new(field: &'static str, message: impl Into<String>) -> Self {
        ConfigError {
            field,
            message: message.into(),
        }
    }
}

impl ImapConfig {
    /// A configuration with every optional field at its default.
    pub fn new(host: impl Into<String>, tls: TlsMode, user: impl Into<String>) -> Self {
        ImapConfig {
            host: host.into(),
            port: None,
            tls,
            ca_file: None,
            user: user.into(),
            password_env: default_password_env(),
            folder: default_folder(),
            poll_interval_secs: default_poll_interval_secs(),
            idle: true,
            batch_size: default_batch_size(),
            max_message_bytes: default_max_message_bytes(),
            timeout_secs: default_timeout_secs(),
            reconnect_max_secs: default_reconnect_max_secs(),
        }
    }

    /// Checks what deserializing cannot. The error names the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let host = self.host.trim();
        if host.is_empty() {
            return Err(ConfigError::new("host", "must not be empty"));
        }
        if host != self.host || host.contains(char::is_whitespace) {
            return Err(ConfigError::new(
                "host",
                format!("{:?} contains whitespace", self.host),
            ));
        }
        if self.port == Some(0) {
            return Err(ConfigError::new("port", "must be between 1 and 65535"));
        }
        if self.tls == TlsMode::None && !is_loopback(&self.host) {
            return Err(ConfigError::new(
                "tls",
                format!(
                    "\"none\" would send the password in clear text; it is allowed only for a \
                     loopback host (localhost, 127.0.0.0/8, ::1), not {:?}: use \"tls\" or \"starttls\"",
                    self.host
                ),
            ));
        }
        if self.tls == TlsMode::None && self.ca_file.is_some() {
            return Err(ConfigError::new(
                "ca_file",
                "has no effect with tls = \"none\"; remove it or enable TLS",
            ));
        }
        if self
            .ca_file
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            return Err(ConfigError::new("ca_file", "must not be empty when set"));
        }
        if self.user.is_empty() {
            return Err(ConfigError::new("user", "must not be empty"));
        }
        if has_control(&self.user) {
            return Err(ConfigError::new(
                "user",
                "must not contain control characters",
            ));
        }
        if self.password_env.is_empty()
            || self.password_env.contains('=')
            || self.password_env.contains('\0')
        {
            return Err(ConfigError::new(
                "password_env",
                format!(
                    "{:?} is not an environment variable name",
                    self.password_env
                ),
            ));
        }
        if self.folder.is_empty() {
            return Err(ConfigError::new("folder", "must not be empty"));
        }
        if has_control(&self.folder) {
            return Err(ConfigError::new(
                "folder",
                "must not contain control characters",
            ));
        }
        if !(1..=MAX_INTERVAL_SECS).contains(&self.poll_interval_secs) {
            return Err(ConfigError::new(
                "poll_interval_secs",
                format!("must be between 1 and {MAX_INTERVAL_SECS} (29 minutes)"),
            ));
        }
        if self.batch_size == 0 {
            return Err(ConfigError::new("batch_size", "must be at least 1"));
        }
        if self.max_message_bytes == 0 {
            return Err(ConfigError::new("max_message_bytes", "must be at least 1"));
        }
        if !(1..=3600).contains(&self.timeout_secs) {
            return Err(ConfigError::new(
                "timeout_secs",
                "must be between 1 and 3600",
            ));
        }
        if !(1..=3600).contains(&self.reconnect_max_secs) {
            return Err(ConfigError::new(
                "reconnect_max_secs",
                "must be between 1 and 3600",
            ));
        }
        Ok(())
    }

    /// The port to connect to: `port`, or the conventional one for `tls`.
    pub fn effective_port(&self) -> u16 {
        self.port.unwrap_or_else(|| self.tls.default_port())
    }

    /// Reads the password from the environment variable named by `password_env`.
    pub fn password_from_env(&self) -> Result<Password, ConfigError> {
        match std::env::var(&self.password_env) {
            Ok(p) if !p.is_empty() => Ok(Password::new(p)),
            Ok(_) => Err(ConfigError::new(
                "password_env",
                format!("environment variable {} is empty", self.password_env),
            )),
            Err(std::env::VarError::NotPresent) => Err(ConfigError::new(
                "password_env",
                format!(
                    "environment variable {} is not set (it must hold the IMAP password)",
                    self.password_env
                ),
            )),
            Err(std::env::VarError::NotUnicode(_)) => Err(ConfigError::new(
                "password_env",
                format!("environment variable {} is not UTF-8", self.password_env),
            )),
        }
    }

    pub(crate) fn poll_interval(&self) -> Duration {
        Duration::from_secs(self.poll_interval_secs)
    }

    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }
}

/// The IMAP password. Its `Debug` output is redacted so it cannot leak into logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a password.
    pub fn new(password: impl Into<String>) -> Self {
        Password(password.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// `localhost`, an address in 127.0.0.0/8, or `::1` (bracketed or not).
fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for h in [
            "localhost",
            "LOCALHOST",
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "[::1]",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in [
            "imap.example.com",
            "10.0.0.1",
            "localhost.example.com",
            "::2",
            "",
        ] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    fn password_debug_is_redacted() {
        assert_eq!(
            format!("{:?}", Password::new("hunter2")),
            "Password(<redacted>)"
        );
    }
}
