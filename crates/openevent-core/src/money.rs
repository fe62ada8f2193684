//! Money in integer rappen (1 CHF = 100 rappen): exact, hashable, no float drift.

use std::fmt;
use std::ops::{Add, Mul, Sub};

use serde::{Deserialize, Serialize};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Money(i64);

impl Money {
    pub const ZERO: Money = Money(0);

    pub const fn from_rappen(rappen: i64) -> Self {
        Self(rappen)
    }

    pub const fn from_chf(chf: i64) -> Self {
        Self(chf * 100)
    }

    pub const fn rappen(self) -> i64 {
        self.0
    }

    /// Share of an amount in basis points (1 % = 100 bp), rounded half away from zero to the rappen.
    pub fn percent_bp(self, basis_points: i64) -> Money {
        let num = self.0 as i128 * basis_points as i128;
        let rounded = (num + num.signum() * 5_000) / 10_000;
        Money(rounded as i64)
    }

    /// Swiss display format: `CHF 1'234.50`.
    pub fn display_chf(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let francs = (abs / 100).to_string();
        let mut grouped = String::with_capacity(francs.len() + francs.len() / 3);
        for (i, ch) in francs.chars().enumerate() {
            if i > 0 && (francs.len() - i).is_multiple_of(3) {
                grouped.push('\'');
            }
            grouped.push(ch);
        }
        format!("CHF {sign}{grouped}.{:02}", abs % 100)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display_chf())
    }
}

// Saturating: a venue's price times a client's quantity (both unbounded in practice: prices up
// to CHF 999'999'999'999.99, quantities up to u32::MAX) must not panic or wrap to a negative
// total; an absurd amount stays absurd and a manager sees it before anything is sent.
impl Add for Money {
    type Output = Money;
    fn add(self, rhs: Money) -> Money {
        Money(self.0.saturating_add(rhs.0))
    }
}

impl Sub for Money {
    type Output = Money;
    fn sub(self, rhs: Money) -> Money {
        Money(self.0.saturating_sub(rhs.0))
    }
}

impl Mul<i64> for Money {
    type Output = Money;
    fn mul(self, rhs: i64) -> Money {
        Money(self.0.saturating_mul(rhs))
    }
}

impl std::iter::Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, Add::add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swiss_format() {
        assert_eq!(Money::from_rappen(123_450).display_chf(), "CHF 1'234.50");
        assert_eq!(Money::from_chf(500).display_chf(), "CHF 500.00");
        assert_eq!(Money::from_rappen(5).display_chf(), "CHF 0.05");
        assert_eq!(Money::from_chf(1_234_567).display_chf(), "CHF 1'234'567.00");
        assert_eq!(Money::from_rappen(-1050).display_chf(), "CHF -10.50");
    }

    #[test]
    fn percentages_round_to_the_rappen() {
        assert_eq!(Money::from_chf(1000).percent_bp(3000), Money::from_chf(300));
        assert_eq!(
            Money::from_rappen(333).percent_bp(5000),
            Money::from_rappen(167)
        );
    }
}
