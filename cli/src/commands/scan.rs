//! `msgmig scan`: the scanner as a Kafka worker. `--once` walks the archive and exits (backfill);
//! otherwise it walks, then watches (notify + reconciliation passes, as `msgmig run`).

use super::workers::{shutdown_token, Kafka};
use super::{UsageError, EXIT_OK};
use crate::worker_args::ScanArgs;
use anyhow::{Context, Result};
use msgmig_bus::kafka::{KafkaPublisher, Topic};
use msgmig_bus::Publisher;
use msgmig_scanner::{Scanner, Selection, Watcher};
use msgmig_schemas::record::FileEvent;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

pub async fn run(args: ScanArgs) -> Result<i32> {
    if !args.directory.is_dir() {
        return Err(UsageError(format!(
            "--directory {} is not a folder",
            args.directory.display()
        ))
        .into());
    }
    let started = Instant::now();
    let db = optional_database(&args.database).await?;
    let kafka = Kafka::connect(&args.kafka).await?;
    let publisher: KafkaPublisher<FileEvent> = kafka.publisher(Topic::FileEvents)?;
    if args.once {
        let readiness = crate::serve::Readiness {
            kafka: Some(kafka.config.clone()),
            ..Default::default()
        };
        args.worker.serve(9465, readiness).await?;
        let scanner = Scanner::new(&args.directory, Selection::All);
        let stats = scanner.stats();
        scanner
            .run_once(&publisher)
            .await
            .context("scanning the archive")?;
        publisher.flush().await.context("publishing file events")?;
        let depositions = stats.depositions.load(Ordering::Relaxed) as i64;
        msgmig_scanner::metrics::DEPOSITIONS_DISCOVERED.set(depositions);
        if let Some(db) = &db {
            let files = stats.files.load(Ordering::Relaxed) as i64;
            let pass =
                crate::gauges::scan_pass(&args.directory, depositions, Some(files), "scan --once");
            if let Err(e) = msgmig_loader::scan_passes::record(db, &pass).await {
                tracing::warn!(event = "scan_pass_not_recorded", error = %e);
            }
        }
        println!("Scan Summary");
        println!(
            "  depositions: {}; file events published: {}; ignored entries: {}; unreadable folders: {}",
            stats.depositions.load(Ordering::Relaxed),
            stats.files.load(Ordering::Relaxed),
            stats.ignored.load(Ordering::Relaxed),
            stats.unreadable.load(Ordering::Relaxed)
        );
        println!("  time: {:.2} s", started.elapsed().as_secs_f64());
        return Ok(EXIT_OK);
    }
    let config = args.watch.config();
    // No ledger: a restarted scanner publishes every file once more; the transformer and the
    // loader turn unchanged files into no writes.
    let watcher = Watcher::new(&args.directory, config, Vec::new());
    let undelivered = watcher.stats();
    let readiness = crate::serve::Readiness {
        kafka: Some(kafka.config.clone()),
        condition: Some(Arc::new(move || {
            let n = undelivered.undelivered.load(Ordering::Relaxed);
            (n > 0).then(|| {
                format!(
                    "{n} file events not delivered yet: published again when the brokers take them"
                )
            })
        })),
        ..Default::default()
    };
    args.worker.serve(9465, readiness).await?;
    if let Some(db) = db {
        crate::gauges::spawn_scan_pass_recorder(db, args.directory.clone(), "scan");
    }
    let stats = watcher.stats();
    let shutdown = shutdown_token();
    watcher
        .run(&publisher, shutdown)
        .await
        .context("watching the archive")?;
    publisher.flush().await.context("publishing file events")?;
    println!(
        "Scan stopped: {} file events published, {} reconciliation passes",
        stats.published.load(Ordering::Relaxed),
        stats.passes.load(Ordering::Relaxed)
    );
    Ok(EXIT_OK)
}

/// The database a scanner records its passes in, when one is configured. Optional: the scan
/// goes on without it (warned once) when it cannot be reached within 5 s or has no msgmig
/// tables yet, since publishing file events is the scanner's job.
async fn optional_database(
    args: &crate::args::DatabaseArgs,
) -> Result<Option<sea_orm::DatabaseConnection>> {
    if crate::config::configured_database_url(args)
        .map_err(|e| UsageError(e.to_string()))?
        .is_none()
    {
        return Ok(None);
    }
    let mut quick = args.clone();
    quick.db_timeout = quick.db_timeout.min(5);
    let opened = async {
        let db = super::open_database(&quick).await?;
        super::require_schema(&db).await?;
        anyhow::Ok(db)
    }
    .await;
    match opened {
        Ok(db) => Ok(Some(db)),
        Err(e) => {
            tracing::warn!(event = "scan_passes_not_recorded", error = %format!("{e:#}"),
                "scanning without the database: the passes' deposition counts (\"discovered\") are not recorded");
            Ok(None)
        }
    }
}
