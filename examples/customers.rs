//! The original design's example in Rust: a PostgreSQL connector with a pool of 10, the
//! `customers` query filtered on `active = true`, mapped to a typed struct.
//!
//! ```sh
//! VP_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo run --example customers
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

use serde::Deserialize;
use vibe_piper::connector::postgres::PostgresConnector;
use vibe_piper::connector::{Connector, Executor, ExecutorExt, PoolOptions};
use vibe_piper::params;
use vibe_piper::schema::typed::from_batches;

#[derive(Debug, Deserialize)]
struct Customer {
    id: i64,
    name: String,
    email: Option<String>,
    active: bool,
}

/// The asset: every active customer.
async fn customers(connector: &PostgresConnector) -> vibe_piper::Result<Vec<Customer>> {
    let batches = connector
        .fetch_all(
            "SELECT * FROM customers WHERE active = true ORDER BY id",
            &[],
        )
        .await?;
    from_batches(&batches)
}

#[tokio::main]
async fn main() -> vibe_piper::Result<()> {
    let url = std::env::var("VP_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let connector = PostgresConnector::connect_with(
        &url,
        PoolOptions {
            pool_size: 10,
            ..Default::default()
        },
    )
    .await?;

    // Create and fill the table (once).
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

    for c in customers(&connector).await? {
        println!(
            "{:>3}  {:<16} {:<20} active={}",
            c.id,
            c.name,
            c.email.as_deref().unwrap_or("-"),
            c.active
        );
    }
    println!("pool: {:?}", connector.pool_status());
    connector.disconnect().await
}
