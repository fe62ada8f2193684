//! `openevent bench ingest`: realistic synthetic conversations, generated deterministically from a
//! seed, through the full path (parse → understand → workflow → commit, one durable transaction
//! each). Reports throughput, latency percentiles and peak memory; `--preload N` fills the
//! database first so the figures can be compared as it grows.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use jiff::{SignedDuration, Timestamp};
use openevent_core::ids::OrgSlug;
use openevent_core::venue::Venue;
use openevent_service::{Engine, EngineConfig, ManualClock};
use openevent_store::{SqlStore, Store};
use serde::Serialize;

/// A small deterministic generator (xorshift64*): the same seed gives the same conversations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const FIRST: [&str; 8] = [
    "Laura", "Marco", "Anna", "Jonas", "Sophie", "Lukas", "Eva", "Tom",
];
const LAST: [&str; 8] = [
    "Meier", "Rossi", "Keller", "Weber", "Martin", "Brunner", "Schmid", "Fischer",
];
const KINDS_EN: [&str; 5] = [
    "workshop",
    "team dinner",
    "seminar",
    "product launch",
    "board meeting",
];
const KINDS_DE: [&str; 5] = [
    "Workshop",
    "Teamessen",
    "Seminar",
    "Firmenanlass",
    "Verwaltungsratssitzung",
];

struct Conversation {
    from: String,
    last_id: String,
    german: bool,
    turns: u32,
}

/// The generator of the message stream.
struct Stream {
    rng: Rng,
    conversations: Vec<Conversation>,
    sent: u64,
    base_day: jiff::civil::Date,
    /// Keeps the preload's clients and message ids apart from the measured ones.
    tag: String,
}

impl Stream {
    fn new(seed: u64, tag: impl Into<String>) -> Self {
        Self {
            rng: Rng(seed.max(1)),
            conversations: Vec::new(),
            sent: 0,
            base_day: jiff::civil::date(2027, 1, 4),
            tag: tag.into(),
        }
    }

    fn date(&mut self) -> String {
        let d = self
            .base_day
            .checked_add(jiff::Span::new().days(self.rng.below(540) as i64))
            .unwrap_or(self.base_day);
        d.strftime("%d.%m.%Y").to_string()
    }

    fn inquiry(&mut self) -> (String, String) {
        let n = self.conversations.len();
        let german = self.rng.below(3) == 0;
        let first = *self.rng.pick(&FIRST);
        let last = *self.rng.pick(&LAST);
        let from = format!(
            "{first} {last} <{}.{}{n}@{}.bench-client.example>",
            first.to_lowercase(),
            last.to_lowercase(),
            self.tag
        );
        let date = self.date();
        let people = 10 + self.rng.below(90);
        let start = 8 + self.rng.below(8);
        let end = start + 3 + self.rng.below(5);
        let room = (b'A' + self.rng.below(6) as u8) as char;
        let named_room = self.rng.below(2) == 0;
        let body = if german {
            let kind = *self.rng.pick(&KINDS_DE);
            let raum = if named_room {
                format!("Raum {room} ")
            } else {
                "einen Raum ".into()
            };
            format!(
                "Guten Tag\n\nWir möchten {raum}für unseren {kind} am {date} von {start}:00 bis {end}:00 Uhr für {people} Personen reservieren.\nKönnen Sie uns eine Offerte senden?\n\nFreundliche Grüsse\n{first} {last}\n"
            )
        } else {
            let kind = *self.rng.pick(&KINDS_EN);
            let which = if named_room {
                format!("Room {room}")
            } else {
                "a room".into()
            };
            format!(
                "Hello,\n\nwe would like to book {which} for our {kind} on {date} from {start}:00 to {end}:00 for {people} people.\nCould you send us an offer?\n\nBest regards\n{first} {last}\n"
            )
        };
        self.conversations.push(Conversation {
            from: from.clone(),
            last_id: String::new(),
            german,
            turns: 0,
        });
        (from, body)
    }

    fn reply(&mut self, c: usize) -> (String, String) {
        let german = self.conversations[c].german;
        let body = match (self.rng.below(6), german) {
            (0, false) => "Thank you. Is there parking available for our guests?".to_owned(),
            (0, true) => "Vielen Dank. Gibt es Parkplätze für unsere Gäste?".to_owned(),
            (1, false) => format!("Could we move the event to {} instead? Same time.", self.date()),
            (1, true) => format!("Können wir den Anlass auf den {} verschieben? Gleiche Zeit.", self.date()),
            (2, false) => "Could you add a projector and 2 flipcharts please?".to_owned(),
            (2, true) => "Können Sie bitte einen Beamer und 2 Flipcharts ergänzen?".to_owned(),
            (3, false) => "The price is above our budget, could you offer a discount?".to_owned(),
            (3, true) => "Der Preis liegt über unserem Budget, können Sie uns einen Rabatt geben?".to_owned(),
            (4, false) => "We accept the offer. Billing address: Helvetia Labs, Bahnhofstrasse 1, 8001 Zürich, Switzerland".to_owned(),
            (4, true) => "Wir sind einverstanden. Rechnungsadresse: Brunner Finanz AG, Seestrasse 12, 8002 Zürich, Schweiz".to_owned(),
            (_, false) => "Thanks, we will be 10 people more than planned.".to_owned(),
            (_, true) => "Danke, wir werden 10 Personen mehr sein als geplant.".to_owned(),
        };
        (self.conversations[c].from.clone(), body)
    }

    /// The next raw message: mostly new inquiries, some replies in open conversations.
    fn next_raw(&mut self) -> Vec<u8> {
        self.sent += 1;
        let reply_to = (!self.conversations.is_empty() && self.rng.below(10) < 4)
            .then(|| self.rng.below(self.conversations.len() as u64) as usize)
            .filter(|c| self.conversations[*c].turns < 6);
        let id = format!("{}-{}@bench-client.example", self.tag, self.sent);
        let (from, body, parent) = match reply_to {
            Some(c) => {
                let (from, body) = self.reply(c);
                let parent = self.conversations[c].last_id.clone();
                self.conversations[c].turns += 1;
                self.conversations[c].last_id = id.clone();
                (from, body, Some(parent))
            }
            None => {
                let (from, body) = self.inquiry();
                if let Some(c) = self.conversations.last_mut() {
                    c.last_id = id.clone();
                }
                (from, body, None)
            }
        };
        let mut raw = format!(
            "From: {from}\r\nTo: events@atelier.example\r\nSubject: Event inquiry\r\nMessage-ID: <{id}>\r\nContent-Type: text/plain; charset=utf-8\r\n"
        );
        if let Some(p) = parent {
            raw.push_str(&format!("In-Reply-To: <{p}>\r\nReferences: <{p}>\r\n"));
        }
        raw.push_str("\r\n");
        raw.push_str(&body.replace('\n', "\r\n"));
        raw.into_bytes()
    }
}

#[derive(Debug, Serialize)]
pub struct IngestBench {
    pub backend: String,
    pub concurrency: u64,
    pub preloaded: u64,
    pub messages: u64,
    pub seconds: f64,
    pub messages_per_second: f64,
    pub p50_us: u64,
    pub p95_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    pub peak_rss_mb: f64,
    pub events_in_db: i64,
}

pub(crate) fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|kb| kb.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn percentile(sorted: &[Duration], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx].as_micros() as u64
}

pub async fn ingest(
    db: Option<&str>,
    preload: u64,
    messages: u64,
    seed: u64,
    concurrency: u64,
    venue: Venue,
) -> Result<(IngestBench, String)> {
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let url = match db {
        Some(u) => u.to_owned(),
        None => format!("sqlite://{}", dir.path().join("bench.db").display()),
    };
    let store = SqlStore::open(&url).await?;
    let clock = Arc::new(ManualClock::new(
        "2026-11-23T08:00:00Z".parse::<Timestamp>().expect("valid"),
    ));
    let engine = Engine::new(
        store.clone(),
        clock.clone(),
        EngineConfig {
            venue,
            ..EngineConfig::default()
        },
    );
    let org = OrgSlug::parse("bench").expect("valid slug");
    // The measured stream is the same whatever the preload, so runs compare like with like.
    // Tags carry the seed, so that runs with different seeds on one database (growing it step
    // by step for the size curve) never repeat each other's Message-IDs.
    let mut preload_stream = Stream::new(seed ^ 0x9E37_79B9_7F4A_7C15, format!("pre{seed:x}"));
    let mut log = String::new();
    let started = Instant::now();
    for i in 0..preload {
        engine.ingest_raw(&org, &preload_stream.next_raw()).await?;
        clock.advance(SignedDuration::from_secs(30));
        if preload >= 10 && (i + 1) % (preload / 10) == 0 {
            eprintln!(
                "preloaded {} of {preload} messages ({:.0} s)",
                i + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    // Each lane is its own conversation stream (its own clients); one lane is the sequential
    // stream the single-process figures were always taken with.
    let engine = Arc::new(engine);
    let t0 = Instant::now();
    let mut lanes = tokio::task::JoinSet::new();
    for lane in 0..concurrency {
        let share = messages / concurrency + u64::from(lane < messages % concurrency);
        let (engine, clock, org) = (Arc::clone(&engine), Arc::clone(&clock), org.clone());
        let tag = format!("run{seed:x}-{lane}");
        let mut stream = Stream::new(seed.wrapping_add(lane), tag);
        lanes.spawn(async move {
            let mut latencies = Vec::with_capacity(share as usize);
            for _ in 0..share {
                let raw = stream.next_raw();
                let t = Instant::now();
                engine.ingest_raw(&org, &raw).await?;
                latencies.push(t.elapsed());
                clock.advance(SignedDuration::from_secs(30));
            }
            anyhow::Ok(latencies)
        });
    }
    let mut latencies = Vec::with_capacity(messages as usize);
    while let Some(lane) = lanes.join_next().await {
        latencies.extend(lane.context("a bench lane panicked")??);
    }
    let elapsed = t0.elapsed();
    latencies.sort();
    let counts = store.table_counts().await?;
    store.close().await;
    let result = IngestBench {
        backend: format!("{:?}", store.backend()).to_lowercase(),
        concurrency,
        preloaded: preload,
        messages,
        seconds: elapsed.as_secs_f64(),
        messages_per_second: messages as f64 / elapsed.as_secs_f64().max(1e-9),
        p50_us: percentile(&latencies, 0.50),
        p95_us: percentile(&latencies, 0.95),
        p99_us: percentile(&latencies, 0.99),
        max_us: latencies.last().map_or(0, |d| d.as_micros() as u64),
        peak_rss_mb: peak_rss_mb(),
        events_in_db: counts["events"],
    };
    let _ = writeln!(
        log,
        "ingest ({}, {} at once): {} messages after {} preloaded ({} events in the database): {:.0} msg/s, p50 {} µs, p95 {} µs, p99 {} µs, max {} µs, peak RSS {:.1} MB",
        result.backend,
        result.concurrency,
        result.messages,
        result.preloaded,
        result.events_in_db,
        result.messages_per_second,
        result.p50_us,
        result.p95_us,
        result.p99_us,
        result.max_us,
        result.peak_rss_mb
    );
    Ok((result, log))
}
