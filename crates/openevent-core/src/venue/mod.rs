//! The venue: rooms, products, policies and answers. Loaded from a TOML file (or the built-in
//! reference venue, The Atelier) and validated once; an invalid file lists every problem with the
//! field it concerns.

mod amounts;

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use crate::event::{Layout, TimeOfDay, Unit};
use crate::ids::{ProductId, RoomId};
use crate::money::Money;
use crate::understanding::{Language, Lexicon, LexiconEntry};

pub use amounts::hundredths;

const ATELIER_TOML: &str = include_str!("atelier.toml");

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatingHours {
    pub open: TimeOfDay,
    pub close: TimeOfDay,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfferTerms {
    pub payment_days: u16,
    pub validity_days: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NegotiationPolicy {
    /// Counter-offers that are re-drafted; the next one goes to a manager.
    pub max_counters: u32,
    /// Discount granted per counter-offer (percent of the gross total).
    #[serde(default = "default_discount_step", with = "amounts::percent_bp")]
    pub discount_step_percent: u32,
    /// The most the workflow grants on its own.
    #[serde(default = "default_max_discount", with = "amounts::percent_bp")]
    pub max_discount_percent: u32,
}

fn default_discount_step() -> u32 {
    250
}

fn default_max_discount() -> u32 {
    750
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DepositKind {
    Percentage,
    Fixed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepositPolicy {
    pub enabled: bool,
    pub kind: DepositKind,
    /// For `percentage`: share of the offer total.
    #[serde(default = "default_deposit_percent", with = "amounts::percent_bp")]
    pub percent: u32,
    /// For `fixed`.
    #[serde(
        default,
        with = "amounts::chf_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub fixed_chf: Option<Money>,
    /// Due this many days before the event, never earlier than tomorrow.
    pub due_days_before: u32,
}

fn default_deposit_percent() -> u32 {
    3000
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteVisitPolicy {
    pub weekdays: Vec<WeekdayName>,
    pub times: Vec<TimeOfDay>,
    pub min_days_ahead: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WeekdayName {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl WeekdayName {
    pub fn weekday(self) -> Weekday {
        match self {
            WeekdayName::Mon => Weekday::Monday,
            WeekdayName::Tue => Weekday::Tuesday,
            WeekdayName::Wed => Weekday::Wednesday,
            WeekdayName::Thu => Weekday::Thursday,
            WeekdayName::Fri => Weekday::Friday,
            WeekdayName::Sat => Weekday::Saturday,
            WeekdayName::Sun => Weekday::Sunday,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Room {
    pub id: RoomId,
    pub name: String,
    pub capacity_min: u32,
    pub capacity_max: u32,
    /// Seats per layout; a layout not listed is not offered in this room.
    pub layouts: BTreeMap<Layout, u32>,
    #[serde(with = "amounts::chf")]
    pub full_day_rate_chf: Money,
    pub buffer_before_min: u32,
    pub buffer_after_min: u32,
    #[serde(default)]
    pub synonyms: Vec<String>,
}

impl Room {
    /// Seats for a layout (or the room's maximum when no layout was asked for).
    pub fn capacity_for(&self, layout: Option<Layout>) -> Option<u32> {
        match layout {
            None => Some(self.capacity_max),
            Some(l) => self.layouts.get(&l).copied(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    pub id: ProductId,
    pub name: String,
    pub unit: Unit,
    #[serde(with = "amounts::chf")]
    pub price_chf: Money,
    #[serde(default)]
    pub synonyms: Vec<String>,
    /// Rooms where this product cannot be served.
    #[serde(default)]
    pub not_in_rooms: Vec<RoomId>,
}

impl Product {
    pub fn available_in(&self, room: &RoomId) -> bool {
        !self.not_in_rooms.contains(room)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaqAnswer {
    pub en: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub de: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub it: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub es: Option<String>,
}

impl FaqAnswer {
    /// The answer in the client's language, English when there is none.
    pub fn in_language(&self, lang: Language) -> &str {
        let other = match lang {
            Language::En => None,
            Language::De => self.de.as_deref(),
            Language::Fr => self.fr.as_deref(),
            Language::It => self.it.as_deref(),
            Language::Es => self.es.as_deref(),
        };
        other.unwrap_or(&self.en)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaqEntry {
    pub topic: String,
    pub keywords: Vec<String>,
    pub answer: FaqAnswer,
}

/// Which drafts leave without a manager's approval. Off by default; only replies that decide
/// nothing (no room lock, offer, acceptance, confirmation or cancellation) may be chosen.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HilPolicy {
    /// Draft topics sent at once, e.g. `["question_answered", "date_options_proposed"]`.
    #[serde(default)]
    pub auto_approve: Vec<String>,
}

/// The draft topics a venue may choose to send without approval.
pub const AUTO_APPROVABLE: [&str; 7] = [
    "date_options_proposed",
    "date_time_clarification",
    "room_avail_result",
    "question_answered",
    "offer_accept_requires_billing",
    "booking_updated",
    "confirmation_site_visit",
];

impl HilPolicy {
    pub fn auto_approves(&self, topic: &str) -> bool {
        self.auto_approve.iter().any(|t| t == topic)
    }
}

/// The venue file's shape (TOML on disk, JSON over the API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VenueSpec {
    pub name: String,
    #[serde(default)]
    pub city: String,
    pub time_zone: String,
    pub currency: String,
    #[serde(with = "amounts::percent_bp")]
    pub vat_percent: u32,
    pub prices_include_vat: bool,
    pub operating_hours: OperatingHours,
    #[serde(default)]
    pub blackout_dates: BTreeSet<Date>,
    pub offer: OfferTerms,
    pub negotiation: NegotiationPolicy,
    pub deposit: DepositPolicy,
    pub site_visits: SiteVisitPolicy,
    pub rooms: Vec<Room>,
    pub products: Vec<Product>,
    #[serde(default)]
    pub faq: Vec<FaqEntry>,
    #[serde(default)]
    pub hil: HilPolicy,
}

/// One problem in a venue file, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VenueProblem {
    pub field: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VenueError {
    #[error("the venue file is not valid TOML or has unknown or mistyped fields: {0}")]
    Syntax(String),
    #[error("the venue is invalid:\n{}", .0.iter().map(|p| format!("  - {}: {}", p.field, p.message)).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<VenueProblem>),
}

/// A validated venue.
#[derive(Debug, Clone)]
pub struct Venue {
    spec: VenueSpec,
    tz: TimeZone,
}

impl PartialEq for Venue {
    fn eq(&self, other: &Self) -> bool {
        self.spec == other.spec
    }
}

impl Venue {
    /// The built-in reference venue.
    pub fn atelier() -> Venue {
        Venue::from_toml(ATELIER_TOML).expect("the built-in venue is valid")
    }

    pub fn from_toml(text: &str) -> Result<Venue, VenueError> {
        let spec: VenueSpec =
            toml::from_str(text).map_err(|e| VenueError::Syntax(e.to_string()))?;
        Venue::from_spec(spec)
    }

    pub fn from_spec(spec: VenueSpec) -> Result<Venue, VenueError> {
        let problems = validate(&spec);
        if !problems.is_empty() {
            return Err(VenueError::Invalid(problems));
        }
        let tz = TimeZone::get(&spec.time_zone).expect("validated");
        Ok(Venue { spec, tz })
    }

    pub fn to_toml(&self) -> String {
        toml::to_string(&self.spec).expect("a venue always serialises")
    }

    pub fn spec(&self) -> &VenueSpec {
        &self.spec
    }

    /// The venue with other offer terms (a workflow's quote terms for the bookings it runs);
    /// both values stay within what validation allows (1..=365 days).
    pub fn with_offer_terms(&self, terms: OfferTerms) -> Venue {
        let mut v = self.clone();
        v.spec.offer = OfferTerms {
            payment_days: terms.payment_days.clamp(1, 365),
            validity_days: terms.validity_days.clamp(1, 365),
        };
        v
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    pub fn rooms(&self) -> &[Room] {
        &self.spec.rooms
    }

    pub fn room(&self, id: &RoomId) -> Option<&Room> {
        self.spec.rooms.iter().find(|r| &r.id == id)
    }

    pub fn products(&self) -> &[Product] {
        &self.spec.products
    }

    pub fn product(&self, id: &ProductId) -> Option<&Product> {
        self.spec.products.iter().find(|p| &p.id == id)
    }

    /// The names the NLU matches client text against.
    pub fn lexicon(&self) -> Lexicon {
        Lexicon {
            rooms: self
                .spec
                .rooms
                .iter()
                .map(|r| LexiconEntry {
                    id: r.id.clone(),
                    names: std::iter::once(r.name.clone())
                        .chain(r.synonyms.iter().cloned())
                        .collect(),
                })
                .collect(),
            products: self
                .spec
                .products
                .iter()
                .map(|p| LexiconEntry {
                    id: p.id.clone(),
                    names: std::iter::once(p.name.clone())
                        .chain(p.synonyms.iter().cloned())
                        .collect(),
                })
                .collect(),
        }
    }
}

fn validate(s: &VenueSpec) -> Vec<VenueProblem> {
    let mut out = Vec::new();
    let mut bad = |field: String, message: &str| {
        out.push(VenueProblem {
            field,
            message: message.to_owned(),
        })
    };
    if s.name.trim().is_empty() {
        bad("name".into(), "must not be empty");
    }
    if TimeZone::get(&s.time_zone).is_err() {
        bad(
            "time_zone".into(),
            "is not an IANA time zone (e.g. Europe/Zurich)",
        );
    }
    if s.currency != "CHF" {
        bad("currency".into(), "only CHF is supported");
    }
    if s.vat_percent > 10_000 {
        bad("vat_percent".into(), "must be between 0 and 100");
    }
    if s.operating_hours.open >= s.operating_hours.close {
        bad("operating_hours".into(), "open must be before close");
    }
    for (field, v) in [
        ("offer.payment_days", s.offer.payment_days),
        ("offer.validity_days", s.offer.validity_days),
    ] {
        if !(1..=365).contains(&v) {
            bad(field.into(), "must be between 1 and 365");
        }
    }
    if s.negotiation.max_counters > 20 {
        bad("negotiation.max_counters".into(), "must be at most 20");
    }
    if s.negotiation.max_discount_percent > 5_000 {
        bad(
            "negotiation.max_discount_percent".into(),
            "must be at most 50",
        );
    }
    let d = &s.deposit;
    match d.kind {
        DepositKind::Percentage if !(100..=10_000).contains(&d.percent) => {
            bad("deposit.percent".into(), "must be between 1 and 100")
        }
        DepositKind::Fixed if d.fixed_chf.is_none_or(|m| m <= Money::ZERO) => bad(
            "deposit.fixed_chf".into(),
            "a fixed deposit needs a positive amount",
        ),
        _ => {}
    }
    if d.due_days_before > 365 {
        bad("deposit.due_days_before".into(), "must be at most 365");
    }
    let sv = &s.site_visits;
    if sv.weekdays.is_empty() {
        bad("site_visits.weekdays".into(), "name at least one weekday");
    }
    if sv.min_days_ahead > 60 {
        bad("site_visits.min_days_ahead".into(), "must be at most 60");
    }
    for (i, t) in sv.times.iter().enumerate() {
        if *t < s.operating_hours.open || *t >= s.operating_hours.close {
            bad(
                format!("site_visits.times[{i}]"),
                "must be within operating hours",
            );
        }
    }
    if s.rooms.is_empty() {
        bad("rooms".into(), "a venue needs at least one room");
    }
    let mut room_ids = BTreeSet::new();
    for (i, r) in s.rooms.iter().enumerate() {
        let f = |k: &str| format!("rooms[{i}].{k}");
        if !room_ids.insert(&r.id) {
            bad(f("id"), "is used by another room");
        }
        if r.name.trim().is_empty() {
            bad(f("name"), "must not be empty");
        }
        if r.capacity_max == 0 || r.capacity_min > r.capacity_max {
            bad(
                f("capacity_min"),
                "must be at most capacity_max, which must be positive",
            );
        }
        for (layout, seats) in &r.layouts {
            if *seats == 0 || *seats > r.capacity_max {
                bad(
                    format!(
                        "rooms[{i}].layouts.{}",
                        crate::hash::canonical_json(layout).trim_matches('"')
                    ),
                    "seats must be between 1 and capacity_max",
                );
            }
        }
        if r.full_day_rate_chf < Money::ZERO {
            bad(f("full_day_rate_chf"), "must not be negative");
        }
        if r.buffer_before_min > 240 || r.buffer_after_min > 240 {
            bad(
                f("buffer_before_min"),
                "buffers must be at most 240 minutes",
            );
        }
    }
    let mut product_ids = BTreeSet::new();
    for (i, p) in s.products.iter().enumerate() {
        let f = |k: &str| format!("products[{i}].{k}");
        if !product_ids.insert(&p.id) {
            bad(f("id"), "is used by another product");
        }
        if p.name.trim().is_empty() {
            bad(f("name"), "must not be empty");
        }
        if p.price_chf < Money::ZERO {
            bad(f("price_chf"), "must not be negative");
        }
        for r in &p.not_in_rooms {
            if !s.rooms.iter().any(|room| &room.id == r) {
                bad(f("not_in_rooms"), "names a room that does not exist");
            }
        }
    }
    for (i, topic) in s.hil.auto_approve.iter().enumerate() {
        if !AUTO_APPROVABLE.contains(&topic.as_str()) {
            bad(
                format!("hil.auto_approve[{i}]"),
                "only replies that decide nothing may skip approval: date_options_proposed, date_time_clarification, room_avail_result, question_answered, offer_accept_requires_billing, booking_updated, confirmation_site_visit",
            );
        }
    }
    for (i, q) in s.faq.iter().enumerate() {
        if q.topic.trim().is_empty() || q.keywords.is_empty() || q.answer.en.trim().is_empty() {
            bad(
                format!("faq[{i}]"),
                "needs a topic, keywords and an English answer",
            );
        }
    }
    out
}

#[cfg(test)]
mod tests;
