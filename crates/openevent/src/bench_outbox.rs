//! `openevent bench outbox`: the dispatcher against a no-op channel, with a large backlog of
//! future jobs pending. Two phases on one database:
//! 1. burst — `due` jobs all due at once: jobs dispatched per second (claim, decide, render,
//!    send, record; outcomes recorded one transaction per batch);
//! 2. steady — jobs falling due at `rate` per second for `seconds`, the dispatcher sleeping until
//!    the next due time as `serve` does: due-lag (due time → handed to the channel) percentiles.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use jiff::{SignedDuration, Timestamp};
use openevent_automation::job::Job;
use openevent_automation::lifecycle::{self, Cause, Change, Setup};
use openevent_automation::retry::RetryPolicy;
use openevent_automation::{Trigger, TriggerEvent, Workflow};
use openevent_channels::{Channel, DeliveryResult, DynChannel, OutboundMessage};
use openevent_core::event::Event;
use openevent_core::ids::{ClientEmail, EventId, OrgSlug};
use openevent_core::venue::Venue;
use openevent_service::{Channels, Engine, EngineConfig, SystemClock};
use openevent_store::{AutomationChanges, SqlStore, Store};
use serde::Serialize;

/// Bookings the jobs are spread over.
const BOOKINGS: u64 = 1000;
/// Jobs per insert transaction while filling.
const FILL_BATCH: u64 = 5000;
/// Jobs claimed per dispatcher pass.
const PASS: u32 = 1000;

const WORKFLOW: &str = r#"
key = "bench-reminder"
name = "Bench reminder"
version = 1
scope = "all_bookings"

[[steps]]
key = "remind"
trigger = "lead_created"
channel = "email"
recipients = { audience = ["client"] }
timing = { offset = { minutes = 0 }, if_past = "send_now" }

[steps.template]
subject = "Your booking at {{ venue.name }}"
body = "Dear {{ client.name }}, a reminder about your booking {{ booking.id }}."
"#;

#[derive(Debug, Serialize)]
pub struct OutboxBench {
    pub future_pending: u64,
    pub burst_jobs: u64,
    pub burst_seconds: f64,
    pub burst_jobs_per_second: f64,
    pub steady_jobs: u64,
    pub steady_rate_per_second: u64,
    pub lag_p50_ms: f64,
    pub lag_p99_ms: f64,
    pub lag_max_ms: f64,
    pub fill_seconds: f64,
    pub peak_rss_mb: f64,
}

/// A channel that accepts everything and notes when each delivery reached it.
#[derive(Default)]
struct TimingChannel {
    seen: Mutex<Vec<(String, Timestamp)>>,
}

impl Channel for TimingChannel {
    fn name(&self) -> &'static str {
        "timing"
    }

    async fn send(&self, msg: &OutboundMessage) -> DeliveryResult {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((msg.delivery_key.clone(), Timestamp::now()));
        DeliveryResult::Sent { provider_id: None }
    }
}

/// One booking's record and the job its workflow schedules, to copy from.
struct Template {
    records: Vec<(EventId, lifecycle::Record)>,
    job: Job,
}

fn template(org: &OrgSlug, venue: &Venue, now: Timestamp) -> Result<Template> {
    let wf = Workflow::from_toml(WORKFLOW).context("the bench workflow")?;
    let settings = openevent_service::automation::default_settings(venue);
    let mut records = Vec::new();
    for i in 0..BOOKINGS {
        let event = Event::new_lead(
            EventId::parse(&format!("EVT-BENCH-{i:05}"))?,
            ClientEmail::parse(&format!("client{i}@bench.example"))?,
            now,
        );
        let obs = lifecycle::observe(&Change {
            previous: None,
            before: None,
            after: &event,
            venue,
            client_name: Some("Bench Client"),
            client_phone: None,
            event_type: None,
            cause: Cause::Staff,
        });
        records.push((event.event_id.clone(), obs.record));
    }
    let (_, first) = &records[0];
    let plan = lifecycle::plan(
        &Setup {
            org,
            settings: &settings,
            workflows: std::slice::from_ref(&wf),
            assigned: None,
            retry: &RetryPolicy::default(),
        },
        &first.snapshot,
        &[],
        &[TriggerEvent {
            trigger: Trigger::LeadCreated,
            at: now,
            appointment: None,
        }],
        now,
    );
    let job = plan
        .inserted
        .into_iter()
        .next()
        .context("the bench workflow schedules a job")?;
    Ok(Template { records, job })
}

/// Inserts `n` copies of the template job, the `i`-th due at `due(i)`; numbering starts at
/// `first` so that every delivery key is new.
async fn fill(
    store: &SqlStore,
    org: &OrgSlug,
    t: &Template,
    first: u64,
    n: u64,
    now: Timestamp,
    due: impl Fn(u64) -> Timestamp,
) -> Result<Vec<(String, Timestamp)>> {
    let mut keys = Vec::with_capacity(n as usize);
    let mut start = 0;
    while start < n {
        let end = (start + FILL_BATCH).min(n);
        // One booking per batch keeps each transaction to one record upsert.
        let (event_id, record) = &t.records[((first + start) / FILL_BATCH % BOOKINGS) as usize];
        let mut jobs = Vec::with_capacity((end - start) as usize);
        for i in start..end {
            let mut job = t.job.clone();
            job.event_id = event_id.clone();
            // Delivery keys see the trigger time to the millisecond.
            job.trigger_at = t.job.trigger_at + SignedDuration::from_millis((first + i) as i64);
            job.delivery_key = job.key_for(job.anchor.version);
            job.id = Job::new_id(&job.delivery_key);
            job.due_at = due(i);
            keys.push((job.delivery_key.as_str().to_owned(), job.due_at));
            jobs.push(job);
        }
        store
            .commit_automation(
                org,
                &AutomationChanges {
                    event_id: event_id.clone(),
                    record: record.clone(),
                    inserted: jobs,
                    updated: Vec::new(),
                },
                &[],
                now,
            )
            .await?;
        start = end;
    }
    Ok(keys)
}

fn percentile_ms(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

pub async fn outbox(
    db: Option<&str>,
    future: u64,
    due: u64,
    rate: u64,
    seconds: u64,
    venue: Venue,
) -> Result<(OutboxBench, String)> {
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let url = match db {
        Some(u) => u.to_owned(),
        None => format!("sqlite://{}", dir.path().join("bench-outbox.db").display()),
    };
    let store = SqlStore::open(&url).await?;
    let org = OrgSlug::parse("bench").expect("valid slug");
    let now = Timestamp::now();
    let t = template(&org, &venue, now)?;
    let engine = Engine::new(
        store.clone(),
        SystemClock,
        EngineConfig {
            venue,
            ..EngineConfig::default()
        },
    );
    // The workflow is stored like an installed one: the dispatcher checks it is still enabled.
    let wf = Workflow::from_toml(WORKFLOW).context("the bench workflow")?;
    store.save_workflow(&org, &wf, now).await?;
    let filled = Instant::now();
    let month = SignedDuration::from_hours(24 * 30);
    fill(&store, &org, &t, 0, future, now, |i| {
        now + month + SignedDuration::from_secs(i as i64)
    })
    .await?;
    fill(&store, &org, &t, future, due, now, |_| {
        now - SignedDuration::from_secs(1)
    })
    .await?;
    let fill_seconds = filled.elapsed().as_secs_f64();
    eprintln!("filled {future} future and {due} due jobs in {fill_seconds:.1} s");

    let channel = TimingChannel::default();
    let channels = Channels {
        email: Some(&channel as &dyn DynChannel),
        ..Channels::default()
    };
    let policy = RetryPolicy::default();
    let burst = Instant::now();
    let mut sent = 0u64;
    let mut other = openevent_service::DispatchReport::default();
    loop {
        let r = engine.run_due(&channels, &policy, PASS).await?;
        let done = r.executed + r.failed + r.dead + r.not_sent + r.deferred + r.skipped;
        sent += u64::from(r.executed);
        other.failed += r.failed;
        other.dead += r.dead;
        other.not_sent += r.not_sent;
        other.deferred += r.deferred;
        other.skipped += r.skipped;
        if done == 0 {
            break;
        }
    }
    let burst_seconds = burst.elapsed().as_secs_f64();
    if sent != due {
        anyhow::bail!("the burst sent {sent} of {due} due jobs; the others: {other:?}");
    }
    channel
        .seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clear();

    // Steady: jobs fall due at `rate` per second, starting two seconds from now.
    let steady = rate * seconds;
    let start = Timestamp::now() + SignedDuration::from_secs(2);
    let step_us = 1_000_000 / rate.max(1);
    let keys = fill(&store, &org, &t, future + due, steady, now, |i| {
        start + SignedDuration::from_micros((i * step_us) as i64)
    })
    .await?;
    let until = Instant::now() + Duration::from_secs(seconds + 10);
    let mut delivered = 0u64;
    while delivered < steady && Instant::now() < until {
        let r = engine.run_due(&channels, &policy, PASS).await?;
        delivered += u64::from(r.executed);
        if r.executed == 0 {
            // As `serve` does: sleep until the next job is due (never past it).
            let next = store.next_due().await?;
            let wait = next
                .map(|t| t.duration_since(Timestamp::now()))
                .and_then(|d| Duration::try_from(d).ok())
                .unwrap_or(Duration::from_millis(50))
                .min(Duration::from_millis(50));
            tokio::time::sleep(wait).await;
        }
    }
    let due_at: std::collections::HashMap<&str, Timestamp> =
        keys.iter().map(|(k, t)| (k.as_str(), *t)).collect();
    let mut lags: Vec<f64> = channel
        .seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .filter_map(|(k, at)| {
            due_at
                .get(k.as_str())
                .map(|due| at.duration_since(*due).as_secs_f64() * 1000.0)
        })
        .collect();
    lags.sort_by(f64::total_cmp);
    store.close().await;
    if lags.len() as u64 != steady {
        anyhow::bail!("the steady phase delivered {} of {steady} jobs", lags.len());
    }
    let result = OutboxBench {
        future_pending: future,
        burst_jobs: due,
        burst_seconds,
        burst_jobs_per_second: due as f64 / burst_seconds.max(1e-9),
        steady_jobs: steady,
        steady_rate_per_second: rate,
        lag_p50_ms: percentile_ms(&lags, 0.50),
        lag_p99_ms: percentile_ms(&lags, 0.99),
        lag_max_ms: lags.last().copied().unwrap_or(0.0),
        fill_seconds,
        peak_rss_mb: crate::bench::peak_rss_mb(),
    };
    let log = format!(
        "outbox: {} future jobs pending; burst of {} due jobs in {:.2} s = {:.0} jobs/s; steady {} jobs/s for {} s: due-lag p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; peak RSS {:.1} MB\n",
        result.future_pending,
        result.burst_jobs,
        result.burst_seconds,
        result.burst_jobs_per_second,
        result.steady_rate_per_second,
        seconds,
        result.lag_p50_ms,
        result.lag_p99_ms,
        result.lag_max_ms,
        result.peak_rss_mb,
    );
    Ok((result, log))
}
