//! The DataFusion side of a source table: [`RemoteTable`] (a `TableProvider` that decides what to
//! push down) and [`RemoteScanExec`] (the partitioned, streaming scan that sends the pushed SQL).

pub(crate) mod dml;
mod exec;
mod query;
mod sql;

pub use dml::{scalar_value, InsertSink, ServerDefault, StatementSink, SERVER_DEFAULT};

pub use exec::RemoteScanExec;
pub use query::QueryTable;
pub use sql::{column_probes, remote_query, ColumnProbe};

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::Result as DFResult;
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_plan::ExecutionPlan;

use crate::connector::{Source, TableMeta};
use crate::schema::ColumnSpec;

/// Columns at most probed to name the one a failed scan's server refused (see
/// [`ColumnProbe`]).
const MAX_PROBES: usize = 32;

/// Options that shape every scan of an engine.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Push filters and limits to the source (off: the source sends every row; used by the
    /// differential tests).
    pub pushdown: bool,
    /// Rows per Arrow batch read from a source.
    pub batch_size: usize,
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self {
            pushdown: true,
            batch_size: 8192,
        }
    }
}

/// A table of a SQL source.
#[derive(Debug)]
pub struct RemoteTable {
    source: Arc<dyn Source>,
    meta: Arc<TableMeta>,
    options: ScanOptions,
    table_type: TableType,
    defaults: std::collections::HashMap<String, Expr>,
}

impl RemoteTable {
    /// Wraps a table described by its source's catalog.
    pub fn new(source: Arc<dyn Source>, meta: TableMeta, options: ScanOptions) -> Self {
        let defaults = meta
            .server_defaults
            .iter()
            .filter_map(|name| {
                let f = meta.arrow_schema.field_with_name(name).ok()?;
                Some((name.clone(), ServerDefault::expr(f.data_type().clone())))
            })
            .collect();
        Self {
            source,
            meta: Arc::new(meta),
            options,
            table_type: TableType::Base,
            defaults,
        }
    }

    /// The catalog description.
    pub fn meta(&self) -> &TableMeta {
        &self.meta
    }

    fn support(&self, filter: &Expr) -> TableProviderFilterPushDown {
        if self.options.pushdown {
            self.source.filter_pushdown(&self.meta, filter)
        } else {
            TableProviderFilterPushDown::Unsupported
        }
    }
}

#[async_trait]
impl TableProvider for RemoteTable {
    fn schema(&self) -> SchemaRef {
        self.meta.arrow_schema.clone()
    }

    fn table_type(&self) -> TableType {
        self.table_type
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DFResult<Vec<TableProviderFilterPushDown>> {
        Ok(filters.iter().map(|f| self.support(f)).collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        // DataFusion passes the filters we accepted (possibly rewritten by its simplifier since we
        // classified them, e.g. `IN` lists turned into `OR`s): all of them go to the source.
        let pushed: Vec<Expr> = if self.options.pushdown {
            filters.to_vec()
        } else {
            vec![]
        };
        // DataFusion hands us a limit only when every filter was answered `Exact`.
        let limit = if self.options.pushdown { limit } else { None };
        let indices: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..self.meta.columns.len()).collect(),
        };
        let columns: Vec<ColumnSpec> = indices
            .iter()
            .map(|i| self.meta.columns[*i].clone())
            .collect();
        let target = state.config().target_partitions();
        if let Some(plan) = self
            .source
            .plan_scan(&self.meta, &columns, &pushed, limit, target)
            .await
            .map_err(|e| e.into_datafusion())?
        {
            return Ok(Arc::new(
                RemoteScanExec::new(
                    self.source.clone(),
                    columns,
                    plan.partitions,
                    plan.method,
                    limit,
                    self.options.batch_size,
                )
                .with_reader(plan.reader),
            ));
        }
        let plan = self
            .source
            .plan_partitions(&self.meta, target)
            .await
            .map_err(|e| e.into_datafusion())?;
        let queries = plan
            .partitions
            .iter()
            .map(|chunks| {
                chunks
                    .iter()
                    .map(|chunk| {
                        remote_query(
                            self.source.as_ref(),
                            &self.meta,
                            &columns,
                            &pushed,
                            chunk.as_ref(),
                            limit,
                        )
                    })
                    .collect::<crate::Result<Vec<_>>>()
            })
            .collect::<crate::Result<Vec<_>>>()
            .map_err(|e| e.into_datafusion())?;
        let whole_table = pushed.is_empty() && limit.is_none();
        let probes = column_probes(self.source.as_ref(), &self.meta, &columns, MAX_PROBES)
            .map_err(|e| e.into_datafusion())?;
        Ok(Arc::new(
            RemoteScanExec::new(
                self.source.clone(),
                columns,
                queries,
                plan.method,
                limit,
                self.options.batch_size,
            )
            .with_estimated_rows(plan.estimated_rows.filter(|_| whole_table))
            .with_probes(probes),
        ))
    }

    fn get_column_default(&self, column: &str) -> Option<&Expr> {
        self.defaults.get(column)
    }

    async fn insert_into(
        &self,
        _state: &dyn Session,
        input: Arc<dyn ExecutionPlan>,
        insert_op: InsertOp,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        if insert_op != InsertOp::Append {
            return Err(crate::Error::Config(format!(
                "{insert_op} is not supported on source tables: use INSERT INTO"
            ))
            .into_datafusion());
        }
        dml::insert_plan(self.source.as_ref(), &self.meta, input).map_err(|e| e.into_datafusion())
    }

    async fn delete_from(
        &self,
        _state: &dyn Session,
        filters: Vec<Expr>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        dml::delete_plan(self.source.as_ref(), &self.meta, filters).map_err(|e| e.into_datafusion())
    }

    async fn update(
        &self,
        _state: &dyn Session,
        assignments: Vec<(String, Expr)>,
        filters: Vec<Expr>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        dml::update_plan(self.source.as_ref(), &self.meta, assignments, filters)
            .map_err(|e| e.into_datafusion())
    }
}
