//! What the load tests (`scale_out.rs`, `crash.rs`) set up alike: the workflow whose jobs keep
//! the dispatcher busy, organization settings without quiet hours, bookable dates, and small
//! helpers for their reports.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::sink::Delivery;

/// Every step on `lead_created`, due at once, to the client; for all bookings, so that no
/// assignment decides.
pub fn workflow(key: &str, steps: usize) -> String {
    let mut toml =
        format!("key = \"{key}\"\nname = \"Load notes\"\nversion = 1\nscope = \"all_bookings\"\n");
    for i in 1..=steps {
        toml.push_str(&format!(
            "\n[[steps]]\nkey = \"note-{i:02}\"\ntrigger = \"lead_created\"\nchannel = \"email\"\n\
             recipients = {{ audience = [\"client\"] }}\n\
             timing = {{ offset = {{ minutes = 0 }}, if_past = \"send_now\" }}\n\n\
             [steps.template]\nsubject = \"Note {i} from {{{{ venue.name }}}}\"\n\
             body = \"Hello, this is note {i} about your booking.\"\n"
        ));
    }
    toml
}

/// No quiet hours and no default workflow: every job is due when it is scheduled, and only the
/// test's workflow runs.
pub const SETTINGS: &str = "venue_name = \"The Atelier\"\ntime_zone = \"Europe/Zurich\"\n\
default_country = \"CH\"\n\n[quote_terms]\npayment_days = 30\nvalidity_days = 14\n";

/// Wednesdays some months ahead (up to 20 different ones), so that every inquiry names a
/// bookable future date.
pub fn dates(bookings: usize) -> Vec<String> {
    let mut first = jiff::Zoned::now().date() + jiff::Span::new().days(120);
    while first.weekday() != jiff::civil::Weekday::Wednesday {
        first = first.tomorrow().expect("a date");
    }
    (0..bookings)
        .map(|b| {
            let weeks = i64::try_from(b % 20).expect("small");
            (first + jiff::Span::new().weeks(weeks))
                .strftime("%d.%m.%Y")
                .to_string()
        })
        .collect()
}

/// Client threads stop when the test thread panics (a failed kill or restart, a crash).
pub struct AbortOnPanic<'a>(pub &'a AtomicBool);

impl Drop for AbortOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Ordering::SeqCst);
        }
    }
}

/// The delivery key an automation email was sent under (its Message-ID is `<key>@<domain>`).
pub fn key_of(d: &Delivery) -> &str {
    d.message_id.split('@').next().unwrap_or_default()
}

pub fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// What the database says of the messages and bookings, gathered the same way on both backends.
pub struct Stored<'a> {
    /// Inbound messages by Message-ID: the booking each is linked to, and whether it has a result.
    pub inbound: &'a HashMap<String, (Option<String>, bool)>,
    /// History rows per Message-ID.
    pub history: &'a HashMap<String, i64>,
    /// What the API answered for each message.
    pub answers: &'a HashMap<String, super::driver::Answer>,
}

impl Stored<'_> {
    /// Every message of a booking is stored once, with a result, a history row, linked to
    /// `event` — and the API named that booking in its answer.
    pub fn assert_on_booking(&self, ids: &[String], event: &str) {
        for id in ids {
            let (linked, has_result) = self
                .inbound
                .get(id)
                .unwrap_or_else(|| panic!("message {id} not stored"));
            assert!(has_result, "message {id} has no stored result");
            assert_eq!(
                linked.as_deref(),
                Some(event),
                "message {id} is not on booking {event}"
            );
            assert_eq!(self.history.get(id), Some(&1), "history rows of {id}");
            let answer = self
                .answers
                .get(id)
                .unwrap_or_else(|| panic!("no answer for {id}"));
            assert_eq!(
                answer.event_id.as_deref(),
                Some(event),
                "the API's answer for {id}"
            );
        }
    }
}

/// The extra chairs on a booking record: each reply adds its own power of two, so the total
/// names any reply lost or applied twice.
pub fn chairs(record: &str) -> u64 {
    let record: serde_json::Value = serde_json::from_str(record).expect("record JSON");
    record["selected_products"]
        .as_array()
        .expect("selected_products")
        .iter()
        .filter(|p| p["product_id"] == "extra_chairs")
        .map(|p| p["quantity"].as_u64().expect("quantity"))
        .sum()
}
