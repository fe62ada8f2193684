//! The database's disk fills up under `openevent serve` (issue: "Disk full (a small loop-mounted
//! or tmpfs-limited data dir): clear errors, no corruption, recovery when space returns.").
//!
//! The SQLite database lives on a tmpfs of [`SMALL`]; messages are posted until the API refuses
//! them. Then: the refusal is a server error that says why, the process stays up, what was
//! accepted is still readable; the filesystem grows to [`GROWN`] and writes are accepted again
//! without a restart. Last the WAL: everything since the server started is still in
//! `openevent.db-wal` (the product checkpoints only every 10,000 pages), the disk is filled again
//! and the server stopped, so its closing checkpoint runs out of space; the database must open
//! afterwards (still full, and with space back), pass `PRAGMA integrity_check` and hold every
//! accepted message exactly once, and none that was refused.
//!
//! Needs root (mount). Without it the test says loudly that it skipped, except under `CI=true`,
//! where it fails. Whatever happens, the server is killed before the tmpfs is unmounted.

mod faults;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use faults::{INQUIRY, Response, Serve, metric, panics, run};
use serde_json::json;

/// The data directory's size at first.
const SMALL: &str = "4m";
/// Its size once space "returns".
const GROWN: &str = "64m";
/// Padding per message, so that a few dozen fill the small disk.
const PAD_BYTES: usize = 8 * 1024;
/// Refusals in a row that count as "the disk is full" (one could be a large message that did not
/// fit where a smaller one still would).
const REFUSALS_IN_A_ROW: usize = 5;
/// A disk that has not filled after this many messages is not the small one.
const MAX_POSTS: usize = 2_000;
/// Messages that must be accepted once the filesystem has grown.
const AFTER_GROWTH: usize = 5;
/// Anything the detail of a disk-full refusal could say to name its cause.
const CAUSE_WORDS: &[&str] = &["disk", "full", "space", "storage"];

fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Skips loudly, or fails under `CI=true`: CI runs as root, so a skip there would hide the test.
fn skip(test: &str, why: &str) {
    let message = format!("{test}: SKIPPED: {why}");
    assert!(!in_ci(), "{message} (CI=true, so this is a failure)");
    eprintln!(
        "\n{}\n!!! {message}\n{}\n",
        "!".repeat(100),
        "!".repeat(100)
    );
}

/// A size-limited tmpfs; unmounted when dropped (lazily if something still holds it, so that no
/// mount outlives the test).
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Result<Tmpfs, String> {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount -t tmpfs -o size={size} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Tmpfs {
            dir: dir.to_owned(),
        })
    }

    fn resize(&self, size: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.dir)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "remount size={size}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn usage(&self) -> String {
        let out = Command::new("df")
            .args(["-k", "--output=size,used,avail"])
            .arg(&self.dir)
            .output()
            .expect("run df");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap_or_default()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join("/")
            + " KiB size/used/avail"
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg(&self.dir)
            .status()
            .is_ok_and(|s| s.success());
        if !unmounted {
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
    }
}

/// Fills the filesystem with a file until the kernel says there is no space left.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut file = File::create(&path).expect("create the filler");
    for chunk in [1024 * 1024, 4096, 1] {
        let block = vec![0xA5_u8; chunk];
        loop {
            match file.write_all(&block) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
                Err(e) => panic!("filling the disk: {e}"),
            }
        }
    }
    path
}

fn wal_of(db: &Path) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push("-wal");
    PathBuf::from(s)
}

fn file_len(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.len())
}

/// An inquiry from its own client: its own booking and task.
fn post(serve: &Serve, token: &str, n: usize, pad: &str) -> (String, Response) {
    let message_id = format!("disk-{n:04}@faults.example");
    let body = json!({
        "from_email": format!("client-{n:04}@client.example"),
        "from_name": "Fault Test",
        "subject": "Workshop",
        "body": format!("{INQUIRY}\n\n{pad}"),
        "message_id": format!("<{message_id}>"),
    });
    let r = serve.request("POST", "/api/v1/messages", Some(token), &body.to_string());
    (message_id, r)
}

fn mentions_cause(detail: &str) -> bool {
    let detail = detail.to_lowercase();
    CAUSE_WORDS.iter().any(|w| detail.contains(w))
}

fn one_line(r: &Response) -> String {
    let retry = r
        .retry_after
        .as_ref()
        .map(|s| format!(" Retry-After: {s}"))
        .unwrap_or_default();
    format!("{} {}{retry} {}", r.status, r.content_type, r.body.trim())
}

fn count(db: &rusqlite::Connection, sql: &str, value: &str) -> i64 {
    db.query_row(sql, [value], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[test]
fn a_full_disk_is_refused_clearly_and_survived_without_corruption() {
    let test = "a_full_disk_is_refused_clearly_and_survived_without_corruption";
    if let uid @ (None | Some(1..)) = effective_uid() {
        skip(
            test,
            &format!("needs root to mount a size-limited tmpfs (effective uid {uid:?})"),
        );
        return;
    }
    let started = Instant::now();
    let work = tempfile::tempdir().expect("temp dir");
    let data = work.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let fs = match Tmpfs::mount(&data, SMALL) {
        Ok(fs) => fs,
        Err(why) => {
            // Root without the capability (an unprivileged container) cannot mount either.
            skip(test, &why);
            return;
        }
    };
    let db_path = data.join("openevent.db");
    let db_url = format!("sqlite://{}", db_path.display());
    let token = faults::manager_token(&db_url);
    let config = work.path().join("serve.toml");
    std::fs::write(&config, "rate_limit_per_minute = 1000000\n").unwrap();
    let log = work.path().join("serve.log");
    let mut serve = Serve::start(&db_url, Some(&config), &log);
    let pad = "Details of the room set-up we need. ".repeat(PAD_BYTES / 36);
    let mut report = Vec::new();
    // What the issue asks for and the product does not do: collected and reported at the end,
    // so that every other check still runs.
    let mut findings: Vec<String> = Vec::new();

    // --- Fill the disk through the API.
    let mut accepted: Vec<(String, String)> = Vec::new();
    let mut refused: Vec<(usize, String)> = Vec::new();
    let mut answers: BTreeMap<String, usize> = BTreeMap::new();
    let mut in_a_row = 0;
    let mut n = 0;
    while in_a_row < REFUSALS_IN_A_ROW {
        assert!(
            n < MAX_POSTS,
            "{MAX_POSTS} messages and the disk is not full"
        );
        let (id, r) = post(&serve, &token, n, &pad);
        n += 1;
        if r.ok() {
            in_a_row = 0;
            let event = r.json()["event_id"].as_str().expect("event_id").to_owned();
            accepted.push((id, event));
        } else {
            in_a_row += 1;
            refused.push((n - 1, id));
            *answers.entry(one_line(&r)).or_default() += 1;
            assert!(
                (500..600).contains(&r.status),
                "a full disk is not the client's fault: {}",
                one_line(&r)
            );
            assert_eq!(r.content_type, "application/problem+json", "{}", r.body);
            let detail = r.json()["detail"].as_str().unwrap_or_default().to_owned();
            if !mentions_cause(&detail) && !findings.iter().any(|f| f.contains(&detail)) {
                findings.push(format!(
                    "POST /api/v1/messages on a full disk answers {} without naming the cause: {}",
                    r.status,
                    r.body.trim()
                ));
            }
        }
    }
    assert!(
        accepted.len() >= 5,
        "the disk was full almost at once: {answers:?}"
    );
    report.push(format!(
        "full after {} accepted messages ({}): {} refusals, answered {answers:?}",
        accepted.len(),
        fs.usage(),
        refused.len()
    ));

    // The operator can tell from the log why.
    let text = serve.log_text();
    assert!(
        text.contains("database or disk is full"),
        "the log does not say the disk is full:\n{text}"
    );

    // Another write: a manager's approval.
    let first_task = serve.get_json("/api/v1/tasks?status=pending&limit=1", &token)[0]["task_id"]
        .as_str()
        .expect("a pending task")
        .to_owned();
    let approve = serve.request(
        "POST",
        &format!("/api/v1/tasks/{first_task}/approve"),
        Some(&token),
        "{}",
    );
    report.push(format!(
        "approving a task on the full disk: {}",
        one_line(&approve)
    ));
    if !approve.ok() {
        assert!(
            (500..600).contains(&approve.status),
            "{}",
            one_line(&approve)
        );
        assert_eq!(approve.content_type, "application/problem+json");
        let detail = approve.json()["detail"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if !mentions_cause(&detail) {
            findings.push(format!(
                "POST /api/v1/tasks/{{id}}/approve on a full disk answers {} without naming the cause: {}",
                approve.status,
                approve.body.trim()
            ));
        }
    }

    // Still up, still reading.
    serve.assert_running();
    let health = serve.request("GET", "/healthz", None, "");
    assert_eq!(health.status, 200, "{}", one_line(&health));
    let ready = serve.request("GET", "/readyz", None, "");
    report.push(format!("/readyz on the full disk: {}", one_line(&ready)));
    for (_, event) in &accepted {
        let view = serve.get_json(&format!("/api/v1/events/{event}"), &token);
        assert_eq!(view["event_id"], event.as_str());
    }
    let metrics = serve.request("GET", "/metrics", None, "").body;
    let storage_errors = metric(&metrics, "openevent_ingest_errors_total{kind=\"storage\"}");
    assert_eq!(
        storage_errors,
        Some(refused.len() as f64),
        "refused messages counted on /metrics: {metrics}"
    );

    // --- Space returns: writes are accepted again by the same process.
    fs.resize(GROWN);
    let (_, r) = post(&serve, &token, 0, &pad);
    let (retry_n, _) = refused[0];
    let (id, r2) = post(&serve, &token, retry_n, &pad);
    assert_eq!(r.status, 200, "the first message again: {}", one_line(&r));
    assert_eq!(r.json()["duplicate"], true, "{}", r.body);
    assert_eq!(r2.status, 200, "a refused message again: {}", one_line(&r2));
    assert_eq!(
        r2.json()["duplicate"],
        false,
        "the refused message left something behind: {}",
        r2.body
    );
    accepted.push((id, r2.json()["event_id"].as_str().unwrap().to_owned()));
    refused.retain(|(k, _)| *k != retry_n);
    for k in 0..AFTER_GROWTH {
        let (id, r) = post(&serve, &token, MAX_POSTS + k, &pad);
        assert_eq!(r.status, 200, "after the disk grew: {}", one_line(&r));
        accepted.push((id, r.json()["event_id"].as_str().unwrap().to_owned()));
    }
    if !approve.ok() {
        let again = serve.request(
            "POST",
            &format!("/api/v1/tasks/{first_task}/approve"),
            Some(&token),
            "{}",
        );
        assert_eq!(again.status, 200, "{}", one_line(&again));
        assert_eq!(again.json()["queued_emails"], 1, "{}", again.body);
    }
    report.push(format!(
        "after remount size={GROWN}: a refused message and {AFTER_GROWTH} new ones accepted without a restart"
    ));

    // --- The disk fills during the closing checkpoint.
    let wal = wal_of(&db_path);
    let wal_before = file_len(&wal).unwrap_or(0);
    assert!(
        wal_before > 1024 * 1024,
        "the accepted messages should still be in the WAL ({wal_before} bytes)"
    );
    let main_before = file_len(&db_path).unwrap();
    let filler = fill(&data);
    let status = serve.stop(Duration::from_secs(30));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(panics(&text).is_empty(), "{text}");
    let wal_after = file_len(&wal).unwrap_or(0);
    assert!(
        wal_after > 0,
        "the closing checkpoint finished on a full disk? WAL {wal_before} -> {wal_after} bytes, main file {main_before} -> {:?}",
        file_len(&db_path)
    );
    report.push(format!(
        "SIGTERM with the disk full: {status}; WAL kept ({wal_after} bytes), main file {main_before} -> {:?} bytes",
        file_len(&db_path)
    ));
    if !status.success() {
        findings.push(format!(
            "serve exited {status} when its closing checkpoint failed"
        ));
    }

    // Still full: the product opens it and reads everything.
    let listed = run(&db_url, &["tasks", "list", "--json"]);
    if listed.status.success() {
        let tasks: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
        assert_eq!(
            tasks.as_array().unwrap().len(),
            accepted.len(),
            "tasks after the failed checkpoint"
        );
        report.push("with the disk still full, `openevent tasks list` reads every task".into());
    } else {
        findings.push(format!(
            "with the disk still full after a failed checkpoint, `openevent tasks list` fails ({}): {}",
            listed.status,
            String::from_utf8_lossy(&listed.stderr).trim()
        ));
    }

    // Space back: the product opens it, its checkpoint completes, the server serves it.
    std::fs::remove_file(&filler).unwrap();
    let migrated = run(&db_url, &["migrate"]);
    assert!(
        migrated.status.success(),
        "the database does not open after a checkpoint ran out of space: {}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    let serve = Serve::start(&db_url, Some(&config), &log);
    for (_, event) in &accepted {
        let view = serve.get_json(&format!("/api/v1/events/{event}"), &token);
        assert_eq!(view["event_id"], event.as_str());
    }
    let status = serve.stop(Duration::from_secs(30));
    assert!(status.success(), "{status}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(panics(&text).is_empty(), "{text}");
    report.push(format!(
        "space back: reopened, WAL now {:?} bytes, main file {:?} bytes",
        file_len(&wal),
        file_len(&db_path)
    ));

    // --- No corruption; every accepted message once, every refused one absent.
    let db = rusqlite::Connection::open(&db_path).expect("open the database");
    let integrity: Vec<String> = db
        .prepare("PRAGMA integrity_check")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(integrity, vec!["ok".to_owned()]);
    for (id, event) in &accepted {
        for sql in [
            "SELECT COUNT(*) FROM messages WHERE message_id = ?1 AND direction = 'inbound'",
            "SELECT COUNT(*) FROM history WHERE msg_id = ?1",
            "SELECT COUNT(*) FROM tasks WHERE source_message_id = ?1",
        ] {
            assert_eq!(count(&db, sql, id), 1, "{sql} [{id}]");
        }
        assert_eq!(
            count(
                &db,
                "SELECT COUNT(*) FROM events WHERE event_id = ?1",
                event
            ),
            1,
            "{event}"
        );
    }
    for (_, id) in &refused {
        for sql in [
            "SELECT COUNT(*) FROM messages WHERE message_id = ?1",
            "SELECT COUNT(*) FROM history WHERE msg_id = ?1",
            "SELECT COUNT(*) FROM tasks WHERE source_message_id = ?1",
        ] {
            assert_eq!(count(&db, sql, id), 0, "refused, yet stored: {sql} [{id}]");
        }
    }
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM messages WHERE direction = ?1",
            "inbound"
        ),
        accepted.len() as i64
    );
    drop(db);
    drop(fs);
    report.push(format!(
        "integrity_check ok; {} accepted messages stored once each, {} refused ones absent",
        accepted.len(),
        refused.len()
    ));

    eprintln!(
        "faults_disk ({:.1} s):\n  {}",
        started.elapsed().as_secs_f64(),
        report.join("\n  ")
    );
    assert!(
        findings.is_empty(),
        "the product does not do what the issue asks:\n- {}",
        findings.join("\n- ")
    );
}
