//! `openevent export` / `openevent import`: one organization's data as JSON lines, to move it
//! between databases (SQLite ⇄ PostgreSQL). See `openevent_store`'s `transfer.rs` for the format.
//!
//! Moving an organization is a stop-the-world step for it: while the source still runs, it keeps
//! processing mail and sending outbox jobs that the target, once serving, would send again.

use std::io::{BufRead, BufReader};
use std::path::Path;

use anyhow::{Context, Result};
use openevent_core::ids::OrgSlug;
use openevent_store::{SqlStore, StoreError};

use crate::{bad, print_json};

/// Refusals caused by the input (exit status 65) as opposed to failures of the machine.
fn store_error(e: StoreError) -> anyhow::Error {
    match e {
        StoreError::Import { .. } | StoreError::OrgExists { .. } | StoreError::NotFound(_) => {
            bad(e)
        }
        other => other.into(),
    }
}

/// Writes the organization's export to `out` (standard output without one). A file is written
/// under a temporary name next to it and renamed once complete, so a failed export leaves no
/// partial file that could be imported as if it were whole.
pub async fn export(store: &SqlStore, org: &OrgSlug, out: Option<&Path>) -> Result<()> {
    let report = match out {
        None => store
            .export_org(org, Box::new(std::io::stdout()))
            .await
            .map_err(store_error)?,
        Some(path) => {
            let dir = path
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            // Created readable by the owner only: the export holds every message of the
            // organization.
            let temp = tempfile::Builder::new()
                .prefix(".openevent-export-")
                .suffix(".part")
                .tempfile_in(dir)
                .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
            let file = temp
                .reopen()
                .with_context(|| format!("opening {}", temp.path().display()))?;
            let report = store
                .export_org(org, Box::new(file))
                .await
                .map_err(store_error)?;
            // On disk before it takes the final name: a crash must not leave a short file
            // under it.
            temp.as_file()
                .sync_all()
                .with_context(|| format!("writing {}", temp.path().display()))?;
            temp.persist(path)
                .map_err(|e| e.error)
                .with_context(|| format!("writing {}", path.display()))?;
            report
        }
    };
    let tables = report
        .rows
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(table, n)| format!("{table} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let target = out.map_or_else(|| "standard output".to_owned(), |p| p.display().to_string());
    eprintln!(
        "exported organization {} (schema version {}) to {target}: {} rows ({tables})",
        report.org,
        report.schema_version,
        report.total()
    );
    Ok(())
}

/// Imports an export (`-`: standard input) in one transaction and prints what it wrote.
pub async fn import(store: &SqlStore, input: &Path) -> Result<()> {
    let (reader, name): (Box<dyn BufRead + Send>, String) = if input.as_os_str() == "-" {
        (
            Box::new(BufReader::new(std::io::stdin())),
            "standard input".into(),
        )
    } else {
        let file = std::fs::File::open(input)
            .map_err(|e| bad(format!("cannot read {}: {e}", input.display())))?;
        (
            Box::new(BufReader::with_capacity(1 << 16, file)),
            input.display().to_string(),
        )
    };
    let report = store.import_org(reader).await.map_err(|e| match e {
        StoreError::Import { .. } => bad(format!("{name}: {e}")),
        other => store_error(other),
    })?;
    print_json(&report)
}
