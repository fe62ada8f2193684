//! SQLite behind the store: one connection, owned by one worker thread (see `worker.rs`).
//!
//! A statement through an async driver pays a thread handoff each (50–90 µs measured here),
//! which made a message's fifteen-odd statements cost more than the rest of its processing. Here
//! a caller hands over a closure that runs a whole read or a whole transaction on the
//! connection's own thread, so a turn pays a handful of handoffs, whatever its statement count.
//! SQLite admits one writer at a time anyway, so one connection loses no write concurrency.

use std::sync::Arc;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ToSql};

use crate::StoreError;
use crate::db::{Conn, Row, Value};

impl ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(v) => ValueRef::Integer(*v),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

/// `$1` → `?1`: SQLite numbers `?NNN` parameters exactly, whatever order they appear in.
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

fn bind(stmt: &mut rusqlite::CachedStatement<'_>, params: &[Value]) -> Result<(), StoreError> {
    for (i, v) in params.iter().enumerate() {
        stmt.raw_bind_parameter(i + 1, v)?;
    }
    Ok(())
}

fn value(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        // Only integers are stored; a REAL can come from an aggregate.
        ValueRef::Real(f) => Value::Int(f as i64),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

impl Conn for Connection {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        let mut stmt = self.prepare_cached(&numbered(sql))?;
        bind(&mut stmt, params)?;
        Ok(stmt.raw_execute()? as u64)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        let mut stmt = self.prepare_cached(&numbered(sql))?;
        let columns: Arc<[String]> = stmt.column_names().map(String::from).collect();
        bind(&mut stmt, params)?;
        let mut rows = stmt.raw_query();
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let values = (0..columns.len())
                .map(|i| row.get_ref(i).map(value))
                .collect::<Result<Vec<_>, _>>()?;
            out.push(Row {
                columns: Arc::clone(&columns),
                values,
            });
        }
        Ok(out)
    }

    fn execute_batch(&mut self, sql: &str) -> Result<(), StoreError> {
        Ok(Connection::execute_batch(self, sql)?)
    }

    /// `IMMEDIATE` takes the write lock up front, so a transaction never fails half-way for
    /// another process's write.
    fn begin(&mut self) -> Result<(), StoreError> {
        Ok(Connection::execute_batch(self, "BEGIN IMMEDIATE")?)
    }

    fn backend(&self) -> crate::Backend {
        crate::Backend::Sqlite
    }

    fn in_transaction(&self) -> bool {
        !self.is_autocommit()
    }

    /// Changes exactly when another connection (another process) commits.
    fn data_version(&mut self) -> Result<Option<i64>, StoreError> {
        Ok(Some(
            self.query_row("PRAGMA data_version", [], |r| r.get(0))?,
        ))
    }

    /// A write transaction already holds SQLite's one write lock.
    fn lock_key(&mut self, _key: &str) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worker::Worker;

    #[test]
    fn placeholders_keep_their_numbers() {
        assert_eq!(
            numbered("SELECT $2, $10 WHERE a = $1"),
            "SELECT ?2, ?10 WHERE a = ?1"
        );
        assert_eq!(numbered("SELECT '$' || x"), "SELECT '$' || x");
    }

    #[tokio::test]
    async fn a_failed_or_panicking_transaction_leaves_nothing() {
        let conn = Connection::open_in_memory().unwrap();
        let worker = Worker::spawn(vec![Box::new(conn)], None, true).unwrap();
        worker
            .run(|c| c.execute_batch("CREATE TABLE t (x INTEGER)"))
            .await
            .unwrap();
        let err = worker
            .transaction(|c| {
                c.execute("INSERT INTO t VALUES ($1)", &[Value::Int(1)])?;
                Err::<(), _>(StoreError::Internal("no".into()))
            })
            .await;
        assert!(err.is_err());
        let err = worker
            .transaction(|c| -> Result<(), StoreError> {
                c.execute("INSERT INTO t VALUES ($1)", &[Value::Int(2)])?;
                panic!("boom");
            })
            .await;
        assert!(matches!(err, Err(StoreError::Internal(_))));
        let rows = worker
            .transaction(|c| c.query("SELECT COUNT(*) AS n FROM t", &[]))
            .await
            .unwrap();
        assert_eq!(rows[0].int("n").unwrap(), 0);
        worker.close();
        assert!(matches!(
            worker.run(|_| Ok(())).await,
            Err(StoreError::Closed)
        ));
    }

    /// Transactions queued together share one commit, each in its own savepoint: a failing or
    /// panicking one leaves nothing, the others all land, and each answer comes after the commit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn grouped_transactions_fail_alone() {
        let dir = std::env::temp_dir().join(format!("oe-group-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let conn = Connection::open(dir.join("g.db")).unwrap();
        let worker = Worker::spawn(vec![Box::new(conn)], None, true).unwrap();
        worker
            .run(|c| c.execute_batch("CREATE TABLE t (x INTEGER)"))
            .await
            .unwrap();
        // Keep the thread busy so that the transactions below queue up behind it together.
        let busy = worker.run(|_| {
            std::thread::sleep(std::time::Duration::from_millis(200));
            Ok(())
        });
        let insert = |x: i64| {
            worker.transaction(move |c| c.execute("INSERT INTO t VALUES ($1)", &[Value::Int(x)]))
        };
        let fails = worker.transaction(|c| -> Result<(), StoreError> {
            c.execute("INSERT INTO t VALUES ($1)", &[Value::Int(2)])?;
            Err(StoreError::Internal("no".into()))
        });
        let panics = worker.transaction(|c| -> Result<(), StoreError> {
            c.execute("INSERT INTO t VALUES ($1)", &[Value::Int(3)])?;
            panic!("boom");
        });
        let (_, one, two, three, four) = tokio::join!(busy, insert(1), fails, panics, insert(4));
        assert_eq!(one.unwrap(), 1);
        assert!(two.is_err());
        assert!(matches!(three, Err(StoreError::Internal(_))));
        assert_eq!(four.unwrap(), 1);
        let rows = worker
            .run(|c| c.query("SELECT x FROM t ORDER BY x", &[]))
            .await
            .unwrap();
        let xs: Vec<i64> = rows.iter().map(|r| r.int("x").unwrap()).collect();
        assert_eq!(xs, vec![1, 4]);
        // Nothing was left open: a later transaction commits on its own.
        insert(5).await.unwrap();
        worker.close();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
