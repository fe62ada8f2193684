//! The month calendar: the venue's rooms (rows) by the days of a month (columns), each cell
//! listing the bookings that hold the room that day. Pure: the page reads the occupancy and the
//! bookings, this module lays them out.
//!
//! A booking holds its room on its date; a window that ends at or before its start runs
//! overnight, so it also holds the room on the next morning (shown there as a continuation). A
//! booking on a room the venue no longer lists still shows, on a row of its own, so that nothing
//! booked disappears from the calendar.

use std::collections::{BTreeSet, HashMap};

use jiff::civil::{Date, Weekday};
use openevent_core::calendar::{Occupancy, Window};
use openevent_core::event::Status;
use openevent_core::ids::{EventId, RoomId};
use openevent_core::venue::Venue;

use crate::month::Month;
use crate::views;

/// What the calendar shows of a booking besides its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingInfo {
    pub status: Status,
    pub client_email: String,
    pub client_name: Option<String>,
}

/// A day's column heading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayHead {
    /// `17`.
    pub day: i8,
    /// `Mo`.
    pub weekday: &'static str,
    /// `Wednesday 17.03.2027`, plus why the day is special.
    pub title: String,
    pub css: String,
}

/// A booking in a cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub event_id: String,
    /// `option` or `confirmed` (the CSS class and the label).
    pub status: &'static str,
    pub status_label: &'static str,
    /// `09:00–17:00`, `all day`, `until 02:00`, `22:00–02:00 (overnight)`.
    pub time: String,
    /// The client's name, or the email address when the name is unknown.
    pub client: String,
    pub client_email: String,
    /// For ordering within a cell: whole-day first, then by start.
    sort_key: (u8, String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub css: String,
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomRow {
    pub name: String,
    /// `None` for a room of the venue; for a room the venue does not list, why it is shown.
    pub note: Option<String>,
    pub cells: Vec<Cell>,
}

/// The laid-out month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grid {
    pub days: Vec<DayHead>,
    pub rows: Vec<RoomRow>,
    /// How many bookings hold a room on some day of the month.
    pub bookings: usize,
}

const WEEKDAYS: [&str; 7] = ["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"];

fn is_weekend(d: Date) -> bool {
    matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday)
}

/// The CSS classes of a day's column: `weekend`, `blackout` (the venue is closed), `today`.
fn day_css(d: Date, venue: &Venue, today: Date) -> String {
    let mut css = Vec::new();
    if is_weekend(d) {
        css.push("weekend");
    }
    if venue.spec().blackout_dates.contains(&d) {
        css.push("blackout");
    }
    if d == today {
        css.push("today");
    }
    css.join(" ")
}

fn day_head(d: Date, venue: &Venue, today: Date) -> DayHead {
    let mut title = format!("{} {}", d.strftime("%A"), views::date(d));
    if venue.spec().blackout_dates.contains(&d) {
        title.push_str(" (closed)");
    }
    if d == today {
        title.push_str(" (today)");
    }
    DayHead {
        day: d.day(),
        weekday: WEEKDAYS[usize::from(d.weekday().to_monday_zero_offset().unsigned_abs())],
        title,
        css: day_css(d, venue, today),
    }
}

fn overnight(w: Window) -> bool {
    w.end <= w.start
}

/// The booking on its own date.
fn time_on_date(window: Option<Window>) -> (String, (u8, String)) {
    match window {
        None => ("all day".to_owned(), (0, String::new())),
        Some(w) if overnight(w) => (
            format!("{}–{} (overnight)", w.start, w.end),
            (2, w.start.to_string()),
        ),
        Some(w) => (format!("{}–{}", w.start, w.end), (2, w.start.to_string())),
    }
}

fn status_of(status: Status) -> Option<(&'static str, &'static str)> {
    match status {
        Status::Option => Some(("option", "Option")),
        Status::Confirmed => Some(("confirmed", "Confirmed")),
        // Only options and confirmed bookings hold a room.
        Status::Lead | Status::Cancelled => None,
    }
}

/// Lays out `month`: `occupancy` holds the bookings dated in the month and on the day before it
/// (whose overnight windows reach into the first), `bookings` what is known of each; a booking
/// missing from `bookings`, or no longer an option or confirmed, is left out.
pub fn month_grid(
    venue: &Venue,
    month: Month,
    today: Date,
    occupancy: &[Occupancy],
    bookings: &HashMap<EventId, BookingInfo>,
) -> Grid {
    let days: Vec<Date> = month.days().collect();
    let first = month.first_day();
    let column = |d: Date| -> Option<usize> {
        let offset = (d - first).get_days();
        usize::try_from(offset).ok().filter(|i| *i < days.len())
    };

    let mut room_order: Vec<RoomId> = venue.rooms().iter().map(|r| r.id.clone()).collect();
    let unknown: BTreeSet<&RoomId> = occupancy
        .iter()
        .map(|o| &o.room_id)
        .filter(|id| venue.room(id).is_none())
        .collect();
    room_order.extend(unknown.into_iter().cloned());
    let row_of: HashMap<&RoomId, usize> =
        room_order.iter().enumerate().map(|(i, r)| (r, i)).collect();

    let mut cells: Vec<Vec<Vec<Entry>>> = vec![vec![Vec::new(); days.len()]; room_order.len()];
    let mut shown: BTreeSet<&EventId> = BTreeSet::new();
    for o in occupancy {
        let Some(info) = bookings.get(&o.event_id) else {
            continue;
        };
        let Some((status, status_label)) = status_of(info.status) else {
            continue;
        };
        let Some(&row) = row_of.get(&o.room_id) else {
            continue;
        };
        let entry = |time: String, sort_key: (u8, String)| Entry {
            event_id: o.event_id.to_string(),
            status,
            status_label,
            time,
            client: info
                .client_name
                .clone()
                .unwrap_or_else(|| info.client_email.clone()),
            client_email: info.client_email.clone(),
            sort_key,
        };
        if let Some(col) = column(o.date) {
            let (time, key) = time_on_date(o.window);
            cells[row][col].push(entry(time, key));
            shown.insert(&o.event_id);
        }
        if let Some(w) = o.window.filter(|w| overnight(*w))
            && let Some(col) = o.date.tomorrow().ok().and_then(column)
        {
            // The morning after: ordered before anything starting that day.
            cells[row][col].push(entry(format!("until {}", w.end), (1, String::new())));
            shown.insert(&o.event_id);
        }
    }

    let day_css: Vec<String> = days.iter().map(|d| day_css(*d, venue, today)).collect();
    let rows = room_order
        .iter()
        .zip(cells)
        .map(|(id, row_cells)| RoomRow {
            name: venue
                .room(id)
                .map_or_else(|| id.to_string(), |r| r.name.clone()),
            note: venue
                .room(id)
                .is_none()
                .then(|| "not a room of the venue".to_owned()),
            cells: row_cells
                .into_iter()
                .zip(&day_css)
                .map(|(mut entries, css)| {
                    entries.sort_by(|a, b| {
                        (&a.sort_key, &a.event_id).cmp(&(&b.sort_key, &b.event_id))
                    });
                    Cell {
                        css: css.clone(),
                        entries,
                    }
                })
                .collect(),
        })
        .collect();
    Grid {
        days: days.iter().map(|d| day_head(*d, venue, today)).collect(),
        rows,
        bookings: shown.len(),
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;
    use openevent_core::event::TimeOfDay;

    use super::*;

    fn occ(event: &str, room: &str, d: Date, window: Option<(&str, &str)>) -> Occupancy {
        Occupancy {
            event_id: EventId::parse(event).unwrap(),
            room_id: RoomId::parse(room).unwrap(),
            date: d,
            window: window.map(|(s, e)| Window {
                start: TimeOfDay::parse(s).unwrap(),
                end: TimeOfDay::parse(e).unwrap(),
            }),
        }
    }

    fn info(status: Status, email: &str, name: Option<&str>) -> BookingInfo {
        BookingInfo {
            status,
            client_email: email.to_owned(),
            client_name: name.map(str::to_owned),
        }
    }

    fn march() -> Month {
        Month::parse("2027-03").unwrap()
    }

    fn ids(cell: &Cell) -> Vec<(&str, &str)> {
        cell.entries
            .iter()
            .map(|e| (e.event_id.as_str(), e.time.as_str()))
            .collect()
    }

    #[test]
    fn rooms_by_days_with_weekends_blackouts_and_today() {
        let venue = Venue::atelier();
        let grid = month_grid(&venue, march(), date(2027, 3, 17), &[], &HashMap::new());
        assert_eq!(grid.days.len(), 31);
        assert_eq!(grid.rows.len(), venue.rooms().len());
        assert_eq!(grid.rows[0].name, "Room A");
        assert!(
            grid.rows
                .iter()
                .all(|r| r.cells.len() == 31 && r.note.is_none())
        );
        // 1 March 2027 is a Monday; the 6th and 7th are the weekend.
        assert_eq!(grid.days[0].weekday, "Mo");
        assert_eq!(grid.days[5].weekday, "Sa");
        assert_eq!(grid.days[5].css, "weekend");
        assert_eq!(grid.days[6].css, "weekend");
        assert_eq!(grid.days[0].css, "");
        assert_eq!(grid.days[16].css, "today");
        assert_eq!(grid.days[16].title, "Wednesday 17.03.2027 (today)");
        assert_eq!(grid.rows[2].cells[6].css, "weekend");
        assert_eq!(grid.bookings, 0);

        let december = Month::parse("2026-12").unwrap();
        let grid = month_grid(&venue, december, date(2027, 1, 1), &[], &HashMap::new());
        // 25.12.2026 is a Friday and a blackout date; 26.12.2026 a Saturday.
        assert_eq!(grid.days[24].css, "blackout");
        assert!(grid.days[24].title.ends_with("(closed)"));
        assert_eq!(grid.days[25].css, "weekend");
    }

    #[test]
    fn bookings_land_in_their_room_and_day_ordered_by_time() {
        let venue = Venue::atelier();
        let occupancy = [
            occ(
                "evt_b",
                "room_a",
                date(2027, 3, 17),
                Some(("14:00", "18:00")),
            ),
            occ(
                "evt_a",
                "room_a",
                date(2027, 3, 17),
                Some(("08:00", "12:00")),
            ),
            occ("evt_c", "room_c", date(2027, 3, 17), None),
            occ("evt_lead", "room_b", date(2027, 3, 17), None),
        ];
        let bookings = HashMap::from([
            (
                EventId::parse("evt_a").unwrap(),
                info(Status::Confirmed, "a@x.ch", Some("Anna")),
            ),
            (
                EventId::parse("evt_b").unwrap(),
                info(Status::Option, "b@x.ch", None),
            ),
            (
                EventId::parse("evt_c").unwrap(),
                info(Status::Option, "c@x.ch", None),
            ),
            // Cancelled between the two reads: it holds nothing any more.
            (
                EventId::parse("evt_lead").unwrap(),
                info(Status::Cancelled, "l@x.ch", None),
            ),
        ]);
        let grid = month_grid(&venue, march(), date(2026, 11, 23), &occupancy, &bookings);
        let room_a = &grid.rows[0].cells[16];
        assert_eq!(
            ids(room_a),
            [("evt_a", "08:00–12:00"), ("evt_b", "14:00–18:00")]
        );
        assert_eq!(room_a.entries[0].status, "confirmed");
        assert_eq!(room_a.entries[0].status_label, "Confirmed");
        assert_eq!(room_a.entries[0].client, "Anna");
        assert_eq!(room_a.entries[1].status, "option");
        assert_eq!(room_a.entries[1].client, "b@x.ch");
        assert_eq!(ids(&grid.rows[2].cells[16]), [("evt_c", "all day")]);
        assert!(grid.rows[1].cells[16].entries.is_empty());
        assert_eq!(grid.bookings, 3);
        // Nothing else anywhere.
        let total: usize = grid
            .rows
            .iter()
            .flat_map(|r| &r.cells)
            .map(|c| c.entries.len())
            .sum();
        assert_eq!(total, 3);
    }

    #[test]
    fn overnight_windows_also_hold_the_next_morning_across_the_month_edge() {
        let venue = Venue::atelier();
        let occupancy = [
            // The last evening of February runs into 1 March.
            occ(
                "evt_feb",
                "room_e",
                date(2027, 2, 28),
                Some(("22:00", "02:00")),
            ),
            occ(
                "evt_mid",
                "room_e",
                date(2027, 3, 10),
                Some(("20:00", "01:00")),
            ),
            occ(
                "evt_day",
                "room_e",
                date(2027, 3, 11),
                Some(("09:00", "12:00")),
            ),
            // The last evening of March runs into April: shown on the 31st only.
            occ(
                "evt_end",
                "room_e",
                date(2027, 3, 31),
                Some(("21:00", "03:00")),
            ),
        ];
        let bookings: HashMap<_, _> = ["evt_feb", "evt_mid", "evt_day", "evt_end"]
            .into_iter()
            .map(|id| {
                (
                    EventId::parse(id).unwrap(),
                    info(Status::Option, "x@y.ch", None),
                )
            })
            .collect();
        let grid = month_grid(&venue, march(), date(2026, 11, 23), &occupancy, &bookings);
        let e = &grid.rows[4];
        assert_eq!(ids(&e.cells[0]), [("evt_feb", "until 02:00")]);
        assert_eq!(ids(&e.cells[9]), [("evt_mid", "20:00–01:00 (overnight)")]);
        assert_eq!(
            ids(&e.cells[10]),
            [("evt_mid", "until 01:00"), ("evt_day", "09:00–12:00")]
        );
        assert_eq!(ids(&e.cells[30]), [("evt_end", "21:00–03:00 (overnight)")]);
        assert_eq!(grid.bookings, 4);
    }

    #[test]
    fn a_room_the_venue_does_not_list_gets_its_own_row() {
        let venue = Venue::atelier();
        let occupancy = [occ("evt_old", "room_z", date(2027, 3, 2), None)];
        let bookings = HashMap::from([(
            EventId::parse("evt_old").unwrap(),
            info(Status::Confirmed, "o@x.ch", None),
        )]);
        let grid = month_grid(&venue, march(), date(2026, 11, 23), &occupancy, &bookings);
        let last = grid.rows.last().unwrap();
        assert_eq!(grid.rows.len(), venue.rooms().len() + 1);
        assert_eq!(last.name, "room_z");
        assert_eq!(last.note.as_deref(), Some("not a room of the venue"));
        assert_eq!(ids(&last.cells[1]), [("evt_old", "all day")]);
    }
}
