//! Validation of workflow definitions. Every problem names the field it concerns with its path
//! (`steps[2].template.subject`), so a UI or the CLI can point at it; all problems are reported
//! at once.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::definition::{
    ActionKind, Audience, Channel, MAX_BODY_CHARS, MAX_STEPS, MAX_SUBJECT_CHARS, Offset, StepSpec,
    WorkflowSpec,
};
use crate::phone::{Country, E164};
use crate::recipients::normalise_email;
use crate::template;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl Problem {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            path: path.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DefinitionError {
    #[error("not valid TOML, or unknown or mistyped fields: {0}")]
    Syntax(String),
    #[error("invalid definition:\n{}", .0.iter().map(|p| format!("  - {}: {}", p.path, p.message)).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
}

impl DefinitionError {
    pub fn problems(&self) -> &[Problem] {
        match self {
            DefinitionError::Syntax(_) => &[],
            DefinitionError::Invalid(p) => p,
        }
    }
}

pub fn validate(spec: &WorkflowSpec) -> Vec<Problem> {
    let mut out = Vec::new();
    let name = spec.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        out.push(Problem::new("name", "must be 1 to 200 characters"));
    }
    if spec.version == 0 {
        out.push(Problem::new("version", "starts at 1"));
    }
    for (field, v) in [
        ("quote_terms.payment_days", spec.quote_terms.payment_days),
        ("quote_terms.validity_days", spec.quote_terms.validity_days),
    ] {
        if v.is_some_and(|d| !(1..=365).contains(&d)) {
            out.push(Problem::new(field, "must be between 1 and 365"));
        }
    }
    if spec.steps.is_empty() || spec.steps.len() > MAX_STEPS {
        out.push(Problem::new(
            "steps",
            format!("a workflow has 1 to {MAX_STEPS} steps"),
        ));
    }
    let mut keys = BTreeSet::new();
    for (i, step) in spec.steps.iter().enumerate() {
        let at = |field: &str| format!("steps[{i}].{field}");
        if !keys.insert(&step.key) {
            out.push(Problem::new(at("key"), "is used by another step"));
        }
        step_problems(step, &at, &mut out);
    }
    out
}

fn step_problems(step: &StepSpec, at: &dyn Fn(&str) -> String, out: &mut Vec<Problem>) {
    for (j, t) in step.only_types.iter().enumerate() {
        if t.trim().is_empty() {
            out.push(Problem::new(
                at(&format!("only_types[{j}]")),
                "must not be empty",
            ));
        }
    }
    if let Some(action) = step.action {
        if action.channel() != step.channel {
            out.push(Problem::new(
                at("action"),
                format!(
                    "{action:?} sends through {}, but the step's channel is {}",
                    action.channel(),
                    step.channel
                ),
            ));
        }
        if action == ActionKind::SendSurvey && !step.template.body.contains("survey.url") {
            out.push(Problem::new(
                at("template.body"),
                "a survey step must include {{ survey.url }}",
            ));
        }
    }
    recipient_problems(step, at, out);
    timing_problems(step, at, out);
    template_problems(step, at, out);
}

fn recipient_problems(step: &StepSpec, at: &dyn Fn(&str) -> String, out: &mut Vec<Problem>) {
    let r = &step.recipients;
    for (j, e) in r.emails.iter().enumerate() {
        if let Err(why) = normalise_email(e) {
            out.push(Problem::new(at(&format!("recipients.emails[{j}]")), why));
        }
    }
    for (j, p) in r.phones.iter().enumerate() {
        let international = p.trim_start().starts_with('+') || p.trim_start().starts_with("00");
        // A definition is not tied to one country, so its numbers must say which they are in.
        match E164::parse(p, Country::CH) {
            Err(e) => out.push(Problem::new(
                at(&format!("recipients.phones[{j}]")),
                e.reason,
            )),
            Ok(_) if !international => out.push(Problem::new(
                at(&format!("recipients.phones[{j}]")),
                "write the number with its country code (+41 …)",
            )),
            Ok(_) => {}
        }
    }
    let nobody = match step.channel {
        Channel::Email => r.audience.is_empty() && r.emails.is_empty(),
        Channel::Sms | Channel::Whatsapp => r.audience.is_empty() && r.phones.is_empty(),
        Channel::Task => r.audience.is_empty(),
        Channel::Webhook => r.webhook_url.is_none(),
    };
    if nobody {
        out.push(Problem::new(
            at("recipients"),
            format!("a {} step needs at least one recipient", step.channel),
        ));
    }
    if step.channel == Channel::Task && r.audience.iter().any(|a| *a != Audience::AssignedManager) {
        out.push(Problem::new(
            at("recipients.audience"),
            "a task goes to staff: only assigned_manager",
        ));
    }
    match (&r.webhook_url, step.channel) {
        (Some(url), Channel::Webhook) if !url.trim().starts_with("https://") => out.push(
            Problem::new(at("recipients.webhook_url"), "must be an https:// URL"),
        ),
        (Some(_), c) if c != Channel::Webhook => out.push(Problem::new(
            at("recipients.webhook_url"),
            "only a webhook step has a webhook_url",
        )),
        _ => {}
    }
}

fn timing_problems(step: &StepSpec, at: &dyn Fn(&str) -> String, out: &mut Vec<Problem>) {
    let ok = match step.timing.offset {
        Offset::Minutes(m) => m.abs() <= 366 * 24 * 60,
        Offset::Days(d) => d.abs() <= 366,
        Offset::BusinessDays(d) => d.abs() <= 260,
    };
    if !ok {
        out.push(Problem::new(
            at("timing.offset"),
            "must be within a year of the anchor",
        ));
    }
}

fn template_problems(step: &StepSpec, at: &dyn Fn(&str) -> String, out: &mut Vec<Problem>) {
    let t = &step.template;
    match (&t.subject, step.channel) {
        (None, Channel::Email | Channel::Task) => out.push(Problem::new(
            at("template.subject"),
            format!("a {} step needs a subject", step.channel),
        )),
        (Some(s), _) => {
            if s.trim().is_empty() {
                out.push(Problem::new(at("template.subject"), "must not be empty"));
            } else if s.chars().count() > MAX_SUBJECT_CHARS {
                out.push(Problem::new(
                    at("template.subject"),
                    format!("must be at most {MAX_SUBJECT_CHARS} characters"),
                ));
            } else if s.contains(['\n', '\r']) {
                out.push(Problem::new(at("template.subject"), "must be one line"));
            } else if let Some(why) = template::check_source(s, step.trigger) {
                out.push(Problem::new(at("template.subject"), why));
            }
        }
        (None, _) => {}
    }
    if t.body.trim().is_empty() {
        out.push(Problem::new(at("template.body"), "must not be empty"));
    } else if t.body.chars().count() > MAX_BODY_CHARS {
        out.push(Problem::new(
            at("template.body"),
            format!("must be at most {MAX_BODY_CHARS} characters"),
        ));
    } else if let Some(why) = template::check_source(&t.body, step.trigger) {
        out.push(Problem::new(at("template.body"), why));
    }
}

#[cfg(test)]
mod tests {
    use crate::definition::Workflow;

    const GOOD: &str = r#"
key = "test"
name = "Test"
version = 1

[[steps]]
key = "one"
trigger = "offer_sent"
channel = "email"
stop_when = ["client_replied"]
recipients = { audience = ["client"] }
timing = { offset = { days = 3 }, if_past = "send_now" }
template = { subject = "Ihre Offerte", body = "Guten Tag {{ client.name }}, {{ offer.total }}" }

[[steps]]
key = "two"
trigger = "lead_created"
channel = "sms"
recipients = { phones = ["+41 79 123 45 67"] }
timing = { if_past = "skip" }
template = { body = "Neue Anfrage" }

[[steps]]
key = "three"
trigger = "lead_created"
channel = "email"
recipients = { audience = ["client"] }
timing = { if_past = "skip" }
template = { subject = "Hallo", body = "Hallo" }
"#;

    fn paths(text: &str) -> Vec<String> {
        match Workflow::from_toml(text) {
            Ok(_) => vec![],
            Err(e) => e.problems().iter().map(|p| p.path.clone()).collect(),
        }
    }

    #[test]
    fn a_good_definition_passes_and_round_trips() {
        let w = Workflow::from_toml(GOOD).unwrap();
        let again = Workflow::from_toml(&w.to_toml()).unwrap();
        assert_eq!(again, w);
    }

    #[test]
    fn problems_name_the_field_path() {
        let long = "x".repeat(501);
        let text = GOOD.replace("subject = \"Hallo\"", &format!("subject = \"{long}\""));
        assert_eq!(paths(&text), ["steps[2].template.subject"]);

        let text = GOOD.replace("Guten Tag {{ client.name }}", "{{ client.nme }}");
        assert_eq!(paths(&text), ["steps[0].template.body"]);

        let text = GOOD.replace("body = \"Hallo\"", "body = \"{{ offer.total }}\"");
        let err = Workflow::from_toml(&text).unwrap_err();
        assert_eq!(err.problems()[0].path, "steps[2].template.body");
        assert!(err.to_string().contains("offer.total"), "{err}");

        let text = GOOD.replace("+41 79 123 45 67", "079 123 45 67");
        assert_eq!(paths(&text), ["steps[1].recipients.phones[0]"]);

        let text = GOOD.replace("key = \"three\"", "key = \"two\"");
        assert_eq!(paths(&text), ["steps[2].key"]);

        let text = GOOD.replace(
            "version = 1",
            "version = 1\nquote_terms = { payment_days = 400 }",
        );
        assert_eq!(paths(&text), ["quote_terms.payment_days"]);

        let text = GOOD.replace("subject = \"Ihre Offerte\", ", "");
        assert_eq!(paths(&text), ["steps[0].template.subject"]);

        let body = "x".repeat(12_001);
        let text = GOOD.replace("body = \"Neue Anfrage\"", &format!("body = \"{body}\""));
        assert_eq!(paths(&text), ["steps[1].template.body"]);
    }

    #[test]
    fn step_count_is_limited() {
        let spec = Workflow::from_toml(GOOD).unwrap().into_spec();
        let mut too_many = spec.clone();
        while too_many.steps.len() <= 50 {
            let mut s = spec.steps[2].clone();
            s.key = crate::ids::StepKey::parse(&format!("s{}", too_many.steps.len())).unwrap();
            too_many.steps.push(s);
        }
        let err = Workflow::new(too_many).unwrap_err();
        assert_eq!(err.problems()[0].path, "steps");
        let mut none = spec;
        none.steps.clear();
        assert!(Workflow::new(none).is_err());
    }

    #[test]
    fn unknown_fields_and_values_are_refused() {
        let text = GOOD.replace("version = 1", "version = 1\ncolour = \"red\"");
        assert!(matches!(
            Workflow::from_toml(&text),
            Err(super::DefinitionError::Syntax(_))
        ));
        let text = GOOD.replace("channel = \"sms\"", "channel = \"pigeon\"");
        assert!(Workflow::from_toml(&text).is_err());
    }
}
