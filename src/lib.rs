//! # vibe-piper
//!
//! One SQL query across PostgreSQL, SQLite and Parquet/CSV folders (MySQL, Snowflake and BigQuery
//! join through the same [`connector::Source`] trait), on Apache DataFusion, with results handed
//! on as Arrow [`RecordBatch`](arrow::record_batch::RecordBatch)es.
//!
//! ```no_run
//! # async fn demo() -> vibe_piper::Result<()> {
//! let engine = vibe_piper::Engine::new();
//! engine.register_source("lite", "sqlite:///tmp/tpch.db").await?;
//! let batches = engine.sql("SELECT count(*) FROM lite.orders").await?.collect().await?;
//! # Ok(()) }
//! ```
//!
//! Layers, each using only the ones below it: [`engine`] (session, catalogs, registration) →
//! [`provider`] (TableProvider, scan, pushdown, partitioning) → [`connector`] (everything one
//! backend knows) → shared machinery ([`read`], [`schema`], [`error`]).
#![warn(missing_docs)]

pub mod blocking;
pub mod connector;
pub mod demo;
pub mod engine;
pub mod error;
pub mod provider;
pub mod query;
pub mod read;
pub mod schema;

pub use engine::{Engine, EngineBuilder};
pub use error::{Error, Result};
pub use query::QueryBuilder;
