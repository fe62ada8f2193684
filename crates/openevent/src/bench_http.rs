//! `openevent bench http`: the API under concurrent load from a separate process (Debian's
//! `wrk`), and `openevent bench startup`: how long `openevent serve` takes from exec to a ready
//! answer on `/readyz`.
//!
//! The server runs in this process on a loopback port, exactly as `serve` builds it (router, rate
//! limiter raised out of the way); `wrk` drives it with two request mixes: reading the booking
//! list (a manager's inbox view) and posting new client messages (each a full turn: parse,
//! understand, workflow, commit).

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use openevent_core::ids::OrgSlug;
use openevent_core::venue::Venue;
use openevent_http::{App, RateLimiter, create_token};
use openevent_service::{Clock, Engine, EngineConfig, SystemClock};
use openevent_store::{Role, SqlStore};
use serde::Serialize;

/// One `wrk` run's figures.
#[derive(Debug, Serialize)]
pub struct LoadFigures {
    pub name: String,
    pub connections: u32,
    pub seconds: u32,
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    /// Answers other than 2xx/3xx (wrk's count).
    pub non_2xx: u64,
}

#[derive(Debug, Serialize)]
pub struct HttpBench {
    pub backend: String,
    pub bookings_preloaded: u64,
    pub runs: Vec<LoadFigures>,
    pub peak_rss_mb: f64,
}

/// Posts a new client message per request: every request is a new booking's first turn.
const POST_SCRIPT: &str = r#"
local counter = 0
local thread_id = 0
setup = function(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
end
request = function()
  counter = counter + 1
  local id = string.format("<bench-%d-%d@wrk.example>", tid or 0, counter)
  local body = string.format(
    '{"from_email":"client%d-%d@wrk.example","from_name":"Bench Client","subject":"Workshop","body":"Hello, we would like to book a room for a workshop with 20 people on 17.03.2027 from 09:00 to 17:00. Best regards","message_id":"%s"}',
    tid or 0, counter, id)
  return wrk.format("POST", "/api/v1/messages", nil, body)
end
"#;

/// Parses wrk's `--latency` output: "Requests/sec:", the latency distribution lines and
/// "Non-2xx or 3xx responses:".
fn parse_wrk(name: &str, connections: u32, seconds: u32, out: &str) -> Result<LoadFigures> {
    let value_ms = |label: &str| -> Result<f64> {
        let line = out
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with(label))
            .ok_or_else(|| anyhow!("wrk printed no '{label}' line:\n{out}"))?;
        let v = line[label.len()..].trim();
        let (num, unit) = v.split_at(v.find(|c: char| c.is_alphabetic()).unwrap_or(v.len()));
        let num: f64 = num.trim().parse().context("wrk latency")?;
        Ok(match unit {
            "us" => num / 1000.0,
            "ms" => num,
            "s" => num * 1000.0,
            "m" => num * 60_000.0,
            other => bail!("unknown wrk unit {other:?}"),
        })
    };
    let rps = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .ok_or_else(|| anyhow!("wrk printed no Requests/sec:\n{out}"))?
        .trim()
        .parse()
        .context("wrk Requests/sec")?;
    let non_2xx = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("Non-2xx or 3xx responses:"))
        .map_or(Ok(0), |v| v.trim().parse())
        .context("wrk non-2xx count")?;
    Ok(LoadFigures {
        name: name.to_owned(),
        connections,
        seconds,
        requests_per_second: rps,
        p50_ms: value_ms("50%")?,
        p90_ms: value_ms("90%")?,
        p99_ms: value_ms("99%")?,
        non_2xx,
    })
}

fn wrk(
    url: &str,
    token: &str,
    connections: u32,
    seconds: u32,
    script: Option<&std::path::Path>,
) -> Result<String> {
    let mut cmd = Command::new("wrk");
    cmd.args([
        "-t2",
        &format!("-c{connections}"),
        &format!("-d{seconds}s"),
        "--latency",
        "-H",
        &format!("Authorization: Bearer {token}"),
        "-H",
        "Content-Type: application/json",
    ]);
    if let Some(script) = script {
        cmd.arg("-s").arg(script);
    }
    let out = cmd
        .arg(url)
        .output()
        .context("running wrk (Debian package `wrk`; apt-get install wrk)")?;
    if !out.status.success() {
        bail!("wrk failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub async fn http(
    db: Option<&str>,
    bookings: u64,
    connections: u32,
    seconds: u32,
    venue: Venue,
) -> Result<(HttpBench, String)> {
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let url = match db {
        Some(u) => u.to_owned(),
        None => format!("sqlite://{}", dir.path().join("bench.db").display()),
    };
    let store = SqlStore::open(&url).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let org = OrgSlug::parse("bench").expect("valid slug");
    let token = create_token(&store, &org, Role::Manager, "bench", clock.now())
        .await?
        .token;
    let engine = Engine::new(
        store.clone(),
        clock,
        EngineConfig {
            venue,
            ..EngineConfig::default()
        },
    );
    for i in 0..bookings {
        let raw = format!(
            "From: Client {i} <pre{i}@bench.example>\r\nTo: events@atelier.example\r\nSubject: Workshop\r\nMessage-ID: <pre-{i}@bench.example>\r\n\r\nHello, we would like to book a room for a workshop with 20 people on 17.03.2027. Best regards\r\n"
        );
        engine.ingest_raw(&org, raw.as_bytes()).await?;
    }
    let app = Arc::new(App {
        engine,
        // The limiter protects production from one token; here it would measure itself.
        limiter: RateLimiter::new(u32::MAX),
        payment_secret: None,
        test_clock: None,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(openevent_http::serve(
        listener,
        openevent_http::router(app),
        async move {
            let _ = stop_rx.await;
        },
    ));
    let script = dir.path().join("post.lua");
    std::fs::write(&script, POST_SCRIPT)?;
    let base = format!("http://{addr}");
    let mut runs = Vec::new();
    for (name, path, script) in [
        (
            "GET /api/v1/events (list, 50 per page)",
            "/api/v1/events?limit=50",
            None,
        ),
        (
            "POST /api/v1/messages (new booking: a full turn)",
            "/api/v1/messages",
            Some(script.as_path()),
        ),
    ] {
        let (url, token) = (format!("{base}{path}"), token.clone());
        let script = script.map(std::path::Path::to_path_buf);
        let out = tokio::task::spawn_blocking(move || {
            wrk(&url, &token, connections, seconds, script.as_deref())
        })
        .await??;
        runs.push(parse_wrk(name, connections, seconds, &out)?);
    }
    let _ = stop_tx.send(());
    server.await??;
    store.close().await;
    let result = HttpBench {
        backend: format!("{:?}", store.backend()).to_lowercase(),
        bookings_preloaded: bookings,
        runs,
        peak_rss_mb: crate::bench::peak_rss_mb(),
    };
    let mut text = String::new();
    for r in &result.runs {
        let _ = writeln!(
            text,
            "{} — {} connections, {} s: {:.0} req/s, p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, non-2xx {}",
            r.name,
            r.connections,
            r.seconds,
            r.requests_per_second,
            r.p50_ms,
            r.p90_ms,
            r.p99_ms,
            r.non_2xx
        );
    }
    let _ = writeln!(
        text,
        "backend {}, {} bookings preloaded, peak RSS {:.1} MB (server and loader's parent)",
        result.backend, result.bookings_preloaded, result.peak_rss_mb
    );
    Ok((result, text))
}

#[derive(Debug, Serialize)]
pub struct StartupBench {
    pub runs: u32,
    pub p50_ms: f64,
    pub max_ms: f64,
}

/// One `serve` start: exec → the address line → `/readyz` answering 200.
fn start_once(exe: &std::path::Path, db: &str) -> Result<Duration> {
    let t = Instant::now();
    let mut child = Command::new(exe)
        .args(["--db", db, "serve", "--bind", "127.0.0.1:0"])
        .env_remove("OPENEVENT_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting openevent serve")?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped"))
        .read_line(&mut line)
        .context("reading the address line")?;
    let addr = line
        .trim()
        .strip_prefix("openevent listening on http://")
        .ok_or_else(|| anyhow!("unexpected first line {line:?}"))?
        .to_owned();
    let ready = loop {
        let mut s = TcpStream::connect(&addr)?;
        write!(
            s,
            "GET /readyz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )?;
        let mut answer = String::new();
        s.read_to_string(&mut answer)?;
        if answer.starts_with("HTTP/1.1 200") {
            break t.elapsed();
        }
        if t.elapsed() > Duration::from_secs(10) {
            bail!("not ready after 10 s: {answer}");
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let _ = child.kill();
    let _ = child.wait();
    Ok(ready)
}

pub fn startup(runs: u32) -> Result<(StartupBench, String)> {
    let exe = std::env::current_exe().context("locating this binary")?;
    let dir = tempfile::tempdir()?;
    // A database that exists and is current, as on every start but the first.
    let db = format!("sqlite://{}", dir.path().join("s.db").display());
    start_once(&exe, &db)?;
    let mut times: Vec<Duration> = (0..runs.max(1))
        .map(|_| start_once(&exe, &db))
        .collect::<Result<_>>()?;
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let result = StartupBench {
        runs: runs.max(1),
        p50_ms: ms(times[times.len() / 2]),
        max_ms: ms(*times.last().expect("at least one run")),
    };
    let text = format!(
        "serve start to ready (/readyz 200), {} runs: p50 {:.1} ms, max {:.1} ms\n",
        result.runs, result.p50_ms, result.max_ms
    );
    Ok((result, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_output_is_read() {
        let out = "Running 10s test @ http://127.0.0.1:1/x\n  2 threads and 32 connections\n  Latency Distribution\n     50%  812.00us\n     75%    1.20ms\n     90%    2.01ms\n     99%    1.05s\n  123 requests in 10.00s\n  Non-2xx or 3xx responses: 3\nRequests/sec:  12345.67\n";
        let f = parse_wrk("x", 32, 10, out).unwrap();
        assert!((f.p50_ms - 0.812).abs() < 1e-9);
        assert!((f.p90_ms - 2.01).abs() < 1e-9);
        assert!((f.p99_ms - 1050.0).abs() < 1e-9);
        assert!((f.requests_per_second - 12345.67).abs() < 1e-9);
        assert_eq!(f.non_2xx, 3);
        assert!(parse_wrk("x", 1, 1, "nothing").is_err());
    }
}
