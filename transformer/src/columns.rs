//! One CIF row → the database columns of its table (the null rules,
//! timestamps and column sizes of docs/domain.md). A value the schema cannot hold quarantines
//! the deposition with the row's position.

use crate::convert::{check_limit, parse_int, parse_timestamp, IntValue, Limit};
use crate::read::SourceFile;
use crate::warning::Warning;
use msgmig_schemas::cif::Value;
use msgmig_schemas::db::limits::{of as limit, FILE_REFERENCE, INFO, ORIGCOMM, STATUS};
use msgmig_schemas::message::{FileRefRow, InfoRow, OrigcommRow, StatusRow};
use msgmig_schemas::record::{
    FileRefColumns, MessageColumns, OrigcommColumns, Quarantine, QuarantineKind, StatusColumns,
};

/// A text column keeps `?`/`.` literally.
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
                "timestamp {:?} is in none of the formats of docs/domain.md",
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
                ("message_id", &c.message_id, limit(INFO, "message_id")),
                (
                    "deposition_data_set_id",
                    &c.deposition_data_set_id,
                    limit(INFO, "deposition_data_set_id"),
                ),
                ("sender", &c.sender, limit(INFO, "sender")),
                ("context_type", &c.context_type, limit(INFO, "context_type")),
                (
                    "context_value",
                    &c.context_value,
                    limit(INFO, "context_value"),
                ),
                (
                    "message_subject",
                    &c.message_subject,
                    limit(INFO, "message_subject"),
                ),
                ("message_text", &c.message_text, limit(INFO, "message_text")),
                ("message_type", &c.message_type, limit(INFO, "message_type")),
                ("send_status", &c.send_status, limit(INFO, "send_status")),
            ],
        )?;
        if c.deposition_data_set_id != self.deposition_id {
            let detail = format!(
                "file content says {}, folder is {} (imported under the content id)",
                c.deposition_data_set_id, self.deposition_id
            );
            self.warn("deposition_id_mismatch", file, id, detail);
        }
        Ok(c)
    }

    /// An integer column: a null marker becomes the DDL default 1 with a warning.
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
                    "{column} is {}: stored as the DDL default 1",
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
                    limit(FILE_REFERENCE, "deposition_data_set_id"),
                ),
                (
                    "file_reference.content_type",
                    &c.content_type,
                    limit(FILE_REFERENCE, "content_type"),
                ),
                (
                    "file_reference.content_format",
                    &c.content_format,
                    limit(FILE_REFERENCE, "content_format"),
                ),
                (
                    "file_reference.storage_type",
                    &c.storage_type,
                    limit(FILE_REFERENCE, "storage_type"),
                ),
                (
                    "file_reference.upload_file_name",
                    &c.upload_file_name,
                    limit(FILE_REFERENCE, "upload_file_name"),
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
                    limit(STATUS, "deposition_data_set_id"),
                ),
                (
                    "status.read_status",
                    &c.read_status,
                    limit(STATUS, "read_status"),
                ),
                (
                    "status.action_reqd",
                    &c.action_reqd,
                    limit(STATUS, "action_reqd"),
                ),
                (
                    "status.for_release",
                    &c.for_release,
                    limit(STATUS, "for_release"),
                ),
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
                    limit(ORIGCOMM, "deposition_data_set_id"),
                ),
                (
                    "origcomm.orig_message_id",
                    &c.orig_message_id,
                    limit(ORIGCOMM, "orig_message_id"),
                ),
                (
                    "origcomm.orig_deposition_data_set_id",
                    &c.orig_deposition_data_set_id,
                    limit(ORIGCOMM, "orig_deposition_data_set_id"),
                ),
                (
                    "origcomm.orig_timestamp",
                    &c.orig_timestamp,
                    limit(ORIGCOMM, "orig_timestamp"),
                ),
                (
                    "origcomm.orig_sender",
                    &c.orig_sender,
                    limit(ORIGCOMM, "orig_sender"),
                ),
                (
                    "origcomm.orig_recipient",
                    &c.orig_recipient,
                    limit(ORIGCOMM, "orig_recipient"),
                ),
                (
                    "origcomm.orig_message_subject",
                    &c.orig_message_subject,
                    limit(ORIGCOMM, "orig_message_subject"),
                ),
                (
                    "origcomm.orig_attachments",
                    &c.orig_attachments,
                    limit(ORIGCOMM, "orig_attachments"),
                ),
            ],
        )?;
        Ok(c)
    }
}
