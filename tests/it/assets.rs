//! IO managers (Parquet on local disk and S3, PostgreSQL and MariaDB tables) and assets, against
//! the real services: round trips, atomic replacement, dependency order.

use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use vibe_piper::assets::{Asset, Assets, IoManager, ParquetIoManager, TableIoManager};
use vibe_piper::Engine;

use crate::common::*;

async fn collect(stream: SendableRecordBatchStream) -> Vec<RecordBatch> {
    use futures::TryStreamExt;
    stream.try_collect().await.unwrap()
}

/// A stream that yields `batch` and then fails, as a source that breaks midway does.
fn failing_after(batch: RecordBatch) -> SendableRecordBatchStream {
    let schema = batch.schema();
    Box::pin(RecordBatchStreamAdapter::new(
        schema,
        futures::stream::iter(vec![
            Ok(batch),
            Err(datafusion::error::DataFusionError::Execution(
                "the source broke".into(),
            )),
        ]),
    ))
}

/// Stores the people table (and, for managers that store any type, the type table) through
/// `manager`, loads them back, then checks that a failed store keeps the previous version.
async fn manager_round_trip(engine: &Engine, manager: &dyn IoManager, all_types: bool) {
    // MySQL has no boolean type: its BOOLEAN is TINYINT(1), read back as a number.
    let active = if all_types {
        "active"
    } else {
        "CAST(active AS TINYINT) AS active"
    };
    let people =
        format!("SELECT id, name, city, score, qty, {active}, born FROM src.people ORDER BY id");
    let people = people.as_str();
    let expected = query(engine, people).await;
    let stored = manager
        .store("people", engine.sql_stream(people).await.unwrap())
        .await
        .unwrap();
    assert_eq!(stored.rows, 10, "{}", manager.describe());
    let mut back = rows(&collect(manager.load("people").await.unwrap()).await);
    back.sort_by_key(|r| r.split('|').next().unwrap().parse::<i64>().unwrap());
    assert_eq!(back, expected, "{}", manager.describe());

    if all_types {
        let types = format!(
            "SELECT {} FROM src.types ORDER BY id",
            crate::extract::PARQUET_COLUMNS
        );
        let types = types.as_str();
        let expected = query(engine, types).await;
        manager
            .store("types", engine.sql_stream(types).await.unwrap())
            .await
            .unwrap();
        let mut back = rows(&collect(manager.load("types").await.unwrap()).await);
        back.sort();
        let mut expected = expected;
        expected.sort();
        assert_eq!(back, expected, "{}", manager.describe());
    }

    // A second version replaces the first whole...
    let v2 =
        format!("SELECT id, name, city, score, qty, {active}, born FROM src.people WHERE id <= 3");
    let v2 = v2.as_str();
    manager
        .store("people", engine.sql_stream(v2).await.unwrap())
        .await
        .unwrap();
    assert_eq!(
        collect(manager.load("people").await.unwrap())
            .await
            .iter()
            .map(|b| b.num_rows())
            .sum::<usize>(),
        3
    );
    // ... and a store that fails midway leaves it as it was.
    let batch = engine.sql_collect(people).await.unwrap().remove(0);
    let e = manager
        .store("people", failing_after(batch))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("the source broke"), "{e}");
    let mut back = rows(&collect(manager.load("people").await.unwrap()).await);
    back.sort();
    let mut v2_rows = query(engine, v2).await;
    v2_rows.sort();
    assert_eq!(back, v2_rows, "{}", manager.describe());

    let Err(e) = manager.load("never_stored").await else {
        panic!("loaded what was never stored");
    };
    assert!(e.to_string().contains("never_stored"), "{e}");
}

async fn pg_engine(test: &str) -> (PgNamespace, Engine) {
    let ns = PgNamespace::new(test).await;
    crate::conformance::people(&ns).await;
    ns.exec(crate::postgres::TYPES_DDL).await;
    let e = engine(&ns, Engine::builder(), "").await;
    (ns, e)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_on_local_disk() {
    let (ns, engine) = pg_engine("io_parquet_local").await;
    let dir = tempfile::tempdir().unwrap();
    let m = ParquetIoManager::new(&format!("{}/assets/", dir.path().display())).unwrap();
    manager_round_trip(&engine, &m, true).await;
    // Only complete files are left: no staging files of the failed store.
    let mut names: Vec<_> = std::fs::read_dir(dir.path().join("assets"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, vec!["people.parquet", "types.parquet"]);
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_on_s3() {
    let (ns, engine) = pg_engine("io_parquet_s3").await;
    let m = ParquetIoManager::new(&s3_url(&unique("io-manager"))).unwrap();
    assert!(!m.describe().contains("vp-secret-123"), "{}", m.describe());
    manager_round_trip(&engine, &m, true).await;
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_tables() {
    let (ns, engine) = pg_engine("io_pg_tables").await;
    // A schema of its own: the source tables are called `people` and `types` too.
    let io_schema = format!("{}_io", ns.schema);
    ns.exec(&format!(
        "DROP SCHEMA IF EXISTS {io_schema} CASCADE; CREATE SCHEMA {io_schema}"
    ))
    .await;
    let connector = vibe_piper::connector::connect(&ns.url("")).await.unwrap();
    let m = TableIoManager::new(connector).schema(&io_schema);
    manager_round_trip(&engine, &m, true).await;
    // No staging table is left behind.
    let left = ns
        .client
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1",
            &[&io_schema],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect::<Vec<_>>();
    assert_eq!(left, vec!["people", "types"]);
    ns.exec(&format!("DROP SCHEMA {io_schema} CASCADE")).await;
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_tables() {
    let (pg, engine) = pg_engine("io_my_tables_src").await;
    let ns = MySqlNamespace::new("io_my_tables");
    let connector = vibe_piper::connector::connect(&ns.url("")).await.unwrap();
    let m = TableIoManager::new(connector);
    manager_round_trip(&engine, &m, false).await;
    let left = ns.text_rows(&format!(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = '{}' ORDER BY 1",
        ns.database
    ));
    assert_eq!(left, vec![vec![Some("people".to_string())]]);
    ns.cleanup().await;
    pg.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assets_materialise_in_dependency_order_through_several_managers() {
    let ns = PgNamespace::new("assets_customers").await;
    ns.exec(
        "CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL, email text, active boolean NOT NULL);
         INSERT INTO customers VALUES (1, 'Ada', 'ada@example.com', true), (2, 'Bob', NULL, false),
           (3, 'Cy', 'cy@example.com', true);",
    )
    .await;
    let engine = Arc::new(engine(&ns, Engine::builder(), "").await);
    let dir = tempfile::tempdir().unwrap();
    let parquet = Arc::new(ParquetIoManager::new(&format!("{}/", dir.path().display())).unwrap());
    let connector = vibe_piper::connector::connect(&ns.url("pool_size=10"))
        .await
        .unwrap();
    let tables = Arc::new(TableIoManager::new(connector).schema(&ns.schema));
    let assets = Assets::new(engine.clone())
        .io_manager("parquet", parquet.clone())
        .io_manager("postgresql", tables.clone())
        // Added before what it depends on: the order comes from the dependencies.
        .asset(Asset::sql(
            "active_count",
            "SELECT count(*) AS n FROM assets.customers",
        ))
        .asset(
            Asset::sql(
                "customers",
                "SELECT * FROM src.customers WHERE active = true",
            )
            .io_managers(["parquet", "postgresql"]),
        )
        .asset(
            Asset::function("emails", |ctx| async move {
                let customers = ctx.load("customers").await?;
                let df = ctx
                    .engine()
                    .context()
                    .read_batches({
                        use futures::TryStreamExt;
                        customers
                            .try_collect::<Vec<_>>()
                            .await
                            .map_err(vibe_piper::Error::from_datafusion)?
                    })
                    .map_err(vibe_piper::Error::from_datafusion)?;
                df.select_columns(&["email"])
                    .map_err(vibe_piper::Error::from_datafusion)?
                    .execute_stream()
                    .await
                    .map_err(vibe_piper::Error::from_datafusion)
            })
            .deps(["customers"]),
        );
    assert_eq!(
        assets.order().unwrap(),
        vec!["customers", "active_count", "emails"]
    );
    let done = assets.materialize().await.unwrap();
    assert_eq!(
        done.iter()
            .map(|m| (m.name.as_str(), m.rows))
            .collect::<Vec<_>>(),
        vec![("customers", 2), ("active_count", 1), ("emails", 2)]
    );
    assert_eq!(done[0].stored.len(), 2);
    assert!(dir.path().join("customers.parquet").exists());
    assert_eq!(
        rows(&collect(tables.load("customers").await.unwrap()).await),
        vec!["1|Ada|ada@example.com|true", "3|Cy|cy@example.com|true"]
    );
    assert_eq!(
        rows(&collect(assets.load("active_count").await.unwrap()).await),
        vec!["2"]
    );
    // Materialised assets are tables of the engine.
    assert_eq!(
        query(&engine, "SELECT name FROM assets.customers ORDER BY id").await,
        vec!["Ada", "Cy"]
    );
    ns.cleanup().await;
}
