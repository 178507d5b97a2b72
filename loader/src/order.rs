//! The order a batch's new messages are inserted in (issue 12 §2).
//!
//! Every info row goes into the upstream table's `message_id` indexes (the UNIQUE key and
//! `idx_message_id`) and, through the foreign keys, is probed by every file reference and status.
//! Message ids are random UUIDs: in the files' order each row lands on a random page of trees
//! that outgrow the buffer pool at 10^5 depositions. Inserted in key order, a batch walks each
//! tree once, page after page.
//!
//! Two orders may not change (domain.md §4.1, §5.3 and §7; architecture.md §4):
//! - a deposition's messages keep their file order, which `ordinal_id` (AUTO_INCREMENT) records
//!   and `export` and the application read back;
//! - a parent goes in before its replies (`parent_message_id` is a foreign key; a message may
//!   be its own parent).
//!
//! Between depositions nothing is ordered, so the batch is merged: always the smallest id whose
//! deposition predecessor and parent are already in.

use msgmig_schemas::db::collation::message_key;
use msgmig_schemas::record::MessageRecord;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

/// `records` (new messages, in the order the transformer sent them) in the order to insert
/// them: the smallest `message_id` (byte order, which is the collation's for UUIDs) among those
/// whose earlier messages of the same deposition, and whose parent when it is in `records`, are
/// already placed. Records caught in a cycle of parents (which no order can insert) keep their
/// given order, after the others: the database refuses them as it would have.
pub(crate) fn insert_order<'a>(records: &[&'a MessageRecord]) -> Vec<&'a MessageRecord> {
    let n = records.len();
    let by_key: HashMap<String, usize> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (message_key(&r.message.message_id), i))
        .collect();
    // Edges point from a record to those that must wait for it.
    let mut after: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut waiting_on = vec![0u32; n];
    let mut last_of: HashMap<&str, usize> = HashMap::new();
    for (i, r) in records.iter().enumerate() {
        if let Some(prev) = last_of.insert(r.deposition_id.as_str(), i) {
            after[prev].push(i);
            waiting_on[i] += 1;
        }
        let parent = r.message.parent_message_id.as_deref().map(message_key);
        if let Some(&p) = parent.as_ref().and_then(|k| by_key.get(k)) {
            if p != i {
                after[p].push(i);
                waiting_on[i] += 1;
            }
        }
    }
    let id = |i: usize| records[i].message.message_id.as_str();
    let mut ready: BinaryHeap<Reverse<(&str, usize)>> = (0..n)
        .filter(|&i| waiting_on[i] == 0)
        .map(|i| Reverse((id(i), i)))
        .collect();
    let mut out = Vec::with_capacity(n);
    while let Some(Reverse((_, i))) = ready.pop() {
        out.push(records[i]);
        for &j in &after[i] {
            waiting_on[j] -= 1;
            if waiting_on[j] == 0 {
                ready.push(Reverse((id(j), j)));
            }
        }
    }
    // Whatever still waits is in a cycle of parents.
    out.extend((0..n).filter(|&i| waiting_on[i] > 0).map(|i| records[i]));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(deposition: &str, id: &str, parent: Option<&str>) -> MessageRecord {
        use msgmig_schemas::archive::ContentType;
        use msgmig_schemas::record::{MessageColumns, Provenance};
        MessageRecord {
            schema_version: msgmig_schemas::record::SCHEMA_VERSION,
            deposition_id: deposition.into(),
            message: MessageColumns {
                message_id: id.into(),
                deposition_data_set_id: deposition.into(),
                timestamp: chrono::NaiveDateTime::default(),
                sender: "annotator".into(),
                context_type: "?".into(),
                context_value: "?".into(),
                parent_message_id: parent.map(str::to_owned),
                message_subject: "subject".into(),
                message_text: "text".into(),
                message_type: "text".into(),
                send_status: "Y".into(),
                content_type: ContentType::MessagesToDepositor,
            },
            file_refs: Vec::new(),
            status: None,
            origcomm: Vec::new(),
            provenance: Provenance {
                source_path: format!("{deposition}/x"),
                file_version: 1,
                file_size: 1,
                file_mtime_ns: 1,
                file_sha256: String::new(),
                generation: 1,
                original_parent_message_id: None,
            },
        }
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
    fn a_parent_goes_in_before_its_replies_in_another_deposition() {
        let rs = [
            record("D_1", "a", Some("z")),
            record("D_2", "z", Some("z")),
            record("D_3", "m", Some("m")),
        ];
        assert_eq!(order_of(&rs), ["m", "z", "a"]);
    }

    #[test]
    fn parents_are_matched_as_the_collation_matches_them() {
        let rs = [record("D_1", "a", Some("Z")), record("D_2", "z", None)];
        assert_eq!(order_of(&rs), ["z", "a"]);
    }

    #[test]
    fn a_cycle_of_parents_keeps_its_given_order_at_the_end() {
        let rs = [
            record("D_1", "b", Some("c")),
            record("D_2", "c", Some("b")),
            record("D_3", "z", None),
        ];
        assert_eq!(order_of(&rs), ["z", "b", "c"]);
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
