//! The web app in a real browser: headless Chromium driven over WebDriver (chromedriver) signs
//! in with a manager token, finds the seeded booking's task in the inbox, approves it, sees the
//! confirmation and the task gone, and the store records the approval; then it opens the
//! calendar from the navigation, goes to the booking's month and follows the booking's entry.
//!
//! Needs Debian's `chromium` and `chromium-driver`. Without them the test is skipped with a
//! message on stderr, unless `CI` is set: then it fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{INQUIRY, fixture, raw_email};
use fantoccini::{Client, ClientBuilder, Locator};
use openevent_core::effects::TaskStatus;
use openevent_store::Store;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};

const CHROMIUM: &str = "/usr/bin/chromium";

fn find_program(name: &str, fallback: &str) -> Option<PathBuf> {
    let fallback = Path::new(fallback);
    if fallback.is_file() {
        return Some(fallback.to_owned());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// The browser and its driver, or `None` when this machine has none (and CI is not set).
fn browser_programs() -> Option<(PathBuf, PathBuf)> {
    let chromium = find_program("chromium", CHROMIUM);
    let driver = find_program("chromedriver", "/usr/bin/chromedriver");
    match (chromium, driver) {
        (Some(c), Some(d)) => Some((c, d)),
        _ => {
            let msg = "browser test needs Debian's chromium and chromium-driver \
                       (apt-get install -y chromium chromium-driver)";
            if std::env::var_os("CI").is_some() {
                panic!("{msg}: not installed, and CI is set");
            }
            eprintln!("\n!!!!!!!! SKIPPED the browser test: {msg} !!!!!!!!\n");
            None
        }
    }
}

async fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

async fn start_driver(driver: &Path) -> (Child, u16) {
    let port = free_port().await;
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not listen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (child, port)
}

async fn open_browser(chromium: &Path, driver_port: u16, profile: &Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-quic",
                "--no-first-run",
                "--window-size=1200,900",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{driver_port}"))
        .await
        .expect("a WebDriver session")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_signs_in_and_approves_a_task_in_a_real_browser() {
    let Some((chromium, driver)) = browser_programs() else {
        return;
    };
    let started = Instant::now();
    let fx = fixture().await;
    let raw = raw_email(
        "Laura Meier <laura@helvetia-labs.ch>",
        "Workshop booking",
        "<browser-1@helvetia-labs.ch>",
        INQUIRY,
    );
    let report = fx.app.engine.ingest_raw(&fx.org, &raw).await.unwrap();
    let task = report.result.tasks[0].clone();
    let event = report.result.event_id.clone().unwrap();

    // The API and the web app, merged as `openevent serve` merges them.
    let app = openevent_http::router(Arc::clone(&fx.app))
        .merge(openevent_web::router(Arc::clone(&fx.app)));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let (mut driver_process, driver_port) = start_driver(&driver).await;
    let profile = tempfile::tempdir().unwrap();
    let client = open_browser(&chromium, driver_port, profile.path()).await;
    let outcome = async {
        client.goto(&format!("{base}/app")).await?;
        // Without a session the app sends the browser to the sign-in form.
        let token_field = client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Id("token"))
            .await?;
        assert_eq!(client.current_url().await?.path(), "/login");
        token_field.send_keys(&fx.manager).await?;
        client.find(Locator::Id("sign-in")).await?.click().await?;

        let card = format!("#task-{task}");
        client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(&card))
            .await?;
        assert_eq!(client.current_url().await?.path(), "/app");
        let text = client.find(Locator::Css(&card)).await?.text().await?;
        assert!(text.contains("laura@helvetia-labs.ch"), "{text}");
        // OPENEVENT_WEB_SCREENSHOT=inbox.png keeps a picture of the inbox to look at.
        if let Some(path) = std::env::var_os("OPENEVENT_WEB_SCREENSHOT") {
            std::fs::write(path, client.screenshot().await?).expect("the screenshot is written");
        }

        client
            .find(Locator::Css(&format!(
                "{card} form.approve button[type=submit]"
            )))
            .await?
            .click()
            .await?;
        let flash = client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(".flash-success"))
            .await?
            .text()
            .await?;
        assert!(flash.contains(&format!("Task {task} approved.")), "{flash}");
        let source = client.source().await?;
        assert!(
            !source.contains(&format!("id=\"task-{task}\"")),
            "the task left the inbox"
        );

        // The calendar, from the navigation: the clock's month (November 2026) first.
        client
            .find(Locator::Css("nav[aria-label=Main] a[href='/app/calendar']"))
            .await?
            .click()
            .await?;
        client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("table.calendar"))
            .await?;
        let heading = client.find(Locator::Css("h1")).await?.text().await?;
        assert_eq!(heading, "Calendar: November 2026");
        // The month picker takes the booking's month; its entry leads to the booking.
        client
            .goto(&format!("{base}/app/calendar?month=2027-03"))
            .await?;
        let entry = format!("a.booking-option[href='/app/events/{event}']");
        let link = client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(&entry))
            .await?;
        let text = link.text().await?;
        assert!(text.contains("09:00–17:00"), "{text}");
        link.click().await?;
        client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("ol.steps"))
            .await?;
        let heading = client.find(Locator::Css("h1")).await?.text().await?;
        assert_eq!(heading, format!("Booking {event}"));
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    let _ = client.close().await;
    let _ = driver_process.kill().await;
    server.abort();
    outcome.expect("the browser session");

    let (stored, _) = fx
        .app
        .engine
        .store()
        .load_task(&fx.org, &task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, TaskStatus::Approved);
    eprintln!("browser test took {:?}", started.elapsed());
}
