//! The labelled corpus format (TOML, `[[case]]` arrays) and its conversion into inputs for
//! `understand`. Parsing takes the TOML text, so tests and a CLI can load files their own way.
//!
//! ```toml
//! [[case]]
//! id = "en-change-007"
//! subject = "Re: Offer"
//! body = """Could we move it to 20 March instead?"""
//! now = "2026-11-22T09:00:00Z"          # optional, this is the default
//! event = { current_step = 5, date_confirmed = true, chosen_date = "2027-03-17", room = "room_b", participants = 25, offer = true }
//! [case.expect]
//! intent = "edit_date"
//! language = "en"                       # optional, default "en"
//! date = "2027-03-20"
//! change = "date"                       # optional, detect_change_type; default none
//! signals = ["is_question", "is_change_request"]   # the signals that are true
//! ```
//! Every entity not listed is expected absent.

use jiff::Timestamp;
use jiff::civil::Date;
use openevent_core::Event;
use openevent_core::dag::ChangeType;
use openevent_core::event::{
    EventDuration, Layout, Offer, OfferStatus, Requirements, Step, TimeOfDay,
};
use openevent_core::ids::{ClientEmail, EventId, RoomId};
use openevent_core::money::Money;
use openevent_core::understanding::{BillingAddress, Contact, Intent, Language};
use serde::Deserialize;

pub const DEFAULT_NOW: &str = "2026-11-22T09:00:00Z";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub id: String,
    #[serde(default)]
    pub subject: String,
    pub body: String,
    pub now: Option<Timestamp>,
    pub event: Option<EventSpec>,
    pub expect: Expect,
}

impl Case {
    pub fn now(&self) -> Timestamp {
        self.now
            .unwrap_or_else(|| DEFAULT_NOW.parse().expect("default now"))
    }
}

/// A small description of the booking a reply belongs to.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSpec {
    pub current_step: Option<u8>,
    #[serde(default)]
    pub date_confirmed: bool,
    pub chosen_date: Option<Date>,
    pub room: Option<String>,
    pub participants: Option<u32>,
    pub layout: Option<Layout>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    #[serde(default)]
    pub offer: bool,
}

impl EventSpec {
    /// The booking as `Event::new_lead` plus the described fields.
    pub fn to_event(&self, now: Timestamp) -> Result<Event, String> {
        let mut e = Event::new_lead(
            EventId::parse("evt_corpus").map_err(|e| e.to_string())?,
            ClientEmail::parse("client@example.com").map_err(|e| e.to_string())?,
            now,
        );
        if let Some(step) = self.current_step {
            e.current_step = Step::try_from(step).map_err(|e| e.to_string())?;
        }
        e.date_confirmed = self.date_confirmed;
        e.chosen_date = self.chosen_date;
        let time = |t: &Option<String>| {
            t.as_deref()
                .map(TimeOfDay::parse)
                .transpose()
                .map_err(|e| e.to_string())
        };
        e.start_time = time(&self.start_time)?;
        e.end_time = time(&self.end_time)?;
        let room = self
            .room
            .as_deref()
            .map(RoomId::parse)
            .transpose()
            .map_err(|e| e.to_string())?;
        e.locked_room_id = room.clone();
        e.set_requirements(Requirements {
            number_of_participants: self.participants,
            seating_layout: self.layout,
            event_duration: e
                .start_time
                .zip(e.end_time)
                .map(|(start, end)| EventDuration { start, end }),
            special_requirements: None,
            preferred_room: room,
        });
        if self.offer {
            e.offers.push(Offer {
                offer_id: "OFR-1".into(),
                version: 1,
                status: OfferStatus::Sent,
                line_items: Vec::new(),
                subtotal: Money::from_chf(2000),
                vat_included: Money::from_chf(150),
                total: Money::from_chf(2000),
                deposit: None,
                deposit_due: None,
                payment_days: 30,
                valid_until: Date::constant(2027, 12, 31),
            });
        }
        Ok(e)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub intent: Intent,
    pub language: Option<Language>,
    pub date: Option<Date>,
    pub date_end: Option<Date>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub participants: Option<u32>,
    pub room: Option<String>,
    pub layout: Option<Layout>,
    #[serde(default)]
    pub products_add: Vec<String>,
    #[serde(default)]
    pub products_remove: Vec<String>,
    pub event_type: Option<String>,
    pub billing: Option<BillingAddress>,
    pub contact: Option<Contact>,
    #[serde(default)]
    pub signals: Vec<String>,
    pub change: Option<ChangeType>,
}

#[derive(Deserialize)]
struct File {
    case: Vec<Case>,
}

/// Parses one corpus file.
/// Every case of every `.toml` file in `dir`, files in name order.
pub fn load_dir(dir: &std::path::Path) -> Result<Vec<Case>, String> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display()))?;
        cases.extend(parse(&text).map_err(|e| format!("{}: {e}", f.display()))?);
    }
    Ok(cases)
}

pub fn parse(toml_text: &str) -> Result<Vec<Case>, String> {
    let f: File = toml::from_str(toml_text).map_err(|e| e.to_string())?;
    for c in &f.case {
        for s in &c.expect.signals {
            if !crate::report::SIGNAL_NAMES.contains(&s.as_str()) {
                return Err(format!("{}: unknown signal '{s}'", c.id));
            }
        }
    }
    Ok(f.case)
}
