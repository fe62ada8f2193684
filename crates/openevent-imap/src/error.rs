//! Why a poll or a connection failed.

use std::io;

use crate::config::ConfigError;

/// A failure to talk to the IMAP server. No message is marked `\Seen` by a failed step, so every
/// error is safe to retry; [`ImapError::is_permanent`] tells which ones retrying will not fix.
#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// TCP connection failed (refused, unreachable, DNS).
    #[error("imap: cannot connect to {addr}: {source}")]
    Connect {
        /// `host:port`.
        addr: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The CA file given in `ca_file` cannot be used.
    #[error("imap.ca_file: {path}: {message}")]
    CaFile {
        /// The configured path.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// The TLS handshake was refused: untrusted or mismatching certificate, no common protocol.
    #[error("imap: TLS with {host} failed: {message}")]
    Tls {
        /// The server name checked.
        host: String,
        /// The cause.
        message: String,
    },
    /// The server does not offer STARTTLS although `tls = "starttls"`.
    #[error(
        "imap: {host} does not offer STARTTLS (tls = \"starttls\"); refusing to log in in clear text"
    )]
    StarttlsUnavailable {
        /// The server.
        host: String,
    },
    /// The server refused the login.
    #[error("imap: login as {user:?} refused: {message}")]
    Auth {
        /// The configured user.
        user: String,
        /// The server's answer.
        message: String,
    },
    /// The folder cannot be selected, or is read-only.
    #[error("imap.folder: cannot use {folder:?}: {message}")]
    Folder {
        /// The configured folder.
        folder: String,
        /// The server's answer.
        message: String,
    },
    /// The server answered a command with NO or BAD.
    #[error("imap: {command} refused by the server: {message}")]
    Refused {
        /// The command, without arguments.
        command: &'static str,
        /// The server's answer.
        message: String,
    },
    /// The connection closed, or the server said BYE.
    #[error("imap: connection lost during {command}")]
    ConnectionLost {
        /// The command in progress.
        command: &'static str,
    },
    /// No answer within `timeout_secs`.
    #[error("imap: {command} timed out after {secs} s")]
    Timeout {
        /// The command in progress.
        command: &'static str,
        /// The configured timeout.
        secs: u64,
    },
    /// Any other protocol or I/O failure.
    #[error("imap: {command}: {source}")]
    Protocol {
        /// The command in progress.
        command: &'static str,
        /// The cause.
        #[source]
        source: async_imap::error::Error,
    },
}

impl ImapError {
    /// True when retrying cannot help until someone changes the configuration, the credentials
    /// or the server: a refused login, a missing folder, an untrusted certificate. `run` gives up
    /// on these only when they happen on its very first connection (a misconfiguration shows at
    /// start-up); later it keeps retrying, since a server may refuse temporarily.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            ImapError::Config(_)
                | ImapError::CaFile { .. }
                | ImapError::Tls { .. }
                | ImapError::StarttlsUnavailable { .. }
                | ImapError::Auth { .. }
                | ImapError::Folder { .. }
        )
    }

    pub(crate) fn protocol(command: &'static str, source: async_imap::error::Error) -> Self {
        match source {
            async_imap::error::Error::ConnectionLost => ImapError::ConnectionLost { command },
            async_imap::error::Error::No(message) | async_imap::error::Error::Bad(message) => {
                ImapError::Refused {
                    command,
                    message: server_text(&message),
                }
            }
            source => ImapError::Protocol { command, source },
        }
    }
}

/// async-imap reports a NO/BAD as `code: Some(…), info: Some("text")`; keep the server's words.
pub(crate) fn server_text(message: &str) -> String {
    let Some((code, info)) = message
        .strip_prefix("code: ")
        .and_then(|rest| rest.split_once(", info: "))
    else {
        return message.to_owned();
    };
    let info = info
        .strip_prefix("Some(\"")
        .and_then(|i| i.strip_suffix("\")"))
        .unwrap_or(info);
    match code {
        "None" => info.to_owned(),
        code => format!("{info} ({code})"),
    }
}

#[cfg(test)]
mod tests {
    use super::server_text;

    #[test]
    fn server_text_keeps_the_servers_words() {
        assert_eq!(
            server_text(
                r#"code: None, info: Some("[AUTHENTICATIONFAILED] Authentication failed.")"#
            ),
            "[AUTHENTICATIONFAILED] Authentication failed."
        );
        assert_eq!(server_text("odd"), "odd");
    }
}
