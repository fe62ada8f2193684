//! The IMAP poller against a real Dovecot on loopback (see `support`): delivery, flags, transient
//! failures, rejection, a server crash mid-poll, IDLE, shutdown, TLS, and configuration errors.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openevent_imap::{ImapConfig, ImapError, Password, REJECTED_KEYWORD, TlsMode, poll_once, run};
use support::{Dovecot, RecordingSink, id, message};
use tokio::sync::oneshot;

const SEEN: &str = "\\Seen";

fn messages(range: std::ops::RangeInclusive<usize>) -> Vec<Vec<u8>> {
    range.map(message).collect()
}

/// Waits until `check` holds, polling every 50 ms, or panics after `secs`.
async fn eventually<F: AsyncFnMut() -> bool>(secs: u64, what: &str, mut check: F) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_messages_are_ingested_once_and_marked_seen() {
    let Some(server) = Dovecot::start() else {
        return;
    };
    server.append(&messages(1..=5)).await;
    assert_eq!(server.unseen().await.len(), 5, "APPEND leaves them unseen");

    let sink = RecordingSink::new();
    let report = poll_once(&server.config(), &server.password(), &*sink)
        .await
        .unwrap();
    assert_eq!(
        (
            report.unseen,
            report.fetched,
            report.committed,
            report.failed
        ),
        (5, 5, 5, 0)
    );
    let offered = sink.state().offered.clone();
    assert_eq!(offered, (1..=5).map(id).collect::<Vec<_>>(), "oldest first");
    for (msg, flags) in server.flags().await {
        assert_eq!(flags, [SEEN], "{msg}");
    }

    let again = poll_once(&server.config(), &server.password(), &*sink)
        .await
        .unwrap();
    assert_eq!((again.unseen, again.fetched), (0, 0));
    assert_eq!(sink.state().offered.len(), 5, "nothing offered twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_failure_leaves_the_message_unseen_until_the_next_poll() {
    let Some(server) = Dovecot::start() else {
        return;
    };
    server.append(&messages(1..=4)).await;
    let sink = Arc::new(RecordingSink {
        fail_once: vec![id(2)],
        ..RecordingSink::default()
    });

    let first = poll_once(&server.config(), &server.password(), &*sink)
        .await
        .unwrap();
    assert_eq!((first.fetched, first.committed, first.failed), (4, 3, 1));
    assert_eq!(server.unseen().await, [id(2)]);

    let second = poll_once(&server.config(), &server.password(), &*sink)
        .await
        .unwrap();
    assert_eq!((second.fetched, second.committed, second.failed), (1, 1, 0));
    assert!(server.unseen().await.is_empty());
    let state = sink.state();
    assert_eq!(state.commits.len(), 4);
    assert!(state.commits.values().all(|&n| n == 1));
    assert!(state.duplicates.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_and_oversized_messages_are_flagged_seen_and_not_fetched_again() {
    let Some(server) = Dovecot::start() else {
        return;
    };
    let mut big = message(3);
    big.extend(std::iter::repeat_n(b'x', 4096));
    big.extend(b"\r\n");
    server.append(&[message(1), message(2), big]).await;
    let sink = Arc::new(RecordingSink {
        reject: vec![id(2)],
        ..RecordingSink::default()
    });
    let mut config = server.config();
    config.max_message_bytes = 2048;

    let report = poll_once(&config, &server.password(), &*sink)
        .await
        .unwrap();
    assert_eq!(
        (
            report.unseen,
            report.fetched,
            report.committed,
            report.rejected
        ),
        (3, 2, 1, 2),
        "the oversized one is rejected without being downloaded"
    );
    assert_eq!(sink.state().offered, [id(1), id(2)]);
    let flags = server.flags().await;
    assert_eq!(flags[&id(1)], [SEEN]);
    assert_eq!(flags[&id(2)], [REJECTED_KEYWORD, SEEN]);
    assert_eq!(flags[&id(3)], [REJECTED_KEYWORD, SEEN]);

    let again = poll_once(&config, &server.password(), &*sink)
        .await
        .unwrap();
    assert_eq!((again.unseen, again.fetched, again.rejected), (0, 0, 0));
    assert_eq!(sink.state().offered.len(), 2);
}

/// The requirement's test: the server dies after the sink committed the third of ten messages
/// and before `\Seen` reached it, and comes back 300 ms later. `run` reconnects and finishes.
/// Every message is committed exactly once; the third is offered again and answered Duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_crash_mid_poll_loses_nothing_and_processes_nothing_twice() {
    let Some(server) = Dovecot::start() else {
        return;
    };
    server.append(&messages(1..=10)).await;
    let config = server.config();
    let flags_port = server.port;
    let server = Arc::new(Mutex::new(server));

    let crashed = Arc::new(Mutex::new(false));
    let sink = Arc::new(RecordingSink {
        after_commit: Some(Box::new({
            let server = server.clone();
            let crashed = crashed.clone();
            move |_id, n| {
                let mut once = crashed.lock().unwrap();
                if n == 3 && !*once {
                    *once = true;
                    // Committed; now the server dies before the poller can store \Seen.
                    server.lock().unwrap().kill();
                    let server = server.clone();
                    std::thread::spawn(move || {
                        std::thread::sleep(Duration::from_millis(300));
                        server.lock().unwrap().start_again();
                    });
                }
            }
        })),
        ..RecordingSink::default()
    });

    let (stop, stopped) = oneshot::channel::<()>();
    let poller = tokio::spawn(run(
        config,
        Password::new(support::PASSWORD),
        sink.clone(),
        async {
            let _ = stopped.await;
        },
    ));

    let started = Instant::now();
    eventually(15, "all ten committed and seen", async || {
        if !*crashed.lock().unwrap() || sink.state().commits.len() < 10 {
            return false;
        }
        let probe = support_probe(flags_port).await;
        probe.is_some_and(|unseen| unseen == 0)
    })
    .await;
    let recovered_in = started.elapsed();

    stop.send(()).unwrap();
    let stop_started = Instant::now();
    tokio::time::timeout(Duration::from_secs(3), poller)
        .await
        .expect("run stops promptly")
        .unwrap()
        .expect("run ends with Ok after shutdown");
    assert!(stop_started.elapsed() < Duration::from_secs(2));

    let state = sink.state();
    assert_eq!(state.commits.len(), 10, "no message lost");
    for n in 1..=10 {
        assert_eq!(
            state.commits.get(&id(n)),
            Some(&1),
            "{} committed once",
            id(n)
        );
    }
    assert_eq!(
        state.duplicates,
        [id(3)],
        "the message committed before the crash came back once, as a duplicate"
    );
    drop(state);
    let server = server.lock().unwrap();
    let flags =
        tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(server.flags()));
    assert_eq!(flags.len(), 10);
    assert!(flags.values().all(|f| f == &[SEEN]), "{flags:?}");
    eprintln!("recovered from the crash in {recovered_in:?}");
}

/// Unseen count, or `None` while the server is down.
async fn support_probe(port: u16) -> Option<usize> {
    use futures_util::TryStreamExt;
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    let mut client = async_imap::Client::new(tcp);
    client.read_response().await.ok()??;
    let mut s = client.login(support::USER, support::PASSWORD).await.ok()?;
    s.select("INBOX").await.ok()?;
    let unseen = s.uid_search("UNSEEN").await.ok()?.len();
    let _ = s
        .uid_fetch("1", "UID")
        .await
        .ok()?
        .try_collect::<Vec<_>>()
        .await;
    let _ = s.logout().await;
    Some(unseen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_wakes_the_poller_and_shutdown_interrupts_it() {
    let Some(server) = Dovecot::start() else {
        return;
    };
    let mut config = server.config();
    config.poll_interval_secs = 600; // only IDLE can deliver within the test's time
    let sink = RecordingSink::new();
    let (stop, stopped) = oneshot::channel::<()>();
    let poller = tokio::spawn(run(config, server.password(), sink.clone(), async {
        let _ = stopped.await;
    }));

    // Let the first (empty) poll happen and IDLE begin, then deliver.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let appended = Instant::now();
    server.append(&[message(1)]).await;
    eventually(5, "the message ingested through IDLE", async || {
        sink.state().commits.len() == 1
    })
    .await;
    eprintln!("ingested {:?} after APPEND", appended.elapsed());
    eventually(5, "marked seen", async || server.unseen().await.is_empty()).await;

    let t = Instant::now();
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(2), poller)
        .await
        .expect("shutdown interrupts IDLE")
        .unwrap()
        .unwrap();
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_the_message_in_hand_and_leaves_the_rest_unseen() {
    let Some(server) = Dovecot::start() else {
        return;
    };
    server.append(&messages(1..=3)).await;
    let (stop, stopped) = oneshot::channel::<()>();
    let stop = Mutex::new(Some(stop));
    let sink = Arc::new(RecordingSink {
        after_commit: Some(Box::new(move |_id, _n| {
            // Shutdown arrives while the first message is being ingested.
            if let Some(stop) = stop.lock().unwrap().take() {
                stop.send(()).unwrap();
                std::thread::sleep(Duration::from_millis(100));
            }
        })),
        ..RecordingSink::default()
    });
    tokio::time::timeout(
        Duration::from_secs(5),
        run(server.config(), server.password(), sink.clone(), async {
            let _ = stopped.await;
        }),
    )
    .await
    .expect("stops")
    .unwrap();
    assert_eq!(sink.state().offered, [id(1)]);
    assert_eq!(
        server.unseen().await,
        [id(2), id(3)],
        "the first is finished: seen"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_size_limits_a_poll_and_run_continues_at_once() {
    let Some(server) = Dovecot::start() else {
        return;
    };
    server.append(&messages(1..=5)).await;
    let mut config = server.config();
    config.batch_size = 2;
    config.idle = false;
    config.poll_interval_secs = 600;
    let sink = RecordingSink::new();

    let report = poll_once(&config, &server.password(), &*sink)
        .await
        .unwrap();
    assert_eq!(
        (report.unseen, report.committed, report.deferred),
        (5, 2, 3)
    );

    let (stop, stopped) = oneshot::channel::<()>();
    let poller = tokio::spawn(run(config, server.password(), sink.clone(), async {
        let _ = stopped.await;
    }));
    eventually(
        5,
        "the remaining three, without waiting the interval",
        async || sink.state().commits.len() == 5,
    )
    .await;
    stop.send(()).unwrap();
    poller.await.unwrap().unwrap();
    assert!(server.unseen().await.is_empty());
}

/// A message arriving while a poll is under way (after its search) is picked up at once, not
/// after the poll interval, even without IDLE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_arriving_during_a_poll_is_polled_at_once() {
    let Some(server) = Dovecot::start() else {
        return;
    };
    server.append(&[message(1)]).await;
    let mut config = server.config();
    config.idle = false;
    config.poll_interval_secs = 600;
    let server = Arc::new(server);
    let sink = Arc::new(RecordingSink {
        after_commit: Some(Box::new({
            let server = server.clone();
            move |_id, n| {
                if n == 1 {
                    let server = server.clone();
                    std::thread::spawn(move || {
                        tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                            .unwrap()
                            .block_on(server.append(&[message(2)]));
                    })
                    .join()
                    .unwrap();
                }
            }
        })),
        ..RecordingSink::default()
    });
    let (stop, stopped) = oneshot::channel::<()>();
    let poller = tokio::spawn(run(config, server.password(), sink.clone(), async {
        let _ = stopped.await;
    }));
    eventually(
        5,
        "the second message, long before the interval",
        async || sink.state().commits.len() == 2,
    )
    .await;
    stop.send(()).unwrap();
    poller.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_with_a_non_ascii_name() {
    let Some(server) = Dovecot::start() else {
        return;
    };
    server.append_to("Entw&APw-rfe", &messages(1..=2)).await;
    let mut config = server.config();
    config.folder = "Entwürfe".to_owned();
    let sink = RecordingSink::new();
    let report = poll_once(&config, &server.password(), &*sink)
        .await
        .unwrap();
    assert_eq!(report.committed, 2);
    let again = poll_once(&config, &server.password(), &*sink)
        .await
        .unwrap();
    assert_eq!(again.unseen, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_or_folder_is_refused_and_stops_run_at_start_up() {
    let Some(server) = Dovecot::start() else {
        return;
    };
    let sink = RecordingSink::new();
    let mut config = server.config();
    config.folder = "Nope".to_owned();
    let err = poll_once(&config, &server.password(), &*sink)
        .await
        .unwrap_err();
    assert!(matches!(err, ImapError::Folder { .. }), "{err}");
    assert!(err.to_string().starts_with("imap.folder:"), "{err}");

    // One failed login only: Dovecot delays the next ones from the same address by seconds.
    let err = tokio::time::timeout(
        Duration::from_secs(5),
        run(
            server.config(),
            Password::new("wrong"),
            sink.clone(),
            std::future::pending(),
        ),
    )
    .await
    .expect("run gives up at once")
    .unwrap_err();
    assert!(matches!(err, ImapError::Auth { .. }), "{err}");
    assert!(err.is_permanent());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_waits_for_a_server_that_is_down_at_start_up() {
    let Some(mut server) = Dovecot::start() else {
        return;
    };
    server.append(&messages(1..=2)).await;
    server.kill();
    let sink = RecordingSink::new();
    let (stop, stopped) = oneshot::channel::<()>();
    let poller = tokio::spawn(run(
        server.config(),
        server.password(),
        sink.clone(),
        async {
            let _ = stopped.await;
        },
    ));
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        !poller.is_finished(),
        "connection refused is retried, not fatal"
    );
    server.start_again();
    eventually(5, "both ingested once the server is up", async || {
        sink.state().commits.len() == 2
    })
    .await;
    stop.send(()).unwrap();
    poller.await.unwrap().unwrap();
}

/// A fake server that greets, accepts the login, then never answers SELECT.
async fn hanging_server() -> u16 {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"* OK fake IMAP ready\r\n").await.unwrap();
                while let Ok(Some(line)) = lines.next_line().await {
                    let mut words = line.split(' ');
                    let tag = words.next().unwrap_or("*").to_owned();
                    let answer = match words.next().map(str::to_ascii_uppercase).as_deref() {
                        Some("LOGIN") => format!("{tag} OK logged in\r\n"),
                        Some("CAPABILITY") => {
                            format!("* CAPABILITY IMAP4rev1 IDLE\r\n{tag} OK done\r\n")
                        }
                        _ => continue, // hang
                    };
                    write.write_all(answer.as_bytes()).await.unwrap();
                }
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_is_prompt_even_when_the_server_stops_answering() {
    let port = hanging_server().await;
    let mut config = ImapConfig::new("127.0.0.1", TlsMode::None, "poller");
    config.port = Some(port);
    config.timeout_secs = 60;
    let (stop, stopped) = oneshot::channel::<()>();
    let poller = tokio::spawn(run(
        config,
        Password::new("x"),
        RecordingSink::new(),
        async {
            let _ = stopped.await;
        },
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!poller.is_finished(), "stuck in SELECT, as arranged");
    let t = Instant::now();
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(2), poller)
        .await
        .expect("shutdown does not wait for the command timeout")
        .unwrap()
        .unwrap();
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
}

fn tls_config(server: &Dovecot, tls: TlsMode) -> ImapConfig {
    let mut c = server.config();
    c.tls = tls;
    c.port = Some(match tls {
        TlsMode::Tls => server.tls_port.unwrap(),
        _ => server.port,
    });
    c.ca_file =
        Some(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls/ca.pem"));
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_starttls_with_a_private_ca() {
    let Some(server) = Dovecot::start_tls() else {
        return;
    };
    server.append(&messages(1..=2)).await;
    let sink = RecordingSink::new();

    let report = poll_once(
        &tls_config(&server, TlsMode::Tls),
        &server.password(),
        &*sink,
    )
    .await
    .unwrap();
    assert_eq!(report.committed, 2);

    server.append(&[message(3)]).await;
    let mut starttls = tls_config(&server, TlsMode::Starttls);
    starttls.host = "localhost".to_owned(); // the certificate's DNS name this time
    let report = poll_once(&starttls, &server.password(), &*sink)
        .await
        .unwrap();
    assert_eq!(report.committed, 1);

    // Without the CA file the built-in roots do not trust the test certificate.
    let mut untrusted = tls_config(&server, TlsMode::Tls);
    untrusted.ca_file = None;
    let err = poll_once(&untrusted, &server.password(), &*sink)
        .await
        .unwrap_err();
    assert!(matches!(err, ImapError::Tls { .. }), "{err}");
    assert!(err.is_permanent());

    let mut bad_ca = tls_config(&server, TlsMode::Tls);
    bad_ca.ca_file =
        Some(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls/README.md"));
    let err = poll_once(&bad_ca, &server.password(), &*sink)
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("imap.ca_file:"), "{err}");
}

#[tokio::test]
async fn starttls_is_required_when_configured() {
    // A plain-text server without STARTTLS: refused before the password is sent.
    let Some(server) = Dovecot::start() else {
        return;
    };
    let mut config = server.config();
    config.tls = TlsMode::Starttls;
    config.host = "localhost".to_owned();
    let err = poll_once(&config, &server.password(), &*RecordingSink::new())
        .await
        .unwrap_err();
    assert!(
        matches!(err, ImapError::StarttlsUnavailable { .. }),
        "{err}"
    );
}

// ---- configuration (no server needed) ----

fn parse(text: &str) -> Result<ImapConfig, toml::de::Error> {
    toml::from_str(text)
}

#[test]
fn a_minimal_config_gets_the_documented_defaults() {
    let c = parse(
        r#"host = "imap.example.com"
           tls = "tls"
           user = "bookings@example.com""#,
    )
    .unwrap();
    c.validate().unwrap();
    assert_eq!(c.effective_port(), 993);
    assert_eq!(c.password_env, "OPENEVENT_IMAP_PASSWORD");
    assert_eq!(c.folder, "INBOX");
    assert_eq!(c.poll_interval_secs, 30);
    assert!(c.idle);
    assert_eq!(c.batch_size, 50);
    assert_eq!(c.max_message_bytes, 25 * 1024 * 1024);
    let starttls = parse(
        r#"host = "imap.example.com"
           tls = "starttls"
           user = "u""#,
    )
    .unwrap();
    assert_eq!(starttls.effective_port(), 143);
}

#[test]
fn config_errors_name_the_field() {
    let err = parse(
        r#"host = "imap.example.com"
           tls = "tls"
           user = "u"
           pasword_env = "X""#,
    )
    .unwrap_err();
    assert!(err.to_string().contains("pasword_env"), "{err}");

    let err = parse(
        r#"host = "imap.example.com"
           tls = "ssl"
           user = "u""#,
    )
    .unwrap_err();
    assert!(err.to_string().contains("ssl"), "{err}");

    let base = ImapConfig::new("imap.example.com", TlsMode::Tls, "u");
    type Break = fn(&mut ImapConfig);
    let cases: &[(&str, Break)] = &[
        ("tls", |c| c.tls = TlsMode::None),
        ("host", |c| c.host = String::new()),
        ("host", |c| c.host = "imap.example.com ".into()),
        ("port", |c| c.port = Some(0)),
        ("user", |c| c.user = String::new()),
        ("password_env", |c| c.password_env = String::new()),
        ("folder", |c| c.folder = String::new()),
        ("folder", |c| c.folder = "IN\r\nBOX".into()),
        ("poll_interval_secs", |c| c.poll_interval_secs = 0),
        ("poll_interval_secs", |c| c.poll_interval_secs = 3600),
        ("batch_size", |c| c.batch_size = 0),
        ("max_message_bytes", |c| c.max_message_bytes = 0),
        ("timeout_secs", |c| c.timeout_secs = 0),
        ("reconnect_max_secs", |c| c.reconnect_max_secs = 0),
    ];
    for &(field, break_it) in cases {
        let mut c = base.clone();
        break_it(&mut c);
        let err = c.validate().unwrap_err();
        assert_eq!(err.field, field, "{err}");
        assert!(
            err.to_string().starts_with(&format!("imap.{field}: ")),
            "{err}"
        );
    }

    let err = ImapConfig::new("mail.example.com", TlsMode::None, "u")
        .validate()
        .unwrap_err();
    assert!(err.to_string().contains("clear text"), "{err}");
    for loopback in ["127.0.0.1", "localhost", "::1"] {
        ImapConfig::new(loopback, TlsMode::None, "u")
            .validate()
            .unwrap();
    }
}

#[test]
fn the_password_comes_from_the_named_variable() {
    let mut c = ImapConfig::new("imap.example.com", TlsMode::Tls, "u");
    c.password_env = "OPENEVENT_IMAP_TEST_PASSWORD_UNSET".to_owned();
    let err = c.password_from_env().unwrap_err();
    assert_eq!(err.field, "password_env");
    assert!(
        err.to_string()
            .contains("OPENEVENT_IMAP_TEST_PASSWORD_UNSET"),
        "{err}"
    );
    // `PATH` is always set: stands in for a configured variable without mutating the environment.
    c.password_env = "PATH".to_owned();
    assert!(c.password_from_env().is_ok());
}

#[tokio::test]
async fn run_refuses_an_invalid_config_before_connecting() {
    let c = ImapConfig::new("mail.example.com", TlsMode::None, "u");
    let err = run(
        c,
        Password::new("x"),
        RecordingSink::new(),
        std::future::pending(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, ImapError::Config(ref e) if e.field == "tls"),
        "{err}"
    );
}
