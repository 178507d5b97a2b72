//! The idempotent JSON producer: explicit partition, key per docs/architecture.md

use super::topics::{CLIENT_MAX_BYTES, MAX_MESSAGE_BYTES};
use super::KafkaConfig;
use crate::{partition_for, BusError, Envelope, Publisher};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;
use serde::Serialize;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// Room kept below a topic's `max.message.bytes` for the record's key (a message id or a path),
/// its header and the record-batch framing (Kafka's record format: about 70 bytes of batch
/// header, varint lengths per record).
const FRAMING_BYTES: usize = 16 << 10;

/// Header carrying the partition key (deposition id), so consumers see it without decoding.
pub(crate) const PARTITION_KEY_HEADER: &str = "msgmig-partition-key";

/// Publishes `T` as JSON to one topic. `publish` only enqueues (librdkafka batches and retries
/// up to `delivery.timeout.ms`); [`Publisher::flush`] waits for the broker's acknowledgements
/// and reports the first delivery failure since the last flush.
///
/// Producer settings: `enable.idempotence=true`, `acks=all` (no duplicates or reordering on
/// retries, Kafka's idempotent producer), `linger.ms=50`, `compression.type=lz4`; `--kafka-config`
/// overrides any of them.
pub struct KafkaPublisher<T> {
    producer: Arc<ThreadedProducer<DeliveryCounter>>,
    topic: String,
    partitions: usize,
    /// Largest payload sent (bytes); larger ones are refused with [`BusError::TooLarge`].
    max_payload: usize,
    deliveries: Arc<Deliveries>,
    _payload: PhantomData<fn(T)>,
}

impl<T> std::fmt::Debug for KafkaPublisher<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaPublisher")
            .field("topic", &self.topic)
            .field("partitions", &self.partitions)
            .finish_non_exhaustive()
    }
}

impl<T> Clone for KafkaPublisher<T> {
    fn clone(&self) -> Self {
        KafkaPublisher {
            producer: self.producer.clone(),
            topic: self.topic.clone(),
            partitions: self.partitions,
            max_payload: self.max_payload,
            deliveries: self.deliveries.clone(),
            _payload: PhantomData,
        }
    }
}

/// Deliveries not yet acknowledged, and the first failure among them.
#[derive(Debug, Default)]
struct Deliveries {
    outstanding: AtomicU64,
    settled: Notify,
    failure: Mutex<Option<String>>,
}

impl Deliveries {
    /// One record settled (delivered, failed, or never enqueued): wakes `flush` at zero.
    fn settle_one(&self) {
        if self.outstanding.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.settled.notify_waiters();
        }
    }
}

/// Counts deliveries down in librdkafka's delivery report callback, on the producer's polling
/// thread: no task or channel per record (a future per record, each woken from that thread,
/// costs about as much CPU as parsing the record). Logs like the default client context.
struct DeliveryCounter(Arc<Deliveries>);

impl ClientContext for DeliveryCounter {}

impl ProducerContext for DeliveryCounter {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        let deliveries = &self.0;
        if let Err((e, _)) = result {
            tracing::error!(event = "kafka_delivery_failed", error = %e);
            deliveries
                .failure
                .lock()
                .expect("not poisoned")
                .get_or_insert_with(|| e.to_string());
        }
        deliveries.settle_one();
    }
}

impl<T> KafkaPublisher<T> {
    /// A producer for `topic`, which has `partitions` partitions (from
    /// [`super::ensure_topics`]).
    pub fn new(config: &KafkaConfig, topic: String, partitions: i32) -> Result<Self, BusError> {
        let deliveries: Arc<Deliveries> = Arc::default();
        let producer: ThreadedProducer<DeliveryCounter> = config
            .client_config(&[
                ("enable.idempotence", "true"),
                ("acks", "all"),
                // Fewer, larger produce requests: the broker's CPU follows the request count;
                // a change waits at most this long more before it is sent (docs/benchmarks.md).
                ("linger.ms", "50"),
                // Built into librdkafka, understood by every broker; the JSON records compress
                // well, so consumers fetch less.
                ("compression.type", "lz4"),
                ("message.timeout.ms", "300000"),
                // One record up to the topics' `max.message.bytes` plus the protocol framing
                // (librdkafka checks the uncompressed size against this before sending).
                ("message.max.bytes", CLIENT_MAX_BYTES),
            ])
            .create_with_context(DeliveryCounter(deliveries.clone()))
            .map_err(|e| BusError::Kafka(format!("cannot create a producer: {e}")))?;
        Ok(KafkaPublisher {
            producer: Arc::new(producer),
            topic,
            partitions: partitions.max(1) as usize,
            max_payload: MAX_MESSAGE_BYTES - FRAMING_BYTES,
            deliveries,
            _payload: PhantomData,
        })
    }

    /// Lowers the largest payload sent to what the topic takes (`max.message.bytes` of a
    /// topic that existed before msgmig created its own, from
    /// [`super::topics_max_message_bytes`]), less room for key, headers and batch framing.
    pub fn with_topic_limit(mut self, topic_max_message_bytes: usize) -> Self {
        self.max_payload = topic_max_message_bytes
            .min(MAX_MESSAGE_BYTES)
            .saturating_sub(FRAMING_BYTES);
        self
    }

    /// The topic written to.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Publishes raw bytes (tests that inject untrusted input; tools).
    pub async fn publish_bytes(
        &self,
        key: &str,
        partition_key: &str,
        bytes: &[u8],
    ) -> Result<(), BusError> {
        if bytes.len() > self.max_payload {
            return Err(BusError::TooLarge {
                size: bytes.len(),
                limit: self.max_payload,
            });
        }
        let partition = partition_for(partition_key, self.partitions) as i32;
        let headers = OwnedHeaders::new().insert(Header {
            key: PARTITION_KEY_HEADER,
            value: Some(partition_key),
        });
        // Counted before the send: the callback may run before `send` returns.
        self.deliveries.outstanding.fetch_add(1, Ordering::SeqCst);
        loop {
            let record = BaseRecord::to(&self.topic)
                .key(key)
                .payload(bytes)
                .partition(partition)
                .headers(headers.clone());
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    // librdkafka's local queue is full: wait for the broker to catch up.
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                Err((e, _)) => {
                    self.deliveries.settle_one();
                    return Err(BusError::Kafka(e.to_string()));
                }
            }
        }
    }
}

impl<T: Serialize + Send + Sync> Publisher<T> for KafkaPublisher<T> {
    async fn publish(&self, envelope: Envelope<T>) -> Result<(), BusError> {
        let bytes =
            serde_json::to_vec(&envelope.payload).map_err(|e| BusError::Encode(e.to_string()))?;
        self.publish_bytes(&envelope.key, &envelope.partition_key, &bytes)
            .await
    }

    fn max_payload_bytes(&self) -> Option<usize> {
        Some(self.max_payload)
    }

    async fn flush(&self) -> Result<(), BusError> {
        loop {
            let settled = self.deliveries.settled.notified();
            if self.deliveries.outstanding.load(Ordering::SeqCst) == 0 {
                break;
            }
            settled.await;
        }
        match self.deliveries.failure.lock().expect("not poisoned").take() {
            Some(f) => Err(BusError::Kafka(format!("a message was not delivered: {f}"))),
            None => Ok(()),
        }
    }
}
