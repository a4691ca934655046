//! The pool [`Executor`] and the transaction [`Executor`], written once for every backend (as
//! sqlx implements its `Executor` once for the pool: acquire, then delegate).
//!
//! A backend implements [`Session`]: how it takes a connection from its pool and what it does
//! on one connection (a query, a statement, a load). [`Pooled`] (a connector) and
//! [`InTransaction`] (a transaction) build the rest on it, the same way for every backend:
//! retries, `BEGIN` ... `COMMIT` around batches and loads, savepoints inside a transaction,
//! rollback when a transaction is dropped, and a result stream that holds its connection.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::execution::SendableRecordBatchStream;
use tokio::sync::{Mutex, OwnedMappedMutexGuard, OwnedMutexGuard};

use super::executor::{
    retry, BatchStream, BulkOptions, Connector, Executor, PoolStatus, TableName, Transaction,
    READ_ATTEMPTS,
};
use super::value::Value;
use crate::error::{Error, Result};

/// A connection held for one statement, moved into the statement's result stream so it stays
/// held while rows arrive.
pub enum Held<C> {
    /// Checked out of the pool for this statement alone: a result left unread may be
    /// cancelled at the server (and the connection closed rather than pooled).
    Pooled(C),
    /// A transaction's connection, locked for this statement: the transaction goes on after
    /// it, so a result left unread is read to its end, never cancelled.
    InTransaction(OwnedMappedMutexGuard<Option<C>, C>),
}

impl<C> Held<C> {
    /// Whether the connection belongs to a transaction.
    pub fn in_transaction(&self) -> bool {
        matches!(self, Held::InTransaction(_))
    }
}

impl<C> Deref for Held<C> {
    type Target = C;
    fn deref(&self) -> &C {
        match self {
            Held::Pooled(c) => c,
            Held::InTransaction(g) => g,
        }
    }
}

impl<C> DerefMut for Held<C> {
    fn deref_mut(&mut self) -> &mut C {
        match self {
            Held::Pooled(c) => c,
            Held::InTransaction(g) => g,
        }
    }
}

/// What one backend does with its pool and on one connection. [`Pooled`] and
/// [`InTransaction`] implement the connector contract on it.
#[async_trait]
pub trait Session: std::fmt::Debug + Send + Sync + 'static {
    /// A connection checked out of the backend's pool (back in the pool when dropped).
    type Conn: Send + 'static;

    /// The backend's name, as [`Executor::backend`] reports it.
    fn backend(&self) -> &'static str;
    /// How [`Session::load`] loads rows, as EXPLAIN shows it.
    fn bulk_method(&self) -> &'static str;
    /// Takes a checked connection from the pool, waiting at most the acquire timeout.
    async fn acquire(&self) -> Result<Self::Conn>;
    /// Runs one statement without parameters or result (`BEGIN`, `SAVEPOINT ...`).
    async fn simple(&self, conn: &mut Self::Conn, sql: &str) -> Result<()>;
    /// The statement that starts a transaction.
    fn begin_sql(&self) -> &'static str {
        "BEGIN"
    }
    /// The character that quotes identifiers.
    fn identifier_quote(&self) -> char {
        '"'
    }
    /// The statements that put the loaded `staging` table in the place of `target` (which
    /// exists when `target_exists`; `old` is a free name for it to move to on the way), for
    /// [`Connector::replace_table`]: run inside the load's transaction where DDL is
    /// transactional, after the load's commit where it is not (then they must swap in one
    /// statement). `None`: this backend cannot replace tables.
    fn replace_sql(
        &self,
        staging: &TableName,
        target: &TableName,
        old: &TableName,
        target_exists: bool,
    ) -> Option<Vec<String>> {
        let _ = (staging, target, old, target_exists);
        None
    }
    /// Runs a query on `conn` and streams its rows; the stream owns `conn` until its end.
    async fn query(
        &self,
        conn: Held<Self::Conn>,
        sql: &str,
        params: &[Value],
    ) -> Result<BatchStream<'static>>;
    /// Runs a statement, returning the number of rows it affected.
    async fn execute(&self, conn: &mut Self::Conn, sql: &str, params: &[Value]) -> Result<u64>;
    /// Runs a statement once per parameter row (the caller has begun a transaction).
    async fn execute_many(
        &self,
        conn: &mut Self::Conn,
        sql: &str,
        rows: &[Vec<Value>],
    ) -> Result<u64>;
    /// Whether DDL ends a transaction implicitly (MySQL): then a load that would create its
    /// table is refused inside a transaction, and [`Session::prepare_load`] runs before one.
    fn ddl_commits(&self) -> bool {
        false
    }
    /// Whether [`Session::load`] changes the table in one statement the server undoes whole
    /// when it fails, so that a load needs no transaction of its own, nor a savepoint inside
    /// one (Snowflake: `COPY INTO`; it has no savepoints).
    fn load_is_atomic(&self) -> bool {
        false
    }
    /// What a load needs before its transaction: on a backend whose DDL commits, creating a
    /// missing table and checking the columns. The default does nothing (the load does it).
    async fn prepare_load(
        &self,
        conn: &mut Self::Conn,
        table: &TableName,
        schema: &SchemaRef,
        options: &BulkOptions,
    ) -> Result<()> {
        let _ = (conn, table, schema, options);
        Ok(())
    }
    /// Appends `batches` to `table` through the backend's fastest path, inside the
    /// transaction or savepoint the caller has begun.
    async fn load(
        &self,
        conn: &mut Self::Conn,
        table: &TableName,
        batches: SendableRecordBatchStream,
        options: &BulkOptions,
    ) -> Result<u64>;
    /// The Arrow schema `table` reads with; `None` when it does not exist.
    async fn table_schema(
        &self,
        conn: &mut Self::Conn,
        table: &TableName,
    ) -> Result<Option<SchemaRef>>;
    /// Whether the server rolled a failed statement back (a deadlock, a serialization
    /// failure), so that running it again outside a transaction is safe.
    fn statement_rolled_back(&self, error: &Error) -> bool;
    /// Checks that the database answers.
    async fn ping(&self) -> Result<()> {
        let mut conn = self.acquire().await?;
        self.simple(&mut conn, "SELECT 1").await
    }
    /// Closes the pool (connections in use close when returned).
    async fn disconnect(&self) -> Result<()>;
    /// The pool's size.
    fn pool_status(&self) -> PoolStatus;
}

/// Ends a transaction (or savepoint) begun on `conn`: `keep` after a success, `undo` after a
/// failure, whose error is the one returned.
pub async fn finish_with<S: Session + ?Sized, T>(
    session: &S,
    conn: &mut S::Conn,
    outcome: Result<T>,
    keep: &str,
    undo: &str,
) -> Result<T> {
    match outcome {
        Ok(v) => {
            session.simple(conn, keep).await?;
            Ok(v)
        }
        Err(e) => {
            let _ = session.simple(conn, undo).await;
            Err(e)
        }
    }
}

/// Commits when `outcome` is a success, rolls back otherwise.
pub async fn commit_or_rollback<S: Session + ?Sized, T>(
    session: &S,
    conn: &mut S::Conn,
    outcome: Result<T>,
) -> Result<T> {
    finish_with(session, conn, outcome, "COMMIT", "ROLLBACK").await
}

/// A backend's pool until [`Session::disconnect`] closes it: afterwards every call is a clear
/// error instead of a new connection.
pub struct PoolSlot<P> {
    pool: std::sync::RwLock<Option<P>>,
    target: String,
}

impl<P: Clone> PoolSlot<P> {
    /// Holds `pool`, of the server `target` (host and port, no credentials; for errors).
    pub fn new(pool: P, target: impl Into<String>) -> Self {
        Self {
            pool: std::sync::RwLock::new(Some(pool)),
            target: target.into(),
        }
    }

    /// The pool; an error once it is closed.
    pub fn get(&self) -> Result<P> {
        self.pool
            .read()
            .ok()
            .and_then(|g| g.clone())
            .ok_or_else(|| Error::Connection {
                target: self.target.clone(),
                message: "the connector was disconnected".into(),
            })
    }

    /// Closes the slot, handing back the pool (to close its connections) if it was open.
    pub fn close(&self) -> Option<P> {
        self.pool.write().ok().and_then(|mut g| g.take())
    }
}

#[cfg(any(feature = "postgres", feature = "snowflake"))]
impl<M: bb8::ManageConnection> PoolSlot<bb8::Pool<M>> {
    /// The pool's counts (none once it is closed).
    pub fn status(&self) -> PoolStatus {
        match self.get() {
            Ok(p) => {
                let s = p.state();
                PoolStatus {
                    connections: s.connections,
                    idle: s.idle_connections,
                }
            }
            Err(_) => PoolStatus {
                connections: 0,
                idle: 0,
            },
        }
    }
}

/// A connector: a backend's pool, each call on a connection of its own (see [`Connector`]).
pub struct Pooled<S: Session> {
    session: Arc<S>,
}

impl<S: Session> Clone for Pooled<S> {
    fn clone(&self) -> Self {
        Self {
            session: self.session.clone(),
        }
    }
}

impl<S: Session> std::fmt::Debug for Pooled<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.session.fmt(f)
    }
}

impl<S: Session> Pooled<S> {
    /// The connector over `session`.
    pub fn new(session: S) -> Self {
        Self {
            session: Arc::new(session),
        }
    }

    /// The backend's side of the pool.
    pub fn session(&self) -> &S {
        &self.session
    }

    /// Takes a connection from the pool (checked first; broken ones are replaced). Waits at
    /// most the acquire timeout.
    pub async fn acquire(&self) -> Result<S::Conn> {
        self.session.acquire().await
    }

    /// Starts a transaction (the concrete type; [`Connector::transaction`] boxes it).
    pub async fn begin(&self) -> Result<InTransaction<S>> {
        let mut conn = self.session.acquire().await?;
        self.session
            .simple(&mut conn, self.session.begin_sql())
            .await?;
        Ok(InTransaction {
            conn: Arc::new(Mutex::new(Some(conn))),
            session: self.session.clone(),
            runtime: tokio::runtime::Handle::current(),
        })
    }
}

#[async_trait]
impl<S: Session> Executor for Pooled<S> {
    fn backend(&self) -> &'static str {
        self.session.backend()
    }

    async fn query(&self, sql: &str, params: &[Value]) -> Result<BatchStream<'_>> {
        let s = &self.session;
        retry(READ_ATTEMPTS, || async {
            let conn = s.acquire().await?;
            s.query(Held::Pooled(conn), sql, params).await
        })
        .await
    }

    async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64> {
        let s = &self.session;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut conn = s.acquire().await?;
            match s.execute(&mut conn, sql, params).await {
                // Rolled back by the server: running it again is safe.
                Err(e) if s.statement_rolled_back(&e) && attempt < READ_ATTEMPTS => continue,
                other => return other,
            }
        }
    }

    async fn execute_many(&self, sql: &str, rows: &[Vec<Value>]) -> Result<u64> {
        let s = &*self.session;
        let mut conn = s.acquire().await?;
        s.simple(&mut conn, s.begin_sql()).await?;
        let outcome = s.execute_many(&mut conn, sql, rows).await;
        commit_or_rollback(s, &mut conn, outcome).await
    }

    async fn bulk_insert(
        &self,
        table: &TableName,
        batches: SendableRecordBatchStream,
        options: &BulkOptions,
    ) -> Result<u64> {
        let s = &*self.session;
        let mut conn = s.acquire().await?;
        s.prepare_load(&mut conn, table, &batches.schema(), options)
            .await?;
        if s.load_is_atomic() {
            return s.load(&mut conn, table, batches, options).await;
        }
        s.simple(&mut conn, s.begin_sql()).await?;
        let outcome = s.load(&mut conn, table, batches, options).await;
        commit_or_rollback(s, &mut conn, outcome).await
    }

    async fn table_schema(&self, table: &TableName) -> Result<Option<SchemaRef>> {
        let mut conn = self.session.acquire().await?;
        self.session.table_schema(&mut conn, table).await
    }
}

#[async_trait]
impl<S: Session> Connector for Pooled<S> {
    async fn transaction(&self) -> Result<Box<dyn Transaction>> {
        Ok(Box::new(self.begin().await?))
    }

    async fn disconnect(&self) -> Result<()> {
        self.session.disconnect().await
    }

    fn pool_status(&self) -> PoolStatus {
        self.session.pool_status()
    }

    async fn ping(&self) -> Result<()> {
        self.session.ping().await
    }

    fn bulk_method(&self) -> &'static str {
        self.session.bulk_method()
    }

    fn identifier_quote(&self) -> char {
        self.session.identifier_quote()
    }

    async fn replace_table(
        &self,
        table: &TableName,
        batches: SendableRecordBatchStream,
        options: &BulkOptions,
    ) -> Result<u64> {
        let s = &*self.session;
        let q = s.identifier_quote();
        let staging = TableName {
            schema: table.schema.clone(),
            table: format!("{}__vp_new", table.table),
        };
        let old = TableName {
            schema: table.schema.clone(),
            table: format!("{}__vp_old", table.table),
        };
        let drop_staging = format!("DROP TABLE IF EXISTS {}", staging.quoted(q));
        let options = BulkOptions {
            create_if_missing: true,
            ..options.clone()
        };
        let schema = batches.schema();
        let mut conn = s.acquire().await?;
        let exists = s.table_schema(&mut conn, table).await?.is_some();
        let Some(replace) = s.replace_sql(&staging, table, &old, exists) else {
            return Err(Error::Config(format!(
                "{} cannot replace a table atomically",
                s.backend()
            )));
        };
        if !s.ddl_commits() {
            // One transaction: the staging table, its rows and the swap, or nothing.
            s.simple(&mut conn, s.begin_sql()).await?;
            let outcome = async {
                s.simple(&mut conn, &drop_staging).await?;
                let n = s.load(&mut conn, &staging, batches, &options).await?;
                for statement in &replace {
                    s.simple(&mut conn, statement).await?;
                }
                Ok(n)
            }
            .await;
            return commit_or_rollback(s, &mut conn, outcome).await;
        }
        // DDL commits: load a staging table of its own, then swap in one statement. A failed
        // load drops the staging table and leaves the target as it was.
        s.simple(&mut conn, &drop_staging).await?;
        let loaded = async {
            s.prepare_load(&mut conn, &staging, &schema, &options)
                .await?;
            if s.load_is_atomic() {
                return s.load(&mut conn, &staging, batches, &options).await;
            }
            s.simple(&mut conn, s.begin_sql()).await?;
            let outcome = s.load(&mut conn, &staging, batches, &options).await;
            commit_or_rollback(s, &mut conn, outcome).await
        }
        .await;
        let swapped = match loaded {
            Ok(n) => {
                async {
                    for statement in &replace {
                        s.simple(&mut conn, statement).await?;
                    }
                    Ok(n)
                }
                .await
            }
            Err(e) => Err(e),
        };
        if swapped.is_err() {
            // A load that broke off midway may leave its connection unusable: a fresh one.
            drop(conn);
            let dropped = match s.acquire().await {
                Ok(mut fresh) => s.simple(&mut fresh, &drop_staging).await,
                Err(e) => Err(e),
            };
            if let Err(e) = dropped {
                log::warn!("{}: dropping {staging}: {e}", s.backend());
            }
        }
        swapped
    }
}

/// A transaction on one pooled connection. Every call waits for the one before it (a result
/// stream holds the connection until it has been read or dropped); dropped without
/// [`commit`](Transaction::commit), it rolls back before its connection goes back to the pool.
pub struct InTransaction<S: Session> {
    conn: Arc<Mutex<Option<S::Conn>>>,
    session: Arc<S>,
    runtime: tokio::runtime::Handle,
}

impl<S: Session> std::fmt::Debug for InTransaction<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InTransaction")
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

impl<S: Session> InTransaction<S> {
    /// The connection, locked until the guard is dropped.
    async fn lock(&self) -> Result<OwnedMappedMutexGuard<Option<S::Conn>, S::Conn>> {
        let guard = self.conn.clone().lock_owned().await;
        OwnedMutexGuard::try_map(guard, |c| c.as_mut())
            .map_err(|_| Error::TransactionClosed("ended"))
    }

    async fn finish(&self, sql: &str) -> Result<()> {
        let mut guard = self.conn.clone().lock_owned().await;
        let mut conn = guard.take().ok_or(Error::TransactionClosed("ended"))?;
        self.session.simple(&mut conn, sql).await
    }
}

#[async_trait]
impl<S: Session> Executor for InTransaction<S> {
    fn backend(&self) -> &'static str {
        self.session.backend()
    }

    async fn query(&self, sql: &str, params: &[Value]) -> Result<BatchStream<'_>> {
        let conn = self.lock().await?;
        self.session
            .query(Held::InTransaction(conn), sql, params)
            .await
    }

    async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64> {
        let mut conn = self.lock().await?;
        self.session.execute(&mut conn, sql, params).await
    }

    async fn execute_many(&self, sql: &str, rows: &[Vec<Value>]) -> Result<u64> {
        let mut conn = self.lock().await?;
        self.session.execute_many(&mut conn, sql, rows).await
    }

    async fn bulk_insert(
        &self,
        table: &TableName,
        batches: SendableRecordBatchStream,
        options: &BulkOptions,
    ) -> Result<u64> {
        let s = &*self.session;
        if options.create_if_missing && s.ddl_commits() {
            return Err(Error::Config(format!(
                "create_if_missing inside a transaction would commit it ({} commits on DDL): \
                 create the table first, or load through the connector",
                s.backend()
            )));
        }
        let mut conn = self.lock().await?;
        s.prepare_load(&mut conn, table, &batches.schema(), options)
            .await?;
        if s.load_is_atomic() {
            return s.load(&mut conn, table, batches, options).await;
        }
        // A savepoint, so a failed load leaves the transaction as it was.
        s.simple(&mut conn, "SAVEPOINT vp_bulk").await?;
        let loaded = s.load(&mut conn, table, batches, options).await;
        finish_with(
            s,
            &mut conn,
            loaded,
            "RELEASE SAVEPOINT vp_bulk",
            "ROLLBACK TO SAVEPOINT vp_bulk",
        )
        .await
    }

    async fn table_schema(&self, table: &TableName) -> Result<Option<SchemaRef>> {
        let mut conn = self.lock().await?;
        self.session.table_schema(&mut conn, table).await
    }
}

#[async_trait]
impl<S: Session> Transaction for InTransaction<S> {
    async fn commit(self: Box<Self>) -> Result<()> {
        self.finish("COMMIT").await
    }

    async fn rollback(self: Box<Self>) -> Result<()> {
        self.finish("ROLLBACK").await
    }
}

impl<S: Session> Drop for InTransaction<S> {
    fn drop(&mut self) {
        let conn = self.conn.clone();
        let session = self.session.clone();
        // Roll back before the connection goes back to the pool.
        self.runtime.spawn(async move {
            if let Some(mut c) = conn.lock().await.take() {
                let _ = session.simple(&mut c, "ROLLBACK").await;
            }
        });
    }
}
