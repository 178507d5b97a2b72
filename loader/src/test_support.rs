//! Records for the loader's unit tests.

use msgmig_schemas::archive::ContentType;
use msgmig_schemas::record::{MessageColumns, MessageRecord, Provenance, SCHEMA_VERSION};

/// A plain message `id` of folder `deposition` (its own `deposition_data_set_id`, no parent,
/// no attachments, generation 1).
pub(crate) fn record(deposition: &str, id: &str) -> MessageRecord {
    MessageRecord {
        schema_version: SCHEMA_VERSION,
        deposition_id: deposition.into(),
        message: MessageColumns {
            message_id: id.into(),
            deposition_data_set_id: deposition.into(),
            timestamp: chrono::NaiveDateTime::default(),
            sender: "annotator".into(),
            context_type: "?".into(),
            context_value: "?".into(),
            parent_message_id: None,
            message_subject: "subject".into(),
            message_text: "text".into(),
            message_type: "text".into(),
            send_status: "Y".into(),
            content_type: ContentType::MessagesToDepositor,
        },
        file_refs: Vec::new(),
        file_ref_positions: Vec::new(),
        status: None,
        origcomm: Vec::new(),
        provenance: Provenance {
            source_path: format!("{deposition}/x"),
            file_version: 1,
            file_size: 1,
            file_mtime_ns: 1,
            file_sha256: String::new(),
            generation: 1,
            original_parent_message_id: None,
        },
    }
}
