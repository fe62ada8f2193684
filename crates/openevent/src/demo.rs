//! `openevent demo`: the scripted conversations in `scenarios/` run end to end through the real
//! engine on a temporary SQLite database, a manager approving drafts, and print a timeline.
//! Every expectation in the scripts is checked: a demo that stopped behaving fails loudly.

use std::fmt::Write as _;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use jiff::Timestamp;
use openevent_core::ids::OrgSlug;
use openevent_core::venue::Venue;
use openevent_service::scenario::Scenario;
use openevent_service::{Engine, EngineConfig, ManualClock};
use openevent_store::{SqlStore, Store};

pub const SCENARIOS: [(&str, &str); 8] = [
    (
        "01_happy_path_shortcut",
        include_str!("../scenarios/01_happy_path_shortcut.toml"),
    ),
    (
        "02_no_date_options",
        include_str!("../scenarios/02_no_date_options.toml"),
    ),
    (
        "03_room_conflict",
        include_str!("../scenarios/03_room_conflict.toml"),
    ),
    (
        "04_product_change",
        include_str!("../scenarios/04_product_change.toml"),
    ),
    (
        "05_four_counters",
        include_str!("../scenarios/05_four_counters.toml"),
    ),
    ("06_deposit", include_str!("../scenarios/06_deposit.toml")),
    (
        "07_date_change_detour",
        include_str!("../scenarios/07_date_change_detour.toml"),
    ),
    (
        "08_cancellation",
        include_str!("../scenarios/08_cancellation.toml"),
    ),
];

/// The venue a scenario runs with: the given one, with the deposit policy switched on if asked.
pub fn scenario_venue(venue: &Venue, deposit: bool) -> Result<Venue> {
    if !deposit {
        return Ok(venue.clone());
    }
    let mut spec = venue.spec().clone();
    spec.deposit.enabled = true;
    Venue::from_spec(spec).map_err(|e| anyhow!("venue with deposit: {e}"))
}

/// Runs the scripted conversations and returns the printed timeline.
pub async fn run(now: Timestamp, venue: Venue) -> Result<String> {
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let url = format!("sqlite://{}", dir.path().join("demo.db").display());
    let store = SqlStore::open(&url).await?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "openevent demo — {} scripted conversations at {} (temporary database, clock starts {now})",
        SCENARIOS.len(),
        venue.name()
    );
    let mut mismatches = Vec::new();
    for (n, (name, text)) in SCENARIOS.iter().enumerate() {
        let scenario = Scenario::from_toml(text).with_context(|| format!("scenario {name}"))?;
        // Each conversation is its own organization, so calendars do not mix across scripts.
        let org = OrgSlug::parse(&format!("demo-{}", n + 1)).expect("valid slug");
        let clock = Arc::new(ManualClock::new(now));
        let engine = Engine::new(
            store.clone(),
            clock.clone(),
            EngineConfig {
                venue: scenario_venue(&venue, scenario.deposit)?,
                ..EngineConfig::default()
            },
        );
        let run = engine
            .run_scenario(&org, &scenario, &clock, n + 1)
            .await
            .with_context(|| format!("scenario {name}"))?;
        out.push_str(&run.timeline);
        mismatches.extend(run.mismatches.into_iter().map(|m| format!("{name}: {m}")));
    }
    let counts = store.table_counts().await?;
    let _ = writeln!(
        out,
        "\nStored: {} bookings, {} messages, {} tasks, {} queued emails, {} audit entries.",
        counts["events"], counts["messages"], counts["tasks"], counts["outbox"], counts["audit"]
    );
    store.close().await;
    if !mismatches.is_empty() {
        eprint!("{out}");
        bail!(
            "the demo did not go as scripted:\n  {}",
            mismatches.join("\n  ")
        );
    }
    Ok(out)
}
