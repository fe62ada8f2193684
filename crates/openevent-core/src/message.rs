//! A client's inbound message as the core sees it: already parsed and validated at the edge.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::ids::{ClientEmail, MessageId};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentMeta {
    pub filename: Option<String>,
    pub content_type: String,
    pub size_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundMessage {
    pub message_id: MessageId,
    /// True when the message carried no Message-ID and `message_id` was derived from its content.
    pub message_id_derived: bool,
    pub from: ClientEmail,
    pub from_name: Option<String>,
    pub subject: String,
    /// Plain-text body used for understanding.
    pub body_text: String,
    /// The Date header, when present and valid.
    pub sent_at: Option<Timestamp>,
    pub in_reply_to: Option<MessageId>,
    pub references: Vec<MessageId>,
    pub attachments: Vec<AttachmentMeta>,
}

impl InboundMessage {
    /// The ids this message answers, nearest first: In-Reply-To, then References newest to oldest.
    pub fn thread_parents(&self) -> Vec<&MessageId> {
        let mut out: Vec<&MessageId> = self.in_reply_to.iter().collect();
        for r in self.references.iter().rev() {
            if !out.contains(&r) {
                out.push(r);
            }
        }
        out
    }
}
