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

/// [`StoreError::unavailable_reason`] for any error whose chain holds a storage error (a
/// wrapper may expose the driver's error rather than ours).
pub fn unavailable_reason(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cause = Some(error);
    while let Some(e) = cause {
        let found = if let Some(s) = e.downcast_ref::<StoreError>() {
            s.unavailable_reason()
        } else if let Some(d) = e.downcast_ref::<rusqlite::Error>() {
            sqlite_reason(d)
        } else if let Some(p) = e.downcast_ref::<postgres::Error>() {
            postgres_reason(p)
        } else {
            None
        };
        if found.is_some() {
            return found;
        }
        cause = e.source();
    }
    None
}

fn sqlite_reason(e: &rusqlite::Error) -> Option<String> {
    let rusqlite::Error::SqliteFailure(e, _) = e else {
        return None;
    };
    match e.code {
        rusqlite::ErrorCode::DiskFull => Some("the database's disk is full".into()),
        rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked => {
            Some("the database is busy".into())
        }
        rusqlite::ErrorCode::SystemIoFailure => {
            Some("the database cannot write to its disk".into())
        }
        _ => None,
    }
}

fn postgres_reason(e: &postgres::Error) -> Option<String> {
    if e.is_closed() {
        return Some("the connection to PostgreSQL was lost".into());
    }
    let code = e.code()?.code();
    if code == "53100" {
        Some("PostgreSQL's disk is full".into())
    } else if code == "57014" {
        Some("a database statement ran out of time".into())
    } else if code.starts_with("08") || code.starts_with("57P") || code.starts_with("53") {
        Some(format!("PostgreSQL is unavailable ({code})"))
    } else {
        None
    }
}

impl StoreError {
    /// Why the database cannot take work right now, when that is the cause: the disk is full,
    /// the server is unreachable or shutting down, a statement ran out of time. Such a failure
    /// is the operator's to fix and the client's to retry (nothing was written).
    pub fn unavailable_reason(&self) -> Option<String> {
        match self {
            StoreError::Unavailable(reason) => Some(reason.clone()),
            StoreError::Closed => Some("the database connection is closed".into()),
            StoreError::Database(e) => sqlite_reason(e),
            StoreError::Postgres(e) => postgres_reason(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    enum Wrapper {
        #[error(transparent)]
        Store(#[from] StoreError),
    }

    #[test]
    fn a_full_disk_is_named_through_any_wrapper() {
        let full = || {
            StoreError::Database(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
                None,
            ))
        };
        assert_eq!(
            full().unavailable_reason().as_deref(),
            Some("the database's disk is full")
        );
        // A transparent wrapper exposes the driver's error, not ours: still found.
        let wrapped = Wrapper::from(full());
        assert_eq!(
            unavailable_reason(&wrapped).as_deref(),
            Some("the database's disk is full")
        );
        assert!(unavailable_reason(&StoreError::NotFound("x".into())).is_none());
    }
}
