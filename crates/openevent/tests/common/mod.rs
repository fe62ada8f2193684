//! Runs the real `openevent` binary against a temporary SQLite database.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

pub const NOW: &str = "2026-11-22T09:00:00Z";

pub struct Oe {
    pub dir: tempfile::TempDir,
    pub db_path: PathBuf,
}

impl Oe {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let db_path = dir.path().join("openevent.db");
        Self { dir, db_path }
    }

    pub fn db_url(&self) -> String {
        format!("sqlite://{}", self.db_path.display())
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_openevent"));
        for (k, _) in std::env::vars() {
            if k.starts_with("OPENEVENT_") {
                cmd.env_remove(k);
            }
        }
        if !args.contains(&"--db") {
            cmd.arg("--db").arg(self.db_url());
        }
        if !args.contains(&"--now") {
            cmd.arg("--now").arg(NOW);
        }
        cmd.args(args);
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run openevent")
    }

    pub fn run_stdin(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn openevent");
        // A refused oversized input may close the pipe early; that is the point.
        let _ = child.stdin.take().unwrap().write_all(stdin);
        child.wait_with_output().expect("wait openevent")
    }

    /// Runs and expects success; returns the JSON it printed.
    pub fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "openevent {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("stdout is JSON")
    }

    pub fn ingest_text(&self, eml: &str) -> Value {
        let path = self.dir.path().join(format!("m{}.eml", rand_suffix(eml)));
        std::fs::write(&path, eml).unwrap();
        self.json(&["ingest", path.to_str().unwrap()])
    }

    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// The database file's bytes plus its WAL, to prove that a refused command changed nothing.
    pub fn db_bytes(&self) -> Vec<u8> {
        let mut out = std::fs::read(&self.db_path).unwrap_or_default();
        out.extend(std::fs::read(wal_path(&self.db_path)).unwrap_or_default());
        out
    }
}

fn wal_path(db: &Path) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push("-wal");
    PathBuf::from(s)
}

fn rand_suffix(text: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    format!("{:x}", h.finish())
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A minimal RFC 5322 message.
pub fn eml(
    from: &str,
    subject: &str,
    message_id: &str,
    in_reply_to: Option<&str>,
    body: &str,
) -> String {
    let mut s = format!(
        "From: {from}\r\nTo: events@atelier.example\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\n"
    );
    if let Some(p) = in_reply_to {
        s.push_str(&format!("In-Reply-To: <{p}>\r\nReferences: <{p}>\r\n"));
    }
    s.push_str("Content-Type: text/plain; charset=utf-8\r\n\r\n");
    s.push_str(body);
    s.push_str("\r\n");
    s
}

pub const INQUIRY_BODY: &str = "Hello, we would like to book a room for a team workshop with 20 participants. Is there availability?";
