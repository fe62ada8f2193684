//! The booking ("event") record: one field per concept, typed enums, canonical JSON names.

use std::fmt;

use jiff::Timestamp;
use jiff::civil::{Date, Time};
use serde::{Deserialize, Serialize};

use crate::hash::canonical_hash;
use crate::ids::{ClientEmail, EventId, InvalidValue, ProductId, RoomId};
use crate::money::Money;
use crate::understanding::{BillingAddress, DatePreference, Language};

/// Booking status: Lead → Option → Confirmed, or Cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Lead,
    Option,
    Confirmed,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::Lead,
        Status::Option,
        Status::Confirmed,
        Status::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Lead => "lead",
            Status::Option => "option",
            Status::Confirmed => "confirmed",
            Status::Cancelled => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        Status::ALL
            .into_iter()
            .find(|s| s.as_str() == raw)
            .ok_or_else(|| InvalidValue::new("status", format!("unknown status '{raw}'")))
    }
}

/// The seven workflow steps. Serialised as their number 1..=7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub enum Step {
    Intake = 1,
    DateConfirmation = 2,
    RoomAvailability = 3,
    Offer = 4,
    Negotiation = 5,
    TransitionCheckpoint = 6,
    Confirmation = 7,
}

impl Step {
    pub const ALL: [Step; 7] = [
        Step::Intake,
        Step::DateConfirmation,
        Step::RoomAvailability,
        Step::Offer,
        Step::Negotiation,
        Step::TransitionCheckpoint,
        Step::Confirmation,
    ];

    pub fn number(self) -> u8 {
        self as u8
    }

    pub fn name(self) -> &'static str {
        match self {
            Step::Intake => "Intake",
            Step::DateConfirmation => "Date Confirmation",
            Step::RoomAvailability => "Room Availability",
            Step::Offer => "Offer",
            Step::Negotiation => "Negotiation",
            Step::TransitionCheckpoint => "Transition Checkpoint",
            Step::Confirmation => "Confirmation",
        }
    }
}

impl From<Step> for u8 {
    fn from(s: Step) -> u8 {
        s.number()
    }
}

impl TryFrom<u8> for Step {
    type Error = InvalidValue;
    fn try_from(n: u8) -> Result<Self, Self::Error> {
        Step::ALL
            .get(usize::from(n).wrapping_sub(1))
            .copied()
            .ok_or_else(|| InvalidValue::new("current_step", format!("{n} is not a step 1..7")))
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.number(), self.name())
    }
}

/// Who the conversation is waiting on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThreadState {
    AwaitingClient,
    WaitingOnHil,
    Checking,
    Closed,
}

impl ThreadState {
    pub fn as_str(self) -> &'static str {
        match self {
            ThreadState::AwaitingClient => "awaiting_client",
            ThreadState::WaitingOnHil => "waiting_on_hil",
            ThreadState::Checking => "checking",
            ThreadState::Closed => "closed",
        }
    }
}

/// Seating layouts a room can be set up in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    Theatre,
    UShape,
    Classroom,
    Boardroom,
    Banquet,
    Workshop,
    StandingReception,
}

/// A local wall-clock time in the venue's zone, serialised as "HH:MM".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeOfDay(Time);

impl TimeOfDay {
    pub fn new(hour: i8, minute: i8) -> Result<Self, InvalidValue> {
        Time::new(hour, minute, 0, 0)
            .map(Self)
            .map_err(|e| InvalidValue::new("time", e.to_string()))
    }

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let bad = || InvalidValue::new("time", format!("'{raw}' is not HH:MM"));
        let (h, m) = raw.trim().split_once(':').ok_or_else(bad)?;
        if h.is_empty() || h.len() > 2 || m.len() != 2 {
            return Err(bad());
        }
        let h: i8 = h.parse().map_err(|_| bad())?;
        let m: i8 = m.parse().map_err(|_| bad())?;
        Self::new(h, m).map_err(|_| bad())
    }

    pub fn time(self) -> Time {
        self.0
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0.hour(), self.0.minute())
    }
}

impl Serialize for TimeOfDay {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TimeOfDay {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        TimeOfDay::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// The requested time window of the event on its day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EventDuration {
    pub start: TimeOfDay,
    pub end: TimeOfDay,
}

/// What the client needs from a room. These five keys, and only these, make the
/// `requirements_hash` that decides whether rooms must be re-evaluated.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Requirements {
    pub number_of_participants: Option<u32>,
    pub seating_layout: Option<Layout>,
    pub event_duration: Option<EventDuration>,
    pub special_requirements: Option<String>,
    pub preferred_room: Option<RoomId>,
}

impl Requirements {
    pub fn hash(&self) -> String {
        canonical_hash(self)
    }
}

/// How a product is counted on an offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    PerPerson,
    PerEvent,
    PerUnit,
    PerHour,
    PerBottle,
    PerDay,
}

/// A product the client wants, with its quantity (per the product's unit).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SelectedProduct {
    pub product_id: ProductId,
    pub quantity: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfferStatus {
    Draft,
    Sent,
    Superseded,
    Accepted,
    Declined,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LineItem {
    pub description: String,
    pub product_id: Option<ProductId>,
    pub room_id: Option<RoomId>,
    pub quantity: u32,
    pub unit: Unit,
    pub unit_price: Money,
    pub amount: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Offer {
    pub offer_id: String,
    pub version: u32,
    pub status: OfferStatus,
    pub line_items: Vec<LineItem>,
    pub subtotal: Money,
    pub vat_included: Money,
    pub total: Money,
    pub deposit: Option<Money>,
    /// When the deposit is due (never earlier than the day after the offer).
    pub deposit_due: Option<Date>,
    pub payment_days: u16,
    pub valid_until: Date,
}

impl Offer {
    /// The hash covers what the client is asked to pay for: line items and totals.
    pub fn content_hash(&self) -> String {
        #[derive(Serialize)]
        struct Priced<'a> {
            line_items: &'a [LineItem],
            subtotal: Money,
            vat_included: Money,
            total: Money,
            deposit: Option<Money>,
        }
        canonical_hash(&Priced {
            line_items: &self.line_items,
            subtotal: self.subtotal,
            vat_included: self.vat_included,
            total: self.total,
            deposit: self.deposit,
        })
    }
}

/// One booking. `requirements` is private so that its hash can never disagree with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub event_id: EventId,
    pub client_email: ClientEmail,
    pub status: Status,
    pub current_step: Step,
    pub caller_step: Option<Step>,
    pub thread_state: ThreadState,
    pub chosen_date: Option<Date>,
    pub date_confirmed: bool,
    pub start_time: Option<TimeOfDay>,
    pub end_time: Option<TimeOfDay>,
    requirements: Requirements,
    requirements_hash: String,
    pub locked_room_id: Option<RoomId>,
    pub room_eval_hash: Option<String>,
    pub selected_products: Vec<SelectedProduct>,
    pub offers: Vec<Offer>,
    pub offer_hash: Option<String>,
    pub transition_ready: bool,
    /// The language drafts are written in (the client's).
    pub language: Language,
    /// Rounds of date proposals without a confirmed date; the third escalates to a manager.
    pub date_proposal_attempts: u32,
    /// The dates last proposed to the client, so "the second one" can be understood.
    pub proposed_dates: Vec<Date>,
    /// Which days the client would like when no date is set ("a Friday in March").
    #[serde(default)]
    pub date_preference: Option<DatePreference>,
    pub negotiation: Negotiation,
    pub billing_address: Option<BillingAddress>,
    /// When the deposit of the accepted offer was paid.
    pub deposit_paid_at: Option<Timestamp>,
    /// An agreed site-visit slot (venue-local date and time).
    pub site_visit: Option<SiteVisit>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Negotiation {
    pub counter_count: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteVisit {
    pub date: Date,
    pub time: TimeOfDay,
}

impl Event {
    /// A fresh lead at Step 1.
    pub fn new_lead(event_id: EventId, client_email: ClientEmail, now: Timestamp) -> Self {
        let requirements = Requirements::default();
        Self {
            event_id,
            client_email,
            status: Status::Lead,
            current_step: Step::Intake,
            caller_step: None,
            thread_state: ThreadState::AwaitingClient,
            chosen_date: None,
            date_confirmed: false,
            start_time: None,
            end_time: None,
            requirements_hash: requirements.hash(),
            requirements,
            locked_room_id: None,
            room_eval_hash: None,
            selected_products: Vec::new(),
            offers: Vec::new(),
            offer_hash: None,
            transition_ready: false,
            language: Language::En,
            date_proposal_attempts: 0,
            proposed_dates: Vec::new(),
            date_preference: None,
            negotiation: Negotiation::default(),
            billing_address: None,
            deposit_paid_at: None,
            site_visit: None,
            created_at: now,
            updated_at: now,
        }
    }

    pub fn requirements(&self) -> &Requirements {
        &self.requirements
    }

    pub fn requirements_hash(&self) -> &str {
        &self.requirements_hash
    }

    /// Replaces the requirements and recomputes their hash in the same move.
    pub fn set_requirements(&mut self, requirements: Requirements) {
        self.requirements_hash = requirements.hash();
        self.requirements = requirements;
    }

    /// True when the rooms were evaluated against exactly the current requirements.
    pub fn rooms_evaluated_for_current_requirements(&self) -> bool {
        self.room_eval_hash.as_deref() == Some(self.requirements_hash.as_str())
    }

    /// The offer the client is negotiating or has accepted: the newest that is not superseded.
    pub fn current_offer(&self) -> Option<&Offer> {
        self.offers
            .iter()
            .rev()
            .find(|o| o.status != OfferStatus::Superseded)
    }

    pub fn current_offer_mut(&mut self) -> Option<&mut Offer> {
        self.offers
            .iter_mut()
            .rev()
            .find(|o| o.status != OfferStatus::Superseded)
    }

    /// Whether a stored record's derived hash still matches its content (a check for the store
    /// when it loads a record written by another version).
    pub fn hashes_consistent(&self) -> bool {
        self.requirements_hash == self.requirements.hash()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn sample() -> Event {
        Event::new_lead(
            EventId::parse("evt_1").unwrap(),
            ClientEmail::parse("a@example.com").unwrap(),
            Timestamp::UNIX_EPOCH,
        )
    }

    #[test]
    fn canonical_json_names() {
        let v: Value = serde_json::to_value(sample()).unwrap();
        for key in [
            "event_id",
            "client_email",
            "status",
            "current_step",
            "caller_step",
            "thread_state",
            "chosen_date",
            "date_confirmed",
            "start_time",
            "end_time",
            "requirements",
            "requirements_hash",
            "locked_room_id",
            "room_eval_hash",
            "selected_products",
            "offers",
            "offer_hash",
            "transition_ready",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        assert_eq!(v["status"], "lead");
        assert_eq!(v["current_step"], 1);
        assert_eq!(v["thread_state"], "awaiting_client");
        let req = v["requirements"].as_object().unwrap();
        let mut keys: Vec<_> = req.keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "event_duration",
                "number_of_participants",
                "preferred_room",
                "seating_layout",
                "special_requirements"
            ]
        );
    }

    #[test]
    fn requirements_hash_tracks_only_requirements() {
        let mut e = sample();
        let before = e.requirements_hash().to_owned();
        e.chosen_date = Some(jiff::civil::date(2026, 3, 17));
        e.status = Status::Option;
        assert_eq!(e.requirements_hash(), before);
        let mut r = e.requirements().clone();
        r.number_of_participants = Some(24);
        e.set_requirements(r.clone());
        assert_ne!(e.requirements_hash(), before);
        assert_eq!(e.requirements_hash(), r.hash());
        assert!(e.hashes_consistent());
    }

    #[test]
    fn steps_serialise_as_numbers() {
        assert_eq!(serde_json::to_string(&Step::Offer).unwrap(), "4");
        assert_eq!(
            serde_json::from_str::<Step>("7").unwrap(),
            Step::Confirmation
        );
        assert!(serde_json::from_str::<Step>("0").is_err());
        assert!(serde_json::from_str::<Step>("8").is_err());
    }

    #[test]
    fn time_of_day_round_trip() {
        let t = TimeOfDay::parse("9:05").unwrap();
        assert_eq!(t.to_string(), "09:05");
        assert!(TimeOfDay::parse("24:00").is_err());
        assert!(TimeOfDay::parse("12:5").is_err());
        assert!(TimeOfDay::parse("noon").is_err());
    }
}
