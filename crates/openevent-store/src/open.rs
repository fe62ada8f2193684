//! Opening a database: URL handling, refusing what is not ours or is newer than us, migrations.

use std::path::PathBuf;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyConnection, AnyPool, Connection, Executor, Row};

use crate::StoreError;

pub(crate) static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
}

/// A validated database URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    display: String,
    connect: String,
    backend: Backend,
    in_memory: bool,
    path: Option<PathBuf>,
}

impl DatabaseUrl {
    /// Accepts `sqlite://PATH`, `sqlite:PATH` and `sqlite::memory:`. A file is created on first use.
    pub fn parse(raw: &str) -> Result<Self, StoreError> {
        let raw = raw.trim();
        let Some(rest) = raw.strip_prefix("sqlite:") else {
            return Err(StoreError::UnsupportedUrl(raw.to_owned()));
        };
        let in_memory = rest == ":memory:" || rest.starts_with(":memory:?");
        let path_part = rest.strip_prefix("//").unwrap_or(rest);
        let (path, query) = path_part.split_once('?').unwrap_or((path_part, ""));
        if path.is_empty() {
            return Err(StoreError::UnsupportedUrl(raw.to_owned()));
        }
        let mut connect = if in_memory {
            "sqlite::memory:".to_owned()
        } else {
            format!("sqlite://{path}")
        };
        let mut params: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
        if !in_memory && !params.iter().any(|p| p.starts_with("mode=")) {
            params.push("mode=rwc");
        }
        if !params.is_empty() {
            connect.push('?');
            connect.push_str(&params.join("&"));
        }
        Ok(Self {
            display: raw.to_owned(),
            connect,
            backend: Backend::Sqlite,
            in_memory,
            path: (!in_memory).then(|| PathBuf::from(path)),
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

/// Opens the database: first one connection that checks it is ours and not newer than us and
/// brings it up to date (failing fast, writing nothing before the checks pass), then the pool.
pub(crate) async fn connect(url: &DatabaseUrl) -> Result<AnyPool, StoreError> {
    install_default_drivers();
    let existed = url.path.as_ref().is_some_and(|p| p.exists());
    if let Some(dir) = url.path.as_ref().and_then(|p| p.parent())
        && !dir.as_os_str().is_empty()
        && !dir.exists()
    {
        return Err(StoreError::Open {
            url: url.display.clone(),
            source: sqlx::Error::Configuration(
                format!("directory {} does not exist", dir.display()).into(),
            ),
        });
    }
    let open_error = |e: sqlx::Error| {
        if existed {
            unreadable(url, e)
        } else {
            StoreError::Open {
                url: url.display.clone(),
                source: e,
            }
        }
    };
    if url.in_memory {
        // An in-memory database lives in its one connection, which the pool must keep.
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect(&url.connect)
            .await
            .map_err(open_error)?;
        prepare(&mut *pool.acquire().await?, url).await?;
        return Ok(pool);
    }
    let mut conn = AnyConnection::connect(&url.connect)
        .await
        .map_err(open_error)?;
    if let Err(e) = prepare(&mut conn, url).await {
        let _ = conn.close().await;
        return Err(e);
    }
    conn.close().await.map_err(open_error)?;
    AnyPoolOptions::new()
        .max_connections(8)
        .after_connect(|conn, _| Box::pin(async move { apply_pragmas(conn).await }))
        .connect(&url.connect)
        .await
        .map_err(open_error)
}

async fn apply_pragmas(conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
    // FULL: a commit that returned is on disk, so an accepted message survives power loss.
    conn.execute(
        "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 10000;",
    )
    .await?;
    Ok(())
}

/// Checks that the database is ours and not newer than us, then brings it up to date.
/// Nothing is written before the checks pass.
async fn prepare(conn: &mut AnyConnection, url: &DatabaseUrl) -> Result<i64, StoreError> {
    let tables: Vec<String> = sqlx::query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| unreadable(url, e))?
    .iter()
    .map(|r| r.try_get::<String, _>(0))
    .collect::<Result<_, _>>()
    .map_err(|e| unreadable(url, e))?;
    let known = known_version();
    if !tables.is_empty() {
        if !tables.iter().any(|t| t == "_sqlx_migrations") {
            return Err(StoreError::ForeignDatabase {
                url: url.display.clone(),
            });
        }
        let found = applied_version(&mut *conn)
            .await
            .map_err(|e| unreadable(url, e))?;
        if found > known {
            return Err(StoreError::NewerSchema { found, known });
        }
    }
    apply_pragmas(conn).await.map_err(|e| unreadable(url, e))?;
    if !url.in_memory {
        conn.execute("PRAGMA journal_mode = WAL")
            .await
            .map_err(|e| unreadable(url, e))?;
    }
    SQLITE_MIGRATOR.run(&mut *conn).await?;
    Ok(applied_version(&mut *conn).await?)
}

pub(crate) fn known_version() -> i64 {
    SQLITE_MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

pub(crate) async fn applied_version<'e, E>(executor: E) -> Result<i64, sqlx::Error>
where
    E: Executor<'e, Database = sqlx::Any>,
{
    let row =
        sqlx::query("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success = TRUE")
            .fetch_one(executor)
            .await?;
    row.try_get::<i64, _>(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_forms() {
        let u = DatabaseUrl::parse("sqlite://openevent.db").unwrap();
        assert_eq!(u.connect, "sqlite://openevent.db?mode=rwc");
        assert_eq!(
            u.path.as_deref(),
            Some(std::path::Path::new("openevent.db"))
        );
        let u = DatabaseUrl::parse("sqlite:data/x.db").unwrap();
        assert_eq!(u.connect, "sqlite://data/x.db?mode=rwc");
        let u = DatabaseUrl::parse("sqlite:///tmp/a.db?mode=ro").unwrap();
        assert_eq!(u.connect, "sqlite:///tmp/a.db?mode=ro");
        assert!(DatabaseUrl::parse("sqlite::memory:").unwrap().in_memory);
        assert!(matches!(
            DatabaseUrl::parse("mysql://x"),
            Err(StoreError::UnsupportedUrl(_))
        ));
        assert!(DatabaseUrl::parse("sqlite://").is_err());
    }
}
