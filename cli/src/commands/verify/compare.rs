//! What "equal" means between the files and the database: per message and table (file
//! references as a multiset), and the DB → CIF → reader round trip.

use super::Difference;
use msgmig_loader::read::StoredMessage;
use msgmig_schemas::archive::MessageFileName;
use msgmig_schemas::record::{content_sha256, deposition_files, Encoding, MessageRecord};
use msgmig_transformer::{build_records, SourceFile};

/// Exports the stored messages of one deposition folder (UTF-8, so exact), re-reads the files
/// with our reader and the transformer, and lists what does not come back equal.
pub(super) fn roundtrip(dep: &str, stored: &[&StoredMessage]) -> (usize, Vec<Difference>) {
    let mut sorted = stored.to_vec();
    sorted.sort_by_key(|m| m.ordinal_id);
    let contents: Vec<_> = sorted.iter().map(|m| m.content.clone()).collect();
    let mut files = Vec::new();
    let mut diffs = Vec::new();
    for f in deposition_files(&contents, Encoding::Utf8) {
        let name = MessageFileName::canonical(dep, f.content_type, 1);
        let text = match f.file.write() {
            Ok(t) => t,
            Err(e) => {
                diffs.push(Difference {
                    deposition_id: dep.into(),
                    message_id: String::new(),
                    what: format!("roundtrip_unwritable: {e}"),
                });
                continue;
            }
        };
        files.push(SourceFile {
            path: format!("{dep}/{name}"),
            name: MessageFileName::parse(&name).expect("canonical names parse"),
            size: text.len() as u64,
            bytes: text.into_bytes(),
            mtime_ns: 0,
            ctime_ns: 0,
            sha256: String::new(),
        });
    }
    let rebuilt = build_records(dep, &files);
    if let Some(q) = rebuilt.quarantine {
        diffs.push(Difference {
            deposition_id: dep.into(),
            message_id: q.message_id.unwrap_or_default(),
            what: format!("roundtrip_unreadable: {}", q.reason),
        });
        return (0, diffs);
    }
    let by_id: std::collections::HashMap<&str, &&StoredMessage> = sorted
        .iter()
        .map(|m| (m.content.message.message_id.as_str(), m))
        .collect();
    for record in &rebuilt.records {
        if let Some(s) = by_id.get(record.message.message_id.as_str()) {
            for table in compare(record, s) {
                diffs.push(Difference {
                    deposition_id: dep.into(),
                    message_id: record.message.message_id.clone(),
                    what: format!("roundtrip {table}"),
                });
            }
        }
    }
    if rebuilt.records.len() != sorted.len() {
        diffs.push(Difference {
            deposition_id: dep.into(),
            message_id: String::new(),
            what: format!(
                "roundtrip_count {} of {}",
                rebuilt.records.len(),
                sorted.len()
            ),
        });
    }
    (rebuilt.records.len(), diffs)
}

fn same<T: Ord + Clone + PartialEq>(a: &[T], b: &[T]) -> bool {
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort();
    b.sort();
    a == b
}

/// Names the tables that differ between a record built from the files and the stored message.
pub(super) fn compare(expected: &MessageRecord, stored: &StoredMessage) -> Vec<&'static str> {
    let mut diffs = Vec::new();
    let stored = &stored.content;
    if expected.message != stored.message {
        diffs.push("pdbx_deposition_message_info");
    }
    if !same(&expected.file_refs, &stored.file_refs) {
        diffs.push("pdbx_deposition_message_file_reference");
    }
    if expected.status != stored.status {
        diffs.push("pdbx_deposition_message_status");
    }
    if !same(&expected.origcomm, &stored.origcomm) {
        diffs.push("pdbx_deposition_message_origcomm_reference");
    }
    debug_assert_eq!(
        diffs.is_empty(),
        expected.content_sha256()
            == content_sha256(
                &stored.message,
                &stored.file_refs,
                stored.status.as_ref(),
                &stored.origcomm
            )
    );
    diffs
}
