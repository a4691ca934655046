//! Runs ConnectorX's record-batch iterator off the async executor.
//!
//! ConnectorX's iterator blocks and panics on errors inside the stream. This module gives it a
//! dedicated thread and turns panics into [`Error`]s. Memory is bounded by batch size ×
//! partitions: the vendored ConnectorX (vendor/connectorx) hands batches over a channel of depth
//! 2 instead of an unbounded one, and the hand-over channel to DataFusion holds at most
//! [`CHANNEL_DEPTH`](super::CHANNEL_DEPTH) batches. A partition may still run as a sequence of chunk queries.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Once};
use std::time::Instant;

use connectorx::prelude::{new_record_batch_iter, parse_source, RecordBatchIterator};
use connectorx::sql::CXQuery;

use super::bridge::from_cx;
use super::{
    panic_message, spawn_reader, BatchReceiver, BatchSender, ReadMetrics, ScanReader, ScanRequest,
};
use crate::error::{scrub, Error, Result};
use crate::schema::conform_batch;

/// The ConnectorX reader of a source: how it connects; what it reads comes with each
/// [`ScanRequest`].
#[derive(Clone)]
pub struct CxReader {
    /// Connection string in ConnectorX's form (`postgresql://...`, `mysql://...`).
    pub url: String,
    /// ConnectorX protocol (`binary` for PostgreSQL's binary COPY).
    pub protocol: Option<&'static str>,
    /// Statements run on each connection before the request's own (session settings).
    pub session_statements: Vec<String>,
    /// Backend name for error messages.
    pub backend: &'static str,
    /// A secret to scrub from error messages (the password).
    pub secret: Option<String>,
}

impl std::fmt::Debug for CxReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CxReader")
            .field("url", &crate::error::redact_url(&self.url))
            .field("protocol", &self.protocol)
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
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

impl ScanReader for CxReader {
    fn name(&self) -> &'static str {
        "connectorx"
    }

    fn spawn(
        &self,
        request: ScanRequest,
        metrics: ReadMetrics,
        keep_alive: Option<Arc<dyn Any + Send + Sync>>,
    ) -> BatchReceiver {
        install_quiet_hook();
        let reader = self.clone();
        let queries = request.queries.clone();
        spawn_reader(
            "vp-cx-reader",
            self.backend,
            &queries,
            keep_alive,
            move |tx| {
                QUIET_PANICS.with(|q| q.set(true));
                let mut pre = reader.session_statements.clone();
                pre.extend(request.pre_execution.iter().cloned());
                let mut remaining = request.limit;
                for query in &request.queries {
                    if remaining == Some(0) {
                        break;
                    }
                    // ConnectorX panics on errors inside its stream: caught per query, so the
                    // message can be cleaned and scrubbed.
                    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
                        reader.run_query(&request, &pre, query, &metrics, &mut remaining, tx)
                    }));
                    let more = outcome.unwrap_or_else(|payload| {
                        Err(reader.error(clean_cx_message(&panic_message(&*payload))))
                    })?;
                    if !more {
                        break; // the consumer stopped early
                    }
                }
                Ok(())
            },
        )
    }

    fn decodes_itself(&self) -> bool {
        false
    }
}

/// ConnectorX wraps stream errors as `cx writer failed: <Debug>`; keep the useful part.
fn clean_cx_message(msg: &str) -> String {
    msg.strip_prefix("cx writer failed: ")
        .unwrap_or(msg)
        .to_string()
}

/// An error's text followed by its causes' that add to it (ConnectorX's PostgreSQL errors say
/// only "db error"; the server's message is the cause).
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        cause = c.source();
    }
    text
}

impl CxReader {
    fn error(&self, message: String) -> Error {
        Error::Source {
            backend: self.backend,
            code: None,
            message: scrub(&message, self.secret.as_deref()),
            retryable: false,
        }
    }

    /// Runs one query; returns Ok(false) when the receiver is gone.
    fn run_query(
        &self,
        req: &ScanRequest,
        pre: &[String],
        query: &str,
        metrics: &ReadMetrics,
        remaining: &mut Option<usize>,
        tx: &BatchSender,
    ) -> Result<bool> {
        let started = Instant::now();
        let conn = parse_source(&self.url, self.protocol).map_err(|e| self.error(e.to_string()))?;
        let pre = (!pre.is_empty()).then_some(pre);
        let mut iter: Box<dyn RecordBatchIterator> =
            new_record_batch_iter(&conn, None, &[CXQuery::naked(query)], req.batch_size, pre)
                .map_err(|e| self.error(with_causes(&e)))?;
        iter.prepare();
        metrics.wait.add_duration(started.elapsed());
        loop {
            let waited = Instant::now();
            let next = iter.next_batch();
            metrics.wait.add_duration(waited.elapsed());
            let Some(batch) = next else { return Ok(true) };
            let converting = Instant::now();
            let batch = conform_batch(from_cx(batch)?, &req.schema, &req.columns)?;
            metrics.convert.add_duration(converting.elapsed());
            let batch = super::limit_and_count(batch, metrics, remaining);
            if batch.num_rows() > 0 && !tx.send_blocking(batch) {
                return Ok(false);
            }
            if *remaining == Some(0) {
                return Ok(true);
            }
        }
    }
}
