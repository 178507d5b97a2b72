//! Acknowledging a subscriber's envelopes, from its own task or another (the dead-letter
//! publisher): marks them finished and stores the group offset past the lowest unfinished one
//! (Kafka "at least once" with a manual offset store).

use super::rebalance::Context;
use super::tracker::Tracker;
use crate::{BusError, Receipt};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

/// Acknowledges envelopes of one [`super::KafkaSubscriber`]: the same bookkeeping as
/// [`crate::Subscriber::ack`], usable from another task.
#[derive(Clone)]
pub struct Acker {
    pub(super) consumer: Arc<StreamConsumer<Context>>,
    pub(super) tracker: Arc<Mutex<Tracker>>,
    pub(super) topic: String,
}

impl std::fmt::Debug for Acker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acker").field("topic", &self.topic).finish()
    }
}

impl Acker {
    /// Marks `receipts` finished and stores the group offset past the lowest unfinished one of
    /// each partition touched. Errors: librdkafka refused to store an offset of a partition
    /// this member still holds (a revoked partition is not an error: its next owner
    /// re-delivers what was not committed).
    pub fn ack(&self, receipts: &[Receipt]) -> Result<(), BusError> {
        let mut tpl = TopicPartitionList::new();
        {
            let mut t = self.tracker.lock().expect("not poisoned");
            let mut touched = BTreeSet::new();
            for r in receipts.iter().filter(|r| r.topic == self.topic) {
                if let Some(set) = t.unfinished.get_mut(&r.partition) {
                    set.remove(&r.offset);
                }
                touched.insert(r.partition);
            }
            for p in touched {
                if !t.assigned.contains(&p) {
                    continue;
                }
                let Some(offset) = t.committable(p) else {
                    continue;
                };
                if t.stored.get(&p).is_some_and(|&s| s >= offset) {
                    continue;
                }
                t.stored.insert(p, offset);
                let _ = tpl.add_partition_offset(&self.topic, p, Offset::Offset(offset));
            }
        }
        if tpl.count() == 0 {
            return Ok(());
        }
        match self.consumer.store_offsets(&tpl) {
            Ok(()) => Ok(()),
            Err(e) => {
                let still_assigned = {
                    let t = self.tracker.lock().expect("not poisoned");
                    tpl.elements()
                        .iter()
                        .any(|e| t.assigned.contains(&e.partition()))
                };
                if still_assigned {
                    Err(BusError::Kafka(format!("cannot store offsets: {e}")))
                } else {
                    tracing::debug!(event = "offset_store_skipped", error = %e);
                    Ok(())
                }
            }
        }
    }
}
