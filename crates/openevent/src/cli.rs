//! Command-line surface.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "openevent",
    version,
    about = "Venue-booking workflow engine: reads client emails, keeps one record per booking, drafts every reply for a manager to approve."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// Database URL; a SQLite file is created on first use.
    #[arg(
        long,
        global = true,
        env = "OPENEVENT_DB",
        // A database URL may carry a password: `--help` names the variable, not its value.
        hide_env_values = true,
        default_value = "sqlite://openevent.db"
    )]
    pub db: String,
    /// Organization (tenant) slug.
    #[arg(long, global = true, env = "OPENEVENT_ORG", default_value = "default")]
    pub org: String,
    /// Freeze the clock at this instant (RFC 3339) for reproducible runs.
    #[arg(long, global = true, env = "OPENEVENT_NOW", value_name = "RFC3339")]
    pub now: Option<String>,
    /// Venue file (TOML); the built-in reference venue, The Atelier, when absent.
    #[arg(long, global = true, env = "OPENEVENT_VENUE", value_name = "FILE")]
    pub venue: Option<PathBuf>,
    /// Log lines on stderr as text or as JSON objects (one per line, with the message's span:
    /// organization, Message-ID, event).
    #[arg(
        long,
        global = true,
        env = "OPENEVENT_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,
    /// PostgreSQL: connections this process keeps open (each runs whole units of work).
    #[arg(long, global = true, env = "OPENEVENT_DB_POOL", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=512))]
    pub db_pool: u16,
    /// PostgreSQL: a statement that runs longer fails and its transaction rolls back (seconds).
    #[arg(long, global = true, env = "OPENEVENT_DB_STATEMENT_TIMEOUT", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub db_statement_timeout: u64,
    /// How long to keep retrying an unreachable database server at start before exiting with
    /// the reason (seconds).
    #[arg(long, global = true, env = "OPENEVENT_DB_CONNECT_RETRY", default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub db_connect_retry: u64,
    /// Directory of reply templates replacing the built-in ones (en.txt, de.txt, fr.txt, it.txt,
    /// es.txt; see `openevent venue templates`).
    #[arg(long, global = true, env = "OPENEVENT_TEMPLATES", value_name = "DIR")]
    pub templates: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run scripted conversations end to end on a temporary database and print the timeline.
    Demo,
    /// Measure openevent on this machine.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Create or upgrade the database schema.
    Migrate,
    /// Print what openevent understands of a message (plain text on standard input) as JSON.
    Nlu {
        /// The message's subject line.
        #[arg(long, default_value = "")]
        subject: String,
        /// Instead of one message: score a labelled corpus (a directory of TOML case files,
        /// e.g. tests/fixtures/nlu) and print per-field accuracy and the confusion matrix.
        #[arg(long, value_name = "DIR")]
        corpus: Option<PathBuf>,
    },
    /// Process one RFC 5322 message (a .eml file, or - for standard input) and print the turn result.
    Ingest {
        /// Path to the message, or - to read standard input.
        #[arg(value_name = "FILE.eml | -")]
        input: PathBuf,
    },
    /// Booking records.
    Event {
        #[command(subcommand)]
        command: EventCommand,
    },
    /// Client records.
    Client {
        #[command(subcommand)]
        command: ClientCommand,
    },
    /// The manager's tasks: every draft waits here for approval.
    Tasks {
        #[command(subcommand)]
        command: TasksCommand,
    },
    /// Venue configuration.
    Venue {
        #[command(subcommand)]
        command: VenueCommand,
    },
    /// Run the HTTP API and the background workers (the IMAP poller when configured) until
    /// SIGTERM or Ctrl-C.
    Serve(ServeArgs),
    /// Run only the background work (the outbox dispatcher, automation completions and the IMAP
    /// poller when configured), without HTTP, until SIGTERM or Ctrl-C. Several can run against
    /// one PostgreSQL database.
    Worker(WorkerArgs),
    /// Write the organization's data (--org) as JSON lines (to FILE, or standard output).
    Export {
        /// Where to write; standard output when absent.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Load an organization's data written by `export` (FILE, or - for standard input) into
    /// this database, in one transaction; refused when the organization already has data here.
    Import {
        #[arg(value_name = "FILE | -")]
        input: PathBuf,
    },
    /// The outbox: approved replies (and later reminders) waiting to be sent.
    Outbox {
        #[command(subcommand)]
        command: OutboxCommand,
    },
    /// Automation workflows (reminders and follow-ups): install, import, export, explain,
    /// preview.
    Workflow {
        #[command(subcommand)]
        command: WorkflowCommand,
    },
    /// API tokens (stored hashed; a token is shown once, when it is created).
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Debug, Args)]
#[command(after_help = SERVE_ENV_HELP)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the address is printed).
    #[arg(long, env = "OPENEVENT_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Server configuration (TOML): `rate_limit_per_minute` and the sections `[imap]`, `[smtp]`,
    /// `[retry]`, `[llm]`, `[web]`, `[payments]`; each key can also be set from the environment.
    #[arg(long, env = "OPENEVENT_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Acceptance testing only: the clock starts at --now (or the current time) and moves only
    /// when `POST /api/v1/test/clock {"advance_seconds": N}` says so.
    #[arg(long, env = "OPENEVENT_TEST_CLOCK")]
    pub test_clock: bool,
    /// Print the effective configuration, each setting with where it came from (flag, env,
    /// file, default) and its environment variable, secrets redacted; then exit without opening
    /// the database or listening.
    #[arg(long)]
    pub print_config: bool,
    /// Serve the API and the web app only: no outbox dispatcher, no IMAP poller (run those as
    /// `openevent worker` processes).
    #[arg(long, env = "OPENEVENT_NO_WORKERS")]
    pub no_workers: bool,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Server configuration (TOML), as for `serve`: the worker reads `[smtp]`, `[whatsapp]`,
    /// `[sms]`, `[webhook]`, `[retry]` and `[imap]`.
    #[arg(long, env = "OPENEVENT_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// The configuration file's keys and the environment, below `openevent serve --help`.
const SERVE_ENV_HELP: &str = "\
Every key of the configuration file can also be set with an environment variable, which \
overrides the file: OPENEVENT_<SECTION>_<KEY> for a key in a section (OPENEVENT_SMTP_HOST, \
OPENEVENT_IMAP_PASSWORD_ENV, OPENEVENT_WEB_SECURE_COOKIES) and OPENEVENT_<KEY> at the top level \
(OPENEVENT_RATE_LIMIT_PER_MINUTE). Values are written as in the file, without quotes (a variable \
that is set counts, even when empty). Precedence: flag > environment > file > default. \
`openevent serve --print-config` lists every setting, its variable and where its value came from.";

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// Send what is due now, once, and print {executed, failed, dead, skipped}.
    RunDue {
        /// Server configuration with the `[smtp]` and `[retry]` sections (as for `serve`; the
        /// keys can also be set from the environment, e.g. `OPENEVENT_SMTP_HOST`).
        #[arg(long, env = "OPENEVENT_CONFIG", value_name = "FILE")]
        config: Option<PathBuf>,
        /// Most jobs to send in this run.
        #[arg(long, default_value_t = 1000)]
        limit: u32,
    },
    /// The organization's outbox (no message content), newest due first.
    List {
        /// scheduled, claimed, sent, failed, dead, skipped or cancelled.
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Put a dead job back in the queue, due now (audited on its booking).
    Requeue { job_id: String },
    /// Give a dead job up for good (audited on its booking).
    Abandon {
        job_id: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum WorkflowCommand {
    /// Install ready-made workflows from the library (all of them without KEYS).
    Install { keys: Vec<String> },
    /// Validate a workflow definition (TOML) and store it as its key's next version.
    Import { file: PathBuf },
    /// Print the current definitions as TOML (or write KEY.toml files into --dir).
    Export {
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// The workflows with their versions and deliveries per status.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Which workflow a booking runs, and which rule (or override, or default) decided.
    Resolve {
        #[arg(long = "event")]
        event_id: String,
    },
    /// Every message the booking will get: when, to whom, on which channel, rendered; with
    /// --edited, what that definition would change.
    Preview {
        #[arg(long = "event")]
        event_id: String,
        #[arg(long, value_name = "FILE")]
        edited: Option<PathBuf>,
    },
    /// Override the workflow of one booking.
    Override {
        #[arg(long = "event")]
        event_id: String,
        /// This workflow, whatever the rules say.
        #[arg(long, conflicts_with_all = ["none", "remove"])]
        workflow: Option<String>,
        /// No workflow for this booking.
        #[arg(long, conflicts_with = "remove")]
        none: bool,
        /// Remove the override (rules and the default decide again).
        #[arg(long)]
        remove: bool,
    },
    /// Print the automation settings as TOML, or store new ones with --set FILE.
    Settings {
        #[arg(long, value_name = "FILE")]
        set: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token for the organization given with --org and print it (once).
    Create {
        /// manager (read, approve, reject, ingest) or viewer (read only).
        #[arg(long)]
        role: String,
        /// What the token is for, e.g. "front desk laptop".
        #[arg(long, default_value = "api")]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Synthetic conversations through the full path (parse → understand → workflow → commit).
    Ingest {
        /// Messages measured.
        #[arg(long, default_value_t = 2000)]
        messages: u64,
        /// Messages processed before measuring, to fill the database.
        #[arg(long, default_value_t = 0)]
        preload: u64,
        /// Seed of the message generator.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Conversations processed at once (each its own clients); more than one only pays on
        /// PostgreSQL, where turns of different bookings commit in parallel.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64))]
        concurrency: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The dispatcher against a no-op channel with many future jobs pending: a burst of due
    /// jobs (jobs/s), then jobs falling due at a steady rate (due-lag percentiles).
    Outbox {
        /// Future jobs pending (due in a month) during the run.
        #[arg(long, default_value_t = 1_000_000)]
        future: u64,
        /// Jobs due at once in the burst.
        #[arg(long, default_value_t = 50_000)]
        due: u64,
        /// Jobs falling due per second in the steady phase.
        #[arg(long, default_value_t = 1000)]
        rate: u64,
        /// Length of the steady phase.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The HTTP API under concurrent load from a separate process (Debian's `wrk`): the
    /// booking list and new client messages; requests/s and latency percentiles.
    Http {
        /// Bookings created before the load starts.
        #[arg(long, default_value_t = 1000)]
        bookings: u64,
        /// Concurrent connections.
        #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        connections: u32,
        /// Length of each load run.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=3600))]
        seconds: u32,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// How long `openevent serve` takes from start to answering `/readyz` (on an existing
    /// SQLite database).
    Startup {
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1000))]
        runs: u32,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TasksCommand {
    /// List tasks, newest first.
    List {
        /// pending, approved, rejected or superseded.
        #[arg(long)]
        status: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Approve a task: its draft (or your edit of it) goes to the outbox.
    Approve {
        task_id: String,
        /// Send this text instead of the drafted body.
        #[arg(long, value_name = "FILE")]
        body: Option<PathBuf>,
        /// A note for the audit trail.
        #[arg(long)]
        notes: Option<String>,
    },
    /// Reject a task; nothing is sent.
    Reject {
        task_id: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum VenueCommand {
    /// Validate a venue file and summarise it.
    Check { file: PathBuf },
    /// Print the venue in use as TOML (a starting point for your own file).
    Show,
    /// Print the built-in reply templates of a language (a starting point for --templates).
    Templates {
        #[arg(long, default_value = "en")]
        language: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum EventCommand {
    /// Print a booking record with its audit trail as JSON.
    Show { event_id: String },
    /// Record that the booking's deposit was paid (what the payment webhook does).
    DepositPaid {
        event_id: String,
        /// The payment's reference at the provider.
        #[arg(long, default_value = "manual")]
        reference: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Print a client's context snapshot (profile, last 5 messages, latest booking) as JSON.
    Context { email: String },
}
