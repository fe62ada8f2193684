//! Identifiers and validated values. Each constructor parses, so an invalid value cannot exist past
//! the boundary where it was built.

/// Why a raw value was refused; names the field so the edge can report it to the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {reason}")]
pub struct InvalidValue {
    pub field: &'static str,
    pub reason: String,
}

impl InvalidValue {
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

/// A validated string newtype: the struct, `as_str`, `Display`, `FromStr`, and serde that
/// validates on the way in. The type provides `fn parse(&str) -> Result<Self, InvalidValue>`.
/// Exported for the other crates' ids (the automation engine's keys).
#[macro_export]
macro_rules! string_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, ::serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = <String as ::serde::Deserialize>::deserialize(d)?;
                $name::parse(&raw).map_err(::serde::de::Error::custom)
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::ids::InvalidValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::parse(s)
            }
        }
    };
}

string_newtype!(
    /// Tenant key: lowercase ASCII letters, digits and dashes, 1..=64 characters.
    OrgSlug
);
string_newtype!(
    /// A client's email address, trimmed and lowercased: the per-organization client key.
    ClientEmail
);
string_newtype!(
    /// An RFC 5322 Message-ID without angle brackets.
    MessageId
);
string_newtype!(
    /// A booking record's id, derived from the message that created it.
    EventId
);
string_newtype!(
    /// A human-in-the-loop task id.
    TaskId
);
string_newtype!(
    /// A draft reply id.
    DraftId
);
string_newtype!(
    /// A room's id from the venue configuration.
    RoomId
);
string_newtype!(
    /// A product's id from the venue catalogue.
    ProductId
);

fn token(field: &'static str, raw: &str, max: usize) -> Result<String, InvalidValue> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(InvalidValue::new(field, "must not be empty"));
    }
    if s.len() > max {
        return Err(InvalidValue::new(
            field,
            format!("longer than {max} characters"),
        ));
    }
    if s.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(InvalidValue::new(
            field,
            "must not contain whitespace or control characters",
        ));
    }
    Ok(s.to_owned())
}

impl OrgSlug {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let s = token("org", raw, 64)?;
        if !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(InvalidValue::new(
                "org",
                "use lowercase letters, digits and '-' only",
            ));
        }
        Ok(Self(s))
    }
}

impl ClientEmail {
    /// Lowercases the whole address: venue clients expect `Laura.Meier@Example.COM` and
    /// `laura.meier@example.com` to be the same person. Sub-addresses (`+tag`) stay distinct.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let s = token("client_email", raw, 254)?;
        let s = s
            .strip_prefix('<')
            .and_then(|x| x.strip_suffix('>'))
            .unwrap_or(&s);
        // A non-ASCII character that lowercases to ASCII (the Kelvin sign 'K' becomes 'k') would
        // fold another mailbox onto an existing client's address.
        if let Some(c) = s
            .chars()
            .find(|c| !c.is_ascii() && c.to_lowercase().all(|l| l.is_ascii()))
        {
            return Err(InvalidValue::new(
                "client_email",
                format!(
                    "contains U+{:04X}, a lookalike of an ASCII letter",
                    u32::from(c)
                ),
            ));
        }
        let s = s.to_lowercase();
        let Some((local, domain)) = s.rsplit_once('@') else {
            return Err(InvalidValue::new("client_email", "missing '@'"));
        };
        if local.is_empty() || local.len() > 64 {
            return Err(InvalidValue::new(
                "client_email",
                "local part must be 1..=64 characters",
            ));
        }
        let labels_ok = domain.split('.').all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
        if !domain.contains('.') || !labels_ok {
            return Err(InvalidValue::new(
                "client_email",
                format!("'{domain}' is not a valid domain"),
            ));
        }
        if local.contains(['<', '>', '(', ')', ',', ';', ':', '\\', '"', '[', ']']) {
            return Err(InvalidValue::new(
                "client_email",
                "local part contains characters that need quoting",
            ));
        }
        Ok(Self(s))
    }
}

impl MessageId {
    /// Accepts `<id@host>` or `id@host`; stores it without brackets.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let s = raw.trim();
        let s = s
            .strip_prefix('<')
            .and_then(|x| x.strip_suffix('>'))
            .unwrap_or(s);
        Ok(Self(token("message_id", s, 998)?))
    }

    /// A stable id for a message that carries none, derived from its content so that ingesting
    /// the same bytes twice is still recognised as one message.
    pub fn derived_from_content(content_digest_hex: &str) -> Self {
        Self(format!("sha256-{content_digest_hex}@openevent.invalid"))
    }
}

impl EventId {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        Ok(Self(token("event_id", raw, 128)?))
    }
}

impl TaskId {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        Ok(Self(token("task_id", raw, 128)?))
    }
}

impl DraftId {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        Ok(Self(token("draft_id", raw, 128)?))
    }
}

impl RoomId {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        Ok(Self(token("room_id", raw, 64)?))
    }
}

impl ProductId {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        Ok(Self(token("product_id", raw, 64)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_email_is_case_insensitive_but_keeps_subaddress() {
        let a = ClientEmail::parse("Laura.Meier@Example.COM").unwrap();
        let b = ClientEmail::parse(" laura.meier@example.com ").unwrap();
        assert_eq!(a, b);
        let plus = ClientEmail::parse("client+1@example.com").unwrap();
        assert_ne!(plus, ClientEmail::parse("client@example.com").unwrap());
    }

    #[test]
    fn client_email_rejects_garbage() {
        for bad in [
            "",
            "nobody",
            "a@b",
            "a@-x.com",
            "a b@x.com",
            "@x.com",
            "a@x..com",
        ] {
            assert!(ClientEmail::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn message_id_strips_brackets() {
        let id = MessageId::parse("<abc@host.example>").unwrap();
        assert_eq!(id.as_str(), "abc@host.example");
    }

    #[test]
    fn org_slug_is_strict() {
        assert!(OrgSlug::parse("the-atelier").is_ok());
        assert!(OrgSlug::parse("The Atelier").is_err());
        assert!(OrgSlug::parse("").is_err());
    }
}
