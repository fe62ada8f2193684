//! Configuration from the environment: every option as `OPENEVENT_<FLAG>`, every key of the
//! configuration file as `OPENEVENT_<SECTION>_<KEY>`; flag > env > file > default; bad values
//! named by their variable; `serve --print-config` to see what came from where. The variables
//! are set on the child process only.

mod common;

#[path = "../../openevent-channels/tests/support/aiosmtpd.rs"]
mod aiosmtpd;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use aiosmtpd::{Server, ServerOptions, free_port, require_python};
use common::{Oe, eml};
use serde_json::Value;

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The binary with no `OPENEVENT_*` variable inherited and no flag added, run in the test's
/// directory (so that a default database would land there, and `ls` proves it did not).
fn bare(oe: &Oe, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_openevent"));
    for (k, _) in std::env::vars() {
        if k.starts_with("OPENEVENT_") {
            cmd.env_remove(k);
        }
    }
    cmd.current_dir(oe.dir.path()).args(args);
    cmd
}

/// The `--print-config` line of `setting`, split into (value, source, variable).
fn row(report: &str, setting: &str) -> (String, String, String) {
    let line = report
        .lines()
        .find(|l| l.split_whitespace().next() == Some(setting))
        .unwrap_or_else(|| panic!("no line for {setting} in:\n{report}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let n = words.len();
    assert!(n >= 4, "{line}");
    (
        words[1..n - 2].join(" "),
        words[n - 2].to_owned(),
        words[n - 1].to_owned(),
    )
}

fn print_config(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run openevent");
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

const FILE: &str = "rate_limit_per_minute = 100\n\n[smtp]\nhost = \"smtp.example.com\"\nport = 587\nsecurity = \"starttls\"\nfrom_address = \"events@atelier.example\"\nfrom_name = \"The Atelier\"\n\n[web]\nsecure_cookies = false\n";

#[test]
fn env_overrides_the_file_and_a_flag_overrides_env() {
    let oe = Oe::new();
    let config = oe.write("serve.toml", FILE.as_bytes());
    let report = print_config(
        bare(
            &oe,
            &[
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--org",
                "atelier",
                "--print-config",
            ],
        )
        .env("OPENEVENT_CONFIG", &config)
        .env("OPENEVENT_BIND", "127.0.0.1:9")
        .env("OPENEVENT_ORG", "from-env")
        .env("OPENEVENT_LOG_FORMAT", "json")
        .env("OPENEVENT_RATE_LIMIT_PER_MINUTE", "7")
        .env("OPENEVENT_SMTP_PORT", "2525")
        .env("OPENEVENT_SMTP_FROM_NAME", "Atelier Events")
        .env("OPENEVENT_WEB_SECURE_COOKIES", "true"),
    );
    // Options: flag > env > default.
    assert_eq!(
        row(&report, "--bind"),
        (
            "\"127.0.0.1:0\"".into(),
            "flag".into(),
            "OPENEVENT_BIND".into()
        )
    );
    assert_eq!(row(&report, "--org").1, "flag");
    assert_eq!(
        row(&report, "--config").1,
        "env",
        "the file is named by OPENEVENT_CONFIG"
    );
    assert_eq!(
        row(&report, "--log-format"),
        (
            "\"json\"".into(),
            "env".into(),
            "OPENEVENT_LOG_FORMAT".into()
        )
    );
    assert_eq!(row(&report, "--db").1, "default");
    // Keys: env > file > default.
    assert_eq!(
        row(&report, "rate_limit_per_minute"),
        (
            "7".into(),
            "env".into(),
            "OPENEVENT_RATE_LIMIT_PER_MINUTE".into()
        )
    );
    assert_eq!(row(&report, "smtp.port").0, "2525");
    assert_eq!(row(&report, "smtp.port").1, "env");
    assert_eq!(row(&report, "smtp.from_name").0, "\"Atelier Events\"");
    assert_eq!(
        row(&report, "smtp.host"),
        (
            "\"smtp.example.com\"".into(),
            "file".into(),
            "OPENEVENT_SMTP_HOST".into()
        )
    );
    assert_eq!(row(&report, "web.secure_cookies").0, "true");
    assert_eq!(
        row(&report, "smtp.timeout_secs").1,
        "default",
        "a key set nowhere"
    );
    assert_eq!(
        row(&report, "retry.max_attempts"),
        (
            "6".into(),
            "default".into(),
            "OPENEVENT_RETRY_MAX_ATTEMPTS".into()
        )
    );
    assert_eq!(row(&report, "[imap]").0, "(not configured)");
    // Printing the configuration opens no database.
    assert!(!oe.dir.path().join("openevent.db").exists());
}

/// A real server: the rate limit comes from the environment although the file says otherwise,
/// and the address from the flag although the environment names one that cannot be bound.
#[test]
fn the_running_server_uses_env_over_file_and_flag_over_env() {
    let oe = Oe::new();
    let created = oe.json(&["--org", "atelier", "token", "create", "--role", "viewer"]);
    let token = created["token"].as_str().unwrap().to_owned();
    let config = oe.write("serve.toml", b"rate_limit_per_minute = 100\n");
    let mut child = oe
        .command(&["serve", "--bind", "127.0.0.1:0"])
        .env("OPENEVENT_BIND", "192.0.2.1:1")
        .env("OPENEVENT_ORG", "atelier")
        .env("OPENEVENT_CONFIG", &config)
        .env("OPENEVENT_RATE_LIMIT_PER_MINUTE", "2")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn openevent serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let Some(addr) = line.trim().strip_prefix("openevent listening on http://") else {
        let _ = child.kill();
        let mut err = String::new();
        let _ = child.stderr.take().unwrap().read_to_string(&mut err);
        panic!("serve did not start: {line:?} {err}");
    };
    let get = |path: &str| -> u16 {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    };
    let statuses: Vec<u16> = (0..3).map(|_| get("/api/v1/events")).collect();
    let _ = child.kill();
    let _ = child.wait();
    // The token belongs to `atelier`, the organization from OPENEVENT_ORG; two requests a
    // minute from OPENEVENT_RATE_LIMIT_PER_MINUTE, not the file's 100.
    assert_eq!(statuses, vec![200, 200, 429]);
}

#[test]
fn a_bad_value_in_the_environment_names_the_variable_and_the_type() {
    let oe = Oe::new();
    /// The variables set, the one the error must name, what else it must say.
    type Case = (
        &'static [(&'static str, &'static str)],
        &'static str,
        &'static str,
    );
    let cases: &[Case] = &[
        (
            &[("OPENEVENT_SMTP_PORT", "submission")],
            "OPENEVENT_SMTP_PORT",
            "expected an integer from 0 to 65535",
        ),
        (
            &[("OPENEVENT_RATE_LIMIT_PER_MINUTE", "-5")],
            "OPENEVENT_RATE_LIMIT_PER_MINUTE",
            "expected an integer from 0 to 4294967295",
        ),
        (
            &[("OPENEVENT_WEB_SECURE_COOKIES", "yes")],
            "OPENEVENT_WEB_SECURE_COOKIES",
            "expected a boolean (true or false)",
        ),
        (
            &[
                ("OPENEVENT_IMAP_HOST", "127.0.0.1"),
                ("OPENEVENT_IMAP_USER", "events"),
                ("OPENEVENT_IMAP_TLS", "ssl"),
            ],
            "OPENEVENT_IMAP_TLS",
            "unknown variant `ssl`, expected one of `none`, `starttls`, `tls`",
        ),
        (
            &[("OPENEVENT_LLM_TEMPERATURE", "warm")],
            "OPENEVENT_LLM_TEMPERATURE",
            "expected a number",
        ),
        // Typed, then validated like the file: the variable is named either way.
        (
            &[("OPENEVENT_RATE_LIMIT_PER_MINUTE", "0")],
            "OPENEVENT_RATE_LIMIT_PER_MINUTE",
            "must be at least 1",
        ),
        (
            &[
                ("OPENEVENT_IMAP_HOST", "mail.example.com"),
                ("OPENEVENT_IMAP_USER", "events"),
                ("OPENEVENT_IMAP_TLS", "none"),
            ],
            "OPENEVENT_IMAP_TLS",
            "imap.tls",
        ),
        // A section begun in the environment must be completed there or in the file.
        (
            &[("OPENEVENT_SMTP_HOST", "127.0.0.1")],
            "OPENEVENT_SMTP_SECURITY",
            "smtp.security is missing",
        ),
    ];
    for (vars, name, expect) in cases {
        let mut cmd = oe.command(&["serve", "--bind", "127.0.0.1:0"]);
        cmd.envs(vars.iter().copied());
        let out = cmd.output().expect("run openevent");
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(65), "{vars:?}: {err}");
        assert!(
            err.contains(name) && err.contains(expect),
            "{vars:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{vars:?}: {err}");
        assert!(out.stdout.is_empty(), "{vars:?} started listening");
        assert!(!oe.db_path.exists(), "{vars:?} created a database");
    }
    // An option's value from the environment is refused by clap as a usage error (exit 2),
    // traced back to its variable.
    let out = oe
        .command(&["serve", "--bind", "127.0.0.1:0"])
        .env("OPENEVENT_LOG_FORMAT", "xml")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("environment variable OPENEVENT_LOG_FORMAT"),
        "{}",
        stderr(&out)
    );
}

/// An approved reply and its queued email; returns the event id.
fn approved_offer(oe: &Oe) -> String {
    let turn = oe.ingest_text(&eml(
        "Laura Meier <laura@helvetia-labs.ch>",
        "Workshop booking",
        "inq-env@helvetia-labs.ch",
        None,
        "Hello, we would like to book Room A for a workshop with 25 people on 17.03.2027 from 09:00 to 17:00.",
    ));
    let task = turn["tasks"][0].as_str().unwrap();
    let decided = oe.json(&["tasks", "approve", task]);
    assert_eq!(decided["queued_emails"], 1, "{decided}");
    turn["event_id"].as_str().unwrap().to_owned()
}

fn smtp_env(cmd: &mut Command, port: u16) -> &mut Command {
    cmd.env("OPENEVENT_SMTP_HOST", "127.0.0.1")
        .env("OPENEVENT_SMTP_PORT", port.to_string())
        .env("OPENEVENT_SMTP_SECURITY", "none")
        .env("OPENEVENT_SMTP_FROM_ADDRESS", "events@atelier.example")
        .env("OPENEVENT_SMTP_FROM_NAME", "The Atelier")
        .env("OPENEVENT_SMTP_TIMEOUT_SECS", "5")
}

fn run_due(oe: &Oe, port: u16) -> Value {
    let out = smtp_env(&mut oe.command(&["outbox", "run-due"]), port)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// No configuration file at all: `[smtp]` comes from the environment alone, and the outbox is
/// delivered through it.
#[test]
fn smtp_configured_only_from_the_environment() {
    let oe = Oe::new();
    approved_offer(&oe);
    let port = free_port();

    let report = print_config(smtp_env(
        &mut oe.command(&["serve", "--print-config"]),
        port,
    ));
    assert_eq!(
        row(&report, "smtp.host"),
        (
            "\"127.0.0.1\"".into(),
            "env".into(),
            "OPENEVENT_SMTP_HOST".into()
        )
    );
    assert!(report.contains("# config file: none"), "{report}");

    // Nothing listens yet: the attempt is made (so the channel exists) and fails.
    let run = run_due(&oe, port);
    assert_eq!(run["failed"], 1, "{run}");
    let failed = oe.json(&["outbox", "list", "--status", "failed"]);
    assert!(
        failed[0]["last_error"].as_str().unwrap().contains("smtp"),
        "{failed}"
    );

    let Some(py) = require_python("smtp_configured_only_from_the_environment") else {
        return;
    };
    let server = Server::start(py, oe.dir.path(), port, &ServerOptions::default());
    let later = "2026-11-22T09:05:00Z";
    let out = smtp_env(
        &mut oe.command(&["--now", later, "outbox", "run-due"]),
        port,
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let run: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(run["executed"], 1, "{run}");
    let mails = server.mails();
    assert_eq!(mails.len(), 1);
    let mail = String::from_utf8_lossy(&mails[0]);
    assert!(mail.contains("The Atelier"), "{mail}");
}

#[test]
fn print_config_redacts_secrets_and_reports_unknown_variables() {
    let oe = Oe::new();
    let config = oe.write(
        "serve.toml",
        b"[smtp]\nhost = \"smtp.example.com\"\nsecurity = \"starttls\"\nusername = \"events\"\npassword_env = \"OPENEVENT_SMTP_PASSWORD\"\nfrom_address = \"events@atelier.example\"\n",
    );
    let out = bare(
        &oe,
        &[
            "serve",
            "--config",
            config.to_str().unwrap(),
            "--print-config",
        ],
    )
    .env(
        "OPENEVENT_DB",
        "postgres://app:db-password-1@db.example/openevent",
    )
    .env("OPENEVENT_SMTP_PASSWORD", "smtp-password-2")
    .env(
        "OPENEVENT_PAYMENTS_WEBHOOK_SECRET_ENV",
        "PAYMENT_SECRET_NOT_SET",
    )
    .env("OPENEVENT_SMTP_HOTS", "typo")
    .output()
    .unwrap();
    let report = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!report.contains("db-password-1"), "{report}");
    assert!(!report.contains("smtp-password-2"), "{report}");
    assert_eq!(
        row(&report, "--db").0,
        "\"postgres://app:<redacted>@db.example/openevent\""
    );
    assert_eq!(
        row(&report, "smtp.password_env").0,
        "\"OPENEVENT_SMTP_PASSWORD\" (secret set)"
    );
    assert_eq!(
        row(&report, "payments.webhook_secret_env"),
        (
            "\"PAYMENT_SECRET_NOT_SET\" (secret NOT SET)".into(),
            "env".into(),
            "OPENEVENT_PAYMENTS_WEBHOOK_SECRET_ENV".into()
        )
    );
    assert!(
        report.contains("# not used: OPENEVENT_SMTP_HOTS"),
        "{report}"
    );
    assert!(
        !report.contains("not used: OPENEVENT_SMTP_PASSWORD"),
        "a secret's variable is used: {report}"
    );
}

#[test]
fn help_names_the_variables() {
    let oe = Oe::new();
    let out = bare(&oe, &["serve", "--help"]).output().unwrap();
    let help = stdout(&out);
    for name in [
        "OPENEVENT_BIND",
        "OPENEVENT_CONFIG",
        "OPENEVENT_DB",
        "OPENEVENT_ORG",
        "OPENEVENT_NOW",
        "OPENEVENT_VENUE",
        "OPENEVENT_TEMPLATES",
        "OPENEVENT_LOG_FORMAT",
        "OPENEVENT_TEST_CLOCK",
        "OPENEVENT_<SECTION>_<KEY>",
    ] {
        assert!(help.contains(name), "{name} missing from:\n{help}");
    }
}
