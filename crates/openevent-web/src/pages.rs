//! The handlers. Each page reads its organization from the session's token, never from the
//! request; every POST checks the session's CSRF token before anything else.

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, extract::rejection::QueryRejection};
use openevent_core::effects::TaskStatus;
use openevent_core::event::{Status, Step};
use openevent_core::ids::{EventId, TaskId};
use openevent_core::workflow::Decision;
use openevent_http::{Principal, token_hash};
use openevent_service::DecisionError;
use openevent_store::{EventFilter, Role, Store, TaskFilter};
use serde::Deserialize;

use crate::WebState;
use crate::session::{
    Flash, FlashKind, LOGIN_CSRF_COOKIE, SESSION_COOKIE, SessionData, cookie, random_token,
    same_secret, set_cookie,
};
use crate::views::{
    self, Chrome, ErrorPage, EventPage, EventsPage, InboxPage, LoginPage, UserView,
};

const EVENTS_PER_PAGE: u32 = 25;
const INBOX_LIMIT: u32 = 200;
const LOGIN_CSRF_MAX_AGE: u64 = 60 * 60;

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// An HTML response with the headers every page carries.
fn html(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => {
            let mut res = (status, body).into_response();
            let h = res.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            );
            h.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            h.insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("same-origin"),
            );
            res
        }
        Err(e) => {
            tracing::error!(error = %e, "a page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page failed to render",
            )
                .into_response()
        }
    }
}

fn with_cookie(mut res: Response, value: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(value) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// A friendly error page with the right status.
pub(crate) struct PageError {
    status: StatusCode,
    heading: &'static str,
    message: String,
    user: Option<UserView>,
}

impl PageError {
    fn new(status: StatusCode, heading: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            heading,
            message: message.into(),
            user: None,
        }
    }

    fn not_found(what: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not found", what)
    }

    fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "Not allowed", message)
    }

    fn bad_csrf() -> Self {
        Self::forbidden(
            "The form was not accepted: its security token is missing or out of date. \
             Reload the page and try again.",
        )
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "That request is not valid",
            message,
        )
    }

    fn internal(e: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %e, "a web page failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "The page could not be shown. The error was logged; please try again later.",
        )
    }

    fn for_user(mut self, who: &Current) -> Self {
        self.user = Some(who.user_view());
        self
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let page = ErrorPage {
            chrome: Chrome {
                title: self.heading.to_owned(),
                nav: "",
                user: self.user,
                flash: None,
            },
            code: self.status.as_u16(),
            heading: self.heading.to_owned(),
            message: self.message,
        };
        html(self.status, &page)
    }
}

/// The signed-in user of a request: the token's principal, re-checked against the store.
pub(crate) struct Current {
    pub principal: Principal,
    pub session: SessionData,
}

impl Current {
    fn user_view(&self) -> UserView {
        UserView {
            org: self.principal.org.to_string(),
            role: self.principal.role.as_str(),
            csrf: self.session.csrf.clone(),
        }
    }

    fn chrome<S>(&self, st: &WebState<S>, title: impl Into<String>, nav: &'static str) -> Chrome {
        Chrome {
            title: title.into(),
            nav,
            user: Some(self.user_view()),
            flash: st.sessions.take_flash(&self.session.id).map(Into::into),
        }
    }

    fn is_manager(&self) -> bool {
        self.principal.role == Role::Manager
    }

    fn check_csrf(&self, sent: &str) -> Result<(), PageError> {
        if same_secret(sent, &self.session.csrf) {
            Ok(())
        } else {
            Err(PageError::bad_csrf().for_user(self))
        }
    }

    fn require_manager(&self) -> Result<(), PageError> {
        if self.is_manager() {
            Ok(())
        } else {
            Err(PageError::forbidden(
                "Your token may only read: approving and rejecting need a manager token.",
            )
            .for_user(self))
        }
    }
}

async fn current_user<S: Store>(
    st: &WebState<S>,
    headers: &HeaderMap,
) -> Result<Option<Current>, PageError> {
    let Some(id) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let Some(session) = st.sessions.touch(id) else {
        return Ok(None);
    };
    // The token is looked up on every request: revoking it ends the session at once.
    let record = st
        .app
        .engine
        .store()
        .find_token(&session.token_hash)
        .await
        .map_err(|e| PageError::internal(&e))?;
    match record {
        Some(r) => Ok(Some(Current {
            principal: Principal {
                org: r.org,
                role: r.role,
                token_id: r.token_id,
            },
            session,
        })),
        None => {
            st.sessions.remove(&session.id);
            Ok(None)
        }
    }
}

impl<S: Store> FromRequestParts<WebState<S>> for Current {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        st: &WebState<S>,
    ) -> Result<Self, Self::Rejection> {
        match current_user(st, &parts.headers).await {
            Ok(Some(c)) => Ok(c),
            Ok(None) => Err(Redirect::to("/login").into_response()),
            Err(e) => Err(e.into_response()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sign-in and sign-out

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    signed_out: Option<String>,
}

fn login_csrf(headers: &HeaderMap) -> Result<String, PageError> {
    // Reuse the browser's pending token so that two open sign-in tabs both work.
    match cookie(headers, LOGIN_CSRF_COOKIE)
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        Some(existing) => Ok(existing.to_owned()),
        None => random_token().map_err(|e| PageError::internal(&e)),
    }
}

fn login_page<S>(
    st: &WebState<S>,
    status: StatusCode,
    csrf: String,
    error: Option<String>,
    notice: Option<String>,
) -> Response {
    let cookie_value = set_cookie(
        LOGIN_CSRF_COOKIE,
        &csrf,
        Some(LOGIN_CSRF_MAX_AGE),
        st.config.secure_cookies,
    );
    let page = LoginPage {
        chrome: Chrome {
            title: "Sign in".into(),
            nav: "",
            user: None,
            flash: None,
        },
        csrf,
        error,
        notice,
    };
    with_cookie(html(status, &page), &cookie_value)
}

pub async fn login_form<S: Store>(
    State(st): State<WebState<S>>,
    headers: HeaderMap,
    query: Result<Query<LoginQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    if current_user(&st, &headers).await?.is_some() {
        return Ok(Redirect::to("/app").into_response());
    }
    let notice = query
        .ok()
        .and_then(|Query(q)| q.signed_out)
        .map(|_| "You are signed out.".to_owned());
    let csrf = login_csrf(&headers)?;
    Ok(login_page(&st, StatusCode::OK, csrf, None, notice))
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    csrf: String,
}

pub async fn login<S: Store>(
    State(st): State<WebState<S>>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Ok(Form(form)) = form else {
        return Err(PageError::bad_csrf());
    };
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if !same_secret(&form.csrf, expected) {
        return Err(PageError::bad_csrf());
    }
    let token = form.token.trim();
    let hash = token_hash(token);
    let record = if token.starts_with("oet_") && token.len() < 200 {
        st.app
            .engine
            .store()
            .find_token(&hash)
            .await
            .map_err(|e| PageError::internal(&e))?
    } else {
        None
    };
    if record.is_none() {
        return Ok(login_page(
            &st,
            StatusCode::UNPROCESSABLE_ENTITY,
            form.csrf,
            Some("That token is not valid: it is unknown or was revoked.".into()),
            None,
        ));
    }
    // A fresh session id at every sign-in: an id planted before sign-in is worth nothing.
    if let Some(old) = cookie(&headers, SESSION_COOKIE) {
        st.sessions.remove(old);
    }
    let id = st
        .sessions
        .create(hash)
        .map_err(|e| PageError::internal(&e))?;
    let secure = st.config.secure_cookies;
    let res = Redirect::to("/app").into_response();
    let res = with_cookie(res, &set_cookie(SESSION_COOKIE, &id, None, secure));
    Ok(with_cookie(
        res,
        &set_cookie(LOGIN_CSRF_COOKIE, "", Some(0), secure),
    ))
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub async fn logout<S: Store>(
    State(st): State<WebState<S>>,
    who: Current,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, PageError> {
    let sent = form.map(|Form(f)| f.csrf).unwrap_or_default();
    who.check_csrf(&sent)?;
    st.sessions.remove(&who.session.id);
    let res = Redirect::to("/login?signed_out=1").into_response();
    Ok(with_cookie(
        res,
        &set_cookie(SESSION_COOKIE, "", Some(0), st.config.secure_cookies),
    ))
}

// ---------------------------------------------------------------------------------------------
// The inbox and decisions

pub async fn inbox<S: Store>(
    State(st): State<WebState<S>>,
    who: Current,
) -> Result<Response, PageError> {
    let tasks = st
        .app
        .engine
        .store()
        .list_tasks(
            &who.principal.org,
            TaskFilter {
                status: Some(TaskStatus::Pending),
                event_id: None,
                limit: INBOX_LIMIT,
            },
        )
        .await
        .map_err(|e| PageError::internal(&e).for_user(&who))?;
    let tz = st.app.engine.venue().time_zone();
    let page = InboxPage {
        chrome: who.chrome(&st, "Inbox", "inbox"),
        tasks: tasks.iter().map(|t| views::task_card(t, tz)).collect(),
        can_decide: who.is_manager(),
        csrf: who.session.csrf.clone(),
        next: "/app".into(),
    };
    Ok(html(StatusCode::OK, &page))
}

#[derive(Debug, Deserialize)]
pub struct ApproveForm {
    #[serde(default)]
    csrf: String,
    next: Option<String>,
    edited_body: Option<String>,
    notes: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct RejectForm {
    #[serde(default)]
    csrf: String,
    next: Option<String>,
    #[serde(default)]
    reason: String,
}

/// Where to go after a decision: a page of this app, never another site.
fn back_to(next: Option<&str>) -> String {
    match next {
        Some(n)
            if (n == "/app" || n.starts_with("/app/"))
                && !n.contains("//")
                && !n.contains('\\')
                && n.chars().all(|c| c.is_ascii_graphic()) =>
        {
            n.to_owned()
        }
        _ => "/app".to_owned(),
    }
}

/// Browsers send textarea lines ending in CRLF.
fn normalise_newlines(s: &str) -> String {
    s.replace("\r\n", "\n")
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

pub async fn approve<S: Store>(
    State(st): State<WebState<S>>,
    who: Current,
    Path(id): Path<String>,
    form: Result<Form<ApproveForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Ok(Form(form)) = form else {
        return Err(PageError::bad_csrf().for_user(&who));
    };
    who.check_csrf(&form.csrf)?;
    who.require_manager()?;
    let task_id = parse_task_id(&who, &id)?;
    // The edit box starts with the draft: sent back unchanged, it is no edit.
    let mut edited_body = form
        .edited_body
        .map(|b| normalise_newlines(&b))
        .filter(|b| !b.trim().is_empty());
    if let Some(edited) = &edited_body {
        let loaded = st
            .app
            .engine
            .store()
            .load_task(&who.principal.org, &task_id)
            .await
            .map_err(|e| PageError::internal(&e).for_user(&who))?;
        let draft_body = loaded.and_then(|(_, d)| d).map(|d| d.body);
        if draft_body.is_some_and(|d| d.trim_end() == edited.trim_end()) {
            edited_body = None;
        }
    }
    let decision = Decision::Approve {
        edited_body,
        notes: non_empty(form.notes),
    };
    decide(&st, &who, &task_id, decision, form.next.as_deref()).await
}

pub async fn reject<S: Store>(
    State(st): State<WebState<S>>,
    who: Current,
    Path(id): Path<String>,
    form: Result<Form<RejectForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Ok(Form(form)) = form else {
        return Err(PageError::bad_csrf().for_user(&who));
    };
    who.check_csrf(&form.csrf)?;
    who.require_manager()?;
    let task_id = parse_task_id(&who, &id)?;
    let decision = Decision::Reject {
        reason: form.reason.trim().to_owned(),
    };
    decide(&st, &who, &task_id, decision, form.next.as_deref()).await
}

fn parse_task_id(who: &Current, raw: &str) -> Result<TaskId, PageError> {
    // A malformed id cannot exist, in this organization or any other.
    TaskId::parse(raw).map_err(|_| PageError::not_found("There is no such task.").for_user(who))
}

async fn decide<S: Store>(
    st: &WebState<S>,
    who: &Current,
    task_id: &TaskId,
    decision: Decision,
    next: Option<&str>,
) -> Result<Response, PageError> {
    let approving = matches!(decision, Decision::Approve { .. });
    let next = back_to(next);
    let outcome = st
        .app
        .engine
        .decide_task(&who.principal.org, task_id, decision)
        .await;
    let flash = match outcome {
        Ok(report) => {
            let mut text = if approving {
                format!("Task {task_id} approved.")
            } else {
                format!("Task {task_id} rejected.")
            };
            match report.queued_emails {
                0 => {}
                1 => text.push_str(" 1 email is queued for sending."),
                n => text.push_str(&format!(" {n} emails are queued for sending.")),
            }
            if !report.new_tasks.is_empty() {
                text.push_str(" New tasks are waiting in the inbox.");
            }
            Flash {
                kind: FlashKind::Success,
                text,
            }
        }
        Err(DecisionError::NotFound(_)) => {
            return Err(PageError::not_found("There is no such task.").for_user(who));
        }
        Err(DecisionError::AlreadyDecided { status, .. }) => {
            let mut e = PageError::new(
                StatusCode::CONFLICT,
                "Already decided",
                format!(
                    "Task {task_id} was already {status}, so nothing was changed. Someone else \
                     may have decided it, or the form was sent twice."
                ),
            );
            e.user = Some(who.user_view());
            return Err(e);
        }
        Err(DecisionError::TooMuchContention(_)) => {
            let mut e = PageError::new(
                StatusCode::CONFLICT,
                "The booking is busy",
                "The booking changed several times while this decision was being saved. \
                 Nothing was changed; please try again.",
            );
            e.user = Some(who.user_view());
            return Err(e);
        }
        Err(DecisionError::Invalid(inner)) => Flash {
            kind: FlashKind::Error,
            text: format!("Task {task_id} was not decided: {inner}."),
        },
        Err(DecisionError::Store(e)) => return Err(PageError::internal(&e).for_user(who)),
    };
    st.sessions.set_flash(&who.session.id, flash);
    Ok(Redirect::to(&next).into_response())
}

// ---------------------------------------------------------------------------------------------
// Bookings

#[derive(Debug, Deserialize)]
pub struct EventsQuery {
    status: Option<String>,
    step: Option<String>,
    q: Option<String>,
    page: Option<String>,
}

/// Percent-encodes a query-string value.
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn events_link(status: Option<Status>, step: Option<Step>, q: &str, page: u32) -> String {
    let mut parts = Vec::new();
    if let Some(s) = status {
        parts.push(format!("status={}", s.as_str()));
    }
    if let Some(s) = step {
        parts.push(format!("step={}", s.number()));
    }
    if !q.is_empty() {
        parts.push(format!("q={}", encode(q)));
    }
    parts.push(format!("page={page}"));
    format!("/app/events?{}", parts.join("&"))
}

pub async fn events<S: Store>(
    State(st): State<WebState<S>>,
    who: Current,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let Query(q) = query.map_err(|e| PageError::bad_request(e.body_text()).for_user(&who))?;
    let blank = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let status = blank(q.status)
        .map(|s| Status::parse(&s))
        .transpose()
        .map_err(|e| PageError::bad_request(e.to_string()).for_user(&who))?;
    let step = blank(q.step)
        .map(|s| {
            s.parse::<u8>()
                .ok()
                .and_then(|n| Step::try_from(n).ok())
                .ok_or_else(|| {
                    PageError::bad_request(format!("'{s}' is not a step 1–7")).for_user(&who)
                })
        })
        .transpose()?;
    let search = blank(q.q).unwrap_or_default();
    let page = match blank(q.page) {
        None => 1,
        Some(p) => p
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=100_000).contains(n))
            .ok_or_else(|| {
                PageError::bad_request(format!("'{p}' is not a page number")).for_user(&who)
            })?,
    };
    let offset = (page - 1) * EVENTS_PER_PAGE;
    let mut items = st
        .app
        .engine
        .store()
        .list_events(
            &who.principal.org,
            EventFilter {
                status,
                step,
                q: (!search.is_empty()).then_some(search.as_str()),
                limit: EVENTS_PER_PAGE + 1,
                offset,
            },
        )
        .await
        .map_err(|e| PageError::internal(&e).for_user(&who))?;
    let more = items.len() > EVENTS_PER_PAGE as usize;
    items.truncate(EVENTS_PER_PAGE as usize);
    let venue = st.app.engine.venue();
    let page_view = EventsPage {
        chrome: who.chrome(&st, "Bookings", "events"),
        rows: items.iter().map(|e| views::event_row(e, venue)).collect(),
        status_options: views::status_options(status),
        step_options: views::step_options(step),
        prev_link: (page > 1).then(|| events_link(status, step, &search, page - 1)),
        next_link: more.then(|| events_link(status, step, &search, page + 1)),
        q: search,
        page,
    };
    Ok(html(StatusCode::OK, &page_view))
}

pub async fn event<S: Store>(
    State(st): State<WebState<S>>,
    who: Current,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let missing = || PageError::not_found("There is no such booking.").for_user(&who);
    let event_id = EventId::parse(&id).map_err(|_| missing())?;
    let org = &who.principal.org;
    let view = st
        .app
        .engine
        .event_view(org, &event_id)
        .await
        .map_err(|e| PageError::internal(&e).for_user(&who))?
        .ok_or_else(missing)?;
    let mut tasks = st
        .app
        .engine
        .store()
        .list_tasks(
            org,
            TaskFilter {
                status: None,
                event_id: Some(&event_id),
                limit: 500,
            },
        )
        .await
        .map_err(|e| PageError::internal(&e).for_user(&who))?;
    tasks.reverse();
    let venue = st.app.engine.venue();
    let tz = venue.time_zone();
    let page = EventPage {
        chrome: who.chrome(&st, format!("Booking {event_id}"), "events"),
        ev: views::event_detail(&view.event, venue),
        audit: view.audit.iter().map(|a| views::audit_row(a, tz)).collect(),
        tasks: tasks.iter().map(|t| views::task_card(t, tz)).collect(),
        can_decide: who.is_manager(),
        csrf: who.session.csrf.clone(),
        next: format!("/app/events/{event_id}"),
    };
    Ok(html(StatusCode::OK, &page))
}

pub async fn not_found(who: Current) -> PageError {
    PageError::not_found("There is no such page.").for_user(&who)
}

pub async fn stylesheet() -> Response {
    let mut res = include_str!("../assets/app.css").into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_only_lead_back_into_the_app() {
        assert_eq!(back_to(Some("/app/events/evt_1")), "/app/events/evt_1");
        assert_eq!(back_to(Some("/app")), "/app");
        assert_eq!(back_to(Some("//evil.example")), "/app");
        assert_eq!(back_to(Some("/app//evil.example")), "/app");
        assert_eq!(back_to(Some("https://evil.example/app")), "/app");
        assert_eq!(back_to(Some("/application")), "/app");
        assert_eq!(back_to(None), "/app");
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(
            events_link(Some(Status::Lead), Some(Step::Offer), "x y", 2),
            "/app/events?status=lead&step=4&q=x%20y&page=2"
        );
    }
}
