use openevent_core::ids::{EventId, MessageId, TaskId};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "unsupported database URL '{0}': use sqlite://PATH (or sqlite::memory:) or postgres://USER@HOST/DB"
    )]
    UnsupportedUrl(String),
    #[error("cannot open the database at {url}: {detail}")]
    Open { url: String, detail: String },
    #[error("{url} is not a readable openevent database ({detail}); it was left untouched")]
    Unreadable { url: String, detail: String },
    #[error(
        "{url} holds tables but no openevent schema history; refusing to write into a foreign database"
    )]
    ForeignDatabase { url: String },
    #[error(
        "the database schema is at version {found}, newer than this openevent knows ({known}); upgrade openevent — the database was left untouched"
    )]
    NewerSchema { found: i64, known: i64 },
    #[error("migrating the database failed: {0}")]
    Migrate(String),
    #[error("message {0} was already processed")]
    DuplicateMessage(MessageId),
    #[error("event {0} was changed concurrently")]
    Conflict(EventId),
    #[error("outbox job {0} was taken over by another attempt after its lease expired")]
    LeaseLost(String),
    /// A booking that holds a room was about to be written, but another booking took that room
    /// around the same date since the turn read the calendar: the turn must run again on the
    /// fresh calendar (nothing was written).
    #[error("the calendar changed while event {0} was being decided")]
    CalendarChanged(EventId),
    #[error("task {0} was already decided")]
    TaskNotPending(TaskId),
    #[error("{0} does not exist")]
    NotFound(String),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("database error: {0}")]
    Postgres(#[from] postgres::Error),
    /// The database server cannot be reached (or answered too slowly); nothing was written.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("the database connection is closed")]
    Closed,
    #[error("internal storage error: {0}")]
    Internal(String),
    /// An organization export was refused as input (see `transfer.rs`); nothing was written.
    #[error("import refused at line {line}: {detail}; nothing was written")]
    Import { line: usize, detail: String },
    /// Importing would mix the export with rows the organization already has here.
    #[error(
        "organization {org} already has rows in table {table} of this database; import refused, nothing was written"
    )]
    OrgExists { org: String, table: String },
    /// The database refused rows of an export (a constraint, a lost connection); the whole
    /// import was rolled back.
    #[error(
        "import failed inserting {table} rows of lines {first_line}-{last_line}: {source}; nothing was written"
    )]
    ImportInsert {
        table: String,
        first_line: usize,
        last_line: usize,
        source: Box<StoreError>,
    },
    #[error("export failed: {0}")]
    Export(String),
}
