//! What the Kafka workers share: connecting (topics created if missing), graceful shutdown,
//! the dead-letter publisher, and the metrics endpoint.

use super::UsageError;
use crate::worker_args::{KafkaArgs, WorkerArgs};
use anyhow::Result;
use msgmig_bus::delivery::{delivery_queue, DeliveryQueue};
use msgmig_bus::kafka::{
    ensure_topics, is_secret_property, topics_max_message_bytes, KafkaConfig, KafkaPublisher,
    Rejected, Topic, MAX_MESSAGE_BYTES,
};
use msgmig_bus::{Envelope, Publisher};
use msgmig_schemas::record::{DeadLetter, DeadLetterReason, Stage};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// A connected worker: its Kafka settings, each topic's partition count and, where the broker
/// says, each topic's `max.message.bytes`.
#[derive(Debug, Clone)]
pub struct Kafka {
    pub config: KafkaConfig,
    pub partitions: HashMap<Topic, i32>,
    pub max_message_bytes: HashMap<Topic, usize>,
}

impl Kafka {
    /// Reaches the brokers and creates missing topics. Errors (exit 2) say what to check.
    pub async fn connect(args: &KafkaArgs) -> Result<Self> {
        let config = args.config().map_err(|e| UsageError(format!("{e:#}")))?;
        let shown: Vec<String> = config
            .properties
            .iter()
            .map(|(k, v)| {
                if is_secret_property(k) {
                    format!("{k}=***")
                } else {
                    format!("{k}={v}")
                }
            })
            .collect();
        tracing::info!(event = "kafka_connecting", brokers = %config.brokers, topic_prefix = %config.topic_prefix, properties = ?shown);
        let partitions = ensure_topics(&config).await.map_err(|e| {
            let hint = if e.to_string().contains("config") {
                "check the --kafka-config properties (librdkafka's CONFIGURATION.md lists them)"
            } else {
                "check --kafka-brokers / MSGMIG_KAFKA_BROKERS and that the brokers run"
            };
            UsageError(format!("{e}\n  {hint}"))
        })?;
        let topics = [Topic::FileEvents, Topic::Records, Topic::DeadLetter];
        let names: Vec<String> = topics.iter().map(|t| config.topic(*t)).collect();
        let limits = topics_max_message_bytes(&config, &names).await;
        let mut max_message_bytes = HashMap::new();
        for (topic, name) in topics.into_iter().zip(&names) {
            if let Some(&limit) = limits.get(name) {
                if limit < MAX_MESSAGE_BYTES {
                    tracing::warn!(event = "topic_limit_small", topic = %name, max_message_bytes = limit,
                        "the topic takes smaller records than msgmig creates topics with (67108864): larger records are quarantined as record_too_large");
                }
                max_message_bytes.insert(topic, limit);
            }
        }
        Ok(Kafka {
            config,
            partitions,
            max_message_bytes,
        })
    }

    /// A JSON publisher to `topic`.
    pub fn publisher<T>(&self, topic: Topic) -> Result<KafkaPublisher<T>> {
        let publisher = KafkaPublisher::new(
            &self.config,
            self.config.topic(topic),
            self.partitions[&topic],
        )?;
        Ok(match self.max_message_bytes.get(&topic) {
            Some(&limit) => publisher.with_topic_limit(limit),
            None => publisher,
        })
    }
}

impl WorkerArgs {
    /// Serves /metrics, /healthz and /readyz on `--metrics-addr`, else on 127.0.0.1:`default_port`
    /// (each worker kind has its own, so they can share a host). Errors (exit 2): the address is
    /// taken or invalid.
    pub async fn serve(&self, default_port: u16, readiness: crate::serve::Readiness) -> Result<()> {
        let addr = self
            .metrics_addr
            .unwrap_or(([127, 0, 0, 1], default_port).into());
        crate::serve::spawn(addr, readiness)
            .await
            .map_err(|e| UsageError(format!("{e:#}")))?;
        Ok(())
    }
}

/// Cancelled on SIGTERM/SIGINT.
pub fn shutdown_token() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        super::shutdown_signal().await;
        cancel.cancel();
    });
    token
}

/// Completes `grace` after shutdown was requested: the bound on draining.
pub async fn grace_expired(shutdown: CancellationToken, args: &WorkerArgs) {
    shutdown.cancelled().await;
    tokio::time::sleep(Duration::from_secs(args.grace_secs)).await;
    tracing::warn!(
        event = "grace_expired",
        grace_secs = args.grace_secs,
        "in-flight work abandoned: the next owner of the partitions redoes it"
    );
}

/// Dead letters waiting to be published before the worker that produced them pauses (the
/// channels are bounded: backpressure, not memory, absorbs a burst).
const DEAD_LETTER_QUEUE: usize = 256;

/// How long `finish` waits for the last dead letters while the brokers do not answer; what is
/// left is logged (rejected payloads stay unacknowledged and are re-delivered at the next start).
const FINISH_PATIENCE: Duration = Duration::from_secs(10);

/// Publishes dead letters of one stage: the worker's own (whose senders learn when they are
/// delivered, [`DeliveryQueue::delivered`]), and payloads the subscriber could not decode. A
/// rejected payload is acknowledged only after its dead letter is delivered (flushed with
/// `acks=all`); a failed publish is retried with backoff, never dropped. Ends (after a flush)
/// when every sender is dropped.
pub struct DeadLetters {
    pub letters: DeliveryQueue<DeadLetter>,
    pub rejected: mpsc::Sender<Rejected>,
    task: tokio::task::JoinHandle<()>,
}

impl DeadLetters {
    pub fn spawn(kafka: &Kafka, stage: Stage) -> Result<Self> {
        let publisher: KafkaPublisher<DeadLetter> = kafka.publisher(Topic::DeadLetter)?;
        let (letters, mut letters_rx) = delivery_queue::<DeadLetter>(DEAD_LETTER_QUEUE);
        let (rejected, mut rejected_rx) = mpsc::channel::<Rejected>(DEAD_LETTER_QUEUE);
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    Some(letter) = letters_rx.recv() => {
                        deliver(&publisher, letter).await;
                        letters_rx.delivered();
                    }
                    Some(r) = rejected_rx.recv() => {
                        deliver(&publisher, rejected_letter(stage, &r)).await;
                        if let Err(e) = r.acker.ack(std::slice::from_ref(&r.receipt)) {
                            tracing::warn!(event = "ack_failed", error = %e);
                        }
                    }
                    else => break,
                }
            }
        });
        Ok(DeadLetters {
            letters,
            rejected,
            task,
        })
    }

    /// Waits until every dead letter was published (drop the senders handed out first), for at
    /// most [`FINISH_PATIENCE`].
    pub async fn finish(self) {
        drop(self.letters);
        drop(self.rejected);
        let mut task = self.task;
        if tokio::time::timeout(FINISH_PATIENCE, &mut task)
            .await
            .is_err()
        {
            task.abort();
            tracing::error!(
                event = "dead_letters_not_published",
                "the brokers did not take the last dead letters; undecodable payloads among them are re-delivered at the next start"
            );
        }
    }
}

/// Publishes one dead letter and waits for the broker's acknowledgement, retrying with backoff
/// (200 ms doubling to 15 s) until it is delivered.
async fn deliver(publisher: &KafkaPublisher<DeadLetter>, letter: DeadLetter) {
    let key = letter.key();
    let partition_key = letter.deposition_id.clone().unwrap_or_else(|| key.clone());
    let mut delay = Duration::from_millis(200);
    loop {
        let sent = async {
            publisher
                .publish(Envelope::new(
                    key.clone(),
                    partition_key.clone(),
                    letter.clone(),
                ))
                .await?;
            msgmig_bus::crash_point!("dead_letter_before_delivery");
            if msgmig_bus::failing!("dead_letter_publish_error") {
                return Err(msgmig_bus::BusError::Kafka(
                    msgmig_bus::failpoint::injected("delivering a dead letter"),
                ));
            }
            publisher.flush().await
        }
        .await;
        match sent {
            Ok(()) => return,
            Err(e @ msgmig_bus::BusError::TooLarge { .. }) => {
                tracing::error!(event = "dead_letter_not_published", error = %e, "cannot ever be delivered");
                return;
            }
            Err(e) => {
                tracing::warn!(event = "dead_letter_retry", error = %e, retry_in_s = delay.as_secs_f64());
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(15));
            }
        }
    }
}

fn rejected_letter(stage: Stage, r: &Rejected) -> DeadLetter {
    let mut letter = DeadLetter::new(stage, DeadLetterReason::BadPayload, r.error.clone());
    letter.source_topic = Some(r.receipt.topic.clone());
    letter.source_partition = Some(r.receipt.partition);
    letter.source_offset = Some(r.receipt.offset);
    letter.payload = Some(r.payload.clone());
    if let Some(key) = r.key.clone() {
        if key.contains('/') {
            letter.path = Some(key);
        } else {
            letter.message_id = Some(key);
        }
    }
    letter
}
