//! A booking as an iCalendar (RFC 5545) event, for the manager's and the client's calendars.
//!
//! Written here rather than with a crate: the one component needs only text escaping, line
//! folding and UTC times (from the venue's zone), and the calendar crates pull in a second
//! date-time library.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};

use crate::event::{Event, Status};
use crate::venue::Venue;

/// Escapes TEXT values: backslash, semicolon, comma and newlines (RFC 5545 §3.3.11).
fn text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Folds a content line at 75 octets (never inside a UTF-8 character) and ends it with CRLF.
fn line(out: &mut String, content: &str) {
    let mut width = 0;
    for c in content.chars() {
        let n = c.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += n;
    }
    out.push_str("\r\n");
}

fn utc(t: Timestamp) -> String {
    t.strftime("%Y%m%dT%H%M%SZ").to_string()
}

fn day(d: Date) -> String {
    d.strftime("%Y%m%d").to_string()
}

/// The booking as a one-event calendar, or `None` while it has no date.
pub fn render(event: &Event, venue: &Venue, now: Timestamp) -> Option<String> {
    let date = event.chosen_date?;
    let tz = venue.time_zone();
    let (start, end) = match (event.start_time, event.end_time) {
        (Some(s), Some(e)) => {
            let start_dt = DateTime::from_parts(date, s.time());
            // An end at or before the start is the next day (an evening into the night).
            let end_date = if e.time() <= s.time() {
                date.tomorrow().ok()?
            } else {
                date
            };
            let end_dt = DateTime::from_parts(end_date, e.time());
            let start = start_dt.to_zoned(tz.clone()).ok()?.timestamp();
            let end = end_dt.to_zoned(tz.clone()).ok()?.timestamp();
            (
                format!("DTSTART:{}", utc(start)),
                format!("DTEND:{}", utc(end)),
            )
        }
        _ => (
            format!("DTSTART;VALUE=DATE:{}", day(date)),
            format!("DTEND;VALUE=DATE:{}", day(date.tomorrow().ok()?)),
        ),
    };
    let room = event
        .locked_room_id
        .as_ref()
        .and_then(|id| venue.room(id))
        .map(|r| r.name.clone());
    let summary = match &room {
        Some(room) => format!("{} — {room}", venue.name()),
        None => venue.name().to_owned(),
    };
    let status = match event.status {
        Status::Confirmed => "CONFIRMED",
        Status::Cancelled => "CANCELLED",
        Status::Lead | Status::Option => "TENTATIVE",
    };
    let mut description = format!("Booking {} ({})", event.event_id, event.status.as_str());
    if let Some(n) = event.requirements().number_of_participants {
        description.push_str(&format!("\n{n} participants"));
    }
    let mut out = String::new();
    line(&mut out, "BEGIN:VCALENDAR");
    line(&mut out, "VERSION:2.0");
    line(&mut out, "PRODID:-//openevent//booking//EN");
    line(&mut out, "CALSCALE:GREGORIAN");
    line(&mut out, "BEGIN:VEVENT");
    line(&mut out, &format!("UID:{}@openevent", event.event_id));
    line(&mut out, &format!("DTSTAMP:{}", utc(now)));
    line(&mut out, &start);
    line(&mut out, &end);
    line(&mut out, &format!("SUMMARY:{}", text(&summary)));
    line(&mut out, &format!("DESCRIPTION:{}", text(&description)));
    if let Some(room) = &room {
        line(
            &mut out,
            &format!("LOCATION:{}", text(&format!("{room}, {}", venue.name()))),
        );
    }
    line(&mut out, &format!("STATUS:{status}"));
    line(&mut out, "END:VEVENT");
    line(&mut out, "END:VCALENDAR");
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::TimeOfDay;
    use crate::ids::{ClientEmail, EventId, RoomId};

    fn booking() -> Event {
        let now: Timestamp = "2026-11-22T09:00:00Z".parse().unwrap();
        let mut e = Event::new_lead(
            EventId::parse("EVT-0123456789ABCDEF").unwrap(),
            ClientEmail::parse("laura@example.com").unwrap(),
            now,
        );
        e.status = Status::Option;
        e.chosen_date = Some(jiff::civil::date(2027, 3, 17));
        e.locked_room_id = Some(RoomId::parse("room_a").unwrap());
        e
    }

    #[test]
    fn a_timed_booking_is_in_utc_from_the_venue_zone() {
        let mut e = booking();
        e.start_time = Some(TimeOfDay::parse("09:00").unwrap());
        e.end_time = Some(TimeOfDay::parse("17:00").unwrap());
        let now: Timestamp = "2026-11-22T09:00:00Z".parse().unwrap();
        let ics = render(&e, &Venue::atelier(), now).unwrap();
        // Zurich is UTC+1 in March before the switch.
        assert!(ics.contains("DTSTART:20270317T080000Z\r\n"), "{ics}");
        assert!(ics.contains("DTEND:20270317T160000Z\r\n"), "{ics}");
        assert!(ics.contains("UID:EVT-0123456789ABCDEF@openevent\r\n"));
        assert!(ics.contains("STATUS:TENTATIVE\r\n"));
        assert!(ics.contains("DTSTAMP:20261122T090000Z\r\n"));
        assert!(ics.starts_with("BEGIN:VCALENDAR\r\n") && ics.ends_with("END:VCALENDAR\r\n"));
    }

    #[test]
    fn an_evening_into_the_night_ends_the_next_day_and_a_dateless_booking_has_no_calendar() {
        let mut e = booking();
        e.start_time = Some(TimeOfDay::parse("19:00").unwrap());
        e.end_time = Some(TimeOfDay::parse("02:00").unwrap());
        let now: Timestamp = "2026-11-22T09:00:00Z".parse().unwrap();
        let ics = render(&e, &Venue::atelier(), now).unwrap();
        assert!(ics.contains("DTEND:20270318T010000Z\r\n"), "{ics}");
        let mut all_day = booking();
        all_day.status = Status::Confirmed;
        let ics = render(&all_day, &Venue::atelier(), now).unwrap();
        assert!(ics.contains("DTSTART;VALUE=DATE:20270317\r\nDTEND;VALUE=DATE:20270318\r\n"));
        assert!(ics.contains("STATUS:CONFIRMED"));
        all_day.chosen_date = None;
        assert!(render(&all_day, &Venue::atelier(), now).is_none());
    }

    #[test]
    fn text_is_escaped_and_lines_are_folded_at_75_octets() {
        assert_eq!(text("a,b;c\\d\ne\r"), "a\\,b\\;c\\\\d\\ne");
        let mut out = String::new();
        line(&mut out, &format!("SUMMARY:{}", "ü".repeat(60)));
        for l in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(l.len() <= 75, "{} octets: {l}", l.len());
        }
        // Unfolding gives the line back.
        assert_eq!(
            out.replace("\r\n ", "").trim_end(),
            format!("SUMMARY:{}", "ü".repeat(60))
        );
    }
}
