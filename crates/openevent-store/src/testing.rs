//! Test support: a fresh, empty database of each backend, so that one suite runs against both.
//!
//! SQLite: a file in a temporary directory. PostgreSQL: a new database on the server named by
//! `OPENEVENT_TEST_PG_URL`, dropped again afterwards. Without that variable the PostgreSQL cases
//! are skipped with a loud message, except under CI (`CI=true`), where that is an error.
//!
//! [`backend_tests!`](crate::backend_tests) turns `async fn name(db: TestDb)` cases into one test
//! per backend (`sqlite::name`, `postgres::name`).

use std::sync::atomic::{AtomicU64, Ordering};

use crate::Backend;

/// The variable naming the PostgreSQL server the tests create their databases on.
pub const PG_URL_VAR: &str = "OPENEVENT_TEST_PG_URL";

/// A fresh database for one test; removed when dropped.
#[derive(Debug)]
pub struct TestDb {
    url: String,
    backend: Backend,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    Dir(std::path::PathBuf),
    Database { admin_url: String, name: String },
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs blocking client code on a thread of its own (the PostgreSQL driver must not run inside
/// the test's async runtime).
fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(f)
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// The server's URL with another database name.
fn with_database(admin_url: &str, name: &str) -> String {
    let (base, query) = admin_url.split_once('?').unwrap_or((admin_url, ""));
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let base = match base[after_scheme..].find('/') {
        Some(i) => &base[..after_scheme + i],
        None => base,
    };
    if query.is_empty() {
        format!("{base}/{name}")
    } else {
        format!("{base}/{name}?{query}")
    }
}

/// The PostgreSQL server for tests, if one is configured.
pub fn postgres_admin_url() -> Option<String> {
    match std::env::var(PG_URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
            assert!(
                !ci,
                "{PG_URL_VAR} is not set under CI: the PostgreSQL cases must run (see .ci/run)"
            );
            eprintln!(
                "\n*** SKIPPING PostgreSQL cases: {PG_URL_VAR} is not set \
                 (start one with .ci/start-postgres DIR PORT) ***\n"
            );
            None
        }
    }
}

impl TestDb {
    pub fn sqlite() -> Self {
        let dir = std::env::temp_dir().join(unique("openevent-test"));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        Self {
            url: format!("sqlite://{}", dir.join("t.db").display()),
            backend: Backend::Sqlite,
            cleanup: Cleanup::Dir(dir),
        }
    }

    /// A new empty database on the test server; `None` (after a loud message) without one.
    pub fn postgres() -> Option<Self> {
        let admin_url = postgres_admin_url()?;
        let name = unique("oe_test");
        let (admin, db) = (admin_url.clone(), name.clone());
        blocking(move || {
            let mut client = postgres::Client::connect(&admin, postgres::NoTls)
                .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL at {admin}: {e}"));
            client
                .batch_execute(&format!("CREATE DATABASE {db}"))
                .expect("CREATE DATABASE");
        });
        Some(Self {
            url: with_database(&admin_url, &name),
            backend: Backend::Postgres,
            cleanup: Cleanup::Database { admin_url, name },
        })
    }

    pub fn of(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => Some(Self::sqlite()),
            Backend::Postgres => Self::postgres(),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Opens the database (migrating it).
    pub async fn open(&self) -> crate::SqlStore {
        crate::SqlStore::open(&self.url)
            .await
            .unwrap_or_else(|e| panic!("opening {}: {e}", self.url))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Database { admin_url, name } => {
                let (admin, name) = (admin_url.clone(), name.clone());
                blocking(move || {
                    if let Ok(mut client) = postgres::Client::connect(&admin, postgres::NoTls) {
                        let _ = client
                            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
                    }
                });
            }
        }
    }
}

/// One test per backend for each `async fn case(db: TestDb)` named:
/// `backend_tests!(case_a, case_b);` makes `sqlite::case_a`, `postgres::case_a`, ….
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::testing::TestDb::sqlite()).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(db) = $crate::testing::TestDb::postgres() {
                        super::$name(db).await
                    }
                }
            )*
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_replace_the_servers() {
        assert_eq!(
            with_database("postgres://u@h:5/postgres", "x"),
            "postgres://u@h:5/x"
        );
        assert_eq!(
            with_database("postgres://u@h:5/postgres?connect_timeout=3", "x"),
            "postgres://u@h:5/x?connect_timeout=3"
        );
        assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
    }
}
