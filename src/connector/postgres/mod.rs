//! PostgreSQL: catalog from `pg_catalog`, reads through binary COPY decoded straight into Arrow
//! (or through ConnectorX), partitions by ctid page ranges (or integer key ranges) inside one
//! exported snapshot.
//!
//! URL: `postgres://user:password@host:5432/db?option=value`. Options this crate reads (the rest
//! go to the driver, e.g. `sslmode`, `connect_timeout`, `application_name`):
//!
//! | option | default | meaning |
//! |---|---|---|
//! | `partition` | `ctid` | `ctid` (page ranges: every page read once), `key` (integer primary key ranges), `none` |
//! | `chunk_pages` | none | split each partition into queries of this many pages (one query by default) |
//! | `schema` | `public` | the schema two-part names resolve in |
//! | `reader` | `native` | `native` (this crate's binary COPY decoder; `copy` is the same) or `connectorx` |

mod client;
mod conn;
mod copy_out;
#[doc(hidden)]
pub mod fuzz;
mod options;
mod passfile;
mod tls;
mod types;
mod wire;

pub use client::{create_table_sql, PgConn, PgSession, PgTransaction, PostgresConnector};
pub use wire::{numeric_parts, numeric_text, pg_type_for};

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, FieldRef};
use async_trait::async_trait;
use datafusion::logical_expr::{col, lit, Expr, TableProviderFilterPushDown};
use datafusion::sql::unparser::dialect::{Dialect, PostgreSqlDialect};

use super::pushdown::{classify, PushdownRules};
use super::{key_bound, range_partitions, PartitionPlan, Snapshot, Source, TableMeta};
use crate::error::{redact_url, Error, Result};
use crate::read::cx::CxReader;
use crate::read::ScanReader;
use crate::schema::schema_of;

/// Pages per chunk query unless the URL says otherwise: no chunking, one query per partition
/// (the reader has backpressure; every chunk costs a connection, about 20 ms).
pub const DEFAULT_CHUNK_PAGES: i64 = i64::MAX;

/// How a PostgreSQL scan is split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionMethod {
    /// ctid page ranges (TID range scans, PostgreSQL 14+): each page is read once.
    Ctid,
    /// Ranges of a single-column integer primary key.
    Key,
    /// One query per scan.
    None,
}

/// Which reader a PostgreSQL scan uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReaderKind {
    /// `COPY (query) TO STDOUT (FORMAT binary)` decoded by this crate straight into Arrow
    /// builders (the default: faster, and it reports wire bytes and decode time apart).
    Copy,
    /// ConnectorX's binary COPY reader, its batches handed over through the C Data Interface.
    ConnectorX,
}

/// A PostgreSQL source.
pub struct PostgresSource {
    options: options::PgOptions,
    default_schema: String,
    partition: PartitionMethod,
    chunk_pages: i64,
    tid_range_scans: bool,
    reader: ReaderKind,
    connector: PostgresConnector,
    dialect: PostgreSqlDialect,
}

impl std::fmt::Debug for PostgresSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresSource")
            .field("url", &redact_url(&self.options.driver_url))
            .field("partition", &self.partition)
            .field("chunk_pages", &self.chunk_pages)
            .finish_non_exhaustive()
    }
}

impl PostgresSource {
    /// Parses the URL and checks that the server answers.
    pub async fn connect(url: &str) -> Result<Self> {
        let options = options::PgOptions::parse(url, crate::connector::PoolOptions::default())?;
        let connector = PostgresConnector::from_options(&options).await?;
        let mut source = Self {
            partition: options.partition,
            chunk_pages: options.chunk_pages,
            default_schema: options.schema.clone(),
            reader: options.reader,
            options,
            tid_range_scans: true,
            connector,
            dialect: PostgreSqlDialect {},
        };
        let version: i32 = source
            .query("SELECT current_setting('server_version_num')::int", vec![])
            .await?
            .first()
            .map(|r| r.get(0))
            .unwrap_or(0);
        // TID range scans arrived in PostgreSQL 14: before, a ctid range reads the whole table,
        // so ctid partitioning becomes key ranges, or one query when there is no integer key.
        source.tid_range_scans = version >= 140_000;
        if !source.tid_range_scans && source.partition == PartitionMethod::Ctid {
            source.partition = PartitionMethod::Key;
        }
        Ok(source)
    }

    fn map_err(&self, e: tokio_postgres::Error) -> Error {
        self.connector.target().error(e)
    }

    async fn new_client(&self) -> Result<tokio_postgres::Client> {
        let (client, _) = conn::open(&self.options.endpoint)
            .await
            .map_err(|e| self.map_err(e))?;
        Ok(client)
    }

    /// Runs a catalog query on a pooled connection.
    async fn query(&self, sql: &str, params: Vec<String>) -> Result<Vec<tokio_postgres::Row>> {
        let conn = self.connector.acquire().await?;
        let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params
            .iter()
            .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync))
            .collect();
        conn.query(sql, &refs).await.map_err(|e| self.map_err(e))
    }
}

const TABLES_SQL: &str = "SELECT n.nspname::text, c.relname::text FROM pg_catalog.pg_class c \
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
     WHERE c.relkind IN ('r','v','m','p','f') AND NOT c.relispartition \
       AND n.nspname NOT IN ('pg_catalog','information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' \
       AND n.nspname NOT LIKE 'pg\\_temp%' \
     ORDER BY 1, 2";

const COLUMNS_SQL: &str = "SELECT a.attname::text, t.typname::text, t.typtype::text, a.atttypmod, a.attnotnull, \
       COALESCE(et.typname::text, ''), pg_catalog.format_type(a.atttypid, a.atttypmod), c.relkind::text, \
       COALESCE((SELECT pa.attname::text FROM pg_catalog.pg_index i \
                 JOIN pg_catalog.pg_attribute pa ON pa.attrelid = i.indrelid AND pa.attnum = i.indkey[0] \
                 WHERE i.indrelid = c.oid AND i.indisprimary \
                   AND pa.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype)), ''), \
       (a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '') \
     FROM pg_catalog.pg_attribute a \
     JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
     JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
     LEFT JOIN pg_catalog.pg_type et ON et.oid = t.typelem AND t.typcategory = 'A' \
     WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped \
       AND c.relkind IN ('r','v','m','p','f') \
     ORDER BY a.attnum";

const PAGES_SQL: &str =
    "SELECT (pg_catalog.pg_relation_size(c.oid) / current_setting('block_size')::bigint)::bigint, \
            c.reltuples::float8 \
     FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
     WHERE n.nspname = $1 AND c.relname = $2";

/// Keeps the transaction that exported a snapshot open.
struct SnapshotOwner {
    _client: tokio_postgres::Client,
}

/// A ctid bound `(page,0)` as a predicate on the hidden `ctid` column.
fn ctid_bound(page: i64, lower: bool) -> Expr {
    let tid = lit(format!("({page},0)"));
    if lower {
        col("ctid").gt_eq(tid)
    } else {
        col("ctid").lt(tid)
    }
}

/// The PostgreSQL backend: `postgres://`, `postgresql://` URLs, read as a [`PostgresSource`] and written through a
/// [`PostgresConnector`].
#[derive(Debug, Default, Clone, Copy)]
pub struct PostgresBackend;

#[async_trait]
impl super::Backend for PostgresBackend {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn schemes(&self) -> &'static [&'static str] {
        &["postgres", "postgresql"]
    }

    async fn open(
        &self,
        url: &str,
        _session: &datafusion::execution::SessionState,
    ) -> Result<super::Opened> {
        Ok(super::Opened::Source(Arc::new(
            PostgresSource::connect(url).await?,
        )))
    }

    async fn connector(&self, url: &str) -> Result<Arc<dyn super::Connector>> {
        Ok(Arc::new(PostgresConnector::connect(url).await?))
    }
}

#[async_trait]
impl Source for PostgresSource {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn default_schema(&self) -> &str {
        &self.default_schema
    }

    fn dialect(&self) -> &dyn Dialect {
        &self.dialect
    }

    fn placeholder(&self, n: usize) -> String {
        format!("${n}")
    }

    fn upsert_clause(&self, keys: &[String], update: &[String]) -> Result<String> {
        let target = format!("ON CONFLICT ({})", keys.join(", "));
        if update.is_empty() {
            return Ok(format!("{target} DO NOTHING"));
        }
        let sets: Vec<String> = update
            .iter()
            .map(|c| format!("{c} = EXCLUDED.{c}"))
            .collect();
        Ok(format!("{target} DO UPDATE SET {}", sets.join(", ")))
    }

    async fn list_tables(&self) -> Result<Vec<(String, String)>> {
        let rows = self.query(TABLES_SQL, vec![]).await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    async fn table_meta(&self, schema: &str, table: &str) -> Result<Option<TableMeta>> {
        let rows = self
            .query(COLUMNS_SQL, vec![schema.to_string(), table.to_string()])
            .await?;
        if rows.is_empty() {
            return Ok(None);
        }
        let relkind: String = rows[0].get(7);
        let key: String = rows[0].get(8);
        let columns = rows
            .iter()
            .map(|r| {
                types::column_spec_for(
                    &types::PgColumn {
                        name: r.get(0),
                        typname: r.get(1),
                        typtype: r.get(2),
                        typmod: r.get(3),
                        not_null: r.get(4),
                        elem: r.get(5),
                        formatted: r.get(6),
                    },
                    self.reader == ReaderKind::Copy,
                )
            })
            .collect::<Vec<_>>();
        Ok(Some(TableMeta {
            schema: schema.to_string(),
            table: table.to_string(),
            arrow_schema: schema_of(&columns),
            columns,
            physical_partitioning: relkind == "r" || relkind == "m",
            key_column: (!key.is_empty()).then_some(key),
            server_defaults: rows
                .iter()
                .filter(|r| r.get::<_, bool>(9))
                .map(|r| r.get(0))
                .collect(),
        }))
    }

    fn filter_pushdown(&self, meta: &TableMeta, filter: &Expr) -> TableProviderFilterPushDown {
        classify(
            meta,
            &PushdownRules {
                like: TableProviderFilterPushDown::Inexact,
                temporal: TableProviderFilterPushDown::Exact,
                float_zero: false,
            },
            filter,
        )
    }

    fn hidden_columns(&self) -> Vec<FieldRef> {
        vec![Arc::new(Field::new("ctid", DataType::Utf8, false))]
    }

    async fn plan_partitions(&self, meta: &TableMeta, target: usize) -> Result<PartitionPlan> {
        let whole = || PartitionPlan {
            partitions: vec![vec![None]],
            method: "none".into(),
            estimated_rows: None,
        };
        if self.partition == PartitionMethod::None {
            return Ok(whole());
        }
        let rows = self
            .query(PAGES_SQL, vec![meta.schema.clone(), meta.table.clone()])
            .await?;
        let pages: i64 = rows.first().map(|r| r.get(0)).unwrap_or(0);
        // `reltuples` is -1 until the table is first vacuumed or analyzed.
        let estimated_rows = rows
            .first()
            .and_then(|r| r.get::<_, Option<f64>>(1))
            .filter(|n| *n >= 0.0)
            .map(|n| n as u64);
        let whole = || PartitionPlan {
            estimated_rows,
            ..whole()
        };
        let target = target.max(1);
        match (self.partition, &meta.key_column) {
            (PartitionMethod::Key, Some(key)) => {
                let sql = format!(
                    "SELECT min({k})::bigint, max({k})::bigint FROM {s}.{t}",
                    k = quote_ident(key),
                    s = quote_ident(&meta.schema),
                    t = quote_ident(&meta.table)
                );
                let rows = self.query(&sql, vec![]).await?;
                let Some(bounds) = rows.first() else {
                    return Ok(whole());
                };
                let (lo, hi): (Option<i64>, Option<i64>) = (bounds.get(0), bounds.get(1));
                let (Some(lo), Some(hi)) = (lo, hi) else {
                    return Ok(whole());
                };
                let hi = hi.saturating_add(1);
                // As many chunks as ctid chunking would make, over the key span.
                let chunks = (pages / self.chunk_pages).max(target as i64).max(1) as i128;
                let chunk = ((hi as i128 - lo as i128) / chunks).clamp(1, i64::MAX as i128) as i64;
                Ok(PartitionPlan {
                    partitions: range_partitions(lo, hi, target, chunk, &key_bound(key)),
                    method: format!("key {key} ranges"),
                    estimated_rows,
                })
            }
            _ if meta.physical_partitioning && pages > 0 && self.tid_range_scans => {
                Ok(PartitionPlan {
                    partitions: range_partitions(0, pages, target, self.chunk_pages, &ctid_bound),
                    method: "ctid page ranges".into(),
                    estimated_rows,
                })
            }
            _ => Ok(whole()),
        }
    }

    async fn snapshot(&self) -> Result<Option<Snapshot>> {
        let client = self.new_client().await?;
        client
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .map_err(|e| self.map_err(e))?;
        let row = client
            .query_one("SELECT pg_catalog.pg_export_snapshot()", &[])
            .await
            .map_err(|e| self.map_err(e))?;
        let id: String = row.get(0);
        if !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Err(Error::Source {
                backend: "postgres",
                code: None,
                message: format!("unexpected snapshot id `{id}`"),
                retryable: false,
            });
        }
        Ok(Some(Snapshot {
            statements: vec![
                "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY".into(),
                format!("SET TRANSACTION SNAPSHOT '{id}'"),
            ],
            keep_alive: Arc::new(SnapshotOwner { _client: client }),
        }))
    }

    fn reader(&self) -> Arc<dyn ScanReader> {
        // Text forms (intervals, timestamptz inside arrays, floats) must not depend on the
        // server's defaults.
        let session_statements: Vec<String> = client::SESSION_SETUP
            .iter()
            .map(|s| s.to_string())
            .collect();
        match self.reader {
            ReaderKind::Copy => Arc::new(copy_out::CopyReader {
                endpoint: self.options.endpoint.clone(),
                session: session_statements,
                target: self.connector.target().clone(),
            }),
            ReaderKind::ConnectorX => Arc::new(CxReader {
                url: self.options.cx_url(),
                protocol: Some("binary"),
                session_statements,
                backend: "postgres",
                secret: self.connector.target().password.clone(),
            }),
        }
    }

    fn connector(&self) -> Option<Arc<dyn crate::connector::Connector>> {
        Some(Arc::new(self.connector.clone()))
    }
}

/// Quotes a PostgreSQL identifier.
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}
