//! The Kafka transport: topics, an idempotent JSON producer, a consumer-group
//! subscriber with per-envelope acknowledgement, and the admin reads `status` and `replay` need.
//!
//! Broker-agnostic: only standard Kafka APIs are used (tested against Apache Kafka 4.1 in KRaft
//! mode; no transactions are needed: exactly-once *effect* comes from offsets stored in the
//! database by the loader).

mod acker;
mod admin;
mod consumer;
mod producer;
mod rebalance;
mod topics;
mod tracker;

pub use acker::Acker;
pub use admin::{count_records, offsets_for_time, partition_offsets, ping, PartitionOffsets};
pub use consumer::{KafkaSubscriber, Rejected, StartOffsets, SubscriberOptions};
pub use producer::KafkaPublisher;
pub use topics::{
    alter_topic_config, ensure_topics, topics_max_message_bytes, Topic, MAX_MESSAGE_BYTES,
};

use rdkafka::ClientConfig;

/// Connection and topic settings shared by every worker.
#[derive(Debug, Clone)]
pub struct KafkaConfig {
    /// `bootstrap.servers`: comma-separated `host:port` list.
    pub brokers: String,
    /// Prepended to every topic name (default `msgmig.`); give each test run its own.
    pub topic_prefix: String,
    /// Partitions of topics msgmig creates (existing topics keep theirs).
    pub partitions: i32,
    /// Replication factor of topics msgmig creates.
    pub replication_factor: i32,
    /// Extra librdkafka properties (`--kafka-config key=value`): TLS, SASL, timeouts. Applied
    /// last, so they override msgmig's defaults.
    pub properties: Vec<(String, String)>,
}

impl KafkaConfig {
    /// The full name of `topic` (prefix + name).
    pub fn topic(&self, topic: Topic) -> String {
        format!("{}{}", self.topic_prefix, topic.name())
    }

    /// A librdkafka client configuration: brokers, then the defaults given, then the user's
    /// properties (which win).
    pub(crate) fn client_config(&self, defaults: &[(&str, &str)]) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.brokers);
        for (k, v) in defaults {
            config.set(*k, *v);
        }
        for (k, v) in &self.properties {
            config.set(k, v);
        }
        config
    }
}

/// Whether a librdkafka property carries a secret (never logged or printed).
pub fn is_secret_property(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["password", "secret", "key.pem", "token"]
        .iter()
        .any(|s| key.contains(s))
}

/// The linked librdkafka: its version and compiled-in features (`builtin.features`: TLS,
/// SASL mechanisms, compression codecs), e.g. `librdkafka 2.10.0 (gzip, snappy, ssl, sasl, …)`.
/// For `msgmig --version` and the `msgmig_build_info` metric.
pub fn librdkafka_identity() -> String {
    let (_, version) = rdkafka::util::get_rdkafka_version();
    let features = rdkafka::ClientConfig::new()
        .create_native_config()
        .and_then(|c| c.get("builtin.features"))
        .unwrap_or_else(|_| "unknown".into());
    format!("librdkafka {version} ({})", features.replace(',', ", "))
}
