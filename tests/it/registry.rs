//! Backends added from outside the crate, through the public API only: a backend registered
//! by scheme on the engine builder, and a `Source` (with its own `ScanReader`) registered as a
//! table source.

use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::execution::SessionState;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::sql::unparser::dialect::Dialect;
use vibe_piper::connector::{
    Backend, Opened, PartitionPlan, Registry, Snapshot, Source, TableMeta,
};
use vibe_piper::read::{BatchReceiver, ReadMetrics, ScanReader, ScanRequest};
use vibe_piper::{Engine, Error};

use crate::common::*;

/// A backend answering to `lite://`, opening the path as the built-in SQLite backend would.
#[derive(Debug)]
struct Lite;

#[async_trait]
impl Backend for Lite {
    fn name(&self) -> &'static str {
        "lite"
    }
    fn schemes(&self) -> &'static [&'static str] {
        &["lite"]
    }
    async fn open(&self, url: &str, session: &SessionState) -> vibe_piper::Result<Opened> {
        let path = url.strip_prefix("lite://").unwrap_or(url);
        Registry::builtin()
            .open(&format!("sqlite://{path}"), session)
            .await
    }
}

/// A backend that claims `sqlite://` and opens nothing.
#[derive(Debug)]
struct Refuse;

#[async_trait]
impl Backend for Refuse {
    fn name(&self) -> &'static str {
        "refuse"
    }
    fn schemes(&self) -> &'static [&'static str] {
        &["sqlite"]
    }
    async fn open(&self, _url: &str, _session: &SessionState) -> vibe_piper::Result<Opened> {
        Err(Error::Config("refused by the test backend".into()))
    }
}

/// A source that delegates to another and counts the partitions its reader starts.
#[derive(Debug)]
struct Counting {
    inner: Arc<dyn Source>,
    reader: Arc<CountingReader>,
}

#[derive(Debug)]
struct CountingReader {
    inner: Arc<dyn ScanReader>,
    started: AtomicUsize,
}

impl ScanReader for CountingReader {
    fn name(&self) -> &'static str {
        "counting"
    }

    fn spawn(
        &self,
        request: ScanRequest,
        metrics: ReadMetrics,
        keep_alive: Option<Arc<dyn Any + Send + Sync>>,
    ) -> BatchReceiver {
        self.started.fetch_add(1, Ordering::SeqCst);
        self.inner.spawn(request, metrics, keep_alive)
    }
}

#[async_trait]
impl Source for Counting {
    fn backend(&self) -> &'static str {
        "counting"
    }
    fn default_schema(&self) -> &str {
        self.inner.default_schema()
    }
    fn dialect(&self) -> &dyn Dialect {
        self.inner.dialect()
    }
    fn placeholder(&self, n: usize) -> String {
        self.inner.placeholder(n)
    }
    async fn list_tables(&self) -> vibe_piper::Result<Vec<(String, String)>> {
        self.inner.list_tables().await
    }
    async fn table_meta(&self, schema: &str, table: &str) -> vibe_piper::Result<Option<TableMeta>> {
        self.inner.table_meta(schema, table).await
    }
    fn filter_pushdown(&self, meta: &TableMeta, filter: &Expr) -> TableProviderFilterPushDown {
        self.inner.filter_pushdown(meta, filter)
    }
    fn hidden_columns(&self) -> Vec<arrow::datatypes::FieldRef> {
        self.inner.hidden_columns()
    }
    async fn plan_partitions(
        &self,
        meta: &TableMeta,
        target: usize,
    ) -> vibe_piper::Result<PartitionPlan> {
        self.inner.plan_partitions(meta, target).await
    }
    async fn snapshot(&self) -> vibe_piper::Result<Option<Snapshot>> {
        self.inner.snapshot().await
    }
    fn reader(&self) -> Arc<dyn ScanReader> {
        self.reader.clone()
    }
}

async fn numbers(ns: &dyn Namespace) {
    ns.exec(
        "CREATE TABLE nums (id INTEGER PRIMARY KEY, label TEXT);
         WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 1000)
         INSERT INTO nums SELECT i, 'n' || i FROM s;",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_registered_by_scheme_from_outside_the_crate() -> vibe_piper::Result<()> {
    let ns = SqliteFixture.namespace("registry_scheme").await;
    numbers(ns.as_ref()).await;
    let path = ns.url("").strip_prefix("sqlite://").unwrap().to_string();

    // Without the backend, the scheme is refused with the schemes this build knows.
    let plain = Engine::new();
    let err = plain
        .register_source("l", &format!("lite://{path}"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UnsupportedScheme { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("lite") && text.contains("sqlite://") && text.contains("file://"),
        "{text}"
    );

    let e = Engine::builder().backend(Arc::new(Lite)).build();
    e.register_source("l", &format!("lite://{path}")).await?;
    assert_eq!(
        query(
            &e,
            "SELECT count(*), sum(id), max(label) FROM l.nums WHERE id > 10"
        )
        .await,
        vec!["990|500445|n999"]
    );
    let err = e
        .register_source("x", "unknown://nowhere")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("lite://") && err.contains("unknown"), "{err}");

    // A backend registered later wins for a scheme the build already has.
    let e = Engine::builder().backend(Arc::new(Refuse)).build();
    let err = e.register_source("s", &ns.url("")).await.unwrap_err();
    assert!(
        err.to_string().contains("refused by the test backend"),
        "{err}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_and_reader_implemented_outside_the_crate() -> vibe_piper::Result<()> {
    let ns = SqliteFixture.namespace("registry_source").await;
    numbers(ns.as_ref()).await;
    let inner = match Registry::builtin()
        .open(&ns.url(""), &Engine::new().context().state())
        .await?
    {
        Opened::Source(s) => s,
        other => panic!("expected a SQL source, got {other:?}"),
    };
    let reader = Arc::new(CountingReader {
        inner: inner.reader(),
        started: AtomicUsize::new(0),
    });
    let source = Arc::new(Counting {
        inner,
        reader: reader.clone(),
    });
    let e = Engine::builder().target_partitions(3).build();
    e.register_table_source("c", source).await?;
    assert_eq!(
        query(
            &e,
            "SELECT count(*), min(label) FROM c.nums WHERE id <= 500"
        )
        .await,
        vec!["500|n1"]
    );
    assert_eq!(reader.started.load(Ordering::SeqCst), 3);
    let plan = explain(&e, "SELECT id FROM c.nums WHERE id = 7").await;
    assert!(plan.contains("source=counting"), "{plan}");
    // Writes need a connector, which this source does not have.
    let err = e
        .sql_collect("INSERT INTO c.nums VALUES (2000, 'x')")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("read-only") || err.contains("connector"),
        "{err}"
    );
    Ok(())
}
