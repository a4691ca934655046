//! Folders of Parquet, CSV, JSON-lines and Arrow IPC files, on local disk (`file:///dir/`) or
//! on object storage (`s3://bucket/prefix/`, `gs://`, `az://`: `object.rs`, cargo feature
//! `object-store`).
//!
//! Each `name.parquet` / `name.csv` / `name.jsonl` / `name.arrow` file and each sub-folder of
//! such files becomes a table `name`, read by DataFusion's own listing tables (which prune row
//! groups and push filters into the Parquet reader); `key=value/` folders inside a table's
//! folder are hive-style partition columns. CSV files must have a header row.

mod location;
#[cfg(feature = "object-store")]
mod object;

pub use location::{location, Location};

use std::path::Path;
use std::sync::Arc;

use std::collections::BTreeMap;

use async_trait::async_trait;
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::common::DataFusionError;
use datafusion::datasource::file_format::csv::CsvFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::context::SessionState;

use crate::error::{Error, Result};

/// The file formats a folder table can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// Apache Parquet.
    Parquet,
    /// CSV with a header row.
    Csv,
    /// One JSON object per line (`.jsonl`, `.ndjson`, `.json`).
    JsonLines,
    /// Arrow IPC files (`.arrow`, `.ipc`, `.feather`).
    Arrow,
}

impl FileKind {
    fn of(path: &Path) -> Option<Self> {
        Self::of_name(path.file_name()?.to_str()?)
    }

    /// The kind of a file by its name's extension. Names starting with `_` or `.` are not
    /// data (Hive's and Spark's convention: `_SUCCESS`, an extraction's `_vp_manifest.json`).
    fn of_name(name: &str) -> Option<Self> {
        let file = name.rsplit('/').next().unwrap_or(name);
        if file.starts_with('_') || file.starts_with('.') {
            return None;
        }
        let (_, ext) = file.rsplit_once('.')?;
        match ext.to_ascii_lowercase().as_str() {
            "parquet" => Some(FileKind::Parquet),
            "csv" => Some(FileKind::Csv),
            "jsonl" | "ndjson" | "json" => Some(FileKind::JsonLines),
            "arrow" | "ipc" | "feather" => Some(FileKind::Arrow),
            _ => None,
        }
    }

    /// Listing options for files of this kind named `*.{ext}` (the extension of the table's
    /// first file, so that other files beside them, a manifest say, are not read as data).
    fn options(self, ext: &str) -> ListingOptions {
        use datafusion::datasource::file_format::arrow::ArrowFormat;
        use datafusion::datasource::file_format::json::JsonFormat;
        let format: Arc<dyn FileFormat> = match self {
            FileKind::Parquet => Arc::new(ParquetFormat::default()),
            FileKind::Csv => Arc::new(CsvFormat::default().with_has_header(true)),
            FileKind::JsonLines => Arc::new(JsonFormat::default()),
            FileKind::Arrow => Arc::new(ArrowFormat),
        };
        ListingOptions::new(format).with_file_extension(format!(".{ext}"))
    }
}

/// Folders of files: `file://` URLs, opened as a schema of listing tables.
#[derive(Debug, Default, Clone, Copy)]
pub struct FileBackend;

#[async_trait]
impl super::Backend for FileBackend {
    fn name(&self) -> &'static str {
        "file"
    }

    fn schemes(&self) -> &'static [&'static str] {
        #[cfg(feature = "object-store")]
        {
            &["file", "s3", "gs", "az"]
        }
        #[cfg(not(feature = "object-store"))]
        {
            &["file"]
        }
    }

    async fn open(&self, url: &str, session: &SessionState) -> Result<super::Opened> {
        #[cfg(feature = "object-store")]
        if let Some((scheme, _)) = url.split_once("://") {
            if object::SCHEMES.contains(&scheme.to_ascii_lowercase().as_str()) {
                return Ok(super::Opened::Tables(Arc::new(
                    object::open(url, session).await?,
                )));
            }
        }
        let dir = folder_path(url)?;
        Ok(super::Opened::Tables(Arc::new(
            FolderSchema::load(session, &dir).await?,
        )))
    }
}

/// Resolves a `file://` URL to a local directory.
pub fn folder_path(url: &str) -> Result<std::path::PathBuf> {
    let parsed = url::Url::parse(url).map_err(|e| Error::InvalidUrl {
        url: url.into(),
        reason: e.to_string(),
    })?;
    let path = parsed.to_file_path().map_err(|_| Error::InvalidUrl {
        url: url.into(),
        reason: "not a local path".into(),
    })?;
    if !path.is_dir() {
        return Err(Error::Connection {
            target: format!("folder {}", path.display()),
            message: "no such directory".into(),
        });
    }
    Ok(path)
}

/// The first data file below `dir` (in name order, depth first: below hive folders too).
fn first_data_file(dir: &Path) -> Option<std::path::PathBuf> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('_') || name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            if let Some(found) = first_data_file(&path) {
                return Some(found);
            }
        } else if FileKind::of(&path).is_some() {
            return Some(path);
        }
    }
    None
}

/// Finds the tables of a folder: (name, location, kind).
pub fn discover(dir: &Path) -> Result<Vec<(String, std::path::PathBuf, FileKind)>> {
    let mut out = vec![];
    let mut entries = std::fs::read_dir(dir)?.collect::<std::io::Result<Vec<_>>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let Some(name) = path
            .file_name()
            .and_then(|s| s.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        if name.starts_with('_') || name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            if let Some(kind) = first_data_file(&path).and_then(|f| FileKind::of(&f)) {
                out.push((name, path.clone(), kind));
            }
        } else if let Some(kind) = FileKind::of(&path) {
            let stem = name.rsplit_once('.').map_or(name.as_str(), |(s, _)| s);
            out.push((stem.to_string(), path.clone(), kind));
        }
    }
    Ok(out)
}

/// Builds a listing table over one file or folder.
pub async fn listing_table(
    state: &SessionState,
    location: &Path,
    kind: FileKind,
) -> Result<Arc<dyn TableProvider>> {
    let mut loc = location.display().to_string();
    if location.is_dir() && !loc.ends_with('/') {
        loc.push('/');
    }
    let url = ListingTableUrl::parse(&loc)?;
    let first = if location.is_dir() {
        first_data_file(location)
    } else {
        Some(location.to_path_buf())
    };
    let ext = first
        .as_deref()
        .and_then(|f| f.extension())
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_string();
    let mut options = kind.options(&ext);
    if location.is_dir() {
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

/// The tables of a folder. A file that cannot be read (not Parquet, a broken footer, no
/// permission) is an error naming the file when its table is used, and only then: the other
/// tables and queries that do not touch it work.
#[derive(Debug, Default)]
pub struct FolderSchema {
    pub(crate) tables: BTreeMap<String, std::result::Result<Arc<dyn TableProvider>, String>>,
}

impl FolderSchema {
    /// Reads the tables of `dir` (see [`discover`]).
    pub async fn load(state: &SessionState, dir: &Path) -> Result<Self> {
        let mut tables = BTreeMap::new();
        for (table, location, kind) in discover(dir)? {
            let provider = listing_table(state, &location, kind)
                .await
                .map_err(|e| format!("table `{table}`: cannot read {}: {e}", location.display()));
            tables.insert(table, provider);
        }
        Ok(Self { tables })
    }
}

#[async_trait]
impl SchemaProvider for FolderSchema {
    fn table_names(&self) -> Vec<String> {
        self.tables.keys().cloned().collect()
    }

    async fn table(
        &self,
        name: &str,
    ) -> datafusion::common::Result<Option<Arc<dyn TableProvider>>> {
        match self.tables.get(name) {
            None => Ok(None),
            Some(Ok(t)) => Ok(Some(t.clone())),
            Some(Err(e)) => Err(DataFusionError::Plan(e.clone())),
        }
    }

    fn table_exist(&self, name: &str) -> bool {
        self.tables.contains_key(name)
    }
}
