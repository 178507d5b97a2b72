//! `msgmig transform`: the transformer as a Kafka worker (consumes file events, publishes
//! records; dead letters for refused events and quarantined depositions).

use super::workers::{grace_expired, shutdown_token, DeadLetters, Kafka};
use super::{UsageError, EXIT_OK};
use crate::worker_args::TransformArgs;
use anyhow::{Context, Result};
use msgmig_bus::kafka::{KafkaPublisher, KafkaSubscriber, SubscriberOptions, Topic};
use msgmig_schemas::record::{FileEvent, RecordsMessage, Stage};
use msgmig_transformer::Transformer;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

pub async fn run(args: TransformArgs) -> Result<i32> {
    if !args.directory.is_dir() {
        return Err(UsageError(format!(
            "--directory {} is not a folder",
            args.directory.display()
        ))
        .into());
    }
    let kafka = Kafka::connect(&args.kafka).await?;
    let shutdown = shutdown_token();
    let dead = DeadLetters::spawn(&kafka, Stage::Transformer)?;
    let subscriber: KafkaSubscriber<FileEvent> = KafkaSubscriber::new(
        &kafka.config,
        kafka.config.topic(Topic::FileEvents),
        &args.group_id,
        SubscriberOptions {
            start_offsets: None,
            rejected: Some(dead.rejected.clone()),
            shutdown: Some(shutdown.clone()),
        },
    )
    .await?;
    let readiness = crate::serve::Readiness {
        kafka: Some(kafka.config.clone()),
        assigned: Some(Arc::new(subscriber.assignment_probe())),
        ..Default::default()
    };
    args.worker.serve(9466, readiness).await?;
    crate::gauges::spawn_lag("transformer", subscriber.lag_probe());
    let publisher: KafkaPublisher<RecordsMessage> = kafka.publisher(Topic::Records)?;
    let parallelism = args
        .parallelism
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let transformer = Transformer::new(&args.directory, parallelism)
        .with_debounce(Duration::from_millis(args.debounce_ms))
        .with_dead_letters(dead.letters.clone());
    let stats = transformer.stats();
    tracing::info!(event = "transformer_start", group_id = %args.group_id, directory = %args.directory.display());
    tokio::select! {
        done = transformer.run(subscriber, &publisher) => done.context("transforming")?,
        () = grace_expired(shutdown, &args.worker) => {}
    }
    drop(transformer); // its dead-letter sender: `finish` waits for every sender to go
    dead.finish().await;
    println!(
        "Transform stopped: {} depositions transformed ({} quarantined), {} records, {} events refused",
        stats.depositions.load(Ordering::Relaxed),
        stats.quarantined.load(Ordering::Relaxed),
        stats.records.load(Ordering::Relaxed),
        stats.refused_events.load(Ordering::Relaxed)
    );
    Ok(EXIT_OK)
}
