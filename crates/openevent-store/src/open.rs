//! Opening a database: URL handling, refusing what is not ours or is newer than us, migrations.

use std::path::PathBuf;

use rusqlite::{Connection, OpenFlags};

use crate::StoreError;
use crate::db::Conn;
use crate::migrate;
use crate::sqlite::in_transaction;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
}

/// How a SQLite file is opened (`?mode=` in the URL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)] // named after SQLite's own open modes
pub(crate) enum Mode {
    ReadOnly,
    ReadWrite,
    ReadWriteCreate,
}

impl Mode {
    fn flags(self) -> OpenFlags {
        let base = OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        base | match self {
            Mode::ReadOnly => OpenFlags::SQLITE_OPEN_READ_ONLY,
            Mode::ReadWrite => OpenFlags::SQLITE_OPEN_READ_WRITE,
            Mode::ReadWriteCreate => {
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
            }
        }
    }
}

/// A validated database URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    display: String,
    backend: Backend,
    /// `None` for an in-memory database.
    path: Option<PathBuf>,
    mode: Mode,
}

impl DatabaseUrl {
    /// Accepts `sqlite://PATH`, `sqlite:PATH` and `sqlite::memory:`, with an optional
    /// `?mode=ro|rw|rwc` (default `rwc`: the file is created on first use).
    pub fn parse(raw: &str) -> Result<Self, StoreError> {
        let raw = raw.trim();
        let unsupported = || StoreError::UnsupportedUrl(raw.to_owned());
        let rest = raw.strip_prefix("sqlite:").ok_or_else(unsupported)?;
        let path_part = rest.strip_prefix("//").unwrap_or(rest);
        let (path, query) = path_part.split_once('?').unwrap_or((path_part, ""));
        if path.is_empty() {
            return Err(unsupported());
        }
        let mut mode = Mode::ReadWriteCreate;
        for param in query.split('&').filter(|p| !p.is_empty()) {
            mode = match param {
                "mode=ro" => Mode::ReadOnly,
                "mode=rw" => Mode::ReadWrite,
                "mode=rwc" => Mode::ReadWriteCreate,
                _ => return Err(unsupported()),
            };
        }
        Ok(Self {
            display: raw.to_owned(),
            backend: Backend::Sqlite,
            path: (path != ":memory:").then(|| PathBuf::from(path)),
            mode,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn as_str(&self) -> &str {
        &self.display
    }
}

fn unreadable(url: &DatabaseUrl, e: impl std::fmt::Display) -> StoreError {
    StoreError::Unreadable {
        url: url.display.clone(),
        detail: e.to_string(),
    }
}

/// Opens the database, checks that it is ours and not newer than us and brings it up to date
/// (failing fast, writing nothing before the checks pass).
pub(crate) fn connect(url: &DatabaseUrl) -> Result<Connection, StoreError> {
    let existed = url.path.as_ref().is_some_and(|p| p.exists());
    if let Some(dir) = url.path.as_ref().and_then(|p| p.parent())
        && !dir.as_os_str().is_empty()
        && !dir.exists()
    {
        return Err(StoreError::Open {
            url: url.display.clone(),
            detail: format!("directory {} does not exist", dir.display()),
        });
    }
    let open_error = |e: rusqlite::Error| {
        if existed {
            unreadable(url, e)
        } else {
            StoreError::Open {
                url: url.display.clone(),
                detail: e.to_string(),
            }
        }
    };
    let mut conn = match &url.path {
        None => Connection::open_in_memory(),
        Some(path) => Connection::open_with_flags(path, url.mode.flags()),
    }
    .map_err(open_error)?;
    // Every statement of a turn stays prepared (the default cache of 16 made them re-parse).
    conn.set_prepared_statement_cache_capacity(256);
    prepare(&mut conn, url)?;
    Ok(conn)
}

fn table_names(conn: &mut Connection) -> Result<Vec<String>, StoreError> {
    conn.query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        &[],
    )?
    .iter()
    .map(|r| r.text("name"))
    .collect()
}

/// Checks that the database is ours and not newer than us, then brings it up to date.
/// Nothing is written before the checks pass.
fn prepare(conn: &mut Connection, url: &DatabaseUrl) -> Result<i64, StoreError> {
    let tables = table_names(conn).map_err(|e| unreadable(url, e))?;
    let known = known_version();
    let has = |name: &str| tables.iter().any(|t| t == name);
    if !tables.is_empty() {
        if has(migrate::HISTORY_TABLE) {
            let found = migrate::applied_version(conn).map_err(|e| unreadable(url, e))?;
            if found > known {
                return Err(StoreError::NewerSchema { found, known });
            }
        } else if !has("_sqlx_migrations") {
            return Err(StoreError::ForeignDatabase {
                url: url.display.clone(),
            });
        }
    }
    // FULL: a commit that returned is on disk, so an accepted message survives power loss.
    // An 8 MB page cache: SQLite scans its whole page-cache hash table at the end of each write
    // transaction, so a larger cache made every commit slower as the database grew (measured:
    // 13.5 % of a turn's CPU with 64 MB at 92k events, 3.7 % with 8 MB); the operating system
    // keeps the file's pages cached anyway.
    conn.execute_batch(
        "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 10000; \
         PRAGMA cache_size = -8192; PRAGMA wal_autocheckpoint = 10000;",
    )
    .map_err(|e| unreadable(url, e))?;
    if url.path.is_some() && url.mode != Mode::ReadOnly {
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
            .map_err(|e| unreadable(url, e))?;
    }
    let now = jiff::Timestamp::now().as_microsecond();
    if !has(migrate::HISTORY_TABLE) && has("_sqlx_migrations") {
        in_transaction(conn, |c| {
            migrate::adopt_legacy_history(c, migrate::SQLITE, now)
        })?;
    }
    migrate::run(conn, migrate::SQLITE, now)
}

pub(crate) fn known_version() -> i64 {
    migrate::known_version(migrate::SQLITE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_forms() {
        let u = DatabaseUrl::parse("sqlite://openevent.db").unwrap();
        assert_eq!(u.mode, Mode::ReadWriteCreate);
        assert_eq!(
            u.path.as_deref(),
            Some(std::path::Path::new("openevent.db"))
        );
        let u = DatabaseUrl::parse("sqlite:data/x.db").unwrap();
        assert_eq!(u.path.as_deref(), Some(std::path::Path::new("data/x.db")));
        let u = DatabaseUrl::parse("sqlite:///tmp/a.db?mode=ro").unwrap();
        assert_eq!(u.path.as_deref(), Some(std::path::Path::new("/tmp/a.db")));
        assert_eq!(u.mode, Mode::ReadOnly);
        assert!(
            DatabaseUrl::parse("sqlite::memory:")
                .unwrap()
                .path
                .is_none()
        );
        assert!(matches!(
            DatabaseUrl::parse("mysql://x"),
            Err(StoreError::UnsupportedUrl(_))
        ));
        assert!(DatabaseUrl::parse("sqlite://").is_err());
        assert!(DatabaseUrl::parse("sqlite://x.db?cache=shared").is_err());
    }
}
