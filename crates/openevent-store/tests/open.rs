//! Opening databases made by other versions: the schema history is checked, never guessed.

use openevent_store::{SqlStore, Store, StoreError};

fn path(dir: &tempfile::TempDir) -> (std::path::PathBuf, String) {
    let p = dir.path().join("x.db");
    let url = format!("sqlite://{}", p.display());
    (p, url)
}

#[tokio::test]
async fn a_database_from_the_sqlx_era_is_adopted_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let (p, url) = path(&dir);
    // What the first releases left: the schema of migrations 1-3 plus sqlx's history table.
    let store = SqlStore::open(&url).await.unwrap();
    store.close().await;
    let conn = rusqlite::Connection::open(&p).unwrap();
    conn.execute_batch(
        "INSERT INTO organizations (org_id, name, created_at) VALUES ('acme', 'acme', 0);
         DROP TABLE schema_migrations;
         DROP TABLE api_tokens; DROP INDEX events_by_org_created; DROP INDEX events_occupancy;
         DROP TABLE automation_orgs; DROP TABLE automation_workflows; DROP TABLE automation_rules;
         DROP TABLE automation_bookings; DROP INDEX outbox_by_event;
         ALTER TABLE outbox DROP COLUMN kind; ALTER TABLE outbox DROP COLUMN workflow_key;
         DROP TABLE venues;
         CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL,
           installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, success BOOLEAN NOT NULL,
           checksum BLOB NOT NULL, execution_time BIGINT NOT NULL);
         INSERT INTO _sqlx_migrations VALUES (1, 'init', CURRENT_TIMESTAMP, TRUE, X'00', 0),
           (2, 'workflow', CURRENT_TIMESTAMP, TRUE, X'00', 0), (3, 'indexes', CURRENT_TIMESTAMP, TRUE, X'00', 0);",
    )
    .unwrap();
    drop(conn);
    let store = SqlStore::open(&url).await.unwrap();
    assert_eq!(
        store.schema_version().await.unwrap(),
        SqlStore::known_schema_version()
    );
    assert_eq!(store.table_counts().await.unwrap()["organizations"], 1);
}

#[tokio::test]
async fn an_edited_migration_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (p, url) = path(&dir);
    SqlStore::open(&url).await.unwrap().close().await;
    let conn = rusqlite::Connection::open(&p).unwrap();
    conn.execute_batch("UPDATE schema_migrations SET checksum = 'abc' WHERE version = 2")
        .unwrap();
    drop(conn);
    let err = SqlStore::open(&url).await.unwrap_err();
    assert!(matches!(err, StoreError::Migrate(_)), "{err}");
    assert!(err.to_string().contains("migration 2"), "{err}");
}

#[tokio::test]
async fn unknown_url_options_are_refused() {
    let err = SqlStore::open("sqlite://x.db?cache=shared")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UnsupportedUrl(_)), "{err}");
}

/// The two backends' migrations must describe the same tables and columns (names, portable
/// types, nullability): the store's statements are shared, so a drift would fail on one only.
#[tokio::test]
async fn both_backends_migrate_to_the_same_tables_and_columns() {
    use openevent_store::testing::TestDb;
    let sqlite_db = TestDb::sqlite();
    let Some(pg_db) = TestDb::postgres() else {
        return;
    };
    let sqlite = sqlite_db.open().await.schema().await.unwrap();
    let postgres = pg_db.open().await.schema().await.unwrap();
    assert!(
        sqlite.contains_key("events") && sqlite.len() >= 15,
        "{sqlite:?}"
    );
    for (table, columns) in &sqlite {
        assert_eq!(
            Some(columns),
            postgres.get(table),
            "table {table} differs between SQLite and PostgreSQL"
        );
    }
    assert_eq!(
        sqlite.keys().collect::<Vec<_>>(),
        postgres.keys().collect::<Vec<_>>()
    );
}
