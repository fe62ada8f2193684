//! PostgreSQL behind the store: a pool of threads, each owning one connection (see
//! `worker.rs`); the store's logic and statements are the same as on SQLite.
//!
//! Differences from SQLite that the logic asks for through [`Conn`]: no cheap "did another
//! process write" counter (so caches are bypassed), transaction-scoped advisory locks where
//! SQLite's single writer serialised for free, and `FOR UPDATE SKIP LOCKED` claims (see
//! `outbox.rs`). An outbox insert notifies `openevent_outbox` (a trigger from the migrations), so
//! idle dispatchers in every process wake at once.

use std::collections::HashMap;
use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, NoTls, Statement};

use crate::StoreError;
use crate::db::{Conn, Row, Value};

/// The channel outbox inserts notify.
pub(crate) const OUTBOX_CHANNEL: &str = "openevent_outbox";

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(v) => match *ty {
                Type::INT8 => v.to_sql(ty, out),
                Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
                Type::BOOL => (*v != 0).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => v.to_string().to_sql(ty, out),
                _ => Err(format!("an integer cannot be bound to a {ty} parameter").into()),
            },
            Value::Text(s) => s.to_sql(ty, out),
            Value::Blob(b) => b.to_sql(ty, out),
        }
    }

    /// Every parameter type is accepted here; `to_sql` refuses the combinations that make no
    /// sense with a clear message.
    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn value(row: &postgres::Row, i: usize) -> Result<Value, StoreError> {
    let ty = row.columns()[i].type_();
    Ok(match *ty {
        Type::INT8 => row
            .try_get::<_, Option<i64>>(i)?
            .map_or(Value::Null, Value::Int),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(i)?
            .map_or(Value::Null, |v| Value::Int(v.into())),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(i)?
            .map_or(Value::Null, |v| Value::Int(v.into())),
        Type::BOOL => row
            .try_get::<_, Option<bool>>(i)?
            .map_or(Value::Null, |v| Value::Int(v.into())),
        // Only integers are stored; a float can come from an aggregate.
        Type::FLOAT8 => row
            .try_get::<_, Option<f64>>(i)?
            .map_or(Value::Null, |v| Value::Int(v as i64)),
        Type::BYTEA => row
            .try_get::<_, Option<Vec<u8>>>(i)?
            .map_or(Value::Null, Value::Blob),
        _ => row
            .try_get::<_, Option<String>>(i)?
            .map_or(Value::Null, Value::Text),
    })
}

/// Prepared statements are kept per connection; the cache is dropped whole when it grows past
/// this (statements are built from a bounded set of shapes, so it rarely does).
const STATEMENT_CACHE: usize = 512;

pub(crate) struct PgConn {
    client: Client,
    statements: HashMap<String, Statement>,
}

/// How connections are opened.
#[derive(Clone)]
pub(crate) struct PgSettings {
    pub config: postgres::Config,
    pub statement_timeout: Duration,
}

impl PgConn {
    pub(crate) fn connect(settings: &PgSettings) -> Result<Self, StoreError> {
        let mut client = settings
            .config
            .connect(NoTls)
            .map_err(|e| StoreError::Unavailable(describe(&e)))?;
        // A statement that hangs (a lock never released, a runaway query) fails instead of
        // holding a worker; a transaction left open by a dead client is ended by the server.
        client.batch_execute(&format!(
            "SET statement_timeout = {}; SET idle_in_transaction_session_timeout = {}",
            settings.statement_timeout.as_millis(),
            settings.statement_timeout.as_millis().saturating_mul(2),
        ))?;
        Ok(Self {
            client,
            statements: HashMap::new(),
        })
    }

    fn statement(&mut self, sql: &str) -> Result<Statement, StoreError> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql)?;
        if self.statements.len() >= STATEMENT_CACHE {
            self.statements.clear();
        }
        self.statements.insert(sql.to_owned(), s.clone());
        Ok(s)
    }
}

/// The error with its cause chain (the driver's top-level message alone often says only "error
/// connecting to server").
pub(crate) fn describe(e: &postgres::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let t = s.to_string();
        if !text.contains(&t) {
            text.push_str(": ");
            text.push_str(&t);
        }
        source = s.source();
    }
    text
}

fn refs(params: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

impl Conn for PgConn {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        let stmt = self.statement(sql)?;
        Ok(self.client.execute(&stmt, &refs(params))?)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        let stmt = self.statement(sql)?;
        let columns: Arc<[String]> = stmt.columns().iter().map(|c| c.name().to_owned()).collect();
        let rows = self.client.query(&stmt, &refs(params))?;
        rows.iter()
            .map(|row| {
                Ok(Row {
                    columns: Arc::clone(&columns),
                    values: (0..columns.len())
                        .map(|i| value(row, i))
                        .collect::<Result<_, _>>()?,
                })
            })
            .collect()
    }

    fn execute_batch(&mut self, sql: &str) -> Result<(), StoreError> {
        Ok(self.client.batch_execute(sql)?)
    }

    fn backend(&self) -> crate::Backend {
        crate::Backend::Postgres
    }

    fn is_broken(&self) -> bool {
        self.client.is_closed()
    }

    fn data_version(&mut self) -> Result<Option<i64>, StoreError> {
        Ok(None)
    }

    fn lock_key(&mut self, key: &str) -> Result<(), StoreError> {
        self.query(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))::TEXT AS locked",
            &[Value::Text(key.to_owned())],
        )?;
        Ok(())
    }
}

/// Listens for outbox inserts of every process and wakes this process's dispatcher; reconnects
/// after a lost connection (a missed notification costs at most the dispatcher's idle poll).
pub(crate) fn spawn_listener(
    settings: PgSettings,
    signal: Arc<tokio::sync::Notify>,
    stop: Arc<AtomicBool>,
) -> Result<(), StoreError> {
    std::thread::Builder::new()
        .name("openevent-pg-listen".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match listen(&settings, &signal, &stop) {
                    Ok(()) => return,
                    Err(e) => {
                        tracing::warn!(error = %e, "outbox listener lost its connection; reconnecting in 1 s");
                        std::thread::sleep(Duration::from_secs(1));
                    }
                }
            }
        })
        .map(drop)
        .map_err(|e| StoreError::Internal(format!("cannot start the listener thread: {e}")))
}

fn listen(
    settings: &PgSettings,
    signal: &tokio::sync::Notify,
    stop: &AtomicBool,
) -> Result<(), StoreError> {
    let mut conn = PgConn::connect(settings)?;
    conn.client
        .batch_execute(&format!("LISTEN {OUTBOX_CHANNEL}"))?;
    // After (re)connecting, jobs may have arrived unnoticed.
    wake(signal);
    while !stop.load(Ordering::Relaxed) {
        let mut notifications = conn.client.notifications();
        let mut arrived = notifications.timeout_iter(Duration::from_millis(500));
        let mut any = false;
        while arrived.next()?.is_some() {
            any = true;
        }
        if any {
            wake(signal);
        }
    }
    Ok(())
}

/// Wakes a dispatcher that is waiting, and leaves a permit for one that is not yet.
fn wake(signal: &tokio::sync::Notify) {
    signal.notify_waiters();
    signal.notify_one();
}
