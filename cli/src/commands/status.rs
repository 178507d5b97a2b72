//! `msgmig status`: the distributed pipeline's progress, per stage and partition.

use super::workers::Kafka;
use super::{open_database_reader, EXIT_OK};
use crate::worker_args::StatusArgs;
use anyhow::{Context, Result};
use msgmig_bus::kafka::{partition_offsets, PartitionOffsets, Topic};
use serde::Serialize;
use std::collections::BTreeMap;

/// One partition's lag for a consumer group.
#[derive(Debug, Serialize)]
struct PartitionLag {
    partition: i32,
    /// Next offset to be written (end of the log).
    end: i64,
    /// The group's committed offset in Kafka (monitoring).
    committed: Option<i64>,
    /// The offset stored in the database (the loader's real position).
    stored: Option<i64>,
    /// end − position. The loader's position is the offset stored in the database (the start
    /// of the log when none is stored: that is where it will start); the transformer's is its
    /// committed offset.
    lag: i64,
}

#[derive(Debug, Serialize)]
struct Stage {
    topic: String,
    consumer_group: String,
    lag: i64,
    partitions: Vec<PartitionLag>,
}

#[derive(Debug, Serialize)]
struct Status {
    file_events_published: i64,
    records_published: i64,
    dead_letters: i64,
    transformer: Stage,
    loader: Stage,
    database: Option<msgmig_loader::read::Progress>,
    database_error: Option<String>,
}

/// `stored`: the database's offsets when they are the authority (the loader), else `None`.
fn stage(
    topic: String,
    group: &str,
    offsets: &[PartitionOffsets],
    stored: Option<&BTreeMap<i32, i64>>,
) -> Stage {
    let partitions: Vec<PartitionLag> = offsets
        .iter()
        .map(|o| {
            let stored_offset = stored.and_then(|s| s.get(&o.partition).copied());
            let position = match stored {
                Some(_) => stored_offset.unwrap_or(o.low),
                None => o.committed.unwrap_or(o.low),
            };
            let stored = stored_offset;
            PartitionLag {
                partition: o.partition,
                end: o.high,
                committed: o.committed,
                stored,
                lag: (o.high - position).max(0),
            }
        })
        .collect();
    Stage {
        topic,
        consumer_group: group.to_owned(),
        lag: partitions.iter().map(|p| p.lag).sum(),
        partitions,
    }
}

pub async fn run(args: StatusArgs) -> Result<i32> {
    let kafka = Kafka::connect(&args.kafka).await?;
    let config = kafka.config.clone();
    let (events_topic, records_topic, dead_topic) = (
        config.topic(Topic::FileEvents),
        config.topic(Topic::Records),
        config.topic(Topic::DeadLetter),
    );
    let (t, l, d) = (
        events_topic.clone(),
        records_topic.clone(),
        dead_topic.clone(),
    );
    let (tg, lg) = (args.transformer_group.clone(), args.loader_group.clone());
    let (events, records, dead) = tokio::task::spawn_blocking(move || {
        Ok::<_, msgmig_bus::BusError>((
            partition_offsets(&config, &t, Some(&tg))?,
            partition_offsets(&config, &l, Some(&lg))?,
            partition_offsets(&config, &d, None)?,
        ))
    })
    .await
    .expect("blocking task")
    .context("reading offsets from Kafka")?;
    // The loader's positions: the database's offsets (none stored = it starts at the beginning);
    // only when the database cannot be read, the group's committed offsets stand in.
    let (mut database, mut database_error, mut stored) = (None, None, None);
    match open_database_reader(&args.database).await {
        Ok(db) => {
            match msgmig_loader::read::progress(&db).await {
                Ok(p) => database = Some(p),
                Err(e) => database_error = Some(e.to_string()),
            }
            stored = Some(
                msgmig_loader::offsets::all(&db, &args.loader_group, &records_topic)
                    .await
                    .unwrap_or_default(),
            );
        }
        Err(e) => database_error = Some(format!("{e:#}")),
    }
    let sum = |o: &[PartitionOffsets]| o.iter().map(|p| p.high - p.low).sum::<i64>();
    let status = Status {
        file_events_published: events.iter().map(|p| p.high).sum(),
        records_published: records.iter().map(|p| p.high).sum(),
        dead_letters: sum(&dead),
        transformer: stage(events_topic, &args.transformer_group, &events, None),
        loader: stage(records_topic, &args.loader_group, &records, stored.as_ref()),
        database,
        database_error,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print_status(&status);
    }
    Ok(EXIT_OK)
}

fn print_status(s: &Status) {
    println!("msgmig status");
    println!(
        "  published: {} file events, {} records; dead letters: {}",
        s.file_events_published, s.records_published, s.dead_letters
    );
    for (name, st) in [("transformer", &s.transformer), ("loader", &s.loader)] {
        println!(
            "  {name} (group {}, topic {}): lag {}",
            st.consumer_group, st.topic, st.lag
        );
        for p in &st.partitions {
            let show = |o: Option<i64>| o.map_or("-".to_owned(), |o| o.to_string());
            println!(
                "    partition {:>3}: end {:>8}  committed {:>8}  stored {:>8}  lag {:>6}",
                p.partition,
                p.end,
                show(p.committed),
                show(p.stored),
                p.lag
            );
        }
    }
    match (&s.database, &s.database_error) {
        (Some(db), _) => {
            let states: Vec<String> = db
                .depositions
                .iter()
                .map(|(k, v)| format!("{v} {k}"))
                .collect();
            println!(
                "  database: depositions {}; {} messages loaded; {} quarantine rows",
                if states.is_empty() {
                    "none".to_owned()
                } else {
                    states.join(", ")
                },
                db.messages,
                db.quarantine_rows
            );
            if let Some(pass) = &db.last_scan {
                let at = chrono::DateTime::from_timestamp_millis(pass.finished_at_ms).map_or_else(
                    || "?".to_owned(),
                    |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                );
                println!(
                    "  discovered: {} depositions in {} (last full pass by `{}`, {at})",
                    pass.depositions, pass.directory, pass.recorded_by
                );
            }
        }
        (None, Some(e)) => println!("  database: unavailable ({e})"),
        (None, None) => {}
    }
}
