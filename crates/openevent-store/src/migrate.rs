//! Schema migrations: numbered SQL files per backend, applied in order, each in its own
//! transaction, recorded with a checksum so that an edited migration is noticed rather than
//! silently diverging.

use sha2::{Digest, Sha256};

use crate::StoreError;
use crate::db::{Conn, params};

pub(crate) struct Migration {
    pub version: i64,
    pub description: &'static str,
    pub sql: &'static str,
}

impl Migration {
    fn checksum(&self) -> String {
        hex::encode(Sha256::digest(self.sql.as_bytes()))
    }
}

/// The migrations of both backends: the same versions and descriptions, one file per backend.
macro_rules! migrations {
    ($backend:literal: $(($version:literal, $description:literal, $file:literal)),* $(,)?) => {
        &[$(Migration {
            version: $version,
            description: $description,
            sql: include_str!(concat!("../migrations/", $backend, "/", $file)),
        }),*]
    };
}

macro_rules! both {
    ($($m:tt),* $(,)?) => {
        pub(crate) const SQLITE: &[Migration] = migrations!("sqlite": $($m),*);
        pub(crate) const POSTGRES: &[Migration] = migrations!("postgres": $($m),*);
    };
}

both![
    (1, "init", "0001_init.sql"),
    (2, "workflow", "0002_workflow.sql"),
    (3, "indexes", "0003_indexes.sql"),
    (4, "access", "0004_access.sql"),
    (5, "calendar index", "0005_calendar_index.sql"),
    (6, "automation", "0006_automation.sql"),
    (7, "venues", "0007_venues.sql"),
];

pub(crate) const HISTORY_TABLE: &str = "schema_migrations";

const CREATE_HISTORY: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (\
    version BIGINT PRIMARY KEY, description TEXT NOT NULL, checksum TEXT NOT NULL, applied_at BIGINT NOT NULL)";

pub(crate) fn known_version(migrations: &[Migration]) -> i64 {
    migrations.iter().map(|m| m.version).max().unwrap_or(0)
}

/// The highest applied version (0 for a database without history).
pub(crate) fn applied_version(conn: &mut dyn Conn) -> Result<i64, StoreError> {
    conn.query_opt(
        "SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations",
        &[],
    )?
    .map_or(Ok(0), |r| r.first_int())
}

/// A database created by the first releases kept its history in sqlx's table; its versions are
/// the same numbers, so they are carried over once.
pub(crate) fn adopt_legacy_history(
    conn: &mut dyn Conn,
    migrations: &[Migration],
    now: i64,
) -> Result<(), StoreError> {
    let rows = conn.query(
        "SELECT version FROM _sqlx_migrations WHERE success = TRUE ORDER BY version",
        &[],
    )?;
    conn.execute_batch(CREATE_HISTORY)?;
    for row in rows {
        let version = row.int("version")?;
        let Some(m) = migrations.iter().find(|m| m.version == version) else {
            return Err(StoreError::NewerSchema {
                found: version,
                known: known_version(migrations),
            });
        };
        conn.execute(
            "INSERT INTO schema_migrations (version, description, checksum, applied_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (version) DO NOTHING",
            &params![m.version, m.description, m.checksum(), now],
        )?;
    }
    Ok(())
}

/// Applies every migration not applied yet; returns the resulting version.
pub(crate) fn run(
    conn: &mut dyn Conn,
    migrations: &[Migration],
    now: i64,
) -> Result<i64, StoreError> {
    conn.execute_batch(CREATE_HISTORY)?;
    let applied = conn.query("SELECT version, checksum FROM schema_migrations", &[])?;
    for row in &applied {
        let version = row.int("version")?;
        if let Some(m) = migrations.iter().find(|m| m.version == version)
            && m.checksum() != row.text("checksum")?
        {
            return Err(StoreError::Migrate(format!(
                "migration {version} ({}) differs from the one applied to this database",
                m.description
            )));
        }
    }
    for m in migrations {
        if applied
            .iter()
            .any(|r| r.int("version").ok() == Some(m.version))
        {
            continue;
        }
        conn.begin()?;
        let step = conn.execute_batch(m.sql).and_then(|()| {
            conn.execute(
                "INSERT INTO schema_migrations (version, description, checksum, applied_at) VALUES ($1, $2, $3, $4)",
                &params![m.version, m.description, m.checksum(), now],
            )
        });
        match step {
            Ok(_) => conn.execute_batch("COMMIT")?,
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(StoreError::Migrate(format!(
                    "migration {} ({}) failed: {e}",
                    m.version, m.description
                )));
            }
        }
    }
    applied_version(conn)
}
