//! The loader's settings and their defaults (docs/benchmarks.md has the figures behind them).

use std::time::Duration;

/// Loader settings.
#[derive(Debug, Clone)]
pub struct LoaderConfig {
    /// Records per transaction (more = fewer commits; bounded by memory only).
    pub batch_size: usize,
    /// Plan and count, write nothing.
    pub dry_run: bool,
    /// Delete file references the files no longer have (off by default, extras are reported).
    pub reconcile: bool,
    /// Over Kafka: the consumer group whose offsets are stored with each batch (and fence out
    /// records an earlier owner already applied). `None` in-process.
    pub consumer_group: Option<String>,
    /// One-shot runs: an outage longer than this (or a batch the server does not answer within
    /// it, at least 60 s: a blackholed connection) fails the load with the cause instead of
    /// waiting forever (`--db-timeout`). Workers keep `None`: they wait.
    pub give_up_after: Option<Duration>,
    /// A ceiling on rows written per second by this loader (`--max-rows-per-second`, divided
    /// among a process's loaders): protects a live database during the backfill.
    pub max_rows_per_second: Option<f64>,
    /// Also slow down when the database's commit latency rises, or while it runs more than
    /// `adaptive_threads_running` statements besides this loader's (`--adaptive-throttle`).
    pub adaptive_throttle: bool,
    /// See `adaptive_throttle` (MySQL's `Threads_running` − 1, smoothed).
    pub adaptive_threads_running: u32,
    /// Dead letters are stored for a forwarder to publish (`msgmig load`, which runs one);
    /// otherwise they are stored as already handled (the embedded pipeline has no topic).
    pub publish_dead_letters: bool,
    /// A one-shot run's identity (`migrate`): what the run counted for each message is kept
    /// with its provenance, so its summary does not depend on the order claimants arrived in
    /// ([`crate::DepositionReport::recounts`]). `None` for workers.
    pub run_id: Option<String>,
}

impl Default for LoaderConfig {
    fn default() -> Self {
        LoaderConfig {
            batch_size: DEFAULT_BATCH_SIZE,
            dry_run: false,
            reconcile: false,
            consumer_group: None,
            give_up_after: None,
            max_rows_per_second: None,
            adaptive_throttle: false,
            adaptive_threads_running: DEFAULT_THREADS_RUNNING,
            publish_dead_letters: false,
            run_id: None,
        }
    }
}

/// Messages per transaction of the workers (`run`, `load`) unless configured (`--batch-size`):
/// larger batches reach each index in longer sorted runs; the workers keep a batch and a queue
/// of records in memory.
pub const DEFAULT_BATCH_SIZE: usize = 5000;

/// Messages per transaction of a one-shot `migrate` deposition by deposition unless configured
/// (`--batch-size`). Each batch walks every index of the app tables once, in key order: fewer,
/// larger batches walk them fewer times, until the batches' dirty pages crowd the index pages
/// out of a default buffer pool.
pub const BACKFILL_BATCH_SIZE: usize = 10_000;

/// Loaders a `migrate` runs unless configured (`--loaders`): each is one transaction at a time
/// on its own connection, holding a batch and a queue of records in memory (a third loader of
/// [`BACKFILL_BATCH_SIZE`] takes a run's memory past 300 MB).
pub const DEFAULT_LOADERS: usize = 2;

/// A batch also closes at this much message text, so a run of large messages (pasted
/// validation reports of MiBs) cannot make one transaction, and the loader's memory, huge.
pub const BATCH_BYTES: usize = 32 << 20;

/// Statements a database server may run besides a loader's before the adaptive throttle
/// backs off (`--adaptive-threads-running`).
pub const DEFAULT_THREADS_RUNNING: u32 = 8;
