//! `openevent serve` with an `[imap]` section against a real Dovecot: mail that arrives in the
//! mailbox becomes bookings through the same path as the CLI and the API, and ends `\Seen`.

mod common;

// The Dovecot harness of openevent-imap's own tests, shared rather than copied.
#[allow(unused_imports)]
#[path = "../../openevent-imap/tests/support/mod.rs"]
mod dovecot;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::Oe;

fn inquiry(n: usize) -> Vec<u8> {
    format!(
        "From: Client {n} <client{n}@example.com>\r\n\
         To: events@atelier.example\r\n\
         Subject: Workshop booking {n}\r\n\
         Message-ID: <imap-{n}@example.com>\r\n\
         Date: Mon, 23 Nov 2026 08:00:00 +0100\r\n\
         \r\n\
         Hello, we would like to book Room A for a workshop with 2{n} people on 1{n}.03.2027 from 09:00 to 17:00.\r\n"
    )
    .into_bytes()
}

#[test]
fn mail_in_the_mailbox_becomes_bookings_and_is_marked_seen() {
    let Some(server) = dovecot::Dovecot::start() else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(server.append(&[inquiry(1), inquiry(2), inquiry(3)]));

    let oe = Oe::new();
    let config = oe.write(
        "serve.toml",
        format!(
            "[imap]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nuser = \"{}\"\npoll_interval_secs = 1\n",
            server.port,
            dovecot::USER
        )
        .as_bytes(),
    );
    let mut child = oe
        .command(&[
            "--org",
            "atelier",
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--config",
            config.to_str().unwrap(),
        ])
        .env("OPENEVENT_IMAP_PASSWORD", dovecot::PASSWORD)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("openevent listening"), "{line}");

    let started = Instant::now();
    while !rt.block_on(server.unseen()).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "messages still unseen: {:?}",
            rt.block_on(server.unseen())
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let pid = child.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");

    // Three clients, three bookings, each with its draft waiting for the manager.
    let tasks = oe.json(&["--org", "atelier", "tasks", "list", "--json"]);
    let clients: std::collections::BTreeSet<&str> = tasks
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["client_email"].as_str())
        .collect();
    assert_eq!(clients.len(), 3, "{tasks}");
}
