//! The BigQuery connector: statements as query jobs with named parameters (`@p1`, `@p2`, ...,
//! bound from the values given, never written into the SQL), their results paged through REST,
//! the job's id on every outcome and error, and bulk loads through the Storage Write API.
//!
//! BigQuery has no transactions over the API: [`Connector::transaction`] says so.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use arrow::datatypes::{Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::execution::SendableRecordBatchStream;
use futures::StreamExt;
use serde_json::Value as Json;

use super::rest::{QueryJob, QueryPage};
use super::{types, write, Client};
use crate::connector::executor::{BatchStream, BulkOptions, CsvOptions, PoolStatus, TableName};
use crate::connector::{Connector, Executor, Transaction, Value};
use crate::error::{Error, Result};
use crate::schema::schema_of;

/// The outcome of one query job.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct JobOutcome {
    /// The job's id (`bq show -j ID`); `None` for a dry run.
    pub job_id: Option<String>,
    /// Rows a DML statement changed.
    pub affected_rows: Option<u64>,
    /// Bytes the job read (what on-demand pricing bills).
    pub bytes_processed: Option<u64>,
}

/// The format of a file a load job reads.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum LoadFormat {
    /// CSV: the header line is skipped; columns are matched to the table's by position.
    Csv(CsvOptions),
    /// One JSON object per line, matched to the table's columns by name.
    JsonLines,
    /// Parquet, matched to the table's columns by name.
    Parquet,
}

/// A BigQuery project as a connector (see [`Connector`]).
pub struct BigQueryConnector {
    client: Arc<Client>,
    closed: AtomicBool,
}

impl std::fmt::Debug for BigQueryConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BigQueryConnector")
            .field("options", self.client.options())
            .finish_non_exhaustive()
    }
}

/// Results of at least this many REST pages are read through the Storage Read API.
const LARGE_RESULT_PAGES: u64 = 4;

/// The type of a NULL parameter: BigQuery types every parameter.
const NULL_TYPE: &str = "STRING";

fn parameters(params: &[Value]) -> Result<Vec<Json>> {
    params
        .iter()
        .enumerate()
        .map(|(i, v)| types::parameter(&format!("p{}", i + 1), v, NULL_TYPE))
        .collect()
}

impl BigQueryConnector {
    /// Opens a connector for a `bigquery://` URL and checks that BigQuery answers.
    pub async fn connect(url: &str) -> Result<Self> {
        let connector = Self::from_client(Client::open(url).await?);
        connector.ping().await?;
        Ok(connector)
    }

    pub(crate) fn from_client(client: Arc<Client>) -> Self {
        Self {
            client,
            closed: AtomicBool::new(false),
        }
    }

    fn open(&self) -> Result<&Client> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Connection {
                target: self.client.rest.target().to_string(),
                message: "the connector was disconnected".into(),
            });
        }
        Ok(&self.client)
    }

    /// The dataset of a table name: its schema, else the URL's dataset.
    fn dataset_of<'a>(&'a self, table: &'a TableName) -> Result<&'a str> {
        if let Some(ds) = table.schema.as_deref().filter(|s| !s.is_empty()) {
            return Ok(ds);
        }
        self.client.options().dataset.as_deref().ok_or_else(|| {
            Error::Config(format!(
                "`{}` names no dataset and the URL has none: write dataset.table",
                table.table
            ))
        })
    }

    async fn job(&self, sql: &str, params: &[Value], dry_run: bool) -> Result<QueryPage> {
        let client = self.open()?;
        client
            .rest
            .query(&QueryJob {
                sql: sql.to_string(),
                parameters: parameters(params)?,
                dry_run,
            })
            .await
    }

    /// Runs a statement as a query job and returns the job's id with what it did.
    pub async fn execute_job(&self, sql: &str, params: &[Value]) -> Result<JobOutcome> {
        let page = self.job(sql, params, false).await?;
        Ok(JobOutcome {
            job_id: page.job_id,
            affected_rows: page.affected,
            bytes_processed: page.bytes_processed,
        })
    }

    /// The bytes a query would read (a dry run: nothing runs, nothing is billed).
    pub async fn dry_run(&self, sql: &str, params: &[Value]) -> Result<Option<u64>> {
        Ok(self.job(sql, params, true).await?.bytes_processed)
    }

    /// A result of more than [`LARGE_RESULT_PAGES`] pages, read from the job's destination
    /// table through the Storage Read API (one stream, which keeps an ORDER BY's order);
    /// `None`: read the REST pages (a small result, or an endpoint whose Storage API cannot
    /// read the destination, as the emulator's cannot).
    async fn read_large_result(
        &self,
        first: &QueryPage,
        schema: &SchemaRef,
    ) -> Option<BatchStream<'static>> {
        let pages = first.total_rows? / u64::from(self.client.options().page_rows).max(1);
        if first.page_token.is_none() || pages < LARGE_RESULT_PAGES {
            return None;
        }
        let attempt =
            async {
                let table =
                    self.client.rest.destination(first).await?.ok_or_else(|| {
                        Error::Config("the job names no destination table".into())
                    })?;
                let session = self
                    .client
                    .storage
                    .session(&super::storage::SessionRequest {
                        table: table.clone(),
                        fields: vec![],
                        row_restriction: None,
                        max_streams: 1,
                    })
                    .await?;
                let columns = first
                    .fields
                    .iter()
                    .map(types::column_spec)
                    .collect::<Result<Vec<_>>>()?;
                let request = crate::read::ScanRequest {
                    queries: session.streams.clone(),
                    pre_execution: vec![],
                    columns,
                    schema: schema.clone(),
                    batch_size: crate::connector::executor::RESULT_BATCH_ROWS,
                    limit: None,
                };
                let reader = super::storage::SessionReader {
                    storage: self.client.storage.clone(),
                    session,
                    table,
                };
                use crate::read::ScanReader;
                Ok::<_, Error>(
                    reader
                        .spawn(request, crate::read::ReadMetrics::default(), None)
                        .into_stream(),
                )
            };
        match attempt.await {
            Ok(stream) => Some(stream),
            Err(e) => {
                log::debug!("reading the REST pages of job {:?}: {e}", first.job_id);
                None
            }
        }
    }

    /// Appends a local file to `table` with one load job (all or nothing: a bad row fails the
    /// job and nothing is written). The file is sent in one multipart upload, so it is held in
    /// memory while it is sent; the job's id and the rows it wrote are returned.
    pub async fn load_file(
        &self,
        table: &TableName,
        path: impl AsRef<std::path::Path>,
        format: LoadFormat,
    ) -> Result<JobOutcome> {
        let client = self.open()?;
        let dataset = self.dataset_of(table)?;
        let mut load = serde_json::json!({
            "destinationTable": {
                "projectId": client.options().project,
                "datasetId": dataset,
                "tableId": table.table,
            },
            "writeDisposition": "WRITE_APPEND",
            "createDisposition": "CREATE_NEVER",
        });
        match &format {
            LoadFormat::Csv(csv) => {
                if csv.columns.is_some() {
                    return Err(Error::Config(
                        "BigQuery loads CSV columns by position in the table's order: write \
                         the file in that order instead of naming columns"
                            .into(),
                    ));
                }
                load["sourceFormat"] = "CSV".into();
                load["skipLeadingRows"] = u32::from(csv.header).into();
                load["fieldDelimiter"] = (csv.delimiter as char).to_string().into();
                load["quote"] = (csv.quote as char).to_string().into();
                load["nullMarker"] = csv.null.clone().into();
            }
            LoadFormat::JsonLines => load["sourceFormat"] = "NEWLINE_DELIMITED_JSON".into(),
            LoadFormat::Parquet => load["sourceFormat"] = "PARQUET".into(),
        }
        let path = path.as_ref();
        let data = tokio::fs::read(path).await.map_err(|e| {
            Error::Io(std::io::Error::new(
                e.kind(),
                format!("cannot read {}: {e}", path.display()),
            ))
        })?;
        if client.columns(dataset, &table.table).await?.is_none() {
            return Err(Error::UnknownTable(table.to_string()));
        }
        let job = client.rest.load_job(load, data).await?;
        let rows = job["statistics"]["load"]["outputRows"]
            .as_str()
            .and_then(|n| n.parse().ok())
            .or_else(|| job["statistics"]["load"]["outputRows"].as_u64());
        Ok(JobOutcome {
            job_id: job["jobReference"]["jobId"].as_str().map(str::to_string),
            affected_rows: rows,
            bytes_processed: None,
        })
    }

    /// Creates a table for an Arrow schema (types: the read mapping inverted).
    pub async fn create_table(&self, table: &TableName, schema: &Schema) -> Result<()> {
        let dataset = self.dataset_of(table)?;
        let fields = schema
            .fields()
            .iter()
            .map(|f| {
                types::schema_field(f).ok_or_else(|| Error::UnsupportedType {
                    column: f.name().clone(),
                    data_type: f.data_type().to_string(),
                    hint: "cast it to a type BigQuery can store before loading".into(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        self.open()?
            .rest
            .create_table(dataset, &table.table, Json::Array(fields))
            .await
    }

    /// Drops a table (no error when there is none).
    pub async fn drop_table(&self, table: &TableName) -> Result<()> {
        let dataset = self.dataset_of(table)?;
        self.open()?.rest.delete_table(dataset, &table.table).await
    }
}

#[async_trait]
impl Executor for BigQueryConnector {
    fn backend(&self) -> &'static str {
        "bigquery"
    }

    async fn query(&self, sql: &str, params: &[Value]) -> Result<BatchStream<'_>> {
        let first = self.job(sql, params, false).await?;
        let schema = types::result_schema(&first.fields)?;
        if let Some(stream) = self.read_large_result(&first, &schema).await {
            return Ok(stream);
        }
        let rest = self.client.rest.clone();
        // Page by page: each page is one batch, the next asked for when it is wanted.
        let pages = futures::stream::try_unfold(Some(first), move |page| {
            let rest = rest.clone();
            let schema = schema.clone();
            async move {
                let Some(page) = page else {
                    return Ok(None);
                };
                let batch = types::rows_to_batch(&schema, &page.rows)?;
                let next = rest.next_page(&page).await?;
                Ok(Some((batch, next)))
            }
        });
        Ok(pages
            .filter(|b| futures::future::ready(b.as_ref().map_or(true, |b| b.num_rows() > 0)))
            .boxed())
    }

    async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64> {
        Ok(self
            .execute_job(sql, params)
            .await?
            .affected_rows
            .unwrap_or(0))
    }

    async fn execute_many(&self, sql: &str, rows: &[Vec<Value>]) -> Result<u64> {
        // One job per row: BigQuery has no prepared statements (bulk_insert loads many rows).
        let mut total = 0;
        for row in rows {
            total += self.execute(sql, row).await?;
        }
        Ok(total)
    }

    async fn bulk_insert(
        &self,
        table: &TableName,
        batches: SendableRecordBatchStream,
        options: &BulkOptions,
    ) -> Result<u64> {
        let client = self.open()?;
        let dataset = self.dataset_of(table)?.to_string();
        let columns = match client.columns(&dataset, &table.table).await? {
            Some(c) => c,
            None if options.create_if_missing => {
                self.create_table(table, &batches.schema()).await?;
                client
                    .columns(&dataset, &table.table)
                    .await?
                    .ok_or_else(|| Error::UnknownTable(table.to_string()))?
            }
            None => return Err(Error::UnknownTable(table.to_string())),
        };
        let target = schema_of(&columns);
        let name = format!("{dataset}.{}", table.table);
        client
            .storage
            .load(
                &client.table_path(&dataset, &table.table),
                batches,
                move |b| write::conform_to(&name, &target, b),
            )
            .await
    }

    async fn table_schema(&self, table: &TableName) -> Result<Option<SchemaRef>> {
        let dataset = self.dataset_of(table)?;
        Ok(self
            .open()?
            .columns(dataset, &table.table)
            .await?
            .map(|c| schema_of(&c)))
    }
}

#[async_trait]
impl Connector for BigQueryConnector {
    async fn transaction(&self) -> Result<Box<dyn Transaction>> {
        Err(Error::Config(
            "BigQuery has no transactions over the API: run the statements as one script \
             (BEGIN TRANSACTION; ...; COMMIT TRANSACTION;) with execute, or load the rows \
             with bulk_insert, which is all or nothing"
                .into(),
        ))
    }

    async fn disconnect(&self) -> Result<()> {
        self.closed.store(true, Ordering::Release);
        Ok(())
    }

    fn pool_status(&self) -> PoolStatus {
        // HTTP/2 connections are the client's own business: none is held for the caller.
        PoolStatus {
            connections: 0,
            idle: 0,
        }
    }

    async fn ping(&self) -> Result<()> {
        let rows = self.job("SELECT 1", &[], false).await?;
        if rows.rows.len() != 1 {
            return Err(Error::Source {
                backend: "bigquery",
                code: None,
                message: format!("SELECT 1 returned {} rows", rows.rows.len()),
                retryable: false,
            });
        }
        Ok(())
    }

    fn bulk_method(&self) -> &'static str {
        "Storage Write API (PENDING stream, Arrow rows, batch commit)"
    }
}
