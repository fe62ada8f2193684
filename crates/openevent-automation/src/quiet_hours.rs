//! Quiet hours: local wall-clock windows in which some channels must not reach people (no SMS at
//! 23:00). A message due inside a window waits for the window's end.

use std::collections::BTreeSet;

use jiff::Timestamp;
use jiff::civil::Time;
use jiff::tz::TimeZone;
use openevent_core::event::TimeOfDay;
use serde::{Deserialize, Serialize};

use crate::definition::Channel;

/// `start..end` in local time; when `start > end` the window spans midnight (21:00–08:00).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    pub start: TimeOfDay,
    pub end: TimeOfDay,
    pub channels: BTreeSet<Channel>,
}

impl QuietHours {
    fn contains(&self, t: Time) -> bool {
        let (s, e) = (self.start.time(), self.end.time());
        if s <= e {
            s <= t && t < e
        } else {
            t >= s || t < e
        }
    }

    /// The end of the window that `at` falls into, if it falls into one for `channel`.
    pub fn window_end(&self, at: Timestamp, channel: Channel, tz: &TimeZone) -> Option<Timestamp> {
        if !self.channels.contains(&channel) {
            return None;
        }
        let local = at.to_zoned(tz.clone());
        if !self.contains(local.time()) {
            return None;
        }
        let mut day = local.date();
        if self.start.time() > self.end.time() && local.time() >= self.start.time() {
            day = day.tomorrow().ok()?;
        }
        // A window ending inside a DST gap ends at the first instant after the gap; one ending
        // in the repeated autumn hour ends at its second occurrence when `at` is already past
        // the first.
        let amb = tz.to_ambiguous_timestamp(day.to_datetime(self.end.time()));
        let first = amb.compatible().ok()?;
        let end = if first > at { first } else { amb.later().ok()? };
        Some(end.max(at))
    }
}

/// `at`, or the first moment after it outside every quiet window that applies to `channel`.
pub fn defer(at: Timestamp, channel: Channel, windows: &[QuietHours], tz: &TimeZone) -> Timestamp {
    let mut t = at;
    // Windows may touch (20:00–22:00 and 22:00–07:00), so one deferral can land in the next.
    // Validation keeps each window shorter than a day, so this ends; the bound guards the rest.
    for _ in 0..=windows.len() * 2 {
        match windows.iter().find_map(|w| w.window_end(t, channel, tz)) {
            Some(end) if end > t => t = end,
            _ => break,
        }
    }
    t
}

/// Whether a window is valid: non-empty and naming at least one channel.
pub fn problems(w: &QuietHours) -> Option<&'static str> {
    if w.start == w.end {
        Some("start and end must differ")
    } else if w.channels.is_empty() {
        Some("name at least one channel")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn zurich() -> TimeZone {
        TimeZone::get("Europe/Zurich").unwrap()
    }

    fn ts(local: &str) -> Timestamp {
        local
            .parse::<jiff::civil::DateTime>()
            .unwrap()
            .to_zoned(zurich())
            .unwrap()
            .timestamp()
    }

    fn night() -> QuietHours {
        QuietHours {
            start: TimeOfDay::parse("21:00").unwrap(),
            end: TimeOfDay::parse("08:00").unwrap(),
            channels: BTreeSet::from([Channel::Sms, Channel::Whatsapp]),
        }
    }

    #[test]
    fn late_evening_sms_waits_for_morning() {
        let w = [night()];
        assert_eq!(
            defer(ts("2026-06-10T22:15"), Channel::Sms, &w, &zurich()),
            ts("2026-06-11T08:00")
        );
        assert_eq!(
            defer(ts("2026-06-11T06:59"), Channel::Whatsapp, &w, &zurich()),
            ts("2026-06-11T08:00")
        );
        // Outside the window, or a channel the window does not cover: unchanged.
        assert_eq!(
            defer(ts("2026-06-11T08:00"), Channel::Sms, &w, &zurich()),
            ts("2026-06-11T08:00")
        );
        assert_eq!(
            defer(ts("2026-06-10T22:15"), Channel::Email, &w, &zurich()),
            ts("2026-06-10T22:15")
        );
    }

    #[test]
    fn deferral_across_the_autumn_switch_lands_on_local_eight() {
        // The night of 24→25 October 2026 has 11 hours between 21:00 and 08:00, not 10.
        let from = ts("2026-10-24T21:30");
        let to = defer(from, Channel::Sms, &[night()], &zurich());
        assert_eq!(to, ts("2026-10-25T08:00"));
        assert_eq!(to.duration_since(from).as_mins(), 11 * 60 + 30);
    }

    #[test]
    fn deferral_across_the_spring_switch_lands_on_local_eight() {
        let from = ts("2026-03-28T23:00");
        let to = defer(from, Channel::Sms, &[night()], &zurich());
        assert_eq!(to, ts("2026-03-29T08:00"));
        assert_eq!(to.duration_since(from).as_mins(), 8 * 60);
    }

    #[test]
    fn touching_windows_chain() {
        let evening = QuietHours {
            start: TimeOfDay::parse("19:00").unwrap(),
            end: TimeOfDay::parse("21:00").unwrap(),
            channels: BTreeSet::from([Channel::Sms]),
        };
        assert_eq!(
            defer(
                ts("2026-06-10T19:30"),
                Channel::Sms,
                &[evening, night()],
                &zurich()
            ),
            ts("2026-06-11T08:00")
        );
    }

    proptest! {
        #[test]
        fn deferred_times_are_never_inside_quiet_hours(
            secs in 1_767_225_600i64..1_830_297_600, // 2026..2028
            start_h in 0i8..24, start_m in 0i8..60, end_h in 0i8..24, end_m in 0i8..60,
        ) {
            let w = QuietHours {
                start: TimeOfDay::new(start_h, start_m).unwrap(),
                end: TimeOfDay::new(end_h, end_m).unwrap(),
                channels: BTreeSet::from([Channel::Sms]),
            };
            prop_assume!(problems(&w).is_none());
            let at = Timestamp::from_second(secs).unwrap();
            let out = defer(at, Channel::Sms, std::slice::from_ref(&w), &zurich());
            prop_assert!(out >= at);
            prop_assert!(w.window_end(out, Channel::Sms, &zurich()).is_none(),
                "{} is inside the window", out.to_zoned(zurich()));
        }
    }
}
