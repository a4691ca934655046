//! Snowflake, through the ADBC Snowflake driver loaded at run time (`driver.rs`): catalog from
//! `INFORMATION_SCHEMA`, types mapped exactly (`types.rs`), scans read as Arrow straight from
//! the driver and conformed to the declared types, partitioned by ranges of an integer
//! primary key, the connector (`connector.rs`) and bulk loads by `PUT` + `COPY INTO`.
//!
//! URL: `snowflake://USER:PASSWORD@ACCOUNT/DATABASE/SCHEMA?warehouse=W&role=R`. Options:
//!
//! | option | default | meaning |
//! |---|---|---|
//! | `warehouse`, `role` | the user's defaults | the session's warehouse and role |
//! | `private_key_path` | none | key-pair (JWT) authentication with this PKCS#8 key (no password in the URL) |
//! | `private_key_passphrase_env` | `SNOWFLAKE_PRIVATE_KEY_PASSPHRASE` | the environment variable holding the key's passphrase |
//! | `protocol`, `host`, `port` | the account's endpoint | another endpoint (a private link, the emulator) |
//! | `query_tag` | none | the `QUERY_TAG` of every statement |
//! | `driver` | see below | the driver library |
//! | `request_timeout` | the driver's | how long one request may take (`30s`) |
//! | `login_timeout` | the driver's | how long logging in may take, retries included |
//! | `chunk_rows` | none | split each partition into queries of this many key values |
//! | `pool_size`, `acquire_timeout`, ... | see `PoolOptions` | the pool the source and connector share |
//!
//! The driver library (`libadbc_driver_snowflake.so`) is the URL's `driver=`, else the
//! `VP_SNOWFLAKE_DRIVER` environment variable, else the one in an installed
//! `adbc-driver-snowflake` Python package.
//!
//! Names: Snowflake stores unquoted identifiers in upper case. The engine shows such names in
//! lower case, as a user types them (`sf.public.words` is `PUBLIC.WORDS`), and writes the
//! stored names, quoted, into the SQL it sends; names stored in mixed case keep their case.

mod connector;
mod driver;
mod options;
pub mod types;

pub use connector::{quote_ident, SfPoolConn, SfSession, SnowflakeConnector};
pub use driver::DRIVER_ENV;

use std::any::Any;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown as P};
use datafusion::sql::unparser::dialect::{Dialect, SnowflakeDialect};

use super::pushdown::{classify, PushdownRules};
use super::{key_bound, range_partitions, PartitionPlan, Source, TableMeta};
use crate::error::Result;
use crate::read::{
    limit_and_count, spawn_reader, BatchReceiver, ReadMetrics, ScanReader, ScanRequest,
};
use crate::schema::schema_of;

/// A Snowflake database (one URL): its catalog and scans.
pub struct SnowflakeSource {
    connector: SnowflakeConnector,
    default_schema: String,
    dialect: SnowflakeDialect,
}

impl std::fmt::Debug for SnowflakeSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnowflakeSource")
            .field("connector", &self.connector)
            .finish()
    }
}

impl SnowflakeSource {
    /// Opens the database named by a `snowflake://` URL and checks that it answers.
    pub async fn connect(url: &str) -> Result<Self> {
        let connector = SnowflakeConnector::connect(url).await?;
        let default_schema = types::display_name(&connector.options().schema);
        Ok(Self {
            connector,
            default_schema,
            dialect: SnowflakeDialect::new(),
        })
    }

    fn session(&self) -> &SfSession {
        self.connector.session()
    }
}

/// The Snowflake backend: `snowflake://` URLs.
#[derive(Debug, Default, Clone, Copy)]
pub struct SnowflakeBackend;

#[async_trait]
impl super::Backend for SnowflakeBackend {
    fn name(&self) -> &'static str {
        "snowflake"
    }

    fn schemes(&self) -> &'static [&'static str] {
        &["snowflake"]
    }

    async fn open(
        &self,
        url: &str,
        _session: &datafusion::execution::SessionState,
    ) -> Result<super::Opened> {
        Ok(super::Opened::Source(Arc::new(
            SnowflakeSource::connect(url).await?,
        )))
    }

    async fn connector(&self, url: &str) -> Result<Arc<dyn super::Connector>> {
        Ok(Arc::new(SnowflakeConnector::connect(url).await?))
    }
}

#[async_trait]
impl Source for SnowflakeSource {
    fn backend(&self) -> &'static str {
        "snowflake"
    }

    fn default_schema(&self) -> &str {
        &self.default_schema
    }

    fn dialect(&self) -> &dyn Dialect {
        &self.dialect
    }

    fn placeholder(&self, _n: usize) -> String {
        "?".into()
    }

    async fn list_tables(&self) -> Result<Vec<(String, String)>> {
        let rows = self
            .session()
            .rows(
                "SELECT TABLE_SCHEMA, TABLE_NAME FROM INFORMATION_SCHEMA.TABLES \
                 WHERE TABLE_SCHEMA <> 'INFORMATION_SCHEMA' ORDER BY 1, 2",
                &[],
            )
            .await?;
        let stored: Vec<(String, String)> = rows
            .into_iter()
            .filter_map(|r| Some((r[0].clone()?, r[1].clone()?)))
            .collect();
        // A name shown in lower case must not hide a table stored in lower case.
        let shown = |schema: &str, name: &str, all: &[(String, String)], table: bool| {
            let d = types::display_name(name);
            let clash = d != name
                && all.iter().any(|(s, t)| {
                    if table {
                        s == schema && t == &d
                    } else {
                        s == &d
                    }
                });
            if clash {
                name.to_string()
            } else {
                d
            }
        };
        Ok(stored
            .iter()
            .map(|(s, t)| (shown(s, s, &stored, false), shown(s, t, &stored, true)))
            .collect())
    }

    async fn table_meta(&self, schema: &str, table: &str) -> Result<Option<TableMeta>> {
        let session = self.session();
        let conn = crate::connector::Session::acquire(session).await?;
        let Some((s, t)) = session.resolve_on(&conn, Some(schema), table).await? else {
            return Ok(None);
        };
        let cols = session.columns_on(&conn, &s, &t).await?;
        let key = primary_key(&conn, &s, &t, &cols).await;
        let columns = connector::columns_to_specs(&cols);
        let key_column = key.and_then(|k| {
            columns
                .iter()
                .find(|c| c.source_name() == k)
                .map(|c| c.name().to_string())
        });
        Ok(Some(TableMeta {
            schema: s,
            table: t,
            arrow_schema: schema_of(&columns),
            columns,
            physical_partitioning: false,
            key_column,
            server_defaults: vec![],
        }))
    }

    fn filter_pushdown(&self, meta: &TableMeta, filter: &Expr) -> P {
        classify(
            meta,
            &PushdownRules {
                // A column's collation may make LIKE case-insensitive: a superset.
                like: P::Inexact,
                // DATE and TIMESTAMP_NTZ compare as here; instants are never pushed (their
                // columns say so: the session's time zone decides).
                temporal: P::Exact,
                // Snowflake says -0.0 = 0.0; DataFusion orders -0 first.
                float_zero: false,
            },
            filter,
        )
    }

    async fn plan_partitions(&self, meta: &TableMeta, target: usize) -> Result<PartitionPlan> {
        let whole = PartitionPlan {
            partitions: vec![vec![None]],
            method: "none".into(),
            estimated_rows: None,
        };
        let Some(key) = meta.key_column.clone() else {
            return Ok(whole);
        };
        if target <= 1 {
            return Ok(whole);
        }
        let stored = meta.source_column(&key).to_string();
        let sql = format!(
            "SELECT MIN({k})::VARCHAR, MAX({k})::VARCHAR FROM {}",
            connector::quoted(&meta.schema, &meta.table),
            k = quote_ident(&stored)
        );
        let rows = self.session().rows(&sql, &[]).await?;
        let bound = |i: usize| {
            rows.first()
                .and_then(|r| r[i].as_deref())
                .and_then(|v| v.parse::<i64>().ok())
        };
        let (Some(lo), Some(hi)) = (bound(0), bound(1)) else {
            return Ok(whole);
        };
        let hi = hi.saturating_add(1);
        let chunk = self.connector.options().chunk_rows;
        let bound = key_bound(&key);
        let partitions = range_partitions(lo, hi, target, chunk, &bound);
        Ok(PartitionPlan {
            partitions,
            method: format!("key {key} ranges"),
            estimated_rows: None,
        })
    }

    fn reader(&self) -> Arc<dyn ScanReader> {
        Arc::new(SfReader {
            connector: self.connector.clone(),
        })
    }

    fn connector(&self) -> Option<Arc<dyn crate::connector::Connector>> {
        Some(Arc::new(self.connector.clone()))
    }
}

/// The table's primary key when it is one integer column (Snowflake keeps the constraint as
/// information, without enforcing it). Any failure means no key: the scan is not split.
async fn primary_key(
    conn: &SfPoolConn,
    schema: &str,
    table: &str,
    cols: &[types::SfColumn],
) -> Option<String> {
    let sql = format!(
        "SHOW PRIMARY KEYS IN TABLE {}",
        connector::quoted(schema, table)
    );
    let mut c = conn.shallow();
    let batches = driver::blocking(move || c.collect_blocking(&sql, None))
        .await
        .ok()?;
    let mut names = vec![];
    for b in &batches {
        let idx = b
            .schema()
            .fields()
            .iter()
            .position(|f| f.name().eq_ignore_ascii_case("column_name"))?;
        let text = connector::text_rows(std::slice::from_ref(b)).ok()?;
        names.extend(text.into_iter().filter_map(|r| r[idx].clone()));
    }
    let [key] = names.as_slice() else {
        return None;
    };
    let c = cols.iter().find(|c| &c.name == key)?;
    let integer = c.data_type.eq_ignore_ascii_case("NUMBER") && c.scale.unwrap_or(0) == 0;
    integer.then(|| key.clone())
}

/// Reads scan queries through the driver, on the source's pool.
#[derive(Debug)]
struct SfReader {
    connector: SnowflakeConnector,
}

impl ScanReader for SfReader {
    fn name(&self) -> &'static str {
        "adbc"
    }

    fn spawn(
        &self,
        request: ScanRequest,
        metrics: ReadMetrics,
        keep_alive: Option<Arc<dyn Any + Send + Sync>>,
    ) -> BatchReceiver {
        let connector = self.connector.clone();
        let runtime = tokio::runtime::Handle::current();
        let queries = request.queries.clone();
        spawn_reader(
            "vp-snowflake",
            "snowflake",
            &queries,
            keep_alive,
            move |tx| {
                let _rt = runtime.enter();
                let conn = runtime.block_on(connector.acquire())?;
                let mut c = conn.shallow();
                let mut remaining = request.limit;
                for sql in &request.queries {
                    if remaining == Some(0) {
                        break;
                    }
                    let waiting = Instant::now();
                    let (mut reader, cancel) = c.query_blocking(sql, None)?;
                    metrics.wait.add_duration(waiting.elapsed());
                    loop {
                        let waiting = Instant::now();
                        let Some(batch) = reader.next() else { break };
                        metrics.wait.add_duration(waiting.elapsed());
                        let converting = Instant::now();
                        let batch = types::conform(&batch?, &request.columns, &request.schema)?;
                        metrics.convert.add_duration(converting.elapsed());
                        let mut offset = 0;
                        while offset < batch.num_rows() && remaining != Some(0) {
                            let len = request.batch_size.max(1).min(batch.num_rows() - offset);
                            let piece =
                                limit_and_count(batch.slice(offset, len), &metrics, &mut remaining);
                            offset += len;
                            if !tx.send_blocking(piece) {
                                cancel.cancel();
                                conn.discard();
                                return Ok(());
                            }
                        }
                        if remaining == Some(0) {
                            // The rest is not needed: stop the statement.
                            cancel.cancel();
                            conn.discard();
                            break;
                        }
                    }
                }
                Ok(())
            },
        )
    }

    fn decodes_itself(&self) -> bool {
        false
    }
}
