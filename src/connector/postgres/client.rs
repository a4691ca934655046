//! The PostgreSQL connector: a bb8 pool of tokio-postgres connections, statements with bound
//! parameters, transactions, and bulk loads through binary `COPY ... FROM STDIN`.

use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use bb8::{ErrorSink, Pool, PooledConnection, RunError};
use bytes::BytesMut;
use datafusion::execution::SendableRecordBatchStream;
use futures::{SinkExt, StreamExt, TryStreamExt};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Client;

use super::options::PgOptions;
use super::wire::{copy_header, copy_rows, pg_type_for, RowDecoder};
use crate::connector::executor::{
    column_definitions, BatchStream, BulkOptions, CsvOptions, PoolOptions, PoolStatus, TableName,
    RESULT_BATCH_ROWS,
};
use crate::connector::session::{
    commit_or_rollback, Held, InTransaction, PoolSlot, Pooled, Session,
};
use crate::connector::value::Value;
use crate::error::{scrub, ConstraintKind, Error, Result};

use super::conn::{Manager, PgClient};
/// A pooled PostgreSQL connection.
pub type PgConn = PooledConnection<'static, Manager>;

/// Statements every pooled connection runs once, so results do not depend on server defaults.
/// The scan readers run them too: text forms (intervals, timestamptz inside arrays, floats)
/// must not depend on the server's defaults.
pub(crate) const SESSION_SETUP: &[&str] = &[
    "SET TIME ZONE 'UTC'",
    "SET IntervalStyle = 'iso_8601'",
    "SET extra_float_digits = 3",
];

/// Identity and secret of a server, for error messages.
#[derive(Clone)]
pub(crate) struct Target {
    pub(crate) target: String,
    pub(crate) password: Option<String>,
}

impl Target {
    /// Maps a driver error to an actionable [`Error`] (credentials scrubbed).
    pub(crate) fn error(&self, e: tokio_postgres::Error) -> Error {
        let secret = self.password.as_deref();
        let message = scrub(&full_message(&e), secret);
        if let Some(db) = e.as_db_error() {
            let code = db.code().code().to_string();
            let mut message = scrub(db.message(), secret);
            if let Some(detail) = db.detail() {
                message = format!("{message} ({})", scrub(detail, secret));
            }
            let kind = match code.as_str() {
                "28P01" => {
                    return Error::Authentication {
                        target: self.target.clone(),
                        message: format!(
                            "{message}: check the user name and the password (in the URL, \
                             percent-encoded, in PGPASSWORD or in the password file)"
                        ),
                    }
                }
                "28000" => {
                    return Error::Authentication {
                        target: self.target.clone(),
                        message: format!(
                            "{message}: the server's pg_hba.conf refuses this user, database, \
                             address or encryption (check sslmode: a server may accept only \
                             TLS connections, or only ones without)"
                        ),
                    }
                }
                "3D000" => {
                    return Error::Connection {
                        target: self.target.clone(),
                        message,
                    }
                }
                // Retried until the connect timeout before it gets here (`conn::open`).
                "53300" => {
                    return Error::Connection {
                        target: self.target.clone(),
                        message: format!(
                            "{message} [53300], still after retrying until the connect timeout \
                             (connect_timeout, default {} s): raise the server's \
                             max_connections, or lower pool_size and the partitions of scans",
                            super::conn::RETRY_BUDGET.as_secs()
                        ),
                    }
                }
                "42601" => {
                    return Error::Syntax {
                        backend: "postgres",
                        code,
                        message,
                    }
                }
                "23505" => Some(ConstraintKind::Unique),
                "23503" => Some(ConstraintKind::ForeignKey),
                "23502" => Some(ConstraintKind::NotNull),
                "23514" => Some(ConstraintKind::Check),
                "23P01" => Some(ConstraintKind::Exclusion),
                _ => None,
            };
            if let Some(kind) = kind {
                let constraint = db.constraint().or(db.column()).map(|c| c.to_string());
                return Error::Constraint {
                    backend: "postgres",
                    kind,
                    constraint,
                    code,
                    message,
                };
            }
            // Rolled back (serialization failure, deadlock), the server going away, or the
            // connection class (08xxx): trying again may succeed.
            let retryable = matches!(
                code.as_str(),
                "40001" | "40P01" | "57P01" | "57P02" | "57P03"
            ) || code.starts_with("08");
            return Error::Source {
                backend: "postgres",
                code: Some(code),
                message,
                retryable,
            };
        }
        if let Some(cause) = message.strip_prefix("error performing TLS handshake: ") {
            let message = if cause == "server does not support TLS" {
                "the server does not accept TLS connections: use sslmode=prefer or disable, \
                 or turn on ssl in the server's configuration"
                    .to_string()
            } else {
                cause.to_string()
            };
            return Error::Tls {
                target: self.target.clone(),
                message,
            };
        }
        if message.contains("password missing") {
            return Error::Authentication {
                target: self.target.clone(),
                message: "the server asks for a password and none was given: put it in the URL \
                          (percent-encoded), PGPASSWORD or the password file (~/.pgpass, \
                          passfile=)"
                    .into(),
            };
        }
        if e.is_closed() || message.contains("error connecting") || message.contains("connect") {
            return Error::Connection {
                target: self.target.clone(),
                message,
            };
        }
        Error::Source {
            backend: "postgres",
            code: None,
            message,
            retryable: false,
        }
    }
}

/// A driver error with its cause: tokio-postgres's Display leaves the cause out ("error
/// performing TLS handshake"); a server's error carries its own message.
fn full_message(e: &tokio_postgres::Error) -> String {
    match std::error::Error::source(e) {
        Some(cause) if e.as_db_error().is_none() => format!("{e}: {cause}"),
        _ => e.to_string(),
    }
}

/// Keeps the last connection error the pool saw, to report it instead of a bare timeout.
#[derive(Debug, Clone, Default)]
struct LastError(Arc<StdMutex<Option<(Instant, String, bool)>>>);

impl ErrorSink<tokio_postgres::Error> for LastError {
    fn sink(&self, e: tokio_postgres::Error) {
        let auth = e
            .as_db_error()
            .is_some_and(|d| matches!(d.code().code(), "28P01" | "28000"));
        if let Ok(mut g) = self.0.lock() {
            *g = Some((Instant::now(), full_message(&e), auth));
        }
    }
    fn boxed_clone(&self) -> Box<dyn ErrorSink<tokio_postgres::Error>> {
        Box::new(self.clone())
    }
}

#[derive(Debug)]
struct Setup;

impl bb8::CustomizeConnection<PgClient, tokio_postgres::Error> for Setup {
    fn on_acquire<'a>(
        &'a self,
        c: &'a mut PgClient,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<Output = std::result::Result<(), tokio_postgres::Error>>
                + Send
                + 'a,
        >,
    > {
        Box::pin(async move { c.batch_execute(&SESSION_SETUP.join("; ")).await })
    }
}

/// PostgreSQL's side of the connector: a bb8 pool of tokio-postgres connections (what
/// [`Pooled`] and [`InTransaction`] need from this backend).
pub struct PgSession {
    pool: PoolSlot<Pool<Manager>>,
    target: Target,
    options: PoolOptions,
    last_error: LastError,
}

impl std::fmt::Debug for PgSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresConnector")
            .field("target", &self.target.target)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// A PostgreSQL connection pool (see the [`Connector`] trait for the API).
///
/// URL: `postgres://user:password@host:5432/db?pool_size=10&acquire_timeout=5s`; pool options
/// as in [`PoolOptions`], the rest go to the driver (`sslmode`, `connect_timeout`, ...).
pub type PostgresConnector = Pooled<PgSession>;

/// A PostgreSQL transaction on one pooled connection. Rolled back when dropped without
/// [`commit`](crate::connector::Transaction::commit).
pub type PgTransaction = InTransaction<PgSession>;

impl Pooled<PgSession> {
    /// Opens a pool for `url` and checks that the server accepts a connection.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, PoolOptions::default()).await
    }

    /// Like [`connect`](Self::connect), starting from `options` (URL options still override).
    pub async fn connect_with(url: &str, options: PoolOptions) -> Result<Self> {
        Self::from_options(&PgOptions::parse(url, options)?).await
    }

    /// Opens a pool as `options` (a URL read once) say.
    pub(crate) async fn from_options(opts: &PgOptions) -> Result<Self> {
        let target = opts.target.clone();
        let options = opts.pool.clone();
        let manager = Manager::new(opts.endpoint.clone());
        // One connection made up front: a wrong host or password fails here, at once.
        let first = bb8::ManageConnection::connect(&manager)
            .await
            .map_err(|e| target.error(e))?;
        first
            .batch_execute(&SESSION_SETUP.join("; "))
            .await
            .map_err(|e| target.error(e))?;
        let last_error = LastError::default();
        let pool = Pool::builder()
            .max_size(options.pool_size)
            .min_idle(Some(options.min_idle).filter(|n| *n > 0))
            .connection_timeout(options.acquire_timeout)
            .max_lifetime(options.max_lifetime)
            .idle_timeout(options.idle_timeout)
            .test_on_check_out(true)
            .retry_connection(false)
            .error_sink(Box::new(last_error.clone()))
            .connection_customizer(Box::new(Setup))
            .build_unchecked(manager);
        let _ = pool.add(first);
        Ok(Pooled::new(PgSession {
            pool: PoolSlot::new(pool, target.target.clone()),
            target,
            options,
            last_error,
        }))
    }

    /// The pool options in force.
    pub fn options(&self) -> &PoolOptions {
        &self.session().options
    }

    pub(crate) fn target(&self) -> &Target {
        &self.session().target
    }
}

impl PgSession {
    fn pool(&self) -> Result<Pool<Manager>> {
        self.pool.get()
    }

    /// Takes a connection from the pool (checked with a round trip first; broken ones are
    /// replaced). Waits at most the acquire timeout.
    async fn checked_out(&self) -> Result<PgConn> {
        let pool = self.pool()?;
        let started = Instant::now();
        match pool.get_owned().await {
            Ok(c) => Ok(c),
            Err(RunError::User(e)) => Err(self.target.error(e)),
            Err(RunError::TimedOut) => {
                let recent = self
                    .last_error
                    .0
                    .lock()
                    .ok()
                    .and_then(|mut g| g.take())
                    .filter(|(at, _, _)| at.elapsed() < started.elapsed() + Duration::from_secs(1));
                let target = self.target.target.clone();
                let secret = self.target.password.as_deref();
                Err(match recent {
                    Some((_, message, true)) => Error::Authentication {
                        target,
                        message: scrub(&message, secret),
                    },
                    Some((_, message, false)) => Error::Connection {
                        target,
                        message: scrub(&message, secret),
                    },
                    None => Error::PoolTimeout {
                        target,
                        waited: started.elapsed(),
                        pool_size: self.options.pool_size,
                    },
                })
            }
        }
    }
}

fn refs(params: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

/// How long a result dropped before its end is read on (its rest may already be on the way,
/// as when only the first row was wanted) before the query is cancelled.
const DRAIN_GRACE: Duration = Duration::from_millis(100);

/// A result stream that holds its connection. Dropped before its end, the rest is read for
/// [`DRAIN_GRACE`]; a query still running then is cancelled at the server and its connection
/// closed instead of pooled (a cancel request travels apart from the connection and could
/// otherwise hit the connection's next statement).
struct HeldStream {
    rows: Option<BatchStream<'static>>,
    hold: Option<Held<PgConn>>,
}

impl futures::Stream for HeldStream {
    type Item = Result<RecordBatch>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let Some(rows) = self.rows.as_mut() else {
            return std::task::Poll::Ready(None);
        };
        let next = rows.poll_next_unpin(cx);
        if let std::task::Poll::Ready(None) = next {
            self.hold = None; // read to the end: the connection is idle
        }
        next
    }
}

/// Keeps a pooled connection from going back to the pool.
fn discard(hold: &Held<PgConn>) {
    if let Held::Pooled(c) = hold {
        PgClient::discard(c)
    }
}

impl Drop for HeldStream {
    fn drop(&mut self) {
        let (Some(hold), Some(mut rows)) = (self.hold.take(), self.rows.take()) else {
            return;
        };
        // Inside a transaction a cancelled statement would abort it: the rest is read (by
        // the transaction's next call, which waits for this lock) and dropped.
        if hold.in_transaction() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            discard(&hold);
            return;
        };
        runtime.spawn(async move {
            let drained =
                tokio::time::timeout(DRAIN_GRACE, async { while rows.next().await.is_some() {} })
                    .await;
            if drained.is_err() {
                hold.cancel().await;
                discard(&hold);
            }
            drop(rows);
            drop(hold);
        });
    }
}

/// Streams the rows of a query as batches; `hold` moves into the stream, so the connection
/// stays checked out (or locked) while rows arrive.
async fn query_on(
    hold: Held<PgConn>,
    target: &Target,
    sql: &str,
    params: &[Value],
) -> Result<BatchStream<'static>> {
    let client: &Client = &hold;
    let stmt = client.prepare(sql).await.map_err(|e| target.error(e))?;
    let decoder = RowDecoder::new(stmt.columns())?;
    let rows = client
        .query_raw(&stmt, refs(params))
        .await
        .map_err(|e| target.error(e))?;
    let target = target.clone();
    let rows = rows
        .map_err(move |e| target.error(e))
        .chunks(RESULT_BATCH_ROWS)
        .map(move |chunk| {
            let rows = chunk.into_iter().collect::<Result<Vec<_>>>()?;
            decoder.decode(&rows)
        })
        .boxed();
    Ok(HeldStream {
        rows: Some(rows),
        hold: Some(hold),
    }
    .boxed())
}

async fn execute_many_on(
    client: &Client,
    target: &Target,
    sql: &str,
    rows: &[Vec<Value>],
) -> Result<u64> {
    let stmt = client.prepare(sql).await.map_err(|e| target.error(e))?;
    // Pipelined: every execution is sent before the answers are read.
    let bound: Vec<Vec<&(dyn ToSql + Sync)>> = rows.iter().map(|r| refs(r)).collect();
    let counts = futures::future::try_join_all(bound.iter().map(|r| client.execute(&stmt, &r[..])))
        .await
        .map_err(|e| target.error(e))?;
    Ok(counts.into_iter().sum())
}

const COLUMNS_SQL: &str = "SELECT a.attname::text FROM pg_catalog.pg_attribute a \
     JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
     WHERE n.nspname = COALESCE($1, current_schema()) AND c.relname = $2 \
       AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";

async fn table_columns(client: &Client, target: &Target, table: &TableName) -> Result<Vec<String>> {
    let rows = client
        .query(COLUMNS_SQL, &[&table.schema, &table.table])
        .await
        .map_err(|e| target.error(e))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

async fn table_schema_on(
    client: &Client,
    target: &Target,
    table: &TableName,
) -> Result<Option<SchemaRef>> {
    if table_columns(client, target, table).await?.is_empty() {
        return Ok(None);
    }
    let stmt = client
        .prepare(&format!("SELECT * FROM {} LIMIT 0", table.quoted('"')))
        .await
        .map_err(|e| target.error(e))?;
    Ok(Some(RowDecoder::new(stmt.columns())?.schema()))
}

/// `CREATE TABLE` for an Arrow schema.
pub fn create_table_sql(table: &TableName, schema: &SchemaRef) -> Result<String> {
    let cols = column_definitions(schema, "PostgreSQL", pg_type_for, super::quote_ident)?;
    Ok(format!("CREATE TABLE {} ({cols})", table.quoted('"')))
}

/// Appends `batches` to `table` with binary COPY on `client` (inside the caller's transaction).
async fn copy_in(
    client: &Client,
    target: &Target,
    table: &TableName,
    mut batches: SendableRecordBatchStream,
    options: &BulkOptions,
) -> Result<u64> {
    let schema = batches.schema();
    let mut existing = table_columns(client, target, table).await?;
    if existing.is_empty() {
        if !options.create_if_missing {
            return Err(Error::UnknownTable(table.to_string()));
        }
        client
            .batch_execute(&create_table_sql(table, &schema)?)
            .await
            .map_err(|e| target.error(e))?;
        existing = schema.fields().iter().map(|f| f.name().clone()).collect();
    }
    crate::connector::executor::check_load_columns(table, &schema, |name| {
        existing.iter().any(|c| c == name)
    })?;
    let cols = schema
        .fields()
        .iter()
        .map(|f| super::quote_ident(f.name()))
        .collect::<Vec<_>>()
        .join(", ");
    let probe = client
        .prepare(&format!("SELECT {cols} FROM {} LIMIT 0", table.quoted('"')))
        .await
        .map_err(|e| target.error(e))?;
    let types: Vec<Type> = probe.columns().iter().map(|c| c.type_().clone()).collect();
    let sink = client
        .copy_in::<_, bytes::Bytes>(&format!(
            "COPY {} ({cols}) FROM STDIN (FORMAT binary)",
            table.quoted('"')
        ))
        .await
        .map_err(|e| target.error(e))?;
    futures::pin_mut!(sink);
    let mut buf = BytesMut::with_capacity(1 << 20);
    copy_header(&mut buf);
    while let Some(batch) = batches.next().await {
        // An error here drops the sink unfinished: the server aborts the COPY.
        let batch = batch.map_err(Error::from_datafusion)?;
        copy_rows(&batch, &types, &mut buf)?;
        if buf.len() >= 1 << 20 {
            sink.send(buf.split().freeze())
                .await
                .map_err(|e| target.error(e))?;
        }
    }
    buf.extend_from_slice(&(-1i16).to_be_bytes());
    sink.send(buf.split().freeze())
        .await
        .map_err(|e| target.error(e))?;
    sink.as_mut().finish().await.map_err(|e| target.error(e))
}

fn rolled_back(e: &Error) -> bool {
    matches!(e.code(), Some("40001" | "40P01"))
}

#[async_trait]
impl Session for PgSession {
    type Conn = PgConn;

    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn bulk_method(&self) -> &'static str {
        "COPY FROM STDIN (FORMAT binary)"
    }

    /// Inside the load's transaction (PostgreSQL's DDL is transactional): drop the table,
    /// rename the staging table into its place.
    fn replace_sql(
        &self,
        staging: &TableName,
        target: &TableName,
        _old: &TableName,
        target_exists: bool,
    ) -> Option<Vec<String>> {
        let mut statements = vec![];
        if target_exists {
            statements.push(format!("DROP TABLE {}", target.quoted('"')));
        }
        let bare = TableName {
            schema: None,
            table: target.table.clone(),
        };
        statements.push(format!(
            "ALTER TABLE {} RENAME TO {}",
            staging.quoted('"'),
            bare.quoted('"')
        ));
        Some(statements)
    }

    async fn acquire(&self) -> Result<PgConn> {
        self.checked_out().await
    }

    async fn simple(&self, conn: &mut PgConn, sql: &str) -> Result<()> {
        conn.batch_execute(sql)
            .await
            .map_err(|e| self.target.error(e))
    }

    async fn query(
        &self,
        conn: Held<PgConn>,
        sql: &str,
        params: &[Value],
    ) -> Result<BatchStream<'static>> {
        query_on(conn, &self.target, sql, params).await
    }

    async fn execute(&self, conn: &mut PgConn, sql: &str, params: &[Value]) -> Result<u64> {
        conn.execute(sql, &refs(params)[..])
            .await
            .map_err(|e| self.target.error(e))
    }

    async fn execute_many(&self, conn: &mut PgConn, sql: &str, rows: &[Vec<Value>]) -> Result<u64> {
        execute_many_on(conn, &self.target, sql, rows).await
    }

    async fn load(
        &self,
        conn: &mut PgConn,
        table: &TableName,
        batches: SendableRecordBatchStream,
        options: &BulkOptions,
    ) -> Result<u64> {
        // DDL is transactional here: a table the load creates goes away with a failed load.
        copy_in(conn, &self.target, table, batches, options).await
    }

    async fn table_schema(
        &self,
        conn: &mut PgConn,
        table: &TableName,
    ) -> Result<Option<SchemaRef>> {
        table_schema_on(conn, &self.target, table).await
    }

    fn statement_rolled_back(&self, error: &Error) -> bool {
        rolled_back(error)
    }

    async fn disconnect(&self) -> Result<()> {
        self.pool.close();
        Ok(())
    }

    fn pool_status(&self) -> PoolStatus {
        self.pool.status()
    }
}

impl Pooled<PgSession> {
    /// Loads a CSV file (a path or a `file://` URL) with `COPY ... FROM STDIN (FORMAT csv)`;
    /// returns the number of rows. All or nothing.
    pub async fn copy_from_csv(
        &self,
        table: &TableName,
        path: &str,
        options: &CsvOptions,
    ) -> Result<u64> {
        let path = crate::connector::local_path(path)?;
        let session = self.session();
        let mut conn = self.acquire().await?;
        let t = &session.target;
        let cols = match &options.columns {
            Some(c) => format!(
                " ({})",
                c.iter()
                    .map(|c| super::quote_ident(c))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => String::new(),
        };
        let lit = |s: &str| format!("'{}'", s.replace('\'', "''"));
        let sql = format!(
            "COPY {}{cols} FROM STDIN (FORMAT csv, HEADER {}, DELIMITER {}, QUOTE {}, NULL {})",
            table.quoted('"'),
            options.header,
            lit(&(options.delimiter as char).to_string()),
            lit(&(options.quote as char).to_string()),
            lit(&options.null)
        );
        session.simple(&mut conn, session.begin_sql()).await?;
        let load = async {
            let sink = conn
                .copy_in::<_, bytes::Bytes>(&sql)
                .await
                .map_err(|e| t.error(e))?;
            futures::pin_mut!(sink);
            let file = tokio::fs::File::open(&path).await?;
            let mut chunks = std::pin::pin!(crate::connector::file_chunks(file));
            while let Some(chunk) = chunks.next().await {
                sink.send(chunk?).await.map_err(|e| t.error(e))?;
            }
            sink.as_mut().finish().await.map_err(|e| t.error(e))
        }
        .await;
        commit_or_rollback(session, &mut conn, load).await
    }
}
