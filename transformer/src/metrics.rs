//! Transformer metrics (`msgmig_transformer_*`).

use prometheus::{register_int_counter, register_int_counter_vec, IntCounter, IntCounterVec};
use std::sync::LazyLock;

/// Depositions transformed, by `outcome` (transformed, quarantined).
pub static DEPOSITIONS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "msgmig_transformer_depositions_total",
        "Depositions transformed, by outcome.",
        &["outcome"]
    )
    .expect("registered once")
});

/// Quarantined depositions, by `reason` (the quarantine kind).
pub static QUARANTINED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "msgmig_transformer_quarantined_total",
        "Depositions quarantined, by reason.",
        &["reason"]
    )
    .expect("registered once")
});

/// Message records produced.
pub static RECORDS: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "msgmig_transformer_records_produced_total",
        "Message records produced."
    )
    .expect("registered once")
});

/// Latest message files read.
pub static FILES_READ: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "msgmig_transformer_files_read_total",
        "Latest message files read."
    )
    .expect("registered once")
});

/// Warnings (orphans, mismatches, null parents, …), by `event`.
pub static WARNINGS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "msgmig_transformer_warnings_total",
        "Reported, non-blocking findings, by event.",
        &["event"]
    )
    .expect("registered once")
});

/// Inputs dead-lettered by the transformer, by `reason` (bad_path, bad_payload, quarantined).
pub static DEAD_LETTERS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "msgmig_transformer_dead_letters_total",
        "Inputs sent to the dead-letter topic by the transformer, by reason.",
        &["reason"]
    )
    .expect("registered once")
});

/// Registers every transformer metric with its known label values at zero.
pub fn init() {
    for outcome in ["transformed", "quarantined"] {
        DEPOSITIONS.with_label_values(&[outcome]);
    }
    for reason in [
        "parse_error",
        "unreadable",
        "bad_timestamp",
        "bad_value",
        "duplicate_message_id",
        "parent_cycle",
    ] {
        QUARANTINED.with_label_values(&[reason]);
    }
    for reason in ["bad_path", "bad_payload", "quarantined"] {
        DEAD_LETTERS.with_label_values(&[reason]);
    }
    LazyLock::force(&RECORDS);
    LazyLock::force(&FILES_READ);
    LazyLock::force(&WARNINGS);
}
