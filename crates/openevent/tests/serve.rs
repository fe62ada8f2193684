//! `openevent serve` as an operator runs it: a real process on a loopback port, a token made by
//! the CLI, HTTP over TCP, and a graceful stop on SIGTERM.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::Oe;
use serde_json::Value;

struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(oe: &Oe, extra: &[&str]) -> Server {
        let mut args = vec!["--org", "atelier", "serve", "--bind", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let mut child = oe
            .command(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn openevent serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("openevent listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_owned();
        Server { child, addr }
    }

    fn request(&self, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    }

    /// SIGTERM, then the exit status (within `limit`).
    fn stop(mut self, limit: Duration) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(
            std::process::Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(started.elapsed() < limit, "serve did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn token(oe: &Oe, role: &str) -> String {
    let created = oe.json(&["--org", "atelier", "token", "create", "--role", role]);
    created["token"].as_str().unwrap().to_owned()
}

#[test]
fn serve_answers_over_tcp_and_stops_gracefully_on_sigterm() {
    let oe = Oe::new();
    let manager = token(&oe, "manager");
    let server = Server::start(&oe, &[]);
    assert_eq!(server.request("GET", "/healthz", None, "").0, 200);
    assert_eq!(server.request("GET", "/readyz", None, "").0, 200);
    assert_eq!(server.request("GET", "/api/v1/events", None, "").0, 401);
    // The manager's web app is served by the same process.
    let (status, page) = server.request("GET", "/login", None, "");
    assert_eq!(status, 200);
    assert!(page.contains("<form"), "{page}");

    let body = r#"{"from_email":"laura@helvetia-labs.ch","body":"Hello, we would like to book Room A for a workshop with 25 people on 17.03.2027 from 09:00 to 17:00.","message_id":"<serve-1@helvetia-labs.ch>"}"#;
    let (status, reply) = server.request("POST", "/api/v1/messages", Some(&manager), body);
    assert_eq!(status, 200, "{reply}");
    let reply: Value = serde_json::from_str(&reply).unwrap();
    let event_id = reply["event_id"].as_str().unwrap().to_owned();

    let status = server.stop(Duration::from_secs(10));
    assert!(status.success(), "{status}");
    // What the server accepted is in the database for every other tool.
    let shown = oe.json(&["--org", "atelier", "event", "show", &event_id]);
    assert_eq!(shown["event_id"], event_id.as_str());
}

#[test]
fn serve_refuses_a_bad_configuration_before_listening() {
    let oe = Oe::new();
    let config = oe.write(
        "serve.toml",
        b"rate_limit_per_minute = 10\ncolour = \"red\"\n",
    );
    let out = oe.run(&[
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&out.stderr).contains("colour"));
    let config = oe.write(
        "imap.toml",
        b"[imap]\nhost = \"mail.example.com\"\ntls = \"none\"\nuser = \"events\"\n",
    );
    let out = oe.run(&[
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(65));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("imap.tls"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = oe.run(&["token", "create", "--role", "admin"]);
    assert_eq!(out.status.code(), Some(65));
}
