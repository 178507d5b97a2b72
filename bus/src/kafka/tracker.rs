//! The offset bookkeeping of a Kafka subscriber, shared between the subscriber, its rebalance
//! callback and its ackers: which delivered offsets are still unfinished per partition, which
//! partitions it holds, and an assignment waiting for its start offsets.

use std::collections::{BTreeSet, HashMap};

/// Per partition: delivered-but-unfinished offsets, and the next offset after the last delivered.
#[derive(Debug, Default)]
pub(super) struct Tracker {
    pub(super) unfinished: HashMap<i32, BTreeSet<i64>>,
    pub(super) next: HashMap<i32, i64>,
    pub(super) stored: HashMap<i32, i64>,
    pub(super) assigned: BTreeSet<i32>,
    /// Partitions the group gave this member whose start offsets are still to be read (the
    /// subscriber reads them and assigns, outside the rebalance callback).
    pub(super) pending_assign: Option<Vec<i32>>,
}

impl Tracker {
    /// The offset the group may commit for `partition`: the lowest unfinished one, or past the
    /// last delivered when all are finished.
    pub(super) fn committable(&self, partition: i32) -> Option<i64> {
        match self.unfinished.get(&partition).and_then(|s| s.first()) {
            Some(&lowest) => Some(lowest),
            None => self.next.get(&partition).copied(),
        }
    }

    /// Forgets all work of `partitions` (newly assigned, revoked, or rewound).
    pub(super) fn forget(&mut self, partitions: &[i32]) {
        for p in partitions {
            self.unfinished.remove(p);
            self.next.remove(p);
            self.stored.remove(p);
        }
    }
}
