//! `msgmig load`: the loader as a Kafka worker. Each batch and its consumed offsets commit in one
//! transaction; on partition assignment the loader resumes from the offsets stored in the
//! database, so a restored or emptied database is rebuilt from the records topic by itself.

use super::workers::{grace_expired, shutdown_token, DeadLetters, Kafka};
use super::{open_database, require_schema, EXIT_OK};
use crate::worker_args::LoadArgs;
use anyhow::{Context, Result};
use msgmig_bus::kafka::{KafkaSubscriber, StartOffsets, SubscriberOptions, Topic};
use msgmig_loader::{Loader, LoaderConfig};
use msgmig_schemas::record::{RecordsMessage, Stage};
use sea_orm::DatabaseConnection;
use std::sync::Arc;
use std::time::Duration;

/// Start offsets read from `msgmig_consumer_offsets` when the group gives this loader
/// partitions (see [`StartOffsets`]): asynchronous, outside the rebalance callback, and
/// retried with backoff for as long as the database is unreachable (the subscriber stops
/// waiting at shutdown).
fn start_offsets(db: DatabaseConnection, group: String) -> StartOffsets {
    Arc::new(move |topic: String, partitions: Vec<i32>| {
        let (db, group) = (db.clone(), group.clone());
        Box::pin(async move {
            let mut delay = Duration::from_millis(200);
            loop {
                let read = if msgmig_bus::failing!("rebalance_offsets_error") {
                    Err(sea_orm::DbErr::Custom(msgmig_bus::failpoint::injected(
                        "reading start offsets",
                    )))
                } else {
                    msgmig_loader::offsets::all(&db, &group, &topic).await
                };
                match read {
                    Ok(all) => {
                        return Ok(all
                            .into_iter()
                            .filter(|(p, _)| partitions.contains(p))
                            .collect());
                    }
                    Err(e) => {
                        tracing::warn!(event = "db_unavailable", error = %e, retry_in_s = delay.as_secs_f64(),
                            "cannot read stored offsets: retrying");
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(Duration::from_secs(15));
                    }
                }
            }
        })
    })
}

pub async fn run(args: LoadArgs) -> Result<i32> {
    let db = open_database(&args.database).await?;
    if !args.no_create_tables {
        msgmig_loader::database::init(&db)
            .await
            .context("creating tables")?;
    }
    require_schema(&db).await?;
    let kafka = Kafka::connect(&args.kafka).await?;
    let shutdown = shutdown_token();
    let dead = DeadLetters::spawn(&kafka, Stage::Loader)?;
    let subscriber: KafkaSubscriber<RecordsMessage> = KafkaSubscriber::new(
        &kafka.config,
        kafka.config.topic(Topic::Records),
        &args.group_id,
        SubscriberOptions {
            start_offsets: Some(start_offsets(db.clone(), args.group_id.clone())),
            rejected: Some(dead.rejected.clone()),
            shutdown: Some(shutdown.clone()),
        },
    )
    .await?;
    let readiness = crate::serve::Readiness {
        database: Some(db.clone()),
        kafka: Some(kafka.config.clone()),
        assigned: Some(Arc::new(subscriber.assignment_probe())),
        condition: None,
    };
    args.worker.serve(9467, readiness).await?;
    crate::gauges::spawn_lag("loader", subscriber.lag_probe());
    crate::gauges::spawn_progress(db.clone());
    let config = LoaderConfig {
        adaptive_throttle: args.throttle.adaptive_throttle,
        adaptive_threads_running: args.throttle.adaptive_threads_running,
        give_up_after: None,
        max_rows_per_second: args.throttle.max_rows_per_second,
        batch_size: args.batch_size.max(1),
        dry_run: false,
        reconcile: args.reconcile,
        consumer_group: Some(args.group_id.clone()),
        publish_dead_letters: true,
        run_id: None,
    };
    // The loader's dead letters are written with its batches (msgmig_dead_letters) and
    // published from there: none is lost between the commit and the broker.
    let wake = Arc::new(tokio::sync::Notify::new());
    let stop_forwarding = tokio_util::sync::CancellationToken::new();
    let forwarder = tokio::spawn(msgmig_loader::outbox::forward(
        db.clone(),
        kafka.publisher(Topic::DeadLetter)?,
        wake.clone(),
        stop_forwarding.clone(),
    ));
    let mut loader = Loader::new(db, config).with_outbox_wake(wake);
    tracing::info!(event = "loader_start", group_id = %args.group_id);
    let failure = subscriber.failure_probe();
    tokio::select! {
        done = loader.run(subscriber) => done.context("loading into the database")?,
        () = grace_expired(shutdown, &args.worker) => {}
    }
    let t = loader.totals().clone();
    drop(loader);
    // What is left unpublished stays in the table for the next start.
    stop_forwarding.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(10), forwarder).await;
    dead.finish().await;
    if let Some(e) = failure() {
        anyhow::bail!("partition assignment failed: {e}");
    }
    println!(
        "Load stopped: messages {} inserted, {} updated, {} unchanged, {} stale, {} conflicts",
        t.inserted, t.updated, t.unchanged, t.stale, t.conflicts
    );
    Ok(EXIT_OK)
}
