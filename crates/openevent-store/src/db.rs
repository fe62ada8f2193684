//! The backend-neutral face of a database connection: values, rows, statements.
//!
//! The store's logic (what to read, what to write, in which transaction) is written once against
//! [`Conn`] and runs synchronously where the connection lives; each backend only moves values in
//! and out. A write is first built as a [`Plan`] of owned statements, so it can be handed to the
//! connection's thread without borrowing from the caller.

use std::borrow::Cow;

use crate::StoreError;

/// A column value in its portable form: integers, text, bytes or NULL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Int(i64::from(v))
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Blob(v)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// Builds a parameter array: `params![org, id, 3_i64]`.
macro_rules! params {
    ($($v:expr),* $(,)?) => { [$($crate::db::Value::from($v)),*] };
}
pub(crate) use params;

/// One result row; columns are looked up by name.
#[derive(Debug, Clone)]
pub struct Row {
    pub(crate) columns: std::sync::Arc<[String]>,
    pub(crate) values: Vec<Value>,
}

impl Row {
    fn value(&self, column: &str) -> Result<&Value, StoreError> {
        self.columns
            .iter()
            .position(|c| c == column)
            .map(|i| &self.values[i])
            .ok_or_else(|| StoreError::Corrupt(format!("no column '{column}' in the result")))
    }

    fn mismatch(column: &str, want: &str, got: &Value) -> StoreError {
        StoreError::Corrupt(format!("column '{column}': expected {want}, found {got:?}"))
    }

    pub fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError> {
        match self.value(column)? {
            Value::Null => Ok(None),
            Value::Text(s) => Ok(Some(s.clone())),
            other => Err(Self::mismatch(column, "text", other)),
        }
    }

    pub fn text(&self, column: &str) -> Result<String, StoreError> {
        self.opt_text(column)?
            .ok_or_else(|| StoreError::Corrupt(format!("column '{column}' is NULL")))
    }

    pub fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError> {
        match self.value(column)? {
            Value::Null => Ok(None),
            Value::Int(v) => Ok(Some(*v)),
            other => Err(Self::mismatch(column, "integer", other)),
        }
    }

    pub fn int(&self, column: &str) -> Result<i64, StoreError> {
        self.opt_int(column)?
            .ok_or_else(|| StoreError::Corrupt(format!("column '{column}' is NULL")))
    }

    /// The first column as an integer (for `COUNT(*)`-style queries).
    pub fn first_int(&self) -> Result<i64, StoreError> {
        match self.values.first() {
            Some(Value::Int(v)) => Ok(*v),
            other => Err(StoreError::Corrupt(format!(
                "expected an integer, found {other:?}"
            ))),
        }
    }
}

/// A connection the store's logic runs on. Statements use `$1`, `$2`, … placeholders.
pub trait Conn {
    /// Runs one statement; returns the number of rows it changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError>;
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError>;
    /// Runs several `;`-separated statements without parameters (migrations).
    fn execute_batch(&mut self, sql: &str) -> Result<(), StoreError>;

    /// Starts a transaction that will write.
    fn begin(&mut self) -> Result<(), StoreError> {
        self.execute_batch("BEGIN")
    }

    fn commit(&mut self) -> Result<(), StoreError> {
        self.execute_batch("COMMIT")
    }

    fn rollback(&mut self) -> Result<(), StoreError> {
        self.execute_batch("ROLLBACK")
    }

    fn backend(&self) -> crate::Backend;

    /// Whether a transaction is open (SQLite ends one by itself after some errors).
    fn in_transaction(&self) -> bool {
        true
    }

    /// True when the connection was lost and must be reopened before the next unit of work.
    fn is_broken(&self) -> bool {
        false
    }

    /// A number that changes whenever another connection committed, when the backend offers
    /// one cheaply (SQLite's `data_version`); `None` means caches must not be trusted.
    fn data_version(&mut self) -> Result<Option<i64>, StoreError>;

    /// Serialises, until the transaction ends, with every other transaction that locks the
    /// same key (SQLite's write transactions are serialised anyway).
    fn lock_key(&mut self, key: &str) -> Result<(), StoreError>;

    fn query_opt(&mut self, sql: &str, params: &[Value]) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }
}

/// One statement of a write plan, with what it means when it changes no row.
#[derive(Debug)]
pub struct Stmt {
    pub sql: Cow<'static, str>,
    pub params: Vec<Value>,
    /// Fail the whole plan (rolling back) with this error when the statement changed no row.
    pub none_changed: Option<StoreError>,
}

impl Stmt {
    pub fn new(sql: impl Into<Cow<'static, str>>, params: impl Into<Vec<Value>>) -> Self {
        Self {
            sql: sql.into(),
            params: params.into(),
            none_changed: None,
        }
    }

    /// The statement must change a row, else the plan fails with `error`.
    pub fn or_fail(mut self, error: StoreError) -> Self {
        self.none_changed = Some(error);
        self
    }
}

/// The statements of one transaction, in order.
pub type Plan = Vec<Stmt>;

/// Runs a plan on a connection that is inside a transaction; the caller commits or rolls back.
pub fn execute_plan(conn: &mut dyn Conn, plan: Plan) -> Result<(), StoreError> {
    for stmt in plan {
        let changed = conn.execute(&stmt.sql, &stmt.params)?;
        if changed == 0
            && let Some(error) = stmt.none_changed
        {
            return Err(error);
        }
    }
    Ok(())
}
