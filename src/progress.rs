//! Counters that long work (an extraction, a bulk load, a query) updates as it goes, for a
//! progress display. A [`Progress`] given to [`EngineBuilder::progress`](crate::EngineBuilder::progress)
//! also counts the rows every `INSERT` through the engine loads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Counters an extraction (or a load, or a query) updates as it goes, for a progress display.
/// Cheap to share: clone the `Arc` and read it from another task.
#[derive(Debug, Default)]
pub struct Progress {
    rows: AtomicU64,
    bytes: AtomicU64,
    files: AtomicU64,
    expected_rows: AtomicU64,
    started: OnceLock<Instant>,
}

impl Progress {
    /// A new set of counters, all zero.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Rows handled so far.
    pub fn rows(&self) -> u64 {
        self.rows.load(Ordering::Relaxed)
    }

    /// Bytes written so far (encoded, before upload).
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Files finished so far.
    pub fn files(&self) -> u64 {
        self.files.load(Ordering::Relaxed)
    }

    /// The rows the source expects to send, when it gave an estimate.
    pub fn expected_rows(&self) -> Option<u64> {
        Some(self.expected_rows.load(Ordering::Relaxed)).filter(|n| *n > 0)
    }

    /// Time since the work started (zero before).
    pub fn elapsed(&self) -> Duration {
        self.started.get().map(Instant::elapsed).unwrap_or_default()
    }

    /// Marks the start (the first call counts).
    pub fn start(&self) {
        let _ = self.started.set(Instant::now());
    }

    /// Adds `n` rows.
    pub fn add_rows(&self, n: u64) {
        self.rows.fetch_add(n, Ordering::Relaxed);
    }

    /// Adds `n` bytes.
    pub fn add_bytes(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
    }

    /// Sets the expected total of rows (0: unknown).
    pub fn set_expected_rows(&self, n: u64) {
        self.expected_rows.store(n, Ordering::Relaxed);
    }

    /// Adds a finished file.
    pub fn add_file(&self) {
        self.files.fetch_add(1, Ordering::Relaxed);
    }
}
