//! The query builder over the demo's TPC-H data (SQLite + Parquet), no server needed.
//!
//! ```sh
//! cargo run --example query_builder
//! ```

use datafusion::functions_aggregate::expr_fn::{count, sum};
use datafusion::prelude::{col, lit, JoinType};
use vibe_piper::{demo, Engine};

#[tokio::main]
async fn main() -> vibe_piper::Result<()> {
    let data = demo::prepare(&demo::default_dir(), 0.01)?;
    let engine = Engine::builder().target_partitions(2).build();
    engine.register_source("lite", &data.sqlite_url()).await?;
    engine
        .register_source("files", &data.parquet_url()?)
        .await?;

    // Revenue per order priority for big orders: SQLite orders joined with Parquet lineitem.
    let q = engine
        .from("lite.orders")
        .await
        .filter(col("o_totalprice").gt(lit(300_000.0)))
        .join(
            engine.from("files.lineitem").await,
            JoinType::Inner,
            ["o_orderkey"],
            ["l_orderkey"],
        )
        .group_by(["o_orderpriority"])
        .aggregate([
            count(lit(1)).alias("lines"),
            sum(col("l_extendedprice")).alias("revenue"),
        ])
        .order_by([col("revenue").sort(false, true)])
        .limit(5);
    println!("-- the builder as SQL\n{}\n", q.to_sql()?);
    let batches = q.clone().collect().await?;
    println!("{}", arrow::util::pretty::pretty_format_batches(&batches)?);

    // The same pushdown as SQL text: the filter reaches SQLite.
    let plan = q.into_dataframe()?.explain(false, false)?.collect().await?;
    println!("{}", arrow::util::pretty::pretty_format_batches(&plan)?);

    // A mistake is caught before anything runs, naming the column and the table.
    let bad = engine
        .from("lite.orders")
        .await
        .filter(col("o_totalprise").gt(lit(1)))
        .collect()
        .await;
    println!("invalid builder: {}", bad.unwrap_err());
    Ok(())
}
