//! The automation pages: the workflows (`/app/workflows`, one workflow with its definition at
//! `/app/workflows/{key}`), installing the library, a booking's workflow and its override (on the
//! booking page), and the dead letters (`/app/outbox/dead`).
//!
//! Every change goes through the engine's automation API, the same one the HTTP API and the CLI
//! use: a definition is validated there and stored as the workflow's next version; enabling or
//! disabling stores the current definition again with `enabled` changed.

use std::sync::OnceLock;

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use jiff::tz::TimeZone;
use openevent_automation::assignment::Override;
use openevent_automation::ids::WorkflowKey;
use openevent_automation::job::JobStatus;
use openevent_automation::{DefinitionError, Workflow, WorkflowSpec, library};
use openevent_core::ids::EventId;
use openevent_service::workflows::WorkflowError;
use openevent_store::{Store, StoreError};
use serde::Deserialize;

use super::{
    CsrfForm, Current, OUTBOX_SCAN, PageError, encode, html, normalise_newlines, venue_of,
};
use crate::WebState;
use crate::session::{Flash, FlashKind};
use crate::views::automation::{
    AutomationView, CHOICE_NONE, CHOICE_RULES, CHOICE_WORKFLOW, DefinitionForm, LibraryItem,
    ProblemView, STATUSES, automation_view, dead_row, planned_at, stat_cells, status_label,
    upcoming_row, version_row, workflow_head, workflow_row,
};
use crate::views::{DeadPage, WorkflowPage, WorkflowsPage};

/// A definition larger than this is refused before it is parsed (the library's largest is a
/// few kilobytes; 50 steps of the longest templates stay well below).
const MAX_DEFINITION_BYTES: usize = 256 * 1024;
/// The dead letters the page lists (newest first).
const DEAD_LIMIT: u32 = 200;
/// How long an abandon reason may be (as the API allows).
const MAX_REASON_CHARS: usize = 1000;

/// The library's workflows as `(key, name)`, read once.
fn library_names() -> &'static [(String, String)] {
    static NAMES: OnceLock<Vec<(String, String)>> = OnceLock::new();
    NAMES.get_or_init(|| {
        library::all()
            .iter()
            .map(|w| (w.key().to_string(), w.spec().name.clone()))
            .collect()
    })
}

fn internal(who: &Current) -> impl Fn(StoreError) -> PageError + '_ {
    move |e| PageError::internal(&e).for_user(who)
}

fn flash<S>(st: &WebState<S>, who: &Current, kind: FlashKind, text: String) {
    st.sessions.set_flash(&who.session.id, Flash { kind, text });
}

/// The organization's workflows, each at its current version, by key.
async fn current_workflows<S: Store>(
    st: &WebState<S>,
    who: &Current,
) -> Result<Vec<Workflow>, PageError> {
    Ok(st
        .app
        .engine
        .store()
        .automation_setup(&who.principal.org)
        .await
        .map_err(internal(who))?
        .map(|s| s.workflows.clone())
        .unwrap_or_default())
}

fn no_such_workflow(who: &Current) -> PageError {
    PageError::not_found("There is no such workflow.").for_user(who)
}

/// The workflow `raw` names in the organization (404 for a malformed or unknown key).
async fn find_workflow<S: Store>(
    st: &WebState<S>,
    who: &Current,
    raw: &str,
) -> Result<Workflow, PageError> {
    let key = WorkflowKey::parse(raw).map_err(|_| no_such_workflow(who))?;
    current_workflows(st, who)
        .await?
        .into_iter()
        .find(|w| w.key() == &key)
        .ok_or_else(|| no_such_workflow(who))
}

/// A definition's text as a form sent it, refused when it is empty or too long.
fn definition_text(raw: &str) -> Result<String, (String, String)> {
    let text = normalise_newlines(raw);
    if text.trim().is_empty() {
        return Err((
            text,
            "The definition was not saved: it is empty. Paste or write a workflow definition \
             in TOML."
                .to_owned(),
        ));
    }
    if text.len() > MAX_DEFINITION_BYTES {
        return Err((
            text,
            format!(
                "The definition was not saved: it is longer than {} KiB.",
                MAX_DEFINITION_BYTES / 1024
            ),
        ));
    }
    Ok(text)
}

/// The keys of the definition's steps, as far as the text can be read (to name the step a
/// problem is about).
fn step_keys(text: &str) -> Vec<String> {
    toml::from_str::<WorkflowSpec>(text)
        .map(|spec| spec.steps.iter().map(|s| s.key.to_string()).collect())
        .unwrap_or_default()
}

fn invalid_form(text: String, e: &DefinitionError) -> DefinitionForm {
    let keys = step_keys(&text);
    DefinitionForm::invalid(text, e, &keys)
}

// ---------------------------------------------------------------------------------------------
// The list, the library and imports

async fn render_list<S: Store>(
    st: &WebState<S>,
    who: &Current,
    form: DefinitionForm,
    status: StatusCode,
) -> Result<Response, PageError> {
    let list = st
        .app
        .engine
        .list_workflows(&who.principal.org)
        .await
        .map_err(internal(who))?;
    let library: Vec<LibraryItem> = library_names()
        .iter()
        .map(|(key, name)| LibraryItem {
            key: key.clone(),
            name: name.clone(),
            installed: list.iter().any(|w| &w.current.key == key),
        })
        .collect();
    let page = WorkflowsPage {
        chrome: who.chrome(st, "Workflows", "workflows"),
        rows: list
            .iter()
            .map(|w| workflow_row(&w.current, w.versions, &w.deliveries))
            .collect(),
        status_heads: STATUSES.into_iter().map(status_label).collect(),
        missing: library.iter().filter(|l| !l.installed).count(),
        library,
        can_manage: who.is_manager(),
        csrf: who.session.csrf.clone(),
        form,
    };
    Ok(html(status, &page))
}

pub async fn workflows<S: Store>(
    State(st): State<WebState<S>>,
    who: Current,
) -> Result<Response, PageError> {
    render_list(&st, &who, DefinitionForm::default(), StatusCode::OK).await
}

/// Installs the library workflows the organization does not have yet (its own, edited or not,
/// are never replaced).
pub async fn install_library<S: Store>(
    State(st): State<WebState<S>>,
    who: Current,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, PageError> {
    let sent = form.map(|Form(f)| f.csrf).unwrap_or_default();
    who.check_csrf(&sent)?;
    who.require_manager()?;
    let have = current_workflows(&st, &who).await?;
    let missing: Vec<&(String, String)> = library_names()
        .iter()
        .filter(|(key, _)| !have.iter().any(|w| w.key().as_str() == key))
        .collect();
    let text = if missing.is_empty() {
        "Every library workflow is installed already; nothing changed.".to_owned()
    } else {
        let keys: Vec<String> = missing.iter().map(|(k, _)| k.clone()).collect();
        st.app
            .engine
            .install_library(&who.principal.org, &keys)
            .await
            .map_err(|e| PageError::internal(&e).for_user(&who))?;
        let names: Vec<&str> = missing.iter().map(|(_, n)| n.as_str()).collect();
        match names.len() {
            1 => format!("Installed 1 library workflow: {}.", names[0]),
            n => format!("Installed {n} library workflows: {}.", names.join(", ")),
        }
    };
    flash(&st, &who, FlashKind::Success, text);
    Ok(Redirect::to("/app/workflows").into_response())
}

#[derive(Debug, Deserialize)]
pub struct DefinitionIn {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    definition: String,
    /// The version the edit started from (the edit form only).
    base_version: Option<String>,
}

/// Imports a workflow the organization does not have yet.
pub async fn import_workflow<S: Store>(
    State(st): State<WebState<S>>,
    who: Current,
    form: Result<Form<DefinitionIn>, FormRejection>,
) -> Result<Response, PageError> {
    let form = who.manager_form(form)?;
    let refuse = |form: DefinitionForm, status| render_list(&st, &who, form, status);
    let text = match definition_text(&form.definition) {
        Ok(t) => t,
        Err((text, why)) => {
            return refuse(
                DefinitionForm::refused(text, why),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let wf = match Workflow::from_toml(&text) {
        Ok(wf) => wf,
        Err(e) => {
            return refuse(invalid_form(text, &e), StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let have = current_workflows(&st, &who).await?;
    if have.iter().any(|w| w.key() == wf.key()) {
        let why = format!(
            "The definition was not saved: the organization has a workflow '{}' already. Edit \
             it on its own page, or give this one another key.",
            wf.key()
        );
        return refuse(DefinitionForm::refused(text, why), StatusCode::CONFLICT).await;
    }
    match st
        .app
        .engine
        .import_workflow(&who.principal.org, &text)
        .await
    {
        Ok((key, version)) => {
            flash(
                &st,
                &who,
                FlashKind::Success,
                format!(
                    "Imported workflow '{}' ({key}) as version {version}.",
                    wf.spec().name
                ),
            );
            Ok(Redirect::to(&format!("/app/workflows/{key}")).into_response())
        }
        Err(WorkflowError::Invalid(e)) => {
            refuse(invalid_form(text, &e), StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(PageError::internal(&e).for_user(&who)),
    }
}

// ---------------------------------------------------------------------------------------------
// One workflow

/// The workflow page; `form` replaces the current definition in the edit box (a refused save),
/// and `base_version` is what the next save must start from.
async fn render_workflow<S: Store>(
    st: &WebState<S>,
    who: &Current,
    wf: &Workflow,
    form: Option<DefinitionForm>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let org = &who.principal.org;
    let store = st.app.engine.store();
    let key = wf.key().as_str();
    let history: Vec<_> = store
        .workflow_versions(org)
        .await
        .map_err(internal(who))?
        .into_iter()
        .filter(|v| v.key == key)
        .collect();
    let mut deliveries = std::collections::BTreeMap::new();
    for (k, status, n) in store.automation_stats(org).await.map_err(internal(who))? {
        if k == key {
            *deliveries.entry(status).or_insert(0) += n;
        }
    }
    let (stats, total) = stat_cells(&deliveries);
    let venue = venue_of(st, who).await?;
    let tz = venue.venue.time_zone();
    let versions = u32::try_from(history.len()).unwrap_or(u32::MAX);
    let page = WorkflowPage {
        chrome: who.chrome(st, format!("Workflow {}", wf.spec().name), "workflows"),
        wf: workflow_head(wf, versions),
        stats,
        total,
        history: history.iter().rev().map(|v| version_row(v, tz)).collect(),
        form: form.unwrap_or_else(|| DefinitionForm::with_text(wf.to_toml())),
        base_version: wf.version(),
        can_manage: who.is_manager(),
        csrf: who.session.csrf.clone(),
    };
    Ok(html(status, &page))
}

pub async fn workflow<S: Store>(
    State(st): State<WebState<S>>,
    who: Current,
    Path(key): Path<String>,
) -> Result<Response, PageError> {
    let wf = find_workflow(&st, &who, &key).await?;
    render_workflow(&st, &who, &wf, None, StatusCode::OK).await
}

/// Saves an edited definition as the workflow's next version.
pub async fn save_workflow<S: Store>(
    State(st): State<WebState<S>>,
    who: Current,
    Path(key): Path<String>,
    form: Result<Form<DefinitionIn>, FormRejection>,
) -> Result<Response, PageError> {
    let form = who.manager_form(form)?;
    let current = find_workflow(&st, &who, &key).await?;
    let refuse =
        |form: DefinitionForm, status| render_workflow(&st, &who, &current, Some(form), status);
    let text = match definition_text(&form.definition) {
        Ok(t) => t,
        Err((text, why)) => {
            return refuse(
                DefinitionForm::refused(text, why),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let base = form
        .base_version
        .as_deref()
        .and_then(|v| v.trim().parse::<u32>().ok())
        .ok_or_else(|| {
            PageError::bad_request("The form lacks the version it edits. Reload the page.")
                .for_user(&who)
        })?;
    if base != current.version() {
        // Someone saved meanwhile: saving this text would silently undo their change.
        let why = format!(
            "The definition was not saved: version {} was stored after you opened version \
             {base}. Your text is kept below; compare it with the current version (export it), \
             then save again to replace it.",
            current.version()
        );
        return refuse(DefinitionForm::refused(text, why), StatusCode::CONFLICT).await;
    }
    let wf = match Workflow::from_toml(&text) {
        Ok(wf) => wf,
        Err(e) => return refuse(invalid_form(text, &e), StatusCode::UNPROCESSABLE_ENTITY).await,
    };
    if wf.key() != current.key() {
        let form = DefinitionForm {
            error: Some("The definition was not saved: it has a problem.".to_owned()),
            problems: vec![ProblemView {
                path: "key".to_owned(),
                message: format!(
                    "is '{}', but this page edits '{}'. To add a new workflow, import it on \
                     the Workflows page.",
                    wf.key(),
                    current.key()
                ),
            }],
            ..DefinitionForm::with_text(text)
        };
        return refuse(form, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let saved = st
        .app
        .engine
        .import_workflow(&who.principal.org, &text)
        .await;
    let version = match saved {
        Ok((_, version)) => version,
        Err(WorkflowError::Invalid(e)) => {
            return refuse(invalid_form(text, &e), StatusCode::UNPROCESSABLE_ENTITY).await;
        }
        Err(e) => return Err(PageError::internal(&e).for_user(&who)),
    };
    let text = if version == current.version() {
        format!(
            "Nothing changed: the definition is the same as version {version}, so no new \
             version was stored."
        )
    } else {
        format!(
            "Saved: version {version} of '{}' is now current. Messages already scheduled keep \
             the version they were scheduled from.",
            wf.spec().name
        )
    };
    flash(&st, &who, FlashKind::Success, text);
    Ok(Redirect::to(&format!("/app/workflows/{}", current.key())).into_response())
}

#[derive(Debug, Deserialize)]
pub struct EnabledIn {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    enabled: String,
}

/// Enables or disables a workflow: its current definition stored again as the next version
/// with `enabled` changed.
pub async fn set_enabled<S: Store>(
    State(st): State<WebState<S>>,
    who: Current,
    Path(key): Path<String>,
    form: Result<Form<EnabledIn>, FormRejection>,
) -> Result<Response, PageError> {
    let form = who.manager_form(form)?;
    let want = match form.enabled.as_str() {
        "true" => true,
        "false" => false,
        _ => {
            return Err(
                PageError::bad_request("Choose to enable or to disable the workflow.")
                    .for_user(&who),
            );
        }
    };
    let current = find_workflow(&st, &who, &key).await?;
    let name = current.spec().name.clone();
    let state = if want { "enabled" } else { "disabled" };
    let text = if current.enabled() == want {
        format!("Workflow '{name}' is {state} already; nothing changed.")
    } else {
        let mut spec = current.spec().clone();
        spec.enabled = want;
        let toml = Workflow::new(spec)
            .map_err(|e| PageError::internal(&e).for_user(&who))?
            .to_toml();
        let (_, version) = st
            .app
            .engine
            .import_workflow(&who.principal.org, &toml)
            .await
            .map_err(|e| PageError::internal(&e).for_user(&who))?;
        if want {
            format!(
                "Workflow '{name}' is enabled (version {version}): it schedules messages again \
                 from the bookings' next changes."
            )
        } else {
            format!(
                "Workflow '{name}' is disabled (version {version}): it schedules nothing new, \
                 and a booking's pending messages from it are cancelled at the booking's next \
                 change."
            )
        }
    };
    flash(&st, &who, FlashKind::Success, text);
    Ok(Redirect::to(&format!("/app/workflows/{}", current.key())).into_response())
}

/// The current definition as a TOML file to download.
pub async fn export_workflow<S: Store>(
    State(st): State<WebState<S>>,
    who: Current,
    Path(key): Path<String>,
) -> Result<Response, PageError> {
    let wanted = WorkflowKey::parse(&key).map_err(|_| no_such_workflow(&who))?;
    let (key, toml) = st
        .app
        .engine
        .export_workflows(&who.principal.org)
        .await
        .map_err(internal(&who))?
        .into_iter()
        .find(|(k, _)| k == wanted.as_str())
        .ok_or_else(|| no_such_workflow(&who))?;
    // The key is a slug (lowercase letters, digits, '-' and '_'): safe in a header as it is.
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{key}.toml\""))
        .map_err(|e| PageError::internal(&e).for_user(&who))?;
    let mut res = toml.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/toml; charset=utf-8"),
    );
    h.insert(header::CONTENT_DISPOSITION, disposition);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(res)
}

// ---------------------------------------------------------------------------------------------
// A booking's workflow

fn no_such_booking(who: &Current) -> PageError {
    PageError::not_found("There is no such booking.").for_user(who)
}

fn workflow_failure(who: &Current) -> impl Fn(WorkflowError) -> PageError + '_ {
    move |e| match e {
        WorkflowError::EventNotFound(_) => no_such_booking(who),
        other => PageError::internal(&other).for_user(who),
    }
}

/// The booking page's automation section: which workflow runs and why, the override, and the
/// messages to come.
pub(super) async fn booking_automation<S: Store>(
    st: &WebState<S>,
    who: &Current,
    event_id: &EventId,
    tz: &TimeZone,
) -> Result<AutomationView, PageError> {
    let engine = &st.app.engine;
    let org = &who.principal.org;
    let resolved = engine
        .resolve_workflow(org, event_id)
        .await
        .map_err(workflow_failure(who))?;
    let preview = engine
        .preview_workflows(org, event_id, None)
        .await
        .map_err(workflow_failure(who))?;
    let booking = engine
        .store()
        .booking_automation(org, event_id)
        .await
        .map_err(internal(who))?;
    let workflows = current_workflows(st, who).await?;
    let settings = engine
        .automation_settings(org)
        .await
        .map_err(internal(who))?;
    let now = engine.clock().now();
    let upcoming = preview
        .upcoming
        .iter()
        .map(|u| {
            let job = booking.jobs.iter().find(|j| j.id == u.job);
            upcoming_row(u, job.and_then(|j| planned_at(j, &settings, now)), tz)
        })
        .collect();
    Ok(automation_view(
        &resolved.resolution,
        &workflows,
        booking.override_.as_ref(),
        upcoming,
    ))
}

#[derive(Debug, Deserialize)]
pub struct OverrideIn {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    choice: String,
}

/// Sets, changes or removes a manager's override of the booking's workflow.
pub async fn set_override<S: Store>(
    State(st): State<WebState<S>>,
    who: Current,
    Path(id): Path<String>,
    form: Result<Form<OverrideIn>, FormRejection>,
) -> Result<Response, PageError> {
    let form = who.manager_form(form)?;
    let event_id = EventId::parse(&id).map_err(|_| no_such_booking(&who))?;
    let value = match form.choice.trim() {
        CHOICE_RULES => None,
        CHOICE_NONE => Some(Override::Clear),
        other => {
            let unknown = || {
                PageError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "No such workflow",
                    "The workflow chosen does not exist in this organization. Reload the \
                     booking and choose again.",
                )
                .for_user(&who)
            };
            let raw = other.strip_prefix(CHOICE_WORKFLOW).ok_or_else(|| {
                PageError::bad_request(
                    "Choose a workflow, no workflow, or no override for this booking.",
                )
                .for_user(&who)
            })?;
            let key = WorkflowKey::parse(raw).map_err(|_| unknown())?;
            let workflows = current_workflows(&st, &who).await?;
            if !workflows.iter().any(|w| w.key() == &key) {
                return Err(unknown());
            }
            Some(Override::Manual { workflow: key })
        }
    };
    let engine = &st.app.engine;
    let org = &who.principal.org;
    engine
        .set_workflow_override(org, &event_id, value.as_ref())
        .await
        .map_err(workflow_failure(&who))?;
    let resolved = engine
        .resolve_workflow(org, &event_id)
        .await
        .map_err(workflow_failure(&who))?;
    let done = if value.is_some() {
        "Override saved"
    } else {
        "Override removed"
    };
    let outcome = match &resolved.resolution.workflow {
        Some(key) => format!("the booking runs workflow '{key}'"),
        None => "no workflow runs for the booking".to_owned(),
    };
    flash(
        &st,
        &who,
        FlashKind::Success,
        format!(
            "{done}: {outcome} ({}). It takes effect with the booking's next change.",
            resolved.resolution.reason
        ),
    );
    Ok(Redirect::to(&format!("/app/events/{event_id}#automation")).into_response())
}

// ---------------------------------------------------------------------------------------------
// Dead letters

pub async fn dead_letters<S: Store>(
    State(st): State<WebState<S>>,
    who: Current,
) -> Result<Response, PageError> {
    let mut rows = st
        .app
        .engine
        .store()
        .list_outbox(&who.principal.org, Some(JobStatus::Dead), DEAD_LIMIT + 1)
        .await
        .map_err(internal(&who))?;
    let note = (rows.len() > DEAD_LIMIT as usize).then(|| {
        rows.truncate(DEAD_LIMIT as usize);
        format!(
            "Only the latest {DEAD_LIMIT} dead letters are listed; older ones appear as these \
             are handled (openevent outbox list --status dead lists them all)."
        )
    });
    let venue = venue_of(&st, &who).await?;
    let tz = venue.venue.time_zone();
    let page = DeadPage {
        chrome: who.chrome(&st, "Dead letters", "dead"),
        rows: rows
            .iter()
            .map(|o| dead_row(o, encode(&o.job_id), tz))
            .collect(),
        note,
        can_manage: who.is_manager(),
        csrf: who.session.csrf.clone(),
    };
    Ok(html(StatusCode::OK, &page))
}

/// A job id from the path: any short text without control characters (ids are minted by the
/// store; anything else cannot exist).
fn job_id(who: &Current, raw: &str) -> Result<String, PageError> {
    let id = raw.trim();
    if id.is_empty() || id.len() > 200 || id.chars().any(char::is_control) {
        return Err(
            PageError::not_found("There is no such job in this organization's outbox.")
                .for_user(who),
        );
    }
    Ok(id.to_owned())
}

/// Why a requeue or abandon found no dead job: the job's status when it exists, else 404.
async fn not_dead<S: Store>(st: &WebState<S>, who: &Current, job_id: &str) -> PageError {
    let rows = match st
        .app
        .engine
        .store()
        .list_outbox(&who.principal.org, None, OUTBOX_SCAN)
        .await
    {
        Ok(rows) => rows,
        Err(e) => return PageError::internal(&e).for_user(who),
    };
    match rows.iter().find(|r| r.job_id == job_id) {
        Some(row) => PageError::new(
            StatusCode::CONFLICT,
            "Not a dead letter",
            format!(
                "Job {job_id} is not dead (its status is {}), so nothing was changed. Only dead \
                 jobs can be requeued or abandoned; someone may have handled this one already.",
                status_label(row.status).to_lowercase()
            ),
        )
        .for_user(who),
        None => PageError::not_found(format!(
            "There is no dead job {job_id} in this organization's outbox, so nothing was \
             changed."
        ))
        .for_user(who),
    }
}

pub async fn requeue<S: Store>(
    State(st): State<WebState<S>>,
    who: Current,
    Path(id): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, PageError> {
    let sent = form.map(|Form(f)| f.csrf).unwrap_or_default();
    who.check_csrf(&sent)?;
    who.require_manager()?;
    let job_id = job_id(&who, &id)?;
    match st.app.engine.requeue_job(&who.principal.org, &job_id).await {
        Ok(()) => {}
        Err(StoreError::NotFound(_)) => return Err(not_dead(&st, &who, &job_id).await),
        Err(e) => return Err(PageError::internal(&e).for_user(&who)),
    }
    flash(
        &st,
        &who,
        FlashKind::Success,
        format!(
            "Job {job_id} is queued again with a fresh count of attempts: the dispatcher sends \
             it at its next run."
        ),
    );
    Ok(Redirect::to("/app/outbox/dead").into_response())
}

#[derive(Debug, Deserialize)]
pub struct AbandonIn {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

pub async fn abandon<S: Store>(
    State(st): State<WebState<S>>,
    who: Current,
    Path(id): Path<String>,
    form: Result<Form<AbandonIn>, FormRejection>,
) -> Result<Response, PageError> {
    let form = who.manager_form(form)?;
    let job_id = job_id(&who, &id)?;
    let reason = form.reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        flash(
            &st,
            &who,
            FlashKind::Error,
            format!(
                "Job {job_id} was not abandoned: give a reason of 1 to {MAX_REASON_CHARS} \
                 characters."
            ),
        );
        return Ok(Redirect::to("/app/outbox/dead").into_response());
    }
    match st
        .app
        .engine
        .abandon_job(&who.principal.org, &job_id, reason)
        .await
    {
        Ok(()) => {}
        Err(StoreError::NotFound(_)) => return Err(not_dead(&st, &who, &job_id).await),
        Err(e) => return Err(PageError::internal(&e).for_user(&who)),
    }
    flash(
        &st,
        &who,
        FlashKind::Success,
        format!("Job {job_id} is abandoned: it will not be sent. The reason is recorded."),
    );
    Ok(Redirect::to("/app/outbox/dead").into_response())
}

super::has_csrf!(DefinitionIn, EnabledIn, OverrideIn, AbandonIn);
