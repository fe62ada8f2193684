//! The web app driven through its router (no network), as a browser would: sign-in, pages and
//! form posts with the session cookie.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use openevent_web::{Sessions, WebConfig, router_with_sessions};
use tower::ServiceExt;

use super::{Fixture, fixture};

pub struct Web {
    pub fx: Fixture,
    pub router: Router,
    pub sessions: Arc<Sessions>,
}

pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub retry_after: Option<String>,
    pub set_cookies: Vec<String>,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    /// The value of the first `name="csrf"` hidden field.
    pub fn csrf(&self) -> String {
        hidden_value(&self.body, "csrf").expect("a csrf field")
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookies.iter().find_map(|c| {
            c.split(';')
                .next()
                .and_then(|kv| kv.split_once('='))
                .filter(|(k, _)| *k == name)
                .map(|(_, v)| v.to_owned())
        })
    }
}

pub fn hidden_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

/// A signed-in browser: its session cookie and the CSRF token its pages carry.
pub struct Browser {
    pub session: String,
    pub csrf: String,
}

pub async fn web_with(config: WebConfig) -> Web {
    let fx = fixture().await;
    let sessions = Arc::new(Sessions::new(config.session_idle));
    let router = router_with_sessions(Arc::clone(&fx.app), config, Arc::clone(&sessions));
    Web {
        fx,
        router,
        sessions,
    }
}

pub async fn web() -> Web {
    web_with(WebConfig::default()).await
}

pub fn form_body(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

pub fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl Web {
    pub async fn send(&self, req: Request<Body>) -> Page {
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let location = res
            .headers()
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_owned());
        let retry_after = res
            .headers()
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap().to_owned());
        let set_cookies = res
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        Page {
            status,
            location,
            retry_after,
            set_cookies,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub async fn get(&self, cookie: Option<&str>, uri: &str) -> Page {
        let mut req = Request::get(uri);
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        self.send(req.body(Body::empty()).unwrap()).await
    }

    pub async fn post(&self, cookie: Option<&str>, uri: &str, fields: &[(&str, &str)]) -> Page {
        let mut req =
            Request::post(uri).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        self.send(req.body(Body::from(form_body(fields))).unwrap())
            .await
    }

    /// Opens the sign-in form and submits `token`; answers the form page and the reply.
    pub async fn submit_login(&self, token: &str) -> Page {
        self.submit_login_from(None, &[], token).await
    }

    /// [`Web::submit_login`] from a client at `addr` (as a server with connect info sees it),
    /// with extra request headers.
    pub async fn submit_login_from(
        &self,
        addr: Option<&str>,
        headers: &[(&str, &str)],
        token: &str,
    ) -> Page {
        let form = self.get(None, "/login").await;
        assert_eq!(form.status, StatusCode::OK);
        let login_cookie = form.cookie("oe_login_csrf").expect("a login csrf cookie");
        let mut req = Request::post("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, format!("oe_login_csrf={login_cookie}"));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let mut req = req
            .body(Body::from(form_body(&[
                ("token", token),
                ("csrf", &form.csrf()),
            ])))
            .unwrap();
        if let Some(addr) = addr {
            let addr: SocketAddr = addr.parse().unwrap();
            req.extensions_mut().insert(ConnectInfo(addr));
        }
        self.send(req).await
    }

    pub async fn sign_in(&self, token: &str) -> Browser {
        let reply = self.submit_login(token).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
        assert_eq!(reply.location.as_deref(), Some("/app"));
        let session = reply.cookie("oe_session").expect("a session cookie");
        let cookie = format!("oe_session={session}");
        let inbox = self.get(Some(&cookie), "/app").await;
        assert_eq!(inbox.status, StatusCode::OK, "{}", inbox.body);
        Browser {
            session: cookie,
            csrf: inbox.csrf(),
        }
    }
}
