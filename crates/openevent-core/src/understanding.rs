//! What the core knows about a message's meaning. The message-understanding crate fills these
//! types; the core only decides on them.

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

impl Intent {
    /// Every intent, in the order reports and schemas list them.
    pub const ALL: [Intent; 14] = [
        Intent::EventRequest,
        Intent::ConfirmDate,
        Intent::EditDate,
        Intent::EditRoom,
        Intent::EditRequirements,
        Intent::EditProducts,
        Intent::AcceptOffer,
        Intent::DeclineOffer,
        Intent::CounterOffer,
        Intent::DepositPaid,
        Intent::SiteVisitRequest,
        Intent::MessageManager,
        Intent::GeneralQna,
        Intent::NonEvent,
    ];
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

/// A wish about the date without a date: "a Friday in March", "sometime in June".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatePreference {
    pub weekday: Option<crate::venue::WeekdayName>,
    /// 1..=12.
    pub month: Option<i8>,
}

impl DatePreference {
    pub fn matches(&self, d: Date) -> bool {
        self.weekday.is_none_or(|w| w.weekday() == d.weekday())
            && self.month.is_none_or(|m| m == d.month())
    }
}

/// Facts found in a message. Absent means "not said", never "zero".
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Entities {
    /// The (first) event date, in the venue's calendar.
    pub date: Option<Date>,
    /// The last day of a multi-day range ("12-13 June 2026"); `None` for a single day.
    pub date_end: Option<Date>,
    /// When no date is named: which days would suit ("a Friday in March").
    #[serde(default)]
    pub date_preference: Option<DatePreference>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confidence_serialises_as_number() {
        let c = Confidence::from_per_mille(850);
        assert_eq!(serde_json::to_string(&c).unwrap(), "0.85");
        assert_eq!(serde_json::from_str::<Confidence>("0.85").unwrap(), c);
        assert!(serde_json::from_str::<Confidence>("1.5").is_err());
    }

    #[test]
    fn billing_addresses_merge_and_report_what_is_missing() {
        let partial = BillingAddress {
            name_or_company: Some("Helvetia Labs".into()),
            city: Some("Zürich".into()),
            ..BillingAddress::default()
        };
        assert_eq!(
            partial.missing_fields(),
            ["street", "postal_code", "country"]
        );
        let more = BillingAddress {
            street: Some("Bahnhofstrasse 1".into()),
            postal_code: Some("8001".into()),
            country: Some("CH".into()),
            city: Some("Zurich".into()),
            ..BillingAddress::default()
        };
        let merged = partial.merged_with(&more);
        assert!(merged.missing_fields().is_empty());
        assert_eq!(merged.city.as_deref(), Some("Zurich"));
        assert_eq!(merged.name_or_company.as_deref(), Some("Helvetia Labs"));
    }
}
