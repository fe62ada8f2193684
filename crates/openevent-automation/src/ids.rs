//! Keys and ids of the automation engine. Each constructor parses, so a malformed key cannot
//! reach the scheduler or the delivery ledger.

use openevent_core::InvalidValue;

/// A key or id: [`openevent_core::string_newtype`] with a parser built from `$check`.
macro_rules! key_newtype {
    ($(#[$meta:meta])* $name:ident, $field:literal, $check:expr) => {
        openevent_core::string_newtype!($(#[$meta])* $name);

        impl $name {
            pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
                let check: fn(&'static str, &str) -> Result<String, InvalidValue> = $check;
                check($field, raw).map(Self)
            }
        }
    };
}

/// Keys appear in TOML files, CLI arguments and delivery keys, so they are kept to a small,
/// unambiguous alphabet.
fn slug(field: &'static str, raw: &str) -> Result<String, InvalidValue> {
    let s = raw.trim();
    if s.is_empty() || s.len() > 64 {
        return Err(InvalidValue::new(field, "must be 1 to 64 characters"));
    }
    let ok = s
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !ok || !s.as_bytes()[0].is_ascii_alphanumeric() {
        return Err(InvalidValue::new(
            field,
            format!(
                "'{s}' must use lowercase letters, digits, '-' and '_' and start with a letter or digit"
            ),
        ));
    }
    Ok(s.to_owned())
}

/// Ids minted by other systems (the store, the calendar): any token without whitespace.
fn token(field: &'static str, raw: &str) -> Result<String, InvalidValue> {
    let s = raw.trim();
    if s.is_empty() || s.len() > 128 {
        return Err(InvalidValue::new(field, "must be 1 to 128 characters"));
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(InvalidValue::new(
            field,
            "must not contain whitespace or control characters",
        ));
    }
    Ok(s.to_owned())
}

key_newtype!(
    /// A workflow's key, unique per organization (`offer-follow-up`).
    WorkflowKey,
    "workflow key",
    slug
);
key_newtype!(
    /// A step's key, unique within its workflow; stays stable when steps are reordered, so an
    /// edited definition can be compared with the old one step by step.
    StepKey,
    "step key",
    slug
);
key_newtype!(
    /// An assignment rule's id.
    RuleId,
    "rule id",
    token
);
key_newtype!(
    /// An appointment (site visit) id.
    AppointmentId,
    "appointment id",
    token
);
key_newtype!(
    /// A staff member (user) id: the assignee of tasks.
    StaffId,
    "staff id",
    token
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_slugs() {
        assert!(WorkflowKey::parse("offer-follow-up").is_ok());
        assert!(WorkflowKey::parse("step_1").is_ok());
        for bad in ["", "Offer", "a b", "-x", "ä", &"x".repeat(65)] {
            assert!(WorkflowKey::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn tokens_refuse_whitespace() {
        assert!(AppointmentId::parse("APT-1").is_ok());
        assert!(AppointmentId::parse("APT 1").is_err());
    }
}
