//! Database content back to message files (the reverse export; the old exporter's
//! faults fixed): one file per content type, statuses of *all* the deposition's messages in
//! the messages-to-depositor file, attachments and origcomm with their message, `ordinal_id`
//! renumbered 1..n per file in stored order, and every change the format forces listed.

use super::{FileRefColumns, MessageColumns, OrigcommColumns, StatusColumns};
use crate::archive::ContentType;
use crate::cif::Value;
use crate::message::{FileRefRow, InfoRow, MessageFile, OrigcommRow, StatusRow};

/// Everything stored for one message (the app tables plus origcomm).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageContent {
    pub message: MessageColumns,
    pub file_refs: Vec<FileRefColumns>,
    /// The stored `ordinal_id` of each of `file_refs` (empty when unknown): the export writes a
    /// deposition's references in this order, the order the application lists them in.
    pub file_ref_ordinals: Vec<i64>,
    pub status: Option<StatusColumns>,
    pub origcomm: Vec<OrigcommColumns>,
}

/// How non-ASCII characters are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `&#NNN;` decimal references, as the legacy application writes them.
    CharacterReferences,
    /// Raw UTF-8 (`--utf8`): exact, but not what the legacy files carry.
    Utf8,
}

/// A change the CIF format forced on a value (never silent).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Alteration {
    pub message_id: String,
    pub column: &'static str,
    pub what: &'static str,
}

/// One exported file.
#[derive(Debug, Clone)]
pub struct ExportedFile {
    pub content_type: ContentType,
    pub file: MessageFile,
    pub alterations: Vec<Alteration>,
}

struct Encoder<'a> {
    encoding: Encoding,
    alterations: &'a mut Vec<Alteration>,
}

impl Encoder<'_> {
    /// Text as the file must carry it. `?`/`.` become the null markers they were read from.
    fn value(&mut self, message_id: &str, column: &'static str, s: &str) -> Value {
        match s {
            "?" => return Value::Unknown,
            "." => return Value::Inapplicable,
            _ => {}
        }
        let mut out = s.to_owned();
        if out.contains('\r') {
            out = out.replace("\r\n", "\n").replace('\r', "\n");
            self.note(message_id, column, "carriage returns written as line feeds");
        }
        if self.encoding == Encoding::CharacterReferences && !out.is_ascii() {
            out = out
                .chars()
                .map(|c| {
                    if c.is_ascii() {
                        c.to_string()
                    } else {
                        format!("&#{};", c as u32)
                    }
                })
                .collect();
            self.note(message_id, column, "non-ASCII written as &#NNN; references");
        }
        if out.contains("\n;") {
            // The legacy application's own rule: CIF text fields cannot hold it.
            out = out.replace("\n;", "\n ;");
            self.note(message_id, column, "line starting with ';' written as ' ;'");
        }
        Value::Text(out)
    }

    fn note(&mut self, message_id: &str, column: &'static str, what: &'static str) {
        self.alterations.push(Alteration {
            message_id: message_id.to_owned(),
            column,
            what,
        });
    }
}

fn int(n: i32) -> Value {
    Value::Text(n.to_string())
}

/// Builds the files of one deposition from its messages, in the order given (the stored order,
/// which for what msgmig loaded is the files' order: the application lists a deposition's
/// messages so where their timestamps tie); file references in their stored order.
///
/// `deposition_id` is written nowhere (rows keep their own `deposition_data_set_id`); it names
/// the deposition in alterations only. Returns files in content-type order; a deposition with
/// statuses but no to-depositor message still gets a to-depositor file holding the statuses.
pub fn deposition_files(messages: &[MessageContent], encoding: Encoding) -> Vec<ExportedFile> {
    let sorted: Vec<&MessageContent> = messages.iter().collect();
    let mut files = Vec::new();
    for content_type in ContentType::ALL {
        let mut alterations = Vec::new();
        let mut enc = Encoder {
            encoding,
            alterations: &mut alterations,
        };
        let mut file = MessageFile::default();
        // (stored ordinal, given position, message id, columns) of the file's references.
        let mut refs: Vec<(i64, usize, String, FileRefColumns)> = Vec::new();
        for m in sorted
            .iter()
            .filter(|m| m.message.content_type == content_type)
        {
            let c = &m.message;
            let id = c.message_id.as_str();
            file.info.push((
                0,
                InfoRow {
                    ordinal_id: int(file.info.len() as i32 + 1),
                    message_id: enc.value(id, "message_id", id),
                    deposition_data_set_id: enc.value(
                        id,
                        "deposition_data_set_id",
                        &c.deposition_data_set_id,
                    ),
                    timestamp: Value::Text(c.timestamp.format("%Y-%m-%d %H:%M:%S").to_string()),
                    sender: enc.value(id, "sender", &c.sender),
                    context_type: enc.value(id, "context_type", &c.context_type),
                    context_value: enc.value(id, "context_value", &c.context_value),
                    parent_message_id: c
                        .parent_message_id
                        .as_deref()
                        .map_or(Value::Unknown, |p| enc.value(id, "parent_message_id", p)),
                    message_subject: enc.value(id, "message_subject", &c.message_subject),
                    message_text: enc.value(id, "message_text", &c.message_text),
                    message_type: enc.value(id, "message_type", &c.message_type),
                    send_status: enc.value(id, "send_status", &c.send_status),
                },
            ));
            for (k, r) in m.file_refs.iter().enumerate() {
                let stored_at = m.file_ref_ordinals.get(k).copied().unwrap_or(i64::MAX);
                refs.push((stored_at, refs.len(), id.to_owned(), r.clone()));
            }
            for o in &m.origcomm {
                file.origcomm.push((
                    0,
                    OrigcommRow {
                        ordinal_id: int(file.origcomm.len() as i32 + 1),
                        message_id: Value::Text(id.to_owned()),
                        deposition_data_set_id: enc.value(
                            id,
                            "origcomm.deposition_data_set_id",
                            &o.deposition_data_set_id,
                        ),
                        orig_message_id: enc.value(
                            id,
                            "origcomm.orig_message_id",
                            &o.orig_message_id,
                        ),
                        orig_deposition_data_set_id: enc.value(
                            id,
                            "origcomm.orig_deposition_data_set_id",
                            &o.orig_deposition_data_set_id,
                        ),
                        orig_timestamp: enc.value(id, "origcomm.orig_timestamp", &o.orig_timestamp),
                        orig_sender: enc.value(id, "origcomm.orig_sender", &o.orig_sender),
                        orig_recipient: enc.value(id, "origcomm.orig_recipient", &o.orig_recipient),
                        orig_message_subject: enc.value(
                            id,
                            "origcomm.orig_message_subject",
                            &o.orig_message_subject,
                        ),
                        orig_attachments: enc.value(
                            id,
                            "origcomm.orig_attachments",
                            &o.orig_attachments,
                        ),
                    },
                ));
            }
        }
        refs.sort_by_key(|(stored_at, given, _, _)| (*stored_at, *given));
        for (_, _, id, r) in &refs {
            let id = id.as_str();
            file.file_refs.push((
                0,
                FileRefRow {
                    ordinal_id: int(file.file_refs.len() as i32 + 1),
                    message_id: Value::Text(id.to_owned()),
                    deposition_data_set_id: enc.value(
                        id,
                        "file_reference.deposition_data_set_id",
                        &r.deposition_data_set_id,
                    ),
                    content_type: enc.value(id, "file_reference.content_type", &r.content_type),
                    content_format: enc.value(
                        id,
                        "file_reference.content_format",
                        &r.content_format,
                    ),
                    partition_number: int(r.partition_number),
                    version_id: int(r.version_id),
                    storage_type: enc.value(id, "file_reference.storage_type", &r.storage_type),
                    upload_file_name: enc.value(
                        id,
                        "file_reference.upload_file_name",
                        &r.upload_file_name,
                    ),
                },
            ));
        }
        if content_type == ContentType::MessagesToDepositor {
            // Statuses of every message of the deposition live here (the old exporter wrote only
            // those of this file's messages).
            for m in &sorted {
                if let Some(s) = &m.status {
                    let id = m.message.message_id.as_str();
                    file.statuses.push((
                        0,
                        StatusRow {
                            message_id: Value::Text(id.to_owned()),
                            deposition_data_set_id: enc.value(
                                id,
                                "status.deposition_data_set_id",
                                &s.deposition_data_set_id,
                            ),
                            read_status: enc.value(id, "status.read_status", &s.read_status),
                            action_reqd: enc.value(id, "status.action_reqd", &s.action_reqd),
                            for_release: enc.value(id, "status.for_release", &s.for_release),
                        },
                    ));
                }
            }
        }
        if !file.is_empty() {
            files.push(ExportedFile {
                content_type,
                file,
                alterations,
            });
        }
    }
    files
}
