//! The engine: a DataFusion session with sources registered as catalogs.
//!
//! A source registered as `pg` is the catalog `pg`, whose schemas are the source's schemas
//! (`pg.public.lineitem`); its default schema is also reachable as `pg.lineitem`.

mod catalog;
mod copy;
pub mod extract;
mod literals;
pub mod memory;
mod query_function;

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::catalog::{CatalogProvider, MemoryCatalogProvider, SchemaProvider};
use datafusion::dataframe::DataFrame;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::prelude::{SessionConfig, SessionContext};
use tokio::sync::Mutex;

pub use catalog::{SourceCatalog, SourceSchema};
pub use extract::{ExtractOptions, ExtractSummary, ExtractedFile, OutputFormat, Progress};
pub(crate) use literals::is_comparison;
pub use memory::MemoryLimit;

use crate::connector::{Backend, Opened, Registry, Source};
use crate::error::{Error, Result};
use crate::provider::ScanOptions;

/// Builds an [`Engine`].
#[derive(Debug, Clone, Default)]
pub struct EngineBuilder {
    target_partitions: Option<usize>,
    options: ScanOptions,
    registry: Registry,
    progress: Option<Arc<Progress>>,
    memory_limit: MemoryLimit,
    spill: memory::SpillSettings,
}

impl EngineBuilder {
    /// How much memory the engine's queries may hold together (default: 80 % of the
    /// machine's memory, see [`memory::machine_memory`]). Sorts, aggregates and joins spill to
    /// disk to stay within it; a query that cannot fails with
    /// [`Error::ResourcesExhausted`], never with an out-of-memory kill.
    pub fn memory_limit(mut self, limit: MemoryLimit) -> Self {
        self.memory_limit = limit;
        self
    }

    /// The folder spill files go to (default: the system's temporary directory); it is
    /// created when missing.
    pub fn temp_directory(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.spill.temp_directory = Some(dir.into());
        self
    }

    /// At most this many bytes of spill files at once (default: DataFusion's, 100 GiB).
    pub fn disk_limit(mut self, bytes: u64) -> Self {
        self.spill.disk_limit = Some(bytes);
        self
    }

    /// Partitions per scan (default: the session's target partitions, i.e. the number of cores).
    pub fn target_partitions(mut self, n: usize) -> Self {
        self.target_partitions = Some(n.max(1));
        self
    }

    /// Whether filters and limits are pushed to sources (default on).
    pub fn pushdown(mut self, on: bool) -> Self {
        self.options.pushdown = on;
        self
    }

    /// Rows per batch read from sources (default 8192).
    pub fn batch_size(mut self, n: usize) -> Self {
        self.options.batch_size = n.max(1);
        self
    }

    /// Adds a backend, so that [`Engine::register_source`] opens URLs of its schemes (it wins
    /// over a built-in backend for the same scheme).
    pub fn backend(mut self, backend: Arc<dyn Backend>) -> Self {
        self.registry.register(backend);
        self
    }

    /// Counters every `INSERT` through the engine adds the rows it loads to, for a progress
    /// display (extractions take theirs in [`ExtractOptions::progress`]).
    pub fn progress(mut self, progress: Arc<Progress>) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Creates the engine. A [`temp_directory`](Self::temp_directory) that cannot be created
    /// turns spilling off (queries that would spill fail); [`try_build`](Self::try_build) says
    /// so at once instead.
    pub fn build(self) -> Engine {
        let partitions = self.partitions();
        let runtime =
            memory::runtime(self.memory_limit, &self.spill, partitions).unwrap_or_else(|_| {
                let off = memory::SpillSettings {
                    temp_directory: None,
                    disk_limit: Some(0),
                };
                memory::runtime(self.memory_limit, &off, partitions).unwrap_or_default()
            });
        self.build_with(runtime)
    }

    /// Creates the engine; an error when the temp directory cannot be created.
    pub fn try_build(self) -> Result<Engine> {
        let runtime = memory::runtime(self.memory_limit, &self.spill, self.partitions())?;
        Ok(self.build_with(runtime))
    }

    fn partitions(&self) -> usize {
        self.target_partitions.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        })
    }

    fn build_with(self, runtime: Arc<datafusion::execution::runtime_env::RuntimeEnv>) -> Engine {
        let partitions = self.partitions();
        let mut config = SessionConfig::new().with_information_schema(true);
        if let Some(p) = self.progress {
            config = config.with_extension(p);
        }
        // `99999.99` is an exact decimal, as in every SQL engine users compare against.
        config.options_mut().sql_parser.parse_float_as_decimal = true;
        if let Some(n) = self.target_partitions {
            config = config.with_target_partitions(n);
        }
        // Each sorting partition sets aside memory for merging its spill files (DataFusion's
        // default is 10 MiB): under a small limit, a share of it, so that a sort still fits.
        if let Some(limit) = self.memory_limit.bytes() {
            let partitions = partitions as u64;
            let share = (limit / (4 * partitions)).clamp(256 << 10, 10 << 20);
            config.options_mut().execution.sort_spill_reservation_bytes = share as usize;
            // Strings as `Utf8`, not `Utf8View`: DataFusion counts every sorted batch of view
            // strings as holding all the buffers it shares, and such sorts fail under limits
            // they fit in (docs/decisions/0017-memory-budget.md).
            config
                .options_mut()
                .execution
                .parquet
                .schema_force_view_types = false;
            config.options_mut().sql_parser.map_string_types_to_utf8view = false;
        }
        let ctx = SessionContext::new_with_config_rt(config, runtime);
        ctx.add_analyzer_rule(literals::rule());
        Engine {
            ctx,
            memory_limit: self.memory_limit,
            spill: self.spill,
            options: self.options,
            registry: self.registry,
            sources: Mutex::new(BTreeMap::new()),
            functions: std::sync::Mutex::new(BTreeMap::new()),
        }
    }
}

/// What a registered name refers to.
#[derive(Debug, Clone)]
enum Registered {
    Sql(Arc<dyn Source>),
    Tables,
}

/// One SQL session over registered sources.
pub struct Engine {
    ctx: SessionContext,
    memory_limit: MemoryLimit,
    spill: memory::SpillSettings,
    options: ScanOptions,
    registry: Registry,
    sources: Mutex<BTreeMap<String, Registered>>,
    /// `name.query('...')` of every SQL source (see `query_function.rs`).
    functions: std::sync::Mutex<BTreeMap<String, Arc<query_function::QueryFunction>>>,
}

impl Default for Engine {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("options", &self.options)
            .field("memory_limit", &self.memory_limit)
            .finish_non_exhaustive()
    }
}

fn check_free(sources: &BTreeMap<String, Registered>, name: &str) -> Result<()> {
    if sources.contains_key(name) {
        return Err(Error::InvalidSourceName {
            name: name.into(),
            reason: "already registered".into(),
        });
    }
    Ok(())
}

fn check_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let ok_first = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    if !ok_first || !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        return Err(Error::InvalidSourceName {
            name: name.into(),
            reason: "use lower-case letters, digits and `_`, not starting with a digit".into(),
        });
    }
    if name == "datafusion" || name == "information_schema" || name == "public" {
        return Err(Error::InvalidSourceName {
            name: name.into(),
            reason: "the name is reserved".into(),
        });
    }
    Ok(())
}

impl Engine {
    /// An engine with default options.
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A builder for options.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// The memory limit of the engine's queries.
    pub fn memory_limit(&self) -> MemoryLimit {
        self.memory_limit
    }

    /// Where queries spill (`None`: the system's temporary directory).
    pub fn temp_directory(&self) -> Option<&std::path::Path> {
        self.spill.temp_directory.as_deref()
    }

    /// The most spill files may hold at once (`None`: DataFusion's default, 100 GiB).
    pub fn disk_limit(&self) -> Option<u64> {
        self.spill.disk_limit
    }

    /// The DataFusion session, for anything this API does not wrap.
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// Registers the source a URL names under `name`, opened by the backend its scheme maps to
    /// (`postgres://`, `mysql://` or `mariadb://`, `sqlite://`, `file://` in a full build; see
    /// [`Registry`] and [`EngineBuilder::backend`]).
    pub async fn register_source(&self, name: &str, url: &str) -> Result<()> {
        check_name(name)?;
        let backend = self.registry.backend_for(url)?;
        let mut sources = self.sources.lock().await;
        check_free(&sources, name)?;
        let registered = match backend.open(url, &self.ctx.state()).await? {
            Opened::Source(source) => {
                self.register_sql_source(name, source.clone()).await?;
                Registered::Sql(source)
            }
            Opened::Tables(tables) => {
                self.register_schema(name, tables)?;
                Registered::Tables
            }
        };
        sources.insert(name.to_string(), registered);
        Ok(())
    }

    /// Registers a source already opened (a backend from outside this crate, or one opened
    /// with options a URL cannot carry) under `name`: its schemas become the catalog `name`.
    pub async fn register_table_source(&self, name: &str, source: Arc<dyn Source>) -> Result<()> {
        check_name(name)?;
        let mut sources = self.sources.lock().await;
        check_free(&sources, name)?;
        self.register_sql_source(name, source.clone()).await?;
        sources.insert(name.to_string(), Registered::Sql(source));
        Ok(())
    }

    async fn register_sql_source(&self, name: &str, source: Arc<dyn Source>) -> Result<()> {
        let catalog = Arc::new(SourceCatalog::load(source.clone(), self.options.clone()).await?);
        if let Some(default) = catalog.schema(source.default_schema()) {
            self.default_catalog()?.register_schema(name, default)?;
        }
        self.ctx.register_catalog(name, catalog);
        let function = Arc::new(query_function::QueryFunction::new(
            name,
            source,
            self.options.batch_size,
        ));
        self.ctx.register_udtf(name, function.clone());
        if let Ok(mut f) = self.functions.lock() {
            f.insert(name.to_string(), function);
        }
        Ok(())
    }

    /// Has each source whose `source.query('...')` the statement calls describe that query,
    /// for the planner (which calls table functions synchronously).
    async fn describe_query_calls(&self, query: &str) -> Result<()> {
        let functions = self.functions.lock().map(|f| f.clone()).unwrap_or_default();
        if functions.is_empty() || !query.contains('(') {
            return Ok(());
        }
        let state = self.ctx.state();
        let dialect = state.config().options().sql_parser.dialect;
        // A statement that does not parse is the planner's to report.
        let Ok(statement) = state.sql_to_statement(query, &dialect) else {
            return Ok(());
        };
        let names: Vec<String> = functions.keys().cloned().collect();
        for (name, sql) in query_function::calls(&statement, &names) {
            if let Some(f) = functions.get(&name) {
                f.describe(&sql).await?;
            }
        }
        Ok(())
    }

    fn register_schema(&self, name: &str, schema: Arc<dyn SchemaProvider>) -> Result<()> {
        let catalog = Arc::new(MemoryCatalogProvider::new());
        catalog.register_schema("public", schema.clone())?;
        self.default_catalog()?.register_schema(name, schema)?;
        self.ctx.register_catalog(name, catalog);
        Ok(())
    }

    fn default_catalog(&self) -> Result<Arc<dyn CatalogProvider>> {
        let name = self
            .ctx
            .state()
            .config_options()
            .catalog
            .default_catalog
            .clone();
        self.ctx
            .catalog(&name)
            .ok_or_else(|| Error::Config(format!("default catalog `{name}` is missing")))
    }

    /// Plans a query (SQL text, including `EXPLAIN`) and returns it as a DataFusion DataFrame.
    ///
    /// `COPY (SELECT ...) TO 'URL' (FORMAT parquet, ...)` runs as [`Engine::extract`] right
    /// away (as DDL does) and returns one row: `count` (rows), `files`, `bytes` and
    /// `destination`.
    pub async fn sql(&self, query: &str) -> Result<DataFrame> {
        let dialect = self.ctx.state().config().options().sql_parser.dialect;
        let parsed = datafusion::sql::sqlparser::dialect::dialect_from_str(dialect)
            .and_then(|d| copy::parse(query, d.as_ref()));
        if let Some(spec) = parsed {
            let spec = spec?;
            let mut options = ExtractOptions::new();
            for (k, v) in &spec.options {
                options = options.set(k, v)?;
            }
            let summary = self
                .extract(&spec.query, &spec.destination, &options)
                .await?;
            return self
                .ctx
                .read_batch(summary_batch(&summary)?)
                .map_err(Error::from_datafusion);
        }
        self.describe_query_calls(query).await?;
        self.ctx.sql(query).await.map_err(Error::from_datafusion)
    }

    /// Runs `query` and writes its result to `destination` (a local folder or file, or a
    /// prefix on object storage: `s3://bucket/out/`), streaming from the partitioned scan into
    /// one writer per partition. Files are published only when every writer has finished;
    /// into a folder, a manifest `_vp_manifest.json` is written last. See [`ExtractOptions`].
    pub async fn extract(
        &self,
        query: &str,
        destination: &str,
        options: &ExtractOptions,
    ) -> Result<ExtractSummary> {
        self.describe_query_calls(query).await?;
        let mut state = self.ctx.state();
        if let Some(n) = options.partitions {
            state.config_mut().options_mut().execution.target_partitions = n;
        }
        let plan = state
            .create_logical_plan(query)
            .await
            .map_err(Error::from_datafusion)?;
        {
            use datafusion::logical_expr::LogicalPlan as P;
            if matches!(
                plan,
                P::Dml(_)
                    | P::Ddl(_)
                    | P::Copy(_)
                    | P::Statement(_)
                    | P::Explain(_)
                    | P::Analyze(_)
                    | P::DescribeTable(_)
            ) {
                return Err(Error::Config(format!(
                    "only a query's result can be extracted, not `{}`",
                    plan.display()
                )));
            }
        }
        let physical = state
            .create_physical_plan(&plan)
            .await
            .map_err(Error::from_datafusion)?;
        extract::extract_plan(physical, state.task_ctx(), destination, options).await
    }

    /// Writes a stream of batches to `destination` as [`Engine::extract`] writes a query's
    /// result (one writer; `options.partitions` does not apply).
    pub async fn write_stream(
        &self,
        stream: SendableRecordBatchStream,
        destination: &str,
        options: &ExtractOptions,
    ) -> Result<ExtractSummary> {
        let pool = self.ctx.runtime_env().memory_pool.clone();
        extract::extract_streams(vec![stream], destination, options, pool).await
    }

    /// Runs a query and streams its batches.
    pub async fn sql_stream(&self, query: &str) -> Result<SendableRecordBatchStream> {
        self.sql(query)
            .await?
            .execute_stream()
            .await
            .map_err(Error::from_datafusion)
    }

    /// Runs a query and collects every batch.
    pub async fn sql_collect(&self, query: &str) -> Result<Vec<RecordBatch>> {
        self.sql(query)
            .await?
            .collect()
            .await
            .map_err(Error::from_datafusion)
    }

    /// Names of the registered sources.
    pub async fn source_names(&self) -> Vec<String> {
        self.sources.lock().await.keys().cloned().collect()
    }

    /// The tables of a registered source with their Arrow schemas, as `schema.table`.
    pub async fn tables(&self, source: &str) -> Result<Vec<(String, SchemaRef)>> {
        let catalog = self
            .ctx
            .catalog(source)
            .ok_or_else(|| Error::Config(format!("no source named `{source}` is registered")))?;
        let mut out = vec![];
        for schema_name in catalog.schema_names() {
            let Some(schema) = catalog.schema(&schema_name) else {
                continue;
            };
            for table in schema.table_names() {
                if let Some(provider) =
                    schema.table(&table).await.map_err(Error::from_datafusion)?
                {
                    out.push((format!("{schema_name}.{table}"), provider.schema()));
                }
            }
        }
        Ok(out)
    }

    /// The SQL source registered as `name` (`None` for folders of files and unknown names).
    pub async fn source(&self, name: &str) -> Option<Arc<dyn Source>> {
        match self.sources.lock().await.get(name) {
            Some(Registered::Sql(s)) => Some(s.clone()),
            _ => None,
        }
    }
}

/// The one-row result of `COPY ... TO`.
fn summary_batch(summary: &ExtractSummary) -> Result<RecordBatch> {
    use arrow::array::{StringArray, UInt64Array};
    use arrow::datatypes::{DataType, Field, Schema};
    let schema = Arc::new(Schema::new(vec![
        Field::new("count", DataType::UInt64, false),
        Field::new("files", DataType::UInt64, false),
        Field::new("bytes", DataType::UInt64, false),
        Field::new("destination", DataType::Utf8, false),
    ]));
    Ok(RecordBatch::try_new(
        schema,
        vec![
            Arc::new(UInt64Array::from(vec![summary.rows])),
            Arc::new(UInt64Array::from(vec![summary.files.len() as u64])),
            Arc::new(UInt64Array::from(vec![summary.bytes])),
            Arc::new(StringArray::from(vec![summary.destination.clone()])),
        ],
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(check_name("pg").is_ok());
        assert!(check_name("my_db2").is_ok());
        assert!(check_name("Pg").is_err());
        assert!(check_name("2x").is_err());
        assert!(check_name("").is_err());
        assert!(check_name("public").is_err());
    }

    #[tokio::test]
    async fn unknown_scheme_is_a_clear_error() {
        let e = Engine::new()
            .register_source("x", "oracle://u:secret@h/db")
            .await
            .unwrap_err();
        assert!(
            matches!(e, Error::UnsupportedScheme { ref scheme, .. } if scheme == "oracle"),
            "{e}"
        );
        assert!(!e.to_string().contains("secret"));
        let e = Engine::new()
            .register_source("x", "nonsense")
            .await
            .unwrap_err();
        assert!(matches!(e, Error::InvalidUrl { .. }), "{e}");
    }
}
