//! Pure conversion of a deposition's files into FK-ordered records (architecture.md §3).

use crate::convert::{check_limit, parse_int, parse_timestamp, IntValue, Limit};
use crate::order::parents_first;
use crate::read::SourceFile;
use msgmig_schemas::cif::Value;
use msgmig_schemas::message::{
    FileRefRow, InfoRow, MessageFile, OrigcommRow, StatusRow, UnknownContent,
};
use msgmig_schemas::record::{
    FileRefColumns, FileState, MessageColumns, MessageRecord, OrigcommColumns, Provenance,
    Quarantine, QuarantineKind, StatusColumns, SCHEMA_VERSION,
};
use std::collections::{HashMap, HashSet};

/// Something reported but not blocking (an event in the log, counted in the summary).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Event name (JSON log `event` field), e.g. `orphan_status`.
    pub event: &'static str,
    pub message_id: Option<String>,
    /// Archive-relative path of the file concerned.
    pub path: String,
    pub detail: String,
}

/// The records of one deposition, in FK-safe order, or the reason it is quarantined.
#[derive(Debug, Clone)]
pub struct DepositionRecords {
    pub deposition_id: String,
    /// Max mtime (ns) of the latest files: grows with every new source state.
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

fn text(v: &Value) -> String {
    v.as_literal().to_owned()
}

struct Builder<'a> {
    deposition_id: &'a str,
    warnings: Vec<Warning>,
}

/// A quarantine reason for one row of a file.
fn quarantine(
    kind: QuarantineKind,
    file: &SourceFile,
    line: usize,
    message_id: Option<&str>,
    reason: String,
) -> Quarantine {
    Quarantine {
        kind,
        path: Some(file.path.clone()),
        file_version: Some(file.name.version),
        line: Some(line),
        column: None,
        message_id: message_id.map(str::to_owned),
        reason,
    }
}

const INFO_LIMITS: [(&str, Limit); 9] = [
    ("message_id", Limit::Chars(64)),
    ("deposition_data_set_id", Limit::Chars(50)),
    ("sender", Limit::Chars(150)),
    ("context_type", Limit::Chars(50)),
    ("context_value", Limit::Chars(255)),
    ("message_subject", Limit::Bytes(65_535)),
    ("message_text", Limit::Bytes(u32::MAX as usize)),
    ("message_type", Limit::Chars(20)),
    ("send_status", Limit::Chars(1)),
];

impl Builder<'_> {
    fn warn(
        &mut self,
        event: &'static str,
        file: &SourceFile,
        message_id: Option<&str>,
        detail: String,
    ) {
        self.warnings.push(Warning {
            event,
            message_id: message_id.map(str::to_owned),
            path: file.path.clone(),
            detail,
        });
    }

    fn message(
        &mut self,
        file: &SourceFile,
        line: usize,
        row: &InfoRow,
    ) -> Result<MessageColumns, Quarantine> {
        let message_id = match &row.message_id {
            Value::Text(s) if !s.trim().is_empty() => s.clone(),
            _ => {
                return Err(quarantine(
                    QuarantineKind::BadValue,
                    file,
                    line,
                    None,
                    "message without message_id".into(),
                ))
            }
        };
        let id = Some(message_id.as_str());
        let timestamp = parse_timestamp(&row.timestamp).ok_or_else(|| {
            let reason = format!(
                "timestamp {:?} is in none of the formats of domain.md §6.4",
                row.timestamp.as_literal()
            );
            quarantine(QuarantineKind::BadTimestamp, file, line, id, reason)
        })?;
        let columns = MessageColumns {
            message_id: message_id.clone(),
            deposition_data_set_id: text(&row.deposition_data_set_id),
            timestamp,
            sender: text(&row.sender),
            context_type: text(&row.context_type),
            context_value: text(&row.context_value),
            // Resolved once every message of the deposition is known.
            parent_message_id: row.parent_message_id.as_text().map(str::to_owned),
            message_subject: text(&row.message_subject),
            message_text: text(&row.message_text),
            message_type: text(&row.message_type),
            send_status: text(&row.send_status),
            content_type: file.name.content_type,
        };
        let values = [
            &columns.message_id,
            &columns.deposition_data_set_id,
            &columns.sender,
            &columns.context_type,
            &columns.context_value,
            &columns.message_subject,
            &columns.message_text,
            &columns.message_type,
            &columns.send_status,
        ];
        for ((column, limit), value) in INFO_LIMITS.iter().zip(values) {
            if let Some(reason) = check_limit(column, value, *limit) {
                return Err(quarantine(QuarantineKind::BadValue, file, line, id, reason));
            }
        }
        if columns.deposition_data_set_id != self.deposition_id {
            let detail = format!(
                "file content says {}, folder is {} (imported under the content id, D3)",
                columns.deposition_data_set_id, self.deposition_id
            );
            self.warn("deposition_id_mismatch", file, id, detail);
        }
        Ok(columns)
    }

    fn int(
        &mut self,
        file: &SourceFile,
        line: usize,
        id: &str,
        column: &str,
        v: &Value,
    ) -> Result<i32, Quarantine> {
        match parse_int(v) {
            IntValue::Parsed(n) => Ok(n),
            IntValue::Defaulted => {
                let detail = format!(
                    "{column} is {}: stored as the DDL default 1 (D1)",
                    v.as_literal()
                );
                self.warn("integer_defaulted", file, Some(id), detail);
                Ok(1)
            }
            IntValue::Invalid => {
                let reason = format!("{column} {:?} is not an integer", v.as_literal());
                Err(quarantine(
                    QuarantineKind::BadValue,
                    file,
                    line,
                    Some(id),
                    reason,
                ))
            }
        }
    }

    fn file_ref(
        &mut self,
        file: &SourceFile,
        line: usize,
        id: &str,
        row: &FileRefRow,
    ) -> Result<FileRefColumns, Quarantine> {
        let columns = FileRefColumns {
            deposition_data_set_id: text(&row.deposition_data_set_id),
            content_type: text(&row.content_type),
            content_format: text(&row.content_format),
            partition_number: self.int(
                file,
                line,
                id,
                "partition_number",
                &row.partition_number,
            )?,
            version_id: self.int(file, line, id, "version_id", &row.version_id)?,
            storage_type: text(&row.storage_type),
            upload_file_name: text(&row.upload_file_name),
        };
        let checks = [
            (
                "file_reference.deposition_data_set_id",
                &columns.deposition_data_set_id,
                50,
            ),
            ("file_reference.content_type", &columns.content_type, 50),
            ("file_reference.content_format", &columns.content_format, 20),
            ("file_reference.storage_type", &columns.storage_type, 20),
            (
                "file_reference.upload_file_name",
                &columns.upload_file_name,
                255,
            ),
        ];
        for (column, value, n) in checks {
            if let Some(reason) = check_limit(column, value, Limit::Chars(n)) {
                return Err(quarantine(
                    QuarantineKind::BadValue,
                    file,
                    line,
                    Some(id),
                    reason,
                ));
            }
        }
        Ok(columns)
    }

    fn status(
        &mut self,
        file: &SourceFile,
        line: usize,
        id: &str,
        row: &StatusRow,
    ) -> Result<StatusColumns, Quarantine> {
        let columns = StatusColumns {
            deposition_data_set_id: text(&row.deposition_data_set_id),
            read_status: text(&row.read_status),
            action_reqd: text(&row.action_reqd),
            for_release: text(&row.for_release),
        };
        let checks = [
            (
                "status.deposition_data_set_id",
                &columns.deposition_data_set_id,
                50,
            ),
            ("status.read_status", &columns.read_status, 1),
            ("status.action_reqd", &columns.action_reqd, 1),
            ("status.for_release", &columns.for_release, 1),
        ];
        for (column, value, n) in checks {
            if let Some(reason) = check_limit(column, value, Limit::Chars(n)) {
                return Err(quarantine(
                    QuarantineKind::BadValue,
                    file,
                    line,
                    Some(id),
                    reason,
                ));
            }
        }
        Ok(columns)
    }

    fn origcomm(
        &mut self,
        file: &SourceFile,
        line: usize,
        id: &str,
        row: &OrigcommRow,
    ) -> Result<OrigcommColumns, Quarantine> {
        let columns = OrigcommColumns {
            deposition_data_set_id: text(&row.deposition_data_set_id),
            orig_message_id: text(&row.orig_message_id),
            orig_deposition_data_set_id: text(&row.orig_deposition_data_set_id),
            orig_timestamp: text(&row.orig_timestamp),
            orig_sender: text(&row.orig_sender),
            orig_recipient: text(&row.orig_recipient),
            orig_message_subject: text(&row.orig_message_subject),
            orig_attachments: text(&row.orig_attachments),
        };
        let checks = [
            (
                "origcomm.deposition_data_set_id",
                &columns.deposition_data_set_id,
                Limit::Chars(50),
            ),
            (
                "origcomm.orig_message_id",
                &columns.orig_message_id,
                Limit::Chars(255),
            ),
            (
                "origcomm.orig_deposition_data_set_id",
                &columns.orig_deposition_data_set_id,
                Limit::Chars(50),
            ),
            (
                "origcomm.orig_timestamp",
                &columns.orig_timestamp,
                Limit::Chars(64),
            ),
            (
                "origcomm.orig_sender",
                &columns.orig_sender,
                Limit::Bytes(65_535),
            ),
            (
                "origcomm.orig_recipient",
                &columns.orig_recipient,
                Limit::Bytes(65_535),
            ),
            (
                "origcomm.orig_message_subject",
                &columns.orig_message_subject,
                Limit::Bytes(65_535),
            ),
            (
                "origcomm.orig_attachments",
                &columns.orig_attachments,
                Limit::Bytes(65_535),
            ),
        ];
        for (column, value, limit) in checks {
            if let Some(reason) = check_limit(column, value, limit) {
                return Err(quarantine(
                    QuarantineKind::BadValue,
                    file,
                    line,
                    Some(id),
                    reason,
                ));
            }
        }
        Ok(columns)
    }
}

/// Builds the records of deposition folder `deposition_id` from its latest files (as returned by
/// [`crate::read_deposition`]). Pure: no I/O.
///
/// Never fails: a problem in any latest file yields `quarantine` with file, line, column and
/// reason, and no records (nothing of a half-valid deposition is loaded).
pub fn build_records(deposition_id: &str, files: &[SourceFile]) -> DepositionRecords {
    let generation = files.iter().map(|f| f.mtime_ns).max().unwrap_or(0);
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
        let content = MessageFile::parse(&file.bytes).map_err(|e| Quarantine {
            kind: QuarantineKind::ParseError,
            path: Some(file.path.clone()),
            file_version: Some(file.name.version),
            line: Some(e.position.line),
            column: Some(e.position.column),
            message_id: None,
            reason: e.kind.to_string(),
        })?;
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
    for (file, content) in &parsed {
        for (line, row) in &content.info {
            let message = b.message(file, *line, row)?;
            if index.contains_key(&message.message_id) {
                let reason = format!(
                    "message_id {} appears more than once in the deposition",
                    message.message_id
                );
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

    // Attachments, statuses and origcomm rows join their message wherever it is.
    for (file, content) in &parsed {
        for (line, row) in &content.file_refs {
            match row
                .message_id
                .as_text()
                .and_then(|id| index.get(id).map(|&i| (id, i)))
            {
                Some((id, i)) => {
                    let columns = b.file_ref(file, *line, id, row)?;
                    records[i].file_refs.push(columns);
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

    // Parents: inside the deposition or NULL (D1; the original is kept in provenance).
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
                    "parent_message_id is a null marker: stored as NULL (D1)".into(),
                );
                record.provenance.original_parent_message_id = Some("?".into());
            }
        }
    }

    let generation = files.iter().map(|f| f.mtime_ns).max().unwrap_or(0);
    let keys: Vec<(&str, Option<&str>)> = records
        .iter()
        .map(|r| {
            (
                r.message.message_id.as_str(),
                r.message.parent_message_id.as_deref(),
            )
        })
        .collect();
    let order = parents_first(&keys).map_err(|id| {
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
    let mut slots: Vec<Option<MessageRecord>> = records.into_iter().map(Some).collect();
    Ok(order
        .into_iter()
        .map(|i| {
            let mut r = slots[i].take().expect("each index once");
            r.provenance.generation = generation;
            r
        })
        .collect())
}
