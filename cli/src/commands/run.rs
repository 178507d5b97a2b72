//! `msgmig run`: the continuous pipeline in one process: watcher → transformer →
//! loader(s) on the in-process bus, until SIGINT/SIGTERM. Shutdown drains: the watcher stops,
//! the transformer finishes what it read, the loaders commit what they received.

use super::workers::shutdown_token;
use super::{open_database, require_schema, LoaderPool, EXIT_OK};
use crate::cli::RunArgs;
use anyhow::{Context, Result};
use msgmig_bus::in_process::topic;
use msgmig_loader::read::file_ledger;
use msgmig_loader::LoaderConfig;
use msgmig_scanner::Watcher;
use msgmig_transformer::Transformer;
use std::sync::atomic::Ordering;
use std::time::Duration;

pub async fn run(args: RunArgs) -> Result<i32> {
    let db = open_database(&args.database).await?;
    if args.create_tables {
        msgmig_loader::database::init(&db)
            .await
            .context("creating tables")?;
    }
    require_schema(&db).await?;
    let readiness = crate::serve::Readiness {
        database: Some(db.clone()),
        ..Default::default()
    };
    crate::serve::spawn(args.metrics_addr, readiness)
        .await
        .map_err(|e| super::UsageError(format!("{e:#}")))?;
    crate::gauges::spawn_progress(db.clone());
    crate::gauges::spawn_scan_pass_recorder(db.clone(), args.directory.clone(), "run");
    let ledger = file_ledger(&db).await.context("reading the file ledger")?;
    tracing::info!(event = "run_start", directory = %args.directory.display(), ledger_files = ledger.len(), poll_only = args.watch.poll_only);
    let config = args.watch.config();
    let watcher = Watcher::new(&args.directory, config, ledger);
    let watch_stats = watcher.stats();
    // Progress of the initial walk (a bar on a terminal; hidden otherwise).
    let progress = {
        let stats = watch_stats.clone();
        tokio::spawn(async move {
            let bar = super::progress_bar(0, "deposition folders walked");
            while stats.initial_pass_ms.load(Ordering::Relaxed) == 0 {
                bar.set_length(stats.pass_total.load(Ordering::Relaxed));
                bar.set_position(stats.pass_done.load(Ordering::Relaxed));
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            bar.finish_and_clear();
        })
    };
    let parallelism = std::thread::available_parallelism().map_or(2, |n| n.get());
    let transformer = Transformer::new(&args.directory, parallelism); // the watcher already waited for quiet files
    let transform_stats = transformer.stats();
    let (events_tx, events_rx) = topic(1024);
    let loader_config = LoaderConfig {
        adaptive_throttle: args.throttle.adaptive_throttle,
        adaptive_threads_running: args.throttle.adaptive_threads_running,
        max_rows_per_second: args.throttle.max_rows_per_second,
        give_up_after: None,
        batch_size: args.batch_size.max(1),
        dry_run: false,
        reconcile: false,
        consumer_group: None,
        publish_dead_letters: false,
        run_id: None,
    };
    let LoaderPool {
        publisher: records_tx,
        tasks: loads,
    } = LoaderPool::spawn(&db, loader_config, args.loaders, None);
    // The backlog between the stages: the embedded pipeline's consumer lag (dashboard, alerts).
    let events_depth = events_tx.depth_probe();
    crate::gauges::spawn_lag("transformer", move || vec![(0, events_depth())]);
    crate::gauges::spawn_lag("loader", records_tx.depth_probe());
    let transform = tokio::spawn(async move { transformer.run(events_rx, &records_tx).await });
    watcher
        .run(&events_tx, shutdown_token())
        .await
        .context("watching the archive")?;
    progress.abort();
    drop(events_tx);
    let drain = async {
        transform
            .await
            .expect("transformer task")
            .context("transforming")?;
        LoaderPool::join(loads).await
    };
    let rows = match tokio::time::timeout(Duration::from_secs(args.grace_secs), drain).await {
        Ok(rows) => rows?,
        Err(_) => {
            tracing::warn!(event = "grace_expired", grace_secs = args.grace_secs,
                "in-flight work abandoned (the database may be unreachable): the next start redoes it");
            return Ok(super::EXIT_INTERRUPTED);
        }
    };
    println!("Run Summary");
    println!(
        "  initial walk: {:.2} s",
        watch_stats.initial_pass_ms.load(Ordering::Relaxed) as f64 / 1000.0
    );
    println!(
        "  file events published: {} ({} disappeared); reconciliation passes: {}; lock waits: {}",
        watch_stats.published.load(Ordering::Relaxed),
        watch_stats.removed.load(Ordering::Relaxed),
        watch_stats.passes.load(Ordering::Relaxed),
        watch_stats.lock_waits.load(Ordering::Relaxed)
    );
    println!(
        "  depositions transformed: {} ({} quarantined)",
        transform_stats.depositions.load(Ordering::Relaxed),
        transform_stats.quarantined.load(Ordering::Relaxed)
    );
    println!(
        "  messages: {} inserted, {} updated, {} unchanged, {} stale, {} conflicts",
        rows.inserted, rows.updated, rows.unchanged, rows.stale, rows.conflicts
    );
    Ok(EXIT_OK)
}
