//! Bulk loads through the Storage Write API: one PENDING write stream, the rows appended as
//! Arrow record batches (each request under the API's 10 MB), the stream finalized, then one
//! batch commit. Nothing is visible until the commit, and a load that fails before it leaves
//! the table as it was (the stream is abandoned).
//!
//! The generated protos of `gcp-bigquery-client` predate Arrow appends, so the request
//! message is declared here (field numbers from `google/cloud/bigquery/storage/v1/storage.proto`).

use std::sync::Arc;

use arrow::datatypes::{Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use datafusion::execution::SendableRecordBatchStream;
use futures::{SinkExt, StreamExt};
use gcp_bigquery_client::google::cloud::bigquery::storage::v1 as pb;
use pb::big_query_write_client::BigQueryWriteClient;

use super::storage::Storage;
use crate::error::{Error, Result};

/// Most bytes of Arrow data in one append (the API refuses requests over 10 MB).
const APPEND_BYTES: usize = 8 * 1024 * 1024;

/// `AppendRowsRequest` with its `arrow_rows` field.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ArrowAppendRowsRequest {
    /// The write stream.
    #[prost(string, tag = "1")]
    pub(crate) write_stream: String,
    /// The rows, in Arrow.
    #[prost(message, optional, tag = "5")]
    pub(crate) arrow_rows: Option<ArrowData>,
    /// Who writes, for BigQuery's logs.
    #[prost(string, tag = "6")]
    pub(crate) trace_id: String,
}

/// `AppendRowsRequest.ArrowData`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ArrowData {
    /// The rows' schema (first request only).
    #[prost(message, optional, tag = "1")]
    pub(crate) writer_schema: Option<pb::ArrowSchema>,
    /// One serialized record batch.
    #[prost(message, optional, tag = "2")]
    pub(crate) rows: Option<pb::ArrowRecordBatch>,
}

/// One batch's IPC message, with the schema's before the first batch of a load.
type Encoded = (Option<Vec<u8>>, Vec<u8>);

/// A load's batches as IPC messages: the schema's once, then one message per batch.
#[derive(Default)]
struct Encoder {
    writer: Option<(SchemaRef, arrow::ipc::writer::StreamWriter<Vec<u8>>)>,
}

impl Encoder {
    /// The batch's message, with the schema's before the first batch; `None` when the batch
    /// has another schema than the first.
    fn encode(&mut self, batch: &RecordBatch) -> Result<Option<Encoded>> {
        let schema = match &self.writer {
            Some((first, _)) if first != &batch.schema() => return Ok(None),
            Some(_) => None,
            None => {
                let mut w = arrow::ipc::writer::StreamWriter::try_new(Vec::new(), &batch.schema())?;
                let bytes = std::mem::take(w.get_mut());
                self.writer = Some((batch.schema(), w));
                Some(bytes)
            }
        };
        let Some((_, w)) = self.writer.as_mut() else {
            return Ok(None);
        };
        w.write(batch)?;
        Ok(Some((schema, std::mem::take(w.get_mut()))))
    }
}

/// `batch` cut into slices whose Arrow data stays under [`APPEND_BYTES`].
fn slices(batch: RecordBatch) -> Vec<RecordBatch> {
    let bytes = batch.get_array_memory_size().max(1);
    let rows = batch.num_rows();
    if bytes <= APPEND_BYTES || rows <= 1 {
        return vec![batch];
    }
    let per = (rows * APPEND_BYTES / bytes).max(1);
    (0..rows)
        .step_by(per)
        .map(|at| batch.slice(at, per.min(rows - at)))
        .collect()
}

impl Storage {
    fn write_client(&self) -> BigQueryWriteClient<tonic::transport::Channel> {
        BigQueryWriteClient::new(self.channel())
            .max_decoding_message_size(64 * 1024 * 1024)
            .max_encoding_message_size(16 * 1024 * 1024)
    }

    /// Appends `batches` (cast by `conform` to the table's types) to `table`
    /// (`projects/P/datasets/D/tables/T`) and commits them at once; the rows written.
    pub(crate) async fn load(
        &self,
        table: &str,
        mut batches: SendableRecordBatchStream,
        conform: impl Fn(RecordBatch) -> Result<RecordBatch> + Send + Sync + 'static,
    ) -> Result<u64> {
        let stream = self
            .write_client()
            .create_write_stream(
                self.request(
                    pb::CreateWriteStreamRequest {
                        parent: table.to_string(),
                        write_stream: Some(pb::WriteStream {
                            r#type: pb::write_stream::Type::Pending as i32,
                            ..Default::default()
                        }),
                    },
                    format!("parent={table}"),
                )
                .await?,
            )
            .await
            .map_err(|s| self.status(&format!("CreateWriteStream on {table}"), &s))?
            .into_inner()
            .name;

        // Requests go out as the input produces them; the input's own error stops the load.
        let (mut requests_tx, requests_rx) =
            futures::channel::mpsc::channel::<ArrowAppendRowsRequest>(2);
        let name = stream.clone();
        let producing = async move {
            let mut rows = 0u64;
            let mut appends = 0usize;
            let mut encoder = Encoder::default();
            while let Some(batch) = batches.next().await {
                let batch = conform(batch?)?;
                for part in slices(batch) {
                    if part.num_rows() == 0 {
                        continue;
                    }
                    let Some((schema_bytes, rows_bytes)) = encoder.encode(&part)? else {
                        return Err(Error::SchemaMismatch {
                            table: table_of(&name),
                            problems: vec!["the batches of one load changed their schema".into()],
                        });
                    };
                    rows += part.num_rows() as u64;
                    appends += 1;
                    let request = ArrowAppendRowsRequest {
                        write_stream: name.clone(),
                        arrow_rows: Some(ArrowData {
                            writer_schema: schema_bytes
                                .map(|serialized_schema| pb::ArrowSchema { serialized_schema }),
                            #[allow(deprecated)]
                            rows: Some(pb::ArrowRecordBatch {
                                serialized_record_batch: rows_bytes,
                                row_count: part.num_rows() as i64,
                            }),
                        }),
                        trace_id: "vibe-piper".into(),
                    };
                    if requests_tx.send(request).await.is_err() {
                        // The call ended early: its error says why.
                        return Ok((rows, appends));
                    }
                }
            }
            Ok::<_, Error>((rows, appends))
        };

        let append = async {
            let request = self
                .request(requests_rx, format!("write_stream={stream}"))
                .await?;
            let mut grpc = tonic::client::Grpc::new(self.channel())
                .max_encoding_message_size(16 * 1024 * 1024)
                .max_decoding_message_size(64 * 1024 * 1024);
            grpc.ready().await.map_err(|e| Error::Connection {
                target: self.target(),
                message: e.to_string(),
            })?;
            let codec =
                tonic_prost::ProstCodec::<ArrowAppendRowsRequest, pb::AppendRowsResponse>::default(
                );
            let path = tonic::codegen::http::uri::PathAndQuery::from_static(
                "/google.cloud.bigquery.storage.v1.BigQueryWrite/AppendRows",
            );
            let mut responses = grpc
                .streaming(request, path, codec)
                .await
                .map_err(|s| self.status("AppendRows", &s))?
                .into_inner();
            let mut acknowledged = 0usize;
            while let Some(response) = responses.next().await {
                let response = response.map_err(|s| self.status("AppendRows", &s))?;
                if let Some(pb::append_rows_response::Response::Error(status)) = &response.response
                {
                    let rows: Vec<String> = response
                        .row_errors
                        .iter()
                        .take(5)
                        .map(|r| format!("row {}: {}", r.index, r.message))
                        .collect();
                    return Err(Error::Source {
                        backend: "bigquery",
                        code: Some(format!("{}", status.code)),
                        message: format!(
                            "AppendRows refused the rows: {}{}",
                            status.message,
                            if rows.is_empty() {
                                String::new()
                            } else {
                                format!(" ({})", rows.join("; "))
                            }
                        ),
                        retryable: false,
                    });
                }
                acknowledged += 1;
            }
            Ok::<usize, Error>(acknowledged)
        };
        let (produced, acknowledged) = futures::join!(producing, append);
        let (rows, appends) = produced?;
        let acknowledged = acknowledged?;
        if acknowledged < appends {
            return Err(Error::Source {
                backend: "bigquery",
                code: None,
                message: format!(
                    "AppendRows acknowledged {acknowledged} of {appends} appends; nothing was \
                     committed"
                ),
                retryable: true,
            });
        }
        if rows == 0 {
            return Ok(0);
        }
        self.write_client()
            .finalize_write_stream(
                self.request(
                    pb::FinalizeWriteStreamRequest {
                        name: stream.clone(),
                    },
                    format!("name={stream}"),
                )
                .await?,
            )
            .await
            .map_err(|s| self.status("FinalizeWriteStream", &s))?;
        let committed = self
            .write_client()
            .batch_commit_write_streams(
                self.request(
                    pb::BatchCommitWriteStreamsRequest {
                        parent: table.to_string(),
                        write_streams: vec![stream.clone()],
                    },
                    format!("parent={table}"),
                )
                .await?,
            )
            .await
            .map_err(|s| self.status("BatchCommitWriteStreams", &s))?
            .into_inner();
        if let Some(e) = committed.stream_errors.first() {
            return Err(Error::Source {
                backend: "bigquery",
                code: Some(format!("{}", e.code)),
                message: format!(
                    "the commit of the load failed, nothing was written: {}",
                    e.error_message
                ),
                retryable: false,
            });
        }
        if committed.commit_time.is_none() {
            return Err(Error::Source {
                backend: "bigquery",
                code: None,
                message:
                    "BatchCommitWriteStreams reported no commit time: the rows may not be visible"
                        .into(),
                retryable: false,
            });
        }
        Ok(rows)
    }
}

/// `dataset.table` of a write stream's name, for messages.
fn table_of(stream: &str) -> String {
    let parts: Vec<&str> = stream.split('/').collect();
    match parts.as_slice() {
        ["projects", _, "datasets", d, "tables", t, ..] => format!("{d}.{t}"),
        _ => stream.to_string(),
    }
}

/// The columns of `batch` cast to the table's types (by name); a column the table lacks is
/// an error naming it.
pub(crate) fn conform_to(table: &str, target: &Schema, batch: RecordBatch) -> Result<RecordBatch> {
    let mut fields = vec![];
    let mut columns = vec![];
    let mut problems = vec![];
    for (field, array) in batch.schema().fields().iter().zip(batch.columns()) {
        let Ok(want) = target.field_with_name(field.name()) else {
            problems.push(format!(
                "`{}` ({}) is not a column of the table",
                field.name(),
                field.data_type()
            ));
            continue;
        };
        let array = if array.data_type() == want.data_type() {
            array.clone()
        } else {
            arrow::compute::cast(array, want.data_type()).map_err(|e| Error::Value {
                column: field.name().clone(),
                message: format!(
                    "cannot load {} into {}: {e}",
                    array.data_type(),
                    want.data_type()
                ),
            })?
        };
        fields.push(Arc::new(want.as_ref().clone().with_nullable(true)));
        columns.push(array);
    }
    if !problems.is_empty() {
        return Err(Error::SchemaMismatch {
            table: table.to_string(),
            problems,
        });
    }
    Ok(RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        columns,
        &arrow::array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int32Array, StringArray};
    use arrow::datatypes::{DataType, Field};

    #[test]
    fn batches_are_cut_under_the_request_limit_and_cast_to_the_table() {
        let text: Vec<String> = (0..20_000).map(|i| format!("{i:0>1000}")).collect();
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("id", DataType::Int32, false),
                Field::new("s", DataType::Utf8, true),
            ])),
            vec![
                Arc::new(Int32Array::from_iter_values(0..20_000)),
                Arc::new(StringArray::from(text)),
            ],
        )
        .unwrap();
        let parts = slices(batch.clone());
        assert!(parts.len() > 2);
        assert_eq!(parts.iter().map(|p| p.num_rows()).sum::<usize>(), 20_000);
        assert!(parts
            .iter()
            .all(|p| Encoder::default().encode(p).unwrap().unwrap().1.len()
                <= APPEND_BYTES + 64 * 1024));
        let table = Schema::new(vec![
            Field::new("s", DataType::Utf8, true),
            Field::new("id", DataType::Int64, false),
        ]);
        let cast = conform_to("t", &table, batch.slice(0, 3)).unwrap();
        assert_eq!(cast.schema().field(0).data_type(), &DataType::Int64);
        let mut encoder = Encoder::default();
        let (schema, rows) = encoder.encode(&cast).unwrap().unwrap();
        let mut d = super::super::storage::Decoder::new(&schema.unwrap()).unwrap();
        assert_eq!(d.batch(rows).unwrap(), cast);
        // Later batches come without the schema; another schema is refused.
        let (again, rows) = encoder.encode(&cast).unwrap().unwrap();
        assert!(again.is_none());
        assert_eq!(d.batch(rows).unwrap(), cast);
        assert!(encoder.encode(&batch.slice(0, 1)).unwrap().is_none());
        let other = Schema::new(vec![Field::new("id", DataType::Int64, false)]);
        let e = conform_to("t", &other, batch.slice(0, 1))
            .unwrap_err()
            .to_string();
        assert!(e.contains("`s`"), "{e}");
        assert_eq!(table_of("projects/p/datasets/d/tables/t/streams/x"), "d.t");
    }
}
