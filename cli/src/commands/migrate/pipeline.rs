//! One pass of the embedded pipeline over a list of depositions: scanner → bus → transformer →
//! bus → loaders, deposition by deposition, with every deposition's report collected.

use super::summary::Finished;
use super::LoaderPool;
use crate::cli::MigrateArgs;
use anyhow::{Context, Result};
use msgmig_bus::in_process::topic;
use msgmig_loader::{LoaderConfig, RowCounts};
use msgmig_scanner::{ScanStats, Scanner, Selection};
use msgmig_transformer::{TransformStats, Transformer};
use sea_orm::DatabaseConnection;
use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// What one pass did.
pub(super) struct Pass {
    pub finished: Finished,
    /// (deposition, message id, owner) of every message a deposition could not have.
    pub conflicts: BTreeSet<(String, String, String)>,
    /// (deposition, message id) of messages the application changed since msgmig wrote them.
    pub kept: BTreeSet<(String, String)>,
    /// The loaders' totals with the run's recounts; `None` when interrupted.
    pub rows: Option<RowCounts>,
    pub scan: Arc<ScanStats>,
    pub transform: Arc<TransformStats>,
}

/// The loaders' settings for a `migrate` run `run_id`.
pub(super) fn loader_config(args: &MigrateArgs, run_id: &str) -> LoaderConfig {
    LoaderConfig {
        adaptive_throttle: args.throttle.adaptive_throttle,
        adaptive_threads_running: args.throttle.adaptive_threads_running,
        max_rows_per_second: args.throttle.max_rows_per_second,
        give_up_after: Some(std::time::Duration::from_secs(
            args.database.db_timeout.max(1),
        )),
        batch_size: args.batch_size.max(1),
        dry_run: args.dry_run,
        reconcile: args.reconcile,
        consumer_group: None,
        publish_dead_letters: false,
        // What this run counted per message, so a take-over later in the run recounts it.
        run_id: Some(run_id.to_owned()),
    }
}

/// The parallelism of the transformer: `--parallelism`, or the number of CPUs.
pub(super) fn parallelism(args: &MigrateArgs) -> usize {
    args.parallelism
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
}

/// Loads `ids` deposition by deposition. `skip_unchanged`: depositions whose files match the
/// file ledger are not read. Returns early (rows `None`) when `stop` is cancelled: nothing is
/// half loaded (each batch is one transaction), and a re-run finishes the rest.
pub(super) async fn per_deposition(
    args: &MigrateArgs,
    db: &DatabaseConnection,
    ids: Vec<String>,
    run_id: &str,
    skip_unchanged: bool,
    bar: &indicatif::ProgressBar,
    stop: &CancellationToken,
) -> Result<Pass> {
    let mut scanner = Scanner::new(&args.selection.directory, Selection::Depositions(ids));
    if skip_unchanged {
        let loaded = msgmig_loader::read::loaded_states(db)
            .await
            .context("reading the file ledger")?;
        scanner = scanner.with_unchanged(loaded);
    }
    let scan_stats = scanner.stats();
    let transformer =
        Transformer::new(&args.selection.directory, parallelism(args)).with_grouped_input();
    let transform_stats = transformer.stats();
    let (events_tx, events_rx) = topic(1024);
    let (report_tx, mut report_rx) = tokio::sync::mpsc::unbounded_channel();
    let LoaderPool {
        publisher: records_tx,
        tasks: loads,
    } = LoaderPool::spawn(
        db,
        loader_config(args, run_id),
        args.loaders,
        Some(report_tx),
    );

    if args.metrics_addr.is_some() {
        // The backlog between the stages (the embedded pipeline's consumer lag), so the
        // dashboard's lag panel, ETA and stall alert work in one-shot runs.
        let events_depth = events_tx.depth_probe();
        crate::gauges::spawn_lag("transformer", move || vec![(0, events_depth())]);
        crate::gauges::spawn_lag("loader", records_tx.depth_probe());
    }
    let scan = tokio::spawn(async move { scanner.run_once(&events_tx).await });
    let transform = tokio::spawn(async move { transformer.run(events_rx, &records_tx).await });

    // One final report per deposition (one end marker per transformation, and `migrate`
    // transforms each deposition once), classified once every report is in: a deposition
    // loaded first can lose a message id to a later one (the ownership rule), and the summary
    // must not depend on that order. Only what the classification needs is kept: the ids, and
    // whole reports of the quarantined only.
    let mut pass = Pass {
        finished: Finished::default(),
        conflicts: BTreeSet::new(),
        kept: BTreeSet::new(),
        rows: None,
        scan: scan_stats.clone(),
        transform: transform_stats,
    };
    let start = bar.position();
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
    loop {
        let report = tokio::select! {
            report = report_rx.recv() => match report {
                Some(report) => report,
                None => break,
            },
            _ = tick.tick() => {
                let skipped = scan_stats.unchanged_depositions.load(Ordering::Relaxed);
                bar.set_position(start + pass.finished.len() as u64 + skipped);
                continue;
            }
            () = stop.cancelled() => return Ok(pass),
        };
        if let Some(q) = &report.quarantine {
            bar.suspend(|| {
                eprintln!(
                    "quarantined {}: {} {}",
                    report.deposition_id,
                    q.path.as_deref().unwrap_or(""),
                    q.reason
                )
            });
        }
        for (id, owner) in &report.conflicts {
            pass.conflicts
                .insert((report.deposition_id.clone(), id.clone(), owner.clone()));
        }
        for (id, loser) in &report.displaced {
            pass.conflicts
                .insert((loser.clone(), id.clone(), report.deposition_id.clone()));
        }
        for id in &report.kept {
            pass.kept.insert((report.deposition_id.clone(), id.clone()));
        }
        let c = &report.counts;
        tracing::info!(target: msgmig_schemas::AUDIT_TARGET, event = "deposition_complete", deposition_id = %report.deposition_id, success = report.quarantine.is_none(),
            files_found = report.files, inserted = c.inserted, updated = c.updated, unchanged = c.unchanged, stale = c.stale, conflicts = c.conflicts);
        if args.dry_run {
            bar.suspend(|| {
                println!(
                    "{}: would insert {}, update {}, leave {} unchanged, skip {} stale, {} conflicts{}",
                    report.deposition_id, c.inserted, c.updated, c.unchanged, c.stale, c.conflicts,
                    if report.quarantine.is_some() { ", QUARANTINED" } else { "" }
                )
            });
        }
        pass.finished.add(report);
    }
    // A failed loader closes the bus under the transformer and the scanner: its error is the
    // cause, theirs ("the bus is closed") the consequence.
    let scanned = scan.await.expect("scanner task");
    let transformed = transform.await.expect("transformer task");
    let mut rows = LoaderPool::join(loads).await?;
    for c in &pass.finished.recounts {
        rows.recount(c);
    }
    transformed.context("transforming")?;
    scanned.context("scanning the archive")?;
    pass.rows = Some(rows);
    Ok(pass)
}
