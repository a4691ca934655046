//! The connector contract against PostgreSQL: a pool, parameters, a transaction, a bulk load,
//! and a write through the engine's SQL.
//!
//! ```sh
//! VP_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo run --example connector
//! ```

use std::sync::Arc;

use arrow::array::{Float64Array, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use vibe_piper::connector::executor::stream_of_batches;
use vibe_piper::connector::postgres::PostgresConnector;
use vibe_piper::connector::{
    BulkOptions, Connector, Executor, ExecutorExt, PoolOptions, TableName,
};
use vibe_piper::{params, Engine};

#[tokio::main]
async fn main() -> vibe_piper::Result<()> {
    let url = std::env::var("VP_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let db = PostgresConnector::connect_with(
        &url,
        PoolOptions {
            pool_size: 10,
            ..Default::default()
        },
    )
    .await?;
    db.execute("DROP TABLE IF EXISTS vp_example_orders", &[])
        .await?;
    db.execute(
        "CREATE TABLE vp_example_orders (id bigint PRIMARY KEY, customer text NOT NULL, total double precision)",
        &[],
    )
    .await?;

    // Parameters are bound by the driver: the quote in the name is data, not SQL.
    db.execute(
        "INSERT INTO vp_example_orders VALUES ($1, $2, $3)",
        &params![1, "O'Brien", 19.5],
    )
    .await?;
    db.execute_many(
        "INSERT INTO vp_example_orders VALUES ($1, $2, $3)",
        &[params![2, "Ada", 5.0], params![3, "Grace", None::<f64>]],
    )
    .await?;

    // A transaction: rolled back here, so the delete never happens.
    let tx = db.transaction().await?;
    tx.execute("DELETE FROM vp_example_orders", &[]).await?;
    tx.rollback().await?;

    // A bulk load through binary COPY, all or nothing.
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("customer", DataType::Utf8, false),
        Field::new("total", DataType::Float64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from(vec![10, 11])),
            Arc::new(StringArray::from(vec!["Linus", "Barbara"])),
            Arc::new(Float64Array::from(vec![Some(7.25), Some(1.0)])),
        ],
    )?;
    let loaded = db
        .bulk_insert(
            &TableName::parse("vp_example_orders")?,
            stream_of_batches(schema, vec![batch]),
            &BulkOptions::default(),
        )
        .await?;
    println!("bulk-loaded {loaded} rows");

    // The engine writes through the source's own pool: UPDATE with its filter run at the source.
    let engine = Engine::new();
    engine.register_source("pg", &url).await?;
    let updated = engine
        .sql_collect("UPDATE pg.public.vp_example_orders SET total = total * 2 WHERE id >= 10")
        .await?;
    println!("{}", arrow::util::pretty::pretty_format_batches(&updated)?);

    let rows = db
        .fetch_all(
            "SELECT id, customer, total FROM vp_example_orders WHERE total > $1 ORDER BY id",
            &params![1.5],
        )
        .await?;
    println!("{}", arrow::util::pretty::pretty_format_batches(&rows)?);
    db.execute("DROP TABLE vp_example_orders", &[]).await?;
    db.disconnect().await
}
