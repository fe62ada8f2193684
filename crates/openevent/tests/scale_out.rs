//! Scale-out reliability: several `openevent serve` processes (API and dispatcher each) on one
//! PostgreSQL database, one of them SIGKILLed twice while it answers requests and sends mail.
//!
//! - 2,000 bookings, each an inquiry from a new client followed by 9 replies in its thread:
//!   20,000 inbound messages posted over HTTP round-robin over the live processes. A booking's
//!   replies are posted at the same time to different processes, so their turns race on the one
//!   booking record.
//! - A workflow with 25 email steps on `lead_created`, due at once: 50,000 jobs, sent over SMTP to
//!   a sink in this test that notes every message it takes and which process sent it.
//! - At 30% and 60% of the messages, the last process is SIGKILLed (while the sink sees it
//!   sending) and restarted on a new port.
//!
//! Afterwards: every message processed exactly once (one stored result, one history row, linked
//! to its booking); no booking lost an update (each reply adds a distinct power of two of chairs:
//! the record's total names any reply that went missing; the record's version counts the turns);
//! every job `sent` once in the ledger and received by the sink under its delivery key. A resend
//! on the wire is allowed only for a job a killed process had in hand: its Message-ID is the
//! same, it came first from the killed incarnation, and there is at most one dispatch batch of
//! them per kill.
//!
//! The jobs a killed process held come back when their lease expires (`LEASE`, set in the
//! processes' `[retry] lease_secs`), so the run lasts at least that long after the last kill.
//!
//! Sizes can be changed for benchmarks: `OPENEVENT_SCALE_BOOKINGS`,
//! `OPENEVENT_SCALE_MESSAGES_PER_BOOKING`, `OPENEVENT_SCALE_STEPS`, `OPENEVENT_SCALE_WORKERS` and
//! `OPENEVENT_SCALE_KILLS` (0: no kill, no lease wait). Needs `OPENEVENT_TEST_PG_URL`.

#[path = "scale_out/driver.rs"]
mod driver;
#[path = "scale_out/fleet.rs"]
mod fleet;
#[path = "scale_out/load.rs"]
mod load;
#[path = "scale_out/sink.rs"]
mod sink;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use driver::Driver;
use fleet::{Fleet, ORG};
use load::{AbortOnPanic, SETTINGS, dates, key_of, secs};
use openevent_store::testing::TestDb;
use sink::{Delivery, Sink};

const BOOKINGS: usize = 2000;
const MESSAGES_PER_BOOKING: usize = 10;
const STEPS: usize = 25;
const WORKERS: usize = 4;
const KILLS: usize = 2;
/// The dispatchers' lease (`[retry] lease_secs`): how long a killed process's jobs wait.
const LEASE: Duration = Duration::from_secs(20);
/// Client threads per process: enough that a booking's replies are in flight together.
const CLIENTS_PER_WORKER: usize = 4;
/// What `serve`'s dispatcher claims at a time and records in one transaction after sending all
/// of it (`dispatch_loop` in src/serve.rs): the most a SIGKILL can leave sent but unrecorded.
const DISPATCH_BATCH: usize = 100;
/// Kill only while the victim is seen sending, so that it dies holding a claimed batch.
const SENDING_WITHIN: Duration = Duration::from_millis(100);
/// How long to wait for the victim to send before killing it anyway.
const SENDING_WAIT: Duration = Duration::from_secs(60);
/// How long the jobs not yet final may stay as many before the run counts as stuck: a killed
/// process's lease, plus this.
const STALL_MARGIN: Duration = Duration::from_secs(120);

struct Sizes {
    bookings: usize,
    messages_per_booking: usize,
    steps: usize,
    workers: usize,
    kills: usize,
}

impl Sizes {
    fn from_env() -> Sizes {
        fn var(name: &str, default: usize) -> usize {
            match std::env::var(name) {
                Ok(v) => v
                    .trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
                Err(_) => default,
            }
        }
        let s = Sizes {
            bookings: var("OPENEVENT_SCALE_BOOKINGS", BOOKINGS),
            messages_per_booking: var("OPENEVENT_SCALE_MESSAGES_PER_BOOKING", MESSAGES_PER_BOOKING),
            steps: var("OPENEVENT_SCALE_STEPS", STEPS),
            workers: var("OPENEVENT_SCALE_WORKERS", WORKERS),
            kills: var("OPENEVENT_SCALE_KILLS", KILLS),
        };
        assert!(s.bookings >= 1, "at least one booking");
        assert!(
            (1..=driver::MAX_REPLIES + 1).contains(&s.messages_per_booking),
            "1 to {} messages per booking",
            driver::MAX_REPLIES + 1
        );
        assert!(
            (1..=openevent_automation::definition::MAX_STEPS).contains(&s.steps),
            "1 to {} steps",
            openevent_automation::definition::MAX_STEPS
        );
        assert!(s.workers >= 1, "at least one worker");
        s
    }

    fn replies(&self) -> usize {
        self.messages_per_booking - 1
    }

    fn messages(&self) -> usize {
        self.bookings * self.messages_per_booking
    }

    fn jobs(&self) -> usize {
        self.bookings * self.steps
    }
}

struct Kill {
    helo: String,
    /// Messages answered when it happened.
    at_message: usize,
    /// Jobs the sink had taken when it happened.
    at_job: usize,
    /// Whether the sink saw the victim sending just before.
    sending: bool,
}

fn count(pg: &mut postgres::Client, sql: &str) -> i64 {
    pg.query_one(sql, &[&ORG])
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get(0)
}

#[test]
fn processes_share_the_work_and_lose_nothing_when_one_is_killed() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let sizes = Sizes::from_env();
    let url = db.url().to_owned();
    let dir = tempfile::tempdir().expect("temp dir");

    fleet::run(&url, &["migrate"]);
    let wf = dir.path().join("workflow.toml");
    std::fs::write(&wf, load::workflow("scale-notes", sizes.steps)).unwrap();
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
    // Declared after the database and the sink: dropped (killed) before them.
    let mut fleet = Fleet::new(&url, dir.path(), sink.port(), sizes.workers);
    for slot in 0..sizes.workers {
        fleet.start(slot);
    }
    let driver = Driver::new(
        &dates(sizes.bookings),
        sizes.replies(),
        fleet.addrs(),
        token,
    );
    let total = driver.total();
    assert_eq!(total, sizes.messages());
    let victim = sizes.workers - 1;
    let mut kills: Vec<Kill> = Vec::new();

    eprintln!(
        "scale-out: {} processes, {} bookings x {} messages = {total} messages, {} jobs, {} kills",
        sizes.workers,
        sizes.bookings,
        sizes.messages_per_booking,
        sizes.jobs(),
        sizes.kills
    );
    let started = Instant::now();
    std::thread::scope(|s| {
        let _abort = AbortOnPanic(&driver.abort);
        for _ in 0..sizes.workers * CLIENTS_PER_WORKER {
            s.spawn(|| driver.client());
        }
        let mut reported = 0;
        let mut progress = |fleet: &mut Fleet| {
            fleet.check_running();
            let done = driver.done.load(Ordering::SeqCst);
            if done * 10 / total > reported {
                reported = done * 10 / total;
                eprintln!(
                    "  {:>6.1}s  {done} messages answered, {} jobs received",
                    secs(started.elapsed()),
                    sink.count()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        for i in 1..=sizes.kills {
            // 30% and 60% with two kills.
            let at = total * 9 * i / (10 * (sizes.kills + 1));
            while driver.done.load(Ordering::SeqCst) < at && driver.total() > 0 {
                progress(&mut fleet);
            }
            let helo = fleet.helo(victim).to_owned();
            let waiting = Instant::now();
            let sending = loop {
                if sink
                    .last_from(&helo)
                    .is_some_and(|t| t.elapsed() < SENDING_WITHIN)
                {
                    break true;
                }
                if waiting.elapsed() > SENDING_WAIT {
                    break false;
                }
                std::thread::sleep(Duration::from_millis(2));
            };
            fleet.kill(victim);
            kills.push(Kill {
                helo,
                at_message: driver.done.load(Ordering::SeqCst),
                at_job: sink.count(),
                sending,
            });
            fleet.start(victim);
        }
        while driver.total() > 0 {
            progress(&mut fleet);
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

    // Every job reaches a final state; those a killed process held wait for their lease.
    let mut pg = postgres::Client::connect(&url, postgres::NoTls).expect("connect PostgreSQL");
    let lease = LEASE;
    let mut fewest = i64::MAX;
    let mut last_progress = Instant::now();
    let mut last_report = Instant::now();
    loop {
        fleet.check_running();
        let pending = count(
            &mut pg,
            "SELECT count(*) FROM outbox WHERE org_id = $1 \
             AND status IN ('scheduled', 'claimed', 'failed')",
        );
        if pending == 0 {
            break;
        }
        if pending < fewest {
            fewest = pending;
            last_progress = Instant::now();
        }
        if last_report.elapsed() > Duration::from_secs(30) {
            last_report = Instant::now();
            eprintln!(
                "  {:>6.1}s  {pending} jobs not final yet (a killed process's lease runs {}s)",
                secs(started.elapsed()),
                lease.as_secs()
            );
        }
        assert!(
            last_progress.elapsed() < lease + STALL_MARGIN,
            "{pending} jobs not final, none finished for {}s; by status: {:?}",
            last_progress.elapsed().as_secs(),
            pg.query(
                "SELECT status, count(*) FROM outbox WHERE org_id = $1 GROUP BY status",
                &[&ORG]
            )
            .unwrap()
            .iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1)))
            .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let finished = started.elapsed();
    let stopped = fleet.stop_all(Duration::from_secs(30));
    for (helo, status) in &stopped {
        assert!(status.success(), "serve {helo} stopped with {status}");
    }
    for log in fleet.logs() {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(!text.contains("panicked"), "{}", fleet::tail(&log));
    }

    // ---- Figures.
    let deliveries = sink.deliveries();
    let mut by_key: HashMap<&str, Vec<&Delivery>> = HashMap::new();
    for d in &deliveries {
        by_key.entry(key_of(d)).or_default().push(d);
    }
    let jobs: Vec<(String, String, String, String, i64)> = pg
        .query(
            "SELECT o.delivery_key, o.status, o.kind, e.client_email, o.attempts \
             FROM outbox o LEFT JOIN events e ON e.org_id = o.org_id AND e.event_id = o.event_id \
             WHERE o.org_id = $1",
            &[&ORG],
        )
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.get(0),
                r.get(1),
                r.get(2),
                r.get::<_, Option<String>>(3).unwrap_or_default(),
                r.get(4),
            )
        })
        .collect();
    let reclaimed = jobs.iter().filter(|j| j.4 > 1).count();
    let wire_duplicates = deliveries.len().saturating_sub(by_key.len());
    let killed: HashSet<&str> = fleet.killed.iter().map(String::as_str).collect();
    // Per killed incarnation: the jobs it sent that went out again.
    let mut resent_by: HashMap<&str, usize> = HashMap::new();
    for got in by_key.values().filter(|got| got.len() > 1) {
        for d in got.iter().filter(|d| killed.contains(d.helo.as_str())) {
            *resent_by.entry(d.helo.as_str()).or_default() += 1;
        }
    }
    let replays = driver.answers().values().filter(|a| a.duplicate).count();
    // The jobs not held by a killed process went out as fast as they could; the rest waited for
    // the lease.
    let mut first_seen: Vec<Instant> = by_key
        .values()
        .filter_map(|ds| ds.iter().map(|d| d.at).min())
        .collect();
    first_seen.sort();
    let bulk = first_seen.len().saturating_sub(reclaimed).max(1);
    let bulk_secs = first_seen
        .get(bulk - 1)
        .map_or(0.0, |t| secs(t.duration_since(started)));
    eprintln!(
        "scale-out summary: {} processes, {total} messages in {:.1}s ({:.0} messages/s); \
         {} jobs: {bulk} sent within {bulk_secs:.1}s ({:.0} jobs/s), all final after {:.1}s; \
         {} kills ({}); {} failovers, {replays} messages answered as already processed; \
         {reclaimed} jobs re-claimed after a lease expired, {wire_duplicates} resent on the wire",
        sizes.workers,
        secs(posted),
        total as f64 / secs(posted),
        jobs.len(),
        bulk as f64 / bulk_secs.max(f64::EPSILON),
        secs(finished),
        kills.len(),
        kills
            .iter()
            .map(|k| format!(
                "{} at message {} and job {}{}, {} of its jobs resent",
                k.helo,
                k.at_message,
                k.at_job,
                if k.sending {
                    " while sending"
                } else {
                    " (NOT seen sending)"
                },
                resent_by.get(k.helo.as_str()).copied().unwrap_or(0)
            ))
            .collect::<Vec<_>>()
            .join("; "),
        driver.failovers.load(Ordering::SeqCst),
    );

    // ---- Every message processed exactly once, on its booking.
    let inbound: HashMap<String, (Option<String>, bool)> = pg
        .query(
            "SELECT message_id, event_id, result IS NOT NULL FROM messages \
             WHERE org_id = $1 AND direction = 'inbound'",
            &[&ORG],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();
    assert_eq!(inbound.len(), total, "inbound messages stored");
    let history: HashMap<String, i64> = pg
        .query(
            "SELECT msg_id, count(*) FROM history WHERE org_id = $1 GROUP BY msg_id",
            &[&ORG],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        count(&mut pg, "SELECT count(*) FROM history WHERE org_id = $1"),
        i64::try_from(total).unwrap(),
        "history rows"
    );
    let events: HashMap<String, (String, i64, String)> = pg
        .query(
            "SELECT event_id, client_email, version, record FROM events WHERE org_id = $1",
            &[&ORG],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3))))
        .collect();
    assert_eq!(events.len(), sizes.bookings, "bookings");
    let received: HashMap<String, i64> = pg
        .query(
            "SELECT event_id, count(*) FROM audit WHERE org_id = $1 \
             AND reason = 'client_message_received' GROUP BY event_id",
            &[&ORG],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let answers = driver.answers();
    let stored = load::Stored {
        inbound: &inbound,
        history: &history,
        answers: &answers,
    };
    let all_chairs: u32 = (1..=sizes.replies()).map(driver::chairs).sum();
    let mut lost = Vec::new();
    for b in 0..sizes.bookings {
        let ids: Vec<String> = std::iter::once(driver::inquiry_id(b))
            .chain((1..=sizes.replies()).map(|k| driver::reply_id(b, k)))
            .collect();
        let (event, _) = inbound
            .get(&ids[0])
            .unwrap_or_else(|| panic!("inquiry {} not stored", ids[0]));
        let event = event
            .clone()
            .unwrap_or_else(|| panic!("inquiry {} opened no booking", ids[0]));
        stored.assert_on_booking(&ids, &event);
        let (client, version, record) = &events[&event];
        assert_eq!(client, &driver::client(b), "client of {event}");
        let chairs = load::chairs(record);
        let turns = received.get(&event).copied().unwrap_or(0);
        if chairs != u64::from(all_chairs)
            || *version != i64::try_from(sizes.messages_per_booking).unwrap()
            || turns != i64::try_from(sizes.replies()).unwrap()
        {
            let missing: Vec<usize> = (1..=sizes.replies())
                .filter(|k| chairs & u64::from(driver::chairs(*k)) == 0)
                .collect();
            lost.push(format!(
                "{event} (booking {b}): {chairs} chairs of {all_chairs} (replies missing: \
                 {missing:?}), version {version}, {turns} replies received in the audit"
            ));
        }
    }
    assert!(
        lost.is_empty(),
        "{} bookings lost updates, e.g.:\n{}",
        lost.len(),
        lost.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );
    assert!(
        answers.len() == total,
        "{} messages answered of {total}",
        answers.len()
    );

    // ---- Every job sent once in the ledger and received under its key by its client.
    assert_eq!(jobs.len(), sizes.jobs(), "jobs scheduled");
    let mut by_status: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (_, status, kind, _, _) in &jobs {
        *by_status.entry((kind, status)).or_default() += 1;
    }
    assert_eq!(
        by_status,
        BTreeMap::from([(("automation", "sent"), sizes.jobs())]),
        "jobs by kind and status"
    );
    let keys: HashSet<&str> = jobs.iter().map(|j| j.0.as_str()).collect();
    assert_eq!(keys.len(), sizes.jobs(), "distinct delivery keys");
    let strays: Vec<&str> = by_key
        .keys()
        .filter(|k| !keys.contains(*k))
        .copied()
        .collect();
    assert!(
        strays.is_empty(),
        "the sink received {} messages no job was scheduled for, e.g. {:?}",
        strays.len(),
        &strays[..strays.len().min(10)]
    );
    for (key, _, _, client, attempts) in &jobs {
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
        // Only the attempt a killed process made before its batch was recorded may have gone out
        // before the one that counted.
        assert!(
            *attempts > 1,
            "job {key} went out {} times in one attempt: {:?}",
            got.len(),
            got.iter().map(|d| &d.helo).collect::<Vec<_>>()
        );
        let survivors = got
            .iter()
            .filter(|d| !killed.contains(d.helo.as_str()))
            .count();
        let mut senders: Vec<&str> = got.iter().map(|d| d.helo.as_str()).collect();
        senders.sort_unstable();
        senders.dedup();
        assert!(
            survivors <= 1 && senders.len() == got.len(),
            "job {key} went out {} times, from {:?} (killed: {killed:?})",
            got.len(),
            got.iter().map(|d| &d.helo).collect::<Vec<_>>()
        );
    }
    for (helo, n) in &resent_by {
        assert!(
            *n <= DISPATCH_BATCH,
            "{n} jobs sent by the killed {helo} went out again: more than one dispatch batch"
        );
    }
    assert!(
        reclaimed <= kills.len() * DISPATCH_BATCH,
        "{reclaimed} jobs took more than one attempt; {} kills can leave at most {} held",
        kills.len(),
        kills.len() * DISPATCH_BATCH
    );
}
