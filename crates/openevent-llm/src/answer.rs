//! What the LLM may answer: a small object, not the whole `Understanding`. It holds no dates,
//! times, numbers, rooms, products, prices or addresses, so the model has no field in which to
//! state a hard fact, and no field for an action. Anything else in the answer (an extra key, an
//! unknown intent, a confidence of 7) is a schema violation and the whole answer is dropped.

use openevent_core::understanding::{Confidence, Intent, Signals};
use serde::Deserialize;
use serde_json::{Value, json};

/// The name the schema is sent under (`response_format.json_schema.name`).
pub const SCHEMA_NAME: &str = "openevent_message_understanding";

/// Longest `event_type` accepted ("christmas party", "Hochzeit").
pub const EVENT_TYPE_MAX_CHARS: usize = 40;

/// Every intent the model may choose, in the order the schema lists them.
pub const INTENTS: [Intent; 14] = Intent::ALL;

/// The signal names, as in `Signals` and in the schema.
pub const SIGNALS: [&str; 7] = [
    "is_acceptance",
    "is_rejection",
    "is_change_request",
    "is_question",
    "is_manager_request",
    "has_urgency",
    "has_injection_attempt",
];

/// A validated answer of the model. Built by [`LlmAnswer::parse`]; its fields are public so
/// that the pure merge can be tested with any value (the merge re-checks `event_type`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlmAnswer {
    pub intent: Intent,
    pub confidence: Confidence,
    pub signals: Signals,
    /// Lowercased, letters, spaces, `-` and `'` only, at most [`EVENT_TYPE_MAX_CHARS`].
    pub event_type: Option<String>,
}

/// Why a received answer is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    #[error("the answer is not JSON: {0}")]
    InvalidJson(String),
    #[error("the answer does not fit the schema: {0}")]
    SchemaViolation(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireAnswer {
    intent: Intent,
    confidence: f64,
    signals: WireSignals,
    #[serde(default)]
    event_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireSignals {
    is_acceptance: bool,
    is_rejection: bool,
    is_change_request: bool,
    is_question: bool,
    is_manager_request: bool,
    has_urgency: bool,
    has_injection_attempt: bool,
}

impl LlmAnswer {
    /// Parses the message content of a chat completion. A single Markdown code fence around the
    /// JSON (some `json_object` servers add one) is tolerated; anything else is not.
    pub fn parse(content: &str) -> Result<Self, AnswerError> {
        let json = unfence(content);
        let value: Value =
            serde_json::from_str(json).map_err(|e| AnswerError::InvalidJson(e.to_string()))?;
        let wire: WireAnswer = serde_json::from_value(value)
            .map_err(|e| AnswerError::SchemaViolation(e.to_string()))?;
        if !wire.confidence.is_finite() || !(0.0..=1.0).contains(&wire.confidence) {
            return Err(AnswerError::SchemaViolation(format!(
                "confidence {} is outside 0..=1",
                wire.confidence
            )));
        }
        let event_type = match wire.event_type.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => Some(clean_event_type(raw).ok_or_else(|| {
                AnswerError::SchemaViolation(format!(
                    "event_type must be at most {EVENT_TYPE_MAX_CHARS} letters, spaces, '-' or \
                     '\\'' ({} characters given)",
                    raw.chars().count()
                ))
            })?),
        };
        let s = wire.signals;
        Ok(Self {
            intent: wire.intent,
            // In range and finite, so the cast cannot saturate.
            confidence: Confidence::from_per_mille((wire.confidence * 1000.0).round() as u16),
            signals: Signals {
                is_acceptance: s.is_acceptance,
                is_rejection: s.is_rejection,
                is_change_request: s.is_change_request,
                is_question: s.is_question,
                is_manager_request: s.is_manager_request,
                has_urgency: s.has_urgency,
                has_injection_attempt: s.has_injection_attempt,
            },
            event_type,
        })
    }
}

/// A free-form event kind the model may name, or `None` when it is not a short plain phrase.
/// Digits and punctuation are refused so that the field cannot carry a price, a date or an
/// instruction into a draft.
pub fn clean_event_type(raw: &str) -> Option<String> {
    let words: Vec<&str> = raw.split_whitespace().collect();
    let joined = words.join(" ").to_lowercase();
    let n = joined.chars().count();
    let plain = joined
        .chars()
        .all(|c| c.is_alphabetic() || matches!(c, ' ' | '-' | '\''));
    (plain && (1..=EVENT_TYPE_MAX_CHARS).contains(&n) && joined.chars().any(char::is_alphabetic))
        .then_some(joined)
}

fn unfence(content: &str) -> &str {
    let t = content.trim();
    let Some(rest) = t.strip_prefix("```") else {
        return t;
    };
    let rest = rest.strip_prefix("json").unwrap_or(rest);
    rest.strip_suffix("```").map_or(t, str::trim)
}

fn intent_name(i: Intent) -> String {
    match serde_json::to_value(i) {
        Ok(Value::String(s)) => s,
        _ => unreachable!("Intent serialises as a string"),
    }
}

/// The JSON Schema of the answer, in the subset strict structured outputs accept: every property
/// required, `additionalProperties: false`, nullable by a type union. Ranges are described, not
/// constrained (not every server supports `minimum`), and checked by [`LlmAnswer::parse`].
pub fn json_schema() -> Value {
    let intents: Vec<String> = INTENTS.iter().map(|&i| intent_name(i)).collect();
    let signal_properties: serde_json::Map<String, Value> = SIGNALS
        .iter()
        .map(|&name| (name.to_owned(), json!({ "type": "boolean" })))
        .collect();
    json!({
        "type": "object",
        "properties": {
            "intent": {
                "type": "string",
                "enum": intents,
                "description": "What the client wants with this message."
            },
            "confidence": {
                "type": "number",
                "description": "How sure you are of the intent, from 0 to 1."
            },
            "signals": {
                "type": "object",
                "properties": signal_properties,
                "required": SIGNALS,
                "additionalProperties": false
            },
            "event_type": {
                "type": ["string", "null"],
                "description": "The kind of event in a few plain words (workshop, wedding), or null."
            }
        },
        "required": ["intent", "confidence", "signals", "event_type"],
        "additionalProperties": false
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"intent": "accept_offer", "confidence": 0.91,
        "signals": {"is_acceptance": true, "is_rejection": false, "is_change_request": false,
                    "is_question": false, "is_manager_request": false, "has_urgency": false,
                    "has_injection_attempt": false},
        "event_type": " Christmas  Party "}"#;

    fn with(field: &str, value: &str) -> String {
        let mut v: Value = serde_json::from_str(GOOD).unwrap();
        v[field] = serde_json::from_str(value).unwrap();
        v.to_string()
    }

    fn violation(content: &str) -> String {
        match LlmAnswer::parse(content) {
            Err(AnswerError::SchemaViolation(d)) => d,
            other => panic!("expected a schema violation, got {other:?}"),
        }
    }

    #[test]
    fn a_good_answer_parses() {
        let a = LlmAnswer::parse(GOOD).unwrap();
        assert_eq!(a.intent, Intent::AcceptOffer);
        assert_eq!(a.confidence.per_mille(), 910);
        assert!(a.signals.is_acceptance && !a.signals.is_question);
        assert_eq!(a.event_type.as_deref(), Some("christmas party"));
    }

    #[test]
    fn a_fenced_answer_parses_but_prose_does_not() {
        assert!(LlmAnswer::parse(&format!("```json\n{GOOD}\n```")).is_ok());
        assert!(LlmAnswer::parse(&format!("```\n{GOOD}\n```")).is_ok());
        assert!(matches!(
            LlmAnswer::parse(&format!("Sure! Here it is: {GOOD}")),
            Err(AnswerError::InvalidJson(_))
        ));
        assert!(matches!(
            LlmAnswer::parse("{\"intent\": "),
            Err(AnswerError::InvalidJson(_))
        ));
    }

    #[test]
    fn out_of_schema_answers_are_violations() {
        assert!(violation(&with("confidence", "7")).contains("outside 0..=1"));
        assert!(violation(&with("confidence", "-0.1")).contains("outside 0..=1"));
        assert!(violation(&with("confidence", "\"high\"")).contains("invalid type"));
        assert!(violation(&with("intent", "\"book_for_free\"")).contains("unknown variant"));
        assert!(violation(&with("price", "0")).contains("unknown field `price`"));
        assert!(violation(&with("date", "\"2026-01-01\"")).contains("unknown field `date`"));
        assert!(
            violation(&with("event_type", "\"free booking, price CHF 0\"")).contains("event_type")
        );
        assert!(violation(&with("event_type", "12")).contains("invalid type"));
        let mut v: Value = serde_json::from_str(GOOD).unwrap();
        v["signals"]["confirm_booking"] = Value::Bool(true);
        assert!(violation(&v.to_string()).contains("unknown field `confirm_booking`"));
        v["signals"]
            .as_object_mut()
            .unwrap()
            .remove("confirm_booking");
        v["signals"].as_object_mut().unwrap().remove("is_question");
        assert!(violation(&v.to_string()).contains("missing field `is_question`"));
        assert!(violation("[1, 2]").contains("invalid type"));
    }

    #[test]
    fn null_or_empty_event_type_is_none() {
        assert_eq!(
            LlmAnswer::parse(&with("event_type", "null"))
                .unwrap()
                .event_type,
            None
        );
        assert_eq!(
            LlmAnswer::parse(&with("event_type", "\"  \""))
                .unwrap()
                .event_type,
            None
        );
    }

    #[test]
    fn event_types_are_short_plain_phrases() {
        assert_eq!(clean_event_type("Hochzeit").as_deref(), Some("hochzeit"));
        assert_eq!(
            clean_event_type("team-building").as_deref(),
            Some("team-building")
        );
        assert_eq!(
            clean_event_type("apéro riche").as_deref(),
            Some("apéro riche")
        );
        assert_eq!(clean_event_type("party for 500"), None);
        assert_eq!(clean_event_type("confirm: free"), None);
        assert_eq!(clean_event_type("---"), None);
        assert_eq!(clean_event_type(&"a".repeat(41)), None);
    }

    #[test]
    fn the_schema_lists_every_intent_and_signal_and_is_strict() {
        let s = json_schema();
        let intents = s["properties"]["intent"]["enum"].as_array().unwrap();
        assert_eq!(intents.len(), INTENTS.len());
        for name in intents {
            let i: Intent = serde_json::from_value(name.clone()).unwrap();
            assert!(INTENTS.contains(&i));
        }
        // `Signals` of the core has exactly these fields.
        let core = serde_json::to_value(Signals::default()).unwrap();
        let mut core_names: Vec<&str> = core
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        core_names.sort_unstable();
        let mut ours = SIGNALS.to_vec();
        ours.sort_unstable();
        assert_eq!(core_names, ours);
        assert_eq!(s["additionalProperties"], false);
        assert_eq!(s["properties"]["signals"]["additionalProperties"], false);
        assert_eq!(s["required"].as_array().unwrap().len(), 4);
    }

    /// Fails to compile when the core gains an intent, so that `INTENTS` is revisited.
    #[test]
    fn intents_cover_the_core_enum() {
        for i in INTENTS {
            match i {
                Intent::EventRequest
                | Intent::ConfirmDate
                | Intent::EditDate
                | Intent::EditRoom
                | Intent::EditRequirements
                | Intent::EditProducts
                | Intent::AcceptOffer
                | Intent::DeclineOffer
                | Intent::CounterOffer
                | Intent::DepositPaid
                | Intent::SiteVisitRequest
                | Intent::MessageManager
                | Intent::GeneralQna
                | Intent::NonEvent => {}
            }
        }
    }
}
