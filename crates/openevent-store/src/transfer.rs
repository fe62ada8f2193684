//! One organization's data as JSON lines, to move it between databases (SQLite ⇄ PostgreSQL).
//!
//! Format version 1: a header line
//! `{"format":"openevent-export","version":1,"schema_version":N,"org":"slug"}`, then one line
//! `{"table":"events","row":{"org_id":"slug",…}}` per row of every table that has an `org_id`
//! column, parents before children so that foreign keys hold at every insert. Integers are JSON
//! numbers, text is strings, NULL is null, bytes are `{"$bytes":"<hex>"}`.
//!
//! The same data gives the same bytes whichever backend it comes from: columns in schema order
//! (a test keeps both backends' schemas identical) and rows in primary key order, with text keys
//! compared bytewise on both backends (PostgreSQL's default collation may be a language's).
//!
//! Keys the database generates (`history.id`, `audit.id`) are global across organizations, so
//! they are not exported: the target assigns its own, in the exported order, which keeps the
//! order those tables are read in.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use jiff::civil::Date;
use openevent_core::ids::OrgSlug;
use serde::Serialize;
use serde_json::Value as Json;

use crate::StoreError;
use crate::calendar_cache::CalendarCache;
use crate::db::{Conn, Value, params};
use crate::migrate::HISTORY_TABLE;
use crate::open::Backend;
use crate::sql::{Column, ColumnType, SqlStore};
use crate::worker::in_transaction;

const FORMAT: &str = "openevent-export";
const FORMAT_VERSION: i64 = 1;
const ORG_COLUMN: &str = "org_id";

/// Parents before children; organization tables not named here follow, by name.
const TABLE_ORDER: [&str; 15] = [
    "organizations",
    "clients",
    "events",
    "messages",
    "history",
    "audit",
    "drafts",
    "tasks",
    "outbox",
    "api_tokens",
    "automation_orgs",
    "automation_workflows",
    "automation_rules",
    "automation_bookings",
    "venues",
];

/// Export pages aim at this many bytes: a page of small rows grows, a page of raw mails (up to
/// 25 MB each) shrinks, so memory stays bounded either way. Sizes stay powers of two, so that
/// PostgreSQL sees few distinct `FETCH` statements.
const PAGE_BYTES: usize = 4 << 20;
const MAX_PAGE: usize = 1024;
const FIRST_PAGE: usize = 256;
const FIRST_PAGE_WITH_BYTES: usize = 4;

/// Rows per `INSERT`, within SQLite's limit on the parameters of one statement (PostgreSQL
/// allows more).
const INSERT_ROWS: usize = 100;
const MAX_PARAMS: usize = 32766;
/// An `INSERT` is sent early once its rows carry this much, so raw mails do not pile up.
const BATCH_BYTES: usize = 4 << 20;
/// Batches parsed ahead of the database.
const QUEUE: usize = 4;

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportReport {
    pub org: OrgSlug,
    pub schema_version: i64,
    /// Rows per organization table (empty tables included).
    pub rows: BTreeMap<String, u64>,
}

impl ExportReport {
    pub fn total(&self) -> u64 {
        self.rows.values().sum()
    }
}

/// What an import wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    pub org: OrgSlug,
    pub schema_version: i64,
    /// Rows per organization table of this database (empty tables included).
    pub rows: BTreeMap<String, u64>,
}

impl ImportReport {
    pub fn total(&self) -> u64 {
        self.rows.values().sum()
    }
}

/// A table with an `org_id` column, as this database has it.
#[derive(Debug, Clone)]
struct OrgTable {
    name: String,
    /// Exported and imported, in schema order.
    columns: Vec<Column>,
    /// The export's row order: the primary key without `org_id` (constant within an export); all
    /// exported columns when there is no key.
    order: Vec<Column>,
    /// True when `order` is a primary key (unique), so pages can seek past the last row.
    keyed: bool,
    /// A key the database assigns (not exported, refused on import).
    generated: Option<String>,
}

impl OrgTable {
    fn column_list(&self) -> String {
        join(self.columns.iter().map(|c| c.name.as_str()))
    }
}

fn join<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.collect::<Vec<_>>().join(", ")
}

/// Table and column names are put into statements: only plain identifiers are accepted.
fn check_identifier(name: &str) -> Result<(), StoreError> {
    let ok = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && name.bytes().next().is_some_and(|b| !b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(StoreError::Corrupt(format!(
            "unexpected table or column name '{name}' in the schema"
        )))
    }
}

/// The primary key's columns in key order, and the one among them the database assigns, if any.
fn primary_key(c: &mut dyn Conn, table: &str) -> Result<(Vec<String>, Option<String>), StoreError> {
    let rows = match c.backend() {
        // A single INTEGER PRIMARY KEY column is the rowid, assigned by SQLite.
        Backend::Sqlite => c.query(
            "SELECT name AS col, (pk = 1 AND UPPER(type) = 'INTEGER') AS generated \
             FROM pragma_table_info($1) WHERE pk > 0 ORDER BY pk",
            &params![table],
        )?,
        Backend::Postgres => c.query(
            "SELECT a.attname::TEXT AS col, \
             (a.attidentity IN ('a', 'd') OR COALESCE(pg_get_expr(d.adbin, d.adrelid), '') LIKE 'nextval(%') AS generated \
             FROM pg_class t \
             JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = current_schema() \
             JOIN pg_index i ON i.indrelid = t.oid AND i.indisprimary \
             JOIN LATERAL unnest(i.indkey::INT2[]) WITH ORDINALITY AS k(attnum, pos) ON TRUE \
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
             LEFT JOIN pg_attrdef d ON d.adrelid = t.oid AND d.adnum = a.attnum \
             WHERE t.relname::TEXT = $1 ORDER BY k.pos",
            &params![table],
        )?,
    };
    let mut key = Vec::with_capacity(rows.len());
    let mut generated = None;
    for row in &rows {
        let col = row.text("col")?;
        if rows.len() == 1 && row.int("generated")? != 0 {
            generated = Some(col.clone());
        }
        key.push(col);
    }
    Ok((key, generated))
}

/// The organization tables in export order.
fn org_tables(
    c: &mut dyn Conn,
    schema: &BTreeMap<String, Vec<Column>>,
) -> Result<Vec<OrgTable>, StoreError> {
    let mut names: Vec<&String> = schema
        .iter()
        .filter(|(t, cols)| {
            t.as_str() != HISTORY_TABLE && cols.iter().any(|c| c.name == ORG_COLUMN)
        })
        .map(|(t, _)| t)
        .collect();
    names.sort_by_key(|t| {
        (
            TABLE_ORDER
                .iter()
                .position(|o| o == t)
                .unwrap_or(TABLE_ORDER.len()),
            t.as_str(),
        )
    });
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let all = &schema[name];
        check_identifier(name)?;
        for col in all {
            check_identifier(&col.name)?;
        }
        let (key, generated) = primary_key(c, name)?;
        let columns: Vec<Column> = all
            .iter()
            .filter(|c| Some(&c.name) != generated.as_ref())
            .cloned()
            .collect();
        let keyed = !key.is_empty();
        let order = if keyed {
            key.iter()
                .filter(|k| k.as_str() != ORG_COLUMN)
                .map(|k| {
                    all.iter().find(|c| &c.name == k).cloned().ok_or_else(|| {
                        StoreError::Corrupt(format!("key column {name}.{k} is not in the schema"))
                    })
                })
                .collect::<Result<_, _>>()?
        } else {
            columns.clone()
        };
        out.push(OrgTable {
            name: name.clone(),
            columns,
            order,
            keyed,
            generated,
        });
    }
    Ok(out)
}

impl SqlStore {
    /// Writes every row of `org` as JSON lines (see the module documentation) from one
    /// consistent snapshot, a page at a time. Fails with [`StoreError::NotFound`] when the
    /// database holds nothing of the organization.
    pub async fn export_org(
        &self,
        org: &OrgSlug,
        out: Box<dyn Write + Send>,
    ) -> Result<ExportReport, StoreError> {
        let schema = self.schema().await?;
        let org = org.clone();
        // Written from the connection's thread: the snapshot lives in the connection, and the
        // rows then never wait in a queue.
        self.db
            .run(move |c| {
                let tables = org_tables(c, &schema)?;
                in_snapshot(c, |c| export(c, &tables, org, out))
            })
            .await
    }

    /// Reads an export and inserts it in one transaction: all of it or, on any refusal (see
    /// [`StoreError::Import`], [`StoreError::OrgExists`], [`StoreError::ImportInsert`]), nothing.
    /// The input is parsed on a thread of its own while earlier rows are inserted.
    pub async fn import_org(
        &self,
        input: Box<dyn BufRead + Send>,
    ) -> Result<ImportReport, StoreError> {
        let schema = self.schema().await?;
        let tables = Arc::new(self.db.run(move |c| org_tables(c, &schema)).await?);
        let (tx, mut rx) = tokio::sync::mpsc::channel(QUEUE);
        let reader = Arc::clone(&tables);
        std::thread::Builder::new()
            .name("openevent-import".into())
            .spawn(move || read_export(input, &reader, &tx))
            .map_err(|e| StoreError::Internal(format!("cannot start the import reader: {e}")))?;
        // A bad header is refused before the database is touched.
        let org = match rx.recv().await {
            Some(Ok(Item::Header(org))) => org,
            Some(Err(e)) => return Err(e),
            _ => return Err(reader_stopped()),
        };
        let calendar = Arc::clone(&self.calendar);
        let report = self
            .db
            .run(move |c| {
                let report = in_transaction(c, |c| import_rows(c, &tables, org, &mut rx))?;
                learn_calendar(c, &calendar, &report.org);
                Ok(report)
            })
            .await?;
        self.wake_dispatcher(report.rows.get("outbox").is_some_and(|n| *n > 0));
        Ok(report)
    }
}

/// Runs `f` in a read-only snapshot: SQLite's deferred transaction takes no write lock (in WAL
/// mode writers go on), PostgreSQL's repeatable read sees one state for all statements.
fn in_snapshot<T>(
    c: &mut dyn Conn,
    f: impl FnOnce(&mut dyn Conn) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    c.execute_batch(match c.backend() {
        Backend::Sqlite => "BEGIN DEFERRED",
        Backend::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
    })?;
    let outcome = catch_unwind(AssertUnwindSafe(|| f(&mut *c)))
        .unwrap_or_else(|_| Err(StoreError::Internal("the export panicked".into())));
    let end = c.execute_batch(if outcome.is_ok() {
        "COMMIT"
    } else {
        "ROLLBACK"
    });
    let value = outcome?;
    end?;
    Ok(value)
}

fn write_failed(e: impl std::fmt::Display) -> StoreError {
    StoreError::Export(format!("cannot write the export: {e}"))
}

fn export(
    c: &mut dyn Conn,
    tables: &[OrgTable],
    org: OrgSlug,
    out: Box<dyn Write + Send>,
) -> Result<ExportReport, StoreError> {
    let schema_version = crate::migrate::applied_version(c)?;
    let mut any = false;
    for t in tables {
        let sql = format!(
            "SELECT 1 AS found FROM {} WHERE org_id = $1 LIMIT 1",
            t.name
        );
        if c.query_opt(&sql, &params![org.as_str()])?.is_some() {
            any = true;
            break;
        }
    }
    if !any {
        return Err(StoreError::NotFound(format!("organization {org}")));
    }
    let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
    let mut line = format!(
        "{{\"format\":\"{FORMAT}\",\"version\":{FORMAT_VERSION},\"schema_version\":{schema_version},\"org\":"
    )
    .into_bytes();
    serde_json::to_writer(&mut line, org.as_str()).map_err(write_failed)?;
    line.extend_from_slice(b"}\n");
    out.write_all(&line).map_err(write_failed)?;
    let mut rows = BTreeMap::new();
    for t in tables {
        let n = export_table(c, t, &org, &mut out, &mut line)?;
        rows.insert(t.name.clone(), n);
    }
    out.flush().map_err(write_failed)?;
    Ok(ExportReport {
        org,
        schema_version,
        rows,
    })
}

/// How an export walks a table's rows in order, a page at a time.
enum Pager {
    /// SQLite with a key: each page seeks past the previous page's last key (the key's index
    /// gives the order; SQLite compares text bytewise).
    Seek {
        first: String,
        next: String,
        /// Where the key's columns are in a selected row.
        key_at: Vec<usize>,
        after: Option<Vec<Value>>,
    },
    /// SQLite without a usable key (at most one row, or a table without one).
    Offset { sql: String, offset: i64 },
    /// PostgreSQL: one cursor over the sorted rows (text sorted bytewise with `COLLATE "C"`,
    /// which no index serves, so the sort happens once rather than once per page).
    Cursor {
        declare: String,
        name: String,
        open: bool,
    },
}

impl Pager {
    fn new(backend: Backend, t: &OrgTable, select: &[&Column]) -> Self {
        let list = join(select.iter().map(|c| c.name.as_str()));
        let table = &t.name;
        match backend {
            Backend::Sqlite if t.keyed && !t.order.is_empty() => {
                let keys = join(t.order.iter().map(|c| c.name.as_str()));
                let placeholders = (0..t.order.len())
                    .map(|i| format!("${}", i + 3))
                    .collect::<Vec<_>>()
                    .join(", ");
                Pager::Seek {
                    first: format!(
                        "SELECT {list} FROM {table} WHERE org_id = $1 ORDER BY {keys} LIMIT $2"
                    ),
                    next: format!(
                        "SELECT {list} FROM {table} WHERE org_id = $1 AND ({keys}) > ({placeholders}) \
                         ORDER BY {keys} LIMIT $2"
                    ),
                    key_at: t
                        .order
                        .iter()
                        .map(|k| select.iter().position(|c| c.name == k.name).unwrap_or(0))
                        .collect(),
                    after: None,
                }
            }
            Backend::Sqlite => {
                let order = if t.order.is_empty() {
                    &t.columns
                } else {
                    &t.order
                };
                let keys = join(order.iter().map(|c| c.name.as_str()));
                Pager::Offset {
                    sql: format!(
                        "SELECT {list} FROM {table} WHERE org_id = $1 ORDER BY {keys} LIMIT $2 OFFSET $3"
                    ),
                    offset: 0,
                }
            }
            Backend::Postgres => {
                let order = if t.order.is_empty() {
                    &t.columns
                } else {
                    &t.order
                };
                let keys = order
                    .iter()
                    .map(|c| {
                        let collate = if c.ty == ColumnType::Text {
                            " COLLATE \"C\""
                        } else {
                            ""
                        };
                        // SQLite sorts NULL first.
                        let nulls = if c.required { "" } else { " NULLS FIRST" };
                        format!("{}{collate}{nulls}", c.name)
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                let name = format!("openevent_export_{table}");
                Pager::Cursor {
                    declare: format!(
                        "DECLARE {name} NO SCROLL CURSOR FOR SELECT {list} FROM {table} \
                         WHERE org_id = $1 ORDER BY {keys}"
                    ),
                    name,
                    open: false,
                }
            }
        }
    }

    fn page(
        &mut self,
        c: &mut dyn Conn,
        org: &str,
        limit: usize,
    ) -> Result<Vec<crate::db::Row>, StoreError> {
        let n = i64::try_from(limit).unwrap_or(i64::MAX);
        match self {
            Pager::Seek {
                first, next, after, ..
            } => match after {
                None => c.query(first, &params![org, n]),
                Some(key) => {
                    let mut p = Vec::from(params![org, n]);
                    p.extend(key.iter().cloned());
                    c.query(next, &p)
                }
            },
            Pager::Offset { sql, offset } => c.query(sql, &params![org, n, *offset]),
            Pager::Cursor {
                declare,
                name,
                open,
            } => {
                if !*open {
                    c.execute(declare, &params![org])?;
                    *open = true;
                }
                c.query(&format!("FETCH FORWARD {limit} FROM {name}"), &[])
            }
        }
    }

    fn advance(&mut self, page: &[crate::db::Row]) {
        match self {
            Pager::Seek { key_at, after, .. } => {
                if let Some(last) = page.last() {
                    *after = Some(key_at.iter().map(|i| last.values[*i].clone()).collect());
                }
            }
            Pager::Offset { offset, .. } => {
                *offset += i64::try_from(page.len()).unwrap_or(i64::MAX);
            }
            Pager::Cursor { .. } => {}
        }
    }

    fn close(&mut self, c: &mut dyn Conn) -> Result<(), StoreError> {
        if let Pager::Cursor {
            name, open: true, ..
        } = self
        {
            c.execute_batch(&format!("CLOSE {name}"))?;
        }
        Ok(())
    }
}

fn next_limit(limit: usize, page_bytes: usize) -> usize {
    if page_bytes > PAGE_BYTES {
        (limit / 2).max(1)
    } else if page_bytes < PAGE_BYTES / 4 {
        (limit * 2).min(MAX_PAGE)
    } else {
        limit
    }
}

fn export_table(
    c: &mut dyn Conn,
    t: &OrgTable,
    org: &OrgSlug,
    out: &mut dyn Write,
    line: &mut Vec<u8>,
) -> Result<u64, StoreError> {
    // The exported columns first; a generated key the order needs comes after them, unwritten.
    let mut select: Vec<&Column> = t.columns.iter().collect();
    for k in &t.order {
        if !select.iter().any(|c| c.name == k.name) {
            select.push(k);
        }
    }
    let mut pager = Pager::new(c.backend(), t, &select);
    let mut limit = if t.columns.iter().any(|c| c.ty == ColumnType::Bytes) {
        FIRST_PAGE_WITH_BYTES
    } else {
        FIRST_PAGE
    };
    let mut written = 0_u64;
    loop {
        let page = pager.page(c, org.as_str(), limit)?;
        let mut bytes = 0;
        for row in &page {
            line.clear();
            row_line(line, t, &row.values)?;
            out.write_all(line).map_err(write_failed)?;
            bytes += line.len();
        }
        written += page.len() as u64;
        if page.len() < limit {
            break;
        }
        pager.advance(&page);
        limit = next_limit(limit, bytes);
    }
    pager.close(c)?;
    Ok(written)
}

fn type_name(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Integer => "an integer",
        ColumnType::Text => "text",
        ColumnType::Bytes => "bytes",
    }
}

/// One row's line; fails when a value is not of its column's type (the import would refuse it).
fn row_line(line: &mut Vec<u8>, t: &OrgTable, values: &[Value]) -> Result<(), StoreError> {
    line.extend_from_slice(b"{\"table\":\"");
    line.extend_from_slice(t.name.as_bytes());
    line.extend_from_slice(b"\",\"row\":{");
    for (i, (col, value)) in t.columns.iter().zip(values).enumerate() {
        if i > 0 {
            line.push(b',');
        }
        line.push(b'"');
        line.extend_from_slice(col.name.as_bytes());
        line.extend_from_slice(b"\":");
        match (col.ty, value) {
            (_, Value::Null) => line.extend_from_slice(b"null"),
            (ColumnType::Integer, Value::Int(v)) => {
                line.extend_from_slice(v.to_string().as_bytes())
            }
            (ColumnType::Text, Value::Text(s)) => {
                serde_json::to_writer(&mut *line, s).map_err(write_failed)?;
            }
            (ColumnType::Bytes, Value::Blob(b)) => {
                line.extend_from_slice(b"{\"$bytes\":\"");
                line.extend_from_slice(hex::encode(b).as_bytes());
                line.extend_from_slice(b"\"}");
            }
            (ty, other) => {
                return Err(StoreError::Corrupt(format!(
                    "{}.{} holds {other:?} where the schema says {}",
                    t.name,
                    col.name,
                    type_name(ty)
                )));
            }
        }
    }
    line.extend_from_slice(b"}}\n");
    Ok(())
}

/// What the import reader hands to the database thread.
enum Item {
    Header(OrgSlug),
    Batch(Batch),
    /// The input ended after its last row: without it, nothing is committed.
    End,
}

/// Consecutive rows of one table, in its `columns` order: one `INSERT`.
struct Batch {
    table: usize,
    rows: Vec<Vec<Value>>,
    first_line: usize,
    last_line: usize,
    bytes: usize,
    capacity: usize,
}

fn refused(line: usize, detail: impl Into<String>) -> StoreError {
    StoreError::Import {
        line,
        detail: detail.into(),
    }
}

fn reader_stopped() -> StoreError {
    StoreError::Internal("the import reader stopped before the end of the input".into())
}

fn read_export(
    mut input: Box<dyn BufRead + Send>,
    tables: &[OrgTable],
    tx: &tokio::sync::mpsc::Sender<Result<Item, StoreError>>,
) {
    if let Err(e) = read_lines(&mut *input, tables, tx) {
        let _ = tx.blocking_send(Err(e));
    }
}

/// The input's non-blank lines with their numbers (counting from 1).
struct Lines<'a> {
    input: &'a mut dyn BufRead,
    number: usize,
    buf: Vec<u8>,
}

impl Lines<'_> {
    fn next(&mut self) -> Result<Option<(usize, &[u8])>, StoreError> {
        loop {
            self.buf.clear();
            let read = self
                .input
                .read_until(b'\n', &mut self.buf)
                .map_err(|e| refused(self.number + 1, format!("cannot read the input: {e}")))?;
            if read == 0 {
                return Ok(None);
            }
            self.number += 1;
            if !self.buf.iter().all(u8::is_ascii_whitespace) {
                return Ok(Some((self.number, &self.buf)));
            }
        }
    }
}

/// Parses, checks and batches the input; stops quietly when the database side gave up.
fn read_lines(
    input: &mut dyn BufRead,
    tables: &[OrgTable],
    tx: &tokio::sync::mpsc::Sender<Result<Item, StoreError>>,
) -> Result<(), StoreError> {
    let send = |item: Item| tx.blocking_send(Ok(item)).is_ok();
    let mut lines = Lines {
        input,
        number: 0,
        buf: Vec::new(),
    };
    let Some((n, text)) = lines.next()? else {
        return Err(refused(
            1,
            "the input is empty; expected an openevent export's header line",
        ));
    };
    let org = header(n, text)?;
    if !send(Item::Header(org.clone())) {
        return Ok(());
    }
    let mut batch: Option<Batch> = None;
    while let Some((n, text)) = lines.next()? {
        let (table, values, bytes) = parse_row(n, text, tables, &org)?;
        if let Some(b) = batch
            .take_if(|b| b.table != table || b.rows.len() >= b.capacity || b.bytes >= BATCH_BYTES)
            && !send(Item::Batch(b))
        {
            return Ok(());
        }
        let b = batch.get_or_insert_with(|| Batch {
            table,
            rows: Vec::new(),
            first_line: n,
            last_line: n,
            bytes: 0,
            capacity: (MAX_PARAMS / tables[table].columns.len().max(1)).clamp(1, INSERT_ROWS),
        });
        b.rows.push(values);
        b.last_line = n;
        b.bytes += bytes;
    }
    if let Some(b) = batch
        && !send(Item::Batch(b))
    {
        return Ok(());
    }
    send(Item::End);
    Ok(())
}

fn not_json(n: usize, e: &serde_json::Error) -> StoreError {
    match e.classify() {
        serde_json::error::Category::Data => refused(n, format!("not an export line: {e}")),
        _ => refused(n, format!("not valid JSON: {e}")),
    }
}

fn header(n: usize, text: &[u8]) -> Result<OrgSlug, StoreError> {
    let value: Json = serde_json::from_slice(text).map_err(|e| not_json(n, &e))?;
    let Json::Object(mut h) = value else {
        return Err(refused(n, "expected the export's header object"));
    };
    match h.remove("format") {
        Some(Json::String(f)) if f == FORMAT => {}
        other => {
            return Err(refused(
                n,
                format!(
                    "not an openevent export: format is {}, expected \"{FORMAT}\"",
                    other.map_or_else(|| "missing".into(), |v| v.to_string())
                ),
            ));
        }
    }
    match h.remove("version") {
        Some(Json::Number(v)) if v.as_i64() == Some(FORMAT_VERSION) => {}
        other => {
            return Err(refused(
                n,
                format!(
                    "export format version {} is not supported; this openevent reads version {FORMAT_VERSION}",
                    other.map_or_else(|| "missing".into(), |v| v.to_string())
                ),
            ));
        }
    }
    let known = SqlStore::known_schema_version();
    match h.remove("schema_version") {
        Some(Json::Number(v)) if v.as_i64() == Some(known) => {}
        other => {
            return Err(refused(
                n,
                format!(
                    "the export was made at database schema version {}, this openevent is at {known}; \
                     export and import with openevent versions of the same schema",
                    other.map_or_else(|| "missing".into(), |v| v.to_string())
                ),
            ));
        }
    }
    let org = match h.remove("org") {
        Some(Json::String(s)) => {
            OrgSlug::parse(&s).map_err(|e| refused(n, format!("organization: {e}")))?
        }
        _ => return Err(refused(n, "the header names no organization (\"org\")")),
    };
    if let Some(field) = h.keys().next() {
        return Err(refused(n, format!("unexpected header field \"{field}\"")));
    }
    Ok(org)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RowLine {
    table: String,
    row: serde_json::Map<String, Json>,
}

/// One row line as its table's index, values in the table's column order, and its size.
fn parse_row(
    n: usize,
    text: &[u8],
    tables: &[OrgTable],
    org: &OrgSlug,
) -> Result<(usize, Vec<Value>, usize), StoreError> {
    let RowLine { table, mut row } = serde_json::from_slice(text).map_err(|e| not_json(n, &e))?;
    let Some(index) = tables.iter().position(|t| t.name == table) else {
        return Err(refused(
            n,
            format!(
                "unknown table '{table}': this database has no organization table of that name"
            ),
        ));
    };
    let t = &tables[index];
    for name in row.keys() {
        if t.generated.as_ref() == Some(name) {
            return Err(refused(
                n,
                format!("{table}.{name} is assigned by the database and cannot be imported"),
            ));
        }
        if !t.columns.iter().any(|c| &c.name == name) {
            return Err(refused(
                n,
                format!(
                    "unknown column '{name}': table {table} has no such column in this database"
                ),
            ));
        }
    }
    let mut values = Vec::with_capacity(t.columns.len());
    let mut bytes = 0;
    for col in &t.columns {
        let Some(json) = row.remove(&col.name) else {
            return Err(refused(
                n,
                format!("the {table} row lacks column {}", col.name),
            ));
        };
        let value = column_value(col, json)
            .map_err(|detail| refused(n, format!("{table}.{}: {detail}", col.name)))?;
        bytes += match &value {
            Value::Text(s) => s.len(),
            Value::Blob(b) => b.len(),
            _ => 8,
        };
        if col.name == ORG_COLUMN && value != Value::Text(org.to_string()) {
            return Err(refused(
                n,
                format!(
                    "the {table} row belongs to organization {}, not to {org} named in the header",
                    describe(&value)
                ),
            ));
        }
        values.push(value);
    }
    Ok((index, values, bytes))
}

fn describe(v: &Value) -> String {
    match v {
        Value::Text(s) => format!("'{s}'"),
        other => format!("{other:?}"),
    }
}

fn column_value(col: &Column, json: Json) -> Result<Value, String> {
    match (col.ty, json) {
        (_, Json::Null) if col.required => Err("must not be null".into()),
        (_, Json::Null) => Ok(Value::Null),
        (ColumnType::Integer, Json::Number(v)) => v
            .as_i64()
            .map(Value::Int)
            .ok_or_else(|| format!("expected a 64-bit integer, found {v}")),
        (ColumnType::Text, Json::String(s)) => Ok(Value::Text(s)),
        (ColumnType::Bytes, Json::Object(mut m)) if m.len() == 1 => match m.remove("$bytes") {
            Some(Json::String(h)) => hex::decode(&h)
                .map(Value::Blob)
                .map_err(|e| format!("bytes are not hex: {e}")),
            _ => Err("expected bytes as {\"$bytes\":\"<hex>\"}".into()),
        },
        (ColumnType::Bytes, _) => Err("expected bytes as {\"$bytes\":\"<hex>\"}".into()),
        (ty, other) => Err(format!(
            "expected {}, found {}",
            type_name(ty),
            json_kind(&other)
        )),
    }
}

fn json_kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// Inside the import's transaction: refuses an organization that already has rows here, then
/// inserts the reader's batches until its end mark.
fn import_rows(
    c: &mut dyn Conn,
    tables: &[OrgTable],
    org: OrgSlug,
    rx: &mut tokio::sync::mpsc::Receiver<Result<Item, StoreError>>,
) -> Result<ImportReport, StoreError> {
    // Two imports of one organization into PostgreSQL: the second waits, then sees the first's
    // rows and is refused.
    c.lock_key(&format!("import:{org}"))?;
    for t in tables {
        let sql = format!(
            "SELECT 1 AS found FROM {} WHERE org_id = $1 LIMIT 1",
            t.name
        );
        if c.query_opt(&sql, &params![org.as_str()])?.is_some() {
            return Err(StoreError::OrgExists {
                org: org.to_string(),
                table: t.name.clone(),
            });
        }
    }
    let mut rows: BTreeMap<String, u64> = tables.iter().map(|t| (t.name.clone(), 0)).collect();
    loop {
        match rx.blocking_recv() {
            Some(Ok(Item::Batch(b))) => {
                let t = &tables[b.table];
                let count = b.rows.len() as u64;
                insert(c, t, b)?;
                *rows.entry(t.name.clone()).or_default() += count;
            }
            Some(Ok(Item::End)) => break,
            Some(Ok(Item::Header(_))) => {
                return Err(StoreError::Internal(
                    "the import reader sent a second header".into(),
                ));
            }
            Some(Err(e)) => return Err(e),
            None => return Err(reader_stopped()),
        }
    }
    Ok(ImportReport {
        org,
        schema_version: SqlStore::known_schema_version(),
        rows,
    })
}

fn insert(c: &mut dyn Conn, t: &OrgTable, b: Batch) -> Result<(), StoreError> {
    let width = t.columns.len();
    let mut sql = format!("INSERT INTO {} ({}) VALUES ", t.name, t.column_list());
    for r in 0..b.rows.len() {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for k in 0..width {
            if k > 0 {
                sql.push_str(", ");
            }
            sql.push('$');
            sql.push_str(&(r * width + k + 1).to_string());
        }
        sql.push(')');
    }
    let params: Vec<Value> = b.rows.into_iter().flatten().collect();
    c.execute(&sql, &params)
        .map_err(|e| StoreError::ImportInsert {
            table: t.name.clone(),
            first_line: b.first_line,
            last_line: b.last_line,
            source: Box::new(e),
        })
        .map(drop)
}

/// This store's in-memory calendar may hold the organization from before the import (empty: it
/// had no bookings) and is not told about its own connection's commits otherwise; it learns the
/// imported bookings as it learns a turn's.
fn learn_calendar(c: &mut dyn Conn, calendar: &CalendarCache, org: &OrgSlug) {
    match crate::sql::occupancy(c, org.as_str(), Date::MIN, Date::MAX) {
        Ok(held) => {
            let changes: Vec<_> = held
                .into_iter()
                .map(|o| (o.event_id.clone(), Some(o)))
                .collect();
            calendar.apply(org.as_str(), &changes);
        }
        Err(e) => {
            tracing::warn!(%org, error = %e, "imported bookings could not be read back for the calendar cache");
        }
    }
}
