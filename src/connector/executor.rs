//! The connector contract: one [`Executor`] API whether the caller holds a pool
//! ([`Connector`]) or a [`Transaction`], in the way sqlx's `Executor` serves both; an extension
//! trait ([`ExecutorExt`]) with the conveniences built on it.

use std::time::Duration;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use datafusion::execution::SendableRecordBatchStream;
use futures::stream::BoxStream;
use futures::StreamExt;

use super::value::Value;
use crate::error::{Error, Result};

/// A stream of result batches.
pub type BatchStream<'a> = BoxStream<'a, Result<RecordBatch>>;

/// Rows per batch of a query result.
pub const RESULT_BATCH_ROWS: usize = 8192;

/// A table named at a source: `schema.table`, or `table` in the source's default schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName {
    /// The schema (PostgreSQL) or database (MySQL); `None`: the connection's default.
    pub schema: Option<String>,
    /// The table.
    pub table: String,
}

impl TableName {
    /// A table in a named schema.
    pub fn new(schema: impl Into<String>, table: impl Into<String>) -> Self {
        Self {
            schema: Some(schema.into()),
            table: table.into(),
        }
    }

    /// Parses `table` or `schema.table` (names with dots: use [`TableName::new`]).
    pub fn parse(name: &str) -> Result<Self> {
        let parts: Vec<&str> = name.split('.').collect();
        match parts.as_slice() {
            [t] if !t.is_empty() => Ok(Self {
                schema: None,
                table: t.to_string(),
            }),
            [s, t] if !s.is_empty() && !t.is_empty() => Ok(Self::new(*s, *t)),
            _ => Err(Error::Config(format!(
                "`{name}` is not a table name: use `table` or `schema.table`"
            ))),
        }
    }

    /// The name quoted with `quote` (`"` for PostgreSQL, `` ` `` for MySQL).
    pub fn quoted(&self, quote: char) -> String {
        let q = |s: &str| {
            format!(
                "{quote}{}{quote}",
                s.replace(quote, &format!("{quote}{quote}"))
            )
        };
        match &self.schema {
            Some(s) => format!("{}.{}", q(s), q(&self.table)),
            None => q(&self.table),
        }
    }
}

impl std::fmt::Display for TableName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.schema {
            Some(s) => write!(f, "{s}.{}", self.table),
            None => f.write_str(&self.table),
        }
    }
}

impl TryFrom<&str> for TableName {
    type Error = Error;
    fn try_from(s: &str) -> Result<Self> {
        TableName::parse(s)
    }
}

/// Options of [`Executor::bulk_insert`].
#[derive(Debug, Clone, Default)]
pub struct BulkOptions {
    /// Create the table from the stream's Arrow schema when it does not exist (types: the read
    /// mapping inverted, so the table reads back with the same Arrow types).
    pub create_if_missing: bool,
    /// MySQL: load with multi-row prepared INSERTs instead of `LOAD DATA LOCAL INFILE` (a
    /// server with `local_infile` off gets them anyway). PostgreSQL always uses binary COPY.
    pub row_inserts: bool,
}

/// Options of a CSV load (`copy_from_csv`, `load_data_infile`).
#[derive(Debug, Clone)]
pub struct CsvOptions {
    /// The first line names the columns (and is skipped).
    pub header: bool,
    /// Field delimiter.
    pub delimiter: u8,
    /// Quote character.
    pub quote: u8,
    /// The text that stands for NULL (unquoted).
    pub null: String,
    /// Columns in file order (`None`: the table's columns in order).
    pub columns: Option<Vec<String>>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            header: true,
            delimiter: b',',
            quote: b'"',
            null: String::new(),
            columns: None,
        }
    }
}

/// Pool settings, shared by every backend. URL options with the same names override the
/// defaults: `pool_size=10&min_idle=2&acquire_timeout=5s&max_lifetime=30m&idle_timeout=10m`.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolOptions {
    /// Most connections open at once (default 10).
    pub pool_size: u32,
    /// Idle connections kept open (default 0).
    pub min_idle: u32,
    /// How long `acquire` waits for a free connection before [`Error::PoolTimeout`] (default 30 s).
    pub acquire_timeout: Duration,
    /// Connections older than this are closed and replaced (default 30 min).
    pub max_lifetime: Option<Duration>,
    /// Idle connections above `min_idle` are closed after this (default 10 min).
    pub idle_timeout: Option<Duration>,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            pool_size: 10,
            min_idle: 0,
            acquire_timeout: Duration::from_secs(30),
            max_lifetime: Some(Duration::from_secs(30 * 60)),
            idle_timeout: Some(Duration::from_secs(10 * 60)),
        }
    }
}

/// Parses `500ms`, `5s`, `2m`, `1h` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: u64 = n.parse().ok()?;
    Some(match unit {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" | "min" => Duration::from_secs(n.checked_mul(60)?),
        "h" => Duration::from_secs(n.checked_mul(3600)?),
        _ => return None,
    })
}

impl PoolOptions {
    /// The URL options a pool reads.
    pub const KEYS: &'static [&'static str] = &[
        "pool_size",
        "min_idle",
        "acquire_timeout",
        "max_lifetime",
        "idle_timeout",
    ];

    /// Whether `key` is a pool option.
    pub fn is_key(key: &str) -> bool {
        Self::KEYS.contains(&key)
    }

    /// Reads one URL option; `Ok(false)` when `key` is not a pool option.
    pub fn apply(&mut self, key: &str, value: &str) -> std::result::Result<bool, String> {
        let int = |v: &str| {
            v.parse::<u32>()
                .map_err(|_| format!("{key} must be a whole number, not `{v}`"))
        };
        let dur = |v: &str| {
            parse_duration(v)
                .ok_or_else(|| format!("{key} must be a duration like 500ms, 5s or 2m, not `{v}`"))
        };
        match key {
            "pool_size" => {
                self.pool_size = int(value)?;
                if self.pool_size == 0 {
                    return Err("pool_size must be at least 1".into());
                }
            }
            "min_idle" => self.min_idle = int(value)?,
            "acquire_timeout" => self.acquire_timeout = dur(value)?,
            "max_lifetime" => self.max_lifetime = Some(dur(value)?).filter(|d| !d.is_zero()),
            "idle_timeout" => self.idle_timeout = Some(dur(value)?).filter(|d| !d.is_zero()),
            _ => return Ok(false),
        }
        if self.min_idle > self.pool_size {
            return Err(format!(
                "min_idle ({}) cannot exceed pool_size ({})",
                self.min_idle, self.pool_size
            ));
        }
        Ok(true)
    }
}

/// How many connections a pool holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// Open connections.
    pub connections: u32,
    /// Of those, idle.
    pub idle: u32,
}

#[cfg(any(feature = "postgres", feature = "mysql", feature = "snowflake"))]
/// The column definitions of a `CREATE TABLE` for an Arrow schema: each field's name quoted by
/// `quote`, its type from `type_for` (the backend's read mapping inverted), `NOT NULL` unless
/// nullable (or the type says `NULL` itself). A type `type_for` has no answer for is an error
/// that names the column and `server`.
pub(crate) fn column_definitions(
    schema: &arrow::datatypes::Schema,
    server: &str,
    type_for: impl Fn(&arrow::datatypes::DataType) -> Option<String>,
    quote: impl Fn(&str) -> String,
) -> Result<String> {
    let cols = schema
        .fields()
        .iter()
        .map(|f| {
            let ty = type_for(f.data_type()).ok_or_else(|| Error::UnsupportedType {
                column: f.name().clone(),
                data_type: f.data_type().to_string(),
                hint: format!("cast it to a type {server} can store before loading"),
            })?;
            let null = if f.is_nullable() || ty.ends_with(" NULL") {
                ""
            } else {
                " NOT NULL"
            };
            Ok(format!("{} {ty}{null}", quote(f.name())))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(cols.join(", "))
}

#[cfg(any(feature = "postgres", feature = "mysql", feature = "snowflake"))]
/// A bulk load's check: every field of `schema` is a column of `table` (`existing`, compared
/// as the backend compares names), else [`Error::SchemaMismatch`] listing the others.
pub(crate) fn check_load_columns(
    table: &TableName,
    schema: &arrow::datatypes::Schema,
    is_column: impl Fn(&str) -> bool,
) -> Result<()> {
    let missing: Vec<String> = schema
        .fields()
        .iter()
        .filter(|f| !is_column(f.name()))
        .map(|f| {
            format!(
                "`{}` ({}) is not a column of the table",
                f.name(),
                f.data_type()
            )
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::SchemaMismatch {
        table: table.to_string(),
        problems: missing,
    })
}

/// Runs statements: implemented by connectors (each call takes a pooled connection) and by
/// transactions (every call runs inside it). Parameters are bound by the driver (`$1` in
/// PostgreSQL, `?` in MySQL), never formatted into the SQL.
#[async_trait]
pub trait Executor: Send + Sync {
    /// The backend's name (`postgres`, `mysql`).
    fn backend(&self) -> &'static str;

    /// Runs a query and streams its rows as Arrow batches (types as the read side maps them).
    async fn query(&self, sql: &str, params: &[Value]) -> Result<BatchStream<'_>>;

    /// Runs a statement and returns the number of rows it affected.
    async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64>;

    /// Runs one statement once per parameter row (prepared once, in one transaction) and
    /// returns the total of affected rows.
    async fn execute_many(&self, sql: &str, rows: &[Vec<Value>]) -> Result<u64>;

    /// Appends a stream of batches to `table` through the backend's fastest load path
    /// (PostgreSQL binary COPY, MySQL `LOAD DATA LOCAL INFILE`); all or nothing.
    async fn bulk_insert(
        &self,
        table: &TableName,
        batches: SendableRecordBatchStream,
        options: &BulkOptions,
    ) -> Result<u64>;

    /// The Arrow schema a table reads with; `None` when it does not exist.
    async fn table_schema(&self, table: &TableName) -> Result<Option<SchemaRef>>;
}

/// Conveniences over [`Executor`].
#[async_trait]
pub trait ExecutorExt: Executor {
    /// Runs a query and collects every batch.
    async fn fetch_all(&self, sql: &str, params: &[Value]) -> Result<Vec<RecordBatch>> {
        let mut stream = self.query(sql, params).await?;
        let mut out = vec![];
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            if batch.num_rows() > 0 {
                out.push(batch);
            }
        }
        Ok(out)
    }

    /// Runs a query that must return at least one row, and returns the first as a one-row
    /// batch ([`Error::RowNotFound`] when there is none).
    async fn query_one(&self, sql: &str, params: &[Value]) -> Result<RecordBatch> {
        let mut stream = self.query(sql, params).await?;
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            if batch.num_rows() > 0 {
                return Ok(batch.slice(0, 1));
            }
        }
        Err(Error::RowNotFound)
    }
}

impl<T: Executor + ?Sized> ExecutorExt for T {}

/// A database connection pool: statements run on a pooled connection each.
#[async_trait]
pub trait Connector: Executor {
    /// Starts a transaction on a connection of its own. Dropping it without
    /// [`Transaction::commit`] rolls it back.
    async fn transaction(&self) -> Result<Box<dyn Transaction>>;

    /// Closes the pool: idle connections close now, connections in use when returned; later
    /// calls fail.
    async fn disconnect(&self) -> Result<()>;

    /// The pool's current size.
    fn pool_status(&self) -> PoolStatus;

    /// Checks that the database answers: takes a connection and runs a trivial query.
    async fn ping(&self) -> Result<()>;

    /// How [`Executor::bulk_insert`] loads rows, as EXPLAIN shows it
    /// (`COPY FROM STDIN (FORMAT binary)`, `LOAD DATA LOCAL INFILE`).
    fn bulk_method(&self) -> &'static str;

    /// The character that quotes identifiers (`"`, or a backtick for MySQL).
    fn identifier_quote(&self) -> char {
        '"'
    }

    /// Replaces `table` with the rows of `batches` (creating it from their Arrow schema), so
    /// that readers see the old rows or the new, never a mix or none: the rows go into a
    /// staging table (`TABLE__vp_new`) through the bulk load path, which then takes the
    /// table's place. A failed replace leaves the table as it was. Returns the rows loaded.
    async fn replace_table(
        &self,
        table: &TableName,
        batches: SendableRecordBatchStream,
        options: &BulkOptions,
    ) -> Result<u64> {
        let _ = (table, batches, options);
        Err(Error::Config(format!(
            "{} cannot replace a table atomically",
            self.backend()
        )))
    }
}

impl std::fmt::Debug for dyn Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Connector({})", self.backend())
    }
}

/// A transaction. Every [`Executor`] call runs inside it; it ends with [`commit`](Self::commit)
/// or [`rollback`](Self::rollback), and rolls back when dropped.
#[async_trait]
pub trait Transaction: Executor {
    /// Makes the transaction's writes permanent.
    async fn commit(self: Box<Self>) -> Result<()>;
    /// Discards the transaction's writes.
    async fn rollback(self: Box<Self>) -> Result<()>;
}

/// Retries `f` while it fails with a retryable error, at most `attempts` times in all, waiting
/// 50 ms, 100 ms, ... in between.
pub async fn retry<T, F, Fut>(attempts: u32, mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut n = 0;
    loop {
        n += 1;
        match f().await {
            // A pool timeout has already waited its full time: not again.
            Err(e)
                if e.is_retryable()
                    && !matches!(e, Error::PoolTimeout { .. })
                    && n < attempts.max(1) =>
            {
                log::debug!("retrying after: {e}");
                tokio::time::sleep(Duration::from_millis(50 * n as u64)).await;
            }
            other => return other,
        }
    }
}

/// A stream over batches already in memory (for [`Executor::bulk_insert`]).
pub fn stream_of_batches(
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
) -> SendableRecordBatchStream {
    Box::pin(
        datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(
            schema,
            futures::stream::iter(batches.into_iter().map(Ok)),
        ),
    )
}

/// Streams the batches of a Parquet or CSV file (by extension; CSV with a header row), for
/// [`Executor::bulk_insert`].
pub async fn file_batches(path_or_url: &str) -> Result<SendableRecordBatchStream> {
    let path = super::local_path(path_or_url)?;
    let ctx = datafusion::prelude::SessionContext::new();
    let name = path.to_string_lossy().to_string();
    let df = match path.extension().and_then(|e| e.to_str()) {
        Some("parquet") => {
            ctx.read_parquet(&name, datafusion::prelude::ParquetReadOptions::default())
                .await
        }
        Some("csv") => {
            ctx.read_csv(&name, datafusion::prelude::CsvReadOptions::new())
                .await
        }
        _ => {
            return Err(Error::Config(format!(
                "`{name}`: only .parquet and .csv files can be loaded"
            )))
        }
    }
    .map_err(Error::from_datafusion)?;
    df.execute_stream().await.map_err(Error::from_datafusion)
}

/// Read attempts for a query outside a transaction.
pub const READ_ATTEMPTS: u32 = 3;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names() {
        let t = TableName::parse("public.t").unwrap();
        assert_eq!(t, TableName::new("public", "t"));
        assert_eq!(t.quoted('"'), "\"public\".\"t\"");
        assert_eq!(TableName::new("a`b", "c").quoted('`'), "`a``b`.`c`");
        assert_eq!(TableName::parse("t").unwrap().to_string(), "t");
        assert!(TableName::parse("a.b.c").is_err());
        assert!(TableName::parse("").is_err());
    }

    #[test]
    fn pool_options_from_url_values() {
        let mut o = PoolOptions::default();
        assert!(o.apply("pool_size", "3").unwrap());
        assert!(o.apply("acquire_timeout", "250ms").unwrap());
        assert!(o.apply("max_lifetime", "0").unwrap());
        assert!(!o.apply("sslmode", "disable").unwrap());
        assert!(PoolOptions::KEYS.iter().all(|k| PoolOptions::is_key(k)));
        assert!(!PoolOptions::is_key("sslmode"));
        assert_eq!(o.pool_size, 3);
        assert_eq!(o.acquire_timeout, Duration::from_millis(250));
        assert_eq!(o.max_lifetime, None);
        assert!(o.apply("pool_size", "0").is_err());
        assert!(o.apply("min_idle", "9").is_err());
        assert!(o.apply("idle_timeout", "5x").is_err());
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("7"), Some(Duration::from_secs(7)));
    }

    #[tokio::test]
    async fn retries_only_retryable_errors() {
        let mut calls = 0;
        let r: Result<()> = retry(3, || {
            calls += 1;
            async {
                Err(Error::Connection {
                    target: "x".into(),
                    message: "reset".into(),
                })
            }
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls, 3);
        let mut calls = 0;
        let r: Result<()> = retry(3, || {
            calls += 1;
            async { Err(Error::RowNotFound) }
        })
        .await;
        assert!(matches!(r, Err(Error::RowNotFound)));
        assert_eq!(calls, 1);
    }
}
