//! One logged-in IMAP connection and the handful of commands the poller needs; see `connect`
//! for how it is opened.
//!
//! Commands are sent with `Session::run_command` and their answers read here, up to the tagged
//! completion, instead of through async-imap's typed helpers: those end a FETCH, STORE or SEARCH
//! answer quietly when the connection closes and do not report a tagged `NO`, which would make
//! "the server is gone" look like "nothing to do". Here a closed connection, a `BYE`, a `NO` or a
//! `BAD` is always an error, and every command is bounded by `timeout_secs`.

use std::collections::BTreeMap;
use std::time::Duration;

use async_imap::Session;
use async_imap::extensions::idle::IdleResponse;
use async_imap::imap_proto::{
    AttributeValue, Capability, MailboxDatum, Response, ResponseCode, Status,
};
use tokio::sync::watch;

use crate::connect::Stream;
use crate::error::ImapError;

/// The keyword set, together with `\Seen`, on a message the sink rejected.
pub const REJECTED_KEYWORD: &str = "$OpeneventRejected";

pub(crate) fn describe(status: &Status, outcome: &async_imap::imap_proto::Outcome<'_>) -> String {
    let text = outcome.information.as_deref().unwrap_or("").trim();
    let status = match status {
        Status::No => "NO",
        Status::Bad => "BAD",
        Status::Bye => "BYE",
        Status::Ok => "OK",
        Status::PreAuth => "PREAUTH",
    };
    match &outcome.code {
        Some(code) => format!("{status} [{code:?}] {text}"),
        None => format!("{status} {text}"),
    }
}

/// What SELECT reported.
#[derive(Debug, Default)]
pub(crate) struct Selected {
    pub(crate) uid_validity: Option<u32>,
    pub(crate) read_only: bool,
    /// `None` when the server sent no PERMANENTFLAGS (then every flag is permanent).
    pub(crate) permanent_flags: Option<Vec<String>>,
}

impl Selected {
    fn can_keep(&self, flag: &str) -> bool {
        self.permanent_flags.as_ref().is_none_or(|flags| {
            flags
                .iter()
                .any(|f| f.eq_ignore_ascii_case(flag) || (f == "\\*" && !flag.starts_with('\\')))
        })
    }
}

/// Why an IDLE wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Woken {
    /// The server reported a change (a new message, most likely).
    Changed,
    /// The poll interval passed.
    Interval,
}

/// The end of an IDLE wait.
pub(crate) enum Idled {
    /// IDLE ended; the connection is ready for the next poll.
    Woken(Conn, Woken),
    /// Shutdown came: the connection is dropped as it is (nothing is in hand while idling).
    Stopped,
}

/// A logged-in connection.
pub(crate) struct Conn {
    session: Session<Stream>,
    timeout: Duration,
    idle: bool,
    /// The server announced a message (`EXISTS`) since the last search began.
    arrived: bool,
    /// A command was interrupted by shutdown: the connection is in an unknown state.
    abandoned: bool,
}

impl Conn {
    /// Wraps a logged-in session and asks what the server can do.
    pub(crate) async fn open(
        session: Session<Stream>,
        timeout: Duration,
    ) -> Result<Conn, ImapError> {
        let mut conn = Conn {
            session,
            timeout,
            idle: false,
            arrived: false,
            abandoned: false,
        };
        let mut idle = false;
        conn.command("CAPABILITY", "CAPABILITY", |r| {
            if let Response::Capabilities(caps) = r {
                idle = caps
                    .iter()
                    .any(|c| matches!(c, Capability::Atom(a) if a.eq_ignore_ascii_case("IDLE")));
            }
        })
        .await?;
        conn.idle = idle;
        Ok(conn)
    }

    /// Whether the server offers IDLE.
    pub(crate) fn supports_idle(&self) -> bool {
        self.idle
    }

    /// Whether a message may have arrived after the last search began (the server said `EXISTS`
    /// in answer to a later command): then the next poll should not wait. Clears the mark.
    pub(crate) fn take_arrived(&mut self) -> bool {
        std::mem::take(&mut self.arrived)
    }

    /// Sends one command and reads its answer up to the tagged completion. `on_data` sees every
    /// untagged response. A tagged NO/BAD, a BYE or a closed connection is an error.
    async fn command(
        &mut self,
        command: &'static str,
        line: &str,
        mut on_data: impl FnMut(&Response<'_>) + Send,
    ) -> Result<Completion, ImapError> {
        let session = &mut self.session;
        let arrived = &mut self.arrived;
        let exchange = async {
            let tag = session
                .run_command(line)
                .await
                .map_err(|e| ImapError::protocol(command, e))?;
            loop {
                let response = session
                    .read_response()
                    .await
                    .map_err(|e| ImapError::protocol(command, e.into()))?
                    .ok_or(ImapError::ConnectionLost { command })?;
                match response.parsed() {
                    Response::Done {
                        tag: done,
                        status,
                        outcome,
                    } if *done == tag => {
                        return match status {
                            Status::Ok => Ok(Completion {
                                read_only: matches!(outcome.code, Some(ResponseCode::ReadOnly)),
                            }),
                            _ => Err(ImapError::Refused {
                                command,
                                message: describe(status, outcome),
                            }),
                        };
                    }
                    Response::Data {
                        status: Status::Bye,
                        ..
                    } => return Err(ImapError::ConnectionLost { command }),
                    other => {
                        if let Response::MailboxData(MailboxDatum::Exists(_)) = other {
                            *arrived = true;
                        }
                        on_data(other)
                    }
                }
            }
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| ImapError::Timeout {
                command,
                secs: self.timeout.as_secs(),
            })?
    }

    /// SELECTs the folder (read-write), refusing a folder where `\Seen` cannot be stored.
    pub(crate) async fn select(&mut self, folder: &str) -> Result<Selected, ImapError> {
        let mut selected = Selected::default();
        let line = format!("SELECT {}", quote(&mailbox_name(folder)));
        let completion = self
            .command("SELECT", &line, |r| {
                if let Response::Data { outcome, .. } = r {
                    match &outcome.code {
                        Some(ResponseCode::UidValidity(v)) => selected.uid_validity = Some(*v),
                        Some(ResponseCode::PermanentFlags(flags)) => {
                            selected.permanent_flags =
                                Some(flags.iter().map(|f| f.to_string()).collect());
                        }
                        _ => {}
                    }
                }
            })
            .await
            .map_err(|e| match e {
                ImapError::Refused { message, .. } => ImapError::Folder {
                    folder: folder.to_owned(),
                    message,
                },
                other => other,
            })?;
        selected.read_only = completion.read_only;
        if selected.read_only {
            return Err(ImapError::Folder {
                folder: folder.to_owned(),
                message: "the server opened it read-only, so \\Seen cannot be stored".to_owned(),
            });
        }
        if !selected.can_keep("\\Seen") {
            return Err(ImapError::Folder {
                folder: folder.to_owned(),
                message: "the server does not keep the \\Seen flag (PERMANENTFLAGS)".to_owned(),
            });
        }
        if !selected.can_keep(REJECTED_KEYWORD) {
            tracing::warn!(
                folder,
                keyword = REJECTED_KEYWORD,
                "the server does not keep custom keywords: rejected messages will only be marked \\Seen"
            );
        }
        Ok(selected)
    }

    /// UIDs of the messages neither seen nor deleted, ascending.
    pub(crate) async fn unseen(&mut self) -> Result<Vec<u32>, ImapError> {
        let mut uids = Vec::new();
        self.arrived = false;
        self.command("UID SEARCH", "UID SEARCH UNSEEN UNDELETED", |r| {
            if let Response::MailboxData(MailboxDatum::Search(found)) = r {
                uids.extend_from_slice(found);
            }
        })
        .await?;
        uids.sort_unstable();
        uids.dedup();
        Ok(uids)
    }

    /// The size of each message, by UID; a UID missing from the answer was expunged meanwhile.
    pub(crate) async fn sizes(&mut self, uids: &[u32]) -> Result<BTreeMap<u32, u64>, ImapError> {
        let mut sizes = BTreeMap::new();
        if uids.is_empty() {
            return Ok(sizes);
        }
        let set = uids
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        self.command(
            "UID FETCH",
            &format!("UID FETCH {set} (UID RFC822.SIZE)"),
            |r| {
                if let Response::Fetch(_, attributes) = r {
                    let mut uid = None;
                    let mut size = None;
                    for a in attributes {
                        match a {
                            AttributeValue::Uid(u) => uid = Some(*u),
                            AttributeValue::Rfc822Size(s) => size = Some(u64::from(*s)),
                            _ => {}
                        }
                    }
                    if let (Some(uid), Some(size)) = (uid, size) {
                        sizes.insert(uid, size);
                    }
                }
            },
        )
        .await?;
        Ok(sizes)
    }

    /// The whole message, without setting `\Seen` (`BODY.PEEK[]`). `None` if it was expunged.
    pub(crate) async fn body(&mut self, uid: u32) -> Result<Option<Vec<u8>>, ImapError> {
        let mut body = None;
        self.command(
            "UID FETCH",
            &format!("UID FETCH {uid} (UID BODY.PEEK[])"),
            |r| {
                if let Response::Fetch(_, attributes) = r {
                    let mut this = false;
                    let mut data = None;
                    for a in attributes {
                        match a {
                            AttributeValue::Uid(u) => this = *u == uid,
                            AttributeValue::BodySection {
                                section: None,
                                data: Some(d),
                                ..
                            } => data = Some(d.to_vec()),
                            _ => {}
                        }
                    }
                    if this && data.is_some() {
                        body = data;
                    }
                }
            },
        )
        .await?;
        Ok(body)
    }

    /// Adds `\Seen` to the message.
    pub(crate) async fn mark_seen(&mut self, uid: u32) -> Result<(), ImapError> {
        self.command(
            "UID STORE",
            &format!("UID STORE {uid} +FLAGS.SILENT (\\Seen)"),
            |_| {},
        )
        .await?;
        Ok(())
    }

    /// Adds `\Seen` and [`REJECTED_KEYWORD`] to the message.
    pub(crate) async fn mark_rejected(&mut self, uid: u32) -> Result<(), ImapError> {
        self.command(
            "UID STORE",
            &format!("UID STORE {uid} +FLAGS.SILENT (\\Seen {REJECTED_KEYWORD})"),
            |_| {},
        )
        .await?;
        Ok(())
    }

    /// Waits in IDLE until the server reports a change or `interval` passes, then ends IDLE and
    /// hands the connection back; or until `stop` turns true.
    pub(crate) async fn idle(
        self,
        interval: Duration,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<Idled, ImapError> {
        let Conn {
            session,
            timeout,
            idle,
            arrived,
            abandoned,
        } = self;
        let bound = |_| ImapError::Timeout {
            command: "IDLE",
            secs: timeout.as_secs(),
        };
        let mut handle = session.idle();
        tokio::select! {
            started = tokio::time::timeout(timeout, handle.init()) => {
                started.map_err(bound)?.map_err(|e| ImapError::protocol("IDLE", e))?;
            }
            () = stopped(stop) => return Ok(Idled::Stopped),
        }
        let woken = {
            let (wait, _interrupt) = handle.wait_with_timeout(interval);
            tokio::select! {
                answer = tokio::time::timeout(interval, wait) => match answer {
                    Err(_) | Ok(Ok(IdleResponse::Timeout)) => Woken::Interval,
                    // `ManualInterrupt` also means the server closed the connection: DONE will tell.
                    Ok(Ok(IdleResponse::NewData(_) | IdleResponse::ManualInterrupt)) => Woken::Changed,
                    Ok(Err(e)) => return Err(ImapError::protocol("IDLE", e)),
                },
                () = stopped(stop) => return Ok(Idled::Stopped),
            }
        };
        let session = tokio::time::timeout(timeout, handle.done())
            .await
            .map_err(bound)?
            .map_err(|e| ImapError::protocol("IDLE", e))?;
        let conn = Conn {
            session,
            timeout,
            idle,
            arrived,
            abandoned,
        };
        Ok(Idled::Woken(conn, woken))
    }

    /// Marks the connection as left in the middle of a command (shutdown interrupted it).
    pub(crate) fn abandon(&mut self) {
        self.abandoned = true;
    }

    /// Says goodbye, best effort: the poll's work is already on the server. An abandoned
    /// connection is just closed.
    pub(crate) async fn logout(mut self) {
        if !self.abandoned {
            let _ = tokio::time::timeout(self.timeout, self.session.logout()).await;
        }
    }
}

/// The tagged OK's response code, as far as the poller cares.
struct Completion {
    read_only: bool,
}

/// Resolves once `stop` is true (or its sender is gone).
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|&s| s).await;
}

/// An IMAP quoted string (RFC 3501 §4.3); control characters are refused by config validation.
fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

/// A mailbox name as IMAP4rev1 spells it: modified UTF-7 (RFC 3501 §5.1.3), so the
/// configuration can say `folder = "Entwürfe"`.
fn mailbox_name(name: &str) -> String {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
    fn flush(run: &mut Vec<u16>, out: &mut String) {
        if run.is_empty() {
            return;
        }
        let bytes: Vec<u8> = run.drain(..).flat_map(u16::to_be_bytes).collect();
        out.push('&');
        for chunk in bytes.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
            let digits = chunk.len() + 1;
            for i in 0..digits {
                out.push(char::from(B64[(n >> (18 - 6 * i) & 63) as usize]));
            }
        }
        out.push('-');
    }
    let mut out = String::with_capacity(name.len());
    let mut run = Vec::new();
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut run, &mut out);
            out.push(c);
            if c == '&' {
                out.push('-');
            }
        } else {
            let mut units = [0u16; 2];
            run.extend_from_slice(c.encode_utf16(&mut units));
        }
    }
    flush(&mut run, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailbox_names_in_modified_utf7() {
        assert_eq!(mailbox_name("INBOX"), "INBOX");
        assert_eq!(mailbox_name("Entwürfe"), "Entw&APw-rfe");
        assert_eq!(mailbox_name("Gelöschte Elemente"), "Gel&APY-schte Elemente");
        assert_eq!(mailbox_name("A&B"), "A&-B");
        // RFC 3501's example.
        assert_eq!(
            mailbox_name("~peter/mail/台北/日本語"),
            "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
        );
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("INBOX"), "\"INBOX\"");
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
    }

    #[test]
    fn permanent_flags() {
        let mut s = Selected::default();
        assert!(s.can_keep("\\Seen"));
        s.permanent_flags = Some(vec!["\\Seen".into(), "\\*".into()]);
        assert!(s.can_keep("\\Seen"));
        assert!(s.can_keep(REJECTED_KEYWORD));
        s.permanent_flags = Some(vec!["\\Deleted".into()]);
        assert!(!s.can_keep("\\Seen"));
        assert!(!s.can_keep(REJECTED_KEYWORD));
    }
}
