//! Scripted conversations as data: client emails in, manager decisions, payments and waiting,
//! with the expected outcome after each step. The demo prints them as a timeline; the golden
//! tests assert them. One runner serves both, through the same engine the product runs.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use jiff::SignedDuration;
use jiff::civil::Date;
use openevent_core::effects::{Action, TaskStatus, TaskType};
use openevent_core::event::{Status, ThreadState};
use openevent_core::ids::{EventId, OrgSlug};
use openevent_core::workflow::Decision;
use openevent_store::{Store, TaskFilter};
use serde::Deserialize;

use crate::Engine;
use crate::clock::{Clock, ManualClock};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub title: String,
    /// Whether the venue asks for a deposit in this scenario.
    #[serde(default)]
    pub deposit: bool,
    /// The default sender (`Name <address>`).
    pub client: String,
    #[serde(rename = "step")]
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// A client email; it threads under the last mail of that client's booking.
    Client {
        #[serde(default)]
        from: Option<String>,
        /// A new conversation (no In-Reply-To), even if the client has a booking already.
        #[serde(default)]
        new_thread: bool,
        subject: String,
        body: String,
        #[serde(default)]
        expect: Expect,
    },
    /// The manager approves the pending task of this type.
    Approve {
        task: TaskType,
        #[serde(default)]
        from: Option<String>,
        #[serde(default)]
        edited_body: Option<String>,
        #[serde(default)]
        expect: Expect,
    },
    /// The manager rejects the pending task of this type.
    Reject {
        task: TaskType,
        #[serde(default)]
        from: Option<String>,
        reason: String,
        #[serde(default)]
        expect: Expect,
    },
    /// The payment provider reports the deposit.
    DepositPaid {
        #[serde(default)]
        from: Option<String>,
        #[serde(default)]
        expect: Expect,
    },
    Wait {
        hours: i64,
    },
}

/// What must hold after a step; absent fields are not checked.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub action: Option<Action>,
    pub current_step: Option<u8>,
    pub caller_step: Option<u8>,
    pub status: Option<Status>,
    pub thread_state: Option<ThreadState>,
    pub locked_room_id: Option<String>,
    pub chosen_date: Option<Date>,
    pub date_confirmed: Option<bool>,
    pub participants: Option<u32>,
    pub offers: Option<usize>,
    pub counter_count: Option<u32>,
    pub queued_emails: Option<usize>,
    pub new_tasks: Option<usize>,
    #[serde(default)]
    pub draft_contains: Vec<String>,
    #[serde(default)]
    pub audit_contains: Vec<String>,
    #[serde(default)]
    pub audit_lacks: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("scenario file: {0}")]
    Parse(String),
    #[error("step {step}: {message}")]
    Step { step: usize, message: String },
}

impl Scenario {
    pub fn from_toml(text: &str) -> Result<Scenario, ScenarioError> {
        toml::from_str(text).map_err(|e| ScenarioError::Parse(e.to_string()))
    }
}

/// The result of running a scenario: a timeline and every expectation that did not hold.
#[derive(Debug, Default)]
pub struct Run {
    pub timeline: String,
    pub mismatches: Vec<String>,
}

fn address(from: &str) -> &str {
    from.rsplit_once('<')
        .map_or(from, |(_, a)| a.trim_end_matches('>'))
        .trim()
}

/// The booking the scenario follows for a sender.
fn booking_of(bookings: &BTreeMap<String, EventId>, from: &str) -> Result<EventId, String> {
    let who = address(from).to_lowercase();
    bookings
        .get(&who)
        .cloned()
        .ok_or_else(|| format!("{who} has no booking"))
}

fn first_lines(text: &str, n: usize) -> String {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .take(n)
        .collect::<Vec<_>>()
        .join(" / ")
}

/// What the step reported, to compare against `Expect`.
#[derive(Default)]
struct Observed {
    action: Option<Action>,
    drafts: Vec<String>,
    queued_emails: Option<usize>,
    new_tasks: Option<usize>,
}

impl<S: Store, C: Clock> Engine<S, C> {
    async fn check(
        &self,
        org: &OrgSlug,
        event: Option<&EventId>,
        expect: &Expect,
        seen: &Observed,
        step: usize,
        out: &mut Vec<String>,
    ) -> Result<(), ScenarioError> {
        let mut miss = |what: &str, want: String, got: String| {
            if want != got {
                out.push(format!("step {step}: {what}: expected {want}, got {got}"));
            }
        };
        if let Some(a) = expect.action {
            miss(
                "action",
                a.as_str().to_owned(),
                seen.action.map_or("none".into(), |a| a.as_str().into()),
            );
        }
        if let Some(n) = expect.queued_emails {
            miss(
                "queued_emails",
                n.to_string(),
                seen.queued_emails.unwrap_or(0).to_string(),
            );
        }
        if let Some(n) = expect.new_tasks {
            miss(
                "new_tasks",
                n.to_string(),
                seen.new_tasks.unwrap_or(0).to_string(),
            );
        }
        for needle in &expect.draft_contains {
            if !seen.drafts.iter().any(|d| d.contains(needle.as_str())) {
                out.push(format!("step {step}: no draft contains {needle:?}"));
            }
        }
        let Some(id) = event else {
            return Ok(());
        };
        let view = self
            .event_view(org, id)
            .await
            .map_err(|e| ScenarioError::Step {
                step,
                message: e.to_string(),
            })?
            .ok_or_else(|| ScenarioError::Step {
                step,
                message: format!("event {id} vanished"),
            })?;
        let e = &view.event;
        let mut miss = |what: &str, want: String, got: String| {
            if want != got {
                out.push(format!("step {step}: {what}: expected {want}, got {got}"));
            }
        };
        if let Some(s) = expect.current_step {
            miss(
                "current_step",
                s.to_string(),
                e.current_step.number().to_string(),
            );
        }
        if let Some(s) = expect.caller_step {
            miss(
                "caller_step",
                s.to_string(),
                e.caller_step
                    .map_or("none".into(), |c| c.number().to_string()),
            );
        }
        if let Some(s) = expect.status {
            miss("status", s.as_str().into(), e.status.as_str().into());
        }
        if let Some(s) = expect.thread_state {
            miss(
                "thread_state",
                s.as_str().into(),
                e.thread_state.as_str().into(),
            );
        }
        if let Some(r) = &expect.locked_room_id {
            miss(
                "locked_room_id",
                r.clone(),
                e.locked_room_id
                    .as_ref()
                    .map_or("none".into(), |r| r.to_string()),
            );
        }
        if let Some(d) = expect.chosen_date {
            miss(
                "chosen_date",
                d.to_string(),
                e.chosen_date.map_or("none".into(), |d| d.to_string()),
            );
        }
        if let Some(b) = expect.date_confirmed {
            miss(
                "date_confirmed",
                b.to_string(),
                e.date_confirmed.to_string(),
            );
        }
        if let Some(n) = expect.participants {
            miss(
                "participants",
                n.to_string(),
                e.requirements()
                    .number_of_participants
                    .map_or("none".into(), |n| n.to_string()),
            );
        }
        if let Some(n) = expect.offers {
            miss("offers", n.to_string(), e.offers.len().to_string());
        }
        if let Some(n) = expect.counter_count {
            miss(
                "counter_count",
                n.to_string(),
                e.negotiation.counter_count.to_string(),
            );
        }
        let reasons: Vec<&str> = view.audit.iter().map(|a| a.reason.as_str()).collect();
        for r in &expect.audit_contains {
            if !reasons.contains(&r.as_str()) {
                out.push(format!("step {step}: audit lacks {r:?} (has {reasons:?})"));
            }
        }
        for r in &expect.audit_lacks {
            if reasons.contains(&r.as_str()) {
                out.push(format!("step {step}: audit has {r:?}"));
            }
        }
        Ok(())
    }

    /// Runs a scenario as `org`, advancing `clock` between steps. Each client's booking is
    /// followed by address.
    pub async fn run_scenario(
        &self,
        org: &OrgSlug,
        scenario: &Scenario,
        clock: &ManualClock,
        number: usize,
    ) -> Result<Run, ScenarioError> {
        let mut run = Run::default();
        let _ = writeln!(run.timeline, "\n{number}. {}", scenario.title);
        let mut bookings: BTreeMap<String, EventId> = BTreeMap::new();
        let tz = self.venue().time_zone().clone();
        let line = |run: &mut Run, who: &str, text: String| {
            let t = clock.now().to_zoned(tz.clone());
            let _ = writeln!(
                run.timeline,
                "  {}  {who:<9} {text}",
                t.strftime("%d.%m. %H:%M")
            );
        };
        for (i, step) in scenario.steps.iter().enumerate() {
            let n = i + 1;
            let fail = |message: String| ScenarioError::Step { step: n, message };
            match step {
                Step::Wait { hours } => {
                    clock.advance(SignedDuration::from_hours(*hours));
                }
                Step::Client {
                    from,
                    new_thread,
                    subject,
                    body,
                    expect,
                } => {
                    let from = from.as_deref().unwrap_or(&scenario.client);
                    let who = address(from).to_lowercase();
                    let id = format!("s{number}-m{n}@client.example");
                    let parent = match bookings.get(&who).filter(|_| !new_thread) {
                        Some(e) => self
                            .store
                            .thread_message_ids(org, e)
                            .await
                            .map_err(|e| fail(e.to_string()))?
                            .last()
                            .map(|m| m.to_string()),
                        None => None,
                    };
                    let mut raw = format!(
                        "From: {from}\r\nTo: events@venue.example\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\nContent-Type: text/plain; charset=utf-8\r\n"
                    );
                    if let Some(p) = &parent {
                        raw.push_str(&format!("In-Reply-To: <{p}>\r\nReferences: <{p}>\r\n"));
                    }
                    raw.push_str("\r\n");
                    raw.push_str(&body.replace('\n', "\r\n"));
                    let report = self
                        .ingest_raw(org, raw.as_bytes())
                        .await
                        .map_err(|e| fail(e.to_string()))?;
                    let r = report.result;
                    if let Some(e) = &r.event_id {
                        bookings.insert(who.clone(), e.clone());
                    }
                    line(&mut run, "client", format!("\"{}\"", first_lines(body, 2)));
                    line(
                        &mut run,
                        "openevent",
                        format!(
                            "{} → step {}, {}, thread {}",
                            r.action.as_str(),
                            r.current_step
                                .map_or("-".into(), |s| s.number().to_string()),
                            r.status.map_or("-", |s| s.as_str()),
                            r.thread_state.map_or("-", |s| s.as_str()),
                        ),
                    );
                    for d in &r.drafts {
                        line(
                            &mut run,
                            "draft",
                            format!("[{}] {}", d.topic, first_lines(&d.body, 3)),
                        );
                    }
                    let seen = Observed {
                        action: Some(r.action),
                        drafts: r.drafts.iter().map(|d| d.body.clone()).collect(),
                        queued_emails: None,
                        new_tasks: Some(r.tasks.len()),
                    };
                    self.check(
                        org,
                        bookings.get(&who),
                        expect,
                        &seen,
                        n,
                        &mut run.mismatches,
                    )
                    .await?;
                    clock.advance(SignedDuration::from_mins(10));
                }
                Step::Approve {
                    task,
                    from,
                    edited_body,
                    expect,
                } => {
                    let event = booking_of(&bookings, from.as_deref().unwrap_or(&scenario.client))
                        .map_err(&fail)?;
                    let pending = self.pending_of(org, &event, *task).await.map_err(&fail)?;
                    let report = self
                        .decide_task(
                            org,
                            &pending,
                            Decision::Approve {
                                edited_body: edited_body.clone(),
                                notes: None,
                            },
                        )
                        .await
                        .map_err(|e| fail(e.to_string()))?;
                    let drafts = self
                        .drafts_of(org, &report.new_tasks)
                        .await
                        .map_err(&fail)?;
                    line(
                        &mut run,
                        "manager",
                        format!(
                            "approves {} ({}) → {} email(s) queued{}",
                            pending,
                            task.as_str(),
                            report.queued_emails,
                            report
                                .action
                                .map_or(String::new(), |a| format!(", {}", a.as_str())),
                        ),
                    );
                    for d in &drafts {
                        line(&mut run, "draft", first_lines(d, 3));
                    }
                    let seen = Observed {
                        action: report.action,
                        drafts,
                        queued_emails: Some(report.queued_emails),
                        new_tasks: Some(report.new_tasks.len()),
                    };
                    self.check(org, Some(&event), expect, &seen, n, &mut run.mismatches)
                        .await?;
                    clock.advance(SignedDuration::from_mins(5));
                }
                Step::Reject {
                    task,
                    from,
                    reason,
                    expect,
                } => {
                    let event = booking_of(&bookings, from.as_deref().unwrap_or(&scenario.client))
                        .map_err(&fail)?;
                    let pending = self.pending_of(org, &event, *task).await.map_err(&fail)?;
                    let report = self
                        .decide_task(
                            org,
                            &pending,
                            Decision::Reject {
                                reason: reason.clone(),
                            },
                        )
                        .await
                        .map_err(|e| fail(e.to_string()))?;
                    line(
                        &mut run,
                        "manager",
                        format!("rejects {pending} ({}): {reason}", task.as_str()),
                    );
                    let seen = Observed {
                        action: report.action,
                        drafts: Vec::new(),
                        queued_emails: Some(report.queued_emails),
                        new_tasks: Some(report.new_tasks.len()),
                    };
                    self.check(org, Some(&event), expect, &seen, n, &mut run.mismatches)
                        .await?;
                }
                Step::DepositPaid { from, expect } => {
                    let event = booking_of(&bookings, from.as_deref().unwrap_or(&scenario.client))
                        .map_err(&fail)?;
                    let report = self
                        .deposit_paid(org, &event, &format!("pay-{number}-{n}"))
                        .await
                        .map_err(|e| fail(e.to_string()))?;
                    let drafts = self
                        .drafts_of(org, &report.new_tasks)
                        .await
                        .map_err(&fail)?;
                    line(
                        &mut run,
                        "payment",
                        format!("deposit received → {}", report.action.as_str()),
                    );
                    let seen = Observed {
                        action: Some(report.action),
                        drafts,
                        queued_emails: None,
                        new_tasks: Some(report.new_tasks.len()),
                    };
                    self.check(org, Some(&event), expect, &seen, n, &mut run.mismatches)
                        .await?;
                }
            }
        }
        for event in bookings.values() {
            if let Ok(Some(view)) = self.event_view(org, event).await {
                let e = &view.event;
                let offer = e.current_offer().map_or("no offer".to_owned(), |o| {
                    format!(
                        "offer v{} {} ({:?})",
                        o.version,
                        o.total.display_chf(),
                        o.status
                    )
                });
                let _ = writeln!(
                    run.timeline,
                    "  → {}: status {}, step {} {}, room {}, date {}, {}; {} audit entries",
                    e.event_id,
                    e.status.as_str(),
                    e.current_step.number(),
                    e.current_step.name(),
                    e.locked_room_id.as_ref().map_or("-", |r| r.as_str()),
                    e.chosen_date
                        .map_or("-".to_owned(), |d| d.strftime("%d.%m.%Y").to_string()),
                    offer,
                    view.audit.len()
                );
            }
        }
        Ok(run)
    }

    async fn pending_of(
        &self,
        org: &OrgSlug,
        event: &EventId,
        task: TaskType,
    ) -> Result<openevent_core::ids::TaskId, String> {
        let tasks = self
            .store
            .list_tasks(
                org,
                TaskFilter {
                    status: Some(TaskStatus::Pending),
                    event_id: Some(event),
                    limit: 100,
                },
            )
            .await
            .map_err(|e| e.to_string())?;
        tasks
            .iter()
            .find(|t| t.task.task_type == task)
            .map(|t| t.task.task_id.clone())
            .ok_or_else(|| {
                let have: Vec<&str> = tasks.iter().map(|t| t.task.task_type.as_str()).collect();
                format!("no pending {} task (pending: {have:?})", task.as_str())
            })
    }

    async fn drafts_of(
        &self,
        org: &OrgSlug,
        tasks: &[openevent_core::ids::TaskId],
    ) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        for id in tasks {
            if let Some((_, Some(d))) = self
                .store
                .load_task(org, id)
                .await
                .map_err(|e| e.to_string())?
            {
                out.push(d.body);
            }
        }
        Ok(out)
    }
}
