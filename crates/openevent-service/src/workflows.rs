//! Managing an organization's automation: install the library, import and export definitions,
//! explain which workflow a booking runs, preview what it will receive, and handle dead jobs.

use std::collections::BTreeMap;

use openevent_automation::assignment::{Override, Resolution};
use openevent_automation::definition::Workflow;
use openevent_automation::job::JobStatus;
use openevent_automation::preview::{self, Change, Upcoming};
use openevent_automation::scheduler::Context;
use openevent_automation::{DefinitionError, OrgSettings, library};
use openevent_core::AuditEntry;
use openevent_core::audit::Actor;
use openevent_core::ids::{EventId, OrgSlug};
use openevent_store::{Store, StoreError, WorkflowVersion};
use serde::Serialize;

use crate::Engine;
use crate::automation::{lead_facts, resolution, settings_for};
use crate::clock::Clock;

#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    #[error(transparent)]
    Invalid(#[from] DefinitionError),
    #[error("no library workflow '{0}' (known: {1})")]
    UnknownLibraryWorkflow(String, String),
    #[error("booking {0} not found")]
    EventNotFound(EventId),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A workflow as listed for operators: its current version and delivery statistics.
#[derive(Debug, Clone, Serialize)]
pub struct WorkflowSummary {
    #[serde(flatten)]
    pub current: WorkflowVersion,
    pub versions: u32,
    /// Jobs by status over all versions (sent, failed, skipped, dead, …).
    pub deliveries: BTreeMap<JobStatus, i64>,
}

/// Which workflow a booking runs and why.
#[derive(Debug, Clone, Serialize)]
pub struct ResolveReport {
    pub event_id: EventId,
    #[serde(flatten)]
    pub resolution: Resolution,
}

/// Everything a booking will receive, and what an edit would change.
#[derive(Debug, Clone, Serialize)]
pub struct PreviewReport {
    pub event_id: EventId,
    pub upcoming: Vec<Upcoming>,
    /// With an edited definition: how the booking's pending messages would change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edit: Option<Vec<Change>>,
}

impl<S: Store, C: Clock> Engine<S, C> {
    /// Installs library workflows (all when `keys` is empty); answers each key's current version.
    pub async fn install_library(
        &self,
        org: &OrgSlug,
        keys: &[String],
    ) -> Result<Vec<(String, u32)>, WorkflowError> {
        let all = library::all();
        let chosen: Vec<Workflow> = if keys.is_empty() {
            all
        } else {
            keys.iter()
                .map(|k| {
                    library::get(k).ok_or_else(|| {
                        let known: Vec<String> = all.iter().map(|w| w.key().to_string()).collect();
                        WorkflowError::UnknownLibraryWorkflow(k.clone(), known.join(", "))
                    })
                })
                .collect::<Result<_, _>>()?
        };
        let mut out = Vec::new();
        for wf in chosen {
            out.push(self.save_workflow(org, &wf).await?);
        }
        Ok(out)
    }

    /// Validates and stores one workflow definition (TOML).
    pub async fn import_workflow(
        &self,
        org: &OrgSlug,
        toml: &str,
    ) -> Result<(String, u32), WorkflowError> {
        let wf = Workflow::from_toml(toml)?;
        self.save_workflow(org, &wf).await
    }

    async fn save_workflow(
        &self,
        org: &OrgSlug,
        wf: &Workflow,
    ) -> Result<(String, u32), WorkflowError> {
        let version = self.store.save_workflow(org, wf, self.clock.now()).await?;
        tracing::info!(org = %org, workflow = %wf.key(), version, "workflow saved");
        Ok((wf.key().to_string(), version))
    }

    /// The current definitions as TOML documents, one per workflow.
    pub async fn export_workflows(
        &self,
        org: &OrgSlug,
    ) -> Result<Vec<(String, String)>, StoreError> {
        Ok(self
            .store
            .automation_setup(org)
            .await?
            .map(|s| {
                s.workflows
                    .iter()
                    .map(|w| (w.key().to_string(), w.to_toml()))
                    .collect()
            })
            .unwrap_or_default())
    }

    pub async fn list_workflows(&self, org: &OrgSlug) -> Result<Vec<WorkflowSummary>, StoreError> {
        let versions = self.store.workflow_versions(org).await?;
        let stats = self.store.automation_stats(org).await?;
        let mut out: Vec<WorkflowSummary> = Vec::new();
        for v in versions {
            match out.last_mut() {
                Some(last) if last.current.key == v.key => {
                    last.versions += 1;
                    last.current = v;
                }
                _ => out.push(WorkflowSummary {
                    current: v,
                    versions: 1,
                    deliveries: BTreeMap::new(),
                }),
            }
        }
        for (key, status, n) in stats {
            if let Some(s) = out.iter_mut().find(|s| s.current.key == key) {
                *s.deliveries.entry(status).or_default() += n;
            }
        }
        Ok(out)
    }

    /// The organization's automation settings (stored, or derived from the venue).
    pub async fn automation_settings(&self, org: &OrgSlug) -> Result<OrgSettings, StoreError> {
        let venue = self.venue_of(org).await?;
        Ok(match self.store.automation_setup(org).await? {
            Some(s) => settings_for(&s, &venue.venue),
            None => crate::automation::default_settings(&venue.venue),
        })
    }

    pub async fn save_automation_settings(
        &self,
        org: &OrgSlug,
        toml: &str,
    ) -> Result<OrgSettings, WorkflowError> {
        let settings = OrgSettings::from_toml(toml)?;
        self.store
            .save_automation_settings(org, &settings, self.clock.now())
            .await?;
        Ok(settings)
    }

    /// Sets or clears a manager's workflow override for a booking (`None` removes it).
    pub async fn set_workflow_override(
        &self,
        org: &OrgSlug,
        event_id: &EventId,
        value: Option<&Override>,
    ) -> Result<(), WorkflowError> {
        if self.store.load_event(org, event_id).await?.is_none() {
            return Err(WorkflowError::EventNotFound(event_id.clone()));
        }
        self.store
            .set_override(org, event_id, value, self.clock.now())
            .await?;
        self.replan(org, event_id).await?;
        Ok(())
    }

    /// Reviews the booking's pending jobs now (after its assignment changed), so that a cleared
    /// or changed workflow stops at once rather than at the booking's next change.
    async fn replan(&self, org: &OrgSlug, event_id: &EventId) -> Result<(), StoreError> {
        let Some(setup) = self.store.automation_setup(org).await? else {
            return Ok(());
        };
        let booking = self.store.booking_automation(org, event_id).await?;
        let Some(record) = booking.record.clone() else {
            return Ok(());
        };
        let now = self.clock.now();
        let settings = settings_for(&setup, &self.venue_of(org).await?.venue);
        let (changes, audit) = crate::automation::plan_jobs(
            org,
            &setup,
            &settings,
            &booking,
            event_id,
            openevent_automation::lifecycle::Observation {
                record,
                triggers: Vec::new(),
            },
            now,
        );
        if changes.inserted.is_empty() && changes.updated.is_empty() {
            return Ok(());
        }
        self.store
            .commit_automation(org, &changes, &audit, now)
            .await
    }

    /// Which workflow the booking runs, with every rule's verdict.
    pub async fn resolve_workflow(
        &self,
        org: &OrgSlug,
        event_id: &EventId,
    ) -> Result<ResolveReport, WorkflowError> {
        let stored = self
            .store
            .load_event(org, event_id)
            .await?
            .ok_or_else(|| WorkflowError::EventNotFound(event_id.clone()))?;
        let setup = self.store.automation_setup(org).await?.unwrap_or_default();
        let booking = self.store.booking_automation(org, event_id).await?;
        let settings = settings_for(&setup, &self.venue_of(org).await?.venue);
        let resolution = resolution(
            &setup,
            &settings,
            booking.override_.as_ref(),
            &lead_facts(&stored.event, booking.record.as_ref()),
        );
        Ok(ResolveReport {
            event_id: event_id.clone(),
            resolution,
        })
    }

    /// What the booking will receive, rendered; with `edited`, what that definition would change.
    pub async fn preview_workflows(
        &self,
        org: &OrgSlug,
        event_id: &EventId,
        edited: Option<&str>,
    ) -> Result<PreviewReport, WorkflowError> {
        let edited = edited.map(Workflow::from_toml).transpose()?;
        let stored = self
            .store
            .load_event(org, event_id)
            .await?
            .ok_or_else(|| WorkflowError::EventNotFound(event_id.clone()))?;
        let setup = self.store.automation_setup(org).await?.unwrap_or_default();
        let booking = self.store.booking_automation(org, event_id).await?;
        let settings = settings_for(&setup, &self.venue_of(org).await?.venue);
        let now = self.clock.now();
        let Some(record) = &booking.record else {
            return Ok(PreviewReport {
                event_id: event_id.clone(),
                upcoming: Vec::new(),
                edit: edited.map(|_| Vec::new()),
            });
        };
        let upcoming = preview::upcoming(&record.snapshot, &booking.jobs, &settings, now);
        let edit = edited.map(|wf| {
            let assigned = resolution(
                &setup,
                &settings,
                booking.override_.as_ref(),
                &lead_facts(&stored.event, Some(record)),
            )
            .workflow;
            let ctx = Context {
                org,
                settings: &settings,
                workflows: &setup.workflows,
                assigned: assigned.as_ref(),
                booking: &record.snapshot,
                jobs: &booking.jobs,
                now,
            };
            preview::diff(&ctx, &wf)
        });
        Ok(PreviewReport {
            event_id: event_id.clone(),
            upcoming,
            edit,
        })
    }

    /// Puts a dead job back in the queue (audited on its booking).
    pub async fn requeue_job(&self, org: &OrgSlug, job_id: &str) -> Result<(), StoreError> {
        let now = self.clock.now();
        let entry = AuditEntry::new(now, Actor::Manager, None, None, "outbox_requeued")
            .field("job_id", job_id);
        self.store.requeue_job(org, job_id, &entry, now).await
    }

    /// Gives a dead job up for good (audited on its booking).
    pub async fn abandon_job(
        &self,
        org: &OrgSlug,
        job_id: &str,
        reason: &str,
    ) -> Result<(), StoreError> {
        let now = self.clock.now();
        let entry = AuditEntry::new(now, Actor::Manager, None, None, "outbox_abandoned")
            .field("job_id", job_id)
            .field("reason", reason);
        self.store.abandon_job(org, job_id, &entry, now).await
    }
}
