//! `openevent workflow …`: the automation workflows of an organization from the command line.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use openevent_automation::assignment::Override;
use openevent_automation::ids::WorkflowKey;
use openevent_automation::{OrgSettings, Workflow};
use openevent_core::ids::{EventId, OrgSlug};
use openevent_service::workflows::WorkflowError;
use openevent_service::{Clock, Engine};
use openevent_store::SqlStore;

use crate::cli::WorkflowCommand;
use crate::{bad, print_json, print_out};

/// Files a workflow command reads, read and validated before the database opens (bad input never
/// creates or touches a database).
pub struct Inputs {
    text: Option<String>,
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read {}: {e}", path.display())))
}

pub fn prepare(command: &WorkflowCommand) -> Result<Inputs> {
    let text = match command {
        WorkflowCommand::Import { file } => {
            let text = read(file)?;
            Workflow::from_toml(&text).map_err(|e| bad(format!("{}: {e}", file.display())))?;
            Some(text)
        }
        WorkflowCommand::Preview {
            edited: Some(file), ..
        } => {
            let text = read(file)?;
            Workflow::from_toml(&text).map_err(|e| bad(format!("{}: {e}", file.display())))?;
            Some(text)
        }
        WorkflowCommand::Settings { set: Some(file) } => {
            let text = read(file)?;
            OrgSettings::from_toml(&text).map_err(|e| bad(format!("{}: {e}", file.display())))?;
            Some(text)
        }
        _ => None,
    };
    Ok(Inputs { text })
}

fn workflow_error(e: WorkflowError) -> anyhow::Error {
    match e {
        WorkflowError::Store(s) => anyhow::Error::from(s),
        other => bad(other),
    }
}

fn event(raw: &str) -> Result<EventId> {
    EventId::parse(raw).map_err(bad)
}

pub async fn run(
    engine: &Engine<SqlStore, Arc<dyn Clock>>,
    org: &OrgSlug,
    command: WorkflowCommand,
    inputs: Inputs,
) -> Result<()> {
    match command {
        WorkflowCommand::Install { keys } => {
            let installed = engine
                .install_library(org, &keys)
                .await
                .map_err(workflow_error)?;
            let lines: String = installed
                .iter()
                .map(|(k, v)| format!("installed {k} (version {v})\n"))
                .collect();
            print_out(&lines)
        }
        WorkflowCommand::Import { .. } => {
            let text = inputs.text.context("the definition was read")?;
            let (key, version) = engine
                .import_workflow(org, &text)
                .await
                .map_err(workflow_error)?;
            print_out(&format!("stored {key} as version {version}\n"))
        }
        WorkflowCommand::Export { dir } => {
            let all = engine.export_workflows(org).await?;
            match dir {
                Some(dir) => {
                    std::fs::create_dir_all(&dir)
                        .with_context(|| format!("creating {}", dir.display()))?;
                    for (key, toml) in &all {
                        let path = dir.join(format!("{key}.toml"));
                        std::fs::write(&path, toml)
                            .with_context(|| format!("writing {}", path.display()))?;
                    }
                    print_out(&format!(
                        "wrote {} workflows to {}\n",
                        all.len(),
                        dir.display()
                    ))
                }
                None => print_out(
                    &all.iter()
                        .map(|(key, toml)| format!("# ---- {key}.toml\n{toml}\n"))
                        .collect::<String>(),
                ),
            }
        }
        WorkflowCommand::List { json } => {
            let list = engine.list_workflows(org).await?;
            if json {
                return print_json(&list);
            }
            let mut out = String::from("KEY                      VERSION  ENABLED  DELIVERIES\n");
            for w in &list {
                let deliveries: Vec<String> = w
                    .deliveries
                    .iter()
                    .map(|(status, n)| {
                        format!(
                            "{}={n}",
                            serde_json::to_value(status)
                                .ok()
                                .and_then(|v| v.as_str().map(str::to_owned))
                                .unwrap_or_default()
                        )
                    })
                    .collect();
                out.push_str(&format!(
                    "{:<24} {:>7}  {:<7}  {}\n",
                    w.current.key,
                    w.current.version,
                    if w.current.enabled { "yes" } else { "no" },
                    deliveries.join(" ")
                ));
            }
            print_out(&out)
        }
        WorkflowCommand::Resolve { event_id } => print_json(
            &engine
                .resolve_workflow(org, &event(&event_id)?)
                .await
                .map_err(workflow_error)?,
        ),
        WorkflowCommand::Preview { event_id, .. } => print_json(
            &engine
                .preview_workflows(org, &event(&event_id)?, inputs.text.as_deref())
                .await
                .map_err(workflow_error)?,
        ),
        WorkflowCommand::Override {
            event_id,
            workflow,
            none,
            remove,
        } => {
            let value = match (workflow, none, remove) {
                (Some(k), false, false) => Some(Override::Manual {
                    workflow: WorkflowKey::parse(&k).map_err(bad)?,
                }),
                (None, true, false) => Some(Override::Clear),
                (None, false, true) => None,
                _ => return Err(bad("give one of --workflow KEY, --none or --remove")),
            };
            let id = event(&event_id)?;
            engine
                .set_workflow_override(org, &id, value.as_ref())
                .await
                .map_err(workflow_error)?;
            print_json(
                &engine
                    .resolve_workflow(org, &id)
                    .await
                    .map_err(workflow_error)?,
            )
        }
        WorkflowCommand::Settings { set } => {
            if set.is_some() {
                let text = inputs.text.context("the settings were read")?;
                engine
                    .save_automation_settings(org, &text)
                    .await
                    .map_err(workflow_error)?;
            }
            let settings = engine.automation_settings(org).await?;
            print_out(&toml::to_string(&settings).context("settings as TOML")?)
        }
    }
}
