//! The REST API (`bigquery/v2`): the catalog (datasets, tables), query jobs polled to completion
//! and their result pages. Every error names the job it came from and says whether trying
//! again may succeed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};

use super::auth::Auth;
use super::options::BqOptions;
use crate::error::{Error, Result};

/// The REST side of one BigQuery URL.
pub(crate) struct Rest {
    http: reqwest::Client,
    auth: Auth,
    options: Arc<BqOptions>,
    target: String,
}

impl std::fmt::Debug for Rest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rest")
            .field("target", &self.target)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

/// One page of a query job's result.
#[derive(Debug, Clone)]
pub(crate) struct QueryPage {
    /// The job's id (`None` for a dry run, which is no job).
    pub(crate) job_id: Option<String>,
    /// Where the job ran.
    pub(crate) location: Option<String>,
    /// The result's fields (`schema.fields`), empty for DML and DDL.
    pub(crate) fields: Vec<Json>,
    /// This page's rows (`{"f": [{"v": ...}]}` each).
    pub(crate) rows: Vec<Json>,
    /// The next page, if any.
    pub(crate) page_token: Option<String>,
    /// Rows changed by a DML statement.
    pub(crate) affected: Option<u64>,
    /// Bytes the job reads (and bills, for on-demand pricing).
    pub(crate) bytes_processed: Option<u64>,
    /// Rows in the whole result.
    pub(crate) total_rows: Option<u64>,
}

/// A query job request.
#[derive(Debug, Clone, Default)]
pub(crate) struct QueryJob {
    /// GoogleSQL text.
    pub(crate) sql: String,
    /// Named parameters (`queryParameters` entries).
    pub(crate) parameters: Vec<Json>,
    /// Only validate and estimate the bytes read.
    pub(crate) dry_run: bool,
}

fn number(v: Option<&Json>) -> Option<u64> {
    match v? {
        Json::String(s) => s.parse().ok(),
        Json::Number(n) => n.as_u64(),
        _ => None,
    }
}

impl Rest {
    pub(crate) async fn new(options: Arc<BqOptions>) -> Result<Self> {
        let target = options.target();
        let auth = Auth::new(&options.credentials, &target).await?;
        let http = reqwest::Client::builder()
            .timeout(options.request_timeout)
            .connect_timeout(Duration::from_secs(30).min(options.request_timeout))
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            http,
            auth,
            options,
            target,
        })
    }

    pub(crate) fn options(&self) -> &BqOptions {
        &self.options
    }

    pub(crate) fn target(&self) -> &str {
        &self.target
    }

    /// The `Authorization` header value, when requests carry one (also for the Storage API).
    pub(crate) async fn bearer(&self) -> Result<Option<String>> {
        self.auth.bearer(&self.target).await
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/bigquery/v2/projects/{}{path}",
            self.options.endpoint,
            enc(&self.options.project)
        )
    }

    /// Sends a request; a non-2xx answer becomes an error. `Ok(None)` for a 404 when
    /// `missing_ok`.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Json>,
        missing_ok: bool,
    ) -> Result<Option<Json>> {
        let mut request = self.http.request(method, self.url(path)).query(query);
        if let Some(b) = body {
            request = request.json(b);
        }
        self.answer(request, missing_ok).await
    }

    /// Sends a built request with the credentials; a non-2xx answer becomes an error.
    async fn answer(
        &self,
        mut request: reqwest::RequestBuilder,
        missing_ok: bool,
    ) -> Result<Option<Json>> {
        if let Some(bearer) = self.bearer().await? {
            request = request.header(reqwest::header::AUTHORIZATION, bearer);
        }
        let response = request.send().await.map_err(|e| self.transport(e))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| self.transport(e))?;
        if status.is_success() {
            if text.trim().is_empty() {
                return Ok(Some(Json::Null));
            }
            return serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| Error::Source {
                    backend: "bigquery",
                    code: None,
                    message: format!("the REST API sent an answer that is not JSON ({e})"),
                    retryable: false,
                });
        }
        if status.as_u16() == 404 && missing_ok {
            return Ok(None);
        }
        let parsed: Json = serde_json::from_str(&text).unwrap_or(Json::Null);
        let error = &parsed["error"];
        let reason = error["errors"][0]["reason"]
            .as_str()
            .or_else(|| error["status"].as_str())
            .unwrap_or("");
        let message = error["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| {
                format!(
                    "HTTP {status}: {}",
                    text.chars().take(200).collect::<String>()
                )
            });
        Err(self.error(Some(status.as_u16()), reason, &message, None))
    }

    fn transport(&self, e: reqwest::Error) -> Error {
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        if e.is_timeout() {
            return Error::Source {
                backend: "bigquery",
                code: Some("timeout".into()),
                message: format!(
                    "no answer within request_timeout ({:?}): {message}",
                    self.options.request_timeout
                ),
                retryable: true,
            };
        }
        Error::Connection {
            target: self.target.clone(),
            message,
        }
    }

    /// The error for a BigQuery `reason` (`invalidQuery`, `notFound`, ...).
    pub(crate) fn error(
        &self,
        http: Option<u16>,
        reason: &str,
        message: &str,
        job: Option<&str>,
    ) -> Error {
        let message = match job {
            Some(id) => format!("{message} (job {id})"),
            None => message.to_string(),
        };
        if http == Some(401) || reason == "authError" || reason == "UNAUTHENTICATED" {
            return Error::Authentication {
                target: self.target.clone(),
                message: format!(
                    "{message}: check the credentials (credentials=KEY.json or \
                     GOOGLE_APPLICATION_CREDENTIALS) and that the key is not revoked"
                ),
            };
        }
        if reason == "invalidQuery" && message.contains("Syntax error") {
            return Error::Syntax {
                backend: "bigquery",
                code: reason.into(),
                message,
            };
        }
        let retryable = matches!(
            reason,
            "backendError"
                | "internalError"
                | "rateLimitExceeded"
                | "jobRateLimitExceeded"
                | "jobBackendError"
                | "INTERNAL"
                | "UNAVAILABLE"
        ) || matches!(http, Some(429 | 500 | 502 | 503 | 504));
        Error::Source {
            backend: "bigquery",
            code: (!reason.is_empty()).then(|| reason.to_string()),
            message,
            retryable,
        }
    }

    async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Json> {
        Ok(self
            .send(reqwest::Method::GET, path, query, None, false)
            .await?
            .unwrap_or(Json::Null))
    }

    /// Every page of a list call, the items under `key`.
    async fn list(&self, path: &str, key: &str) -> Result<Vec<Json>> {
        let mut out = vec![];
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![("maxResults", "1000".to_string())];
            if let Some(t) = &token {
                query.push(("pageToken", t.clone()));
            }
            let page = self.get(path, &query).await?;
            if let Some(items) = page[key].as_array() {
                out.extend(items.iter().cloned());
            }
            match page["nextPageToken"].as_str() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(out),
            }
        }
    }

    /// The project's datasets.
    pub(crate) async fn datasets(&self) -> Result<Vec<String>> {
        let items = self.list("/datasets", "datasets").await?;
        Ok(items
            .iter()
            .filter_map(|d| {
                d["datasetReference"]["datasetId"]
                    .as_str()
                    .map(str::to_string)
            })
            .collect())
    }

    /// The tables (and views) of a dataset.
    pub(crate) async fn tables(&self, dataset: &str) -> Result<Vec<String>> {
        let items = self
            .list(&format!("/datasets/{}/tables", enc(dataset)), "tables")
            .await?;
        Ok(items
            .iter()
            .filter_map(|t| t["tableReference"]["tableId"].as_str().map(str::to_string))
            .collect())
    }

    /// A table's resource (schema, type, row count); `None` when it does not exist.
    pub(crate) async fn table(&self, dataset: &str, table: &str) -> Result<Option<Json>> {
        self.send(
            reqwest::Method::GET,
            &format!("/datasets/{}/tables/{}", enc(dataset), enc(table)),
            &[],
            None,
            true,
        )
        .await
    }

    /// Creates a table from its resource (`schema.fields`).
    pub(crate) async fn create_table(
        &self,
        dataset: &str,
        table: &str,
        fields: Json,
    ) -> Result<()> {
        let body = json!({
            "tableReference": {
                "projectId": self.options.project,
                "datasetId": dataset,
                "tableId": table,
            },
            "schema": { "fields": fields },
        });
        self.send(
            reqwest::Method::POST,
            &format!("/datasets/{}/tables", enc(dataset)),
            &[],
            Some(&body),
            false,
        )
        .await?;
        Ok(())
    }

    /// Deletes a table (no error when it is gone already).
    pub(crate) async fn delete_table(&self, dataset: &str, table: &str) -> Result<()> {
        self.send(
            reqwest::Method::DELETE,
            &format!("/datasets/{}/tables/{}", enc(dataset), enc(table)),
            &[],
            None,
            true,
        )
        .await?;
        Ok(())
    }

    /// Runs a query job (`jobs.query`) and waits for it to complete; the first page of its
    /// result comes with it.
    pub(crate) async fn query(&self, job: &QueryJob) -> Result<QueryPage> {
        let mut body = json!({
            "query": job.sql,
            "useLegacySql": false,
            "maxResults": self.options.page_rows,
            "timeoutMs": 10_000,
            "formatOptions": { "useInt64Timestamp": true },
            "dryRun": job.dry_run,
        });
        if !job.parameters.is_empty() {
            body["parameterMode"] = json!("NAMED");
            body["queryParameters"] = Json::Array(job.parameters.clone());
        }
        if let Some(location) = &self.options.location {
            body["location"] = json!(location);
        }
        if let Some(ds) = &self.options.dataset {
            body["defaultDataset"] = json!({ "projectId": self.options.project, "datasetId": ds });
        }
        let started = Instant::now();
        let answer = self
            .send(reqwest::Method::POST, "/queries", &[], Some(&body), false)
            .await?
            .unwrap_or(Json::Null);
        let mut page = self.page(&answer)?;
        let mut complete = answer["jobComplete"].as_bool().unwrap_or(true);
        while !complete {
            let Some(id) = page.job_id.clone() else {
                break;
            };
            if started.elapsed() > self.options.job_timeout {
                return Err(Error::Source {
                    backend: "bigquery",
                    code: Some("timeout".into()),
                    message: format!(
                        "job {id} did not complete within job_timeout ({:?}); it may still be \
                         running: cancel it with `bq cancel {id}`",
                        self.options.job_timeout
                    ),
                    retryable: false,
                });
            }
            let answer = self.results(&id, page.location.as_deref(), None).await?;
            complete = answer["jobComplete"].as_bool().unwrap_or(true);
            page = self.page(&answer)?;
        }
        Ok(page)
    }

    /// The next page of a completed job's result.
    pub(crate) async fn next_page(&self, previous: &QueryPage) -> Result<Option<QueryPage>> {
        let (Some(id), Some(token)) = (&previous.job_id, &previous.page_token) else {
            return Ok(None);
        };
        let answer = self
            .results(id, previous.location.as_deref(), Some(token))
            .await?;
        let mut page = self.page(&answer)?;
        // The page's fields and affected count belong to the job; keep them.
        if page.fields.is_empty() {
            page.fields = previous.fields.clone();
        }
        Ok(Some(page))
    }

    /// Starts a load job that reads `data` (a multipart upload: the job's configuration, then
    /// the file) and waits for it to finish; the job's resource.
    pub(crate) async fn load_job(&self, load: Json, data: Vec<u8>) -> Result<Json> {
        let mut config = json!({ "configuration": { "load": load } });
        if let Some(l) = &self.options.location {
            config["jobReference"] = json!({ "projectId": self.options.project, "location": l });
        }
        let boundary = format!("vp-{:016x}", rand_boundary());
        let mut body = format!(
            "--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{config}\r\n\
             --{boundary}\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(&data);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let url = format!(
            "{}/upload/bigquery/v2/projects/{}/jobs",
            self.options.endpoint,
            enc(&self.options.project)
        );
        let request = self
            .http
            .post(url)
            .query(&[("uploadType", "multipart")])
            .header(
                reqwest::header::CONTENT_TYPE,
                format!("multipart/related; boundary={boundary}"),
            )
            .body(body);
        let mut job = self.answer(request, false).await?.unwrap_or(Json::Null);
        let started = Instant::now();
        loop {
            let id = job["jobReference"]["jobId"]
                .as_str()
                .unwrap_or("")
                .to_string();
            if let Some(e) = job["status"]["errorResult"].as_object() {
                let reason = e.get("reason").and_then(|r| r.as_str()).unwrap_or("");
                let mut message = e
                    .get("message")
                    .and_then(|m| m.as_str())
                    .unwrap_or("the load job failed")
                    .to_string();
                if let Some(first) = job["status"]["errors"].as_array().and_then(|e| e.get(1)) {
                    if let Some(m) = first["message"].as_str() {
                        message.push_str(&format!("; {m}"));
                    }
                }
                return Err(self.error(None, reason, &message, Some(&id)));
            }
            if job["status"]["state"].as_str() == Some("DONE") {
                return Ok(job);
            }
            if started.elapsed() > self.options.job_timeout {
                return Err(Error::Source {
                    backend: "bigquery",
                    code: Some("timeout".into()),
                    message: format!(
                        "load job {id} did not finish within job_timeout ({:?})",
                        self.options.job_timeout
                    ),
                    retryable: false,
                });
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            let mut query = vec![];
            if let Some(l) = job["jobReference"]["location"].as_str() {
                query.push(("location", l.to_string()));
            }
            job = self.get(&format!("/jobs/{}", enc(&id)), &query).await?;
        }
    }

    /// The table a completed query job wrote its result to (`projects/P/datasets/D/tables/T`).
    pub(crate) async fn destination(&self, page: &QueryPage) -> Result<Option<String>> {
        let Some(id) = &page.job_id else {
            return Ok(None);
        };
        let mut query = vec![];
        if let Some(l) = page
            .location
            .as_deref()
            .or(self.options.location.as_deref())
        {
            query.push(("location", l.to_string()));
        }
        let job = self.get(&format!("/jobs/{}", enc(id)), &query).await?;
        let t = &job["configuration"]["query"]["destinationTable"];
        Ok(
            match (
                t["projectId"].as_str(),
                t["datasetId"].as_str(),
                t["tableId"].as_str(),
            ) {
                (Some(p), Some(d), Some(t)) => {
                    Some(format!("projects/{p}/datasets/{d}/tables/{t}"))
                }
                _ => None,
            },
        )
    }

    async fn results(&self, id: &str, location: Option<&str>, token: Option<&str>) -> Result<Json> {
        let mut query = vec![
            ("maxResults", self.options.page_rows.to_string()),
            ("timeoutMs", "10000".to_string()),
            ("formatOptions.useInt64Timestamp", "true".to_string()),
        ];
        if let Some(l) = location.or(self.options.location.as_deref()) {
            query.push(("location", l.to_string()));
        }
        if let Some(t) = token {
            query.push(("pageToken", t.to_string()));
        }
        self.get(&format!("/queries/{}", enc(id)), &query).await
    }

    /// Reads a `jobs.query` / `jobs.getQueryResults` answer; errors in it become an error.
    fn page(&self, answer: &Json) -> Result<QueryPage> {
        let job_id = answer["jobReference"]["jobId"].as_str().map(str::to_string);
        if let Some(first) = answer["errors"].as_array().and_then(|e| e.first()) {
            let reason = first["reason"].as_str().unwrap_or("");
            let message = first["message"].as_str().unwrap_or("the query failed");
            return Err(self.error(None, reason, message, job_id.as_deref()));
        }
        Ok(QueryPage {
            location: answer["jobReference"]["location"]
                .as_str()
                .map(str::to_string),
            job_id,
            fields: answer["schema"]["fields"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
            rows: answer["rows"].as_array().cloned().unwrap_or_default(),
            page_token: answer["pageToken"]
                .as_str()
                .filter(|t| !t.is_empty())
                .map(str::to_string),
            affected: number(answer.get("numDmlAffectedRows")),
            bytes_processed: number(answer.get("totalBytesProcessed")),
            total_rows: number(answer.get("totalRows")),
        })
    }
}

/// A multipart boundary that the data is unlikely to contain.
fn rand_boundary() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.finish()
}

/// A path segment, percent-encoded.
fn enc(segment: &str) -> String {
    percent_encoding::utf8_percent_encode(segment, percent_encoding::NON_ALPHANUMERIC)
        .to_string()
        .replace("%2D", "-")
        .replace("%5F", "_")
}
