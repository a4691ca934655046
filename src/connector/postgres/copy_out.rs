//! PostgreSQL's own scan reader: `COPY (query) TO STDOUT (FORMAT binary)` decoded straight
//! into Arrow builders, column by column, with no per-value allocation or dynamic dispatch
//! through a generic row type (docs/decisions/0009-native-readers.md).
//!
//! Each partition gets a thread with a single-threaded tokio runtime that runs both the
//! connection and the decoder, so the time spent waiting for the server (socket reads and
//! message framing included) and the time spent decoding are measured apart, and the bytes
//! received are counted as they arrive.

use std::any::Any;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{RecordBatch, RecordBatchOptions};
use futures::{FutureExt, StreamExt};

use super::client::Target;
use super::wire::{copy_dec, Acc, Dec};
use crate::error::{Error, Result};
use crate::read::{
    finish_batch, spawn_reader, BatchReceiver, BatchSender, ReadMetrics, ScanReader, ScanRequest,
};
use crate::schema::ColumnSpec;

/// The signature every binary COPY stream starts with.
const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

/// Reads scan queries through binary COPY on connections of its own.
#[derive(Clone)]
pub(crate) struct CopyReader {
    pub(crate) endpoint: super::conn::Endpoint,
    pub(crate) session: Vec<String>,
    pub(crate) target: Target,
}

impl std::fmt::Debug for CopyReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyReader")
            .field("target", &self.target.target)
            .finish_non_exhaustive()
    }
}

impl ScanReader for CopyReader {
    fn name(&self) -> &'static str {
        "copy"
    }

    fn spawn(
        &self,
        request: ScanRequest,
        metrics: ReadMetrics,
        keep_alive: Option<Arc<dyn Any + Send + Sync>>,
    ) -> BatchReceiver {
        let reader = self.clone();
        let queries = request.queries.clone();
        spawn_reader("vp-pg-copy", "postgres", &queries, keep_alive, move |tx| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(reader.run(&request, &metrics, tx))
        })
    }
}

impl CopyReader {
    fn error(&self, e: tokio_postgres::Error) -> Error {
        self.target.error(e)
    }

    /// Reads every query of the request; `Ok` also when the consumer went away.
    async fn run(&self, req: &ScanRequest, metrics: &ReadMetrics, tx: &BatchSender) -> Result<()> {
        let started = Instant::now();
        let (client, connection) = super::conn::open(&self.endpoint)
            .await
            .map_err(|e| self.error(e))?;
        let setup: Vec<&str> = self
            .session
            .iter()
            .chain(&req.pre_execution)
            .map(String::as_str)
            .collect();
        if !setup.is_empty() {
            client
                .batch_execute(&setup.join("; "))
                .await
                .map_err(|e| self.error(e))?;
        }
        metrics.wait.add_duration(started.elapsed());
        let mut remaining = req.limit;
        for query in &req.queries {
            if remaining == Some(0) {
                break;
            }
            let sql = format!("COPY ({query}) TO STDOUT (FORMAT binary)");
            let waited = Instant::now();
            let stream = tokio::select! {
                biased;
                stream = client.copy_out(&sql) => stream.map_err(|e| self.error(e))?,
                () = tx.closed() => {
                    stop(&client, &self.endpoint, connection).await;
                    return Ok(());
                }
            };
            metrics.wait.add_duration(waited.elapsed());
            futures::pin_mut!(stream);
            let mut decoder = CopyDecoder::new(&req.columns, req.batch_size)?;
            let mut decoding = Instant::now();
            loop {
                // A chunk already buffered costs no wait; only a pending one is timed as wait.
                let next = match stream.next().now_or_never() {
                    Some(next) => next,
                    None => {
                        metrics.decode.add_duration(decoding.elapsed());
                        let waited = Instant::now();
                        // The consumer may leave while the server works on the next rows.
                        let next = tokio::select! {
                                    biased;
                                    next = stream.next() => next,
                                    () = tx.closed() => {
                            stop(&client, &self.endpoint, connection).await;
                            return Ok(());
                        }
                                };
                        metrics.wait.add_duration(waited.elapsed());
                        decoding = Instant::now();
                        next
                    }
                };
                let Some(chunk) = next else { break };
                let chunk = chunk.map_err(|e| self.error(e))?;
                metrics.wire_bytes.add(chunk.len());
                decoder.feed(&chunk)?;
                while let Some(batch) = decoder.take_batch()? {
                    metrics.decode.add_duration(decoding.elapsed());
                    let more = self.emit(batch, req, metrics, &mut remaining, tx).await?;
                    decoding = Instant::now();
                    if !more {
                        stop(&client, &self.endpoint, connection).await;
                        return Ok(());
                    }
                }
            }
            metrics.decode.add_duration(decoding.elapsed());
            for batch in decoder.finish()? {
                if !self.emit(batch, req, metrics, &mut remaining, tx).await? {
                    return Ok(());
                }
            }
        }
        drop(client);
        let _ = connection.await;
        Ok(())
    }

    /// Converts text-read columns, applies the limit and hands the batch on; `false` when the
    /// consumer is gone or the limit is reached.
    async fn emit(
        &self,
        raw: RecordBatch,
        req: &ScanRequest,
        metrics: &ReadMetrics,
        remaining: &mut Option<usize>,
        tx: &BatchSender,
    ) -> Result<bool> {
        let batch = finish_batch(raw, req, metrics, remaining)?;
        if batch.num_rows() > 0 && !tx.send(batch).await {
            return Ok(false);
        }
        Ok(*remaining != Some(0))
    }
}

/// Stops a query whose rows are no longer wanted: a cancel request makes the server stop
/// working on it, and the connection is closed (it is the reader's own, never pooled).
async fn stop(
    client: &tokio_postgres::Client,
    endpoint: &super::conn::Endpoint,
    connection: tokio::task::JoinHandle<()>,
) {
    super::conn::cancel(client, &endpoint.tls).await;
    connection.abort();
}

/// Where the decoder is in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Header,
    Tuples,
    Ended,
}

/// Decodes a binary COPY stream into batches of `batch_size` rows.
pub(crate) struct CopyDecoder {
    names: Vec<String>,
    decs: Vec<Dec>,
    accs: Vec<Acc>,
    /// Fields per tuple: the columns, or the one constant a column-less scan selects.
    fields: usize,
    rows: usize,
    batch_size: usize,
    state: State,
    /// Bytes of a tuple split across chunks.
    pending: Vec<u8>,
    ready: Vec<RecordBatch>,
}

fn stream_error(message: impl Into<String>) -> Error {
    Error::Source {
        backend: "postgres",
        code: None,
        message: format!("binary COPY stream: {}", message.into()),
        retryable: false,
    }
}

impl CopyDecoder {
    /// A decoder for tuples of `columns`.
    pub(crate) fn new(columns: &[ColumnSpec], batch_size: usize) -> Result<Self> {
        let decs = columns
            .iter()
            .map(|c| {
                copy_dec(c).ok_or_else(|| Error::UnsupportedType {
                    column: c.name().to_string(),
                    data_type: c.source_type.clone(),
                    hint: "read this source with reader=connectorx".into(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            names: columns.iter().map(|c| c.name().to_string()).collect(),
            accs: decs.iter().map(Acc::new).collect(),
            decs,
            fields: columns.len().max(1),
            rows: 0,
            batch_size: batch_size.max(1),
            state: State::Header,
            pending: vec![],
            ready: vec![],
        })
    }

    /// Decodes the complete tuples of `chunk` (and of what an earlier chunk left over).
    pub(crate) fn feed(&mut self, chunk: &[u8]) -> Result<()> {
        if self.pending.is_empty() {
            let used = self.decode(chunk)?;
            self.pending.extend_from_slice(&chunk[used..]);
        } else {
            let mut buf = std::mem::take(&mut self.pending);
            buf.extend_from_slice(chunk);
            let used = self.decode(&buf)?;
            buf.drain(..used);
            self.pending = buf;
        }
        Ok(())
    }

    /// A full batch, if one is ready.
    pub(crate) fn take_batch(&mut self) -> Result<Option<RecordBatch>> {
        Ok(if self.ready.is_empty() {
            None
        } else {
            Some(self.ready.remove(0))
        })
    }

    /// The batches not yet taken, the last one partial; an error if the stream stopped before
    /// its trailer.
    pub(crate) fn finish(mut self) -> Result<Vec<RecordBatch>> {
        if self.state != State::Ended || !self.pending.is_empty() {
            return Err(stream_error("the stream ended before its trailer"));
        }
        if self.rows > 0 {
            let last = self.flush()?;
            self.ready.push(last);
        }
        Ok(self.ready)
    }

    /// Decodes what `buf` holds completely; returns the bytes used.
    fn decode(&mut self, buf: &[u8]) -> Result<usize> {
        let mut at = 0;
        if self.state == State::Header {
            if buf.len() < 19 {
                return Ok(0);
            }
            if &buf[..11] != SIGNATURE {
                return Err(stream_error("missing PGCOPY signature"));
            }
            let ext = u32::from_be_bytes([buf[15], buf[16], buf[17], buf[18]]) as usize;
            if buf.len() < 19 + ext {
                return Ok(0);
            }
            at = 19 + ext;
            self.state = State::Tuples;
        }
        while self.state == State::Tuples {
            let Some(count) = buf.get(at..at + 2) else {
                break;
            };
            let count = i16::from_be_bytes([count[0], count[1]]);
            if count == -1 {
                self.state = State::Ended;
                at += 2;
                break;
            }
            if count as usize != self.fields {
                return Err(stream_error(format!(
                    "a tuple has {count} fields, expected {}",
                    self.fields
                )));
            }
            // Is the whole tuple here?
            let mut end = at + 2;
            let mut complete = true;
            for _ in 0..self.fields {
                let Some(len) = buf.get(end..end + 4) else {
                    complete = false;
                    break;
                };
                let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
                end += 4 + len.max(0) as usize;
            }
            if !complete || end > buf.len() {
                break;
            }
            let mut field_at = at + 2;
            for ((acc, dec), name) in self.accs.iter_mut().zip(&self.decs).zip(&self.names) {
                let len = i32::from_be_bytes([
                    buf[field_at],
                    buf[field_at + 1],
                    buf[field_at + 2],
                    buf[field_at + 3],
                ]);
                field_at += 4;
                let raw = if len < 0 {
                    None
                } else {
                    let value = &buf[field_at..field_at + len as usize];
                    field_at += len as usize;
                    Some(value)
                };
                acc.push(dec, raw).map_err(|message| Error::Value {
                    column: name.clone(),
                    message,
                })?;
            }
            at = end;
            self.rows += 1;
            if self.rows == self.batch_size {
                let batch = self.flush()?;
                self.ready.push(batch);
            }
        }
        Ok(at)
    }

    /// Finishes the rows decoded so far into a batch (Utf8 for text-read columns).
    fn flush(&mut self) -> Result<RecordBatch> {
        let accs = std::mem::replace(&mut self.accs, self.decs.iter().map(Acc::new).collect());
        let columns = accs
            .into_iter()
            .zip(&self.decs)
            .zip(&self.names)
            .map(|((acc, dec), name)| acc.finish(name, dec))
            .collect::<Result<Vec<_>>>()?;
        let fields: Vec<_> = columns
            .iter()
            .zip(&self.names)
            .map(|(c, n)| arrow::datatypes::Field::new(n, c.data_type().clone(), true))
            .collect();
        let batch = RecordBatch::try_new_with_options(
            Arc::new(arrow::datatypes::Schema::new(fields)),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(self.rows)),
        )?;
        self.rows = 0;
        Ok(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::AsArray;
    use arrow::datatypes::{DataType, Int32Type};

    fn stream(rows: &[Option<i32>]) -> Vec<u8> {
        let mut s = SIGNATURE.to_vec();
        s.extend_from_slice(&0u32.to_be_bytes());
        s.extend_from_slice(&0u32.to_be_bytes());
        for r in rows {
            s.extend_from_slice(&1i16.to_be_bytes());
            match r {
                Some(v) => {
                    s.extend_from_slice(&4i32.to_be_bytes());
                    s.extend_from_slice(&v.to_be_bytes());
                }
                None => s.extend_from_slice(&(-1i32).to_be_bytes()),
            }
        }
        s.extend_from_slice(&(-1i16).to_be_bytes());
        s
    }

    fn int_column() -> Vec<ColumnSpec> {
        vec![ColumnSpec::native("k", DataType::Int32, true, "integer")]
    }

    #[test]
    fn tuples_split_across_chunks_decode_the_same() {
        let rows: Vec<Option<i32>> = (0..10).map(|i| (i % 3 != 0).then_some(i)).collect();
        let bytes = stream(&rows);
        for split in [1, 2, 3, 7, 19, 20, 23, bytes.len()] {
            let mut d = CopyDecoder::new(&int_column(), 4).unwrap();
            let mut batches = vec![];
            for chunk in bytes.chunks(split) {
                d.feed(chunk).unwrap();
                while let Some(b) = d.take_batch().unwrap() {
                    batches.push(b);
                }
            }
            batches.extend(d.finish().unwrap());
            let got: Vec<Option<i32>> = batches
                .iter()
                .flat_map(|b| {
                    b.column(0)
                        .as_primitive::<Int32Type>()
                        .iter()
                        .collect::<Vec<_>>()
                })
                .collect();
            assert_eq!(got, rows, "split {split}");
            assert_eq!(
                batches.iter().map(|b| b.num_rows()).collect::<Vec<_>>(),
                vec![4, 4, 2]
            );
        }
    }

    #[test]
    fn truncated_or_foreign_streams_are_errors() {
        let bytes = stream(&[Some(1), Some(2)]);
        let mut d = CopyDecoder::new(&int_column(), 10).unwrap();
        d.feed(&bytes[..bytes.len() - 5]).unwrap();
        let err = d.finish().unwrap_err().to_string();
        assert!(err.contains("before its trailer"), "{err}");
        let mut d = CopyDecoder::new(&int_column(), 10).unwrap();
        let err = d.feed(b"PGCOPY\nXXXXXXXXXXXXXXXX").unwrap_err().to_string();
        assert!(err.contains("signature"), "{err}");
        // A tuple with the wrong number of fields.
        let two = vec![
            ColumnSpec::native("a", DataType::Int32, true, "integer"),
            ColumnSpec::native("b", DataType::Int32, true, "integer"),
        ];
        let mut d = CopyDecoder::new(&two, 10).unwrap();
        let err = d.feed(&bytes).unwrap_err().to_string();
        assert!(err.contains("expected 2"), "{err}");
        // A value of the wrong width names its column.
        let mut bad = stream(&[Some(1)]);
        bad[21..25].copy_from_slice(&2i32.to_be_bytes());
        let mut d = CopyDecoder::new(&int_column(), 10).unwrap();
        let err = d.feed(&bad).unwrap_err().to_string();
        assert!(err.contains('k'), "{err}");
    }
}
