//! What a consumer does when its group rebalances (eager protocol). The callback runs on the
//! thread that polls the consumer (a runtime thread): it never waits for anything. Partitions
//! whose start offsets live outside Kafka are only noted here; the subscriber reads the offsets
//! and assigns them afterwards (librdkafka's group state waits for that assign call).

use super::tracker::Tracker;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::topic_partition_list::TopicPartitionList;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::ClientContext;
use std::sync::{Arc, Mutex};

/// The consumer's client context: answers the group's rebalances for one topic.
pub(super) struct Context {
    pub(super) topic: String,
    /// Unfinished and stored offsets per partition, shared with the subscriber.
    pub(super) tracker: Arc<Mutex<Tracker>>,
    /// Start offsets come from outside Kafka: assignments wait for the subscriber.
    pub(super) deferred: bool,
}

impl ClientContext for Context {}

impl ConsumerContext for Context {
    /// On assign: with deferred start offsets, the partitions are noted for the subscriber;
    /// otherwise assigned at once from the group's committed offsets. On revoke: unfinished
    /// work of the revoked partitions is forgotten (the next owner re-delivers it), and so is
    /// an assignment still waiting for its offsets.
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let partitions: Vec<i32> = tpl
            .elements()
            .iter()
            .filter(|e| e.topic() == self.topic)
            .map(|e| e.partition())
            .collect();
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let mut t = self.tracker.lock().expect("not poisoned");
                t.forget(&partitions);
                if self.deferred {
                    tracing::info!(event = "partitions_offered", topic = %self.topic, partitions = ?partitions,
                        "reading their start offsets before consuming");
                    t.pending_assign = Some(partitions);
                    return;
                }
                t.assigned.extend(partitions.iter().copied());
                drop(t);
                tracing::info!(event = "partitions_assigned", topic = %self.topic, partitions = ?partitions);
                if let Err(e) = consumer.assign(tpl) {
                    tracing::error!(event = "assignment_failed", error = %e);
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                {
                    let mut t = self.tracker.lock().expect("not poisoned");
                    t.forget(&partitions);
                    for p in &partitions {
                        t.assigned.remove(p);
                    }
                    t.pending_assign = None;
                }
                tracing::info!(event = "partitions_revoked", topic = %self.topic, partitions = ?partitions);
                let _ = consumer.unassign();
            }
            other => {
                tracing::warn!(event = "rebalance_error", error = ?other);
                self.tracker.lock().expect("not poisoned").pending_assign = None;
                let _ = consumer.unassign();
            }
        }
    }
}
