//! `msgmig replay`: rewinds the loaders' stored offsets of the records topic
//! (docs/decisions/0001-offsets-in-database.md). Only ever lowers an offset; running loaders notice within seconds and re-apply from
//! there (re-applying is idempotent: unchanged rows are not touched).

use super::workers::Kafka;
use super::{open_database, require_schema, UsageError, EXIT_OK};
use crate::worker_args::ReplayArgs;
use anyhow::{Context, Result};
use msgmig_bus::kafka::{offsets_for_time, partition_offsets, Topic};
use msgmig_loader::offsets::{self, TopicPartition};
use std::collections::BTreeMap;

/// Parses `--since`: RFC 3339, `YYYY-MM-DD HH:MM:SS` (UTC) or Unix seconds → ms since the epoch.
pub fn parse_time(s: &str) -> Result<i64, UsageError> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<i64>() {
        return Ok(secs * 1000);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    for format in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S%.f",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, format) {
            return Ok(t.and_utc().timestamp_millis());
        }
    }
    Err(UsageError(format!(
        "--since {s:?}: expected RFC 3339 (2026-11-23T10:00:00Z), YYYY-MM-DD HH:MM:SS (UTC) or Unix seconds"
    )))
}

pub async fn run(args: ReplayArgs) -> Result<i32> {
    let since_ms = args.since.as_deref().map(parse_time).transpose()?;
    let db = open_database(&args.database).await?;
    require_schema(&db).await?;
    let kafka = Kafka::connect(&args.kafka).await?;
    let topic = kafka.config.topic(Topic::Records);
    let config = kafka.config.clone();
    let (topic2, config2) = (topic.clone(), config.clone());
    let (watermarks, by_time) = tokio::task::spawn_blocking(move || {
        let watermarks = partition_offsets(&config2, &topic2, None)?;
        let by_time = match since_ms {
            Some(ms) => Some(offsets_for_time(&config2, &topic2, ms)?),
            None => None,
        };
        Ok::<_, msgmig_bus::BusError>((watermarks, by_time))
    })
    .await
    .expect("blocking task")
    .context("reading the records topic")?;
    let stored = offsets::all(&db, &args.group_id, &topic).await?;
    // Per partition: (stored next offset, new next offset) for those that move back.
    let mut plan: BTreeMap<i32, (i64, i64)> = BTreeMap::new();
    for w in &watermarks {
        let Some(&current) = stored.get(&w.partition) else {
            continue; // nothing applied yet: it starts at the beginning anyway
        };
        let target = match &by_time {
            Some(t) => t.get(&w.partition).copied().unwrap_or(w.high),
            None => w.low,
        };
        if target < current {
            plan.insert(w.partition, (current, target));
        }
    }
    let total: i64 = plan.values().map(|(c, t)| c - t).sum();
    println!(
        "Replay of {topic} for consumer group {}{}",
        args.group_id,
        if args.dry_run {
            " (dry run: nothing changed)"
        } else {
            ""
        }
    );
    if plan.is_empty() {
        println!("  nothing to replay: no stored offset is after the requested point");
        return Ok(EXIT_OK);
    }
    for (p, (current, target)) in &plan {
        println!(
            "  partition {p}: {} offset {current} → {target} ({} records to re-apply)",
            if args.dry_run {
                "would rewind"
            } else {
                "rewound"
            },
            current - target
        );
    }
    println!("  total: {total} records (fewer where the topic is compacted)");
    if args.dry_run {
        return Ok(EXIT_OK);
    }
    let rewound: BTreeMap<TopicPartition, i64> = plan
        .iter()
        .map(|(p, (_, target))| ((topic.clone(), *p), *target))
        .collect();
    offsets::write(&db, &args.group_id, &rewound)
        .await
        .context("storing the rewound offsets")?;
    tracing::info!(event = "replay_requested", topic = %topic, group_id = %args.group_id, records = total);
    println!("  running loaders re-apply within seconds; stopped ones when they start");
    Ok(EXIT_OK)
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn accepts_the_three_time_forms() {
        assert_eq!(parse_time("1700000000").unwrap(), 1_700_000_000_000);
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z").unwrap(),
            1_700_000_000_000
        );
        assert_eq!(
            parse_time("2023-11-14 22:13:20").unwrap(),
            1_700_000_000_000
        );
        assert!(parse_time("yesterday").is_err());
    }
}
