//! The MySQL / MariaDB connector: mysql_async's pool, statements with bound parameters,
//! transactions, and bulk loads through `LOAD DATA LOCAL INFILE` fed from memory (multi-row
//! prepared INSERTs where the server forbids local files).

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Timelike;

use arrow::array::{ArrayRef, BinaryBuilder, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use async_trait::async_trait;
use datafusion::execution::SendableRecordBatchStream;
use futures::StreamExt;
use mysql_async::consts::{ColumnFlags, ColumnType};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Params, Pool};
use tokio::sync::{mpsc, Mutex};
use tokio::task::JoinHandle;

use crate::connector::executor::{
    retry, BatchStream, BulkOptions, Connector, CsvOptions, Executor, PoolOptions, PoolStatus,
    TableName, Transaction, READ_ATTEMPTS, RESULT_BATCH_ROWS,
};
use crate::connector::value::{cell_fn, Cell, Value};
use crate::error::{redact_url, scrub, ConstraintKind, Error, Result};
use crate::read::{batch_channel, BatchReceiver, BatchSender};
use crate::schema::{conform_column, ReadAs};

/// Options in a MySQL URL that the table source reads (the connector ignores them).
pub const SOURCE_OPTIONS: &[&str] = &[
    "tinyint1_as_bool",
    "zero_dates",
    "partition",
    "chunk_rows",
    "reader",
];

/// Statements every pooled connection runs first.
const SESSION_SETUP: &[&str] = &["SET time_zone = '+00:00'", "SET NAMES utf8mb4"];

/// Identity and secret of a server, for error messages.
#[derive(Clone)]
pub(crate) struct Target {
    pub(crate) target: String,
    pub(crate) password: Option<String>,
    pub(crate) url: String,
}

impl Target {
    /// Maps a driver error to an actionable [`Error`] (credentials scrubbed).
    pub(crate) fn error(&self, e: mysql_async::Error) -> Error {
        let secret = self.password.as_deref();
        match e {
            mysql_async::Error::Server(s) => {
                let message = scrub(&s.message, secret);
                let code = s.code.to_string();
                let kind = match s.code {
                    1045 | 1044 | 1698 => {
                        return Error::Authentication {
                            target: self.target.clone(),
                            message,
                        }
                    }
                    1049 => {
                        return Error::Connection {
                            target: self.target.clone(),
                            message,
                        }
                    }
                    1064 => {
                        return Error::Syntax {
                            backend: "mysql",
                            code,
                            message,
                        }
                    }
                    1062 | 1586 => Some(ConstraintKind::Unique),
                    1451 | 1452 | 1216 | 1217 => Some(ConstraintKind::ForeignKey),
                    1048 | 1364 => Some(ConstraintKind::NotNull),
                    3819 | 4025 => Some(ConstraintKind::Check),
                    _ => None,
                };
                match kind {
                    Some(kind) => Error::Constraint {
                        backend: "mysql",
                        kind,
                        constraint: constraint_name(&message),
                        code,
                        message,
                    },
                    None => Error::Source {
                        backend: "mysql",
                        // Deadlock, lock wait timeout, server gone away, lost connection, a
                        // killed connection while a replica catches up.
                        retryable: matches!(
                            code.as_str(),
                            "1213" | "1205" | "2006" | "2013" | "1927"
                        ),
                        code: Some(code),
                        message,
                    },
                }
            }
            mysql_async::Error::Io(io) => Error::Connection {
                target: self.target.clone(),
                message: scrub(&io.to_string(), secret),
            },
            mysql_async::Error::Driver(d) => Error::Connection {
                target: self.target.clone(),
                message: scrub(&d.to_string(), secret),
            },
            mysql_async::Error::Url(u) => Error::InvalidUrl {
                url: redact_url(&self.url),
                reason: scrub(&u.to_string(), secret),
            },
            other => Error::Source {
                backend: "mysql",
                code: None,
                message: scrub(&other.to_string(), secret),
                retryable: false,
            },
        }
    }
}

/// The constraint (or column) a MySQL message names in quotes: `... for key 't.PRIMARY'`,
/// `Column 'x' cannot be null`, `CONSTRAINT `fk` FOREIGN KEY`.
fn constraint_name(message: &str) -> Option<String> {
    if let Some(i) = message.find("CONSTRAINT `") {
        let rest = &message[i + 12..];
        return rest.find('`').map(|j| rest[..j].to_string());
    }
    let start = message.rfind('\'')?;
    let before = &message[..start];
    let open = before.rfind('\'')?;
    Some(message[open + 1..start].to_string())
}

/// mysql_async options for a URL: our options removed, TLS from `ssl-mode` / `ssl-ca` (the
/// parameters ConnectorX reads, so data and metadata connections agree).
/// `url` without its query, with the scheme the drivers know: `mariadb://` is the same protocol,
/// but they accept only `mysql://`.
pub(crate) fn mysql_scheme(url: &url::Url) -> std::result::Result<url::Url, url::ParseError> {
    let mut u = url.clone();
    u.set_query(None);
    if u.scheme() == "mysql" {
        return Ok(u);
    }
    let rest = u.as_str().split_once("://").map_or("", |(_, r)| r);
    url::Url::parse(&format!("mysql://{rest}"))
}

pub(crate) fn driver_opts(
    url: &str,
    pool: &PoolOptions,
) -> std::result::Result<(mysql_async::OptsBuilder, String), String> {
    let parsed = url::Url::parse(url).map_err(|e| e.to_string())?;
    let mut stripped = mysql_scheme(&parsed).map_err(|e| e.to_string())?;
    let mut mode = None;
    let mut ca = None;
    let mut kept = vec![];
    for (k, v) in crate::connector::url_options(&parsed) {
        let is_pool = PoolOptions::is_key(&k);
        match k.to_ascii_lowercase().as_str() {
            "ssl-mode" | "sslmode" => mode = Some(v.to_ascii_uppercase().replace('-', "_")),
            "ssl-ca" => ca = Some(std::path::PathBuf::from(&v)),
            key if SOURCE_OPTIONS.contains(&key) || is_pool => {}
            _ => kept.push((k, v)),
        }
    }
    crate::connector::set_url_options(&mut stripped, &kept);
    let mut s = stripped.to_string();
    if s.ends_with('?') {
        s.pop();
    }
    let opts = mysql_async::Opts::from_url(&s).map_err(|e| e.to_string())?;
    let constraints =
        mysql_async::PoolConstraints::new(pool.min_idle as usize, pool.pool_size.max(1) as usize)
            .ok_or("min_idle cannot exceed pool_size")?;
    let mut pool_opts = mysql_async::PoolOpts::default()
        .with_constraints(constraints)
        .with_abs_conn_ttl(pool.max_lifetime)
        .with_reset_connection(false);
    if let Some(idle) = pool.idle_timeout {
        pool_opts = pool_opts.with_inactive_connection_ttl(idle);
    }
    let builder = mysql_async::OptsBuilder::from_opts(opts)
        .pool_opts(pool_opts)
        .init(
            SESSION_SETUP
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>(),
        );
    let (accept_invalid, skip_domain) = match mode.as_deref() {
        None | Some("DISABLED") => return Ok((builder, s)),
        Some("PREFERRED" | "REQUIRED") => (true, true),
        Some("VERIFY_CA") => (false, true),
        Some("VERIFY_IDENTITY") => (false, false),
        Some(other) => return Err(format!("ssl-mode `{other}` is not one of disabled, preferred, required, verify_ca, verify_identity")),
    };
    let mut ssl = mysql_async::SslOpts::default()
        .with_danger_accept_invalid_certs(accept_invalid)
        .with_danger_skip_domain_validation(skip_domain);
    if let Some(ca) = ca {
        ssl = ssl.with_root_certs(vec![ca.into()]);
    }
    Ok((builder.ssl_opts(Some(ssl)), s))
}

struct Inner {
    pool: std::sync::RwLock<Option<Pool>>,
    target: Target,
    options: PoolOptions,
}

/// A MySQL / MariaDB connection pool (see the [`Connector`] trait for the API).
///
/// URL: `mysql://user:password@host:3306/db?pool_size=10&acquire_timeout=5s`; pool options as
/// in [`PoolOptions`], TLS with `ssl-mode` / `ssl-ca`, the rest go to the driver.
#[derive(Clone)]
pub struct MySqlConnector {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for MySqlConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MySqlConnector")
            .field("target", &self.inner.target.target)
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl MySqlConnector {
    /// Opens a pool for `url` and checks that the server accepts a connection.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, PoolOptions::default()).await
    }

    /// Like [`connect`](Self::connect), starting from `options` (URL options still override).
    pub async fn connect_with(url: &str, mut options: PoolOptions) -> Result<Self> {
        let parsed = url::Url::parse(url).map_err(|e| Error::InvalidUrl {
            url: redact_url(url),
            reason: e.to_string(),
        })?;
        let bad = |reason: String| Error::InvalidUrl {
            url: redact_url(url),
            reason,
        };
        for (k, v) in crate::connector::url_options(&parsed) {
            options.apply(&k, &v).map_err(bad)?;
        }
        let password = crate::connector::url_password(&parsed);
        let (builder, driver_url) =
            driver_opts(url, &options).map_err(|r| bad(scrub(&r, password.as_deref())))?;
        let target = Target {
            target: format!(
                "mysql at {}:{}{}",
                parsed.host_str().unwrap_or("localhost"),
                parsed.port().unwrap_or(3306),
                parsed.path()
            ),
            password,
            url: driver_url,
        };
        let pool = Pool::new(builder);
        let this = Self {
            inner: Arc::new(Inner {
                pool: std::sync::RwLock::new(Some(pool)),
                target,
                options,
            }),
        };
        // A wrong host or password fails here, at once.
        this.ping().await?;
        Ok(this)
    }

    /// The pool options in force.
    pub fn options(&self) -> &PoolOptions {
        &self.inner.options
    }

    pub(crate) fn target(&self) -> &Target {
        &self.inner.target
    }

    fn pool(&self) -> Result<Pool> {
        self.inner
            .pool
            .read()
            .ok()
            .and_then(|g| g.clone())
            .ok_or_else(|| Error::Connection {
                target: self.inner.target.target.clone(),
                message: "the connector was disconnected".into(),
            })
    }

    /// Takes a connection from the pool, checked with a ping (a broken one is dropped and
    /// replaced). Waits at most the acquire timeout.
    pub async fn acquire(&self) -> Result<Conn> {
        let pool = self.pool()?;
        let started = Instant::now();
        let timeout = self.inner.options.acquire_timeout;
        let get = async {
            loop {
                let mut conn = pool
                    .get_conn()
                    .await
                    .map_err(|e| self.inner.target.error(e))?;
                match conn.ping().await {
                    Ok(()) => return Ok(conn),
                    // Broken (killed, timed out): dropped, and the pool opens another.
                    Err(e) if started.elapsed() < timeout => {
                        log::debug!("dropping a broken pooled connection: {e}");
                        let _ = conn.disconnect().await;
                    }
                    Err(e) => return Err(self.inner.target.error(e)),
                }
            }
        };
        match tokio::time::timeout(timeout, get).await {
            Ok(r) => r,
            Err(_) => Err(Error::PoolTimeout {
                target: self.inner.target.target.clone(),
                waited: started.elapsed(),
                pool_size: self.inner.options.pool_size,
            }),
        }
    }
}

fn my_value(cell: &Cell, column: &str) -> Result<mysql_async::Value> {
    use mysql_async::Value as V;
    let err = |message: String| Error::Value {
        column: column.to_string(),
        message,
    };
    Ok(match cell {
        Cell::Null => V::NULL,
        Cell::Bool(b) => V::Int(*b as i64),
        Cell::Int(v) => V::Int(*v),
        Cell::UInt(v) => V::UInt(*v),
        Cell::Float(v) if v.is_finite() => V::Double(*v),
        Cell::Float(v) => return Err(err(format!("MySQL cannot store {v}"))),
        Cell::Str(s) => V::Bytes(s.as_bytes().to_vec()),
        Cell::Bytes(b) => V::Bytes(b.to_vec()),
        Cell::List(_) => return Err(err("MySQL has no array type".into())),
        Cell::Interval(..) => {
            return Err(err(
                "MySQL has no interval type: write a TIME or a number".into()
            ))
        }
        other => V::Bytes(
            other
                .text()
                .ok_or_else(|| err(format!("cannot write {other:?}")))?
                .as_bytes()
                .to_vec(),
        ),
    })
}

fn my_params(params: &[Value]) -> Result<Params> {
    if params.is_empty() {
        return Ok(Params::Empty);
    }
    Ok(Params::Positional(
        params
            .iter()
            .enumerate()
            .map(|(i, p)| my_value(&p.cell(), &format!("parameter {}", i + 1)))
            .collect::<Result<Vec<_>>>()?,
    ))
}

/// The Arrow type of a result column, from the protocol's column definition.
fn column_type(c: &mysql_async::Column) -> DataType {
    let unsigned = c.flags().contains(ColumnFlags::UNSIGNED_FLAG);
    let binary = c.character_set() == 63;
    let pick = |s: DataType, u: DataType| if unsigned { u } else { s };
    match c.column_type() {
        ColumnType::MYSQL_TYPE_TINY => pick(DataType::Int8, DataType::UInt8),
        ColumnType::MYSQL_TYPE_SHORT => pick(DataType::Int16, DataType::UInt16),
        ColumnType::MYSQL_TYPE_YEAR => DataType::Int16,
        ColumnType::MYSQL_TYPE_INT24 | ColumnType::MYSQL_TYPE_LONG => {
            pick(DataType::Int32, DataType::UInt32)
        }
        ColumnType::MYSQL_TYPE_LONGLONG => pick(DataType::Int64, DataType::UInt64),
        ColumnType::MYSQL_TYPE_FLOAT => DataType::Float32,
        ColumnType::MYSQL_TYPE_DOUBLE => DataType::Float64,
        ColumnType::MYSQL_TYPE_NEWDECIMAL | ColumnType::MYSQL_TYPE_DECIMAL => {
            let s = c.decimals();
            let p = c.column_length() as i64 - (s > 0) as i64 - (!unsigned) as i64;
            let p = p.clamp(1, 76) as u8;
            let s = s.min(p) as i8;
            if p <= 38 {
                DataType::Decimal128(p, s)
            } else {
                DataType::Decimal256(p, s)
            }
        }
        ColumnType::MYSQL_TYPE_DATE | ColumnType::MYSQL_TYPE_NEWDATE => DataType::Date32,
        ColumnType::MYSQL_TYPE_DATETIME | ColumnType::MYSQL_TYPE_DATETIME2 => {
            DataType::Timestamp(TimeUnit::Microsecond, None)
        }
        ColumnType::MYSQL_TYPE_TIMESTAMP | ColumnType::MYSQL_TYPE_TIMESTAMP2 => {
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        }
        ColumnType::MYSQL_TYPE_TIME | ColumnType::MYSQL_TYPE_TIME2 => {
            DataType::Duration(TimeUnit::Microsecond)
        }
        ColumnType::MYSQL_TYPE_BIT | ColumnType::MYSQL_TYPE_GEOMETRY => DataType::Binary,
        ColumnType::MYSQL_TYPE_JSON | ColumnType::MYSQL_TYPE_ENUM | ColumnType::MYSQL_TYPE_SET => {
            DataType::Utf8
        }
        _ if binary => DataType::Binary,
        _ => DataType::Utf8,
    }
}

/// A value's text form, as the text protocol would send it.
fn value_text(v: &mysql_async::Value) -> Option<Vec<u8>> {
    use mysql_async::Value as V;
    Some(match v {
        V::NULL => return None,
        V::Bytes(b) => b.clone(),
        V::Int(i) => i.to_string().into_bytes(),
        V::UInt(u) => u.to_string().into_bytes(),
        V::Float(f) => f.to_string().into_bytes(),
        V::Double(f) => f.to_string().into_bytes(),
        V::Date(y, m, d, h, i, s, us) => {
            format!("{y:04}-{m:02}-{d:02} {h:02}:{i:02}:{s:02}.{us:06}").into_bytes()
        }
        V::Time(neg, days, h, i, s, us) => format!(
            "{}{}:{i:02}:{s:02}.{us:06}",
            if *neg { "-" } else { "" },
            *days as u64 * 24 + *h as u64
        )
        .into_bytes(),
    })
}

/// Turns rows of one result set into Arrow batches.
struct RowDecoder {
    schema: SchemaRef,
}

impl RowDecoder {
    fn new(columns: &[mysql_async::Column]) -> Self {
        let fields: Vec<Field> = columns
            .iter()
            .map(|c| Field::new(c.name_str().as_ref(), column_type(c), true))
            .collect();
        Self {
            schema: Arc::new(Schema::new(fields)),
        }
    }

    fn decode(&self, rows: &[mysql_async::Row]) -> Result<RecordBatch> {
        let mut columns: Vec<ArrayRef> = vec![];
        for (i, field) in self.schema.fields().iter().enumerate() {
            let texts = rows.iter().map(|r| r.as_ref(i).and_then(value_text));
            let array: ArrayRef = if field.data_type() == &DataType::Binary {
                let mut b = BinaryBuilder::new();
                texts.for_each(|t| b.append_option(t));
                Arc::new(b.finish())
            } else {
                let mut b = StringBuilder::new();
                for t in texts {
                    match t {
                        Some(t) => {
                            b.append_value(String::from_utf8(t).map_err(|_| Error::Value {
                                column: field.name().clone(),
                                message: "text that is not UTF-8".into(),
                            })?)
                        }
                        None => b.append_null(),
                    }
                }
                let a: ArrayRef = Arc::new(b.finish());
                // Zero dates read as NULL, as on the read side's default.
                conform_column(field.name(), &a, field.data_type(), ReadAs::Text)?
            };
            columns.push(array);
        }
        Ok(RecordBatch::try_new_with_options(
            self.schema.clone(),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(rows.len())),
        )?)
    }
}

/// Runs a query on `conn`, sending batches until the receiver goes away (the rest of the
/// result is then read and dropped, so the connection can be reused); returns the connection.
async fn run_query(
    mut conn: Conn,
    target: Target,
    sql: String,
    params: Params,
    out: BatchSender,
    killer: Option<MySqlConnector>,
) -> Conn {
    let id = conn.id();
    // While the statement runs, a consumer that leaves gets it killed at once (the task itself
    // may be waiting on a server that sends nothing). `running` is cleared, under its lock,
    // before the connection is handed back, so a kill never reaches a later statement.
    let running = Arc::new(Mutex::new(true));
    let _watcher = killer.clone().map(|k| {
        let closed = out.closed_owned();
        let running = running.clone();
        AbortOnDrop(tokio::spawn(async move {
            closed.await;
            let still = running.lock().await;
            if *still {
                k.kill_query(id).await;
            }
        }))
    });
    let kill = killer.map(|k| (k, id));
    let outcome: Result<()> = async {
        match params {
            Params::Empty => {
                let result = conn.query_iter(sql).await.map_err(|e| target.error(e))?;
                send_rows(result, &target, &out, kill).await
            }
            p => {
                let result = conn.exec_iter(sql, p).await.map_err(|e| target.error(e))?;
                send_rows(result, &target, &out, kill).await
            }
        }
    }
    .await;
    *running.lock().await = false;
    match outcome {
        Ok(()) => out.finish().await,
        Err(e) => out.fail(e).await,
    }
    conn
}

/// Aborts a task when dropped (also when the owner unwinds).
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Sends the rows of `result` in batches. After the consumer has gone, or a batch failed to
/// decode, the rest is read and dropped (the connection stays usable); a decoding error is
/// returned at the end. With `kill` (a pool and this connection's id), a result the consumer
/// left is first stopped at the server with `KILL QUERY`, so little is left to drop.
async fn send_rows<P: mysql_async::prelude::Protocol>(
    mut result: mysql_async::QueryResult<'_, 'static, P>,
    target: &Target,
    out: &BatchSender,
    kill: Option<(MySqlConnector, u32)>,
) -> Result<()> {
    let decoder = RowDecoder::new(result.columns_ref());
    let mut rows = vec![];
    let mut open = true;
    let mut sent = false;
    let mut failed = None;
    while let Some(row) = result.next().await.map_err(|e| target.error(e))? {
        if !open {
            continue;
        }
        rows.push(row);
        if rows.len() == RESULT_BATCH_ROWS {
            sent = true;
            match decoder.decode(&rows) {
                Ok(batch) => open = out.send(batch).await,
                Err(e) => {
                    failed = Some(e);
                    open = false;
                }
            }
            rows.clear();
            if !open && failed.is_none() {
                if let Some((pool, id)) = &kill {
                    pool.kill_query(*id).await;
                    // What follows is the rest of the buffer, then "interrupted".
                    while let Ok(Some(_)) = result.next().await {}
                    return Ok(());
                }
            }
        }
    }
    if let Some(e) = failed {
        return Err(e);
    }
    if open && (!rows.is_empty() || !sent) {
        out.send(decoder.decode(&rows)?).await;
    }
    Ok(())
}

/// Waits for the first answer so that an error in the statement is returned by `query`
/// itself; the rest streams.
async fn first_then_rest(mut rx: BatchReceiver) -> Result<BatchStream<'static>> {
    match rx.next().await {
        Some(Err(e)) => Err(e),
        Some(Ok(first)) => Ok(futures::stream::once(async { Ok(first) })
            .chain(rx.into_stream())
            .boxed()),
        None => Ok(futures::stream::empty().boxed()),
    }
}

async fn execute_on(conn: &mut Conn, target: &Target, sql: &str, params: &[Value]) -> Result<u64> {
    match my_params(params)? {
        Params::Empty => conn.query_drop(sql).await,
        p => conn.exec_drop(sql, p).await,
    }
    .map_err(|e| target.error(e))?;
    Ok(conn.affected_rows())
}

async fn execute_many_on(
    conn: &mut Conn,
    target: &Target,
    sql: &str,
    rows: &[Vec<Value>],
) -> Result<u64> {
    let stmt = conn.prep(sql).await.map_err(|e| target.error(e))?;
    let mut total = 0;
    for r in rows {
        conn.exec_drop(&stmt, my_params(r)?)
            .await
            .map_err(|e| target.error(e))?;
        total += conn.affected_rows();
    }
    Ok(total)
}

async fn begin_on(conn: &mut Conn, target: &Target) -> Result<()> {
    conn.query_drop("START TRANSACTION")
        .await
        .map_err(|e| target.error(e))
}

/// Commits when `outcome` is a success, rolls back otherwise.
async fn end_on<T>(conn: &mut Conn, target: &Target, outcome: Result<T>) -> Result<T> {
    end_with(conn, target, outcome, "COMMIT", "ROLLBACK").await
}

/// Like [`end_on`] for a savepoint inside a transaction.
async fn end_savepoint<T>(conn: &mut Conn, target: &Target, outcome: Result<T>) -> Result<T> {
    end_with(
        conn,
        target,
        outcome,
        "RELEASE SAVEPOINT vp_bulk",
        "ROLLBACK TO SAVEPOINT vp_bulk",
    )
    .await
}

/// Runs `keep` after a success, `undo` after a failure (whose error is the one returned).
async fn end_with<T>(
    conn: &mut Conn,
    target: &Target,
    outcome: Result<T>,
    keep: &str,
    undo: &str,
) -> Result<T> {
    match outcome {
        Ok(v) => {
            conn.query_drop(keep).await.map_err(|e| target.error(e))?;
            Ok(v)
        }
        Err(e) => {
            let _ = conn.query_drop(undo).await;
            Err(e)
        }
    }
}

/// The MySQL type a column created from an Arrow type gets (the read mapping inverted).
pub fn mysql_type_for(dt: &DataType) -> Option<String> {
    Some(match dt {
        DataType::Boolean => "boolean".into(),
        DataType::Int8 => "tinyint".into(),
        DataType::Int16 => "smallint".into(),
        DataType::Int32 => "int".into(),
        DataType::Int64 => "bigint".into(),
        DataType::UInt8 => "tinyint unsigned".into(),
        DataType::UInt16 => "smallint unsigned".into(),
        DataType::UInt32 => "int unsigned".into(),
        DataType::UInt64 => "bigint unsigned".into(),
        DataType::Float32 => "float".into(),
        DataType::Float64 => "double".into(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            "longtext CHARACTER SET utf8mb4".into()
        }
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "longblob".into(),
        DataType::FixedSizeBinary(n) if *n <= 255 => format!("binary({n})"),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s)
            if *p <= 65 && *s >= 0 && *s <= 30 =>
        {
            format!("decimal({p},{s})")
        }
        DataType::Date32 | DataType::Date64 => "date".into(),
        DataType::Timestamp(TimeUnit::Second, None) => "datetime".into(),
        DataType::Timestamp(TimeUnit::Millisecond, None) => "datetime(3)".into(),
        DataType::Timestamp(_, None) => "datetime(6)".into(),
        DataType::Timestamp(_, Some(_)) => "timestamp(6) NULL".into(),
        DataType::Time32(_) | DataType::Time64(_) | DataType::Duration(_) => "time(6)".into(),
        _ => return None,
    })
}

/// `CREATE TABLE` for an Arrow schema.
pub fn create_table_sql(table: &TableName, schema: &SchemaRef) -> Result<String> {
    let cols = schema
        .fields()
        .iter()
        .map(|f| {
            let ty = mysql_type_for(f.data_type()).ok_or_else(|| Error::UnsupportedType {
                column: f.name().clone(),
                data_type: f.data_type().to_string(),
                hint: "cast it to a type MySQL can store before loading".into(),
            })?;
            let null = if f.is_nullable() || ty.ends_with(" NULL") {
                ""
            } else {
                " NOT NULL"
            };
            Ok(format!("{} {ty}{null}", super::quote_ident(f.name())))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(format!(
        "CREATE TABLE {} ({}) DEFAULT CHARSET = utf8mb4",
        table.quoted('`'),
        cols.join(", ")
    ))
}

/// Appends one cell to a `LOAD DATA` stream (tab-separated, backslash escapes, `\N` for NULL).
pub fn write_infile_cell(cell: &Cell, out: &mut Vec<u8>) -> std::result::Result<(), String> {
    let escape = |bytes: &[u8], out: &mut Vec<u8>| {
        for &b in bytes {
            match b {
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\t' => out.extend_from_slice(b"\\t"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                0 => out.extend_from_slice(b"\\0"),
                _ => out.push(b),
            }
        }
    };
    match cell {
        Cell::Null => out.extend_from_slice(b"\\N"),
        Cell::Bool(b) => out.push(if *b { b'1' } else { b'0' }),
        Cell::Bytes(b) => escape(b, out),
        Cell::Str(s) => escape(s.as_bytes(), out),
        Cell::Float(f) if !f.is_finite() => return Err(format!("MySQL cannot store {f}")),
        Cell::List(_) => return Err("MySQL has no array type".into()),
        Cell::Interval(..) => return Err("MySQL has no interval type".into()),
        // Numbers and dates are written without an intermediate String (the bulk-load hot path);
        // their text never needs escaping.
        Cell::Int(v) => {
            let _ = write!(out, "{v}");
        }
        Cell::UInt(v) => {
            let _ = write!(out, "{v}");
        }
        Cell::Float(v) => {
            let _ = write!(out, "{v:?}");
        }
        Cell::Decimal(v, s) if *s >= 0 => write_decimal(out, *v, *s as usize),
        Cell::Date(d) => {
            let date = crate::connector::value::date_of(*d).ok_or("date out of range")?;
            write_date(out, date);
        }
        Cell::Timestamp(us, _) => {
            let t = crate::connector::value::timestamp_of(*us).ok_or("timestamp out of range")?;
            write_date(out, t.date());
            let _ = write!(
                out,
                " {:02}:{:02}:{:02}.{:06}",
                t.hour(),
                t.minute(),
                t.second(),
                t.nanosecond() / 1000
            );
        }
        other => escape(other.text().unwrap_or_default().as_bytes(), out),
    }
    Ok(())
}

fn write_date(out: &mut Vec<u8>, d: chrono::NaiveDate) {
    use chrono::Datelike;
    let _ = write!(out, "{:04}-{:02}-{:02}", d.year(), d.month(), d.day());
}

/// `v × 10^-scale` in plain notation.
fn write_decimal(out: &mut Vec<u8>, v: i128, scale: usize) {
    if v < 0 {
        out.push(b'-');
    }
    let start = out.len();
    let _ = write!(out, "{}", v.unsigned_abs());
    if scale == 0 {
        return;
    }
    let len = out.len() - start;
    if len <= scale {
        // 0.00ddd: zeros go in front of the digits.
        let zeros = scale - len + 1;
        out.splice(start..start, std::iter::repeat_n(b'0', zeros));
    }
    let point = out.len() - scale;
    out.insert(point, b'.');
}

fn infile_rows(batch: &RecordBatch) -> Result<Vec<u8>> {
    let schema = batch.schema();
    let readers = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(a, f)| cell_fn(f.name(), a))
        .collect::<Result<Vec<_>>>()?;
    let mut out = Vec::with_capacity(batch.get_array_memory_size());
    for row in 0..batch.num_rows() {
        for (c, read) in readers.iter().enumerate() {
            if c > 0 {
                out.push(b'\t');
            }
            write_infile_cell(&read(row), &mut out).map_err(|message| Error::Value {
                column: schema.field(c).name().clone(),
                message,
            })?;
        }
        out.push(b'\n');
    }
    Ok(out)
}

/// After a `LOAD DATA`: warnings mean rows were changed or skipped (LOCAL turns errors into
/// warnings), which a load must not do silently.
async fn check_warnings(conn: &mut Conn, target: &Target) -> Result<()> {
    if conn.get_warnings() == 0 {
        return Ok(());
    }
    let warnings: Vec<(String, u16, String)> = conn
        .query("SHOW WARNINGS LIMIT 3")
        .await
        .map_err(|e| target.error(e))?;
    let Some((_, code, message)) = warnings.into_iter().next() else {
        return Ok(());
    };
    Err(
        target.error(mysql_async::Error::Server(mysql_async::ServerError {
            code,
            message,
            state: "HY000".into(),
        })),
    )
}

async fn prepare_target(
    conn: &mut Conn,
    target: &Target,
    table: &TableName,
    schema: &SchemaRef,
    options: &BulkOptions,
) -> Result<()> {
    let existing = table_columns(conn, target, table).await?;
    if existing.is_empty() {
        if !options.create_if_missing {
            return Err(Error::UnknownTable(table.to_string()));
        }
        // DDL commits implicitly in MySQL: the table is created before the load begins.
        return conn
            .query_drop(create_table_sql(table, schema)?)
            .await
            .map_err(|e| target.error(e));
    }
    let missing: Vec<String> = schema
        .fields()
        .iter()
        .filter(|f| !existing.iter().any(|c| c.eq_ignore_ascii_case(f.name())))
        .map(|f| {
            format!(
                "`{}` ({}) is not a column of the table",
                f.name(),
                f.data_type()
            )
        })
        .collect();
    if !missing.is_empty() {
        return Err(Error::SchemaMismatch {
            table: table.to_string(),
            problems: missing,
        });
    }
    Ok(())
}

async fn table_columns(conn: &mut Conn, target: &Target, table: &TableName) -> Result<Vec<String>> {
    conn.exec(
        "SELECT CAST(COLUMN_NAME AS CHAR) FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
        (table.schema.clone(), table.table.clone()),
    )
    .await
    .map_err(|e| target.error(e))
}

/// Loads `batches` into `table` on `conn` (inside the caller's transaction, after
/// [`prepare_target`]).
async fn load_on(
    conn: &mut Conn,
    target: &Target,
    table: &TableName,
    mut batches: SendableRecordBatchStream,
    options: &BulkOptions,
) -> Result<u64> {
    let schema = batches.schema();
    // MySQL 8 ships with local_infile off: then multi-row prepared INSERTs.
    let local: Option<i64> = conn
        .query_first("SELECT @@GLOBAL.local_infile")
        .await
        .map_err(|e| target.error(e))?;
    if local != Some(1) || options.row_inserts {
        return insert_rows_on(conn, target, table, batches).await;
    }
    let cols = schema
        .fields()
        .iter()
        .map(|f| super::quote_ident(f.name()))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "LOAD DATA LOCAL INFILE 'vibe-piper-stream' INTO TABLE {} CHARACTER SET binary \
         FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ({cols})",
        table.quoted('`')
    );
    // Encoding runs in the handler's stream; an encoding error ends the file early and is
    // reported after the server answers (the load is then rolled back).
    let (err_tx, mut err_rx) = mpsc::channel::<Error>(1);
    let (tx, rx) = mpsc::channel::<std::io::Result<bytes::Bytes>>(4);
    let feeder = tokio::spawn(async move {
        while let Some(batch) = batches.next().await {
            let encoded = batch
                .map_err(Error::from_datafusion)
                .and_then(|b| infile_rows(&b));
            match encoded {
                Ok(bytes) => {
                    if tx.send(Ok(bytes.into())).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = err_tx.send(e).await;
                    let _ = tx
                        .send(Err(std::io::Error::other("the input stream failed")))
                        .await;
                    return;
                }
            }
        }
    });
    let data =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) });
    let handler = async move { Ok::<_, mysql_async::Error>(data.boxed()) };
    conn.set_infile_handler(handler);
    let loaded = conn.query_drop(&sql).await;
    let _ = feeder.await;
    if let Ok(e) = err_rx.try_recv() {
        return Err(e);
    }
    loaded.map_err(|e| target.error(e))?;
    let n = conn.affected_rows();
    check_warnings(conn, target).await?;
    Ok(n)
}

/// Loads `batches` with multi-row prepared INSERTs (for servers that refuse local files).
async fn insert_rows_on(
    conn: &mut Conn,
    target: &Target,
    table: &TableName,
    mut batches: SendableRecordBatchStream,
) -> Result<u64> {
    let schema = batches.schema();
    let ncols = schema.fields().len().max(1);
    let per_stmt = (60_000 / ncols).clamp(1, 1000);
    let cols = schema
        .fields()
        .iter()
        .map(|f| super::quote_ident(f.name()))
        .collect::<Vec<_>>()
        .join(", ");
    let row_marks = format!("({})", vec!["?"; ncols].join(","));
    let mut total = 0;
    while let Some(batch) = batches.next().await {
        let batch = batch.map_err(Error::from_datafusion)?;
        let readers = batch
            .columns()
            .iter()
            .zip(schema.fields())
            .map(|(a, f)| cell_fn(f.name(), a))
            .collect::<Result<Vec<_>>>()?;
        let mut start = 0;
        while start < batch.num_rows() {
            let end = (start + per_stmt).min(batch.num_rows());
            let mut values = Vec::with_capacity((end - start) * ncols);
            for row in start..end {
                for (c, read) in readers.iter().enumerate() {
                    values.push(my_value(&read(row), schema.field(c).name())?);
                }
            }
            let sql = format!(
                "INSERT INTO {} ({cols}) VALUES {}",
                table.quoted('`'),
                vec![row_marks.as_str(); end - start].join(",")
            );
            conn.exec_drop(sql, Params::Positional(values))
                .await
                .map_err(|e| target.error(e))?;
            total += conn.affected_rows();
            check_warnings(conn, target).await?;
            start = end;
        }
    }
    Ok(total)
}

#[async_trait]
impl Executor for MySqlConnector {
    fn backend(&self) -> &'static str {
        "mysql"
    }

    async fn query(&self, sql: &str, params: &[Value]) -> Result<BatchStream<'_>> {
        retry(READ_ATTEMPTS, || async {
            let conn = self.acquire().await?;
            let (tx, rx) = batch_channel("mysql", &[sql.to_string()]);
            tokio::spawn(run_query(
                conn,
                self.inner.target.clone(),
                sql.to_string(),
                my_params(params)?,
                tx,
                Some(self.clone()),
            ));
            first_then_rest(rx).await
        })
        .await
    }

    async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut conn = self.acquire().await?;
            match execute_on(&mut conn, &self.inner.target, sql, params).await {
                // Deadlock: InnoDB rolled the statement back, running it again is safe.
                Err(e) if e.code() == Some("1213") && attempt < READ_ATTEMPTS => continue,
                other => return other,
            }
        }
    }

    async fn execute_many(&self, sql: &str, rows: &[Vec<Value>]) -> Result<u64> {
        let mut conn = self.acquire().await?;
        let t = &self.inner.target;
        begin_on(&mut conn, t).await?;
        let outcome = execute_many_on(&mut conn, t, sql, rows).await;
        end_on(&mut conn, t, outcome).await
    }

    async fn bulk_insert(
        &self,
        table: &TableName,
        batches: SendableRecordBatchStream,
        options: &BulkOptions,
    ) -> Result<u64> {
        let mut conn = self.acquire().await?;
        let t = &self.inner.target;
        let schema = batches.schema();
        // DDL commits in MySQL: the table is created before the transaction begins.
        prepare_target(&mut conn, t, table, &schema, options).await?;
        begin_on(&mut conn, t).await?;
        let outcome = load_on(&mut conn, t, table, batches, options).await;
        end_on(&mut conn, t, outcome).await
    }

    async fn table_schema(&self, table: &TableName) -> Result<Option<SchemaRef>> {
        let mut conn = self.acquire().await?;
        table_schema_on(&mut conn, &self.inner.target, table).await
    }
}

async fn table_schema_on(
    conn: &mut Conn,
    target: &Target,
    table: &TableName,
) -> Result<Option<SchemaRef>> {
    if table_columns(conn, target, table).await?.is_empty() {
        return Ok(None);
    }
    let result = conn
        .query_iter(format!("SELECT * FROM {} LIMIT 0", table.quoted('`')))
        .await
        .map_err(|e| target.error(e))?;
    let schema = RowDecoder::new(result.columns_ref()).schema;
    drop(result);
    Ok(Some(schema))
}

#[async_trait]
impl Connector for MySqlConnector {
    async fn transaction(&self) -> Result<Box<dyn Transaction>> {
        Ok(Box::new(self.begin().await?))
    }

    async fn disconnect(&self) -> Result<()> {
        let pool = self.inner.pool.write().ok().and_then(|mut g| g.take());
        if let Some(pool) = pool {
            pool.disconnect()
                .await
                .map_err(|e| self.inner.target.error(e))?;
        }
        Ok(())
    }

    fn pool_status(&self) -> PoolStatus {
        // mysql_async does not expose its counts; report the configured bounds.
        PoolStatus {
            connections: self.inner.options.pool_size,
            idle: self.inner.options.min_idle,
        }
    }

    async fn ping(&self) -> Result<()> {
        self.acquire().await.map(|_| ())
    }

    fn bulk_method(&self) -> &'static str {
        "LOAD DATA LOCAL INFILE"
    }
}

impl MySqlConnector {
    /// Stops the statement running on connection `id` (`KILL QUERY`) from another pooled
    /// connection; gives up quietly when none is free within a second (the rest of the result
    /// is then read and dropped instead).
    async fn kill_query(&self, id: u32) {
        let Ok(pool) = self.pool() else { return };
        let kill = async {
            let mut conn = pool.get_conn().await.ok()?;
            conn.query_drop(format!("KILL QUERY {id}")).await.ok()
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), kill).await;
    }

    /// Starts a transaction (the concrete type; [`Connector::transaction`] boxes it).
    pub async fn begin(&self) -> Result<MySqlTransaction> {
        let mut conn = self.acquire().await?;
        conn.query_drop("START TRANSACTION")
            .await
            .map_err(|e| self.inner.target.error(e))?;
        Ok(MySqlTransaction {
            state: Arc::new(Mutex::new(TxConn::Idle(conn))),
            target: self.inner.target.clone(),
            runtime: tokio::runtime::Handle::current(),
        })
    }

    /// Loads a CSV file with `LOAD DATA LOCAL INFILE` (read by this process and streamed to the
    /// server); returns the number of rows. All or nothing: a row the server would change or
    /// skip (a warning) fails the load.
    pub async fn load_data_infile(
        &self,
        table: &TableName,
        path: &str,
        options: &CsvOptions,
    ) -> Result<u64> {
        let path = crate::connector::local_path(path)?;
        let file = tokio::fs::File::open(&path).await?;
        let mut conn = self.acquire().await?;
        let t = &self.inner.target;
        let lit = |s: &str| format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"));
        let columns = match &options.columns {
            Some(c) => c.clone(),
            None => table_columns(&mut conn, t, table).await?,
        };
        if columns.is_empty() {
            return Err(Error::UnknownTable(table.to_string()));
        }
        // Every field goes through a variable so that `options.null` becomes NULL.
        let vars = (0..columns.len())
            .map(|i| format!("@vp{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sets = columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                format!(
                    "{} = NULLIF(@vp{i}, {})",
                    super::quote_ident(c),
                    lit(&options.null)
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "LOAD DATA LOCAL INFILE 'vibe-piper-file' INTO TABLE {} CHARACTER SET utf8mb4 \
             FIELDS TERMINATED BY {} OPTIONALLY ENCLOSED BY {} ESCAPED BY '' \
             LINES TERMINATED BY '\\n' {} ({vars}) SET {sets}",
            table.quoted('`'),
            lit(&(options.delimiter as char).to_string()),
            lit(&(options.quote as char).to_string()),
            if options.header { "IGNORE 1 LINES" } else { "" },
        );
        let chunks = crate::connector::file_chunks(file);
        conn.set_infile_handler(async move { Ok::<_, mysql_async::Error>(chunks.boxed()) });
        begin_on(&mut conn, t).await?;
        let outcome = async {
            conn.query_drop(&sql).await.map_err(|e| t.error(e))?;
            let n = conn.affected_rows();
            check_warnings(&mut conn, t).await?;
            Ok(n)
        }
        .await;
        end_on(&mut conn, t, outcome).await
    }
}

enum TxConn {
    Idle(Conn),
    /// A query's reader task holds the connection and gives it back when done.
    Busy(JoinHandle<Conn>),
    Closed,
}

/// A MySQL transaction on one pooled connection. Rolled back when dropped without
/// [`commit`](Transaction::commit).
pub struct MySqlTransaction {
    state: Arc<Mutex<TxConn>>,
    target: Target,
    runtime: tokio::runtime::Handle,
}

impl std::fmt::Debug for MySqlTransaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MySqlTransaction")
            .field("target", &self.target.target)
            .finish_non_exhaustive()
    }
}

async fn reclaim(state: &mut TxConn) -> Result<Conn> {
    match std::mem::replace(state, TxConn::Closed) {
        TxConn::Idle(c) => Ok(c),
        TxConn::Busy(h) => h.await.map_err(|e| Error::Io(std::io::Error::other(e))),
        TxConn::Closed => Err(Error::TransactionClosed("ended")),
    }
}

impl MySqlTransaction {
    /// The connection, with the lock that the caller gives it back under.
    async fn take(&self) -> Result<(tokio::sync::MutexGuard<'_, TxConn>, Conn)> {
        let mut g = self.state.lock().await;
        let conn = reclaim(&mut g).await?;
        Ok((g, conn))
    }

    async fn finish(&self, sql: &'static str) -> Result<()> {
        let mut g = self.state.lock().await;
        let mut conn = reclaim(&mut g).await?;
        conn.query_drop(sql).await.map_err(|e| self.target.error(e))
    }
}

#[async_trait]
impl Executor for MySqlTransaction {
    fn backend(&self) -> &'static str {
        "mysql"
    }

    async fn query(&self, sql: &str, params: &[Value]) -> Result<BatchStream<'_>> {
        let params = my_params(params)?;
        let mut g = self.state.lock().await;
        let conn = reclaim(&mut g).await?;
        let (tx, rx) = batch_channel("mysql", &[sql.to_string()]);
        *g = TxConn::Busy(tokio::spawn(run_query(
            conn,
            self.target.clone(),
            sql.to_string(),
            params,
            tx,
            None,
        )));
        drop(g);
        first_then_rest(rx).await
    }

    async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64> {
        let (mut g, mut conn) = self.take().await?;
        let out = execute_on(&mut conn, &self.target, sql, params).await;
        *g = TxConn::Idle(conn);
        out
    }

    async fn execute_many(&self, sql: &str, rows: &[Vec<Value>]) -> Result<u64> {
        let (mut g, mut conn) = self.take().await?;
        let out = execute_many_on(&mut conn, &self.target, sql, rows).await;
        *g = TxConn::Idle(conn);
        out
    }

    async fn bulk_insert(
        &self,
        table: &TableName,
        batches: SendableRecordBatchStream,
        options: &BulkOptions,
    ) -> Result<u64> {
        if options.create_if_missing {
            // CREATE TABLE would commit the transaction implicitly (MySQL DDL).
            return Err(Error::Config(
                "create_if_missing inside a MySQL transaction would commit it: create the table \
                 first, or load through the connector"
                    .into(),
            ));
        }
        let (mut g, mut conn) = self.take().await?;
        let t = &self.target;
        // A savepoint, so a failed load leaves the transaction as it was.
        let schema = batches.schema();
        let out = match prepare_target(&mut conn, t, table, &schema, options).await {
            Err(e) => Err(e),
            Ok(()) => match conn.query_drop("SAVEPOINT vp_bulk").await {
                Ok(()) => {
                    let loaded = load_on(&mut conn, t, table, batches, options).await;
                    end_savepoint(&mut conn, t, loaded).await
                }
                Err(e) => Err(t.error(e)),
            },
        };
        *g = TxConn::Idle(conn);
        out
    }

    async fn table_schema(&self, table: &TableName) -> Result<Option<SchemaRef>> {
        let (mut g, mut conn) = self.take().await?;
        let out = table_schema_on(&mut conn, &self.target, table).await;
        *g = TxConn::Idle(conn);
        out
    }
}

#[async_trait]
impl Transaction for MySqlTransaction {
    async fn commit(self: Box<Self>) -> Result<()> {
        self.finish("COMMIT").await
    }

    async fn rollback(self: Box<Self>) -> Result<()> {
        self.finish("ROLLBACK").await
    }
}

impl Drop for MySqlTransaction {
    fn drop(&mut self) {
        let state = self.state.clone();
        // Roll back before the connection goes back to the pool.
        self.runtime.spawn(async move {
            let mut g = state.lock().await;
            if let Ok(mut c) = reclaim(&mut g).await {
                let _ = c.query_drop("ROLLBACK").await;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infile_escaping() {
        let mut out = vec![];
        write_infile_cell(&Cell::Str("a\tb\\c\nd\0".into()), &mut out).unwrap();
        assert_eq!(out, b"a\\tb\\\\c\\nd\\0");
        out.clear();
        write_infile_cell(&Cell::Null, &mut out).unwrap();
        assert_eq!(out, b"\\N");
        assert!(write_infile_cell(&Cell::Float(f64::NAN), &mut out).is_err());
        for (v, s, text) in [
            (-5i128, 3i8, "-0.005"),
            (12345, 2, "123.45"),
            (7, 0, "7"),
            (100, 2, "1.00"),
        ] {
            let mut out = vec![];
            write_infile_cell(&Cell::Decimal(v, s), &mut out).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), text);
        }
        let mut out = vec![];
        write_infile_cell(&Cell::Timestamp(-1, false), &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "1969-12-31 23:59:59.999999"
        );
        let mut out = vec![];
        write_infile_cell(&Cell::Date(-719_162), &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "0001-01-01");
    }

    #[test]
    fn constraint_names_from_messages() {
        assert_eq!(
            constraint_name("Duplicate entry '1' for key 'PRIMARY'").as_deref(),
            Some("PRIMARY")
        );
        assert_eq!(
            constraint_name("Column 'name' cannot be null").as_deref(),
            Some("name")
        );
        assert_eq!(
            constraint_name("Cannot add or update a child row: a foreign key constraint fails (`db`.`c`, CONSTRAINT `c_fk` FOREIGN KEY ...)").as_deref(),
            Some("c_fk")
        );
    }

    #[test]
    fn tls_options() {
        let o = PoolOptions::default();
        let (b, url) = driver_opts("mariadb://u:pw@h:3306/db?ssl-mode=VERIFY_CA&ssl-ca=/ca.pem&pool_size=3&zero_dates=error", &o).unwrap();
        assert_eq!(url, "mysql://u:pw@h:3306/db");
        let opts = mysql_async::Opts::from(b);
        let ssl = opts.ssl_opts().expect("TLS on");
        assert!(!ssl.accept_invalid_certs() && ssl.skip_domain_validation());
        let (b, _) = driver_opts("mysql://u@h/db?sslmode=required", &o).unwrap();
        assert!(mysql_async::Opts::from(b)
            .ssl_opts()
            .unwrap()
            .accept_invalid_certs());
        let (b, _) = driver_opts("mysql://u@h/db?ssl-mode=disabled", &o).unwrap();
        assert!(mysql_async::Opts::from(b).ssl_opts().is_none());
        assert!(driver_opts("mysql://u@h/db?ssl-mode=sometimes", &o).is_err());
    }

    #[test]
    fn ddl_from_arrow() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new(
                "t",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
        ]));
        assert_eq!(
            create_table_sql(&TableName::new("d", "x"), &schema).unwrap(),
            "CREATE TABLE `d`.`x` (`id` bigint NOT NULL, `t` timestamp(6) NULL) DEFAULT CHARSET = utf8mb4"
        );
    }
}
