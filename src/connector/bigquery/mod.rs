//! BigQuery: tables read through the Storage Read API (`storage.rs`: one read session per
//! scan, its streams as partitions, Arrow batches decoded as they arrive), everything else
//! through the REST API (`rest.rs`: the catalog, query jobs with named parameters, their
//! result pages), credentials in `auth.rs`, types both ways in `types.rs`, the connector in
//! `connector.rs`.
//!
//! URL: `bigquery://PROJECT/DATASET?credentials=KEY.json`. Options:
//!
//! | option | default | meaning |
//! |---|---|---|
//! | `credentials` | application-default credentials | a service-account key or authorized-user file; `none` for no credentials, `default` for ADC even with an endpoint of one's own |
//! | `location` | BigQuery's default | where query jobs run (`US`, `EU`, `europe-west1`) |
//! | `endpoint` | `https://bigquery.googleapis.com` | the REST API's base URL (an emulator: then no credentials unless given) |
//! | `grpc_endpoint` | `https://bigquerystorage.googleapis.com` | the Storage API's URL |
//! | `snapshot_time` | now | read tables as they were at this RFC 3339 instant (time travel) |
//! | `request_timeout` | `60s` | how long one request may take |
//! | `job_timeout` | `6h` | how long the connector waits for a query job |
//! | `page_rows` | `20000` | rows per page of a query result read through REST |
//!
//! Names: tables are `source.dataset.table`; with a DATASET in the URL, two-part names
//! resolve in it and only its tables are listed.

mod auth;
mod connector;
mod dialect;
mod options;
mod rest;
mod storage;
pub mod types;
mod write;

pub use connector::{BigQueryConnector, JobOutcome, LoadFormat};

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown as P};
use datafusion::sql::unparser::dialect::Dialect;
use datafusion::sql::unparser::Unparser;

use super::pushdown::{classify, PushdownRules};
use super::{PartitionPlan, ScanPlan, Source, TableMeta};
use crate::error::{Error, Result};
use crate::read::ScanReader;
use crate::schema::{schema_of, ColumnSpec};
use options::BqOptions;
use rest::Rest;
use storage::{SessionReader, SessionRequest, Storage};

/// What the source and the connector of one URL share.
#[derive(Debug)]
pub(crate) struct Client {
    pub(crate) rest: Arc<Rest>,
    pub(crate) storage: Storage,
}

impl Client {
    pub(crate) async fn open(url: &str) -> Result<Arc<Self>> {
        let options = Arc::new(BqOptions::parse(url)?);
        let rest = Arc::new(Rest::new(options).await?);
        let storage = Storage::new(rest.clone())?;
        Ok(Arc::new(Self { rest, storage }))
    }

    pub(crate) fn options(&self) -> &BqOptions {
        self.rest.options()
    }

    /// `projects/P/datasets/D/tables/T`.
    pub(crate) fn table_path(&self, dataset: &str, table: &str) -> String {
        format!(
            "projects/{}/datasets/{dataset}/tables/{table}",
            self.options().project
        )
    }

    /// A table's columns; `None` when it does not exist.
    pub(crate) async fn columns(
        &self,
        dataset: &str,
        table: &str,
    ) -> Result<Option<Vec<ColumnSpec>>> {
        let Some(resource) = self.rest.table(dataset, table).await? else {
            return Ok(None);
        };
        let fields = resource["schema"]["fields"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        Ok(Some(
            fields
                .iter()
                .map(types::column_spec)
                .collect::<Result<Vec<_>>>()?,
        ))
    }
}

/// A BigQuery project (one URL): its catalog and scans.
pub struct BigQuerySource {
    client: Arc<Client>,
    connector: Arc<BigQueryConnector>,
    default_schema: String,
    dialect: dialect::GoogleSql,
}

impl std::fmt::Debug for BigQuerySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BigQuerySource")
            .field("options", self.client.options())
            .finish()
    }
}

impl BigQuerySource {
    /// Opens the project named by a `bigquery://` URL and checks that it answers.
    pub async fn connect(url: &str) -> Result<Self> {
        let client = Client::open(url).await?;
        // One catalog call: a wrong endpoint or credentials fail here, not at the first query.
        let default_schema = match &client.options().dataset {
            Some(ds) => {
                client.rest.tables(ds).await?;
                ds.clone()
            }
            None => {
                client.rest.datasets().await?;
                String::new()
            }
        };
        Ok(Self {
            connector: Arc::new(BigQueryConnector::from_client(client.clone())),
            client,
            default_schema,
            dialect: dialect::GoogleSql::default(),
        })
    }
}

/// The BigQuery backend: `bigquery://` (and `bq://`) URLs.
#[derive(Debug, Default, Clone, Copy)]
pub struct BigQueryBackend;

#[async_trait]
impl super::Backend for BigQueryBackend {
    fn name(&self) -> &'static str {
        "bigquery"
    }

    fn schemes(&self) -> &'static [&'static str] {
        &["bigquery", "bq"]
    }

    async fn open(
        &self,
        url: &str,
        _session: &datafusion::execution::SessionState,
    ) -> Result<super::Opened> {
        Ok(super::Opened::Source(Arc::new(
            BigQuerySource::connect(url).await?,
        )))
    }

    async fn connector(&self, url: &str) -> Result<Arc<dyn super::Connector>> {
        Ok(Arc::new(BigQueryConnector::connect(url).await?))
    }
}

/// Whether a GoogleSQL string literal written by the unparser means the same text: BigQuery
/// reads `\` as an escape and has no `''`, so literals with either are not pushed.
fn literals_are_plain(filter: &Expr) -> bool {
    let mut plain = true;
    let _ = filter.apply(|e| {
        if let Expr::Literal(v, _) = e {
            let text = match v {
                ScalarValue::Utf8(Some(s))
                | ScalarValue::LargeUtf8(Some(s))
                | ScalarValue::Utf8View(Some(s)) => Some(s),
                _ => None,
            };
            if text.is_some_and(|s| s.contains(['\'', '\\']) || s.chars().any(char::is_control)) {
                plain = false;
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    plain
}

impl BigQuerySource {
    /// The pushed filters as one GoogleSQL condition (the read session's row restriction).
    fn row_restriction(&self, meta: &TableMeta, filters: &[Expr]) -> Result<Option<String>> {
        let Some(predicate) = conjunction(filters.iter().cloned()) else {
            return Ok(None);
        };
        let predicate = meta.to_source_names(predicate)?;
        let sql = Unparser::new(&self.dialect)
            .expr_to_sql(&dialect::exact_literals(strip_qualifiers(predicate)?)?)
            .map_err(Error::from_datafusion)?;
        Ok(Some(sql.to_string()))
    }
}

/// Column references without their table qualifier (a row restriction names bare columns).
fn strip_qualifiers(expr: Expr) -> Result<Expr> {
    use datafusion::common::tree_node::Transformed;
    expr.transform(|e| {
        Ok(match e {
            Expr::Column(c) if c.relation.is_some() => Transformed::yes(Expr::Column(
                datafusion::common::Column::new_unqualified(c.name),
            )),
            other => Transformed::no(other),
        })
    })
    .map(|t| t.data)
    .map_err(Error::from_datafusion)
}

#[async_trait]
impl Source for BigQuerySource {
    fn backend(&self) -> &'static str {
        "bigquery"
    }

    fn default_schema(&self) -> &str {
        &self.default_schema
    }

    fn dialect(&self) -> &dyn Dialect {
        &self.dialect
    }

    fn placeholder(&self, n: usize) -> String {
        format!("@p{n}")
    }

    async fn list_tables(&self) -> Result<Vec<(String, String)>> {
        let datasets = match &self.client.options().dataset {
            Some(ds) => vec![ds.clone()],
            None => self.client.rest.datasets().await?,
        };
        let mut out = vec![];
        for ds in datasets {
            for t in self.client.rest.tables(&ds).await? {
                out.push((ds.clone(), t));
            }
        }
        Ok(out)
    }

    async fn table_meta(&self, schema: &str, table: &str) -> Result<Option<TableMeta>> {
        let Some(columns) = self.client.columns(schema, table).await? else {
            return Ok(None);
        };
        Ok(Some(TableMeta {
            schema: schema.to_string(),
            table: table.to_string(),
            arrow_schema: schema_of(&columns),
            columns,
            physical_partitioning: false,
            key_column: None,
            server_defaults: vec![],
        }))
    }

    fn filter_pushdown(&self, meta: &TableMeta, filter: &Expr) -> P {
        if !literals_are_plain(filter) {
            return P::Unsupported;
        }
        classify(
            meta,
            &PushdownRules {
                // LIKE compares code points as DataFusion does, but a column's collation
                // (`und:ci`) may make it case-insensitive: a superset.
                like: P::Inexact,
                // DATE and DATETIME compare as here; TIMESTAMP columns say Never themselves.
                temporal: P::Exact,
                // BigQuery says -0.0 = 0.0 (float columns are never pushed anyway).
                float_zero: false,
            },
            filter,
        )
    }

    async fn plan_partitions(&self, _meta: &TableMeta, _target: usize) -> Result<PartitionPlan> {
        // Scans are planned by `plan_scan` (read sessions); nothing is read by SQL chunks.
        Ok(PartitionPlan {
            partitions: vec![vec![None]],
            method: "none".into(),
            estimated_rows: None,
        })
    }

    async fn plan_scan(
        &self,
        meta: &TableMeta,
        columns: &[ColumnSpec],
        filters: &[Expr],
        limit: Option<usize>,
        target: usize,
    ) -> Result<Option<ScanPlan>> {
        let row_restriction = self.row_restriction(meta, filters)?;
        // No columns (count(*)): read the narrowest one there is, the first.
        let fields: Vec<String> = if columns.is_empty() {
            meta.columns
                .first()
                .map(|c| vec![c.source_name().to_string()])
                .unwrap_or_default()
        } else if columns.len() == meta.columns.len() {
            // Every column: no list (the readers find the columns by name).
            vec![]
        } else {
            columns
                .iter()
                .map(|c| c.source_name().to_string())
                .collect()
        };
        let table = self.client.table_path(&meta.schema, &meta.table);
        let session = self
            .client
            .storage
            .session(&SessionRequest {
                table,
                fields: fields.clone(),
                row_restriction: row_restriction.clone(),
                // A limit is applied by the readers: fewer streams read less past it.
                max_streams: if limit.is_some() { 1 } else { target.max(1) },
            })
            .await?;
        let mut method = format!(
            "read session {} on {}.{}: selected_fields=[{}]",
            session.name.rsplit('/').next().unwrap_or_default(),
            meta.schema,
            meta.table,
            if fields.is_empty() {
                "*".to_string()
            } else {
                fields.join(", ")
            }
        );
        if let Some(r) = &row_restriction {
            method.push_str(&format!(", row_restriction={r}"));
        }
        if let Some(n) = limit {
            method.push_str(&format!(", LIMIT {n} (applied by the readers)"));
        }
        method.push_str(&format!(
            ", streams={}, estimated_rows={}, estimated_bytes={}",
            session.streams.len(),
            session.estimated_rows,
            session.estimated_bytes
        ));
        if let Some(t) = self.client.options().snapshot_time {
            method.push_str(&format!(", snapshot_time={}", t.to_rfc3339()));
        }
        // An empty table has no streams: one partition that reads nothing.
        let partitions: Vec<Vec<String>> = if session.streams.is_empty() {
            vec![vec![]]
        } else {
            session.streams.iter().map(|s| vec![s.clone()]).collect()
        };
        let reader: Arc<dyn ScanReader> = Arc::new(SessionReader {
            storage: self.client.storage.clone(),
            session,
            table: format!("{}.{}", meta.schema, meta.table),
        });
        Ok(Some(ScanPlan {
            partitions,
            method,
            reader,
        }))
    }

    async fn describe_query(&self, sql: &str) -> Result<Option<arrow::datatypes::SchemaRef>> {
        // A dry run: validated and typed, nothing read, nothing billed.
        let page = self
            .client
            .rest
            .query(&rest::QueryJob {
                sql: sql.to_string(),
                parameters: vec![],
                dry_run: true,
            })
            .await?;
        Ok(Some(types::result_schema(&page.fields)?))
    }

    fn reader(&self) -> Arc<dyn ScanReader> {
        Arc::new(storage::NoSqlReader)
    }

    fn connector(&self) -> Option<Arc<dyn super::Connector>> {
        Some(self.connector.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::{col, lit};

    #[test]
    fn literals_with_quotes_or_backslashes_stay_local() {
        assert!(literals_are_plain(&col("a").eq(lit("plain text"))));
        assert!(!literals_are_plain(&col("a").eq(lit("O'Brien"))));
        assert!(!literals_are_plain(&col("a").like(lit("a\\_b"))));
        assert!(!literals_are_plain(&col("a").eq(lit("tab\there"))));
        assert!(literals_are_plain(&col("a").gt(lit(5))));
    }
}
