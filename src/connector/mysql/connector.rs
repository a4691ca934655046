//! The MySQL / MariaDB connector: mysql_async's pool, statements with bound parameters,
//! transactions, and bulk loads through `LOAD DATA LOCAL INFILE` fed from memory (multi-row
//! prepared INSERTs where the server forbids local files).

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::execution::SendableRecordBatchStream;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Pool};

use super::bulk::{load_on, prepare_target};
use super::error::Target;
use super::options::MySqlOptions;
use super::params::{execute_many_on, execute_on, my_params};
use super::rows::{first_then_rest, run_query, table_schema_on};
use super::transaction::{begin_on, end_on, MySqlTransaction};
use crate::connector::executor::{
    retry, BatchStream, BulkOptions, Connector, Executor, PoolOptions, PoolStatus, TableName,
    Transaction, READ_ATTEMPTS,
};
use crate::connector::value::Value;
use crate::error::{Error, Result};
use crate::read::batch_channel;

struct Inner {
    pool: std::sync::RwLock<Option<Pool>>,
    target: Target,
    options: PoolOptions,
}

/// A MySQL / MariaDB connection pool (see the [`Connector`] trait for the API).
///
/// URL: `mysql://user:password@host:3306/db?pool_size=10&acquire_timeout=5s`; pool options as
/// in [`PoolOptions`], TLS with `ssl-mode` / `ssl-ca`, and the options mysql_async reads (an
/// unknown option is an `InvalidUrl` error that lists the valid ones).
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
    pub async fn connect_with(url: &str, options: PoolOptions) -> Result<Self> {
        Self::from_options(&MySqlOptions::parse(url, options)?).await
    }

    /// Opens a pool as `options` say and checks that the server accepts a connection.
    pub(crate) async fn from_options(options: &MySqlOptions) -> Result<Self> {
        let this = Self {
            inner: Arc::new(Inner {
                pool: std::sync::RwLock::new(Some(Pool::new(options.opts.clone()))),
                target: options.target.clone(),
                options: options.pool.clone(),
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
    pub(super) async fn kill_query(&self, id: u32) {
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
        begin_on(&mut conn, &self.inner.target).await?;
        Ok(MySqlTransaction::new(conn, self.inner.target.clone()))
    }
}
