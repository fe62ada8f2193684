//! A real SMTP server for tests: Debian's `python3-aiosmtpd` on a free loopback port, writing
//! every accepted mail to a Maildir. The handler (`oe_sink.py`, written next to the Maildir)
//! refuses recipients the way real servers do: "reject" → 550, "busy" → 451, "flaky" → 451 for
//! its first two attempts; with a user and password it requires AUTH before MAIL. Shared by the
//! channel's tests and the binary's dispatcher tests.

#![allow(dead_code)] // each test binary uses a different part

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const HANDLER: &str = r#"
import base64
import collections

from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult


class Sink(Mailbox):
    def __init__(self, mail_dir, user=None, password=None):
        super().__init__(mail_dir)
        self.user = user
        self.password = password
        self.attempts = collections.Counter()

    @classmethod
    def from_cli(cls, parser, *args):
        if len(args) not in (1, 3):
            parser.error("Sink takes MAILDIR [USER PASSWORD]")
        return cls(*args)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.user is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.attempts[address] += 1
        if "reject" in address:
            return "550 5.1.1 No such user here"
        if "busy" in address:
            return "451 4.3.0 Mailbox busy, try again later"
        if "flaky" in address and self.attempts[address] <= 2:
            return "451 4.7.1 Greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def auth_PLAIN(self, server, args):
        # handled=False: the server answers "535 5.7.8" itself on failure.
        if len(args) != 2:
            return AuthResult(success=False, handled=False)
        try:
            _, user, password = base64.b64decode(args[1]).decode().split("\0")
        except Exception:
            return AuthResult(success=False, handled=False)
        ok = user == self.user and password == self.password
        return AuthResult(success=ok, handled=False)
"#;

/// The Python that has aiosmtpd: the system one (Debian package) first.
pub fn python() -> Option<&'static str> {
    ["/usr/bin/python3", "python3"].into_iter().find(|py| {
        Command::new(py)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

pub fn require_python(test: &str) -> Option<&'static str> {
    let py = python();
    if py.is_none() {
        if std::env::var_os("CI").is_some() {
            panic!(
                "{test}: python3-aiosmtpd is required in CI (apt-get install -y python3-aiosmtpd)"
            );
        }
        eprintln!(
            "SKIPPED {test}: python3-aiosmtpd is not installed (apt-get install -y python3-aiosmtpd)"
        );
    }
    py
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[derive(Default, Clone)]
pub struct ServerOptions {
    pub auth: Option<(&'static str, &'static str)>,
    /// (cert, key) for STARTTLS.
    pub starttls: Option<(PathBuf, PathBuf)>,
    /// (cert, key) for implicit TLS.
    pub smtps: Option<(PathBuf, PathBuf)>,
}

pub struct Server {
    pub child: Child,
    pub maildir: PathBuf,
    pub log: PathBuf,
}

impl Server {
    pub fn start(py: &str, dir: &Path, port: u16, opts: &ServerOptions) -> Server {
        std::fs::write(dir.join("oe_sink.py"), HANDLER).unwrap();
        let maildir = dir.join("maildir");
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(maildir.join(sub)).unwrap();
        }
        let log = dir.join(format!("aiosmtpd-{port}.log"));
        let mut cmd = Command::new(py);
        cmd.env("PYTHONPATH", dir)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "oe_sink.Sink"]);
        if let Some((cert, key)) = &opts.starttls {
            cmd.arg("--tlscert").arg(cert).arg("--tlskey").arg(key);
        }
        if let Some((cert, key)) = &opts.smtps {
            cmd.arg("--smtpscert").arg(cert).arg("--smtpskey").arg(key);
        }
        cmd.arg(&maildir);
        if let Some((user, password)) = opts.auth {
            cmd.args([user, password]);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start aiosmtpd");
        let mut server = Server {
            child,
            maildir,
            log,
        };
        server.wait_listening(port);
        server
    }

    pub fn wait_listening(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "aiosmtpd exited with {status}: {}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("aiosmtpd did not listen on {port} within 10 s");
    }

    /// Every mail in the Maildir, raw.
    pub fn mails(&self) -> Vec<Vec<u8>> {
        mails(&self.maildir)
    }

    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn mails(maildir: &Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        if let Ok(entries) = std::fs::read_dir(maildir.join(sub)) {
            for e in entries {
                out.push(std::fs::read(e.unwrap().path()).unwrap());
            }
        }
    }
    out
}
