//! What travels on the bus: file events (scanner → transformer) and message records
//! (transformer → loader), as versioned JSON.

mod dead_letter;
mod file_event;
mod loaded;
mod message_record;
mod to_cif;

pub use dead_letter::{DeadLetter, DeadLetterReason, Stage};
pub use file_event::{FileChange, FileEvent};
pub use loaded::{file_fingerprint, LoadedFiles, LoadedStates};
pub use message_record::{
    content_sha256, DepositionEnd, DepositionOutcome, FileRefColumns, FileState, MessageColumns,
    MessageRecord, OrigcommColumns, Provenance, Quarantine, QuarantineKind, RecordsMessage,
    StatusColumns,
};

pub use to_cif::{deposition_files, Alteration, Encoding, ExportedFile, MessageContent};

/// Version of every JSON payload msgmig publishes; readers reject newer major shapes.
pub const SCHEMA_VERSION: u32 = 1;

/// The JSON Schema (draft 2020-12) of each topic's payload, as `(file name, schema)`: the
/// contract published under `schemas/json/` for other consumers of the topics.
pub fn topic_json_schemas() -> Vec<(&'static str, serde_json::Value)> {
    vec![
        (
            "file-event.schema.json",
            serde_json::to_value(schemars::schema_for!(FileEvent)).expect("schema"),
        ),
        (
            "records.schema.json",
            serde_json::to_value(schemars::schema_for!(RecordsMessage)).expect("schema"),
        ),
        (
            "dead-letter.schema.json",
            serde_json::to_value(schemars::schema_for!(DeadLetter)).expect("schema"),
        ),
    ]
}
