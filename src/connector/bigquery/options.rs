//! A BigQuery URL, read once into the options its source and connector share.
//!
//! `bigquery://PROJECT/DATASET?credentials=KEY.json&location=EU&endpoint=URL&grpc_endpoint=URL`

use std::path::PathBuf;
use std::time::Duration;

use crate::connector::options::UrlOptions;
use crate::error::{redact_url, Error, Result};

/// Google's REST endpoint.
pub const GOOGLE_REST: &str = "https://bigquery.googleapis.com";
/// Google's Storage API endpoint.
pub const GOOGLE_GRPC: &str = "https://bigquerystorage.googleapis.com";

/// Where the credentials come from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CredentialSource {
    /// A service-account key or an authorized-user file (`credentials=PATH`).
    File(PathBuf),
    /// Application-default credentials: `GOOGLE_APPLICATION_CREDENTIALS`, the gcloud ADC file,
    /// then the metadata server.
    ApplicationDefault,
    /// No credentials (an emulator; `credentials=none`).
    Anonymous,
}

/// Everything a BigQuery URL says.
#[derive(Clone)]
pub(crate) struct BqOptions {
    /// The project jobs run (and are billed) in; the URL's host.
    pub(crate) project: String,
    /// The dataset two-part names resolve in (the path, optional).
    pub(crate) dataset: Option<String>,
    /// Where jobs run (`US`, `EU`, `europe-west1`); BigQuery's default when absent.
    pub(crate) location: Option<String>,
    /// The REST API's base URL.
    pub(crate) endpoint: String,
    /// The Storage API's URL.
    pub(crate) grpc_endpoint: String,
    /// Where the credentials come from.
    pub(crate) credentials: CredentialSource,
    /// Read tables as they were at this instant (time travel), RFC 3339.
    pub(crate) snapshot_time: Option<chrono::DateTime<chrono::Utc>>,
    /// How long one request may take.
    pub(crate) request_timeout: Duration,
    /// How long a query job may run before the connector gives up waiting.
    pub(crate) job_timeout: Duration,
    /// Rows per page of a query result read through REST.
    pub(crate) page_rows: u32,
    /// The URL with its credentials masked, for messages.
    pub(crate) redacted: String,
}

impl std::fmt::Debug for BqOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BqOptions")
            .field("url", &self.redacted)
            .field("project", &self.project)
            .field("dataset", &self.dataset)
            .field("location", &self.location)
            .field("endpoint", &self.endpoint)
            .field("grpc_endpoint", &self.grpc_endpoint)
            .finish_non_exhaustive()
    }
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

impl BqOptions {
    /// Reads `url`. An unknown option is an error that lists the valid ones.
    pub(crate) fn parse(url: &str) -> Result<Self> {
        let redacted = redact_url(url);
        let bad = |reason: &str| Error::InvalidUrl {
            url: redacted.clone(),
            reason: reason.to_string(),
        };
        let parsed = url::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
        if !matches!(parsed.scheme(), "bigquery" | "bq") {
            return Err(Error::UnsupportedScheme {
                scheme: parsed.scheme().to_string(),
                known: "bigquery://".into(),
            });
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(bad(
                "BigQuery takes no user or password in the URL: give credentials=KEY.json",
            ));
        }
        let project = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .map(decode)
            .ok_or_else(|| bad("no project: bigquery://PROJECT/DATASET"))?;
        let segments: Vec<String> = parsed
            .path_segments()
            .map(|s| s.filter(|p| !p.is_empty()).map(decode).collect())
            .unwrap_or_default();
        let dataset = match segments.as_slice() {
            [] => None,
            [ds] => Some(ds.clone()),
            _ => return Err(bad("the path is one DATASET, nothing more")),
        };
        let mut options = UrlOptions::new(url, &parsed);
        let location = options.take("location");
        let endpoint = options.take("endpoint");
        let grpc_endpoint = options.take("grpc_endpoint");
        for (key, value) in [("endpoint", &endpoint), ("grpc_endpoint", &grpc_endpoint)] {
            if let Some(v) = value {
                if !(v.starts_with("http://") || v.starts_with("https://")) {
                    return Err(bad(&format!(
                        "{key} takes an http:// or https:// URL, not `{v}`"
                    )));
                }
            }
        }
        let emulated = endpoint.is_some() || grpc_endpoint.is_some();
        let credentials = match options.take("credentials") {
            Some(v) if v.eq_ignore_ascii_case("none") => CredentialSource::Anonymous,
            Some(v) if v.eq_ignore_ascii_case("default") => CredentialSource::ApplicationDefault,
            Some(path) => CredentialSource::File(PathBuf::from(path)),
            // An endpoint of one's own is an emulator or a proxy: anonymous unless told.
            None if emulated => CredentialSource::Anonymous,
            None => CredentialSource::ApplicationDefault,
        };
        let snapshot_time = options.parse(
            "snapshot_time",
            "an RFC 3339 instant like 2024-01-01T00:00:00Z",
            |v| {
                chrono::DateTime::parse_from_rfc3339(v)
                    .ok()
                    .map(|t| t.with_timezone(&chrono::Utc))
            },
        )?;
        let duration = |v: &str| crate::connector::executor::parse_duration(v);
        let request_timeout = options
            .parse("request_timeout", "a duration like 30s", duration)?
            .unwrap_or(Duration::from_secs(60));
        let job_timeout = options
            .parse("job_timeout", "a duration like 10m", duration)?
            .unwrap_or(Duration::from_secs(6 * 3600));
        let page_rows = options
            .parse("page_rows", "a positive number", |v| {
                v.parse::<u32>().ok().filter(|n| *n > 0)
            })?
            .unwrap_or(20_000);
        options.finish()?;
        let trim = |v: String| v.trim_end_matches('/').to_string();
        Ok(Self {
            project,
            dataset,
            location,
            endpoint: endpoint.map(trim).unwrap_or_else(|| GOOGLE_REST.into()),
            grpc_endpoint: grpc_endpoint
                .map(trim)
                .unwrap_or_else(|| GOOGLE_GRPC.into()),
            credentials,
            snapshot_time,
            request_timeout,
            job_timeout,
            page_rows,
            redacted,
        })
    }

    /// Where requests go, for messages.
    pub(crate) fn target(&self) -> String {
        if self.endpoint == GOOGLE_REST {
            format!("bigquery project {}", self.project)
        } else {
            format!("bigquery project {} at {}", self.project, self.endpoint)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_read_into_options() {
        let o = BqOptions::parse("bigquery://my-proj/sales?location=EU").unwrap();
        assert_eq!(o.project, "my-proj");
        assert_eq!(o.dataset.as_deref(), Some("sales"));
        assert_eq!(o.location.as_deref(), Some("EU"));
        assert_eq!(o.endpoint, GOOGLE_REST);
        assert_eq!(o.credentials, CredentialSource::ApplicationDefault);

        let o = BqOptions::parse(
            "bigquery://p/ds?endpoint=http://127.0.0.1:9050/&grpc_endpoint=http://127.0.0.1:9060",
        )
        .unwrap();
        assert_eq!(o.endpoint, "http://127.0.0.1:9050");
        assert_eq!(o.credentials, CredentialSource::Anonymous);
        assert!(o.target().contains("127.0.0.1:9050"));

        let o = BqOptions::parse("bq://p?credentials=/k.json&snapshot_time=2024-01-01T00:00:00Z")
            .unwrap();
        assert_eq!(o.dataset, None);
        assert_eq!(o.credentials, CredentialSource::File("/k.json".into()));
        assert!(o.snapshot_time.is_some());
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        let e = BqOptions::parse("bigquery://p/ds?colour=red").unwrap_err();
        assert!(e.to_string().contains("colour"), "{e}");
        let e = BqOptions::parse("bigquery://u:secret@p/ds").unwrap_err();
        assert!(!e.to_string().contains("secret"), "{e}");
        assert!(e.to_string().contains("credentials="), "{e}");
        let e = BqOptions::parse("bigquery://p/a/b").unwrap_err();
        assert!(e.to_string().contains("DATASET"), "{e}");
        let e = BqOptions::parse("bigquery://p/ds?endpoint=localhost:1").unwrap_err();
        assert!(e.to_string().contains("http://"), "{e}");
        let e = BqOptions::parse("bigquery://p/ds?snapshot_time=yesterday").unwrap_err();
        assert!(e.to_string().contains("RFC 3339"), "{e}");
    }
}
