//! Shared read machinery: the reader thread and its batch channel, the ConnectorX reader and
//! the Arrow bridge.
//!
//! ConnectorX builds its batches with its own arrow version (56); DataFusion uses arrow 59.
//! [`bridge`] moves batches across through the Arrow C Data Interface without copying a buffer,
//! and [`cx`] runs ConnectorX's blocking record-batch iterator on a thread of its own, turning
//! its panics into errors and bounding how much it may read ahead. A backend may bring its own [`ScanReader`] instead (PostgreSQL's binary COPY
//! decoder). Every reader runs through [`spawn_reader`], whose channel ends a result explicitly:
//! a reader that stops without finishing is an error to the consumer, never a shorter result.

#[cfg(feature = "connectorx")]
pub mod bridge;
#[cfg(feature = "connectorx")]
pub mod cx;

use std::any::Any;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatchOptions};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use datafusion::physical_plan::metrics::{Count, Time};

/// Batches buffered between a reader thread and the DataFusion stream.
pub const CHANNEL_DEPTH: usize = 2;

/// Counters a reader updates (shown by `EXPLAIN ANALYZE`).
#[derive(Clone, Debug, Default)]
pub struct ReadMetrics {
    /// Rows received from the source.
    pub rows: Count,
    /// Arrow bytes handed on (`arrow_bytes`).
    pub bytes: Count,
    /// Bytes received from the source on the wire (`source_bytes`; readers that see the wire
    /// only: ConnectorX exposes no such count).
    pub wire_bytes: Count,
    /// Time spent waiting for the source: network and server (for ConnectorX also its own
    /// decoding, which runs in the same call).
    pub wait: Time,
    /// Time spent decoding the source's bytes into Arrow arrays (`decode_time`; readers that
    /// decode themselves only).
    pub decode: Time,
    /// Time spent converting batches into the declared types.
    pub convert: Time,
}

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

/// A reader of scan queries: a backend's own (PostgreSQL's binary COPY reader, MySQL's wire
/// reader, SQLite's in-process reader) or ConnectorX ([`cx::CxReader`]).
pub trait ScanReader: std::fmt::Debug + Send + Sync {
    /// The reader's name, shown by EXPLAIN (`reader=copy`, `native`, `connectorx`, ...).
    fn name(&self) -> &'static str;

    /// Starts reading `request` on a thread of its own (through [`spawn_reader`]); batches,
    /// then the end or one error, arrive on the receiver. `keep_alive` is held until the
    /// reading ends (the transaction that exported the snapshot the queries import).
    fn spawn(
        &self,
        request: ScanRequest,
        metrics: ReadMetrics,
        keep_alive: Option<Arc<dyn Any + Send + Sync>>,
    ) -> BatchReceiver;

    /// Whether the reader sees the wire and decodes the bytes itself (then it can report
    /// `source_bytes` and `decode_time` apart from the wait).
    fn decodes_itself(&self) -> bool {
        true
    }
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

/// One message from a reader to its consumer.
enum Msg {
    Batch(RecordBatch),
    Failed(crate::Error),
    /// Every row was read: the only way a result ends successfully.
    End,
}

/// The sending end of a reader's batches (see [`batch_channel`]).
pub struct BatchSender {
    tx: tokio::sync::mpsc::Sender<Msg>,
    fault: Option<fault::Armed>,
}

impl BatchSender {
    /// Sends a batch from a reader thread; `false` when the consumer has gone (stop reading).
    pub fn send_blocking(&self, batch: RecordBatch) -> bool {
        self.trip() && self.tx.blocking_send(Msg::Batch(batch)).is_ok()
    }

    /// Sends a batch from a task; `false` when the consumer has gone (stop reading).
    pub async fn send(&self, batch: RecordBatch) -> bool {
        self.trip() && self.tx.send(Msg::Batch(batch)).await.is_ok()
    }

    /// Ends the result with an error (from a task).
    pub async fn fail(&self, error: crate::Error) {
        let _ = self.tx.send(Msg::Failed(error)).await;
    }

    /// Ends the result: every row was sent (from a task).
    pub async fn finish(&self) {
        if !self.vanished() {
            let _ = self.tx.send(Msg::End).await;
        }
    }

    /// Whether the consumer has gone.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// A check a blocking reader can make while it waits: whether the consumer has gone.
    pub fn watch(&self) -> impl Fn() -> bool + Send + 'static {
        let tx = self.tx.downgrade();
        move || tx.upgrade().is_none_or(|tx| tx.is_closed())
    }

    /// Resolves when the consumer has gone; owns what it waits on, for a watcher task (which
    /// must not outlive the reader: it keeps the channel open while it waits).
    pub fn closed_owned(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let tx = self.tx.clone();
        async move { tx.closed().await }
    }

    /// Resolves when the consumer has gone (to stop a source that is still working).
    pub async fn closed(&self) {
        self.tx.closed().await
    }

    fn finish_blocking(&self, outcome: Result<()>) {
        let msg = match outcome {
            Ok(()) if self.vanished() => return,
            Ok(()) => Msg::End,
            Err(e) => Msg::Failed(e),
        };
        let _ = self.tx.blocking_send(msg);
    }

    /// Applies an injected fault; `false` when the reader is to vanish.
    fn trip(&self) -> bool {
        self.fault.as_ref().is_none_or(fault::Armed::trip)
    }

    fn vanished(&self) -> bool {
        self.fault.as_ref().is_some_and(fault::Armed::vanished)
    }
}

/// The receiving end of a reader's batches: the batches in order, then the end. A reader that
/// stops without saying it has finished (a task dropped, a thread lost) yields an error, never
/// a shorter result.
pub struct BatchReceiver {
    rx: tokio::sync::mpsc::Receiver<Msg>,
    backend: &'static str,
    done: bool,
}

impl BatchReceiver {
    /// The next batch; `None` after the end (or after an error).
    pub async fn next(&mut self) -> Option<Result<RecordBatch>> {
        if self.done {
            return None;
        }
        let item = match self.rx.recv().await {
            Some(Msg::Batch(b)) => return Some(Ok(b)),
            Some(Msg::End) => None,
            Some(Msg::Failed(e)) => Some(Err(e)),
            None => Some(Err(crate::Error::Source {
                backend: self.backend,
                code: None,
                message: format!(
                    "the {} reader stopped before the end of the result",
                    self.backend
                ),
                retryable: false,
            })),
        };
        self.done = true;
        item
    }

    /// The batches as a stream.
    pub fn into_stream(self) -> futures::stream::BoxStream<'static, Result<RecordBatch>> {
        use futures::StreamExt;
        futures::stream::unfold(self, |mut rx| async move {
            rx.next().await.map(|item| (item, rx))
        })
        .boxed()
    }
}

/// A channel for one reader's batches, at most [`CHANNEL_DEPTH`] ahead of the consumer.
/// `queries` are what the reader runs (an injected fault applies to the readers whose queries
/// name its marker).
pub fn batch_channel(backend: &'static str, queries: &[String]) -> (BatchSender, BatchReceiver) {
    let (tx, rx) = tokio::sync::mpsc::channel(CHANNEL_DEPTH);
    let sender = BatchSender {
        tx,
        fault: fault::armed(queries),
    };
    let receiver = BatchReceiver {
        rx,
        backend,
        done: false,
    };
    (sender, receiver)
}

/// Runs a reader on a thread of its own named `name`: `body` sends the batches of `queries`
/// on the sender it is given and returns when every row is sent (or the consumer has gone).
/// Its error, or a panic turned into an error, ends the result; `keep_alive` is held until the
/// thread ends.
pub fn spawn_reader<F>(
    name: &str,
    backend: &'static str,
    queries: &[String],
    keep_alive: Option<Arc<dyn Any + Send + Sync>>,
    body: F,
) -> BatchReceiver
where
    F: FnOnce(&BatchSender) -> Result<()> + Send + 'static,
{
    let (tx, rx) = batch_channel(backend, queries);
    let live = Live::enter();
    let spawned = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let _live = live;
            let _keep = keep_alive;
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(&tx)));
            tx.finish_blocking(outcome.unwrap_or_else(|payload| {
                Err(crate::Error::Source {
                    backend,
                    code: None,
                    message: format!(
                        "the {backend} reader failed unexpectedly: {}",
                        panic_message(&*payload)
                    ),
                    retryable: false,
                })
            }));
        });
    match spawned {
        Ok(_) => rx,
        Err(e) => {
            let (tx, rx) = batch_channel(backend, &[]);
            tx.finish_blocking(Err(crate::Error::Io(e)));
            rx
        }
    }
}

/// Reader threads still running, and a way to wait for them to end.
static LIVE: (std::sync::Mutex<usize>, std::sync::Condvar) =
    (std::sync::Mutex::new(0), std::sync::Condvar::new());

/// Counts one reader thread while it lives.
struct Live;

impl Live {
    fn enter() -> Self {
        if let Ok(mut n) = LIVE.0.lock() {
            *n += 1;
        }
        Live
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        if let Ok(mut n) = LIVE.0.lock() {
            *n = n.saturating_sub(1);
        }
        LIVE.1.notify_all();
    }
}

/// Waits up to `timeout` for every reader thread to end; `true` when none is left. A process
/// that exits after dropping a query calls it so that its readers can stop the query at the
/// server (a cancel request, `KILL QUERY`) before the process, and their connections, are gone.
pub fn wait_for_readers(timeout: std::time::Duration) -> bool {
    let Ok(n) = LIVE.0.lock() else {
        return false;
    };
    LIVE.1
        .wait_timeout_while(n, timeout, |n| *n > 0)
        .map(|(n, _)| *n == 0)
        .unwrap_or(false)
}

/// The text of a panic's payload.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "no message".to_string()
    }
}

/// Faults injected into readers, for tests of how a failing reader ends its result.
#[doc(hidden)]
pub mod fault {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Mutex;

    /// What an injected fault does.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Fault {
        /// The reader panics.
        Panic,
        /// The reader stops without a word, as a lost task or thread would.
        Vanish,
    }

    static FAULTS: Mutex<Vec<(String, Fault, usize)>> = Mutex::new(Vec::new());

    /// From now on, every reader whose query contains `marker` suffers `fault` when it is
    /// about to send batch number `after_batches + 1`.
    pub fn inject(marker: &str, fault: Fault, after_batches: usize) {
        if let Ok(mut f) = FAULTS.lock() {
            f.push((marker.to_string(), fault, after_batches));
        }
    }

    /// Removes every injected fault.
    pub fn clear() {
        if let Ok(mut f) = FAULTS.lock() {
            f.clear();
        }
    }

    pub(super) struct Armed {
        fault: Fault,
        left: AtomicUsize,
        vanished: AtomicBool,
    }

    pub(super) fn armed(queries: &[String]) -> Option<Armed> {
        let faults = FAULTS.lock().ok()?;
        let (_, fault, after) = faults.iter().find(|(m, _, _)| {
            // Names may reach the source upper-cased (Snowflake): match without case.
            let m = m.to_ascii_lowercase();
            queries.iter().any(|q| q.to_ascii_lowercase().contains(&m))
        })?;
        Some(Armed {
            fault: *fault,
            left: AtomicUsize::new(*after),
            vanished: AtomicBool::new(false),
        })
    }

    impl Armed {
        /// Counts a batch about to be sent; `false`: the reader vanishes.
        pub(super) fn trip(&self) -> bool {
            if self.vanished() {
                return false;
            }
            let due = self
                .left
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_err();
            if !due {
                return true;
            }
            match self.fault {
                Fault::Panic => panic!("injected reader panic"),
                Fault::Vanish => {
                    self.vanished.store(true, Ordering::Relaxed);
                    false
                }
            }
        }

        pub(super) fn vanished(&self) -> bool {
            self.vanished.load(Ordering::Relaxed)
        }
    }
}
