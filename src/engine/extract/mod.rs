//! Bulk extraction: a query's result written as Parquet, CSV, JSON lines or Arrow IPC files to
//! a local folder or to object storage, streamed from the partitioned scan into one writer per
//! partition, with memory bounded by the batches in flight (docs/extract.md).
//!
//! Nothing that looks complete appears before the whole extraction has succeeded: every file
//! is a multipart upload (on local disk a staging file) that is completed only once every
//! writer has finished, and the manifest `_vp_manifest.json`, written last, is what marks a
//! folder as complete. A failed extraction aborts its uploads and leaves the destination as it
//! was.

mod encode;
mod upload;

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Array, RecordBatch, UInt32Array};
use arrow::datatypes::{DataType, SchemaRef};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryPool, MemoryReservation};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::ExecutionPlan;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, PutPayload};

use crate::connector::file::Location;
use crate::error::{Error, Result};
pub use crate::progress::Progress;

use encode::Encoder;
pub use encode::OutputFormat;
use upload::{PendingFile, Upload};

/// The name of the manifest written last into a folder destination.
pub const MANIFEST: &str = "_vp_manifest.json";

/// How an extraction writes. Built with [`ExtractOptions::new`] and its setters.
#[derive(Debug, Clone)]
pub struct ExtractOptions {
    pub(crate) format: Option<OutputFormat>,
    pub(crate) partitions: Option<usize>,
    pub(crate) max_rows_per_file: Option<usize>,
    pub(crate) partition_by: Vec<String>,
    pub(crate) compression: Option<String>,
    pub(crate) row_group_rows: usize,
    pub(crate) part_size: usize,
    pub(crate) upload_concurrency: usize,
    pub(crate) overwrite: bool,
    pub(crate) progress: Option<Arc<Progress>>,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        Self {
            format: None,
            partitions: None,
            max_rows_per_file: None,
            partition_by: vec![],
            compression: None,
            row_group_rows: 256 << 10,
            part_size: 8 << 20,
            upload_concurrency: 4,
            overwrite: false,
            progress: None,
        }
    }
}

impl ExtractOptions {
    /// The defaults: Parquet (or the format a single-file destination's extension names),
    /// zstd for Parquet, the engine's partitions, one file per partition, 256 Ki rows per
    /// Parquet row group, 8 MiB upload parts with 4 in flight per file, no overwriting.
    pub fn new() -> Self {
        Self::default()
    }

    /// The file format.
    pub fn format(mut self, format: OutputFormat) -> Self {
        self.format = Some(format);
        self
    }

    /// Partitions of the scan, hence parallel writers (default: the engine's).
    pub fn partitions(mut self, n: usize) -> Self {
        self.partitions = Some(n.max(1));
        self
    }

    /// Starts a new file after this many rows (default: one file per partition).
    pub fn max_rows_per_file(mut self, n: usize) -> Self {
        self.max_rows_per_file = Some(n.max(1));
        self
    }

    /// Writes hive-style folders `column=value/` for these columns, which are left out of the
    /// files themselves (a reader of the folder gets them back from the paths).
    pub fn partition_by(mut self, columns: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.partition_by = columns.into_iter().map(Into::into).collect();
        self
    }

    /// Compression: for Parquet `zstd` (the default, level 1), `zstd(N)`, `snappy`, `lz4`,
    /// `gzip`, `brotli` or `none`; the other formats are written uncompressed.
    pub fn compression(mut self, codec: impl Into<String>) -> Self {
        self.compression = Some(codec.into());
        self
    }

    /// Rows per Parquet row group (default 256 Ki): smaller groups prune finer.
    pub fn row_group_rows(mut self, n: usize) -> Self {
        self.row_group_rows = n.max(1);
        self
    }

    /// Bytes per multipart upload part (default 8 MiB; S3 needs at least 5 MiB).
    pub fn part_size(mut self, bytes: usize) -> Self {
        self.part_size = bytes.max(1);
        self
    }

    /// Parts uploaded at once per file (default 4).
    pub fn upload_concurrency(mut self, n: usize) -> Self {
        self.upload_concurrency = n.max(1);
        self
    }

    /// Replaces what the destination holds (default: a destination that is not empty is an
    /// error). The old files are removed only after the new ones are complete.
    pub fn overwrite(mut self, on: bool) -> Self {
        self.overwrite = on;
        self
    }

    /// Counters to update as the extraction goes (for a progress bar).
    pub fn progress(mut self, progress: Arc<Progress>) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Sets an option by name, as the CLI and SQL `COPY ... TO` take them: `format`,
    /// `compression`, `partitions`, `max_rows_per_file`, `partition_by` (comma-separated),
    /// `row_group_rows`, `part_size`, `upload_concurrency`, `overwrite`.
    pub fn set(self, key: &str, value: &str) -> Result<Self> {
        let bad = |what: &str| {
            Error::Config(format!(
                "extraction option `{key}`: `{value}` is not {what}"
            ))
        };
        let int = |v: &str| v.trim().parse::<usize>().map_err(|_| bad("a number"));
        let flag = |v: &str| match v.trim().to_ascii_lowercase().as_str() {
            "true" | "on" | "1" | "yes" => Ok(true),
            "false" | "off" | "0" | "no" => Ok(false),
            _ => Err(bad("true or false")),
        };
        Ok(
            match key.trim().to_ascii_lowercase().replace('-', "_").as_str() {
                "format" => self.format(OutputFormat::from_str(value)?),
                "compression" => self.compression(value.trim()),
                "partitions" => self.partitions(int(value)?),
                "max_rows_per_file" => self.max_rows_per_file(int(value)?),
                "partition_by" => self.partition_by(
                    value
                        .split(',')
                        .map(str::trim)
                        .filter(|c| !c.is_empty())
                        .map(str::to_string),
                ),
                "row_group_rows" | "row_group_size" => self.row_group_rows(int(value)?),
                "part_size" => self.part_size(int(value)?),
                "upload_concurrency" => self.upload_concurrency(int(value)?),
                "overwrite" => self.overwrite(flag(value)?),
                other => {
                    return Err(Error::Config(format!(
                    "unknown extraction option `{other}`: use format, compression, partitions, \
                     max_rows_per_file, partition_by, row_group_rows, part_size, \
                     upload_concurrency or overwrite"
                )))
                }
            },
        )
    }
}

/// One file an extraction wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractedFile {
    /// Its path below the destination (`part-00000-00000.parquet`, `year=2024/part-...`).
    pub path: String,
    /// Rows in it.
    pub rows: u64,
    /// Its size in bytes.
    pub bytes: u64,
}

/// What an extraction wrote.
#[derive(Debug, Clone)]
pub struct ExtractSummary {
    /// The destination, credentials masked.
    pub destination: String,
    /// The files, in path order.
    pub files: Vec<ExtractedFile>,
    /// Rows in all.
    pub rows: u64,
    /// Bytes in all.
    pub bytes: u64,
    /// The manifest's path below the destination (folder destinations only).
    pub manifest: Option<String>,
    /// The schema of the rows written (partition columns included).
    pub schema: SchemaRef,
    /// How long it took.
    pub elapsed: Duration,
}

impl std::fmt::Display for ExtractSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = self.elapsed.as_secs_f64();
        write!(
            f,
            "{} rows, {} files, {} to {} in {:.2} s ({:.0} rows/s)",
            self.rows,
            self.files.len(),
            human_bytes(self.bytes),
            self.destination,
            secs,
            if secs > 0.0 {
                self.rows as f64 / secs
            } else {
                0.0
            }
        )
    }
}

/// `1.5 MiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// Where the files go.
struct Target {
    location: Location,
    /// One file (its path) instead of a folder.
    single: Option<ObjectPath>,
}

impl Target {
    fn file_path(&self, relative: &str) -> ObjectPath {
        match &self.single {
            Some(p) => p.clone(),
            None => join(&self.location.path, relative),
        }
    }

    fn relative(&self, path: &ObjectPath) -> String {
        let root = self.location.path.as_ref();
        let p = path.as_ref();
        match p.strip_prefix(root) {
            Some(rest) if !root.is_empty() => rest.trim_start_matches('/').to_string(),
            _ => p.to_string(),
        }
    }
}

/// `root/relative`, taken as written (`city=Zürich` stays so; hive values are escaped
/// already), or with each segment percent-encoded when it is not a valid path as written.
fn join(root: &ObjectPath, relative: &str) -> ObjectPath {
    let joined = if root.as_ref().is_empty() {
        relative.to_string()
    } else {
        format!("{root}/{relative}")
    };
    ObjectPath::parse(&joined).unwrap_or_else(|_| {
        let mut path = root.clone();
        for part in relative.split('/').filter(|p| !p.is_empty()) {
            path = path.join(part);
        }
        path
    })
}

fn storage_error(target: &str, e: object_store::Error) -> Error {
    Error::Output {
        target: target.to_string(),
        message: e.to_string(),
    }
}

/// Runs `plan` and writes its result to `destination` (see the module's documentation).
pub(crate) async fn extract_plan(
    plan: Arc<dyn ExecutionPlan>,
    task: Arc<TaskContext>,
    destination: &str,
    options: &ExtractOptions,
) -> Result<ExtractSummary> {
    let target = resolve(destination, options)?;
    let pool = task.memory_pool().clone();
    if let Some(progress) = &options.progress {
        if let Some(n) = expected_rows(&plan) {
            progress.set_expected_rows(n);
        }
    }
    let streams = if target.single.is_some() {
        vec![datafusion::physical_plan::execute_stream(plan, task)
            .map_err(Error::from_datafusion)?]
    } else {
        datafusion::physical_plan::execute_stream_partitioned(plan, task)
            .map_err(Error::from_datafusion)?
    };
    write_streams(streams, target, options, pool).await
}

/// The rows `plan` will return, as far as its statistics (exact for Parquet files) or a
/// source's estimate for a whole table read as it is tell.
fn expected_rows(plan: &Arc<dyn ExecutionPlan>) -> Option<u64> {
    use datafusion::physical_plan::statistics::{StatisticsArgs, StatisticsContext};
    if let Ok(stats) = StatisticsContext::new().compute(plan.as_ref(), &StatisticsArgs::new()) {
        if let Some(n) = stats.num_rows.get_value() {
            return Some(*n as u64);
        }
    }
    // Nodes that pass every row on, down to one scan.
    let mut node = plan.clone();
    loop {
        if let Some(scan) = node.downcast_ref::<crate::provider::RemoteScanExec>() {
            return scan.estimated_rows();
        }
        let passes_rows = matches!(
            node.name(),
            "ProjectionExec"
                | "CoalesceBatchesExec"
                | "RepartitionExec"
                | "CoalescePartitionsExec"
                | "CooperativeExec"
        );
        let children = node.children();
        if !passes_rows || children.len() != 1 {
            return None;
        }
        node = children[0].clone();
    }
}

/// Writes `streams` (one writer each) to `destination`; the writers' buffers count against
/// `pool`.
pub(crate) async fn extract_streams(
    streams: Vec<SendableRecordBatchStream>,
    destination: &str,
    options: &ExtractOptions,
    pool: Arc<dyn MemoryPool>,
) -> Result<ExtractSummary> {
    write_streams(streams, resolve(destination, options)?, options, pool).await
}

fn resolve(destination: &str, options: &ExtractOptions) -> Result<Target> {
    let location = crate::connector::file::location(destination)?;
    let single = if location.is_dir {
        None
    } else {
        if !options.partition_by.is_empty() || options.max_rows_per_file.is_some() {
            return Err(Error::Config(format!(
                "{}: partition_by and max_rows_per_file write several files: give a folder \
                 (end the destination with `/`)",
                location.shown
            )));
        }
        Some(location.path.clone())
    };
    Ok(Target { location, single })
}

fn format_for(target: &Target, options: &ExtractOptions) -> Result<OutputFormat> {
    if let Some(f) = options.format {
        return Ok(f);
    }
    match &target.single {
        Some(p) => {
            let name = p.filename().unwrap_or_default();
            OutputFormat::of_name(name).ok_or_else(|| {
                Error::Config(format!(
                    "{}: cannot tell the format from the name: give format (parquet, csv, \
                     jsonl, arrow)",
                    target.location.shown
                ))
            })
        }
        None => Ok(OutputFormat::Parquet),
    }
}

async fn existing_objects(target: &Target) -> Result<Vec<ObjectPath>> {
    let store = &target.location.store;
    if let Some(single) = &target.single {
        return match store.head(single).await {
            Ok(meta) => Ok(vec![meta.location]),
            Err(object_store::Error::NotFound { .. }) => Ok(vec![]),
            Err(e) => Err(storage_error(&target.location.shown, e)),
        };
    }
    let prefix = &target.location.path;
    let listed: Vec<_> = match store
        .list(Some(prefix))
        .map_ok(|m| m.location)
        .try_collect()
        .await
    {
        Ok(v) => v,
        Err(object_store::Error::NotFound { .. }) => vec![],
        Err(e) => return Err(storage_error(&target.location.shown, e)),
    };
    Ok(listed)
}

async fn write_streams(
    streams: Vec<SendableRecordBatchStream>,
    target: Target,
    options: &ExtractOptions,
    pool: Arc<dyn MemoryPool>,
) -> Result<ExtractSummary> {
    let started = Instant::now();
    if let Some(progress) = &options.progress {
        progress.start();
    }
    let Some(schema) = streams.first().map(|s| s.schema()) else {
        return Err(Error::Config("the query has no output partitions".into()));
    };
    let format = format_for(&target, options)?;
    // The columns written into the files, and the hive columns taken out of them.
    let mut hive = vec![];
    for name in &options.partition_by {
        let index = schema.index_of(name).map_err(|_| {
            Error::Config(format!(
                "partition_by: `{name}` is not a column of the result ({})",
                schema
                    .fields()
                    .iter()
                    .map(|f| f.name().as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        hive.push(index);
    }
    if hive.len() == schema.fields().len() {
        return Err(Error::Config(
            "partition_by names every column: a file needs at least one other".into(),
        ));
    }
    let file_columns: Vec<usize> = (0..schema.fields().len())
        .filter(|i| !hive.contains(i))
        .collect();
    let file_schema = Arc::new(schema.project(&file_columns)?);
    // The settings are checked once, before any file is opened.
    Encoder::new(format, file_schema.clone(), options)?;
    if target.location.root.scheme() == "s3" && options.part_size < 5 << 20 {
        return Err(Error::Config(format!(
            "part_size {} B: S3 takes multipart upload parts of 5 MiB or more",
            options.part_size
        )));
    }

    let existing = existing_objects(&target).await?;
    if !existing.is_empty() && !options.overwrite {
        let example = target.relative(&existing[0]);
        return Err(Error::Output {
            target: target.location.shown.clone(),
            message: format!(
                "the destination is not empty ({} objects, e.g. `{example}`): pass overwrite \
                 (--overwrite) to replace them, or choose another destination",
                existing.len()
            ),
        });
    }

    let shared = Arc::new(Shared {
        target,
        format,
        file_schema,
        file_columns,
        hive,
        schema: schema.clone(),
        options: options.clone(),
        failed: AtomicBool::new(false),
        pool,
    });
    let mut tasks = tokio::task::JoinSet::new();
    for (partition, stream) in streams.into_iter().enumerate() {
        let shared = shared.clone();
        tasks.spawn(async move {
            let mut writer = PartitionWriter::new(partition, shared.clone());
            let outcome = writer.run(stream).await;
            if outcome.is_err() {
                shared.failed.store(true, Ordering::Relaxed);
                writer.abort().await;
            }
            outcome.map(|()| writer.done)
        });
    }
    let mut pending: Vec<PendingFile> = vec![];
    let mut first_error: Option<Error> = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(files)) => pending.extend(files),
            Ok(Err(e)) => {
                if first_error.is_none() || matches!(first_error, Some(Error::Cancelled)) {
                    first_error = Some(e);
                }
            }
            Err(e) => {
                shared.failed.store(true, Ordering::Relaxed);
                first_error.get_or_insert(Error::Output {
                    target: shared.target.location.shown.clone(),
                    message: format!("a writer stopped: {e}"),
                });
            }
        }
    }
    if let Some(e) = first_error {
        for mut file in pending {
            file.upload.abort().await;
        }
        return Err(e);
    }
    publish(&shared, pending, existing, started).await
}

/// Completes every upload, removes what an overwrite replaces, and writes the manifest.
async fn publish(
    shared: &Shared,
    mut pending: Vec<PendingFile>,
    existing: Vec<ObjectPath>,
    started: Instant,
) -> Result<ExtractSummary> {
    let target = &shared.target;
    let store = &target.location.store;
    let shown = &target.location.shown;
    let manifest_path = target
        .single
        .is_none()
        .then(|| join(&target.location.path, MANIFEST));
    // An old manifest must not describe a mix of old and new files.
    if let Some(m) = &manifest_path {
        if existing.contains(m) {
            store.delete(m).await.map_err(|e| storage_error(shown, e))?;
        }
    }
    pending.sort_by(|a, b| a.path.as_ref().cmp(b.path.as_ref()));
    let mut files = Vec::with_capacity(pending.len());
    let mut written = BTreeSet::new();
    let completions = pending.into_iter().map(|mut file| async move {
        file.upload.complete().await?;
        Ok::<_, Error>(file)
    });
    let mut completed = futures::stream::iter(completions).buffered(16);
    while let Some(file) = completed.next().await {
        let file = file?;
        written.insert(file.path.clone());
        files.push(ExtractedFile {
            path: target.relative(&file.path),
            rows: file.rows,
            bytes: file.bytes,
        });
    }
    for old in existing {
        if !written.contains(&old) && Some(&old) != manifest_path.as_ref() {
            match store.delete(&old).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(storage_error(shown, e)),
            }
        }
    }
    let rows = files.iter().map(|f| f.rows).sum();
    let bytes = files.iter().map(|f| f.bytes).sum();
    let mut summary = ExtractSummary {
        destination: shown.clone(),
        files,
        rows,
        bytes,
        manifest: None,
        schema: shared.schema.clone(),
        elapsed: started.elapsed(),
    };
    if let Some(m) = manifest_path {
        let text = manifest_json(&summary, shared);
        store
            .put(&m, PutPayload::from(text.into_bytes()))
            .await
            .map_err(|e| storage_error(shown, e))?;
        summary.manifest = Some(MANIFEST.to_string());
        summary.elapsed = started.elapsed();
    }
    Ok(summary)
}

fn manifest_json(summary: &ExtractSummary, shared: &Shared) -> String {
    let fields: Vec<_> = summary
        .schema
        .fields()
        .iter()
        .map(|f| {
            serde_json::json!({
                "name": f.name(),
                "type": f.data_type().to_string(),
                "nullable": f.is_nullable(),
            })
        })
        .collect();
    let files: Vec<_> = summary
        .files
        .iter()
        .map(|f| serde_json::json!({"path": f.path, "rows": f.rows, "bytes": f.bytes}))
        .collect();
    let value = serde_json::json!({
        "format": shared.format.name(),
        "rows": summary.rows,
        "bytes": summary.bytes,
        "files": files,
        "partition_by": shared.options.partition_by,
        "schema": {"fields": fields},
        "created": chrono::Utc::now().to_rfc3339(),
        "writer": format!("vibe-piper {}", env!("CARGO_PKG_VERSION")),
    });
    serde_json::to_string_pretty(&value).unwrap_or_default()
}

/// What every writer of one extraction shares.
struct Shared {
    target: Target,
    format: OutputFormat,
    /// The schema of the rows in the files (without hive columns).
    file_schema: SchemaRef,
    file_columns: Vec<usize>,
    hive: Vec<usize>,
    schema: SchemaRef,
    options: ExtractOptions,
    /// Set when a writer failed: the others stop at their next batch.
    failed: AtomicBool,
    /// The engine's memory pool, which the writers' buffers count against.
    pool: Arc<dyn MemoryPool>,
}

/// A file being written.
struct OpenFile {
    encoder: Encoder,
    upload: Upload,
    path: ObjectPath,
    rows: u64,
}

/// The writer of one partition: files `part-PPPPP-SSSSS.ext`, one open per hive folder.
struct PartitionWriter {
    partition: usize,
    shared: Arc<Shared>,
    open: BTreeMap<String, OpenFile>,
    sequence: usize,
    done: Vec<PendingFile>,
    /// The open files' encoder buffers (a Parquet row group in progress) and upload parts.
    reservation: MemoryReservation,
}

impl PartitionWriter {
    fn new(partition: usize, shared: Arc<Shared>) -> Self {
        let reservation =
            MemoryConsumer::new(format!("{} writer[{partition}]", shared.format.name()))
                .register(&shared.pool);
        Self {
            partition,
            shared,
            open: BTreeMap::new(),
            sequence: 0,
            done: vec![],
            reservation,
        }
    }

    /// Counts what the open files hold against the memory limit (they cannot spill: a
    /// Parquet row group is written when full).
    fn account(&mut self) {
        let held: usize = self
            .open
            .values()
            .map(|f| f.encoder.buffered() + self.shared.options.part_size)
            .sum();
        self.reservation.resize(held);
    }

    async fn run(&mut self, mut stream: SendableRecordBatchStream) -> Result<()> {
        let mut any = false;
        while let Some(batch) = stream.next().await {
            if self.shared.failed.load(Ordering::Relaxed) {
                return Err(Error::Cancelled);
            }
            let batch = batch.map_err(Error::from_datafusion)?;
            if batch.num_rows() == 0 {
                continue;
            }
            any = true;
            if let Some(p) = &self.shared.options.progress {
                p.add_rows(batch.num_rows() as u64);
            }
            for (folder, rows) in self.split(&batch)? {
                self.write(&folder, rows).await?;
            }
        }
        // A single-file destination gets its file even when there are no rows.
        if !any && self.shared.target.single.is_some() {
            self.open_file("").await?;
        }
        let folders: Vec<String> = self.open.keys().cloned().collect();
        for folder in folders {
            self.seal(&folder).await?;
        }
        Ok(())
    }

    /// The batch's rows by hive folder (`a=1/b=x`), the hive columns taken out.
    fn split(&self, batch: &RecordBatch) -> Result<Vec<(String, RecordBatch)>> {
        let shared = &self.shared;
        let files = batch.project(&shared.file_columns)?;
        if shared.hive.is_empty() {
            return Ok(vec![(String::new(), files)]);
        }
        let texts = shared
            .hive
            .iter()
            .map(|&i| arrow::compute::cast(batch.column(i), &DataType::Utf8).map_err(Error::from))
            .collect::<Result<Vec<_>>>()?;
        let texts: Vec<&arrow::array::StringArray> = texts
            .iter()
            .map(|a| {
                a.as_any()
                    .downcast_ref::<arrow::array::StringArray>()
                    .ok_or_else(|| Error::Config("a partition column did not cast to text".into()))
            })
            .collect::<Result<_>>()?;
        let mut groups: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for row in 0..batch.num_rows() {
            let mut folder = String::new();
            for (k, &i) in shared.hive.iter().enumerate() {
                if k > 0 {
                    folder.push('/');
                }
                folder.push_str(shared.schema.field(i).name());
                folder.push('=');
                let t = texts[k];
                if t.is_null(row) {
                    folder.push_str("__HIVE_DEFAULT_PARTITION__");
                } else {
                    folder.push_str(&hive_escape(t.value(row)));
                }
            }
            groups.entry(folder).or_default().push(row as u32);
        }
        groups
            .into_iter()
            .map(|(folder, rows)| {
                let indices = UInt32Array::from(rows);
                Ok((folder, arrow::compute::take_record_batch(&files, &indices)?))
            })
            .collect()
    }

    async fn write(&mut self, folder: &str, mut batch: RecordBatch) -> Result<()> {
        let max = self.shared.options.max_rows_per_file;
        while batch.num_rows() > 0 {
            if !self.open.contains_key(folder) {
                self.open_file(folder).await?;
            }
            let file = self.open.get_mut(folder).expect("opened above");
            let room = max.map_or(usize::MAX, |m| m.saturating_sub(file.rows as usize));
            let take = batch.num_rows().min(room);
            let (now, rest) = (
                batch.slice(0, take),
                batch.slice(take, batch.num_rows() - take),
            );
            let bytes = file.encoder.write(&now)?;
            file.rows += now.num_rows() as u64;
            let full = max.is_some_and(|m| file.rows as usize >= m);
            self.push(folder, bytes).await?;
            self.account();
            if full {
                self.seal(folder).await?;
            }
            batch = rest;
        }
        Ok(())
    }

    async fn push(&mut self, folder: &str, bytes: Vec<u8>) -> Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        if let Some(p) = &self.shared.options.progress {
            p.add_bytes(bytes.len() as u64);
        }
        let file = self.open.get_mut(folder).expect("an open file");
        file.upload.write(bytes).await
    }

    async fn open_file(&mut self, folder: &str) -> Result<()> {
        let shared = &self.shared;
        let name = format!(
            "part-{:05}-{:05}.{}",
            self.partition,
            self.sequence,
            shared.format.extension()
        );
        self.sequence += 1;
        let relative = if folder.is_empty() {
            name
        } else {
            format!("{folder}/{name}")
        };
        let path = shared.target.file_path(&relative);
        let encoder = Encoder::new(shared.format, shared.file_schema.clone(), &shared.options)?;
        let upload = Upload::start(
            shared.target.location.store.clone(),
            path.clone(),
            shared.target.location.shown.clone(),
            shared.options.part_size,
            shared.options.upload_concurrency,
        )
        .await?;
        self.open.insert(
            folder.to_string(),
            OpenFile {
                encoder,
                upload,
                path,
                rows: 0,
            },
        );
        Ok(())
    }

    async fn seal(&mut self, folder: &str) -> Result<()> {
        let Some(mut file) = self.open.remove(folder) else {
            return Ok(());
        };
        let tail = file.encoder.finish()?;
        if let Some(p) = &self.shared.options.progress {
            p.add_bytes(tail.len() as u64);
        }
        file.upload.write(tail).await?;
        let bytes = file.upload.finish_parts().await?;
        if let Some(p) = &self.shared.options.progress {
            p.add_file();
        }
        self.done.push(PendingFile {
            path: file.path,
            rows: file.rows,
            bytes,
            upload: file.upload,
        });
        Ok(())
    }

    /// Aborts every upload this writer started.
    async fn abort(&mut self) {
        for (_, mut file) in std::mem::take(&mut self.open) {
            file.upload.abort().await;
        }
        for mut file in std::mem::take(&mut self.done) {
            file.upload.abort().await;
        }
    }
}

/// Escapes a hive partition value as Hive does: `%XX` for `/`, `=`, `%`, control characters
/// and the few others that cannot stand in a path segment.
fn hive_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if c.is_control()
            || matches!(
                c,
                '/' | '\\' | '=' | '%' | '"' | '#' | '?' | '*' | ':' | '[' | ']' | '^' | '{' | '}'
            )
        {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    if out.is_empty() || out == "." || out == ".." {
        return "__HIVE_DEFAULT_PARTITION__".into();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_by_name() {
        let o = ExtractOptions::new()
            .set("format", "csv")
            .unwrap()
            .set("max-rows-per-file", "10")
            .unwrap()
            .set("partition_by", "a, b")
            .unwrap()
            .set("overwrite", "true")
            .unwrap();
        assert_eq!(o.format, Some(OutputFormat::Csv));
        assert_eq!(o.max_rows_per_file, Some(10));
        assert_eq!(o.partition_by, vec!["a", "b"]);
        assert!(o.overwrite);
        let e = ExtractOptions::new().set("colour", "red").unwrap_err();
        assert!(e.to_string().contains("max_rows_per_file"), "{e}");
        assert!(ExtractOptions::new().set("partitions", "many").is_err());
        assert!(ExtractOptions::new().set("overwrite", "perhaps").is_err());
    }

    #[test]
    fn hive_values_are_escaped() {
        assert_eq!(hive_escape("2024-01-02"), "2024-01-02");
        assert_eq!(hive_escape("a/b=c"), "a%2Fb%3Dc");
        assert_eq!(hive_escape(""), "__HIVE_DEFAULT_PARTITION__");
        assert_eq!(hive_escape("é"), "é");
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_bytes(12), "12 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 << 30), "3.0 GiB");
    }
}
