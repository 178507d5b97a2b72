//! What a consumer does when its group rebalances (eager protocol): where newly assigned
//! partitions start, and forgetting the unfinished work of revoked ones.

use super::consumer::StartOffsets;
use super::tracker::Tracker;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::ClientContext;
use std::sync::{Arc, Mutex};

/// The consumer's client context: answers the group's rebalances for one topic.
pub(super) struct Context {
    pub(super) topic: String,
    /// Unfinished and stored offsets per partition, shared with the subscriber.
    pub(super) tracker: Arc<Mutex<Tracker>>,
    pub(super) start_offsets: Option<StartOffsets>,
    /// Set when start offsets could not be read: the subscriber stops with it.
    pub(super) failure: Arc<Mutex<Option<String>>>,
}

impl ClientContext for Context {}

impl ConsumerContext for Context {
    /// Eager rebalance (range/roundrobin assignors): on assign, start offsets come from
    /// [`StartOffsets`] when given; on revoke, unfinished work of the revoked partitions is
    /// forgotten (the next owner re-delivers it).
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
                if let Some(start) = &self.start_offsets {
                    match start(&self.topic, &partitions) {
                        Ok(offsets) => {
                            for &p in &partitions {
                                let offset = offsets
                                    .get(&p)
                                    .map_or(Offset::Beginning, |&o| Offset::Offset(o));
                                let _ = tpl.set_partition_offset(&self.topic, p, offset);
                            }
                        }
                        Err(e) => {
                            tracing::error!(event = "assignment_failed", error = %e);
                            *self.failure.lock().expect("not poisoned") = Some(e);
                            let _ = consumer.unassign();
                            return;
                        }
                    }
                }
                {
                    let mut t = self.tracker.lock().expect("not poisoned");
                    for &p in &partitions {
                        t.unfinished.remove(&p);
                        t.next.remove(&p);
                        t.stored.remove(&p);
                        t.assigned.insert(p);
                    }
                }
                tracing::info!(event = "partitions_assigned", topic = %self.topic, partitions = ?partitions);
                if let Err(e) = consumer.assign(tpl) {
                    tracing::error!(event = "assignment_failed", error = %e);
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                {
                    let mut t = self.tracker.lock().expect("not poisoned");
                    for &p in &partitions {
                        t.unfinished.remove(&p);
                        t.next.remove(&p);
                        t.stored.remove(&p);
                        t.assigned.remove(&p);
                    }
                }
                tracing::info!(event = "partitions_revoked", topic = %self.topic, partitions = ?partitions);
                let _ = consumer.unassign();
            }
            other => {
                tracing::warn!(event = "rebalance_error", error = ?other);
                let _ = consumer.unassign();
            }
        }
    }
}
