//! Formatting for drafts: Swiss dates and amounts, greetings, subjects, the status line.

use jiff::civil::Date;

use crate::event::{Event, Step, ThreadState};
use crate::money::Money;
use crate::understanding::Language;
use crate::venue::Venue;

/// DD.MM.YYYY.
pub fn date(d: Date) -> String {
    format!("{:02}.{:02}.{}", d.day(), d.month(), d.year())
}

pub fn chf(m: Money) -> String {
    m.display_chf()
}

pub fn greeting(lang: Language, name: Option<&str>) -> String {
    match (lang, name) {
        (Language::De, Some(n)) => format!("Guten Tag {n}"),
        (Language::De, None) => "Guten Tag".to_owned(),
        (_, Some(n)) => format!("Dear {n}"),
        (_, None) => "Hello".to_owned(),
    }
}

pub fn time_window(e: &Event) -> Option<String> {
    match (e.start_time, e.end_time) {
        (Some(s), Some(t)) => Some(format!("{s}–{t}")),
        (Some(s), None) => Some(format!("from {s}")),
        _ => None,
    }
}

pub fn reply_subject(venue: &Venue, e: &Event, _topic: &str) -> String {
    let when = e
        .chosen_date
        .map(|d| format!(" – {}", date(d)))
        .unwrap_or_default();
    match e.language {
        Language::De => format!("Ihr Anlass bei {}{when}", venue.name()),
        _ => format!("Your event at {}{when}", venue.name()),
    }
}

/// The line every draft ends with: where the booking stands, what comes next, who is waited on.
pub fn status_line(e: &Event) -> String {
    let step = e.current_step;
    let (name_de, next_en, next_de) = match step {
        Step::Intake => ("Anfrage", "confirm the date", "Datum bestätigen"),
        Step::DateConfirmation => ("Datumsbestätigung", "confirm the date", "Datum bestätigen"),
        Step::RoomAvailability => ("Raumverfügbarkeit", "choose the room", "Raum wählen"),
        Step::Offer => ("Offerte", "prepare the offer", "Offerte erstellen"),
        Step::Negotiation => (
            "Verhandlung",
            "your decision on the offer",
            "Ihr Entscheid zur Offerte",
        ),
        Step::TransitionCheckpoint => ("Übergangsprüfung", "final checks", "letzte Prüfungen"),
        Step::Confirmation => (
            "Bestätigung",
            "confirmation of the booking",
            "Bestätigung der Buchung",
        ),
    };
    let closed = e.thread_state == ThreadState::Closed;
    match e.language {
        Language::De => format!(
            "---\nStatus: Schritt {} {name_de} · Nächster Schritt: {} · Wir warten auf: {}",
            step.number(),
            if closed { "keiner" } else { next_de },
            if closed { "niemanden" } else { "Ihre Antwort" },
        ),
        _ => format!(
            "---\nStatus: Step {} {} · Next: {} · Waiting on: {}",
            step.number(),
            step.name(),
            if closed { "nothing" } else { next_en },
            if closed { "nobody" } else { "your reply" },
        ),
    }
}
