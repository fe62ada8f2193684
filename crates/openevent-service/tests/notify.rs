//! On PostgreSQL, a reply queued by one process wakes the dispatcher of another at once
//! (LISTEN/NOTIFY), instead of at its next idle poll.

use std::time::Duration;

use jiff::Timestamp;
use openevent_core::ids::OrgSlug;
use openevent_service::{Engine, EngineConfig, ManualClock};
use openevent_store::Store;
use openevent_store::testing::TestDb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outbox_insert_in_one_process_wakes_the_others() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let now: Timestamp = "2027-01-04T09:00:00Z".parse().unwrap();
    let writer = Engine::new(
        db.open().await,
        ManualClock::new(now),
        EngineConfig::default(),
    );
    // The other process: only its store's signal matters here.
    let listener = db.open().await;
    let signal = listener.outbox_signal();
    let org = OrgSlug::parse("atelier").unwrap();
    let raw = "From: Laura <laura@helvetia-labs.ch>\r\nSubject: Workshop\r\nMessage-ID: <n-1@helvetia-labs.ch>\r\n\r\n\
               Hello, we would like to book Room A for a workshop with 25 people on 17.03.2027 from 09:00 to 17:00.";
    let report = writer.ingest_raw(&org, raw.as_bytes()).await.unwrap();
    let task = report.result.tasks[0].clone();
    // The listener wakes the dispatcher once when it (re)connects, for jobs that arrived
    // unnoticed: wait for that, so that the wake-up below can only come from the insert.
    tokio::time::timeout(Duration::from_secs(10), signal.notified())
        .await
        .expect("the listener connects");
    let woken = signal.notified();
    writer
        .decide_task(
            &org,
            &task,
            openevent_core::workflow::Decision::Approve {
                edited_body: None,
                notes: None,
            },
        )
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), woken)
        .await
        .expect("the other process's dispatcher was not woken");
    assert_eq!(listener.list_outbox(&org, None, 10).await.unwrap().len(), 1);
}
