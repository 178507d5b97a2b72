//! `migrate`'s bulk path: a first backfill into empty tables, table by table
//! ([`msgmig_loader::bulk`]), then the depositions it leaves deposition by deposition.

use super::pipeline::{self, Pass};
use crate::cli::MigrateArgs;
use anyhow::{Context, Result};
use msgmig_bus::in_process::topic;
use msgmig_bus::Subscriber;
use msgmig_loader::bulk::{BulkCounts, Phase, Spill};
use msgmig_scanner::{ScanStats, Scanner, Selection};
use msgmig_schemas::record::RecordsMessage;
use msgmig_transformer::{TransformStats, Transformer};
use sea_orm::DatabaseConnection;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// What the bulk path did: the rows it wrote table by table, the read of every deposition
/// (its scanner's and transformer's counts are the run's), and the pass over the residual
/// depositions.
pub(super) struct BulkRun {
    pub counts: BulkCounts,
    pub scan: Arc<ScanStats>,
    pub transform: Arc<TransformStats>,
    /// `None` when interrupted.
    pub residual: Option<Pass>,
}

/// Whether this run loads table by table: `--bulk` insists (refused when a table holds rows),
/// `--no-bulk` declines, and by default a run takes it when every table it writes is empty.
/// A dry run never does (it writes nothing).
pub(super) async fn chosen(args: &MigrateArgs, db: &DatabaseConnection) -> Result<bool> {
    if args.dry_run || args.no_bulk {
        return Ok(false);
    }
    let busy = msgmig_loader::bulk::first_non_empty(db)
        .await
        .context("looking for rows in the tables")?;
    match (busy, args.bulk) {
        (None, _) => Ok(true),
        (Some(_), false) => Ok(false),
        (Some(table), true) => Err(super::super::UsageError(format!(
            "--bulk loads only into empty tables, and {table} holds rows: run without --bulk \
             (changes are loaded deposition by deposition), or load into a new database"
        ))
        .into()),
    }
}

/// Reads every selected deposition into spill files, loads them table by table, then loads
/// the residual depositions (contested ids, quarantined, refused) deposition by deposition.
pub(super) async fn run(
    args: &MigrateArgs,
    db: &DatabaseConnection,
    url: &str,
    ids: Vec<String>,
    run_id: &str,
    stop: &CancellationToken,
) -> Result<BulkRun> {
    let total = ids.len() as u64;
    let packet_limit = msgmig_loader::limits::packet_limit(db)
        .await
        .context("reading max_allowed_packet")?;
    let layout = msgmig_loader::limits::origcomm_layout(db)
        .await
        .context("reading the origcomm table's layout")?;
    let keyed = db.get_database_backend() == sea_orm::DbBackend::Sqlite;
    let spill_dir = args.spill_dir.clone().unwrap_or_else(std::env::temp_dir);
    let mut spill = Spill::new(&spill_dir, packet_limit, layout, keyed).with_context(|| {
        format!(
            "creating the bulk load's spill files in {} (--spill-dir)",
            spill_dir.display()
        )
    })?;
    tracing::info!(event = "bulk_load_start", depositions = total, spill_dir = %spill_dir.display());

    // 1. Read: every deposition's rows to the spill files.
    let bar = super::super::progress_bar(total, "depositions read");
    let scanner = Scanner::new(&args.selection.directory, Selection::Depositions(ids));
    let scan_stats = scanner.stats();
    let transformer = Transformer::new(&args.selection.directory, pipeline::parallelism(args))
        .with_grouped_input();
    let transform_stats = transformer.stats();
    let (events_tx, events_rx) = topic(1024);
    let (records_tx, mut records_rx) = topic::<RecordsMessage>(1024);
    let scan = tokio::spawn(async move { scanner.run_once(&events_tx).await });
    let transform = tokio::spawn(async move { transformer.run(events_rx, &records_tx).await });
    let interrupted = |scan: Arc<ScanStats>, transform: Arc<TransformStats>| BulkRun {
        counts: BulkCounts::default(),
        scan,
        transform,
        residual: None,
    };
    loop {
        let envelope = tokio::select! {
            e = records_rx.next() => match e {
                Some(e) => e,
                None => break,
            },
            () = stop.cancelled() => {
                bar.finish_and_clear();
                return Ok(interrupted(scan_stats, transform_stats));
            }
        };
        let end = matches!(envelope.payload, RecordsMessage::DepositionEnd(_));
        spill
            .add(envelope.payload)
            .context("writing the bulk load's spill files")?;
        if end {
            bar.inc(1);
        }
    }
    transform
        .await
        .expect("transformer task")
        .context("transforming")?;
    scan.await
        .expect("scanner task")
        .context("scanning the archive")?;
    bar.finish_and_clear();
    let spilled = spill
        .finish()
        .context("finishing the bulk load's spill files")?;
    tracing::info!(
        event = "bulk_load_spilled",
        depositions = spilled.depositions,
        residual = spilled.residual.len(),
        spill_bytes = spilled.bytes
    );
    msgmig_bus::crash_point!("bulk_after_spill");

    // 2. Write: table by table, on a connection of its own, under the crash marker.
    msgmig_loader::bulk::marker::begin(db, run_id)
        .await
        .context("marking the bulk load as under way")?;
    let session = msgmig_loader::database::connect_session(
        url,
        std::time::Duration::from_secs(args.database.db_timeout.max(1)),
    )
    .await
    .context("opening the bulk load's connection")?;
    let bars = PhaseBars::new(&spilled);
    let show = |phase, rows| bars.show(phase, rows);
    let give_up_after = Some(std::time::Duration::from_secs(
        args.database.db_timeout.max(1),
    ));
    let write = spilled.write(&session, Some(url), run_id, layout, give_up_after, &show);
    let counts = tokio::select! {
        counts = write => counts.context(
            "loading table by table (nothing of the table in progress is kept; the next run removes what this one wrote and loads again)",
        )?,
        () = stop.cancelled() => {
            bars.clear();
            drop(session);
            return Ok(interrupted(scan_stats, transform_stats));
        }
    };
    bars.clear();
    session.close().await.ok();

    // 3. The residual depositions, deposition by deposition (none of their ids is loaded).
    let residual_ids = spilled.residual.clone();
    drop(spilled);
    tracing::info!(
        event = "bulk_load_residual",
        depositions = residual_ids.len()
    );
    msgmig_bus::crash_point!("bulk_before_residual");
    let bar = super::super::progress_bar(residual_ids.len() as u64, "depositions (residual)");
    let residual =
        pipeline::per_deposition(args, db, residual_ids, run_id, false, &bar, stop).await?;
    bar.finish_and_clear();
    if residual.rows.is_none() {
        return Ok(interrupted(scan_stats, transform_stats));
    }
    msgmig_bus::crash_point!("bulk_before_finish");
    msgmig_loader::bulk::marker::finish(db, run_id)
        .await
        .context("marking the bulk load as done")?;
    tracing::info!(
        event = "bulk_load_complete",
        depositions = counts.depositions,
        messages = counts.messages
    );
    Ok(BulkRun {
        counts,
        scan: scan_stats,
        transform: transform_stats,
        residual: Some(residual),
    })
}

/// One progress bar per table phase, each sized from the spill.
struct PhaseBars {
    current: std::sync::Mutex<Option<(Phase, indicatif::ProgressBar)>>,
    depositions: u64,
}

impl PhaseBars {
    fn new(spilled: &msgmig_loader::bulk::Spilled) -> Self {
        PhaseBars {
            current: std::sync::Mutex::new(None),
            depositions: spilled.depositions,
        }
    }

    fn show(&self, phase: Phase, rows: u64) {
        let mut current = self.current.lock().expect("progress lock");
        if current.as_ref().map(|(p, _)| *p) != Some(phase) {
            if let Some((_, bar)) = current.take() {
                bar.finish_and_clear();
            }
            let bar = match phase {
                Phase::States => {
                    super::super::progress_bar(self.depositions, "depositions' states")
                }
                _ => super::super::spinner(&format!("rows into {}", phase.table())),
            };
            *current = Some((phase, bar));
        }
        if let Some((_, bar)) = current.as_ref() {
            bar.set_position(rows);
        }
    }

    fn clear(&self) {
        if let Some((_, bar)) = self.current.lock().expect("progress lock").take() {
            bar.finish_and_clear();
        }
    }
}
