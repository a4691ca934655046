//! # vibe-piper
//!
//! One SQL query across PostgreSQL, MySQL/MariaDB, Snowflake, SQLite and Parquet/CSV folders, on Apache
//! DataFusion, with results handed on as Arrow
//! [`RecordBatch`](arrow::record_batch::RecordBatch)es. Each backend is a
//! [`connector::Backend`] in the [`connector::Registry`], behind a cargo feature of its own
//! (`postgres`, `mysql`, `snowflake`, `sqlite`; all on by default); one from another crate plugs in through
//! [`EngineBuilder::backend`] or [`Engine::register_table_source`].
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

pub mod assets;
pub mod blocking;
pub mod connector;
#[cfg(feature = "demo")]
pub mod demo;
pub mod engine;
pub mod error;
pub mod progress;
pub mod provider;
pub mod query;
pub mod read;
pub mod schema;

pub use engine::{Engine, EngineBuilder};
pub use error::{Error, Result};
pub use query::QueryBuilder;
