//! `msgmig migrate`: the embedded pipeline, scanner → bus → transformer → bus → loader, in one
//! process, then a summary. Into empty tables it loads table by table ([`bulk`]); otherwise,
//! and for the depositions the bulk path leaves, deposition by deposition ([`pipeline`]).

mod bulk;
mod pipeline;
mod summary;

use super::{
    open_database, require_schema, selected_depositions, LoaderPool, EXIT_INCOMPLETE, EXIT_OK,
};
use crate::cli::MigrateArgs;
use anyhow::{Context, Result};
use pipeline::Pass;
use std::sync::atomic::Ordering;
use std::time::Instant;
pub use summary::Summary;
use tokio_util::sync::CancellationToken;

pub async fn run(args: MigrateArgs) -> Result<i32> {
    let started = Instant::now();
    let selected = selected_depositions(&args.selection)?;
    let ids = selected.ids;
    let total = ids.len();
    let whole_archive = selected.whole_archive;
    tracing::info!(event = "migration_start", directory = %args.selection.directory.display(), depositions = ids.len(),
        dry_run = args.dry_run, create_tables = args.create_tables, site_id = crate::site_id());
    if args.create_tables && !args.dry_run {
        super::create_database_if_missing(&args.database).await?;
    }
    let db = open_database(&args.database).await?;
    if args.create_tables && !args.dry_run {
        msgmig_loader::database::init(&db)
            .await
            .context("creating tables")?;
        tracing::info!(event = "tables_created");
    }
    require_schema(&db).await?;
    if !args.dry_run {
        if let Some(r) = msgmig_loader::bulk::recover(&db)
            .await
            .context("removing what a stopped bulk load wrote")?
        {
            eprintln!(
                "A bulk load ({}) stopped before it finished: what it wrote was removed{}; this run loads again.",
                r.runs.join(", "),
                if r.kept_others { " (rows the application wrote since were kept)" } else { "" }
            );
        }
    }
    if whole_archive && !args.dry_run {
        // What the walk found, for every process's "discovered" (dashboard, `msgmig status`).
        let pass =
            crate::gauges::scan_pass(&args.selection.directory, total as i64, None, "migrate");
        msgmig_loader::scan_passes::record(&db, &pass)
            .await
            .context("recording the scan pass")?;
    }
    if let Some(addr) = args.metrics_addr {
        let readiness = crate::serve::Readiness {
            database: Some(db.clone()),
            ..Default::default()
        };
        crate::serve::spawn(addr, readiness)
            .await
            .map_err(|e| super::UsageError(format!("{e:#}")))?;
        crate::gauges::spawn_progress(db.clone());
        if whole_archive {
            msgmig_scanner::metrics::DEPOSITIONS_DISCOVERED.set(total as i64);
        }
    }
    // Ctrl-C / SIGTERM: stop, print what is committed so far, exit 130.
    let stop = CancellationToken::new();
    tokio::spawn({
        let stop = stop.clone();
        async move {
            super::shutdown_signal().await;
            stop.cancel();
        }
    });
    // What this run counted per message, so a take-over later in the run recounts it.
    let run_id = format!(
        "migrate-{}-{}",
        msgmig_schemas::archive::unix_ns(std::time::SystemTime::now()),
        std::process::id()
    );

    let mut summary = Summary::default();
    let pass = if bulk::chosen(&args, &db).await? {
        tracing::info!(
            event = "load_path",
            path = "bulk",
            "the tables are empty: loading table by table"
        );
        summary.load_path = "bulk";
        let url = crate::config::database_url(&args.database)
            .map_err(|e| super::UsageError(e.to_string()))?;
        let b = bulk::run(&args, &db, &url, ids, &run_id, &stop).await?;
        let c = b.counts;
        summary.depositions += c.depositions;
        summary.depositions_loaded += c.depositions;
        summary.rows.inserted += c.messages;
        summary.rows.file_refs_inserted += c.file_refs;
        summary.rows.statuses_written += c.statuses;
        summary.rows.origcomm_written += c.origcomm;
        add_read(&mut summary, &b.scan, &b.transform);
        match b.residual {
            Some(pass) => pass,
            None => {
                return interrupted(summary, started, &args, |done| {
                    format!("{done} depositions were loaded table by table, and nothing of an unfinished table is kept; the next run removes what this one wrote and starts over")
                });
            }
        }
    } else {
        summary.load_path = "per_deposition";
        let bar = super::progress_bar(total as u64, "depositions");
        let skip_unchanged = !args.full && !args.reconcile;
        let pass =
            pipeline::per_deposition(&args, &db, ids, &run_id, skip_unchanged, &bar, &stop).await?;
        bar.finish_and_clear();
        add_read(&mut summary, &pass.scan, &pass.transform);
        // Depositions whose files match their last clean load: loaded, messages unchanged.
        summary.depositions_unchanged = pass.scan.unchanged_depositions.load(Ordering::Relaxed);
        summary.files_unchanged = pass.scan.unchanged_files.load(Ordering::Relaxed);
        summary.depositions += summary.depositions_unchanged;
        summary.depositions_loaded += summary.depositions_unchanged;
        summary.rows.unchanged += pass.scan.unchanged_messages.load(Ordering::Relaxed);
        pass
    };
    add_pass(&mut summary, &pass);
    (summary.folders_ignored, summary.folders_ignored_names) = selected.ignored_folders;
    let Some(rows) = &pass.rows else {
        summary.rows.add(&pass.finished.rows);
        return interrupted(summary, started, &args, |done| {
            format!("{done} of {total} depositions done. Nothing is half loaded; run the same command again to finish")
        });
    };
    summary.rows.add(rows);
    summary.seconds = started.elapsed().as_secs_f64();
    summary.set_rates();
    summary::print_summary(&summary, args.dry_run);
    // The audit target: the JSON outputs keep the whole event; the text console, which has
    // just printed the summary for people, leaves it out.
    tracing::info!(target: msgmig_schemas::AUDIT_TARGET, event = "migration_complete",
        stats = %serde_json::to_string(&summary).unwrap_or_default());
    let incomplete = summary.depositions_quarantined > 0
        || !summary.conflicts.is_empty()
        || !summary.kept.is_empty();
    Ok(if incomplete { EXIT_INCOMPLETE } else { EXIT_OK })
}

/// The read side of the summary: files read, empty and ignored, and parser warnings.
fn add_read(
    summary: &mut Summary,
    scan: &msgmig_scanner::ScanStats,
    transform: &msgmig_transformer::TransformStats,
) {
    summary.files = transform.files.load(Ordering::Relaxed);
    summary.empty_files = transform.empty_files.load(Ordering::Relaxed);
    summary.warnings = transform.warnings.load(Ordering::Relaxed);
    summary.files_ignored = scan.ignored.load(Ordering::Relaxed);
}

/// The depositions a per-deposition pass finished, classified: loaded, with conflicts (a
/// message lost to another deposition, or kept as the application changed it), quarantined.
fn add_pass(summary: &mut Summary, pass: &Pass) {
    let finished = &pass.finished;
    let losers: std::collections::BTreeSet<&str> = pass
        .conflicts
        .iter()
        .map(|(dep, _, _)| dep.as_str())
        .chain(pass.kept.iter().map(|(dep, _)| dep.as_str()))
        .collect();
    let depositions = finished.ids.len() as u64;
    let quarantined = finished.quarantined.len() as u64;
    let with_conflicts = losers
        .iter()
        .filter(|d| finished.ids.contains(d) && !finished.quarantined.contains_key(**d))
        .count() as u64;
    summary.depositions += depositions;
    summary.depositions_quarantined += quarantined;
    summary.depositions_with_conflicts += with_conflicts;
    summary.depositions_loaded += depositions - quarantined - with_conflicts;
    summary.quarantined = finished.quarantined.values().cloned().collect();
    summary.conflicts = pass.conflicts.iter().cloned().collect();
    summary.kept = pass.kept.iter().cloned().collect();
}

/// Prints an interrupted run's summary (what committed) and returns exit code 130.
fn interrupted(
    mut summary: Summary,
    started: Instant,
    args: &MigrateArgs,
    what: impl FnOnce(u64) -> String,
) -> Result<i32> {
    summary.seconds = started.elapsed().as_secs_f64();
    summary.set_rates();
    println!(
        "Interrupted after {:.1} s: {}.",
        summary.seconds,
        what(summary.depositions)
    );
    summary::print_summary(&summary, args.dry_run);
    tracing::warn!(event = "migration_interrupted", stats = %serde_json::to_string(&summary).unwrap_or_default());
    Ok(super::EXIT_INTERRUPTED)
}
