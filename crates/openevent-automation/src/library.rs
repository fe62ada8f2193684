//! Ready-made venue workflows, embedded as TOML so an organization can export one, edit it and
//! import it back (`Workflow::from_toml`).

use crate::definition::Workflow;

/// `(key, TOML source)` of every built-in workflow.
pub const SOURCES: [(&str, &str); 7] = [
    (
        "offer-follow-up",
        include_str!("library/offer-follow-up.toml"),
    ),
    (
        "option-expiry-warning",
        include_str!("library/option-expiry-warning.toml"),
    ),
    (
        "deposit-reminder",
        include_str!("library/deposit-reminder.toml"),
    ),
    ("site-visit", include_str!("library/site-visit.toml")),
    (
        "final-head-count",
        include_str!("library/final-head-count.toml"),
    ),
    (
        "post-event-thank-you",
        include_str!("library/post-event-thank-you.toml"),
    ),
    (
        "staff-briefing",
        include_str!("library/staff-briefing.toml"),
    ),
];

/// Every built-in workflow, validated.
pub fn all() -> Vec<Workflow> {
    SOURCES
        .iter()
        .map(|(key, text)| {
            Workflow::from_toml(text)
                .unwrap_or_else(|e| panic!("built-in workflow {key} is invalid: {e}"))
        })
        .collect()
}

/// One built-in workflow by key.
pub fn get(key: &str) -> Option<Workflow> {
    SOURCES
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, text)| Workflow::from_toml(text).expect("built-in workflows are valid"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_library_workflow_validates_and_round_trips() {
        for (key, text) in SOURCES {
            let w = Workflow::from_toml(text).unwrap_or_else(|e| panic!("{key}: {e}"));
            assert_eq!(w.key().as_str(), key);
            let again = Workflow::from_toml(&w.to_toml()).unwrap();
            assert_eq!(again, w, "{key} does not survive export and import");
        }
        assert_eq!(all().len(), SOURCES.len());
        assert!(get("site-visit").is_some());
        assert!(get("nope").is_none());
    }

    #[test]
    fn the_survey_step_carries_its_link_and_actions_match_channels() {
        let w = get("post-event-thank-you").unwrap();
        let step = &w.steps()[0];
        assert_eq!(
            step.action.map(|a| a.channel()),
            Some(crate::definition::Channel::Email)
        );
        assert!(step.template.body.contains("survey.url"));
    }
}
