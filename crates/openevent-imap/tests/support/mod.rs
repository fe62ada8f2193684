//! A real Dovecot IMAP server on loopback, in a temporary directory, for the poller's tests; and
//! a recording, idempotent sink.

#![allow(dead_code)] // each test binary uses a different part

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Write as _;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_imap::types::Flag;
use futures_util::TryStreamExt;
use openevent_imap::{ImapConfig, MessageSink, Password, SinkError, SinkOutcome, TlsMode};

/// The password Dovecot accepts (static passdb: any user name).
pub const PASSWORD: &str = "s3cret-pass";
pub const USER: &str = "poller";

/// Locates the dovecot binary (`OPENEVENT_TEST_DOVECOT` overrides the search). Missing: with `CI`
/// set the test fails, otherwise it is skipped with a loud message.
pub fn dovecot_binary() -> Option<PathBuf> {
    let found = match std::env::var_os("OPENEVENT_TEST_DOVECOT") {
        Some(path) => Some(PathBuf::from(path)).filter(|p| p.exists()),
        None => ["/usr/sbin/dovecot", "/usr/local/sbin/dovecot"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .or_else(|| {
                std::env::var_os("PATH").and_then(|paths| {
                    std::env::split_paths(&paths)
                        .map(|d| d.join("dovecot"))
                        .find(|p| p.exists())
                })
            }),
    };
    if found.is_none() {
        if std::env::var_os("CI").is_some() {
            panic!(
                "dovecot not found and CI is set: install it (apt-get install -y dovecot-imapd)"
            );
        }
        // Straight to stderr, past the test harness's capture, once per test binary.
        static WARNED: std::sync::Once = std::sync::Once::new();
        WARNED.call_once(|| {
            let _ = writeln!(
                std::io::stderr(),
                "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
                 !!! SKIPPED: dovecot not found; the IMAP poller was NOT tested.       !!!\n\
                 !!! Install it: apt-get install -y dovecot-imapd                      !!!\n\
                 !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
            );
        });
    }
    found
}

/// A Dovecot instance: its own config, sockets, state and maildir under a temporary directory,
/// listening on 127.0.0.1 only. Killed (with all its processes) on drop.
pub struct Dovecot {
    binary: PathBuf,
    dir: tempfile::TempDir,
    conf: PathBuf,
    log: PathBuf,
    /// Plain IMAP (STARTTLS offered when TLS is on).
    pub port: u16,
    /// Implicit TLS, when started with [`Dovecot::start_tls`].
    pub tls_port: Option<u16>,
    child: Option<Child>,
}

impl Dovecot {
    /// Plain text on loopback. `None`: dovecot is not installed (and CI is not set).
    pub fn start() -> Option<Dovecot> {
        Self::start_with(false)
    }

    /// With the test certificate in `tests/fixtures/tls` (STARTTLS on `port`, TLS on `tls_port`).
    pub fn start_tls() -> Option<Dovecot> {
        Self::start_with(true)
    }

    fn start_with(tls: bool) -> Option<Dovecot> {
        let binary = dovecot_binary()?;
        let dir = tempfile::Builder::new()
            .prefix("oe-imap-")
            .tempdir()
            .expect("temp dir");
        let root = dir.path().to_path_buf();
        for sub in ["base", "state", "mail"] {
            fs::create_dir(root.join(sub)).unwrap();
        }
        // Mail is accessed as an unprivileged uid: Dovecot refuses uid 0 for mail. As root, that is
        // `nobody` (it must reach the maildir, hence 0755 on the temp dir); otherwise ourselves.
        let me = fs::metadata(&root).unwrap().uid();
        let (internal_user, internal_group, login_user, mail_uid, mail_gid) = if me == 0 {
            fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
            std::os::unix::fs::chown(root.join("mail"), Some(65534), Some(65534)).unwrap();
            (
                "dovecot".to_owned(),
                "dovecot".to_owned(),
                "dovenull".to_owned(),
                65534,
                65534,
            )
        } else {
            // Rootless: every Dovecot process runs as us.
            let id = |flag: &str| {
                let out = Command::new("id").arg(flag).output().expect("id");
                String::from_utf8(out.stdout).unwrap().trim().to_owned()
            };
            let gid = fs::metadata(&root).unwrap().gid();
            (id("-un"), id("-gn"), id("-un"), me, gid)
        };
        let port = free_port();
        let tls_port = tls.then(free_port);
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls");
        let ssl = if tls {
            format!(
                "ssl = yes\nssl_cert = <{}\nssl_key = <{}\n",
                fixtures.join("server.pem").display(),
                fixtures.join("server.key").display()
            )
        } else {
            "ssl = no\n".to_owned()
        };
        let conf = format!(
            r#"# throwaway test instance
base_dir = {root}/base
state_dir = {root}/state
instance_name = oe-imap-test-{port}
listen = 127.0.0.1
protocols = imap
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
log_path = /dev/stderr
info_log_path = /dev/stderr
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
first_valid_uid = 0
mail_location = maildir:{root}/mail/%u
mail_fsync = never
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
service anvil {{
  chroot =
}}
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={root}/mail/%u
}}
"#,
            root = root.display(),
            tls_port = tls_port.unwrap_or(0),
            password = PASSWORD,
        );
        let conf_path = root.join("dovecot.conf");
        fs::write(&conf_path, conf).unwrap();
        let log = root.join("dovecot.log");
        let mut server = Dovecot {
            binary,
            dir,
            conf: conf_path,
            log,
            port,
            tls_port,
            child: None,
        };
        server.launch();
        Some(server)
    }

    fn launch(&mut self) {
        assert!(self.child.is_none(), "already running");
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(&self.binary)
            .arg("-F")
            .arg("-c")
            .arg(&self.conf)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            // Its own process group, so `kill` reaches every Dovecot process at once.
            .process_group(0)
            .spawn()
            .expect("spawn dovecot");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        let ports: Vec<u16> = std::iter::once(self.port).chain(self.tls_port).collect();
        for port in ports {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                    panic!("dovecot exited ({status}) at start:\n{}", self.log_text());
                }
                assert!(
                    Instant::now() < deadline,
                    "dovecot did not listen on {port} within 10 s:\n{}",
                    self.log_text()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Kills the whole server at once (SIGKILL to its process group: master, login and mail
    /// processes), like a crash; open connections drop. Waits until it is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.kill();
            let _ = child.wait();
            // The master's pid file would make the next start refuse ("already running").
            let _ = fs::remove_file(self.dir.path().join("base/master.pid"));
        }
    }

    /// Starts it again on the same ports and maildir.
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    pub fn start_again(&mut self) {
        self.launch();
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// An `[imap]` config for this server, plain text on loopback.
    pub fn config(&self) -> ImapConfig {
        let mut c = ImapConfig::new("127.0.0.1", TlsMode::None, USER);
        c.port = Some(self.port);
        c.timeout_secs = 5;
        c.reconnect_max_secs = 1;
        c
    }

    pub fn password(&self) -> Password {
        Password::new(PASSWORD)
    }

    async fn session(&self) -> async_imap::Session<tokio::net::TcpStream> {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .unwrap();
        let mut client = async_imap::Client::new(tcp);
        client.read_response().await.unwrap().unwrap();
        client
            .login(USER, PASSWORD)
            .await
            .map_err(|(e, _)| e)
            .unwrap()
    }

    /// Puts messages into INBOX (IMAP APPEND, unseen).
    pub async fn append(&self, messages: &[Vec<u8>]) {
        self.append_to("INBOX", messages).await;
    }

    /// Creates the mailbox (its IMAP name, modified UTF-7) if needed and appends to it.
    pub async fn append_to(&self, mailbox: &str, messages: &[Vec<u8>]) {
        let mut s = self.session().await;
        if mailbox != "INBOX" {
            let _ = s.create(mailbox).await;
        }
        for m in messages {
            s.append(mailbox, None, None, m).await.unwrap();
        }
        s.logout().await.unwrap();
    }

    /// Message-ID → flags, for every message in INBOX. Reads with PEEK: changes nothing.
    pub async fn flags(&self) -> BTreeMap<String, Vec<String>> {
        let mut s = self.session().await;
        s.select("INBOX").await.unwrap();
        let fetches: Vec<_> = s
            .uid_fetch("1:*", "(UID FLAGS BODY.PEEK[])")
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        let mut out = BTreeMap::new();
        for f in &fetches {
            let id = message_id(f.body().expect("body")).expect("test messages have ids");
            let mut flags: Vec<String> = f
                .flags()
                .filter(|fl| *fl != Flag::Recent)
                .map(|fl| match fl {
                    Flag::Seen => "\\Seen".to_owned(),
                    Flag::Custom(c) => c.to_string(),
                    other => format!("{other:?}"),
                })
                .collect();
            flags.sort();
            out.insert(id, flags);
        }
        drop(fetches);
        s.logout().await.unwrap();
        out
    }

    /// Message-IDs still unseen.
    pub async fn unseen(&self) -> Vec<String> {
        self.flags()
            .await
            .into_iter()
            .filter(|(_, f)| !f.iter().any(|f| f == "\\Seen"))
            .map(|(id, _)| id)
            .collect()
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("--- dovecot log ---\n{}", self.log_text());
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A small RFC 5322 message with Message-ID `<{n}@test.openevent>`.
pub fn message(n: usize) -> Vec<u8> {
    format!(
        "From: Client {n} <client{n}@example.com>\r\n\
         To: events@atelier.example\r\n\
         Subject: Booking request {n}\r\n\
         Message-ID: <{n}@test.openevent>\r\n\
         Date: Mon, 16 Mar 2026 09:00:00 +0100\r\n\
         \r\n\
         Hello, we would like to book a room for 20 people. ({n})\r\n"
    )
    .into_bytes()
}

pub fn id(n: usize) -> String {
    format!("<{n}@test.openevent>")
}

/// The Message-ID header of a raw message (test messages only: one line, no folding).
pub fn message_id(raw: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(raw).ok()?;
    let headers = text.split("\r\n\r\n").next()?;
    headers.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("message-id")
            .then(|| value.trim().to_owned())
    })
}

type Hook = Box<dyn Fn(&str, usize) + Send + Sync>;

/// A sink like openevent's ingest: idempotent on Message-ID (a second delivery answers
/// `Duplicate`), with scripted failures.
#[derive(Default)]
pub struct RecordingSink {
    pub state: Mutex<SinkState>,
    /// Message-IDs that fail transiently the first time they are offered.
    pub fail_once: Vec<String>,
    /// Message-IDs answered `Rejected`.
    pub reject: Vec<String>,
    /// Called after the n-th commit (1-based), with its Message-ID, before answering.
    pub after_commit: Option<Hook>,
}

#[derive(Default, Debug)]
pub struct SinkState {
    /// Every offer, in order.
    pub offered: Vec<String>,
    /// Message-ID → times committed (must end up 1 for each).
    pub commits: HashMap<String, usize>,
    pub duplicates: Vec<String>,
    pub failed: Vec<String>,
    pub rejected: Vec<String>,
}

impl RecordingSink {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn state(&self) -> std::sync::MutexGuard<'_, SinkState> {
        self.state.lock().unwrap()
    }

    fn decide(&self, raw: &[u8]) -> Result<SinkOutcome, SinkError> {
        let id = message_id(raw).ok_or_else(|| SinkError::transient("no Message-ID"))?;
        let mut state = self.state.lock().unwrap();
        state.offered.push(id.clone());
        if self.reject.contains(&id) {
            state.rejected.push(id);
            return Ok(SinkOutcome::Rejected {
                reason: "scripted rejection".to_owned(),
            });
        }
        if self.fail_once.contains(&id) && !state.failed.contains(&id) {
            state.failed.push(id);
            return Err(SinkError::transient("database is locked"));
        }
        if state.commits.contains_key(&id) {
            state.duplicates.push(id);
            return Ok(SinkOutcome::Duplicate);
        }
        state.commits.insert(id.clone(), 1);
        let n = state.commits.len();
        drop(state);
        if let Some(hook) = &self.after_commit {
            hook(&id, n);
        }
        Ok(SinkOutcome::Committed)
    }
}

impl MessageSink for RecordingSink {
    async fn ingest(&self, raw: Vec<u8>) -> Result<SinkOutcome, SinkError> {
        self.decide(&raw)
    }
}
