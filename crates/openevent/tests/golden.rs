//! Golden conversations: every scenario file (messages in, expected actions and fields out) runs
//! on a fresh database through the real engine; each expectation must hold.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use openevent_core::ids::OrgSlug;
use openevent_core::venue::Venue;
use openevent_service::scenario::Scenario;
use openevent_service::{Engine, EngineConfig, ManualClock};
use openevent_store::testing::TestDb;

fn scenario_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["scenarios", "tests/golden"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

openevent_store::backend_tests!(golden_conversations);

async fn golden_conversations(db: TestDb) {
    let files = scenario_files();
    let mut failures = Vec::new();
    for (n, path) in files.iter().enumerate() {
        let text = std::fs::read_to_string(path).unwrap();
        let scenario = match Scenario::from_toml(&text) {
            Ok(s) => s,
            Err(e) => {
                failures.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        // Each conversation on an empty database of the backend under test.
        let db = TestDb::of(db.backend()).unwrap();
        let store = db.open().await;
        let clock = Arc::new(ManualClock::new("2026-11-23T08:00:00Z".parse().unwrap()));
        let mut spec = Venue::atelier().spec().clone();
        spec.deposit.enabled = scenario.deposit;
        let engine = Engine::new(
            store,
            clock.clone(),
            EngineConfig {
                venue: Venue::from_spec(spec).unwrap(),
                ..EngineConfig::default()
            },
        );
        let org = OrgSlug::parse("golden").unwrap();
        match engine.run_scenario(&org, &scenario, &clock, n + 1).await {
            Ok(run) => failures.extend(
                run.mismatches
                    .into_iter()
                    .map(|m| format!("{}: {m}", path.file_name().unwrap().to_string_lossy())),
            ),
            Err(e) => failures.push(format!("{}: {e}", path.display())),
        }
    }
    assert!(
        files.len() >= 8,
        "expected the scenario files, found {}",
        files.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} golden conversations failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}
