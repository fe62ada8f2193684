//! The process roles an operator splits a deployment into: `serve --no-workers` answers the API
//! and sends nothing; `openevent worker` sends without listening; and a database that cannot be
//! reached at start ends the process with the reason, after retrying.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{Oe, eml};
use serde_json::Value;

/// A loopback port with nothing listening: every send attempt is refused, which is all these
/// tests need to see whether a process dispatches.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn queued_reply(oe: &Oe) {
    let turn = oe.ingest_text(&eml(
        "Laura Meier <laura@helvetia-labs.ch>",
        "Workshop booking",
        "roles-1@helvetia-labs.ch",
        None,
        "Hello, we would like to book Room A for a workshop with 25 people on 17.03.2027 from 09:00 to 17:00.",
    ));
    let task = turn["tasks"][0].as_str().unwrap();
    let decided = oe.json(&["tasks", "approve", task]);
    assert_eq!(decided["queued_emails"], 1, "{decided}");
}

fn attempts(oe: &Oe) -> u64 {
    let jobs: Value = oe.json(&["outbox", "list"]);
    jobs.as_array()
        .unwrap()
        .iter()
        .map(|j| j["attempts"].as_u64().unwrap())
        .sum()
}

/// Starts the process and waits for its first line (printed once it runs).
fn start(oe: &Oe, args: &[&str], first_line: &str) -> Child {
    let mut child = oe
        .command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.starts_with(first_line),
        "unexpected first line {line:?}"
    );
    child
}

fn terminate(mut child: Child) {
    let pid = child.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
}

#[test]
fn an_api_only_process_sends_nothing_and_a_worker_sends_without_listening() {
    let oe = Oe::new();
    queued_reply(&oe);
    let config = oe.write(
        "serve.toml",
        format!(
            "[smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nfrom_address = \"events@atelier.example\"\ntimeout_secs = 2\n",
            closed_port()
        )
        .as_bytes(),
    );
    let config = config.to_str().unwrap();

    let api = start(
        &oe,
        &[
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--no-workers",
            "--config",
            config,
        ],
        "openevent listening on http://",
    );
    // A dispatcher would have tried the due reply at once; give it ample time to show.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(attempts(&oe), 0, "serve --no-workers must not dispatch");
    terminate(api);

    let worker = start(
        &oe,
        &["worker", "--config", config],
        "openevent worker running",
    );
    let started = Instant::now();
    while attempts(&oe) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the worker never tried the due reply"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    terminate(worker);
    let jobs: Value = oe.json(&["outbox", "list"]);
    let error = jobs[0]["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("Connection refused"), "{jobs}");
}

#[test]
fn an_unreachable_database_server_ends_the_process_with_the_reason() {
    let oe = Oe::new();
    let url = format!(
        "postgres://openevent:s3cret@127.0.0.1:{}/openevent",
        closed_port()
    );
    let started = Instant::now();
    let out = oe.run(&["--db", &url, "--db-connect-retry", "2", "migrate"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("gave up after"), "{stderr}");
    assert!(stderr.contains("Connection refused"), "{stderr}");
    assert!(
        !stderr.contains("s3cret"),
        "the password must not be printed: {stderr}"
    );
    assert!(stderr.contains("openevent:***@"), "{stderr}");
    // It retried for about the allowed time, no more.
    assert!(started.elapsed() < Duration::from_secs(10));
}
