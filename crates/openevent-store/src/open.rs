//! Opening a database: URL handling, refusing what is not ours or is newer than us, migrations.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

use crate::StoreError;
use crate::db::Conn;
use crate::migrate::{self, Migration};
use crate::postgres::{PgConn, PgSettings};
use crate::worker::in_transaction;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// How a database is opened beyond its URL (PostgreSQL only; SQLite has one connection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// Connections (each on its own thread) this process keeps.
    pub pool_size: usize,
    /// A statement running longer fails (and its transaction rolls back).
    pub statement_timeout: Duration,
    /// How long opening keeps retrying an unreachable server before it gives up.
    pub connect_retry: Duration,
    /// Listen for other processes' outbox inserts (dispatching processes want this).
    pub listen: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            pool_size: 8,
            statement_timeout: Duration::from_secs(30),
            connect_retry: Duration::from_secs(30),
            listen: true,
        }
    }
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
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    /// The URL as shown to people: a password is replaced by `***`.
    display: String,
    backend: Backend,
    /// `None` for an in-memory database.
    path: Option<PathBuf>,
    mode: Mode,
    /// The PostgreSQL URL as given (with its password), for connecting.
    postgres: Option<String>,
}

/// Shows the redacted URL only: a password must not reach a log through `{:?}`.
impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseUrl")
            .field("url", &self.display)
            .field("backend", &self.backend)
            .finish()
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
fn redact(raw: &str) -> String {
    let Some((scheme, rest)) = raw.split_once("://") else {
        return raw.to_owned();
    };
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => raw.to_owned(),
        },
        None => raw.to_owned(),
    }
}

impl DatabaseUrl {
    /// Accepts `sqlite://PATH`, `sqlite:PATH` and `sqlite::memory:`, with an optional
    /// `?mode=ro|rw|rwc` (default `rwc`: the file is created on first use), and
    /// `postgres://` / `postgresql://` URLs (libpq's URL form: host, port, user, password,
    /// database, `?connect_timeout=…&application_name=…`).
    pub fn parse(raw: &str) -> Result<Self, StoreError> {
        let raw = raw.trim();
        let unsupported = || StoreError::UnsupportedUrl(redact(raw));
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            postgres::Config::from_str(raw).map_err(|e| StoreError::Open {
                url: redact(raw),
                detail: e.to_string(),
            })?;
            return Ok(Self {
                display: redact(raw),
                backend: Backend::Postgres,
                path: None,
                mode: Mode::ReadWrite,
                postgres: Some(raw.to_owned()),
            });
        }
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
            postgres: None,
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

/// Opens the SQLite database, checks that it is ours and not newer than us and brings it up to
/// date (failing fast, writing nothing before the checks pass).
pub(crate) fn connect_sqlite(url: &DatabaseUrl) -> Result<Connection, StoreError> {
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
    prepare_sqlite(&mut conn, url)?;
    Ok(conn)
}

/// The database's tables (without the backend's own).
pub(crate) fn table_names(conn: &mut dyn Conn) -> Result<Vec<String>, StoreError> {
    let sql = match conn.backend() {
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        }
        Backend::Postgres => {
            "SELECT table_name::TEXT AS name FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        }
    };
    conn.query(sql, &[])?
        .iter()
        .map(|r| r.text("name"))
        .collect()
}

/// Refuses a database that is not ours or is newer than us (reading only).
fn check_ours(
    conn: &mut dyn Conn,
    url: &DatabaseUrl,
    migrations: &[Migration],
    tables: &[String],
) -> Result<(), StoreError> {
    let known = migrate::known_version(migrations);
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
    Ok(())
}

/// Checks that the database is ours and not newer than us, then brings it up to date.
/// Nothing is written before the checks pass.
fn prepare_sqlite(conn: &mut Connection, url: &DatabaseUrl) -> Result<i64, StoreError> {
    let tables = table_names(conn).map_err(|e| unreadable(url, e))?;
    let has = |name: &str| tables.iter().any(|t| t == name);
    check_ours(conn, url, migrate::SQLITE, &tables)?;
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
    migrate::known_version(migrate::SQLITE).max(migrate::known_version(migrate::POSTGRES))
}

impl DatabaseUrl {
    pub(crate) fn postgres_settings(
        &self,
        options: &StoreOptions,
    ) -> Result<PgSettings, StoreError> {
        let raw = self
            .postgres
            .as_deref()
            .ok_or_else(|| StoreError::UnsupportedUrl(self.display.clone()))?;
        let mut config = postgres::Config::from_str(raw).map_err(|e| StoreError::Open {
            url: self.display.clone(),
            detail: e.to_string(),
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        if config.get_application_name().is_none() {
            config.application_name("openevent");
        }
        Ok(PgSettings {
            config,
            statement_timeout: options.statement_timeout,
        })
    }
}

/// Connects to PostgreSQL, retrying with backoff for up to `options.connect_retry` (a server
/// that starts together with openevent), then fails with the last reason.
pub(crate) fn connect_postgres(
    url: &DatabaseUrl,
    settings: &PgSettings,
    options: &StoreOptions,
) -> Result<PgConn, StoreError> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(200);
    let mut attempts = 0_u32;
    let mut conn = loop {
        attempts += 1;
        match PgConn::connect(settings) {
            Ok(conn) => break conn,
            Err(e) if started.elapsed() + pause < options.connect_retry => {
                tracing::warn!(url = %url.display, error = %e, attempt = attempts, "PostgreSQL is not reachable yet; retrying");
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_secs(5));
            }
            Err(e) => {
                return Err(StoreError::Open {
                    url: url.display.clone(),
                    detail: format!(
                        "{e} (gave up after {attempts} attempts in {:.1} s)",
                        started.elapsed().as_secs_f64()
                    ),
                });
            }
        }
    };
    prepare_postgres(&mut conn, url)?;
    Ok(conn)
}

/// An arbitrary constant: the advisory lock under which one process at a time migrates.
const MIGRATION_LOCK: i64 = 0x6f70_656e_6576;

fn prepare_postgres(conn: &mut PgConn, url: &DatabaseUrl) -> Result<i64, StoreError> {
    // Several processes starting together: one migrates, the others wait and then find the
    // schema current.
    conn.execute_batch(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
    let outcome = (|| {
        let tables = table_names(conn).map_err(|e| unreadable(url, e))?;
        check_ours(conn, url, migrate::POSTGRES, &tables)?;
        let now = jiff::Timestamp::now().as_microsecond();
        migrate::run(conn, migrate::POSTGRES, now)
    })();
    let _ = conn.execute_batch(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"));
    outcome
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
        let u = DatabaseUrl::parse("postgres://oe:s3cret@127.0.0.1:5432/openevent").unwrap();
        assert_eq!(u.backend(), Backend::Postgres);
        assert_eq!(u.as_str(), "postgres://oe:***@127.0.0.1:5432/openevent");
        assert!(!format!("{u:?}").contains("s3cret"));
        assert!(DatabaseUrl::parse("postgresql://localhost/x?bogus=1").is_err());
    }
}
