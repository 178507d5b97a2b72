//! The three topics of docs/architecture.md and their creation at start-up (never deletion).

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

/// Lets an admin client go without waiting for it: dropping one joins its polling thread, which
/// sleeps up to 100 ms between polls (rdkafka's `AdminClient`); at a worker's start-up that was
/// a fifth of a second spent on nothing.
fn drop_in_background(admin: AdminClient<DefaultClientContext>) {
    std::thread::spawn(move || drop(admin));
}

/// What each of `topics` that exists already takes per record batch, when the broker says
/// (`max.message.bytes`, Kafka DescribeConfigs): one admin client and one request for all of
/// them. A topic whose limit cannot be read is absent from the map.
pub async fn topics_max_message_bytes(
    config: &KafkaConfig,
    topics: &[String],
) -> HashMap<String, usize> {
    use rdkafka::admin::{OwnedResourceSpecifier, ResourceSpecifier};
    let Ok(admin) = config
        .client_config(&[])
        .create::<AdminClient<DefaultClientContext>>()
    else {
        return HashMap::new();
    };
    let opts = AdminOptions::new().request_timeout(Some(TIMEOUT));
    let specifiers: Vec<ResourceSpecifier<'_>> =
        topics.iter().map(|t| ResourceSpecifier::Topic(t)).collect();
    let results = admin.describe_configs(&specifiers, &opts).await;
    drop_in_background(admin);
    let Ok(results) = results else {
        return HashMap::new();
    };
    results
        .into_iter()
        .filter_map(|r| {
            let resource = r.ok()?;
            let OwnedResourceSpecifier::Topic(name) = &resource.specifier else {
                return None;
            };
            let limit = resource
                .get("max.message.bytes")
                .and_then(|e| e.value.as_deref())
                .and_then(|v| v.parse().ok())?;
            Some((name.clone(), limit))
        })
        .collect()
}

/// Creates the three topics if missing (an existing topic is left as it is, whatever its
/// partition count) and returns each topic's partition count.
///
/// Errors: the broker is unreachable, refuses creation (other than "already exists"), or a topic
/// still has no metadata after creation.
pub async fn ensure_topics(config: &KafkaConfig) -> Result<HashMap<Topic, i32>, BusError> {
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
    if missing.is_empty() {
        return Ok(existing);
    }
    let admin: AdminClient<DefaultClientContext> = config
        .client_config(&[])
        .create()
        .map_err(|e| BusError::Kafka(format!("cannot create an admin client: {e}")))?;
    let opts = AdminOptions::new().operation_timeout(Some(TIMEOUT));
    let results = admin.create_topics(missing.iter(), &opts).await;
    drop_in_background(admin);
    for result in results.map_err(|e| BusError::Kafka(format!("creating topics: {e}")))? {
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
