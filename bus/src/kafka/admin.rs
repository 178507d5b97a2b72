//! Read-only broker queries for `msgmig status` (lag) and `msgmig replay` (offsets for a time).

use super::KafkaConfig;
use crate::BusError;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(10);

/// One partition's watermarks and a group's committed offset.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PartitionOffsets {
    pub partition: i32,
    /// First offset still in the log.
    pub low: i64,
    /// Offset the next message will get (the end).
    pub high: i64,
    /// The group's committed offset (next to read), if it committed one.
    pub committed: Option<i64>,
}

fn client(config: &KafkaConfig, group: Option<&str>) -> Result<BaseConsumer, BusError> {
    let group = group.unwrap_or("msgmig-admin");
    config
        .client_config(&[("group.id", group), ("enable.auto.commit", "false")])
        .create()
        .map_err(|e| BusError::Kafka(format!("cannot create a client: {e}")))
}

fn partitions(consumer: &BaseConsumer, topic: &str) -> Result<Vec<i32>, BusError> {
    let metadata = consumer
        .fetch_metadata(Some(topic), TIMEOUT)
        .map_err(|e| BusError::Kafka(format!("cannot read metadata of {topic}: {e}")))?;
    let mut ids: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic && t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    ids.sort_unstable();
    Ok(ids)
}

/// Runs a request, retrying for up to [`TIMEOUT`] while the broker answers that it is not ready
/// yet ([`is_transient`]). Blocking: call it from a blocking thread.
fn retry_transient<T>(
    mut request: impl FnMut() -> rdkafka::error::KafkaResult<T>,
) -> rdkafka::error::KafkaResult<T> {
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        match request() {
            Err(e)
                if e.rdkafka_error_code().is_some_and(is_transient)
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(200));
            }
            other => return other,
        }
    }
}

/// Whether `code` says the broker is not ready yet, so the same request succeeds later (all
/// retriable in Kafka's protocol guide): a fresh cluster creates `__consumer_offsets` on the
/// first group request and answers `NOT_COORDINATOR` / `COORDINATOR_NOT_AVAILABLE` /
/// `COORDINATOR_LOAD_IN_PROGRESS` meanwhile; a topic created or a broker restarted moments ago
/// answers `NOT_LEADER_OR_FOLLOWER` / `LEADER_NOT_AVAILABLE` until its partitions have leaders
/// (seen: `msgmig status` right after a bench created its topics).
fn is_transient(code: rdkafka::types::RDKafkaErrorCode) -> bool {
    use rdkafka::types::RDKafkaErrorCode as Code;
    matches!(
        code,
        Code::NotCoordinator
            | Code::CoordinatorNotAvailable
            | Code::CoordinatorLoadInProgress
            | Code::NotLeaderForPartition
            | Code::LeaderNotAvailable
    )
}

/// Watermarks of every partition of `topic`, with `group`'s committed offsets when a group is
/// given (Kafka OffsetFetch; lag = high − committed).
pub fn partition_offsets(
    config: &KafkaConfig,
    topic: &str,
    group: Option<&str>,
) -> Result<Vec<PartitionOffsets>, BusError> {
    let consumer = client(config, group)?;
    let ids = partitions(&consumer, topic)?;
    let mut committed = BTreeMap::new();
    if group.is_some() && !ids.is_empty() {
        let mut tpl = TopicPartitionList::new();
        for &p in &ids {
            tpl.add_partition(topic, p);
        }
        let got = retry_transient(|| consumer.committed_offsets(tpl.clone(), TIMEOUT))
            .map_err(|e| BusError::Kafka(format!("cannot read committed offsets: {e}")))?;
        for e in got.elements() {
            if let Offset::Offset(o) = e.offset() {
                committed.insert(e.partition(), o);
            }
        }
    }
    ids.into_iter()
        .map(|p| {
            let (low, high) = retry_transient(|| consumer.fetch_watermarks(topic, p, TIMEOUT))
                .map_err(|e| {
                    BusError::Kafka(format!("cannot read watermarks of {topic}/{p}: {e}"))
                })?;
            Ok(PartitionOffsets {
                partition: p,
                low,
                high,
                committed: committed.get(&p).copied(),
            })
        })
        .collect()
}

/// Per partition of `topic`, the first offset whose message timestamp is ≥ `since_ms`
/// (ms since the Unix epoch), or the partition's end when no message is that recent: a time past
/// the end means "nothing to replay", never "from 0".
///
/// Kafka's ListOffsets answers this; because some brokers (tansu 0.6) answer offset 0 for a time
/// past the end, the answer is checked against the timestamp of the message it names.
pub fn offsets_for_time(
    config: &KafkaConfig,
    topic: &str,
    since_ms: i64,
) -> Result<BTreeMap<i32, i64>, BusError> {
    let consumer = client(config, None)?;
    let ids = partitions(&consumer, topic)?;
    let mut tpl = TopicPartitionList::new();
    for &p in &ids {
        tpl.add_partition_offset(topic, p, Offset::Offset(since_ms))
            .map_err(|e| BusError::Kafka(e.to_string()))?;
    }
    let answer = consumer
        .offsets_for_times(tpl, TIMEOUT)
        .map_err(|e| BusError::Kafka(format!("cannot look up offsets by time: {e}")))?;
    let mut out = BTreeMap::new();
    for e in answer.elements() {
        let p = e.partition();
        let (_, high) = retry_transient(|| consumer.fetch_watermarks(topic, p, TIMEOUT))
            .map_err(|err| BusError::Kafka(err.to_string()))?;
        let offset = match e.offset() {
            Offset::Offset(o)
                if o < high && timestamp_at(config, topic, p, o)? >= Some(since_ms) =>
            {
                o
            }
            _ => high,
        };
        out.insert(p, offset);
    }
    Ok(out)
}

/// The timestamp (ms) of the first message at or after `offset` in one partition.
fn timestamp_at(
    config: &KafkaConfig,
    topic: &str,
    partition: i32,
    offset: i64,
) -> Result<Option<i64>, BusError> {
    let consumer = client(config, None)?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Offset(offset))
        .map_err(|e| BusError::Kafka(e.to_string()))?;
    consumer
        .assign(&tpl)
        .map_err(|e| BusError::Kafka(e.to_string()))?;
    let deadline = std::time::Instant::now() + TIMEOUT;
    while std::time::Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => return Ok(m.timestamp().to_millis()),
            Some(Err(e)) => return Err(BusError::Kafka(e.to_string())),
            None => {}
        }
    }
    Ok(None)
}

/// Whether the brokers answer a metadata request within `timeout` (readiness probes).
pub fn ping(config: &KafkaConfig, timeout: Duration) -> Result<(), BusError> {
    let consumer = client(config, None)?;
    consumer
        .fetch_metadata(None, timeout)
        .map(|_| ())
        .map_err(|e| BusError::Kafka(format!("brokers {} do not answer: {e}", config.brokers)))
}

/// Reads every partition of `topic` from its start to its current end and counts the records
/// still in the log (a compacted topic holds fewer than its end offsets say). Blocking.
pub fn count_records(config: &KafkaConfig, topic: &str) -> Result<i64, BusError> {
    let consumer = client(config, None)?;
    let ids = partitions(&consumer, topic)?;
    let mut total = 0;
    for p in ids {
        let (low, high) = consumer
            .fetch_watermarks(topic, p, TIMEOUT)
            .map_err(|e| BusError::Kafka(e.to_string()))?;
        if high <= low {
            continue;
        }
        let reader = client(config, None)?;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, p, Offset::Offset(low))
            .map_err(|e| BusError::Kafka(e.to_string()))?;
        reader
            .assign(&tpl)
            .map_err(|e| BusError::Kafka(e.to_string()))?;
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            match reader.poll(Duration::from_millis(500)) {
                Some(Ok(m)) => {
                    total += 1;
                    if m.offset() + 1 >= high {
                        break;
                    }
                }
                Some(Err(e)) => return Err(BusError::Kafka(e.to_string())),
                None if std::time::Instant::now() > deadline => {
                    return Err(BusError::Kafka(format!(
                        "reading {topic}/{p} did not reach offset {high} within 60 s"
                    )))
                }
                None => {
                    // Compaction can remove the last records before `high`: at the position
                    // that equals the end, nothing more will come.
                    if let Ok(tpl) = reader.position() {
                        if tpl
                            .elements()
                            .iter()
                            .any(|e| matches!(e.offset(), Offset::Offset(o) if o >= high))
                        {
                            break;
                        }
                    }
                }
            }
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::error::KafkaError;
    use rdkafka::types::RDKafkaErrorCode as Code;

    #[test]
    fn a_broker_not_ready_yet_is_asked_again_and_a_real_error_is_returned_at_once() {
        let mut calls = 0;
        let got = retry_transient(|| {
            calls += 1;
            match calls {
                1 => Err(KafkaError::MetadataFetch(Code::NotLeaderForPartition)),
                2 => Err(KafkaError::MetadataFetch(Code::LeaderNotAvailable)),
                _ => Ok((0i64, 7i64)),
            }
        });
        assert_eq!(
            got.unwrap(),
            (0, 7),
            "answered once the partition has a leader"
        );
        assert_eq!(calls, 3);

        let mut calls = 0;
        let got: rdkafka::error::KafkaResult<()> = retry_transient(|| {
            calls += 1;
            Err(KafkaError::MetadataFetch(Code::UnknownTopicOrPartition))
        });
        assert!(got.is_err());
        assert_eq!(calls, 1, "an unknown topic is not waited for");
    }
}
