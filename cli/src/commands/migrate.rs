//! `msgmig migrate`: the embedded pipeline, scanner → bus → transformer → bus → loader, in one
//! process, then a summary (architecture.md §2, "in-process").

use super::{
    open_database, progress_bar, require_schema, selected_depositions, LoaderPool, EXIT_INCOMPLETE,
    EXIT_OK,
};
use crate::cli::MigrateArgs;
use anyhow::{Context, Result};
use msgmig_bus::in_process::topic;
use msgmig_loader::{DepositionReport, LoaderConfig, RowCounts};
use msgmig_scanner::{Scanner, Selection};
use msgmig_transformer::Transformer;
use serde::Serialize;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// The end-of-run summary (also written to the JSON log as `migration_complete`).
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub depositions: u64,
    pub depositions_loaded: u64,
    pub depositions_quarantined: u64,
    pub depositions_with_conflicts: u64,
    pub files: u64,
    pub empty_files: u64,
    pub files_ignored: u64,
    /// Depositions skipped because their files match their last clean load (not with --full).
    pub depositions_unchanged: u64,
    /// Their files (not read).
    pub files_unchanged: u64,
    /// Folders under the archive root that are not deposition folders (`D_12a`, `d_1`, …).
    pub folders_ignored: u64,
    pub folders_ignored_names: Vec<String>,
    pub rows: RowCounts,
    pub warnings: u64,
    pub seconds: f64,
    pub messages_per_second: f64,
    pub rows_per_second: f64,
    pub quarantined: Vec<DepositionReport>,
    pub conflicts: Vec<(String, String, String)>,
    /// (deposition, message id) of messages the application changed in the database since
    /// msgmig wrote them, left as they are.
    pub kept: Vec<(String, String)>,
}

impl Summary {
    /// Messages and rows per second over `seconds` (of the whole run, or of the part done
    /// when interrupted).
    fn set_rates(&mut self) {
        let messages = self.rows.inserted + self.rows.updated + self.rows.unchanged;
        self.messages_per_second = messages as f64 / self.seconds.max(1e-9);
        self.rows_per_second = self.rows.rows_written() as f64 / self.seconds.max(1e-9);
    }
}

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
    }

    let bar = progress_bar(ids.len() as u64, "depositions");
    let mut scanner = Scanner::new(&args.selection.directory, Selection::Depositions(ids));
    if !args.full && !args.reconcile {
        let loaded = msgmig_loader::read::loaded_states(&db)
            .await
            .context("reading the file ledger")?;
        scanner = scanner.with_unchanged(loaded);
    }
    let scan_stats = scanner.stats();
    let parallelism = args
        .parallelism
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let transformer = Transformer::new(&args.selection.directory, parallelism).with_grouped_input();
    let transform_stats = transformer.stats();
    let (events_tx, events_rx) = topic(1024);
    let (report_tx, mut report_rx) = tokio::sync::mpsc::unbounded_channel();
    let config = LoaderConfig {
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
        run_id: Some(format!(
            "migrate-{}-{}",
            msgmig_schemas::archive::unix_ns(std::time::SystemTime::now()),
            std::process::id()
        )),
    };
    let LoaderPool {
        publisher: records_tx,
        tasks: loads,
    } = LoaderPool::spawn(&db, config, args.loaders, Some(report_tx));

    if args.metrics_addr.is_some() {
        // The backlog between the stages (the embedded pipeline's consumer lag) and what the
        // scan found, so the dashboard's lag panel, ETA and stall alert work in one-shot runs.
        let events_depth = events_tx.depth_probe();
        crate::gauges::spawn_lag("transformer", move || vec![(0, events_depth())]);
        crate::gauges::spawn_lag("loader", records_tx.depth_probe());
        if whole_archive {
            msgmig_scanner::metrics::DEPOSITIONS_DISCOVERED.set(total as i64);
        }
    }
    let scan = tokio::spawn(async move { scanner.run_once(&events_tx).await });
    let transform = tokio::spawn(async move { transformer.run(events_rx, &records_tx).await });

    let mut summary = Summary::default();
    let dry_run = args.dry_run;
    // One final report per deposition (one end marker per transformation, and `migrate`
    // transforms each deposition once), classified once every report is in: a deposition
    // loaded first can lose a message id to a later one (the ownership rule), and the summary
    // must not depend on that order (issue 10 §5, §9). Only what the classification needs is
    // kept: the ids, and whole reports of the quarantined only (a report each, about 370
    // bytes, would hold 370 MB at 10^6 depositions; issue 12 §3).
    let mut finished: Finished = Default::default();
    let mut conflicts: std::collections::BTreeSet<(String, String, String)> = Default::default();
    let mut kept: std::collections::BTreeSet<(String, String)> = Default::default();
    // Ctrl-C / SIGTERM: stop, print what is committed so far, exit 130. Nothing is half
    // loaded (each batch is one transaction); a re-run finishes the rest.
    let interrupt = super::shutdown_signal();
    tokio::pin!(interrupt);
    let mut interrupted = false;
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
    loop {
        let report = tokio::select! {
            report = report_rx.recv() => match report {
                Some(report) => report,
                None => break,
            },
            _ = tick.tick() => {
                let skipped = scan_stats.unchanged_depositions.load(Ordering::Relaxed);
                bar.set_position(finished.len() as u64 + skipped);
                continue;
            }
            () = &mut interrupt => {
                interrupted = true;
                break;
            }
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
            conflicts.insert((report.deposition_id.clone(), id.clone(), owner.clone()));
        }
        for (id, loser) in &report.displaced {
            conflicts.insert((loser.clone(), id.clone(), report.deposition_id.clone()));
        }
        for id in &report.kept {
            kept.insert((report.deposition_id.clone(), id.clone()));
        }
        let c = &report.counts;
        tracing::info!(target: msgmig_schemas::AUDIT_TARGET, event = "deposition_complete", deposition_id = %report.deposition_id, success = report.quarantine.is_none(),
            files_found = report.files, inserted = c.inserted, updated = c.updated, unchanged = c.unchanged, stale = c.stale, conflicts = c.conflicts);
        if dry_run {
            bar.suspend(|| {
                println!(
                    "{}: would insert {}, update {}, leave {} unchanged, skip {} stale, {} conflicts{}",
                    report.deposition_id, c.inserted, c.updated, c.unchanged, c.stale, c.conflicts,
                    if report.quarantine.is_some() { ", QUARANTINED" } else { "" }
                )
            });
        }
        finished.add(report);
    }
    let losers: std::collections::BTreeSet<&str> = conflicts
        .iter()
        .map(|(dep, _, _)| dep.as_str())
        .chain(kept.iter().map(|(dep, _)| dep.as_str()))
        .collect();
    // Depositions whose files match their last clean load: loaded, their messages unchanged.
    summary.depositions_unchanged = scan_stats.unchanged_depositions.load(Ordering::Relaxed);
    summary.files_unchanged = scan_stats.unchanged_files.load(Ordering::Relaxed);
    summary.depositions += summary.depositions_unchanged;
    summary.depositions_loaded += summary.depositions_unchanged;
    let depositions = finished.ids.len() as u64;
    let quarantined = finished.quarantined.len() as u64;
    let with_conflicts = losers
        .iter()
        .filter(|d| finished.ids.contains(**d) && !finished.quarantined.contains_key(**d))
        .count() as u64;
    summary.depositions += depositions;
    summary.depositions_quarantined += quarantined;
    summary.depositions_with_conflicts += with_conflicts;
    summary.depositions_loaded += depositions - quarantined - with_conflicts;
    summary.quarantined = finished.quarantined.values().cloned().collect();
    summary.conflicts = conflicts.into_iter().collect();
    summary.kept = kept.into_iter().collect();
    if interrupted {
        bar.finish_and_clear();
        summary.rows.add(&finished.rows);
        summary.files += finished.files;
        summary.seconds = started.elapsed().as_secs_f64();
        summary.set_rates();
        println!(
            "Interrupted after {:.1} s: {} of {} depositions done. Nothing is half loaded; run the same command again to finish.",
            summary.seconds,
            finished.len(),
            total
        );
        print_summary(&summary, args.dry_run);
        tracing::warn!(event = "migration_interrupted", stats = %serde_json::to_string(&summary).unwrap_or_default());
        return Ok(super::EXIT_INTERRUPTED);
    }
    // A failed loader closes the bus under the transformer and the scanner: its error is the
    // cause, theirs ("the bus is closed") the consequence.
    let scanned = scan.await.expect("scanner task");
    let transformed = transform.await.expect("transformer task");
    summary.rows = LoaderPool::join(loads).await?;
    for c in &finished.recounts {
        summary.rows.recount(c);
    }
    summary.rows.unchanged += scan_stats.unchanged_messages.load(Ordering::Relaxed);
    transformed.context("transforming")?;
    scanned.context("scanning the archive")?;
    bar.finish_and_clear();

    summary.files = transform_stats.files.load(Ordering::Relaxed);
    summary.empty_files = transform_stats.empty_files.load(Ordering::Relaxed);
    summary.warnings = transform_stats.warnings.load(Ordering::Relaxed);
    summary.files_ignored = scan_stats.ignored.load(Ordering::Relaxed);
    (summary.folders_ignored, summary.folders_ignored_names) = selected.ignored_folders;
    summary.seconds = started.elapsed().as_secs_f64();
    summary.set_rates();
    print_summary(&summary, args.dry_run);
    tracing::info!(event = "migration_complete", stats = %serde_json::to_string(&summary).unwrap_or_default());
    let incomplete = summary.depositions_quarantined > 0
        || !summary.conflicts.is_empty()
        || !summary.kept.is_empty();
    Ok(if incomplete { EXIT_INCOMPLETE } else { EXIT_OK })
}

/// The finished depositions of a run, as the summary needs them.
#[derive(Default)]
struct Finished {
    /// Every deposition reported.
    ids: std::collections::HashSet<Box<str>>,
    /// The reports of quarantined depositions, by id.
    quarantined: std::collections::BTreeMap<String, DepositionReport>,
    /// Rows and files of every report (an interrupted run's summary adds them up).
    rows: msgmig_loader::RowCounts,
    files: u64,
    /// Counts of messages whose claimant lost them later in the run, to move to conflicts.
    recounts: Vec<msgmig_loader::plan::Counted>,
}

impl Finished {
    fn add(&mut self, report: DepositionReport) {
        self.rows.add(&report.counts);
        for c in &report.recounts {
            self.rows.recount(c);
        }
        self.recounts.extend(report.recounts.iter().copied());
        self.files += u64::from(report.files);
        self.ids.insert(report.deposition_id.as_str().into());
        if report.quarantine.is_some() {
            self.quarantined
                .insert(report.deposition_id.clone(), report);
        } else {
            self.quarantined.remove(&report.deposition_id);
        }
    }

    fn len(&self) -> usize {
        self.ids.len()
    }
}

fn print_summary(s: &Summary, dry_run: bool) {
    let r = &s.rows;
    println!(
        "{}",
        if dry_run {
            "Migration Summary (dry run: nothing written)"
        } else {
            "Migration Summary"
        }
    );
    println!(
        "  depositions: {} ({} loaded, {} with conflicts, {} quarantined)",
        s.depositions,
        s.depositions_loaded,
        s.depositions_with_conflicts,
        s.depositions_quarantined
    );
    println!(
        "  files: {} read ({} empty), {} ignored",
        s.files, s.empty_files, s.files_ignored
    );
    if s.depositions_unchanged > 0 {
        println!(
            "  unchanged since their last load (file ledger; --full reads them): {} depositions, {} files not read",
            s.depositions_unchanged, s.files_unchanged
        );
    }
    println!(
        "  messages: {} inserted, {} updated, {} unchanged, {} stale, {} conflicts{}",
        r.inserted,
        r.updated,
        r.unchanged,
        r.stale,
        r.conflicts,
        if r.kept > 0 {
            format!(", {} kept as the application changed them", r.kept)
        } else {
            String::new()
        }
    );
    println!(
        "  file references: {} inserted, {} extra in DB ({} deleted)",
        r.file_refs_inserted, r.file_refs_extra, r.file_refs_deleted
    );
    println!(
        "  statuses: {} written; origcomm: {} written",
        r.statuses_written, r.origcomm_written
    );
    if s.folders_ignored > 0 {
        println!(
            "  folders ignored (not deposition folders): {} ({}{})",
            s.folders_ignored,
            s.folders_ignored_names.join("; "),
            if s.folders_ignored as usize > s.folders_ignored_names.len() {
                ", …"
            } else {
                ""
            }
        );
    }
    println!("  warnings: {} (see the log)", s.warnings);
    println!(
        "  time: {:.2} s ({:.0} messages/s, {:.0} rows/s)",
        s.seconds, s.messages_per_second, s.rows_per_second
    );
    for q in &s.quarantined {
        if let Some(q2) = &q.quarantine {
            let at = match (q2.line, q2.column) {
                (Some(l), Some(c)) => format!(" line {l}, column {c}"),
                (Some(l), None) => format!(" line {l}"),
                _ => String::new(),
            };
            println!(
                "  QUARANTINED {} [{}] {}{}: {}",
                q.deposition_id,
                q2.kind.as_str(),
                q2.path.as_deref().unwrap_or("-"),
                at,
                q2.reason
            );
        }
    }
    for (dep, id, owner) in &s.conflicts {
        println!("  CONFLICT {dep}: message {id} already belongs to {owner}");
    }
    for (dep, id) in &s.kept {
        println!(
            "  KEPT {dep}: message {id} was changed in the database (by the application) since msgmig loaded it; the file's version is not applied"
        );
    }
}
