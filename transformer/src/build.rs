//! Pure conversion of a deposition's files into records, in file order.

use crate::columns::{quarantine, Builder};
use crate::order::parents_first;
use crate::read::SourceFile;
pub use crate::warning::Warning;
use msgmig_schemas::message::encoding::apply_app_text_rules;
use msgmig_schemas::message::{MessageFile, UnknownContent};
use msgmig_schemas::record::{
    FileState, MessageRecord, Provenance, Quarantine, QuarantineKind, SCHEMA_VERSION,
};
use std::collections::{HashMap, HashSet};

/// The records of one deposition, in file order (content types in the order they were read,
/// then row order), or the reason it is quarantined.
#[derive(Debug, Clone)]
pub struct DepositionRecords {
    pub deposition_id: String,
    /// Newest change time (ns; the later of mtime and ctime) of the latest files: grows with
    /// every new source state, a restore from a backup with older mtimes included.
    pub generation: i64,
    /// Latest files read (including empty ones).
    pub files: u32,
    /// The state of each file as read (the scanner's ledger after the load commits).
    pub file_states: Vec<FileState>,
    /// Empty (0-byte) latest files: "no messages yet".
    pub empty_files: u32,
    pub records: Vec<MessageRecord>,
    pub warnings: Vec<Warning>,
    /// When set, `records` is empty: nothing of the deposition may be loaded.
    pub quarantine: Option<Quarantine>,
}

/// A deposition's generation: the newest change time (the later of mtime and ctime,
/// [`msgmig_schemas::archive::changed_ns`]) among its latest files, 0 for none.
fn generation_of(files: &[SourceFile]) -> i64 {
    files
        .iter()
        .map(|f| f.mtime_ns.max(f.ctime_ns))
        .max()
        .unwrap_or(0)
}

/// Builds the records of deposition folder `deposition_id` from its latest files (as returned by
/// [`crate::read_deposition`]). Pure: no I/O.
///
/// Never fails: a problem in any latest file yields `quarantine` with file, line, column and
/// reason, and no records (nothing of a half-valid deposition is loaded).
pub fn build_records(deposition_id: &str, files: &[SourceFile]) -> DepositionRecords {
    let generation = generation_of(files);
    let mut out = DepositionRecords {
        deposition_id: deposition_id.to_owned(),
        generation,
        files: files.len() as u32,
        file_states: files
            .iter()
            .map(|f| FileState {
                path: f.path.clone(),
                version: f.name.version,
                size: f.size,
                mtime_ns: f.mtime_ns,
                ctime_ns: f.ctime_ns,
            })
            .collect(),
        empty_files: files.iter().filter(|f| f.bytes.is_empty()).count() as u32,
        records: Vec::new(),
        warnings: Vec::new(),
        quarantine: None,
    };
    let mut builder = Builder {
        deposition_id,
        warnings: Vec::new(),
    };
    match build(&mut builder, files) {
        Ok(records) => out.records = records,
        Err(q) => out.quarantine = Some(q),
    }
    out.warnings = builder.warnings;
    out
}

fn build(b: &mut Builder<'_>, files: &[SourceFile]) -> Result<Vec<MessageRecord>, Quarantine> {
    let mut parsed = Vec::with_capacity(files.len());
    for file in files.iter().filter(|f| !f.bytes.is_empty()) {
        let mut document = msgmig_schemas::cif::parse(&file.bytes).map_err(|e| Quarantine {
            kind: QuarantineKind::ParseError,
            path: Some(file.path.clone()),
            file_version: Some(file.name.version),
            line: Some(e.position.line),
            column: Some(e.position.column),
            message_id: None,
            reason: e.kind.to_string(),
        })?;
        // The values as the application stores them (non-ASCII as references; the escapes of
        // its own dump decoded): schemas/src/message/encoding.rs.
        let decode = crate::unicode_escapes().decodes(&file.bytes);
        apply_app_text_rules(&mut document, decode).map_err(|e| Quarantine {
            kind: QuarantineKind::BadValue,
            path: Some(file.path.clone()),
            file_version: Some(file.name.version),
            line: Some(e.line),
            column: None,
            message_id: None,
            reason: format!("{}: {}", e.item, e.reason),
        })?;
        let content = MessageFile::from_document(document);
        for unknown in &content.unknown {
            let detail = match unknown {
                UnknownContent::Category(c) => format!("category _{c} is not migrated"),
                UnknownContent::Attribute {
                    category,
                    attribute,
                } => format!("_{category}.{attribute} is not migrated"),
            };
            b.warn("unknown_content", file, None, detail);
        }
        parsed.push((file, content));
    }

    // Messages, in file order (content-type order, then row order).
    let mut records: Vec<MessageRecord> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut keys: HashMap<String, String> = HashMap::new();
    for (file, content) in &parsed {
        for (line, row) in &content.info {
            let message = b.message(file, *line, row)?;
            // Duplicates as the message_id column's collation sees them (case, accents,
            // trailing spaces), so SQLite and MySQL refuse the same deposition.
            let key = msgmig_schemas::db::collation::message_key(&message.message_id);
            if let Some(first) = keys.insert(key, message.message_id.clone()) {
                let reason = if first == message.message_id {
                    format!(
                        "message_id {} appears more than once in the deposition",
                        message.message_id
                    )
                } else {
                    format!(
                        "message_id {:?} and {first:?} are one id for the database (its collation ignores case, accents and trailing spaces)",
                        message.message_id
                    )
                };
                return Err(quarantine(
                    QuarantineKind::DuplicateMessageId,
                    file,
                    *line,
                    Some(&message.message_id),
                    reason,
                ));
            }
            index.insert(message.message_id.clone(), records.len());
            records.push(MessageRecord {
                schema_version: SCHEMA_VERSION,
                deposition_id: b.deposition_id.to_owned(),
                message,
                file_refs: Vec::new(),
                file_ref_positions: Vec::new(),
                status: None,
                origcomm: Vec::new(),
                provenance: Provenance {
                    source_path: file.path.clone(),
                    file_version: file.name.version,
                    file_size: file.size,
                    file_mtime_ns: file.mtime_ns,
                    file_sha256: file.sha256.clone(),
                    generation: 0,
                    original_parent_message_id: None,
                },
            });
        }
    }

    // Attachments, statuses and origcomm rows join their message wherever it is. Each file
    // reference keeps its place among the deposition's (file order), for the loader.
    let mut ref_position = 0u32;
    for (file, content) in &parsed {
        for (line, row) in &content.file_refs {
            ref_position += 1;
            match row
                .message_id
                .as_text()
                .and_then(|id| index.get(id).map(|&i| (id, i)))
            {
                Some((id, i)) => {
                    let columns = b.file_ref(file, *line, id, row)?;
                    records[i].file_refs.push(columns);
                    records[i].file_ref_positions.push(ref_position);
                }
                None => b.warn(
                    "orphan_file_reference",
                    file,
                    row.message_id.as_text(),
                    format!("line {line}: the message is in no file of the deposition"),
                ),
            }
        }
        for (line, row) in &content.statuses {
            match row
                .message_id
                .as_text()
                .and_then(|id| index.get(id).map(|&i| (id, i)))
            {
                Some((id, i)) => {
                    let columns = b.status(file, *line, id, row)?;
                    if records[i].status.replace(columns).is_some() {
                        b.warn(
                            "duplicate_status",
                            file,
                            Some(id),
                            format!("line {line}: a later status row replaces an earlier one"),
                        );
                    }
                }
                None => b.warn(
                    "orphan_status",
                    file,
                    row.message_id.as_text(),
                    format!("line {line}: the message is in no file of the deposition"),
                ),
            }
        }
        for (line, row) in &content.origcomm {
            match row
                .message_id
                .as_text()
                .and_then(|id| index.get(id).map(|&i| (id, i)))
            {
                Some((id, i)) => {
                    let columns = b.origcomm(file, *line, id, row)?;
                    records[i].origcomm.push(columns);
                }
                None => b.warn(
                    "orphan_origcomm",
                    file,
                    row.message_id.as_text(),
                    format!("line {line}: the message is in no file of the deposition"),
                ),
            }
        }
    }

    // Parents: inside the deposition or NULL (the original is kept in provenance).
    let ids: HashSet<String> = index.keys().cloned().collect();
    let files_by_path: HashMap<&str, &SourceFile> =
        files.iter().map(|f| (f.path.as_str(), f)).collect();
    for record in &mut records {
        let file = files_by_path[record.provenance.source_path.as_str()];
        let parent = record.message.parent_message_id.take();
        match parent {
            Some(p) if ids.contains(&p) => record.message.parent_message_id = Some(p),
            Some(p) => {
                let detail = format!("parent {p} is in no file of the deposition: stored as NULL");
                b.warn(
                    "dangling_parent",
                    file,
                    Some(&record.message.message_id),
                    detail,
                );
                record.provenance.original_parent_message_id = Some(p);
            }
            None => {
                b.warn(
                    "null_parent",
                    file,
                    Some(&record.message.message_id),
                    "parent_message_id is a null marker: stored as NULL".into(),
                );
                record.provenance.original_parent_message_id = Some("?".into());
            }
        }
    }

    let generation = generation_of(files);
    let keys: Vec<(&str, Option<&str>)> = records
        .iter()
        .map(|r| {
            (
                r.message.message_id.as_str(),
                r.message.parent_message_id.as_deref(),
            )
        })
        .collect();
    // A cycle of parents has no thread root: refused, as a file the application could not
    // have written. The records keep their file order (the loader places parents itself).
    parents_first(&keys).map_err(|id| {
        let i = index[&id];
        let file = files_by_path[records[i].provenance.source_path.as_str()];
        quarantine(
            QuarantineKind::ParentCycle,
            file,
            0,
            Some(&id),
            format!("parent chain of {id} is a cycle"),
        )
    })?;
    for r in &mut records {
        r.provenance.generation = generation;
    }
    Ok(records)
}

/// Reads and builds one deposition (blocking: run it off the async reactor).
pub fn transform_deposition(root: &std::path::Path, deposition_id: &str) -> DepositionRecords {
    match crate::read::read_deposition(root, deposition_id) {
        Ok(files) => build_records(deposition_id, &files),
        Err((path, e, generation)) => DepositionRecords {
            deposition_id: deposition_id.to_owned(),
            generation,
            files: 0,
            file_states: Vec::new(),
            empty_files: 0,
            records: Vec::new(),
            warnings: Vec::new(),
            quarantine: Some(Quarantine {
                kind: match e {
                    crate::read::ReadError::NotRegular(_) => QuarantineKind::NotRegularFile,
                    crate::read::ReadError::Io(_) => QuarantineKind::Unreadable,
                },
                path,
                file_version: None,
                line: None,
                column: None,
                message_id: None,
                reason: e.to_string(),
            }),
        },
    }
}
