//! Scanner metrics (Prometheus naming `msgmig_scanner_*`; no paths or ids as label values).

use prometheus::{
    register_int_counter, register_int_counter_vec, register_int_gauge, IntCounter, IntCounterVec,
    IntGauge,
};
use std::sync::LazyLock;

/// File events published, by `change` (present, removed).
pub static FILES_PUBLISHED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "msgmig_scanner_files_published_total",
        "Message file events published, by change.",
        &["change"]
    )
    .expect("registered once")
});

/// Directory entries not read (older versions, decoys, other content types).
pub static FILES_IGNORED: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "msgmig_scanner_files_ignored_total",
        "Directory entries that are not latest message files."
    )
    .expect("registered once")
});

/// Reconciliation passes, by `kind` (full, pruned).
pub static PASSES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "msgmig_scanner_reconciliation_passes_total",
        "Reconciliation passes over the archive, by kind.",
        &["kind"]
    )
    .expect("registered once")
});

/// Times a deposition waited for a fresh legacy `.lock`.
pub static LOCK_WAITS: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "msgmig_scanner_lock_waits_total",
        "Times a deposition waited for a fresh legacy .lock."
    )
    .expect("registered once")
});

/// Deposition folders in the archive at the last full pass.
pub static DEPOSITIONS_DISCOVERED: LazyLock<IntGauge> = LazyLock::new(|| {
    register_int_gauge!(
        "msgmig_scanner_depositions_discovered",
        "Deposition folders found by the last full pass."
    )
    .expect("registered once")
});

/// File system calls (stat, directory reads) of reconciliation passes: what a pass costs on NFS.
pub static PASS_FS_CALLS: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "msgmig_scanner_pass_fs_calls_total",
        "stat and directory-read calls made by reconciliation passes."
    )
    .expect("registered once")
});

/// Duration of the last reconciliation pass, in milliseconds.
pub static LAST_PASS_MS: LazyLock<IntGauge> = LazyLock::new(|| {
    register_int_gauge!(
        "msgmig_scanner_last_pass_milliseconds",
        "Duration of the last reconciliation pass, in milliseconds."
    )
    .expect("registered once")
});

/// Registers every scanner metric with its known label values at zero.
pub fn init() {
    for change in ["present", "removed"] {
        FILES_PUBLISHED.with_label_values(&[change]);
    }
    for kind in ["full", "pruned"] {
        PASSES.with_label_values(&[kind]);
    }
    LazyLock::force(&FILES_IGNORED);
    LazyLock::force(&LOCK_WAITS);
    LazyLock::force(&DEPOSITIONS_DISCOVERED);
    LazyLock::force(&PASS_FS_CALLS);
    LazyLock::force(&LAST_PASS_MS);
}

/// File events whose delivery failed and that wait to be published again.
pub static UNDELIVERED: LazyLock<IntGauge> = LazyLock::new(|| {
    register_int_gauge!(
        "msgmig_scanner_undelivered_events",
        "File events not delivered yet after a failed delivery (published again when the bus is back)."
    )
    .expect("registered once")
});
