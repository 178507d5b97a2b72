//! `msgmig scan`: the scanner as a Kafka worker. `--once` walks the archive and exits (backfill);
//! otherwise it walks, then watches (notify + reconciliation passes, as `msgmig run`).

use super::workers::{shutdown_watch, Kafka};
use super::{UsageError, EXIT_OK};
use crate::worker_args::ScanArgs;
use anyhow::{Context, Result};
use msgmig_bus::kafka::{KafkaPublisher, Topic};
use msgmig_bus::Publisher;
use msgmig_scanner::{Scanner, Selection, Watcher};
use msgmig_schemas::record::FileEvent;
use std::sync::atomic::Ordering;
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
    let kafka = Kafka::connect(&args.kafka).await?;
    let readiness = crate::serve::Readiness {
        kafka: Some(kafka.config.clone()),
        ..Default::default()
    };
    args.worker.serve(9465, readiness).await?;
    let publisher: KafkaPublisher<FileEvent> = kafka.publisher(Topic::FileEvents)?;
    if args.once {
        let scanner = Scanner::new(&args.directory, Selection::All);
        let stats = scanner.stats();
        scanner
            .run_once(&publisher)
            .await
            .context("scanning the archive")?;
        publisher.flush().await.context("publishing file events")?;
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
    let stats = watcher.stats();
    let mut shutdown = shutdown_watch();
    watcher
        .run(&publisher, async move {
            let _ = shutdown.wait_for(|s| *s).await;
        })
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
