//! The three topics of architecture.md §2 and their creation at start-up (never deletion).

use super::KafkaConfig;
use crate::BusError;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;
use std::collections::HashMap;
use std::time::Duration;

/// A topic of the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Scanner → transformer: `FileEvent`, key = archive-relative path, compacted.
    FileEvents,
    /// Transformer → loader: `RecordsMessage`, key = message_id (or deposition id for end
    /// markers), compacted: the replayable changelog of the database.
    Records,
    /// Rejected input of any stage, with reason and position; long time retention.
    DeadLetter,
}

impl Topic {
    /// The name after the prefix.
    pub fn name(self) -> &'static str {
        match self {
            Topic::FileEvents => "file-events",
            Topic::Records => "records",
            Topic::DeadLetter => "dead-letter",
        }
    }

    /// Topic configuration at creation (Kafka topic configs). Every topic takes record
    /// batches up to [`MAX_MESSAGE_BYTES`] (the broker's default, 1 MiB, is smaller than a
    /// message the database can hold: a pasted validation report runs to megabytes).
    pub fn settings(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Topic::FileEvents | Topic::Records => &[
                ("cleanup.policy", "compact"),
                ("max.message.bytes", MAX_MESSAGE_BYTES_STR),
            ],
            // 400 days: dead letters are evidence for curators, not a queue.
            Topic::DeadLetter => &[
                ("cleanup.policy", "delete"),
                ("retention.ms", "34560000000"),
                ("max.message.bytes", MAX_MESSAGE_BYTES_STR),
            ],
        }
    }
}

const TIMEOUT: Duration = Duration::from_secs(15);

/// Largest record batch msgmig's topics accept (Kafka topic config `max.message.bytes`):
/// 64 MiB, MySQL 8's default `max_allowed_packet`, so any message a default MySQL 8 can store
/// fits in one record. Producers and consumers are sized to match (see `producer.rs`,
/// `consumer.rs`).
pub const MAX_MESSAGE_BYTES: usize = 64 << 20;
const MAX_MESSAGE_BYTES_STR: &str = "67108864";
const _: () = assert!(MAX_MESSAGE_BYTES == 67_108_864);

/// What librdkafka clients must take for one such record with its protocol framing: the
/// producer's `message.max.bytes` and the consumer's `fetch.max.bytes` (64 MiB + 1 MiB;
/// librdkafka may exceed its own limit by one message's framing).
pub(super) const CLIENT_MAX_BYTES: &str = "68157440";
const _: () = assert!(MAX_MESSAGE_BYTES + (1 << 20) == 68_157_440);

/// What a topic that exists already takes per record batch, when the broker says
/// (`max.message.bytes`, Kafka DescribeConfigs); `None` when it cannot be read.
pub async fn topic_max_message_bytes(config: &KafkaConfig, topic: &str) -> Option<usize> {
    use rdkafka::admin::{ConfigResourceResult, ResourceSpecifier};
    let admin: AdminClient<DefaultClientContext> = config.client_config(&[]).create().ok()?;
    let opts = AdminOptions::new().request_timeout(Some(TIMEOUT));
    let results = admin
        .describe_configs([&ResourceSpecifier::Topic(topic)], &opts)
        .await
        .ok()?;
    let found: Option<usize> = results.into_iter().find_map(|r: ConfigResourceResult| {
        let resource = r.ok()?;
        resource
            .get("max.message.bytes")
            .and_then(|e| e.value.as_deref())
            .and_then(|v| v.parse().ok())
    });
    found
}

/// Creates the three topics if missing (an existing topic is left as it is, whatever its
/// partition count) and returns each topic's partition count.
///
/// Errors: the broker is unreachable, refuses creation (other than "already exists"), or a topic
/// still has no metadata after creation.
pub async fn ensure_topics(config: &KafkaConfig) -> Result<HashMap<Topic, i32>, BusError> {
    let admin: AdminClient<DefaultClientContext> = config
        .client_config(&[])
        .create()
        .map_err(|e| BusError::Kafka(format!("cannot create an admin client: {e}")))?;
    let names: Vec<(Topic, String)> = [Topic::FileEvents, Topic::Records, Topic::DeadLetter]
        .into_iter()
        .map(|t| (t, config.topic(t)))
        .collect();
    let existing = partition_counts_async(config, &names).await?;
    let missing: Vec<NewTopic<'_>> = names
        .iter()
        .filter(|(t, _)| !existing.contains_key(t))
        .map(|(t, name)| {
            let mut topic = NewTopic::new(
                name,
                config.partitions.max(1),
                TopicReplication::Fixed(config.replication_factor.max(1)),
            );
            for (k, v) in t.settings() {
                topic = topic.set(k, v);
            }
            topic
        })
        .collect();
    if !missing.is_empty() {
        let opts = AdminOptions::new().operation_timeout(Some(TIMEOUT));
        let results = admin
            .create_topics(missing.iter(), &opts)
            .await
            .map_err(|e| BusError::Kafka(format!("creating topics: {e}")))?;
        for result in results {
            match result {
                Ok(name) => tracing::info!(event = "topic_created", topic = %name),
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, code)) => {
                    return Err(BusError::Kafka(format!(
                        "cannot create topic {name}: {code}"
                    )))
                }
            }
        }
    }
    // Metadata can lag creation by a moment.
    for _ in 0..50 {
        let counts = partition_counts_async(config, &names).await?;
        if counts.len() == names.len() {
            return Ok(counts);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(BusError::Kafka(
        "topics were created but the broker lists no partitions for them".into(),
    ))
}

/// [`partition_counts`] on a blocking thread (metadata requests block).
async fn partition_counts_async(
    config: &KafkaConfig,
    names: &[(Topic, String)],
) -> Result<HashMap<Topic, i32>, BusError> {
    let (config, names) = (config.clone(), names.to_vec());
    tokio::task::spawn_blocking(move || partition_counts(&config, &names))
        .await
        .map_err(|e| BusError::Kafka(format!("metadata task failed: {e}")))?
}

/// Partition count of each topic the broker knows (a missing topic is absent from the map).
fn partition_counts(
    config: &KafkaConfig,
    names: &[(Topic, String)],
) -> Result<HashMap<Topic, i32>, BusError> {
    let client: BaseConsumer = config
        .client_config(&[])
        .create()
        .map_err(|e| BusError::Kafka(format!("cannot create a client: {e}")))?;
    let metadata = client.fetch_metadata(None, TIMEOUT).map_err(|e| {
        BusError::Kafka(format!(
            "cannot reach the brokers {} ({e}): check --kafka-brokers and that Kafka runs",
            config.brokers
        ))
    })?;
    Ok(names
        .iter()
        .filter_map(|(t, name)| {
            metadata
                .topics()
                .iter()
                .find(|m| m.name() == name && m.error().is_none() && !m.partitions().is_empty())
                .map(|m| (*t, m.partitions().len() as i32))
        })
        .collect())
}

/// Sets topic configs of an existing topic (Kafka IncrementalAlterConfigs is not in
/// librdkafka's admin API as wrapped by rdkafka; AlterConfigs replaces the topic's dynamic
/// configs with exactly `settings`, so pass every override the topic should keep).
/// Used by operators' tooling and tests (e.g. small segments to watch compaction run).
pub async fn alter_topic_config(
    config: &KafkaConfig,
    topic: &str,
    settings: &[(&str, &str)],
) -> Result<(), BusError> {
    use rdkafka::admin::{AlterConfig, ResourceSpecifier};
    let admin: AdminClient<DefaultClientContext> = config
        .client_config(&[])
        .create()
        .map_err(|e| BusError::Kafka(format!("cannot create an admin client: {e}")))?;
    let mut alter = AlterConfig::new(ResourceSpecifier::Topic(topic));
    for (k, v) in settings {
        alter = alter.set(k, v);
    }
    let opts = AdminOptions::new().request_timeout(Some(TIMEOUT));
    let results = admin
        .alter_configs([&alter], &opts)
        .await
        .map_err(|e| BusError::Kafka(format!("altering {topic}: {e}")))?;
    for r in results {
        r.map_err(|(_, code)| BusError::Kafka(format!("altering {topic}: {code}")))?;
    }
    Ok(())
}
