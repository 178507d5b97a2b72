//! The order a batch's new messages are inserted in.
//!
//! Every info row goes into the upstream table's `message_id` indexes (the UNIQUE key and
//! `idx_message_id`) and, through the foreign keys, is probed by every file reference and status.
//! Message ids are random UUIDs: in the files' order each row lands on a random page of trees
//! that outgrow the buffer pool at 10^5 depositions. Inserted in key order, a batch walks each
//! tree once, page after page.
//!
//! One order may not change: a deposition's messages keep their file order, which `ordinal_id`
//! (AUTO_INCREMENT) records and the application reads back (it lists a deposition's messages in
//! stored order where their timestamps tie). Parents need no place of their own: a reply
//! written before its parent gets its `parent_message_id` once the parent is in
//! ([`crate::store`]).
//!
//! Between depositions nothing is ordered, so the batch is merged: always the smallest id among
//! the next message of each deposition.

use msgmig_schemas::record::MessageRecord;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};

/// `records` (new messages, each deposition's in file order) in the order to insert them: each
/// deposition's in its given order, merged by `message_id` (byte order, which is the
/// collation's for UUIDs).
pub(crate) fn insert_order<'a>(records: &[&'a MessageRecord]) -> Vec<&'a MessageRecord> {
    let mut queues: Vec<VecDeque<&'a MessageRecord>> = Vec::new();
    let mut queue_of: HashMap<&str, usize> = HashMap::new();
    for r in records {
        let i = *queue_of.entry(r.deposition_id.as_str()).or_insert_with(|| {
            queues.push(VecDeque::new());
            queues.len() - 1
        });
        queues[i].push_back(r);
    }
    let mut heads: BinaryHeap<Reverse<(&'a str, usize)>> = queues
        .iter()
        .enumerate()
        .filter_map(|(i, q)| {
            q.front()
                .map(|r| Reverse((r.message.message_id.as_str(), i)))
        })
        .collect();
    let mut out = Vec::with_capacity(records.len());
    while let Some(Reverse((_, i))) = heads.pop() {
        let r = queues[i].pop_front().expect("a head is in its queue");
        out.push(r);
        if let Some(next) = queues[i].front() {
            heads.push(Reverse((next.message.message_id.as_str(), i)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(deposition: &str, id: &str, parent: Option<&str>) -> MessageRecord {
        let mut r = crate::test_support::record(deposition, id);
        r.message.parent_message_id = parent.map(str::to_owned);
        r
    }

    fn ids(order: &[&MessageRecord]) -> Vec<String> {
        order.iter().map(|r| r.message.message_id.clone()).collect()
    }

    /// The ids of `records` in the order [`insert_order`] gives them.
    fn order_of(records: &[MessageRecord]) -> Vec<String> {
        let refs: Vec<&MessageRecord> = records.iter().collect();
        ids(&insert_order(&refs))
    }

    #[test]
    fn messages_of_different_depositions_go_in_by_id() {
        let rs = [
            record("D_1", "c", None),
            record("D_2", "a", None),
            record("D_3", "b", None),
        ];
        assert_eq!(order_of(&rs), ["a", "b", "c"]);
    }

    #[test]
    fn a_deposition_keeps_its_file_order() {
        let rs = [
            record("D_1", "d", None),
            record("D_1", "a", None),
            record("D_2", "c", None),
            record("D_2", "b", None),
        ];
        // D_1's "a" waits for "d", D_2's "b" for "c": file order wins over id order.
        assert_eq!(order_of(&rs), ["c", "b", "d", "a"]);
    }

    #[test]
    fn a_reply_before_its_parent_keeps_its_file_order() {
        let rs = [
            record("D_1", "b", Some("z")),
            record("D_1", "z", Some("z")),
            record("D_2", "a", None),
        ];
        assert_eq!(order_of(&rs), ["a", "b", "z"]);
    }

    #[test]
    fn every_record_is_placed_once() {
        let rs: Vec<MessageRecord> = (0..200)
            .map(|i| {
                let id = format!("{:08x}", (i * 2_654_435_761u64) % 4_294_967_291);
                record(&format!("D_{}", i % 7), &id, None)
            })
            .collect();
        let refs: Vec<&MessageRecord> = rs.iter().collect();
        let mut got = ids(&insert_order(&refs));
        let mut want = ids(&refs);
        got.sort();
        want.sort();
        assert_eq!(got, want);
    }
}
