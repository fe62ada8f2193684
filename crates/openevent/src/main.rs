//! The `openevent` binary: the imperative edge. Errors become a message on stderr and a non-zero
//! exit code; nothing here decides workflow.

mod cli;

use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use clap::Parser;
use jiff::Timestamp;
use openevent_core::ids::{ClientEmail, EventId, OrgSlug};
use openevent_mail::{MAX_MESSAGE_BYTES, MailError, parse_message};
use openevent_service::{Clock, Engine, EngineConfig, ManualClock, SystemClock};
use openevent_store::{SqlStore, Store};
use serde::Serialize;

use crate::cli::{Cli, ClientCommand, Command, EventCommand};

/// sysexits' EX_DATAERR: the input was refused, nothing was stored.
const EXIT_BAD_INPUT: u8 = 65;

/// An error the user caused with their input, as opposed to one of the machine.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct BadInput(String);

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("OPENEVENT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.downcast_ref::<BadInput>().is_some() {
                ExitCode::from(EXIT_BAD_INPUT)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn clock(now: Option<&str>) -> Result<Arc<dyn Clock>> {
    Ok(match now {
        Some(raw) => {
            let at: Timestamp = raw.parse().map_err(|e| {
                BadInput(format!(
                    "--now / OPENEVENT_NOW '{raw}' is not RFC 3339: {e}"
                ))
            })?;
            Arc::new(ManualClock::new(at))
        }
        None => Arc::new(SystemClock),
    })
}

fn print_json<T: Serialize>(value: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn bad(e: impl std::fmt::Display) -> anyhow::Error {
    BadInput(e.to_string()).into()
}

/// Reads at most one byte past the limit so that an oversized message is refused without
/// loading all of it.
fn read_message(input: &std::path::Path) -> Result<Vec<u8>> {
    let limit = MAX_MESSAGE_BYTES as u64 + 1;
    let mut buf = Vec::new();
    if input.as_os_str() == "-" {
        std::io::stdin()
            .lock()
            .take(limit)
            .read_to_end(&mut buf)
            .context("reading standard input")?;
    } else {
        let file = std::fs::File::open(input)
            .map_err(|e| bad(format!("cannot read {}: {e}", input.display())))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        if size > MAX_MESSAGE_BYTES as u64 {
            return Err(bad(MailError::TooLarge {
                size: usize::try_from(size).unwrap_or(usize::MAX),
                limit: MAX_MESSAGE_BYTES,
            }));
        }
        file.take(limit)
            .read_to_end(&mut buf)
            .with_context(|| format!("reading {}", input.display()))?;
    }
    Ok(buf)
}

async fn run(cli: Cli) -> Result<()> {
    let org = OrgSlug::parse(&cli.global.org).map_err(bad)?;
    let clock = clock(cli.global.now.as_deref())?;
    // Input is read and validated before the database is opened, so bad input never creates or
    // touches a database.
    let raw = match &cli.command {
        Command::Ingest { input } => {
            let raw = read_message(input)?;
            let message = parse_message(&raw).map_err(bad)?;
            Some((raw, message))
        }
        _ => None,
    };
    let store = SqlStore::open(&cli.global.db).await?;
    let engine = Engine::new(store, clock, EngineConfig::default());
    let outcome = dispatch(&engine, &org, cli.command, raw).await;
    engine.store().close().await;
    outcome
}

async fn dispatch(
    engine: &Engine<SqlStore, Arc<dyn Clock>>,
    org: &OrgSlug,
    command: Command,
    raw: Option<(Vec<u8>, openevent_core::message::InboundMessage)>,
) -> Result<()> {
    match command {
        Command::Migrate => {
            #[derive(Serialize)]
            struct Migrated {
                schema_version: i64,
                latest_known: i64,
            }
            print_json(&Migrated {
                schema_version: engine.store().schema_version().await?,
                latest_known: SqlStore::known_schema_version(),
            })
        }
        Command::Ingest { .. } => {
            let (raw, message) = raw.ok_or_else(|| anyhow!("message was not read"))?;
            let report = engine.ingest(org, &message, &raw).await?;
            print_json(&report)
        }
        Command::Event {
            command: EventCommand::Show { event_id },
        } => {
            let id = EventId::parse(&event_id).map_err(bad)?;
            let view = engine
                .event_view(org, &id)
                .await?
                .ok_or_else(|| bad(format!("no event {id} in organization {org}")))?;
            print_json(&view)
        }
        Command::Client {
            command: ClientCommand::Context { email },
        } => {
            let email = ClientEmail::parse(&email).map_err(bad)?;
            let context = engine
                .client_context(org, &email)
                .await?
                .ok_or_else(|| bad(format!("no client {email} in organization {org}")))?;
            print_json(&context)
        }
    }
}
