//! The organization's automation settings: time zone, holidays, quiet hours, phone defaults,
//! offer terms, default workflow, retry policy.

use std::collections::BTreeSet;
use std::fmt;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use crate::ids::WorkflowKey;
use crate::phone::Country;
use crate::quiet_hours::QuietHours;
use crate::retry::RetryPolicy;
use crate::validation::Problem;

/// An IANA zone name together with the zone it names, so it is looked up once.
#[derive(Clone)]
pub struct Zone {
    name: String,
    tz: TimeZone,
}

impl Zone {
    pub fn get(name: &str) -> Result<Zone, String> {
        let tz = TimeZone::get(name)
            .map_err(|_| format!("'{name}' is not an IANA time zone (e.g. Europe/Zurich)"))?;
        Ok(Zone {
            name: name.to_owned(),
            tz,
        })
    }

    pub fn zurich() -> Zone {
        Zone::get("Europe/Zurich").expect("bundled tz database has Europe/Zurich")
    }

    pub fn tz(&self) -> &TimeZone {
        &self.tz
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Debug for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl PartialEq for Zone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Zone {}

impl Serialize for Zone {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name)
    }
}

impl<'de> Deserialize<'de> for Zone {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Zone::get(&raw).map_err(serde::de::Error::custom)
    }
}

/// Payment and validity days of an offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuoteTerms {
    pub payment_days: u16,
    pub validity_days: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgSettings {
    pub venue_name: String,
    pub time_zone: Zone,
    /// Days that do not count as business days.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub holidays: BTreeSet<Date>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quiet_hours: Vec<QuietHours>,
    /// The country a phone number without country code belongs to.
    pub default_country: Country,
    pub quote_terms: QuoteTerms,
    /// The workflow a lead gets when no override and no rule decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_workflow: Option<WorkflowKey>,
    #[serde(default)]
    pub retry: RetryPolicy,
}

impl OrgSettings {
    /// The reference venue: The Atelier, Zurich; no SMS or WhatsApp between 21:00 and 08:00.
    pub fn atelier() -> OrgSettings {
        toml::from_str(include_str!("library/atelier-settings.toml"))
            .expect("built-in settings are valid")
    }

    pub fn from_toml(text: &str) -> Result<OrgSettings, crate::DefinitionError> {
        let s: OrgSettings =
            toml::from_str(text).map_err(|e| crate::DefinitionError::Syntax(e.to_string()))?;
        let problems = s.problems();
        if problems.is_empty() {
            Ok(s)
        } else {
            Err(crate::DefinitionError::Invalid(problems))
        }
    }

    pub fn tz(&self) -> &TimeZone {
        self.time_zone.tz()
    }

    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        if self.venue_name.trim().is_empty() {
            out.push(Problem::new("venue_name", "must not be empty"));
        }
        for (field, v) in [
            ("quote_terms.payment_days", self.quote_terms.payment_days),
            ("quote_terms.validity_days", self.quote_terms.validity_days),
        ] {
            if !(1..=365).contains(&v) {
                out.push(Problem::new(field, "must be between 1 and 365"));
            }
        }
        for (i, w) in self.quiet_hours.iter().enumerate() {
            if let Some(msg) = crate::quiet_hours::problems(w) {
                out.push(Problem::new(format!("quiet_hours[{i}]"), msg));
            }
        }
        out.extend(self.retry.problems());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_settings_are_valid() {
        let s = OrgSettings::atelier();
        assert!(s.problems().is_empty());
        assert_eq!(s.time_zone.name(), "Europe/Zurich");
        let back: OrgSettings = toml::from_str(&toml::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn invalid_settings_name_the_field() {
        let text = include_str!("library/atelier-settings.toml")
            .replace("payment_days = 30", "payment_days = 0");
        let err = OrgSettings::from_toml(&text).unwrap_err();
        assert!(
            err.to_string().contains("quote_terms.payment_days"),
            "{err}"
        );
        let text = include_str!("library/atelier-settings.toml")
            .replace("Europe/Zurich", "Europe/Atlantis");
        assert!(OrgSettings::from_toml(&text).is_err());
    }
}
