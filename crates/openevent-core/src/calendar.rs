//! Room availability: which rooms a booking can have on a day, ranked by fit.
//!
//! Rules: only `option` and `confirmed` bookings block a room (the shell passes just those); a
//! booking occupies its time window widened by the room's buffers; windows are half-open, so
//! adjacent windows don't clash; a booking without a time blocks the whole day; a window that
//! ends at or before its start runs overnight into the next day; a client's own booking never
//! blocks itself.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::event::{Layout, Requirements, SelectedProduct, TimeOfDay};
use crate::ids::{EventId, ProductId, RoomId};
use crate::money::Money;
use crate::venue::{Room, Venue};

const DAY_MIN: i64 = 24 * 60;

/// A room held by a booking on a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Occupancy {
    pub event_id: EventId,
    pub room_id: RoomId,
    pub date: Date,
    /// `None`: the whole day.
    pub window: Option<Window>,
}

/// A time window on a day; `end <= start` means it ends the next day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub start: TimeOfDay,
    pub end: TimeOfDay,
}

fn minutes(t: TimeOfDay) -> i64 {
    i64::from(t.time().hour()) * 60 + i64::from(t.time().minute())
}

/// The occupied interval in minutes relative to `day`'s midnight, buffers included.
fn interval(date: Date, window: Option<Window>, room: &Room, day: Date) -> (i64, i64) {
    let offset = (date - day).get_days() as i64 * DAY_MIN;
    match window {
        None => (offset, offset + DAY_MIN),
        Some(w) => {
            let start = minutes(w.start);
            let mut end = minutes(w.end);
            if end <= start {
                end += DAY_MIN;
            }
            (
                offset + start - i64::from(room.buffer_before_min),
                offset + end + i64::from(room.buffer_after_min),
            )
        }
    }
}

/// The bookings that can reach into `date`: those of the day before (overnight windows,
/// buffers), the day itself and the day after. `occupancy` must be sorted by date: this is a
/// binary search, so a turn costs the same however full the calendar around it is.
pub fn around(occupancy: &[Occupancy], date: Date) -> &[Occupancy] {
    debug_assert!(
        occupancy.is_sorted_by_key(|o| o.date),
        "occupancy must be sorted by date"
    );
    let first = date.yesterday().unwrap_or(date);
    let last = date.tomorrow().unwrap_or(date);
    let start = occupancy.partition_point(|o| o.date < first);
    let end = occupancy.partition_point(|o| o.date <= last);
    &occupancy[start..end]
}

/// Whether `room` is free on `date` for `window`, ignoring the bookings of `own`. `occupancy`
/// is sorted by date (see [`around`]).
pub fn is_room_free(
    room: &Room,
    date: Date,
    window: Option<Window>,
    occupancy: &[Occupancy],
    own: Option<&EventId>,
) -> bool {
    let (a, b) = interval(date, window, room, date);
    around(occupancy, date)
        .iter()
        .filter(|o| o.room_id == room.id && Some(&o.event_id) != own)
        .all(|o| {
            let (c, d) = interval(o.date, o.window, room, date);
            !(a < d && c < b)
        })
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Unfit {
    /// Another booking holds the room at that time.
    Booked,
    /// More participants than seats in the asked layout.
    TooSmall { seats: u32 },
    /// Fewer participants than the room's minimum.
    BelowMinimum { minimum: u32 },
    /// The room cannot be set up in that layout.
    LayoutUnsupported { layout: Layout },
    /// A product the client chose cannot be served in this room.
    ProductUnavailable { product_id: ProductId },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomOption {
    pub room_id: RoomId,
    pub name: String,
    /// Seats in the asked layout (the room's maximum when none was asked).
    pub seats: u32,
    pub full_day_rate: Money,
    /// Empty when the room fits and is free.
    pub unfit: Vec<Unfit>,
}

impl RoomOption {
    pub fn available(&self) -> bool {
        self.unfit.is_empty()
    }

    /// Free at that time, but unsuitable for the stated needs.
    pub fn only_booked(&self) -> bool {
        self.unfit == [Unfit::Booked]
    }
}

/// Every room with its verdict, best first: available rooms ranked by the client's preferred room,
/// then the tightest fit for the layout, then price; then the rest in the same order.
pub fn evaluate_rooms(
    venue: &Venue,
    req: &Requirements,
    products: &[SelectedProduct],
    date: Date,
    window: Option<Window>,
    occupancy: &[Occupancy],
    own: Option<&EventId>,
) -> Vec<RoomOption> {
    let mut out: Vec<RoomOption> = venue
        .rooms()
        .iter()
        .map(|room| {
            let mut unfit = Vec::new();
            let seats = match room.capacity_for(req.seating_layout) {
                Some(seats) => seats,
                None => {
                    unfit.push(Unfit::LayoutUnsupported {
                        layout: req
                            .seating_layout
                            .expect("only a named layout can be missing"),
                    });
                    0
                }
            };
            if let Some(n) = req.number_of_participants {
                if seats > 0 && n > seats {
                    unfit.push(Unfit::TooSmall { seats });
                }
                if n < room.capacity_min {
                    unfit.push(Unfit::BelowMinimum {
                        minimum: room.capacity_min,
                    });
                }
            }
            for p in products {
                if venue
                    .product(&p.product_id)
                    .is_some_and(|prod| !prod.available_in(&room.id))
                {
                    unfit.push(Unfit::ProductUnavailable {
                        product_id: p.product_id.clone(),
                    });
                }
            }
            if !is_room_free(room, date, window, occupancy, own) {
                unfit.push(Unfit::Booked);
            }
            RoomOption {
                room_id: room.id.clone(),
                name: room.name.clone(),
                seats,
                full_day_rate: room.full_day_rate_chf,
                unfit,
            }
        })
        .collect();
    let preferred = req.preferred_room.as_ref();
    out.sort_by_key(|o| {
        (
            !o.available(),
            Some(&o.room_id) != preferred,
            o.seats,
            o.full_day_rate,
            o.room_id.clone(),
        )
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn t(s: &str) -> TimeOfDay {
        TimeOfDay::parse(s).unwrap()
    }

    fn w(a: &str, b: &str) -> Option<Window> {
        Some(Window {
            start: t(a),
            end: t(b),
        })
    }

    fn room(id: &str) -> RoomId {
        RoomId::parse(id).unwrap()
    }

    fn occ(ev: &str, r: &str, d: Date, window: Option<Window>) -> Occupancy {
        Occupancy {
            event_id: EventId::parse(ev).unwrap(),
            room_id: room(r),
            date: d,
            window,
        }
    }

    #[test]
    fn buffers_overlaps_and_adjacency() {
        let v = Venue::atelier();
        let a = v.room(&room("room_a")).unwrap(); // 30/30 buffers
        let d = date(2027, 3, 17);
        let booked = [occ("E1", "room_a", d, w("08:00", "12:00"))];
        // Needs 11:30..17:30 against 07:30..12:30: clash.
        assert!(!is_room_free(a, d, w("12:00", "17:00"), &booked, None));
        // 12:30..17:30 touches 07:30..12:30: adjacent, no clash.
        assert!(is_room_free(a, d, w("13:00", "17:00"), &booked, None));
        // Other rooms and other days are unaffected.
        let b = v.room(&room("room_b")).unwrap();
        assert!(is_room_free(b, d, w("09:00", "10:00"), &booked, None));
        assert!(is_room_free(
            a,
            date(2027, 3, 18),
            w("08:00", "12:00"),
            &booked,
            None
        ));
    }

    #[test]
    fn all_day_and_overnight() {
        let v = Venue::atelier();
        let a = v.room(&room("room_a")).unwrap();
        let d = date(2027, 3, 17);
        let all_day = [occ("E1", "room_a", d, None)];
        assert!(!is_room_free(a, d, w("20:00", "21:00"), &all_day, None));
        assert!(is_room_free(
            a,
            date(2027, 3, 18),
            w("09:00", "10:00"),
            &all_day,
            None
        ));
        // A party 20:00–02:00 reaches into the next morning (02:30 with the buffer).
        let night = [occ("E2", "room_a", d, w("20:00", "02:00"))];
        assert!(!is_room_free(
            a,
            date(2027, 3, 18),
            w("02:00", "05:00"),
            &night,
            None
        ));
        assert!(is_room_free(
            a,
            date(2027, 3, 18),
            w("03:00", "05:00"),
            &night,
            None
        ));
        assert!(!is_room_free(a, date(2027, 3, 18), None, &night, None));
        // An overnight request runs into a booking the next morning.
        let morning = [occ("E3", "room_a", date(2027, 3, 18), w("07:00", "09:00"))];
        assert!(!is_room_free(a, d, w("22:00", "07:00"), &morning, None));
    }

    #[test]
    fn own_booking_never_blocks_itself() {
        let v = Venue::atelier();
        let a = v.room(&room("room_a")).unwrap();
        let d = date(2027, 3, 17);
        let booked = [occ("MINE", "room_a", d, None)];
        let mine = EventId::parse("MINE").unwrap();
        assert!(is_room_free(a, d, None, &booked, Some(&mine)));
        assert!(!is_room_free(a, d, None, &booked, None));
    }

    #[test]
    fn rooms_rank_by_fit_then_price() {
        let v = Venue::atelier();
        let req = Requirements {
            number_of_participants: Some(24),
            seating_layout: Some(Layout::Workshop),
            ..Requirements::default()
        };
        let d = date(2027, 3, 17);
        let ranked = evaluate_rooms(&v, &req, &[], d, w("09:00", "17:00"), &[], None);
        let ids: Vec<&str> = ranked
            .iter()
            .filter(|o| o.available())
            .map(|o| o.room_id.as_str())
            .collect();
        // Workshop seats: A 28, F 30, B 32 fit 24; C (minimum 30) is too big, D (22) too small,
        // E has no workshop layout.
        assert_eq!(ids, ["room_a", "room_f", "room_b"]);
        let c_room = ranked
            .iter()
            .find(|o| o.room_id.as_str() == "room_c")
            .unwrap();
        assert_eq!(c_room.unfit, [Unfit::BelowMinimum { minimum: 30 }]);
        let d_room = ranked
            .iter()
            .find(|o| o.room_id.as_str() == "room_d")
            .unwrap();
        assert_eq!(d_room.unfit, [Unfit::TooSmall { seats: 22 }]);
        let e_room = ranked
            .iter()
            .find(|o| o.room_id.as_str() == "room_e")
            .unwrap();
        assert!(matches!(e_room.unfit[0], Unfit::LayoutUnsupported { .. }));
    }

    #[test]
    fn preference_products_and_bookings_change_the_ranking() {
        let v = Venue::atelier();
        let d = date(2027, 3, 17);
        let req = Requirements {
            number_of_participants: Some(30),
            preferred_room: Some(room("room_b")),
            ..Requirements::default()
        };
        let prosecco = [SelectedProduct {
            product_id: ProductId::parse("prosecco").unwrap(),
            quantity: 6,
        }];
        let booked = [occ("X", "room_c", d, None)];
        let ranked = evaluate_rooms(&v, &req, &prosecco, d, None, &booked, None);
        assert_eq!(ranked[0].room_id.as_str(), "room_b");
        let a = ranked
            .iter()
            .find(|o| o.room_id.as_str() == "room_a")
            .unwrap();
        assert!(a.unfit.contains(&Unfit::ProductUnavailable {
            product_id: ProductId::parse("prosecco").unwrap()
        }));
        let c = ranked
            .iter()
            .find(|o| o.room_id.as_str() == "room_c")
            .unwrap();
        assert!(c.only_booked());
        let e = ranked
            .iter()
            .find(|o| o.room_id.as_str() == "room_e")
            .unwrap();
        assert_eq!(e.unfit, [Unfit::BelowMinimum { minimum: 40 }]);
    }
}
