//! The handlers. Each page reads its organization from the session's token, never from the
//! request; every POST checks the session's CSRF token before anything else.

mod automation;
mod calendar;
mod venue;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, extract::rejection::QueryRejection};
use jiff::civil::Date;
use openevent_core::effects::TaskStatus;
use openevent_core::event::{Status, Step};
use openevent_core::ids::{EventId, TaskId};
use openevent_core::workflow::Decision;
use openevent_http::{Principal, token_hash};
use openevent_service::{DecisionError, VenueBundle};
use openevent_store::{EventFilter, EventListItem, OutboxRow, Role, Store, StoreError, TaskFilter};
use serde::Deserialize;

use crate::WebState;
use crate::login_limit::AttemptKeys;
use crate::session::{
    Flash, FlashKind, LOGIN_CSRF_COOKIE, SESSION_COOKIE, SessionData, cookie, random_token,
    same_secret, set_cookie,
};
use crate::views::{
    self, Chrome, ErrorPage, EventPage, EventsPage, InboxPage, LoginPage, UserView,
};

pub use automation::{
    abandon, dead_letters, export_workflow, import_workflow, install_library, requeue,
    save_workflow, set_enabled, set_override, workflow, workflows,
};
pub use calendar::calendar;
pub use venue::{save_venue, venue};

/// How the bookings list pages.
#[derive(Debug, Clone, Copy)]
struct Paging {
    per_page: u32,
    /// A date range reads the store's list in batches of this many (the store answers at most
    /// 500 at a time)…
    batch: u32,
    /// …and this many bookings at most; beyond, the page asks for a narrower search instead of
    /// answering slowly or wrongly.
    scan_limit: u32,
}

const PAGING: Paging = Paging {
    per_page: 25,
    batch: 500,
    scan_limit: 20_000,
};
/// The outbox rows a booking page reads (newest due first) to find the booking's deliveries.
const OUTBOX_SCAN: u32 = 1_000;
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

    /// A manager's form: refused without the session's CSRF token (403), then without a manager
    /// token (403).
    fn manager_form<T: HasCsrf>(
        &self,
        form: Result<Form<T>, FormRejection>,
    ) -> Result<T, PageError> {
        let Ok(Form(form)) = form else {
            return Err(PageError::bad_csrf().for_user(self));
        };
        self.check_csrf(form.csrf())?;
        self.require_manager()?;
        Ok(form)
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
                "Your token may only read: making changes needs a manager token.",
            )
            .for_user(self))
        }
    }
}

/// The venue of the signed-in organization: its own once it saved one, else the server's venue
/// file. Every page that shows the venue, its rooms or its time zone reads it here.
async fn venue_of<S: Store>(
    st: &WebState<S>,
    who: &Current,
) -> Result<Arc<VenueBundle>, PageError> {
    st.app
        .engine
        .venue_of(&who.principal.org)
        .await
        .map_err(|e| PageError::internal(&e).for_user(who))
}

/// A posted form that carries the session's CSRF token.
pub(crate) trait HasCsrf {
    fn csrf(&self) -> &str;
}

/// Implements [`HasCsrf`] for form structs with a `csrf` field.
macro_rules! has_csrf {
    ($($form:ty),* $(,)?) => {
        $(impl $crate::pages::HasCsrf for $form {
            fn csrf(&self) -> &str {
                &self.csrf
            }
        })*
    };
}
use has_csrf;

has_csrf!(ApproveForm, RejectForm);

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

/// The client's address: from the header a trusted proxy sets, when configured, else from the
/// connection (when the server was started with connect info).
pub(crate) struct ClientAddr(Option<IpAddr>);

impl<S: Store> FromRequestParts<WebState<S>> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        st: &WebState<S>,
    ) -> Result<Self, Self::Rejection> {
        let from_header = st.config.client_ip_header.as_ref().and_then(|name| {
            // The last address is the one the nearest proxy (ours) added.
            let value = parts.headers.get_all(name).iter().next_back()?;
            let last = value.to_str().ok()?.rsplit(',').next()?.trim();
            last.parse::<IpAddr>()
                .ok()
                .or_else(|| last.parse::<SocketAddr>().ok().map(|a| a.ip()))
        });
        let from_connection = || {
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip())
        };
        Ok(ClientAddr(from_header.or_else(from_connection)))
    }
}

fn too_many_attempts<S>(st: &WebState<S>, csrf: String, wait_secs: u64) -> Response {
    let minutes_or_seconds = if wait_secs < 90 {
        format!("{wait_secs} seconds")
    } else {
        format!("{} minutes", wait_secs.div_ceil(60))
    };
    let mut res = login_page(
        st,
        StatusCode::TOO_MANY_REQUESTS,
        csrf,
        Some(format!(
            "Too many failed sign-ins from your address or for this token. Please wait \
             {minutes_or_seconds} before trying again."
        )),
        None,
    );
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(wait_secs));
    res
}

pub async fn login<S: Store>(
    State(st): State<WebState<S>>,
    ClientAddr(client): ClientAddr,
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
    // Every attempt counts as a failure until the token proves right.
    let keys = AttemptKeys::new(client, token);
    let now = st.app.engine.clock().now();
    if let Err(wait) = st.login_limiter.reserve(&keys, now) {
        tracing::warn!(client = ?client, wait_secs = wait, "sign-in refused: too many failures");
        return Ok(too_many_attempts(&st, form.csrf, wait));
    }
    let hash = token_hash(token);
    let record = if token.starts_with("oet_") && token.len() < 200 {
        match st.app.engine.store().find_token(&hash).await {
            Ok(r) => r,
            Err(e) => {
                // Not the client's failure: give the attempt back.
                st.login_limiter.release(&keys, now);
                return Err(PageError::internal(&e));
            }
        }
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
    st.login_limiter.release(&keys, now);
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
    let venue = venue_of(&st, &who).await?;
    let tz = venue.venue.time_zone();
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
    let form = who.manager_form(form)?;
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
    let form = who.manager_form(form)?;
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
    from: Option<String>,
    to: Option<String>,
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

/// What the bookings list is filtered by.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct ListFilter {
    status: Option<Status>,
    step: Option<Step>,
    q: String,
    /// The chosen date, inclusive on both ends; bookings without a date fall outside any range.
    from: Option<Date>,
    to: Option<Date>,
}

impl ListFilter {
    fn has_range(&self) -> bool {
        self.from.is_some() || self.to.is_some()
    }

    fn in_range(&self, e: &EventListItem) -> bool {
        match e.chosen_date {
            Some(d) => self.from.is_none_or(|f| d >= f) && self.to.is_none_or(|t| d <= t),
            None => !self.has_range(),
        }
    }

    fn store_filter(&self, limit: u32, offset: u32) -> EventFilter<'_> {
        EventFilter {
            status: self.status,
            step: self.step,
            q: (!self.q.is_empty()).then_some(self.q.as_str()),
            limit,
            offset,
        }
    }

    fn link(&self, page: u32) -> String {
        let mut parts = Vec::new();
        if let Some(s) = self.status {
            parts.push(format!("status={}", s.as_str()));
        }
        if let Some(s) = self.step {
            parts.push(format!("step={}", s.number()));
        }
        if !self.q.is_empty() {
            parts.push(format!("q={}", encode(&self.q)));
        }
        if let Some(d) = self.from {
            parts.push(format!("from={d}"));
        }
        if let Some(d) = self.to {
            parts.push(format!("to={d}"));
        }
        parts.push(format!("page={page}"));
        format!("/app/events?{}", parts.join("&"))
    }
}

/// A date as a form sends it (`2027-03-17`) or as the app shows it (`17.03.2027`).
fn parse_date(raw: &str) -> Result<Date, String> {
    let shown: String = raw.chars().take(40).collect();
    let bad = || format!("'{shown}' is not a date: write it as 2027-03-17 or 17.03.2027.");
    let raw = raw.trim();
    let parts: Vec<&str> = if raw.contains('-') {
        raw.split('-').collect()
    } else {
        raw.split('.').rev().collect()
    };
    let [y, m, d] = parts.as_slice() else {
        return Err(bad());
    };
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(y, 4) || !digits(m, 2) || !digits(d, 2) {
        return Err(bad());
    }
    let (y, m, d) = (
        y.parse::<i16>().map_err(|_| bad())?,
        m.parse::<i8>().map_err(|_| bad())?,
        d.parse::<i8>().map_err(|_| bad())?,
    );
    if y < 1 {
        return Err(bad());
    }
    Date::new(y, m, d).map_err(|_| format!("'{shown}' is not a day of the calendar."))
}

fn list_filter(q: EventsQuery) -> Result<(ListFilter, u32), String> {
    let blank = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let status = blank(q.status)
        .map(|s| Status::parse(&s))
        .transpose()
        .map_err(|e| e.to_string())?;
    let step = blank(q.step)
        .map(|s| {
            s.parse::<u8>()
                .ok()
                .and_then(|n| Step::try_from(n).ok())
                .ok_or_else(|| format!("'{s}' is not a step 1–7"))
        })
        .transpose()?;
    let from = blank(q.from).map(|d| parse_date(&d)).transpose()?;
    let to = blank(q.to).map(|d| parse_date(&d)).transpose()?;
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(format!(
            "The date range ends ({}) before it starts ({}).",
            views::date(t),
            views::date(f)
        ));
    }
    let page = match blank(q.page) {
        None => 1,
        Some(p) => p
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=100_000).contains(n))
            .ok_or_else(|| format!("'{p}' is not a page number"))?,
    };
    Ok((
        ListFilter {
            status,
            step,
            q: blank(q.q).unwrap_or_default(),
            from,
            to,
        },
        page,
    ))
}

enum ListError {
    Store(StoreError),
    /// The range filter would have to read more bookings than it may.
    TooBroad,
}

/// One page of bookings (and whether another follows). The store filters status, step and
/// search; a date range is applied here to the store's list in order, counting matches from the
/// start, so that every page holds exactly the bookings its number says, however the range thins
/// the list out.
async fn events_page<S: Store>(
    store: &S,
    org: &openevent_core::ids::OrgSlug,
    filter: &ListFilter,
    page: u32,
    paging: Paging,
) -> Result<(Vec<EventListItem>, bool), ListError> {
    let per_page = paging.per_page as usize;
    let skip = (page - 1) * paging.per_page;
    if !filter.has_range() {
        let mut items = store
            .list_events(org, filter.store_filter(paging.per_page + 1, skip))
            .await
            .map_err(ListError::Store)?;
        let more = items.len() > per_page;
        items.truncate(per_page);
        return Ok((items, more));
    }
    let mut matched: u32 = 0;
    let mut items = Vec::new();
    let mut offset = 0;
    'scan: loop {
        if offset >= paging.scan_limit {
            return Err(ListError::TooBroad);
        }
        let batch = store
            .list_events(org, filter.store_filter(paging.batch, offset))
            .await
            .map_err(ListError::Store)?;
        let exhausted = batch.len() < paging.batch as usize;
        offset += paging.batch;
        for e in batch.into_iter().filter(|e| filter.in_range(e)) {
            if matched >= skip {
                items.push(e);
                // One beyond the page tells that another page follows.
                if items.len() > per_page {
                    break 'scan;
                }
            }
            matched += 1;
        }
        if exhausted {
            break;
        }
    }
    let more = items.len() > per_page;
    items.truncate(per_page);
    Ok((items, more))
}

pub async fn events<S: Store>(
    State(st): State<WebState<S>>,
    who: Current,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let Query(q) = query.map_err(|e| PageError::bad_request(e.body_text()).for_user(&who))?;
    let (filter, page) = list_filter(q).map_err(|e| PageError::bad_request(e).for_user(&who))?;
    let (items, more) = events_page(
        st.app.engine.store(),
        &who.principal.org,
        &filter,
        page,
        PAGING,
    )
    .await
    .map_err(|e| match e {
        ListError::Store(e) => PageError::internal(&e).for_user(&who),
        ListError::TooBroad => PageError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Too many bookings to search",
            format!(
                "A date range looks through at most {} bookings, and \
                     this page lies beyond them. Narrow the search by status, step or client, \
                     or go back to an earlier page.",
                PAGING.scan_limit
            ),
        )
        .for_user(&who),
    })?;
    let venue = venue_of(&st, &who).await?;
    let page_view = EventsPage {
        chrome: who.chrome(&st, "Bookings", "events"),
        rows: items
            .iter()
            .map(|e| views::event_row(e, &venue.venue))
            .collect(),
        status_options: views::status_options(filter.status),
        step_options: views::step_options(filter.step),
        prev_link: (page > 1).then(|| filter.link(page - 1)),
        next_link: more.then(|| filter.link(page + 1)),
        from: filter.from.map(|d| d.to_string()).unwrap_or_default(),
        to: filter.to.map(|d| d.to_string()).unwrap_or_default(),
        q: filter.q,
        page,
    };
    Ok(html(StatusCode::OK, &page_view))
}

/// The booking's deliveries among the organization's latest outbox rows (newest due first, at
/// most `limit`), and a note when older ones may exist beyond them. A booking's jobs all fall due
/// after it was created, so the rows are complete once they end or reach a job due before that.
fn booking_deliveries(
    rows: Vec<OutboxRow>,
    event: &openevent_core::event::Event,
    limit: u32,
) -> (Vec<OutboxRow>, Option<String>) {
    let complete =
        rows.len() < limit as usize || rows.last().is_some_and(|r| r.due_at < event.created_at);
    let mine = rows
        .into_iter()
        .filter(|r| r.event_id.as_ref() == Some(&event.event_id))
        .collect();
    let note = (!complete).then(|| {
        format!(
            "Only the organization's latest {limit} deliveries were searched: older ones of this \
             booking may exist (openevent outbox list shows them all)."
        )
    });
    (mine, note)
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
    let store = st.app.engine.store();
    let mut tasks = store
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
    let outbox = store
        .list_outbox(org, None, OUTBOX_SCAN)
        .await
        .map_err(|e| PageError::internal(&e).for_user(&who))?;
    let (outbox, deliveries_note) = booking_deliveries(outbox, &view.event, OUTBOX_SCAN);
    let venue = venue_of(&st, &who).await?;
    let tz = venue.venue.time_zone();
    let automation = automation::booking_automation(&st, &who, &event_id, tz).await?;
    let page = EventPage {
        chrome: who.chrome(&st, format!("Booking {event_id}"), "events"),
        ev: views::event_detail(&view.event, &venue.venue),
        steps: views::step_marks(view.event.current_step),
        audit: view.audit.iter().map(|a| views::audit_row(a, tz)).collect(),
        deliveries: outbox.iter().map(|o| views::delivery_row(o, tz)).collect(),
        deliveries_note,
        tasks: tasks.iter().map(|t| views::task_card(t, tz)).collect(),
        can_decide: who.is_manager(),
        csrf: who.session.csrf.clone(),
        next: format!("/app/events/{event_id}"),
        automation,
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
        let filter = ListFilter {
            status: Some(Status::Lead),
            step: Some(Step::Offer),
            q: "x y".into(),
            from: Some(jiff::civil::date(2027, 3, 1)),
            to: None,
        };
        assert_eq!(
            filter.link(2),
            "/app/events?status=lead&step=4&q=x%20y&from=2027-03-01&page=2"
        );
    }

    fn outbox_row(job: &str, event: &str, due: &str) -> OutboxRow {
        OutboxRow {
            job_id: job.into(),
            event_id: Some(EventId::parse(event).unwrap()),
            channel: "email".into(),
            status: serde_json::from_value(serde_json::json!("scheduled")).unwrap(),
            due_at: due.parse().unwrap(),
            attempts: 0,
            last_error: None,
            delivery_key: job.into(),
        }
    }

    #[test]
    fn a_bookings_deliveries_are_complete_once_the_rows_reach_back_before_it() {
        let event = openevent_core::event::Event::new_lead(
            EventId::parse("evt_1").unwrap(),
            openevent_core::ids::ClientEmail::parse("a@b.ch").unwrap(),
            "2026-11-23T08:00:00Z".parse().unwrap(),
        );
        let rows = || {
            vec![
                outbox_row("j3", "evt_1", "2026-11-25T08:00:00Z"),
                outbox_row("j2", "evt_2", "2026-11-24T08:00:00Z"),
                outbox_row("j1", "evt_1", "2026-11-23T08:00:00Z"),
            ]
        };
        // Fewer rows than asked for: that is all there is.
        let (mine, note) = booking_deliveries(rows(), &event, 10);
        let ids: Vec<&str> = mine.iter().map(|r| r.job_id.as_str()).collect();
        assert_eq!(ids, ["j3", "j1"]);
        assert!(note.is_none());
        // As many rows as asked for, the last due when the booking was created: older ones may
        // be missing.
        let (mine, note) = booking_deliveries(rows(), &event, 3);
        assert_eq!(mine.len(), 2);
        assert!(note.unwrap().contains("latest 3 deliveries"));
        // The last row due before the booking existed: nothing of it is older.
        let mut full = rows();
        full.push(outbox_row("j0", "evt_0", "2026-11-22T08:00:00Z"));
        let (mine, note) = booking_deliveries(full, &event, 4);
        assert_eq!(mine.len(), 2);
        assert!(note.is_none());
    }

    /// A message of client `n` asking for Room A on `date` (DD.MM.YYYY).
    fn inquiry(n: u32, date: &str) -> Vec<u8> {
        format!(
            "From: Client {n} <client{n}@example.com>\r\nTo: events@atelier.example\r\n\
             Subject: Workshop\r\nMessage-ID: <paging-{n}@example.com>\r\n\
             Date: Mon, 23 Nov 2026 08:00:00 +0000\r\n\r\nHello, we would like to book Room A \
             for a workshop with 25 people on {date} from 09:00 to 17:00.\r\n"
        )
        .into_bytes()
    }

    #[tokio::test]
    async fn a_date_range_pages_exactly_across_store_batches() {
        use std::sync::Arc;

        use openevent_service::{Clock, Engine, EngineConfig, ManualClock};

        let store = openevent_store::SqlStore::open("sqlite::memory:")
            .await
            .unwrap();
        let clock = Arc::new(ManualClock::new("2026-11-23T08:00:00Z".parse().unwrap()));
        let engine = Engine::new(
            store.clone(),
            clock.clone() as Arc<dyn Clock>,
            EngineConfig::default(),
        );
        let org = openevent_core::ids::OrgSlug::parse("atelier").unwrap();
        // Eleven bookings, newest last; the six odd ones in March 2027, the even ones in April.
        let mut march = Vec::new();
        for n in 1..=11u32 {
            let date = if n % 2 == 1 {
                format!("{n:02}.03.2027")
            } else {
                format!("{n:02}.04.2027")
            };
            let report = engine.ingest_raw(&org, &inquiry(n, &date)).await.unwrap();
            if n % 2 == 1 {
                march.push(report.result.event_id.unwrap());
            }
            clock.advance(jiff::SignedDuration::from_secs(60));
        }
        march.reverse();
        let filter = ListFilter {
            from: Some(jiff::civil::date(2027, 3, 1)),
            to: Some(jiff::civil::date(2027, 3, 31)),
            ..ListFilter::default()
        };
        // Two per page, read three at a time: pages cut across batches.
        let paging = Paging {
            per_page: 2,
            batch: 3,
            scan_limit: 100,
        };
        let mut seen = Vec::new();
        for page in 1..=3 {
            let (items, more) = events_page(&store, &org, &filter, page, paging)
                .await
                .ok()
                .unwrap();
            assert_eq!(items.len(), 2, "page {page}");
            assert_eq!(more, page < 3, "page {page}");
            seen.extend(items.into_iter().map(|e| e.event_id));
        }
        let (items, more) = events_page(&store, &org, &filter, 4, paging)
            .await
            .ok()
            .unwrap();
        assert!(items.is_empty() && !more);
        assert_eq!(seen, march);
        // A scan limit below the bookings a page needs refuses rather than guesses.
        let narrow = Paging {
            scan_limit: 6,
            ..paging
        };
        assert!(events_page(&store, &org, &filter, 1, narrow).await.is_ok());
        assert!(matches!(
            events_page(&store, &org, &filter, 3, narrow).await,
            Err(ListError::TooBroad)
        ));
    }

    #[test]
    fn dates_are_read_in_either_form() {
        let d = jiff::civil::date(2027, 3, 7);
        assert_eq!(parse_date("2027-03-07"), Ok(d));
        assert_eq!(parse_date(" 07.03.2027 "), Ok(d));
        for bad in [
            "2027-3-7",
            "7.3.2027",
            "2027-03",
            "20270307",
            "0000-01-01",
            "x",
            "2027-03-07-01",
        ] {
            assert!(
                parse_date(bad).unwrap_err().contains("is not a date"),
                "{bad}"
            );
        }
        assert!(parse_date("2027-02-30").unwrap_err().contains("not a day"));
    }

    #[test]
    fn a_range_keeps_dated_bookings_within_it() {
        let item = |d: Option<Date>| EventListItem {
            event_id: EventId::parse("evt_1").unwrap(),
            client_email: openevent_core::ids::ClientEmail::parse("a@b.ch").unwrap(),
            status: Status::Lead,
            current_step: Step::Intake,
            chosen_date: d,
            locked_room_id: None,
            created_at: jiff::Timestamp::UNIX_EPOCH,
            updated_at: jiff::Timestamp::UNIX_EPOCH,
        };
        let march = ListFilter {
            from: Some(jiff::civil::date(2027, 3, 1)),
            to: Some(jiff::civil::date(2027, 3, 31)),
            ..ListFilter::default()
        };
        assert!(march.in_range(&item(Some(jiff::civil::date(2027, 3, 1)))));
        assert!(march.in_range(&item(Some(jiff::civil::date(2027, 3, 31)))));
        assert!(!march.in_range(&item(Some(jiff::civil::date(2027, 4, 1)))));
        assert!(!march.in_range(&item(None)));
        assert!(ListFilter::default().in_range(&item(None)));
    }
}
