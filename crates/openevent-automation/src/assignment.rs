//! Which workflow a lead runs: a manual override beats the first matching enabled rule (by
//! priority, then age), which beats the organization's default.
//!
//! An override is the manager's explicit word: when it points at a workflow that is missing or
//! disabled, the lead gets no workflow at all rather than whatever the rules would pick, because
//! silently running a different sequence than the one chosen is worse than running none. The
//! answer carries its explanation (for `openevent workflow resolve` and the API).

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::definition::Workflow;
use crate::ids::{RuleId, WorkflowKey};

/// A rule assigning a workflow to leads with matching facts. `None` fields match anything;
/// comparisons ignore case and surrounding spaces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignmentRule {
    pub id: RuleId,
    pub workflow: WorkflowKey,
    /// Lower runs first.
    pub priority: i32,
    /// Among equal priorities the older rule wins.
    pub created_at: Timestamp,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_stage: Option<String>,
}

fn yes() -> bool {
    true
}

/// A manager's decision for one lead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Override {
    /// This workflow, whatever the rules say.
    Manual { workflow: WorkflowKey },
    /// No workflow for this lead.
    Clear,
}

/// The facts rules match on.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LeadFacts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_stage: Option<String>,
}

/// What decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum DecidedBy {
    Override { mode: OverrideMode },
    Rule { rule: RuleId },
    OrgDefault,
    Nothing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverrideMode {
    Manual,
    Clear,
}

/// How one rule fared, in the order rules were considered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum RuleVerdict {
    Won,
    Disabled,
    Mismatch {
        field: &'static str,
        wanted: String,
        got: Option<String>,
    },
    /// The rule matched but its workflow is missing or disabled; the next rule is tried.
    WorkflowUnavailable,
    /// An override or an earlier rule had already decided.
    NotConsidered,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleReport {
    pub rule: RuleId,
    pub priority: i32,
    pub workflow: WorkflowKey,
    #[serde(flatten)]
    pub verdict: RuleVerdict,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolution {
    pub workflow: Option<WorkflowKey>,
    pub decided_by: DecidedBy,
    /// One sentence on why, for people.
    pub reason: String,
    pub rules: Vec<RuleReport>,
}

fn usable<'a>(workflows: &'a [Workflow], key: &WorkflowKey) -> Result<&'a Workflow, &'static str> {
    match workflows.iter().find(|w| w.key() == key) {
        None => Err("does not exist"),
        Some(w) if !w.enabled() => Err("is disabled"),
        Some(w) => Ok(w),
    }
}

fn same(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

fn rule_mismatch(rule: &AssignmentRule, lead: &LeadFacts) -> Option<RuleVerdict> {
    let fields = [
        ("lead_source", &rule.lead_source, &lead.lead_source),
        ("event_type", &rule.event_type, &lead.event_type),
        ("pipeline_stage", &rule.pipeline_stage, &lead.pipeline_stage),
    ];
    fields.into_iter().find_map(|(field, wanted, got)| {
        let wanted = wanted.as_ref()?;
        let matches = got.as_ref().is_some_and(|g| same(g, wanted));
        (!matches).then(|| RuleVerdict::Mismatch {
            field,
            wanted: wanted.clone(),
            got: got.clone(),
        })
    })
}

/// Resolves the workflow for a lead.
pub fn resolve(
    workflows: &[Workflow],
    rules: &[AssignmentRule],
    org_default: Option<&WorkflowKey>,
    manual: Option<&Override>,
    lead: &LeadFacts,
) -> Resolution {
    let mut ordered: Vec<&AssignmentRule> = rules.iter().collect();
    ordered
        .sort_by(|a, b| (a.priority, a.created_at, &a.id).cmp(&(b.priority, b.created_at, &b.id)));
    let report = |r: &AssignmentRule, verdict| RuleReport {
        rule: r.id.clone(),
        priority: r.priority,
        workflow: r.workflow.clone(),
        verdict,
    };
    let untouched = |rs: &[&AssignmentRule]| {
        rs.iter()
            .map(|r| report(r, RuleVerdict::NotConsidered))
            .collect()
    };

    match manual {
        Some(Override::Clear) => {
            return Resolution {
                workflow: None,
                decided_by: DecidedBy::Override {
                    mode: OverrideMode::Clear,
                },
                reason: "a manager cleared the workflow for this lead".into(),
                rules: untouched(&ordered),
            };
        }
        Some(Override::Manual { workflow }) => {
            let (workflow, reason) = match usable(workflows, workflow) {
                Ok(w) => (
                    Some(w.key().clone()),
                    format!("a manager chose workflow '{workflow}'"),
                ),
                Err(why) => (
                    None,
                    format!(
                        "a manager chose workflow '{workflow}', which {why}: no workflow runs until the override is changed"
                    ),
                ),
            };
            return Resolution {
                workflow,
                decided_by: DecidedBy::Override {
                    mode: OverrideMode::Manual,
                },
                reason,
                rules: untouched(&ordered),
            };
        }
        None => {}
    }

    let mut reports = Vec::new();
    for (i, rule) in ordered.iter().enumerate() {
        let verdict = if !rule.enabled {
            RuleVerdict::Disabled
        } else if let Some(m) = rule_mismatch(rule, lead) {
            m
        } else if usable(workflows, &rule.workflow).is_err() {
            RuleVerdict::WorkflowUnavailable
        } else {
            reports.push(report(rule, RuleVerdict::Won));
            reports.extend(untouched(&ordered[i + 1..]));
            return Resolution {
                workflow: Some(rule.workflow.clone()),
                decided_by: DecidedBy::Rule {
                    rule: rule.id.clone(),
                },
                reason: format!(
                    "rule '{}' (priority {}) matched: {}",
                    rule.id,
                    rule.priority,
                    describe(rule)
                ),
                rules: reports,
            };
        };
        reports.push(report(rule, verdict));
    }

    let (workflow, decided_by, reason) = match org_default {
        Some(key) => match usable(workflows, key) {
            Ok(_) => (
                Some(key.clone()),
                DecidedBy::OrgDefault,
                format!("no rule matched; the organization's default is '{key}'"),
            ),
            Err(why) => (
                None,
                DecidedBy::OrgDefault,
                format!("no rule matched; the organization's default '{key}' {why}"),
            ),
        },
        None => (
            None,
            DecidedBy::Nothing,
            "no rule matched and the organization has no default workflow".into(),
        ),
    };
    Resolution {
        workflow,
        decided_by,
        reason,
        rules: reports,
    }
}

fn describe(rule: &AssignmentRule) -> String {
    let parts: Vec<String> = [
        ("lead_source", &rule.lead_source),
        ("event_type", &rule.event_type),
        ("pipeline_stage", &rule.pipeline_stage),
    ]
    .into_iter()
    .filter_map(|(f, v)| v.as_ref().map(|v| format!("{f} = '{v}'")))
    .collect();
    if parts.is_empty() {
        "it matches every lead".into()
    } else {
        parts.join(", ")
    }
}

impl fmt::Display for Resolution {
    /// The CLI's answer: the result, why, then every rule and its verdict.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.workflow {
            Some(w) => writeln!(f, "workflow: {w}")?,
            None => writeln!(f, "workflow: none")?,
        }
        writeln!(f, "why: {}", self.reason)?;
        for r in &self.rules {
            let verdict = match &r.verdict {
                RuleVerdict::Won => "won".to_owned(),
                RuleVerdict::Disabled => "rule disabled".to_owned(),
                RuleVerdict::Mismatch { field, wanted, got } => format!(
                    "{field} is {} (wanted '{wanted}')",
                    got.as_deref()
                        .map_or("not set".to_owned(), |g| format!("'{g}'"))
                ),
                RuleVerdict::WorkflowUnavailable => "workflow missing or disabled".to_owned(),
                RuleVerdict::NotConsidered => "not considered".to_owned(),
            };
            writeln!(
                f,
                "  rule {} (priority {}, → {}): {verdict}",
                r.rule, r.priority, r.workflow
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::library;

    fn key(k: &str) -> WorkflowKey {
        WorkflowKey::parse(k).unwrap()
    }

    fn rule(id: &str, wf: &str, priority: i32, age: i64) -> AssignmentRule {
        AssignmentRule {
            id: RuleId::parse(id).unwrap(),
            workflow: key(wf),
            priority,
            created_at: Timestamp::from_second(1_700_000_000 + age).unwrap(),
            enabled: true,
            lead_source: None,
            event_type: None,
            pipeline_stage: None,
        }
    }

    fn workflows() -> Vec<Workflow> {
        let mut all = library::all();
        let mut disabled = library::get("deposit-reminder").unwrap().into_spec();
        disabled.key = key("disabled-one");
        disabled.enabled = false;
        all.push(Workflow::new(disabled).unwrap());
        all
    }

    fn wedding_from_web() -> LeadFacts {
        LeadFacts {
            lead_source: Some("Website".into()),
            event_type: Some("wedding".into()),
            pipeline_stage: Some("new".into()),
        }
    }

    #[test]
    fn precedence_table() {
        let mut weddings = rule("r-weddings", "site-visit", 10, 0);
        weddings.event_type = Some(" WEDDING ".into());
        let mut web = rule("r-web", "final-head-count", 10, -5); // older, same priority
        web.lead_source = Some("website".into());
        let mut corporate = rule("r-corp", "staff-briefing", 1, 0);
        corporate.event_type = Some("corporate".into());
        let rules = vec![weddings, web, corporate];
        let wfs = workflows();
        let default = key("offer-follow-up");
        let manual = Override::Manual {
            workflow: key("deposit-reminder"),
        };
        let cases: Vec<(Option<&Override>, LeadFacts, Option<&str>)> = vec![
            // Override beats rules.
            (Some(&manual), wedding_from_web(), Some("deposit-reminder")),
            // Clear beats everything.
            (Some(&Override::Clear), wedding_from_web(), None),
            // Equal priority: the older rule wins (r-web before r-weddings).
            (None, wedding_from_web(), Some("final-head-count")),
            // Priority first: r-corp (1) before the others.
            (
                None,
                LeadFacts {
                    event_type: Some("Corporate".into()),
                    lead_source: Some("website".into()),
                    ..LeadFacts::default()
                },
                Some("staff-briefing"),
            ),
            // Case-insensitive and trimmed match on a single field.
            (
                None,
                LeadFacts {
                    event_type: Some("Wedding".into()),
                    ..LeadFacts::default()
                },
                Some("site-visit"),
            ),
            // Nothing matches: the default.
            (None, LeadFacts::default(), Some("offer-follow-up")),
        ];
        for (i, (ov, lead, want)) in cases.into_iter().enumerate() {
            let r = resolve(&wfs, &rules, Some(&default), ov, &lead);
            assert_eq!(
                r.workflow.as_ref().map(|k| k.as_str()),
                want,
                "case {i}: {r}"
            );
        }
    }

    #[test]
    fn override_to_a_disabled_or_missing_workflow_resolves_to_none() {
        let wfs = workflows();
        let rules = vec![rule("r-all", "site-visit", 1, 0)];
        for target in ["disabled-one", "no-such-workflow"] {
            let ov = Override::Manual {
                workflow: key(target),
            };
            let r = resolve(&wfs, &rules, None, Some(&ov), &LeadFacts::default());
            assert_eq!(r.workflow, None, "{r}");
            assert_eq!(
                r.decided_by,
                DecidedBy::Override {
                    mode: OverrideMode::Manual
                }
            );
            assert!(
                r.rules
                    .iter()
                    .all(|x| x.verdict == RuleVerdict::NotConsidered)
            );
        }
    }

    #[test]
    fn rules_with_unavailable_workflows_fall_through_and_are_explained() {
        let wfs = workflows();
        let mut off = rule("r-off", "site-visit", 1, 0);
        off.enabled = false;
        let broken = rule("r-broken", "disabled-one", 2, 0);
        let mut picky = rule("r-picky", "site-visit", 3, 0);
        picky.pipeline_stage = Some("won".into());
        let catch_all = rule("r-any", "final-head-count", 4, 0);
        let later = rule("r-later", "site-visit", 5, 0);
        let r = resolve(
            &wfs,
            &[later, catch_all, picky, broken, off],
            None,
            None,
            &wedding_from_web(),
        );
        assert_eq!(r.workflow, Some(key("final-head-count")));
        let verdicts: Vec<_> = r.rules.iter().map(|x| &x.verdict).collect();
        assert_eq!(verdicts[0], &RuleVerdict::Disabled);
        assert_eq!(verdicts[1], &RuleVerdict::WorkflowUnavailable);
        assert!(matches!(
            verdicts[2],
            RuleVerdict::Mismatch {
                field: "pipeline_stage",
                ..
            }
        ));
        assert_eq!(verdicts[3], &RuleVerdict::Won);
        assert_eq!(verdicts[4], &RuleVerdict::NotConsidered);
        let text = r.to_string();
        assert!(
            text.contains("rule r-any (priority 4, → final-head-count): won"),
            "{text}"
        );
        assert!(
            text.contains("pipeline_stage is 'new' (wanted 'won')"),
            "{text}"
        );
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["decided_by"]["by"], "rule");
        assert_eq!(json["rules"][3]["verdict"], "won");
    }

    #[test]
    fn a_disabled_default_gives_none() {
        let r = resolve(
            &workflows(),
            &[],
            Some(&key("disabled-one")),
            None,
            &LeadFacts::default(),
        );
        assert_eq!(r.workflow, None);
        assert!(r.reason.contains("is disabled"));
    }
}
