//! What a transformation reports without refusing the deposition.

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
