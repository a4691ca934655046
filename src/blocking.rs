//! A blocking facade over the [`Connector`](crate::connector::Connector) API for callers without
//! an async runtime: each call runs on a runtime the facade owns.
//!
//! ```no_run
//! let db = vibe_piper::blocking::Connector::connect("postgres://postgres@127.0.0.1:5432/test")?;
//! db.execute("CREATE TABLE IF NOT EXISTS t (id int)", &[])?;
//! let n = db.execute("INSERT INTO t VALUES ($1)", &vibe_piper::params![7])?;
//! let tx = db.transaction()?;
//! tx.execute("DELETE FROM t", &[])?;
//! tx.rollback()?;
//! # Ok::<(), vibe_piper::Error>(())
//! ```

use std::sync::Arc;

use arrow::record_batch::RecordBatch;

use crate::connector::{self, BulkOptions, ExecutorExt, PoolStatus, TableName, Value};
use crate::error::{Error, Result};

/// A connector whose methods block.
pub struct Connector {
    runtime: Arc<tokio::runtime::Runtime>,
    inner: Arc<dyn connector::Connector>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("blocking::Connector")
            .field("backend", &self.inner.backend())
            .finish_non_exhaustive()
    }
}

impl Connector {
    /// Opens a pool for a `postgres://` or `mysql://` URL.
    pub fn connect(url: &str) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let inner = runtime.block_on(connector::connect(url))?;
        Ok(Self {
            runtime: Arc::new(runtime),
            inner,
        })
    }

    /// The async connector underneath.
    pub fn inner(&self) -> &Arc<dyn connector::Connector> {
        &self.inner
    }

    /// Runs a query and returns every batch.
    pub fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<RecordBatch>> {
        self.runtime.block_on(self.inner.fetch_all(sql, params))
    }

    /// Runs a query and returns its first row ([`Error::RowNotFound`] when there is none).
    pub fn query_one(&self, sql: &str, params: &[Value]) -> Result<RecordBatch> {
        self.runtime.block_on(self.inner.query_one(sql, params))
    }

    /// Runs a statement; returns the rows affected.
    pub fn execute(&self, sql: &str, params: &[Value]) -> Result<u64> {
        self.runtime.block_on(self.inner.execute(sql, params))
    }

    /// Runs a statement once per parameter row, in one transaction.
    pub fn execute_many(&self, sql: &str, rows: &[Vec<Value>]) -> Result<u64> {
        self.runtime.block_on(self.inner.execute_many(sql, rows))
    }

    /// Appends batches to a table through the bulk path, all or nothing.
    pub fn bulk_insert(
        &self,
        table: &str,
        batches: Vec<RecordBatch>,
        options: &BulkOptions,
    ) -> Result<u64> {
        let table = TableName::parse(table)?;
        let Some(first) = batches.first() else {
            return Ok(0);
        };
        let stream = connector::executor::stream_of_batches(first.schema(), batches);
        self.runtime
            .block_on(self.inner.bulk_insert(&table, stream, options))
    }

    /// Starts a transaction; it rolls back when dropped without `commit`.
    pub fn transaction(&self) -> Result<Transaction> {
        let inner = self.runtime.block_on(self.inner.transaction())?;
        Ok(Transaction {
            runtime: self.runtime.clone(),
            inner: Some(inner),
        })
    }

    /// The pool's size.
    pub fn pool_status(&self) -> PoolStatus {
        self.inner.pool_status()
    }

    /// Closes the pool.
    pub fn disconnect(&self) -> Result<()> {
        self.runtime.block_on(self.inner.disconnect())
    }
}

/// A transaction whose methods block.
pub struct Transaction {
    runtime: Arc<tokio::runtime::Runtime>,
    inner: Option<Box<dyn connector::Transaction>>,
}

impl std::fmt::Debug for Transaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("blocking::Transaction")
            .finish_non_exhaustive()
    }
}

impl Transaction {
    fn tx(&self) -> Result<&dyn connector::Transaction> {
        self.inner
            .as_deref()
            .ok_or(Error::TransactionClosed("ended"))
    }

    /// Runs a query inside the transaction.
    pub fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<RecordBatch>> {
        let tx = self.tx()?;
        self.runtime.block_on(tx.fetch_all(sql, params))
    }

    /// Runs a statement inside the transaction.
    pub fn execute(&self, sql: &str, params: &[Value]) -> Result<u64> {
        let tx = self.tx()?;
        self.runtime.block_on(tx.execute(sql, params))
    }

    /// Commits.
    pub fn commit(mut self) -> Result<()> {
        let tx = self.inner.take().ok_or(Error::TransactionClosed("ended"))?;
        self.runtime.block_on(tx.commit())
    }

    /// Rolls back.
    pub fn rollback(mut self) -> Result<()> {
        let tx = self.inner.take().ok_or(Error::TransactionClosed("ended"))?;
        self.runtime.block_on(tx.rollback())
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if let Some(tx) = self.inner.take() {
            // The async transaction rolls back on drop; wait for it here so that the
            // connection is clean when this call returns.
            self.runtime.block_on(async move {
                let _ = tx.rollback().await;
            });
        }
    }
}
