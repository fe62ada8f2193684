//! Email over SMTP (lettre, on tokio; TLS by rustls with `ring`).
//!
//! One connection per message, in three phases, each classified on its own:
//!
//! | phase | failure | result |
//! |---|---|---|
//! | connect: TCP, greeting, EHLO, STARTTLS / implicit TLS | anything (refused, timeout, TLS, no STARTTLS offered, 4xx/5xx greeting) | `Transient`: the server or the network, not this message |
//! | AUTH | 4xx / 5xx (535 bad credentials) | `Transient` / `Permanent` |
//! | MAIL, RCPT, DATA | 4xx (451, 452) / 5xx (550 no such user, 552, 554) | `Transient` / `Permanent` |
//! | any | the whole attempt exceeds `timeout_secs` | `Transient` |
//!
//! `Sent` means the server answered 250 to the end of DATA; its reply (often "queued as …")
//! is the provider id. STARTTLS is required when configured: a server that does not offer it
//! gets nothing in cleartext. `security = "none"` is refused unless the host is loopback.
//!
//! Threading: the Message-ID is the message's own (booking replies) or derived from the
//! delivery key, so a resend after a crash carries the same id and the receiver can recognise
//! it; In-Reply-To and References come from the message, so the client's answer threads back
//! into the booking. The one window SMTP cannot close: a connection lost after the server took
//! the final "." but before its 250 arrived reads as `Transient`, and the retry delivers a
//! second copy with the same Message-ID.

use std::path::PathBuf;
use std::time::Duration;

use lettre::address::Envelope;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message, MultiPart};
use lettre::transport::smtp::Error as SmtpError;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use serde::{Deserialize, Serialize};

use crate::config::{
    ConfigError, Problems, SecretSource, check_env_name, check_timeout, default_timeout_secs,
    is_loopback_host, read_secret,
};
use crate::message::{check_message_id, strip_brackets};
use crate::{Address, Channel, DeliveryResult, OutboundMessage, Sender, excerpt, log_result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Cleartext; only to a loopback host (a local relay, tests).
    None,
    /// Plain connect, then STARTTLS, required (port 587 by default).
    Starttls,
    /// Implicit TLS from the first byte (port 465 by default).
    Tls,
}

/// ```toml
/// host = "smtp.example.com"
/// security = "starttls"          # none | starttls | tls
/// username = "bookings@atelier.example"
/// password_env = "OPENEVENT_SMTP_PASSWORD"
/// from_address = "bookings@atelier.example"
/// from_name = "The Atelier"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    /// Default: 25 (none), 587 (starttls), 465 (tls).
    #[serde(default)]
    pub port: Option<u16>,
    pub security: SmtpSecurity,
    #[serde(default)]
    pub username: Option<String>,
    /// The environment variable holding the password (never the password itself).
    #[serde(default)]
    pub password_env: Option<String>,
    pub from_address: String,
    #[serde(default)]
    pub from_name: Option<String>,
    /// The right-hand side of derived Message-IDs. Default: the domain of `from_address`.
    #[serde(default)]
    pub message_id_domain: Option<String>,
    /// The EHLO name. Default: the domain of `from_address`.
    #[serde(default)]
    pub hello_name: Option<String>,
    /// Deadline of one whole attempt (connect to 250 after DATA).
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// A PEM file of extra trusted root certificates (a private relay), added to the
    /// webpki roots.
    #[serde(default)]
    pub extra_root_certs: Option<PathBuf>,
}

impl SmtpConfig {
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.security {
            SmtpSecurity::None => 25,
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::Tls => 465,
        })
    }

    fn sender_domain(&self) -> &str {
        self.from_address.rsplit_once('@').map_or("", |(_, d)| d)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut p = Problems::default();
        if self.host.trim().is_empty() || self.host.contains(char::is_whitespace) {
            p.push("smtp.host", "must be a host name or IP address");
        }
        if self.port == Some(0) {
            p.push("smtp.port", "must not be 0");
        }
        if self.security == SmtpSecurity::None && !is_loopback_host(&self.host) {
            p.push(
                "smtp.security",
                "\"none\" sends in cleartext and is allowed only to a loopback host; use \"starttls\" or \"tls\"",
            );
        }
        match (&self.username, &self.password_env) {
            (Some(_), None) => p.push("smtp.password_env", "required with smtp.username"),
            (None, Some(_)) => p.push("smtp.username", "required with smtp.password_env"),
            (Some(u), Some(env)) => {
                if u.is_empty() {
                    p.push("smtp.username", "must not be empty");
                }
                check_env_name(&mut p, "smtp.password_env", env);
            }
            (None, None) => {}
        }
        if self.from_address.parse::<lettre::Address>().is_err() {
            p.push("smtp.from_address", "must be an email address");
        }
        if self
            .from_name
            .as_deref()
            .is_some_and(|n| n.chars().any(char::is_control))
        {
            p.push("smtp.from_name", "must not contain control characters");
        }
        for (field, value) in [
            ("smtp.message_id_domain", &self.message_id_domain),
            ("smtp.hello_name", &self.hello_name),
        ] {
            if let Some(d) = value
                && !is_domain(d)
            {
                p.push(field, "must be a domain name");
            }
        }
        check_timeout(&mut p, "smtp.timeout_secs", self.timeout_secs);
        p.finish()
    }
}

fn is_domain(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[derive(Clone)]
pub struct SmtpChannel {
    host: String,
    port: u16,
    security: SmtpSecurity,
    tls: Option<TlsParameters>,
    credentials: Option<Credentials>,
    from: Mailbox,
    message_id_domain: String,
    hello: ClientId,
    timeout: Duration,
}

impl std::fmt::Debug for SmtpChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpChannel")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("auth", &self.credentials.is_some())
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpChannel {
    /// Validates the configuration, reads the password from `secrets` and the extra roots
    /// from disk. Errors name the configuration field.
    pub fn new(config: &SmtpConfig, secrets: &dyn SecretSource) -> Result<Self, ConfigError> {
        config.validate()?;
        let credentials = match (&config.username, &config.password_env) {
            (Some(user), Some(env)) => {
                let password = read_secret(secrets, "smtp.password_env", env)?;
                Some(Credentials::new(user.clone(), password.expose().to_owned()))
            }
            _ => None,
        };
        let tls = match config.security {
            SmtpSecurity::None => None,
            SmtpSecurity::Starttls | SmtpSecurity::Tls => {
                let mut b = TlsParameters::builder(config.host.clone());
                if let Some(path) = &config.extra_root_certs {
                    let pem = std::fs::read(path).map_err(|e| {
                        ConfigError::new(
                            "smtp.extra_root_certs",
                            format!("cannot read {}: {e}", path.display()),
                        )
                    })?;
                    let cert = Certificate::from_pem(&pem).map_err(|e| {
                        ConfigError::new(
                            "smtp.extra_root_certs",
                            format!("not a PEM certificate: {e}"),
                        )
                    })?;
                    b = b.add_root_certificate(cert);
                }
                Some(b.build_rustls().map_err(|e| {
                    ConfigError::new("smtp.security", format!("TLS set-up failed: {e}"))
                })?)
            }
        };
        let from_address = config
            .from_address
            .parse()
            .map_err(|_| ConfigError::new("smtp.from_address", "must be an email address"))?;
        let domain = config.sender_domain().to_owned();
        Ok(SmtpChannel {
            host: config.host.clone(),
            port: config.port(),
            security: config.security,
            tls,
            credentials,
            from: Mailbox::new(config.from_name.clone(), from_address),
            message_id_domain: config.message_id_domain.clone().unwrap_or(domain.clone()),
            hello: ClientId::Domain(config.hello_name.clone().unwrap_or(domain)),
            timeout: Duration::from_secs(config.timeout_secs),
        })
    }

    /// The message as it goes on the wire (RFC 5322 bytes) and its envelope. `Err` is a
    /// message that can never be sent (not an email recipient, an invalid address or id).
    pub fn build(&self, msg: &OutboundMessage) -> Result<(Envelope, Vec<u8>), DeliveryResult> {
        let bad = |what: String| DeliveryResult::Permanent {
            error: format!("smtp: {what}"),
        };
        let Address::Email(to) = &msg.to else {
            return Err(bad(format!(
                "cannot deliver to a {} address",
                address_kind(&msg.to)
            )));
        };
        let to: lettre::Address = to
            .parse()
            .map_err(|e| bad(format!("invalid recipient: {e}")))?;
        let from = match &msg.from {
            Some(s) => mailbox(s).map_err(|e| bad(format!("invalid from: {e}")))?,
            None => self.from.clone(),
        };
        let message_id = msg.effective_message_id(&self.message_id_domain);
        check_message_id(&message_id).map_err(|e| bad(format!("message_id: {e}")))?;
        // The envelope sender stays the configured account whatever the From header says,
        // so SPF and the relay's sender checks see the address they know.
        let envelope = Envelope::new(Some(self.from.email.clone()), vec![to.clone()])
            .map_err(|e| bad(format!("invalid envelope: {e}")))?;
        let mut builder = Message::builder()
            .envelope(envelope)
            .from(from)
            .to(Mailbox::new(None, to))
            .subject(one_line(msg.subject.as_deref().unwrap_or("")))
            .message_id(Some(format!("<{message_id}>")));
        if let Some(parent) = &msg.in_reply_to {
            let parent = strip_brackets(parent);
            check_message_id(parent).map_err(|e| bad(format!("in_reply_to: {e}")))?;
            builder = builder.in_reply_to(format!("<{parent}>"));
        }
        if !msg.references.is_empty() {
            let mut refs = Vec::with_capacity(msg.references.len());
            for r in &msg.references {
                let r = strip_brackets(r);
                check_message_id(r).map_err(|e| bad(format!("references: {e}")))?;
                refs.push(format!("<{r}>"));
            }
            builder = builder.references(refs.join(" "));
        }
        if let Some(reply_to) = &msg.reply_to {
            let addr = reply_to
                .parse()
                .map_err(|e| bad(format!("invalid reply_to: {e}")))?;
            builder = builder.reply_to(Mailbox::new(None, addr));
        }
        let message = match &msg.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(
                msg.text.clone(),
                html.clone(),
            )),
            None => builder
                .header(ContentType::TEXT_PLAIN)
                .body(msg.text.clone()),
        }
        .map_err(|e| bad(format!("cannot build the message: {e}")))?;
        Ok((message.envelope().clone(), message.formatted()))
    }

    async fn deliver(&self, envelope: &Envelope, bytes: &[u8]) -> DeliveryResult {
        let implicit_tls = match self.security {
            SmtpSecurity::Tls => self.tls.clone(),
            _ => None,
        };
        let connected = match implicit_tls {
            Some(tls) => {
                AsyncSmtpConnection::connect_tokio1(
                    (self.host.as_str(), self.port),
                    Some(self.timeout),
                    &self.hello,
                    Some(tls),
                    None,
                )
                .await
            }
            None => {
                // Our own socket, for TCP_NODELAY: lettre writes the message and the final
                // ".\r\n" separately, and with Nagle's algorithm the second write waited for the
                // server's delayed ACK — 40–60 ms per message, capping a dispatcher at ~22
                // mails/s (measured against a loopback server).
                let stream = match tokio::time::timeout(
                    self.timeout,
                    tokio::net::TcpStream::connect((self.host.as_str(), self.port)),
                )
                .await
                {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => return plain_connect_failure(&e.to_string()),
                    Err(_) => return plain_connect_failure("timed out"),
                };
                if let Err(e) = stream.set_nodelay(true) {
                    return plain_connect_failure(&e.to_string());
                }
                AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello).await
            }
        };
        let mut conn = match connected {
            Ok(c) => c,
            Err(e) => return connect_failure(&e),
        };
        if self.security == SmtpSecurity::Starttls {
            let tls = self.tls.clone().expect("starttls has TLS parameters");
            // On failure the connection is dropped, never reused: after a failed TLS upgrade
            // lettre has no stream left to write QUIT to. (lettre already sends QUIT after an
            // SMTP error reply.)
            if let Err(e) = conn.starttls(tls, &self.hello).await {
                return connect_failure(&e);
            }
        }
        if let Some(credentials) = &self.credentials
            && let Err(e) = conn
                .auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await
        {
            return by_code("auth", &e);
        }
        match conn.send(envelope, bytes).await {
            Ok(response) => {
                // Accepted. QUIT is a courtesy: its failure changes nothing.
                let _ = conn.quit().await;
                let reply = response.message().collect::<Vec<_>>().join(" ");
                DeliveryResult::Sent {
                    provider_id: Some(excerpt(&format!("{} {reply}", response.code()), 200)),
                }
            }
            Err(e) => by_code("send", &e),
        }
    }
}

impl Channel for SmtpChannel {
    fn name(&self) -> &'static str {
        "smtp"
    }

    async fn send(&self, msg: &OutboundMessage) -> DeliveryResult {
        let result = match self.build(msg) {
            Err(refused) => refused,
            Ok((envelope, bytes)) => {
                match tokio::time::timeout(self.timeout, self.deliver(&envelope, &bytes)).await {
                    Ok(r) => r,
                    Err(_) => DeliveryResult::Transient {
                        error: format!("smtp: timeout after {}s", self.timeout.as_secs()),
                        retry_after_secs: None,
                    },
                }
            }
        };
        log_result("smtp", msg, &result);
        result
    }
}

fn error_text(e: &SmtpError) -> String {
    let mut s = e.to_string();
    let mut source = std::error::Error::source(e);
    // lettre's Display already includes the first source.
    if let Some(first) = source {
        source = first.source();
    }
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    excerpt(&s, 300)
}

/// A TCP connect that failed before SMTP began (worded as lettre words its own).
fn plain_connect_failure(detail: &str) -> DeliveryResult {
    DeliveryResult::Transient {
        error: format!("smtp at connect: Connection error: {detail}"),
        retry_after_secs: None,
    }
}

fn connect_failure(e: &SmtpError) -> DeliveryResult {
    let code = e.status().map(|c| format!(" {c}")).unwrap_or_default();
    DeliveryResult::Transient {
        error: format!("smtp{code} at connect: {}", error_text(e)),
        retry_after_secs: None,
    }
}

fn by_code(phase: &str, e: &SmtpError) -> DeliveryResult {
    let code = e.status().map(|c| format!(" {c}")).unwrap_or_default();
    let error = format!("smtp{code} at {phase}: {}", error_text(e));
    if e.is_permanent() {
        DeliveryResult::Permanent { error }
    } else {
        DeliveryResult::Transient {
            error,
            retry_after_secs: None,
        }
    }
}

fn mailbox(s: &Sender) -> Result<Mailbox, String> {
    let addr = s.address.parse().map_err(|e| format!("{e}"))?;
    Ok(Mailbox::new(s.name.as_deref().map(one_line), addr))
}

/// Header text on one line: control characters (CR, LF) become spaces.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

pub(crate) fn address_kind(a: &Address) -> &'static str {
    match a {
        Address::Email(_) => "email",
        Address::Phone(_) => "phone",
        Address::Staff(_) => "staff",
        Address::TaskQueue => "task queue",
        Address::Webhook(_) => "webhook",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openevent_automation::template::Rendered;

    fn config() -> SmtpConfig {
        SmtpConfig {
            host: "smtp.example.com".into(),
            port: None,
            security: SmtpSecurity::Starttls,
            username: Some("bookings@atelier.example".into()),
            password_env: Some("SMTP_PASSWORD".into()),
            from_address: "bookings@atelier.example".into(),
            from_name: Some("The Atelier".into()),
            message_id_domain: None,
            hello_name: None,
            timeout_secs: 30,
            extra_root_certs: None,
        }
    }

    #[test]
    fn cleartext_only_to_loopback() {
        let mut c = config();
        c.security = SmtpSecurity::None;
        let err = c.validate().unwrap_err();
        assert!(err.names("smtp.security"), "{err}");
        c.host = "127.0.0.1".into();
        assert!(c.validate().is_ok());
        assert_eq!(c.port(), 25);
    }

    #[test]
    fn validation_names_each_field() {
        let mut c = config();
        c.password_env = Some("hunter2".into());
        c.from_address = "nobody".into();
        c.timeout_secs = 0;
        c.message_id_domain = Some("a b".into());
        let err = c.validate().unwrap_err();
        for f in [
            "smtp.password_env",
            "smtp.from_address",
            "smtp.timeout_secs",
            "smtp.message_id_domain",
        ] {
            assert!(err.names(f), "{f}: {err}");
        }
        assert!(!err.to_string().contains("hunter2"));
        let toml_err = serde_json::from_str::<SmtpConfig>(
            r#"{"host":"h","security":"tls","from_address":"a@b.c","pasword_env":"X"}"#,
        )
        .unwrap_err();
        assert!(toml_err.to_string().contains("pasword_env"), "{toml_err}");
    }

    #[test]
    fn a_missing_password_names_the_variable() {
        let err = SmtpChannel::new(&config(), &[("OTHER", "x")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "smtp.password_env: environment variable SMTP_PASSWORD is not set"
        );
        let ch = SmtpChannel::new(&config(), &[("SMTP_PASSWORD", "hunter2")]).unwrap();
        assert!(!format!("{ch:?}").contains("hunter2"));
        assert_eq!(ch.port, 587);
    }

    fn msg(to: Address) -> OutboundMessage {
        OutboundMessage::new(
            "dk1-00112233445566778899aabbccddeeff",
            to,
            Rendered {
                subject: Some("Offer\r\nBcc: evil@example.com".into()),
                text: "Grüezi".into(),
                html: None,
            },
        )
    }

    #[test]
    fn headers_cannot_be_injected() {
        let ch = SmtpChannel::new(&config(), &[("SMTP_PASSWORD", "x")]).unwrap();
        let (_, bytes) = ch
            .build(&msg(Address::Email("laura@example.com".into())))
            .unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert!(!text.contains("\r\nBcc:"), "{text}");
        assert!(
            text.contains("Message-ID: <dk1-00112233445566778899aabbccddeeff@atelier.example>"),
            "{text}"
        );
        let mut m = msg(Address::Email("laura@example.com".into()));
        m.in_reply_to = Some("abc@x\r\nBcc: evil@example.com".into());
        assert!(matches!(
            ch.build(&m),
            Err(DeliveryResult::Permanent { .. })
        ));
    }

    #[test]
    fn a_from_override_keeps_the_configured_envelope_sender() {
        let ch = SmtpChannel::new(&config(), &[("SMTP_PASSWORD", "x")]).unwrap();
        let mut m = msg(Address::Email("laura@example.com".into()));
        m.from = Some(Sender {
            address: "anna@atelier.example".into(),
            name: Some("Anna\r\nBcc: x@y.z".into()),
        });
        let (envelope, bytes) = ch.build(&m).unwrap();
        assert_eq!(
            envelope.from().map(|a| a.to_string()),
            Some("bookings@atelier.example".into())
        );
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.contains("anna@atelier.example"), "{text}");
        assert!(!text.contains("\r\nBcc:"), "{text}");
    }

    #[test]
    fn non_email_addresses_are_permanent_failures() {
        let ch = SmtpChannel::new(&config(), &[("SMTP_PASSWORD", "x")]).unwrap();
        let Err(DeliveryResult::Permanent { error }) = ch.build(&msg(Address::TaskQueue)) else {
            panic!()
        };
        assert_eq!(error, "smtp: cannot deliver to a task queue address");
    }
}
