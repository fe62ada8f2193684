//! When a step is due: its anchor plus a signed offset, computed on the venue's wall clock so
//! that "09:00 the day before" is 09:00 local on both sides of a DST change.

use std::collections::BTreeSet;

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};

use crate::definition::{Anchor, Offset, Timing, Trigger};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the due time is out of range: {0}")]
pub struct TimingError(String);

fn overflow(e: jiff::Error) -> TimingError {
    TimingError(e.to_string())
}

/// Monday to Friday, except the organization's holidays.
pub fn is_business_day(date: Date, holidays: &BTreeSet<Date>) -> bool {
    !matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday) && !holidays.contains(&date)
}

/// Moves `n` business days from `date` (backwards when negative). Zero leaves the date as it is,
/// even on a weekend: "0 business days before" means the anchor's own day.
pub fn add_business_days(
    date: Date,
    n: i32,
    holidays: &BTreeSet<Date>,
) -> Result<Date, TimingError> {
    let step = if n < 0 { -1 } else { 1 };
    let mut d = date;
    let mut left = n.unsigned_abs();
    while left > 0 {
        d = d.checked_add(step.days()).map_err(overflow)?;
        if is_business_day(d, holidays) {
            left -= 1;
        }
    }
    Ok(d)
}

/// The anchor a step really counts from. After a completion the interesting moment is when the
/// appointment or event ended, not when someone clicked "completed".
pub fn effective_anchor(trigger: Trigger, anchor: Anchor) -> Anchor {
    match (trigger, anchor) {
        (Trigger::AppointmentCompleted | Trigger::EventCompleted, Anchor::Trigger) => Anchor::End,
        _ => anchor,
    }
}

/// The due time for `timing` measured from `anchor_at`, in the zone `tz`.
pub fn due_at(
    timing: &Timing,
    anchor_at: Timestamp,
    tz: &TimeZone,
    holidays: &BTreeSet<Date>,
) -> Result<Timestamp, TimingError> {
    let local = anchor_at.to_zoned(tz.clone());
    let moved = match timing.offset {
        Offset::Minutes(m) => {
            let t = anchor_at
                .checked_add(SignedDuration::from_mins(m))
                .map_err(overflow)?;
            t.to_zoned(tz.clone())
        }
        Offset::Days(d) => local.checked_add(d.days()).map_err(overflow)?,
        Offset::BusinessDays(n) => {
            let date = add_business_days(local.date(), n, holidays)?;
            date.to_datetime(local.time())
                .to_zoned(tz.clone())
                .map_err(overflow)?
        }
    };
    let at = match timing.at {
        // `to_zoned` resolves a wall time inside a DST gap forward and one inside a fold to the
        // earlier instant, which is what a person setting "02:30" would expect.
        Some(t) => moved
            .date()
            .to_datetime(t.time())
            .to_zoned(tz.clone())
            .map_err(overflow)?,
        None => moved,
    };
    Ok(at.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::PastDuePolicy;
    use jiff::civil::date;
    use openevent_core::event::TimeOfDay;

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

    fn local(t: Timestamp) -> String {
        t.to_zoned(zurich())
            .strftime("%Y-%m-%d %H:%M %Z")
            .to_string()
    }

    fn timing(offset: Offset, at: Option<&str>) -> Timing {
        Timing {
            anchor: Anchor::Start,
            offset,
            at: at.map(|a| TimeOfDay::parse(a).unwrap()),
            if_past: PastDuePolicy::Skip,
        }
    }

    #[test]
    fn nine_local_the_day_before_survives_the_autumn_switch() {
        // 2026-10-25: clocks go back from 03:00 CEST to 02:00 CET.
        let start = ts("2026-10-26T10:00");
        let due = due_at(
            &timing(Offset::Days(-1), Some("09:00")),
            start,
            &zurich(),
            &BTreeSet::new(),
        )
        .unwrap();
        assert_eq!(local(due), "2026-10-25 09:00 CET");
        // 25 hours before, not 24: the day of the switch is longer.
        assert_eq!(start.duration_since(due), SignedDuration::from_hours(25));
    }

    #[test]
    fn nine_local_the_day_before_survives_the_spring_switch() {
        // 2026-03-29: clocks jump from 02:00 CET to 03:00 CEST.
        let start = ts("2026-03-30T09:00");
        let due = due_at(
            &timing(Offset::Days(-1), Some("09:00")),
            start,
            &zurich(),
            &BTreeSet::new(),
        )
        .unwrap();
        assert_eq!(local(due), "2026-03-29 09:00 CEST");
        assert_eq!(start.duration_since(due), SignedDuration::from_hours(24));
        let day_only = due_at(
            &timing(Offset::Days(-1), None),
            ts("2026-03-30T08:30"),
            &zurich(),
            &BTreeSet::new(),
        )
        .unwrap();
        assert_eq!(local(day_only), "2026-03-29 08:30 CEST");
    }

    #[test]
    fn minutes_are_elapsed_time_across_the_switch() {
        let start = ts("2026-03-29T04:00");
        let due = due_at(
            &timing(Offset::Minutes(-180), None),
            start,
            &zurich(),
            &BTreeSet::new(),
        )
        .unwrap();
        assert_eq!(local(due), "2026-03-29 00:00 CET");
    }

    #[test]
    fn a_wall_time_in_the_spring_gap_moves_forward() {
        let due = due_at(
            &timing(Offset::Days(-1), Some("02:30")),
            ts("2026-03-30T10:00"),
            &zurich(),
            &BTreeSet::new(),
        )
        .unwrap();
        assert_eq!(local(due), "2026-03-29 03:30 CEST");
    }

    #[test]
    fn business_days_skip_weekends_and_holidays() {
        let none = BTreeSet::new();
        // Friday + 1 business day = Monday.
        assert_eq!(
            add_business_days(date(2026, 10, 23), 1, &none).unwrap(),
            date(2026, 10, 26)
        );
        // Monday - 1 = Friday.
        assert_eq!(
            add_business_days(date(2026, 10, 26), -1, &none).unwrap(),
            date(2026, 10, 23)
        );
        // Saturday event, 5 business days before = the Monday before.
        assert_eq!(
            add_business_days(date(2026, 10, 31), -5, &none).unwrap(),
            date(2026, 10, 26)
        );
        assert_eq!(
            add_business_days(date(2026, 10, 31), 0, &none).unwrap(),
            date(2026, 10, 31)
        );
        let holidays = BTreeSet::from([date(2026, 12, 25), date(2026, 12, 28)]);
        // Thu 24.12 + 1 skips Fri 25 (holiday), the weekend and Mon 28 (holiday).
        assert_eq!(
            add_business_days(date(2026, 12, 24), 1, &holidays).unwrap(),
            date(2026, 12, 29)
        );
    }

    #[test]
    fn business_day_offset_keeps_local_clock_time_across_dst() {
        // Event Friday 30.10.2026 18:00 CET; 5 business days before = Fri 23.10 18:00 CEST.
        let due = due_at(
            &timing(Offset::BusinessDays(-5), None),
            ts("2026-10-30T18:00"),
            &zurich(),
            &BTreeSet::new(),
        )
        .unwrap();
        assert_eq!(local(due), "2026-10-23 18:00 CEST");
    }

    #[test]
    fn completion_counts_from_the_end() {
        assert_eq!(
            effective_anchor(Trigger::AppointmentCompleted, Anchor::Trigger),
            Anchor::End
        );
        assert_eq!(
            effective_anchor(Trigger::OfferSent, Anchor::Trigger),
            Anchor::Trigger
        );
        assert_eq!(
            effective_anchor(Trigger::AppointmentCompleted, Anchor::Start),
            Anchor::Start
        );
    }
}
