//! Process-level gauges the dashboard's progress picture needs: consumer lag per
//! partition, and the database's progress (depositions by state, messages loaded). Refreshed in
//! the background; the per-stage counters live in each crate's `metrics` module.

use prometheus::{register_int_gauge, register_int_gauge_vec, IntGauge, IntGaugeVec};
use sea_orm::DatabaseConnection;
use std::sync::LazyLock;
use std::time::Duration;

/// Messages not yet finished by this consumer, by `stage` (transformer, loader) and `partition`.
pub static CONSUMER_LAG: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register_int_gauge_vec!(
        "msgmig_consumer_lag_messages",
        "Messages in the partition not yet finished by this consumer (end of log minus committed position).",
        &["stage", "partition"]
    )
    .expect("registered once")
});

/// Depositions recorded in the database, by `state` (loaded, conflicts, quarantined).
pub static DEPOSITIONS: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register_int_gauge_vec!(
        "msgmig_progress_depositions",
        "Depositions recorded in the database, by last state.",
        &["state"]
    )
    .expect("registered once")
});

/// Messages loaded (rows of msgmig_message_provenance).
pub static MESSAGES: LazyLock<IntGauge> = LazyLock::new(|| {
    register_int_gauge!(
        "msgmig_progress_messages",
        "Messages loaded into the database by msgmig."
    )
    .expect("registered once")
});

/// Refreshes the lag gauges of `stage` every 5 s from `probe` (see
/// `KafkaSubscriber::lag_probe`).
pub fn spawn_lag(stage: &'static str, probe: impl Fn() -> Vec<(i32, i64)> + Send + Sync + 'static) {
    let probe = std::sync::Arc::new(probe);
    tokio::spawn(async move {
        // Partitions this stage reported last time: one no longer held is removed, the other
        // stage's series are left alone (two stages share the gauge in one process).
        let mut shown: std::collections::HashSet<String> = Default::default();
        loop {
            let p = probe.clone();
            if let Ok(lags) = tokio::task::spawn_blocking(move || p()).await {
                let now: std::collections::HashSet<String> = lags
                    .iter()
                    .map(|(partition, _)| partition.to_string())
                    .collect();
                for gone in shown.difference(&now) {
                    let _ = CONSUMER_LAG.remove_label_values(&[stage, gone]);
                }
                for (partition, lag) in lags {
                    CONSUMER_LAG
                        .with_label_values(&[stage, &partition.to_string()])
                        .set(lag);
                }
                shown = now;
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    });
}

/// Records every full pass of this process's walker in `msgmig_scan_passes`, checked every 2 s,
/// so processes that do not walk the archive know "discovered" too. A pass is a step of the
/// walker's own full-pass counter, which it counts once "discovered" is set; the gauge alone
/// would also move when [`spawn_progress`] copies another process's count into it.
/// `recorded_by` names the command.
pub fn spawn_scan_pass_recorder(
    db: DatabaseConnection,
    directory: std::path::PathBuf,
    recorded_by: &'static str,
) {
    tokio::spawn(async move {
        use msgmig_scanner::metrics::{DEPOSITIONS_DISCOVERED, PASSES};
        // Full passes recorded so far.
        let mut recorded = 0;
        let mut failed = None;
        loop {
            let now = PASSES.with_label_values(&["full"]).get();
            if now > recorded {
                let pass = scan_pass(&directory, DEPOSITIONS_DISCOVERED.get(), None, recorded_by);
                match msgmig_loader::scan_passes::record(&db, &pass).await {
                    Ok(()) => recorded = now,
                    // Tried again in 2 s; said once per pass, not every attempt.
                    Err(e) if failed != Some(now) => {
                        tracing::warn!(event = "scan_pass_not_recorded", error = %e);
                        failed = Some(now);
                    }
                    Err(_) => {}
                }
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    });
}

/// A [`ScanPass`](msgmig_loader::scan_passes::ScanPass) that ends now.
pub fn scan_pass(
    directory: &std::path::Path,
    depositions: i64,
    files: Option<i64>,
    recorded_by: &str,
) -> msgmig_loader::scan_passes::ScanPass {
    msgmig_loader::scan_passes::ScanPass {
        directory: directory.display().to_string(),
        depositions,
        files,
        finished_at_ms: chrono::Utc::now().timestamp_millis(),
        recorded_by: recorded_by.to_owned(),
    }
}

/// Refreshes the progress gauges from the database every 10 s.
pub fn spawn_progress(db: DatabaseConnection) {
    for state in ["loaded", "conflicts", "quarantined"] {
        DEPOSITIONS.with_label_values(&[state]);
    }
    LazyLock::force(&MESSAGES);
    tokio::spawn(async move {
        loop {
            match msgmig_loader::read::progress(&db).await {
                Ok(p) => {
                    for (state, n) in &p.depositions {
                        DEPOSITIONS.with_label_values(&[state]).set(*n);
                    }
                    MESSAGES.set(p.messages);
                    // The last full pass any process recorded: "discovered" after a
                    // `scan --once` has exited, in `load` and `status` too.
                    if let Some(pass) = p.last_scan {
                        msgmig_scanner::metrics::DEPOSITIONS_DISCOVERED.set(pass.depositions);
                    }
                }
                Err(e) => tracing::debug!(event = "progress_not_read", error = %e),
            }
            tokio::time::sleep(Duration::from_secs(10)).await;
        }
    });
}
