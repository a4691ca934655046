//! A query in the source's own SQL as a table (`source.query('...')`): the source describes its
//! result without running it ([`Source::describe_query`]), and the scan runs it through the
//! source's connector, streaming its batches.

use std::any::Any;
use std::sync::Arc;

use arrow::array::RecordBatchOptions;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::Result as DFResult;
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_plan::ExecutionPlan;
use futures::StreamExt;

use super::RemoteScanExec;
use crate::connector::{Connector, Source};
use crate::error::{Error, Result};
use crate::read::{
    batch_channel, limit_and_count, BatchReceiver, ReadMetrics, ScanReader, ScanRequest,
};
use crate::schema::ColumnSpec;

/// One query, run as it is written at the source.
pub struct QueryTable {
    source: Arc<dyn Source>,
    connector: Arc<dyn Connector>,
    sql: String,
    schema: SchemaRef,
    batch_size: usize,
}

impl std::fmt::Debug for QueryTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryTable")
            .field("source", &self.source)
            .field("sql", &self.sql)
            .finish_non_exhaustive()
    }
}

impl QueryTable {
    /// The query `sql` of `source`, whose result has `schema`; a source without a connector
    /// cannot run one.
    pub fn new(
        source: Arc<dyn Source>,
        sql: String,
        schema: SchemaRef,
        batch_size: usize,
    ) -> Result<Self> {
        let connector = source.connector().ok_or_else(|| {
            Error::Config(format!(
                "the {} backend runs no queries of its own SQL",
                source.backend()
            ))
        })?;
        Ok(Self {
            source,
            connector,
            sql,
            schema,
            batch_size,
        })
    }
}

#[async_trait]
impl TableProvider for QueryTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        let columns: Vec<ColumnSpec> = self
            .schema
            .fields()
            .iter()
            .map(|f| ColumnSpec::native(f.name(), f.data_type().clone(), f.is_nullable(), ""))
            .collect();
        let scan = RemoteScanExec::new(
            self.source.clone(),
            columns,
            vec![vec![self.sql.clone()]],
            "the query as written, run at the source".into(),
            None,
            self.batch_size,
        )
        .with_reader(Arc::new(ConnectorReader {
            connector: self.connector.clone(),
        }));
        let scan: Arc<dyn ExecutionPlan> = Arc::new(scan);
        match projection {
            Some(p) if p.len() != self.schema.fields().len() => {
                let exprs = p
                    .iter()
                    .map(|i| {
                        let f = self.schema.field(*i);
                        (
                            Arc::new(datafusion::physical_expr::expressions::Column::new(
                                f.name(),
                                *i,
                            ))
                                as Arc<dyn datafusion::physical_expr::PhysicalExpr>,
                            f.name().clone(),
                        )
                    })
                    .collect::<Vec<_>>();
                Ok(Arc::new(
                    datafusion::physical_plan::projection::ProjectionExec::try_new(exprs, scan)?,
                ))
            }
            _ => Ok(scan),
        }
    }
}

/// Runs each query of a request through a connector and hands its batches on.
struct ConnectorReader {
    connector: Arc<dyn Connector>,
}

impl std::fmt::Debug for ConnectorReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorReader")
            .field("backend", &self.connector.backend())
            .finish()
    }
}

impl ScanReader for ConnectorReader {
    fn name(&self) -> &'static str {
        "connector"
    }

    fn spawn(
        &self,
        request: ScanRequest,
        metrics: ReadMetrics,
        keep_alive: Option<Arc<dyn Any + Send + Sync>>,
    ) -> BatchReceiver {
        let backend = self.connector.backend();
        let (tx, rx) = batch_channel(backend, &request.queries);
        let connector = self.connector.clone();
        tokio::spawn(async move {
            let _keep = keep_alive;
            let run = async {
                let mut remaining = request.limit;
                for sql in &request.queries {
                    let waited = std::time::Instant::now();
                    let mut batches = connector.query(sql, &[]).await?;
                    metrics.wait.add_duration(waited.elapsed());
                    while let Some(batch) = batches.next().await {
                        let batch = batch?;
                        // The described schema names the columns; the rows must match it.
                        let batch = RecordBatch::try_new_with_options(
                            request.schema.clone(),
                            batch.columns().to_vec(),
                            &RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
                        )
                        .map_err(|e| Error::SchemaMismatch {
                            table: format!("{backend} query"),
                            problems: vec![format!(
                                "the result does not have the schema the query was described \
                                 with: {e}"
                            )],
                        })?;
                        let batch = limit_and_count(batch, &metrics, &mut remaining);
                        if batch.num_rows() > 0 && !tx.send(batch).await {
                            return Ok(());
                        }
                        if remaining == Some(0) {
                            return Ok(());
                        }
                    }
                }
                Ok::<(), Error>(())
            };
            match run.await {
                Ok(()) => tx.finish().await,
                Err(e) => tx.fail(e).await,
            }
        });
        rx
    }

    fn decodes_itself(&self) -> bool {
        false
    }
}
