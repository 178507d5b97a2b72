//! Loader metrics (`msgmig_loader_*`). The counts of messages, rows and depositions are updated
//! after each committed batch only, so they count what the database really holds.

use prometheus::{
    register_histogram, register_int_counter, register_int_counter_vec, register_int_gauge,
    Histogram, IntCounter, IntCounterVec, IntGauge,
};
use std::sync::LazyLock;

/// Messages by `outcome` (inserted, updated, unchanged, stale, conflict).
pub static MESSAGES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "msgmig_loader_messages_total",
        "Messages applied, by outcome.",
        &["outcome"]
    )
    .expect("registered once")
});

/// Rows written, by `table`.
pub static ROWS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "msgmig_loader_rows_written_total",
        "Rows inserted or updated, by table.",
        &["table"]
    )
    .expect("registered once")
});

/// Depositions whose end marker committed, by `state` (loaded, conflicts, quarantined).
pub static DEPOSITIONS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "msgmig_loader_depositions_total",
        "Depositions recorded, by state.",
        &["state"]
    )
    .expect("registered once")
});

/// Seconds per committed batch transaction.
pub static BATCH_SECONDS: LazyLock<Histogram> = LazyLock::new(|| {
    register_histogram!(
        "msgmig_loader_batch_seconds",
        "Duration of one batch transaction.",
        vec![0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]
    )
    .expect("registered once")
});

/// Messages per committed batch.
pub static BATCH_MESSAGES: LazyLock<Histogram> = LazyLock::new(|| {
    register_histogram!(
        "msgmig_loader_batch_messages",
        "Messages in one batch.",
        vec![1.0, 10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2000.0]
    )
    .expect("registered once")
});

/// Freshness: seconds from the newest file mtime of a deposition to the commit of its changed
/// rows. Only depositions whose rows changed are observed.
pub static FRESHNESS_SECONDS: LazyLock<Histogram> = LazyLock::new(|| {
    register_histogram!(
        "msgmig_loader_freshness_seconds",
        "Seconds from file mtime to the commit of the changed rows.",
        vec![
            0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0,
            6.0, 7.5, 10.0, 15.0, 30.0, 60.0, 300.0, 900.0, 3600.0
        ]
    )
    .expect("registered once")
});

/// Batches retried after a transient database error.
pub static DB_RETRIES: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "msgmig_loader_db_retries_total",
        "Batches retried after a transient database error."
    )
    .expect("registered once")
});

/// Batches written as all new (no stored row read first) that failed and were rolled back to
/// their savepoint, then planned against the stored rows (`loader/src/fresh.rs`). Counted when
/// the rollback happens, committed or not: a steady rise means the presumption keeps costing a
/// wasted write.
pub static PRESUMED_NEW_REFUTED: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "msgmig_loader_presumed_new_refuted_total",
        "Batches written as all new that found a stored message id (or failed) and were planned again."
    )
    .expect("registered once")
});

/// Inputs dead-lettered by the loader, by `reason` (bad_payload, database_rejected).
pub static DEAD_LETTERS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "msgmig_loader_dead_letters_total",
        "Inputs sent to the dead-letter topic by the loader, by reason.",
        &["reason"]
    )
    .expect("registered once")
});

/// 1 while the last database operation succeeded, 0 while the loader waits for the database.
pub static DB_UP: LazyLock<IntGauge> = LazyLock::new(|| {
    register_int_gauge!(
        "msgmig_loader_database_up",
        "1 when the loader's last database operation succeeded, 0 while it waits for the database."
    )
    .expect("registered once")
});

/// Registers every loader metric with its known label values at zero, so each series exists
/// from the start (dashboards and alerts see 0, not "no data").
pub fn init() {
    for reason in ["bad_payload", "database_rejected"] {
        DEAD_LETTERS.with_label_values(&[reason]);
    }
    DB_UP.set(1);
    for outcome in ["inserted", "updated", "unchanged", "stale", "conflict"] {
        MESSAGES.with_label_values(&[outcome]);
    }
    for table in [
        "pdbx_deposition_message_info",
        "pdbx_deposition_message_file_reference",
        "pdbx_deposition_message_status",
        "pdbx_deposition_message_origcomm_reference",
    ] {
        ROWS.with_label_values(&[table]);
    }
    for state in ["loaded", "conflicts", "quarantined"] {
        DEPOSITIONS.with_label_values(&[state]);
    }
    LazyLock::force(&BATCH_SECONDS);
    LazyLock::force(&BATCH_MESSAGES);
    LazyLock::force(&FRESHNESS_SECONDS);
    LazyLock::force(&DB_RETRIES);
    LazyLock::force(&PRESUMED_NEW_REFUTED);
}

/// When this process started (ns since the Unix epoch): the freshness histogram observes only
/// depositions whose files were written after it.
pub static STARTED_NS: LazyLock<i64> =
    LazyLock::new(|| msgmig_schemas::archive::unix_ns(std::time::SystemTime::now()));

/// The rows-per-second ceiling in force (`--max-rows-per-second`, lowered by the adaptive
/// throttle while the database is slow); absent without a throttle.
pub static THROTTLE_RATE: LazyLock<prometheus::Gauge> = LazyLock::new(|| {
    prometheus::register_gauge!(
        "msgmig_loader_throttle_rows_per_second",
        "The rows-per-second ceiling in force for a loader (adaptive throttling lowers it)."
    )
    .expect("registered once")
});

/// Statements the database server ran besides this loader's after its last batch (MySQL's
/// `Threads_running` − 1, smoothed); sampled by the adaptive throttle only.
pub static SERVER_THREADS_RUNNING: LazyLock<prometheus::Gauge> = LazyLock::new(|| {
    prometheus::register_gauge!(
        "msgmig_loader_server_threads_running",
        "Statements the database server runs besides this loader's (Threads_running - 1, smoothed), as the adaptive throttle sees it."
    )
    .expect("registered once")
});

/// Dead letters stored in `msgmig_dead_letters` that a Kafka loader has not published to the
/// dead-letter topic yet (0 when all are out; refreshed by the forwarder).
pub static DEAD_LETTERS_UNPUBLISHED: LazyLock<IntGauge> = LazyLock::new(|| {
    register_int_gauge!(
        "msgmig_loader_dead_letters_unpublished",
        "Dead letters stored but not yet published to the dead-letter topic."
    )
    .expect("registered once")
});

/// Deposition states whose records were kept for their end marker, by what happened to them
/// (`staged`: records kept; `refused`: one was refused; `completed`: applied at the end marker).
pub static OPEN_DEPOSITIONS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "msgmig_loader_open_depositions_total",
        "Deposition parts kept in the database between batches, by outcome.",
        &["outcome"]
    )
    .expect("registered once")
});
