//! Turns one raw RFC 5322 message into openevent's typed [`InboundMessage`].
//!
//! Pure: bytes in, value or a clear error out. The MIME work (multipart, transfer encodings,
//! charsets, encoded words) is mail-parser's; this crate adds the checks a venue's inbox needs
//! before anything is stored: size, a real header section, UTF-8 headers, a valid sender.

use jiff::Timestamp;
use mail_parser::{HeaderValue, MessageParser, MimeHeaders};
use openevent_core::hash::sha256_hex;
use openevent_core::ids::{ClientEmail, InvalidValue, MessageId};
use openevent_core::message::{AttachmentMeta, InboundMessage};

/// Largest message accepted, attachments included. Typical mail servers cap at 20–25 MB.
pub const MAX_MESSAGE_BYTES: usize = 25 * 1024 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MailError {
    #[error("the message is empty")]
    Empty,
    #[error("the message is {size} bytes; the limit is {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("not an RFC 5322 message: {0}")]
    NotAMessage(String),
    #[error("header line {line} is not valid UTF-8 (byte {byte_offset} of the header section)")]
    HeaderNotUtf8 { line: usize, byte_offset: usize },
    #[error("the message has no From address")]
    MissingFrom,
    #[error("the From address is not usable: {0}")]
    InvalidFrom(InvalidValue),
}

/// Parses one message. The raw bytes are not kept here; the caller stores them.
pub fn parse_message(raw: &[u8]) -> Result<InboundMessage, MailError> {
    check_envelope(raw)?;
    // mail-parser can panic on a hostile MIME structure (a `debug_assert!` on nested multiparts
    // with a reused boundary, found by fuzzing): that is a broken message, not a crash.
    let parsed = std::panic::catch_unwind(|| MessageParser::default().parse(raw))
        .map_err(|_| MailError::NotAMessage("the MIME structure is broken".into()))?
        .ok_or_else(|| MailError::NotAMessage("no headers could be parsed".into()))?;

    let from_addr = parsed
        .from()
        .and_then(|a| a.first())
        .ok_or(MailError::MissingFrom)?;
    let from = ClientEmail::parse(from_addr.address().ok_or(MailError::MissingFrom)?)
        .map_err(MailError::InvalidFrom)?;
    let from_name = from_addr.name().map(clean_line).filter(|n| !n.is_empty());

    let (message_id, message_id_derived) = match parsed.message_id().map(MessageId::parse) {
        Some(Ok(id)) => (id, false),
        _ => (MessageId::derived_from_content(&sha256_hex(raw)), true),
    };

    let body_text = parsed
        .body_text(0)
        .map(|b| b.into_owned())
        .unwrap_or_default();

    let attachments = parsed
        .attachments()
        .map(|part| AttachmentMeta {
            filename: part.attachment_name().map(clean_line),
            content_type: part
                .content_type()
                .map(|ct| match ct.subtype() {
                    Some(sub) => format!("{}/{}", ct.ctype(), sub),
                    None => ct.ctype().to_owned(),
                })
                .unwrap_or_else(|| "application/octet-stream".into()),
            size_bytes: part.len() as u64,
        })
        .collect();

    Ok(InboundMessage {
        message_id,
        message_id_derived,
        from,
        from_name,
        subject: parsed.subject().map(clean_line).unwrap_or_default(),
        body_text,
        sent_at: parsed
            .date()
            .and_then(|d| Timestamp::from_second(d.to_timestamp()).ok()),
        in_reply_to: id_list(parsed.in_reply_to()).into_iter().next(),
        references: id_list(parsed.references()),
        attachments,
    })
}

/// Size, emptiness, and a header section made of header lines in valid UTF-8 (RFC 6532 allows
/// UTF-8; anything else in a header is a broken or hostile message).
fn check_envelope(raw: &[u8]) -> Result<(), MailError> {
    if raw.len() > MAX_MESSAGE_BYTES {
        return Err(MailError::TooLarge {
            size: raw.len(),
            limit: MAX_MESSAGE_BYTES,
        });
    }
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(MailError::Empty);
    }
    let header_end = find_header_end(raw);
    let headers = &raw[..header_end];
    if headers.contains(&0) {
        return Err(MailError::NotAMessage(
            "NUL byte in the header section".into(),
        ));
    }
    if let Err(e) = std::str::from_utf8(headers) {
        let offset = e.valid_up_to();
        let line = headers[..offset].iter().filter(|&&b| b == b'\n').count() + 1;
        return Err(MailError::HeaderNotUtf8 {
            line,
            byte_offset: offset,
        });
    }
    let text = std::str::from_utf8(headers).expect("checked above");
    let mut saw_header = false;
    for (i, line) in text.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if !saw_header {
                return Err(MailError::NotAMessage(
                    "the first line is a continuation, not a header".into(),
                ));
            }
            continue;
        }
        let valid_name = line.split_once(':').is_some_and(|(name, _)| {
            !name.is_empty() && name.bytes().all(|b| (33..=126).contains(&b) && b != b':')
        });
        // An mbox "From " separator line may precede the headers.
        let mbox_separator = i == 0 && line.starts_with("From ");
        if !(valid_name || mbox_separator) {
            return Err(MailError::NotAMessage(format!(
                "line {} is not a header line",
                i + 1
            )));
        }
        saw_header |= valid_name;
    }
    if !saw_header {
        return Err(MailError::NotAMessage("no header lines".into()));
    }
    Ok(())
}

fn find_header_end(raw: &[u8]) -> usize {
    let crlf = raw.windows(4).position(|w| w == b"\r\n\r\n");
    let lf = raw.windows(2).position(|w| w == b"\n\n");
    match (crlf, lf) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) => a,
        (None, Some(b)) => b,
        (None, None) => raw.len(),
    }
}

/// Folds a header value to one line without control characters (no CRLF injection downstream).
fn clean_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn id_list(value: &HeaderValue<'_>) -> Vec<MessageId> {
    let raw: Vec<&str> = match value {
        HeaderValue::Text(t) => vec![t.as_ref()],
        HeaderValue::TextList(list) => list.iter().map(|t| t.as_ref()).collect(),
        _ => Vec::new(),
    };
    raw.into_iter()
        .flat_map(|t| t.split_whitespace())
        .filter_map(|t| MessageId::parse(t).ok())
        .collect()
}

#[cfg(test)]
mod tests;
