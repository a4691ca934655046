//! Joins a SQLite database with Parquet files, no server needed: the demo's TPC-H data.
//!
//! ```sh
//! cargo run --example federated
//! ```

use vibe_piper::{demo, Engine};

#[tokio::main]
async fn main() -> vibe_piper::Result<()> {
    let data = demo::prepare(&demo::default_dir(), 0.01)?;
    let engine = Engine::builder().target_partitions(2).build();
    engine.register_source("lite", &data.sqlite_url()).await?;
    engine
        .register_source("files", &data.parquet_url()?)
        .await?;

    // Orders per priority in 1995, with the total quantity from the Parquet lineitem table.
    let sql =
        "SELECT o.o_orderpriority, count(DISTINCT o.o_orderkey) AS orders, sum(l.l_quantity) AS qty
                 FROM lite.orders o JOIN files.lineitem l ON l.l_orderkey = o.o_orderkey
                WHERE o.o_totalprice > 100000
                GROUP BY o.o_orderpriority ORDER BY o.o_orderpriority";
    let batches = engine.sql_collect(sql).await?;
    println!("{}", arrow::util::pretty::pretty_format_batches(&batches)?);

    // The SQL each SQLite partition received.
    let plan = engine.sql_collect(&format!("EXPLAIN {sql}")).await?;
    println!("{}", arrow::util::pretty::pretty_format_batches(&plan)?);
    Ok(())
}
