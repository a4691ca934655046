//! Where outputs go and stored datasets live: a local folder or file (a path or a `file://`
//! URL) or a prefix on object storage (`s3://`, `gs://`, `az://`), as an [`ObjectStore`] and a
//! path inside it. Writing through `object_store` gives local disk and buckets one code path:
//! multipart uploads that publish an object only when completed (a staging file renamed into
//! place, on local disk).

use std::sync::Arc;

use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::ObjectStore;

use crate::error::{redact_url, Error, Result};

/// A place on local disk or object storage.
#[derive(Debug, Clone)]
pub struct Location {
    /// The store holding it.
    pub store: Arc<dyn ObjectStore>,
    /// The path inside the store (no leading `/`).
    pub path: ObjectPath,
    /// The URL of the store's root (`file:///`, `s3://bucket`), for registering the store with
    /// a DataFusion session.
    pub root: url::Url,
    /// The location as shown in messages, credentials masked.
    pub shown: String,
    /// Whether it names a folder (a trailing `/`, an existing local directory, or a last
    /// segment without an extension) rather than one file.
    pub is_dir: bool,
}

impl Location {
    /// The URL of `path` inside this location's store, as DataFusion's listing tables take it.
    pub fn url_of(&self, path: &ObjectPath) -> String {
        let root = self.root.as_str().trim_end_matches('/');
        format!("{root}/{path}")
    }
}

fn looks_like_dir(last: &str) -> bool {
    last.is_empty() || !last.contains('.')
}

/// Resolves `url_or_path`: a local path (relative paths against the working directory), a
/// `file://` URL, or an object storage URL configured by its query options over the
/// environment (see the module `object`).
pub fn location(url_or_path: &str) -> Result<Location> {
    let shown = redact_url(url_or_path);
    let scheme = url_or_path
        .split_once("://")
        .map(|(s, _)| s.to_ascii_lowercase());
    match scheme.as_deref() {
        None | Some("file") => {
            let path = super::super::local_path(url_or_path)?;
            let path = std::path::absolute(&path).map_err(|e| Error::InvalidUrl {
                url: shown.clone(),
                reason: e.to_string(),
            })?;
            let trailing = url_or_path.ends_with('/');
            let last = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            let is_dir = trailing || path.is_dir() || looks_like_dir(&last);
            let object_path =
                ObjectPath::from_absolute_path(&path).map_err(|e| Error::InvalidUrl {
                    url: shown.clone(),
                    reason: e.to_string(),
                })?;
            Ok(Location {
                store: Arc::new(LocalFileSystem::new()),
                path: object_path,
                root: url::Url::parse("file:///").expect("a valid URL"),
                shown,
                is_dir,
            })
        }
        #[cfg(feature = "object-store")]
        Some(s) if super::object::SCHEMES.contains(&s) => {
            let parsed = url::Url::parse(url_or_path).map_err(|e| Error::InvalidUrl {
                url: shown.clone(),
                reason: e.to_string(),
            })?;
            let store = super::object::store(&parsed)?;
            let bucket = parsed.host_str().unwrap_or_default();
            let root =
                url::Url::parse(&format!("{}://{bucket}", parsed.scheme())).map_err(|e| {
                    Error::InvalidUrl {
                        url: shown.clone(),
                        reason: e.to_string(),
                    }
                })?;
            let raw = parsed.path();
            let decoded = percent_encoding::percent_decode_str(raw.trim_matches('/'))
                .decode_utf8_lossy()
                .into_owned();
            let path = ObjectPath::parse(&decoded).map_err(|e| Error::InvalidUrl {
                url: shown.clone(),
                reason: e.to_string(),
            })?;
            let last = decoded.rsplit('/').next().unwrap_or_default();
            Ok(Location {
                store,
                path,
                root,
                is_dir: raw.ends_with('/') || looks_like_dir(last),
                shown,
            })
        }
        Some(other) => Err(Error::UnsupportedScheme {
            scheme: other.to_string(),
            known: if cfg!(feature = "object-store") {
                "a path, file://, s3://, gs:// or az://".into()
            } else {
                "a path or file:// (object storage needs the `object-store` feature)".into()
            },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_and_urls() {
        let dir = tempfile::tempdir().unwrap();
        let d = location(&format!("{}/out/", dir.path().display())).unwrap();
        assert!(d.is_dir);
        assert!(d.path.as_ref().ends_with("out"), "{}", d.path);
        let f = location(&format!("file://{}/x.parquet", dir.path().display())).unwrap();
        assert!(!f.is_dir);
        assert_eq!(f.path.filename(), Some("x.parquet"));
        assert!(
            location(&format!("{}/plain", dir.path().display()))
                .unwrap()
                .is_dir
        );
        assert!(matches!(
            location("ftp://h/x").unwrap_err(),
            Error::UnsupportedScheme { .. }
        ));
    }

    #[cfg(feature = "object-store")]
    #[test]
    fn object_storage_urls_keep_secrets_out_of_messages() {
        let l = location(
            "s3://bucket/data/out/?region=us-east-1&secret_access_key=hunter2&access_key_id=a",
        )
        .unwrap();
        assert!(l.is_dir);
        assert_eq!(l.path.as_ref(), "data/out");
        assert_eq!(l.root.as_str(), "s3://bucket");
        assert!(!l.shown.contains("hunter2"), "{}", l.shown);
        assert_eq!(l.url_of(&l.path), "s3://bucket/data/out");
        let f = location("s3://bucket/x.parquet?region=us-east-1").unwrap();
        assert!(!f.is_dir);
    }
}
