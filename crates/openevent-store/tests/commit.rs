//! Storage-level guarantees: one transaction per message, duplicates and concurrent updates are
//! refused without writing anything, every read is scoped by organization and client.

mod support;

use support::{decide, now};

use openevent_core::effects::Draft;
use openevent_core::ids::{ClientEmail, MessageId, OrgSlug};
use openevent_core::intake::IntakeOutcome;
use openevent_core::message::InboundMessage;
use openevent_store::testing::TestDb;
use openevent_store::{EventWrite, IngestCommit, SqlStore, Store, StoreError};

fn message(id: &str, from: &str, in_reply_to: Option<&str>, body: &str) -> InboundMessage {
    InboundMessage {
        message_id: MessageId::parse(id).unwrap(),
        message_id_derived: false,
        from: ClientEmail::parse(from).unwrap(),
        from_name: None,
        subject: "Booking".into(),
        body_text: body.into(),
        sent_at: None,
        in_reply_to: in_reply_to.map(|p| MessageId::parse(p).unwrap()),
        references: vec![],
        attachments: vec![],
    }
}

const INQUIRY: &str = "We would like to book a room for a workshop with 20 participants.";

openevent_store::backend_tests!(
    a_failing_write_leaves_nothing_behind,
    duplicates_and_stale_versions_are_refused,
    reads_are_scoped_by_organization_and_client,
    the_calendar_follows_own_writes_and_other_processes,
);

fn commit<'a>(
    org: &'a OrgSlug,
    m: &'a InboundMessage,
    out: &'a IntakeOutcome,
    write: Option<EventWrite<'a>>,
    drafts: &'a [Draft],
) -> IngestCommit<'a> {
    IngestCommit {
        org,
        message: m,
        raw: b"raw",
        received_at: now(),
        profile: &out.profile,
        profile_changed: out.profile_changed,
        history: &out.history,
        event: write,
        audit: &out.audit,
        drafts,
        tasks: &out.tasks,
        superseded: &out.superseded,
        outbox: &out.outbox,
        result: &out.result,
        calendar_seen: &[],
        automation: None,
    }
}

async fn a_failing_write_leaves_nothing_behind(db: TestDb) {
    let store = db.open().await;
    let org = OrgSlug::parse("default").unwrap();
    let m = message("a@x", "a@example.com", None, INQUIRY);
    let out = decide(&org, &m, None);
    let event = out.event.clone().unwrap();
    // Two drafts with one id: the second insert fails after the message, client, event, history
    // and audit rows were written inside the transaction.
    let doubled = vec![out.drafts[0].clone(), out.drafts[0].clone()];
    let before = store.table_counts().await.unwrap();
    let err = store
        .commit_ingest(commit(
            &org,
            &m,
            &out,
            Some(EventWrite::Insert(&event)),
            &doubled,
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Database(_) | StoreError::Postgres(_)),
        "{err}"
    );
    assert_eq!(store.table_counts().await.unwrap(), before);
    assert!(
        store
            .find_message_result(&org, &m.message_id)
            .await
            .unwrap()
            .is_none()
    );
    // The same turn, well-formed, then commits.
    store
        .commit_ingest(commit(
            &org,
            &m,
            &out,
            Some(EventWrite::Insert(&event)),
            &out.drafts,
        ))
        .await
        .unwrap();
    let counts = store.table_counts().await.unwrap();
    for (table, n) in [
        ("events", 1),
        ("messages", 1),
        ("history", 1),
        ("drafts", 1),
        ("tasks", 1),
        ("clients", 1),
    ] {
        assert_eq!(counts[table], n, "{table}");
    }
    assert_eq!(counts["audit"], out.audit.len() as i64);
}

async fn duplicates_and_stale_versions_are_refused(db: TestDb) {
    let store = db.open().await;
    let org = OrgSlug::parse("default").unwrap();
    let m = message("a@x", "a@example.com", None, INQUIRY);
    let out = decide(&org, &m, None);
    let event = out.event.clone().unwrap();
    store
        .commit_ingest(commit(
            &org,
            &m,
            &out,
            Some(EventWrite::Insert(&event)),
            &out.drafts,
        ))
        .await
        .unwrap();
    let after_first = store.table_counts().await.unwrap();
    let err = store
        .commit_ingest(commit(
            &org,
            &m,
            &out,
            Some(EventWrite::Insert(&event)),
            &out.drafts,
        ))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::DuplicateMessage(_)));
    assert_eq!(store.table_counts().await.unwrap(), after_first);

    let stored = store
        .find_thread_event(&org, &m.from, &[&m.message_id])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.version, 1);
    let r1 = message("r1@x", "a@example.com", Some("a@x"), "thanks");
    let r2 = message("r2@x", "a@example.com", Some("a@x"), "one more thing");
    let o1 = decide(&org, &r1, Some(&stored.event));
    let o2 = decide(&org, &r2, Some(&stored.event));
    let e1 = o1.event.clone().unwrap();
    let e2 = o2.event.clone().unwrap();
    store
        .commit_ingest(commit(
            &org,
            &r1,
            &o1,
            Some(EventWrite::Update {
                event: &e1,
                expected_version: 1,
            }),
            &[],
        ))
        .await
        .unwrap();
    let before = store.table_counts().await.unwrap();
    let err = store
        .commit_ingest(commit(
            &org,
            &r2,
            &o2,
            Some(EventWrite::Update {
                event: &e2,
                expected_version: 1,
            }),
            &[],
        ))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)));
    assert_eq!(store.table_counts().await.unwrap(), before);
    assert!(
        store
            .find_message_result(&org, &r2.message_id)
            .await
            .unwrap()
            .is_none()
    );
}

async fn reads_are_scoped_by_organization_and_client(db: TestDb) {
    let store = db.open().await;
    let a = OrgSlug::parse("venue-a").unwrap();
    let b = OrgSlug::parse("venue-b").unwrap();
    let m = message("a@x", "a@example.com", None, INQUIRY);
    let out = decide(&a, &m, None);
    let event = out.event.clone().unwrap();
    store
        .commit_ingest(commit(
            &a,
            &m,
            &out,
            Some(EventWrite::Insert(&event)),
            &out.drafts,
        ))
        .await
        .unwrap();
    assert!(
        store
            .load_event(&a, &event.event_id)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .load_event(&b, &event.event_id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .event_audit(&b, &event.event_id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.client_context(&b, &m.from).await.unwrap().is_none());
    assert!(store.load_profile(&b, &m.from).await.unwrap().is_none());
    assert!(
        store
            .find_message_result(&b, &m.message_id)
            .await
            .unwrap()
            .is_none()
    );
    let other = ClientEmail::parse("a+1@example.com").unwrap();
    assert!(
        store
            .find_thread_event(&a, &other, &[&m.message_id])
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .find_thread_event(&b, &m.from, &[&m.message_id])
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.client_context(&a, &other).await.unwrap().is_none());
}

#[tokio::test]
async fn in_memory_databases_work() {
    let store = SqlStore::open("sqlite::memory:").await.unwrap();
    assert_eq!(
        store.schema_version().await.unwrap(),
        SqlStore::known_schema_version()
    );
    let org = OrgSlug::parse("default").unwrap();
    let m = message("a@x", "a@example.com", None, INQUIRY);
    let out = decide(&org, &m, None);
    let event = out.event.clone().unwrap();
    store
        .commit_ingest(commit(
            &org,
            &m,
            &out,
            Some(EventWrite::Insert(&event)),
            &out.drafts,
        ))
        .await
        .unwrap();
    assert!(
        store
            .load_event(&org, &event.event_id)
            .await
            .unwrap()
            .is_some()
    );
}

/// The calendar a turn sees follows this process's own booking writes at once and another
/// process's writes by the next turn: the in-memory calendar never shows a room free that a
/// committed booking holds.
async fn the_calendar_follows_own_writes_and_other_processes(db: TestDb) {
    let a = db.open().await;
    let b = db.open().await;
    let org = OrgSlug::parse("default").unwrap();
    let from = jiff::civil::date(2026, 11, 1);
    let range = [(from, jiff::civil::date(2027, 12, 31))];
    let booked = |store: &SqlStore| {
        let (store, org) = (store.clone(), org.clone());
        async move {
            store
                .turn_context(&org, &range, None)
                .await
                .unwrap()
                .occupancy
                .iter()
                .map(|o| o.event_id.to_string())
                .collect::<Vec<_>>()
        }
    };
    assert!(booked(&a).await.is_empty());

    // A booking that holds Room A, written by this process: seen without a reload.
    let m = message("cal-1@x", "a@example.com", None, INQUIRY);
    let out = decide(&org, &m, None);
    let mut event = out.event.clone().unwrap();
    event.status = openevent_core::event::Status::Option;
    event.chosen_date = Some(jiff::civil::date(2027, 3, 17));
    event.locked_room_id = Some(openevent_core::ids::RoomId::parse("room-a").unwrap());
    a.commit_ingest(commit(
        &org,
        &m,
        &out,
        Some(EventWrite::Insert(&event)),
        &out.drafts,
    ))
    .await
    .unwrap();
    assert_eq!(booked(&a).await, vec![event.event_id.to_string()]);

    // Another process cancels it: the next turn here sees the room free again.
    let stored = b.load_event(&org, &event.event_id).await.unwrap().unwrap();
    let mut cancelled = stored.event.clone();
    cancelled.status = openevent_core::event::Status::Cancelled;
    let m2 = message(
        "cal-2@x",
        "a@example.com",
        Some("cal-1@x"),
        "Please cancel.",
    );
    let out2 = decide(&org, &m2, Some(&stored.event));
    b.commit_ingest(commit(
        &org,
        &m2,
        &out2,
        Some(EventWrite::Update {
            event: &cancelled,
            expected_version: stored.version,
        }),
        &[],
    ))
    .await
    .unwrap();
    assert!(booked(&a).await.is_empty());
}
