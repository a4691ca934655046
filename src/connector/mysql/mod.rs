//! MySQL and MariaDB: catalog from `information_schema`, reads through the crate's own
//! binary-protocol reader (or ConnectorX), partitions by integer primary key ranges.
//!
//! URL: `mysql://user:password@host:3306/db?option=value`. Options this crate reads (the rest go
//! to the driver):
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

mod client;
mod dialect;
mod types;
mod wire_reader;

pub use client::{
    create_table_sql, mysql_type_for, write_infile_cell, MySqlConnector, MySqlTransaction,
};

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown as P};
use datafusion::sql::unparser::dialect::Dialect;

use dialect::MySqlSourceDialect;
use mysql_async::prelude::Queryable;

pub use types::ZeroDates;

use super::pushdown::{classify, PushdownRules};
use super::{key_bound, range_partitions, PartitionPlan, Source, TableMeta};
use crate::error::{redact_url, scrub, Error, Result};
use crate::read::cx::CxReader;
use crate::read::ScanReader;
use crate::schema::schema_of;

/// Key values per chunk query unless the URL says otherwise: no chunking, one query per
/// partition (the reader has backpressure).
pub const DEFAULT_CHUNK_ROWS: i64 = i64::MAX;

/// A MySQL or MariaDB source.
pub struct MySqlSource {
    driver_url: String,
    password: Option<String>,
    database: String,
    tinyint1_as_bool: bool,
    zero_dates: ZeroDates,
    partition: bool,
    chunk_rows: i64,
    /// Read scans with the crate's own binary-protocol reader (not with ConnectorX).
    native_reader: bool,
    /// Host, port and user of the native reader.
    endpoint: (String, u16, String),
    connector: Option<MySqlConnector>,
    dialect: MySqlSourceDialect,
}

impl std::fmt::Debug for MySqlSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MySqlSource")
            .field("url", &redact_url(&self.driver_url))
            .field("tinyint1_as_bool", &self.tinyint1_as_bool)
            .field("zero_dates", &self.zero_dates)
            .finish_non_exhaustive()
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

impl MySqlSource {
    /// Parses the URL and checks that the server answers.
    pub async fn connect(url: &str) -> Result<Self> {
        let parsed = url::Url::parse(url).map_err(|e| Error::InvalidUrl {
            url: redact_url(url),
            reason: e.to_string(),
        })?;
        let bad = |reason: String| Error::InvalidUrl {
            url: redact_url(url),
            reason,
        };
        let database = parsed.path().trim_start_matches('/').to_string();
        if database.is_empty() {
            return Err(bad("name the database: mysql://user@host:3306/db".into()));
        }
        let mut source = Self {
            driver_url: String::new(),
            password: crate::connector::url_password(&parsed),
            database,
            tinyint1_as_bool: false,
            zero_dates: ZeroDates::Null,
            partition: true,
            chunk_rows: DEFAULT_CHUNK_ROWS,
            native_reader: true,
            endpoint: (
                parsed.host_str().unwrap_or("localhost").to_string(),
                parsed.port().unwrap_or(3306),
                percent_encoding::percent_decode_str(parsed.username())
                    .decode_utf8_lossy()
                    .into_owned(),
            ),
            connector: None,
            dialect: MySqlSourceDialect::default(),
        };
        let mut driver = client::mysql_scheme(&parsed).map_err(|e| bad(e.to_string()))?;
        let mut kept = vec![];
        for (k, v) in crate::connector::url_options(&parsed) {
            match k.as_str() {
                "tinyint1_as_bool" => {
                    source.tinyint1_as_bool = parse_bool(&v).ok_or_else(|| {
                        bad(format!("tinyint1_as_bool takes true or false, not `{v}`"))
                    })?
                }
                "zero_dates" => {
                    source.zero_dates = match v.as_str() {
                        "null" => ZeroDates::Null,
                        "error" => ZeroDates::Error,
                        other => {
                            return Err(bad(format!(
                                "zero_dates takes null or error, not `{other}`"
                            )))
                        }
                    }
                }
                "partition" => {
                    source.partition = match v.as_str() {
                        "key" => true,
                        "none" => false,
                        other => {
                            return Err(bad(format!("partition takes key or none, not `{other}`")))
                        }
                    }
                }
                "chunk_rows" => {
                    source.chunk_rows =
                        v.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                            bad(format!("chunk_rows must be a positive integer, not `{v}`"))
                        })?
                }
                "reader" => {
                    source.native_reader = match v.as_str() {
                        "native" => true,
                        "connectorx" => false,
                        other => {
                            return Err(bad(format!(
                                "reader takes native or connectorx, not `{other}`"
                            )))
                        }
                    }
                }
                _ if crate::connector::PoolOptions::is_key(&k) => {}
                _ => {
                    // The native reader speaks neither TLS nor Unix sockets.
                    let key = k.to_ascii_lowercase();
                    let plain = (key == "ssl-mode" || key == "sslmode")
                        && v.eq_ignore_ascii_case("disabled");
                    if (key.starts_with("ssl") && !plain) || key == "socket" {
                        source.native_reader = false;
                    }
                    kept.push((k, v));
                }
            }
        }
        crate::connector::set_url_options(&mut driver, &kept);
        let mut driver_url = driver.to_string();
        if driver_url.ends_with('?') {
            driver_url.pop();
        }
        source.driver_url = driver_url;
        source.connector = Some(MySqlConnector::connect(url).await?);
        Ok(source)
    }

    /// A pooled connection of the source's connector.
    async fn conn(&self) -> Result<mysql_async::Conn> {
        match &self.connector {
            Some(c) => c.acquire().await,
            None => Err(Error::Config("the source is not connected".into())),
        }
    }

    fn map_err(&self, e: mysql_async::Error) -> Error {
        match &self.connector {
            Some(c) => c.target().error(e),
            None => Error::Source {
                backend: "mysql",
                code: None,
                message: scrub(&e.to_string(), self.password.as_deref()),
                retryable: false,
            },
        }
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
        &self.database
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
            .map(|c| types::column_spec(c, self.tinyint1_as_bool, self.zero_dates))
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
        };
        let Some(key) = meta.key_column.clone().filter(|_| self.partition) else {
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
        let partitions = range_partitions(lo, hi, target, self.chunk_rows, &key_bound(&key));
        Ok(PartitionPlan {
            partitions,
            method: format!("key {key} ranges"),
        })
    }

    fn reader(&self) -> Arc<dyn ScanReader> {
        let session_statements: Vec<String> = vec![
            "SET time_zone = '+00:00'".into(),
            // Each connection's own consistent view (MySQL cannot share one between connections).
            "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY".into(),
        ];
        match (&self.connector, self.native_reader) {
            (Some(connector), true) => {
                let (host, port, user) = self.endpoint.clone();
                Arc::new(wire_reader::WireReader {
                    host,
                    port,
                    user,
                    password: self.password.clone(),
                    database: self.database.clone(),
                    session: session_statements,
                    target: connector.target().clone(),
                })
            }
            _ => Arc::new(CxReader {
                url: self.driver_url.clone(),
                protocol: Some("binary"),
                session_statements,
                backend: "mysql",
                secret: self.password.clone(),
            }),
        }
    }

    fn connector(&self) -> Option<std::sync::Arc<dyn crate::connector::Connector>> {
        self.connector
            .clone()
            .map(|c| std::sync::Arc::new(c) as std::sync::Arc<dyn crate::connector::Connector>)
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
        &self.database
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote_ident("a`b"), "`a``b`");
        assert_eq!(parse_bool("yes"), Some(true));
        assert_eq!(parse_bool("maybe"), None);
    }
}
