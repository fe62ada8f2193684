//! Phone numbers in E.164 (`+41791234567`), the form SMS and WhatsApp providers accept and the
//! form recipients are de-duplicated in.
//!
//! A deliberately small normaliser: it knows the calling code and trunk prefix of the countries a
//! Swiss venue meets, not every numbering plan (see the crate's report for why not `phonenumber`).
//! It never guesses: a number it cannot place is refused with the reason.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A country the normaliser can read national numbers for, by ISO 3166 code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Country {
    CH,
    LI,
    DE,
    AT,
    FR,
    IT,
    ES,
    NL,
    BE,
    GB,
    US,
}

impl Country {
    pub fn calling_code(self) -> &'static str {
        match self {
            Country::CH => "41",
            Country::LI => "423",
            Country::DE => "49",
            Country::AT => "43",
            Country::FR => "33",
            Country::IT => "39",
            Country::ES => "34",
            Country::NL => "31",
            Country::BE => "32",
            Country::GB => "44",
            Country::US => "1",
        }
    }

    /// The digit dialled before a national number and dropped internationally; Italy keeps its
    /// leading 0, Liechtenstein and Spain have none.
    fn trunk_prefix(self) -> Option<char> {
        match self {
            Country::LI | Country::IT | Country::ES => None,
            Country::US => Some('1'),
            _ => Some('0'),
        }
    }

    /// Length of the national significant number where it is fixed.
    fn national_len(self) -> Option<std::ops::RangeInclusive<usize>> {
        match self {
            Country::CH => Some(9..=9),
            Country::LI => Some(7..=9),
            Country::US => Some(10..=10),
            _ => None,
        }
    }

    fn from_calling_code(digits: &str) -> Option<Country> {
        // No calling code here is a prefix of another, so the first match is the only one.
        const ALL: [Country; 11] = [
            Country::LI,
            Country::CH,
            Country::DE,
            Country::AT,
            Country::FR,
            Country::IT,
            Country::ES,
            Country::NL,
            Country::BE,
            Country::GB,
            Country::US,
        ];
        ALL.into_iter()
            .find(|c| digits.starts_with(c.calling_code()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{raw}' is not a usable phone number: {reason}")]
pub struct PhoneError {
    pub raw: String,
    pub reason: &'static str,
}

/// A phone number in E.164.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct E164(String);

impl E164 {
    /// Reads `+41 79 123 45 67`, `0041 79 123 45 67`, `+41 (0)79 123 45 67` and, with
    /// `default` = CH, `079 123 45 67`.
    pub fn parse(raw: &str, default: Country) -> Result<E164, PhoneError> {
        let bad = |reason| PhoneError {
            raw: raw.to_owned(),
            reason,
        };
        let s = raw.trim().replace("(0)", "");
        if s.is_empty() {
            return Err(bad("empty"));
        }
        let mut digits = String::with_capacity(s.len());
        for (i, c) in s.chars().enumerate() {
            match c {
                '0'..='9' => digits.push(c),
                '+' if i == 0 => digits.push('+'),
                ' ' | '-' | '.' | '/' | '(' | ')' | '\u{a0}' => {}
                _ => return Err(bad("only digits, spaces, '+', '-', '.', '/' and brackets")),
            }
        }
        let international = if let Some(rest) = digits.strip_prefix('+') {
            rest.to_owned()
        } else if let Some(rest) = digits.strip_prefix("00") {
            rest.to_owned()
        } else {
            let national = match default.trunk_prefix() {
                Some(p) => digits
                    .strip_prefix(p)
                    .ok_or_else(|| bad("add the country code (+41 …) or the national 0"))?,
                None => &digits,
            };
            format!("{}{national}", default.calling_code())
        };
        let country = Country::from_calling_code(&international);
        let mut international = international;
        if let Some(c) = country {
            // "+41 079 …": people often keep the trunk 0 after the country code.
            let national = &international[c.calling_code().len()..];
            if let Some(p) = c.trunk_prefix()
                && p == '0'
                && let Some(stripped) = national.strip_prefix('0')
            {
                international = format!("{}{stripped}", c.calling_code());
            }
            let national_len = international.len() - c.calling_code().len();
            if let Some(range) = c.national_len()
                && !range.contains(&national_len)
            {
                return Err(bad("wrong number of digits for its country"));
            }
        }
        if !(8..=15).contains(&international.len()) || international.starts_with('0') {
            return Err(bad("an international number has 8 to 15 digits"));
        }
        Ok(E164(format!("+{international}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for E164 {
    type Error = PhoneError;
    /// Stored values are already E.164; the default country is never consulted for them.
    fn try_from(s: String) -> Result<Self, Self::Error> {
        if !s.starts_with('+') {
            return Err(PhoneError {
                raw: s,
                reason: "a stored number starts with '+'",
            });
        }
        E164::parse(&s, Country::CH)
    }
}

impl From<E164> for String {
    fn from(p: E164) -> String {
        p.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swiss_formats_normalise_to_one_number() {
        for raw in [
            "+41 79 123 45 67",
            "0041 79 123 45 67",
            "079 123 45 67",
            "+41 (0)79 123 45 67",
            "+41-79-123-45-67",
            " 079/123.45.67 ",
            "+41079 123 45 67",
        ] {
            assert_eq!(
                E164::parse(raw, Country::CH).unwrap().as_str(),
                "+41791234567",
                "{raw}"
            );
        }
    }

    #[test]
    fn default_country_is_used_for_national_numbers_only() {
        assert_eq!(
            E164::parse("030 1234567", Country::DE).unwrap().as_str(),
            "+49301234567"
        );
        assert_eq!(
            E164::parse("+41 44 123 45 67", Country::DE)
                .unwrap()
                .as_str(),
            "+41441234567"
        );
        assert_eq!(
            E164::parse("02 1234 5678", Country::IT).unwrap().as_str(),
            "+390212345678"
        );
    }

    #[test]
    fn refuses_what_it_cannot_place() {
        for raw in [
            "",
            "79 123 45 67",
            "+41 79 123 45",
            "call me",
            "+41 79 123 45 67 8",
            "+123",
        ] {
            assert!(E164::parse(raw, Country::CH).is_err(), "{raw:?} accepted");
        }
    }
}
