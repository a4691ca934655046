//! MySQL and MariaDB: catalog from `information_schema`, reads through the crate's own
//! binary-protocol reader (or ConnectorX), partitions by integer primary key ranges.
//!
//! URL: `mysql://user:password@host:3306/db?option=value`, read once into the options the source,
//! its connector and the readers share (`options.rs`). Options this crate reads, besides the
//! pool's ([`PoolOptions`]) and the mysql_async options passed to the driver unchanged; any other
//! is an `InvalidUrl` error that lists the valid ones:
//!
//! TLS: `ssl-mode=disabled|preferred|required|verify_ca|verify_identity` and `ssl-ca=/path/ca.pem`
//! (ConnectorX's parameters; `preferred` encrypts without verification, as `required` does).
//!
//! | option | default | meaning |
//! |---|---|---|
//! | `tinyint1_as_bool` | `false` | read `tinyint(1)` as Boolean (otherwise Int8) |
//! | `zero_dates` | `null` | `null`: zero dates (`0000-00-00`) read as NULL; `error`: fail with a clear error |
//! | `partition` | `key` | `key` (single-column integer primary key ranges) or `none` |
//! | `chunk_rows` | none | split each partition into queries of this many key values (one query by default) |
//! | `reader` | `native` | `native` (this crate's binary-protocol reader) or `connectorx`; TLS and Unix-socket connections always read through ConnectorX |
//!
//! MySQL cannot share one snapshot between connections: each partition and chunk reads its own
//! consistent view (InnoDB statement consistency), all started within the same scan.
//!
//! Modules: `options` (the URL), `types` (the type map and the questions next to it, decimal
//! text), `error` (server errors), `connector` (the pool: [`MySqlSession`], on which the shared
//! [`Pooled`](crate::connector::Pooled) and [`InTransaction`](crate::connector::InTransaction)
//! give [`MySqlConnector`] and [`MySqlTransaction`]), `params` (bound parameters), `rows`
//! (results as Arrow batches), `bulk` (`LOAD DATA`, `CREATE TABLE`), `wire_reader` (the native
//! scan reader), `dialect` (SQL as MySQL reads it).

mod bulk;
mod connector;
mod dialect;
mod error;
#[doc(hidden)]
pub mod fuzz;
mod options;
mod params;
mod rows;
mod types;
mod wire_reader;

pub use bulk::{create_table_sql, write_infile_cell};
pub use connector::{MySqlConnector, MySqlSession, MySqlTransaction};
pub use types::mysql_type_for;

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown as P};
use datafusion::sql::unparser::dialect::Dialect;

use dialect::MySqlSourceDialect;
use mysql_async::prelude::Queryable;

pub use types::ZeroDates;

use options::MySqlOptions;

use super::pushdown::{classify, PushdownRules};
use super::{key_bound, range_partitions, PartitionPlan, PoolOptions, Source, TableMeta};
use crate::error::{redact_url, Error, Result};
use crate::read::cx::CxReader;
use crate::read::ScanReader;
use crate::schema::schema_of;

/// Key values per chunk query unless the URL says otherwise: no chunking, one query per
/// partition (the reader has backpressure).
pub const DEFAULT_CHUNK_ROWS: i64 = i64::MAX;

/// A MySQL or MariaDB source.
pub struct MySqlSource {
    /// The URL, read once (the connector was opened from it).
    options: MySqlOptions,
    connector: MySqlConnector,
    dialect: MySqlSourceDialect,
}

impl std::fmt::Debug for MySqlSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MySqlSource")
            .field("url", &redact_url(&self.options.cx_url()))
            .field("tinyint1_as_bool", &self.options.tinyint1_as_bool)
            .field("zero_dates", &self.options.zero_dates)
            .finish_non_exhaustive()
    }
}

impl MySqlSource {
    /// Parses the URL and checks that the server answers.
    pub async fn connect(url: &str) -> Result<Self> {
        let options = MySqlOptions::parse(url, PoolOptions::default())?;
        if options.database.is_empty() {
            return Err(Error::InvalidUrl {
                url: redact_url(url),
                reason: "name the database: mysql://user@host:3306/db".into(),
            });
        }
        let connector = MySqlConnector::from_options(&options).await?;
        Ok(Self {
            options,
            connector,
            dialect: MySqlSourceDialect::default(),
        })
    }

    /// A pooled connection of the source's connector.
    async fn conn(&self) -> Result<mysql_async::Conn> {
        self.connector.acquire().await
    }

    fn map_err(&self, e: mysql_async::Error) -> Error {
        self.connector.target().error(e)
    }
}

const SYSTEM_SCHEMAS: &str = "('mysql','information_schema','performance_schema','sys')";

/// The MySQL and MariaDB backend: `mysql://`, `mariadb://` URLs, read as a [`MySqlSource`] and written through a
/// [`MySqlConnector`].
#[derive(Debug, Default, Clone, Copy)]
pub struct MySqlBackend;

#[async_trait]
impl super::Backend for MySqlBackend {
    fn name(&self) -> &'static str {
        "mysql"
    }

    fn schemes(&self) -> &'static [&'static str] {
        &["mysql", "mariadb"]
    }

    async fn open(
        &self,
        url: &str,
        _session: &datafusion::execution::SessionState,
    ) -> Result<super::Opened> {
        Ok(super::Opened::Source(Arc::new(
            MySqlSource::connect(url).await?,
        )))
    }

    async fn connector(&self, url: &str) -> Result<Arc<dyn super::Connector>> {
        Ok(Arc::new(MySqlConnector::connect(url).await?))
    }
}

#[async_trait]
impl Source for MySqlSource {
    fn backend(&self) -> &'static str {
        "mysql"
    }

    fn default_schema(&self) -> &str {
        &self.options.database
    }

    fn dialect(&self) -> &dyn Dialect {
        &self.dialect
    }

    fn placeholder(&self, _n: usize) -> String {
        "?".into()
    }

    fn upsert_clause(&self, keys: &[String], update: &[String]) -> Result<String> {
        // MySQL decides conflicts by every unique key of the table, whatever `keys` says;
        // "do nothing" sets a key column to itself.
        let sets: Vec<String> = if update.is_empty() {
            let k = keys.first().map(String::as_str).unwrap_or_default();
            vec![format!("{k} = {k}")]
        } else {
            update
                .iter()
                .map(|c| format!("{c} = VALUES({c})"))
                .collect()
        };
        Ok(format!("ON DUPLICATE KEY UPDATE {}", sets.join(", ")))
    }

    async fn list_tables(&self) -> Result<Vec<(String, String)>> {
        self.conn()
            .await?
            .query(format!(
                "SELECT CAST(TABLE_SCHEMA AS CHAR), CAST(TABLE_NAME AS CHAR) FROM information_schema.TABLES \
                 WHERE TABLE_SCHEMA NOT IN {SYSTEM_SCHEMAS} ORDER BY 1, 2"
            ))
            .await
            .map_err(|e| self.map_err(e))
    }

    async fn table_meta(&self, schema: &str, table: &str) -> Result<Option<TableMeta>> {
        let (s, t) = (schema.to_string(), table.to_string());
        let mut conn = self.conn().await?;
        let rows: Vec<types::MyColumn> = conn
                .exec_map(
                    "SELECT CAST(c.COLUMN_NAME AS CHAR), CAST(c.DATA_TYPE AS CHAR), CAST(c.COLUMN_TYPE AS CHAR), \
                            c.IS_NULLABLE = 'YES', c.NUMERIC_PRECISION, c.NUMERIC_SCALE, \
                            CAST(COALESCE(c.COLLATION_NAME, '') AS CHAR), \
                            (c.COLUMN_DEFAULT IS NOT NULL OR c.EXTRA LIKE '%auto_increment%' \
                             OR c.EXTRA LIKE '%GENERATED%') \
                     FROM information_schema.COLUMNS c \
                     WHERE c.TABLE_SCHEMA = ? AND c.TABLE_NAME = ? ORDER BY c.ORDINAL_POSITION",
                    (s, t),
                    |(name, data_type, column_type, nullable, precision, scale, collation, has_default): (
                        String,
                        String,
                        String,
                        bool,
                        Option<u64>,
                        Option<u64>,
                        String,
                        bool,
                    )| types::MyColumn {
                        has_default,
                        name,
                        data_type: data_type.to_ascii_lowercase(),
                        column_type: column_type.to_ascii_lowercase(),
                        nullable,
                        precision,
                        scale,
                        collation: collation.to_ascii_lowercase(),
                    },
                )
            .await
            .map_err(|e| self.map_err(e))?;
        if rows.is_empty() {
            return Ok(None);
        }
        let columns: Vec<_> = rows
            .iter()
            .map(|c| types::column_spec(c, self.options.tinyint1_as_bool, self.options.zero_dates))
            .collect();
        // The leading column of the primary key, when it is an integer: InnoDB keeps rows in
        // primary key order, so a range of it is a range scan of the clustered index.
        let leading: Option<String> = conn
            .exec_first(
                "SELECT CAST(COLUMN_NAME AS CHAR) FROM information_schema.STATISTICS \
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' AND SEQ_IN_INDEX = 1",
                (schema, table),
            )
            .await
            .map_err(|e| self.map_err(e))?;
        let key_column = leading.filter(|k| {
            rows.iter()
                // Bounds are read as signed 64-bit: not for `bigint unsigned`.
                .any(|c| {
                    &c.name == k
                        && types::is_integer(&c.data_type)
                        && !(c.data_type == "bigint" && c.column_type.contains("unsigned"))
                })
        });
        Ok(Some(TableMeta {
            schema: schema.to_string(),
            table: table.to_string(),
            arrow_schema: schema_of(&columns),
            columns,
            physical_partitioning: false,
            key_column,
            server_defaults: rows
                .iter()
                .filter(|c| c.has_default)
                .map(|c| c.name.clone())
                .collect(),
        }))
    }

    fn filter_pushdown(&self, meta: &TableMeta, filter: &Expr) -> P {
        // Backslash is an escape character in MySQL string literals unless the server says
        // otherwise (and ConnectorX prepares the statement before any session setting): a
        // literal with a backslash is never sent.
        if has_backslash_literal(filter) {
            return P::Unsupported;
        }
        classify(
            meta,
            &PushdownRules {
                // Case-insensitive collations match more: a superset at best.
                like: P::Inexact,
                // Zero dates are NULL here but compare below every date there: a superset.
                temporal: P::Inexact,
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
        let Some(key) = meta.key_column.clone().filter(|_| self.options.partition) else {
            return Ok(whole);
        };
        let sql = format!(
            "SELECT CAST(MIN({k}) AS SIGNED), CAST(MAX({k}) AS SIGNED) FROM {s}.{t}",
            k = quote_ident(&key),
            s = quote_ident(&meta.schema),
            t = quote_ident(&meta.table)
        );
        let bounds: Option<(Option<i64>, Option<i64>)> = self
            .conn()
            .await?
            .query_first(sql)
            .await
            .map_err(|e| self.map_err(e))?;
        let Some((Some(lo), Some(hi))) = bounds else {
            return Ok(whole);
        };
        let hi = hi.saturating_add(1);
        let partitions =
            range_partitions(lo, hi, target, self.options.chunk_rows, &key_bound(&key));
        Ok(PartitionPlan {
            partitions,
            method: format!("key {key} ranges"),
            estimated_rows: None,
        })
    }

    fn reader(&self) -> Arc<dyn ScanReader> {
        let session_statements: Vec<String> = vec![
            "SET time_zone = '+00:00'".into(),
            // Each connection's own consistent view (MySQL cannot share one between connections).
            "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY".into(),
        ];
        let secret = self.options.target.password.clone();
        if self.options.native_reader() {
            let (host, port, user) = self.options.endpoint.clone();
            return Arc::new(wire_reader::WireReader {
                host,
                port,
                socket: self.options.socket.clone(),
                tls: self.options.tls.clone(),
                user,
                password: secret,
                database: self.options.database.clone(),
                session: session_statements,
                target: self.connector.target().clone(),
            });
        }
        Arc::new(CxReader {
            url: self.options.cx_url(),
            protocol: Some("binary"),
            session_statements,
            backend: "mysql",
            secret,
        })
    }

    fn connector(&self) -> Option<Arc<dyn crate::connector::Connector>> {
        Some(Arc::new(self.connector.clone()))
    }
}

fn has_backslash_literal(e: &Expr) -> bool {
    use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
    use datafusion::common::ScalarValue;
    let mut found = false;
    let _ = e.apply(|x| {
        if let Expr::Literal(
            ScalarValue::Utf8(Some(s))
            | ScalarValue::LargeUtf8(Some(s))
            | ScalarValue::Utf8View(Some(s)),
            _,
        ) = x
        {
            if s.contains('\\') {
                found = true;
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    found
}

/// Quotes a MySQL identifier.
pub fn quote_ident(s: &str) -> String {
    format!("`{}`", s.replace('`', "``"))
}

impl MySqlSource {
    /// The database named in the URL.
    pub fn database(&self) -> &str {
        &self.options.database
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote_ident("a`b"), "`a``b`");
    }
}
