//! What travels on the bus: file events (scanner → transformer) and message records
//! (transformer → loader), as versioned JSON (architecture.md §2–3).

mod file_event;
mod message_record;
mod to_cif;

pub use file_event::{FileChange, FileEvent};
pub use message_record::{
    content_sha256, DepositionEnd, DepositionOutcome, FileRefColumns, FileState, MessageColumns,
    MessageRecord, OrigcommColumns, Provenance, Quarantine, QuarantineKind, RecordsMessage,
    StatusColumns,
};

pub use to_cif::{deposition_files, Alteration, Encoding, ExportedFile, MessageContent};

/// Version of every JSON payload msgmig publishes; readers reject newer major shapes.
pub const SCHEMA_VERSION: u32 = 1;
