//! The partitioned, streaming scan of a source.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::Result as DFResult;
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{ExecutionPlanMetricsSet, MetricBuilder, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning,
    PhysicalExpr, PlanProperties, ReplaceChildrenOptions,
};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use tokio::sync::OnceCell;

use crate::connector::Source;
use crate::error::Error;
use crate::provider::ColumnProbe;
use crate::read::{ReadMetrics, ScanReader, ScanRequest, CHANNEL_DEPTH};
use crate::schema::{schema_of, ColumnSpec};

/// Statements and owner of a snapshot shared by all partitions of one scan.
type SharedSnapshot = Option<(Vec<String>, Arc<dyn Any + Send + Sync>)>;

/// Reads one source table: one DataFusion partition per range of the table, each a sequence of
/// chunk queries read by the source's reader.
pub struct RemoteScanExec {
    source: Arc<dyn Source>,
    columns: Vec<ColumnSpec>,
    schema: SchemaRef,
    queries: Vec<Vec<String>>,
    method: String,
    limit: Option<usize>,
    batch_size: usize,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
    snapshot: Arc<OnceCell<SharedSnapshot>>,
    reader: Option<Arc<dyn ScanReader>>,
    estimated_rows: Option<u64>,
    probes: Arc<[ColumnProbe]>,
}

impl fmt::Debug for RemoteScanExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteScanExec")
            .field("backend", &self.source.backend())
            .field("queries", &self.queries)
            .finish_non_exhaustive()
    }
}

impl RemoteScanExec {
    /// A scan of `columns` running `queries[partition]` one after the other.
    pub fn new(
        source: Arc<dyn Source>,
        columns: Vec<ColumnSpec>,
        queries: Vec<Vec<String>>,
        method: String,
        limit: Option<usize>,
        batch_size: usize,
    ) -> Self {
        let schema = schema_of(&columns);
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(schema.clone()),
            Partitioning::UnknownPartitioning(queries.len().max(1)),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        Self {
            source,
            columns,
            schema,
            queries,
            method,
            limit,
            batch_size,
            properties,
            metrics: ExecutionPlanMetricsSet::new(),
            snapshot: Arc::new(OnceCell::new()),
            reader: None,
            estimated_rows: None,
            probes: Arc::from(Vec::new()),
        }
    }

    /// Sets the rows the source estimates this scan returns (a progress bar's total).
    pub fn with_estimated_rows(mut self, rows: Option<u64>) -> Self {
        self.estimated_rows = rows;
        self
    }

    /// The rows the source estimates this scan returns, when it gave an estimate (only for a
    /// whole table: no filter or limit pushed). Not a planning statistic.
    pub fn estimated_rows(&self) -> Option<u64> {
        self.estimated_rows
    }

    /// Queries that find which column's source-side expression the server refused, when a
    /// partition fails before its first row (see [`ColumnProbe`]).
    pub fn with_probes(mut self, probes: Vec<ColumnProbe>) -> Self {
        self.probes = Arc::from(probes);
        self
    }

    /// Reads with `reader` instead of the source's own (a scan its source planned itself,
    /// see [`Source::plan_scan`]).
    pub fn with_reader(mut self, reader: Arc<dyn ScanReader>) -> Self {
        self.reader = Some(reader);
        self
    }

    /// The SQL each partition sends, chunk by chunk.
    pub fn queries(&self) -> &[Vec<String>] {
        &self.queries
    }

    /// The backend read.
    pub fn backend(&self) -> &'static str {
        self.source.backend()
    }
}

impl DisplayAs for RemoteScanExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let chunks: usize = self.queries.iter().map(Vec::len).sum();
        let first = self
            .queries
            .first()
            .and_then(|q| q.first())
            .map(String::as_str)
            .unwrap_or("");
        let reader = match &self.reader {
            Some(r) => r.name(),
            None => self.source.reader().name(),
        };
        match t {
            DisplayFormatType::Verbose => {
                write!(
                    f,
                    "RemoteScanExec: source={}, reader={reader}, partitions={} ({}), queries={}",
                    self.source.backend(),
                    self.queries.len(),
                    self.method,
                    chunks
                )?;
                for (p, qs) in self.queries.iter().enumerate() {
                    for q in qs {
                        write!(f, ", p{p}: {q}")?;
                    }
                }
                Ok(())
            }
            _ => write!(
                f,
                "RemoteScanExec: source={}, reader={reader}, partitions={} ({}), queries={}, sql={}",
                self.source.backend(),
                self.queries.len(),
                self.method,
                chunks,
                first
            ),
        }
    }
}

impl ExecutionPlan for RemoteScanExec {
    fn name(&self) -> &str {
        "RemoteScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DFResult<TreeNodeRecursion>,
    ) -> DFResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DFResult<SendableRecordBatchStream> {
        // What the reader holds (the batch it fills and those waiting in its channel) counts
        // against the engine's memory limit; it cannot spill.
        let reservation = MemoryConsumer::new(format!("RemoteScanExec[{partition}]"))
            .register(context.memory_pool());
        let queries = self.queries.get(partition).cloned().unwrap_or_default();
        let total_queries: usize = self.queries.iter().map(Vec::len).sum();
        let source = self.source.clone();
        let snapshot = self.snapshot.clone();
        let schema = self.schema.clone();
        let columns = self.columns.clone();
        let reader = self.reader.clone().unwrap_or_else(|| source.reader());
        let decodes = reader.decodes_itself();
        let metrics = ReadMetrics {
            rows: MetricBuilder::new(&self.metrics).counter("source_rows", partition),
            bytes: MetricBuilder::new(&self.metrics).counter("arrow_bytes", partition),
            // Only a reader that sees the wire and decodes itself can tell these apart.
            wire_bytes: if decodes {
                MetricBuilder::new(&self.metrics).counter("source_bytes", partition)
            } else {
                Default::default()
            },
            wait: MetricBuilder::new(&self.metrics).subset_time("source_wait_time", partition),
            decode: if decodes {
                MetricBuilder::new(&self.metrics).subset_time("decode_time", partition)
            } else {
                Default::default()
            },
            convert: MetricBuilder::new(&self.metrics).subset_time("convert_time", partition),
        };
        let limit = self.limit;
        let batch_size = self.batch_size;
        let probes = self.probes.clone();
        let start = async move {
            // One consistent view when the scan runs more than one query.
            let shared = snapshot
                .get_or_try_init(|| async {
                    if total_queries <= 1 {
                        return Ok::<SharedSnapshot, crate::Error>(None);
                    }
                    Ok(source
                        .snapshot()
                        .await?
                        .map(|s| (s.statements, s.keep_alive)))
                })
                .await
                .map_err(|e| e.into_datafusion())?
                .clone();
            let (pre_execution, keep_alive) = match shared {
                Some((statements, owner)) => (statements, Some(owner)),
                None => (vec![], None),
            };
            let request = ScanRequest {
                queries,
                pre_execution,
                columns,
                schema,
                batch_size,
                limit,
            };
            let batches = reader.spawn(request, metrics, keep_alive).into_stream();
            let accounted = attribute_errors(batches, probes, reader).inspect_ok(move |batch| {
                reservation.resize(batch.get_array_memory_size() * (CHANNEL_DEPTH + 1));
            });
            Ok::<_, datafusion::error::DataFusionError>(accounted.map_err(|e| e.into_datafusion()))
        };
        let stream = futures::stream::once(start).try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema.clone(),
            stream,
        )))
    }
}

/// Passes `batches` on; a source error before the partition's first row is rerun column by
/// column through `probes`, and names the column whose source-side expression the server
/// refuses the same way (the server's own text names the expression, not the column).
fn attribute_errors(
    batches: BoxStream<'static, crate::Result<RecordBatch>>,
    probes: Arc<[ColumnProbe]>,
    reader: Arc<dyn ScanReader>,
) -> BoxStream<'static, crate::Result<RecordBatch>> {
    if probes.is_empty() {
        return batches;
    }
    futures::stream::unfold(
        (batches, false, probes, reader),
        |(mut batches, seen, probes, reader)| async move {
            let item = match batches.next().await? {
                Ok(batch) => {
                    let seen = seen || batch.num_rows() > 0;
                    return Some((Ok(batch), (batches, seen, probes, reader)));
                }
                Err(e @ Error::Source { .. }) if !seen => Err(attribute(e, &probes, &reader).await),
                Err(e) => Err(e),
            };
            Some((item, (batches, true, probes, reader)))
        },
    )
    .boxed()
}

/// `error` with the name of the first probed column whose probe fails with the same code.
async fn attribute(error: Error, probes: &[ColumnProbe], reader: &Arc<dyn ScanReader>) -> Error {
    let Error::Source {
        backend,
        code,
        message,
        retryable,
    } = error
    else {
        return error;
    };
    for probe in probes {
        let columns = vec![probe.column.clone()];
        let request = ScanRequest {
            queries: vec![probe.sql.clone()],
            pre_execution: vec![],
            schema: schema_of(&columns),
            columns,
            batch_size: 1,
            limit: None,
        };
        let mut rx = reader.spawn(request, ReadMetrics::default(), None);
        let mut failed = None;
        while let Some(item) = rx.next().await {
            if let Err(e) = item {
                failed = Some(e);
                break;
            }
        }
        if let Some(Error::Source { code: c, .. }) = failed {
            if c == code {
                return Error::Source {
                    backend,
                    code,
                    message: format!(
                        "column `{}` (read at the source as `{}`): {message}",
                        probe.column.name(),
                        probe.expr
                    ),
                    retryable,
                };
            }
        }
    }
    Error::Source {
        backend,
        code,
        message,
        retryable,
    }
}
