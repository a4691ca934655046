//! Shared read machinery: the ConnectorX reader and the Arrow bridge.
//!
//! ConnectorX builds its batches with its own arrow version (56); DataFusion uses arrow 59.
//! [`bridge`] moves batches across through the Arrow C Data Interface without copying a buffer,
//! and [`cx`] runs ConnectorX's blocking record-batch iterator on a thread of its own, turning
//! its panics into errors and bounding how much it may read ahead. [`sqlite`] reads SQLite files
//! in process.

pub mod bridge;
pub mod cx;
pub mod sqlite;
