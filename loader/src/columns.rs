//! Column lists and row values of every table msgmig writes: the application's four tables and
//! msgmig's provenance.

use msgmig_schemas::db::upstream_origcomm::OrigcommLayout;
use msgmig_schemas::record::{
    FileRefColumns, MessageColumns, MessageRecord, OrigcommColumns, Provenance, StatusColumns,
};
use sea_orm::Value;

pub const INFO: &str = "pdbx_deposition_message_info";
pub const FILE_REF: &str = "pdbx_deposition_message_file_reference";
pub const STATUS: &str = "pdbx_deposition_message_status";
pub const ORIGCOMM: &str = "pdbx_deposition_message_origcomm_reference";
pub const PROVENANCE: &str = "msgmig_message_provenance";

pub const INFO_COLUMNS: [&str; 12] = [
    "message_id",
    "deposition_data_set_id",
    "timestamp",
    "sender",
    "context_type",
    "context_value",
    "parent_message_id",
    "message_subject",
    "message_text",
    "message_type",
    "send_status",
    "content_type",
];

/// The position of `parent_message_id` in [`INFO_COLUMNS`].
pub const INFO_PARENT: usize = 6;
const _: () = assert!(matches!(
    INFO_COLUMNS[INFO_PARENT].as_bytes(),
    b"parent_message_id"
));

pub const FILE_REF_COLUMNS: [&str; 8] = [
    "message_id",
    "deposition_data_set_id",
    "content_type",
    "content_format",
    "partition_number",
    "version_id",
    "storage_type",
    "upload_file_name",
];

pub const STATUS_COLUMNS: [&str; 5] = [
    "message_id",
    "deposition_data_set_id",
    "read_status",
    "action_reqd",
    "for_release",
];

pub const ORIGCOMM_COLUMNS: [&str; 9] = [
    "message_id",
    "deposition_data_set_id",
    "orig_message_id",
    "orig_deposition_data_set_id",
    "orig_timestamp",
    "orig_sender",
    "orig_recipient",
    "orig_message_subject",
    "orig_attachments",
];

pub const PROVENANCE_COLUMNS: [&str; 13] = [
    "message_id",
    "deposition_id",
    "generation",
    "record_sha256",
    "source_path",
    "file_version",
    "file_size",
    "file_mtime_ns",
    "file_sha256",
    "original_parent_message_id",
    "message_key",
    "counted_in",
    "counted_as",
];

fn s(v: &str) -> Value {
    v.to_owned().into()
}

/// Info row values in [`INFO_COLUMNS`] order.
pub fn info_values(r: &MessageRecord) -> Vec<Value> {
    message_values(&r.message)
}

/// Info row values of `m` in [`INFO_COLUMNS`] order.
pub fn message_values(m: &MessageColumns) -> Vec<Value> {
    vec![
        s(&m.message_id),
        s(&m.deposition_data_set_id),
        m.timestamp.into(),
        s(&m.sender),
        s(&m.context_type),
        s(&m.context_value),
        m.parent_message_id.clone().into(),
        s(&m.message_subject),
        s(&m.message_text),
        s(&m.message_type),
        s(&m.send_status),
        s(m.content_type.as_str()),
    ]
}

pub fn file_ref_values(message_id: &str, f: &FileRefColumns) -> Vec<Value> {
    vec![
        s(message_id),
        s(&f.deposition_data_set_id),
        s(&f.content_type),
        s(&f.content_format),
        f.partition_number.into(),
        f.version_id.into(),
        s(&f.storage_type),
        s(&f.upload_file_name),
    ]
}

pub fn status_values(message_id: &str, st: &StatusColumns) -> Vec<Value> {
    vec![
        s(message_id),
        s(&st.deposition_data_set_id),
        s(&st.read_status),
        s(&st.action_reqd),
        s(&st.for_release),
    ]
}

/// Origcomm row values in [`ORIGCOMM_COLUMNS`] order. In the upstream layout an unknown (`?`)
/// `orig_timestamp` is NULL: a DATETIME cannot hold the marker, and NULL reads back as `?`.
pub fn origcomm_values(
    message_id: &str,
    o: &OrigcommColumns,
    layout: OrigcommLayout,
) -> Vec<Value> {
    let timestamp = match (layout, o.orig_timestamp.as_str()) {
        (OrigcommLayout::Upstream, "?") => Value::String(None),
        (_, t) => s(t),
    };
    vec![
        s(message_id),
        s(&o.deposition_data_set_id),
        s(&o.orig_message_id),
        s(&o.orig_deposition_data_set_id),
        timestamp,
        s(&o.orig_sender),
        s(&o.orig_recipient),
        s(&o.orig_message_subject),
        s(&o.orig_attachments),
    ]
}

/// Provenance row values in [`PROVENANCE_COLUMNS`] order. `keyed`: the `message_key` column
/// holds the id's collation key (SQLite, where its unique index refuses what MySQL's collation
/// would); otherwise NULL. On MySQL the app table's own UNIQUE key compares by collation, and a
/// key column filled there would be one more index in random order that every batch must
/// visit. `counted`: the one-shot run counting this record, and as what (`None` outside runs).
pub fn provenance_values(
    r: &MessageRecord,
    sha256: &str,
    keyed: bool,
    counted: Option<(&str, crate::plan::Counted)>,
) -> Vec<Value> {
    provenance_row(
        &r.message.message_id,
        &r.deposition_id,
        &r.provenance,
        sha256,
        keyed,
        counted,
    )
}

/// [`provenance_values`] from its parts: the message id, the deposition folder that owns it
/// and the record's provenance.
pub fn provenance_row(
    message_id: &str,
    deposition_id: &str,
    p: &Provenance,
    sha256: &str,
    keyed: bool,
    counted: Option<(&str, crate::plan::Counted)>,
) -> Vec<Value> {
    vec![
        s(message_id),
        s(deposition_id),
        p.generation.into(),
        s(sha256),
        s(&p.source_path),
        i64::from(p.file_version).into(),
        i64::try_from(p.file_size).unwrap_or(i64::MAX).into(),
        p.file_mtime_ns.into(),
        s(&p.file_sha256),
        p.original_parent_message_id.clone().into(),
        keyed
            .then(|| msgmig_schemas::db::collation::message_key(message_id))
            .into(),
        counted.map(|(run, _)| run.to_owned()).into(),
        counted.map(|(_, c)| c.encode()).into(),
    ]
}
