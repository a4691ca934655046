//! Shared read machinery: the ConnectorX reader and the Arrow bridge.
//!
//! ConnectorX builds its batches with its own arrow version (56); DataFusion uses arrow 59.
//! [`bridge`] moves batches across through the Arrow C Data Interface without copying a buffer,
//! and [`cx`] runs ConnectorX's blocking record-batch iterator on a thread of its own, turning
//! its panics into errors and bounding how much it may read ahead. [`sqlite`] reads SQLite files
//! in process. A backend may bring its own [`ScanReader`] instead (PostgreSQL's binary COPY
//! decoder).

pub mod bridge;
pub mod cx;
pub mod sqlite;

use std::any::Any;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatchOptions};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

pub use cx::ReadMetrics;

use crate::error::Result;
use crate::schema::{conform_column, ColumnSpec};

/// What one partition of a scan reads.
#[derive(Debug, Clone)]
pub struct ScanRequest {
    /// Queries run one after the other (the partition's chunks).
    pub queries: Vec<String>,
    /// Statements run on the reading connection before the queries (snapshot import).
    pub pre_execution: Vec<String>,
    /// The columns the queries select, in order.
    pub columns: Vec<ColumnSpec>,
    /// The Arrow schema batches must have (the columns' declared types).
    pub schema: SchemaRef,
    /// Rows per batch.
    pub batch_size: usize,
    /// Stop after this many rows (the pushed-down limit).
    pub limit: Option<usize>,
}

/// A backend's own reader of scan queries, used instead of ConnectorX where it is faster or
/// reports more (PostgreSQL's binary COPY reader).
pub trait ScanReader: std::fmt::Debug + Send + Sync {
    /// Starts reading `request` on a thread of its own; batches (or one error, last) arrive on
    /// the receiver, at most [`cx::CHANNEL_DEPTH`] ahead of the consumer. `keep_alive` is held
    /// until the reading ends (the transaction that exported the snapshot the queries import).
    fn spawn(
        &self,
        request: ScanRequest,
        metrics: ReadMetrics,
        keep_alive: Option<Arc<dyn Any + Send + Sync>>,
    ) -> tokio::sync::mpsc::Receiver<Result<RecordBatch>>;
}

/// Readers that decode themselves: gives a decoded batch its declared types (columns read
/// through their text form are parsed; the others already have them), applies the limit
/// (`remaining` counts down) and records rows, Arrow bytes and conversion time.
pub fn finish_batch(
    raw: RecordBatch,
    request: &ScanRequest,
    metrics: &ReadMetrics,
    remaining: &mut Option<usize>,
) -> Result<RecordBatch> {
    let converting = std::time::Instant::now();
    let rows = raw.num_rows();
    let columns = raw
        .columns()
        .iter()
        .zip(&request.columns)
        .map(|(array, spec)| {
            if array.data_type() == spec.field.data_type() {
                Ok(array.clone())
            } else {
                conform_column(spec.name(), array, spec.field.data_type(), spec.read)
            }
        })
        .collect::<Result<Vec<ArrayRef>>>()?;
    let batch = RecordBatch::try_new_with_options(
        request.schema.clone(),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(rows)),
    )?;
    metrics.convert.add_duration(converting.elapsed());
    Ok(limit_and_count(batch, metrics, remaining))
}

/// Cuts a batch to the rows the limit still allows (`remaining` counts down) and records rows
/// and Arrow bytes handed on.
pub fn limit_and_count(
    mut batch: RecordBatch,
    metrics: &ReadMetrics,
    remaining: &mut Option<usize>,
) -> RecordBatch {
    if let Some(left) = remaining.as_mut() {
        if batch.num_rows() > *left {
            batch = batch.slice(0, *left);
        }
        *left -= batch.num_rows();
    }
    metrics.rows.add(batch.num_rows());
    metrics.bytes.add(batch.get_array_memory_size());
    batch
}

/// Runs a reader on a thread of its own named `name`: `body` sends batches on the channel it
/// is given; its error, or a panic turned into an error, is sent last. `keep_alive` is held
/// until the thread ends.
pub fn spawn_reader<F>(
    name: &str,
    backend: &'static str,
    keep_alive: Option<Arc<dyn Any + Send + Sync>>,
    body: F,
) -> tokio::sync::mpsc::Receiver<Result<RecordBatch>>
where
    F: FnOnce(&tokio::sync::mpsc::Sender<Result<RecordBatch>>) -> Result<()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(cx::CHANNEL_DEPTH);
    let spawned = std::thread::Builder::new().name(name.into()).spawn({
        let tx = tx.clone();
        move || {
            let _keep = keep_alive;
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(&tx)));
            let failed = match outcome {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e),
                Err(_) => Some(crate::Error::Source {
                    backend,
                    code: None,
                    message: format!("the {backend} reader failed unexpectedly"),
                }),
            };
            if let Some(e) = failed {
                let _ = tx.blocking_send(Err(e));
            }
        }
    });
    if let Err(e) = spawned {
        let _ = tx.try_send(Err(crate::Error::Io(e)));
    }
    rx
}
