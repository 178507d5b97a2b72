use crate::archive::ContentType;
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Columns of `pdbx_deposition_message_info` as msgmig writes them.
/// Text columns keep `?`/`.` literally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MessageColumns {
    /// UUID, ≤ 64 characters.
    pub message_id: String,
    /// The id written inside the file, ≤ 50 characters.
    pub deposition_data_set_id: String,
    /// GMT, second precision (DATETIME).
    pub timestamp: NaiveDateTime,
    /// ≤ 150 characters.
    pub sender: String,
    /// ≤ 50 characters; `?` kept literally.
    pub context_type: String,
    /// ≤ 255 characters; `?` kept literally.
    pub context_value: String,
    /// NULL when the file has `?`/`.` or names a message outside the deposition.
    pub parent_message_id: Option<String>,
    /// TEXT (≤ 65,535 bytes).
    pub message_subject: String,
    /// LONGTEXT.
    pub message_text: String,
    /// ≤ 20 characters.
    pub message_type: String,
    /// `Y`/`N` (CHAR(1)).
    pub send_status: String,
    /// From the file name, never from content.
    pub content_type: ContentType,
}

/// Columns of one `pdbx_deposition_message_file_reference` row (an attachment).
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct FileRefColumns {
    pub deposition_data_set_id: String,
    /// Attachment content type (≤ 50), e.g. `model-annotate`.
    pub content_type: String,
    /// ≤ 20, e.g. `pdbx`.
    pub content_format: String,
    /// `?` in the file becomes the DDL default 1.
    pub partition_number: i32,
    /// `?` in the file becomes the DDL default 1.
    pub version_id: i32,
    /// ≤ 20, `archive`.
    pub storage_type: String,
    /// ≤ 255; `?` kept literally.
    pub upload_file_name: String,
}

/// Columns of `pdbx_deposition_message_status` (one per message).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StatusColumns {
    pub deposition_data_set_id: String,
    pub read_status: String,
    pub action_reqd: String,
    pub for_release: String,
}

/// Columns of `pdbx_deposition_message_origcomm_reference` (msgmig's fourth table, §4.4).
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct OrigcommColumns {
    pub deposition_data_set_id: String,
    pub orig_message_id: String,
    pub orig_deposition_data_set_id: String,
    pub orig_timestamp: String,
    pub orig_sender: String,
    pub orig_recipient: String,
    pub orig_message_subject: String,
    pub orig_attachments: String,
}

/// Where a record came from; stored in `msgmig_message_provenance`, never in the app tables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Provenance {
    /// Archive-relative path of the file holding the info row.
    pub source_path: String,
    /// Version of that file.
    pub file_version: u32,
    /// Size in bytes of that file when read.
    pub file_size: u64,
    /// Its mtime, ns since the Unix epoch.
    pub file_mtime_ns: i64,
    /// SHA-256 (hex) of that file's bytes as read.
    pub file_sha256: String,
    /// Grows with each new source state of the deposition (max mtime in ns of its latest
    /// files); the loader applies a record only if this is ≥ the stored one.
    pub generation: i64,
    /// The parent id the file names when it was replaced by NULL (dangling or null marker).
    pub original_parent_message_id: Option<String>,
}

/// One message and everything attached to it. Topic `msgmig.records`,
/// key = `message_id`, partition by `deposition_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MessageRecord {
    /// Payload version ([`super::SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// The deposition folder that produced the record: owner of the message id.
    pub deposition_id: String,
    pub message: MessageColumns,
    /// Attachments, as a multiset for what the tables hold (the content hash ignores their
    /// order).
    pub file_refs: Vec<FileRefColumns>,
    /// Where each of `file_refs` stands among all the deposition's file references in file
    /// order (files in content-type order, then rows): the loader inserts a deposition's
    /// references in this order, so their `ordinal_id`s follow the files, as the application
    /// lists them. Empty in records written before msgmig kept it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub file_ref_positions: Vec<u32>,
    /// Flags, wherever in the deposition they were found.
    pub status: Option<StatusColumns>,
    /// Original e-mail metadata rows.
    pub origcomm: Vec<OrigcommColumns>,
    pub provenance: Provenance,
}

impl MessageRecord {
    /// The message id (key of the record).
    pub fn message_id(&self) -> &str {
        &self.message.message_id
    }

    /// SHA-256 (hex) of everything the app tables hold for this message: info columns, the
    /// file-reference multiset, status and origcomm. Two records with the same hash load the
    /// same rows; provenance is not part of it.
    pub fn content_sha256(&self) -> String {
        content_sha256(
            &self.message,
            &self.file_refs,
            self.status.as_ref(),
            &self.origcomm,
        )
    }
}

/// The content hash of [`MessageRecord::content_sha256`], from parts (also used by `verify` on
/// rows read back from the database). Multisets are sorted first, so row order does not count.
pub fn content_sha256(
    message: &MessageColumns,
    file_refs: &[FileRefColumns],
    status: Option<&StatusColumns>,
    origcomm: &[OrigcommColumns],
) -> String {
    let mut refs: Vec<&FileRefColumns> = file_refs.iter().collect();
    refs.sort();
    let mut orig: Vec<&OrigcommColumns> = origcomm.iter().collect();
    orig.sort();
    let canonical =
        serde_json::to_vec(&(message, refs, status, orig)).expect("plain data serialises");
    hex::encode(Sha256::digest(canonical))
}

/// Why a deposition was withheld whole (nothing of it is loaded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum QuarantineKind {
    /// A latest file is not valid CIF (position given).
    ParseError,
    /// A file could not be read (I/O error, or it kept changing).
    Unreadable,
    /// A timestamp in none of the four formats of docs/domain.md
    BadTimestamp,
    /// A value the schema cannot hold: too long for its column, a non-integer where an
    /// integer is required, a missing message id.
    BadValue,
    /// The same message id twice in the deposition's files.
    DuplicateMessageId,
    /// Parent references that form a cycle (no FK-safe insert order exists).
    ParentCycle,
    /// The message id is already stored for another deposition (per message, not whole).
    Conflict,
    /// A message whose record is larger than the bus takes (Kafka topic `max.message.bytes`):
    /// size and limit in the reason.
    RecordTooLarge,
    /// A message whose row is larger than the database server takes in one packet (MySQL
    /// `max_allowed_packet`): size and limit in the reason.
    RowTooLarge,
    /// A latest message file is not a regular file (a symbolic link, FIFO, directory, socket or
    /// device): never followed, never skipped for an older version.
    NotRegularFile,
    /// The end marker counts more records than reached the loader (a records topic whose
    /// retention dropped some): nothing of the deposition is loaded from a partial set.
    Incomplete,
    /// A message whose rows the application changed in the database since msgmig wrote them,
    /// while its file changed too: the rows are kept as the application left them (per
    /// message, not whole).
    AppChanged,
}

impl QuarantineKind {
    /// Stable snake_case name (DB column, metrics label, JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            QuarantineKind::ParseError => "parse_error",
            QuarantineKind::Unreadable => "unreadable",
            QuarantineKind::BadTimestamp => "bad_timestamp",
            QuarantineKind::BadValue => "bad_value",
            QuarantineKind::DuplicateMessageId => "duplicate_message_id",
            QuarantineKind::ParentCycle => "parent_cycle",
            QuarantineKind::Conflict => "conflict",
            QuarantineKind::RecordTooLarge => "record_too_large",
            QuarantineKind::RowTooLarge => "row_too_large",
            QuarantineKind::NotRegularFile => "not_regular_file",
            QuarantineKind::Incomplete => "incomplete",
            QuarantineKind::AppChanged => "app_changed",
        }
    }
}

/// The reason a deposition (or one message, for conflicts) was not loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Quarantine {
    pub kind: QuarantineKind,
    /// Archive-relative path of the offending file, if one.
    pub path: Option<String>,
    /// Version of that file.
    pub file_version: Option<u32>,
    /// 1-based line and column, when known.
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// The message concerned, when one.
    pub message_id: Option<String>,
    /// Human-readable reason.
    pub reason: String,
}

/// How the transformation of a deposition ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum DepositionOutcome {
    /// All its records were emitted before this marker.
    Transformed,
    /// Nothing of it was emitted; previously loaded rows stay untouched.
    Quarantined(Quarantine),
}

/// The state of one message file when it was read (the ledger that makes restarts cheap).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FileState {
    /// Archive-relative path.
    pub path: String,
    pub version: u32,
    pub size: u64,
    /// ns since the Unix epoch.
    pub mtime_ns: i64,
    /// Status-change time ([`ctime_ns`](crate::archive::ctime_ns)), ns since the Unix epoch;
    /// 0 when unknown (records and ledger rows written before msgmig recorded it).
    #[serde(default)]
    pub ctime_ns: i64,
}

/// Marks the end of one deposition's records (same partition, after them), so the loader can
/// keep per-deposition state (loaded, quarantined) exact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DepositionEnd {
    pub schema_version: u32,
    pub deposition_id: String,
    pub generation: i64,
    /// Message files read (latest versions, including empty ones).
    pub files: u32,
    /// Their states as read; written to the file ledger when the deposition's end commits.
    #[serde(default)]
    pub file_states: Vec<FileState>,
    /// Records emitted.
    pub messages: u32,
    pub outcome: DepositionOutcome,
}

/// A payload of the records stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RecordsMessage {
    Message(Box<MessageRecord>),
    DepositionEnd(DepositionEnd),
}

impl RecordsMessage {
    /// The deposition folder this payload belongs to (partition key).
    pub fn deposition_id(&self) -> &str {
        match self {
            RecordsMessage::Message(r) => &r.deposition_id,
            RecordsMessage::DepositionEnd(e) => &e.deposition_id,
        }
    }

    /// `records` as a records stream: each (deposition folder, generation)'s records in the
    /// given order, followed by its end marker (outcome transformed, no files listed), the
    /// groups in order of their first record. This is what a loader needs to write them: rows
    /// are written when a deposition's end marker arrives.
    pub fn with_end_markers(records: impl IntoIterator<Item = MessageRecord>) -> Vec<Self> {
        let mut groups: Vec<((String, i64), Vec<MessageRecord>)> = Vec::new();
        for r in records {
            let key = (r.deposition_id.clone(), r.provenance.generation);
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, g)) => g.push(r),
                None => groups.push((key, vec![r])),
            }
        }
        let mut out = Vec::new();
        for ((deposition_id, generation), records) in groups {
            let messages = records.len() as u32;
            out.extend(records.into_iter().map(|r| Self::Message(Box::new(r))));
            out.push(Self::DepositionEnd(DepositionEnd {
                schema_version: super::SCHEMA_VERSION,
                deposition_id,
                generation,
                files: 0,
                file_states: Vec::new(),
                messages,
                outcome: DepositionOutcome::Transformed,
            }));
        }
        out
    }
}
