//! Query results as Rust structs, and structs as Arrow batches, over the demo's data (no
//! server needed).
//!
//! ```sh
//! cargo run --example typed_rows
//! ```

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use datafusion::prelude::{col, lit};
use serde::{Deserialize, Serialize};
use vibe_piper::schema::typed::{DataFrameExt, ExpectedSchema, FromRows};
use vibe_piper::{demo, Engine};

#[derive(Debug, Serialize, Deserialize)]
struct Customer {
    c_custkey: i64,
    c_name: String,
    c_acctbal: rust_decimal::Decimal,
    c_mktsegment: Option<String>,
}

#[tokio::main]
async fn main() -> vibe_piper::Result<()> {
    let data = demo::prepare(&demo::default_dir(), 0.01)?;
    let engine = Engine::new();
    engine.register_source("lite", &data.sqlite_url()).await?;

    // SQL text to structs.
    let rich: Vec<Customer> = engine
        .sql(
            "SELECT c_custkey, c_name, c_acctbal, c_mktsegment FROM lite.customer \
             WHERE c_acctbal > 9900 ORDER BY c_acctbal DESC LIMIT 3",
        )
        .await?
        .collect_as()
        .await?;
    for c in &rich {
        println!("{c:?}");
    }

    // The builder to structs.
    let building: Vec<Customer> = engine
        .from("lite.customer")
        .await
        .filter(col("c_mktsegment").eq(lit("BUILDING")))
        .select([
            col("c_custkey"),
            col("c_name"),
            col("c_acctbal"),
            col("c_mktsegment"),
        ])
        .order_by([col("c_custkey").sort(true, true)])
        .limit(2)
        .collect_as()
        .await?;
    println!("{building:?}");

    // Structs back to a batch (for bulk_insert, or any Arrow consumer).
    let batch = RecordBatch::try_from_rows(&rich)?;
    println!("{}", arrow::util::pretty::pretty_format_batches(&[batch])?);

    // A declared schema: the check lists every column that does not match.
    let declared = Arc::new(Schema::new(vec![
        Field::new("c_custkey", DataType::Int32, false),
        Field::new("c_name", DataType::Utf8, false),
    ]));
    let e = engine
        .from("lite.customer")
        .await
        .select([col("c_custkey"), col("c_name")])
        .limit(1)
        .expect_schema(declared.clone(), true)
        .collect()
        .await
        .unwrap_err();
    println!("schema check: {e}");
    // Checking a batch directly: this one conforms.
    let batch = RecordBatch::try_from_rows(&building)?;
    let own = ExpectedSchema::new(batch.schema());
    own.validate(&batch)?;
    println!("the batch built from the structs matches its own schema");
    Ok(())
}
