//! Transactions: `START TRANSACTION` ... `COMMIT` / `ROLLBACK` on one connection (and
//! savepoints inside one), and [`MySqlTransaction`], a transaction held across calls.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::execution::SendableRecordBatchStream;
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use super::bulk::{load_on, prepare_target};
use super::error::Target;
use super::params::{execute_many_on, execute_on, my_params};
use super::rows::{first_then_rest, run_query, table_schema_on};
use crate::connector::executor::{BatchStream, BulkOptions, Executor, TableName, Transaction};
use crate::connector::value::Value;
use crate::error::{Error, Result};
use crate::read::batch_channel;

/// Starts a transaction on `conn`.
pub(super) async fn begin_on(conn: &mut Conn, target: &Target) -> Result<()> {
    conn.query_drop("START TRANSACTION")
        .await
        .map_err(|e| target.error(e))
}

/// Commits when `outcome` is a success, rolls back otherwise.
pub(super) async fn end_on<T>(conn: &mut Conn, target: &Target, outcome: Result<T>) -> Result<T> {
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
    /// The transaction started on `conn`.
    pub(super) fn new(conn: Conn, target: Target) -> Self {
        Self {
            state: Arc::new(Mutex::new(TxConn::Idle(conn))),
            target,
            runtime: tokio::runtime::Handle::current(),
        }
    }

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
