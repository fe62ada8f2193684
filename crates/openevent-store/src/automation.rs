//! The automation engine's tables: per-organization setup (settings, workflow versions, rules)
//! cached by revision, per-booking records and overrides, and automation jobs as outbox rows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use jiff::Timestamp;
use openevent_automation::assignment::{AssignmentRule, Override};
use openevent_automation::job::Job;
use openevent_automation::lifecycle::Record;
use openevent_automation::{OrgSettings, Workflow, WorkflowSpec};
use openevent_core::ids::{EventId, OrgSlug};
use serde::Serialize;

use crate::StoreError;
use crate::codec::{enum_text, from_json, from_micros, micros, to_json};
use crate::db::{Conn, Plan, Row, Stmt, params};

/// An organization's automation: what the scheduler needs besides the booking.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AutomationSetup {
    /// Bumped by every change of settings, workflows or rules.
    pub revision: i64,
    /// `None` until an operator stores settings (the shell then derives them from the venue).
    pub settings: Option<OrgSettings>,
    /// The current version of each workflow, by key.
    pub workflows: Vec<Workflow>,
    pub rules: Vec<AssignmentRule>,
}

/// One booking's automation state.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BookingAutomation {
    pub record: Option<Record>,
    pub override_: Option<Override>,
    /// Every automation job of the booking, whatever its status, oldest first.
    pub jobs: Vec<Job>,
}

/// What a booking write changes in automation, committed with it.
#[derive(Debug, Clone, PartialEq)]
pub struct AutomationChanges {
    pub event_id: EventId,
    pub record: Record,
    /// New jobs (a delivery key already stored is not inserted again).
    pub inserted: Vec<Job>,
    /// Jobs in their new state; written only while the stored job is still pending (the
    /// dispatcher may have taken it meanwhile, and its outcome stands).
    pub updated: Vec<Job>,
}

/// A stored workflow version as listed for operators.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkflowVersion {
    pub key: String,
    pub version: u32,
    pub enabled: bool,
    pub name: String,
    pub steps: usize,
    pub created_at: Timestamp,
}

/// Decoded setups by organization, valid while the revision is unchanged.
#[derive(Default)]
pub(crate) struct SetupCache {
    orgs: Mutex<HashMap<String, Arc<AutomationSetup>>>,
}

impl std::fmt::Debug for SetupCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SetupCache")
    }
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn workflow_row(row: &Row) -> Result<Workflow, StoreError> {
    let spec: WorkflowSpec = from_json("workflow definition", &row.text("definition")?)?;
    Workflow::new(spec).map_err(corrupt)
}

impl SetupCache {
    /// The organization's setup, `None` when it never configured automation.
    pub(crate) fn get(
        &self,
        c: &mut dyn Conn,
        org: &str,
    ) -> Result<Option<Arc<AutomationSetup>>, StoreError> {
        let Some(row) = c.query_opt(
            "SELECT revision, settings FROM automation_orgs WHERE org_id = $1",
            &params![org],
        )?
        else {
            return Ok(None);
        };
        let revision = row.int("revision")?;
        {
            let orgs = self.orgs.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(s) = orgs.get(org)
                && s.revision == revision
            {
                return Ok(Some(Arc::clone(s)));
            }
        }
        let settings = row
            .opt_text("settings")?
            .map(|s| from_json::<OrgSettings>("automation settings", &s))
            .transpose()?;
        let workflows = c
            .query(
                "SELECT w.definition FROM automation_workflows w WHERE w.org_id = $1 AND w.version = \
                 (SELECT MAX(v.version) FROM automation_workflows v WHERE v.org_id = w.org_id AND v.workflow_key = w.workflow_key) \
                 ORDER BY w.workflow_key",
                &params![org],
            )?
            .iter()
            .map(workflow_row)
            .collect::<Result<_, _>>()?;
        let rules = c
            .query(
                "SELECT rule FROM automation_rules WHERE org_id = $1 ORDER BY rule_id",
                &params![org],
            )?
            .iter()
            .map(|r| from_json("assignment rule", &r.text("rule")?))
            .collect::<Result<_, _>>()?;
        let setup = Arc::new(AutomationSetup {
            revision,
            settings,
            workflows,
            rules,
        });
        self.orgs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(org.to_owned(), Arc::clone(&setup));
        Ok(Some(setup))
    }
}

/// The booking's record and override, without its jobs.
pub(crate) fn head(
    c: &mut dyn Conn,
    org: &str,
    event_id: &str,
) -> Result<BookingAutomation, StoreError> {
    let mut out = BookingAutomation::default();
    if let Some(row) = c.query_opt(
        "SELECT record, override FROM automation_bookings WHERE org_id = $1 AND event_id = $2",
        &params![org, event_id],
    )? {
        out.record = row
            .opt_text("record")?
            .map(|r| from_json("automation record", &r))
            .transpose()?;
        out.override_ = row
            .opt_text("override")?
            .map(|r| from_json("workflow override", &r))
            .transpose()?;
    }
    Ok(out)
}

pub(crate) fn booking(
    c: &mut dyn Conn,
    org: &str,
    event_id: &str,
) -> Result<BookingAutomation, StoreError> {
    let mut out = head(c, org, event_id)?;
    out.jobs = c
        .query(
            "SELECT payload FROM outbox WHERE org_id = $1 AND event_id = $2 AND kind = 'automation' \
             ORDER BY created_at, job_id",
            &params![org, event_id],
        )?
        .iter()
        .map(|r| from_json("automation job", &r.text("payload")?))
        .collect::<Result<_, _>>()?;
    Ok(out)
}

/// The statements that store a booking's automation changes.
pub(crate) fn changes(plan: &mut Plan, org: &OrgSlug, ch: &AutomationChanges, now: Timestamp) {
    let org = org.as_str();
    let now = micros(now);
    plan.push(Stmt::new(
        "INSERT INTO automation_bookings (org_id, event_id, record, override, next_completion, updated_at) \
         VALUES ($1, $2, $3, NULL, $4, $5) \
         ON CONFLICT (org_id, event_id) DO UPDATE SET record = excluded.record, \
         next_completion = excluded.next_completion, updated_at = excluded.updated_at",
        params![
            org,
            ch.event_id.as_str(),
            to_json(&ch.record),
            ch.record.next_completion().map(micros),
            now,
        ],
    ));
    for job in &ch.inserted {
        plan.push(Stmt::new(
            "INSERT INTO outbox (org_id, job_id, event_id, channel, delivery_key, payload, status, due_at, attempts, created_at, updated_at, kind, workflow_key) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $9, 'automation', $10) \
             ON CONFLICT (delivery_key) DO NOTHING",
            params![
                org,
                job.id.as_str(),
                job.event_id.as_str(),
                job.channel.as_str(),
                job.delivery_key.as_str(),
                to_json(job),
                enum_text(&job.status()),
                micros(job.due_at),
                now,
                job.workflow.as_str(),
            ],
        ));
    }
    for job in &ch.updated {
        plan.push(Stmt::new(
            "UPDATE outbox SET payload = $1, status = $2, due_at = $3, updated_at = $4, delivery_key = $7 \
             WHERE org_id = $5 AND job_id = $6 AND status IN ('scheduled', 'failed')",
            params![
                to_json(job),
                enum_text(&job.status()),
                micros(job.due_at),
                now,
                org,
                job.id.as_str(),
                job.delivery_key.as_str(),
            ],
        ));
    }
}

/// Bumps the organization's revision (creating its row), so cached setups reload.
fn bump(plan: &mut Plan, org: &str, now: i64) {
    plan.push(Stmt::new(
        "INSERT INTO automation_orgs (org_id, revision, settings, updated_at) VALUES ($1, 1, NULL, $2) \
         ON CONFLICT (org_id) DO UPDATE SET revision = automation_orgs.revision + 1, updated_at = excluded.updated_at",
        params![org, now],
    ));
}

/// Stores `workflow` as the key's next version (its spec's version is replaced by it) unless it
/// equals the current version; returns the version now current.
pub(crate) fn save_workflow(
    c: &mut dyn Conn,
    org: &str,
    workflow: &Workflow,
    now: Timestamp,
) -> Result<u32, StoreError> {
    let key = workflow.key().as_str();
    let current = c.query_opt(
        "SELECT definition, version FROM automation_workflows WHERE org_id = $1 AND workflow_key = $2 \
         ORDER BY version DESC LIMIT 1",
        &params![org, key],
    )?;
    let mut spec = workflow.spec().clone();
    if let Some(row) = &current {
        let stored = workflow_row(row)?;
        spec.version = stored.version();
        if &spec == stored.spec() {
            return Ok(stored.version());
        }
        spec.version = stored.version() + 1;
    } else {
        spec.version = 1;
    }
    let version = spec.version;
    let enabled = spec.enabled;
    let mut plan = Plan::new();
    plan.push(Stmt::new(
        "INSERT INTO automation_workflows (org_id, workflow_key, version, enabled, definition, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        params![org, key, i64::from(version), enabled, to_json(&spec), micros(now)],
    ));
    bump(&mut plan, org, micros(now));
    crate::db::execute_plan(c, plan)?;
    Ok(version)
}

pub(crate) fn list_workflows(
    c: &mut dyn Conn,
    org: &str,
) -> Result<Vec<WorkflowVersion>, StoreError> {
    c.query(
        "SELECT definition, created_at FROM automation_workflows WHERE org_id = $1 \
         ORDER BY workflow_key, version",
        &params![org],
    )?
    .iter()
    .map(|row| {
        let w = workflow_row(row)?;
        Ok(WorkflowVersion {
            key: w.key().to_string(),
            version: w.version(),
            enabled: w.enabled(),
            name: w.spec().name.clone(),
            steps: w.steps().len(),
            created_at: from_micros(row.int("created_at")?)?,
        })
    })
    .collect()
}

pub(crate) fn settings_plan(org: &str, settings: &OrgSettings, now: Timestamp) -> Plan {
    vec![Stmt::new(
        "INSERT INTO automation_orgs (org_id, revision, settings, updated_at) VALUES ($1, 1, $2, $3) \
         ON CONFLICT (org_id) DO UPDATE SET revision = automation_orgs.revision + 1, \
         settings = excluded.settings, updated_at = excluded.updated_at",
        params![org, to_json(settings), micros(now)],
    )]
}

pub(crate) fn rule_plan(org: &str, rule: &AssignmentRule, now: Timestamp) -> Plan {
    let mut plan = vec![Stmt::new(
        "INSERT INTO automation_rules (org_id, rule_id, rule, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (org_id, rule_id) DO UPDATE SET rule = excluded.rule",
        params![
            org,
            rule.id.as_str(),
            to_json(rule),
            micros(rule.created_at)
        ],
    )];
    bump(&mut plan, org, micros(now));
    plan
}

pub(crate) fn delete_rule_plan(org: &str, rule_id: &str, now: Timestamp) -> Plan {
    let mut plan = vec![
        Stmt::new(
            "DELETE FROM automation_rules WHERE org_id = $1 AND rule_id = $2",
            params![org, rule_id],
        )
        .or_fail(StoreError::NotFound(format!("rule {rule_id}"))),
    ];
    bump(&mut plan, org, micros(now));
    plan
}

pub(crate) fn override_plan(
    org: &str,
    event_id: &str,
    value: Option<&Override>,
    now: Timestamp,
) -> Plan {
    vec![Stmt::new(
        "INSERT INTO automation_bookings (org_id, event_id, record, override, next_completion, updated_at) \
         VALUES ($1, $2, NULL, $3, NULL, $4) \
         ON CONFLICT (org_id, event_id) DO UPDATE SET override = excluded.override, updated_at = excluded.updated_at",
        params![org, event_id, value.map(to_json), micros(now)],
    )]
}

/// Bookings whose next completion (event or site visit ended) is due, oldest first.
pub(crate) fn due_completions(
    c: &mut dyn Conn,
    now: Timestamp,
    limit: u32,
) -> Result<Vec<(OrgSlug, EventId)>, StoreError> {
    c.query(
        "SELECT org_id, event_id FROM automation_bookings WHERE next_completion <= $1 \
         ORDER BY next_completion LIMIT $2",
        &params![micros(now), i64::from(limit)],
    )?
    .iter()
    .map(|r| {
        Ok((
            OrgSlug::parse(&r.text("org_id")?).map_err(corrupt)?,
            EventId::parse(&r.text("event_id")?).map_err(corrupt)?,
        ))
    })
    .collect()
}

pub(crate) fn next_completion(c: &mut dyn Conn) -> Result<Option<Timestamp>, StoreError> {
    c.query_opt(
        "SELECT MIN(next_completion) AS t FROM automation_bookings WHERE next_completion IS NOT NULL",
        &[],
    )?
    .and_then(|r| r.opt_int("t").transpose())
    .map(|t| t.and_then(from_micros))
    .transpose()
}

/// Automation jobs per workflow and status.
pub(crate) fn stats(
    c: &mut dyn Conn,
    org: &str,
) -> Result<Vec<(String, openevent_automation::job::JobStatus, i64)>, StoreError> {
    c.query(
        "SELECT workflow_key, status, COUNT(*) AS n FROM outbox \
         WHERE org_id = $1 AND kind = 'automation' GROUP BY workflow_key, status ORDER BY workflow_key, status",
        &params![org],
    )?
    .iter()
    .map(|r| {
        Ok((
            r.opt_text("workflow_key")?.unwrap_or_default(),
            crate::codec::enum_from_text("outbox status", &r.text("status")?)?,
            r.int("n")?,
        ))
    })
    .collect()
}
