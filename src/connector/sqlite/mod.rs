//! SQLite: catalog from `sqlite_master` and `PRAGMA table_info`, read in process by
//! its own reader (`reader.rs`) straight into the declared Arrow types, partitioned by rowid ranges.
//!
//! URL: `sqlite:///absolute/path.db` or `sqlite://relative/path.db`. Options:
//!
//! | option | default | meaning |
//! |---|---|---|
//! | `chunk_rows` | none | split each partition into queries of this many rowids (one query by default) |
//!
//! SQLite has no snapshot that several connections share: a partitioned scan of a file that is
//! being written may see different versions in different partitions.

mod reader;
mod write;

pub use write::SqliteWriter;

use std::path::PathBuf;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, FieldRef, TimeUnit};
use async_trait::async_trait;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown as P};
use datafusion::sql::unparser::dialect::{Dialect, SqliteDialect};

use super::options::UrlOptions;
use super::pushdown::{classify, PushdownRules};
use super::{key_bound, range_partitions, PartitionPlan, Source, TableMeta};
use crate::error::{Error, Result};
use crate::read::ScanReader;
use crate::schema::{schema_of, ColumnSpec, SourceCompare};

/// Rowids per chunk query unless the URL says otherwise: no chunking, one query per partition.
pub const DEFAULT_CHUNK_ROWS: i64 = i64::MAX;

/// A SQLite database file.
pub struct SqliteSource {
    path: PathBuf,
    chunk_rows: i64,
    dialect: SqliteDialect,
}

impl std::fmt::Debug for SqliteSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteSource")
            .field("path", &self.path)
            .field("chunk_rows", &self.chunk_rows)
            .finish()
    }
}

impl SqliteSource {
    /// Opens (read-only) the file named by the URL; it must exist.
    pub async fn connect(url: &str) -> Result<Self> {
        let rest = url
            .strip_prefix("sqlite://")
            .ok_or_else(|| Error::UnsupportedScheme {
                scheme: url.split(':').next().unwrap_or("").into(),
                known: "sqlite://".into(),
            })?;
        let (path_part, _) = rest.split_once('?').unwrap_or((rest, ""));
        // The path is not a URL authority: only the query goes through the URL parser.
        let parsed =
            url::Url::parse(&format!("sqlite://x/{}", &rest[path_part.len()..])).map_err(|e| {
                Error::InvalidUrl {
                    url: url.into(),
                    reason: e.to_string(),
                }
            })?;
        let mut options = UrlOptions::new(url, &parsed);
        let chunk_rows = options
            .positive("chunk_rows")?
            .unwrap_or(DEFAULT_CHUNK_ROWS);
        options.finish()?;
        let decoded = percent_encoding::percent_decode_str(path_part)
            .decode_utf8_lossy()
            .into_owned();
        if decoded.is_empty() {
            return Err(Error::InvalidUrl {
                url: url.into(),
                reason: "no file path".into(),
            });
        }
        let path = std::path::absolute(&decoded)?;
        if !path.is_file() {
            return Err(Error::Connection {
                target: format!("sqlite file {}", path.display()),
                message: "no such file".into(),
            });
        }
        let source = Self {
            path,
            chunk_rows,
            dialect: SqliteDialect {},
        };
        source
            .run(|c| {
                c.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
                    r.get::<_, i64>(0)
                })
            })
            .await?;
        Ok(source)
    }

    async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let path = self.path.clone();
        let target = format!("sqlite file {}", path.display());
        tokio::task::spawn_blocking(move || {
            let conn = rusqlite::Connection::open_with_flags(
                &path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(|e| Error::Connection {
                target: target.clone(),
                message: e.to_string(),
            })?;
            f(&conn).map_err(reader::sqlite_err)
        })
        .await
        .map_err(|e| Error::Io(std::io::Error::other(e)))?
    }
}

/// Maps a declared column type the way SQLite's affinity rules read it.
pub fn column_spec(name: &str, decl: &str, not_null: bool) -> ColumnSpec {
    let d = decl.to_ascii_lowercase();
    let nullable = !not_null;
    let native = |dt: DataType| ColumnSpec::native(name, dt, nullable, decl);
    match d.as_str() {
        "int4" => native(DataType::Int32),
        "int2" => native(DataType::Int16),
        // `b = true` at the source means `b = 1`; here any non-zero value is true.
        "boolean" | "bool" => native(DataType::Boolean).with_compare(SourceCompare::Never),
        "date" => native(DataType::Date32),
        "time" => native(DataType::Time64(TimeUnit::Microsecond)),
        "datetime" | "timestamp" => native(DataType::Timestamp(TimeUnit::Microsecond, None)),
        _ if d.contains("int") => native(DataType::Int64),
        // A column may be declared COLLATE NOCASE: equality at the source finds a superset.
        _ if d.contains("char") || d.contains("clob") || d.contains("text") => {
            native(DataType::Utf8).with_compare(SourceCompare::EqualitySuperset)
        }
        _ if d.contains("real") || d.contains("floa") || d.contains("doub") => {
            native(DataType::Float64)
        }
        _ if d.contains("blob") => native(DataType::Binary),
        // NUMERIC/DECIMAL affinity stores integers or reals: read as stored, as Float64.
        _ if d.contains("num") || d.contains("dec") => native(DataType::Float64),
        // No declared type: any value, read as its text.
        _ => native(DataType::Utf8).with_compare(SourceCompare::Never),
    }
}

/// The SQLite backend: `sqlite://` URLs, read (only) as a [`SqliteSource`].
#[derive(Debug, Default, Clone, Copy)]
pub struct SqliteBackend;

#[async_trait]
impl super::Backend for SqliteBackend {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn schemes(&self) -> &'static [&'static str] {
        &["sqlite"]
    }

    async fn open(
        &self,
        url: &str,
        _session: &datafusion::execution::SessionState,
    ) -> Result<super::Opened> {
        Ok(super::Opened::Source(Arc::new(
            SqliteSource::connect(url).await?,
        )))
    }
}

#[async_trait]
impl Source for SqliteSource {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn default_schema(&self) -> &str {
        "main"
    }

    fn dialect(&self) -> &dyn Dialect {
        &self.dialect
    }

    fn placeholder(&self, n: usize) -> String {
        format!("?{n}")
    }

    async fn list_tables(&self) -> Result<Vec<(String, String)>> {
        self.run(|c| {
            let mut stmt = c.prepare(
                "SELECT name FROM sqlite_master WHERE type IN ('table','view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
            )?;
            let names = stmt
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(names.into_iter().map(|n| ("main".to_string(), n)).collect())
        })
        .await
    }

    async fn table_meta(&self, schema: &str, table: &str) -> Result<Option<TableMeta>> {
        if schema != "main" {
            return Ok(None);
        }
        let t = table.to_string();
        let info = self
            .run(move |c| {
                let kind: Option<(String, String)> = c
                    .query_row(
                        "SELECT type, COALESCE(sql, '') FROM sqlite_master WHERE name = ?1",
                        [&t],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .map(Some)
                    .or_else(|e| match e {
                        rusqlite::Error::QueryReturnedNoRows => Ok(None),
                        e => Err(e),
                    })?;
                let Some((kind, sql)) = kind else {
                    return Ok(None);
                };
                let mut stmt = c.prepare(
                    "SELECT name, type, \"notnull\", pk FROM pragma_table_info(?1) ORDER BY cid",
                )?;
                let cols = stmt
                    .query_map([&t], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, bool>(2)?,
                            r.get::<_, i64>(3)?,
                        ))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(Some((kind, sql, cols)))
            })
            .await?;
        let Some((kind, sql, cols)) = info else {
            return Ok(None);
        };
        // An INTEGER PRIMARY KEY is the rowid: never NULL, whatever table_info says.
        let single_pk = cols.iter().filter(|c| c.3 > 0).count() == 1;
        let columns: Vec<ColumnSpec> = cols
            .iter()
            .map(|(n, d, nn, pk)| {
                let rowid_alias = single_pk && *pk > 0 && d.eq_ignore_ascii_case("integer");
                column_spec(n, d, *nn || rowid_alias)
            })
            .collect();
        let normalized = sql
            .to_ascii_uppercase()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let rowid_table = kind == "table" && !normalized.contains("WITHOUT ROWID");
        // A user column may shadow `rowid`; SQLite's other names for it are `_rowid_` and `oid`.
        let shadowed = |alias: &str| cols.iter().any(|c| c.0.eq_ignore_ascii_case(alias));
        let key = ["rowid", "_rowid_", "oid"]
            .into_iter()
            .find(|a| !shadowed(a));
        Ok(Some(TableMeta {
            schema: "main".into(),
            table: table.to_string(),
            arrow_schema: schema_of(&columns),
            columns,
            physical_partitioning: false,
            key_column: key.filter(|_| rowid_table).map(str::to_string),
            server_defaults: vec![],
        }))
    }

    fn filter_pushdown(&self, meta: &TableMeta, filter: &Expr) -> P {
        classify(
            meta,
            &PushdownRules {
                // SQLite's LIKE ignores ASCII case: a superset.
                like: P::Inexact,
                // Dates are stored as text, and the unparser writes `CAST('1994-01-01' AS DATE)`,
                // which SQLite evaluates to the number 1994: never push date comparisons.
                temporal: P::Unsupported,
                float_zero: false,
            },
            filter,
        )
    }

    fn hidden_columns(&self) -> Vec<FieldRef> {
        ["rowid", "_rowid_", "oid"]
            .into_iter()
            .map(|n| Arc::new(Field::new(n, DataType::Int64, false)))
            .collect()
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
        let t = meta.table.clone();
        let k = key.clone();
        let (lo, hi) = self
            .run(move |c| {
                c.query_row(
                    &format!(
                        "SELECT min({k}), max({k}) FROM \"{}\"",
                        t.replace('"', "\"\"")
                    ),
                    [],
                    |r| Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, Option<i64>>(1)?)),
                )
            })
            .await?;
        let (Some(lo), Some(hi)) = (lo, hi) else {
            return Ok(whole);
        };
        let hi = hi.saturating_add(1);
        let partitions = range_partitions(lo, hi, target, self.chunk_rows, &key_bound(&key));
        Ok(PartitionPlan {
            partitions,
            method: "rowid ranges".into(),
            estimated_rows: None,
        })
    }

    fn reader(&self) -> Arc<dyn ScanReader> {
        Arc::new(reader::SqliteReader {
            path: self.path.clone(),
        })
    }
}
