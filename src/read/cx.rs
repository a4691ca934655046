//! Runs ConnectorX's record-batch iterator off the async executor.
//!
//! ConnectorX's iterator blocks and panics on errors inside the stream. This module gives it a
//! dedicated thread and turns panics into [`Error`]s. Memory is bounded by batch size ×
//! partitions: the vendored ConnectorX (vendor/connectorx) hands batches over a channel of depth
//! 2 instead of an unbounded one, and the hand-over channel to DataFusion holds at most
//! [`CHANNEL_DEPTH`] batches. A partition may still run as a sequence of chunk queries.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Once};
use std::time::Instant;

use arrow::record_batch::RecordBatch;
use connectorx::prelude::{new_record_batch_iter, parse_source, RecordBatchIterator};
use connectorx::sql::CXQuery;
use datafusion::physical_plan::metrics::{Count, Time};

use super::bridge::from_cx;
use crate::error::{scrub, Error, Result};

/// Batches buffered between the reader thread and the DataFusion stream.
pub const CHANNEL_DEPTH: usize = 2;

/// Converts one bridged batch into the table's declared Arrow types.
pub type Conform = Arc<dyn Fn(RecordBatch) -> Result<RecordBatch> + Send + Sync>;

/// What one DataFusion partition asks ConnectorX for.
#[derive(Clone)]
pub struct CxRequest {
    /// Connection string in ConnectorX's form (`postgresql://...`, `mysql://...`).
    pub url: String,
    /// ConnectorX protocol (`binary` for PostgreSQL's binary COPY).
    pub protocol: Option<&'static str>,
    /// Queries run one after the other (the partition's chunks).
    pub queries: Vec<String>,
    /// Statements run on each connection before its query (session settings, snapshot import).
    pub pre_execution: Vec<String>,
    /// Rows per batch.
    pub batch_size: usize,
    /// Stop after this many rows (the pushed-down limit).
    pub limit: Option<usize>,
    /// Backend name for error messages.
    pub backend: &'static str,
    /// A secret to scrub from error messages (the password).
    pub secret: Option<String>,
}

impl std::fmt::Debug for CxRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CxRequest")
            .field("url", &crate::error::redact_url(&self.url))
            .field("queries", &self.queries)
            .field("batch_size", &self.batch_size)
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

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

thread_local! {
    static QUIET_PANICS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Installs (once) a panic hook that stays silent for panics we catch and turn into errors:
/// those on our reader threads and those raised inside ConnectorX's own threads.
fn install_quiet_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_cx = info
                .location()
                .map(|l| l.file().contains("connectorx"))
                .unwrap_or(false);
            if QUIET_PANICS.with(|q| q.get()) || in_cx {
                return;
            }
            previous(info)
        }));
    });
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "ConnectorX failed without a message".to_string()
    }
}

/// Starts a reader thread and returns the receiving end of its batches.
///
/// `keep_alive` is held until the thread finishes (e.g. the transaction that exported the
/// snapshot the queries import).
pub fn spawn(
    req: CxRequest,
    conform: Conform,
    metrics: ReadMetrics,
    keep_alive: Option<Arc<dyn Any + Send + Sync>>,
) -> tokio::sync::mpsc::Receiver<Result<RecordBatch>> {
    install_quiet_hook();
    let (tx, rx) = tokio::sync::mpsc::channel(CHANNEL_DEPTH);
    let spawned = std::thread::Builder::new()
        .name("vp-cx-reader".into())
        .spawn({
            let tx = tx.clone();
            move || {
                QUIET_PANICS.with(|q| q.set(true));
                let _keep = keep_alive;
                let mut remaining = req.limit;
                for query in &req.queries {
                    if remaining == Some(0) {
                        break;
                    }
                    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
                        run_query(&req, query, &conform, &metrics, &mut remaining, &tx)
                    }));
                    let result = match outcome {
                        Ok(r) => r,
                        Err(payload) => Err(Error::Source {
                            backend: req.backend,
                            code: None,
                            message: scrub(
                                &clean_cx_message(&panic_message(&*payload)),
                                req.secret.as_deref(),
                            ),
                        }),
                    };
                    match result {
                        Ok(true) => {}
                        Ok(false) => return, // receiver gone: the consumer stopped early
                        Err(e) => {
                            let _ = tx.blocking_send(Err(e));
                            return;
                        }
                    }
                }
            }
        });
    if let Err(e) = spawned {
        let _ = tx.try_send(Err(Error::Io(e)));
    }
    rx
}

/// ConnectorX wraps stream errors as `cx writer failed: <Debug>`; keep the useful part.
fn clean_cx_message(msg: &str) -> String {
    msg.strip_prefix("cx writer failed: ")
        .unwrap_or(msg)
        .to_string()
}

/// Runs one query; returns Ok(false) when the receiver is gone.
fn run_query(
    req: &CxRequest,
    query: &str,
    conform: &Conform,
    metrics: &ReadMetrics,
    remaining: &mut Option<usize>,
    tx: &tokio::sync::mpsc::Sender<Result<RecordBatch>>,
) -> Result<bool> {
    let source_err = |m: String| Error::Source {
        backend: req.backend,
        code: None,
        message: scrub(&m, req.secret.as_deref()),
    };
    let started = Instant::now();
    let conn = parse_source(&req.url, req.protocol).map_err(|e| source_err(e.to_string()))?;
    let pre = (!req.pre_execution.is_empty()).then_some(req.pre_execution.as_slice());
    let mut iter: Box<dyn RecordBatchIterator> =
        new_record_batch_iter(&conn, None, &[CXQuery::naked(query)], req.batch_size, pre)
            .map_err(|e| source_err(e.to_string()))?;
    iter.prepare();
    metrics.wait.add_duration(started.elapsed());
    loop {
        let waited = Instant::now();
        let next = iter.next_batch();
        metrics.wait.add_duration(waited.elapsed());
        let Some(batch) = next else { return Ok(true) };
        let converting = Instant::now();
        let batch = conform(from_cx(batch)?)?;
        metrics.convert.add_duration(converting.elapsed());
        let batch = super::limit_and_count(batch, metrics, remaining);
        if batch.num_rows() > 0 && tx.blocking_send(Ok(batch)).is_err() {
            return Ok(false);
        }
        if *remaining == Some(0) {
            return Ok(true);
        }
    }
}
