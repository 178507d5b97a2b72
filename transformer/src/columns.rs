//! One CIF row → the database columns of its table (architecture.md §4: D1 null rules, D6
//! timestamps, the column sizes of domain.md §5.1). A value the schema cannot hold quarantines
//! the deposition with the row's position.

use crate::build::Warning;
use crate::convert::{check_limit, parse_int, parse_timestamp, IntValue, Limit};
use crate::read::SourceFile;
use msgmig_schemas::cif::Value;
use msgmig_schemas::message::{FileRefRow, InfoRow, OrigcommRow, StatusRow};
use msgmig_schemas::record::{
    FileRefColumns, MessageColumns, OrigcommColumns, Quarantine, QuarantineKind, StatusColumns,
};

/// A text column keeps `?`/`.` literally (D1).
fn text(v: &Value) -> String {
    v.as_literal().to_owned()
}

/// A quarantine reason for one row of a file.
pub(crate) fn quarantine(
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

/// Quarantines on the first value that does not fit its column.
fn check_limits(
    file: &SourceFile,
    line: usize,
    id: Option<&str>,
    checks: &[(&str, &str, Limit)],
) -> Result<(), Quarantine> {
    for (column, value, limit) in checks {
        if let Some(reason) = check_limit(column, value, *limit) {
            return Err(quarantine(QuarantineKind::BadValue, file, line, id, reason));
        }
    }
    Ok(())
}

/// Converts the rows of one deposition, collecting warnings.
pub(crate) struct Builder<'a> {
    pub deposition_id: &'a str,
    pub warnings: Vec<Warning>,
}

impl Builder<'_> {
    pub fn warn(
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

    /// `_pdbx_deposition_message_info` → `pdbx_deposition_message_info` (the parent is resolved
    /// later, once every message of the deposition is known).
    pub fn message(
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
        let c = MessageColumns {
            message_id: message_id.clone(),
            deposition_data_set_id: text(&row.deposition_data_set_id),
            timestamp,
            sender: text(&row.sender),
            context_type: text(&row.context_type),
            context_value: text(&row.context_value),
            parent_message_id: row.parent_message_id.as_text().map(str::to_owned),
            message_subject: text(&row.message_subject),
            message_text: text(&row.message_text),
            message_type: text(&row.message_type),
            send_status: text(&row.send_status),
            content_type: file.name.content_type,
        };
        check_limits(
            file,
            line,
            id,
            &[
                ("message_id", &c.message_id, Limit::Chars(64)),
                (
                    "deposition_data_set_id",
                    &c.deposition_data_set_id,
                    Limit::Chars(50),
                ),
                ("sender", &c.sender, Limit::Chars(150)),
                ("context_type", &c.context_type, Limit::Chars(50)),
                ("context_value", &c.context_value, Limit::Chars(255)),
                ("message_subject", &c.message_subject, Limit::Bytes(65_535)),
                (
                    "message_text",
                    &c.message_text,
                    Limit::Bytes(u32::MAX as usize),
                ),
                ("message_type", &c.message_type, Limit::Chars(20)),
                ("send_status", &c.send_status, Limit::Chars(1)),
            ],
        )?;
        if c.deposition_data_set_id != self.deposition_id {
            let detail = format!(
                "file content says {}, folder is {} (imported under the content id, D3)",
                c.deposition_data_set_id, self.deposition_id
            );
            self.warn("deposition_id_mismatch", file, id, detail);
        }
        Ok(c)
    }

    /// An integer column: a null marker becomes the DDL default 1 with a warning (D1).
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

    /// `_pdbx_deposition_message_file_reference` → one attachment row.
    pub fn file_ref(
        &mut self,
        file: &SourceFile,
        line: usize,
        id: &str,
        row: &FileRefRow,
    ) -> Result<FileRefColumns, Quarantine> {
        let c = FileRefColumns {
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
        check_limits(
            file,
            line,
            Some(id),
            &[
                (
                    "file_reference.deposition_data_set_id",
                    &c.deposition_data_set_id,
                    Limit::Chars(50),
                ),
                (
                    "file_reference.content_type",
                    &c.content_type,
                    Limit::Chars(50),
                ),
                (
                    "file_reference.content_format",
                    &c.content_format,
                    Limit::Chars(20),
                ),
                (
                    "file_reference.storage_type",
                    &c.storage_type,
                    Limit::Chars(20),
                ),
                (
                    "file_reference.upload_file_name",
                    &c.upload_file_name,
                    Limit::Chars(255),
                ),
            ],
        )?;
        Ok(c)
    }

    /// `_pdbx_deposition_message_status` → the message's flags.
    pub fn status(
        &mut self,
        file: &SourceFile,
        line: usize,
        id: &str,
        row: &StatusRow,
    ) -> Result<StatusColumns, Quarantine> {
        let c = StatusColumns {
            deposition_data_set_id: text(&row.deposition_data_set_id),
            read_status: text(&row.read_status),
            action_reqd: text(&row.action_reqd),
            for_release: text(&row.for_release),
        };
        check_limits(
            file,
            line,
            Some(id),
            &[
                (
                    "status.deposition_data_set_id",
                    &c.deposition_data_set_id,
                    Limit::Chars(50),
                ),
                ("status.read_status", &c.read_status, Limit::Chars(1)),
                ("status.action_reqd", &c.action_reqd, Limit::Chars(1)),
                ("status.for_release", &c.for_release, Limit::Chars(1)),
            ],
        )?;
        Ok(c)
    }

    /// `_pdbx_deposition_message_origcomm_reference` → msgmig's origcomm table.
    pub fn origcomm(
        &mut self,
        file: &SourceFile,
        line: usize,
        id: &str,
        row: &OrigcommRow,
    ) -> Result<OrigcommColumns, Quarantine> {
        let c = OrigcommColumns {
            deposition_data_set_id: text(&row.deposition_data_set_id),
            orig_message_id: text(&row.orig_message_id),
            orig_deposition_data_set_id: text(&row.orig_deposition_data_set_id),
            orig_timestamp: text(&row.orig_timestamp),
            orig_sender: text(&row.orig_sender),
            orig_recipient: text(&row.orig_recipient),
            orig_message_subject: text(&row.orig_message_subject),
            orig_attachments: text(&row.orig_attachments),
        };
        check_limits(
            file,
            line,
            Some(id),
            &[
                (
                    "origcomm.deposition_data_set_id",
                    &c.deposition_data_set_id,
                    Limit::Chars(50),
                ),
                (
                    "origcomm.orig_message_id",
                    &c.orig_message_id,
                    Limit::Chars(255),
                ),
                (
                    "origcomm.orig_deposition_data_set_id",
                    &c.orig_deposition_data_set_id,
                    Limit::Chars(50),
                ),
                (
                    "origcomm.orig_timestamp",
                    &c.orig_timestamp,
                    Limit::Chars(64),
                ),
                ("origcomm.orig_sender", &c.orig_sender, Limit::Bytes(65_535)),
                (
                    "origcomm.orig_recipient",
                    &c.orig_recipient,
                    Limit::Bytes(65_535),
                ),
                (
                    "origcomm.orig_message_subject",
                    &c.orig_message_subject,
                    Limit::Bytes(65_535),
                ),
                (
                    "origcomm.orig_attachments",
                    &c.orig_attachments,
                    Limit::Bytes(65_535),
                ),
            ],
        )?;
        Ok(c)
    }
}
