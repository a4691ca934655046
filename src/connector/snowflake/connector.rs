//! The Snowflake connector: the pool, statements with bound parameters, the catalog queries
//! the source shares, results streamed off a blocking thread, and the bulk load (the rows
//! written as Parquet, `PUT` to the table's stage, then one `COPY INTO`).

use std::sync::Arc;
use std::time::Instant;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use bb8::{Pool, PooledConnection};
use datafusion::execution::SendableRecordBatchStream;
use futures::StreamExt;

use super::driver::{blocking, Manager, SfConn, SfDatabase};
use super::options::SfOptions;
use super::types::{self, SfColumn};
use crate::connector::executor::{BatchStream, BulkOptions, PoolOptions, PoolStatus, TableName};
use crate::connector::session::{Held, PoolSlot, Pooled, Session};
use crate::connector::value::cell_fn;
use crate::connector::Value;
use crate::error::{Error, Result};
use crate::read::spawn_reader;

/// A pooled Snowflake connection.
pub type SfPoolConn = PooledConnection<'static, Manager>;

/// The Snowflake connector (see [`crate::connector::Connector`]).
pub type SnowflakeConnector = Pooled<SfSession>;

/// Snowflake's side of the pool and transaction executor (see [`Session`]).
pub struct SfSession {
    pool: PoolSlot<Pool<Manager>>,
    db: SfDatabase,
}

impl std::fmt::Debug for SfSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnowflakeConnector")
            .field("options", self.db.options())
            .finish_non_exhaustive()
    }
}

impl Pooled<SfSession> {
    /// Opens a pool for a `snowflake://` URL and checks that Snowflake answers.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, PoolOptions::default()).await
    }

    /// As [`connect`](Self::connect), with pool options (the URL's own override them).
    pub async fn connect_with(url: &str, pool: PoolOptions) -> Result<Self> {
        let options = Arc::new(SfOptions::parse(url, pool)?);
        Self::from_options(options).await
    }

    pub(crate) async fn from_options(options: Arc<SfOptions>) -> Result<Self> {
        let opts = options.clone();
        let db = blocking(move || SfDatabase::open(opts)).await?;
        // The first connection is made here, so a wrong account, endpoint or password is
        // its own error now rather than a pool timeout later.
        let manager = Manager { db: db.clone() };
        let first = bb8::ManageConnection::connect(&manager).await?;
        let p = &options.pool;
        let pool = Pool::builder()
            .max_size(p.pool_size.max(1))
            .min_idle(Some(p.min_idle))
            .connection_timeout(p.acquire_timeout)
            .max_lifetime(p.max_lifetime)
            .idle_timeout(p.idle_timeout)
            // A check per checkout is a round trip to Snowflake; a broken connection fails its
            // statement instead, and reads are retried on a new one.
            .test_on_check_out(false)
            // A connection that cannot be made is the caller's error at once, not a timeout.
            .retry_connection(false)
            .build_unchecked(manager);
        let _ = pool.add(first);
        let connector = Pooled::new(SfSession {
            pool: PoolSlot::new(pool, options.target()),
            db,
        });
        connector.session().ping().await?;
        Ok(connector)
    }

    /// Another pool on the same account with another warehouse, role or schema (`None`:
    /// as this one). Each pooled connection is set up at login, so a switch is a pool of its
    /// own rather than a `USE` on one connection that the pool would hand to someone else.
    pub async fn switch(
        &self,
        warehouse: Option<&str>,
        role: Option<&str>,
        schema: Option<&str>,
    ) -> Result<Self> {
        let mut options = self.options().clone();
        if let Some(w) = warehouse {
            options.warehouse = Some(w.to_string());
        }
        if let Some(r) = role {
            options.role = Some(r.to_string());
        }
        if let Some(s) = schema {
            options.schema = fold(s);
        }
        Self::from_options(Arc::new(options)).await
    }

    /// The URL's options.
    pub(crate) fn options(&self) -> &SfOptions {
        self.session().db.options()
    }
}

/// The text of every cell of `batches`, row by row (catalog results).
pub(crate) fn text_rows(batches: &[RecordBatch]) -> Result<Vec<Vec<Option<String>>>> {
    let mut rows = vec![];
    for b in batches {
        let cells = b
            .columns()
            .iter()
            .enumerate()
            .map(|(i, a)| cell_fn(b.schema().field(i).name(), a))
            .collect::<Result<Vec<_>>>()?;
        for r in 0..b.num_rows() {
            rows.push(
                cells
                    .iter()
                    .map(|get| get(r).text().map(|t| t.into_owned()))
                    .collect(),
            );
        }
    }
    Ok(rows)
}

impl SfSession {
    fn target(&self) -> String {
        self.db.options().target()
    }

    fn pool(&self) -> Result<Pool<Manager>> {
        self.pool.get()
    }

    /// A query's rows as text, on `conn` (blocking thread).
    pub(crate) async fn rows_on(
        &self,
        conn: &SfConn,
        sql: &str,
        params: &[Value],
    ) -> Result<Vec<Vec<Option<String>>>> {
        let mut c = conn.shallow();
        let sql = sql.to_string();
        let params = types::params_batch(params)?;
        blocking(move || text_rows(&c.collect_blocking(&sql, params)?)).await
    }

    /// A query's rows as text, on a pooled connection.
    pub(crate) async fn rows(
        &self,
        sql: &str,
        params: &[Value],
    ) -> Result<Vec<Vec<Option<String>>>> {
        let conn = self.acquire().await?;
        self.rows_on(&conn, sql, params).await
    }

    /// The stored (schema, table) an engine name stands for, in the connection's database;
    /// `None` when no such table exists. `schema` `None`: the URL's schema.
    pub(crate) async fn resolve_on(
        &self,
        conn: &SfConn,
        schema: Option<&str>,
        table: &str,
    ) -> Result<Option<(String, String)>> {
        let schemas = match schema {
            Some(s) => types::stored_candidates(s),
            None => vec![self.db.options().schema.clone()],
        };
        for s in &schemas {
            for t in types::stored_candidates(table) {
                let hit = self
                    .rows_on(
                        conn,
                        "SELECT TABLE_SCHEMA, TABLE_NAME FROM INFORMATION_SCHEMA.TABLES \
                         WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
                        &[Value::Text(s.clone()), Value::Text(t.clone())],
                    )
                    .await?;
                if let Some(row) = hit.into_iter().next() {
                    return Ok(Some((
                        row[0].clone().unwrap_or_else(|| s.clone()),
                        row[1].clone().unwrap_or(t),
                    )));
                }
            }
        }
        Ok(None)
    }

    /// The catalog's columns of a stored table, in order.
    pub(crate) async fn columns_on(
        &self,
        conn: &SfConn,
        schema: &str,
        table: &str,
    ) -> Result<Vec<SfColumn>> {
        let rows = self
            .rows_on(
                conn,
                "SELECT COLUMN_NAME, DATA_TYPE, IS_NULLABLE, NUMERIC_PRECISION, NUMERIC_SCALE, \
                 CHARACTER_MAXIMUM_LENGTH, COLLATION_NAME FROM INFORMATION_SCHEMA.COLUMNS \
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
                &[Value::Text(schema.into()), Value::Text(table.into())],
            )
            .await?;
        let int = |v: &Option<String>| v.as_deref().and_then(|s| s.parse::<i64>().ok());
        Ok(rows
            .into_iter()
            .map(|r| SfColumn {
                name: r[0].clone().unwrap_or_default(),
                data_type: r[1].clone().unwrap_or_default(),
                nullable: r[2]
                    .as_deref()
                    .is_none_or(|v| v.eq_ignore_ascii_case("YES")),
                precision: int(&r[3]),
                scale: int(&r[4]),
                length: int(&r[5]),
                collation: r[6].clone(),
            })
            .collect())
    }
}

/// `"a"."b"` for a stored schema and table.
pub(crate) fn quoted(schema: &str, table: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(table))
}

/// A Snowflake identifier, quoted (its case kept).
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Streams a statement's batches from a thread of its own; `hold` stays with the stream until
/// it ends. Dropped early, a pooled connection's statement is cancelled and the connection
/// closed; a transaction's is read to its end (the transaction goes on).
fn stream(
    hold: Held<SfPoolConn>,
    sql: String,
    params: Option<RecordBatch>,
) -> BatchStream<'static> {
    let runtime = tokio::runtime::Handle::current();
    let queries = [sql.clone()];
    let rx = spawn_reader(
        "vp-snowflake-query",
        "snowflake",
        &queries,
        None,
        move |tx| {
            let _rt = runtime.enter();
            let hold = hold;
            let mut conn = hold.shallow();
            let (reader, cancel) = conn.query_blocking(&sql, params)?;
            let mut draining = false;
            for batch in reader {
                let batch = batch?;
                if draining {
                    continue;
                }
                if !tx.send_blocking(batch) {
                    if hold.in_transaction() {
                        draining = true;
                        continue;
                    }
                    cancel.cancel();
                    hold.discard();
                    return Ok(());
                }
            }
            Ok(())
        },
    );
    rx.into_stream()
}

#[async_trait]
impl Session for SfSession {
    type Conn = SfPoolConn;

    fn backend(&self) -> &'static str {
        "snowflake"
    }

    fn bulk_method(&self) -> &'static str {
        "PUT + COPY INTO (Parquet)"
    }

    async fn acquire(&self) -> Result<SfPoolConn> {
        let started = Instant::now();
        let pool = self.pool()?;
        pool.get_owned().await.map_err(|e| match e {
            bb8::RunError::User(e) => e,
            bb8::RunError::TimedOut => Error::PoolTimeout {
                target: self.target(),
                waited: started.elapsed(),
                pool_size: pool
                    .state()
                    .connections
                    .max(self.db.options().pool.pool_size),
            },
        })
    }

    async fn simple(&self, conn: &mut SfPoolConn, sql: &str) -> Result<()> {
        let mut c = conn.shallow();
        let sql = sql.to_string();
        blocking(move || c.execute_blocking(&sql, None).map(|_| ())).await
    }

    async fn query(
        &self,
        conn: Held<SfPoolConn>,
        sql: &str,
        params: &[Value],
    ) -> Result<BatchStream<'static>> {
        let params = types::params_batch(params)?;
        Ok(stream(conn, sql.to_string(), params))
    }

    async fn execute(&self, conn: &mut SfPoolConn, sql: &str, params: &[Value]) -> Result<u64> {
        let mut c = conn.shallow();
        let sql = sql.to_string();
        let params = types::params_batch(params)?;
        blocking(move || c.execute_blocking(&sql, params)).await
    }

    async fn execute_many(
        &self,
        conn: &mut SfPoolConn,
        sql: &str,
        rows: &[Vec<Value>],
    ) -> Result<u64> {
        let mut total = 0;
        for row in rows {
            total += self.execute(conn, sql, row).await?;
        }
        Ok(total)
    }

    fn ddl_commits(&self) -> bool {
        true
    }

    fn load_is_atomic(&self) -> bool {
        true
    }

    async fn prepare_load(
        &self,
        conn: &mut SfPoolConn,
        table: &TableName,
        schema: &SchemaRef,
        options: &BulkOptions,
    ) -> Result<()> {
        let found = self
            .resolve_on(conn, table.schema.as_deref(), &table.table)
            .await?;
        match found {
            Some((s, t)) => {
                let cols = self.columns_on(conn, &s, &t).await?;
                crate::connector::executor::check_load_columns(table, schema, |name| {
                    cols.iter().any(|c| c.name.eq_ignore_ascii_case(name))
                })
            }
            None if options.create_if_missing => {
                let stored_schema = match &table.schema {
                    Some(s) => fold(s),
                    None => self.db.options().schema.clone(),
                };
                let defs = crate::connector::executor::column_definitions(
                    schema,
                    "Snowflake",
                    types::snowflake_type,
                    |n| quote_ident(&fold(n)),
                )?;
                let sql = format!(
                    "CREATE TABLE {} ({defs})",
                    quoted(&stored_schema, &fold(&table.table))
                );
                self.simple(conn, &sql).await
            }
            None => Err(Error::UnknownTable(table.to_string())),
        }
    }

    async fn load(
        &self,
        conn: &mut SfPoolConn,
        table: &TableName,
        batches: SendableRecordBatchStream,
        _options: &BulkOptions,
    ) -> Result<u64> {
        let (schema, name) = self
            .resolve_on(conn, table.schema.as_deref(), &table.table)
            .await?
            .ok_or_else(|| Error::UnknownTable(table.to_string()))?;
        let dir = tempfile::tempdir()?;
        static LOADS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let file_name = format!(
            "vp_load_{}_{}_{}.parquet",
            std::process::id(),
            LOADS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        );
        let path = dir.path().join(&file_name);
        let rows = write_parquet(&path, batches).await?;
        if rows == 0 {
            return Ok(0);
        }
        // The connection's temporary stage (see `SfDatabase::load_stage`; the driver reads the
        // `%` of a table stage `@%t` as a format verb). Each load's file has a name of its own.
        let stage_name = self.db.load_stage();
        let stage = format!("@{stage_name}");
        let url = url::Url::from_file_path(&path)
            .map_err(|_| Error::Config(format!("{} is not an absolute path", path.display())))?;
        let put = format!(
            "PUT {} {stage} AUTO_COMPRESS = FALSE OVERWRITE = TRUE",
            super::driver::quote_literal(url.as_str())
        );
        self.simple(conn, &put).await?;
        let copy = format!(
            "COPY INTO {} FROM {stage}/{file_name} FILE_FORMAT = (TYPE = PARQUET) \
             MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE PURGE = TRUE FORCE = TRUE",
            quoted(&schema, &name)
        );
        self.simple(conn, &copy).await?;
        Ok(rows)
    }

    async fn table_schema(
        &self,
        conn: &mut SfPoolConn,
        table: &TableName,
    ) -> Result<Option<SchemaRef>> {
        let Some((s, t)) = self
            .resolve_on(conn, table.schema.as_deref(), &table.table)
            .await?
        else {
            return Ok(None);
        };
        let cols = self.columns_on(conn, &s, &t).await?;
        let specs = columns_to_specs(&cols);
        Ok(Some(crate::schema::schema_of(&specs)))
    }

    fn statement_rolled_back(&self, _error: &Error) -> bool {
        false
    }

    async fn disconnect(&self) -> Result<()> {
        self.pool.close();
        Ok(())
    }

    fn pool_status(&self) -> PoolStatus {
        self.pool.status()
    }
}

/// The stored name a new table or column gets: upper case for a name typed in lower case,
/// as Snowflake stores an unquoted identifier.
fn fold(name: &str) -> String {
    types::stored_candidates(name)
        .pop()
        .unwrap_or_else(|| name.to_string())
}

/// The declared columns of a table.
pub(crate) fn columns_to_specs(cols: &[SfColumn]) -> Vec<crate::schema::ColumnSpec> {
    cols.iter()
        .map(|c| {
            types::column_spec(c, &|display| {
                cols.iter().any(|o| o.name != c.name && o.name == display)
            })
        })
        .collect()
}

/// Writes `batches` into one Parquet file; the number of rows written.
async fn write_parquet(
    path: &std::path::Path,
    mut batches: SendableRecordBatchStream,
) -> Result<u64> {
    let file = std::fs::File::create(path)?;
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batches.schema(), None)
        .map_err(|e| Error::Config(format!("cannot write the load file: {e}")))?;
    let mut rows = 0u64;
    while let Some(batch) = batches.next().await {
        let batch = batch.map_err(Error::from_datafusion)?;
        rows += batch.num_rows() as u64;
        writer
            .write(&batch)
            .map_err(|e| Error::Config(format!("cannot write the load file: {e}")))?;
    }
    writer
        .close()
        .map_err(|e| Error::Config(format!("cannot write the load file: {e}")))?;
    Ok(rows)
}
