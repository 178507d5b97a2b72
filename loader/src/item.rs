//! What a batch is made of: consumed payloads with their bus positions, and how they group into
//! deposition parts. Pure; every other loader module builds on these types.

use msgmig_bus::Receipt;
use msgmig_schemas::record::{DeadLetter, DepositionEnd, MessageRecord, RecordsMessage};
use std::collections::{BTreeMap, HashMap};

/// A partition of a topic: (topic, partition).
pub type TopicPartition = (String, i32);

/// One consumed payload and where it came from. `payload` is `None` for an input the loader
/// refused before loading (a newer schema version): `letter` then says why, and is written with
/// the batch (its offset still counts as consumed).
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub payload: Option<RecordsMessage>,
    pub receipt: Option<Receipt>,
    pub letter: Option<DeadLetter>,
}

impl Item {
    /// An item read from no durable bus (no receipt).
    pub(crate) fn unbound(payload: RecordsMessage) -> Self {
        Item {
            payload: Some(payload),
            receipt: None,
            letter: None,
        }
    }
}

/// Roughly what a payload weighs in a batch, in bytes: its text columns plus a row's overhead.
pub(crate) fn weight(payload: &RecordsMessage) -> usize {
    match payload {
        RecordsMessage::Message(r) => {
            r.message.message_text.len() + r.message.message_subject.len() + 512
        }
        RecordsMessage::DepositionEnd(_) => 256,
    }
}

/// Per partition, the offset after the highest consumed item of `items`.
pub(crate) fn next_offsets<'a>(
    items: impl IntoIterator<Item = &'a Item>,
) -> BTreeMap<TopicPartition, i64> {
    let mut next = BTreeMap::new();
    for r in items.into_iter().filter_map(|i| i.receipt.as_ref()) {
        let e = next.entry((r.topic.clone(), r.partition)).or_insert(0);
        *e = (*e).max(r.offset + 1);
    }
    next
}

/// One state of one deposition as a batch carries it: the records of (deposition folder,
/// generation) that arrived in it, and its end marker when that arrived too.
///
/// A deposition's records reach the loader in order, followed by their end marker (the
/// transformer publishes them so, in one partition). A batch boundary can fall anywhere
/// among them: the records before it are an *open* part, kept by the loader until the end
/// marker arrives in a later batch.
#[derive(Debug)]
pub(crate) struct Part<'a> {
    pub deposition_id: &'a str,
    pub generation: i64,
    pub records: Vec<&'a MessageRecord>,
    /// `None`: the part is open (its end marker has not arrived yet).
    pub end: Option<&'a DepositionEnd>,
}

/// Groups a batch's payloads into [`Part`]s, in the order they finish: each end marker closes
/// the records of its (deposition, generation) that came before it in the batch; records left
/// without an end marker form open parts, after the finished ones. Records of one
/// (deposition, generation) arriving after its end marker (the same state published again)
/// start a new part.
pub(crate) fn parts<'a>(payloads: impl IntoIterator<Item = &'a RecordsMessage>) -> Vec<Part<'a>> {
    let mut finished: Vec<Part<'a>> = Vec::new();
    // Open parts by key, in order of their first record.
    let mut open: Vec<Part<'a>> = Vec::new();
    let mut index: HashMap<(&'a str, i64), usize> = HashMap::new();
    for payload in payloads {
        match payload {
            RecordsMessage::Message(r) => {
                let key = (r.deposition_id.as_str(), r.provenance.generation);
                let i = *index.entry(key).or_insert_with(|| {
                    open.push(Part {
                        deposition_id: key.0,
                        generation: key.1,
                        records: Vec::new(),
                        end: None,
                    });
                    open.len() - 1
                });
                open[i].records.push(r);
            }
            RecordsMessage::DepositionEnd(e) => {
                let key = (e.deposition_id.as_str(), e.generation);
                let records = match index.remove(&key) {
                    Some(i) => std::mem::take(&mut open[i].records),
                    None => Vec::new(),
                };
                finished.push(Part {
                    deposition_id: key.0,
                    generation: key.1,
                    records,
                    end: Some(e),
                });
            }
        }
    }
    // Open parts emptied by their end marker are gone; the others keep their first-seen order.
    let mut still_open: Vec<(usize, Part<'a>)> = index
        .into_values()
        .map(|i| {
            let part = std::mem::replace(
                &mut open[i],
                Part {
                    deposition_id: "",
                    generation: 0,
                    records: Vec::new(),
                    end: None,
                },
            );
            (i, part)
        })
        .collect();
    still_open.sort_by_key(|(i, _)| *i);
    finished.extend(still_open.into_iter().map(|(_, p)| p));
    finished
}

/// The batch's items grouped per deposition, in order of first appearance (order within a
/// deposition kept): the unit a refused batch is retried in, each group on its own.
pub(crate) fn split_by_deposition(batch: Vec<Item>) -> Vec<Vec<Item>> {
    let mut order: Vec<String> = Vec::new();
    let mut groups: HashMap<String, Vec<Item>> = HashMap::new();
    for item in batch {
        let key = item
            .payload
            .as_ref()
            .map(|p| p.deposition_id().to_owned())
            .unwrap_or_default();
        if !groups.contains_key(&key) {
            order.push(key.clone());
        }
        groups.entry(key).or_default().push(item);
    }
    order
        .into_iter()
        .filter_map(|k| groups.remove(&k))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use msgmig_schemas::record::DepositionOutcome;

    fn record(dep: &str, id: &str, generation: i64) -> RecordsMessage {
        let mut r = crate::test_support::record(dep, id);
        r.provenance.generation = generation;
        RecordsMessage::Message(Box::new(r))
    }

    fn end(dep: &str, generation: i64) -> RecordsMessage {
        RecordsMessage::DepositionEnd(DepositionEnd {
            schema_version: msgmig_schemas::record::SCHEMA_VERSION,
            deposition_id: dep.into(),
            generation,
            files: 1,
            file_states: Vec::new(),
            messages: 0,
            outcome: DepositionOutcome::Transformed,
        })
    }

    fn shape(parts: &[Part<'_>]) -> Vec<(String, i64, Vec<String>, bool)> {
        parts
            .iter()
            .map(|p| {
                (
                    p.deposition_id.to_owned(),
                    p.generation,
                    p.records
                        .iter()
                        .map(|r| r.message.message_id.clone())
                        .collect(),
                    p.end.is_some(),
                )
            })
            .collect()
    }

    #[test]
    fn an_end_marker_closes_its_records_and_the_rest_stays_open() {
        let batch = [
            record("D_1", "a", 1),
            record("D_2", "x", 5),
            record("D_1", "b", 1),
            end("D_1", 1),
            record("D_3", "y", 7),
        ];
        let got = shape(&parts(&batch));
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            got,
            vec![
                ("D_1".into(), 1, s(&["a", "b"]), true),
                ("D_2".into(), 5, s(&["x"]), false),
                ("D_3".into(), 7, s(&["y"]), false),
            ]
        );
    }

    #[test]
    fn a_batch_starting_inside_a_deposition_ends_it_with_the_records_it_holds() {
        let batch = [record("D_1", "c", 1), end("D_1", 1)];
        assert_eq!(
            shape(&parts(&batch)),
            vec![("D_1".into(), 1, vec!["c".to_string()], true)]
        );
    }

    #[test]
    fn generations_of_one_deposition_are_separate_parts() {
        let batch = [
            record("D_1", "a", 1),
            record("D_1", "a", 2),
            end("D_1", 2),
            record("D_1", "a", 2),
        ];
        let got = shape(&parts(&batch));
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], ("D_1".into(), 2, vec!["a".to_string()], true));
        assert_eq!(got[1], ("D_1".into(), 1, vec!["a".to_string()], false));
        assert_eq!(
            got[2],
            ("D_1".into(), 2, vec!["a".to_string()], false),
            "the same state published again after its end starts a new open part"
        );
    }
}
