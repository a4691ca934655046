//! Catalog and schema providers backed by a source's own catalog.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{CatalogProvider, SchemaProvider, TableProvider};
use datafusion::error::DataFusionError;
use tokio::sync::Mutex;

use crate::connector::Source;
use crate::error::Result;
use crate::provider::{RemoteTable, ScanOptions};

/// A source as a DataFusion catalog: one schema per source schema. Table names are read once at
/// registration; column types are read from the source's catalog when a table is first used.
#[derive(Debug)]
pub struct SourceCatalog {
    schemas: BTreeMap<String, Arc<SourceSchema>>,
}

impl SourceCatalog {
    /// Reads the table list of `source`.
    pub async fn load(source: Arc<dyn Source>, options: ScanOptions) -> Result<Self> {
        let mut by_schema: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (schema, table) in source.list_tables().await? {
            by_schema.entry(schema).or_default().push(table);
        }
        by_schema
            .entry(source.default_schema().to_string())
            .or_default();
        let schemas = by_schema
            .into_iter()
            .map(|(name, tables)| {
                let schema = SourceSchema {
                    source: source.clone(),
                    name: name.clone(),
                    tables,
                    options: options.clone(),
                    cache: Mutex::new(HashMap::new()),
                };
                (name, Arc::new(schema))
            })
            .collect();
        Ok(Self { schemas })
    }
}

impl CatalogProvider for SourceCatalog {
    fn schema_names(&self) -> Vec<String> {
        self.schemas.keys().cloned().collect()
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        self.schemas
            .get(name)
            .map(|s| s.clone() as Arc<dyn SchemaProvider>)
    }
}

/// One schema of a source.
#[derive(Debug)]
pub struct SourceSchema {
    source: Arc<dyn Source>,
    name: String,
    tables: Vec<String>,
    options: ScanOptions,
    cache: Mutex<HashMap<String, Arc<RemoteTable>>>,
}

#[async_trait]
impl SchemaProvider for SourceSchema {
    fn table_names(&self) -> Vec<String> {
        self.tables.clone()
    }

    async fn table(
        &self,
        name: &str,
    ) -> std::result::Result<Option<Arc<dyn TableProvider>>, DataFusionError> {
        let mut cache = self.cache.lock().await;
        if let Some(t) = cache.get(name) {
            return Ok(Some(t.clone() as Arc<dyn TableProvider>));
        }
        let meta = self
            .source
            .table_meta(&self.name, name)
            .await
            .map_err(|e| e.into_datafusion())?;
        Ok(meta.map(|meta| {
            let table = Arc::new(RemoteTable::new(
                self.source.clone(),
                meta,
                self.options.clone(),
            ));
            cache.insert(name.to_string(), table.clone());
            table as Arc<dyn TableProvider>
        }))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.tables.iter().any(|t| t == name)
    }
}
