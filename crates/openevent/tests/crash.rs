//! Crash safety under load: one `openevent serve` on a SQLite file, SIGKILLed [`KILLS`] times at
//! pseudo-random moments while a steady stream of messages is posted to it and its dispatcher
//! sends the workflow mail those messages cause; restarted (on a new port) after every kill.
//!
//! - Bookings, each an inquiry from a new client followed by [`REPLIES`] replies in its thread,
//!   posted over HTTP by the scale-out driver: a post that got no answer (the process died under
//!   it) is posted again to the next incarnation, which the Message-ID makes harmless; a post
//!   answered 200 is accepted.
//! - A workflow with [`STEPS`] email steps on `lead_created`, due at once, so that every inquiry
//!   feeds the dispatcher while the kills go on; the mail goes to the scale-out SMTP sink, which
//!   notes the Message-ID (the delivery key) and the sending incarnation (its EHLO name).
//! - Kill times come from a seeded generator ([`SEED`], `OPENEVENT_CRASH_SEED`): a pause of
//!   0.5 to 3 s after each restart, and in two kills of three a wait (bounded) for the victim to
//!   be seen sending. Each kill is also due once the driver has answered its share of the
//!   messages, so that all of them fall inside the load whatever the machine's speed.
//!
//! After the last restart, the jobs the killed incarnations held come back when their lease
//! ([`LEASE`]) expires; the run waits until nothing is scheduled, claimed or due, stops the
//! server with SIGTERM and reads the file: `PRAGMA integrity_check` is ok; every accepted message
//! is stored once, with its result, one history row, on its booking, and its effect is applied
//! once (each reply adds a distinct power of two of chairs, so the booking's total names a reply
//! lost or applied twice; its version counts the turns); no draft, task or job twice; every job
//! sent, none left claimed, each received by the sink under its key, and a key received more than
//! once only for a job a killed incarnation sent first and that was attempted again.

#[path = "scale_out/driver.rs"]
mod driver;
#[path = "scale_out/fleet.rs"]
mod fleet;
#[path = "scale_out/load.rs"]
mod load;
#[path = "scale_out/sink.rs"]
mod sink;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use driver::Driver;
use fleet::{Fleet, ORG};
use load::{AbortOnPanic, SETTINGS, dates, key_of, secs};
use rusqlite::Connection;
use sink::{Delivery, Sink};

const BOOKINGS: usize = 2000;
const REPLIES: usize = 3;
const STEPS: usize = 3;
const KILLS: usize = 22;
/// Posting threads: enough that requests are always in flight when a kill lands, and that a
/// booking's replies race each other on its record.
const CLIENTS: usize = 8;
/// Beyond it a reply's chairs no longer fit the quantities the NLU reads.
const _: () = assert!(REPLIES <= driver::MAX_REPLIES);
const SEED: u64 = 0x6f70_656e_6576_656e;
/// The server's lease (`[retry] lease_secs`, read by the fleet): the shortest the product
/// allows, so that a killed incarnation's jobs come back within the run.
const LEASE: Duration = Duration::from_secs(10);
const PAUSE_MIN: Duration = Duration::from_millis(500);
const PAUSE_MAX: Duration = Duration::from_millis(3000);
/// A victim that completed a message this recently is taken to be in the middle of a batch.
const SENDING_WITHIN: Duration = Duration::from_millis(100);
/// How long a kill that prefers to land while sending waits for it before it lands anyway.
const SENDING_WAIT: Duration = Duration::from_secs(1);
/// What the dispatcher claims at once and records in one transaction after sending all of it
/// (`dispatch_loop` in src/serve.rs): the most one kill can leave sent but unrecorded.
const DISPATCH_BATCH: usize = 100;
/// How long the jobs not yet final may stay as many, beyond a lease, before the run counts as
/// stuck.
const STALL_MARGIN: Duration = Duration::from_secs(60);

/// SplitMix64: the kill schedule is reproducible from the seed alone.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn between(&mut self, low: Duration, high: Duration) -> Duration {
        let span = u64::try_from((high - low).as_millis()).expect("small");
        low + Duration::from_millis(self.next() % (span + 1))
    }
}

fn seed() -> u64 {
    match std::env::var("OPENEVENT_CRASH_SEED") {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("OPENEVENT_CRASH_SEED={v:?} is not a number")),
        Err(_) => SEED,
    }
}

struct Kill {
    helo: String,
    uptime: Duration,
    /// Messages answered when it happened, and those not answered yet.
    answered: usize,
    remaining: usize,
    /// Whether the sink saw the victim complete a message just before.
    sending: bool,
}

fn micros_now() -> i64 {
    jiff::Timestamp::now().as_microsecond()
}

fn open(path: &Path) -> Connection {
    let db = Connection::open(path).expect("open the SQLite file");
    db.busy_timeout(Duration::from_secs(30))
        .expect("busy timeout");
    db
}

fn count(db: &Connection, sql: &str) -> i64 {
    db.query_row(sql, [ORG], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Jobs the dispatcher still has to act on: not sent yet, held, or due for a retry.
fn pending(db: &Connection) -> i64 {
    db.query_row(
        "SELECT count(*) FROM outbox WHERE org_id = ?1 AND (status IN ('scheduled', 'claimed') \
         OR (status = 'failed' AND due_at <= ?2))",
        rusqlite::params![ORG, micros_now()],
        |r| r.get(0),
    )
    .expect("count pending jobs")
}

/// Rows of a query whose every column is text or integer, as strings, for failure messages.
fn rows(db: &Connection, sql: &str) -> Vec<Vec<String>> {
    let mut stmt = db.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let n = stmt.column_count();
    stmt.query_map([ORG], |r| {
        (0..n)
            .map(|i| {
                Ok(match r.get_ref(i)? {
                    rusqlite::types::ValueRef::Null => "NULL".to_owned(),
                    rusqlite::types::ValueRef::Integer(v) => v.to_string(),
                    rusqlite::types::ValueRef::Real(v) => v.to_string(),
                    rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                        String::from_utf8_lossy(t).into_owned()
                    }
                })
            })
            .collect()
    })
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
    .collect::<Result<_, _>>()
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[test]
fn sigkilled_server_loses_nothing_and_does_nothing_twice() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db_path = dir.path().join("openevent.db");
    let url = format!("sqlite://{}", db_path.display());
    let seed = seed();

    fleet::run(&url, &["migrate"]);
    let wf = dir.path().join("workflow.toml");
    std::fs::write(&wf, load::workflow("crash-notes", STEPS)).unwrap();
    fleet::run(&url, &["workflow", "import", wf.to_str().unwrap()]);
    let settings = dir.path().join("settings.toml");
    std::fs::write(&settings, SETTINGS).unwrap();
    fleet::run(
        &url,
        &["workflow", "settings", "--set", settings.to_str().unwrap()],
    );
    let created: serde_json::Value =
        serde_json::from_slice(&fleet::run(&url, &["token", "create", "--role", "manager"]).stdout)
            .expect("token JSON");
    let token = created["token"].as_str().expect("a token").to_owned();

    let sink = Sink::start();
    // Declared after the directory and the sink: dropped (killed) before them.
    let mut fleet = Fleet::new(&url, dir.path(), sink.port(), 1);
    fleet.start(0);
    let driver = Driver::new(&dates(BOOKINGS), REPLIES, fleet.addrs(), token);
    let total = driver.total();
    let mut rng = Rng(seed);
    let mut kills: Vec<Kill> = Vec::new();
    let mut restarts: Vec<Duration> = Vec::new();

    eprintln!(
        "crash: {BOOKINGS} bookings x {} messages = {total} messages, {} jobs, {KILLS} kills, \
         seed {seed}",
        1 + REPLIES,
        BOOKINGS * STEPS
    );
    let started = Instant::now();
    std::thread::scope(|s| {
        let _abort = AbortOnPanic(&driver.abort);
        for _ in 0..CLIENTS {
            s.spawn(|| driver.client());
        }
        let mut up_since = Instant::now();
        for i in 1..=KILLS {
            let pause = rng.between(PAUSE_MIN, PAUSE_MAX);
            let prefer_sending = !rng.next().is_multiple_of(3);
            // The kill's latest moment in messages: the last one still leaves a share of them
            // to be posted to the final incarnation.
            let share = total * i / (KILLS + 2);
            let forced = loop {
                fleet.check_running();
                if driver.done.load(Ordering::SeqCst) >= share {
                    break true;
                }
                if up_since.elapsed() >= pause {
                    break false;
                }
                std::thread::sleep(Duration::from_millis(5));
            };
            let helo = fleet.helo(0).to_owned();
            let sending_now = || {
                sink.last_from(&helo)
                    .is_some_and(|t| t.elapsed() < SENDING_WITHIN)
            };
            if prefer_sending && !forced {
                let waiting = Instant::now();
                while !sending_now() && waiting.elapsed() < SENDING_WAIT {
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
            let sending = sending_now();
            let uptime = up_since.elapsed();
            fleet.kill(0);
            kills.push(Kill {
                helo,
                uptime,
                answered: driver.done.load(Ordering::SeqCst),
                remaining: driver.total(),
                sending,
            });
            let restarting = Instant::now();
            fleet.start(0);
            restarts.push(restarting.elapsed());
            up_since = Instant::now();
            if i.is_multiple_of(6) {
                eprintln!(
                    "  {:>6.1}s  {i} kills, {} messages answered, {} mails received",
                    secs(started.elapsed()),
                    driver.done.load(Ordering::SeqCst),
                    sink.count()
                );
            }
        }
        while driver.total() > 0 {
            fleet.check_running();
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let posted = started.elapsed();
    let failures = driver.failures();
    assert!(
        failures.is_empty(),
        "{} messages were not answered, e.g.:\n{}",
        failures.len(),
        failures
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    let under_load: Vec<usize> = kills
        .iter()
        .enumerate()
        .filter(|(_, k)| k.remaining == 0)
        .map(|(i, _)| i + 1)
        .collect();
    assert!(
        under_load.is_empty(),
        "kills {under_load:?} came after the last message was answered: not under load"
    );

    // Every job reaches a final state; those a killed incarnation held wait for their lease.
    let live = open(&db_path);
    let mut fewest = i64::MAX;
    let mut last_progress = Instant::now();
    loop {
        fleet.check_running();
        let left = pending(&live);
        if left == 0 {
            break;
        }
        if left < fewest {
            fewest = left;
            last_progress = Instant::now();
        }
        assert!(
            last_progress.elapsed() < LEASE + STALL_MARGIN,
            "{left} jobs not final, none finished for {}s; by status: {:?}",
            last_progress.elapsed().as_secs(),
            rows(
                &live,
                "SELECT status, count(*) FROM outbox WHERE org_id = ?1 GROUP BY status"
            )
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(live);
    let drained = started.elapsed();
    let stopped = fleet.stop_all(Duration::from_secs(30));
    for (helo, status) in &stopped {
        assert!(status.success(), "serve {helo} stopped with {status}");
    }
    for log in fleet.logs() {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(!text.contains("panicked"), "{}", fleet::tail(&log));
    }

    let db = open(&db_path);
    let integrity: Vec<String> = db
        .prepare("PRAGMA integrity_check")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(integrity, ["ok"], "PRAGMA integrity_check");
    let fk_violations = db
        .prepare("PRAGMA foreign_key_check")
        .unwrap()
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .count();
    assert_eq!(fk_violations, 0, "PRAGMA foreign_key_check rows");

    // ---- Figures.
    let deliveries = sink.deliveries();
    let mut by_key: HashMap<&str, Vec<&Delivery>> = HashMap::new();
    for d in &deliveries {
        by_key.entry(key_of(d)).or_default().push(d);
    }
    // (delivery key, status, kind, recipient, attempts, event, step)
    type JobRow = (String, String, String, String, i64, String, String);
    let jobs: Vec<JobRow> = db
        .prepare(
            "SELECT o.delivery_key, o.status, o.kind, coalesce(e.client_email, ''), o.attempts, \
             coalesce(o.event_id, ''), coalesce(json_extract(o.payload, '$.step'), '') \
             FROM outbox o LEFT JOIN events e ON e.org_id = o.org_id AND e.event_id = o.event_id \
             WHERE o.org_id = ?1",
        )
        .unwrap()
        .query_map([ORG], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let reclaimed = jobs.iter().filter(|j| j.4 > 1).count();
    let wire_resends = deliveries.len().saturating_sub(by_key.len());
    let killed: HashSet<&str> = fleet.killed.iter().map(String::as_str).collect();
    let answers = driver.answers();
    let replays = answers.values().filter(|a| a.duplicate).count();
    let drafts = count(&db, "SELECT count(*) FROM drafts WHERE org_id = ?1");
    let tasks = count(&db, "SELECT count(*) FROM tasks WHERE org_id = ?1");
    let mut uptimes: Vec<f64> = kills.iter().map(|k| secs(k.uptime)).collect();
    uptimes.sort_by(f64::total_cmp);
    eprintln!(
        "crash summary: {} kills ({} while sending, {} forced by progress; uptime {:.2}-{:.2}s, \
         restart at most {:.2}s); {} messages accepted of {total} in {:.1}s, {} re-posts, \
         {replays} answered as already processed; {drafts} drafts, {tasks} tasks; {} jobs, {} sent, \
         {reclaimed} re-claimed after a lease, {wire_resends} resent on the wire; all final \
         after {:.1}s; wall time {:.1}s",
        kills.len(),
        kills.iter().filter(|k| k.sending).count(),
        kills
            .iter()
            .enumerate()
            .filter(|(i, k)| k.answered >= total * (i + 1) / (KILLS + 2))
            .count(),
        uptimes.first().copied().unwrap_or_default(),
        uptimes.last().copied().unwrap_or_default(),
        restarts.iter().map(|d| secs(*d)).fold(0.0, f64::max),
        answers.len(),
        secs(posted),
        driver.failovers.load(Ordering::SeqCst),
        jobs.len(),
        jobs.iter().filter(|j| j.1 == "sent").count(),
        secs(drained),
        secs(started.elapsed()),
    );

    // ---- Every accepted message stored once, with its result, on its booking, applied once.
    assert_eq!(answers.len(), total, "messages accepted");
    let inbound: HashMap<String, (Option<String>, bool)> = db
        .prepare(
            "SELECT message_id, event_id, result IS NOT NULL FROM messages \
             WHERE org_id = ?1 AND direction = 'inbound'",
        )
        .unwrap()
        .query_map([ORG], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(inbound.len(), total, "inbound messages stored");
    let history: HashMap<String, i64> = db
        .prepare("SELECT msg_id, count(*) FROM history WHERE org_id = ?1 GROUP BY msg_id")
        .unwrap()
        .query_map([ORG], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let stored = load::Stored {
        inbound: &inbound,
        history: &history,
        answers: &answers,
    };
    assert_eq!(
        count(&db, "SELECT count(*) FROM history WHERE org_id = ?1"),
        i64::try_from(total).unwrap(),
        "history rows"
    );
    let events: HashMap<String, (String, i64, String)> = db
        .prepare("SELECT event_id, client_email, version, record FROM events WHERE org_id = ?1")
        .unwrap()
        .query_map([ORG], |r| {
            Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?)))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(events.len(), BOOKINGS, "bookings");
    let received: HashMap<String, i64> = db
        .prepare(
            "SELECT event_id, count(*) FROM audit WHERE org_id = ?1 \
             AND reason = 'client_message_received' GROUP BY event_id",
        )
        .unwrap()
        .query_map([ORG], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let all_chairs: u32 = (1..=REPLIES).map(driver::chairs).sum();
    let mut wrong = Vec::new();
    for b in 0..BOOKINGS {
        let ids: Vec<String> = std::iter::once(driver::inquiry_id(b))
            .chain((1..=REPLIES).map(|k| driver::reply_id(b, k)))
            .collect();
        let event = inbound
            .get(&ids[0])
            .unwrap_or_else(|| panic!("inquiry {} not stored", ids[0]))
            .0
            .clone()
            .unwrap_or_else(|| panic!("inquiry {} opened no booking", ids[0]));
        stored.assert_on_booking(&ids, &event);
        let (client, version, record) = &events[&event];
        assert_eq!(client, &driver::client(b), "client of {event}");
        let chairs = load::chairs(record);
        let turns = received.get(&event).copied().unwrap_or(0);
        if chairs != u64::from(all_chairs)
            || *version != i64::try_from(1 + REPLIES).unwrap()
            || turns != i64::try_from(REPLIES).unwrap()
        {
            wrong.push(format!(
                "{event} (booking {b}): {chairs} chairs of {all_chairs}, version {version}, \
                 {turns} replies received in the audit"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} bookings lost a reply or applied one twice, e.g.:\n{}",
        wrong.len(),
        wrong
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );

    // ---- No draft or task twice: their ids derive from the message, so a replayed turn would
    // show as a second one for the same message and purpose.
    let twice_drafts = rows(
        &db,
        "SELECT event_id, in_reply_to, topic, count(*) FROM drafts WHERE org_id = ?1 \
         GROUP BY event_id, in_reply_to, topic HAVING count(*) > 1",
    );
    assert!(
        twice_drafts.is_empty(),
        "{} drafts duplicated, e.g. {:?}",
        twice_drafts.len(),
        &twice_drafts[..twice_drafts.len().min(10)]
    );
    let twice_tasks = rows(
        &db,
        "SELECT event_id, source_message_id, task_type, count(*) FROM tasks WHERE org_id = ?1 \
         GROUP BY event_id, source_message_id, task_type HAVING count(*) > 1",
    );
    assert!(
        twice_tasks.is_empty(),
        "{} tasks duplicated, e.g. {:?}",
        twice_tasks.len(),
        &twice_tasks[..twice_tasks.len().min(10)]
    );
    let posted_ids: HashSet<String> = inbound.keys().cloned().collect();
    let strays = rows(
        &db,
        "SELECT 'draft', draft_id, in_reply_to FROM drafts WHERE org_id = ?1 \
         UNION ALL SELECT 'task', task_id, source_message_id FROM tasks WHERE org_id = ?1",
    )
    .into_iter()
    .filter(|r| !posted_ids.contains(r[2].trim_start_matches('<').trim_end_matches('>')))
    .collect::<Vec<_>>();
    assert!(
        strays.is_empty(),
        "{} drafts or tasks answer no posted message, e.g. {:?}",
        strays.len(),
        &strays[..strays.len().min(10)]
    );

    // ---- Every job final and sent once in the ledger; one per booking and step.
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM outbox WHERE org_id = ?1 AND status = 'claimed'"
        ),
        0,
        "jobs left claimed"
    );
    let mut by_status: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for j in &jobs {
        *by_status.entry((j.2.as_str(), j.1.as_str())).or_default() += 1;
    }
    assert_eq!(
        by_status,
        BTreeMap::from([(("automation", "sent"), BOOKINGS * STEPS)]),
        "jobs by kind and status"
    );
    let keys: HashSet<&str> = jobs.iter().map(|j| j.0.as_str()).collect();
    assert_eq!(keys.len(), jobs.len(), "distinct delivery keys");
    let steps: HashSet<(&str, &str)> = jobs.iter().map(|j| (j.5.as_str(), j.6.as_str())).collect();
    assert_eq!(steps.len(), jobs.len(), "jobs per booking and step");

    // ---- The wire: every sent job received under its key; a key twice only after a kill.
    let unknown: Vec<&str> = by_key
        .keys()
        .filter(|k| !keys.contains(*k))
        .copied()
        .collect();
    assert!(
        unknown.is_empty(),
        "the sink received {} messages no job was scheduled for, e.g. {:?}",
        unknown.len(),
        &unknown[..unknown.len().min(10)]
    );
    let mut resent_by: HashMap<&str, usize> = HashMap::new();
    for (key, _, _, client, attempts, _, _) in &jobs {
        let got = by_key
            .get(key.as_str())
            .unwrap_or_else(|| panic!("job {key} is sent in the ledger but the sink has nothing"));
        for d in got {
            assert_eq!(
                d.recipients,
                std::slice::from_ref(client),
                "recipients of {key}"
            );
        }
        if got.len() == 1 {
            continue;
        }
        let mut got = got.clone();
        got.sort_by_key(|d| d.at);
        let senders: Vec<&str> = got.iter().map(|d| d.helo.as_str()).collect();
        let mut distinct = senders.clone();
        distinct.sort_unstable();
        distinct.dedup();
        // Nothing is sent again once recorded, so the last send is the recorded one; each earlier
        // one is a claim of its own by an incarnation that died before recording it.
        let unrecorded = &senders[..senders.len() - 1];
        assert!(
            usize::try_from(*attempts).unwrap() >= got.len()
                && distinct.len() == got.len()
                && unrecorded.iter().all(|h| killed.contains(h)),
            "job {key} ({attempts} attempts) went out {} times, from {senders:?} (killed: \
             {killed:?})",
            got.len()
        );
        for h in unrecorded {
            *resent_by.entry(h).or_default() += 1;
        }
    }
    for (helo, n) in &resent_by {
        assert!(
            *n <= DISPATCH_BATCH,
            "{n} jobs sent by the killed {helo} went out again: more than one dispatch batch"
        );
    }
    eprintln!(
        "crash kills (incarnation: uptime, seen sending, its sends that went out again): {}",
        kills
            .iter()
            .map(|k| format!(
                "{}: {:.2}s{}, {}",
                k.helo.split('.').next().unwrap_or_default(),
                secs(k.uptime),
                if k.sending { " sending" } else { "" },
                resent_by.get(k.helo.as_str()).copied().unwrap_or(0)
            ))
            .collect::<Vec<_>>()
            .join("; ")
    );
    assert!(
        reclaimed <= kills.len() * DISPATCH_BATCH,
        "{reclaimed} jobs took more than one attempt; {} kills can leave at most {} held",
        kills.len(),
        kills.len() * DISPATCH_BATCH
    );
}
