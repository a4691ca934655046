//! Backends. Everything one backend knows lives in its own module: URL options, the unparser
//! dialect and which filters it evaluates exactly, the type map, partitioning and snapshots.
//!
//! The provider layer talks to a backend only through the small [`Source`] trait (in the style
//! of `object_store::ObjectStore`); adding a backend means one new folder here.

#[cfg(feature = "bigquery")]
pub mod bigquery;
pub mod executor;
pub mod file;
#[cfg(feature = "mysql")]
pub mod mysql;
pub(crate) mod options;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod pushdown;
pub mod registry;
pub mod session;
#[cfg(feature = "snowflake")]
pub mod snowflake;
#[cfg(feature = "sqlite")]
pub mod sqlite;
#[cfg(feature = "tls")]
pub(crate) mod tls;
pub mod value;

pub use executor::{
    BatchStream, BulkOptions, Connector, CsvOptions, Executor, ExecutorExt, PoolOptions,
    PoolStatus, TableName, Transaction,
};
pub use registry::{Backend, Opened, Registry};
pub use session::{Held, InTransaction, PoolSlot, Pooled, Session};
pub use value::Value;

/// The backends compiled into this build, each behind its cargo feature. Adding a backend:
/// one folder, one line here, and the conformance suite (see docs/architecture.md).
fn builtin_backends() -> Vec<Arc<dyn Backend>> {
    vec![
        #[cfg(feature = "postgres")]
        Arc::new(postgres::PostgresBackend),
        #[cfg(feature = "mysql")]
        Arc::new(mysql::MySqlBackend),
        #[cfg(feature = "sqlite")]
        Arc::new(sqlite::SqliteBackend),
        #[cfg(feature = "snowflake")]
        Arc::new(snowflake::SnowflakeBackend),
        #[cfg(feature = "bigquery")]
        Arc::new(bigquery::BigQueryBackend),
        Arc::new(file::FileBackend),
    ]
}

use std::any::Any;
use std::fmt::Debug;
use std::sync::Arc;

use arrow::datatypes::{FieldRef, SchemaRef};
use async_trait::async_trait;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::sql::unparser::dialect::Dialect;

use crate::error::Result;
use crate::schema::ColumnSpec;

/// A table's location and columns as the source's catalog describes them.
#[derive(Debug, Clone)]
pub struct TableMeta {
    /// Schema (namespace) at the source.
    pub schema: String,
    /// Table name at the source.
    pub table: String,
    /// Columns in source order.
    pub columns: Vec<ColumnSpec>,
    /// The Arrow schema of `columns`.
    pub arrow_schema: SchemaRef,
    /// Whether the relation can be split by physical location (PostgreSQL heap tables).
    pub physical_partitioning: bool,
    /// An integer column the table can be split on (primary key or rowid), if any.
    pub key_column: Option<String>,
    /// Columns the source fills itself when an INSERT leaves them out (a DEFAULT, a serial or
    /// identity column, AUTO_INCREMENT, a generated column).
    pub server_defaults: Vec<String>,
}

impl TableMeta {
    /// The name at the source of the column the engine calls `name` (the same name unless
    /// the backend says otherwise, see [`ColumnSpec::source_name`]).
    pub fn source_column<'a>(&'a self, name: &'a str) -> &'a str {
        self.columns
            .iter()
            .find(|c| c.name() == name)
            .map_or(name, |c| c.source_name())
    }

    /// `expr` with its column references renamed to the source's names and unqualified.
    pub fn to_source_names(&self, expr: Expr) -> Result<Expr> {
        use datafusion::common::tree_node::{Transformed, TreeNode};
        if self.columns.iter().all(|c| c.source_name.is_none()) {
            return Ok(expr);
        }
        let out = expr.transform(|e| {
            Ok(match e {
                Expr::Column(c) => {
                    let name = self.source_column(&c.name).to_string();
                    Transformed::yes(Expr::Column(datafusion::common::Column::new_unqualified(
                        name,
                    )))
                }
                other => Transformed::no(other),
            })
        });
        Ok(out.map_err(crate::Error::from_datafusion)?.data)
    }
}

/// How one DataFusion partition reads: each chunk is one query; the chunk predicates are ANDed
/// with the pushed filters.
#[derive(Debug, Clone, Default)]
pub struct PartitionPlan {
    /// `partitions[i]` lists the chunk predicates of partition `i` (`None`: the whole table).
    pub partitions: Vec<Vec<Option<Expr>>>,
    /// How the table was split, for EXPLAIN (e.g. `ctid page ranges`, `key l_orderkey ranges`).
    pub method: String,
    /// The rows the source estimates the whole table holds, when it keeps such an estimate
    /// (PostgreSQL's `reltuples`): a progress bar's total, never used for planning.
    pub estimated_rows: Option<u64>,
}

/// A scan a backend plans itself, for sources whose tables are not read by SQL chunk queries
/// (BigQuery's read sessions): what each partition reads, in its reader's terms, and the
/// reader.
pub struct ScanPlan {
    /// `partitions[i]` lists what partition `i` reads, one item after the other.
    pub partitions: Vec<Vec<String>>,
    /// How the scan was split and what it pushed, for EXPLAIN.
    pub method: String,
    /// The reader of this scan's items.
    pub reader: Arc<dyn crate::read::ScanReader>,
}

impl Debug for ScanPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScanPlan")
            .field("partitions", &self.partitions)
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

/// A consistent view shared by every connection of one scan: statements to run on each
/// connection before its query, and an owner that keeps the view alive while it is held.
pub struct Snapshot {
    /// Statements every reading connection runs first.
    pub statements: Vec<String>,
    /// Keeps the view open while held: by the scan's physical plan (so a re-executed plan reads
    /// the same view) and by its reader threads.
    pub keep_alive: Arc<dyn Any + Send + Sync>,
}

/// What the provider layer needs from one backend.
#[async_trait]
pub trait Source: Debug + Send + Sync + 'static {
    /// Backend name (`postgres`, `sqlite`, ...).
    fn backend(&self) -> &'static str;
    /// The schema that two-part names (`source.table`) resolve in.
    fn default_schema(&self) -> &str;
    /// The dialect DataFusion's unparser writes the remote SQL in; statements built outside
    /// the unparser quote identifiers as it does ([`quote_char`]).
    fn dialect(&self) -> &dyn Dialect;
    /// The marker of the `n`-th (1-based) bound parameter in a statement sent to this source
    /// (`$1`, or `?`).
    fn placeholder(&self, n: usize) -> String;
    /// The clause that makes `INSERT INTO t (...) VALUES ...` an upsert: on a conflict over
    /// `keys`, set each column of `update` to the inserted value (do nothing when `update` is
    /// empty). Identifiers arrive quoted. A backend without an upsert refuses.
    fn upsert_clause(&self, keys: &[String], update: &[String]) -> Result<String> {
        let _ = (keys, update);
        Err(crate::Error::Config(format!(
            "the {} backend has no upsert: insert the new rows and update the others in a \
             transaction instead",
            self.backend()
        )))
    }
    /// All tables, as (schema, table) pairs, from the source's catalog.
    async fn list_tables(&self) -> Result<Vec<(String, String)>>;
    /// One table's columns from the source's catalog; `None` if it does not exist.
    async fn table_meta(&self, schema: &str, table: &str) -> Result<Option<TableMeta>>;
    /// Whether the source evaluates `filter` exactly as DataFusion would.
    fn filter_pushdown(&self, meta: &TableMeta, filter: &Expr) -> TableProviderFilterPushDown;
    /// Columns that exist at the source but not in the table's Arrow schema and that partition
    /// predicates may name (PostgreSQL's `ctid`).
    fn hidden_columns(&self) -> Vec<FieldRef> {
        vec![]
    }
    /// Splits a scan into `target` partitions (fewer when the table is small or cannot be split).
    async fn plan_partitions(&self, meta: &TableMeta, target: usize) -> Result<PartitionPlan>;
    /// Plans a scan of `columns` with the pushed `filters` and `limit` in at most `target`
    /// partitions, for a source that does not read by SQL chunks; `None` (the default): the
    /// scan sends the unparsed SQL of each chunk of [`Source::plan_partitions`].
    async fn plan_scan(
        &self,
        meta: &TableMeta,
        columns: &[ColumnSpec],
        filters: &[Expr],
        limit: Option<usize>,
        target: usize,
    ) -> Result<Option<ScanPlan>> {
        let _ = (meta, columns, filters, limit, target);
        Ok(None)
    }
    /// Starts a snapshot that every partition's connection imports, where the source has one.
    async fn snapshot(&self) -> Result<Option<Snapshot>> {
        Ok(None)
    }
    /// The result schema of `sql`, a query in the source's own SQL, found without running it
    /// (for `source.query('...')` in the engine); `None`: the source cannot describe one.
    async fn describe_query(&self, sql: &str) -> Result<Option<SchemaRef>> {
        let _ = sql;
        Ok(None)
    }
    /// The reader of this source's scan queries.
    fn reader(&self) -> Arc<dyn crate::read::ScanReader>;
    /// The source's connector (its pool), for writes through the engine (`INSERT`, `UPDATE`,
    /// `DELETE`); `None` for read-only sources.
    fn connector(&self) -> Option<Arc<dyn Connector>> {
        None
    }
}

/// Opens a connector (a pool) for a URL of any backend compiled in that can write
/// (`postgres://`, `mysql://`, ...; see [`Registry::builtin`]).
pub async fn connect(url: &str) -> Result<Arc<dyn Connector>> {
    Registry::builtin().connect(url).await
}

/// The character the source quotes identifiers with, taken from its unparser dialect.
pub fn quote_char(source: &dyn Source) -> char {
    source.dialect().identifier_quote_style("x").unwrap_or('"')
}

/// How long a connection the server refuses for now (too many connections, starting up) is
/// asked again when the URL sets no connect timeout.
pub(crate) const REFUSED_RETRY_BUDGET: std::time::Duration = std::time::Duration::from_secs(30);

/// Pauses between attempts to connect to a server that refuses for now: jittered (a factor in
/// [0.5, 1.5), so that clients refused together come back apart), growing from 25 ms to 1 s,
/// until `budget` has passed since the first attempt.
pub(crate) struct Backoff {
    started: std::time::Instant,
    budget: std::time::Duration,
    pause: std::time::Duration,
}

impl Backoff {
    /// Pauses for at most `budget` from now.
    pub(crate) fn new(budget: std::time::Duration) -> Self {
        Self {
            started: std::time::Instant::now(),
            budget,
            pause: std::time::Duration::from_millis(25),
        }
    }

    /// The pause before the next attempt; `None` once the budget is spent.
    pub(crate) fn next_pause(&mut self) -> Option<std::time::Duration> {
        use std::hash::{BuildHasher, Hasher};
        let left = self
            .budget
            .checked_sub(self.started.elapsed())
            .filter(|d| !d.is_zero())?;
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(self.started.elapsed().as_nanos());
        let unit = (h.finish() % 1000) as f64 / 1000.0;
        let pause = self.pause.mul_f64(0.5 + unit).min(left);
        self.pause = (self.pause * 2).min(std::time::Duration::from_secs(1));
        Some(pause)
    }
}

/// The query options of a URL as `(key, value)` pairs, decoded as URI components: `%20` is a
/// space and `+` stays a plus (libpq and psql read URLs this way; `application/x-www-form-urlencoded`
/// decoding, which turns `+` into a space, is for HTML forms).
pub(crate) fn url_options(url: &url::Url) -> Vec<(String, String)> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    url.query()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
/// Sets `url`'s query to `options`, each key and value percent-encoded so that either way of
/// decoding (URI component or form data) gives back the same text.
pub(crate) fn set_url_options(url: &mut url::Url, options: &[(String, String)]) {
    use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
    if options.is_empty() {
        url.set_query(None);
        return;
    }
    let encode = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
    let query: Vec<String> = options
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    url.set_query(Some(&query.join("&")));
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
/// The URL's password, percent-decoded.
pub(crate) fn url_password(url: &url::Url) -> Option<String> {
    url.password().map(|p| {
        percent_encoding::percent_decode_str(p)
            .decode_utf8_lossy()
            .into_owned()
    })
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
/// `url` with `password` as its password, percent-encoded (one found outside the URL, for a
/// driver that reads only URLs).
pub(crate) fn url_with_password(url: &str, password: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    match url::Url::parse(url) {
        Ok(mut u) => {
            let encoded = percent_encoding::utf8_percent_encode(password, SET).to_string();
            let _ = u.set_password(Some(&encoded));
            u.to_string()
        }
        Err(_) => url.to_string(),
    }
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
/// The contents of `file` as a stream of 1 MiB chunks.
pub(crate) fn file_chunks(
    file: tokio::fs::File,
) -> impl futures::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static {
    use tokio::io::AsyncReadExt;
    futures::stream::try_unfold(file, |mut f| async move {
        let mut buf = vec![0u8; 1 << 20];
        let n = f.read(&mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.truncate(n);
        Ok(Some((bytes::Bytes::from(buf), f)))
    })
}

/// A local file named by a path or a `file://` URL.
pub fn local_path(path_or_url: &str) -> Result<std::path::PathBuf> {
    if let Some(rest) = path_or_url.strip_prefix("file://") {
        let url =
            url::Url::parse(&format!("file://{rest}")).map_err(|e| crate::Error::InvalidUrl {
                url: path_or_url.to_string(),
                reason: e.to_string(),
            })?;
        return url.to_file_path().map_err(|_| crate::Error::InvalidUrl {
            url: path_or_url.to_string(),
            reason: "not a local file path".into(),
        });
    }
    if let Some((scheme, _)) = path_or_url.split_once("://") {
        return Err(crate::Error::UnsupportedScheme {
            scheme: scheme.to_string(),
            known: "file:// or a path".into(),
        });
    }
    Ok(std::path::PathBuf::from(path_or_url))
}

/// Partition predicates over `[lo, hi)`: `target` contiguous partitions, each split into chunk
/// queries of at most `chunk` values. The first chunk has no lower bound and the last no upper
/// bound, so values outside `[lo, hi)` (written after planning) are still read.
pub fn range_partitions(
    lo: i64,
    hi: i64,
    target: usize,
    chunk: i64,
    bound: &dyn Fn(i64, bool) -> Expr,
) -> Vec<Vec<Option<Expr>>> {
    let chunk = chunk.max(1) as i128;
    split_range(lo, hi, target.max(1))
        .into_iter()
        .map(|(a, b)| {
            let pieces = ((b as i128 - a as i128 + chunk - 1) / chunk).max(1) as usize;
            split_range(a, b, pieces)
                .into_iter()
                .map(|(x, y)| {
                    let lower = (x > lo).then(|| bound(x, true));
                    let upper = (y < hi).then(|| bound(y, false));
                    match (lower, upper) {
                        (Some(l), Some(u)) => Some(l.and(u)),
                        (l, u) => l.or(u),
                    }
                })
                .collect()
        })
        .collect()
}

/// `key >= v` (lower) or `key < v` (upper) on an integer column.
pub fn key_bound(key: &str) -> impl Fn(i64, bool) -> Expr + '_ {
    move |v, lower| {
        if lower {
            datafusion::logical_expr::ident(key).gt_eq(datafusion::logical_expr::lit(v))
        } else {
            datafusion::logical_expr::ident(key).lt(datafusion::logical_expr::lit(v))
        }
    }
}

/// Splits `[lo, hi)` into at most `n` contiguous ranges of near-equal size.
pub fn split_range(lo: i64, hi: i64, n: usize) -> Vec<(i64, i64)> {
    if hi <= lo || n == 0 {
        return vec![];
    }
    let span = (hi as i128) - (lo as i128);
    let n = (n as i128).min(span).max(1);
    (0..n)
        .map(|i| {
            let a = lo as i128 + span * i / n;
            let b = lo as i128 + span * (i + 1) / n;
            (a as i64, b as i64)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::split_range;

    #[test]
    fn partitions_have_open_ends_and_chunks() {
        let parts = super::range_partitions(0, 100, 2, 30, &super::key_bound("k"));
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].len(), 2);
        assert_eq!(parts[1].len(), 2);
        assert_eq!(parts[0][0].as_ref().unwrap().to_string(), "k < Int64(25)");
        assert_eq!(parts[1][1].as_ref().unwrap().to_string(), "k >= Int64(75)");
        assert_eq!(
            super::range_partitions(0, 1, 4, 10, &super::key_bound("k")),
            vec![vec![None]]
        );
    }

    #[test]
    fn ranges_cover_without_overlap() {
        let r = split_range(0, 10, 3);
        assert_eq!(r, vec![(0, 3), (3, 6), (6, 10)]);
        assert_eq!(split_range(5, 7, 8), vec![(5, 6), (6, 7)]);
        assert!(split_range(3, 3, 2).is_empty());
        let wide = split_range(i64::MIN, i64::MAX, 2);
        assert_eq!(wide.first().unwrap().0, i64::MIN);
        assert_eq!(wide.last().unwrap().1, i64::MAX);
    }

    #[test]
    fn url_options_decode_as_uri_components() {
        let u = url::Url::parse(
            "postgres://h/db?application_name=my%20app+1&options=-c%20a%3Db&flag&x=%E2%82%AC",
        )
        .unwrap();
        let opts = super::url_options(&u);
        assert_eq!(
            opts,
            [
                ("application_name".to_string(), "my app+1".to_string()),
                ("options".into(), "-c a=b".into()),
                ("flag".into(), String::new()),
                ("x".into(), "€".into()),
            ]
        );
        // Written back, both ways of decoding give the same text.
        let mut w = url::Url::parse("postgres://h/db").unwrap();
        super::set_url_options(&mut w, &opts);
        assert_eq!(super::url_options(&w), opts);
        let form: Vec<(String, String)> = w
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        assert_eq!(form, opts);
        super::set_url_options(&mut w, &[]);
        assert_eq!(w.query(), None);
    }
}
