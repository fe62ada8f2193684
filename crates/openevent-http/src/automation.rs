//! The automation API: workflows (list, create or edit, export, install from the library),
//! settings, assignment rules, per-booking overrides with the explanation of which workflow
//! runs, previews, and the dead-letter queue.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use openevent_automation::assignment::{AssignmentRule, Override};
use openevent_automation::definition::{Workflow, WorkflowSpec};
use openevent_automation::ids::RuleId;
use openevent_automation::job::JobStatus;
use openevent_automation::{DefinitionError, OrgSettings};
use openevent_core::ids::EventId;
use openevent_service::Clock;
use openevent_service::workflows::WorkflowError;
use openevent_store::{OutboxRow, Store, StoreError};
use serde::Deserialize;

use crate::AppState;
use crate::auth::Principal;
use crate::body::JsonBody;
use crate::problem::Problem;

fn definition_problem(e: DefinitionError) -> Problem {
    match e.problems().first() {
        Some(p) => Problem::invalid(p.path.clone(), e.to_string()),
        None => Problem::invalid("definition", e.to_string()),
    }
}

fn workflow_problem(e: WorkflowError) -> Problem {
    match e {
        WorkflowError::Invalid(d) => definition_problem(d),
        WorkflowError::UnknownLibraryWorkflow(..) => Problem::invalid("keys", e.to_string()),
        WorkflowError::EventNotFound(_) => Problem::not_found(e.to_string()),
        WorkflowError::Store(s) => store_problem(s),
    }
}

fn store_problem(e: StoreError) -> Problem {
    match e {
        StoreError::NotFound(what) => Problem::not_found(format!("{what} does not exist")),
        other => Problem::internal(&other),
    }
}

fn event_id(raw: &str) -> Result<EventId, Problem> {
    EventId::parse(raw).map_err(|_| Problem::not_found("no such event"))
}

pub async fn list_workflows<S: Store>(
    State(app): State<AppState<S>>,
    who: Principal,
) -> Result<impl IntoResponse, Problem> {
    let list = app
        .engine
        .list_workflows(&who.org)
        .await
        .map_err(store_problem)?;
    Ok(Json(serde_json::json!({ "workflows": list })))
}

/// Creates a workflow or stores an edit as its next version.
pub async fn put_workflow<S: Store>(
    State(app): State<AppState<S>>,
    who: Principal,
    Path(key): Path<String>,
    JsonBody(spec): JsonBody<WorkflowSpec>,
) -> Result<impl IntoResponse, Problem> {
    who.require_manager()?;
    if spec.key.as_str() != key {
        return Err(Problem::invalid(
            "key",
            format!(
                "the body's key '{}' differs from the path's '{key}'",
                spec.key
            ),
        ));
    }
    let wf = Workflow::new(spec).map_err(definition_problem)?;
    let toml = wf.to_toml();
    let (key, version) = app
        .engine
        .import_workflow(&who.org, &toml)
        .await
        .map_err(workflow_problem)?;
    Ok(Json(serde_json::json!({ "key": key, "version": version })))
}

pub async fn get_workflow<S: Store>(
    State(app): State<AppState<S>>,
    who: Principal,
    Path(key): Path<String>,
) -> Result<impl IntoResponse, Problem> {
    let setup = app
        .engine
        .store()
        .automation_setup(&who.org)
        .await
        .map_err(store_problem)?;
    let wf = setup
        .as_ref()
        .and_then(|s| s.workflows.iter().find(|w| w.key().as_str() == key))
        .ok_or_else(|| Problem::not_found(format!("no workflow '{key}'")))?;
    Ok(Json(wf.spec().clone()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstallIn {
    #[serde(default)]
    keys: Vec<String>,
}

pub async fn install_library<S: Store>(
    State(app): State<AppState<S>>,
    who: Principal,
    JsonBody(input): JsonBody<InstallIn>,
) -> Result<impl IntoResponse, Problem> {
    who.require_manager()?;
    let installed = app
        .engine
        .install_library(&who.org, &input.keys)
        .await
        .map_err(workflow_problem)?;
    let installed: Vec<_> = installed
        .into_iter()
        .map(|(key, version)| serde_json::json!({ "key": key, "version": version }))
        .collect();
    Ok(Json(serde_json::json!({ "installed": installed })))
}

pub async fn get_settings<S: Store>(
    State(app): State<AppState<S>>,
    who: Principal,
) -> Result<Json<OrgSettings>, Problem> {
    Ok(Json(
        app.engine
            .automation_settings(&who.org)
            .await
            .map_err(store_problem)?,
    ))
}

pub async fn put_settings<S: Store>(
    State(app): State<AppState<S>>,
    who: Principal,
    JsonBody(settings): JsonBody<OrgSettings>,
) -> Result<Json<OrgSettings>, Problem> {
    who.require_manager()?;
    if let Some(p) = settings.problems().first() {
        return Err(Problem::invalid(p.path.clone(), p.message.clone()));
    }
    let toml =
        toml::to_string(&settings).map_err(|e| Problem::invalid("settings", e.to_string()))?;
    Ok(Json(
        app.engine
            .save_automation_settings(&who.org, &toml)
            .await
            .map_err(workflow_problem)?,
    ))
}

pub async fn list_rules<S: Store>(
    State(app): State<AppState<S>>,
    who: Principal,
) -> Result<impl IntoResponse, Problem> {
    let setup = app
        .engine
        .store()
        .automation_setup(&who.org)
        .await
        .map_err(store_problem)?;
    let rules: Vec<AssignmentRule> = setup.map(|s| s.rules.clone()).unwrap_or_default();
    Ok(Json(serde_json::json!({ "rules": rules })))
}

pub async fn put_rule<S: Store>(
    State(app): State<AppState<S>>,
    who: Principal,
    Path(id): Path<String>,
    JsonBody(rule): JsonBody<AssignmentRule>,
) -> Result<impl IntoResponse, Problem> {
    who.require_manager()?;
    let id = RuleId::parse(&id).map_err(|e| Problem::invalid("id", e.to_string()))?;
    if rule.id != id {
        return Err(Problem::invalid(
            "id",
            "the body's id differs from the path's",
        ));
    }
    app.engine
        .store()
        .save_rule(&who.org, &rule, app.engine.clock().now())
        .await
        .map_err(store_problem)?;
    Ok(Json(rule))
}

pub async fn delete_rule<S: Store>(
    State(app): State<AppState<S>>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, Problem> {
    who.require_manager()?;
    app.engine
        .store()
        .delete_rule(&who.org, &id, app.engine.clock().now())
        .await
        .map_err(store_problem)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Which workflow the booking runs, and why.
pub async fn get_event_workflow<S: Store>(
    State(app): State<AppState<S>>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, Problem> {
    let report = app
        .engine
        .resolve_workflow(&who.org, &event_id(&id)?)
        .await
        .map_err(workflow_problem)?;
    Ok(Json(report))
}

/// Sets a manager's override: `{"mode":"manual","workflow":KEY}` or `{"mode":"clear"}`.
pub async fn put_event_workflow<S: Store>(
    State(app): State<AppState<S>>,
    who: Principal,
    Path(id): Path<String>,
    JsonBody(value): JsonBody<Override>,
) -> Result<impl IntoResponse, Problem> {
    who.require_manager()?;
    let id = event_id(&id)?;
    app.engine
        .set_workflow_override(&who.org, &id, Some(&value))
        .await
        .map_err(workflow_problem)?;
    let report = app
        .engine
        .resolve_workflow(&who.org, &id)
        .await
        .map_err(workflow_problem)?;
    Ok(Json(report))
}

pub async fn delete_event_workflow<S: Store>(
    State(app): State<AppState<S>>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, Problem> {
    who.require_manager()?;
    app.engine
        .set_workflow_override(&who.org, &event_id(&id)?, None)
        .await
        .map_err(workflow_problem)?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn preview<S: Store>(
    State(app): State<AppState<S>>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, Problem> {
    let report = app
        .engine
        .preview_workflows(&who.org, &event_id(&id)?, None)
        .await
        .map_err(workflow_problem)?;
    Ok(Json(report))
}

/// What an edited definition would change for this booking.
pub async fn preview_edit<S: Store>(
    State(app): State<AppState<S>>,
    who: Principal,
    Path(id): Path<String>,
    JsonBody(spec): JsonBody<WorkflowSpec>,
) -> Result<impl IntoResponse, Problem> {
    let wf = Workflow::new(spec).map_err(definition_problem)?;
    let report = app
        .engine
        .preview_workflows(&who.org, &event_id(&id)?, Some(&wf.to_toml()))
        .await
        .map_err(workflow_problem)?;
    Ok(Json(report))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxQuery {
    status: Option<String>,
    limit: Option<u32>,
}

pub async fn list_outbox<S: Store>(
    State(app): State<AppState<S>>,
    who: Principal,
    Query(q): Query<OutboxQuery>,
) -> Result<impl IntoResponse, Problem> {
    let status =
        q.status
            .as_deref()
            .map(|s| {
                serde_json::from_value::<JobStatus>(serde_json::Value::String(s.to_owned()))
                    .map_err(|_| {
                        Problem::invalid(
                            "status",
                            "one of scheduled, claimed, sent, failed, dead, skipped, cancelled",
                        )
                    })
            })
            .transpose()?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let jobs: Vec<OutboxRow> = app
        .engine
        .store()
        .list_outbox(&who.org, status, limit)
        .await
        .map_err(store_problem)?;
    Ok(Json(serde_json::json!({ "jobs": jobs })))
}

pub async fn requeue_job<S: Store>(
    State(app): State<AppState<S>>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, Problem> {
    who.require_manager()?;
    app.engine
        .requeue_job(&who.org, &id)
        .await
        .map_err(store_problem)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AbandonIn {
    reason: String,
}

pub async fn abandon_job<S: Store>(
    State(app): State<AppState<S>>,
    who: Principal,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<AbandonIn>,
) -> Result<impl IntoResponse, Problem> {
    who.require_manager()?;
    let reason = input.reason.trim();
    if reason.is_empty() || reason.chars().count() > 1000 {
        return Err(Problem::invalid("reason", "1 to 1000 characters"));
    }
    app.engine
        .abandon_job(&who.org, &id, reason)
        .await
        .map_err(store_problem)?;
    Ok(StatusCode::NO_CONTENT)
}
