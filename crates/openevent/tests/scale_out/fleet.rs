//! The `openevent serve` processes of the run: started, SIGKILLed and restarted by slot, each
//! incarnation with its own configuration (its EHLO name) and log file. Whatever is still running
//! when the fleet is dropped — a failed assertion included — is killed and reaped.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

pub const ORG: &str = "atelier";

/// The `openevent` binary with the test's environment removed (the `OPENEVENT_SCALE_*` and
/// `OPENEVENT_TEST_PG_URL` variables are the test's, not the product's).
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

/// Runs a one-off command and expects success.
pub fn run(db_url: &str, args: &[&str]) -> Output {
    let out = openevent(db_url)
        .args(args)
        .output()
        .expect("run openevent");
    assert!(
        out.status.success(),
        "openevent {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The addresses the driver posts to, by slot; `None` while the slot's process is down.
pub type Addrs = Arc<RwLock<Vec<Option<String>>>>;

struct Proc {
    child: Child,
    helo: String,
    log: PathBuf,
}

pub struct Fleet {
    db_url: String,
    dir: PathBuf,
    smtp_port: u16,
    procs: Vec<Option<Proc>>,
    generations: Vec<u32>,
    addrs: Addrs,
    /// The EHLO names of the incarnations that were SIGKILLed.
    pub killed: Vec<String>,
}

impl Fleet {
    pub fn new(db_url: &str, dir: &Path, smtp_port: u16, slots: usize) -> Fleet {
        Fleet {
            db_url: db_url.to_owned(),
            dir: dir.to_owned(),
            smtp_port,
            procs: (0..slots).map(|_| None).collect(),
            generations: vec![0; slots],
            addrs: Arc::new(RwLock::new(vec![None; slots])),
            killed: Vec::new(),
        }
    }

    pub fn addrs(&self) -> Addrs {
        Arc::clone(&self.addrs)
    }

    fn set_addr(&self, slot: usize, addr: Option<String>) {
        self.addrs.write().unwrap_or_else(PoisonError::into_inner)[slot] = addr;
    }

    /// The EHLO name of the slot's current incarnation.
    pub fn helo(&self, slot: usize) -> &str {
        &self.procs[slot].as_ref().expect("running").helo
    }

    /// Starts the slot's next incarnation and publishes its address once it listens.
    pub fn start(&mut self, slot: usize) {
        assert!(self.procs[slot].is_none(), "slot {slot} is running");
        let generation = self.generations[slot];
        self.generations[slot] += 1;
        let helo = format!("w{slot}-g{generation}.scale.test");
        let config = self.dir.join(format!("serve-{slot}-{generation}.toml"));
        // The API's per-token limit would throttle the driver; the SMTP sink is plain text on
        // loopback. A short lease brings a killed process's jobs back within seconds; the SMTP
        // timeout stays under half of it, as the dispatcher requires for its batches.
        std::fs::write(
            &config,
            format!(
                "rate_limit_per_minute = 100000000\n\n\
                 [retry]\n\
                 lease_secs = {}\n\n\
                 [smtp]\n\
                 host = \"127.0.0.1\"\n\
                 port = {}\n\
                 security = \"none\"\n\
                 from_address = \"events@atelier.example\"\n\
                 hello_name = \"{helo}\"\n\
                 timeout_secs = 5\n",
                super::LEASE.as_secs(),
                self.smtp_port
            ),
        )
        .expect("write the serve configuration");
        let log = self.dir.join(format!("serve-{slot}-{generation}.log"));
        let mut child = openevent(&self.db_url)
            .args(["serve", "--bind", "127.0.0.1:0", "--config"])
            .arg(&config)
            // Warnings, and the serve module's start and stop.
            .env("OPENEVENT_LOG", "warn,openevent::serve=info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(File::create(&log).expect("create the log file"))
            .spawn()
            .expect("spawn openevent serve");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        let _ = stdout.read_line(&mut line);
        let Some(addr) = line
            .trim()
            .strip_prefix("openevent listening on http://")
            .map(str::to_owned)
        else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "serve {helo} did not start (first line {line:?}):\n{}",
                tail(&log)
            );
        };
        // Nothing else is expected on stdout, but a closed pipe must never be what stops it.
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut stdout, &mut std::io::sink());
        });
        self.procs[slot] = Some(Proc { child, helo, log });
        self.set_addr(slot, Some(addr));
    }

    /// SIGKILL: no shutdown, no flushing, leases left held.
    pub fn kill(&mut self, slot: usize) {
        self.set_addr(slot, None);
        let mut proc = self.procs[slot].take().expect("running");
        proc.child.kill().expect("SIGKILL");
        proc.child.wait().expect("reap the killed process");
        self.killed.push(proc.helo);
    }

    /// Fails (with their logs) if processes exited that the test did not kill.
    pub fn check_running(&mut self) {
        let mut exited = Vec::new();
        for proc in self.procs.iter_mut().flatten() {
            if let Some(status) = proc.child.try_wait().expect("try_wait") {
                exited.push(format!(
                    "serve {} exited on its own ({status}):\n{}",
                    proc.helo,
                    tail(&proc.log)
                ));
            }
        }
        assert!(exited.is_empty(), "{}", exited.join("\n"));
    }

    /// SIGTERM to every process, then each one's exit status (within `limit`).
    pub fn stop_all(&mut self, limit: Duration) -> Vec<(String, ExitStatus)> {
        for slot in 0..self.procs.len() {
            self.set_addr(slot, None);
        }
        for proc in self.procs.iter().flatten() {
            let pid = proc.child.id().to_string();
            let sent = Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .expect("run kill");
            assert!(sent.success(), "kill -TERM {pid}");
        }
        let started = Instant::now();
        let mut statuses = Vec::new();
        for slot in 0..self.procs.len() {
            let Some(proc) = self.procs[slot].as_mut() else {
                continue;
            };
            loop {
                if let Some(status) = proc.child.try_wait().expect("try_wait") {
                    statuses.push((proc.helo.clone(), status));
                    self.procs[slot] = None;
                    break;
                }
                assert!(
                    started.elapsed() < limit,
                    "serve {} did not stop on SIGTERM",
                    proc.helo
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        statuses
    }

    /// Every log file of the run (killed incarnations included).
    pub fn logs(&self) -> Vec<PathBuf> {
        let mut logs: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "log"))
                    .collect()
            })
            .unwrap_or_default();
        logs.sort();
        logs
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for proc in self.procs.iter_mut().flatten() {
            let _ = proc.child.kill();
            let _ = proc.child.wait();
        }
    }
}

/// The end of a log file, for failure messages.
pub fn tail(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut f) = File::open(path) {
        let _ = f.read_to_string(&mut text);
    }
    let start = text.len().saturating_sub(4000);
    let start = (start..text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len());
    format!("--- {} ---\n{}", path.display(), &text[start..])
}
