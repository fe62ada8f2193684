//! Messages for the same booking processed at the same time never lose an update.

use std::sync::Arc;

use jiff::Timestamp;
use openevent_core::ids::{EventId, OrgSlug};
use openevent_service::{Engine, EngineConfig, ManualClock};
use openevent_store::Store;
use openevent_store::testing::TestDb;

openevent_store::backend_tests!(
    concurrent_replies_to_one_booking_all_land,
    the_same_message_at_the_same_time_is_processed_once,
    two_concurrent_room_locks_never_double_book,
);

fn eml(id: &str, in_reply_to: Option<&str>, body: &str) -> Vec<u8> {
    let mut s = format!("From: a@example.com\r\nSubject: Booking\r\nMessage-ID: <{id}>\r\n");
    if let Some(p) = in_reply_to {
        s.push_str(&format!("In-Reply-To: <{p}>\r\n"));
    }
    s.push_str("\r\n");
    s.push_str(body);
    s.into_bytes()
}

async fn concurrent_replies_to_one_booking_all_land(db: TestDb) {
    let store = db.open().await;
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

async fn the_same_message_at_the_same_time_is_processed_once(db: TestDb) {
    let store = db.open().await;
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

/// Two managers approve, at the same moment, locking the same room on the same day for two
/// different clients: one booking gets the room, the other is told it was taken meanwhile —
/// never both.
async fn two_concurrent_room_locks_never_double_book(db: TestDb) {
    use openevent_core::effects::TaskType;
    use openevent_core::workflow::Decision;
    use openevent_store::TaskFilter;

    let store = db.open().await;
    let now: Timestamp = "2026-11-22T09:00:00Z".parse().unwrap();
    let engine = Arc::new(Engine::new(
        store,
        ManualClock::new(now),
        EngineConfig::default(),
    ));
    let org = OrgSlug::parse("default").unwrap();
    let inquiry = |n: u32| {
        format!(
            "From: client{n}@example.com\r\nSubject: Workshop\r\nMessage-ID: <room-{n}@x>\r\n\r\n\
             Hello, we would like to book a room for a workshop with 25 people on 17.03.2027 from 09:00 to 17:00."
        )
        .into_bytes()
    };
    let mut lock_tasks = Vec::new();
    for n in 1..=2 {
        let turn = engine.ingest_raw(&org, &inquiry(n)).await.unwrap();
        let event = turn.result.event_id.clone().unwrap();
        let tasks = engine
            .store()
            .list_tasks(
                &org,
                TaskFilter {
                    event_id: Some(&event),
                    ..TaskFilter::default()
                },
            )
            .await
            .unwrap();
        let lock = tasks
            .iter()
            .find(|t| t.task.task_type == TaskType::RoomLock)
            .unwrap_or_else(|| panic!("no room-lock task for client {n}: {tasks:?}"));
        lock_tasks.push((event, lock.task.task_id.clone()));
    }
    let approve = |task: openevent_core::ids::TaskId| {
        let (engine, org) = (engine.clone(), org.clone());
        tokio::spawn(async move {
            engine
                .decide_task(
                    &org,
                    &task,
                    Decision::Approve {
                        edited_body: None,
                        notes: None,
                    },
                )
                .await
        })
    };
    let a = approve(lock_tasks[0].1.clone());
    let b = approve(lock_tasks[1].1.clone());
    a.await.unwrap().unwrap();
    b.await.unwrap().unwrap();

    let mut holders = Vec::new();
    for (event, _) in &lock_tasks {
        let e = engine
            .store()
            .load_event(&org, event)
            .await
            .unwrap()
            .unwrap()
            .event;
        if let Some(room) = &e.locked_room_id {
            holders.push((room.clone(), e.chosen_date));
        }
    }
    let mut rooms: Vec<_> = holders.iter().map(|(r, _)| r.clone()).collect();
    rooms.dedup();
    assert_eq!(
        rooms.len(),
        holders.len(),
        "two bookings hold the same room on 17.03.2027: {holders:?}"
    );
}
