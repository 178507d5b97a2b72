//! The encoded size of a record on the bus, measured only when it could exceed a limit.

use msgmig_schemas::record::{MessageRecord, RecordsMessage};

/// The JSON size of `record` as published (`RecordsMessage::Message`), when it exceeds `limit`
/// bytes; `None` when it fits.
///
/// Exact (serialised into a byte counter) but only for records that could be that large:
/// JSON escaping makes a character at most 6 bytes (`\u001f`), so a record whose strings add
/// up to less than a sixth of the limit (less fixed room for field names) always fits.
pub fn encoded_len_if_over(record: &MessageRecord, limit: usize) -> Option<usize> {
    if upper_bound(record) <= limit {
        return None;
    }
    let mut counter = Counter(0);
    serde_json::to_writer(
        &mut counter,
        &RecordsMessage::Message(Box::new(record.clone())),
    )
    .ok()?;
    (counter.0 > limit).then_some(counter.0)
}

/// An upper bound of the encoded size: every string byte escaped to 6, plus room for field
/// names, numbers and punctuation.
fn upper_bound(r: &MessageRecord) -> usize {
    let m = &r.message;
    let strings = m.message_id.len()
        + m.deposition_data_set_id.len()
        + m.sender.len()
        + m.context_type.len()
        + m.context_value.len()
        + m.parent_message_id.as_ref().map_or(0, String::len)
        + m.message_subject.len()
        + m.message_text.len()
        + m.message_type.len()
        + m.send_status.len()
        + r.deposition_id.len()
        + r.provenance.source_path.len()
        + r.provenance
            .original_parent_message_id
            .as_ref()
            .map_or(0, String::len)
        + r.file_refs
            .iter()
            .map(|f| {
                f.deposition_data_set_id.len()
                    + f.content_type.len()
                    + f.content_format.len()
                    + f.storage_type.len()
                    + f.upload_file_name.len()
            })
            .sum::<usize>()
        + r.status.as_ref().map_or(0, |s| {
            s.deposition_data_set_id.len()
                + s.read_status.len()
                + s.action_reqd.len()
                + s.for_release.len()
        })
        + r.origcomm
            .iter()
            .map(|o| {
                o.deposition_data_set_id.len()
                    + o.orig_message_id.len()
                    + o.orig_deposition_data_set_id.len()
                    + o.orig_timestamp.len()
                    + o.orig_sender.len()
                    + o.orig_recipient.len()
                    + o.orig_message_subject.len()
                    + o.orig_attachments.len()
            })
            .sum::<usize>();
    let fields = 1024 + 256 * (r.file_refs.len() + r.origcomm.len());
    strings * 6 + fields
}

struct Counter(usize);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use msgmig_schemas::record::{MessageColumns, Provenance, SCHEMA_VERSION};

    fn record(text: String) -> MessageRecord {
        MessageRecord {
            schema_version: SCHEMA_VERSION,
            deposition_id: "D_1000000001".into(),
            message: MessageColumns {
                message_id: "m1".into(),
                deposition_data_set_id: "D_1000000001".into(),
                timestamp: chrono::NaiveDate::from_ymd_opt(2020, 1, 2)
                    .unwrap()
                    .and_hms_opt(3, 4, 5)
                    .unwrap(),
                sender: "s".into(),
                context_type: "?".into(),
                context_value: "?".into(),
                parent_message_id: None,
                message_subject: "subject".into(),
                message_text: text,
                message_type: "text".into(),
                send_status: "Y".into(),
                content_type: msgmig_schemas::archive::ContentType::MessagesToDepositor,
            },
            file_refs: Vec::new(),
            file_ref_positions: Vec::new(),
            status: None,
            origcomm: Vec::new(),
            provenance: Provenance {
                source_path: "D_1000000001/x".into(),
                file_version: 1,
                file_size: 1,
                file_mtime_ns: 1,
                file_sha256: String::new(),
                generation: 1,
                original_parent_message_id: None,
            },
        }
    }

    #[test]
    fn the_size_reported_is_the_published_json_size() {
        let r = record("line\n\"quoted\"\u{1}".repeat(1000));
        let json = serde_json::to_vec(&RecordsMessage::Message(Box::new(r.clone()))).unwrap();
        assert_eq!(encoded_len_if_over(&r, json.len() - 1), Some(json.len()));
        assert_eq!(encoded_len_if_over(&r, json.len()), None);
    }

    #[test]
    fn the_bound_never_undercounts_the_worst_escaping() {
        for text in ["\u{1}".repeat(5000), "é".repeat(5000), "a\n".repeat(5000)] {
            let r = record(text);
            let json = serde_json::to_vec(&RecordsMessage::Message(Box::new(r.clone()))).unwrap();
            assert!(upper_bound(&r) >= json.len());
        }
    }
}
