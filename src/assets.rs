//! IO managers and assets, as in the original design's `@asset(io_manager="postgresql")`.
//!
//! An [`IoManager`] stores a named dataset from a stream of batches and loads it back as one:
//! [`ParquetIoManager`] keeps each as one Parquet file in a local folder or on object storage,
//! [`TableIoManager`] as a table of a database reached through a [`Connector`] (PostgreSQL,
//! MySQL/MariaDB), loaded through the connector's bulk path. Both are atomic: a failed store
//! leaves the previous version as it was.
//!
//! An [`Asset`] is a named query (SQL over the engine's sources) or function whose result IO
//! managers store. Assets may depend on other assets by name; [`Assets::materialize`] runs them
//! in dependency order, and a SQL asset reads the assets it depends on as tables
//! `assets.<name>`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{MemorySchemaProvider, SchemaProvider};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use futures::future::BoxFuture;
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStoreExt;

use crate::connector::{BulkOptions, Connector, TableName};
use crate::engine::{Engine, ExtractOptions};
use crate::error::{Error, Result};

/// The schema of the engine's default catalog that holds materialised assets as tables.
pub const ASSET_SCHEMA: &str = "assets";

/// What a store wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Rows stored.
    pub rows: u64,
    /// Where, credentials masked (a file's URL, a table's name).
    pub location: String,
}

/// Stores named datasets and loads them back.
#[async_trait]
pub trait IoManager: Debug + Send + Sync {
    /// What it stores into, for messages (`parquet files in s3://bucket/assets/`).
    fn describe(&self) -> String;

    /// Stores `batches` as `name`, replacing a previous version only when every row is
    /// stored: a failed store leaves the previous version as it was.
    async fn store(&self, name: &str, batches: SendableRecordBatchStream) -> Result<Stored>;

    /// Streams what is stored as `name` ([`Error::UnknownTable`] when nothing is).
    async fn load(&self, name: &str) -> Result<SendableRecordBatchStream>;
}

fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "asset name `{name}`: use letters, digits and `_`, not starting with a digit"
        )))
    }
}

/// Each dataset is one Parquet file `NAME.parquet` in a folder on local disk or object
/// storage, written as an extraction writes: a multipart upload (on local disk a staging file)
/// that replaces the previous file only when complete.
#[derive(Debug, Clone)]
pub struct ParquetIoManager {
    root: String,
    options: ExtractOptions,
}

impl ParquetIoManager {
    /// Files in the folder `root` (a path, `file://`, `s3://bucket/prefix/`, ...), zstd.
    pub fn new(root: &str) -> Result<Self> {
        let location = crate::connector::file::location(root)?;
        if !location.is_dir {
            return Err(Error::Config(format!(
                "{}: an IO manager stores into a folder (end it with `/`)",
                location.shown
            )));
        }
        Ok(Self {
            root: root.to_string(),
            options: ExtractOptions::new().overwrite(true),
        })
    }

    /// Parquet compression (see [`ExtractOptions::compression`]).
    pub fn compression(mut self, codec: &str) -> Self {
        self.options = self.options.compression(codec);
        self
    }

    /// Where `name` is stored.
    fn file_url(&self, name: &str) -> String {
        match self.root.split_once('?') {
            Some((path, query)) => format!("{}/{name}.parquet?{query}", path.trim_end_matches('/')),
            None => format!("{}/{name}.parquet", self.root.trim_end_matches('/')),
        }
    }
}

#[async_trait]
impl IoManager for ParquetIoManager {
    fn describe(&self) -> String {
        format!("parquet files in {}", crate::error::redact_url(&self.root))
    }

    async fn store(&self, name: &str, batches: SendableRecordBatchStream) -> Result<Stored> {
        check_name(name)?;
        let summary = crate::engine::extract::extract_streams(
            vec![batches],
            &self.file_url(name),
            &self.options,
            // An IO manager stores outside any engine: no memory limit applies.
            Arc::new(datafusion::execution::memory_pool::UnboundedMemoryPool::default()),
        )
        .await?;
        Ok(Stored {
            rows: summary.rows,
            location: summary.destination,
        })
    }

    async fn load(&self, name: &str) -> Result<SendableRecordBatchStream> {
        check_name(name)?;
        let location = crate::connector::file::location(&self.file_url(name))?;
        match location.store.head(&location.path).await {
            Ok(_) => {}
            Err(object_store::Error::NotFound { .. }) => {
                return Err(Error::UnknownTable(format!(
                    "{name} (not stored in {})",
                    self.describe()
                )))
            }
            Err(e) => {
                return Err(Error::Output {
                    target: location.shown,
                    message: e.to_string(),
                })
            }
        }
        // Strings as they were stored (`Utf8`), not as views.
        let mut config = datafusion::prelude::SessionConfig::new();
        config
            .options_mut()
            .execution
            .parquet
            .schema_force_view_types = false;
        let ctx = datafusion::prelude::SessionContext::new_with_config(config);
        ctx.runtime_env()
            .register_object_store(&location.root, location.store.clone());
        let url = location.url_of(&location.path);
        let df = ctx
            .read_parquet(url, datafusion::prelude::ParquetReadOptions::default())
            .await
            .map_err(Error::from_datafusion)?;
        df.execute_stream().await.map_err(Error::from_datafusion)
    }
}

/// Each dataset is a table `NAME` (in `schema`, or the connection's default) of a database,
/// replaced atomically through [`Connector::replace_table`]: the rows go through the bulk
/// load path into a staging table that then takes the table's place.
#[derive(Debug, Clone)]
pub struct TableIoManager {
    connector: Arc<dyn Connector>,
    schema: Option<String>,
}

impl TableIoManager {
    /// Tables of `connector`'s default schema (database).
    pub fn new(connector: Arc<dyn Connector>) -> Self {
        Self {
            connector,
            schema: None,
        }
    }

    /// Tables in this schema (database) instead.
    pub fn schema(mut self, schema: &str) -> Self {
        self.schema = Some(schema.to_string());
        self
    }

    fn table(&self, name: &str) -> TableName {
        TableName {
            schema: self.schema.clone(),
            table: name.to_string(),
        }
    }
}

#[async_trait]
impl IoManager for TableIoManager {
    fn describe(&self) -> String {
        match &self.schema {
            Some(s) => format!("{} tables in {s}", self.connector.backend()),
            None => format!("{} tables", self.connector.backend()),
        }
    }

    async fn store(&self, name: &str, batches: SendableRecordBatchStream) -> Result<Stored> {
        check_name(name)?;
        let table = self.table(name);
        let rows = self
            .connector
            .replace_table(&table, batches, &BulkOptions::default())
            .await?;
        Ok(Stored {
            rows,
            location: table.to_string(),
        })
    }

    async fn load(&self, name: &str) -> Result<SendableRecordBatchStream> {
        check_name(name)?;
        let table = self.table(name);
        let Some(schema) = self.connector.table_schema(&table).await? else {
            return Err(Error::UnknownTable(format!(
                "{table} (not stored in {})",
                self.describe()
            )));
        };
        let sql = format!(
            "SELECT * FROM {}",
            table.quoted(self.connector.identifier_quote())
        );
        // The connector's stream borrows it: a task owns both and hands the batches over.
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        let connector = self.connector.clone();
        tokio::spawn(async move {
            let mut stream = match connector.query(&sql, &[]).await {
                Ok(s) => s,
                Err(e) => {
                    let _ = tx.send(Err(e.into_datafusion())).await;
                    return;
                }
            };
            while let Some(batch) = stream.next().await {
                let failed = batch.is_err();
                if tx
                    .send(batch.map_err(Error::into_datafusion))
                    .await
                    .is_err()
                    || failed
                {
                    break;
                }
            }
        });
        let stream = tokio_stream(rx);
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}

fn tokio_stream<T: Send + 'static>(
    rx: tokio::sync::mpsc::Receiver<T>,
) -> futures::stream::BoxStream<'static, T> {
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|v| (v, rx)) }).boxed()
}

type AssetFn = Arc<
    dyn Fn(AssetContext) -> BoxFuture<'static, Result<SendableRecordBatchStream>> + Send + Sync,
>;

#[derive(Clone)]
enum Compute {
    Sql(String),
    Function(AssetFn),
}

/// A named query or function whose result IO managers store.
#[derive(Clone)]
pub struct Asset {
    name: String,
    deps: Vec<String>,
    io_managers: Vec<String>,
    compute: Compute,
}

impl std::fmt::Debug for Asset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Asset")
            .field("name", &self.name)
            .field("deps", &self.deps)
            .field("io_managers", &self.io_managers)
            .finish_non_exhaustive()
    }
}

impl Asset {
    /// An asset computed by a SQL query over the engine's sources; the assets it depends on
    /// are the tables `assets.<name>` it reads (found in the query), plus any [`Asset::deps`].
    pub fn sql(name: &str, query: &str) -> Self {
        Self {
            name: name.to_string(),
            deps: vec![],
            io_managers: vec![],
            compute: Compute::Sql(query.to_string()),
        }
    }

    /// An asset computed by a function, which gets an [`AssetContext`] (the engine, and the
    /// assets it depends on loaded back) and returns a stream of batches.
    pub fn function<F, Fut>(name: &str, f: F) -> Self
    where
        F: Fn(AssetContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<SendableRecordBatchStream>> + Send + 'static,
    {
        let f: AssetFn = Arc::new(move |ctx| Box::pin(f(ctx)));
        Self {
            name: name.to_string(),
            deps: vec![],
            io_managers: vec![],
            compute: Compute::Function(f),
        }
    }

    /// Assets this one depends on (materialised before it).
    pub fn deps(mut self, names: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.deps.extend(names.into_iter().map(Into::into));
        self
    }

    /// The IO managers (by the names [`Assets::io_manager`] gave them) that store it, in
    /// order; default: the first registered.
    pub fn io_managers(mut self, names: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.io_managers = names.into_iter().map(Into::into).collect();
        self
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// What an asset function gets.
#[derive(Clone)]
pub struct AssetContext {
    engine: Arc<Engine>,
    stored: Arc<BTreeMap<String, Arc<dyn IoManager>>>,
}

impl AssetContext {
    /// The engine, with its sources.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// An asset materialised before this one, loaded back from its (first) IO manager.
    pub async fn load(&self, name: &str) -> Result<SendableRecordBatchStream> {
        let manager = self.stored.get(name).ok_or_else(|| {
            Error::Config(format!(
                "asset `{name}` has not been materialised before this one: declare it with deps"
            ))
        })?;
        manager.load(name).await
    }
}

/// One asset's materialisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Materialized {
    /// The asset.
    pub name: String,
    /// Rows it has.
    pub rows: u64,
    /// Where each IO manager stored it.
    pub stored: Vec<Stored>,
}

/// A set of assets and the IO managers that store them.
#[derive(Debug)]
pub struct Assets {
    engine: Arc<Engine>,
    managers: Vec<(String, Arc<dyn IoManager>)>,
    assets: Vec<Asset>,
}

impl Assets {
    /// No assets yet, over `engine`'s sources.
    pub fn new(engine: Arc<Engine>) -> Self {
        Self {
            engine,
            managers: vec![],
            assets: vec![],
        }
    }

    /// Registers an IO manager under `name` (the first is the default).
    pub fn io_manager(mut self, name: &str, manager: Arc<dyn IoManager>) -> Self {
        self.managers.push((name.to_string(), manager));
        self
    }

    /// Adds an asset.
    pub fn asset(mut self, asset: Asset) -> Self {
        self.assets.push(asset);
        self
    }

    fn manager(&self, name: &str) -> Result<Arc<dyn IoManager>> {
        self.managers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, m)| m.clone())
            .ok_or_else(|| {
                Error::Config(format!(
                    "no IO manager named `{name}` (registered: {})",
                    self.managers
                        .iter()
                        .map(|(n, _)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
    }

    fn managers_of(&self, asset: &Asset) -> Result<Vec<Arc<dyn IoManager>>> {
        if asset.io_managers.is_empty() {
            let first = self.managers.first().ok_or_else(|| {
                Error::Config(format!(
                    "asset `{}`: no IO manager is registered",
                    asset.name
                ))
            })?;
            return Ok(vec![first.1.clone()]);
        }
        asset.io_managers.iter().map(|n| self.manager(n)).collect()
    }

    /// The dependencies of `asset`: declared, and for SQL the `assets.<name>` tables it reads.
    fn deps_of(&self, asset: &Asset) -> Result<Vec<String>> {
        let mut deps: BTreeSet<String> = asset.deps.iter().cloned().collect();
        if let Compute::Sql(query) = &asset.compute {
            let state = self.engine.context().state();
            let dialect = state.config().options().sql_parser.dialect;
            let statement = state
                .sql_to_statement(query, &dialect)
                .map_err(Error::from_datafusion)?;
            let (tables, _) = state
                .resolve_table_references(&statement)
                .map_err(Error::from_datafusion)?
                .into_iter()
                .partition::<Vec<_>, _>(|t| t.schema() == Some(ASSET_SCHEMA));
            deps.extend(tables.into_iter().map(|t| t.table().to_string()));
        }
        Ok(deps.into_iter().collect())
    }

    /// The assets' names in an order that puts every asset after those it depends on (and
    /// otherwise as added). A cycle or an unknown dependency is an error.
    pub fn order(&self) -> Result<Vec<String>> {
        let mut names = BTreeSet::new();
        for a in &self.assets {
            check_name(&a.name)?;
            if !names.insert(a.name.clone()) {
                return Err(Error::Config(format!(
                    "asset `{}` is defined twice",
                    a.name
                )));
            }
        }
        let mut deps = BTreeMap::new();
        for a in &self.assets {
            let d = self.deps_of(a)?;
            if let Some(unknown) = d.iter().find(|d| !names.contains(*d)) {
                return Err(Error::Config(format!(
                    "asset `{}` depends on `{unknown}`, which is not an asset",
                    a.name
                )));
            }
            deps.insert(a.name.clone(), d);
        }
        let mut order = vec![];
        let mut done = BTreeSet::new();
        while order.len() < self.assets.len() {
            let next = self.assets.iter().find(|a| {
                !done.contains(&a.name) && deps[&a.name].iter().all(|d| done.contains(d))
            });
            let Some(next) = next else {
                let left: Vec<_> = self
                    .assets
                    .iter()
                    .filter(|a| !done.contains(&a.name))
                    .map(|a| a.name.as_str())
                    .collect();
                return Err(Error::Config(format!(
                    "assets depend on each other in a cycle: {}",
                    left.join(", ")
                )));
            };
            done.insert(next.name.clone());
            order.push(next.name.clone());
        }
        Ok(order)
    }

    /// Materialises every asset in dependency order: computes it, stores it through each of
    /// its IO managers (the first from the computation, the others from the first's copy),
    /// and makes it readable to later SQL assets as `assets.<name>`. Stops at the first
    /// failure; assets stored before it stay stored.
    pub async fn materialize(&self) -> Result<Vec<Materialized>> {
        let order = self.order()?;
        for a in &self.assets {
            self.managers_of(a)?;
        }
        let schema = self.asset_schema()?;
        let mut stored: BTreeMap<String, Arc<dyn IoManager>> = BTreeMap::new();
        let mut out = vec![];
        for name in order {
            let asset = self
                .assets
                .iter()
                .find(|a| a.name == name)
                .expect("ordered names are assets");
            let managers = self.managers_of(asset)?;
            let stream = match &asset.compute {
                Compute::Sql(query) => self.engine.sql_stream(query).await?,
                Compute::Function(f) => {
                    f(AssetContext {
                        engine: self.engine.clone(),
                        stored: Arc::new(stored.clone()),
                    })
                    .await?
                }
            };
            let first = managers[0].clone();
            let mut places = vec![first
                .store(&name, stream)
                .await
                .map_err(|e| asset_error(&name, &*first, e))?];
            for m in &managers[1..] {
                let copy = first.load(&name).await?;
                places.push(
                    m.store(&name, copy)
                        .await
                        .map_err(|e| asset_error(&name, &**m, e))?,
                );
            }
            // The table reads what the manager loads, with the types it loads them as.
            let loaded_schema = first.load(&name).await?.schema();
            schema.register_table(
                name.clone(),
                Arc::new(asset_table(first.clone(), &name, loaded_schema)?),
            )?;
            stored.insert(name.clone(), first);
            out.push(Materialized {
                name,
                rows: places[0].rows,
                stored: places,
            });
        }
        Ok(out)
    }

    /// Streams a materialised asset back from its first IO manager.
    pub async fn load(&self, name: &str) -> Result<SendableRecordBatchStream> {
        let asset = self
            .assets
            .iter()
            .find(|a| a.name == name)
            .ok_or_else(|| Error::Config(format!("no asset named `{name}`")))?;
        self.managers_of(asset)?[0].load(name).await
    }

    /// The schema `assets` of the engine's default catalog, made on first use.
    fn asset_schema(&self) -> Result<Arc<dyn SchemaProvider>> {
        let ctx = self.engine.context();
        let catalog_name = ctx.state().config_options().catalog.default_catalog.clone();
        let catalog = ctx
            .catalog(&catalog_name)
            .ok_or_else(|| Error::Config(format!("default catalog `{catalog_name}` is missing")))?;
        if let Some(s) = catalog.schema(ASSET_SCHEMA) {
            return Ok(s);
        }
        let schema: Arc<dyn SchemaProvider> = Arc::new(MemorySchemaProvider::new());
        catalog.register_schema(ASSET_SCHEMA, schema.clone())?;
        Ok(schema)
    }
}

fn asset_error(name: &str, manager: &dyn IoManager, e: Error) -> Error {
    match e {
        Error::Config(m) => {
            Error::Config(format!("asset `{name}` into {}: {m}", manager.describe()))
        }
        other => other,
    }
}

/// A materialised asset as a table: each scan loads it from its IO manager.
fn asset_table(
    manager: Arc<dyn IoManager>,
    name: &str,
    schema: SchemaRef,
) -> Result<datafusion::catalog::streaming::StreamingTable> {
    let partition: Arc<dyn PartitionStream> = Arc::new(AssetPartition {
        manager,
        name: name.to_string(),
        schema: schema.clone(),
    });
    Ok(datafusion::catalog::streaming::StreamingTable::try_new(
        schema,
        vec![partition],
    )?)
}

#[derive(Debug)]
struct AssetPartition {
    manager: Arc<dyn IoManager>,
    name: String,
    schema: SchemaRef,
}

impl PartitionStream for AssetPartition {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let manager = self.manager.clone();
        let name = self.name.clone();
        let loaded = async move { manager.load(&name).await.map_err(Error::into_datafusion) };
        let stream = futures::stream::once(loaded).try_flatten();
        Box::pin(RecordBatchStreamAdapter::new(self.schema.clone(), stream))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asset_names_are_checked() {
        assert!(check_name("customers_2024").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("2x").is_err());
        assert!(check_name("a/b").is_err());
        assert!(check_name("../x").is_err());
    }

    #[tokio::test]
    async fn order_follows_dependencies_and_finds_cycles() {
        let engine = Arc::new(Engine::new());
        let assets = Assets::new(engine.clone())
            .asset(Asset::sql("report", "SELECT * FROM assets.clean"))
            .asset(Asset::sql("clean", "SELECT * FROM assets.raw"))
            .asset(Asset::sql("raw", "SELECT 1 AS x"));
        assert_eq!(assets.order().unwrap(), vec!["raw", "clean", "report"]);
        let cycle = Assets::new(engine.clone())
            .asset(Asset::sql("a", "SELECT * FROM assets.b"))
            .asset(Asset::sql("b", "SELECT 1").deps(["a"]));
        let e = cycle.order().unwrap_err();
        assert!(e.to_string().contains("cycle"), "{e}");
        let unknown = Assets::new(engine.clone()).asset(Asset::sql("a", "SELECT * FROM assets.zz"));
        let e = unknown.order().unwrap_err();
        assert!(e.to_string().contains("`zz`"), "{e}");
        let twice = Assets::new(engine)
            .asset(Asset::sql("a", "SELECT 1"))
            .asset(Asset::sql("a", "SELECT 2"));
        assert!(twice.order().unwrap_err().to_string().contains("twice"));
    }
}
