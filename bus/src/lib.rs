//! # msgmig-bus
//!
//! The transport between msgmig's workers. One small shape, [`Publisher`] / [`Subscriber`], so a
//! worker is written once and runs on any transport:
//! - [`in_process`]: bounded tokio channels, used by `msgmig migrate` and `msgmig run` when no
//!   Kafka brokers are configured. Ordered per channel, nothing persisted; a crash loses in-flight
//!   messages, which is harmless because the loader is idempotent and a re-run re-reads the files.
//! - [`kafka`]: the distributed transport (rdkafka): JSON payloads, explicit partitions computed by
//!   [`partition_for`], an idempotent producer, consumer groups, offsets acknowledged per
//!   envelope ([`Subscriber::ack`]) so a crash re-delivers only unfinished work.
//!
//! This is the only crate that knows rdkafka.

use std::future::Future;

/// A message on the bus: key (compaction identity) and partition key (ordering unit) as
/// docs/architecture.md lists them per topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope<T> {
    /// Topic key: archive-relative path for file events, message_id for records.
    pub key: String,
    /// Deposition folder id: every message of one deposition keeps its order.
    pub partition_key: String,
    /// The payload.
    pub payload: T,
    /// Where the envelope was read from (durable transports only); hand it back through
    /// [`Subscriber::ack`] once its effect is durable.
    pub receipt: Option<Receipt>,
}

impl<T> Envelope<T> {
    /// A new envelope to publish (no receipt yet).
    pub fn new(key: impl Into<String>, partition_key: impl Into<String>, payload: T) -> Self {
        Envelope {
            key: key.into(),
            partition_key: partition_key.into(),
            payload,
            receipt: None,
        }
    }
}

/// The position of a consumed envelope: (topic, partition, offset), as Kafka numbers them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Receipt {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

/// Errors of the transport.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The other side is gone (all subscribers dropped): a shutdown, not a data error.
    #[error("the bus is closed")]
    Closed,
    /// The broker refused or could not take a message after the producer's own retries
    /// (`delivery.timeout.ms`); the caller decides whether to retry.
    #[error("kafka: {0}")]
    Kafka(String),
    /// A payload that could not be encoded.
    #[error("cannot encode payload: {0}")]
    Encode(String),
    /// A payload larger than the transport takes ([`Publisher::max_payload_bytes`]); nothing
    /// was sent.
    #[error("payload of {size} bytes exceeds the bus limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    /// The transport cannot do this (e.g. rewind an in-process queue).
    #[error("not supported by this bus: {0}")]
    Unsupported(&'static str),
}

/// Sends envelopes; waits (backpressure) when the transport is full.
pub trait Publisher<T>: Send + Sync {
    /// Publishes one envelope, in order after the previous ones of the same partition key.
    fn publish(&self, envelope: Envelope<T>) -> impl Future<Output = Result<(), BusError>> + Send;

    /// Waits until everything published so far is durable (Kafka: acknowledged by the broker
    /// with `acks=all`). In-process: nothing to wait for.
    fn flush(&self) -> impl Future<Output = Result<(), BusError>> + Send {
        std::future::ready(Ok(()))
    }

    /// The largest encoded payload (bytes of JSON) this publisher can deliver, or `None` when
    /// there is no limit (in-process). A producer checks a payload against it *before*
    /// publishing and withholds what is larger, so an oversized record becomes a reported
    /// quarantine instead of a delivery failure that stops the worker.
    fn max_payload_bytes(&self) -> Option<usize> {
        None
    }
}

/// Receives envelopes in order.
pub trait Subscriber<T>: Send {
    /// The next envelope, or `None` once every publisher is gone and the queue is drained.
    fn next(&mut self) -> impl Future<Output = Option<Envelope<T>>> + Send;

    /// The next envelope if one is ready now, without waiting (for batching).
    fn try_next(&mut self) -> Option<Envelope<T>>;

    /// Marks envelopes as done: their effect is durable, a restart must not re-deliver them.
    /// Kafka stores the consumer group offset past the lowest unfinished envelope of each
    /// partition; in-process there is nothing to do.
    ///
    /// Errors: the transport could not record the position (Kafka: the offset store refused
    /// it). The work stays done; the worst outcome is that a restart re-delivers it, which the
    /// idempotent stages absorb, so callers log the error and go on.
    fn ack(&mut self, receipts: &[Receipt]) -> Result<(), BusError> {
        let _ = receipts;
        Ok(())
    }
}

/// Positions on a replayable log, for a consumer that stores its offsets outside the transport
/// (the loader keeps them in the database). Kafka implements it; the
/// in-process bus, which keeps no log, answers truthfully that it cannot rewind and that it
/// rejected nothing.
pub trait Seekable {
    /// Continues `partition` of `topic` from `offset` (the loader after a replay or a restored
    /// backup lowered its stored offsets). Errors: the transport cannot seek there (the
    /// in-process bus never can: [`BusError::Unsupported`]).
    fn seek(&mut self, topic: &str, partition: i32, offset: i64) -> Result<(), BusError>;

    /// Per partition, the offset below which every delivered envelope is finished (acked, or
    /// rejected by the transport itself): a worker that stores positions elsewhere persists
    /// these when idle, so input the transport rejected is not counted as lag.
    fn positions(&self) -> Vec<Receipt>;

    /// The (topic, partition)s this consumer holds now, or `None` where there is no such thing
    /// (in-process): a worker forgets what it knew of partitions revoked from it.
    fn assignment(&self) -> Option<Vec<(String, i32)>> {
        None
    }
}

/// The partition of `partition_key` among `partitions` (FNV-1a 64, stable across processes and
/// releases): every producer computes the same partition for a deposition.
pub fn partition_for(partition_key: &str, partitions: usize) -> usize {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in partition_key.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash % partitions.max(1) as u64) as usize
}

pub mod delivery;
pub mod failpoint;
pub mod kafka;

pub mod in_process {
    //! Bounded in-process channels (a full channel makes the publisher wait).

    use super::{BusError, Envelope, Publisher, Receipt, Subscriber};
    use tokio::sync::mpsc;

    /// The sending half; clone it for several publishers.
    #[derive(Debug)]
    pub struct InProcessPublisher<T>(mpsc::Sender<Envelope<T>>);

    impl<T> Clone for InProcessPublisher<T> {
        fn clone(&self) -> Self {
            InProcessPublisher(self.0.clone())
        }
    }

    /// The receiving half.
    #[derive(Debug)]
    pub struct InProcessSubscriber<T>(mpsc::Receiver<Envelope<T>>);

    /// A topic of `capacity` envelopes.
    pub fn topic<T>(capacity: usize) -> (InProcessPublisher<T>, InProcessSubscriber<T>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (InProcessPublisher(tx), InProcessSubscriber(rx))
    }

    /// A topic split into `partitions` queues of `capacity` each; an envelope goes to the queue of
    /// [`super::partition_for`] its partition key, so one deposition stays in one queue, in order.
    pub fn partitioned_topic<T>(
        partitions: usize,
        capacity: usize,
    ) -> (PartitionedPublisher<T>, Vec<InProcessSubscriber<T>>) {
        let (txs, rxs) = (0..partitions.max(1)).map(|_| topic(capacity)).unzip();
        (PartitionedPublisher(txs), rxs)
    }

    /// Publishes into the partition of each envelope's partition key.
    #[derive(Debug)]
    pub struct PartitionedPublisher<T>(Vec<InProcessPublisher<T>>);

    impl<T> Clone for PartitionedPublisher<T> {
        fn clone(&self) -> Self {
            PartitionedPublisher(self.0.clone())
        }
    }

    impl<T> InProcessPublisher<T> {
        /// A probe of how many envelopes wait in the queue (the in-process consumer lag). It holds
        /// the queue weakly: it never keeps the topic open after the publishers are gone.
        pub fn depth_probe(&self) -> impl Fn() -> i64 + Send + Sync + 'static
        where
            T: Send + 'static,
        {
            let weak = self.0.downgrade();
            move || {
                weak.upgrade()
                    .map_or(0, |tx| (tx.max_capacity() - tx.capacity()) as i64)
            }
        }
    }

    impl<T> PartitionedPublisher<T> {
        /// [`InProcessPublisher::depth_probe`] of every partition: (partition, waiting).
        pub fn depth_probe(&self) -> impl Fn() -> Vec<(i32, i64)> + Send + Sync + 'static
        where
            T: Send + 'static,
        {
            let probes: Vec<_> = self.0.iter().map(InProcessPublisher::depth_probe).collect();
            move || {
                probes
                    .iter()
                    .enumerate()
                    .map(|(i, p)| (i as i32, p()))
                    .collect()
            }
        }
    }

    impl<T: Send> Publisher<T> for PartitionedPublisher<T> {
        async fn publish(&self, envelope: Envelope<T>) -> Result<(), BusError> {
            let i = super::partition_for(&envelope.partition_key, self.0.len());
            self.0[i].publish(envelope).await
        }
    }

    impl<T: Send> Publisher<T> for InProcessPublisher<T> {
        async fn publish(&self, envelope: Envelope<T>) -> Result<(), BusError> {
            self.0.send(envelope).await.map_err(|_| BusError::Closed)
        }
    }

    impl<T: Send> Subscriber<T> for InProcessSubscriber<T> {
        async fn next(&mut self) -> Option<Envelope<T>> {
            self.0.recv().await
        }

        fn try_next(&mut self) -> Option<Envelope<T>> {
            self.0.try_recv().ok()
        }
    }

    impl<T> crate::Seekable for InProcessSubscriber<T> {
        fn seek(&mut self, _topic: &str, _partition: i32, _offset: i64) -> Result<(), BusError> {
            Err(BusError::Unsupported(
                "an in-process queue keeps no log to rewind",
            ))
        }

        /// Nothing is ever rejected in-process: no positions to report.
        fn positions(&self) -> Vec<Receipt> {
            Vec::new()
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[tokio::test]
        async fn delivers_in_order_and_ends_when_publishers_are_gone() {
            let (tx, mut rx) = topic::<u32>(2);
            let producer = tokio::spawn(async move {
                for i in 0..10 {
                    let env = Envelope::new(i.to_string(), "D_1", i);
                    tx.publish(env).await.unwrap();
                }
            });
            let mut got = Vec::new();
            while let Some(e) = rx.next().await {
                got.push(e.payload);
            }
            producer.await.unwrap();
            assert_eq!(got, (0..10).collect::<Vec<_>>());
        }

        #[tokio::test]
        async fn a_partition_key_always_maps_to_the_same_queue() {
            let (tx, mut rxs) = partitioned_topic::<u32>(3, 16);
            for i in 0..6 {
                let env = Envelope::new(i.to_string(), "D_000219", i);
                tx.publish(env).await.unwrap();
            }
            drop(tx);
            let want = crate::partition_for("D_000219", 3);
            let mut got = Vec::new();
            while let Some(e) = rxs[want].next().await {
                got.push(e.payload);
            }
            assert_eq!(
                got,
                (0..6).collect::<Vec<_>>(),
                "one deposition, one queue, in order"
            );
            assert_eq!(crate::partition_for("D_000219", 3), want, "stable");
        }

        #[tokio::test]
        async fn the_depth_probe_counts_waiting_envelopes_and_never_holds_the_topic_open() {
            let (tx, mut rx) = topic::<u32>(8);
            let depth = tx.depth_probe();
            for i in 0..3 {
                tx.publish(Envelope::new("", "", i)).await.unwrap();
            }
            assert_eq!(depth(), 3);
            rx.next().await.unwrap();
            assert_eq!(depth(), 2);
            drop(tx);
            assert_eq!(depth(), 0, "publishers gone: nothing waits to be published");
            rx.next().await.unwrap();
            rx.next().await.unwrap();
            assert!(
                rx.next().await.is_none(),
                "the probe does not keep the topic open"
            );
        }

        #[tokio::test]
        async fn publishing_to_a_dropped_subscriber_is_an_error() {
            let (tx, rx) = topic::<u32>(1);
            drop(rx);
            let env = Envelope::new("", "", 1);
            assert!(matches!(tx.publish(env).await, Err(BusError::Closed)));
        }
    }
}
