//! The Storage Read API: one read session per scan (one snapshot of the table, the scan's
//! columns as `selected_fields`, its pushed filters as `row_restriction`), each of its streams
//! read as Arrow record batches by one DataFusion partition.
//!
//! The session's schema and each batch arrive as bare Arrow IPC messages; they are decoded by
//! one IPC stream decoder per stream, on the buffers prost received (no copy of the values).
//! An emulator may end the schema's bytes with an end-of-stream marker: only the first message
//! is taken.

use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{ArrayRef, RecordBatchOptions};
use arrow::buffer::Buffer;
use arrow::ipc::reader::StreamDecoder;
use arrow::record_batch::RecordBatch;
use futures::FutureExt;
use gcp_bigquery_client::google::cloud::bigquery::storage::v1 as pb;
use pb::big_query_read_client::BigQueryReadClient;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

use super::rest::Rest;
use crate::error::{Error, Result};
use crate::read::{
    batch_channel, limit_and_count, BatchReceiver, BatchSender, ReadMetrics, ScanReader,
    ScanRequest,
};
use crate::schema::conform_column;

/// Largest message accepted from the Storage API (a ReadRows response holds one batch).
const MAX_MESSAGE: usize = 512 * 1024 * 1024;

/// Times a broken stream is resumed from the last row read before the scan fails.
const RESUMES: u32 = 3;

/// The gRPC side of one BigQuery URL.
#[derive(Clone)]
pub(crate) struct Storage {
    channel: Channel,
    rest: Arc<Rest>,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("endpoint", &self.rest.options().grpc_endpoint)
            .finish_non_exhaustive()
    }
}

/// A read session, as a scan plans with it.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// `projects/.../sessions/...`.
    pub(crate) name: String,
    /// The session's Arrow schema, one IPC message.
    pub(crate) schema: Arc<Vec<u8>>,
    /// Its streams' names.
    pub(crate) streams: Vec<String>,
    /// BigQuery's estimate of the bytes the streams read.
    pub(crate) estimated_bytes: i64,
    /// BigQuery's estimate of the rows.
    pub(crate) estimated_rows: i64,
}

/// What a session reads.
#[derive(Debug, Clone)]
pub(crate) struct SessionRequest {
    /// `projects/P/datasets/D/tables/T`.
    pub(crate) table: String,
    /// Columns to read (none: every column).
    pub(crate) fields: Vec<String>,
    /// The pushed filter, GoogleSQL.
    pub(crate) row_restriction: Option<String>,
    /// Most streams.
    pub(crate) max_streams: usize,
}

fn status_error(target: &str, what: &str, s: &tonic::Status) -> Error {
    use tonic::Code;
    let message = format!("{what}: {}", s.message());
    match s.code() {
        Code::Unauthenticated => Error::Authentication {
            target: target.to_string(),
            message: format!(
                "{message}: check the credentials (credentials=KEY.json or \
                 GOOGLE_APPLICATION_CREDENTIALS)"
            ),
        },
        Code::Unavailable
            if s.message().contains("connect") || s.message().contains("transport") =>
        {
            Error::Connection {
                target: target.to_string(),
                message,
            }
        }
        code => Error::Source {
            backend: "bigquery",
            code: Some(format!("{code:?}")),
            message,
            retryable: matches!(
                code,
                Code::Unavailable | Code::Internal | Code::ResourceExhausted | Code::Aborted
            ),
        },
    }
}

/// The first IPC message of `bytes` (with or without the continuation marker), without an
/// end-of-stream marker that may follow it.
pub(crate) fn first_message(bytes: &[u8]) -> Result<&[u8]> {
    let bad = || Error::Source {
        backend: "bigquery",
        code: None,
        message: "the read session's schema is not an Arrow IPC message".into(),
        retryable: false,
    };
    let word = |at: usize| -> Option<u32> {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let (header, len) = match word(0).ok_or_else(bad)? {
        0xFFFF_FFFF => (8, word(4).ok_or_else(bad)?),
        len => (4, len),
    };
    let end = header + len as usize;
    if len == 0 || end > bytes.len() {
        return Err(bad());
    }
    Ok(&bytes[..end])
}

/// Decodes one stream's batches against the session's schema.
pub(crate) struct Decoder {
    decoder: StreamDecoder,
}

impl Decoder {
    pub(crate) fn new(schema: &[u8]) -> Result<Self> {
        let message = first_message(schema)?;
        let header = if message.starts_with(&[0xff; 4]) {
            8
        } else {
            4
        };
        let is_schema = arrow::ipc::root_as_message(&message[header..])
            .ok()
            .is_some_and(|m| m.header_type() == arrow::ipc::MessageHeader::Schema);
        if !is_schema {
            return Err(Error::Source {
                backend: "bigquery",
                code: None,
                message: "the read session's schema is not an Arrow schema message".into(),
                retryable: false,
            });
        }
        let mut decoder = StreamDecoder::new();
        // The decoder takes the schema in when the first batch's bytes follow it.
        let mut buffer = Buffer::from(message);
        decoder.decode(&mut buffer)?;
        Ok(Self { decoder })
    }

    /// The session's Arrow schema.
    #[cfg(test)]
    pub(crate) fn schema(&self) -> arrow::datatypes::SchemaRef {
        self.decoder.schema().expect("a batch was decoded")
    }

    /// One serialized record batch (taken over without copying).
    pub(crate) fn batch(&mut self, bytes: Vec<u8>) -> Result<RecordBatch> {
        let mut buffer = Buffer::from_vec(bytes);
        let batch = self.decoder.decode(&mut buffer)?;
        match batch {
            Some(b) if buffer.is_empty() => Ok(b),
            _ => Err(Error::Source {
                backend: "bigquery",
                code: None,
                message: "a ReadRows response did not hold exactly one record batch".into(),
                retryable: false,
            }),
        }
    }
}

impl Storage {
    pub(crate) fn new(rest: Arc<Rest>) -> Result<Self> {
        let url = rest.options().grpc_endpoint.clone();
        let bad = |e: &dyn std::fmt::Display| Error::InvalidUrl {
            url: rest.options().redacted.clone(),
            reason: format!("grpc_endpoint `{url}`: {e}"),
        };
        let mut endpoint = Endpoint::from_shared(url.clone())
            .map_err(|e| bad(&e))?
            .connect_timeout(Duration::from_secs(30))
            .tcp_nodelay(true)
            .http2_adaptive_window(true);
        if url.starts_with("https://") {
            endpoint = endpoint
                .tls_config(ClientTlsConfig::new().with_native_roots())
                .map_err(|e| bad(&e))?;
        }
        Ok(Self {
            // Connected on first use; a wrong endpoint fails the first scan, with its address.
            channel: endpoint.connect_lazy(),
            rest,
        })
    }

    fn client(&self) -> BigQueryReadClient<Channel> {
        BigQueryReadClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE)
    }

    pub(crate) fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// The error for a failed call.
    pub(crate) fn status(&self, what: &str, s: &tonic::Status) -> Error {
        status_error(&self.target(), what, s)
    }

    pub(crate) fn target(&self) -> String {
        format!(
            "{} (Storage API at {})",
            self.rest.target(),
            self.rest.options().grpc_endpoint
        )
    }

    pub(crate) async fn request<T>(
        &self,
        message: T,
        routing: String,
    ) -> Result<tonic::Request<T>> {
        let mut request = tonic::Request::new(message);
        let metadata = request.metadata_mut();
        if let Some(bearer) = self.rest.bearer().await? {
            let value = bearer.parse().map_err(|_| Error::Authentication {
                target: self.target(),
                message: "the token is not a valid header value".into(),
            })?;
            metadata.insert("authorization", value);
        }
        let routing =
            percent_encoding::utf8_percent_encode(&routing, percent_encoding::CONTROLS).to_string();
        if let Ok(v) = routing.replace(' ', "%20").parse() {
            metadata.insert("x-goog-request-params", v);
        }
        Ok(request)
    }

    /// Creates a read session.
    pub(crate) async fn session(&self, what: &SessionRequest) -> Result<Session> {
        let options = self.rest.options();
        let read_options = pb::read_session::TableReadOptions {
            selected_fields: what.fields.clone(),
            row_restriction: what.row_restriction.clone().unwrap_or_default(),
            ..Default::default()
        };
        let table_modifiers = options
            .snapshot_time
            .map(|t| pb::read_session::TableModifiers {
                snapshot_time: Some(prost_types::Timestamp {
                    seconds: t.timestamp(),
                    nanos: t.timestamp_subsec_nanos() as i32,
                }),
            });
        let message = pb::CreateReadSessionRequest {
            parent: format!("projects/{}", options.project),
            read_session: Some(pb::ReadSession {
                table: what.table.clone(),
                data_format: pb::DataFormat::Arrow as i32,
                read_options: Some(read_options),
                table_modifiers,
                ..Default::default()
            }),
            max_stream_count: what.max_streams.clamp(1, 1000) as i32,
            preferred_min_stream_count: 0,
        };
        let request = self
            .request(message, format!("read_session.table={}", what.table))
            .await?;
        let session = self
            .client()
            .create_read_session(request)
            .await
            .map_err(|s| status_error(&self.target(), "CreateReadSession", &s))?
            .into_inner();
        let schema = match session.schema {
            Some(pb::read_session::Schema::ArrowSchema(s)) => s.serialized_schema,
            _ => {
                return Err(Error::Source {
                    backend: "bigquery",
                    code: None,
                    message: "the read session has no Arrow schema".into(),
                    retryable: false,
                })
            }
        };
        Ok(Session {
            name: session.name,
            schema: Arc::new(schema),
            streams: session.streams.into_iter().map(|s| s.name).collect(),
            estimated_bytes: session.estimated_total_bytes_scanned,
            estimated_rows: session.estimated_row_count,
        })
    }

    /// Opens one stream at row `offset`.
    async fn open_stream(
        &self,
        stream: &str,
        offset: i64,
    ) -> Result<tonic::Streaming<pb::ReadRowsResponse>> {
        let request = self
            .request(
                pb::ReadRowsRequest {
                    read_stream: stream.to_string(),
                    offset,
                },
                format!("read_stream={stream}"),
            )
            .await?;
        self.client()
            .read_rows(request)
            .await
            .map(|r| r.into_inner())
            .map_err(|s| status_error(&self.target(), "ReadRows", &s))
    }
}

/// Reads the streams of one read session (the scan's own reader).
#[derive(Debug)]
pub(crate) struct SessionReader {
    pub(crate) storage: Storage,
    pub(crate) session: Session,
    /// `dataset.table`, for fault markers and messages.
    pub(crate) table: String,
}

/// Gives a column the declared type: nested types differ from the declared only in their
/// children's names and nullability, which a cast aligns.
fn align(name: &str, array: &ArrayRef, target: &arrow::datatypes::DataType) -> Result<ArrayRef> {
    if array.data_type() == target {
        return Ok(array.clone());
    }
    if arrow::compute::can_cast_types(array.data_type(), target) {
        return arrow::compute::cast(array, target).map_err(|e| Error::Value {
            column: name.to_string(),
            message: e.to_string(),
        });
    }
    conform_column(name, array, target, crate::schema::ReadAs::Native)
}

/// The batch with the request's columns (found by name: the Storage API sends them in table
/// order), in their declared types.
fn shape(raw: RecordBatch, request: &ScanRequest) -> Result<RecordBatch> {
    let columns = request
        .columns
        .iter()
        .map(|spec| {
            let array = raw
                .column_by_name(spec.source_name())
                .ok_or_else(|| Error::Source {
                    backend: "bigquery",
                    code: None,
                    message: format!("the read session sent no column `{}`", spec.source_name()),
                    retryable: false,
                })?;
            align(spec.name(), array, spec.field.data_type())
        })
        .collect::<Result<Vec<ArrayRef>>>()?;
    Ok(RecordBatch::try_new_with_options(
        request.schema.clone(),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(raw.num_rows())),
    )?)
}

impl SessionReader {
    /// Reads the request's streams one after the other; a stream that breaks is resumed at
    /// the last row read (at most [`RESUMES`] times).
    async fn run(
        &self,
        request: ScanRequest,
        metrics: ReadMetrics,
        tx: &BatchSender,
    ) -> Result<()> {
        use futures::StreamExt;
        let mut remaining = request.limit;
        for stream in &request.queries {
            let mut decoder = Decoder::new(&self.session.schema)?;
            let mut offset: i64 = 0;
            let mut resumes = 0;
            'resume: loop {
                let waited = Instant::now();
                let opened = self.storage.open_stream(stream, offset).await;
                metrics.wait.add_duration(waited.elapsed());
                let mut responses = match opened {
                    Ok(r) => r,
                    Err(e) if e.is_retryable() && resumes < RESUMES => {
                        resumes += 1;
                        tokio::time::sleep(Duration::from_millis(200 * resumes as u64)).await;
                        continue 'resume;
                    }
                    Err(e) => return Err(e),
                };
                loop {
                    let waited = Instant::now();
                    let next = responses.next().await;
                    metrics.wait.add_duration(waited.elapsed());
                    let response = match next {
                        None => break 'resume,
                        Some(Ok(r)) => r,
                        Some(Err(s)) => {
                            let e = status_error(&self.storage.target(), "ReadRows", &s);
                            if e.is_retryable() && resumes < RESUMES {
                                resumes += 1;
                                log::debug!("resuming {stream} at row {offset} after: {e}");
                                continue 'resume;
                            }
                            return Err(e);
                        }
                    };
                    let Some(pb::read_rows_response::Rows::ArrowRecordBatch(rows)) = response.rows
                    else {
                        continue;
                    };
                    metrics.wire_bytes.add(rows.serialized_record_batch.len());
                    let decoding = Instant::now();
                    let raw = decoder.batch(rows.serialized_record_batch)?;
                    metrics.decode.add_duration(decoding.elapsed());
                    offset += raw.num_rows() as i64;
                    let converting = Instant::now();
                    let batch = shape(raw, &request)?;
                    metrics.convert.add_duration(converting.elapsed());
                    // Batches of the scan's batch size, sliced without copying.
                    let size = request.batch_size.max(1);
                    for at in (0..batch.num_rows()).step_by(size) {
                        let part = batch.slice(at, size.min(batch.num_rows() - at));
                        let part = limit_and_count(part, &metrics, &mut remaining);
                        if part.num_rows() > 0 && !tx.send(part).await {
                            return Ok(());
                        }
                        if remaining == Some(0) {
                            return Ok(());
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

impl ScanReader for SessionReader {
    fn name(&self) -> &'static str {
        "storage-read"
    }

    fn spawn(
        &self,
        request: ScanRequest,
        metrics: ReadMetrics,
        keep_alive: Option<Arc<dyn Any + Send + Sync>>,
    ) -> BatchReceiver {
        let markers: Vec<String> = request
            .queries
            .iter()
            .map(|s| format!("{} {s}", self.table))
            .collect();
        let (tx, rx) = batch_channel("bigquery", &markers);
        let reader = SessionReader {
            storage: self.storage.clone(),
            session: self.session.clone(),
            table: self.table.clone(),
        };
        tokio::spawn(async move {
            let _keep = keep_alive;
            let outcome = std::panic::AssertUnwindSafe(reader.run(request, metrics, &tx))
                .catch_unwind()
                .await;
            match outcome {
                Ok(Ok(())) => tx.finish().await,
                Ok(Err(e)) => tx.fail(e).await,
                Err(payload) => {
                    tx.fail(Error::Source {
                        backend: "bigquery",
                        code: None,
                        message: format!(
                            "the bigquery reader failed unexpectedly: {}",
                            crate::read::panic_message(&*payload)
                        ),
                        retryable: false,
                    })
                    .await
                }
            }
        });
        rx
    }
}

/// The source's reader of SQL chunk queries, which BigQuery scans never use: each brings the
/// reader of its read session.
#[derive(Debug)]
pub(crate) struct NoSqlReader;

impl ScanReader for NoSqlReader {
    fn name(&self) -> &'static str {
        "storage-read"
    }

    fn spawn(
        &self,
        _request: ScanRequest,
        _metrics: ReadMetrics,
        _keep_alive: Option<Arc<dyn Any + Send + Sync>>,
    ) -> BatchReceiver {
        let (tx, rx) = batch_channel("bigquery", &[]);
        tokio::spawn(async move {
            tx.fail(Error::Config(
                "BigQuery tables are read through read sessions, not SQL chunks".into(),
            ))
            .await
        });
        rx
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field, Schema};

    fn ipc(batch: &RecordBatch) -> (Vec<u8>, Vec<u8>) {
        let mut out = vec![];
        {
            let mut w =
                arrow::ipc::writer::StreamWriter::try_new(&mut out, &batch.schema()).unwrap();
            w.write(batch).unwrap();
            w.finish().unwrap();
        }
        // schema message, then the batch message, then the end-of-stream marker
        let schema_len = first_message(&out).unwrap().len();
        let rest = &out[schema_len..out.len() - 8];
        (out[..schema_len].to_vec(), rest.to_vec())
    }

    #[test]
    fn schema_and_batches_decode_with_or_without_end_marker() {
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, true)]));
        let batch = RecordBatch::try_new(
            schema,
            vec![Arc::new(Int64Array::from(vec![Some(1), None, Some(3)]))],
        )
        .unwrap();
        let (schema_bytes, batch_bytes) = ipc(&batch);
        let mut with_eos = schema_bytes.clone();
        with_eos.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
        for bytes in [schema_bytes, with_eos] {
            let mut d = Decoder::new(&bytes).unwrap();
            let got = d.batch(batch_bytes.clone()).unwrap();
            assert_eq!(d.schema().field(0).name(), "id");
            assert_eq!(got, batch);
            // a second batch on the same stream decodes too
            assert_eq!(d.batch(batch_bytes.clone()).unwrap().num_rows(), 3);
        }
        assert!(Decoder::new(&[1, 2]).is_err());
        assert!(Decoder::new(&[0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0]).is_err());
        let mut d = Decoder::new(&ipc(&batch).0).unwrap();
        assert!(d
            .batch(vec![0xff, 0xff, 0xff, 0xff, 4, 0, 0, 0, 1, 2, 3, 4])
            .is_err());
    }
}
