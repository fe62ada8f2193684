//! The handlers. Each reads its organization from the token, validates its input into typed
//! values (422 naming the field) and calls the engine.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use jiff::Timestamp;
use openevent_core::effects::TaskStatus;
use openevent_core::event::{Status, Step};
use openevent_core::hash::sha256_hex;
use openevent_core::ids::{ClientEmail, EventId, MessageId, TaskId};
use openevent_core::message::InboundMessage;
use openevent_core::workflow::Decision;
use openevent_service::{Clock, DecisionError, IngestError, IngestReport};
use openevent_store::{EventFilter, EventListItem, Store, TaskFilter, TaskView};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::Principal;
use crate::body::{JsonBody, RawMessage};
use crate::problem::Problem;

type Reply<T> = Result<Json<T>, Problem>;

pub async fn not_found() -> Problem {
    Problem::not_found("no such route")
}

pub async fn healthz() -> &'static str {
    "ok"
}

/// Ready when the database answers and its schema is the one this build expects.
pub async fn readyz<S: Store>(State(app): State<AppState<S>>) -> Result<&'static str, Problem> {
    let known = openevent_store::SqlStore::known_schema_version();
    match app.engine.store().schema_version().await {
        Ok(v) if v == known => Ok("ready"),
        Ok(v) => Err(Problem::unavailable(format!(
            "database schema at version {v}, this build expects {known}"
        ))),
        Err(e) => Err(Problem::unavailable(format!("database unavailable: {e}"))),
    }
}

/// A client message posted as JSON by an integration (a web form, a chat widget).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageIn {
    from_email: String,
    from_name: Option<String>,
    subject: Option<String>,
    body: String,
    message_id: Option<String>,
    in_reply_to: Option<String>,
    received_at: Option<String>,
}

const MAX_NAME: usize = 200;
const MAX_SUBJECT: usize = 1000;

impl MessageIn {
    fn into_message(self, raw: &[u8]) -> Result<InboundMessage, Problem> {
        let from = ClientEmail::parse(&self.from_email)
            .map_err(|e| Problem::invalid("from_email", e.to_string()))?;
        let single_line = |field: &'static str, v: Option<String>, max: usize| {
            v.map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .map(|s| {
                    if s.chars().any(char::is_control) {
                        Err(Problem::invalid(
                            field,
                            "must be one line without control characters",
                        ))
                    } else if s.chars().count() > max {
                        Err(Problem::invalid(
                            field,
                            format!("longer than {max} characters"),
                        ))
                    } else {
                        Ok(s)
                    }
                })
                .transpose()
        };
        let from_name = single_line("from_name", self.from_name, MAX_NAME)?;
        let subject = single_line("subject", self.subject, MAX_SUBJECT)?.unwrap_or_default();
        if self.body.trim().is_empty() {
            return Err(Problem::invalid("body", "the message body is empty"));
        }
        let sent_at = self
            .received_at
            .map(|t| {
                t.parse::<Timestamp>().map_err(|e| {
                    Problem::invalid("received_at", format!("not an RFC 3339 instant: {e}"))
                })
            })
            .transpose()?;
        let in_reply_to = self
            .in_reply_to
            .map(|m| {
                MessageId::parse(&m).map_err(|e| Problem::invalid("in_reply_to", e.to_string()))
            })
            .transpose()?;
        // Without a Message-ID the same posted content is the same message, so a retried POST
        // is recognised as a duplicate.
        let (message_id, derived) = match self.message_id {
            Some(m) => (
                MessageId::parse(&m).map_err(|e| Problem::invalid("message_id", e.to_string()))?,
                false,
            ),
            None => (MessageId::derived_from_content(&sha256_hex(raw)), true),
        };
        Ok(InboundMessage {
            message_id,
            message_id_derived: derived,
            from,
            from_name,
            subject,
            body_text: self.body,
            sent_at,
            references: in_reply_to.iter().cloned().collect(),
            in_reply_to,
            attachments: Vec::new(),
        })
    }
}

fn ingest_problem(e: IngestError) -> Problem {
    match e {
        IngestError::Mail(m) => Problem::invalid("message", m.to_string()),
        IngestError::TooMuchContention(_) => Problem::conflict(e.to_string()),
        other => Problem::internal(&other),
    }
}

pub async fn post_message<S: Store>(
    State(app): State<AppState<S>>,
    who: Principal,
    JsonBody(input): JsonBody<MessageIn>,
) -> Reply<IngestReport> {
    who.require_manager()?;
    // The stored raw form of a posted message is its canonical JSON.
    let raw = serde_json::to_vec(&input).map_err(|e| Problem::bad_request(e.to_string()))?;
    let message = input.into_message(&raw)?;
    let report = app
        .engine
        .ingest(&who.org, &message, &raw)
        .await
        .map_err(ingest_problem)?;
    Ok(Json(report))
}

pub async fn post_raw_message<S: Store>(
    State(app): State<AppState<S>>,
    who: Principal,
    RawMessage(raw): RawMessage,
) -> Reply<IngestReport> {
    who.require_manager()?;
    let report = app
        .engine
        .ingest_raw(&who.org, &raw)
        .await
        .map_err(ingest_problem)?;
    Ok(Json(report))
}

fn event_id(raw: &str) -> Result<EventId, Problem> {
    // A malformed id cannot exist, in this organization or any other.
    EventId::parse(raw).map_err(|_| Problem::not_found(format!("no event {raw}")))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventQuery {
    status: Option<String>,
    step: Option<u8>,
    q: Option<String>,
    limit: Option<u32>,
    offset: Option<u32>,
}

#[derive(Debug, Serialize)]
pub struct Page<T> {
    items: Vec<T>,
    limit: u32,
    offset: u32,
    /// The offset of the next page, absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_offset: Option<u32>,
}

fn page<T>(mut items: Vec<T>, limit: u32, offset: u32) -> Page<T> {
    // One row more than the page was asked for tells whether another page exists.
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    Page {
        items,
        limit,
        offset,
        next_offset: more.then(|| offset + limit),
    }
}

fn query_problem(e: axum::extract::rejection::QueryRejection) -> Problem {
    let text = e.body_text();
    let field = text
        .split("unknown field `")
        .nth(1)
        .or_else(|| text.split("field `").nth(1))
        .and_then(|r| r.split('`').next())
        .unwrap_or("query");
    Problem::invalid(field, text.clone())
}

pub async fn list_events<S: Store>(
    State(app): State<AppState<S>>,
    who: Principal,
    query: Result<Query<EventQuery>, axum::extract::rejection::QueryRejection>,
) -> Reply<Page<EventListItem>> {
    let Query(q) = query.map_err(query_problem)?;
    let status = q
        .status
        .as_deref()
        .map(|s| Status::parse(s).map_err(|e| Problem::invalid("status", e.to_string())))
        .transpose()?;
    let step = q
        .step
        .map(|n| Step::try_from(n).map_err(|e| Problem::invalid("step", e.to_string())))
        .transpose()?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(Problem::invalid("limit", "between 1 and 200"));
    }
    let offset = q.offset.unwrap_or(0);
    let items = app
        .engine
        .store()
        .list_events(
            &who.org,
            EventFilter {
                status,
                step,
                q: q.q.as_deref(),
                limit: limit + 1,
                offset,
            },
        )
        .await
        .map_err(|e| Problem::internal(&e))?;
    Ok(Json(page(items, limit, offset)))
}

pub async fn get_event<S: Store>(
    State(app): State<AppState<S>>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, Problem> {
    let id = event_id(&id)?;
    let view = app
        .engine
        .event_view(&who.org, &id)
        .await
        .map_err(|e| Problem::internal(&e))?
        .ok_or_else(|| Problem::not_found(format!("no event {id}")))?;
    Ok(Json(view))
}

#[derive(Debug, Serialize)]
pub struct Timeline {
    event_id: EventId,
    entries: Vec<openevent_core::AuditEntry>,
    tasks: Vec<TaskView>,
}

pub async fn event_timeline<S: Store>(
    State(app): State<AppState<S>>,
    who: Principal,
    Path(id): Path<String>,
) -> Reply<Timeline> {
    let id = event_id(&id)?;
    let store = app.engine.store();
    if store
        .load_event(&who.org, &id)
        .await
        .map_err(|e| Problem::internal(&e))?
        .is_none()
    {
        return Err(Problem::not_found(format!("no event {id}")));
    }
    let entries = store
        .event_audit(&who.org, &id)
        .await
        .map_err(|e| Problem::internal(&e))?;
    let mut tasks = store
        .list_tasks(
            &who.org,
            TaskFilter {
                status: None,
                event_id: Some(&id),
                limit: 500,
            },
        )
        .await
        .map_err(|e| Problem::internal(&e))?;
    tasks.reverse();
    Ok(Json(Timeline {
        event_id: id,
        entries,
        tasks,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskQuery {
    status: Option<String>,
    event_id: Option<String>,
    limit: Option<u32>,
}

pub async fn list_tasks<S: Store>(
    State(app): State<AppState<S>>,
    who: Principal,
    query: Result<Query<TaskQuery>, axum::extract::rejection::QueryRejection>,
) -> Reply<Vec<TaskView>> {
    let Query(q) = query.map_err(query_problem)?;
    let status = q
        .status
        .as_deref()
        .map(|s| {
            TaskStatus::parse(s).ok_or_else(|| {
                Problem::invalid("status", "one of pending, approved, rejected, superseded")
            })
        })
        .transpose()?;
    let event = q
        .event_id
        .as_deref()
        .map(|e| EventId::parse(e).map_err(|err| Problem::invalid("event_id", err.to_string())))
        .transpose()?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(Problem::invalid("limit", "between 1 and 500"));
    }
    let tasks = app
        .engine
        .store()
        .list_tasks(
            &who.org,
            TaskFilter {
                status,
                event_id: event.as_ref(),
                limit,
            },
        )
        .await
        .map_err(|e| Problem::internal(&e))?;
    Ok(Json(tasks))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproveIn {
    edited_body: Option<String>,
    notes: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectIn {
    reason: String,
}

async fn decide<S: Store>(
    app: &AppState<S>,
    who: &Principal,
    id: &str,
    decision: Decision,
) -> Result<Json<openevent_service::DecisionReport>, Problem> {
    who.require_manager()?;
    let task_id = TaskId::parse(id).map_err(|_| Problem::not_found(format!("no task {id}")))?;
    app.engine
        .decide_task(&who.org, &task_id, decision)
        .await
        .map(Json)
        .map_err(|e| match e {
            DecisionError::NotFound(_) => Problem::not_found(e.to_string()),
            DecisionError::AlreadyDecided { .. } | DecisionError::TooMuchContention(_) => {
                Problem::conflict(e.to_string())
            }
            DecisionError::Invalid(inner) => {
                let field = match inner {
                    openevent_core::workflow::DecisionError::EmptyReason => "reason",
                    _ => "edited_body",
                };
                Problem::invalid(field, inner.to_string())
            }
            DecisionError::Store(s) => Problem::internal(&s),
        })
}

pub async fn approve_task<S: Store>(
    State(app): State<AppState<S>>,
    who: Principal,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<ApproveIn>,
) -> Result<impl IntoResponse, Problem> {
    decide(
        &app,
        &who,
        &id,
        Decision::Approve {
            edited_body: input.edited_body,
            notes: input.notes,
        },
    )
    .await
}

pub async fn reject_task<S: Store>(
    State(app): State<AppState<S>>,
    who: Principal,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<RejectIn>,
) -> Result<impl IntoResponse, Problem> {
    decide(
        &app,
        &who,
        &id,
        Decision::Reject {
            reason: input.reason,
        },
    )
    .await
}

pub async fn client_context<S: Store>(
    State(app): State<AppState<S>>,
    who: Principal,
    Path(email): Path<String>,
) -> Result<impl IntoResponse, Problem> {
    let email =
        ClientEmail::parse(&email).map_err(|_| Problem::not_found(format!("no client {email}")))?;
    let context = app
        .engine
        .client_context(&who.org, &email)
        .await
        .map_err(|e| Problem::internal(&e))?
        .ok_or_else(|| Problem::not_found(format!("no client {email}")))?;
    Ok((StatusCode::OK, Json(context)))
}

/// The booking as an iCalendar file (RFC 5545), for calendar programs.
pub async fn event_calendar<S: Store>(
    State(app): State<AppState<S>>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, Problem> {
    let id = event_id(&id)?;
    let stored = app
        .engine
        .store()
        .load_event(&who.org, &id)
        .await
        .map_err(|e| Problem::internal(&e))?
        .ok_or_else(|| Problem::not_found(format!("no event {id}")))?;
    let venue = app
        .engine
        .venue_of(&who.org)
        .await
        .map_err(|e| Problem::internal(&e))?;
    let ics = openevent_core::ics::render(&stored.event, &venue.venue, app.engine.clock().now())
        .ok_or_else(|| Problem::conflict(format!("event {id} has no date yet")))?;
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/calendar; charset=utf-8",
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                "attachment; filename=\"booking.ics\"",
            ),
        ],
        ics,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdvanceClock {
    advance_seconds: i64,
}

#[derive(Debug, Serialize)]
pub struct ClockNow {
    now: Timestamp,
}

/// Acceptance tests only (`serve --test-clock`): moves the server's clock forward.
pub async fn advance_test_clock<S: Store>(
    State(app): State<AppState<S>>,
    who: Principal,
    JsonBody(input): JsonBody<AdvanceClock>,
) -> Reply<ClockNow> {
    who.require_manager()?;
    let clock = app
        .test_clock
        .as_ref()
        .ok_or_else(|| Problem::not_found("no such route"))?;
    if !(0..=10 * 366 * 86_400).contains(&input.advance_seconds) {
        return Err(Problem::invalid(
            "advance_seconds",
            "between 0 and ten years, in seconds (time only moves forward)",
        ));
    }
    clock.advance(jiff::SignedDuration::from_secs(input.advance_seconds));
    Ok(Json(ClockNow { now: clock.now() }))
}

/// The organization's venue: rooms, products, policies.
pub async fn get_venue<S: Store>(
    State(app): State<AppState<S>>,
    who: Principal,
) -> Result<impl IntoResponse, Problem> {
    let venue = app
        .engine
        .venue_of(&who.org)
        .await
        .map_err(|e| Problem::internal(&e))?;
    Ok(Json(serde_json::json!({
        "revision": venue.revision,
        "source": if venue.revision.is_some() { "organization" } else { "server" },
        "venue": venue.venue.spec(),
    })))
}

/// Replaces the organization's venue (manager); validated as a venue file is, each problem
/// naming its field.
pub async fn put_venue<S: Store>(
    State(app): State<AppState<S>>,
    who: Principal,
    JsonBody(spec): JsonBody<openevent_core::venue::VenueSpec>,
) -> Result<impl IntoResponse, Problem> {
    who.require_manager()?;
    match app.engine.save_venue(&who.org, spec).await {
        Ok(revision) => {
            let venue = app
                .engine
                .venue_of(&who.org)
                .await
                .map_err(|e| Problem::internal(&e))?;
            Ok(Json(serde_json::json!({
                "revision": revision,
                "source": "organization",
                "venue": venue.venue.spec(),
            })))
        }
        Err(openevent_service::VenueSaveError::Invalid(e)) => Err(match &e {
            openevent_core::venue::VenueError::Invalid(problems) if !problems.is_empty() => {
                Problem::invalid(problems[0].field.clone(), e.to_string())
            }
            _ => Problem::invalid("venue", e.to_string()),
        }),
        Err(openevent_service::VenueSaveError::Store(e)) => Err(Problem::internal(&e)),
    }
}
