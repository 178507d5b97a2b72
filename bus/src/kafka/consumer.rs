//! The consumer-group subscriber: decodes JSON envelopes, tracks which ones are unfinished, and
//! stores the group offset only past finished work (Kafka "at least once" with manual offset
//! store: `enable.auto.offset.store=false`, auto commit of stored offsets).

use super::acker::Acker;
use super::producer::PARTITION_KEY_HEADER;
use super::rebalance::Context;
use super::tracker::Tracker;
use super::KafkaConfig;
use crate::{BusError, Envelope, Receipt, Subscriber};
use futures::future::BoxFuture;
use futures::FutureExt;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Where to start each newly assigned partition: called with the topic and the partitions the
/// group just gave this member, resolves to the next offset to read per partition; a partition
/// it leaves out starts at the beginning of the topic. An error stops the subscriber (it will
/// not read from a wrong place): the function itself waits out what it can (a database outage).
///
/// It runs in the subscriber's task, outside the rebalance callback: nothing blocks a runtime
/// thread while it waits, and the partitions are assigned only once it answered.
pub type StartOffsets = Arc<
    dyn Fn(String, Vec<i32>) -> BoxFuture<'static, Result<HashMap<i32, i64>, String>> + Send + Sync,
>;

/// A message that could not be decoded as the topic's payload: the worker dead-letters it, then
/// acknowledges it with [`Rejected::acker`] once the dead letter is durable (until then the
/// group offset stays below it, so a crash re-delivers it and nothing is lost).
#[derive(Debug, Clone)]
pub struct Rejected {
    pub receipt: Receipt,
    pub key: Option<String>,
    /// The payload as (lossy) UTF-8, at most 64 KiB.
    pub payload: String,
    pub error: String,
    /// Acknowledges `receipt` on the subscriber that delivered it.
    pub acker: Acker,
}

/// How a [`KafkaSubscriber`] joins its group.
#[derive(Clone, Default)]
pub struct SubscriberOptions {
    /// Start offsets from outside Kafka (the loader's DB-stored offsets); `None` = the group's
    /// committed offsets, else the beginning (`auto.offset.reset=earliest`).
    pub start_offsets: Option<StartOffsets>,
    /// Where undecodable messages go (bounded: a full channel pauses consumption). Without it
    /// they are logged and acknowledged at once.
    pub rejected: Option<mpsc::Sender<Rejected>>,
    /// `next()` returns `None` once this is cancelled (graceful shutdown).
    pub shutdown: Option<CancellationToken>,
}

impl std::fmt::Debug for SubscriberOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubscriberOptions")
            .field("start_offsets", &self.start_offsets.is_some())
            .finish_non_exhaustive()
    }
}

/// Waits (up to 5 s) until the client's metadata lists partitions of `topic`. Blocking.
fn wait_for_partitions(consumer: &StreamConsumer<Context>, topic: &str) -> Result<(), BusError> {
    for attempt in 0..50 {
        match consumer.fetch_metadata(Some(topic), std::time::Duration::from_secs(5)) {
            Ok(m)
                if m.topics()
                    .iter()
                    .any(|t| t.name() == topic && !t.partitions().is_empty()) =>
            {
                return Ok(())
            }
            Ok(_) | Err(_) if attempt < 49 => {
                std::thread::sleep(std::time::Duration::from_millis(100))
            }
            Ok(_) => return Err(BusError::Kafka(format!("topic {topic} has no partitions"))),
            Err(e) => {
                return Err(BusError::Kafka(format!(
                    "cannot read metadata of {topic}: {e}"
                )))
            }
        }
    }
    Ok(())
}

/// Consumes JSON `T` from one topic in a consumer group.
pub struct KafkaSubscriber<T> {
    consumer: Arc<StreamConsumer<Context>>,
    topic: String,
    tracker: Arc<Mutex<Tracker>>,
    failure: Arc<Mutex<Option<String>>>,
    options: SubscriberOptions,
    /// A rejected message not handed over yet (the channel was full, or `next` was cancelled
    /// while waiting for room): `next` sends it first.
    stash: Option<Rejected>,
    _payload: PhantomData<fn() -> T>,
}

/// What one consumed message became.
enum Decoded<T> {
    Envelope(Envelope<T>),
    Rejected(Rejected),
}

impl<T> std::fmt::Debug for KafkaSubscriber<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSubscriber")
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

impl<T> KafkaSubscriber<T> {
    /// Joins `group` and subscribes to `topic`.
    ///
    /// Consumer settings: `enable.auto.offset.store=false` (offsets are stored by
    /// [`Subscriber::ack`] only), `enable.auto.commit=true` every second,
    /// `auto.offset.reset=earliest`, `partition.assignment.strategy=range` (eager rebalance).
    pub async fn new(
        config: &KafkaConfig,
        topic: String,
        group: &str,
        options: SubscriberOptions,
    ) -> Result<Self, BusError> {
        let tracker = Arc::new(Mutex::new(Tracker::default()));
        let failure = Arc::new(Mutex::new(None));
        let context = Context {
            topic: topic.clone(),
            tracker: tracker.clone(),
            deferred: options.start_offsets.is_some(),
        };
        let consumer: StreamConsumer<Context> = config
            .client_config(&[
                ("group.id", group),
                ("enable.auto.offset.store", "false"),
                ("enable.auto.commit", "true"),
                ("auto.commit.interval.ms", "1000"),
                ("auto.offset.reset", "earliest"),
                ("partition.assignment.strategy", "range"),
                ("session.timeout.ms", "10000"),
                ("heartbeat.interval.ms", "1000"),
                // The group leader assigns from its metadata cache: refresh it often enough
                // that a topic created meanwhile is not left unassigned for long.
                ("topic.metadata.refresh.interval.ms", "10000"),
                // A fetch can carry one record batch as large as the topics take
                // (`max.message.bytes`, 64 MiB) plus framing; librdkafka needs the receive
                // buffer at least 512 bytes above the fetch size.
                ("fetch.max.bytes", super::topics::CLIENT_MAX_BYTES),
                ("receive.message.max.bytes", "100000000"),
            ])
            .create_with_context(context)
            .map_err(|e| BusError::Kafka(format!("cannot create a consumer: {e}")))?;
        // Load the topic's partitions into the client's metadata cache before joining: the
        // group leader computes the assignment from it (an unknown topic gets no partitions).
        // Metadata requests block: they run on a blocking thread.
        let consumer = Arc::new(consumer);
        let (probe, name) = (consumer.clone(), topic.clone());
        tokio::task::spawn_blocking(move || wait_for_partitions(&probe, &name))
            .await
            .map_err(|e| BusError::Kafka(format!("metadata task failed: {e}")))??;
        consumer
            .subscribe(&[&topic])
            .map_err(|e| BusError::Kafka(format!("cannot subscribe to {topic}: {e}")))?;
        Ok(KafkaSubscriber {
            consumer,
            topic,
            tracker,
            failure,
            options,
            stash: None,
            _payload: PhantomData,
        })
    }

    /// A handle that acknowledges this subscriber's envelopes from another task.
    pub fn acker(&self) -> Acker {
        Acker {
            consumer: self.consumer.clone(),
            tracker: self.tracker.clone(),
            topic: self.topic.clone(),
        }
    }

    /// Partitions currently assigned to this member (readiness).
    pub fn assigned_partitions(&self) -> Vec<i32> {
        let t = self.tracker.lock().expect("not poisoned");
        t.assigned.iter().copied().collect()
    }

    /// A shared view of the assignment, for health checks outside the worker loop.
    pub fn assignment_probe(&self) -> impl Fn() -> usize + Send + Sync + 'static {
        let tracker = self.tracker.clone();
        move || tracker.lock().expect("not poisoned").assigned.len()
    }

    /// Lag of this member per assigned partition: (partition, end of log − offset below which
    /// all work is finished). Blocking (one watermark request per partition): call it from a
    /// blocking thread every few seconds.
    pub fn lag_probe(&self) -> impl Fn() -> Vec<(i32, i64)> + Send + Sync + 'static {
        let (consumer, tracker, topic) = (
            self.consumer.clone(),
            self.tracker.clone(),
            self.topic.clone(),
        );
        move || {
            let (assigned, stored): (Vec<i32>, HashMap<i32, i64>) = {
                let t = tracker.lock().expect("not poisoned");
                (t.assigned.iter().copied().collect(), t.stored.clone())
            };
            assigned
                .into_iter()
                .filter_map(|p| {
                    let (low, high) = consumer
                        .fetch_watermarks(&topic, p, std::time::Duration::from_secs(5))
                        .ok()?;
                    Some((p, (high - stored.get(&p).copied().unwrap_or(low)).max(0)))
                })
                .collect()
        }
    }

    /// Reads the error that stopped partition assignment (e.g. the database holding the start
    /// offsets stayed unreachable), if any; `next()` returns `None` once there is one. Take the
    /// probe before handing the subscriber to a worker.
    pub fn failure_probe(&self) -> impl Fn() -> Option<String> + Send + Sync + 'static {
        let failure = self.failure.clone();
        move || failure.lock().expect("not poisoned").clone()
    }

    /// Commits the stored offsets now and leaves the group (graceful shutdown).
    pub fn close(self) {
        let _ = self
            .consumer
            .commit_consumer_state(rdkafka::consumer::CommitMode::Sync);
        self.consumer.unsubscribe();
    }

    /// Rewinds `partition` to `offset` (a replay requested while running). The seek is
    /// asynchronous (it never blocks the caller's thread); messages fetched from the old
    /// position before it took effect are discarded by librdkafka (each seek starts a new
    /// fetch version).
    fn rewind(&self, partition: i32, offset: i64) -> Result<(), BusError> {
        self.tracker
            .lock()
            .expect("not poisoned")
            .forget(&[partition]);
        self.consumer
            .seek(
                &self.topic,
                partition,
                Offset::Offset(offset),
                std::time::Duration::ZERO,
            )
            .map_err(|e| BusError::Kafka(format!("cannot seek partition {partition}: {e}")))
    }

    fn shutting_down(&self) -> bool {
        self.options
            .shutdown
            .as_ref()
            .is_some_and(CancellationToken::is_cancelled)
    }

    /// Completes once shutdown was requested (never without a shutdown token).
    async fn shutdown_requested(&self) {
        match &self.options.shutdown {
            Some(token) => token.cancelled().await,
            None => std::future::pending().await,
        }
    }

    /// Assigns the partitions the group offered, from the offsets [`StartOffsets`] gives.
    /// Cancel-safe: the offer stays noted until the assignment is made, so a cancelled call
    /// is simply redone. Returns `false` once the subscriber must stop (shutdown, or the
    /// offsets could not be read).
    async fn finish_assignment(&self) -> bool {
        let offered = self
            .tracker
            .lock()
            .expect("not poisoned")
            .pending_assign
            .clone();
        let (Some(partitions), Some(start)) = (offered, self.options.start_offsets.clone()) else {
            return true;
        };
        crate::crash_point!("rebalance_assign");
        let offsets = tokio::select! {
            offsets = start(self.topic.clone(), partitions.clone()) => offsets,
            () = self.shutdown_requested() => return false,
        };
        let offsets = match offsets {
            Ok(offsets) => offsets,
            Err(e) => {
                tracing::error!(event = "assignment_failed", error = %e);
                *self.failure.lock().expect("not poisoned") = Some(e);
                return false;
            }
        };
        let mut tpl = TopicPartitionList::new();
        for &p in &partitions {
            let offset = offsets
                .get(&p)
                .map_or(Offset::Beginning, |&o| Offset::Offset(o));
            let _ = tpl.add_partition_offset(&self.topic, p, offset);
        }
        {
            let mut t = self.tracker.lock().expect("not poisoned");
            // A revoke noted meanwhile (it cannot run concurrently: callbacks run inside our own
            // polls) leaves nothing to assign.
            if t.pending_assign.as_ref() != Some(&partitions) {
                return true;
            }
            t.pending_assign = None;
            t.forget(&partitions);
            t.assigned.extend(partitions.iter().copied());
        }
        tracing::info!(event = "partitions_assigned", topic = %self.topic, partitions = ?partitions, start = ?offsets,
            "partitions without a stored offset start at the beginning");
        if let Err(e) = self.consumer.assign(&tpl) {
            tracing::error!(event = "assignment_failed", error = %e);
        }
        true
    }
}

impl<T: DeserializeOwned + Send> KafkaSubscriber<T> {
    /// Decodes one consumed message into an envelope, or a [`Rejected`] to dead-letter. Either
    /// way the offset is tracked as unfinished until acknowledged.
    fn decode(&mut self, m: &rdkafka::message::BorrowedMessage<'_>) -> Decoded<T> {
        let receipt = Receipt {
            topic: m.topic().to_owned(),
            partition: m.partition(),
            offset: m.offset(),
        };
        {
            let mut t = self.tracker.lock().expect("not poisoned");
            t.unfinished
                .entry(receipt.partition)
                .or_default()
                .insert(receipt.offset);
            t.next.insert(receipt.partition, receipt.offset + 1);
        }
        let key = m.key().map(|k| String::from_utf8_lossy(k).into_owned());
        let partition_key = m
            .headers()
            .and_then(|h| {
                h.iter()
                    .find(|h| h.key == PARTITION_KEY_HEADER)
                    .and_then(|h| h.value)
            })
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default();
        let bytes = m.payload().unwrap_or_default();
        match serde_json::from_slice::<T>(bytes) {
            Ok(payload) => Decoded::Envelope(Envelope {
                key: key.unwrap_or_default(),
                partition_key,
                payload,
                receipt: Some(receipt),
            }),
            Err(e) => {
                let shown = &bytes[..bytes.len().min(64 * 1024)];
                let rejected = Rejected {
                    receipt: receipt.clone(),
                    key,
                    payload: String::from_utf8_lossy(shown).into_owned(),
                    error: format!("payload does not match the topic's schema: {e}"),
                    acker: self.acker(),
                };
                tracing::error!(event = "payload_rejected", topic = %receipt.topic, partition = receipt.partition, offset = receipt.offset, error = %rejected.error);
                Decoded::Rejected(rejected)
            }
        }
    }

    /// Hands the stashed rejected message to the dead-letter channel, waiting while it is full;
    /// without a channel it is acknowledged at once (nobody to keep it for). Cancel-safe: the
    /// message leaves the stash only once the channel has room for it.
    async fn hand_over(&mut self) {
        let Some(tx) = self.options.rejected.clone() else {
            if let Some(rejected) = self.stash.take() {
                let _ = rejected.acker.ack(std::slice::from_ref(&rejected.receipt));
            }
            return;
        };
        if self.stash.is_none() {
            return;
        }
        let reserved = tx.reserve().await;
        match reserved {
            Ok(permit) => permit.send(self.stash.take().expect("checked above")),
            Err(_) => {
                tracing::error!(event = "dead_letter_channel_closed");
                self.stash = None;
            }
        }
    }
}

impl<T: DeserializeOwned + Send> Subscriber<T> for KafkaSubscriber<T> {
    /// The next decodable envelope; `None` after shutdown was requested or an assignment
    /// failed (see [`KafkaSubscriber::failure_probe`]). Broker errors are logged and retried
    /// (librdkafka reconnects by itself): an outage pauses, never ends, the stream.
    ///
    /// Cancel-safe (it is awaited in `select!` and under timeouts): librdkafka's `recv` is, an
    /// offered assignment stays noted until it is made, and a rejected message stays stashed
    /// until the dead-letter channel took it; a decoded envelope is returned in the same poll
    /// that received it.
    async fn next(&mut self) -> Option<Envelope<T>> {
        let consumer = self.consumer.clone();
        loop {
            if self.shutting_down() || self.failure.lock().expect("not poisoned").is_some() {
                return None;
            }
            if !self.finish_assignment().await {
                return None;
            }
            self.hand_over().await;
            let received = tokio::select! {
                m = consumer.recv() => m,
                () = self.shutdown_requested() => continue,
                // Rebalance callbacks run inside recv(): an offer is finished on the next turn.
                () = tokio::time::sleep(std::time::Duration::from_secs(1)) => continue,
            };
            match received {
                Ok(m) => match self.decode(&m) {
                    Decoded::Envelope(envelope) => return Some(envelope),
                    Decoded::Rejected(rejected) => {
                        drop(m);
                        self.stash = Some(rejected);
                    }
                },
                Err(e) => {
                    tracing::warn!(event = "kafka_consume_error", topic = %self.topic, error = %e);
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
            }
        }
    }

    fn try_next(&mut self) -> Option<Envelope<T>> {
        if self.stash.is_some() {
            return None; // `next` hands the stashed rejection over first
        }
        let consumer = self.consumer.clone();
        loop {
            match consumer.recv().now_or_never()? {
                Ok(m) => match self.decode(&m) {
                    Decoded::Envelope(envelope) => return Some(envelope),
                    Decoded::Rejected(rejected) => match &self.options.rejected {
                        Some(tx) => match tx.try_send(rejected) {
                            Ok(()) => {}
                            Err(mpsc::error::TrySendError::Full(r)) => {
                                self.stash = Some(r);
                                return None;
                            }
                            Err(mpsc::error::TrySendError::Closed(_)) => {
                                tracing::error!(event = "dead_letter_channel_closed");
                            }
                        },
                        None => {
                            let _ = rejected.acker.ack(std::slice::from_ref(&rejected.receipt));
                        }
                    },
                },
                Err(_) => return None,
            }
        }
    }

    fn ack(&mut self, receipts: &[Receipt]) -> Result<(), BusError> {
        self.acker().ack(receipts)
    }
}

impl<T> crate::Seekable for KafkaSubscriber<T> {
    fn seek(&mut self, topic: &str, partition: i32, offset: i64) -> Result<(), BusError> {
        if topic != self.topic {
            return Ok(());
        }
        self.rewind(partition, offset)
    }

    fn assignment(&self) -> Option<Vec<(String, i32)>> {
        let t = self.tracker.lock().expect("not poisoned");
        Some(
            t.assigned
                .iter()
                .map(|&p| (self.topic.clone(), p))
                .collect(),
        )
    }

    fn positions(&self) -> Vec<Receipt> {
        let t = self.tracker.lock().expect("not poisoned");
        t.stored
            .iter()
            .filter(|(p, _)| t.unfinished.get(p).is_none_or(|s| s.is_empty()))
            .map(|(&partition, &offset)| Receipt {
                topic: self.topic.clone(),
                partition,
                offset,
            })
            .collect()
    }
}
