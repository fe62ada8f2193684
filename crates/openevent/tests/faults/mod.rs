//! What the fault tests share: the real `openevent` binary with the test's environment removed,
//! `openevent serve` as a child process that is always killed and reaped (a failed assertion
//! included), raw HTTP to it, and polling with a deadline instead of sleeping and hoping.

#![allow(dead_code)]

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const ORG: &str = "atelier";

/// The inquiry every test sends: it always gets a drafted reply (date options) waiting for a
/// manager.
pub const INQUIRY: &str = "Hello, we would like to book a room for a team workshop with 20 participants. Is there availability?";

/// The binary with every inherited `OPENEVENT_*` variable removed (a developer's
/// `OPENEVENT_DB` must not redirect the test) and without `--now`: retries and leases need the
/// clock to move.
pub fn openevent(db_url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_openevent"));
    for (k, _) in std::env::vars() {
        if k.starts_with("OPENEVENT_") {
            cmd.env_remove(k);
        }
    }
    cmd.args(["--db", db_url, "--org", ORG]);
    cmd
}

pub fn run(db_url: &str, args: &[&str]) -> Output {
    openevent(db_url)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run openevent")
}

pub fn run_ok(db_url: &str, args: &[&str]) -> Output {
    let out = run(db_url, args);
    assert!(
        out.status.success(),
        "openevent {args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn run_json(db_url: &str, args: &[&str]) -> Value {
    let out = run_ok(db_url, args);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "openevent {args:?} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

pub fn manager_token(db_url: &str) -> String {
    let created = run_json(db_url, &["token", "create", "--role", "manager"]);
    created["token"].as_str().expect("a token").to_owned()
}

/// Polls `probe` until it answers, at most `limit`; the failure names what was awaited and the
/// last thing seen.
pub fn wait_for<T>(what: &str, limit: Duration, mut probe: impl FnMut() -> Result<T, String>) -> T {
    let started = Instant::now();
    loop {
        match probe() {
            Ok(v) => return v,
            Err(last) => {
                assert!(
                    started.elapsed() < limit,
                    "gave up waiting {limit:?} for {what}; last seen: {last}"
                );
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn timestamp(v: &Value) -> jiff::Timestamp {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an RFC 3339 instant: {v}"))
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub content_type: String,
    pub retry_after: Option<String>,
    pub body: String,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| {
            panic!("HTTP {} body is not JSON ({e}): {}", self.status, self.body)
        })
    }

    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// `openevent serve` on a loopback port picked by the kernel, its log in a file outside the
/// database's directory (which may be full). Dropping it kills the process.
pub struct Serve {
    child: Option<Child>,
    pub addr: String,
    pub log: PathBuf,
}

impl Serve {
    pub fn start(db_url: &str, config: Option<&Path>, log: &Path) -> Serve {
        let mut cmd = openevent(db_url);
        cmd.args(["serve", "--bind", "127.0.0.1:0"]);
        if let Some(config) = config {
            cmd.arg("--config").arg(config);
        }
        // Info level: the log then shows each delivery attempt and each refused request.
        cmd.env("OPENEVENT_LOG", "info");
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(File::create(log).expect("create the log file"))
            .spawn()
            .expect("spawn openevent serve");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        let _ = stdout.read_line(&mut line);
        let mut serve = Serve {
            child: Some(child),
            addr: String::new(),
            log: log.to_owned(),
        };
        match line
            .trim()
            .strip_prefix("openevent listening on http://")
            .map(str::to_owned)
        {
            Some(addr) => serve.addr = addr,
            None => panic!(
                "serve did not start (first line {line:?}); log:\n{}",
                serve.log_text()
            ),
        }
        // Nothing more is expected on stdout, but a full pipe must never be what blocks it.
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut stdout, &mut std::io::sink());
        });
        serve
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Fails with the log when the process has exited.
    pub fn assert_running(&mut self) {
        let child = self.child.as_mut().expect("started");
        if let Some(status) = child.try_wait().expect("try_wait") {
            panic!(
                "serve exited on its own ({status}); log:\n{}",
                self.log_text()
            );
        }
    }

    pub fn request(&self, method: &str, path: &str, token: Option<&str>, body: &str) -> Response {
        let mut stream = TcpStream::connect(&self.addr)
            .unwrap_or_else(|e| panic!("connect to serve at {}: {e}", self.addr));
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
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
        let mut raw = Vec::new();
        stream
            .read_to_end(&mut raw)
            .unwrap_or_else(|e| panic!("{method} {path}: reading the response: {e}"));
        parse_response(&raw).unwrap_or_else(|| {
            panic!(
                "{method} {path}: not an HTTP response: {:?}",
                String::from_utf8_lossy(&raw)
            )
        })
    }

    /// GET that must answer 200 with JSON.
    pub fn get_json(&self, path: &str, token: &str) -> Value {
        let r = self.request("GET", path, Some(token), "");
        assert_eq!(r.status, 200, "GET {path}: {}", r.body);
        r.json()
    }

    /// SIGTERM (a graceful stop), then the exit status within `limit`.
    pub fn stop(mut self, limit: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        // Our own child, by its pid: the graceful stop is what an operator's SIGTERM does.
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {}", child.id());
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                return status;
            }
            if started.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "serve did not stop within {limit:?} of SIGTERM; log:\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn parse_response(raw: &[u8]) -> Option<Response> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let mut content_type = String::new();
    let mut retry_after = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-type") {
            content_type = value.to_owned();
        } else if name.eq_ignore_ascii_case("retry-after") {
            retry_after = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            && value.eq_ignore_ascii_case("chunked")
        {
            chunked = true;
        }
    }
    if chunked {
        body = dechunk(&body)?;
    }
    Some(Response {
        status,
        content_type,
        retry_after,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn dechunk(mut raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = raw.windows(2).position(|w| w == b"\r\n")?;
        let size_text = String::from_utf8_lossy(&raw[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(raw.get(..size)?);
        raw = raw.get(size + 2..)?;
    }
}

/// A sample of the Prometheus text: the value of the series `name{labels}` exactly as written.
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

/// Lines of the log that show a panic anywhere in the process.
pub fn panics(log: &str) -> Vec<&str> {
    log.lines().filter(|l| l.contains("panicked")).collect()
}
