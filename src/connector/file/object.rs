//! Folders on object storage: `s3://bucket/prefix/` (and `gs://`, `az://` through the same
//! `object_store` code). Every folder or file directly under the URL is a table named after it
//! without its extension, read by DataFusion's listing tables; `key=value/` folders inside a
//! table are hive-style partition columns.
//!
//! Options come from the URL's query (the `object_store` configuration keys: `endpoint`,
//! `region`, `access_key_id`, `secret_access_key`, `session_token`, `allow_http`, ...) over the
//! usual environment variables (`AWS_ENDPOINT`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`, ...).

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;

use datafusion::catalog::TableProvider;
use datafusion::datasource::listing::{ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::execution::context::SessionState;
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::ObjectStore;

use super::{FileKind, FolderSchema};
use crate::error::{redact_url, Error, Result};

/// The URL schemes of object storage.
pub(crate) const SCHEMES: &[&str] = &["s3", "gs", "az"];

/// A store for the bucket of `url`, configured by the URL's query options over the
/// environment; an unknown option is an error that lists the valid ones.
pub(crate) fn store(url: &url::Url) -> Result<Arc<dyn ObjectStore>> {
    let shown = redact_url(url.as_str());
    let bucket = url
        .host_str()
        .filter(|b| !b.is_empty())
        .ok_or_else(|| Error::InvalidUrl {
            url: shown.clone(),
            reason: format!("no bucket: {}://BUCKET/PREFIX/", url.scheme()),
        })?;
    let options: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let bad = |key: &str, e: &dyn std::fmt::Display| Error::InvalidUrl {
        url: shown.clone(),
        reason: format!("unknown option `{key}` ({e})"),
    };
    let built = match url.scheme() {
        "s3" => {
            use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
            let mut b = AmazonS3Builder::from_env().with_bucket_name(bucket);
            for (k, v) in &options {
                let key = AmazonS3ConfigKey::from_str(k).map_err(|e| bad(k, &e))?;
                b = b.with_config(key, v);
            }
            b.build().map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
        }
        "gs" => {
            use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
            let mut b = GoogleCloudStorageBuilder::from_env().with_bucket_name(bucket);
            for (k, v) in &options {
                let key = GoogleConfigKey::from_str(k).map_err(|e| bad(k, &e))?;
                b = b.with_config(key, v);
            }
            b.build().map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
        }
        "az" => {
            use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
            let mut b = MicrosoftAzureBuilder::from_env().with_container_name(bucket);
            for (k, v) in &options {
                let key = AzureConfigKey::from_str(k).map_err(|e| bad(k, &e))?;
                b = b.with_config(key, v);
            }
            b.build().map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
        }
        other => {
            return Err(Error::UnsupportedScheme {
                scheme: other.to_string(),
                known: "s3://, gs://, az://".into(),
            })
        }
    };
    built.map_err(|e| Error::InvalidUrl {
        url: shown,
        reason: e.to_string(),
    })
}

fn listing_error(target: &str, e: object_store::Error) -> Error {
    Error::Connection {
        target: target.to_string(),
        message: e.to_string(),
    }
}

/// Opens the folder `url` names on object storage as a schema of tables, registering the
/// bucket's store with the session.
pub(crate) async fn open(url: &str, state: &SessionState) -> Result<FolderSchema> {
    let shown = redact_url(url);
    let parsed = url::Url::parse(url).map_err(|e| Error::InvalidUrl {
        url: shown.clone(),
        reason: e.to_string(),
    })?;
    let store = store(&parsed)?;
    let bucket = parsed.host_str().unwrap_or_default().to_string();
    let root = format!("{}://{bucket}", parsed.scheme());
    let root_url = url::Url::parse(&root).map_err(|e| Error::InvalidUrl {
        url: shown.clone(),
        reason: e.to_string(),
    })?;
    state
        .runtime_env()
        .register_object_store(&root_url, store.clone());
    let prefix = parsed.path().trim_matches('/');
    let prefix = (!prefix.is_empty()).then(|| ObjectPath::from(prefix));
    let target = format!(
        "{root}/{}",
        prefix.as_ref().map(|p| p.as_ref()).unwrap_or("")
    );
    let listing = store
        .list_with_delimiter(prefix.as_ref())
        .await
        .map_err(|e| listing_error(&target, e))?;

    let mut found: BTreeMap<String, (String, FileKind, String)> = BTreeMap::new();
    for folder in &listing.common_prefixes {
        let Some(name) = folder.filename().map(str::to_string) else {
            continue;
        };
        // The table's format is that of its first file (below hive folders too).
        let first = store
            .list(Some(folder))
            .try_filter(|m| {
                futures::future::ready(FileKind::of_name(m.location.as_ref()).is_some())
            })
            .try_next()
            .await
            .map_err(|e| listing_error(&target, e))?;
        if let Some(first) = first {
            let location = first.location.as_ref();
            if let Some(kind) = FileKind::of_name(location) {
                found.insert(
                    name,
                    (format!("{root}/{folder}/"), kind, extension(location)),
                );
            }
        }
    }
    for object in &listing.objects {
        let location = object.location.as_ref();
        let Some(kind) = FileKind::of_name(location) else {
            continue;
        };
        let file = object.location.filename().unwrap_or(location);
        let stem = file.rsplit_once('.').map_or(file, |(s, _)| s).to_string();
        found
            .entry(stem)
            .or_insert((format!("{root}/{location}"), kind, extension(location)));
    }
    let mut tables = BTreeMap::new();
    for (name, (location, kind, ext)) in found {
        let provider = table(state, &location, kind, &ext)
            .await
            .map_err(|e| format!("table `{name}`: cannot read {location}: {e}"));
        tables.insert(name, provider);
    }
    Ok(FolderSchema { tables })
}

/// The extension of an object's name.
fn extension(location: &str) -> String {
    location
        .rsplit_once('.')
        .map(|(_, e)| e.to_string())
        .unwrap_or_default()
}

/// A listing table over one object or folder, with its hive partition columns.
async fn table(
    state: &SessionState,
    location: &str,
    kind: FileKind,
    ext: &str,
) -> Result<Arc<dyn TableProvider>> {
    let url = ListingTableUrl::parse(location)?;
    let mut options = kind.options(ext);
    if location.ends_with('/') {
        let columns = options.infer_partitions(state, &url).await?;
        if !columns.is_empty() {
            options = options.with_table_partition_cols(
                columns
                    .into_iter()
                    .map(|c| (c, arrow::datatypes::DataType::Utf8))
                    .collect(),
            );
        }
    }
    let schema = options.infer_schema(state, &url).await?;
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(schema);
    Ok(Arc::new(ListingTable::try_new(config)?))
}
