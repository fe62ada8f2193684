//! Messages for the same booking processed at the same time never lose an update.

use std::sync::Arc;

use jiff::Timestamp;
use openevent_core::ids::{EventId, OrgSlug};
use openevent_service::{Engine, EngineConfig, ManualClock};
use openevent_store::{SqlStore, Store};

fn eml(id: &str, in_reply_to: Option<&str>, body: &str) -> Vec<u8> {
    let mut s = format!("From: a@example.com\r\nSubject: Booking\r\nMessage-ID: <{id}>\r\n");
    if let Some(p) = in_reply_to {
        s.push_str(&format!("In-Reply-To: <{p}>\r\n"));
    }
    s.push_str("\r\n");
    s.push_str(body);
    s.into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_replies_to_one_booking_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("c.db").display());
    let store = SqlStore::open(&url).await.unwrap();
    let now: Timestamp = "2026-11-22T09:00:00Z".parse().unwrap();
    let engine = Arc::new(Engine::new(
        store,
        ManualClock::new(now),
        EngineConfig::default(),
    ));
    let org = OrgSlug::parse("default").unwrap();
    let first = engine
        .ingest_raw(
            &org,
            &eml(
                "root@x",
                None,
                "We want to book a room for a workshop with 20 people.",
            ),
        )
        .await
        .unwrap();
    let event_id: EventId = first.result.event_id.clone().unwrap();

    const REPLIES: usize = 12;
    let mut handles = Vec::new();
    for i in 0..REPLIES {
        let engine = engine.clone();
        let org = org.clone();
        handles.push(tokio::spawn(async move {
            let raw = eml(
                &format!("reply-{i}@x"),
                Some("root@x"),
                &format!("Note {i}"),
            );
            engine.ingest_raw(&org, &raw).await
        }));
    }
    for h in handles {
        let report = h.await.unwrap().unwrap();
        assert_eq!(report.result.event_id.as_ref(), Some(&event_id));
        assert!(!report.duplicate);
    }
    let view = engine.event_view(&org, &event_id).await.unwrap().unwrap();
    assert_eq!(view.version, 1 + REPLIES as i64, "an update was lost");
    let received = view
        .audit
        .iter()
        .filter(|a| a.reason == "client_message_received")
        .count();
    assert_eq!(received, REPLIES);
    let counts = engine.store().table_counts().await.unwrap();
    assert_eq!(counts["messages"], 1 + REPLIES as i64);
    assert_eq!(counts["history"], 1 + REPLIES as i64);
    assert_eq!(counts["tasks"], 1 + REPLIES as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_message_at_the_same_time_is_processed_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("d.db").display());
    let store = SqlStore::open(&url).await.unwrap();
    let now: Timestamp = "2026-11-22T09:00:00Z".parse().unwrap();
    let engine = Arc::new(Engine::new(
        store,
        ManualClock::new(now),
        EngineConfig::default(),
    ));
    let org = OrgSlug::parse("default").unwrap();
    let raw = eml(
        "same@x",
        None,
        "We want to book a room for a workshop with 20 people.",
    );
    let mut handles = Vec::new();
    for _ in 0..8 {
        let (engine, org, raw) = (engine.clone(), org.clone(), raw.clone());
        handles.push(tokio::spawn(
            async move { engine.ingest_raw(&org, &raw).await },
        ));
    }
    let mut fresh = 0;
    let mut ids = std::collections::BTreeSet::new();
    for h in handles {
        let r = h.await.unwrap().unwrap();
        fresh += usize::from(!r.duplicate);
        ids.insert(r.result.event_id.clone());
    }
    assert_eq!(fresh, 1);
    assert_eq!(ids.len(), 1);
    let counts = engine.store().table_counts().await.unwrap();
    assert_eq!(counts["events"], 1);
    assert_eq!(counts["tasks"], 1);
    assert_eq!(counts["drafts"], 1);
}
