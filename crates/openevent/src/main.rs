//! The `openevent` binary: the imperative edge. Errors become a message on stderr and a non-zero
//! exit code; nothing here decides workflow.

mod bench;
mod bench_http;
mod bench_outbox;
mod cli;
mod config;
mod demo;
mod serve;
mod transfer_cli;
mod workflow_cli;

use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use clap::{ArgMatches, CommandFactory, FromArgMatches};
use jiff::Timestamp;
use openevent_core::effects::TaskStatus;
use openevent_core::ids::{ClientEmail, EventId, OrgSlug, TaskId};
use openevent_core::understanding::Language;
use openevent_core::venue::Venue;
use openevent_core::workflow::{Decision, Templates};
use openevent_mail::{MAX_MESSAGE_BYTES, MailError, parse_message};
use openevent_service::{
    Clock, DecisionError, Engine, EngineConfig, ManualClock, PaymentError, SystemClock,
};
use openevent_store::{SqlStore, Store, StoreOptions, TaskFilter};
use serde::Serialize;

use crate::cli::{
    BenchCommand, Cli, ClientCommand, Command, EventCommand, OutboxCommand, TasksCommand,
    TokenCommand, VenueCommand,
};
use crate::config::EnvVars;

/// sysexits' EX_DATAERR: the input was refused, nothing was stored.
const EXIT_BAD_INPUT: u8 = 65;

/// An error the user caused with their input, as opposed to one of the machine.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct BadInput(String);

fn main() -> ExitCode {
    let matches = Cli::command()
        .try_get_matches()
        .unwrap_or_else(|e| usage_error(e));
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| usage_error(e));
    let filter = tracing_subscriber::EnvFilter::try_from_env("OPENEVENT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    match cli.global.log_format {
        cli::LogFormat::Text => logs.init(),
        cli::LogFormat::Json => logs.json().with_current_span(true).init(),
    }
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
    match runtime.block_on(run(cli, &matches)) {
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

/// Prints clap's message (help and version included) and exits with its code; a refused value
/// that came from an environment variable is traced back to it.
fn usage_error(e: clap::Error) -> ! {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let _ = e.print();
    if matches!(
        e.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) && let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg)
        && let Some(long) = arg
            .split_whitespace()
            .next()
            .and_then(|a| a.strip_prefix("--"))
        && let Some(var) = env_of_long(&Cli::command(), long)
        && std::env::var_os(&var).is_some()
        && !std::env::args_os().any(|a| {
            let a = a.to_string_lossy();
            a == format!("--{long}") || a.starts_with(&format!("--{long}="))
        })
    {
        eprintln!("note: the value came from the environment variable {var}");
    }
    std::process::exit(e.exit_code())
}

/// The environment variable of the option `--long` of `cmd` or one of its subcommands.
fn env_of_long(cmd: &clap::Command, long: &str) -> Option<String> {
    cmd.get_arguments()
        .find(|a| a.get_long() == Some(long))
        .and_then(|a| a.get_env())
        .map(|v| v.to_string_lossy().into_owned())
        .or_else(|| cmd.get_subcommands().find_map(|sub| env_of_long(sub, long)))
}

/// The matches of the innermost subcommand (where global options are resolved too).
fn leaf_matches(matches: &ArgMatches) -> &ArgMatches {
    match matches.subcommand() {
        Some((_, sub)) => leaf_matches(sub),
        None => matches,
    }
}

/// `serve --print-config`: every option and configuration key with its value and source.
fn serve_report(matches: &ArgMatches, loaded: &serve::Loaded, env: &EnvVars) -> String {
    let mut cmd = Cli::command();
    cmd.build();
    let mut rows = match (
        cmd.find_subcommand("serve"),
        matches.subcommand_matches("serve"),
    ) {
        (Some(serve_cmd), Some(serve_matches)) => {
            config::option_rows(serve_cmd, serve_matches, &["print_config"])
        }
        _ => Vec::new(),
    };
    rows.extend(loaded.rows(&secret_is_set));
    let header = [
        "openevent serve: the effective configuration (secrets are never shown)".to_owned(),
        "precedence: flag > env > file > default".to_owned(),
        format!(
            "config file: {}",
            loaded
                .layers
                .file()
                .map_or("none".to_owned(), |f| f.display().to_string())
        ),
    ];
    let footer: Vec<String> = unused_vars(&cmd, loaded, env)
        .into_iter()
        .map(|v| format!("not used: {v} (no option or configuration key has this name)"))
        .collect();
    config::render(&header, &rows, &footer)
}

fn secret_is_set(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty())
}

/// The `OPENEVENT_*` variables that are set but read by nothing (a misspelt key, most likely).
fn unused_vars(cmd: &clap::Command, loaded: &serve::Loaded, env: &EnvVars) -> Vec<String> {
    env.unused(&loaded.known_vars(config::clap_env_names(cmd)))
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

/// Writes to standard output; a reader that went away (`| head`) is not an error.
pub(crate) fn print_out(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

pub(crate) fn print_json<T: Serialize>(value: &T) -> Result<()> {
    print_out(&format!("{}\n", serde_json::to_string_pretty(value)?))
}

pub(crate) fn bad(e: impl std::fmt::Display) -> anyhow::Error {
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

const TEMPLATE_LANGUAGES: [(Language, &str); 5] = [
    (Language::En, "en"),
    (Language::De, "de"),
    (Language::Fr, "fr"),
    (Language::It, "it"),
    (Language::Es, "es"),
];

/// Built-in templates with the venue's files from `dir` (`en.txt`, `de.txt`, …) on top; every
/// file is compiled now, so a broken template is refused before any message is processed.
fn load_templates(dir: Option<&std::path::Path>) -> Result<Templates> {
    let Some(dir) = dir else {
        return Ok(Templates::builtin());
    };
    if !dir.is_dir() {
        return Err(bad(format!(
            "--templates {} is not a directory",
            dir.display()
        )));
    }
    let mut files = Vec::new();
    for (lang, code) in TEMPLATE_LANGUAGES {
        let path = dir.join(format!("{code}.txt"));
        if path.exists() {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?;
            files.push((lang, text));
        }
    }
    Templates::with_overrides(&files).map_err(|e| bad(format!("{}: {e}", dir.display())))
}

fn load_venue(path: &std::path::Path) -> Result<Venue> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| bad(format!("cannot read venue file {}: {e}", path.display())))?;
    Venue::from_toml(&text).map_err(|e| bad(format!("{}: {e}", path.display())))
}

/// The database a benchmark runs on: a temporary one unless --db was given on the command line
/// (an OPENEVENT_DB meant for the server must not receive thousands of synthetic bookings).
fn bench_db<'a>(cli: &'a Cli, matches: &ArgMatches) -> Option<&'a str> {
    (leaf_matches(matches).value_source("db") == Some(clap::parser::ValueSource::CommandLine))
        .then_some(cli.global.db.as_str())
}

async fn run(cli: Cli, matches: &ArgMatches) -> Result<()> {
    let org = OrgSlug::parse(&cli.global.org).map_err(bad)?;
    let test_clock = match &cli.command {
        Command::Serve(args) if args.test_clock => {
            let start = clock(cli.global.now.as_deref())?.now();
            Some(Arc::new(ManualClock::new(start)))
        }
        _ => None,
    };
    let clock: Arc<dyn Clock> = match &test_clock {
        Some(manual) => manual.clone(),
        None => clock(cli.global.now.as_deref())?,
    };
    let venue = match &cli.global.venue {
        Some(path) => load_venue(path)?,
        None => Venue::atelier(),
    };
    let templates = load_templates(cli.global.templates.as_deref())?;
    if let Command::Venue { command } = &cli.command {
        return venue_command(command, &venue);
    }
    if let Command::Nlu {
        corpus: Some(dir), ..
    } = &cli.command
    {
        let cases = openevent_nlu::corpus::load_dir(dir).map_err(bad)?;
        return print_out(&format!("{}\n", openevent_nlu::report::evaluate(&cases)));
    }
    if let Command::Nlu { subject, .. } = &cli.command {
        let mut body = String::new();
        std::io::stdin()
            .lock()
            .take(MAX_MESSAGE_BYTES as u64)
            .read_to_string(&mut body)
            .map_err(|e| bad(format!("standard input is not UTF-8 text: {e}")))?;
        let lexicon = openevent_nlu::PreparedLexicon::new(&venue.lexicon());
        let ctx = openevent_nlu::NluContext {
            lexicon: &lexicon,
            time_zone: venue.time_zone(),
            event: None,
        };
        let u = openevent_nlu::understand(subject, &body, &ctx, clock.now());
        return print_json(&u);
    }
    if let Command::Bench {
        command:
            BenchCommand::Ingest {
                messages,
                preload,
                seed,
                concurrency,
                json,
            },
    } = &cli.command
    {
        let db = bench_db(&cli, matches);
        let (result, text) =
            bench::ingest(db, *preload, *messages, *seed, *concurrency, venue).await?;
        return if *json {
            print_json(&result)
        } else {
            print_out(&text)
        };
    }
    if let Command::Bench {
        command:
            BenchCommand::Outbox {
                future,
                due,
                rate,
                seconds,
                json,
            },
    } = &cli.command
    {
        let db = bench_db(&cli, matches);
        let (result, text) =
            bench_outbox::outbox(db, *future, *due, *rate, *seconds, venue).await?;
        return if *json {
            print_json(&result)
        } else {
            print_out(&text)
        };
    }
    if let Command::Bench {
        command:
            BenchCommand::Http {
                bookings,
                connections,
                seconds,
                json,
            },
    } = &cli.command
    {
        let db = bench_db(&cli, matches);
        let (result, text) = bench_http::http(db, *bookings, *connections, *seconds, venue).await?;
        return if *json {
            print_json(&result)
        } else {
            print_out(&text)
        };
    }
    if let Command::Bench {
        command: BenchCommand::Startup { runs, json },
    } = &cli.command
    {
        let runs = *runs;
        let (result, text) = tokio::task::spawn_blocking(move || bench_http::startup(runs))
            .await
            .context("the startup bench panicked")??;
        return if *json {
            print_json(&result)
        } else {
            print_out(&text)
        };
    }
    if let Command::Demo = &cli.command {
        let start = match &cli.global.now {
            Some(raw) => raw
                .parse()
                .map_err(|e| bad(format!("--now '{raw}': {e}")))?,
            None => "2026-11-23T08:00:00Z".parse().expect("valid demo start"),
        };
        return print_out(&demo::run(start, venue).await?);
    }
    let decision_body = match &cli.command {
        Command::Tasks {
            command: TasksCommand::Approve {
                body: Some(path), ..
            },
        } => Some(
            std::fs::read_to_string(path)
                .map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?,
        ),
        _ => None,
    };
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
    let env = EnvVars::from_process();
    let serve_config = match &cli.command {
        Command::Serve(args) => Some(serve::ServeConfig::load(args.config.as_deref(), &env)?),
        Command::Worker(args) => Some(serve::ServeConfig::load(args.config.as_deref(), &env)?),
        Command::Outbox {
            command: OutboxCommand::RunDue { config, .. },
        } => Some(serve::ServeConfig::load(config.as_deref(), &env)?),
        _ => None,
    };
    if let (Command::Serve(args), Some(loaded)) = (&cli.command, &serve_config)
        && args.print_config
    {
        return print_out(&serve_report(matches, loaded, &env));
    }
    let workflow_inputs = match &cli.command {
        Command::Workflow { command } => Some(workflow_cli::prepare(command)?),
        _ => None,
    };
    let options = StoreOptions {
        pool_size: usize::from(cli.global.db_pool),
        statement_timeout: std::time::Duration::from_secs(cli.global.db_statement_timeout),
        connect_retry: std::time::Duration::from_secs(cli.global.db_connect_retry),
        // Only a process that dispatches needs to hear of other processes' outbox inserts.
        listen: match &cli.command {
            Command::Serve(args) => !args.no_workers,
            Command::Worker(_) => true,
            _ => false,
        },
    };
    let store = SqlStore::open_with(&cli.global.db, &options).await?;
    match &cli.command {
        Command::Export { out } => {
            let done = transfer_cli::export(&store, &org, out.as_deref()).await;
            store.close().await;
            return done;
        }
        Command::Import { input } => {
            let done = transfer_cli::import(&store, input).await;
            store.close().await;
            return done;
        }
        _ => {}
    }
    let engine = Engine::new(store, clock, EngineConfig { venue, templates });
    let roles = match &cli.command {
        Command::Serve(args) => Some(serve::Roles {
            http: Some(args.bind.clone()),
            workers: !args.no_workers,
        }),
        Command::Worker(_) => Some(serve::Roles {
            http: None,
            workers: true,
        }),
        _ => None,
    };
    if let (Some(roles), Some(_)) = (roles, &serve_config) {
        let loaded = serve_config.expect("loaded above");
        for name in unused_vars(&Cli::command(), &loaded, &env) {
            tracing::warn!(
                variable = %name,
                "environment variable ignored: no option or configuration key has this name"
            );
        }
        let config = loaded.config;
        let app = serve::app(engine, &config, test_clock)?;
        return serve::run(app, org, roles, config).await;
    }
    if let (
        Command::Outbox {
            command: OutboxCommand::RunDue { limit, .. },
        },
        Some(config),
    ) = (&cli.command, &serve_config)
    {
        let config = &config.config;
        let delivery = config.delivery_channels()?;
        let report = engine
            .run_due(&delivery.as_channels(), &config.retry, *limit)
            .await;
        engine.store().close().await;
        return print_json(&report?);
    }
    let outcome = match (cli.command, workflow_inputs) {
        (Command::Workflow { command }, Some(inputs)) => {
            workflow_cli::run(&engine, &org, command, inputs).await
        }
        (command, _) => dispatch(&engine, &org, command, raw, decision_body).await,
    };
    engine.store().close().await;
    outcome
}

async fn dispatch(
    engine: &Engine<SqlStore, Arc<dyn Clock>>,
    org: &OrgSlug,
    command: Command,
    raw: Option<(Vec<u8>, openevent_core::message::InboundMessage)>,
    decision_body: Option<String>,
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
        Command::Event {
            command:
                EventCommand::DepositPaid {
                    event_id,
                    reference,
                },
        } => {
            let id = EventId::parse(&event_id).map_err(bad)?;
            let report = engine
                .deposit_paid(org, &id, &reference)
                .await
                .map_err(|e| match e {
                    PaymentError::Store(_) | PaymentError::Workflow(_) => anyhow::Error::from(e),
                    other => bad(other),
                })?;
            print_json(&report)
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
        Command::Tasks { command } => tasks_command(engine, org, command, decision_body).await,
        Command::Token {
            command: TokenCommand::Create { role, name },
        } => {
            let role = openevent_store::Role::parse(&role)
                .ok_or_else(|| bad(format!("--role '{role}': use manager or viewer")))?;
            let created = openevent_http::create_token(
                engine.store(),
                org,
                role,
                &name,
                engine.clock().now(),
            )
            .await
            .map_err(|e| match e {
                openevent_http::TokenError::BadName => bad(e),
                other => anyhow::Error::from(other),
            })?;
            #[derive(Serialize)]
            struct Created<'a> {
                /// Shown once: only a hash of it is stored.
                token: &'a str,
                #[serde(flatten)]
                record: &'a openevent_store::TokenRecord,
            }
            print_json(&Created {
                token: &created.token,
                record: &created.record,
            })
        }
        Command::Outbox {
            command: OutboxCommand::List { status, limit },
        } => {
            let status = status
                .as_deref()
                .map(|s| {
                    serde_json::from_value::<openevent_automation::job::JobStatus>(
                        serde_json::Value::String(s.to_owned()),
                    )
                    .map_err(|_| bad(format!("--status '{s}': scheduled, claimed, sent, failed, dead, skipped or cancelled")))
                })
                .transpose()?;
            print_json(&engine.store().list_outbox(org, status, limit).await?)
        }
        Command::Outbox {
            command: OutboxCommand::Requeue { job_id },
        } => {
            engine
                .requeue_job(org, &job_id)
                .await
                .map_err(|e| match e {
                    openevent_store::StoreError::NotFound(_) => bad(e),
                    other => anyhow::Error::from(other),
                })?;
            print_out(&format!("requeued {job_id}\n"))
        }
        Command::Outbox {
            command: OutboxCommand::Abandon { job_id, reason },
        } => {
            if reason.trim().is_empty() {
                return Err(bad("--reason must not be empty"));
            }
            engine
                .abandon_job(org, &job_id, reason.trim())
                .await
                .map_err(|e| match e {
                    openevent_store::StoreError::NotFound(_) => bad(e),
                    other => anyhow::Error::from(other),
                })?;
            print_out(&format!("abandoned {job_id}\n"))
        }
        Command::Workflow { .. } => Err(anyhow!("workflow commands run before dispatch")),
        Command::Serve(_)
        | Command::Worker(_)
        | Command::Outbox { .. }
        | Command::Export { .. }
        | Command::Import { .. } => Err(anyhow!("this command runs before dispatch")),
        Command::Venue { .. } | Command::Demo | Command::Nlu { .. } | Command::Bench { .. } => {
            Err(anyhow!("this command runs before the database opens"))
        }
    }
}

fn venue_command(command: &VenueCommand, venue: &Venue) -> Result<()> {
    match command {
        VenueCommand::Check { file } => {
            let v = load_venue(file)?;
            let spec = v.spec();
            print_out(&format!(
                "{}: valid — {} rooms, {} products, {} FAQ answers, time zone {}, VAT {}.{:02} %\n",
                file.display(),
                spec.rooms.len(),
                spec.products.len(),
                spec.faq.len(),
                spec.time_zone,
                spec.vat_percent / 100,
                spec.vat_percent % 100
            ))
        }
        VenueCommand::Show => print_out(&venue.to_toml()),
        VenueCommand::Templates { language } => {
            let lang = TEMPLATE_LANGUAGES
                .iter()
                .find(|(_, code)| code == language)
                .map(|(l, _)| *l)
                .ok_or_else(|| bad(format!("--language '{language}': use en, de, fr, it or es")))?;
            match Templates::builtin_sources()
                .iter()
                .find(|(l, _)| *l == lang)
            {
                Some((_, text)) => print_out(text),
                None => Err(bad(format!(
                    "no built-in templates in '{language}' (English is used); copy the English ones with --language en"
                ))),
            }
        }
    }
}

async fn tasks_command(
    engine: &Engine<SqlStore, Arc<dyn Clock>>,
    org: &OrgSlug,
    command: TasksCommand,
    decision_body: Option<String>,
) -> Result<()> {
    let decide = |id: &str| TaskId::parse(id).map_err(bad);
    match command {
        TasksCommand::List { status, json } => {
            let status = status
                .map(|s| {
                    TaskStatus::parse(&s).ok_or_else(|| {
                        bad(format!(
                            "--status '{s}' is not one of pending, approved, rejected, superseded"
                        ))
                    })
                })
                .transpose()?;
            let tasks = engine
                .store()
                .list_tasks(
                    org,
                    TaskFilter {
                        status,
                        event_id: None,
                        limit: 500,
                    },
                )
                .await?;
            if json {
                return print_json(&tasks);
            }
            let mut text = String::new();
            if tasks.is_empty() {
                text.push_str("no tasks\n");
            }
            for t in &tasks {
                use std::fmt::Write as _;
                let _ = writeln!(
                    text,
                    "{}  {:<10} {:<20} step {}  {:<22} {}  {}",
                    t.task.task_id,
                    t.task.status.as_str(),
                    t.task.task_type.as_str(),
                    t.task
                        .step
                        .map_or("-".to_owned(), |s| s.number().to_string()),
                    t.task.event_id.as_ref().map_or("-", |e| e.as_str()),
                    t.client_email.as_ref().map_or("-", |e| e.as_str()),
                    t.task.reason
                );
            }
            print_out(&text)
        }
        TasksCommand::Approve { task_id, notes, .. } => {
            let report = engine
                .decide_task(
                    org,
                    &decide(&task_id)?,
                    Decision::Approve {
                        edited_body: decision_body,
                        notes,
                    },
                )
                .await
                .map_err(decision_error)?;
            print_json(&report)
        }
        TasksCommand::Reject { task_id, reason } => {
            let report = engine
                .decide_task(org, &decide(&task_id)?, Decision::Reject { reason })
                .await
                .map_err(decision_error)?;
            print_json(&report)
        }
    }
}

/// A decision the user can fix (unknown id, already decided, empty reason) is bad input.
fn decision_error(e: DecisionError) -> anyhow::Error {
    match e {
        DecisionError::Store(_) | DecisionError::TooMuchContention(_) => e.into(),
        other => bad(other),
    }
}
