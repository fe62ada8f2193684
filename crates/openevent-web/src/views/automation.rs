//! The automation as the pages show it: workflows with their delivery statistics, a definition
//! form with its problems, which workflow a booking runs and why, the messages it will get, and
//! the dead letters. Everything is plain text here; the templates escape it.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use openevent_automation::assignment::{
    DecidedBy, Override, OverrideMode, Resolution, RuleReport, RuleVerdict,
};
use openevent_automation::dispatch::{Decision, DeferReason};
use openevent_automation::job::{CancelReason, Job, JobStatus, SkipReason};
use openevent_automation::preview::Upcoming;
use openevent_automation::recipients::Address;
use openevent_automation::{DefinitionError, OrgSettings, Workflow, timing};
use openevent_store::{OutboxRow, WorkflowVersion};

use super::{Opt, serde_words, timestamp, words};

/// Every job status, in the order the statistics list them.
pub const STATUSES: [JobStatus; 7] = [
    JobStatus::Scheduled,
    JobStatus::Claimed,
    JobStatus::Sent,
    JobStatus::Failed,
    JobStatus::Dead,
    JobStatus::Skipped,
    JobStatus::Cancelled,
];

/// The status as stored (`scheduled`), for CSS classes.
pub fn status_name(s: JobStatus) -> &'static str {
    match s {
        JobStatus::Scheduled => "scheduled",
        JobStatus::Claimed => "claimed",
        JobStatus::Sent => "sent",
        JobStatus::Failed => "failed",
        JobStatus::Dead => "dead",
        JobStatus::Skipped => "skipped",
        JobStatus::Cancelled => "cancelled",
    }
}

/// The status as a column heading: `Retrying` for a failed attempt that will be retried.
pub fn status_label(s: JobStatus) -> &'static str {
    match s {
        JobStatus::Scheduled => "Scheduled",
        JobStatus::Claimed => "Sending",
        JobStatus::Sent => "Sent",
        JobStatus::Failed => "Retrying",
        JobStatus::Dead => "Dead",
        JobStatus::Skipped => "Skipped",
        JobStatus::Cancelled => "Cancelled",
    }
}

/// One status's count among a workflow's deliveries.
pub struct StatCell {
    pub label: &'static str,
    pub css: &'static str,
    pub count: i64,
}

/// A workflow's deliveries per status, every status listed (zeros too), and their total.
pub fn stat_cells(deliveries: &BTreeMap<JobStatus, i64>) -> (Vec<StatCell>, i64) {
    let cells: Vec<StatCell> = STATUSES
        .into_iter()
        .map(|s| StatCell {
            label: status_label(s),
            css: status_name(s),
            count: deliveries.get(&s).copied().unwrap_or(0),
        })
        .collect();
    let total = cells.iter().map(|c| c.count).sum();
    (cells, total)
}

/// A workflow in the list.
pub struct WorkflowRow {
    pub key: String,
    pub name: String,
    pub enabled: bool,
    pub version: u32,
    pub versions: u32,
    pub steps: usize,
    pub stats: Vec<StatCell>,
    pub total: i64,
}

pub fn workflow_row(
    current: &WorkflowVersion,
    versions: u32,
    deliveries: &BTreeMap<JobStatus, i64>,
) -> WorkflowRow {
    let (stats, total) = stat_cells(deliveries);
    WorkflowRow {
        key: current.key.clone(),
        name: current.name.clone(),
        enabled: current.enabled,
        version: current.version,
        versions,
        steps: current.steps,
        stats,
        total,
    }
}

/// A stored version of a workflow.
pub struct VersionRow {
    pub version: u32,
    pub enabled: bool,
    pub name: String,
    pub steps: usize,
    pub created: String,
}

pub fn version_row(v: &WorkflowVersion, tz: &TimeZone) -> VersionRow {
    VersionRow {
        version: v.version,
        enabled: v.enabled,
        name: v.name.clone(),
        steps: v.steps,
        created: timestamp(v.created_at, tz),
    }
}

/// A library workflow and whether the organization has a workflow of its key.
pub struct LibraryItem {
    pub key: String,
    pub name: String,
    pub installed: bool,
}

/// One problem of a definition, naming the field it concerns.
pub struct ProblemView {
    /// `steps[0].template.body`, with the step's key when it is known:
    /// `steps[0] (no-reply-3-days).template.body`.
    pub path: String,
    pub message: String,
}

/// A definition form: the text (as sent, when it was refused) and why it was refused.
#[derive(Default)]
pub struct DefinitionForm {
    pub text: String,
    /// What went wrong as a whole (shown above the problems).
    pub error: Option<String>,
    /// The TOML parser's message, with its line and column (kept verbatim, preformatted).
    pub syntax: Option<String>,
    pub problems: Vec<ProblemView>,
}

impl DefinitionForm {
    pub fn with_text(text: String) -> Self {
        Self {
            text,
            ..Self::default()
        }
    }

    pub fn has_errors(&self) -> bool {
        self.error.is_some() || self.syntax.is_some() || !self.problems.is_empty()
    }

    /// The form refused with one message.
    pub fn refused(text: String, error: impl Into<String>) -> Self {
        Self {
            text,
            error: Some(error.into()),
            ..Self::default()
        }
    }

    /// The form refused because the definition is not valid; `step_keys` are the keys of the
    /// definition's steps as far as they could be read, to name the step a problem is about.
    pub fn invalid(text: String, e: &DefinitionError, step_keys: &[String]) -> Self {
        match e {
            DefinitionError::Syntax(message) => Self {
                text,
                error: Some(
                    "The definition was not saved: it is not valid TOML, or a field is unknown \
                     or has the wrong type."
                        .to_owned(),
                ),
                syntax: Some(message.clone()),
                problems: Vec::new(),
            },
            DefinitionError::Invalid(problems) => {
                let n = problems.len();
                Self {
                    text,
                    error: Some(if n == 1 {
                        "The definition was not saved: it has a problem.".to_owned()
                    } else {
                        format!("The definition was not saved: it has {n} problems.")
                    }),
                    syntax: None,
                    problems: problems
                        .iter()
                        .map(|p| ProblemView {
                            path: with_step_key(&p.path, step_keys),
                            message: p.message.clone(),
                        })
                        .collect(),
                }
            }
        }
    }
}

/// `steps[1].timing` → `steps[1] (call-the-client).timing` when step 1's key is known.
pub fn with_step_key(path: &str, step_keys: &[String]) -> String {
    let Some(rest) = path.strip_prefix("steps[") else {
        return path.to_owned();
    };
    let Some((index, tail)) = rest.split_once(']') else {
        return path.to_owned();
    };
    match index.parse::<usize>().ok().and_then(|i| step_keys.get(i)) {
        Some(key) => format!("steps[{index}] ({key}){tail}"),
        None => path.to_owned(),
    }
}

/// The workflow being looked at, in the page's heading and facts.
pub struct WorkflowHead {
    pub key: String,
    pub name: String,
    pub enabled: bool,
    pub version: u32,
    pub versions: u32,
    pub steps: Vec<StepLine>,
    pub scope: String,
}

/// One step of a workflow, in a sentence.
pub struct StepLine {
    pub key: String,
    pub summary: String,
    pub enabled: bool,
}

pub fn workflow_head(wf: &Workflow, versions: u32) -> WorkflowHead {
    let spec = wf.spec();
    WorkflowHead {
        key: spec.key.to_string(),
        name: spec.name.clone(),
        enabled: spec.enabled,
        version: spec.version,
        versions,
        scope: serde_words(&spec.scope),
        steps: spec
            .steps
            .iter()
            .map(|s| StepLine {
                key: s.key.to_string(),
                summary: format!(
                    "{} on {}, to {}",
                    words(s.channel.as_str()),
                    words(s.trigger.as_str()).to_lowercase(),
                    audience(&s.recipients),
                ),
                enabled: s.enabled,
            })
            .collect(),
    }
}

fn audience(r: &openevent_automation::definition::RecipientSpec) -> String {
    let mut parts: Vec<String> = r
        .audience
        .iter()
        .map(|a| serde_words(a).to_lowercase())
        .collect();
    parts.extend(r.emails.iter().cloned());
    parts.extend(r.phones.iter().cloned());
    if r.webhook_url.is_some() {
        parts.push("a webhook".to_owned());
    }
    if parts.is_empty() {
        "nobody".to_owned()
    } else {
        parts.join(", ")
    }
}

// ---------------------------------------------------------------------------------------------
// A booking's automation

/// Which workflow a booking runs and why, its override form and its upcoming messages.
pub struct AutomationView {
    /// `Offer follow-up (offer-follow-up)`, or `None` when no workflow runs.
    pub workflow: Option<String>,
    /// What decided: `a manager's override`, `rule r-1`, …
    pub decided_by: String,
    /// The engine's sentence on why.
    pub reason: String,
    pub rules: Vec<RuleRow>,
    /// The override form's choices, the current one selected.
    pub choices: Vec<Opt>,
    /// The override as it stands, in words (`None`: the rules decide).
    pub override_text: Option<String>,
    pub upcoming: Vec<UpcomingRow>,
}

pub struct RuleRow {
    pub rule: String,
    pub priority: i32,
    pub workflow: String,
    pub verdict: String,
    pub won: bool,
}

/// The override form's value for "no override".
pub const CHOICE_RULES: &str = "rules";
/// …for "no workflow at all".
pub const CHOICE_NONE: &str = "none";
/// …for a workflow: this prefix and its key.
pub const CHOICE_WORKFLOW: &str = "workflow:";

fn workflow_label(workflows: &[Workflow], key: &str) -> String {
    match workflows.iter().find(|w| w.key().as_str() == key) {
        Some(w) => format!("{} ({key})", w.spec().name),
        None => key.to_owned(),
    }
}

fn rule_verdict(v: &RuleVerdict) -> String {
    match v {
        RuleVerdict::Won => "Matched: this rule decided".to_owned(),
        RuleVerdict::Disabled => "The rule is disabled".to_owned(),
        RuleVerdict::Mismatch { field, wanted, got } => format!(
            "No match: {} is {} (the rule wants '{wanted}')",
            words(field).to_lowercase(),
            got.as_deref()
                .map_or_else(|| "not set".to_owned(), |g| format!("'{g}'"))
        ),
        RuleVerdict::WorkflowUnavailable => {
            "Matched, but its workflow is missing or disabled".to_owned()
        }
        RuleVerdict::NotConsidered => "Not considered: something earlier decided".to_owned(),
    }
}

fn rule_row(r: &RuleReport) -> RuleRow {
    RuleRow {
        rule: r.rule.to_string(),
        priority: r.priority,
        workflow: r.workflow.to_string(),
        verdict: rule_verdict(&r.verdict),
        won: r.verdict == RuleVerdict::Won,
    }
}

fn decided_by(d: &DecidedBy) -> String {
    match d {
        DecidedBy::Override {
            mode: OverrideMode::Manual,
        } => "A manager's choice for this booking".to_owned(),
        DecidedBy::Override {
            mode: OverrideMode::Clear,
        } => "A manager's choice: no workflow for this booking".to_owned(),
        DecidedBy::Rule { rule } => format!("Assignment rule {rule}"),
        DecidedBy::OrgDefault => "The organization's default workflow".to_owned(),
        DecidedBy::Nothing => "Nothing: no rule and no default".to_owned(),
    }
}

/// The override form's choices: the rules, no workflow, then every workflow (disabled ones
/// marked), with the booking's current override selected.
pub fn override_choices(workflows: &[Workflow], current: Option<&Override>) -> Vec<Opt> {
    let selected = match current {
        None => CHOICE_RULES.to_owned(),
        Some(Override::Clear) => CHOICE_NONE.to_owned(),
        Some(Override::Manual { workflow }) => format!("{CHOICE_WORKFLOW}{workflow}"),
    };
    let mut out = vec![
        Opt {
            value: CHOICE_RULES.to_owned(),
            label: "No override: the rules and the default decide".to_owned(),
            selected: selected == CHOICE_RULES,
        },
        Opt {
            value: CHOICE_NONE.to_owned(),
            label: "No workflow for this booking".to_owned(),
            selected: selected == CHOICE_NONE,
        },
    ];
    for w in workflows {
        let value = format!("{CHOICE_WORKFLOW}{}", w.key());
        out.push(Opt {
            label: format!(
                "{} ({}){}",
                w.spec().name,
                w.key(),
                if w.enabled() { "" } else { ", disabled" }
            ),
            selected: selected == value,
            value,
        });
    }
    // An override naming a workflow that no longer exists stays visible as it is.
    if let Some(Override::Manual { workflow }) = current
        && !workflows.iter().any(|w| w.key() == workflow)
    {
        out.push(Opt {
            value: selected,
            label: format!("{workflow} (does not exist)"),
            selected: true,
        });
    }
    out
}

pub fn override_text(workflows: &[Workflow], current: Option<&Override>) -> Option<String> {
    current.map(|o| match o {
        Override::Clear => "No workflow for this booking".to_owned(),
        Override::Manual { workflow } => workflow_label(workflows, workflow.as_str()),
    })
}

/// One message the booking is due to get.
pub struct UpcomingRow {
    pub when: String,
    /// When quiet hours moved the message: from when.
    pub held_back_from: Option<String>,
    pub channel: String,
    pub to: String,
    pub workflow: String,
    pub step: String,
    pub decision: String,
    /// `send`, `defer`, `skip` or `cancel` (the CSS class).
    pub decision_css: &'static str,
    pub subject: Option<String>,
    pub text: Option<String>,
    /// The email also has an HTML part (not shown: the text says the same).
    pub has_html: bool,
    pub render_error: Option<String>,
}

pub fn address(a: &Address) -> String {
    match a {
        Address::Email(e) => e.clone(),
        Address::Phone(p) => p.to_string(),
        Address::Staff(s) => format!("staff member {s}"),
        Address::TaskQueue => "the team's task list".to_owned(),
        Address::Webhook(url) => url.clone(),
    }
}

fn skip_reason(r: &SkipReason, tz: &TimeZone) -> String {
    match r {
        SkipReason::StaleAnchor => "the date it counts from has moved".to_owned(),
        SkipReason::Cancelled => "the booking is cancelled".to_owned(),
        SkipReason::AppointmentCancelled => "the site visit is cancelled".to_owned(),
        SkipReason::AnchorGone => "what it counts from no longer exists".to_owned(),
        SkipReason::PastDue { due_at } => format!(
            "it was due on {} already when it was scheduled",
            timestamp(*due_at, tz)
        ),
    }
}

fn cancel_reason(r: &CancelReason) -> String {
    match r {
        CancelReason::GoalReached { goal } => {
            format!("its goal is reached ({})", serde_words(goal).to_lowercase())
        }
        CancelReason::BookingCancelled => "the booking is cancelled".to_owned(),
        CancelReason::AppointmentCancelled => "the site visit is cancelled".to_owned(),
        CancelReason::Superseded { by } => format!("a newer message ({by}) replaces it"),
        CancelReason::WorkflowInactive => {
            "its workflow is disabled or no longer assigned".to_owned()
        }
        CancelReason::AnchorGone => "what it counts from no longer exists".to_owned(),
    }
}

/// The dispatcher's decision in words, and its CSS class.
pub fn decision(d: &Decision, tz: &TimeZone) -> (String, &'static str) {
    match d {
        Decision::Send => ("Will be sent".to_owned(), "send"),
        Decision::Defer {
            until,
            reason: DeferReason::QuietHours,
        } => (
            format!("Deferred for quiet hours until {}", timestamp(*until, tz)),
            "defer",
        ),
        Decision::Defer {
            until,
            reason: DeferReason::NotDue,
        } => (
            format!("Waits until it is due ({})", timestamp(*until, tz)),
            "defer",
        ),
        Decision::Skip { reason } => (
            format!("Will be skipped: {}", skip_reason(reason, tz)),
            "skip",
        ),
        Decision::Cancel { reason } => (
            format!("Will be cancelled: {}", cancel_reason(reason)),
            "cancel",
        ),
    }
}

/// When a job was meant to go out by its step's timing, before quiet hours moved it (for a
/// retry or an attempt in flight: its due time), and never before `now`.
pub fn planned_at(job: &Job, settings: &OrgSettings, now: Timestamp) -> Option<Timestamp> {
    let planned = match job.status() {
        JobStatus::Scheduled => timing::due_at(
            &job.timing,
            job.anchor.at,
            settings.tz(),
            &settings.holidays,
        )
        .ok()?,
        _ => job.due_at,
    };
    Some(planned.max(now))
}

/// A message of the preview; `planned` is when its step's timing meant it to go out (see
/// [`planned_at`]): a later time means quiet hours held it back.
pub fn upcoming_row(u: &Upcoming, planned: Option<Timestamp>, tz: &TimeZone) -> UpcomingRow {
    let (decision_text, decision_css) = decision(&u.decision, tz);
    let rendered = u.rendered.as_ref();
    UpcomingRow {
        when: timestamp(u.at, tz),
        held_back_from: planned.filter(|p| u.at > *p).map(|p| timestamp(p, tz)),
        channel: words(u.channel.as_str()),
        to: address(&u.to),
        workflow: u.workflow.to_string(),
        step: u.step.to_string(),
        decision: decision_text,
        decision_css,
        subject: rendered.and_then(|r| r.subject.clone()),
        text: rendered.map(|r| r.text.clone()),
        has_html: rendered.is_some_and(|r| r.html.is_some()),
        render_error: u.render_error.clone(),
    }
}

pub fn automation_view(
    resolution: &Resolution,
    workflows: &[Workflow],
    current: Option<&Override>,
    upcoming: Vec<UpcomingRow>,
) -> AutomationView {
    AutomationView {
        workflow: resolution
            .workflow
            .as_ref()
            .map(|k| workflow_label(workflows, k.as_str())),
        decided_by: decided_by(&resolution.decided_by),
        reason: upper_first(&resolution.reason),
        rules: resolution.rules.iter().map(rule_row).collect(),
        choices: override_choices(workflows, current),
        override_text: override_text(workflows, current),
        upcoming,
    }
}

fn upper_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// Dead letters

pub struct DeadRow {
    pub job_id: String,
    /// The id as a path segment.
    pub job_path: String,
    pub event_id: Option<String>,
    pub channel: String,
    pub due: String,
    pub attempts: u32,
    pub last_error: String,
}

pub fn dead_row(o: &OutboxRow, job_path: String, tz: &TimeZone) -> DeadRow {
    DeadRow {
        job_id: o.job_id.clone(),
        job_path,
        event_id: o.event_id.as_ref().map(ToString::to_string),
        channel: words(&o.channel),
        due: timestamp(o.due_at, tz),
        attempts: o.attempts,
        last_error: o
            .last_error
            .clone()
            .unwrap_or_else(|| "no error was recorded".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_name_the_step_they_concern() {
        let keys = vec!["first".to_owned(), "second".to_owned()];
        assert_eq!(
            with_step_key("steps[1].template.body", &keys),
            "steps[1] (second).template.body"
        );
        assert_eq!(with_step_key("steps[0]", &keys), "steps[0] (first)");
        assert_eq!(with_step_key("steps[7].key", &keys), "steps[7].key");
        assert_eq!(with_step_key("steps[x].key", &keys), "steps[x].key");
        assert_eq!(with_step_key("name", &keys), "name");
        assert_eq!(with_step_key("steps", &keys), "steps");
    }

    #[test]
    fn statistics_list_every_status() {
        let mut d = BTreeMap::new();
        d.insert(JobStatus::Sent, 3);
        d.insert(JobStatus::Dead, 1);
        let (cells, total) = stat_cells(&d);
        assert_eq!(cells.len(), STATUSES.len());
        assert_eq!(total, 4);
        let sent = cells.iter().find(|c| c.css == "sent").unwrap();
        assert_eq!((sent.label, sent.count), ("Sent", 3));
        assert_eq!(cells.iter().find(|c| c.css == "failed").unwrap().count, 0);
    }

    #[test]
    fn decisions_read_as_sentences() {
        let tz = TimeZone::get("Europe/Zurich").unwrap();
        let until: Timestamp = "2026-11-26T09:00:00Z".parse().unwrap();
        let (text, css) = decision(
            &Decision::Defer {
                until,
                reason: DeferReason::QuietHours,
            },
            &tz,
        );
        assert_eq!(text, "Deferred for quiet hours until 26.11.2026 10:00");
        assert_eq!(css, "defer");
        let (text, _) = decision(
            &Decision::Cancel {
                reason: CancelReason::GoalReached {
                    goal: openevent_automation::Goal::ClientReplied,
                },
            },
            &tz,
        );
        assert_eq!(
            text,
            "Will be cancelled: its goal is reached (client replied)"
        );
        assert_eq!(decision(&Decision::Send, &tz).1, "send");
    }

    #[test]
    fn a_missing_override_workflow_stays_selected() {
        let workflows = vec![openevent_automation::library::get("offer-follow-up").unwrap()];
        let choices = override_choices(&workflows, None);
        assert_eq!(choices.len(), 3);
        assert!(choices[0].selected);
        let gone = Override::Manual {
            workflow: openevent_automation::ids::WorkflowKey::parse("gone").unwrap(),
        };
        let choices = override_choices(&workflows, Some(&gone));
        let selected: Vec<&str> = choices
            .iter()
            .filter(|c| c.selected)
            .map(|c| c.label.as_str())
            .collect();
        assert_eq!(selected, ["gone (does not exist)"]);
        let clear = override_choices(&workflows, Some(&Override::Clear));
        assert!(clear[1].selected && !clear[0].selected);
    }
}
