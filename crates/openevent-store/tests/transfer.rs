//! Moving one organization between databases: SQLite → PostgreSQL → SQLite gives the same export
//! bytes at every hop, other organizations never leak in, and a refused import writes nothing.
//! Without `OPENEVENT_TEST_PG_URL` the middle hop is a second SQLite database.

mod support;

use support::{decide, now};

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use openevent_automation::assignment::{AssignmentRule, Override};
use openevent_automation::ids::{RuleId, WorkflowKey};
use openevent_automation::{OrgSettings, library};
use openevent_core::AuditEntry;
use openevent_core::audit::Actor;
use openevent_core::ids::{ClientEmail, EventId, MessageId, OrgSlug};
use openevent_core::message::InboundMessage;
use openevent_core::venue::Venue;
use openevent_core::workflow::OutboxEmail;
use openevent_store::testing::TestDb;
use openevent_store::{
    Backend, EventWrite, ImportReport, IngestCommit, Role, SqlStore, Store, StoreError, TaskFilter,
    TokenRecord,
};

const A: &str = "venue-a";
const B: &str = "venue-b";

fn slug(s: &str) -> OrgSlug {
    OrgSlug::parse(s).unwrap()
}

fn message(id: &str, from: &str, in_reply_to: Option<&str>, body: &str) -> InboundMessage {
    InboundMessage {
        message_id: MessageId::parse(id).unwrap(),
        message_id_derived: false,
        from: ClientEmail::parse(from).unwrap(),
        from_name: Some("Zoë \"Zo\" Müller".into()),
        // Quotes, a backslash, a tab, non-ASCII and an emoji: all of JSON's string escaping.
        subject: "Büro \"Q1\" \\ workshop\t🎉".into(),
        body_text: body.into(),
        sent_at: None,
        in_reply_to: in_reply_to.map(|p| MessageId::parse(p).unwrap()),
        references: vec![],
        attachments: vec![],
    }
}

const INQUIRY: &str = "We would like to book a room for a workshop with 20 participants.";

/// One client's inquiry and a reply in its thread; the inquiry's raw mail is not UTF-8, and with
/// `extra_audit` its booking gets that many more audit entries (several export pages).
async fn conversation(
    store: &SqlStore,
    org: &OrgSlug,
    client: &str,
    n: usize,
    extra_audit: usize,
) -> EventId {
    let first_id = format!("m{n}-1@mail.example");
    let m = message(&first_id, client, None, INQUIRY);
    let out = decide(org, &m, None);
    let event = out.event.clone().unwrap();
    let mut audit = out.audit.clone();
    for i in 0..extra_audit {
        audit.push(
            AuditEntry::new(now(), Actor::System, None, None, format!("note {i}"))
                .field("i", i)
                .field("text", "ä \"quoted\"\n"),
        );
    }
    let job = OutboxEmail {
        job_id: format!("job-{org}-{n}"),
        event_id: Some(event.event_id.clone()),
        delivery_key: format!("reply-{org}-{n}"),
        to: m.from.clone(),
        subject: "Re: your inquiry".into(),
        body: "Thank you.\nWe will be in touch.".into(),
        message_id: MessageId::parse(&format!("out-{n}@venue.example")).unwrap(),
        in_reply_to: Some(m.message_id.clone()),
        references: vec![m.message_id.clone()],
        due_at: now(),
    };
    let raw = [
        b"Received: \xff\xfe\x00\x01 ".as_slice(),
        client.as_bytes(),
        b"\r\n",
    ]
    .concat();
    store
        .commit_ingest(IngestCommit {
            org,
            message: &m,
            raw: &raw,
            received_at: now(),
            profile: &out.profile,
            profile_changed: out.profile_changed,
            history: &out.history,
            event: Some(EventWrite::Insert(&event)),
            audit: &audit,
            drafts: &out.drafts,
            tasks: &out.tasks,
            superseded: &out.superseded,
            outbox: std::slice::from_ref(&job),
            result: &out.result,
            calendar_seen: &[],
            automation: None,
        })
        .await
        .unwrap();

    let stored = store
        .load_event(org, &event.event_id)
        .await
        .unwrap()
        .unwrap();
    let r = message(
        &format!("m{n}-2@mail.example"),
        client,
        Some(&first_id),
        "One more thing: we need a projector.",
    );
    let o = decide(org, &r, Some(&stored.event));
    let updated = o.event.clone().unwrap();
    store
        .commit_ingest(IngestCommit {
            org,
            message: &r,
            raw: b"",
            received_at: now(),
            profile: &o.profile,
            profile_changed: o.profile_changed,
            history: &o.history,
            event: Some(EventWrite::Update {
                event: &updated,
                expected_version: stored.version,
            }),
            audit: &o.audit,
            drafts: &o.drafts,
            tasks: &o.tasks,
            superseded: &o.superseded,
            outbox: &o.outbox,
            result: &o.result,
            calendar_seen: &[],
            automation: None,
        })
        .await
        .unwrap();
    event.event_id
}

fn rule(id: &str, priority: i32) -> AssignmentRule {
    AssignmentRule {
        id: RuleId::parse(id).unwrap(),
        workflow: WorkflowKey::parse("offer-follow-up").unwrap(),
        priority,
        created_at: now(),
        enabled: priority % 2 == 0,
        lead_source: Some("web".into()),
        event_type: None,
        pipeline_stage: None,
    }
}

/// Everything an organization can have, through the storage API. Org `A` gets enough rows for
/// several export pages, and rule ids that sort differently bytewise and in a language's order.
async fn fill(store: &SqlStore, org: &OrgSlug, big: bool) -> Vec<EventId> {
    let mut events = Vec::new();
    let clients = if big { 3 } else { 1 };
    for n in 0..clients {
        let extra = if big && n == 0 { 1100 } else { 0 };
        events.push(conversation(store, org, &format!("client{n}@{org}.example"), n, extra).await);
    }
    store
        .create_token(
            &TokenRecord {
                token_id: format!("tok-{org}"),
                org: org.clone(),
                role: Role::Manager,
                name: "Front desk".into(),
                created_at: now(),
            },
            &format!("hash-{org}"),
        )
        .await
        .unwrap();
    for key in ["offer-follow-up", "site-visit"] {
        store
            .save_workflow(org, &library::get(key).unwrap(), now())
            .await
            .unwrap();
    }
    store
        .save_automation_settings(org, &OrgSettings::atelier(), now())
        .await
        .unwrap();
    let mut ids: Vec<String> = ["B", "a", "_x", "-x", "x1", "x_1", "x-1", "ä", "Z", "é9"]
        .into_iter()
        .map(String::from)
        .collect();
    if big {
        ids.extend((0..300).map(|i| format!("rule-{i:03}")));
    }
    for (i, id) in ids.iter().enumerate() {
        store
            .save_rule(org, &rule(id, i32::try_from(i).unwrap()), now())
            .await
            .unwrap();
    }
    store
        .set_override(
            org,
            &events[0],
            Some(&Override::Manual {
                workflow: WorkflowKey::parse("site-visit").unwrap(),
            }),
            now(),
        )
        .await
        .unwrap();
    store
        .save_venue(org, Venue::atelier().spec(), now())
        .await
        .unwrap();
    events
}

/// A writer the test keeps a handle on.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn export(
    store: &SqlStore,
    org: &str,
) -> Result<(String, openevent_store::ExportReport), StoreError> {
    let buffer = Buffer::default();
    let report = store
        .export_org(&slug(org), Box::new(buffer.clone()))
        .await?;
    let bytes = buffer.0.lock().unwrap().clone();
    Ok((String::from_utf8(bytes).unwrap(), report))
}

async fn import(store: &SqlStore, text: &str) -> Result<ImportReport, StoreError> {
    store
        .import_org(Box::new(std::io::Cursor::new(text.as_bytes().to_vec())))
        .await
}

/// The source: a SQLite database with organizations A (big) and B.
async fn source() -> (TestDb, SqlStore, Vec<EventId>) {
    let db = TestDb::sqlite();
    let store = db.open().await;
    let events = fill(&store, &slug(A), true).await;
    fill(&store, &slug(B), false).await;
    (db, store, events)
}

/// Gives a PostgreSQL database's text keys a language's collation (as a server created with,
/// say, `en_US.UTF-8` has): the export must still order them bytewise, as SQLite does.
fn use_language_collation(db: &TestDb) {
    let url = db.url().to_owned();
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        client
            .batch_execute(
                "ALTER TABLE automation_rules ALTER COLUMN rule_id TYPE TEXT COLLATE \"und-x-icu\"; \
                 ALTER TABLE messages ALTER COLUMN message_id TYPE TEXT COLLATE \"und-x-icu\"; \
                 ALTER TABLE clients ALTER COLUMN email TYPE TEXT COLLATE \"und-x-icu\"",
            )
            .unwrap();
    })
    .join()
    .unwrap();
}

fn all_zero(counts: &std::collections::BTreeMap<String, i64>) -> bool {
    counts.values().all(|n| *n == 0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organization_survives_sqlite_to_postgres_and_back() {
    let (_src_db, src, events) = source().await;
    let (first, exported) = export(&src, A).await.unwrap();

    // The header, then rows of A only; every organization table has rows here.
    let mut lines = first.lines();
    assert_eq!(
        lines.next().unwrap(),
        format!(
            "{{\"format\":\"openevent-export\",\"version\":1,\"schema_version\":{},\"org\":\"{A}\"}}",
            SqlStore::known_schema_version()
        )
    );
    for line in lines {
        assert!(line.contains(&format!("\"org_id\":\"{A}\"")), "{line}");
    }
    assert!(!first.contains(B), "organization B leaked into A's export");
    assert!(!first.contains("\"id\":"), "generated ids are not exported");
    assert!(first.contains("{\"$bytes\":\"52656365697665643a20fffe0001"));
    assert_eq!(exported.rows.len(), 15, "{:?}", exported.rows);
    for (table, n) in &exported.rows {
        assert!(*n > 0, "no {table} rows in the fixture");
    }
    assert_eq!(exported.total() as usize, first.lines().count() - 1);
    assert!(exported.rows["audit"] > 1100 && exported.rows["automation_rules"] > 300);

    // The middle hop: PostgreSQL when available. A refused import there leaves nothing either.
    let mid_db = TestDb::postgres().unwrap_or_else(TestDb::sqlite);
    let mid = mid_db.open().await;
    if mid_db.backend() == Backend::Postgres {
        use_language_collation(&mid_db);
    }
    let wrong_org = first.replacen(
        &format!("{{\"table\":\"venues\",\"row\":{{\"org_id\":\"{A}\""),
        &format!("{{\"table\":\"venues\",\"row\":{{\"org_id\":\"{B}\""),
        1,
    );
    let err = import(&mid, &wrong_org).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Import { line, .. } if *line == first.lines().count()),
        "{err}"
    );
    assert!(all_zero(&mid.table_counts().await.unwrap()));

    let imported = import(&mid, &first).await.unwrap();
    assert_eq!(imported.rows, exported.rows);
    let (second, _) = export(&mid, A).await.unwrap();
    assert!(second == first, "the {:?} export differs", mid_db.backend());
    assert!(matches!(
        export(&mid, B).await.unwrap_err(),
        StoreError::NotFound(_)
    ));

    // Back into a fresh SQLite database.
    let dst_db = TestDb::sqlite();
    let dst = dst_db.open().await;
    import(&dst, &second).await.unwrap();
    let (third, _) = export(&dst, A).await.unwrap();
    assert!(third == first, "the second SQLite export differs");

    // What the application reads is the same as at the source.
    let a = slug(A);
    for e in &events {
        assert_eq!(
            dst.load_event(&a, e).await.unwrap(),
            src.load_event(&a, e).await.unwrap()
        );
        assert_eq!(
            dst.event_audit(&a, e).await.unwrap(),
            src.event_audit(&a, e).await.unwrap()
        );
        assert_eq!(
            dst.thread_message_ids(&a, e).await.unwrap(),
            src.thread_message_ids(&a, e).await.unwrap()
        );
        assert_eq!(
            dst.booking_automation(&a, e).await.unwrap(),
            src.booking_automation(&a, e).await.unwrap()
        );
    }
    let client = ClientEmail::parse(&format!("client0@{A}.example")).unwrap();
    assert_eq!(
        dst.client_context(&a, &client).await.unwrap(),
        src.client_context(&a, &client).await.unwrap()
    );
    let filter = TaskFilter {
        limit: 100,
        ..TaskFilter::default()
    };
    assert_eq!(
        dst.list_tasks(&a, filter).await.unwrap(),
        src.list_tasks(&a, filter).await.unwrap()
    );
    assert_eq!(
        dst.list_outbox(&a, None, 100).await.unwrap(),
        src.list_outbox(&a, None, 100).await.unwrap()
    );
    assert_eq!(
        dst.workflow_versions(&a).await.unwrap(),
        src.workflow_versions(&a).await.unwrap()
    );
    assert_eq!(
        dst.load_venue(&a).await.unwrap(),
        src.load_venue(&a).await.unwrap()
    );
    assert_eq!(
        dst.automation_setup(&a).await.unwrap(),
        src.automation_setup(&a).await.unwrap()
    );
    let token = dst.find_token(&format!("hash-{A}")).await.unwrap().unwrap();
    assert_eq!(token.org, a);
    assert!(
        dst.find_token(&format!("hash-{B}"))
            .await
            .unwrap()
            .is_none()
    );

    // A second import of the organization is refused and writes nothing.
    let before = dst.table_counts().await.unwrap();
    let err = import(&dst, &first).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::OrgExists { org, .. } if org == A),
        "{err}"
    );
    assert!(err.to_string().contains(A), "{err}");
    assert_eq!(dst.table_counts().await.unwrap(), before);
    assert!(export(&dst, A).await.unwrap().0 == first);
}

/// Replaces line `n` (1-based) of an export.
fn with_line(text: &str, n: usize, f: impl FnOnce(&str) -> String) -> String {
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines[n - 1] = f(&lines[n - 1]);
    lines.join("\n") + "\n"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupted_exports_are_refused_without_writing() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    fill(&store, &slug(A), false).await;
    fill(&store, &slug(B), false).await;
    let (good, _) = export(&store, A).await.unwrap();
    let last = good.lines().count();
    let org_a = format!("\"org_id\":\"{A}\"");

    let cases: Vec<(&str, String, usize, &str)> = vec![
        (
            "bad JSON",
            with_line(&good, last, |l| l[..l.len() / 2].to_owned()),
            last,
            "not valid JSON",
        ),
        (
            "unknown table",
            with_line(&good, last, |_| {
                format!("{{\"table\":\"nope\",\"row\":{{{org_a}}}}}")
            }),
            last,
            "unknown table 'nope'",
        ),
        (
            "other organization",
            with_line(&good, last, |l| {
                l.replace(&org_a, &format!("\"org_id\":\"{B}\""))
            }),
            last,
            "organization 'venue-b'",
        ),
        (
            "unknown column",
            with_line(&good, last, |l| {
                l.replacen(&org_a, &format!("{org_a},\"colour\":\"red\""), 1)
            }),
            last,
            "unknown column 'colour'",
        ),
        (
            "generated id",
            {
                let n = good
                    .lines()
                    .position(|l| l.starts_with("{\"table\":\"audit\""))
                    .unwrap()
                    + 1;
                with_line(&good, n, |l| {
                    l.replacen(&org_a, &format!("\"id\":1,{org_a}"), 1)
                })
            },
            0,
            "audit.id is assigned by the database",
        ),
        (
            "wrong type",
            with_line(&good, last, |l| {
                let at = l.find("\"revision\":").unwrap();
                format!(
                    "{}\"revision\":\"1\"{}",
                    &l[..at],
                    &l[l[at..].find(',').unwrap() + at..]
                )
            }),
            last,
            "venues.revision: expected an integer",
        ),
        (
            "another schema",
            with_line(&good, 1, |l| {
                l.replace(
                    &format!("\"schema_version\":{}", SqlStore::known_schema_version()),
                    "\"schema_version\":1",
                )
            }),
            1,
            "schema version 1",
        ),
        (
            "not an export",
            "{\"format\":\"something-else\"}\n".to_owned(),
            1,
            "not an openevent export",
        ),
        ("empty", String::new(), 1, "the input is empty"),
    ];
    let fresh = TestDb::sqlite();
    let target = fresh.open().await;
    for (name, text, line, detail) in cases {
        let err = import(&target, &text).await.unwrap_err();
        let StoreError::Import { line: got, .. } = &err else {
            panic!("{name}: {err}");
        };
        if line > 0 {
            assert_eq!(*got, line, "{name}: {err}");
        }
        assert!(err.to_string().contains(detail), "{name}: {err}");
        assert!(
            all_zero(&target.table_counts().await.unwrap()),
            "{name} left rows behind"
        );
    }

    // A row a constraint refuses (here a duplicate) fails the whole import too.
    let duplicated = with_line(&good, last, |l| format!("{l}\n{l}"));
    let err = import(&target, &duplicated).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::ImportInsert { table, .. } if table == "venues"),
        "{err}"
    );
    assert!(all_zero(&target.table_counts().await.unwrap()));

    // The intact export then imports.
    let report = import(&target, &good).await.unwrap();
    assert_eq!(report.total() as usize, last - 1);
    assert!(export(&target, A).await.unwrap().0 == good);
}

/// A process that looked at the organization's (empty) calendar before importing it sees the
/// imported bookings at once: its in-memory calendar is not left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_importing_process_sees_the_imported_calendar() {
    let org = slug(A);
    let src_db = TestDb::sqlite();
    let src = src_db.open().await;
    let m = message("cal@mail.example", "cal@example.com", None, INQUIRY);
    let out = decide(&org, &m, None);
    let mut event = out.event.clone().unwrap();
    event.status = openevent_core::event::Status::Option;
    event.chosen_date = Some(jiff::civil::date(2027, 3, 17));
    event.locked_room_id = Some(openevent_core::ids::RoomId::parse("room-a").unwrap());
    src.commit_ingest(IngestCommit {
        org: &org,
        message: &m,
        raw: b"raw",
        received_at: now(),
        profile: &out.profile,
        profile_changed: out.profile_changed,
        history: &out.history,
        event: Some(EventWrite::Insert(&event)),
        audit: &out.audit,
        drafts: &out.drafts,
        tasks: &out.tasks,
        superseded: &out.superseded,
        outbox: &out.outbox,
        result: &out.result,
        calendar_seen: &[],
        automation: None,
    })
    .await
    .unwrap();
    let (text, _) = export(&src, A).await.unwrap();

    let dst_db = TestDb::sqlite();
    let dst = dst_db.open().await;
    let range = [(
        jiff::civil::date(2027, 1, 1),
        jiff::civil::date(2027, 12, 31),
    )];
    let booked = || async {
        dst.turn_context(&org, &range, None)
            .await
            .unwrap()
            .occupancy
            .iter()
            .map(|o| o.event_id.clone())
            .collect::<Vec<_>>()
    };
    assert!(booked().await.is_empty());
    import(&dst, &text).await.unwrap();
    assert_eq!(booked().await, vec![event.event_id.clone()]);
}
