//! The original design's asset example in Rust: `customers` read from PostgreSQL (`SELECT *
//! FROM customers WHERE active = true`, a pool of 10), stored by two IO managers (Parquet files
//! in a folder, and a PostgreSQL table), then loaded back from each. A second asset depends on
//! the first and reads it as the table `assets.customers`.
//!
//! ```sh
//! VP_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo run --example assets [-- OUT_DIR]
//! ```
//!
//! The Python original:
//! ```python
//! connector = PostgreSQLConnector(host="localhost", port=5432, database="mydb", user="user",
//!                                 password="password", pool_size=10)
//! @asset(io_manager="postgresql", connector="my_connector")
//! def customers(connector: PostgreSQLConnector):
//!     return connector.query("SELECT * FROM customers WHERE active = true")
//! ```

use std::sync::Arc;

use futures::TryStreamExt;
use vibe_piper::assets::{Asset, Assets, IoManager, ParquetIoManager, TableIoManager};
use vibe_piper::connector::Connector;
use vibe_piper::{params, Engine};

#[tokio::main]
async fn main() -> vibe_piper::Result<()> {
    let url = std::env::var("VP_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let out = std::env::args().nth(1).unwrap_or_else(|| {
        std::env::temp_dir()
            .join("vibe-piper-assets/")
            .display()
            .to_string()
    });

    // The connector, a pool of 10, with the example's table (created once).
    let sep = if url.contains('?') { '&' } else { '?' };
    let connector: Arc<dyn Connector> =
        vibe_piper::connector::connect(&format!("{url}{sep}pool_size=10")).await?;
    connector
        .execute(
            "CREATE TABLE IF NOT EXISTS customers (id bigint PRIMARY KEY, name text NOT NULL, \
             email text, active boolean NOT NULL)",
            &[],
        )
        .await?;
    connector
        .execute_many(
            "INSERT INTO customers VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
            &[
                params![1, "Ada Lovelace", "ada@example.com", true],
                params![2, "Charles Babbage", None::<String>, false],
                params![3, "Grace Hopper", "grace@example.com", true],
            ],
        )
        .await?;

    // The engine reads the database as the source `pg`.
    let engine = Arc::new(Engine::new());
    engine.register_source("pg", &url).await?;

    // Two IO managers: Parquet files in a folder, and tables of the same database in the
    // schema `vp_assets` (each asset is the table of its name).
    let parquet: Arc<dyn IoManager> = Arc::new(ParquetIoManager::new(&out)?);
    let tables: Arc<dyn IoManager> =
        Arc::new(TableIoManager::new(connector.clone()).schema("vp_assets"));
    connector
        .execute("CREATE SCHEMA IF NOT EXISTS vp_assets", &[])
        .await?;

    let assets = Assets::new(engine.clone())
        .io_manager("parquet", parquet.clone())
        .io_manager("postgresql", tables.clone())
        .asset(
            Asset::sql(
                "customers",
                "SELECT * FROM pg.customers WHERE active = true",
            )
            .io_managers(["parquet", "postgresql"]),
        )
        .asset(Asset::sql(
            "customer_domains",
            "SELECT split_part(email, '@', 2) AS domain, count(*) AS n \
             FROM assets.customers GROUP BY 1 ORDER BY 1",
        ));

    for m in assets.materialize().await? {
        for place in &m.stored {
            println!("{:<17} {} rows -> {}", m.name, place.rows, place.location);
        }
    }

    // Loaded back from each IO manager.
    for (name, manager) in [("parquet", &parquet), ("postgresql", &tables)] {
        let batches: Vec<_> = manager
            .load("customers")
            .await?
            .try_collect()
            .await
            .map_err(vibe_piper::Error::from_datafusion)?;
        println!("\ncustomers from {name} ({}):", manager.describe());
        println!("{}", arrow::util::pretty::pretty_format_batches(&batches)?);
    }
    let domains: Vec<_> = assets
        .load("customer_domains")
        .await?
        .try_collect()
        .await
        .map_err(vibe_piper::Error::from_datafusion)?;
    println!("\ncustomer_domains:");
    println!("{}", arrow::util::pretty::pretty_format_batches(&domains)?);
    connector.disconnect().await
}
