//! A calendar month (`YYYY-MM`), parsed once at the edge: a `Month` that exists is a real month
//! between the years 1 and 9999, so its first and last day, and its neighbours, always exist.

use std::fmt;

use jiff::ToSpan;
use jiff::civil::Date;

/// A month of the Gregorian calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    first: Date,
}

/// Why a month did not parse; the message names the expected form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadMonth(String);

impl fmt::Display for BadMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

const FIRST_YEAR: i16 = 1;
const LAST_YEAR: i16 = 9999;

impl Month {
    /// The month `date` lies in.
    pub fn of(date: Date) -> Month {
        Month {
            first: date.first_of_month(),
        }
    }

    /// `2027-03`: four digits of year (0001–9999), a dash, two digits of month (01–12).
    pub fn parse(raw: &str) -> Result<Month, BadMonth> {
        let shown: String = raw.chars().take(40).collect();
        let bad = || {
            BadMonth(format!(
                "'{shown}' is not a month: write it as YYYY-MM, for example 2027-03."
            ))
        };
        let raw = raw.trim();
        let (year, month) = raw.split_once('-').ok_or_else(bad)?;
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(year, 4) || !digits(month, 2) {
            return Err(bad());
        }
        let year: i16 = year.parse().map_err(|_| bad())?;
        let month: i8 = month.parse().map_err(|_| bad())?;
        if !(FIRST_YEAR..=LAST_YEAR).contains(&year) {
            return Err(BadMonth(format!(
                "'{shown}' is out of range: the calendar covers the years 0001 to 9999."
            )));
        }
        if !(1..=12).contains(&month) {
            return Err(BadMonth(format!(
                "'{shown}' is not a month: the month must be 01 to 12."
            )));
        }
        Date::new(year, month, 1)
            .map(|first| Month { first })
            .map_err(|_| bad())
    }

    pub fn first_day(self) -> Date {
        self.first
    }

    pub fn last_day(self) -> Date {
        self.first.last_of_month()
    }

    /// Every day of the month, in order.
    pub fn days(self) -> impl Iterator<Item = Date> {
        let last = self.last_day();
        self.first.series(1.day()).take_while(move |d| *d <= last)
    }

    /// The month before, unless this is January of the year 1.
    pub fn previous(self) -> Option<Month> {
        self.first
            .checked_sub(1.month())
            .ok()
            .filter(|d| d.year() >= FIRST_YEAR)
            .map(Month::of)
    }

    /// The month after, unless this is December 9999.
    pub fn next(self) -> Option<Month> {
        self.first
            .checked_add(1.month())
            .ok()
            .filter(|d| d.year() <= LAST_YEAR)
            .map(Month::of)
    }

    /// `March 2027`.
    pub fn label(self) -> String {
        self.first.strftime("%B %Y").to_string()
    }
}

impl fmt::Display for Month {
    /// `2027-03`, as [`Month::parse`] reads it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.first.year(), self.first.month())
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    #[test]
    fn a_month_parses_and_prints_the_same() {
        let m = Month::parse("2027-03").unwrap();
        assert_eq!(m.to_string(), "2027-03");
        assert_eq!(m.first_day(), date(2027, 3, 1));
        assert_eq!(m.last_day(), date(2027, 3, 31));
        assert_eq!(m.label(), "March 2027");
        assert_eq!(Month::parse(" 0001-01 ").unwrap().to_string(), "0001-01");
    }

    #[test]
    fn anything_else_is_refused_with_the_expected_form() {
        for bad in [
            "",
            "2027",
            "2027-3",
            "27-03",
            "2027-13",
            "2027-00",
            "2027/03",
            "2027-03-01",
            "0000-05",
            "+202-03",
            "２０２７-03",
            "-2027-03",
            "2027-0a",
        ] {
            let e = Month::parse(bad).unwrap_err();
            assert!(
                e.to_string().contains("YYYY-MM")
                    || e.to_string().contains("01 to 12")
                    || e.to_string().contains("0001 to 9999"),
                "{bad}: {e}"
            );
        }
        assert!(Month::parse("2027-13").unwrap_err().0.contains("01 to 12"));
        // A long input is cut in the message.
        let long = "x".repeat(5000);
        assert!(Month::parse(&long).unwrap_err().0.len() < 200);
    }

    #[test]
    fn days_cover_the_month_including_leap_days() {
        let feb = Month::parse("2028-02").unwrap();
        let days: Vec<Date> = feb.days().collect();
        assert_eq!(days.len(), 29);
        assert_eq!(days[28], date(2028, 2, 29));
        assert_eq!(Month::parse("2027-02").unwrap().days().count(), 28);
    }

    #[test]
    fn neighbours_cross_years_and_stop_at_the_ends() {
        let jan = Month::parse("2027-01").unwrap();
        assert_eq!(jan.previous().unwrap().to_string(), "2026-12");
        assert_eq!(jan.next().unwrap().to_string(), "2027-02");
        assert_eq!(Month::parse("2026-12").unwrap().next(), Some(jan));
        assert_eq!(Month::parse("0001-01").unwrap().previous(), None);
        assert_eq!(Month::parse("9999-12").unwrap().next(), None);
        assert_eq!(Month::of(date(2027, 3, 17)).to_string(), "2027-03");
    }
}
