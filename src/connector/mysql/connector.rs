//! The MySQL / MariaDB connector: mysql_async's pool, statements with bound parameters,
//! transactions, and bulk loads through `LOAD DATA LOCAL INFILE` fed from memory (multi-row
//! prepared INSERTs where the server forbids local files).

use std::time::{Duration, Instant};

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::execution::SendableRecordBatchStream;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Pool};

use super::bulk::{load_on, prepare_target};
use super::error::Target;
use super::options::{MySqlOptions, SslMode};
use super::params::{execute_many_on, execute_on, my_params};
use super::rows::{first_then_rest, run_query, table_schema_on};
use crate::connector::executor::{BatchStream, BulkOptions, PoolOptions, PoolStatus, TableName};
use crate::connector::session::{Held, InTransaction, PoolSlot, Pooled, Session};
use crate::connector::value::Value;
use crate::error::{Error, Result};
use crate::read::batch_channel;

/// MySQL's side of the connector: mysql_async's pool (what [`Pooled`] and [`InTransaction`]
/// need from this backend).
pub struct MySqlSession {
    pool: PoolSlot<Pool>,
    target: Target,
    options: PoolOptions,
}

impl std::fmt::Debug for MySqlSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MySqlConnector")
            .field("target", &self.target.target)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// A MySQL / MariaDB connection pool (see the [`Connector`](crate::connector::Connector)
/// trait for the API).
///
/// URL: `mysql://user:password@host:3306/db?pool_size=10&acquire_timeout=5s`; pool options as
/// in [`PoolOptions`], TLS with `ssl-mode` / `ssl-ca`, and the options mysql_async reads (an
/// unknown option is an `InvalidUrl` error that lists the valid ones).
pub type MySqlConnector = Pooled<MySqlSession>;

/// A MySQL transaction on one pooled connection. Rolled back when dropped without
/// [`commit`](crate::connector::Transaction::commit).
pub type MySqlTransaction = InTransaction<MySqlSession>;

impl Pooled<MySqlSession> {
    /// Opens a pool for `url` and checks that the server accepts a connection.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, PoolOptions::default()).await
    }

    /// Like [`connect`](Self::connect), starting from `options` (URL options still override).
    pub async fn connect_with(url: &str, options: PoolOptions) -> Result<Self> {
        Self::from_options(&MySqlOptions::parse(url, options)?).await
    }

    /// Opens a pool as `options` say and checks that the server accepts a connection.
    pub(crate) async fn from_options(options: &MySqlOptions) -> Result<Self> {
        let opts = preferred_tls(options).await?;
        let this = Pooled::new(MySqlSession {
            pool: PoolSlot::new(Pool::new(opts), options.target.target.clone()),
            target: options.target.clone(),
            options: options.pool.clone(),
        });
        // A wrong host or password fails here, at once.
        this.session().ping().await?;
        Ok(this)
    }

    /// The pool options in force.
    pub fn options(&self) -> &PoolOptions {
        &self.session().options
    }

    pub(crate) fn target(&self) -> &Target {
        &self.session().target
    }
}

/// The settings the pool connects with. For `ssl-mode=PREFERRED` one connection finds out
/// whether the server offers TLS (mysql_async has no fallback): without it, connections are
/// made without TLS, as the MySQL client does.
async fn preferred_tls(options: &MySqlOptions) -> Result<mysql_async::Opts> {
    if options.tls.mode != SslMode::Preferred || options.socket.is_some() {
        return Ok(options.opts.clone());
    }
    if let Some(encrypted) = options.tls.negotiated() {
        return Ok(if encrypted {
            options.opts.clone()
        } else {
            options.plain_opts()
        });
    }
    match mysql_async::Conn::new(options.opts.clone()).await {
        Ok(conn) => {
            options.tls.set_negotiated(true);
            let _ = conn.disconnect().await;
            Ok(options.opts.clone())
        }
        Err(mysql_async::Error::Driver(mysql_async::DriverError::NoClientSslFlagFromServer)) => {
            options.tls.set_negotiated(false);
            Ok(options.plain_opts())
        }
        Err(e) => Err(options.target.error(e)),
    }
}

impl MySqlSession {
    fn pool(&self) -> Result<Pool> {
        self.pool.get()
    }
}

/// Stops the statement running on connection `id` (`KILL QUERY`) from another connection of
/// `pool`; gives up quietly when none is free within a second (the rest of the result is then
/// read and dropped instead).
pub(super) async fn kill_query(pool: &Pool, id: u32) {
    let kill = async {
        let mut conn = pool.get_conn().await.ok()?;
        conn.query_drop(format!("KILL QUERY {id}")).await.ok()
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), kill).await;
}

#[async_trait]
impl Session for MySqlSession {
    type Conn = Conn;

    fn backend(&self) -> &'static str {
        "mysql"
    }

    fn bulk_method(&self) -> &'static str {
        "LOAD DATA LOCAL INFILE"
    }

    fn identifier_quote(&self) -> char {
        '`'
    }

    /// After the staging table's load has committed: one `RENAME TABLE` swaps both names
    /// atomically, then the old table goes.
    fn replace_sql(
        &self,
        staging: &TableName,
        target: &TableName,
        old: &TableName,
        target_exists: bool,
    ) -> Option<Vec<String>> {
        let (s, t, o) = (staging.quoted('`'), target.quoted('`'), old.quoted('`'));
        Some(if target_exists {
            vec![
                format!("DROP TABLE IF EXISTS {o}"),
                format!("RENAME TABLE {t} TO {o}, {s} TO {t}"),
                format!("DROP TABLE {o}"),
            ]
        } else {
            vec![format!("RENAME TABLE {s} TO {t}")]
        })
    }

    /// Takes a connection from the pool, checked with a ping (a broken one is dropped and
    /// replaced). Waits at most the acquire timeout.
    async fn acquire(&self) -> Result<Conn> {
        let pool = self.pool()?;
        let started = Instant::now();
        let timeout = self.options.acquire_timeout;
        let get = async {
            // A server refusing for now (too many connections) is asked again for three
            // quarters of the acquire timeout: the timeout's own error would hide the refusal.
            let mut backoff = crate::connector::Backoff::new(timeout * 3 / 4);
            loop {
                let mut conn = match pool.get_conn().await.map_err(|e| self.target.error(e)) {
                    Ok(conn) => conn,
                    Err(e) if super::error::refused_for_now(&e) => match backoff.next_pause() {
                        Some(pause) => {
                            tokio::time::sleep(pause).await;
                            continue;
                        }
                        None => return Err(e),
                    },
                    Err(e) => return Err(e),
                };
                match conn.ping().await {
                    Ok(()) => return Ok(conn),
                    // Broken (killed, timed out): dropped, and the pool opens another.
                    Err(e) if started.elapsed() < timeout => {
                        log::debug!("dropping a broken pooled connection: {e}");
                        let _ = conn.disconnect().await;
                    }
                    Err(e) => return Err(self.target.error(e)),
                }
            }
        };
        match tokio::time::timeout(timeout, get).await {
            Ok(r) => r,
            Err(_) => Err(Error::PoolTimeout {
                target: self.target.target.clone(),
                waited: started.elapsed(),
                pool_size: self.options.pool_size,
            }),
        }
    }

    async fn simple(&self, conn: &mut Conn, sql: &str) -> Result<()> {
        conn.query_drop(sql).await.map_err(|e| self.target.error(e))
    }

    fn begin_sql(&self) -> &'static str {
        "START TRANSACTION"
    }

    async fn query(
        &self,
        conn: Held<Conn>,
        sql: &str,
        params: &[Value],
    ) -> Result<BatchStream<'static>> {
        let params = my_params(params)?;
        // Outside a transaction a result the consumer leaves is killed at the server.
        let killer = if conn.in_transaction() {
            None
        } else {
            Some(self.pool()?)
        };
        let (tx, rx) = batch_channel("mysql", &[sql.to_string()]);
        tokio::spawn(run_query(
            conn,
            self.target.clone(),
            sql.to_string(),
            params,
            tx,
            killer,
        ));
        first_then_rest(rx).await
    }

    async fn execute(&self, conn: &mut Conn, sql: &str, params: &[Value]) -> Result<u64> {
        execute_on(conn, &self.target, sql, params).await
    }

    async fn execute_many(&self, conn: &mut Conn, sql: &str, rows: &[Vec<Value>]) -> Result<u64> {
        execute_many_on(conn, &self.target, sql, rows).await
    }

    fn ddl_commits(&self) -> bool {
        true
    }

    async fn prepare_load(
        &self,
        conn: &mut Conn,
        table: &TableName,
        schema: &SchemaRef,
        options: &BulkOptions,
    ) -> Result<()> {
        // DDL commits in MySQL: the table is created before the transaction begins.
        prepare_target(conn, &self.target, table, schema, options).await
    }

    async fn load(
        &self,
        conn: &mut Conn,
        table: &TableName,
        batches: SendableRecordBatchStream,
        options: &BulkOptions,
    ) -> Result<u64> {
        load_on(conn, &self.target, table, batches, options).await
    }

    async fn table_schema(&self, conn: &mut Conn, table: &TableName) -> Result<Option<SchemaRef>> {
        table_schema_on(conn, &self.target, table).await
    }

    fn statement_rolled_back(&self, error: &Error) -> bool {
        // Deadlock: InnoDB rolled the statement back.
        error.code() == Some("1213")
    }

    async fn ping(&self) -> Result<()> {
        self.acquire().await.map(|_| ())
    }

    async fn disconnect(&self) -> Result<()> {
        let pool = self.pool.close();
        if let Some(pool) = pool {
            pool.disconnect().await.map_err(|e| self.target.error(e))?;
        }
        Ok(())
    }

    fn pool_status(&self) -> PoolStatus {
        // mysql_async does not expose its counts; report the configured bounds.
        PoolStatus {
            connections: self.options.pool_size,
            idle: self.options.min_idle,
        }
    }
}
