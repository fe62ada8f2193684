//! What the core knows about a message's meaning. The full multilingual NLU fills these types; the
//! intake keyword rule below is the minimal classifier the foundation needs.

use std::fmt;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::event::{Layout, TimeOfDay};
use crate::ids::{ProductId, RoomId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    EventRequest,
    ConfirmDate,
    EditDate,
    EditRoom,
    EditRequirements,
    EditProducts,
    AcceptOffer,
    DeclineOffer,
    CounterOffer,
    DepositPaid,
    SiteVisitRequest,
    MessageManager,
    GeneralQna,
    NonEvent,
}

/// A confidence 0..=1 held as whole per-mille so that hashed snapshots never depend on float
/// arithmetic; serialised as a JSON number (0.85).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Confidence(u16);

impl Confidence {
    pub const fn from_per_mille(pm: u16) -> Self {
        Self(if pm > 1000 { 1000 } else { pm })
    }

    pub fn per_mille(self) -> u16 {
        self.0
    }

    pub fn as_f64(self) -> f64 {
        f64::from(self.0) / 1000.0
    }
}

impl fmt::Display for Confidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3}", self.as_f64())
    }
}

impl Serialize for Confidence {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.as_f64())
    }
}

impl<'de> Deserialize<'de> for Confidence {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        if !(0.0..=1.0).contains(&v) {
            return Err(serde::de::Error::custom("confidence must be within 0..=1"));
        }
        Ok(Self((v * 1000.0).round() as u16))
    }
}

/// The language a message is written in, as far as the core needs it for replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    En,
    De,
    Fr,
    It,
    Es,
}

/// A product the client wants added or removed, matched against the venue catalogue.
/// `quantity` is `None` when the client named no number ("add a projector" means one unit of a
/// per-event product, but "a coffee break" for 30 people is per person: the workflow decides).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductMention {
    pub product_id: ProductId,
    pub quantity: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BillingAddress {
    pub name_or_company: Option<String>,
    pub street: Option<String>,
    pub postal_code: Option<String>,
    pub city: Option<String>,
    /// ISO 3166-1 alpha-2 ("CH", "DE").
    pub country: Option<String>,
}

impl BillingAddress {
    /// The fields an acceptance needs that are still missing, by canonical name.
    pub fn missing_fields(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let empty = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
        if empty(&self.name_or_company) {
            out.push("name_or_company");
        }
        if empty(&self.street) {
            out.push("street");
        }
        if empty(&self.postal_code) {
            out.push("postal_code");
        }
        if empty(&self.city) {
            out.push("city");
        }
        if empty(&self.country) {
            out.push("country");
        }
        out
    }

    /// Fills what `other` knows and `self` does not; later messages complete earlier ones.
    pub fn merged_with(&self, other: &BillingAddress) -> BillingAddress {
        let pick = |a: &Option<String>, b: &Option<String>| b.clone().or_else(|| a.clone());
        BillingAddress {
            name_or_company: pick(&self.name_or_company, &other.name_or_company),
            street: pick(&self.street, &other.street),
            postal_code: pick(&self.postal_code, &other.postal_code),
            city: pick(&self.city, &other.city),
            country: pick(&self.country, &other.country),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Contact {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
}

/// Facts found in a message. Absent means "not said", never "zero".
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Entities {
    /// The (first) event date, in the venue's calendar.
    pub date: Option<Date>,
    /// The last day of a multi-day range ("12-13 June 2026"); `None` for a single day.
    pub date_end: Option<Date>,
    pub start_time: Option<TimeOfDay>,
    pub end_time: Option<TimeOfDay>,
    pub participants: Option<u32>,
    pub room: Option<RoomId>,
    pub layout: Option<Layout>,
    pub products_add: Vec<ProductMention>,
    pub products_remove: Vec<ProductMention>,
    pub billing_address: Option<BillingAddress>,
    pub contact: Option<Contact>,
    /// Free-form kind of event ("workshop", "wedding", "christmas party").
    pub event_type: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Signals {
    pub is_acceptance: bool,
    /// The client cancels or declines the whole booking.
    pub is_rejection: bool,
    pub is_change_request: bool,
    pub is_question: bool,
    pub is_manager_request: bool,
    pub has_urgency: bool,
    /// Prompt-injection or role-play attempt: flagged, never followed.
    pub has_injection_attempt: bool,
}

/// Everything the message-understanding layer says about one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Understanding {
    pub language: Language,
    pub intent: Intent,
    pub confidence: Confidence,
    pub entities: Entities,
    pub signals: Signals,
}

/// A name a room or product is known by, for matching client text against the venue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LexiconEntry<Id> {
    pub id: Id,
    /// Canonical name first, then synonyms in any language ("Room B", "Raum B", "Salle B").
    pub names: Vec<String>,
}

/// The venue vocabulary the NLU matches against; the shell builds it from the venue config.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Lexicon {
    pub rooms: Vec<LexiconEntry<RoomId>>,
    pub products: Vec<LexiconEntry<ProductId>>,
}

/// The minimal understanding the foundation's intake relies on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Classification {
    pub intent: Intent,
    pub confidence: Confidence,
    pub language: Language,
}

const INQUIRY_WORDS: &[&str] = &[
    // English
    "book",
    "booking",
    "reserve",
    "reservation",
    "venue",
    "room",
    "event",
    "meeting",
    "workshop",
    "conference",
    "seminar",
    "party",
    "wedding",
    "dinner",
    "apero",
    "apéro",
    "offer",
    "quote",
    "availability",
    "available",
    "participants",
    "guests",
    "people",
    "attendees",
    "catering",
    // German
    "buchen",
    "buchung",
    "reservieren",
    "reservierung",
    "anfrage",
    "veranstaltung",
    "raum",
    "räume",
    "saal",
    "personen",
    "gäste",
    "teilnehmende",
    "teilnehmer",
    "verfügbar",
    "verfügbarkeit",
    "offerte",
    "angebot",
    "feier",
    "hochzeit",
    "tagung",
    "firmenanlass",
    "anlass",
    // French, Italian, Spanish
    "réserver",
    "réservation",
    "salle",
    "événement",
    "personnes",
    "prenotare",
    "prenotazione",
    "sala",
    "evento",
    "persone",
    "reservar",
    "reserva",
    "personas",
];

const GERMAN_MARKERS: &[&str] = &[
    "und",
    "wir",
    "ich",
    "möchten",
    "für",
    "mit",
    "eine",
    "einen",
    "bitte",
    "grüsse",
    "grüße",
    "guten",
    "tag",
    "personen",
    "gerne",
    "vielen",
    "dank",
    "freundlichen",
];

fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric() && c != 'é' && c != '\'')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// The intake keyword rule: an inquiry is a message that speaks of booking a space for an event.
/// Each distinct inquiry word found raises the confidence; two or more make it an inquiry.
pub fn classify_inquiry(subject: &str, body: &str) -> Classification {
    let mut found: Vec<String> = Vec::new();
    let mut german = 0usize;
    for w in words(subject).chain(words(body)) {
        if INQUIRY_WORDS.contains(&w.as_str()) && !found.contains(&w) {
            found.push(w.clone());
        }
        if GERMAN_MARKERS.contains(&w.as_str()) {
            german += 1;
        }
    }
    let (intent, pm) = match found.len() {
        0 => (Intent::NonEvent, 600),
        1 => (Intent::EventRequest, 550),
        2 => (Intent::EventRequest, 850),
        3 => (Intent::EventRequest, 900),
        _ => (Intent::EventRequest, 950),
    };
    Classification {
        intent,
        confidence: Confidence::from_per_mille(pm),
        language: if german >= 2 {
            Language::De
        } else {
            Language::En
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inquiries_in_english_and_german() {
        let c = classify_inquiry(
            "Booking request",
            "We would like to book a room for a workshop with 25 people.",
        );
        assert_eq!(c.intent, Intent::EventRequest);
        assert!(c.confidence >= Confidence::from_per_mille(850));
        assert_eq!(c.language, Language::En);

        let c = classify_inquiry(
            "Anfrage",
            "Guten Tag, wir möchten einen Raum für eine Veranstaltung mit 40 Personen reservieren.",
        );
        assert_eq!(c.intent, Intent::EventRequest);
        assert_eq!(c.language, Language::De);
    }

    #[test]
    fn non_events_are_not_inquiries() {
        let c = classify_inquiry(
            "Newsletter",
            "Our new product line is out. Unsubscribe here.",
        );
        assert_eq!(c.intent, Intent::NonEvent);
        let c = classify_inquiry("Hi", "Just checking the weather.");
        assert!(c.confidence < Confidence::from_per_mille(850) || c.intent == Intent::NonEvent);
    }

    #[test]
    fn confidence_serialises_as_number() {
        let c = Confidence::from_per_mille(850);
        assert_eq!(serde_json::to_string(&c).unwrap(), "0.85");
        assert_eq!(serde_json::from_str::<Confidence>("0.85").unwrap(), c);
        assert!(serde_json::from_str::<Confidence>("1.5").is_err());
    }
}
